/*
 * punch.c - rendezvous client and UDP hole punching.
 *
 * A punch is a state machine driven by the caller's one poll() loop:
 * punch_next() says when the next timer fires, punch_tick() runs it, and
 * punch_input() takes every datagram that is not session data. All state
 * lives in struct punch; nothing here prints except -v narration.
 *
 * Rounds: register with the mediator until it introduces the peer; then
 * probe every candidate of the peer (public, local, and any address a
 * valid probe arrives from) from the one socket. The controlling side
 * (chosen by the mediator) nominates the first candidate that answered;
 * the controlled side adopts whatever it is nominated on. Either side
 * treats session data arriving on the nominated path as the nomination's
 * answer, so the hand-over to the relay cannot lose a datagram.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pnc.h"

#define PROBE_GAP0	10	/* ms: first re-probe; doubles ... */
#define PROBE_GAPMAX	200	/* ... up to this */
#define REG_GAP0	100
#define REG_GAPMAX	2000	/* until the mediator first answers */
#define PUNCH_LIMIT	10000	/* probe phase bound when -w is not set */

static void
psend(struct punch *p, const struct ep *to, const void *buf, size_t len)
{
	/* UDP: a lost send is a lost datagram; the timers retry. */
	(void)sendto(p->fd, buf, len, 0, (const struct sockaddr *)&to->ss,
	    to->len);
}

static void
send_register(struct punch *p, int type)
{
	unsigned char buf[256];
	struct wr w;
	size_t n = strlen(p->name);
	int i;

	wr_init(&w, buf, sizeof(buf));
	wr_hdr(&w, type, p->id);
	wr_u8(&w, (uint8_t)p->role);
	wr_u8(&w, (uint8_t)n);
	wr_bytes(&w, p->name, n);
	if (type == T_REGISTER) {
		wr_u8(&w, (uint8_t)p->nlocals);
		for (i = 0; i < p->nlocals; i++)
			wr_ep(&w, &p->locals[i]);
	}
	if (!w.bad)
		psend(p, &p->med, buf, w.len);
}

static void
send_probe(struct punch *p, const struct ep *to, int flags)
{
	unsigned char buf[64];
	struct wr w;

	wr_init(&w, buf, sizeof(buf));
	wr_hdr(&w, T_PROBE, p->id);
	wr_u64(&w, p->peer_id);
	wr_u8(&w, (uint8_t)flags);
	wr_u32(&w, p->tx);
	psend(p, to, buf, w.len);
}

static void
send_ack(struct punch *p, const struct ep *to, uint64_t toid, int flags,
    uint32_t tx)
{
	unsigned char buf[64];
	struct wr w;

	wr_init(&w, buf, sizeof(buf));
	wr_hdr(&w, T_ACK, p->id);
	wr_u64(&w, toid);
	wr_u8(&w, (uint8_t)flags);
	wr_u32(&w, tx);
	wr_ep(&w, to);
	psend(p, to, buf, w.len);
}

/* Index of the candidate at e, or -1. */
static int
cand_find(const struct punch *p, const struct ep *e)
{
	int i;

	for (i = 0; i < p->ncands; i++)
		if (ep_equal(&p->cands[i].ep, e))
			return i;
	return -1;
}

/* Add a candidate unless known, ours, or no room. Returns index or -1. */
static int
cand_add(struct punch *p, const struct ep *e, const char *kind)
{
	char a[80];
	int i;

	if ((i = cand_find(p, e)) != -1)
		return i;
	if (p->ncands == MAX_CANDS || e->ss.ss_family != p->med.ss.ss_family)
		return -1;
	for (i = 0; i < p->nlocals; i++)
		if (ep_equal(&p->locals[i], e))
			return -1;	/* our own address: not the peer */
	p->cands[p->ncands].ep = *e;
	p->cands[p->ncands].kind = kind;
	p->cands[p->ncands].acked = 0;
	vlog("peer candidate %s (%s)", ep_str(e, a, sizeof(a)), kind);
	return p->ncands++;
}

/*
 * Open the socket and learn what to announce. Returns 0, or -1 with
 * p->why set.
 */
int
punch_init(struct punch *p)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct ep self;
	char a[80];

	if (parse_hostport(p->medspec, PNC_PORT, &p->med) == -1) {
		snprintf(p->why, sizeof(p->why), "cannot resolve mediator %s",
		    p->medspec);
		return -1;
	}
	if ((p->fd = udp_socket(p->med.ss.ss_family, p->lport)) == -1 ||
	    getsockname(p->fd, (struct sockaddr *)&ss, &len) == -1) {
		snprintf(p->why, sizeof(p->why), "cannot bind UDP port %d: %s",
		    p->lport, strerror(errno));
		return -1;
	}
	memcpy(&self.ss, &ss, len);
	self.len = len;
	p->lport = ep_port(&self);
	/*
	 * A mediator on loopback means both peers are on this host: the
	 * public endpoint is then a loopback one, and probing the host's
	 * other addresses would only send traffic off loopback for nothing.
	 */
	p->nlocals = ep_is_loopback(&p->med) ? 0 :
	    local_addrs(p->med.ss.ss_family, p->lport, p->locals, MAX_LOCALS);
	p->id = random64();
	p->state = P_REGISTER;
	p->start = p->next_tx = now_ms();
	p->txgap = REG_GAP0;
	p->nominated = -1;
	vlog("local port %d, mediator %s, %d local candidate(s)", p->lport,
	    ep_str(&p->med, a, sizeof(a)), p->nlocals);
	return 0;
}

/* Milliseconds until punch_tick() wants to run (0: now). */
int
punch_next(struct punch *p, int64_t now)
{
	int64_t t;

	if (p->state == P_DONE || p->state == P_FAILED)
		return -1;
	t = p->next_tx - now;
	if (p->deadline && p->deadline - now < t)
		t = p->deadline - now;
	return t < 0 ? 0 : (int)(t > 60000 ? 60000 : t);
}

static int
fail(struct punch *p, const char *why)
{
	snprintf(p->why, sizeof(p->why), "%s", why);
	p->state = P_FAILED;
	return -1;
}

static int
timed_out(struct punch *p)
{
	char msg[160], a[80];

	if (p->state == P_REGISTER && p->med_seen == 0)
		snprintf(msg, sizeof(msg), "mediator %s did not answer",
		    ep_str(&p->med, a, sizeof(a)));
	else if (p->state == P_REGISTER)
		snprintf(msg, sizeof(msg), "no peer came for \"%s\"", p->name);
	else if (p->nominated == -1)
		snprintf(msg, sizeof(msg), "no path to the peer: none of its "
		    "%d candidate(s) answered", p->ncands);
	else
		snprintf(msg, sizeof(msg), "the peer stopped answering");
	return fail(p, msg);
}

/* Run the timers. Returns 0, or -1 when the punch has failed. */
int
punch_tick(struct punch *p, int64_t now)
{
	int i;

	if (p->state == P_DONE || p->state == P_FAILED)
		return p->state == P_FAILED ? -1 : 0;
	if (p->deadline && now >= p->deadline)
		return timed_out(p);
	if (now < p->next_tx)
		return 0;
	if (p->state == P_REGISTER) {
		send_register(p, T_REGISTER);
		p->next_tx = now + (p->med_seen ? REG_REFRESH : p->txgap);
		if (p->txgap < REG_GAPMAX)
			p->txgap *= 2;
		if (!p->med_seen && now - p->start >= 5000 && !p->warned)
			p->warned = 1;	/* the caller tells the user */
		return 0;
	}
	p->tx++;
	p->tx_sent = now;
	if (p->nominated != -1)
		send_probe(p, &p->cands[p->nominated].ep, PF_NOMINATE);
	else
		for (i = 0; i < p->ncands; i++)
			send_probe(p, &p->cands[i].ep, 0);
	p->next_tx = now + p->txgap;
	if (p->txgap < PROBE_GAPMAX)
		p->txgap *= 2;
	return 0;
}

/* The path is agreed: remember it and stop the timers. */
static void
done(struct punch *p, const struct ep *path, int64_t now)
{
	char a[80];

	p->peer = *path;
	p->state = P_DONE;
	p->done_at = now;
	vlog("punched through to %s in %lld ms (%s side)",
	    ep_str(path, a, sizeof(a)), (long long)(now - p->start),
	    p->controlling ? "controlling" : "controlled");
}

static void
on_peer(struct punch *p, struct rd *r, int64_t now)
{
	struct ep you, them, loc;
	int flags, n, i;
	uint64_t pid;
	char a[80];

	flags = rd_u8(r);
	pid = rd_u64(r);
	if (rd_ep(r, &you) == -1 || rd_ep(r, &them) == -1)
		return;
	n = rd_u8(r);
	if (r->bad || n > MAX_LOCALS || pid == 0 || pid == p->id)
		return;
	send_register(p, T_PEERACK);
	if (p->state != P_REGISTER)
		return;		/* a retransmitted introduction */
	p->med_seen = now;
	p->self_pub = you;
	p->peer_id = pid;
	p->controlling = flags & PEER_CONTROLLING;
	vlog("mediator introduced the peer after %lld ms; we are seen as %s",
	    (long long)(now - p->start), ep_str(&you, a, sizeof(a)));
	/* Candidates that arrived before (peer-reflexive) stay. */
	cand_add(p, &them, "public");
	for (i = 0; i < n; i++)
		if (rd_ep(r, &loc) == 0)
			cand_add(p, &loc, "local");
	p->state = P_PROBE;
	p->txgap = PROBE_GAP0;
	p->next_tx = now;
	if (p->deadline == 0)		/* listen without -w */
		p->deadline = now + PUNCH_LIMIT;
	punch_tick(p, now);
}

static int
on_mediator(struct punch *p, struct rd *r, int type, int64_t now)
{
	char msg[160], a[80];
	struct ep you;
	const unsigned char *t;
	int n;

	if (type == T_REGISTERED && p->state == P_REGISTER) {
		if (rd_ep(r, &you) == -1)
			return 0;
		if (!p->med_seen)
			vlog("registered \"%s\" with %s as %s; waiting for "
			    "the peer", p->name, ep_str(&p->med, msg, 80),
			    ep_str(&you, a, sizeof(a)));
		if (!p->med_seen)
			p->next_tx = now + REG_REFRESH;
		p->med_seen = now;
		p->self_pub = you;
	} else if (type == T_PEER)
		on_peer(p, r, now);
	else if (type == T_ERROR && p->state == P_REGISTER) {
		(void)rd_u8(r);
		n = rd_u8(r);
		if ((t = rd_bytes(r, (size_t)n)) == NULL)
			return 0;
		for (; n > 0 && (t[n - 1] < ' ' || t[n - 1] > '~'); n--)
			;
		snprintf(msg, sizeof(msg), "mediator refused: %.*s", n,
		    (const char *)t);
		return fail(p, msg);
	}
	return 0;
}

static int
on_probe(struct punch *p, struct rd *r, uint64_t from_id,
    const struct ep *from, int64_t now)
{
	uint64_t toid = rd_u64(r);
	int flags = rd_u8(r);
	uint32_t tx = rd_u32(r);
	int nominate;

	if (r->bad || toid != p->id)
		return 0;
	if (p->peer_id != 0 && from_id != p->peer_id)
		return 0;
	if (p->state == P_PROBE)
		cand_add(p, from, "peer-reflexive");
	/* Only the controlled side takes nominations, once, on one path. */
	nominate = (flags & PF_NOMINATE) && !p->controlling &&
	    p->peer_id != 0 &&
	    (p->state == P_PROBE || (p->state == P_DONE &&
	    ep_equal(from, &p->peer)));
	send_ack(p, from, from_id, nominate ? PF_NOMINATE : 0, tx);
	if (nominate && p->state == P_PROBE) {
		done(p, from, now);
		return 1;
	}
	return 0;
}

static int
on_ack(struct punch *p, struct rd *r, uint64_t from_id,
    const struct ep *from, int64_t now)
{
	uint64_t toid = rd_u64(r);
	int flags = rd_u8(r), i;
	uint32_t tx = rd_u32(r);
	char a[80];

	if (r->bad || toid != p->id || from_id != p->peer_id ||
	    p->state != P_PROBE)
		return 0;
	if ((i = cand_add(p, from, "peer-reflexive")) == -1)
		return 0;
	if (tx == p->tx && p->rtt == 0)
		p->rtt = now - p->tx_sent + 1;
	if (!p->cands[i].acked)
		vlog("candidate %s (%s) answered after %lld ms",
		    ep_str(from, a, sizeof(a)), p->cands[i].kind,
		    (long long)(now - p->start));
	p->cands[i].acked = 1;
	if (!p->controlling)
		return 0;
	if (p->nominated == -1) {
		p->nominated = i;
		p->txgap = PROBE_GAP0;
		p->next_tx = now;
		punch_tick(p, now);
		return 0;
	}
	if (i == p->nominated && (flags & PF_NOMINATE)) {
		done(p, from, now);
		return 1;
	}
	return 0;
}

/*
 * Session data on the nominated path answers our nomination: the
 * controlled side only sends data once it has adopted that path.
 */
int
punch_adopt(struct punch *p, const struct ep *from, uint64_t from_id,
    int64_t now)
{
	if (p->state != P_PROBE || !p->controlling || p->nominated == -1 ||
	    from_id != p->peer_id ||
	    !ep_equal(from, &p->cands[p->nominated].ep))
		return 0;
	done(p, from, now);
	return 1;
}

int
punch_is_mediator(const struct punch *p, const struct ep *from)
{
	return ep_equal(from, &p->med);
}

/*
 * Take one datagram that is not session data on the agreed path.
 * Returns 1 when it completed the punch, 0 otherwise, -1 when the
 * punch has failed (p->why says why). Garbage is ignored.
 */
int
punch_input(struct punch *p, const unsigned char *buf, size_t len,
    const struct ep *from, int64_t now)
{
	struct rd r;
	int version, type;
	uint64_t id;

	rd_init(&r, buf, len);
	if (rd_hdr(&r, &version, &type, &id) == -1 ||
	    version != PROTO_VERSION)
		return 0;
	if (punch_is_mediator(p, from)) {
		if (id != p->id)
			return 0;
		return on_mediator(p, &r, type, now);
	}
	if (type == T_PROBE)
		return on_probe(p, &r, id, from, now);
	if (type == T_ACK)
		return on_ack(p, &r, id, from, now);
	if (type >= T_DATA && type <= T_KEEPALIVE)
		return punch_adopt(p, from, id, now);
	return 0;
}
