/*
 * punch.c - rendezvous and path agreement: UDP hole punching, its TCP
 * variant (-t), and the NAT check.
 *
 * A punch is a state machine driven by the session loop (session.c),
 * which does all the polling: punch_next() says when the next timer
 * fires, punch_tick() runs it, and punch_input() takes every datagram
 * that is not session data; with -t, punch_pollfds() and punch_events()
 * serve its TCP connections. The caller's wishes are a struct punch_cfg,
 * the result is a struct path (the agreed path: socket, peer, ids, -K
 * state); the rest stays in this file's struct punch. Nothing here
 * prints except -v narration.
 *
 * Rounds: register with the mediator until it introduces the peer; then
 * probe every candidate of the peer (public, local, and any address a
 * valid probe arrives from) from the one socket. The controlling side
 * (chosen by the mediator) nominates the first candidate that answered;
 * the controlled side adopts whatever it is nominated on. Either side
 * treats session data arriving on the nominated path as the nomination's
 * answer, so the hand-over to the transport cannot lose a datagram.
 *
 * Two refinements make this work through hard NATs (README "Hard NATs"):
 *
 * - Conntrack clash. A first probe that reaches the far NAT before the
 *   far host has sent anything can make that NAT record an inbound flow
 *   and later map the far host to another port. So probes start with a
 *   small TTL that opens our own NAT but dies before the far one; the
 *   controlling side sends full-TTL probes only once the mediator says the
 *   peer has its introduction (and so is sending its own small-TTL
 *   probes), the controlled side only once it has heard from the peer.
 * - Endpoint-dependent ("symmetric") mapping, detected by the mediator
 *   from the two copies of our REGISTER. The symmetric side opens NSPRAY
 *   sockets and sends a small-TTL probe from each toward the peer, which
 *   opens NSPRAY mappings; the other side sprays probes at random ports of
 *   the symmetric side's address until one lands on such a mapping (the
 *   birthday method).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pnc.h"

#define PROBE_GAP0	10	/* ms: first re-probe; doubles ... */
#define PROBE_GAPMAX	200	/* ... up to this */
#define REG_GAP0	100
#define REG_GAPMAX	2000	/* until the mediator first answers */
#define MED_SPREAD	2	/* mediators a waiting name registers with */
#define FAILOVER_MS	1000	/* ms before the next mediator joins */
#define PUNCH_LIMIT	10000	/* probe phase bound when -w is not set */
#define LOW_TTL_MAX	1000	/* ms of small-TTL probes at most */
#define TTL_FULL	64
#define SPRAY_GAP	5	/* ms between spray bursts ... */
#define SPRAY_BURST	8	/* ... of this many probes: 1600/s */
#define SPRAY_MAX	2048	/* probes in all; P(miss) ~ e^-8 (0.03%) */
#define SPRAY_REOPEN	1000	/* ms between the symmetric side's rounds */
#define BOTH_EPDEP_MS	2000	/* only local candidates can work then */
#define NOMINATE_GAP	20	/* ms between nominations, no backoff */
#define CONFIRM_MS	150	/* the controlled side repeats its "taken" */
#define RELEASE_COPIES	3	/* of the release: 2.7% all lost at 30% */
#define RELAY_AFTER	3000	/* ms of direct probing before the relay */
#define RELAY_GAP	200	/* ms between requests for it */
#define QUIET_MS	5000	/* nothing from the peer this long: stop */
#define PROBE_TOTAL	4096	/* probes a punch sends at most */
#define PMAP_WAIT	250	/* ms the gateway has to grant a mapping */
#define PMAP_GAP0	60	/* ms before the first resend; doubles */
#define PMAP_LIFE	120	/* s a mapping lives unrenewed: a crash's */
#define PMAP_RENEW	30	/* s between renewals: 3 may be lost */
#define UP_GAP0		250	/* ms: a relayed session's first path
				   checks; doubles ... */
#define UP_GAPMAX	2000	/* ... up to this, for the session's life */

#define DUAL_WAIT	50	/* ms the registration waits for the other
				   family's answer, after the first answer */
#define HE_DELAY	50	/* ms IPv6 may answer after IPv4 and win */

/* Both families at once (dual_*): what IPv6 and IPv4 together add. */
struct dual {
	int		 on;		/* one socket (udp_dual) for both */
	struct ep	 addr[MAX_MEDS][2];	/* mediator k's IPv4, IPv6
						   address, port P; len 0:
						   none */
	int		 picked[MAX_MEDS];	/* k's family is decided */
	unsigned char	 cookie[MAX_MEDS][COOKIE_LEN];	/* from the other */
	struct ep	 pub[2];	/* we, as seen over IPv4, IPv6 */
	int		 known[2];	/* ... told (or not to be had) */
	int64_t		 first;		/* ms: the first mediator answer */
	int		 held;		/* a REGISTER waits for both */
	int		 decided;	/* DUAL_WAIT is over */
	int64_t		 he_at;		/* ms: nominate an IPv4 path then */
};

/* Port mapping (RFC 6886, RFC 6887), asked of the default gateway. */
enum { PM_OFF, PM_ASK, PM_GOT, PM_GONE };

struct pmap {
	int		 state;		/* PM_* */
	int		 proto;		/* PMAP_PCP, PMAP_NATPMP: granted by */
	int		 heard;		/* the gateway answered something */
	int		 pcp_no;	/* PCP refused, or not spoken */
	int		 natpmp_no;	/* ... NAT-PMP */
	int		 natpmp_addr;	/* NAT-PMP gave its external address */
	int		 natpmp_asked;	/* ... and we asked it to map */
	int		 held;		/* a REGISTER waits for the mapping */
	int		 ack_held;	/* ... or a PEERACK, to mediator ack_k */
	int		 ack_k, ack_flags;
	int		 epdep_wait;	/* the relay waits for the answer */
	int		 iport;		/* our port, as mapped */
	struct ep	 gw;		/* the gateway, port 5351 */
	struct ep	 self;		/* our address toward it: PCP's */
	struct ep	 ext;		/* the mapping, once granted */
	unsigned char	 nonce[PCP_NONCE_LEN];
	int64_t		 start, next, renew_at;
	int64_t		 addr_at;	/* when NAT-PMP gave its address */
	int		 gap;
};

struct cand {
	struct ep	 ep;
	const char	*kind;		/* "public", "local", "peer-reflexive" */
	int		 sock;		/* -1: main socket, else spray index */
	int		 acked;		/* a probe to it was answered */
};

/* -t: a connection toward a candidate, or one accepted. */
struct tcand {
	int		 fd;		/* -1: idle */
	int		 cand;		/* candidate index, -1 if accepted */
	int		 up;		/* established, HELLO sent */
	int		 verified;	/* the peer's HELLO checked */
	int64_t		 since, retry_at, gap;
	size_t		 rlen;
	unsigned char	 rb[HDR_LEN + 8];
	struct ep	 from;		/* of an accepted connection */
};

/* -t: the connection to mediator k (meds[k]), once it has joined. */
struct tmed {
	int		 fd, up;
	int64_t		 retry, gap, refresh;
	size_t		 len;
	unsigned char	 buf[2 + MAX_DGRAM];
};

/* -t: the rendezvous over TCP and the simultaneous open. */
struct tpunch {
	struct punch	*p;
	int		 lfd;		/* the listener */
	struct tmed	 m[MAX_MEDS];	/* m[0..p->nactive) in use */
	struct tcand	 c[MAX_TCONNS];
	int		 chosen;	/* index into c, -1 */
	unsigned	 syns, refused;
	int		 map[1 + MAX_MEDS + MAX_TCONNS];	/* pollfd i:
				   -1 listener, -2 - k mediator k, else c[] */
};

/* What the punch keeps: the caller's config, the result, the rest. */
struct punch {
	struct punch_cfg cfg;		/* as the caller asked */
	struct path	 path;		/* the result, as it is agreed */
	int64_t		 deadline;	/* cfg's; the mediator may shorten it */
	struct ep	 med, med_alt;	/* the first mediator's P and P+1 */
	struct ep	 meds[MAX_MEDS][2];	/* every mediator's P and P+1 */
	unsigned char	 cookies[MAX_MEDS][2][COOKIE_LEN];
	int		 med_dead[MAX_MEDS];	/* it refused us */
	int		 med_heard[MAX_MEDS];	/* it answered */
	int		 med_reg[MAX_MEDS];	/* it holds our registration */
	int64_t		 med_refresh[MAX_MEDS];	/* when to refresh it */
	int64_t		 med_since[MAX_MEDS];	/* it joined meds_widen */
	int		 nactive;	/* meds[0..nactive): registered with */
	int64_t		 widen_at;	/* the next may join then */
	struct ep	 self_pub;	/* as the mediator sees us */
	struct ep	 locals[MAX_LOCALS];
	int		 nlocals;
	enum pstate	 state;
	int64_t		 start, next_tx, txgap, peer_at;
	int64_t		 med_seen;	/* last datagram from the mediator */
	int		 warned;	/* 1: tell the user, 2: told */
	int		 rate_limited;	/* the mediator said: later */
	int		 med_from;	/* the mediator that introduced the peer */
	int		 relay_offer;	/* it would relay */
	int		 relay_state;	/* 0 no, 1 asked, 2 granted, -1 refused */
	int64_t		 relay_at;	/* when to ask, if no direct path */
	int		 peer_flags;	/* of the last T_PEER, echoed */
	int		 peer_ready;	/* the peer has its introduction */
	int		 heard_peer;	/* a valid probe or ack came */
	int		 released;	/* controlled, done: the peer has our
					   "taken" (PF_RELEASE) */
	int		 ttl_low, ttl_cur;
	int		 epdep_self, epdep_peer;
	struct cand	 cands[MAX_CANDS];
	int		 ncands;
	int		 nominated;	/* index into cands, -1 */
	uint32_t	 tx;		/* the probe round */
	int64_t		 tx_sent;	/* when round tx was sent */
	uint64_t	 tx_key[2];	/* keys each probe's tx to its target */
	int		 rounds;
	unsigned	 probes_rx;
	/* birthday method */
	int		 spray[NSPRAY];	/* our sockets, if we are EPDEP */
	int		 nspray;
	int64_t		 spray_next;
	unsigned	 sprayed;	/* probes to random ports of the peer */
	unsigned	 probes_tx;	/* every probe sent, to the peer or not */
	int		 quiet;		/* stopped: nothing came for QUIET_MS */
	int		 peer_mapped;	/* the peer announced a port mapping */
	struct pmap	 pm;		/* ours */
	struct dual	 dual;		/* IPv4 and IPv6 at once */
	unsigned char	 sprayed_to[65536 / 8];	/* bit n: sent to port n */
	int64_t		 done_at;
	/* relay, then direct: a relayed session checks the direct
	   candidates with sealed records (the session seals them) */
	int		 upgrading;	/* relayed, no direct path yet */
	int64_t		 up_next, up_gap;
	uint64_t	 up_nonce[MAX_CANDS];	/* each candidate's check */
	struct ep	 relay_ep;	/* the relay we began on (len 0: none):
					   what is in flight there still counts */
	struct tpunch	*tp;		/* -t */
	char		 why[256];	/* reason for P_FAILED */
};

static void	pmap_start(struct punch *, int64_t);
static int	pmap_hold(struct punch *, int64_t);
static int	pmap_input(struct punch *, const unsigned char *, size_t,
		    const struct ep *, int64_t);
static void	pmap_tick(struct punch *, int64_t);
static int64_t	pmap_next(const struct punch *, int64_t);
static void	register_all(struct punch *, int64_t);
static void	both_epdep(struct punch *, int64_t);
static int	mapped(const struct punch *);
static int	has_cookie(const struct punch *, int, int);
static void	main_ttl(struct punch *, int);
static const char *local_kind(const struct punch *, const struct intro *,
		    int);
static int	fam(const struct ep *);
static int	dual_resolve(struct punch *);
static int	dual_locals(struct punch *);
static int	reg_locals(const struct punch *, int, struct ep *);
static void	dual_ask(struct punch *, int);
static int	dual_hold(struct punch *, int, int64_t);
static void	dual_learn(struct punch *, const struct ep *, int64_t);
static int	dual_input(struct punch *, struct rd *, int, uint64_t,
		    const struct ep *, int64_t);
static void	dual_tick(struct punch *, int64_t);
static int64_t	dual_next(const struct punch *, int64_t);
static int	he_wait(struct punch *, int, int64_t);
static void	he_tick(struct punch *, int64_t);
static void	dual_merge(struct punch *, const struct intro *, int, int64_t);

static int
sock_fd(const struct punch *p, int sock)
{
	return sock < 0 ? p->path.fd : p->spray[sock];
}

/* Index of the mediator at e (port P), or -1. */
static int
med_index(const struct punch *p, const struct ep *e)
{
	int k;

	for (k = 0; k < p->cfg.nmeds; k++)
		if (ep_equal(e, &p->meds[k][0]))
			return k;
	return -1;
}

/*
 * Send a peer message. To a mediator it is the relay path (README
 * "Relay"): wrapped in T_RELAY, with the full TTL whatever the probes
 * use. Returns what sendto() did.
 */
static ssize_t
peer_sendto(struct punch *p, int sock, const struct ep *to, const void *buf,
    size_t len)
{
	unsigned char w[HDR_LEN + MAX_DGRAM];
	struct wr wr;
	ssize_t n;
	int ttl = p->ttl_cur;

	if (sock >= 0 || med_index(p, to) == -1)
		return sendto(sock_fd(p, sock), buf, len, 0,
		    (const struct sockaddr *)&to->u, to->len);
	if (len > MAX_DGRAM)
		return -1;
	wr_init(&wr, w, sizeof(w));
	wr_hdr(&wr, T_RELAY, p->path.id);
	wr_bytes(&wr, buf, len);
	main_ttl(p, TTL_FULL);
	n = sendto(p->path.fd, w, wr.len, 0, (const struct sockaddr *)&to->u,
	    to->len);
	if (ttl)
		main_ttl(p, ttl);
	return n;
}

static void
psend(struct punch *p, int sock, const struct ep *to, const void *buf,
    size_t len)
{
	/* UDP: a lost send is a lost datagram; the timers retry. */
	(void)peer_sendto(p, sock, to, buf, len);
}

/* A session datagram to the agreed peer, direct or relayed. */
ssize_t
punch_send(struct punch *p, const void *buf, size_t len)
{
	return peer_sendto(p, -1, &p->path.peer, buf, len);
}

/*
 * A relayed datagram from a mediator, sent by our peer: point past the
 * wrapping. Returns 1 if it was one (buf and len changed), else 0.
 */
int
punch_unwrap(const struct punch *p, const unsigned char **buf, size_t *len,
    const struct ep *from)
{
	const unsigned char *b = *buf;

	if (*len < 2 * HDR_LEN || b[0] != MAGIC0 || b[1] != MAGIC1 ||
	    b[2] != PROTO_VERSION || b[3] != T_RELAY || p->path.peer_id == 0 ||
	    med_index(p, from) == -1)
		return 0;
	/* The outer id is the sender's, as the mediator checked it. */
	if (memcmp(b + 4, b + HDR_LEN + 4, 8) != 0)
		return 0;
	*buf = b + HDR_LEN;
	*len -= HDR_LEN;
	return 1;
}

/* Set the main socket's TTL, remembering it to save system calls. */
static void
main_ttl(struct punch *p, int ttl)
{
	if (p->ttl_cur != ttl && set_ttl(p->path.fd, p->dual.on ? AF_UNSPEC :
	    p->med.u.sa.sa_family, ttl) == 0)
		p->ttl_cur = ttl;
}

static int
has_cookie(const struct punch *p, int k, int alt)
{
	static const unsigned char zero[COOKIE_LEN];

	return memcmp(p->cookies[k][alt], zero, COOKIE_LEN) != 0;
}

/*
 * REGISTER (with our local candidates and the cookie of mediator k's
 * port alt), or PEERACK and RELAYREQ (with flags), into w.
 */
static void
reg_build(const struct punch *p, int type, int k, int alt, int flags,
    struct wr *w)
{
	struct ep locals[MAX_LOCALS];

	/* P's cookie is good at P+1 unless our NAT maps anew. */
	wr_register(w, type, p->path.id, p->cfg.role, p->cfg.name, locals,
	    reg_locals(p, k, locals), p->cookies[k][alt && has_cookie(p, k, 1)],
	    flags);
}

/* To mediator k's port P (alt 0) or P+1 (alt 1). */
static void
send_register_to(struct punch *p, int type, int k, int alt, int flags)
{
	unsigned char buf[256];
	struct wr w;

	wr_init(&w, buf, sizeof(buf));
	reg_build(p, type, k, alt, flags, &w);
	if (w.bad)
		return;
	main_ttl(p, TTL_FULL);
	/* Not psend(): to a mediator that would be the relay. */
	(void)sendto(p->path.fd, buf, w.len, 0,
	    (const struct sockaddr *)&p->meds[k][alt].u, p->meds[k][alt].len);
}

/*
 * The copy to P+1 lets the mediator compare our two mappings. It goes
 * once P has given us a cookie: until then it would only fetch another.
 */
static void
send_register(struct punch *p, int k, int64_t now)
{
	dual_ask(p, k);
	if (has_cookie(p, k, 0) && (pmap_hold(p, now) || dual_hold(p, k, now)))
		return;		/* the mapping comes first: pmap_granted */
	send_register_to(p, T_REGISTER, k, 0, 0);
	if (has_cookie(p, k, 0))
		send_register_to(p, T_REGISTER, k, 1, 0);
}

/* To every mediator we register with that has not refused us. */
static void
register_all(struct punch *p, int64_t now)
{
	int k;

	for (k = 0; k < p->nactive; k++)
		if (!p->med_dead[k]) {
			send_register(p, k, now);
			p->med_refresh[k] = now + REG_REFRESH;
		}
}

/*
 * The timer's: to a mediator that holds our registration when its
 * refresh is due, to the others each time (backing off: meds_pending).
 */
static void
register_due(struct punch *p, int64_t now)
{
	int k;

	for (k = 0; k < p->nactive; k++)
		if (!p->med_dead[k] && (!p->med_reg[k] ||
		    now >= p->med_refresh[k])) {
			send_register(p, k, now);
			p->med_refresh[k] = now + REG_REFRESH;
		}
}

/* When the next refresh is due, all of them holding our registration. */
static int64_t
refresh_next(const struct punch *p, int64_t now)
{
	int64_t t = now + REG_REFRESH;
	int k;

	for (k = 0; k < p->nactive; k++)
		if (!p->med_dead[k] && p->med_refresh[k] < t)
			t = p->med_refresh[k];
	return t;
}

/*
 * Mediators we register with that do not hold our registration yet: a
 * late joiner whose first REGISTER was lost is retried in REG_GAP0 to
 * REG_GAPMAX, not at the others' refresh 10 s on.
 */
static int
meds_pending(const struct punch *p)
{
	int k, n = 0;

	for (k = 0; k < p->nactive; k++)
		n += !p->med_dead[k] && !p->med_reg[k];
	return n;
}

/* Mediators that hold (or may yet hold) our registration. */
static int
meds_good(const struct punch *p, int64_t now)
{
	int k, n = 0;

	for (k = 0; k < p->nactive; k++)
		n += !p->med_dead[k] && (p->med_heard[k] ||
		    now - p->med_since[k] < FAILOVER_MS);
	return n;
}

/*
 * Mediators join in weight order (meds_rank): the first at once; the
 * next one each FAILOVER_MS while fewer than MED_SPREAD answer without
 * having refused us, at once when none may. So a pair that meets within
 * FAILOVER_MS costs one mediator; a waiting name lives on two; and a
 * mediator that is down or refuses is passed over. Returns 1 when one
 * joined.
 */
static int
meds_widen(struct punch *p, int64_t now)
{
	int good, k = p->nactive;

	if (k == p->cfg.nmeds || p->state != P_REGISTER)
		return 0;
	good = meds_good(p, now);
	if (k > 0 && (good >= MED_SPREAD || (good > 0 && now < p->widen_at)))
		return 0;
	p->med_since[k] = now;
	p->widen_at = now + FAILOVER_MS;
	p->nactive++;
	if (k > 0)
		vlog("%s: registering with mediator %d, %s, too", good ?
		    "no peer yet" : "no answer from the others", k + 1,
		    p->cfg.medspecs[k]);
	return 1;
}

/* PROBE or ACK (with seen) to a peer. */
static void
send_check(struct punch *p, int sock, const struct ep *to, int type,
    uint64_t toid, int flags, uint32_t tx)
{
	unsigned char buf[64];
	struct probe pr;
	struct wr w;

	/*
	 * The mediator chooses whom we probe: whatever it says, a punch
	 * sends at most PROBE_TOTAL probes (ACKs answer what came).
	 */
	if (type == T_PROBE && med_index(p, to) == -1 &&
	    p->probes_tx++ >= PROBE_TOTAL)
		return;
	pr.toid = toid;
	pr.flags = flags | (p->cfg.reliable ? PF_RELIABLE : 0);
	pr.tx = tx;
	pr.seen = *to;
	wr_init(&w, buf, sizeof(buf));
	wr_probe(&w, type, p->path.id, &pr);
	if (!w.bad)
		psend(p, sock, to, buf, w.len);
}

/*
 * The tx of round in a probe through sock to to: the round in the low
 * byte, above it 24 bits of a keyed hash of (round, sock, to). An ACK
 * echoes it, so it shows where its PROBE went: a copy of the peer's ACK
 * re-sent from a third address does not check that address. Derived,
 * not stored, so that the birthday spray keeps no state per port.
 */
static uint32_t
probe_tx(const struct punch *p, uint32_t round, int sock, const struct ep *to)
{
	unsigned char buf[32];
	struct wr w;

	wr_init(&w, buf, sizeof(buf));
	wr_u32(&w, round);
	wr_u8(&w, (uint8_t)(sock + 1));
	wr_ep(&w, to);
	return ((uint32_t)siphash24(p->tx_key, buf, w.len) & ~0xffu) |
	    (round & 0xff);
}

/*
 * The round whose probe through sock to from an ACK's tx echoes (the
 * latest of the last 256 with its low byte), or -1: not a tx of ours.
 */
static int64_t
acked_round(const struct punch *p, uint32_t tx, int sock, const struct ep *from)
{
	uint32_t round = p->tx - ((p->tx - tx) & 0xff);

	return probe_tx(p, round, sock, from) == tx ? (int64_t)round : -1;
}

static void
send_probe(struct punch *p, int sock, const struct ep *to, int flags)
{
	send_check(p, sock, to, T_PROBE, p->path.peer_id, flags,
	    probe_tx(p, p->tx, sock, to));
}

static void
send_ack(struct punch *p, int sock, const struct ep *to, uint64_t toid,
    int flags, uint32_t tx)
{
	send_check(p, sock, to, T_ACK, toid, flags, tx);
}

/* Index of the candidate at e reached through sock, or -1. */
static int
cand_find(const struct punch *p, const struct ep *e, int sock)
{
	int i;

	for (i = 0; i < p->ncands; i++)
		if (ep_equal(&p->cands[i].ep, e) && p->cands[i].sock == sock)
			return i;
	return -1;
}

/*
 * May we send to e at all? Not to a special-purpose address that no
 * peer can be at (RFC 6890): unspecified, "this network", broadcast,
 * multicast, reserved, link-local, IPv4-mapped, discard-only, IETF
 * protocol assignments; not to loopback unless the mediator is there
 * too (both peers on this host); never to port 0. Private, carrier
 * (100.64/10) and documentation ranges stay: peers are there.
 */
static int
ep_probeable(const struct ep *e, const struct ep *med)
{
	if (ep_port(e) == 0)
		return 0;
	if (ep_is_loopback(e))
		return ep_is_loopback(med);
	if (e->u.sa.sa_family == AF_INET) {
		uint32_t a = ntohl(e->u.in.sin_addr.s_addr);

		return (a >> 24) != 0 &&		/* 0/8 */
		    (a >> 28) < 14 &&			/* 224/4, 240/4 */
		    (a >> 16) != 0xa9fe &&		/* 169.254/16 */
		    (a >> 8) != 0xc00000;		/* 192.0.0/24 */
	}
	if (e->u.sa.sa_family == AF_INET6) {
		const unsigned char *b = e->u.in6.sin6_addr.s6_addr;
		static const unsigned char zero[12], discard[8] = { 0x01 },
		    mapped[12] = { [10] = 0xff, [11] = 0xff };

		return b[0] != 0xff &&			/* ff00::/8 */
		    !(b[0] == 0xfe && (b[1] & 0xc0) == 0x80) &&	/* fe80::/10 */
		    memcmp(b, zero, 12) != 0 &&		/* ::/96 */
		    memcmp(b, mapped, 12) != 0 &&	/* ::ffff:0:0/96 */
		    memcmp(b, discard, 8) != 0 &&	/* 100::/64 */
		    !(b[0] == 0x20 && b[1] == 0x01 && b[2] < 0x02);
							/* 2001::/23 */
	}
	return 0;
}

/*
 * Add a candidate unless known, ours, unprobeable, or no room. Returns
 * its index, or -1.
 */
static int
cand_add(struct punch *p, const struct ep *e, int sock, const char *kind)
{
	char a[80];
	int i;

	if ((i = cand_find(p, e, sock)) != -1)
		return i;
	if (p->ncands == MAX_CANDS || (e->u.sa.sa_family !=
	    p->med.u.sa.sa_family && !p->dual.on))
		return -1;
	if (!ep_probeable(e, &p->med)) {
		vlog("not a candidate: %s (a special-purpose address)",
		    ep_str(e, a, sizeof(a)));
		return -1;
	}
	for (i = 0; i < p->nlocals; i++)
		if (ep_equal(&p->locals[i], e))
			return -1;	/* our own address: not the peer */
	p->cands[p->ncands].ep = *e;
	p->cands[p->ncands].kind = med_index(p, e) != -1 ? "relay" : kind;
	p->cands[p->ncands].sock = sock;
	p->cands[p->ncands].acked = 0;
	vlog("peer candidate %s (%s%s)", ep_str(e, a, sizeof(a)),
	    p->cands[p->ncands].kind,
	    sock >= 0 ? ", via a birthday socket" : "");
	return p->ncands++;
}

/*
 * Rendezvous (highest random weight) hashing: mediator e's weight for a
 * name is SipHash-2-4 under the all-zero key of e in wire form (port P)
 * followed by the name. The resolved address, not what the user typed,
 * so that both peers rank a list alike however they wrote it.
 */
static uint64_t
med_weight(const struct ep *e, const char *name)
{
	static const uint64_t zero[2];
	unsigned char buf[32 + NAME_MAX_LEN];
	struct wr w;

	wr_init(&w, buf, sizeof(buf));
	wr_ep(&w, e);
	wr_bytes(&w, name, strlen(name));
	return siphash24(zero, buf, w.len);
}

/* Does mediator a rank above b for name (ties: by their wire bytes)? */
static int
med_above(const struct ep *a, const struct ep *b, const char *name)
{
	uint64_t wa = med_weight(a, name), wb = med_weight(b, name);
	unsigned char ba[32] = { 0 }, bb[32] = { 0 };
	struct wr w1, w2;

	if (wa != wb)
		return wa > wb;
	wr_init(&w1, ba, sizeof(ba));
	wr_init(&w2, bb, sizeof(bb));
	wr_ep(&w1, a);
	wr_ep(&w2, b);
	return memcmp(ba, bb, sizeof(ba)) < 0;
}

/*
 * Order the mediators by their weight for our name, highest first: the
 * order they join in (meds_widen). The same for both peers whatever the
 * order of their lists. Not for the NAT check, which has no name.
 */
static void
meds_rank(struct punch *p)
{
	struct ep key[MAX_MEDS], e[2], kk, da[2];
	struct dual *d = &p->dual;
	const char *spec;
	char a[80];
	int i, j, pk;

	if (p->cfg.name == NULL || p->cfg.natstun)
		return;
	for (i = 0; i < p->cfg.nmeds; i++)	/* IPv4 first: both agree */
		key[i] = !d->on ? p->meds[i][0] : d->addr[i][0].len ?
		    d->addr[i][0] : d->addr[i][1];
	for (i = 1; i < p->cfg.nmeds; i++) {
		kk = key[i];
		e[0] = p->meds[i][0];
		e[1] = p->meds[i][1];
		spec = p->cfg.medspecs[i];
		da[0] = d->addr[i][0];
		da[1] = d->addr[i][1];
		pk = d->picked[i];
		for (j = i; j > 0 && med_above(&kk, &key[j - 1],
		    p->cfg.name); j--) {
			key[j] = key[j - 1];
			p->meds[j][0] = p->meds[j - 1][0];
			p->meds[j][1] = p->meds[j - 1][1];
			p->cfg.medspecs[j] = p->cfg.medspecs[j - 1];
			d->addr[j][0] = d->addr[j - 1][0];
			d->addr[j][1] = d->addr[j - 1][1];
			d->picked[j] = d->picked[j - 1];
		}
		key[j] = kk;
		p->meds[j][0] = e[0];
		p->meds[j][1] = e[1];
		p->cfg.medspecs[j] = spec;
		d->addr[j][0] = da[0];
		d->addr[j][1] = da[1];
		d->picked[j] = pk;
	}
	for (i = 0; i < p->cfg.nmeds && p->cfg.nmeds > 1; i++)
		vlog("mediator %d for \"%s\": %s (%s)", i + 1, p->cfg.label,
		    ep_str(&p->meds[i][0], a, sizeof(a)), p->cfg.medspecs[i]);
}

/* Resolve every mediator, each at its port P and P+1. 0, or -1 (why). */
static int
resolve_meds(struct punch *p)
{
	int k;

	if (dual_resolve(p)) {
		meds_rank(p);
		p->med = p->meds[0][0];
		p->med_alt = p->meds[0][1];
		return 0;
	}
	for (k = 0; k < p->cfg.nmeds; k++) {
		/* One socket: every mediator in the first one's family. */
		if (parse_hostport(p->cfg.medspecs[k], PNC_PORT, k ?
		    p->meds[0][0].u.sa.sa_family : p->cfg.family,
		    &p->meds[k][0]) == -1) {
			snprintf(p->why, sizeof(p->why), "cannot resolve "
			    "mediator %s%s", p->cfg.medspecs[k], k ? " in the "
			    "address family of the first" : "");
			return -1;
		}
		p->meds[k][1] = p->meds[k][0];
		ep_set_port(&p->meds[k][1], (ep_port(&p->meds[k][0]) + 1) &
		    0xffff);
	}
	meds_rank(p);
	p->med = p->meds[0][0];
	p->med_alt = p->meds[0][1];
	return 0;
}

/*
 * A punch as cfg asks, from now on, its mediators resolved; no socket
 * yet (punch_open). NULL when out of memory; a mediator that does not
 * resolve leaves it P_FAILED, punch_why() saying so.
 */
struct punch *
punch_new(const struct punch_cfg *cfg, int64_t now)
{
	struct punch *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->cfg = *cfg;
	p->path.fd = -1;
	p->path.lport = cfg->lport;
	p->path.id = cfg->id ? cfg->id : random64();
	p->tx_key[0] = random64();
	p->tx_key[1] = random64();
	p->deadline = cfg->deadline;
	p->state = P_REGISTER;
	p->start = p->next_tx = now;
	p->txgap = REG_GAP0;
	p->nominated = -1;
	p->ttl_low = 2;
	if (resolve_meds(p) == -1)
		p->state = P_FAILED;
	meds_widen(p, now);
	return p;
}

static int	tpunch_start(struct punch *);

/*
 * Open the socket and learn what to announce; with -t, the TCP listener
 * on the same port. Returns 0, or -1 with p->why set.
 */
int
punch_open(struct punch *p)
{
	struct ep self;
	char a[80];

	if (p->state == P_FAILED)
		return -1;
	self.len = sizeof(self.u);
	if (p->dual.on && (p->path.fd = udp_dual(p->path.lport)) == -1)
		p->dual.on = 0;		/* no IPv6 here: IPv4 (meds[k]) */
	if ((!p->dual.on && (p->path.fd = udp_socket(p->med.u.sa.sa_family,
	    p->path.lport)) == -1) ||
	    getsockname(p->path.fd, &self.u.sa, &self.len) == -1) {
		snprintf(p->why, sizeof(p->why), "cannot bind UDP port %d: %s",
		    p->path.lport, strerror(errno));
		return -1;
	}
	p->path.lport = ep_port(&self);
	/*
	 * A mediator on loopback means both peers are on this host: the
	 * public endpoint is then a loopback one, and probing the host's
	 * other addresses would only send traffic off loopback for nothing.
	 */
	p->nlocals = ep_is_loopback(&p->med) ? 0 : p->dual.on ? dual_locals(p) :
	    local_addrs(p->med.u.sa.sa_family, p->path.lport, p->locals,
	    MAX_LOCALS);
	vlog("local port %d%s, mediator %s%s, %d local candidate(s)",
	    p->path.lport, p->dual.on ? " (IPv4 and IPv6)" : "",
	    ep_str(&p->med, a, sizeof(a)),
	    p->cfg.nmeds > 1 ? " and others" : "", p->nlocals);
	if (!p->cfg.tcp)
		pmap_start(p, p->start);
	return p->cfg.tcp ? tpunch_start(p) : 0;
}

int
punch_state(const struct punch *p)
{
	return p->state;
}

/* The agreed path (its fd is the punch's socket until then). */
struct path *
punch_path(struct punch *p)
{
	return &p->path;
}

/* Why the punch failed. */
const char *
punch_why(const struct punch *p)
{
	return p->why;
}

/* 1, once, when the mediator has been silent long enough to say so. */
int
punch_stalled(struct punch *p)
{
	if (p->warned != 1)
		return 0;
	p->warned = 2;
	return 1;
}

/*
 * pnc punch, controlling, done: the controlled side's handshake ACK
 * came (so did its "taken"), so it need not linger to answer a FINISH
 * of ours again. Tell it, a few copies at once (each one lost alone at
 * random; if all are, it lingers as it would have). We exit right
 * after: nothing to wait for. The release is not authenticated: a
 * forged one can only end a linger after the result was printed.
 */
void
punch_release(struct punch *p)
{
	int i;

	if (p->cfg.tcp || p->state != P_DONE || !p->path.controlling)
		return;
	main_ttl(p, TTL_FULL);
	for (i = 0; i < RELEASE_COPIES; i++)
		send_probe(p, -1, &p->path.peer, PF_RELEASE);
}

/* The controlled side was released: its linger may end. */
int
punch_released(const struct punch *p)
{
	return p->released;
}

/* Close every socket but the one the session goes on with. */
static void
punch_close(struct punch *p)
{
	int i;

	for (i = 0; i < p->nspray; i++)
		if (p->spray[i] != -1 && p->spray[i] != p->path.fd)
			close(p->spray[i]);
	p->nspray = 0;
}

static int	tpunch_timeout(const struct tpunch *, int64_t);
static int	tpunch_tick(struct tpunch *, int64_t);

/* Milliseconds until punch_tick() wants to run (0: now; -1: never). */
int
punch_next(struct punch *p, int64_t now)
{
	int64_t t, m;

	if (p->cfg.tcp)
		return p->state == P_PROBE || p->state == P_REGISTER ?
		    tpunch_timeout(p->tp, now) : -1;

	m = pmap_next(p, now);
	if ((t = dual_next(p, now)) >= 0 && (m < 0 || t < m))
		m = t;
	if (p->state == P_DONE && !p->path.controlling && !p->released &&
	    now < p->done_at + CONFIRM_MS && (m < 0 || p->next_tx - now < m))
		m = p->next_tx > now ? p->next_tx - now : 0;
	if (p->state == P_DONE || p->state == P_FAILED)
		return m < 0 ? -1 : (int)(m > 60000 ? 60000 : m);
	t = p->next_tx - now;
	if (m >= 0 && m < t)
		t = m;
	if (p->state == P_PROBE && p->epdep_peer && !p->epdep_self &&
	    p->sprayed < SPRAY_MAX && p->spray_next - now < t)
		t = p->spray_next - now;
	if (p->nspray && p->spray_next - now < t)
		t = p->spray_next - now;
	if (p->deadline && p->deadline - now < t)
		t = p->deadline - now;
	if (p->state == P_PROBE && !p->heard_peer &&
	    p->peer_at + QUIET_MS - now < t)
		t = p->peer_at + QUIET_MS - now;
	if (p->state == P_REGISTER && p->nactive < p->cfg.nmeds &&
	    p->widen_at - now < t)
		t = p->widen_at - now;
	if (p->state == P_PROBE && p->relay_offer && (p->relay_state == 0 ||
	    p->relay_state == 1) && p->relay_at - now < t)
		t = p->relay_at - now;
	return t < 0 ? 0 : (int)(t > 60000 ? 60000 : t);
}

static int
fail(struct punch *p, const char *why)
{
	snprintf(p->why, sizeof(p->why), "%s", why);
	p->state = P_FAILED;
	punch_unmap(p);
	punch_close(p);
	return -1;
}

/* Why the probing found no path, in one sentence. */
static void
explain(struct punch *p, char *msg, size_t len)
{
	char a[80];
	int i;

	for (i = 0; i < p->ncands; i++)
		vlog("  candidate %s (%s): %s", ep_str(&p->cands[i].ep, a,
		    sizeof(a)), p->cands[i].kind, p->cands[i].acked ?
		    "answered" : "no answer");
	vlog("  %d probe round(s), %u probe(s) received from the peer, "
	    "%u sprayed, %d birthday socket(s)", p->rounds, p->probes_rx,
	    p->sprayed, p->nspray);
	if (p->epdep_self && p->epdep_peer)
		snprintf(msg, len, "no path to the peer: both NATs map "
		    "endpoint-dependently (symmetric), which hole punching "
		    "cannot traverse; a relay would be needed");
	else if (p->epdep_peer)
		snprintf(msg, len, "no path to the peer: its NAT is "
		    "endpoint-dependent (symmetric) and %u probes at random "
		    "ports found none of its mappings", p->sprayed);
	else if (p->epdep_self)
		snprintf(msg, len, "no path to the peer: our NAT is "
		    "endpoint-dependent (symmetric) and none of %d sockets' "
		    "mappings was hit", p->nspray);
	else if (p->probes_rx == 0)
		snprintf(msg, len, "no path to the peer: nothing came from it "
		    "(its NAT or firewall drops what we send, or it is gone); "
		    "%d candidate(s) tried", p->ncands);
	else
		snprintf(msg, len, "no path to the peer: its probes arrive "
		    "but our answers do not reach it");
}

static int
timed_out(struct punch *p)
{
	char msg[384], a[80];
	size_t n;

	if (p->state == P_REGISTER && p->rate_limited)
		snprintf(msg, sizeof(msg), "%s", p->why);
	else if (p->state == P_REGISTER && p->med_seen == 0 && p->nactive > 1)
		snprintf(msg, sizeof(msg), "none of %d mediators answered",
		    p->nactive);
	else if (p->state == P_REGISTER && p->med_seen == 0)
		snprintf(msg, sizeof(msg), "mediator %s did not answer",
		    ep_str(&p->med, a, sizeof(a)));
	else if (p->state == P_REGISTER)
		snprintf(msg, sizeof(msg), "no peer came for \"%s\"", p->cfg.label);
	else if (p->nominated == -1) {
		explain(p, msg, sizeof(msg));
		n = strlen(msg);
		if (p->relay_state == -1)
			snprintf(msg + n, sizeof(msg) - n, "; the relay: %s",
			    p->why);
		else if (p->relay_state == 1)
			snprintf(msg + n, sizeof(msg) - n, "; the mediator "
			    "did not answer our request for its relay");
		else if (p->peer_flags & PEER_RELAY && p->cfg.role == ROLE_PUNCH)
			snprintf(msg + n, sizeof(msg) - n, "; the mediator "
			    "offers a relay (listen and connect use it, punch "
			    "does not)");
		else if (p->quiet)
			snprintf(msg + n, sizeof(msg) - n, "; nothing came "
			    "from the peer in %d s: stopped probing",
			    QUIET_MS / 1000);
	} else
		snprintf(msg, sizeof(msg), "the peer stopped answering");
	return fail(p, msg);
}

/*
 * The TTL of ordinary probes: small until it is safe to reach the far
 * NAT (see the top of the file), never longer than LOW_TTL_MAX.
 */
static int
probe_ttl(const struct punch *p, int64_t now)
{
	int safe = p->heard_peer || (p->path.controlling && p->peer_ready);

	if (safe || now - p->peer_at >= LOW_TTL_MAX)
		return TTL_FULL;
	return p->ttl_low;
}

/* Birthday method, both halves. */
static void
spray_tick(struct punch *p, int64_t now)
{
	struct ep to;
	int i, port;

	if (now < p->spray_next || p->ncands == 0)
		return;
	if (p->nspray > 0) {
		/* Keep the NSPRAY mappings toward the peer open. */
		for (i = 0; i < p->nspray; i++)
			send_probe(p, i, &p->cands[0].ep, 0);
		p->spray_next = now + SPRAY_REOPEN;
		return;
	}
	if (!p->epdep_peer || p->epdep_self || p->sprayed >= SPRAY_MAX ||
	    p->peer_mapped ||
	    p->nominated != -1 || p->heard_peer ||
	    strcmp(p->cands[0].kind, "local") == 0)
		return;		/* a mapping was hit: no more port scanning */
	main_ttl(p, TTL_FULL);
	to = p->cands[0].ep;
	for (i = 0; i < SPRAY_BURST; i++, p->sprayed++) {
		port = 1024 + (int)(random64() % 64512);
		ep_set_port(&to, port);
		p->sprayed_to[port / 8] |= (unsigned char)(1 << (port % 8));
		send_probe(p, -1, &to, 0);
	}
	p->spray_next = now + SPRAY_GAP;
}

/*
 * The controlled side's ack of the nomination may be lost, and it may
 * exit (punch) or stay silent (an idle session) right after: so it says
 * "taken" a few more times unasked.
 */
static void
confirm(struct punch *p, int64_t now)
{
	if (p->path.controlling || p->released ||
	    now >= p->done_at + CONFIRM_MS || now < p->next_tx)
		return;
	send_ack(p, -1, &p->path.peer, p->path.peer_id, PF_NOMINATE, p->tx);
	p->next_tx = now + NOMINATE_GAP;
}

/*
 * No direct path by relay_at, and the mediator offers its relay: ask,
 * until it answers. Its answer makes the mediator a candidate.
 */
static void
relay_tick(struct punch *p, int64_t now)
{
	unsigned char buf[128];
	struct wr w;

	if (!p->relay_offer || (p->relay_state != 0 && p->relay_state != 1) ||
	    now < p->relay_at || p->nominated != -1)
		return;
	wr_init(&w, buf, sizeof(buf));
	reg_build(p, T_RELAYREQ, 0, 0, 0, &w);
	if (w.bad)
		return;
	main_ttl(p, TTL_FULL);
	(void)sendto(p->path.fd, buf, w.len, 0,
	    (const struct sockaddr *)&p->meds[p->med_from][0].u,
	    p->meds[p->med_from][0].len);
	if (p->relay_state == 0)
		vlog("no direct path after %lld ms: asking the mediator to "
		    "relay", (long long)(now - p->peer_at));
	p->relay_state = 1;
	p->relay_at = now + RELAY_GAP;
}

/*
 * The session is over: the relay that carried it (now or before it moved
 * direct) may end its relay session now rather than after 30 s idle,
 * and give the slot to the next pair. Twice: nothing answers it. An
 * older mediator drops it (an unknown type) and lets the session expire.
 */
void
punch_relay_end(struct punch *p)
{
	unsigned char buf[HDR_LEN];
	struct wr w;
	int i;

	if (p->cfg.tcp || p->relay_state != 2 || p->path.fd == -1)
		return;
	wr_init(&w, buf, sizeof(buf));
	wr_hdr(&w, T_RELAYEND, p->path.id);
	main_ttl(p, TTL_FULL);
	for (i = 0; i < 2; i++)
		(void)sendto(p->path.fd, buf, w.len, 0,
		    (const struct sockaddr *)&p->meds[p->med_from][0].u,
		    p->meds[p->med_from][0].len);
}

/*
 * Nothing at all came from the peer QUIET_MS after the introduction,
 * and no relay is coming: whatever the mediator said, no one is there
 * to punch toward (or nothing can reach us), so probing stops.
 */
static int
silent(const struct punch *p, int64_t now)
{
	return !p->heard_peer && p->probes_rx == 0 &&
	    now - p->peer_at >= QUIET_MS &&
	    (!p->relay_offer || p->relay_state == -1);
}

/* Run the timers. Returns 0, or -1 when the punch has failed. */
int
punch_tick(struct punch *p, int64_t now)
{
	int i;

	if (p->cfg.tcp)
		return tpunch_tick(p->tp, now);

	pmap_tick(p, now);
	if (p->state == P_DONE) {
		confirm(p, now);
		return 0;
	}
	if (p->state == P_FAILED)
		return -1;
	if (p->deadline && now >= p->deadline)
		return timed_out(p);
	if (p->state == P_PROBE && silent(p, now)) {
		p->quiet = 1;		/* stop early: nothing answers */
		return timed_out(p);
	}
	if (p->state == P_PROBE)
		relay_tick(p, now);
	if (p->state == P_PROBE)
		spray_tick(p, now);
	if (meds_widen(p, now)) {
		p->next_tx = now;	/* it hears from us at once */
		p->txgap = REG_GAP0;
	}
	dual_tick(p, now);
	he_tick(p, now);
	if (now < p->next_tx)
		return 0;
	if (p->state == P_REGISTER) {
		register_due(p, now);
		p->next_tx = meds_pending(p) ? now + p->txgap :
		    refresh_next(p, now);
		if (p->txgap < REG_GAPMAX)
			p->txgap *= 2;
		if (!p->med_seen && now - p->start >= 5000 && !p->warned)
			p->warned = 1;	/* the caller tells the user */
		return 0;
	}
	p->tx++;
	p->tx_sent = now;
	p->rounds++;
	if (p->nominated != -1) {
		main_ttl(p, TTL_FULL);
		send_probe(p, p->cands[p->nominated].sock,
		    &p->cands[p->nominated].ep, PF_NOMINATE);
	} else {
		main_ttl(p, probe_ttl(p, now));
		for (i = 0; i < p->ncands; i++)
			if (p->cands[i].sock < 0 &&
			    strcmp(p->cands[i].kind, "mapped") != 0)
				send_probe(p, -1, &p->cands[i].ep, 0);
		/* A mapping is an open door: no far NAT state to fear. */
		main_ttl(p, TTL_FULL);
		for (i = 0; i < p->ncands; i++)
			if (p->cands[i].sock < 0 &&
			    strcmp(p->cands[i].kind, "mapped") == 0)
				send_probe(p, -1, &p->cands[i].ep, 0);
	}
	if (p->nominated != -1)
		p->txgap = NOMINATE_GAP;
	p->next_tx = now + p->txgap;
	if (p->txgap < PROBE_GAPMAX)
		p->txgap *= 2;
	return 0;
}

/* The path is agreed: remember it, keep only its socket. */
static void
done(struct punch *p, int ci, int64_t now)
{
	struct cand *c = &p->cands[ci];
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char a[80];

	p->path.peer = c->ep;
	p->path.relayed = med_index(p, &c->ep) != -1;
	if (c->sock >= 0) {
		close(p->path.fd);
		p->path.fd = p->spray[c->sock];
		if (getsockname(p->path.fd, (struct sockaddr *)&ss, &len) == 0) {
			struct ep self;

			memcpy(&self.u, &ss, len);
			self.len = len;
			p->path.lport = ep_port(&self);
		}
	}
	punch_close(p);
	p->ttl_cur = 0;		/* p->path.fd may be another socket now */
	main_ttl(p, TTL_FULL);
	p->state = P_DONE;
	p->done_at = now;
	p->next_tx = now + NOMINATE_GAP;
	if (p->path.relayed) {		/* relay, then direct */
		p->relay_ep = c->ep;
		p->upgrading = p->cfg.role != ROLE_PUNCH;
		p->up_gap = UP_GAP0;
		p->up_next = now + UP_GAP0;
	}
	vlog("punched through to %s (%s%s) in %lld ms (%s side)",
	    ep_str(&p->path.peer, a, sizeof(a)), c->kind, !p->dual.on ? "" :
	    fam(&p->path.peer) ? ", IPv6" : ", IPv4",
	    (long long)(now - p->start),
	    p->path.controlling ? "controlling" : "controlled");
}

/* We are the symmetric side: open the birthday sockets. */
static void
spray_open(struct punch *p, int64_t now)
{
	int fd;

	while (p->nspray < NSPRAY) {
		if ((fd = udp_socket(p->self_pub.u.sa.sa_family, 0)) == -1)
			break;		/* out of descriptors: fewer sockets */
		/* Small TTL: open our mapping, never touch the far NAT. */
		(void)set_ttl(fd, p->self_pub.u.sa.sa_family, p->ttl_low);
		p->spray[p->nspray++] = fd;
	}
	p->spray_next = now;
	vlog("our NAT maps endpoint-dependently: %d birthday sockets",
	    p->nspray);
}

/*
 * The mediator saw our REGISTER with TTL ttl; we sent it with 64. Our
 * NATs are among those 64 - ttl hops; one more leaves them all, and in
 * our lab dies at the core. Clamped: 2 to 4.
 */
static void
low_ttl(struct punch *p, int ttl)
{
	if (ttl > 0 && ttl <= TTL_FULL)
		p->ttl_low = TTL_FULL - ttl + 1;
	if (p->ttl_low < 2)
		p->ttl_low = 2;
	if (p->ttl_low > 4)
		p->ttl_low = 4;
}

/*
 * Both NATs endpoint-dependent and no port mapping: the relay at once
 * if offered, else only local candidates can work, for a short while.
 */
static void
both_epdep(struct punch *p, int64_t now)
{
	if (!p->epdep_self || !p->epdep_peer || mapped(p))
		return;
	if (p->relay_offer) {
		vlog("both NATs are endpoint-dependent: asking for the relay");
		p->relay_at = now;
	} else if (p->deadline == 0 || p->deadline - now > BOTH_EPDEP_MS) {
		vlog("both NATs are endpoint-dependent: only local candidates "
		    "can work; giving up in %d ms", BOTH_EPDEP_MS);
		p->deadline = now + BOTH_EPDEP_MS;
	}
}

/*
 * When to ask for the relay (if offered: after direct probing had its
 * chance), and when to give up if both NATs are endpoint-dependent.
 */
static void
plan_deadlines(struct punch *p, int64_t now)
{
	if (p->deadline == 0)
		p->relay_at = now + RELAY_AFTER;
	else
		p->relay_at = now + ((p->deadline - now) / 2 < RELAY_AFTER ?
		    (p->deadline - now) / 2 : RELAY_AFTER);
	if (p->epdep_self && p->epdep_peer && mapped(p))
		vlog("both NATs are endpoint-dependent, but %s a port "
		    "mapping: probing it", p->peer_mapped ? "the peer has" :
		    "we have");
	else if (p->epdep_self && p->epdep_peer && p->pm.ack_held)
		vlog("both NATs are endpoint-dependent; our gateway may "
		    "map a port: waiting for it");
	else if (p->epdep_self && p->epdep_peer && p->pm.state == PM_ASK) {
		/*
		 * The gateway has not answered yet (it has 250 ms): a
		 * mapping granted 14 ms after a relay was asked for came
		 * too late for the session (reach.bats under load).
		 */
		vlog("both NATs are endpoint-dependent; waiting for our "
		    "gateway's answer before the relay");
		p->pm.epdep_wait = 1;
	} else
		both_epdep(p, now);
	if (p->deadline == 0)		/* listen without -w */
		p->deadline = now + PUNCH_LIMIT;
}

/*
 * A local candidate of the peer at its public address is a port mapping
 * its gateway granted (PCP, NAT-PMP): reachable from anywhere, whatever
 * the NAT's mapping behaviour.
 */
static const char *
local_kind(const struct punch *p, const struct intro *in, int i)
{
	(void)p;
	return ep_equal_addr(&in->locals[i], &in->them) ? "mapped" : "local";
}

/* Either side holds a port mapping: no birthday method, no giving up. */
static int
mapped(const struct punch *p)
{
	return p->peer_mapped || p->pm.state == PM_GOT;
}

/* The first introduction, from mediator k: learn the peer, start probing. */
static void
introduced(struct punch *p, const struct intro *in, int k, int64_t now)
{
	char a[80];
	int i;

	p->med_seen = now;
	p->peer_at = now;
	p->self_pub = p->path.self_pub = in->you;
	p->path.peer_id = in->peer_id;
	/*
	 * The mediator gives control to the higher id; with several, the
	 * peer may hear first from another one, so the ids decide here
	 * too, whatever an older mediator said.
	 */
	p->path.controlling = p->cfg.nmeds > 1 ? p->path.id > in->peer_id :
	    (in->flags & PEER_CONTROLLING) != 0;
	p->peer_ready = (in->flags & PEER_READY) != 0;
	p->med_from = k;
	p->relay_offer = (in->flags & PEER_RELAY) != 0 &&
	    p->cfg.role != ROLE_PUNCH;
	p->epdep_self = (in->flags & PEER_YOU_EPDEP) != 0;
	p->epdep_peer = (in->flags & PEER_THEY_EPDEP) != 0;
	low_ttl(p, in->ttl);
	vlog("mediator introduced the peer after %lld ms; we are seen as %s%s"
	    "; peer's NAT %s; first probes with TTL %d",
	    (long long)(now - p->start), ep_str(&in->you, a, sizeof(a)),
	    p->epdep_self ? " (endpoint-dependent)" : "",
	    p->epdep_peer ? "endpoint-dependent" : "endpoint-independent",
	    p->ttl_low);
	/* Candidates that arrived before (peer-reflexive) stay. */
	cand_add(p, &in->them, -1, "public");
	for (i = 0; i < in->nlocals; i++)
		if (cand_add(p, &in->locals[i], -1, local_kind(p, in, i)) != -1 &&
		    strcmp(local_kind(p, in, i), "mapped") == 0)
			p->peer_mapped = 1;
	p->state = P_PROBE;
	p->txgap = PROBE_GAP0;
	p->next_tx = now;
	p->spray_next = now;
	if (p->epdep_self && !p->epdep_peer && !mapped(p))
		spray_open(p, now);
	plan_deadlines(p, now);
	punch_tick(p, now);
}

/*
 * PEERACK to mediator k; held while our gateway is about to grant a
 * mapping (pmap_release sends it): the mediator introduces a
 * controlling peer only after our ack, with our candidates as they are
 * then.
 */
static void
peer_ack(struct punch *p, int k, int flags, int64_t now)
{
	if (pmap_hold(p, now)) {
		p->pm.ack_held = 1;
		p->pm.ack_k = k;
		p->pm.ack_flags = flags;
		return;
	}
	send_register_to(p, T_PEERACK, k, 0, flags);
}

/*
 * A repeated introduction while probing may carry a port mapping the
 * peer's gateway granted after we were introduced (its mediator repeats
 * the introduction then): probe it, and give it the time a mapping
 * needs. Only a mapping: nothing else changes after the introduction.
 */
static void
late_mapping(struct punch *p, const struct intro *in, int64_t now)
{
	int i;

	if (p->state != P_PROBE || p->peer_mapped)
		return;
	for (i = 0; i < in->nlocals; i++)
		if (strcmp(local_kind(p, in, i), "mapped") == 0 &&
		    cand_find(p, &in->locals[i], -1) == -1 &&
		    cand_add(p, &in->locals[i], -1, "mapped") != -1)
			p->peer_mapped = 1;
	if (!p->peer_mapped)
		return;
	vlog("the peer announced a port mapping after the introduction: "
	    "probing it");
	p->txgap = PROBE_GAP0;
	p->next_tx = now;
	if (p->deadline != 0 && p->deadline - now < BOTH_EPDEP_MS)
		p->deadline = now + BOTH_EPDEP_MS;
}

/*
 * A relayed session hears the peer's candidates again (a PEER repeated
 * by the mediator, with what the peer announced since, such as a port
 * mapping): new ones are checked too.
 */
static void
learn(struct punch *p, const struct intro *in)
{
	int i, n = p->ncands;

	cand_add(p, &in->them, -1, "public");
	for (i = 0; i < in->nlocals; i++)
		cand_add(p, &in->locals[i], -1, local_kind(p, in, i));
	if (p->ncands > n) {
		p->up_gap = UP_GAP0;
		p->up_next = p->done_at;	/* overdue: check them now */
	}
}

/* T_PEER from mediator k: the introduction, or a repeat of it. */
static void
on_peer(struct punch *p, struct rd *r, int k, int64_t now)
{
	struct intro in;

	if (rd_intro(r, &in) == -1 || in.peer_id == 0 ||
	    in.peer_id == p->path.id ||
	    (p->path.peer_id != 0 && in.peer_id != p->path.peer_id))
		return;
	p->peer_flags = in.flags;
	if (p->state != P_REGISTER)	/* from any mediator: stop its resends */
		peer_ack(p, k, in.flags, now);
	if ((in.flags & PEER_READY) && !p->peer_ready && p->state == P_PROBE) {
		p->peer_ready = 1;
		vlog("mediator: the peer has its introduction");
		p->txgap = PROBE_GAP0;	/* full-TTL probes now */
		p->next_tx = now;
	}
	if (p->state == P_DONE && p->upgrading)
		learn(p, &in);	/* candidates the peer announced later */
	if (p->state != P_REGISTER) {
		late_mapping(p, &in, now);	/* or a retransmission */
		dual_merge(p, &in, k, now);
		return;
	}
	if (pmap_hold(p, now))
		p->pm.ack_held = 1;	/* before introduced() plans */
	introduced(p, &in, k, now);
	/*
	 * Acknowledge only now: the mediator's "ready" to the peer must not
	 * overtake our first small-TTL probes out of our NAT.
	 */
	peer_ack(p, k, in.flags, now);
}

/* Untrusted text for the terminal: printable ASCII only. */
static void
text_clean(char *dst, size_t cap, const unsigned char *src, size_t n)
{
	size_t i;

	for (i = 0; i < n && i + 1 < cap; i++)
		dst[i] = src[i] >= ' ' && src[i] <= '~' ? (char)src[i] : '?';
	if (cap > 0)
		dst[i < cap ? i : cap - 1] = '\0';
}

/* T_REGISTERED from mediator k's port P (alt 0) or P+1 (alt 1). */
static void
on_registered(struct punch *p, struct rd *r, int k, int alt, int64_t now)
{
	char m[80], a[80];
	struct ep you;
	const unsigned char *c;
	int ttl;

	if (rd_registered(r, &you, &ttl, &c) == -1)
		return;
	dual_learn(p, &you, now);
	if (ttl == 0) {
		/*
		 * Return routability: repeat at once with the cookie; a
		 * cookie we already sent waits for the timer, so that no
		 * answer can make us loop.
		 */
		if (memcmp(p->cookies[k][alt], c, COOKIE_LEN) != 0) {
			memcpy(p->cookies[k][alt], c, COOKIE_LEN);
			if (alt)
				send_register_to(p, T_REGISTER, k, 1, 0);
			else
				send_register(p, k, now);
		}
		return;
	}
	memcpy(p->cookies[k][alt], c, COOKIE_LEN);
	if (alt)
		return;
	if (!p->med_reg[k]) {
		p->med_reg[k] = 1;
		p->med_refresh[k] = now + REG_REFRESH;
	}
	if (!p->med_seen)
		vlog("registered \"%s\" with %s as %s; waiting for the peer",
		    p->cfg.label, ep_str(&p->meds[k][0], m, sizeof(m)),
		    ep_str(&you, a, sizeof(a)));
	if (!meds_pending(p))
		p->next_tx = refresh_next(p, now);
	p->med_seen = now;
	p->self_pub = p->path.self_pub = you;
}

/*
 * T_ERROR while registering: a refusal costs only that mediator when
 * there are others; a rate limit passes. Returns -1 when the punch
 * failed.
 */
static int
on_refused(struct punch *p, struct rd *r, int k, int64_t now)
{
	const unsigned char *t;
	char msg[160];
	size_t n;
	int code;

	if (rd_error(r, &code, &t, &n) == -1)
		return 0;
	snprintf(msg, sizeof(msg), "mediator refused: ");
	text_clean(msg + strlen(msg), sizeof(msg) - strlen(msg), t, n);
	p->path.busy = code == E_BUSY;
	if (code == E_VERSION)
		snprintf(msg, sizeof(msg), "version mismatch: the mediator "
		    "refused our pnc protocol %d: ", PROTO_VERSION);
	if (code == E_VERSION)
		text_clean(msg + strlen(msg), sizeof(msg) - strlen(msg), t, n);
	if (code != E_RATE) {
		p->med_dead[k] = 1;
		if (meds_widen(p, now))
			register_all(p, now);
		for (k = 0; k < p->nactive && p->med_dead[k]; k++)
			;
		if (k == p->nactive)
			return fail(p, msg);
		vlog("%s; going on with the other mediator(s)", msg);
		return 0;
	}
	/*
	 * A rate limit passes: keep registering, backing off, until -w;
	 * the mediator may also have taken the other copy.
	 */
	if (!p->rate_limited)
		vlog("%s; retrying", msg);
	p->rate_limited = 1;
	snprintf(p->why, sizeof(p->why), "%s", msg);
	p->next_tx = now + p->txgap;
	return 0;
}

/* The answer to our T_RELAYREQ: T_RELAYOK, or T_ERROR E_RELAY. */
static void
on_relay_answer(struct punch *p, struct rd *r, int type, int k, int64_t now)
{
	const unsigned char *t;
	size_t n;
	int code;

	if (type == T_RELAYOK && r->left == 0) {
		p->relay_state = 2;
		vlog("the mediator relays for us; probing the peer through it");
		cand_add(p, &p->meds[k][0], -1, "relay");
		p->txgap = PROBE_GAP0;
		p->next_tx = now;
	} else if (type == T_ERROR && rd_error(r, &code, &t, &n) == 0 &&
	    code == E_RELAY) {
		text_clean(p->why, sizeof(p->why), t, n);
		vlog("the mediator does not relay: %s", p->why);
		p->relay_state = -1;
	}
}

/* A message from mediator k. Returns -1 when the punch failed. */
static int
on_mediator(struct punch *p, struct rd *r, int type, int k, int alt,
    int64_t now)
{
	p->med_heard[k] = 1;
	if (type == T_REGISTERED && p->state == P_REGISTER)
		on_registered(p, r, k, alt, now);
	else if (type == T_PEER)
		on_peer(p, r, k, now);
	else if ((type == T_RELAYOK || type == T_ERROR) &&
	    p->state == P_PROBE && p->relay_state == 1 && k == p->med_from)
		on_relay_answer(p, r, type, k, now);
	else if (type == T_ERROR && p->state == P_REGISTER)
		return on_refused(p, r, k, now);
	return 0;
}

/* Both sides must agree on -R; a mismatch fails the punch. */
static int
mode_mismatch(struct punch *p, int flags)
{
	int theirs = (flags & PF_RELIABLE) != 0;

	if (theirs == p->cfg.reliable || p->state == P_FAILED)
		return p->state == P_FAILED;
	fail(p, theirs ? "the peer uses -R (reliable mode) and we do not" :
	    "we use -R (reliable mode) and the peer does not");
	return 1;
}

static int
on_probe(struct punch *p, struct rd *r, uint64_t from_id,
    const struct ep *from, int sock, int64_t now)
{
	struct probe pr;
	int flags, ci = -1, nominate;
	uint32_t tx;

	if (rd_probe(r, T_PROBE, &pr) == -1 || pr.toid != p->path.id)
		return 0;
	flags = pr.flags;
	tx = pr.tx;
	if (p->path.peer_id != 0 && from_id != p->path.peer_id)
		return 0;
	if (p->path.peer_id != 0 && mode_mismatch(p, flags)) {
		/* Our ack carries our mode: the peer learns it too. */
		send_ack(p, sock, from, from_id, 0, tx);
		send_ack(p, sock, from, from_id, 0, tx);
		return -1;
	}
	p->probes_rx++;
	if (p->path.peer_id != 0 && !p->heard_peer) {
		p->heard_peer = 1;	/* its mapping is open: full TTL */
		p->next_tx = now;
		p->txgap = PROBE_GAP0;
	}
	if (sock >= 0)		/* a birthday socket's mapping was hit */
		(void)set_ttl(p->spray[sock], p->self_pub.u.sa.sa_family,
		    TTL_FULL);
	else
		main_ttl(p, TTL_FULL);
	if (p->state == P_PROBE &&
	    (ci = cand_add(p, from, sock, "peer-reflexive")) != -1 &&
	    !p->cands[ci].acked && p->nominated == -1) {
		/* A triggered check: the path it came on works inbound. */
		send_probe(p, sock, from, 0);
	}
	/*
	 * Only the controlled side takes nominations, once, on one path,
	 * and only on a path our own probe checked (an ACK came back from
	 * where it went): a nomination from an address seen only as a
	 * source could be a copy re-sent by a third party. Until then the
	 * triggered probe above checks it; the nomination is repeated.
	 */
	nominate = (flags & PF_NOMINATE) && !p->path.controlling &&
	    p->path.peer_id != 0 && (p->state == P_PROBE ? ci != -1 &&
	    p->cands[ci].acked : (p->state == P_DONE &&
	    ep_equal(from, &p->path.peer)));
	send_ack(p, sock, from, from_id, nominate ? PF_NOMINATE : 0, tx);
	if (nominate && p->state == P_PROBE && ci != -1) {
		done(p, ci, now);
		return 1;
	}
	return 0;
}

/* Did a sprayed probe (birthday method) go to from? */
static int
sprayed_to(const struct punch *p, const struct ep *from, int sock)
{
	int port = ep_port(from);

	return sock == -1 && p->ncands > 0 && p->sprayed > 0 &&
	    ep_equal_addr(from, &p->cands[0].ep) &&
	    (p->sprayed_to[port / 8] >> (port % 8) & 1);
}

static int
on_ack(struct punch *p, struct rd *r, uint64_t from_id,
    const struct ep *from, int sock, int64_t now)
{
	struct probe pr;
	int flags, i;
	int64_t round;
	char a[80];

	if (rd_probe(r, T_ACK, &pr) == -1 || pr.toid != p->path.id ||
	    from_id != p->path.peer_id || p->state != P_PROBE)
		return 0;
	flags = pr.flags;
	/*
	 * An ACK counts only from where its PROBE went, echoing the tx
	 * keyed to that address and socket: a copy re-sent from a third
	 * address is no answer, even when a copied PROBE made that
	 * address a (peer-reflexive) candidate.
	 */
	if ((round = acked_round(p, pr.tx, sock, from)) == -1)
		return 0;
	if ((i = cand_find(p, from, sock)) == -1 && (!sprayed_to(p, from, sock) ||
	    (i = cand_add(p, from, sock, "peer-reflexive")) == -1))
		return 0;
	if (mode_mismatch(p, flags))
		return -1;
	p->heard_peer = 1;
	if (round == p->tx && p->path.rtt == 0)
		p->path.rtt = now - p->tx_sent + 1;
	if (!p->cands[i].acked)
		vlog("candidate %s (%s) answered after %lld ms",
		    ep_str(from, a, sizeof(a)), p->cands[i].kind,
		    (long long)(now - p->start));
	p->cands[i].acked = 1;
	if (!p->path.controlling)
		return 0;
	if (p->nominated == -1 && !he_wait(p, i, now)) {
		p->nominated = i;
		p->txgap = PROBE_GAP0;
		p->next_tx = now;
		punch_tick(p, now);
		return 0;
	}
	if (i == p->nominated && (flags & PF_NOMINATE)) {
		done(p, i, now);
		return 1;
	}
	return 0;
}

/*
 * Session data on the nominated path answers our nomination: the
 * controlled side only sends data once it has adopted that path.
 */
static int
adopt(struct punch *p, const struct ep *from, uint64_t from_id, int sock,
    int64_t now)
{
	if (p->state != P_PROBE || !p->path.controlling || p->nominated == -1 ||
	    from_id != p->path.peer_id || p->cands[p->nominated].sock != sock ||
	    !ep_equal(from, &p->cands[p->nominated].ep))
		return 0;
	done(p, p->nominated, now);
	return 1;
}

static int	peer_input(struct punch *, const unsigned char *, size_t,
		    const struct ep *, int, int64_t);

/*
 * PF_RELEASE on the agreed path, once the controlled side is done: the
 * controlling side has our handshake ACK. 1 if it was that (r is spent).
 */
static int
on_release(struct punch *p, struct rd *r, uint64_t from_id,
    const struct ep *from, int sock)
{
	struct rd r2 = *r;
	struct probe pr;

	if (p->state != P_DONE || p->path.controlling || sock >= 0 ||
	    from_id != p->path.peer_id || !ep_equal(from, &p->path.peer) ||
	    rd_probe(&r2, T_PROBE, &pr) == -1 || pr.toid != p->path.id ||
	    !(pr.flags & PF_RELEASE))
		return 0;
	if (!p->released)
		vlog("the peer has our acknowledgement: no need to linger");
	p->released = 1;
	return 1;
}

/*
 * A pnc message of another protocol version: from our mediator (its
 * answer to us), or a peer's PROBE meant for us, fails the punch with
 * "version mismatch"; anything else is a stranger's, ignored. 0 or -1.
 */
static int
other_version(struct punch *p, struct rd *r, int version, int type,
    uint64_t id, int frommed)
{
	char msg[128];

	if (frommed && id == p->path.id)
		snprintf(msg, sizeof(msg), "version mismatch: the mediator "
		    "speaks pnc protocol %d, we speak %d", version,
		    PROTO_VERSION);
	else if (!frommed && type == T_PROBE && p->state == P_PROBE &&
	    rd_u64(r) == p->path.id && !r->bad)
		snprintf(msg, sizeof(msg), "version mismatch: the peer "
		    "speaks pnc protocol %d, we speak %d", version,
		    PROTO_VERSION);
	else
		return 0;
	return fail(p, msg);
}

/* Is from one of our mediators' addresses (port P or P+1)? */
static int
from_mediator(const struct punch *p, const struct ep *from)
{
	int k;

	for (k = 0; k < p->cfg.nmeds; k++)
		if (ep_equal(from, &p->meds[k][0]) ||
		    ep_equal(from, &p->meds[k][1]))
			return 1;
	return 0;
}

static int
input(struct punch *p, const unsigned char *buf, size_t len,
    const struct ep *from, int sock, int64_t now)
{
	struct rd r;
	int version, type, k, alt;
	uint64_t id;

	rd_init(&r, buf, len);
	if (rd_hdr(&r, &version, &type, &id) == -1)
		return 0;
	if (version != PROTO_VERSION)
		return other_version(p, &r, version, type, id,
		    sock < 0 && from_mediator(p, from));
	if (sock < 0 && type == T_RELAY) {
		/* Our peer, through the relay: as if from the mediator. */
		if (!punch_unwrap(p, &buf, &len, from))
			return 0;
		return peer_input(p, buf, len, from, sock, now);
	}
	for (k = 0; sock < 0 && k < p->cfg.nmeds; k++)
		for (alt = 0; alt < 2; alt++)
			if (ep_equal(from, &p->meds[k][alt]))
				return id == p->path.id ?
				    on_mediator(p, &r, type, k, alt, now) : 0;
	if (sock < 0 && dual_input(p, &r, type, id, from, now))
		return 0;
	return peer_input(p, buf, len, from, sock, now);
}

/* A message from a peer, direct or unwrapped from the relay. */
static int
peer_input(struct punch *p, const unsigned char *buf, size_t len,
    const struct ep *from, int sock, int64_t now)
{
	struct rd r;
	int version, type;
	uint64_t id;

	rd_init(&r, buf, len);
	if (rd_hdr(&r, &version, &type, &id) == -1 ||
	    version != PROTO_VERSION)
		return 0;
	if (type == T_PROBE && on_release(p, &r, id, from, sock))
		return 0;
	if (type == T_PROBE)
		return on_probe(p, &r, id, from, sock, now);
	if (type == T_ACK)
		return on_ack(p, &r, id, from, sock, now);
	if (type == T_HS || type == T_REC)
		return adopt(p, from, id, sock, now);
	return 0;
}

/*
 * Take one datagram that is not session data on the agreed path, from
 * the main socket (sock -1) or birthday socket sock. Returns 1 when it
 * completed the punch, 0 otherwise, -1 when the punch has failed (p->why
 * says why). Garbage is ignored.
 */
int
punch_input(struct punch *p, const unsigned char *buf, size_t len,
    const struct ep *from, int sock, int64_t now)
{
	return input(p, buf, len, from, sock, now);
}

/* ---- relay, then direct (PROTOCOL 8.1) ---- */

/*
 * Candidate i, to check and to hear records from once relayed: one
 * the mediator gave, or a peer-reflexive one that answered a probe of
 * ours (a PROBE copied from a third address makes one that never does).
 */
static int
cand_direct(const struct punch *p, int i)
{
	return p->cands[i].sock < 0 && med_index(p, &p->cands[i].ep) == -1 &&
	    (p->cands[i].acked ||
	    strcmp(p->cands[i].kind, "peer-reflexive") != 0);
}

/*
 * A relayed session's checks of its direct candidates that are due now:
 * up to max of them in pc (where each goes, its nonce), for the session
 * to seal (T_PATHCHK) and send with punch_sendto. Each candidate keeps
 * one nonce; rounds come UP_GAP0 apart, doubling up to UP_GAPMAX, for
 * as long as the session is relayed. Returns how many.
 */
int
punch_checks(struct punch *p, int64_t now, struct pathchk *pc, int max)
{
	int i, n = 0;

	if (!p->upgrading || now < p->up_next)
		return 0;
	for (i = 0; i < p->ncands && n < max; i++) {
		if (!cand_direct(p, i))
			continue;
		while (p->up_nonce[i] == 0)
			p->up_nonce[i] = random64();
		pc[n].nonce = p->up_nonce[i];
		pc[n++].ep = p->cands[i].ep;
	}
	p->up_next = now + p->up_gap;
	if (p->up_gap < UP_GAPMAX)
		p->up_gap *= 2;
	return n;
}

/* Milliseconds until punch_checks has some due (0: now; -1: never). */
int64_t
punch_checks_next(const struct punch *p, int64_t now)
{
	if (!p->upgrading)
		return -1;
	return p->up_next > now ? p->up_next - now : 0;
}

/*
 * Check again now, and back off from the start: the peer's own check,
 * or its records, came direct (it found the path; we may too).
 */
void
punch_checks_soon(struct punch *p, int64_t now)
{
	if (!p->upgrading || p->up_gap == UP_GAP0)
		return;		/* a round is on its way already */
	p->up_gap = UP_GAP0;
	p->up_next = now;
}

/* Is e one of ours: our public endpoint, a local one, our mapping? */
int
punch_own(const struct punch *p, const struct ep *e)
{
	int i;

	if (ep_equal(e, &p->self_pub) || (p->pm.state == PM_GOT &&
	    ep_equal(e, &p->pm.ext)))
		return 1;
	for (i = 0; i < p->nlocals; i++)
		if (ep_equal(e, &p->locals[i]))
			return 1;
	return 0;
}

/*
 * A T_PATHOK (opened: the peer sealed it) from from: it answers our
 * check of from if it echoes that candidate's nonce, and the peer saw
 * the check come from one of our own endpoints (a check passed on by a
 * third address is seen from there). Then the session moves: from is
 * its path, direct. Returns 1 then, else 0.
 */
int
punch_check_ok(struct punch *p, const struct ep *from,
    const struct pathchk *pc, int64_t now)
{
	char a[80], b[80];
	int i;

	if (!p->upgrading || (i = cand_find(p, from, -1)) == -1 ||
	    !cand_direct(p, i) || p->up_nonce[i] == 0 ||
	    pc->nonce != p->up_nonce[i])
		return 0;
	if (!punch_own(p, &pc->ep)) {
		vlog("path check: %s saw it come from %s, not from us: not "
		    "taken", ep_str(from, a, sizeof(a)),
		    ep_str(&pc->ep, b, sizeof(b)));
		return 0;
	}
	p->path.peer = *from;
	p->path.relayed = 0;
	p->upgrading = 0;
	vlog("moved to the direct path %s (%s) after %lld ms on the relay",
	    ep_str(from, a, sizeof(a)), p->cands[i].kind,
	    (long long)(now - p->done_at));
	return 1;
}

/*
 * Does a session message from from count (a record: cand 1)? From the
 * agreed path; once relayed, also from the relay (what was in flight
 * there when the session moved) and, a record, from a direct candidate
 * (the peer moved first). A record is the peer's only if it opens; and
 * where it came from never moves where we send: punch_check_ok does.
 */
int
punch_heard(const struct punch *p, const struct ep *from, int cand)
{
	int i;

	if (ep_equal(from, &p->path.peer))
		return 1;
	if (p->relay_ep.len == 0)
		return 0;
	return ep_equal(from, &p->relay_ep) || (cand &&
	    (i = cand_find(p, from, -1)) != -1 && cand_direct(p, i));
}

/* Did from come through a relay (a mediator's address)? */
int
punch_via_relay(const struct punch *p, const struct ep *from)
{
	return med_index(p, from) != -1;
}

/* Is the session relayed and still looking for a direct path? */
int
punch_upgrading(const struct punch *p)
{
	return p->upgrading;
}

/* A sealed path check (or its answer) to to, direct, never relayed. */
ssize_t
punch_sendto(struct punch *p, const struct ep *to, const void *buf,
    size_t len)
{
	if (med_index(p, to) != -1) {
		errno = EINVAL;
		return -1;
	}
	return sendto(p->path.fd, buf, len, 0, (const struct sockaddr *)&to->u,
	    to->len);
}

static int	tpunch_pollfds(struct tpunch *, struct pollfd *);

/*
 * The punch's own descriptors besides the path's. UDP: the birthday
 * sockets, pfd[i] for socket i, which the caller reads as it reads the
 * main socket (punch_input with sock i). TCP: its every connection,
 * which punch_events() serves. Returns how many.
 */
int
punch_pollfds(struct punch *p, struct pollfd *pfd)
{
	int i;

	if (p->cfg.tcp)
		return p->state == P_DONE ? 0 : tpunch_pollfds(p->tp, pfd);

	if (p->state != P_PROBE)
		return 0;
	for (i = 0; i < p->nspray; i++) {
		pfd[i].fd = p->spray[i];
		pfd[i].events = POLLIN;
		pfd[i].revents = 0;
	}
	return p->nspray;
}

/* ---- port mapping: PCP (RFC 6887) and NAT-PMP (RFC 6886) ---- */

/*
 * Destination, gateway and flags of a /proc/net/route line: "Iface
 * Destination Gateway Flags ...", hex. By hand, not sscanf: scanf is
 * 10 KB of a static binary. 0, or -1 (the header, or not a route).
 */
static int
route_line(const char *s, unsigned long *dst, unsigned long *via,
    unsigned long *flags)
{
	unsigned long *v[3] = { dst, via, flags };
	char *end;
	int i;

	s += strcspn(s, " \t");			/* the interface */
	for (i = 0; i < 3; i++) {
		s += strspn(s, " \t");
		if (!isxdigit((unsigned char)*s))
			return -1;
		*v[i] = strtoul(s, &end, 16);
		if (end == s || (*end != ' ' && *end != '\t'))
			return -1;
		s = end;
	}
	return 0;
}

/*
 * The default IPv4 gateway, from the kernel's routing table (Linux:
 * /proc/net/route, addresses in hex as the kernel holds them). 0, or
 * -1 when there is none.
 */
static int
gateway4(struct ep *gw)
{
	char line[256];
	unsigned long dst, via, flags;
	FILE *f;
	int found = 0;

	if ((f = fopen("/proc/net/route", "re")) == NULL)
		return -1;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		if (route_line(line, &dst, &via, &flags) == 0 && dst == 0 &&
		    (flags & 0x3) == 0x3) {
			memset(gw, 0, sizeof(*gw));	/* RTF_UP|RTF_GATEWAY */
			gw->u.in.sin_family = AF_INET;
			gw->u.in.sin_addr.s_addr = (uint32_t)via;
			gw->u.in.sin_port = htons(PMAP_PORT);
			gw->len = sizeof(gw->u.in);
			found = 1;
		}
	fclose(f);
	return found ? 0 : -1;
}

/* The address the gateway sees us at (PCP wants it in the request). */
static int
source_toward(const struct ep *to, struct ep *self)
{
	int fd, rc = -1;

	if ((fd = udp_socket(to->u.sa.sa_family, 0)) == -1)
		return -1;
	self->len = sizeof(self->u);
	if (connect(fd, &to->u.sa, to->len) == 0 &&
	    getsockname(fd, &self->u.sa, &self->len) == 0)
		rc = 0;
	close(fd);
	return rc;
}

/*
 * Ask the gateway for a mapping of our UDP port, in parallel with the
 * registration: only for UDP over IPv4 (IPv6 has no NAT to ask), and
 * not when the mediator is on this host. Nothing waits for it: the
 * REGISTER with the mapping goes once granted (pmap_hold).
 */
static void
pmap_start(struct punch *p, int64_t now)
{
	struct pmap *pm = &p->pm;
	uint64_t r = random64();
	uint32_t r2 = (uint32_t)random64();
	char a[80];

	if (p->cfg.tcp || (p->med.u.sa.sa_family != AF_INET && !p->dual.on) ||
	    ep_is_loopback(&p->med) || gateway4(&pm->gw) == -1 ||
	    source_toward(&pm->gw, &pm->self) == -1)
		return;
	memcpy(pm->nonce, &r, 8);
	memcpy(pm->nonce + 8, &r2, 4);
	pm->iport = p->path.lport;
	pm->state = PM_ASK;
	pm->start = pm->next = now;
	pm->gap = PMAP_GAP0;
	vlog("asking gateway %s for a port mapping (PCP, NAT-PMP)",
	    ep_str(&pm->gw, a, sizeof(a)));
}

/* A request of proto for lifetime s (0: delete), to the gateway. */
static void
pmap_send(struct punch *p, int proto, uint32_t life)
{
	struct pmap *pm = &p->pm;
	unsigned char buf[64];
	struct wr w;
	int eport = pm->state == PM_GOT ? ep_port(&pm->ext) : pm->iport;

	wr_init(&w, buf, sizeof(buf));
	if (proto == PMAP_PCP)
		wr_pcp_map(&w, pm->nonce, &pm->self, pm->iport,
		    life ? eport : 0, life);
	else if (proto == PMAP_NATPMP && !pm->natpmp_addr)
		wr_natpmp(&w, PMAP_OP_ADDR, 0, 0, 0);
	else
		wr_natpmp(&w, PMAP_OP_MAP, pm->iport, life ? eport : 0, life);
	if (!w.bad)
		(void)sendto(p->path.fd, buf, w.len, 0, &pm->gw.u.sa,
		    pm->gw.len);
}

/*
 * A REGISTER with a cookie (one that can get us introduced) waits for
 * the mapping, so that the introduction carries it, only once the
 * gateway has answered (NAT-PMP's address comes at once), and until
 * PMAP_WAIT. A silent gateway delays nothing: a mapping it grants
 * later is announced then (pmap_granted). 1: hold it (the timer sends
 * it, pmap_tick).
 */
static int
pmap_hold(struct punch *p, int64_t now)
{
	const struct pmap *pm = &p->pm;

	if (pm->state != PM_ASK || p->cfg.name == NULL || !pm->heard ||
	    now - pm->start >= PMAP_WAIT)
		return 0;
	p->pm.held = 1;
	return 1;
}

/*
 * What was held for the mapping goes now: the REGISTERs; or, once
 * introduced, a REGISTER that updates our candidates at the mediator,
 * then the PEERACK after which it introduces the peer with them.
 */
static void
pmap_release(struct punch *p, int64_t now)
{
	struct pmap *pm = &p->pm;

	if (!pm->held)
		return;
	pm->held = 0;
	if (p->state == P_REGISTER)
		register_all(p, now);
	else if (p->state == P_PROBE && pm->ack_held) {
		send_register_to(p, T_REGISTER, pm->ack_k, 0, 0);
		send_register_to(p, T_PEERACK, pm->ack_k, 0, pm->ack_flags);
		both_epdep(p, now);	/* no mapping after all? */
	}
	pm->ack_held = 0;
}

/* Nothing granted: go on without (and send what waited). */
static void
pmap_none(struct punch *p, const char *why, int64_t now)
{
	if (p->pm.state != PM_ASK)
		return;
	p->pm.state = PM_GONE;
	vlog("no port mapping: %s", why);
	pmap_release(p, now);
	if (p->pm.epdep_wait && p->state == P_PROBE)
		both_epdep(p, now);
	p->pm.epdep_wait = 0;
}

/* Granted: one more candidate, announced by the next REGISTER. */
static void
pmap_granted(struct punch *p, int proto, const struct ep *ext,
    uint32_t life, int64_t now)
{
	struct pmap *pm = &p->pm;
	char a[80];
	int k;

	if (life == 0)
		return;
	pm->ext = *ext;
	pm->proto = proto;
	pm->renew_at = now + 1000 * (int64_t)(life / 4 < PMAP_RENEW ?
	    (life / 4 ? life / 4 : 1) : PMAP_RENEW);
	if (pm->state == PM_GOT)
		return;		/* a renewal */
	pm->state = PM_GOT;
	vlog("%s mapping: %s for %u s after %lld ms", proto == PMAP_PCP ?
	    "PCP" : "NAT-PMP", ep_str(ext, a, sizeof(a)), life,
	    (long long)(now - pm->start));
	if (p->cfg.name == NULL)
		return;		/* the NAT check: nothing to announce */
	if (p->state != P_REGISTER && p->state != P_PROBE)
		return;
	if (p->nlocals == MAX_LOCALS)
		p->nlocals--;		/* the mapping matters more */
	p->locals[p->nlocals++] = *ext;
	if (p->state == P_PROBE && !pm->ack_held) {
		/*
		 * Introduced already (the gateway was slow): the mediator
		 * repeats the peer's introduction with it (PROTOCOL 5.3).
		 */
		vlog("announcing the mapping after the introduction");
		send_register_to(p, T_REGISTER, p->med_from, 0, 0);
		return;
	}
	/*
	 * Not held: a REGISTER went without it (the gateway had not
	 * answered yet), and its introduction may be on the way. The
	 * refresh, due now, updates our candidates at the mediator, which
	 * repeats the peer's introduction with them if it has introduced
	 * us already. Left to its time, 10 s on: granted at 15 ms,
	 * introduced at 16 ms, the peer never heard of it (reach.bats
	 * under CI load).
	 */
	if (p->state == P_REGISTER && !pm->held) {
		for (k = 0; k < p->nactive; k++)
			p->med_refresh[k] = now;
		p->next_tx = now;
	}
	p->pm.held = 1;		/* announce it now, held or not */
	pmap_release(p, now);
}

/* A NAT-PMP answer: the address, then (PCP refused) the mapping. */
static void
pmap_natpmp(struct punch *p, const struct pmap_reply *r, int64_t now)
{
	struct pmap *pm = &p->pm;
	struct ep ext;

	if (r->op == PMAP_OP_ADDR && r->result == 0 && r->have_ext) {
		if (!pm->natpmp_addr)
			pm->addr_at = now;
		pm->natpmp_addr = 1;
		pm->ext = r->ext;	/* the address; the port comes later */
	} else if (r->op == PMAP_OP_ADDR)
		pm->natpmp_no = 1;
	else if (!pm->natpmp_asked && r->result == 1)
		pm->pcp_no = 1;		/* a NAT-PMP server's "version?" */
	else if (r->result == 0 && r->iport == pm->iport && pm->natpmp_addr) {
		ext = pm->ext;
		ep_set_port(&ext, r->eport);
		pmap_granted(p, PMAP_NATPMP, &ext, r->lifetime, now);
		return;
	} else if (pm->natpmp_asked)
		pm->natpmp_no = 1;
	if (pm->state == PM_ASK && pm->pcp_no && pm->natpmp_addr &&
	    !pm->natpmp_asked) {
		pm->natpmp_asked = 1;
		pmap_send(p, PMAP_NATPMP, PMAP_LIFE);
	}
}

/*
 * A datagram on the main socket from the gateway's port 5351: PCP or
 * NAT-PMP. Returns 1 if it was from there (taken), else 0.
 */
static int
pmap_input(struct punch *p, const unsigned char *buf, size_t len,
    const struct ep *from, int64_t now)
{
	struct pmap *pm = &p->pm;
	struct pmap_reply r;
	struct rd rd;

	if (pm->state == PM_OFF || !ep_equal(from, &pm->gw))
		return 0;
	rd_init(&rd, buf, len);
	if (rd_pmap(&rd, &r) == -1 || pm->state == PM_GONE)
		return 1;
	pm->heard = 1;
	if (r.proto == PMAP_PCP && r.result == 0 && r.have_ext &&
	    r.iport == pm->iport &&
	    memcmp(r.nonce, pm->nonce, PCP_NONCE_LEN) == 0) {
		ep_set_port(&r.ext, r.eport);
		pmap_granted(p, PMAP_PCP, &r.ext, r.lifetime, now);
	} else if (r.proto == PMAP_PCP && r.result != 0) {
		vlog("PCP: the gateway refused (result %d)", r.result);
		pm->pcp_no = 1;
		if (pm->natpmp_addr && !pm->natpmp_asked) {
			pm->natpmp_asked = 1;
			pmap_send(p, PMAP_NATPMP, PMAP_LIFE);
		}
	} else if (r.proto == PMAP_NATPMP && pm->state == PM_ASK)
		pmap_natpmp(p, &r, now);
	else if (r.proto == PMAP_NATPMP && r.op == PMAP_OP_MAP &&
	    r.result == 0 && pm->state == PM_GOT && pm->proto == PMAP_NATPMP)
		pmap_granted(p, PMAP_NATPMP, &pm->ext, r.lifetime, now);
	if (pm->pcp_no && pm->natpmp_no)
		pmap_none(p, "the gateway refused", now);
	return 1;
}

/*
 * A datagram on the path's socket that may be the gateway's answer
 * (PCP, NAT-PMP: no pnc header). 1 if it came from the gateway's port
 * 5351 (taken), else 0.
 */
int
punch_gateway(struct punch *p, const unsigned char *buf, size_t len,
    const struct ep *from, int64_t now)
{
	return pmap_input(p, buf, len, from, now);
}

/* Resends while asking, until PMAP_WAIT; renewals once granted. */
static void
pmap_tick(struct punch *p, int64_t now)
{
	struct pmap *pm = &p->pm;

	if (pm->state == PM_ASK && now - pm->start >= PMAP_WAIT)
		pmap_none(p, pm->heard ? "the gateway did not grant one" :
		    "the gateway did not answer", now);
	if (pm->held && !pmap_hold(p, now))
		pmap_release(p, now);
	/*
	 * NAT-PMP answers and PCP, asked at the same moments, has not for
	 * PMAP_GAP0 since: it is not spoken. Not counted from our first
	 * request: when both answered only a resend (a slow gateway, or the
	 * first requests lost), NAT-PMP's address came a moment before
	 * PCP's grant, and a NAT-PMP request then replaced the PCP mapping
	 * at miniupnpd, which then refused PCP's deletion: the mapping
	 * outlived the session (reach.bats).
	 */
	if (pm->state == PM_ASK && pm->natpmp_addr && !pm->natpmp_asked &&
	    now - pm->addr_at >= PMAP_GAP0) {
		pm->pcp_no = 1;
		pm->natpmp_asked = 1;
		pm->next = now;		/* the NAT-PMP request, now */
	}
	if (pm->state == PM_ASK && now >= pm->next) {
		/* NAT-PMP's address first: it comes back before any work. */
		if (!pm->natpmp_no && (!pm->natpmp_addr || pm->natpmp_asked))
			pmap_send(p, PMAP_NATPMP, PMAP_LIFE);
		if (!pm->pcp_no)
			pmap_send(p, PMAP_PCP, PMAP_LIFE);
		pm->next = now + pm->gap;
		pm->gap *= 2;
	}
	if (pm->state == PM_GOT && now >= pm->renew_at) {
		pmap_send(p, pm->proto, PMAP_LIFE);
		pm->renew_at = now + 1000 * PMAP_RENEW;
	}
}

/* Milliseconds until pmap_tick() wants to run, or -1. */
static int64_t
pmap_next(const struct punch *p, int64_t now)
{
	const struct pmap *pm = &p->pm;
	int64_t t;

	if (pm->state == PM_ASK) {
		t = pm->next < pm->start + PMAP_WAIT ? pm->next :
		    pm->start + PMAP_WAIT;
		if (pm->natpmp_addr && !pm->natpmp_asked &&
		    pm->addr_at + PMAP_GAP0 < t)
			t = pm->addr_at + PMAP_GAP0;
		return t > now ? t - now : 0;
	}
	if (pm->state == PM_GOT)
		return pm->renew_at > now ? pm->renew_at - now : 0;
	return -1;
}

/*
 * Delete our mapping (twice: no answer is awaited), and stop asking.
 * Called at the end of the session and when the punch fails, while the
 * socket is still open.
 */
void
punch_unmap(struct punch *p)
{
	struct pmap *pm = &p->pm;

	if (pm->state == PM_GOT && p->path.fd != -1 && !p->cfg.tcp) {
		pmap_send(p, pm->proto, 0);
		pmap_send(p, pm->proto, 0);
		vlog("port mapping deleted");
	}
	if (pm->state != PM_OFF)
		pm->state = PM_GONE;
}

/* What the gateway granted: PMAP_PCP, PMAP_NATPMP, or PMAP_NONE. */
static int
pmap_proto(const struct punch *p)
{
	return p->pm.state == PM_GOT ? p->pm.proto : PMAP_NONE;
}

/* ---- both families at once: IPv4 and IPv6 (PROTOCOL 3.4) ---- */

/* 0 for IPv4, 1 for IPv6: the index into struct dual's pairs. */
static int
fam(const struct ep *e)
{
	return e->u.sa.sa_family == AF_INET6;
}

/*
 * Without -4, -6 and -t, for a rendezvous (not the NAT check): each
 * mediator in both families. Both families at once when the addresses
 * span both: mediator k is registered with in IPv4 if it has an IPv4
 * address (IPv4 is where the NATs are, which its copy to P+1 sizes up),
 * and, if it has both, asked in the other for our endpoint there, which
 * the REGISTERs announce. With one family among them all, that one, as
 * before. Returns 1 when the mediators are resolved, else 0: the caller
 * resolves them (and says why one does not).
 */
static int
dual_resolve(struct punch *p)
{
	struct dual *d = &p->dual;
	int k, f, all = 0, got;

	if (p->cfg.family != AF_UNSPEC || p->cfg.tcp || p->cfg.name == NULL ||
	    p->cfg.natstun)
		return 0;
	for (k = 0; k < p->cfg.nmeds; k++) {
		if ((got = parse_hostport_both(p->cfg.medspecs[k], PNC_PORT,
		    d->addr[k])) == -1)
			break;
		all |= got;
	}
	if (k < p->cfg.nmeds) {
		memset(d, 0, sizeof(*d));
		return 0;
	}
	d->on = all == 3;
	for (k = 0; k < p->cfg.nmeds; k++) {
		f = d->addr[k][0].len ? 0 : 1;
		d->picked[k] = !(d->addr[k][0].len && d->addr[k][1].len);
		p->meds[k][0] = p->meds[k][1] = d->addr[k][f];
		ep_set_port(&p->meds[k][1], (ep_port(&p->meds[k][0]) + 1) &
		    0xffff);
	}
	p->med = p->meds[0][0];
	p->med_alt = p->meds[0][1];
	if (!d->on)
		memset(d, 0, sizeof(*d));
	return 1;
}

/* Our local candidates of both families, taken in turn. The count. */
static int
dual_locals(struct punch *p)
{
	struct ep l4[MAX_LOCALS], l6[MAX_LOCALS];
	int n4, n6, i = 0, j = 0, n = 0;

	n4 = local_addrs(AF_INET, p->path.lport, l4, MAX_LOCALS);
	n6 = local_addrs(AF_INET6, p->path.lport, l6, MAX_LOCALS);
	while (n < MAX_LOCALS && (i < n4 || j < n6)) {
		if (i < n4)
			p->locals[n++] = l4[i++];
		if (j < n6 && n < MAX_LOCALS)
			p->locals[n++] = l6[j++];
	}
	return n;
}

static int
is_local(const struct punch *p, const struct ep *e)
{
	int i;

	for (i = 0; i < p->nlocals; i++)
		if (ep_equal(&p->locals[i], e))
			return 1;
	return 0;
}

/*
 * What a REGISTER to mediator k announces: our locals and, both
 * families at once, first our public endpoint in the family k does not
 * see us in, unless it is a local one (no NAT there). A port mapping,
 * the last local (pmap_granted), stays. Into out; the count.
 */
static int
reg_locals(const struct punch *p, int k, struct ep *out)
{
	const struct ep *pub = &p->dual.pub[!fam(&p->meds[k][0])];
	int i, n = 0, extra;

	extra = p->dual.on && pub->len > 0 && !is_local(p, pub);
	if (extra)
		out[n++] = *pub;
	for (i = 0; i < p->nlocals && n < MAX_LOCALS; i++)
		if (!(extra && p->nlocals == MAX_LOCALS &&
		    i == MAX_LOCALS - 2))
			out[n++] = p->locals[i];
	return n;
}

/* Mediator k's address that we do not register with. */
static const struct ep *
dual_other(const struct punch *p, int k)
{
	const struct dual *d = &p->dual;

	return ep_equal(&p->meds[k][0], &d->addr[k][0]) ? &d->addr[k][1] :
	    &d->addr[k][0];
}

/*
 * Mediator k has both families and we have not picked one: a REGISTER
 * without cookie to its IPv6 address too, with each one to its IPv4
 * address (until that answers). Its answer (a cookie, which costs the
 * mediator nothing) says where it sees us there. A family we cannot
 * send in at all has nothing to tell.
 */
static void
dual_ask(struct punch *p, int k)
{
	static const unsigned char zero[COOKIE_LEN];
	const struct ep *to = &p->dual.addr[k][1];
	unsigned char buf[256];
	struct wr w;

	if (!p->dual.on || p->dual.picked[k] || has_cookie(p, k, 0))
		return;
	wr_init(&w, buf, sizeof(buf));
	wr_register(&w, T_REGISTER, p->path.id, p->cfg.role, p->cfg.name,
	    p->locals, 0, zero, 0);
	if (w.bad)
		return;
	main_ttl(p, TTL_FULL);
	if (sendto(p->path.fd, buf, w.len, 0, &to->u.sa, to->len) == -1 &&
	    (errno == ENETUNREACH || errno == EHOSTUNREACH ||
	    errno == EADDRNOTAVAIL || errno == EAFNOSUPPORT)) {
		p->dual.known[1] = 1;	/* no IPv6 here: nothing to wait for */
		p->dual.picked[k] = 1;
	}
}

/*
 * Both families at once, the registration: a REGISTER with a cookie
 * (which can get us introduced, with what it announces) waits until a
 * mediator has told us where it sees us in both families, at most
 * DUAL_WAIT after the first answer. Then mediator k's family is the
 * one that answered (IPv4 if both did). 1: hold it (dual_tick or
 * dual_learn sends it).
 */
static int
dual_hold(struct punch *p, int k, int64_t now)
{
	struct dual *d = &p->dual;

	if (!d->on)
		return 0;
	if (!d->decided && !(d->known[0] && d->known[1]) && d->first != 0 &&
	    now < d->first + DUAL_WAIT) {
		d->held = 1;
		return 1;
	}
	d->picked[k] = 1;	/* meds[k] answered: has_cookie(k, 0) */
	return 0;
}

/* Mediator k answered only in its other family: register there. */
static void
dual_swap(struct punch *p, int k)
{
	struct dual *d = &p->dual;
	char a[80];

	p->meds[k][0] = p->meds[k][1] = *dual_other(p, k);
	ep_set_port(&p->meds[k][1], (ep_port(&p->meds[k][0]) + 1) & 0xffff);
	memcpy(p->cookies[k][0], d->cookie[k], COOKIE_LEN);
	memset(p->cookies[k][1], 0, COOKIE_LEN);
	d->picked[k] = 1;
	if (k == 0) {
		p->med = p->meds[0][0];
		p->med_alt = p->meds[0][1];
	}
	vlog("mediator answered only at %s: registering there",
	    ep_str(&p->meds[k][0], a, sizeof(a)));
}

/*
 * A mediator saw us at you: our public endpoint in its family. Sends
 * what waited for it (dual_hold), or, registered already, a REGISTER
 * that announces it.
 */
static void
dual_learn(struct punch *p, const struct ep *you, int64_t now)
{
	struct dual *d = &p->dual;
	int f = fam(you);
	char a[80];

	if (!d->on || (d->pub[f].len > 0 && ep_equal(&d->pub[f], you)))
		return;
	if (d->first == 0)
		d->first = now;
	d->pub[f] = *you;
	d->known[f] = 1;
	vlog("seen over IPv%d as %s", f ? 6 : 4, ep_str(you, a, sizeof(a)));
	if (p->state != P_REGISTER || (d->held && !(d->known[0] &&
	    d->known[1])))
		return;
	if (d->held || p->med_seen) {
		d->held = 0;
		register_all(p, now);
	}
}

/*
 * A mediator's answer from its address we do not register with (a
 * cookie, for dual_ask's REGISTER): where it sees us. 1 if from is
 * such an address (the datagram is spent), else 0.
 */
static int
dual_input(struct punch *p, struct rd *r, int type, uint64_t id,
    const struct ep *from, int64_t now)
{
	struct dual *d = &p->dual;
	const unsigned char *c;
	struct ep you;
	int k, ttl;

	if (!d->on)
		return 0;
	for (k = 0; k < p->cfg.nmeds; k++)
		if (d->addr[k][0].len > 0 && d->addr[k][1].len > 0 &&
		    ep_equal(from, dual_other(p, k)))
			break;
	if (k == p->cfg.nmeds)
		return 0;
	if (id != p->path.id || type != T_REGISTERED ||
	    rd_registered(r, &you, &ttl, &c) == -1 || fam(&you) != fam(from))
		return 1;
	if (!d->picked[k])
		memcpy(d->cookie[k], c, COOKIE_LEN);
	dual_learn(p, &you, now);
	return 1;
}

/*
 * DUAL_WAIT after the first answer: a mediator that answered only in
 * its other family is registered with there, and what waited goes.
 */
static void
dual_tick(struct punch *p, int64_t now)
{
	static const unsigned char zero[COOKIE_LEN];
	struct dual *d = &p->dual;
	int k;

	if (!d->on || p->state != P_REGISTER || d->decided || d->first == 0 ||
	    now < d->first + DUAL_WAIT)
		return;
	d->decided = 1;
	for (k = 0; k < p->cfg.nmeds; k++)
		if (!d->picked[k] && !has_cookie(p, k, 0) &&
		    memcmp(d->cookie[k], zero, COOKIE_LEN) != 0)
			dual_swap(p, k);
	d->held = 0;
	register_all(p, now);
}

/*
 * Happy eyeballs (RFC 8305's spirit): an IPv4 path that answers first
 * is nominated HE_DELAY ms later, unless an IPv6 path answers by then,
 * when there is one to wait for (the relay is none; none when we could
 * not send over IPv6 at all, dual_ask). 1: wait; he_tick nominates.
 */
static int
he_wait(struct punch *p, int i, int64_t now)
{
	int j;

	if (!p->dual.on || fam(&p->cands[i].ep) ||
	    (p->dual.known[1] && p->dual.pub[1].len == 0))
		return 0;
	for (j = 0; j < p->ncands; j++)
		if (fam(&p->cands[j].ep) && med_index(p, &p->cands[j].ep) == -1)
			break;
	if (j == p->ncands)
		return 0;
	if (p->dual.he_at == 0) {
		p->dual.he_at = now + HE_DELAY;
		vlog("an IPv4 path answered first: IPv6 has %d ms more",
		    HE_DELAY);
	}
	return now < p->dual.he_at;
}

/* IPv6's head start is over: nominate the first path that answered. */
static void
he_tick(struct punch *p, int64_t now)
{
	int i;

	if (!p->dual.on || p->state != P_PROBE || p->nominated != -1 ||
	    p->dual.he_at == 0 || now < p->dual.he_at)
		return;
	for (i = 0; i < p->ncands && !p->cands[i].acked; i++)
		;
	if (i == p->ncands)
		return;
	p->nominated = i;
	p->txgap = PROBE_GAP0;
	p->next_tx = now;
}

/* When dual_tick or he_tick want to run: ms from now, or -1. */
static int64_t
dual_next(const struct punch *p, int64_t now)
{
	const struct dual *d = &p->dual;
	int64_t at = -1;

	if (!d->on)
		return -1;
	if (p->state == P_REGISTER && !d->decided && d->first != 0)
		at = d->first + DUAL_WAIT;
	if (p->state == P_PROBE && p->nominated == -1 && d->he_at != 0)
		at = d->he_at;
	return at < 0 ? -1 : at > now ? at - now : 0;
}

/*
 * The peer introduced again by another of our mediators (one per
 * family): its endpoints there are candidates too.
 */
static void
dual_merge(struct punch *p, const struct intro *in, int k, int64_t now)
{
	int i, n = p->ncands;

	if (!p->dual.on || p->state != P_PROBE || k == p->med_from)
		return;
	cand_add(p, &in->them, -1, "public");
	for (i = 0; i < in->nlocals; i++)
		cand_add(p, &in->locals[i], -1, local_kind(p, in, i));
	if (p->ncands > n && p->nominated == -1) {
		p->txgap = PROBE_GAP0;
		p->next_tx = now;
	}
}

/* ---- the NAT check: pnc punch without a name ---- */

enum { NAT_MAIN, NAT_ALTPORT, NAT_ALTADDR, NAT_FILT_ANY, NAT_FILT_PORT,
    NAT_HAIRPIN, NAT_N };

/*
 * With -S: request i as a STUN Binding request (RFC 8489), the changes
 * as CHANGE-REQUEST (RFC 5780), to the server's other port and address
 * as its OTHER-ADDRESS says, or to the second -S server. The transaction
 * id carries our id and i.
 */
static void
check_stun_send(struct punch *p, struct natcheck *chk, int i)
{
	static const int change[NAT_N] = { 0, 0, 0,
	    STUN_CHANGE_IP | STUN_CHANGE_PORT, STUN_CHANGE_PORT, 0 };
	unsigned char txid[12], buf[64];
	struct ep to = p->med;
	struct wr w;
	size_t n;
	int fd = i >= NAT_FILT_ANY ? chk->fd2 : p->path.fd;

	wr_init(&w, txid, sizeof(txid));
	wr_u64(&w, p->path.id);
	wr_u32(&w, (uint32_t)i);
	if (i == NAT_ALTPORT)		/* same address, other port */
		ep_set_port(&to, ep_port(&chk->other));
	else if (i == NAT_ALTADDR)
		to = p->cfg.nmeds > 1 ? p->meds[1][0] : chk->other;
	else if (i == NAT_HAIRPIN) {
		to = chk->pub;
		fd = chk->fd3;
	}
	if ((n = stun_request(txid, change[i], buf, sizeof(buf))) > 0)
		(void)sendto(fd, buf, n, 0, (const struct sockaddr *)&to.u,
		    to.len);
}

/*
 * A STUN answer (or our own request, hairpinned). A changed answer
 * counts only if it came from where it was asked to: a server that
 * ignores CHANGE-REQUEST answers from where it was reached.
 */
static void
check_stun_input(struct punch *p, struct natcheck *chk, const unsigned char *buf,
    size_t len, int which, const struct ep *from)
{
	struct stun s;
	struct rd r;
	uint64_t id;
	uint32_t tx;

	if (stun_parse(buf, len, &s) == -1)
		return;
	rd_init(&r, s.txid, sizeof(s.txid));
	id = rd_u64(&r);
	tx = rd_u32(&r);
	if (id != p->path.id || tx >= NAT_N)
		return;
	if (s.type == STUN_BINDING) {
		if (which == 0 && tx == NAT_HAIRPIN)
			chk->answered[NAT_HAIRPIN] = 1;
		return;
	}
	if (s.type != STUN_BINDING_OK || !s.have_mapped)
		return;
	if (s.have_other && !chk->have_other &&
	    s.other.u.sa.sa_family == p->med.u.sa.sa_family) {
		chk->other = s.other;
		chk->have_other = 1;
	}
	if ((tx >= NAT_FILT_ANY) != (which == 1) || chk->answered[tx])
		return;
	chk->answered[tx] = 1;
	chk->mapped[tx] = s.mapped;
	chk->got[tx] = (ep_port(from) != ep_port(&p->med) ? BIND_OTHER_PORT :
	    0) | (!ep_equal_addr(from, &p->med) ? BIND_OTHER_ADDR : 0);
}

/* Send request i of the NAT check from the socket it belongs to. */
static void
check_send(struct punch *p, struct natcheck *chk, int i)
{
	static const int flags[NAT_N] = { 0, 0, 0,
	    BIND_OTHER_PORT | BIND_OTHER_ADDR, BIND_OTHER_PORT, 0 };
	unsigned char buf[64];
	struct ep to = p->med;
	struct wr w;
	int fd = i >= NAT_FILT_ANY ? chk->fd2 : p->path.fd;

	if (i == NAT_ALTPORT)
		to = p->med_alt;
	else if (i == NAT_ALTADDR)
		to = chk->other;
	else if (i == NAT_HAIRPIN)
		to = chk->pub;
	if (p->cfg.natstun) {
		check_stun_send(p, chk, i);
		return;
	}
	wr_init(&w, buf, sizeof(buf));
	wr_bind(&w, p->path.id, (uint32_t)i, flags[i]);
	if (i == NAT_HAIRPIN)	/* the same message, to our own mapping */
		fd = chk->fd3;
	(void)sendto(fd, buf, w.len, 0, (const struct sockaddr *)&to.u,
	    to.len);
}

/* One answer to the NAT check, from socket which (0 main, 1 filter). */
static void
check_input(struct punch *p, struct natcheck *chk, const unsigned char *buf,
    size_t len, int which, const struct ep *from)
{
	struct rd r;
	struct bound b;
	int version, type;
	uint64_t id;

	if (p->cfg.natstun) {
		check_stun_input(p, chk, buf, len, which, from);
		return;
	}
	rd_init(&r, buf, len);
	if (rd_hdr(&r, &version, &type, &id) == -1 ||
	    version != PROTO_VERSION || id != p->path.id)
		return;
	if (type == T_BIND && which == 0) {
		chk->answered[NAT_HAIRPIN] = 1;	/* our own request, hairpinned */
		return;
	}
	if (type != T_BOUND || rd_bound(&r, &b) == -1 || b.tx >= NAT_N)
		return;
	if (b.have_other) {
		chk->other = b.other;
		chk->have_other = 1;
	}
	if ((b.tx >= NAT_FILT_ANY) != (which == 1) || chk->answered[b.tx])
		return;
	chk->answered[b.tx] = 1;
	chk->mapped[b.tx] = b.seen;
	chk->got[b.tx] = b.got;
}

static int
check_pending(const struct punch *p, const struct natcheck *chk, int i)
{
	if (i == NAT_ALTADDR && !chk->have_other &&
	    !(p->cfg.natstun && p->cfg.nmeds > 1))
		return 0;
	if (i == NAT_ALTPORT && p->cfg.natstun && !chk->have_other)
		return 0;	/* a STUN server's other port: not known yet */
	if (i == NAT_HAIRPIN && !chk->answered[NAT_MAIN])
		return 0;
	return !chk->answered[i];
}

/*
 * The NAT check (RFC 4787 terms, RFC 5780 method) against the mediator's
 * two ports and, when it has one, its second address: its two extra
 * sockets and its clock. Returns 0, or -1 with p->why set.
 */
int
natcheck_start(struct punch *p, struct natcheck *chk, int64_t now)
{
	memset(chk, 0, sizeof(*chk));
	chk->fd2 = chk->fd3 = -1;
	if ((chk->fd2 = udp_socket(p->med.u.sa.sa_family, 0)) == -1 ||
	    (chk->fd3 = udp_socket(p->med.u.sa.sa_family, 0)) == -1) {
		snprintf(p->why, sizeof(p->why), "socket: %s", strerror(errno));
		if (chk->fd2 != -1)
			close(chk->fd2);
		return -1;
	}
	chk->start = chk->next = now;
	chk->end = now + 1500;
	if (p->deadline && p->deadline < chk->end)
		chk->end = p->deadline;
	chk->gap = 100;
	return 0;
}

/* Send what is unanswered, backing off. Returns 1 when the check is over. */
int
natcheck_tick(struct punch *p, struct natcheck *chk, int64_t now)
{
	int i, k;

	pmap_tick(p, now);
	chk->pmap_at = p->pm.state == PM_ASK ? now + pmap_next(p, now) : -1;
	for (k = p->pm.state == PM_ASK, i = 0; i < NAT_N; i++)
		k += check_pending(p, chk, i);
	if (k == 0 || now >= chk->end)
		return 1;
	if (now >= chk->next && chk->tries < 5) {
		for (i = 0; i < NAT_N; i++)
			if (check_pending(p, chk, i))
				check_send(p, chk, i);
		chk->next = now + chk->gap;
		chk->gap *= 2;
		chk->tries++;
	}
	return 0;
}

/* Milliseconds until natcheck_tick() wants to run. */
int
natcheck_next(const struct natcheck *chk, int64_t now)
{
	int64_t t = (chk->next < chk->end ? chk->next : chk->end) - now;

	if (chk->pmap_at >= 0 && chk->pmap_at - now < t)
		t = chk->pmap_at - now;
	return t < 0 ? 0 : (int)t;
}

/* The sockets answers come to: 0 the main one, 1 the filtering one. */
int
natcheck_pollfds(struct punch *p, const struct natcheck *chk,
    struct pollfd *pfd)
{
	pfd[0].fd = p->path.fd;
	pfd[1].fd = chk->fd2;
	pfd[0].events = pfd[1].events = POLLIN;
	pfd[0].revents = pfd[1].revents = 0;
	return 2;
}

/* A datagram to socket which (as natcheck_pollfds numbers them). */
void
natcheck_input(struct punch *p, struct natcheck *chk, const unsigned char *buf,
    size_t len, int which, const struct ep *from, int64_t now)
{
	if (which == 0 && pmap_input(p, buf, len, from, now))
		return;
	check_input(p, chk, buf, len, which, from);
	if (which == 0 && chk->answered[NAT_MAIN] && !chk->pub.len)
		chk->pub = chk->mapped[NAT_MAIN];
}

/*
 * The check is over: close its sockets, and sum up. Returns 0, or -1
 * with p->why set when the mediator never answered.
 */
int
natcheck_finish(struct punch *p, struct natcheck *chk, int64_t now)
{
	char a[80];
	int i;

	close(chk->fd2);
	close(chk->fd3);
	chk->fd2 = chk->fd3 = -1;
	if (!chk->answered[NAT_MAIN]) {
		snprintf(p->why, sizeof(p->why), "%s %s did not answer",
		    p->cfg.natstun ? "STUN server" : "mediator",
		    ep_str(&p->med, a, sizeof(a)));
		return -1;
	}
	chk->ms = now - chk->start;
	chk->lport = p->path.lport;
	chk->pmap = pmap_proto(p);
	punch_unmap(p);		/* the check only asks whether it could */
	chk->natted = 1;
	for (i = 0; i < p->nlocals; i++)
		if (ep_equal(&p->locals[i], &chk->mapped[NAT_MAIN]))
			chk->natted = 0;
	return 0;
}

/* ---- TCP hole punching: simultaneous open (-t) ---- */

#define TCP_RETRY0	50	/* ms before a failed connect is retried */
#define TCP_RETRYMAX	500
#define TCP_RESYN	1000	/* a connect pending this long is redone */

/*
 * Connect from the shared port. With ttl, the SYN carries that small
 * TTL (it opens our NAT but dies before the far one, see "conntrack
 * clash"); everything after it, a SYN-ACK of a simultaneous open
 * included, goes out with the full TTL.
 */
static int
tcp_connect(int family, int port, const struct ep *to, int ttl)
{
	int fd;

	if ((fd = tcp_socket(family, port)) == -1)
		return -1;
	if (ttl)
		(void)set_ttl(fd, family, ttl);
	if (connect(fd, (const struct sockaddr *)&to->u, to->len) == -1 &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	if (ttl)
		(void)set_ttl(fd, family, TTL_FULL);
	return fd;
}

/* Write all of a small message; the socket buffer is empty. 0 or -1. */
static int
tcp_write(int fd, const void *buf, size_t len)
{
	return send(fd, buf, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/* The same messages over TCP to mediator k, behind a 2-byte length. */
static void
tmed_send(struct tpunch *t, int k, int type)
{
	struct tmed *m = &t->m[k];
	unsigned char msg[256], buf[2 + sizeof(msg)];
	struct wr w;
	size_t n;

	wr_init(&w, msg, sizeof(msg));
	/* No cookie: TCP proves the source. */
	reg_build(t->p, type, k, 0, t->p->peer_flags, &w);
	if (w.bad || (n = frame_put(buf, sizeof(buf), msg, w.len)) == 0)
		return;
	if (tcp_write(m->fd, buf, n) == -1) {
		close(m->fd);		/* reconnect */
		m->fd = -1;
		m->up = 0;
	}
}

static void
tconn_drop(struct tcand *c, int64_t now)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	c->up = c->verified = 0;
	c->rlen = 0;
	c->retry_at = now + c->gap;
	if (c->gap < TCP_RETRYMAX)
		c->gap *= 2;
}

/* A TCP peer message: header, and for HELLO the id it is meant for. */
static void
tconn_hello(struct tpunch *t, struct tcand *c)
{
	unsigned char buf[HDR_LEN + 8];
	struct wr w;

	wr_init(&w, buf, sizeof(buf));
	wr_hdr(&w, T_THELLO, t->p->path.id);
	wr_u64(&w, t->p->path.peer_id);
	if (tcp_write(c->fd, buf, w.len) == 0)
		c->up = 1;
}

static void	tpunch_timers(struct tpunch *, int64_t);

static void
on_tpeer(struct tpunch *t, int k, struct rd *r, int64_t now)
{
	struct punch *p = t->p;
	struct intro in;
	int flags, i;
	uint64_t pid;
	char a[80];

	if (rd_intro(r, &in) == -1 || in.peer_id == 0 || in.peer_id == p->path.id ||
	    (p->path.peer_id != 0 && in.peer_id != p->path.peer_id))
		return;
	flags = in.flags;
	pid = in.peer_id;
	p->peer_flags = flags;
	if (p->state == P_REGISTER) {
		p->path.peer_id = pid;
		p->peer_ready = (flags & PEER_READY) != 0;
		p->path.controlling = flags & PEER_CONTROLLING;
		p->self_pub = p->path.self_pub = in.you;
		p->peer_at = now;
		vlog("mediator %d introduced the peer after %lld ms over TCP; "
		    "we are seen as %s", k + 1, (long long)(now - p->start),
		    ep_str(&in.you, a, sizeof(a)));
		cand_add(p, &in.them, -1, "public");
		for (i = 0; i < in.nlocals; i++)
			cand_add(p, &in.locals[i], -1, "local");
		for (i = 0; i < p->ncands; i++) {
			t->c[i].cand = i;
			t->c[i].gap = TCP_RETRY0;
			t->c[i].retry_at = now;
		}
		p->state = P_PROBE;
		if (p->deadline == 0)
			p->deadline = now + PUNCH_LIMIT;
		tpunch_timers(t, now);	/* the first SYNs before the ack */
	}
	tmed_send(t, k, T_PEERACK);
}

/* Frames from mediator k's connection. */
static int
tmed_read(struct tpunch *t, int k, int64_t now)
{
	struct punch *p = t->p;
	struct tmed *m = &t->m[k];
	struct rd r;
	ssize_t n;
	size_t flen;
	int version, type;
	uint64_t id;

	n = recv(m->fd, m->buf + m->len, sizeof(m->buf) - m->len, 0);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		close(m->fd);
		m->fd = -1;
		m->up = 0;
		m->retry = now + m->gap;
		return 0;
	}
	if (n == -1)
		return 0;
	m->len += (size_t)n;
	while (frame_get(m->buf, m->len, &flen) == 1) {
		rd_init(&r, m->buf + 2, flen);
		version = -1;
		if (rd_hdr(&r, &version, &type, &id) == 0 &&
		    version != PROTO_VERSION &&
		    other_version(p, &r, version, type, id, 1) == -1)
			return -1;
		if (version == PROTO_VERSION && !r.bad && id == p->path.id) {
			p->med_seen = now;
			p->med_heard[k] = 1;
			if (type == T_PEER)
				on_tpeer(t, k, &r, now);
			else if (type == T_ERROR && p->state == P_REGISTER &&
			    on_mediator(p, &r, type, k, 0, now) == -1)
				return -1;
		}
		m->len -= 2 + flen;
		memmove(m->buf, m->buf + 2 + flen, m->len);
	}
	if (m->len == sizeof(m->buf))
		m->len = 0;	/* an oversized frame: resynchronise */
	return 0;
}

/* Tell the peer this is the connection. 1, or -1 if it broke. */
static int
tconn_use(struct tcand *c, uint64_t id)
{
	unsigned char use[HDR_LEN];
	struct wr w;

	wr_init(&w, use, sizeof(use));
	wr_hdr(&w, T_TUSE, id);
	return tcp_write(c->fd, use, w.len) == 0 ? 1 : -1;
}

/* Read the peer's HELLO, then (controlled) its USE. 1 when chosen. */
static int
tconn_read(struct tpunch *t, int k)
{
	struct punch *p = t->p;
	struct tcand *c = &t->c[k];
	size_t need = c->verified ? HDR_LEN : HDR_LEN + 8;
	struct rd r;
	int version, type;
	uint64_t id;
	ssize_t n;

	n = recv(c->fd, c->rb + c->rlen, need - c->rlen, 0);
	if (n <= 0)
		return n == -1 && (errno == EAGAIN || errno == EINTR) ? 0 : -1;
	if ((c->rlen += (size_t)n) < need)
		return 0;
	rd_init(&r, c->rb, c->rlen);
	c->rlen = 0;
	if (rd_hdr(&r, &version, &type, &id) == -1 ||
	    version != PROTO_VERSION || id != p->path.peer_id)
		return -1;
	if (!c->verified) {
		if (type != T_THELLO || rd_u64(&r) != p->path.id)
			return -1;
		c->verified = 1;
		if (!p->path.controlling)
			return 0;	/* wait for its USE */
		if (t->chosen != -1)
			return 0;
		/* Controlling: the first verified connection is it. */
		return tconn_use(c, p->path.id);
	}
	return type == T_TUSE && !p->path.controlling ? 1 : -1;
}

/*
 * Each mediator that has joined (meds_widen: the next when the first
 * has not answered in FAILOVER_MS, as over UDP): connect, and again
 * after a backoff when it breaks; refresh the registration.
 */
static void
tmed_timers(struct tpunch *t, int64_t now)
{
	struct punch *p = t->p;
	struct tmed *m;
	int k;

	(void)meds_widen(p, now);
	for (k = 0; k < p->nactive; k++) {
		m = &t->m[k];
		if (m->gap == 0)
			m->gap = REG_GAP0;	/* it has just joined */
		if (m->fd == -1 && now >= m->retry && !p->med_dead[k]) {
			m->fd = tcp_connect(p->meds[k][0].u.sa.sa_family,
			    p->path.lport, &p->meds[k][0], 0);
			m->up = 0;
			m->len = 0;
			m->retry = now + m->gap;
			if (m->gap < REG_GAPMAX)
				m->gap *= 2;
		}
		if (m->up && now >= m->refresh) {
			tmed_send(t, k, T_REGISTER);
			m->refresh = now + REG_REFRESH;
		}
	}
}

static void
tpunch_timers(struct tpunch *t, int64_t now)
{
	struct punch *p = t->p;
	int fam = p->med.u.sa.sa_family, i;

	if (p->state == P_REGISTER)
		tmed_timers(t, now);
	if (p->state != P_PROBE)
		return;
	for (i = 0; i < p->ncands; i++) {
		struct tcand *c = &t->c[i];

		if (c->fd != -1 && !c->up && now - c->since >= TCP_RESYN)
			tconn_drop(c, now);	/* a fresh SYN now */
		if (c->fd == -1 && now >= c->retry_at) {
			/*
			 * Full TTL: a small-TTL SYN draws an ICMP time
			 * exceeded, which aborts a connect in SYN_SENT
			 * (README, "TCP hole punching").
			 */
			c->fd = tcp_connect(fam, p->path.lport, &p->cands[i].ep, 0);
			c->since = now;
			t->syns++;
			if (c->fd == -1)
				tconn_drop(c, now);
		}
	}
}

static int
tpunch_timeout(const struct tpunch *t, int64_t now)
{
	const struct punch *p = t->p;
	int64_t w = 1000;
	int i;

	for (i = 0; p->state == P_REGISTER && i < p->nactive; i++) {
		const struct tmed *m = &t->m[i];

		if (m->fd == -1 && !p->med_dead[i] && m->retry - now < w)
			w = m->retry - now;
		if (m->up && m->refresh - now < w)
			w = m->refresh - now;
	}
	if (p->state == P_REGISTER && p->nactive < p->cfg.nmeds &&
	    p->widen_at - now < w)
		w = p->widen_at - now;
	for (i = 0; p->state == P_PROBE && i < p->ncands; i++) {
		const struct tcand *c = &t->c[i];

		if (c->fd == -1 && c->retry_at - now < w)
			w = c->retry_at - now;
		else if (c->fd != -1 && !c->up &&
		    c->since + TCP_RESYN - now < w)
			w = c->since + TCP_RESYN - now;
	}
	if (p->deadline && p->deadline - now < w)
		w = p->deadline - now;
	return w < 0 ? 0 : (int)w;
}

/* A connect finished: established, or failed (RST, unreachable). */
static void
tconn_connected(struct tpunch *t, struct tcand *c, int64_t now)
{
	int e = 0;
	socklen_t len = sizeof(e);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &len) == -1 || e) {
		vlog("connect to candidate %d: %s", c->cand, strerror(e));
		if (e == ECONNREFUSED)
			t->refused++;
		tconn_drop(c, now);
		return;
	}
	tconn_hello(t, c);
}

static void
tpunch_accept(struct tpunch *t)
{
	int fd, k;

	struct ep from;

	from.len = sizeof(from.u);
	if ((fd = accept4(t->lfd, (struct sockaddr *)&from.u, &from.len,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1)
		return;
	for (k = MAX_CANDS; k < MAX_TCONNS && t->c[k].fd != -1; k++)
		;
	if (k == MAX_TCONNS || t->p->state != P_PROBE) {
		close(fd);
		return;
	}
	vlog("accepted a connection");
	t->c[k].fd = fd;
	t->c[k].cand = -1;
	t->c[k].from = from;
	tconn_hello(t, &t->c[k]);
}

static int
tpunch_fail(struct tpunch *t)
{
	struct punch *p = t->p;
	char msg[256];

	if (p->state == P_PROBE)
		snprintf(msg, sizeof(msg), "TCP: no connection to the peer "
		    "(%u SYNs sent, %u refused by a router or host)", t->syns,
		    t->refused);
	else {
		timed_out(p);
		return -1;
	}
	return fail(p, msg);
}

/* Close everything but the chosen connection; it becomes p->path.fd. */
static void
tpunch_finish(struct tpunch *t, int64_t now)
{
	struct punch *p = t->p;
	char a[80];
	int i;

	/*
	 * RST, not FIN, for every other socket on the port: a TIME_WAIT
	 * left behind would keep plain nc from binding it after punch -t.
	 */
	for (i = 0; i < MAX_TCONNS; i++)
		if (i != t->chosen && t->c[i].fd != -1)
			tcp_abort(t->c[i].fd);
	if (t->lfd != -1)
		close(t->lfd);
	for (i = 0; i < MAX_MEDS; i++) {
		if (t->m[i].fd != -1)
			tcp_abort(t->m[i].fd);
		t->m[i].fd = -1;
	}
	t->lfd = -1;
	p->path.fd = t->c[t->chosen].fd;
	for (i = 0; i < MAX_TCONNS; i++)
		t->c[i].fd = -1;	/* closed, or the path's now */
	/* Not getpeername(): a fast peer may have closed it already. */
	if (t->c[t->chosen].cand >= 0)
		p->path.peer = p->cands[t->c[t->chosen].cand].ep;
	else
		p->path.peer = t->c[t->chosen].from;
	p->state = P_DONE;
	p->done_at = now;
	vlog("TCP connection with %s in %lld ms (%s side, %u SYNs)",
	    ep_str(&p->path.peer, a, sizeof(a)), (long long)(now - p->start),
	    p->path.controlling ? "controlling" : "controlled", t->syns);
}

/*
 * -t: the TCP listener on our port, in place of the UDP socket. TCP
 * buffers what arrives until the session reads it, so there is no
 * hand-over to race. Returns 0, or -1 with p->why set.
 */
static int
tpunch_start(struct punch *p)
{
	struct tpunch *t;
	int i;

	if ((t = p->tp = calloc(1, sizeof(*t))) == NULL) {
		snprintf(p->why, sizeof(p->why), "out of memory");
		return -1;
	}
	t->p = p;
	for (i = 0; i < MAX_MEDS; i++)
		t->m[i].fd = -1;
	t->chosen = -1;
	for (i = 0; i < MAX_TCONNS; i++)
		t->c[i].fd = -1;
	close(p->path.fd);		/* the UDP socket told us our port */
	p->path.fd = -1;
	if ((t->lfd = tcp_socket(p->med.u.sa.sa_family, p->path.lport)) ==
	    -1 || listen(t->lfd, 8) == -1) {
		snprintf(p->why, sizeof(p->why), "cannot listen on TCP port "
		    "%d: %s", p->path.lport, strerror(errno));
		return -1;
	}
	return 0;
}

/* The deadline, then the connection timers. 0, or -1: failed. */
static int
tpunch_tick(struct tpunch *t, int64_t now)
{
	struct punch *p = t->p;

	if (p->state == P_DONE)
		return 0;
	if (p->state == P_FAILED)
		return -1;
	if (p->deadline && now >= p->deadline)
		return tpunch_fail(t);
	tpunch_timers(t, now);
	return 0;
}

/* The listener, the mediator connection, every connection tried. */
static int
tpunch_pollfds(struct tpunch *t, struct pollfd *pfd)
{
	int i, n = 0;

	pfd[n].fd = t->lfd;
	pfd[n].events = POLLIN;
	t->map[n++] = -1;
	for (i = 0; i < MAX_MEDS; i++)
		if (t->m[i].fd != -1) {
			pfd[n].fd = t->m[i].fd;
			pfd[n].events = t->m[i].up ? POLLIN : POLLOUT;
			t->map[n++] = -2 - i;
		}
	for (i = 0; i < MAX_TCONNS; i++)
		if (t->c[i].fd != -1) {
			pfd[n].fd = t->c[i].fd;
			pfd[n].events = t->c[i].up ? POLLIN : POLLOUT;
			t->map[n++] = i;
		}
	for (i = 0; i < n; i++)
		pfd[i].revents = 0;
	return n;
}

/* Mediator k's connection is up (or failed): register over it. */
static void
tmed_connected(struct tpunch *t, int k, int64_t now)
{
	struct tmed *m = &t->m[k];
	int e = 0;
	socklen_t len = sizeof(e);

	(void)getsockopt(m->fd, SOL_SOCKET, SO_ERROR, &e, &len);
	if (e) {
		close(m->fd);
		m->fd = -1;
		return;
	}
	m->up = 1;
	m->refresh = now + REG_REFRESH;
	t->p->med_heard[k] = 1;		/* it took the connection */
	tmed_send(t, k, T_REGISTER);
}

/*
 * -t: what poll() found on punch_pollfds()'s descriptors. Returns 0
 * (P_DONE once a connection is chosen: the path's fd), or -1 with
 * p->why set when the punch failed.
 */
int
punch_events(struct punch *p, const struct pollfd *pfd, int n, int64_t now)
{
	struct tpunch *t = p->tp;
	int i, k, r;

	for (i = 0; i < n && t != NULL && p->state != P_DONE; i++) {
		if (pfd[i].revents == 0)
			continue;
		k = t->map[i];
		if (k == -1)
			tpunch_accept(t);
		else if (k <= -2 && !t->m[-2 - k].up)
			tmed_connected(t, -2 - k, now);
		else if (k <= -2) {
			if (tmed_read(t, -2 - k, now) == -1)
				return -1;
		} else if (!t->c[k].up)
			tconn_connected(t, &t->c[k], now);
		else if ((r = tconn_read(t, k)) == -1)
			tconn_drop(&t->c[k], now);
		else if (r == 1) {
			t->chosen = k;
			tpunch_finish(t, now);
		}
	}
	return 0;
}

/* Close every socket of the punch but the path's, and forget it. */
void
punch_free(struct punch *p)
{
	struct tpunch *t;
	int i;

	if (p == NULL)
		return;
	punch_close(p);
	if ((t = p->tp) != NULL) {
		for (i = 0; i < MAX_TCONNS; i++)
			if (t->c[i].fd != -1 && t->c[i].fd != p->path.fd)
				tcp_abort(t->c[i].fd);
		if (t->lfd != -1)
			close(t->lfd);
		for (i = 0; i < MAX_MEDS; i++)
			if (t->m[i].fd != -1)
				tcp_abort(t->m[i].fd);
		free(t);
	}
	free(p);
}
