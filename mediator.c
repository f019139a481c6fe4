/*
 * mediator.c - the rendezvous server.
 *
 * Clients register a name; the mediator notes the public endpoint it sees
 * (the datagram's source) beside the local endpoints the client reports.
 * When a name has two clients (two punch, or a listen and a connect) each
 * is told about the other, and the mediator retransmits that introduction
 * until both acknowledge it. Then it stays out of the way.
 *
 * Every address is served on two ports, P and P+1. A client sends its
 * REGISTER to both; if the two copies arrive from different public ports
 * its NAT maps endpoint-dependently ("symmetric"), and both peers are
 * told, so that they can use the birthday method. The second port (and a
 * second address, with -s twice) also answers the NAT check's binding
 * requests from "the other" endpoint, as RFC 5780 does.
 *
 * Memory is bounded: at most maxnames entries, each of at most two
 * clients of bounded size; a full table answers E_FULL instead of
 * growing. Most of a busy table is names waiting for their peer, so an
 * entry holds its name at its length and a client what it sent, packed
 * (struct slot). Every datagram is parsed as hostile input through the
 * byte cursors of util.c.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <err.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pnc.h"

#define GROUP_PUNCH	0
#define GROUP_SESSION	1
#define GROUP_TCP	2	/* added: TCP clients meet TCP clients */
#define MAXTCP		1024	/* TCP rendezvous connections at once */
#define REXMIT_FIRST	100	/* ms before the first re-introduction */
#define REXMIT_TRIES	6	/* 100+200+...+3200 ms, then give up */
#define INTRO_CTL_TRIES	3	/* the controlled side silent this many
				   resends (700 ms): introduce the other
				   anyway, without READY */
#define MAXSOCKS	4	/* two addresses (or families) x two ports */
#define ALT_WAIT	300	/* ms to wait for the copy sent to port P+1 */
#define COOKIE_EPOCH	60000	/* ms; a cookie is good for 60 to 120 s */
#define RL_SLOTS	4096	/* rate limiter buckets, by source address */
#define RATE_DEFAULT	20	/* new registrations per second per address */
#define RELAY_MAX	64	/* relayed sessions at once (-x) */
#define RELAY_RATE	(2 * 1024 * 1024)	/* bytes/s per session (-b) */
#define BATCH		64	/* datagrams per recvmmsg, replies per sendmmsg */
#define REPLY_MAX	256	/* no reply is longer (see their buffers) */

/* Where a client reached us: reply from that address (NAT-NOTES). */
struct via {
	int		sock;		/* index into the socket array */
	union {
		struct in_addr	v4;
		struct in6_addr	v6;
	} dst;
	int		have_dst;
	int		tcp;		/* TCP connection index + 1, or 0 */
	unsigned	gen;		/* ... and its generation */
};

/* A TCP rendezvous client: messages framed by a 2-byte length. */
struct tconn {
	int		 fd;
	unsigned	 gen;
	int64_t		 seen;
	struct ep	 from;
	size_t		 len;
	unsigned char	 buf[2 + MAX_DGRAM];
};

/*
 * A client of a name, in one allocation sized to what it sent: the fixed
 * part, then b: its endpoint as seen on port P and on P+1 (each a cep,
 * below), the address it reached us at (4 or 16 bytes, if have_dst: the
 * family is pub's, which came with it), and its local candidates as
 * their wire bytes. slot_unpack and slot_update read and write b.
 */
struct slot {
	uint64_t	id;
	int64_t		seen, first;
	uint32_t	gen;		/* via: TCP connection generation */
	uint16_t	tcp;		/* via: TCP connection index + 1, or 0 */
	uint8_t		sock;		/* via: index into the socket array */
	uint8_t		have_dst;	/* via: b holds the destination */
	uint8_t		ttl;		/* IP TTL the REGISTER arrived with */
	uint8_t		acked;		/* PEERACK for the introduction */
	uint8_t		nloc;
	uint8_t		loclen;
	unsigned char	b[];		/* pub, alt, dst, locals */
};

/*
 * A compact endpoint (cep): the wire form (family 4 or 6, port, address)
 * and, for IPv6, the scope id (an answer to a link-local address needs
 * it); family 0 is "none". 1, 7 or 23 bytes.
 */
#define CEP_MAX		(EP_MAX_LEN + 4)
#define SLOT_TAIL_MAX	(2 * CEP_MAX + 16 + MAX_LOCALS * EP_MAX_LEN)

/* A slot unpacked, for reading. */
struct slotv {
	struct ep		 pub;		/* as seen on port P */
	struct ep		 alt;		/* as seen on port P+1 */
	int			 have_pub, have_alt;
	struct via		 via;
	const unsigned char	*locals;	/* into the slot */
};

struct entry {
	struct entry	*hnext;		/* hash chain */
	struct entry	*older, *newer;	/* expiry list, oldest first */
	struct entry	*rnext;		/* re-introduction list */
	struct slot	*s[2];		/* NULL: nobody */
	int64_t		 touched;
	int64_t		 rexmit_at;
	uint32_t	 hash;		/* name_hash of group and name */
	uint8_t		 rexmit_n;
	uint8_t		 on_rexmit;
	uint8_t		 introduced;
	uint8_t		 ready;		/* the controlled side acknowledged */
	uint8_t		 intro_ctl;	/* the controlling side introduced */
	uint8_t		 group;
	uint8_t		 namelen;
	char		 name[];	/* namelen bytes, not terminated */
};

struct stats {
	unsigned long	rx, malformed, oversized, badversion, registered,
			introduced, refused, expired, cookies, ratelimited,
			capped, stun, relayed, relay_bytes, relay_dropped;
};

/*
 * A relayed session (mediate -r): the two clients of one rendezvous, as
 * registered. Only they may send through it, and only to each other.
 */
struct rsess {
	uint64_t	 id[2];		/* 0: free */
	struct ep	 pub[2];
	struct via	 via[2];
	int64_t		 last;		/* ms: idle expiry */
	int64_t		 tat;		/* us: GCRA over bytes, the rate cap */
	uint64_t	 bytes;
};

/* A rate limiter bucket (GCRA): when the next registration is due. */
struct rl {
	uint32_t	key;		/* hash of the source address */
	int64_t		tat;		/* theoretical arrival time, us */
};

struct msock {
	int		 fd;
	int		 addr_idx;	/* 0, or 1 for the second -s */
	int		 alt_port;	/* bound to P+1 */
	int		 wildcard;	/* needs IP_PKTINFO to answer right */
	struct ep	 bound;
};

/* Control data: a destination address (IP_PKTINFO) out, and a TTL in. */
union cmsgbuf {
	char		c[CMSG_SPACE(sizeof(struct in6_pktinfo)) + 64];
	struct cmsghdr	align;
};

/*
 * UDP replies queued for one socket, to go out with one sendmmsg when
 * the datagrams read in one burst are handled (flush), or when full.
 */
struct txq {
	int		 n;
	struct mmsghdr	 msg[BATCH];
	struct iovec	 iov[BATCH];
	struct ep	 to[BATCH];
	union cmsgbuf	 cbuf[BATCH];
	unsigned char	 data[BATCH][REPLY_MAX];
};

/* A burst of datagrams read with one recvmmsg. */
struct rxb {
	struct mmsghdr	 msg[BATCH];
	struct iovec	 iov[BATCH];
	struct ep	 from[BATCH];
	union cmsgbuf	 cbuf[BATCH];
	unsigned char	 buf[BATCH][MAX_DGRAM + 1];
};

struct mediator {
	struct msock	 socks[MAXSOCKS];
	struct txq	*txq;		/* one queue per socket */
	struct rxb	*rxb;
	int		 nfds;
	int		 has_alt;	/* some socket serves P+1 */
	int		 lfds[2];	/* TCP listeners */
	int		 nlfds;
	struct tconn	*tc[MAXTCP];
	int		 tc_end;	/* tc[tc_end...] are all NULL */
	unsigned	 gen;
	struct entry	**buckets;
	size_t		 nbuckets;	/* a power of two, grown with count */
	struct entry	**old;		/* the table before, being moved */
	size_t		 nold, moved;	/* its size, its buckets moved */
	size_t		 count, max;
	struct entry	*oldest, *newest;
	struct entry	*rexmit;
	uint64_t	 cookie_key[2];	/* SipHash keys: per-process secrets */
	uint64_t	 hash_key[2];	/* ... for the name and rate tables */
	int		 trust_all;	/* fuzzer only: skip the cookie check */
	struct rl	*rl;		/* RL_SLOTS buckets, or NULL: no limit */
	int64_t		 rl_gap;	/* us between registrations ... */
	int64_t		 rl_burst;	/* ... and how far ahead one may be */
	struct rsess	*rs;		/* relay sessions, or NULL: no relay */
	int		 rs_max;
	int64_t		 rs_rate;	/* bytes per second per session */
	int64_t		 rs_cap;	/* bytes per session, 0: no cap */
	struct stats	 st;
};

static volatile sig_atomic_t stop;

static void	cookie_make(const struct mediator *, const struct ep *, int64_t,
		    unsigned char *);

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Keyed (SipHash): names an attacker picks cannot be aimed at a chain. */
static uint32_t
name_hash(const struct mediator *m, int group, const char *name, size_t len)
{
	unsigned char b[1 + NAME_MAX_LEN];

	b[0] = (unsigned char)group;
	memcpy(b + 1, name, len);
	return (uint32_t)siphash24(m->hash_key, b, 1 + len);
}

static struct entry **
chain_find(struct entry **ep, uint32_t h, int group, const char *name,
    size_t len)
{
	for (; *ep != NULL; ep = &(*ep)->hnext)
		if ((*ep)->hash == h && (*ep)->group == group &&
		    (*ep)->namelen == len && memcmp((*ep)->name, name, len) == 0)
			break;
	return ep;
}

/*
 * Where name is, or would go, in its chain: in the old table if its
 * bucket there has not been moved yet and holds it, else in the new.
 */
static struct entry **
entry_ref(struct mediator *m, int group, const char *name, size_t len)
{
	uint32_t h = name_hash(m, group, name, len);
	struct entry **ep;

	if (m->old != NULL && (h & (m->nold - 1)) >= m->moved) {
		ep = chain_find(&m->old[h & (m->nold - 1)], h, group, name,
		    len);
		if (*ep != NULL)
			return ep;
	}
	return chain_find(&m->buckets[h & (m->nbuckets - 1)], h, group, name,
	    len);
}

static void
list_unlink(struct mediator *m, struct entry *e)
{
	if (e->older)
		e->older->newer = e->newer;
	else
		m->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		m->newest = e->older;
	e->older = e->newer = NULL;
}

/* Move to the young end of the expiry list. */
static void
entry_touch(struct mediator *m, struct entry *e, int64_t now)
{
	if (m->newest != e) {
		if (e->older || e->newer || m->oldest == e)
			list_unlink(m, e);
		e->older = m->newest;
		if (m->newest)
			m->newest->newer = e;
		else
			m->oldest = e;
		m->newest = e;
	}
	e->touched = now;
}

static void
rexmit_remove(struct mediator *m, struct entry *e)
{
	struct entry **rp;

	for (rp = &m->rexmit; *rp != NULL; rp = &(*rp)->rnext)
		if (*rp == e) {
			*rp = e->rnext;
			break;
		}
	e->on_rexmit = 0;
	e->rnext = NULL;
}

static void
slots_free(struct entry *e)
{
	free(e->s[0]);
	free(e->s[1]);
	e->s[0] = e->s[1] = NULL;
}

static void
entry_free(struct mediator *m, struct entry *e)
{
	struct entry **ep = entry_ref(m, e->group, e->name, e->namelen);

	if (*ep == e)
		*ep = e->hnext;
	if (e->on_rexmit)
		rexmit_remove(m, e);
	list_unlink(m, e);
	slots_free(e);
	free(e);
	m->count--;
}

/* Move up to n buckets of the old table into the new one. */
static void
table_move(struct mediator *m, size_t n)
{
	struct entry *e, *next, **b;

	for (; n > 0 && m->old != NULL; n--) {
		for (e = m->old[m->moved]; e != NULL; e = next) {
			next = e->hnext;
			b = &m->buckets[e->hash & (m->nbuckets - 1)];
			e->hnext = *b;
			*b = e;
		}
		m->old[m->moved] = NULL;
		if (++m->moved == m->nold) {
			free(m->old);
			m->old = NULL;
		}
	}
}

/*
 * Twice the buckets, when there are as many names as buckets: the table
 * costs 8 to 16 bytes a name at any size, not what -n allows for. The
 * names move over a few at each new name (entry_get), never all at once:
 * moving a million took 0.2 s, a stall that overflows socket buffers.
 * Out of memory, the chains just grow longer.
 */
static void
table_grow(struct mediator *m)
{
	struct entry **nb;

	table_move(m, SIZE_MAX);	/* the last growth: done by now */
	if ((nb = calloc(2 * m->nbuckets, sizeof(*nb))) == NULL)
		return;
	m->old = m->buckets;
	m->nold = m->nbuckets;
	m->moved = 0;
	m->buckets = nb;
	m->nbuckets *= 2;
}

/* Returns the entry for name, creating it; NULL when the table is full. */
static struct entry *
entry_get(struct mediator *m, int group, const char *name, size_t len,
    int64_t now)
{
	struct entry **ep = entry_ref(m, group, name, len), *e;

	if (*ep != NULL)
		return *ep;
	if (m->count >= m->max)
		return NULL;
	if (m->count >= m->nbuckets)
		table_grow(m);
	/* Two a name: all moved before the table can fill again. */
	table_move(m, 2);
	ep = entry_ref(m, group, name, len);
	if ((e = calloc(1, offsetof(struct entry, name) + len)) == NULL)
		return NULL;
	e->hash = name_hash(m, group, name, len);
	e->group = (uint8_t)group;
	e->namelen = (uint8_t)len;
	memcpy(e->name, name, len);
	*ep = e;
	m->count++;
	entry_touch(m, e, now);
	return e;
}

static int
slot_live(const struct slot *s, int64_t now)
{
	return s != NULL && now - s->seen < REG_TTL * 1000;
}

/* The index of e's client id, or -1. */
static int
slot_of(const struct entry *e, uint64_t id)
{
	int i;

	for (i = 0; i < 2; i++)
		if (e->s[i] != NULL && e->s[i]->id == id)
			return i;
	return -1;
}

static size_t
cep_len(const unsigned char *c)
{
	return c[0] == 4 ? 7 : c[0] == 6 ? CEP_MAX : 1;
}

/* Write e (NULL: none) as a cep at c; returns its length. */
static size_t
cep_put(unsigned char *c, const struct ep *e)
{
	struct wr w;

	if (e == NULL) {
		c[0] = 0;
		return 1;
	}
	wr_init(&w, c, CEP_MAX);
	wr_ep(&w, e);
	if (e->u.sa.sa_family == AF_INET6)
		wr_u32(&w, e->u.in6.sin6_scope_id);
	return w.len;
}

/* Read the cep at c into e (zeros for none); 1 if there was one. */
static int
cep_get(const unsigned char *c, struct ep *e)
{
	struct rd r;

	memset(e, 0, sizeof(*e));
	if (c[0] == 0)
		return 0;
	rd_init(&r, c, cep_len(c));
	(void)rd_ep(&r, e);
	if (e->u.sa.sa_family == AF_INET6)
		e->u.in6.sin6_scope_id = rd_u32(&r);
	return 1;
}

/* The length of the destination address a slot holds. */
static size_t
slot_dstlen(const struct slot *s)
{
	return !s->have_dst ? 0 : s->b[0] == 6 ? 16 : 4;
}

static void
slot_unpack(const struct slot *s, struct slotv *v)
{
	const unsigned char *p = s->b;

	v->have_pub = cep_get(p, &v->pub);
	p += cep_len(p);
	v->have_alt = cep_get(p, &v->alt);
	p += cep_len(p);
	memset(&v->via, 0, sizeof(v->via));
	v->via.sock = s->sock;
	v->via.tcp = s->tcp;
	v->via.gen = s->gen;
	v->via.have_dst = s->have_dst;
	memcpy(&v->via.dst, p, slot_dstlen(s));
	v->locals = p + slot_dstlen(s);
}

static int
slot_have_pub(const struct slot *s)
{
	return s->b[0] != 0;
}

static int
slot_have_alt(const struct slot *s)
{
	return s->b[cep_len(s->b)] != 0;
}

/*
 * A framed message to a TCP client. Messages are small and the client
 * reads them at once, so a full socket buffer means a dead client: drop.
 */
static void
tcp_reply(struct mediator *m, const struct via *via, const void *buf,
    size_t len)
{
	struct tconn *c = m->tc[via->tcp - 1];
	unsigned char frame[2 + MAX_DGRAM];

	if (c == NULL || c->gen != via->gen || len > MAX_DGRAM)
		return;		/* that connection is gone */
	frame[0] = (unsigned char)(len >> 8);
	frame[1] = (unsigned char)len;
	memcpy(frame + 2, buf, len);
	(void)send(c->fd, frame, len + 2, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/*
 * Send what is queued for socket k: one sendmmsg, more only past an
 * error. UDP: a full socket buffer loses the rest, another error the one
 * reply it was for; the clients retry.
 */
static void
flush_sock(struct mediator *m, int k)
{
	struct txq *q = &m->txq[k];
	int off = 0, r;

	while (off < q->n) {
		r = sendmmsg(m->socks[k].fd, q->msg + off,
		    (unsigned)(q->n - off), MSG_DONTWAIT);
		if (r > 0)
			off += r;
		else if (errno == EAGAIN || errno == ENOBUFS)
			break;
		else if (errno != EINTR)
			off++;
	}
	q->n = 0;
}

static void
flush(struct mediator *m)
{
	int k;

	for (k = 0; k < m->nfds; k++)
		if (m->txq[k].n > 0)
			flush_sock(m, k);
}

/*
 * Answer from the address the client reached us at: IP_PKTINFO (or its
 * IPv6 twin) in msg, built in cbuf, for a socket bound to the wildcard.
 */
static void
set_pktinfo(struct msghdr *msg, char *cbuf, size_t cap, const struct ep *to,
    const struct via *via)
{
	struct cmsghdr *cm = (struct cmsghdr *)cbuf;

	memset(cbuf, 0, cap);
	msg->msg_control = cbuf;
	if (to->u.sa.sa_family == AF_INET6) {
		struct in6_pktinfo pi;

		memset(&pi, 0, sizeof(pi));
		pi.ipi6_addr = via->dst.v6;
		msg->msg_controllen = CMSG_SPACE(sizeof(pi));
		cm->cmsg_level = IPPROTO_IPV6;
		cm->cmsg_type = IPV6_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	} else {
		struct in_pktinfo pi;

		memset(&pi, 0, sizeof(pi));
		pi.ipi_spec_dst = via->dst.v4;
		msg->msg_controllen = CMSG_SPACE(sizeof(pi));
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	}
}

/*
 * Queue buf to a client, from the address it reached us at (IP_PKTINFO
 * on a wildcard socket); TCP clients get theirs at once.
 */
static void
reply(struct mediator *m, const struct ep *to, const struct via *via,
    const void *buf, size_t len)
{
	struct txq *q;
	struct msghdr *msg;
	int k;

	if (via->tcp) {
		tcp_reply(m, via, buf, len);
		return;
	}
	if (len > REPLY_MAX)
		return;		/* none is: see REPLY_MAX */
	q = &m->txq[via->sock];
	if (q->n == BATCH)
		flush_sock(m, via->sock);
	k = q->n++;
	memcpy(q->data[k], buf, len);
	q->to[k] = *to;
	q->iov[k].iov_base = q->data[k];
	q->iov[k].iov_len = len;
	msg = &q->msg[k].msg_hdr;
	memset(msg, 0, sizeof(*msg));
	msg->msg_name = &q->to[k].u;
	msg->msg_namelen = to->len;
	msg->msg_iov = &q->iov[k];
	msg->msg_iovlen = 1;
	if (via->have_dst && m->socks[via->sock].wildcard)
		set_pktinfo(msg, q->cbuf[k].c, sizeof(q->cbuf[k].c), to, via);
}

/*
 * A reply to a source that has not shown a cookie: never more bytes than
 * the request, so that the mediator cannot amplify a forged flood.
 */
static void
reply_capped(struct mediator *m, const struct ep *to, const struct via *via,
    const void *buf, size_t len, size_t cap)
{
	if (len > cap) {
		m->st.capped++;
		return;
	}
	reply(m, to, via, buf, len);
}

static void
send_error(struct mediator *m, const struct ep *to, const struct via *via,
    uint64_t id, int code, const char *text, size_t cap)
{
	unsigned char buf[256];
	struct wr w;
	size_t n = strlen(text);

	wr_init(&w, buf, sizeof(buf));
	wr_hdr(&w, T_ERROR, id);
	wr_u8(&w, (uint8_t)code);
	wr_u8(&w, (uint8_t)n);
	wr_bytes(&w, text, n);
	if (!w.bad)
		reply_capped(m, to, via, buf, w.len, cap);
}

/* REGISTERED: ttl 0 when it only hands out the cookie. */
static void
send_registered(struct mediator *m, const struct ep *to,
    const struct via *via, uint64_t id, int ttl, size_t cap, int64_t now)
{
	unsigned char buf[64], c[COOKIE_LEN];
	struct wr w;

	cookie_make(m, to, now / COOKIE_EPOCH, c);
	wr_init(&w, buf, sizeof(buf));
	wr_hdr(&w, T_REGISTERED, id);
	wr_ep(&w, to);
	wr_u16(&w, (uint16_t)ttl);
	wr_bytes(&w, c, sizeof(c));
	if (!w.bad)
		reply_capped(m, to, via, buf, w.len, cap);
}

static int
slot_epdep(const struct slotv *v)
{
	return v->have_alt && (ep_port(&v->alt) != ep_port(&v->pub) ||
	    !ep_equal_addr(&v->alt, &v->pub));
}

/*
 * The slot that controls the punch: the higher id. Clients that use
 * several mediators decide it so (punch.c), and every mediator agrees
 * with them: the side they take for the controlling one is the one this
 * mediator introduces with READY.
 */
static int
ctl_slot(const struct entry *e)
{
	if (e->s[0] == NULL || e->s[1] == NULL)
		return 0;
	return e->s[0]->id > e->s[1]->id ? 0 : 1;
}

/* Tell slot i of e about the other slot. */
static void
send_peer(struct mediator *m, const struct entry *e, int i)
{
	const struct slot *me = e->s[i], *peer = e->s[1 - i];
	struct slotv mv, pv;
	unsigned char buf[256];
	struct wr w;
	int flags = 0;

	if (me == NULL || peer == NULL)
		return;
	slot_unpack(me, &mv);
	slot_unpack(peer, &pv);
	if (i == ctl_slot(e))
		flags |= PEER_CONTROLLING;
	if (slot_epdep(&mv))
		flags |= PEER_YOU_EPDEP;
	if (slot_epdep(&pv))
		flags |= PEER_THEY_EPDEP;
	if (i == ctl_slot(e) && e->ready)
		flags |= PEER_READY;
	if (m->rs != NULL && e->group < GROUP_TCP)
		flags |= PEER_RELAY;
	wr_init(&w, buf, sizeof(buf));
	wr_hdr(&w, T_PEER, me->id);
	wr_u8(&w, (uint8_t)flags);
	wr_u8(&w, me->ttl);
	wr_u64(&w, peer->id);
	wr_ep(&w, &mv.pub);
	wr_ep(&w, &pv.pub);
	wr_u8(&w, peer->nloc);
	wr_bytes(&w, pv.locals, peer->loclen);
	if (!w.bad)
		reply(m, &mv.pub, &mv.via, buf, w.len);
}

/* Repeat e's introductions until acknowledged, from the first delay. */
static void
rexmit_start(struct mediator *m, struct entry *e, int64_t now)
{
	e->rexmit_at = now + REXMIT_FIRST;
	e->rexmit_n = 0;
	if (!e->on_rexmit) {
		e->rnext = m->rexmit;
		m->rexmit = e;
		e->on_rexmit = 1;
	}
}

/*
 * Both slots of e are complete. Over UDP the controlled side is
 * introduced first and the controlling side once the other has
 * acknowledged, with PEER_READY: by then the controlled side's small-TTL
 * probes are out of its NAT, so the controlling side may send probes that
 * reach it (README, conntrack clash). One introduction each, and no
 * "ready" message of its own; a controlled side silent for INTRO_CTL_TRIES
 * resends costs the other only that long (tick). Over TCP both at once:
 * the SYNs should cross.
 */
static void
introduce(struct mediator *m, struct entry *e, int64_t now)
{
	struct slotv v0, v1;
	char a[80], b[80];
	int c = ctl_slot(e);

	e->introduced = 1;
	e->ready = e->intro_ctl = e->group >= GROUP_TCP;
	e->s[0]->acked = e->s[1]->acked = 0;
	send_peer(m, e, 1 - c);
	if (e->intro_ctl)
		send_peer(m, e, c);
	rexmit_start(m, e, now);
	m->st.introduced++;
	if (!verbose)
		return;
	slot_unpack(e->s[0], &v0);
	slot_unpack(e->s[1], &v1);
	vlog("introduced %.*s: %s%s <-> %s%s", e->namelen, e->name,
	    ep_str(&v0.pub, a, sizeof(a)),
	    slot_epdep(&v0) ? " (endpoint-dependent)" : "",
	    ep_str(&v1.pub, b, sizeof(b)),
	    slot_epdep(&v1) ? " (endpoint-dependent)" : "");
}

/*
 * Which slot a new client takes: listen 0, connect 1, punch any free.
 * Returns the index, or -1 when a live client of another id holds it.
 */
static int
slot_pick(struct entry *e, int role, int64_t now)
{
	if (role == ROLE_LISTEN)
		return slot_live(e->s[0], now) ? -1 : 0;
	if (role == ROLE_CONNECT)
		return slot_live(e->s[1], now) ? -1 : 1;
	if (!slot_live(e->s[0], now))
		return 0;
	return slot_live(e->s[1], now) ? -1 : 1;
}

/*
 * Return routability. A cookie is a MAC of the source endpoint and the
 * minute under a per-process secret: whoever presents it receives what is
 * sent to that endpoint. It costs no state, so a flood from forged
 * sources creates no registration, and what it draws is the cookie
 * reply, never larger than the request (README "Wire protocol").
 *
 * A cookie is never zero: zero is what a client sends (and what pnc
 * takes for "none yet") before it has one, so a zero cookie is refused
 * without computing two MACs.
 */
static int
cookie_zero(const unsigned char *c)
{
	unsigned char any = 0;
	size_t i;

	for (i = 0; i < COOKIE_LEN; i++)
		any |= c[i];
	return any == 0;
}

/* SipHash of the minute and the endpoint: 64 bits to guess. */
static void
cookie_make(const struct mediator *m, const struct ep *from, int64_t epoch,
    unsigned char *out)
{
	unsigned char buf[8 + EP_MAX_LEN];
	struct wr w, o;

	wr_init(&w, buf, sizeof(buf));
	wr_u64(&w, (uint64_t)epoch);
	wr_ep(&w, from);
	wr_init(&o, out, COOKIE_LEN);
	wr_u64(&o, siphash24(m->cookie_key, buf, w.len));
	if (cookie_zero(out))
		out[COOKIE_LEN - 1] = 1;
}

static int
cookie_ok(const struct mediator *m, const struct ep *from,
    const unsigned char *cookie, int64_t now)
{
	unsigned char c[COOKIE_LEN];
	int64_t epoch = now / COOKIE_EPOCH;

	if (m->trust_all)
		return 1;
	if (cookie_zero(cookie))
		return 0;
	cookie_make(m, from, epoch, c);
	if (ct_equal(c, cookie, COOKIE_LEN))
		return 1;
	cookie_make(m, from, epoch - 1, c);
	return ct_equal(c, cookie, COOKIE_LEN);
}

/*
 * Per source address (not port: ports are free to vary), at most the
 * configured number of new registrations per second. Addresses share a
 * bucket when their hashes collide; a busy bucket is then shared, which
 * errs on the side of refusing.
 */
static int
rate_ok(struct mediator *m, const struct ep *from, int64_t now)
{
	unsigned char a[1 + 16];
	size_t alen;
	uint32_t h;
	struct rl *b;
	int64_t t = now * 1000;

	if (m->rl == NULL)
		return 1;
	a[0] = 0xff;		/* never a name's group (name_hash) */
	if (from->u.sa.sa_family == AF_INET6) {
		memcpy(a + 1, &from->u.in6.sin6_addr, 16);
		alen = 16;
	} else {
		memcpy(a + 1, &from->u.in.sin_addr, 4);
		alen = 4;
	}
	h = (uint32_t)siphash24(m->hash_key, a, 1 + alen);
	b = &m->rl[h % RL_SLOTS];
	if (b->key != h && b->tat <= t)
		b->key = h;	/* an idle bucket changes hands */
	if (b->tat < t)
		b->tat = t;
	if (b->tat - t > m->rl_burst)
		return 0;
	b->tat += m->rl_gap;
	return 1;
}

struct reg {
	uint64_t		 id;
	int			 role;
	const char		*name;
	size_t			 namelen;
	uint8_t			 nloc;
	const unsigned char	*locals;
	size_t			 loclen;
	int			 ttl;
	int			 alt;		/* arrived on port P+1 */
	int			 tcp;		/* arrived over TCP */
	const unsigned char	*cookie;
	size_t			 len;		/* of the whole datagram */
};

/* Which clients meet: punch with punch, listen with connect, by transport. */
static int
reg_group(const struct reg *rg)
{
	return (rg->role == ROLE_PUNCH ? GROUP_PUNCH : GROUP_SESSION) +
	    (rg->tcp ? GROUP_TCP : 0);
}

/* Both copies of the REGISTER are in, or the second will not come. */
static int
slot_complete(const struct mediator *m, const struct slot *s, int64_t now)
{
	return slot_have_pub(s) && (slot_have_alt(s) || !m->has_alt ||
	    now - s->first >= ALT_WAIT);
}

/*
 * Slot old (NULL, or another client's: then it is reused) with this
 * REGISTER in it, resized to what it holds now. Returns the slot, or
 * NULL (out of memory) with old untouched.
 */
static struct slot *
slot_update(struct slot *old, const struct reg *rg, const struct ep *from,
    const struct via *via, int64_t now)
{
	unsigned char tail[SLOT_TAIL_MAX], *p = tail;
	struct slot hdr, *s;
	struct slotv v;
	size_t n;

	if (old != NULL && old->id == rg->id) {
		hdr = *old;		/* the fixed part */
		slot_unpack(old, &v);
	} else {
		memset(&hdr, 0, sizeof(hdr));
		memset(&v, 0, sizeof(v));
		hdr.id = rg->id;
		hdr.first = now;
	}
	hdr.seen = now;
	if (rg->alt) {
		v.alt = *from;
		v.have_alt = 1;
	} else {
		v.pub = *from;
		v.have_pub = 1;
		v.via = *via;
		hdr.ttl = (uint8_t)rg->ttl;
	}
	if (rg->tcp) {		/* no second port over TCP: not compared */
		v.alt = *from;
		v.have_alt = 1;
	}
	hdr.sock = (uint8_t)v.via.sock;
	hdr.tcp = (uint16_t)v.via.tcp;
	hdr.gen = v.via.gen;
	hdr.have_dst = v.via.have_dst != 0 && v.have_pub;
	hdr.nloc = rg->nloc;
	hdr.loclen = (uint8_t)rg->loclen;
	p += cep_put(p, v.have_pub ? &v.pub : NULL);
	p += cep_put(p, v.have_alt ? &v.alt : NULL);
	if (hdr.have_dst) {	/* of pub's family, as slot_dstlen reads it */
		n = tail[0] == 6 ? 16 : 4;
		memcpy(p, &v.via.dst, n);
		p += n;
	}
	if (rg->loclen > 0)
		memcpy(p, rg->locals, rg->loclen);
	p += rg->loclen;
	n = (size_t)(p - tail);
	if ((s = realloc(old, offsetof(struct slot, b) + n)) == NULL)
		return NULL;
	memcpy(s, &hdr, offsetof(struct slot, b));
	memcpy(s->b, tail, n);
	return s;
}

static void
handle_register(struct mediator *m, const struct reg *rg,
    const struct ep *from, const struct via *via, int64_t now)
{
	int group = reg_group(rg);
	struct entry *e;
	struct slot *s;
	int i, fresh_alt;
	char a[80];

	/*
	 * TCP's handshake already proved the source. A copy to P+1 of a
	 * registration made on P needs no cookie of its own: it only adds
	 * the mapping seen on P+1 (which a symmetric NAT makes anew, with a
	 * port the cookie does not cover), and nothing is sent to it. That
	 * test goes first: the MAC is the dearest part of a REGISTER.
	 */
	e = *entry_ref(m, group, rg->name, rg->namelen);
	i = e != NULL ? slot_of(e, rg->id) : -1;
	if (!rg->tcp && !(rg->alt && i != -1 && !slot_have_alt(e->s[i])) &&
	    !cookie_ok(m, from, rg->cookie, now)) {
		m->st.cookies++;
		send_registered(m, from, via, rg->id, 0, rg->len, now);
		return;
	}
	if (i == -1 && !rate_ok(m, from, now)) {
		m->st.ratelimited++;
		send_error(m, from, via, rg->id, E_RATE,
		    "too many registrations from your address, try later",
		    SIZE_MAX);
		return;
	}
	if ((e = entry_get(m, group, rg->name, rg->namelen, now)) == NULL) {
		m->st.refused++;
		send_error(m, from, via, rg->id, E_FULL,
		    "mediator table full, try later", SIZE_MAX);
		return;
	}
	if ((i = slot_of(e, rg->id)) == -1) {
		/* A newcomer after an introduction starts a new meeting. */
		if (e->introduced) {
			slots_free(e);
			e->introduced = 0;
			if (e->on_rexmit)
				rexmit_remove(m, e);
		}
		if ((i = slot_pick(e, rg->role, now)) == -1) {
			m->st.refused++;
			send_error(m, from, via, rg->id, E_BUSY,
			    "name in use by another client of that role",
			    SIZE_MAX);
			return;
		}
		m->st.registered++;
		if (verbose)	/* not ep_str for nothing, at every name */
			vlog("registered %.*s role %d from %s",
			    (int)rg->namelen, rg->name, rg->role,
			    ep_str(from, a, sizeof(a)));
	}
	s = e->s[i];
	fresh_alt = rg->alt && (s == NULL || s->id != rg->id ||
	    !slot_have_alt(s));
	if ((s = slot_update(s, rg, from, via, now)) == NULL) {
		m->st.refused++;
		send_error(m, from, via, rg->id, E_FULL,
		    "mediator out of memory, try later", SIZE_MAX);
		return;
	}
	e->s[i] = s;
	entry_touch(m, e, now);
	if (!slot_have_pub(s))
		return;		/* only the copy to P+1 so far */
	if (e->introduced) {
		/* It lost its introduction, or (slot 0) waits for it. */
		if (!rg->alt && (i != ctl_slot(e) || e->intro_ctl))
			send_peer(m, e, i);
		else if (!rg->alt)
			send_registered(m, from, via, rg->id, REG_TTL,
			    SIZE_MAX, now);
	} else if (slot_complete(m, s, now)) {
		if (slot_live(e->s[1 - i], now) &&
		    slot_complete(m, e->s[1 - i], now))
			introduce(m, e, now);
		else if (!rg->alt || fresh_alt) {	/* this copy completed it */
			struct slotv v;

			slot_unpack(s, &v);
			send_registered(m, &v.pub, &v.via, s->id, REG_TTL,
			    SIZE_MAX, now);
		}
	}
}

/* The padding of a request: zero bytes to its end. 0 or -1. */
static int
zeros(struct rd *r)
{
	while (r->left > 0)
		if (rd_u8(r) != 0)
			return -1;
	return 0;
}

/* Parse role, name, and (for REGISTER) candidates and cookie. 0 or -1. */
static int
parse_reg(struct rd *r, struct reg *rg, int with_cands)
{
	const unsigned char *start;
	size_t i;
	struct ep e;

	rg->role = rd_u8(r);
	rg->namelen = rd_u8(r);
	rg->name = (const char *)rd_bytes(r, rg->namelen);
	if (r->bad || rg->role < ROLE_PUNCH || rg->role > ROLE_CONNECT ||
	    rg->namelen == 0 || rg->namelen > NAME_MAX_LEN)
		return -1;
	for (i = 0; i < rg->namelen; i++)
		if (rg->name[i] <= ' ' || rg->name[i] > '~')
			return -1;
	rg->nloc = 0;
	rg->locals = NULL;
	rg->loclen = 0;
	if (!with_cands)	/* PEERACK's, RELAYREQ's flags: not needed */
		(void)rd_u8(r);
	if (with_cands) {
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
		if (r->bad || zeros(r) == -1)
			return -1;
	}
	return r->left == 0 && !r->bad ? 0 : -1;
}

static void
handle_peerack(struct mediator *m, const struct reg *rg, int64_t now)
{
	int group = reg_group(rg);
	struct entry *e = *entry_ref(m, group, rg->name, rg->namelen);
	int i;

	if (e == NULL)
		return;
	if ((i = slot_of(e, rg->id)) != -1) {
		e->s[i]->acked = 1;
		e->s[i]->seen = now;
		entry_touch(m, e, now);
	}
	/*
	 * The controlled side has its introduction, so its TTL-limited
	 * probes are out: now the controlling side's (see introduce).
	 */
	if (i != -1 && e->introduced && !e->ready && e->s[1 - i] != NULL &&
	    i != ctl_slot(e)) {
		e->ready = e->intro_ctl = 1;
		e->s[1 - i]->acked = 0;	/* again, if it was without READY */
		send_peer(m, e, 1 - i);
		rexmit_start(m, e, now);
	}
}

static void
drop(struct mediator *m, const struct ep *from, const char *why)
{
	char a[80];

	m->st.malformed++;
	if (verbose)
		vlog("dropped datagram from %s: %s",
		    ep_str(from, a, sizeof(a)), why);
}

/* The socket on the other port and/or address of sock k, or -1. */
static int
other_socket(const struct mediator *m, int k, int port, int addr)
{
	const struct msock *a = &m->socks[k];
	int i;

	for (i = 0; i < m->nfds; i++) {
		const struct msock *b = &m->socks[i];

		if (b->bound.u.sa.sa_family == a->bound.u.sa.sa_family &&
		    b->alt_port == (a->alt_port ^ port) &&
		    b->addr_idx == (a->addr_idx ^ addr))
			return i;
	}
	return -1;
}

/*
 * NAT check: tell the client where it came from, from the endpoint it
 * asks for (this one, the other port, the other address), and which
 * other address we have.
 */
static void
handle_bind(struct mediator *m, struct rd *r, uint64_t id,
    const struct ep *from, const struct via *via, size_t len)
{
	uint32_t tx = rd_u32(r);
	int want = rd_u8(r), got = 0, k;
	unsigned char buf[128];
	struct via v = *via;
	struct wr w;

	if (r->bad || zeros(r) == -1)
		return drop(m, from, "malformed BIND");
	if (want & (BIND_OTHER_PORT | BIND_OTHER_ADDR)) {
		k = other_socket(m, via->sock, (want & BIND_OTHER_PORT) != 0,
		    (want & BIND_OTHER_ADDR) != 0);
		if (k != -1) {
			v.sock = k;
			got = want & (BIND_OTHER_PORT | BIND_OTHER_ADDR);
		}
	}
	wr_init(&w, buf, sizeof(buf));
	wr_hdr(&w, T_BOUND, id);
	wr_u32(&w, tx);
	wr_u8(&w, (uint8_t)got);
	wr_ep(&w, from);
	k = other_socket(m, via->sock, 0, 1);
	wr_u8(&w, k != -1);
	if (k != -1)
		wr_ep(&w, &m->socks[k].bound);
	if (!w.bad)
		reply_capped(m, from, &v, buf, w.len, len);
}

/*
 * A STUN Binding request (RFC 8489) on the same port: the mapped address,
 * from the other port and/or address when CHANGE-REQUEST asks (RFC
 * 5780), and OTHER-ADDRESS when there is one. The answer is larger than
 * the request (32 bytes to 20, 52 with OTHER-ADDRESS and FINGERPRINT):
 * STUN's nature, so it is charged to the source address's rate bucket.
 */
static void
handle_stun(struct mediator *m, const unsigned char *buf, size_t len,
    const struct ep *from, const struct via *via, int64_t now)
{
	unsigned char out[128];
	struct stun s;
	struct via v = *via;
	struct ep to = *from;
	size_t n;
	int k, o;

	if (via->tcp || stun_parse(buf, len, &s) == -1 ||
	    s.type != STUN_BINDING)
		return drop(m, from, "malformed or unexpected STUN");
	if (!rate_ok(m, from, now)) {
		m->st.ratelimited++;
		return;
	}
	if (s.change) {
		k = other_socket(m, via->sock, (s.change & STUN_CHANGE_PORT)
		    != 0, (s.change & STUN_CHANGE_IP) != 0);
		if (k == -1)
			return;		/* cannot: no answer, as RFC 5780 */
		v.sock = k;
		v.have_dst = 0;		/* that socket's own address */
	}
	/* RESPONSE-PORT (RFC 5780): another port of the same address. */
	if (s.response_port && to.u.sa.sa_family == AF_INET6)
		to.u.in6.sin6_port = htons((uint16_t)s.response_port);
	else if (s.response_port)
		to.u.in.sin_port = htons((uint16_t)s.response_port);
	o = other_socket(m, via->sock, 1, 1);
	n = stun_response(&s, from, o != -1 ? &m->socks[o].bound : NULL,
	    out, sizeof(out));
	if (n > 0) {
		m->st.stun++;
		reply(m, &to, &v, out, n);
	}
}

/* ---- the relay (mediate -r, README "Relay") ---- */

/* A datagram too big for the reply queue, at once, after what is queued. */
static void
send_now(struct mediator *m, const struct ep *to, const struct via *via,
    const void *buf, size_t len)
{
	union {
		char		c[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr	align;
	} cbuf;
	struct iovec iov = { (void *)buf, len };
	struct msghdr msg;

	if (m->txq[via->sock].n > 0)
		flush_sock(m, via->sock);
	memset(&msg, 0, sizeof(msg));
	msg.msg_name = (void *)&to->u;
	msg.msg_namelen = to->len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (via->have_dst && m->socks[via->sock].wildcard)
		set_pktinfo(&msg, cbuf.c, sizeof(cbuf.c), to, via);
	(void)sendmsg(m->socks[via->sock].fd, &msg, MSG_DONTWAIT);
}

/* The relay session with client id (at index *j), or NULL. */
static struct rsess *
rs_find(struct mediator *m, uint64_t id, int *j)
{
	int k;

	for (k = 0; m->rs != NULL && k < m->rs_max; k++)
		for (*j = 0; *j < 2; (*j)++)
			if (m->rs[k].id[0] != 0 && m->rs[k].id[*j] == id)
				return &m->rs[k];
	return NULL;
}

/*
 * A client of an introduced pair asks for the relay: it must come from
 * the endpoint it registered, and the pair gets one session.
 */
static void
handle_relayreq(struct mediator *m, const struct reg *rg,
    const struct ep *from, const struct via *via, int64_t now)
{
	int group = reg_group(rg);
	struct entry *e = *entry_ref(m, group, rg->name, rg->namelen);
	struct rsess *rs;
	struct slotv v[2];
	unsigned char buf[HDR_LEN];
	struct wr w;
	int i, j, k;

	if (e == NULL || !e->introduced || (i = slot_of(e, rg->id)) == -1 ||
	    e->s[1 - i] == NULL)
		return drop(m, from, "RELAYREQ for no rendezvous");
	slot_unpack(e->s[0], &v[0]);
	slot_unpack(e->s[1], &v[1]);
	if (!ep_equal(from, &v[i].pub))
		return drop(m, from, "RELAYREQ not from the registered endpoint");
	if (m->rs == NULL) {
		send_error(m, from, via, rg->id, E_RELAY,
		    "this mediator does not relay (mediate -r)", SIZE_MAX);
		return;
	}
	if ((rs = rs_find(m, rg->id, &j)) == NULL) {
		for (k = 0; k < m->rs_max && m->rs[k].id[0] != 0; k++)
			;
		if (k == m->rs_max) {
			m->st.refused++;
			send_error(m, from, via, rg->id, E_RELAY,
			    "relay full: all sessions in use, try later",
			    SIZE_MAX);
			return;
		}
		rs = &m->rs[k];
		memset(rs, 0, sizeof(*rs));
		for (j = 0; j < 2; j++) {
			rs->id[j] = e->s[j]->id;
			rs->pub[j] = v[j].pub;
			rs->via[j] = v[j].via;
		}
		rs->tat = now * 1000;
		m->st.relayed++;
		vlog("relaying %.*s", e->namelen, e->name);
	}
	rs->last = now;
	wr_init(&w, buf, sizeof(buf));
	wr_hdr(&w, T_RELAYOK, rg->id);
	reply(m, from, via, buf, w.len);
}

/*
 * A datagram to relay: from one registered endpoint of a session, to
 * the other, as it is (the peers' own MACs, with -K, cover the inside).
 */
static void
handle_relay(struct mediator *m, const unsigned char *buf, size_t len,
    uint64_t id, const struct ep *from, int64_t now)
{
	struct rsess *rs;
	int j;
	int64_t t = now * 1000;

	if ((rs = rs_find(m, id, &j)) == NULL || !ep_equal(from, &rs->pub[j]))
		return drop(m, from, "relay: not a relayed endpoint");
	if (rs->tat < t)
		rs->tat = t;
	if (rs->tat - t > 100000 || (m->rs_cap && rs->bytes + len >
	    (uint64_t)m->rs_cap)) {
		m->st.relay_dropped++;	/* over the rate or the cap */
		return;
	}
	rs->tat += (int64_t)len * 1000000 / m->rs_rate;
	rs->bytes += len;
	rs->last = now;
	m->st.relay_bytes += len;
	send_now(m, &rs->pub[1 - j], &rs->via[1 - j], buf, len);
}

static void
handle_datagram(struct mediator *m, const unsigned char *buf, size_t len,
    const struct ep *from, const struct via *via, int ttl, int64_t now)
{
	struct rd r;
	struct reg rg;
	int version, type;
	uint64_t id;

	if (stun_looks(buf, len))
		return handle_stun(m, buf, len, from, via, now);
	rd_init(&r, buf, len);
	if (rd_hdr(&r, &version, &type, &id) == -1)
		return drop(m, from, "not a pnc message");
	if (version != PROTO_VERSION) {
		m->st.badversion++;
		send_error(m, from, via, id, E_VERSION,
		    "mediator speaks pnc protocol version 2", len);
		return drop(m, from, "unknown protocol version");
	}
	if (id == 0)
		return drop(m, from, "zero id");
	if ((type == T_REGISTER || type == T_BIND) && len < REQ_MIN)
		return drop(m, from, "request not padded");
	rg.id = id;
	rg.len = len;
	rg.ttl = ttl;
	rg.tcp = via->tcp != 0;
	rg.alt = rg.tcp ? 0 : m->socks[via->sock].alt_port;
	if (rg.tcp && type != T_REGISTER && type != T_PEERACK)
		return drop(m, from, "unexpected message over TCP");
	if (type == T_RELAY)
		return handle_relay(m, buf, len, id, from, now);
	if (type == T_RELAYREQ) {
		if (parse_reg(&r, &rg, 0) == -1)
			return drop(m, from, "malformed RELAYREQ");
		return handle_relayreq(m, &rg, from, via, now);
	}
	if (type == T_REGISTER) {
		if (parse_reg(&r, &rg, 1) == -1)
			return drop(m, from, "malformed REGISTER");
		handle_register(m, &rg, from, via, now);
	} else if (type == T_BIND) {
		handle_bind(m, &r, id, from, via, len);
	} else if (type == T_PEERACK) {
		if (parse_reg(&r, &rg, 0) == -1)
			return drop(m, from, "malformed PEERACK");
		handle_peerack(m, &rg, now);
	} else
		drop(m, from, "unexpected message type");
}

/* Where a datagram was sent to, and the TTL it arrived with. */
static void
read_cmsgs(struct msghdr *msg, struct via *via, int *ttl)
{
	struct cmsghdr *cm;

	for (cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
		if (cm->cmsg_level == IPPROTO_IP &&
		    cm->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			via->dst.v4 = pi.ipi_addr;
			via->have_dst = 1;
		} else if (cm->cmsg_level == IPPROTO_IPV6 &&
		    cm->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			via->dst.v6 = pi.ipi6_addr;
			via->have_dst = 1;
		} else if ((cm->cmsg_level == IPPROTO_IP &&
		    cm->cmsg_type == IP_TTL) ||
		    (cm->cmsg_level == IPPROTO_IPV6 &&
		    cm->cmsg_type == IPV6_HOPLIMIT))
			memcpy(ttl, CMSG_DATA(cm), sizeof(*ttl));
	}
}

/*
 * Read a burst of datagrams, with their destination addresses, and
 * handle them; the replies wait in the queues for flush(). Returns how
 * many, 0 (none) or -1.
 */
static int
receive(struct mediator *m, int sock, int64_t now)
{
	struct rxb *b = m->rxb;
	struct msghdr *msg;
	struct via via;
	int i, n, ttl;

	for (i = 0; i < BATCH; i++) {
		msg = &b->msg[i].msg_hdr;
		memset(msg, 0, sizeof(*msg));
		memset(&b->from[i], 0, sizeof(b->from[i]));
		b->iov[i].iov_base = b->buf[i];
		b->iov[i].iov_len = sizeof(b->buf[i]);
		msg->msg_name = &b->from[i].u;
		msg->msg_namelen = sizeof(b->from[i].u);
		msg->msg_iov = &b->iov[i];
		msg->msg_iovlen = 1;
		msg->msg_control = b->cbuf[i].c;
		msg->msg_controllen = sizeof(b->cbuf[i].c);
	}
	if ((n = recvmmsg(m->socks[sock].fd, b->msg, BATCH, MSG_DONTWAIT,
	    NULL)) == -1)
		return errno == EAGAIN || errno == EINTR ||
		    errno == ECONNREFUSED ? 0 : -1;
	for (i = 0; i < n; i++) {
		msg = &b->msg[i].msg_hdr;
		b->from[i].len = msg->msg_namelen;
		memset(&via, 0, sizeof(via));
		via.sock = sock;
		ttl = 0;
		read_cmsgs(msg, &via, &ttl);
		m->st.rx++;
		if (b->msg[i].msg_len > MAX_DGRAM ||
		    (msg->msg_flags & MSG_TRUNC)) {
			m->st.oversized++;
			drop(m, &b->from[i], "oversized");
			continue;
		}
		handle_datagram(m, b->buf[i], b->msg[i].msg_len, &b->from[i],
		    &via, ttl, now);
	}
	return n;
}

/* Re-introduce pairs that have not acknowledged; expire old entries. */
static void
tick(struct mediator *m, int64_t now)
{
	struct entry **rp, *e;
	int i;

	for (rp = &m->rexmit; (e = *rp) != NULL;) {
		if (e->s[0] == NULL || e->s[1] == NULL ||
		    (e->s[0]->acked && e->s[1]->acked))
			e->rexmit_n = REXMIT_TRIES;
		else if (now >= e->rexmit_at) {
			/*
			 * A controlled side that does not answer must not
			 * keep the other from its peer: without READY it
			 * waits 1 s for full-TTL probes (punch.c).
			 */
			if (e->rexmit_n + 1 >= INTRO_CTL_TRIES)
				e->intro_ctl = 1;
			for (i = 0; i < 2; i++)
				if (!e->s[i]->acked &&
				    (i != ctl_slot(e) || e->intro_ctl))
					send_peer(m, e, i);
			e->rexmit_n++;
			e->rexmit_at = now +
			    ((int64_t)REXMIT_FIRST << e->rexmit_n);
		}
		if (e->rexmit_n >= REXMIT_TRIES) {
			*rp = e->rnext;
			e->on_rexmit = 0;
			e->rnext = NULL;
		} else
			rp = &e->rnext;
	}
	for (i = 0; m->rs != NULL && i < m->rs_max; i++)
		if (m->rs[i].id[0] != 0 && now - m->rs[i].last >= REG_TTL * 1000) {
			vlog("relay session idle: closed after %llu bytes",
			    (unsigned long long)m->rs[i].bytes);
			m->rs[i].id[0] = 0;
		}
	while ((e = m->oldest) != NULL &&
	    now - e->touched >= REG_TTL * 1000) {
		m->st.expired++;
		entry_free(m, e);
	}
}

static int
next_timeout(const struct mediator *m, int64_t now)
{
	const struct entry *e;
	int64_t t = 1000;

	for (e = m->rexmit; e != NULL; e = e->rnext)
		if (e->rexmit_at - now < t)
			t = e->rexmit_at - now;
	return t < 0 ? 0 : (int)t;
}

/*
 * One bound socket per address. Only a wildcard socket needs to learn
 * each datagram's destination (to answer from it): a control message
 * per datagram that a socket bound to one address does without.
 */
static int
open_socket(const struct ep *bindto, int wildcard)
{
	int fd, one = 1, save;

	if ((fd = socket(bindto->u.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, IPPROTO_UDP)) == -1)
		return -1;
	if (bindto->u.sa.sa_family == AF_INET6) {
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		    sizeof(one));
		if (wildcard)
			(void)setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO,
			    &one, sizeof(one));
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one,
		    sizeof(one));
	} else {
		if (wildcard)
			(void)setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one,
			    sizeof(one));
		/* The TTL left tells a client how far its NATs are. */
		(void)setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &one,
		    sizeof(one));
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&bindto->u, bindto->len)
	    == -1) {
		save = errno;
		close(fd);
		errno = save;
		return -1;
	}
	return fd;
}

static void
print_stats(const struct mediator *m)
{
	const struct stats *s = &m->st;

	vlog("stats: %lu datagrams, %lu malformed (%lu oversized), "
	    "%lu bad version, %lu cookie(s) handed out, %lu registered, "
	    "%lu introduced, %lu refused, %lu rate-limited, %lu answer(s) "
	    "withheld as larger than the request, %lu expired, %lu STUN "
	    "answer(s), %lu relayed session(s), %lu byte(s) relayed, %lu "
	    "dropped over the relay's caps, %zu names now",
	    s->rx, s->malformed, s->oversized, s->badversion, s->cookies,
	    s->registered, s->introduced, s->refused, s->ratelimited,
	    s->capped, s->expired, s->stun, s->relayed, s->relay_bytes,
	    s->relay_dropped, m->count);
}

static void
tcp_close(struct mediator *m, int k)
{
	close(m->tc[k]->fd);
	free(m->tc[k]);
	m->tc[k] = NULL;
	while (m->tc_end > 0 && m->tc[m->tc_end - 1] == NULL)
		m->tc_end--;
}

/* Accept what is waiting; beyond MAXTCP, new clients are closed. */
static void
tcp_accept(struct mediator *m, int lfd, int64_t now)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, k, i;

	for (i = 0; i < 64; i++) {
		len = sizeof(ss);
		if ((fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1)
			return;
		for (k = 0; k < MAXTCP && m->tc[k] != NULL; k++)
			;
		if (k == MAXTCP || (m->tc[k] = calloc(1,
		    sizeof(*m->tc[k]))) == NULL) {
			m->st.refused++;
			close(fd);
			continue;
		}
		if (k >= m->tc_end)
			m->tc_end = k + 1;
		m->tc[k]->fd = fd;
		m->tc[k]->gen = ++m->gen;
		m->tc[k]->seen = now;
		memcpy(&m->tc[k]->from.u, &ss, len);
		m->tc[k]->from.len = len;
	}
}

/* Read a TCP client; every complete frame is one message. */
static void
tcp_read(struct mediator *m, int k, int64_t now)
{
	struct tconn *c = m->tc[k];
	struct via via;
	ssize_t n;
	size_t flen;

	n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len,
	    MSG_DONTWAIT);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		tcp_close(m, k);
		return;
	}
	if (n == -1)
		return;
	c->len += (size_t)n;
	c->seen = now;
	memset(&via, 0, sizeof(via));
	via.tcp = k + 1;
	via.gen = c->gen;
	while (c->len >= 2) {
		flen = (size_t)c->buf[0] << 8 | c->buf[1];
		if (flen < HDR_LEN || flen > MAX_DGRAM) {
			drop(m, &c->from, "bad TCP frame length");
			tcp_close(m, k);
			return;
		}
		if (c->len < 2 + flen)
			break;
		m->st.rx++;
		handle_datagram(m, c->buf + 2, flen, &c->from, &via, 0, now);
		if (m->tc[k] != c)
			return;
		c->len -= 2 + flen;
		memmove(c->buf, c->buf + 2 + flen, c->len);
	}
}

static int
serve(struct mediator *m)
{
	static struct pollfd pfd[MAXSOCKS + 2 + MAXTCP];
	static int which[MAXTCP];
	int i, n, nt;
	int64_t now;

	while (!stop) {
		now = now_ms();
		tick(m, now);
		flush(m);	/* the last burst's replies, and tick's */
		for (i = 0; i < m->nfds; i++) {
			pfd[i].fd = m->socks[i].fd;
			pfd[i].events = POLLIN;
		}
		for (i = 0; i < m->nlfds; i++) {
			pfd[m->nfds + i].fd = m->lfds[i];
			pfd[m->nfds + i].events = POLLIN;
		}
		n = m->nfds + m->nlfds;
		/* Not all MAXTCP slots at every wakeup: a UDP burst is short. */
		for (i = nt = 0; i < m->tc_end; i++) {
			if (m->tc[i] == NULL)
				continue;
			if (now - m->tc[i]->seen >= REG_TTL * 1000) {
				tcp_close(m, i);	/* silent client */
				continue;
			}
			pfd[n + nt].fd = m->tc[i]->fd;
			pfd[n + nt].events = POLLIN;
			which[nt++] = i;
		}
		if (poll(pfd, (nfds_t)(n + nt), next_timeout(m, now)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		now = now_ms();
		/* A bounded batch per wakeup keeps timers honest. */
		for (i = 0; i < m->nfds; i++)
			if (pfd[i].revents)
				(void)receive(m, i, now);
		for (i = 0; i < nt; i++)
			if (pfd[n + i].revents && m->tc[which[i]] != NULL)
				tcp_read(m, which[i], now);
		for (i = 0; i < m->nlfds; i++)
			if (pfd[m->nfds + i].revents & POLLIN)
				tcp_accept(m, m->lfds[i], now);
	}
	return 0;
}

/* TCP rendezvous on the same address and port. Returns fd or -1. */
static int
tcp_listen(const struct ep *e)
{
	int fd, one = 1;

	if ((fd = socket(e->u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (e->u.sa.sa_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		    sizeof(one));
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&e->u, e->len) == -1 ||
	    listen(fd, 128) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Bind addr (NULL: the wildcard of family) on port and port+1. */
static int
add_sockets(struct mediator *m, const char *addr, int family, int port,
    int addr_idx)
{
	static const struct in6_addr any6 = IN6ADDR_ANY_INIT;
	char pstr[8];
	struct ep e;
	int alt, fd, any;

	for (alt = 0; alt < 2; alt++) {
		snprintf(pstr, sizeof(pstr), "%d", port + alt);
		if (resolve(addr, pstr, family, 1, &e) == -1)
			return -1;
		/* -s 0.0.0.0 or -s :: is the wildcard too. */
		any = e.u.sa.sa_family == AF_INET6 ?
		    memcmp(&e.u.in6.sin6_addr, &any6, sizeof(any6)) == 0 :
		    e.u.in.sin_addr.s_addr == htonl(INADDR_ANY);
		if ((fd = open_socket(&e, any)) == -1) {
			if (alt)	/* the NAT check just knows less */
				return 0;
			return -1;
		}
		m->socks[m->nfds].fd = fd;
		m->socks[m->nfds].addr_idx = addr_idx;
		m->socks[m->nfds].alt_port = alt;
		m->socks[m->nfds].wildcard = any;
		m->socks[m->nfds].bound = e;
		m->nfds++;
		m->has_alt |= alt;
		if (!alt && m->nlfds < 2 &&
		    (fd = tcp_listen(&e)) != -1)
			m->lfds[m->nlfds++] = fd;
	}
	return 0;
}

static int
setup_sockets(struct mediator *m, const char **addrs, int naddrs, int port,
    int family)
{
	int i;

	for (i = 0; i < naddrs; i++)
		if (add_sockets(m, addrs[i], family, port, i) == -1)
			return -1;
	if (naddrs > 0)
		return 0;
	/* Both families on the wildcard; IPv6 may be absent. */
	if (family != AF_UNSPEC)
		return add_sockets(m, NULL, family, port, 0);
	if (add_sockets(m, NULL, AF_INET, port, 0) == -1)
		return -1;
	(void)add_sockets(m, NULL, AF_INET6, port, 0);
	return 0;
}

int
mediate_main(int argc, char **argv)
{
	struct mediator m;
	const char *addrs[2], *port = PNC_PORT;
	int naddrs = 0, rate = RATE_DEFAULT, family = AF_UNSPEC, relay = 0;
	struct sigaction sa;
	int ch, p;
	long v;
	char *end;

	memset(&m, 0, sizeof(m));
	m.max = 65536;
	while ((ch = getopt(argc, argv, "46b:c:hl:n:p:rs:vx:")) != -1) {
		switch (ch) {
		case '4':
			family = AF_INET;
			break;
		case '6':
			family = AF_INET6;
			break;
		case 'h':
			usage_cmd("mediate", 0);
			break;
		case 'l':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || v < 0 || v > 1000000) {
				warnx("bad rate: %s", optarg);
				usage_cmd("mediate", EX_USAGE);
			}
			rate = (int)v;
			break;
		case 'n':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || v < 1 || v > 16 * 1024 * 1024) {
				warnx("bad table size: %s", optarg);
				usage_cmd("mediate", EX_USAGE);
			}
			m.max = (size_t)v;
			break;
		case 'p':
			if (parse_port(optarg, &p) == -1 || p == 0 ||
			    p == 65535) {
				warnx("bad port: %s", optarg);
				usage_cmd("mediate", EX_USAGE);
			}
			port = optarg;
			break;
		case 's':
			if (naddrs == 2) {
				warnx("-s at most twice");
				usage_cmd("mediate", EX_USAGE);
			}
			addrs[naddrs++] = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'r':
			relay = 1;
			break;
		case 'b':
		case 'c':
		case 'x':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || v < (ch == 'c' ? 0 : 1) ||
			    v > (ch == 'x' ? 65536 : LONG_MAX / 2)) {
				warnx("bad -%c: %s", ch, optarg);
				usage_cmd("mediate", EX_USAGE);
			}
			if (ch == 'b')
				m.rs_rate = v;
			else if (ch == 'c')
				m.rs_cap = v;
			else
				m.rs_max = (int)v;
			break;
		default:
			usage_cmd("mediate", EX_USAGE);
		}
	}
	if (optind != argc)
		usage_cmd("mediate", EX_USAGE);

	m.nbuckets = 16;
	if ((m.buckets = calloc(m.nbuckets, sizeof(*m.buckets))) == NULL ||
	    (m.txq = calloc(MAXSOCKS, sizeof(*m.txq))) == NULL ||
	    (m.rxb = calloc(1, sizeof(*m.rxb))) == NULL)
		err(EX_FAIL, "calloc");
	for (p = 0; p < 2; p++) {
		m.cookie_key[p] = random64();
		m.hash_key[p] = random64();
	}
	if (relay) {
		if (m.rs_max == 0)
			m.rs_max = RELAY_MAX;
		if (m.rs_rate == 0)
			m.rs_rate = RELAY_RATE;
		if ((m.rs = calloc((size_t)m.rs_max, sizeof(*m.rs))) == NULL)
			err(EX_FAIL, "calloc");
	}
	if (rate > 0) {
		if ((m.rl = calloc(RL_SLOTS, sizeof(*m.rl))) == NULL)
			err(EX_FAIL, "calloc");
		m.rl_gap = 1000000 / rate;
		m.rl_burst = m.rl_gap * (rate - 1);	/* a second's worth */
	}
	(void)parse_port(port, &p);
	if (setup_sockets(&m, addrs, naddrs, p, family) == -1)
		err(EX_FAIL, "cannot serve on %s port %s",
		    naddrs ? addrs[0] : "*", port);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	vlog("serving on %s%s%s port %s%s, at most %zu names, %d new "
	    "registration(s)/s per address%s", naddrs ? addrs[0] : "*",
	    naddrs == 2 ? " and " : "", naddrs == 2 ? addrs[1] : "", port,
	    m.has_alt ? " (and the next port)" : "", m.max, rate,
	    rate ? "" : " (no limit)");
	if (serve(&m) == -1)
		err(EX_FAIL, "poll");
	print_stats(&m);
	while (m.oldest != NULL)
		entry_free(&m, m.oldest);
	for (p = 0; p < m.nfds; p++)
		close(m.socks[p].fd);
	for (p = 0; p < m.nlfds; p++)
		close(m.lfds[p]);
	for (p = 0; p < MAXTCP; p++)
		if (m.tc[p] != NULL)
			tcp_close(&m, p);
	free(m.buckets);
	free(m.old);
	free(m.rl);
	free(m.rs);
	free(m.txq);
	free(m.rxb);
	return EX_OK;
}

/*
 * For the fuzzer (tests/fuzz.c): one mediator with a small table and no
 * sockets, fed datagrams from a few fake sources on port P or P+1. The
 * replies go to fd -1 and are lost, which is all a fuzzer needs.
 */
int
mediator_fuzz(const unsigned char *buf, size_t len)
{
	struct mediator m;
	struct ep from;
	struct via via;
	struct sockaddr_in *s;
	int64_t now = 1000000;
	size_t i = 0, n;

	memset(&m, 0, sizeof(m));
	m.max = 8;
	m.nbuckets = 2;		/* so that it grows, and moves names */
	m.trust_all = 1;	/* a fuzzer cannot forge cookies: let it in */
	m.rs_max = 2;		/* the relay too, small */
	m.rs_rate = 100000;
	if ((m.buckets = calloc(m.nbuckets, sizeof(*m.buckets))) == NULL ||
	    (m.txq = calloc(MAXSOCKS, sizeof(*m.txq))) == NULL ||
	    (m.rs = calloc((size_t)m.rs_max, sizeof(*m.rs))) == NULL) {
		free(m.buckets);
		free(m.txq);
		return 0;
	}
	m.nfds = 2;
	m.socks[0].fd = m.socks[1].fd = -1;
	m.socks[1].alt_port = m.has_alt = 1;
	m.socks[0].bound.u.sa.sa_family = AF_INET;
	m.socks[1].bound.u.sa.sa_family = AF_INET;
	/* Input: records of ctl(1) src(1) len(1) datagram(len). */
	while (i + 3 <= len) {
		n = buf[i + 2];
		if (n > len - i - 3)
			n = len - i - 3;
		memset(&from, 0, sizeof(from));
		s = &from.u.in;
		s->sin_family = AF_INET;
		s->sin_port = htons(1000 + (buf[i + 1] & 7));
		s->sin_addr.s_addr = htonl(0x0a000000 | (buf[i + 1] >> 3));
		from.len = sizeof(*s);
		memset(&via, 0, sizeof(via));
		via.sock = buf[i] & 1;
		now += (buf[i] >> 1) * 97;
		tick(&m, now);
		handle_datagram(&m, buf + i + 3, n, &from, &via, 60, now);
		flush(&m);
		if (m.count > m.max)
			abort();	/* the table must stay bounded */
		i += 3 + n;
	}
	while (m.oldest != NULL)
		entry_free(&m, m.oldest);
	free(m.buckets);
	free(m.old);
	free(m.txq);
	free(m.rs);
	return 0;
}
