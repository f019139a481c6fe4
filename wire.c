/*
 * wire.c - the wire format: byte cursors that check every length, the
 * pnc message header, the messages both the UDP and the TCP rendezvous
 * read, TCP framing, and STUN (RFC 8489). No sockets, no clock: what
 * goes in is bytes and what comes out is bytes or a parsed struct.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <string.h>

#include "pnc.h"

/* ---- byte cursors: the only way pnc reads or writes a message ---- */

void
rd_init(struct rd *r, const void *p, size_t len)
{
	r->p = p;
	r->left = len;
	r->bad = 0;
}

const unsigned char *
rd_bytes(struct rd *r, size_t n)
{
	const unsigned char *p = r->p;

	if (r->bad || n > r->left) {
		r->bad = 1;
		return NULL;
	}
	r->p += n;
	r->left -= n;
	return p;
}

uint8_t
rd_u8(struct rd *r)
{
	const unsigned char *p = rd_bytes(r, 1);

	return p ? p[0] : 0;
}

uint16_t
rd_u16(struct rd *r)
{
	const unsigned char *p = rd_bytes(r, 2);

	return p ? (uint16_t)(p[0] << 8 | p[1]) : 0;
}

uint32_t
rd_u32(struct rd *r)
{
	const unsigned char *p = rd_bytes(r, 4);

	return p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3] : 0;
}

uint64_t
rd_u64(struct rd *r)
{
	uint64_t hi = rd_u32(r);

	return hi << 32 | rd_u32(r);
}

/* family(1: 4 or 6) port(2) address(4 or 16). Returns 0 or -1. */
int
rd_ep(struct rd *r, struct ep *e)
{
	const unsigned char *a;
	int fam = rd_u8(r);
	uint16_t port = rd_u16(r);

	memset(e, 0, sizeof(*e));
	if (fam == 4 && (a = rd_bytes(r, 4)) != NULL) {
		struct sockaddr_in *s = (struct sockaddr_in *)&e->u;

		s->sin_family = AF_INET;
		s->sin_port = htons(port);
		memcpy(&s->sin_addr, a, 4);
		e->len = sizeof(*s);
		return 0;
	}
	if (fam == 6 && (a = rd_bytes(r, 16)) != NULL) {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&e->u;

		s->sin6_family = AF_INET6;
		s->sin6_port = htons(port);
		memcpy(&s->sin6_addr, a, 16);
		e->len = sizeof(*s);
		return 0;
	}
	r->bad = 1;
	return -1;
}

/* Common header; returns 0 when magic and length are right. */
int
rd_hdr(struct rd *r, int *version, int *type, uint64_t *id)
{
	const unsigned char *m = rd_bytes(r, 2);

	if (m == NULL || m[0] != MAGIC0 || m[1] != MAGIC1)
		return -1;
	*version = rd_u8(r);
	*type = rd_u8(r);
	*id = rd_u64(r);
	return r->bad ? -1 : 0;
}

/*
 * T_PEER after its header: the mediator's introduction of the peer,
 * read the same over UDP and TCP. Returns 0, or -1 when malformed.
 */
int
rd_intro(struct rd *r, struct intro *in)
{
	int i;

	in->flags = rd_u8(r);
	in->ttl = rd_u8(r);
	in->peer_id = rd_u64(r);
	if (rd_ep(r, &in->you) == -1 || rd_ep(r, &in->them) == -1)
		return -1;
	in->nlocals = rd_u8(r);
	if (r->bad || in->nlocals > MAX_LOCALS)
		return -1;
	for (i = 0; i < in->nlocals; i++)
		if (rd_ep(r, &in->locals[i]) == -1)
			return -1;
	return r->left == 0 ? 0 : -1;
}

/* ---- the messages a client sends and reads ---- */

/* Zero bytes up to REQ_MIN: the mediator answers no request with more. */
static void
wr_pad(struct wr *w)
{
	while (w->len < REQ_MIN && !w->bad)
		wr_u8(w, 0);
}

/*
 * REGISTER (the local candidates, the cookie, padding), or PEERACK and
 * RELAYREQ (flags), from a client of role registering name.
 */
void
wr_register(struct wr *w, int type, uint64_t id, int role, const char *name,
    const struct ep *locals, int nlocals, const unsigned char *cookie,
    int flags)
{
	size_t n = strlen(name);
	int i;

	wr_hdr(w, type, id);
	wr_u8(w, (uint8_t)role);
	wr_u8(w, (uint8_t)n);
	wr_bytes(w, name, n);
	if (type != T_REGISTER) {
		wr_u8(w, (uint8_t)flags);
		return;
	}
	wr_u8(w, (uint8_t)nlocals);
	for (i = 0; i < nlocals; i++)
		wr_ep(w, &locals[i]);
	wr_bytes(w, cookie, COOKIE_LEN);
	wr_pad(w);
}

/* T_BIND: request tx of the NAT check, padded. */
void
wr_bind(struct wr *w, uint64_t id, uint32_t tx, int flags)
{
	wr_hdr(w, T_BIND, id);
	wr_u32(w, tx);
	wr_u8(w, (uint8_t)flags);
	wr_pad(w);
}

/* T_PROBE, or T_ACK (which adds seen), before -K's handshake. */
void
wr_probe(struct wr *w, int type, uint64_t id, const struct probe *pr)
{
	wr_hdr(w, type, id);
	wr_u64(w, pr->toid);
	wr_u8(w, (uint8_t)pr->flags);
	wr_u32(w, pr->tx);
	if (type == T_ACK)
		wr_ep(w, &pr->seen);
}

/* T_PROBE or T_ACK after the header (and -K's handshake). 0 or -1. */
int
rd_probe(struct rd *r, int type, struct probe *pr)
{
	pr->toid = rd_u64(r);
	pr->flags = rd_u8(r);
	pr->tx = rd_u32(r);
	if (type == T_ACK && rd_ep(r, &pr->seen) == -1)
		return -1;
	return r->bad || r->left != 0 ? -1 : 0;
}

/* T_PATHCHK or T_PATHOK (a record's inner type), header and body. */
void
wr_pathchk(struct wr *w, int type, uint64_t id, const struct pathchk *pc)
{
	wr_hdr(w, type, id);
	wr_u64(w, pc->nonce);
	wr_ep(w, &pc->ep);
}

/* A T_PATHCHK or T_PATHOK body, from an opened record. 0 or -1. */
int
rd_pathchk(struct rd *r, struct pathchk *pc)
{
	pc->nonce = rd_u64(r);
	if (r->bad || pc->nonce == 0 || rd_ep(r, &pc->ep) == -1)
		return -1;
	return r->bad || r->left != 0 ? -1 : 0;
}

/* T_REGISTERED after its header. Returns 0, or -1 when malformed. */
int
rd_registered(struct rd *r, struct ep *you, int *ttl,
    const unsigned char **cookie)
{
	if (rd_ep(r, you) == -1)
		return -1;
	*ttl = rd_u16(r);
	if (r->bad || (*cookie = rd_bytes(r, COOKIE_LEN)) == NULL)
		return -1;
	return r->left == 0 ? 0 : -1;
}

/* T_ERROR after its header: its code and text (not NUL-terminated). */
int
rd_error(struct rd *r, int *code, const unsigned char **text, size_t *len)
{
	*code = rd_u8(r);
	*len = rd_u8(r);
	if (r->bad || (*text = rd_bytes(r, *len)) == NULL)
		return -1;
	return 0;
}

/*
 * T_BOUND after its header. The other address is optional: a count
 * byte of 1 and an endpoint. 0, or -1 when malformed.
 */
int
rd_bound(struct rd *r, struct bound *b)
{
	b->tx = rd_u32(r);
	b->got = rd_u8(r);
	if (rd_ep(r, &b->seen) == -1)
		return -1;
	b->have_other = rd_u8(r) == 1 && rd_ep(r, &b->other) == 0 && !r->bad;
	return 0;
}

/* ---- the messages a mediator reads and sends ---- */

/* A request's padding: zero bytes to its end. 0, or -1. */
int
rd_zeros(struct rd *r)
{
	while (r->left > 0)
		if (rd_u8(r) != 0)
			return -1;
	return 0;
}

/* A name: printable ASCII, no spaces, 1 to NAME_MAX_LEN bytes. */
static int
rd_name(struct rd *r, struct reg *rg)
{
	size_t i;

	rg->namelen = rd_u8(r);
	rg->name = (const char *)rd_bytes(r, rg->namelen);
	if (r->bad || rg->namelen == 0 || rg->namelen > NAME_MAX_LEN)
		return -1;
	for (i = 0; i < rg->namelen; i++)
		if (rg->name[i] <= ' ' || rg->name[i] > '~')
			return -1;
	return 0;
}

/*
 * After the header: role and name, then (with_cands: REGISTER) the
 * candidates, each checked, the cookie and zero padding, or else
 * (PEERACK, RELAYREQ) a flags byte, not needed. 0, or -1.
 */
int
rd_reg(struct rd *r, struct reg *rg, int with_cands)
{
	const unsigned char *start;
	struct ep e;
	size_t i;

	rg->role = rd_u8(r);
	if (r->bad || rg->role < ROLE_PUNCH || rg->role > ROLE_CONNECT ||
	    rd_name(r, rg) == -1)
		return -1;
	rg->nloc = 0;
	rg->locals = rg->cookie = NULL;
	rg->loclen = 0;
	if (!with_cands) {
		(void)rd_u8(r);
		return r->left == 0 && !r->bad ? 0 : -1;
	}
	rg->nloc = rd_u8(r);
	if (r->bad || rg->nloc > MAX_LOCALS)
		return -1;
	start = r->p;
	for (i = 0; i < rg->nloc; i++)
		if (rd_ep(r, &e) == -1)
			return -1;
	rg->locals = start;
	rg->loclen = (size_t)(r->p - start);
	rg->cookie = rd_bytes(r, COOKIE_LEN);
	return r->bad || rd_zeros(r) == -1 ? -1 : 0;
}

/* T_BIND after its header: tx and the flags, then padding. 0 or -1. */
int
rd_bind(struct rd *r, uint32_t *tx, int *want)
{
	*tx = rd_u32(r);
	*want = rd_u8(r);
	return r->bad || rd_zeros(r) == -1 ? -1 : 0;
}

/* T_PEER: the introduction rd_intro reads. */
void
wr_intro(struct wr *w, uint64_t id, const struct intro *in)
{
	int i;

	wr_hdr(w, T_PEER, id);
	wr_u8(w, (uint8_t)in->flags);
	wr_u8(w, (uint8_t)in->ttl);
	wr_u64(w, in->peer_id);
	wr_ep(w, &in->you);
	wr_ep(w, &in->them);
	wr_u8(w, (uint8_t)in->nlocals);
	for (i = 0; i < in->nlocals; i++)
		wr_ep(w, &in->locals[i]);
}

/* T_REGISTERED: where the client was seen, a TTL (0: only the cookie). */
void
wr_registered(struct wr *w, uint64_t id, const struct ep *you, int ttl,
    const unsigned char *cookie)
{
	wr_hdr(w, T_REGISTERED, id);
	wr_ep(w, you);
	wr_u16(w, (uint16_t)ttl);
	wr_bytes(w, cookie, COOKIE_LEN);
}

/* T_ERROR: a code and n bytes of text (at most 255). */
void
wr_error(struct wr *w, uint64_t id, int code, const char *text, size_t n)
{
	wr_hdr(w, T_ERROR, id);
	wr_u8(w, (uint8_t)code);
	wr_u8(w, (uint8_t)(n > 255 ? 255 : n));
	wr_bytes(w, text, n > 255 ? 255 : n);
}

/* T_BOUND, as rd_bound reads it. */
void
wr_bound(struct wr *w, uint64_t id, const struct bound *b)
{
	wr_hdr(w, T_BOUND, id);
	wr_u32(w, b->tx);
	wr_u8(w, (uint8_t)b->got);
	wr_ep(w, &b->seen);
	wr_u8(w, b->have_other != 0);
	if (b->have_other)
		wr_ep(w, &b->other);
}

/* ---- -R, the reliable transport (PROTOCOL 5) ---- */

void
wr_rdata(struct wr *w, uint64_t id, const struct rdata *d)
{
	wr_hdr(w, T_RDATA, id);
	wr_u32(w, d->pn);
	wr_u32(w, d->ts);
	wr_u8(w, (uint8_t)d->flags);
	wr_bytes(w, d->data, d->len);
}

/* After the header; the data is the rest (none with FIN). 0 or -1. */
int
rd_rdata(struct rd *r, struct rdata *d)
{
	d->pn = rd_u32(r);
	d->ts = rd_u32(r);
	d->flags = rd_u8(r);
	d->data = r->p;
	d->len = r->left;
	if (r->bad || d->len > MAX_PAYLOAD ||
	    ((d->flags & RDATA_FIN) && d->len != 0))
		return -1;
	return 0;
}

void
wr_rack(struct wr *w, uint64_t id, const struct rack *a)
{
	int i;

	wr_hdr(w, T_RACK, id);
	wr_u32(w, a->cum);
	wr_u32(w, a->limit);
	wr_u32(w, a->ts);
	wr_u8(w, (uint8_t)a->n);
	for (i = 0; i < a->n; i++) {
		wr_u32(w, a->sack[i][0]);
		wr_u32(w, a->sack[i][1]);
	}
}

/* After the header: exactly n ranges, n at most RACK_SACK. 0 or -1. */
int
rd_rack(struct rd *r, struct rack *a)
{
	int i;

	a->cum = rd_u32(r);
	a->limit = rd_u32(r);
	a->ts = rd_u32(r);
	a->n = rd_u8(r);
	if (r->bad || a->n > RACK_SACK || (size_t)a->n * 8 != r->left)
		return -1;
	for (i = 0; i < a->n; i++) {
		a->sack[i][0] = rd_u32(r);
		a->sack[i][1] = rd_u32(r);
	}
	return r->bad ? -1 : 0;
}

/* ---- TCP framing: a 2-byte length before each message ---- */

/* Frame msg into out. Returns the framed length, or 0 if it cannot fit. */
size_t
frame_put(unsigned char *out, size_t cap, const void *msg, size_t len)
{
	if (len > MAX_DGRAM || cap < 2 || len > cap - 2)
		return 0;
	out[0] = (unsigned char)(len >> 8);
	out[1] = (unsigned char)len;
	memmove(out + 2, msg, len);
	return len + 2;
}

/*
 * The first frame of a stream buffer: 1 when buf holds a whole one (the
 * message at buf + 2, *flen long), 0 when more must come, -1 when its
 * length is beyond MAX_DGRAM (the stream is out of step).
 */
int
frame_get(const unsigned char *buf, size_t len, size_t *flen)
{
	if (len < 2)
		return 0;
	*flen = (size_t)buf[0] << 8 | buf[1];
	if (*flen > MAX_DGRAM)
		return -1;
	return len >= 2 + *flen;
}

/* ---- STUN: RFC 8489 Binding, the attributes pnc needs ---- */

#define A_MAPPED	0x0001
#define A_CHANGE	0x0003
#define A_XOR_MAPPED	0x0020
#define A_PADDING	0x0026	/* RFC 5780 */
#define A_RESPONSE_PORT	0x0027	/* RFC 5780 */
#define A_FINGERPRINT	0x8028
#define A_OTHER		0x802c

/* CRC-32 (ISO 3309, as FINGERPRINT wants), bitwise: a few bytes only. */
static uint32_t
crc32(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	int k;

	while (n-- > 0) {
		c ^= *p++;
		for (k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0xedb88320u : c >> 1;
	}
	return ~c;
}

/* Header of a STUN message, not of pnc's: magic cookie, top bits 0. */
int
stun_looks(const unsigned char *b, size_t len)
{
	return len >= STUN_HDR && (b[0] & 0xc0) == 0 &&
	    ((uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 |
	    (uint32_t)b[6] << 8 | b[7]) == STUN_COOKIE;
}

/* An address attribute, XORed or not, into e. 0 or -1. */
static int
stun_addr(const unsigned char *v, size_t n, int xor, const unsigned char *txid,
    struct ep *e)
{
	static const unsigned char ck[4] = { 0x21, 0x12, 0xa4, 0x42 };
	unsigned char a[16];
	uint16_t port;
	size_t i, alen;

	if (n < 4 || v[0] != 0 || (v[1] != 1 && v[1] != 2))
		return -1;
	alen = v[1] == 1 ? 4 : 16;
	if (n != 4 + alen)
		return -1;
	port = (uint16_t)(v[2] << 8 | v[3]);
	for (i = 0; i < alen; i++)	/* cookie, then the transaction id */
		a[i] = v[4 + i] ^ (xor ? (i < 4 ? ck[i] : txid[i - 4]) : 0);
	if (xor)
		port ^= 0x2112;
	memset(e, 0, sizeof(*e));
	if (alen == 4) {
		e->u.in.sin_family = AF_INET;
		e->u.in.sin_port = htons(port);
		memcpy(&e->u.in.sin_addr, a, 4);
		e->len = sizeof(e->u.in);
	} else {
		e->u.in6.sin6_family = AF_INET6;
		e->u.in6.sin6_port = htons(port);
		memcpy(&e->u.in6.sin6_addr, a, 16);
		e->len = sizeof(e->u.in6);
	}
	return 0;
}

/*
 * Parse a STUN message defensively: the length must match, attributes
 * must fit, a FINGERPRINT must be last and right, and an attribute we
 * do not know that a receiver must understand (below 0x8000) drops the
 * message. Returns 0, or -1 for anything malformed.
 */
int
stun_parse(const unsigned char *b, size_t len, struct stun *s)
{
	size_t off = STUN_HDR, n, mlen;
	unsigned t;
	uint32_t fp;

	memset(s, 0, sizeof(*s));
	if (!stun_looks(b, len) || len > MAX_DGRAM)
		return -1;
	mlen = (size_t)b[2] << 8 | b[3];
	if (mlen != len - STUN_HDR || mlen % 4 != 0)
		return -1;
	s->type = b[0] << 8 | b[1];
	memcpy(s->txid, b + 8, 12);
	while (off < len) {
		if (len - off < 4)
			return -1;
		t = (unsigned)(b[off] << 8 | b[off + 1]);
		n = (size_t)b[off + 2] << 8 | b[off + 3];
		if (n > len - off - 4 || ((n + 3) & ~(size_t)3) > len - off - 4)
			return -1;
		if (s->fingerprint)
			return -1;	/* something after FINGERPRINT */
		switch (t) {
		case A_XOR_MAPPED:
		case A_MAPPED:
			if (s->have_mapped && t == A_MAPPED)
				break;	/* the XORed one wins */
			if (stun_addr(b + off + 4, n, t == A_XOR_MAPPED,
			    s->txid, &s->mapped) == -1)
				return -1;
			s->have_mapped = 1;
			break;
		case A_OTHER:
			if (stun_addr(b + off + 4, n, 0, s->txid,
			    &s->other) == -1)
				return -1;
			s->have_other = 1;
			break;
		case A_PADDING:
			break;
		case A_RESPONSE_PORT:
			if (n != 4 || (s->response_port = b[off + 4] << 8 |
			    b[off + 5]) == 0)
				return -1;
			break;
		case A_CHANGE:
			if (n != 4)
				return -1;
			s->change = b[off + 7] & (STUN_CHANGE_IP |
			    STUN_CHANGE_PORT);
			break;
		case A_FINGERPRINT:
			fp = crc32(b, off) ^ 0x5354554eu;
			if (n != 4 || len - off != 8 ||
			    ((uint32_t)b[off + 4] << 24 |
			    (uint32_t)b[off + 5] << 16 |
			    (uint32_t)b[off + 6] << 8 | b[off + 7]) != fp)
				return -1;
			s->fingerprint = 1;
			break;
		default:
			if (t < 0x8000)
				return -1;	/* must be understood */
		}
		off += 4 + ((n + 3) & ~(size_t)3);
	}
	return 0;
}

/* Append FINGERPRINT to the message in w: last, over all before it. */
static void
stun_fingerprint(struct wr *w)
{
	uint32_t fp;
	size_t mlen = w->len + 8 - STUN_HDR;

	if (w->bad || w->len < STUN_HDR)
		return;
	w->p[2] = (unsigned char)(mlen >> 8);	/* the length counts it */
	w->p[3] = (unsigned char)mlen;
	fp = crc32(w->p, w->len) ^ 0x5354554eu;
	wr_u16(w, A_FINGERPRINT);
	wr_u16(w, 4);
	wr_u32(w, fp);
}

static void
stun_header(struct wr *w, int type, const unsigned char *txid)
{
	wr_u16(w, (uint16_t)type);
	wr_u16(w, 0);		/* length, set at the end */
	wr_u32(w, STUN_COOKIE);
	wr_bytes(w, txid, 12);
}

static void
stun_length(struct wr *w)
{
	if (!w->bad) {
		w->p[2] = (unsigned char)((w->len - STUN_HDR) >> 8);
		w->p[3] = (unsigned char)(w->len - STUN_HDR);
	}
}

/* A Binding request, with CHANGE-REQUEST when change is not 0. */
size_t
stun_request(const unsigned char *txid, int change, unsigned char *out,
    size_t cap)
{
	struct wr w;

	wr_init(&w, out, cap);
	stun_header(&w, STUN_BINDING, txid);
	if (change) {
		wr_u16(&w, A_CHANGE);
		wr_u16(&w, 4);
		wr_u32(&w, (uint32_t)change);
	}
	stun_length(&w);
	stun_fingerprint(&w);
	return w.bad ? 0 : w.len;
}

/* An address attribute: XORed (XOR-MAPPED-ADDRESS) or plain. */
static void
stun_put_addr(struct wr *w, int type, const struct ep *e, int xor,
    const unsigned char *txid)
{
	static const unsigned char ck[4] = { 0x21, 0x12, 0xa4, 0x42 };
	const unsigned char *a;
	size_t alen, i;
	int port = ep_port(e);

	if (e->u.sa.sa_family == AF_INET6) {
		a = (const unsigned char *)&e->u.in6.sin6_addr;
		alen = 16;
	} else {
		a = (const unsigned char *)&e->u.in.sin_addr;
		alen = 4;
	}
	wr_u16(w, (uint16_t)type);
	wr_u16(w, (uint16_t)(4 + alen));
	wr_u8(w, 0);
	wr_u8(w, alen == 4 ? 1 : 2);
	wr_u16(w, (uint16_t)(xor ? port ^ 0x2112 : port));
	for (i = 0; i < alen; i++)
		wr_u8(w, (uint8_t)(a[i] ^ (xor ? (i < 4 ? ck[i] :
		    txid[i - 4]) : 0)));
}

/*
 * The answer to a Binding request: XOR-MAPPED-ADDRESS, OTHER-ADDRESS
 * when there is one (RFC 5780), FINGERPRINT when the request had one.
 */
size_t
stun_response(const struct stun *req, const struct ep *mapped,
    const struct ep *other, unsigned char *out, size_t cap)
{
	struct wr w;

	wr_init(&w, out, cap);
	stun_header(&w, STUN_BINDING_OK, req->txid);
	stun_put_addr(&w, A_XOR_MAPPED, mapped, 1, req->txid);
	if (other != NULL)
		stun_put_addr(&w, A_OTHER, other, 0, req->txid);
	stun_length(&w);
	if (req->fingerprint)
		stun_fingerprint(&w);
	return w.bad ? 0 : w.len;
}


/* ---- building messages ---- */

void
wr_init(struct wr *w, void *p, size_t cap)
{
	w->p = p;
	w->len = 0;
	w->cap = cap;
	w->bad = 0;
}

void
wr_bytes(struct wr *w, const void *p, size_t n)
{
	if (w->bad || n > w->cap - w->len) {
		w->bad = 1;
		return;
	}
	memcpy(w->p + w->len, p, n);
	w->len += n;
}

void
wr_u8(struct wr *w, uint8_t v)
{
	wr_bytes(w, &v, 1);
}

void
wr_u16(struct wr *w, uint16_t v)
{
	unsigned char b[2] = { v >> 8, v & 0xff };

	wr_bytes(w, b, 2);
}

void
wr_u32(struct wr *w, uint32_t v)
{
	unsigned char b[4] = { v >> 24, v >> 16 & 0xff, v >> 8 & 0xff,
	    v & 0xff };

	wr_bytes(w, b, 4);
}

void
wr_u64(struct wr *w, uint64_t v)
{
	wr_u32(w, (uint32_t)(v >> 32));
	wr_u32(w, (uint32_t)v);
}

void
wr_ep(struct wr *w, const struct ep *e)
{
	if (e->u.sa.sa_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)&e->u;

		wr_u8(w, 6);
		wr_u16(w, ntohs(s->sin6_port));
		wr_bytes(w, &s->sin6_addr, 16);
	} else {
		const struct sockaddr_in *s = (const void *)&e->u;

		wr_u8(w, 4);
		wr_u16(w, ntohs(s->sin_port));
		wr_bytes(w, &s->sin_addr, 4);
	}
}

void
wr_hdr(struct wr *w, int type, uint64_t id)
{
	wr_u8(w, MAGIC0);
	wr_u8(w, MAGIC1);
	wr_u8(w, PROTO_VERSION);
	wr_u8(w, (uint8_t)type);
	wr_u64(w, id);
}

/* ---- port mapping: NAT-PMP (RFC 6886) and PCP (RFC 6887) ---- */

#define NATPMP_VERSION	0
#define PCP_VERSION	2
#define PCP_RESPONSE	0x80	/* R bit; NAT-PMP adds 128 to the op */
#define PCP_MAP_LEN	36	/* MAP's opcode-specific part */

/*
 * A NAT-PMP request: PMAP_OP_ADDR (the external address) or
 * PMAP_OP_MAP of UDP internal port iport (suggested external port
 * eport; lifetime 0 deletes it).
 */
void
wr_natpmp(struct wr *w, int op, int iport, int eport, uint32_t life)
{
	wr_u8(w, NATPMP_VERSION);
	wr_u8(w, (uint8_t)op);
	if (op == PMAP_OP_ADDR)
		return;
	wr_u16(w, 0);
	wr_u16(w, (uint16_t)iport);
	wr_u16(w, (uint16_t)eport);
	wr_u32(w, life);
}

/* An IPv4 address as PCP writes every address: IPv4-mapped IPv6. */
static void
wr_pcp_addr(struct wr *w, const struct ep *e)
{
	static const unsigned char pfx[12] = { [10] = 0xff, [11] = 0xff };

	wr_bytes(w, pfx, sizeof(pfx));
	if (e != NULL)
		wr_bytes(w, &e->u.in.sin_addr, 4);
	else
		wr_u32(w, 0);
}

/*
 * A PCP MAP request for UDP internal port iport from client address
 * self (IPv4: the address the gateway sees us at), suggested external
 * port eport, any external address; lifetime 0 deletes it.
 */
void
wr_pcp_map(struct wr *w, const unsigned char nonce[PCP_NONCE_LEN],
    const struct ep *self, int iport, int eport, uint32_t life)
{
	wr_u8(w, PCP_VERSION);
	wr_u8(w, PMAP_OP_MAP);
	wr_u16(w, 0);
	wr_u32(w, life);
	wr_pcp_addr(w, self);
	wr_bytes(w, nonce, PCP_NONCE_LEN);
	wr_u8(w, 17);			/* UDP */
	wr_u8(w, 0);
	wr_u16(w, 0);
	wr_u16(w, (uint16_t)iport);
	wr_u16(w, (uint16_t)eport);
	wr_pcp_addr(w, NULL);
}

/* An IPv4-mapped address (PCP) into e's address; -1 if not IPv4. */
static int
rd_pcp_addr(struct rd *r, struct ep *e)
{
	static const unsigned char pfx[12] = { [10] = 0xff, [11] = 0xff };
	const unsigned char *a = rd_bytes(r, 16);

	if (a == NULL || memcmp(a, pfx, sizeof(pfx)) != 0)
		return -1;
	memset(e, 0, sizeof(*e));
	e->u.in.sin_family = AF_INET;
	memcpy(&e->u.in.sin_addr, a + 12, 4);
	e->len = sizeof(e->u.in);
	return 0;
}

static int
rd_natpmp(struct rd *r, struct pmap_reply *pm)
{
	const unsigned char *a;
	int op = rd_u8(r);

	if (op != 0 && op != (PCP_RESPONSE | PMAP_OP_ADDR) &&
	    op != (PCP_RESPONSE | PMAP_OP_MAP))
		return -1;
	pm->proto = PMAP_NATPMP;
	pm->op = op & ~PCP_RESPONSE;
	pm->result = rd_u16(r);
	(void)rd_u32(r);		/* seconds since its start */
	if (r->bad || (op == 0 && pm->result != 1))
		return -1;
	if (op == 0)		/* RFC 6886 3.5: "Unsupported Version" */
		pm->op = PMAP_OP_MAP;	/* ... the answer to our PCP */
	if (pm->result != 0)	/* an error may come short (version) */
		return 0;
	if (pm->op == PMAP_OP_ADDR) {
		if ((a = rd_bytes(r, 4)) == NULL)
			return -1;
		pm->ext.u.in.sin_family = AF_INET;
		memcpy(&pm->ext.u.in.sin_addr, a, 4);
		pm->ext.len = sizeof(pm->ext.u.in);
		pm->have_ext = 1;
		return 0;
	}
	pm->iport = rd_u16(r);
	pm->eport = rd_u16(r);
	pm->lifetime = rd_u32(r);
	return r->bad ? -1 : 0;
}

static int
rd_pcp(struct rd *r, struct pmap_reply *pm)
{
	const unsigned char *n;
	int op = rd_u8(r);

	if ((op & PCP_RESPONSE) == 0 || (op & ~PCP_RESPONSE) != PMAP_OP_MAP)
		return -1;
	pm->proto = PMAP_PCP;
	pm->op = PMAP_OP_MAP;
	(void)rd_u8(r);
	pm->result = rd_u8(r);
	pm->lifetime = rd_u32(r);
	(void)rd_u32(r);		/* epoch */
	if (rd_bytes(r, 12) == NULL)
		return -1;
	if (r->left < PCP_MAP_LEN)	/* an error may have no MAP part */
		return pm->result != 0 ? 0 : -1;
	n = rd_bytes(r, PCP_NONCE_LEN);
	memcpy(pm->nonce, n, PCP_NONCE_LEN);
	if (rd_u8(r) != 17)
		return -1;
	(void)rd_bytes(r, 3);
	pm->iport = rd_u16(r);
	pm->eport = rd_u16(r);
	if (rd_pcp_addr(r, &pm->ext) == -1)
		return pm->result != 0 ? 0 : -1;
	pm->have_ext = 1;
	return r->bad ? -1 : 0;
}

/*
 * An answer from a gateway's port 5351: NAT-PMP (version 0) or PCP
 * (version 2), checked as hostile input. 0, or -1 when it is neither.
 */
int
rd_pmap(struct rd *r, struct pmap_reply *pm)
{
	int version = rd_u8(r);

	memset(pm, 0, sizeof(*pm));
	if (r->bad)
		return -1;
	if (version == NATPMP_VERSION)
		return rd_natpmp(r, pm);
	if (version == PCP_VERSION)
		return rd_pcp(r, pm);
	return -1;
}
