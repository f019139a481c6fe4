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
 * byte cursors of wire.c.
 *
 * It faces strangers, so its budgets go by what an attacker cannot
 * multiply cheaply, a source prefix (an IPv4 address, an IPv6 /64 and
 * its /48: struct pfx), and only a source that has shown a cookie (or
 * TCP's handshake) spends them: new registrations a second, the share
 * of the table a prefix holds live, relay sessions, TCP connections.
 * STUN, never verified, has a budget of its own and answers no more
 * bytes than it was sent. A live registration never moves to another
 * source. No work per datagram or per tick grows with the table or -x:
 * the re-introductions wait in one queue per try, each in order of due
 * time, and relay sessions are found by a hash of the client id.
 *
 * Two layers, in this order in the file. The core (up to mediator_free)
 * has no socket and no clock: mediator_input takes one message with
 * where it came from and the time, and queues its answers in an outbox
 * (struct med_outq, one per socket); mediator_tick runs the timers and
 * says when it next needs the clock. Then mediate's options
 * (mediator_options). The I/O layer ("the I/O layer" below) owns the
 * sockets and the one poll() loop: it reads bursts with recvmmsg, feeds
 * them to the core, and sends what the core queued with sendmmsg; it
 * reaches the core only through the functions pnc.h declares, as
 * tests/fuzz_mediator.c does.
 */
#include <sys/types.h>
#include <sys/resource.h>
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
#define TCP_PER_SRC	16	/* ... from one IPv4 address or IPv6 /64 */
#define TCP_FRAME_MS	5000	/* ms to complete a frame once begun */
#define TCP_HELLO_MS	10000	/* ms for a first whole frame */
#define TCP_PAUSE_MS	1000	/* ms the listeners rest out of fds */
#define REXMIT_FIRST	100	/* ms before the first re-introduction */
#define REXMIT_TRIES	6	/* 100+200+...+3200 ms, then give up */
#define INTRO_CTL_TRIES	3	/* the controlled side silent this many
				   resends (700 ms): introduce the other
				   anyway, without READY */
#define ALT_WAIT	300	/* ms to wait for the copy sent to port P+1 */
#define COOKIE_EPOCH	60000	/* ms; a cookie is good for 60 to 120 s */
#define RL_SLOTS	4096	/* rate limiter buckets, by source prefix */
#define RATE_DEFAULT	20	/* new registrations per second per address */
#define STUN_RATE	20	/* STUN answers per second per address */
#define COARSE		4	/* an IPv6 /48 or IPv4 /24 gets this many
				   times a /64's or an address's rate (and
				   a larger share, below); an IPv4 /16
				   COARSE times a /24's */
#define PFX_LEVELS	3	/* prefixes of a source at most (struct pfx) */
#define PT_FIRST	1024	/* a prefix count table's first size */
#define SHARE_FINE	64	/* an IPv4 address or IPv6 /64 holds at most
				   1/64 of the table ... */
#define SHARE_COARSE	16	/* ... an IPv6 /48 or IPv4 /24 at most 1/16 */
#define SHARE_WIDE	4	/* ... and an IPv4 /16 at most 1/4 */
#define MAX_NAMES	65536	/* -n: names at once */
#define RELAY_MAX	64	/* relayed sessions at once (-x) */
#define RELAY_RATE	(2 * 1024 * 1024)	/* bytes/s per session (-b) */
#define RELAY_GLOBAL	4	/* -B: all sessions together, default, in
				   sessions' worth of -b */
#define RELAY_SHARE	16	/* a prefix is in at most 1/16 of -x
				   sessions (at least 2) */
#define RELAY_LIFE	3600000	/* ms a relayed session lives at most */
#define RELAY_CONSENT	20000	/* ms: a side silent this long through the
				   relay is sent nothing (clients keep alive
				   every KEEPALIVE_MS, 15 s) */
#define RX_BATCH	64	/* datagrams per recvmmsg */
#define TICK_MAX	1000	/* ms: the longest the core sleeps */

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
	uint8_t		sock;		/* via: index into the locals */
	uint8_t		have_dst;	/* via: b holds the destination */
	uint8_t		ttl;		/* IP TTL the REGISTER arrived with */
	uint8_t		acked;		/* PEERACK for the introduction */
	uint8_t		nloc;
	uint8_t		loclen;
	uint8_t		nq;		/* its prefixes charged (slot_pfx) */
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
	struct med_via		 via;
	const unsigned char	*locals;	/* into the slot */
};

struct entry {
	struct entry	*hnext;		/* hash chain */
	struct entry	*older, *newer;	/* expiry list, oldest first */
	struct entry	*rnext, *rprev;	/* its re-introduction queue */
	struct slot	*s[2];		/* NULL: nobody */
	int64_t		 touched;
	int64_t		 rexmit_at;
	uint32_t	 hash;		/* name_hash of group and name */
	uint32_t	 rsx;		/* its relay session + 1, or 0 */
	uint8_t		 rexmit_n;	/* which queue, when on_rexmit */
	uint8_t		 on_rexmit;
	uint8_t		 relay_want;	/* bit i: slot i asked for the relay */
	uint8_t		 introduced;
	uint8_t		 ready;		/* the controlled side acknowledged */
	uint8_t		 intro_ctl;	/* the controlling side introduced */
	uint8_t		 group;
	uint8_t		 namelen;
	char		 name[];	/* namelen bytes, not terminated */
};

/*
 * A relayed session (mediate -r): the two clients of one rendezvous, as
 * registered, both of which asked for it. Only they may send through
 * it, only to each other, and only to a side that is itself sending
 * through it (heard: consent, as TURN's permissions). Sessions are
 * found by client id (a chained hash, hnext) and kept in a list by
 * last use (older, newer: indices, -1 ends), so that nothing the relay
 * does per datagram or per tick walks all -x sessions.
 */
struct rsess {
	uint64_t	 id[2];		/* 0: free */
	struct ep	 pub[2];
	struct med_via	 via[2];
	struct entry	*e;		/* the rendezvous: they end together */
	int64_t		 born, last;	/* ms: lifetime, idle expiry */
	int64_t		 heard[2];	/* ms: last datagram from side j */
	int64_t		 tat;		/* us: GCRA over bytes, the rate cap */
	uint64_t	 bytes;
	int32_t		 hnext[2];	/* id chains: session * 2 + side */
	int32_t		 older, newer;	/* use list; older: next free */
	uint8_t		 nq[2];
	uint64_t	 q[2][PFX_LEVELS];	/* each side's prefix keys */
};

/* A rate limiter bucket (GCRA): when the next registration is due. */
struct rl {
	uint64_t	key;		/* hash of the source prefix */
	int64_t		tat;		/* theoretical arrival time, us */
};

/*
 * A source's prefixes, as keyed hashes, finest first: an IPv4 address,
 * its /24 and its /16; an IPv6 /64 and its /48. Budgets go by these, not
 * by the whole address: an attacker has one IPv4 address or a /64 (or a
 * /48) as cheaply as one IPv6 address, and many IPv4 addresses only
 * from a few /24s of one /16 (AnyIP on a routed block).
 */
struct pfx {
	int		n;
	uint64_t	k[PFX_LEVELS];	/* never 0 */
};

/*
 * Counts by prefix key (live names, relay sessions, TCP clients), exact:
 * open addressing with linear probing, at most half full, grown ahead
 * of need (pt_reserve). A key of 0 marks an empty cell.
 */
struct pcount {
	uint64_t	k;
	uint32_t	n;
};

struct ptab {
	struct pcount	*t;
	uint32_t	 cap, used;	/* cap: a power of 2, or 0 */
};

/* The re-introductions: a queue per try, each in order of due time. */
struct rqueue {
	struct entry	*head, *tail;
};

/*
 * The core: the name table, the relay sessions, the rate limiter, what
 * it knows of the local sockets, and the outbox.
 */
struct mediator {
	struct med_local locals[MED_SOCKS];
	int		 nlocals;
	int		 has_alt;	/* some socket serves P+1 */
	struct med_outq	 udpq[MED_SOCKS];	/* one queue per socket ... */
	struct med_outq	 tcpq;		/* ... and one for TCP clients */
	med_drain_fn	*drain;		/* sends a queue: the I/O layer's */
	void		*drain_arg;
	struct entry	**buckets;
	size_t		 nbuckets;	/* a power of two, grown with count */
	struct entry	**old;		/* the table before, being moved */
	size_t		 nold, moved;	/* its size, its buckets moved */
	size_t		 count, max;
	struct entry	*oldest, *newest;
	struct rqueue	 rq[REXMIT_TRIES];	/* re-introductions */
	uint64_t	 cookie_key[2];	/* SipHash keys: per-process secrets */
	uint64_t	 hash_key[2];	/* ... for the name and rate tables */
	struct rl	*rl;		/* RL_SLOTS buckets, or NULL: no limit */
	int		 rate;		/* new registrations/s per prefix */
	struct rl	*stun_rl;	/* STUN's own budget, RL_SLOTS */
	struct ptab	 live;		/* live names per prefix */
	uint32_t	 share[PFX_LEVELS];	/* most a prefix holds, by level */
	struct rsess	*rs;		/* relay sessions, or NULL: no relay */
	int		 rs_max;
	int32_t		*rs_hash;	/* rs_nhash chains, by client id */
	uint32_t	 rs_nhash;
	int32_t		 rs_free;	/* free sessions, by older */
	int32_t		 rs_oldest, rs_newest;	/* by last use */
	struct ptab	 rs_src;	/* sessions per prefix */
	uint32_t	 rs_share[PFX_LEVELS];
	int64_t		 rs_rate;	/* bytes per second per session */
	int64_t		 rs_cap;	/* bytes per session, 0: no cap */
	int64_t		 rs_grate;	/* bytes per second, all sessions */
	int64_t		 rs_gtat;	/* us: GCRA of all sessions */
	struct med_stats st;
};

static void	cookie_make(const struct mediator *, const struct ep *, int64_t,
		    unsigned char *);
static void	drop(struct mediator *, const struct ep *, const char *);

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
	struct rqueue *q = &m->rq[e->rexmit_n];

	if (!e->on_rexmit)
		return;
	if (e->rprev != NULL)
		e->rprev->rnext = e->rnext;
	else
		q->head = e->rnext;
	if (e->rnext != NULL)
		e->rnext->rprev = e->rprev;
	else
		q->tail = e->rprev;
	e->rnext = e->rprev = NULL;
	e->on_rexmit = 0;
}

/*
 * e to the tail of queue n, due at `at`. Every entry of queue n was
 * put there as now + REXMIT_FIRST << n, and the clock does not go
 * back: each queue is in order of due time, and the timers cost the
 * same with 20 pending pairs or 20 000.
 */
static void
rexmit_push(struct mediator *m, struct entry *e, int n, int64_t at)
{
	struct rqueue *q = &m->rq[n];

	rexmit_remove(m, e);
	e->rexmit_n = (uint8_t)n;
	e->rexmit_at = at;
	e->rprev = q->tail;
	e->rnext = NULL;
	if (q->tail != NULL)
		q->tail->rnext = e;
	else
		q->head = e;
	q->tail = e;
	e->on_rexmit = 1;
}

static void	rs_close(struct mediator *, struct rsess *);

/* The cell of key k in pt, or the empty cell where it would go. */
static struct pcount *
pt_cell(const struct ptab *pt, uint64_t k)
{
	uint32_t i, mask = pt->cap - 1;

	for (i = (uint32_t)k & mask; pt->t[i].k != 0 && pt->t[i].k != k;
	    i = (i + 1) & mask)
		;
	return &pt->t[i];
}

static uint32_t
pt_get(const struct ptab *pt, uint64_t k)
{
	const struct pcount *c;

	if (pt->cap == 0 || (c = pt_cell(pt, k))->k == 0)
		return 0;
	return c->n;
}

/*
 * Room for more keys: the table grows (rehashed) before it would be half
 * full. An exact count, where one hashed cell per prefix let two
 * prefixes whose hashes met share one quota (of 63 addresses, two met in
 * 6% of mediators and were refused before their share).
 */
static int
pt_reserve(struct ptab *pt, uint32_t more)
{
	struct ptab nt;
	uint32_t i;

	if ((uint64_t)(pt->used + more) * 2 <= pt->cap)
		return 0;
	for (nt.cap = pt->cap ? pt->cap : PT_FIRST;
	    (uint64_t)(pt->used + more) * 2 > nt.cap; nt.cap *= 2)
		if (nt.cap >= UINT32_MAX / 4)
			return -1;
	if ((nt.t = calloc(nt.cap, sizeof(*nt.t))) == NULL)
		return -1;
	nt.used = pt->used;
	for (i = 0; i < pt->cap; i++)
		if (pt->t[i].k != 0)
			*pt_cell(&nt, pt->t[i].k) = pt->t[i];
	free(pt->t);
	*pt = nt;
	return 0;
}

/* Linear probing's deletion: later cells of the run shift back. */
static void
pt_del(struct ptab *pt, struct pcount *c)
{
	uint32_t i = (uint32_t)(c - pt->t), j = i, mask = pt->cap - 1;

	pt->t[i].k = 0;
	pt->used--;
	for (;;) {
		j = (j + 1) & mask;
		if (pt->t[j].k == 0)
			return;
		/* j's home is not cyclically in (i, j]: it may fill i */
		if (((j - (uint32_t)pt->t[j].k) & mask) >= ((j - i) & mask)) {
			pt->t[i] = pt->t[j];
			pt->t[j].k = 0;
			i = j;
		}
	}
}

/* Count d more for key k (d > 0 after pt_reserve; d < 0 for a key in). */
static void
pt_add(struct ptab *pt, uint64_t k, int d)
{
	struct pcount *c;

	if (pt->cap == 0)
		return;
	if ((c = pt_cell(pt, k))->k == 0) {
		if (d <= 0)
			return;
		c->k = k;
		c->n = 0;
		pt->used++;
	}
	c->n += (uint32_t)d;
	if (c->n == 0)
		pt_del(pt, c);
}

static void	pfx_of(const struct mediator *, const struct ep *,
		    struct pfx *);
static void	slot_unpack(const struct slot *, struct slotv *);

/*
 * The prefixes slot s is charged to: its address's, on P or (only the
 * copy so far) P+1. Computed, not kept: 24 bytes a slot, and the
 * address a live slot holds never changes (register_same_source).
 */
static struct ep
slot_addr(const struct slot *s)
{
	struct slotv v;

	slot_unpack(s, &v);
	return v.have_pub ? v.pub : v.alt;
}

static void
slot_pfx(const struct mediator *m, const struct slot *s, struct pfx *p)
{
	struct ep a = slot_addr(s);

	pfx_of(m, &a, p);
}

/* Take back the charges p of a slot (slot_release, a moved slot). */
static void
pfx_give(struct mediator *m, const struct pfx *p, int n)
{
	int i;

	for (i = 0; i < n && i < p->n; i++)
		pt_add(&m->live, p->k[i], -1);
}

/* Give back what slot s holds of its prefixes' share; then free it. */
static void
slot_release(struct mediator *m, struct slot *s)
{
	struct pfx p;

	if (s == NULL || s->nq == 0)
		return;
	slot_pfx(m, s, &p);
	pfx_give(m, &p, s->nq);
	s->nq = 0;
}

/* The clients of e are gone, and with them their relay session. */
static void
slots_free(struct mediator *m, struct entry *e)
{
	if (e->rsx != 0)
		rs_close(m, &m->rs[e->rsx - 1]);
	slot_release(m, e->s[0]);
	slot_release(m, e->s[1]);
	free(e->s[0]);
	free(e->s[1]);
	e->s[0] = e->s[1] = NULL;
	e->relay_want = 0;
}

static void
entry_free(struct mediator *m, struct entry *e)
{
	struct entry **ep = entry_ref(m, e->group, e->name, e->namelen);

	if (*ep == e)
		*ep = e->hnext;
	rexmit_remove(m, e);
	list_unlink(m, e);
	slots_free(m, e);
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

/* ---- the outbox: answers queued for the I/O layer ---- */

static struct med_outq *
queue_of(struct mediator *m, const struct med_via *via)
{
	return via->tcp ? &m->tcpq : &m->udpq[via->sock];
}

/* Hand q to the I/O layer to send; it is empty afterwards. */
static void
drain(struct mediator *m, struct med_outq *q)
{
	m->drain(m->drain_arg, q == &m->tcpq ? -1 : (int)(q - m->udpq), q);
	q->n = 0;
}

/* The next send of q, to `to` the way via came; a full q is sent first. */
static struct med_send *
out_add(struct mediator *m, struct med_outq *q, const struct ep *to,
    const struct med_via *via)
{
	struct med_send *s;

	if (q->n == MED_BATCH)
		drain(m, q);
	s = &q->s[q->n++];
	s->to = *to;
	s->via = *via;
	return s;
}

/*
 * Queue buf to a client, to leave from the address it reached us at;
 * the I/O layer sends the queues when a burst of input is handled.
 */
static void
reply(struct mediator *m, const struct ep *to, const struct med_via *via,
    const void *buf, size_t len)
{
	struct med_outq *q = queue_of(m, via);
	struct med_send *s;

	if (len > MED_REPLY_MAX)
		return;		/* none is: see MED_REPLY_MAX */
	s = out_add(m, q, to, via);
	memcpy(q->buf[s - q->s], buf, len);
	s->data = q->buf[s - q->s];
	s->len = len;
}

/*
 * A relayed datagram, too big for a queue's buffers: it goes out at
 * once, after what is queued for its socket, from the input's bytes.
 */
static void
reply_now(struct mediator *m, const struct ep *to, const struct med_via *via,
    const unsigned char *buf, size_t len)
{
	struct med_outq *q = queue_of(m, via);
	struct med_send *s;

	s = out_add(m, q, to, via);
	s->data = buf;
	s->len = len;
	drain(m, q);
}

/*
 * A reply to a source that has not shown a cookie: never more bytes than
 * the request, so that the mediator cannot amplify a forged flood.
 */
static void
reply_capped(struct mediator *m, const struct ep *to, const struct med_via *via,
    const void *buf, size_t len, size_t cap)
{
	if (len > cap) {
		m->st.capped++;
		return;
	}
	reply(m, to, via, buf, len);
}

static void
send_error(struct mediator *m, const struct ep *to, const struct med_via *via,
    uint64_t id, int code, const char *text, size_t cap)
{
	unsigned char buf[256];
	struct wr w;
	size_t n = strlen(text);

	wr_init(&w, buf, sizeof(buf));
	wr_error(&w, id, code, text, n);
	if (!w.bad)
		reply_capped(m, to, via, buf, w.len, cap);
}

/* REGISTERED: ttl 0 when it only hands out the cookie. */
static void
send_registered(struct mediator *m, const struct ep *to,
    const struct med_via *via, uint64_t id, int ttl, size_t cap, int64_t now)
{
	unsigned char buf[64], c[COOKIE_LEN];
	struct wr w;

	cookie_make(m, to, now / COOKIE_EPOCH, c);
	wr_init(&w, buf, sizeof(buf));
	wr_registered(&w, id, to, ttl, c);
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

/* The flags of slot i's introduction (PEER_*). */
static int
peer_flags(const struct mediator *m, const struct entry *e, int i,
    const struct slotv *mv, const struct slotv *pv)
{
	int flags = 0;

	if (i == ctl_slot(e))
		flags |= PEER_CONTROLLING;
	if (slot_epdep(mv))
		flags |= PEER_YOU_EPDEP;
	if (slot_epdep(pv))
		flags |= PEER_THEY_EPDEP;
	if (i == ctl_slot(e) && e->ready)
		flags |= PEER_READY;
	if (m->rs != NULL && e->group < GROUP_TCP)
		flags |= PEER_RELAY;
	return flags;
}

/*
 * Tell slot i of e about the other slot. The peer's locals were checked
 * when it registered (rd_reg): read back, they cannot fail.
 */
static void
send_peer(struct mediator *m, const struct entry *e, int i)
{
	const struct slot *me = e->s[i], *peer = e->s[1 - i];
	struct slotv mv, pv;
	struct intro in;
	unsigned char buf[256];
	struct wr w;
	struct rd r;

	if (me == NULL || peer == NULL)
		return;
	slot_unpack(me, &mv);
	slot_unpack(peer, &pv);
	in.flags = peer_flags(m, e, i, &mv, &pv);
	in.ttl = me->ttl;
	in.peer_id = peer->id;
	in.you = mv.pub;
	in.them = pv.pub;
	rd_init(&r, pv.locals, peer->loclen);
	for (in.nlocals = 0; in.nlocals < peer->nloc; in.nlocals++)
		if (rd_ep(&r, &in.locals[in.nlocals]) == -1)
			return;
	wr_init(&w, buf, sizeof(buf));
	wr_intro(&w, me->id, &in);
	if (!w.bad)
		reply(m, &mv.pub, &mv.via, buf, w.len);
}

/* Repeat e's introductions until acknowledged, from the first delay. */
static void
rexmit_start(struct mediator *m, struct entry *e, int64_t now)
{
	rexmit_push(m, e, 0, now + REXMIT_FIRST);
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

	if (cookie_zero(cookie))
		return 0;
	cookie_make(m, from, epoch, c);
	if (ct_equal(c, cookie, COOKIE_LEN))
		return 1;
	cookie_make(m, from, epoch - 1, c);
	return ct_equal(c, cookie, COOKIE_LEN);
}

static uint64_t
pfx_key(const uint64_t key[2], const unsigned char *a, size_t n)
{
	uint64_t k = siphash24(key, a, n);

	return k != 0 ? k : 1;
}

/* The prefixes of from's address (struct pfx), hashed under key. */
static void
pfx_hash(const uint64_t key[2], const struct ep *from, struct pfx *p)
{
	unsigned char a[1 + 8];

	if (from->u.sa.sa_family == AF_INET6) {
		a[0] = 0xfd;	/* never a name's group (name_hash) */
		memcpy(a + 1, &from->u.in6.sin6_addr, 8);
		p->k[0] = pfx_key(key, a, 1 + 8);
		a[0] = 0xfc;
		p->k[1] = pfx_key(key, a, 1 + 6);
		p->n = 2;
	} else {
		a[0] = 0xff;
		memcpy(a + 1, &from->u.in.sin_addr, 4);
		p->k[0] = pfx_key(key, a, 1 + 4);
		a[0] = 0xfe;
		p->k[1] = pfx_key(key, a, 1 + 3);
		a[0] = 0xfb;
		p->k[2] = pfx_key(key, a, 1 + 2);
		p->n = 3;
	}
}

static void
pfx_of(const struct mediator *m, const struct ep *from, struct pfx *p)
{
	pfx_hash(m->hash_key, from, p);
}

/* A prefix of level i (struct pfx) gets this many times a finest one's. */
static int
coarse(int i)
{
	return i == 0 ? 1 : i == 1 ? COARSE : COARSE * COARSE;
}

/*
 * At most rate a second per prefix (not port: ports are free to vary;
 * a coarser prefix coarse() times a finest one's) from table tab, GCRA with a
 * second's burst. Prefixes share a bucket when their hashes collide; a
 * busy bucket is then shared, which errs on the side of refusing.
 */
static int
rate_ok(struct rl *tab, int rate, const struct pfx *p, int64_t now)
{
	struct rl *b[PFX_LEVELS];
	int64_t t = now * 1000, gap[PFX_LEVELS];
	int i, r;

	for (i = 0; i < p->n; i++) {
		r = rate * coarse(i);
		gap[i] = 1000000 / r;
		b[i] = &tab[p->k[i] % RL_SLOTS];
		if (b[i]->key != p->k[i] && b[i]->tat <= t)
			b[i]->key = p->k[i];	/* an idle bucket: new hands */
		if (b[i]->tat < t)
			b[i]->tat = t;
		if (b[i]->tat - t > gap[i] * (r - 1))
			return 0;
	}
	for (i = 0; i < p->n; i++)
		b[i]->tat += gap[i];
	return 1;
}

/*
 * Room in p's share of the table: the names its clients hold live,
 * refreshed or not, count (slot_release gives them back).
 */
static int
quota_ok(const struct mediator *m, const struct pfx *p)
{
	int i;

	for (i = 0; i < p->n; i++)
		if (pt_get(&m->live, p->k[i]) >= m->share[i])
			return 0;
	return 1;
}

static void
quota_take(struct mediator *m, struct slot *s, const struct pfx *p)
{
	int i;

	for (i = 0; i < p->n; i++)
		pt_add(&m->live, p->k[i], 1);
	s->nq = (uint8_t)p->n;
}

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
    const struct med_via *via, int64_t now)
{
	unsigned char tail[SLOT_TAIL_MAX], *p = tail;
	const unsigned char *loc;
	struct slot hdr, *s;
	struct slotv v;
	size_t n;
	int keep;

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
	/*
	 * The candidates are P's to set: the copy to P+1 is read from
	 * another socket, so a copy sent before a REGISTER with a new
	 * candidate (a port mapping granted in between) can be read after
	 * it, and would take the candidate back before the introduction.
	 */
	keep = rg->alt && v.have_pub;
	loc = keep ? v.locals : rg->locals;
	hdr.nloc = keep ? hdr.nloc : rg->nloc;
	hdr.loclen = keep ? hdr.loclen : (uint8_t)rg->loclen;
	p += cep_put(p, v.have_pub ? &v.pub : NULL);
	p += cep_put(p, v.have_alt ? &v.alt : NULL);
	if (hdr.have_dst) {	/* of pub's family, as slot_dstlen reads it */
		n = tail[0] == 6 ? 16 : 4;
		memcpy(p, &v.via.dst, n);
		p += n;
	}
	if (hdr.loclen > 0)
		memcpy(p, loc, hdr.loclen);
	p += hdr.loclen;
	n = (size_t)(p - tail);
	if ((s = realloc(old, offsetof(struct slot, b) + n)) == NULL)
		return NULL;
	memcpy(s, &hdr, offsetof(struct slot, b));
	memcpy(s->b, tail, n);
	return s;
}

/*
 * The checks before a REGISTER may take a slot: return routability
 * (its cookie), the source's rate, room in the table. Returns the
 * entry of its name, or NULL when it was answered with a refusal.
 */
static struct entry *
register_admit(struct mediator *m, const struct reg *rg,
    const struct ep *from, const struct med_via *via, struct pfx *p,
    int64_t now)
{
	int group = reg_group(rg);
	struct entry *e;
	struct slotv v;
	int i, exempt;

	/*
	 * TCP's handshake already proved the source. A copy to P+1 of a
	 * registration made on P needs no cookie of its own: it only adds
	 * the mapping seen on P+1 (which a symmetric NAT makes anew, with a
	 * port the cookie does not cover), and nothing is sent to it. That
	 * test goes first: the MAC is the dearest part of a REGISTER.
	 */
	e = *entry_ref(m, group, rg->name, rg->namelen);
	i = e != NULL ? slot_of(e, rg->id) : -1;
	exempt = 0;
	if (rg->alt && i != -1 && !slot_have_alt(e->s[i])) {
		slot_unpack(e->s[i], &v);	/* from the address on P */
		exempt = ep_equal_addr(from, &v.pub);
	}
	if (!rg->tcp && !exempt && !cookie_ok(m, from, rg->cookie, now)) {
		m->st.cookies++;
		send_registered(m, from, via, rg->id, 0, rg->len, now);
		return NULL;
	}
	if (i != -1)
		return e;
	/* A new client: its prefixes' rate, and their share of the table. */
	pfx_of(m, from, p);
	if (m->rl != NULL && !rate_ok(m->rl, m->rate, p, now)) {
		m->st.ratelimited++;
		send_error(m, from, via, rg->id, E_RATE,
		    "too many registrations from your address, try later",
		    SIZE_MAX);
		return NULL;
	}
	/* Over its share of a full table: the table is what to say. */
	if (!quota_ok(m, p) && (m->count < m->max ||
	    *entry_ref(m, group, rg->name, rg->namelen) != NULL)) {
		m->st.ratelimited++;
		send_error(m, from, via, rg->id, E_RATE,
		    "too many names from your network, try later", SIZE_MAX);
		return NULL;
	}
	if ((e = entry_get(m, group, rg->name, rg->namelen, now)) == NULL) {
		m->st.refused++;
		send_error(m, from, via, rg->id, E_FULL,
		    "mediator table full, try later", SIZE_MAX);
		return NULL;
	}
	return e;
}

/*
 * The slot of e that rg's client has, or the one it takes now. Returns
 * its index, or -1 when the name is taken (answered with E_BUSY).
 */
static int
register_slot(struct mediator *m, struct entry *e, const struct reg *rg,
    const struct ep *from, const struct med_via *via, int64_t now)
{
	char a[80];
	int i;

	if ((i = slot_of(e, rg->id)) != -1)
		return i;
	/*
	 * A newcomer after an introduction starts a new meeting; not while
	 * the pair is relayed (its traffic keeps the registrations live).
	 */
	if (e->introduced && e->rsx == 0) {
		slots_free(m, e);
		e->introduced = 0;
		rexmit_remove(m, e);
	}
	if ((i = slot_pick(e, rg->role, now)) == -1) {
		m->st.refused++;
		send_error(m, from, via, rg->id, E_BUSY,
		    "name in use by another client of that role", SIZE_MAX);
		return -1;
	}
	m->st.registered++;
	if (verbose)	/* not ep_str for nothing, at every name */
		vlog("registered %.*s role %d from %s", (int)rg->namelen,
		    rg->name, rg->role, ep_str(from, a, sizeof(a)));
	return i;
}

/*
 * Slot i of e has taken in a REGISTER (fresh_alt: the first copy to
 * P+1): introduce the pair if both are complete, or tell the client
 * where it stands.
 */
static void
register_answer(struct mediator *m, struct entry *e, int i,
    const struct reg *rg, const struct ep *from, const struct med_via *via,
    int fresh_alt, int64_t now)
{
	struct slot *s = e->s[i];
	struct slotv v;

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
		else if (!rg->alt || fresh_alt) {
			/* This copy completed the slot: registered. */
			slot_unpack(s, &v);
			send_registered(m, &v.pub, &v.via, s->id, REG_TTL,
			    SIZE_MAX, now);
		}
	}
}

/*
 * A live registration's endpoint never moves: not to another source,
 * whatever cookie that source has for itself (it may have learned the
 * id as the peer), and its copy to P+1 comes from the same address.
 * Over TCP the client reconnects when its connection drops (PROTOCOL
 * 9.1), from another port: the same address will do there. Returns 1
 * if rg may update s.
 */
static int
register_same_source(const struct slot *s, const struct reg *rg,
    const struct ep *from, int64_t now)
{
	struct slotv v;

	if (!slot_live(s, now))
		return 1;
	slot_unpack(s, &v);
	if (rg->tcp)
		return ep_equal_addr(from, &v.pub);
	if (rg->alt)
		return v.have_alt ? ep_equal(from, &v.alt) :
		    !v.have_pub || ep_equal_addr(from, &v.pub);
	return v.have_pub ? ep_equal(from, &v.pub) :
	    !v.have_alt || ep_equal_addr(from, &v.alt);
}

/* Does rg announce other candidates than slot s holds? */
static int
locals_differ(const struct slot *s, const struct reg *rg)
{
	struct slotv v;

	slot_unpack(s, &v);
	return s->nloc != rg->nloc || s->loclen != rg->loclen ||
	    (rg->loclen > 0 && memcmp(v.locals, rg->locals, rg->loclen) != 0);
}

/*
 * A client of introduced pair e changed its candidates (a port mapping
 * its gateway granted after the introduction, punch.c): slot o, the
 * other side, hears them in a repeated introduction, resent until it
 * acknowledges. A controlling side not introduced yet will get them
 * with its introduction.
 */
static void
reannounce(struct mediator *m, struct entry *e, int o, int64_t now)
{
	if (e->s[o] == NULL || (o == ctl_slot(e) && !e->intro_ctl))
		return;
	e->s[o]->acked = 0;
	send_peer(m, e, o);
	rexmit_start(m, e, now);
}

static void
handle_register(struct mediator *m, const struct reg *rg,
    const struct ep *from, const struct med_via *via, int64_t now)
{
	struct entry *e;
	struct slot *s;
	struct pfx p, was;
	struct ep a;
	int i, fresh_alt, isnew, newcands, moved = 0;

	if ((e = register_admit(m, rg, from, via, &p, now)) == NULL ||
	    (i = register_slot(m, e, rg, from, via, now)) == -1)
		return;
	s = e->s[i];
	if ((isnew = s == NULL || s->id != rg->id) == 0 &&
	    !register_same_source(s, rg, from, now)) {
		m->st.refused++;
		send_error(m, from, via, rg->id, E_BUSY,
		    "name in use from another endpoint", SIZE_MAX);
		return;
	}
	if (isnew)
		slot_release(m, s);	/* a dead client's, reused */
	else if (s->nq != 0) {
		/* A dead registration back from elsewhere: charged anew. */
		a = slot_addr(s);
		if ((moved = !ep_equal_addr(from, &a)) != 0)
			pfx_of(m, &a, &was);
	}
	newcands = !isnew && e->introduced && !rg->alt && locals_differ(s, rg);
	fresh_alt = rg->alt && (isnew || !slot_have_alt(s));
	if (((isnew || moved) && pt_reserve(&m->live, PFX_LEVELS) == -1) ||
	    (s = slot_update(s, rg, from, via, now)) == NULL) {
		m->st.refused++;
		send_error(m, from, via, rg->id, E_FULL,
		    "mediator out of memory, try later", SIZE_MAX);
		return;
	}
	if (moved) {
		pfx_give(m, &was, s->nq);
		pfx_of(m, from, &p);
	}
	if (isnew || moved)
		quota_take(m, s, &p);
	e->s[i] = s;
	entry_touch(m, e, now);
	if (slot_have_pub(s))	/* else only the copy to P+1 so far */
		register_answer(m, e, i, rg, from, via, fresh_alt, now);
	if (newcands)
		reannounce(m, e, 1 - i, now);
}

/* From where slot s registered, on P or P+1? */
static int
slot_from(const struct slot *s, const struct ep *from)
{
	struct slotv v;

	slot_unpack(s, &v);
	return (v.have_pub && ep_equal(from, &v.pub)) ||
	    (v.have_alt && ep_equal(from, &v.alt));
}

/* An acknowledgement counts only from the client's registered endpoint. */
static void
handle_peerack(struct mediator *m, const struct reg *rg,
    const struct ep *from, int64_t now)
{
	int group = reg_group(rg);
	struct entry *e = *entry_ref(m, group, rg->name, rg->namelen);
	int i;

	if (e == NULL)
		return;
	if ((i = slot_of(e, rg->id)) != -1 && !slot_from(e->s[i], from))
		return drop(m, from,
		    "PEERACK not from the registered endpoint");
	if (i != -1) {
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
	const struct med_local *a = &m->locals[k];
	int i;

	for (i = 0; i < m->nlocals; i++) {
		const struct med_local *b = &m->locals[i];

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
    const struct ep *from, const struct med_via *via, size_t len)
{
	struct bound b;
	unsigned char buf[128];
	struct med_via v = *via;
	struct wr w;
	int want, k;

	if (rd_bind(r, &b.tx, &want) == -1)
		return drop(m, from, "malformed BIND");
	b.got = 0;
	if (want & (BIND_OTHER_PORT | BIND_OTHER_ADDR)) {
		k = other_socket(m, via->sock, (want & BIND_OTHER_PORT) != 0,
		    (want & BIND_OTHER_ADDR) != 0);
		if (k != -1) {
			v.sock = k;
			b.got = want & (BIND_OTHER_PORT | BIND_OTHER_ADDR);
		}
	}
	b.seen = *from;
	k = other_socket(m, via->sock, 0, 1);
	if ((b.have_other = k != -1))
		b.other = m->locals[k].bound;
	wr_init(&w, buf, sizeof(buf));
	wr_bound(&w, id, &b);
	if (!w.bad)
		reply_capped(m, from, &v, buf, w.len, len);
}

/*
 * A STUN Binding request (RFC 8489) on the same port: the mapped address,
 * from the other port and/or address when CHANGE-REQUEST asks (RFC
 * 5780), and OTHER-ADDRESS when there is one and the answer still fits.
 * A STUN source is never verified, so STUN has a budget of its own (a
 * forged flood in a victim's name spends no budget its registrations
 * need) and no answer is longer than its request: a bare 20-byte
 * request, whose answer is 32 bytes (44 over IPv6), goes unanswered;
 * a client pads it (PADDING, SOFTWARE) to be answered. RESPONSE-PORT
 * would aim the answer at a port the source may not own: refused.
 */
static void
handle_stun(struct mediator *m, const unsigned char *buf, size_t len,
    const struct ep *from, const struct med_via *via, int64_t now)
{
	unsigned char out[128];
	struct stun s;
	struct med_via v = *via;
	struct pfx p;
	size_t n;
	int k, o;

	if (via->tcp || stun_parse(buf, len, &s) == -1 ||
	    s.type != STUN_BINDING)
		return drop(m, from, "malformed or unexpected STUN");
	if (s.response_port)
		return drop(m, from, "STUN RESPONSE-PORT: refused");
	pfx_of(m, from, &p);
	if (!rate_ok(m->stun_rl, STUN_RATE, &p, now)) {
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
	o = other_socket(m, via->sock, 1, 1);
	n = stun_response(&s, from, o != -1 ? &m->locals[o].bound : NULL,
	    out, sizeof(out));
	if (n > len && o != -1)		/* without OTHER-ADDRESS */
		n = stun_response(&s, from, NULL, out, sizeof(out));
	if (n > 0 && n <= len)
		m->st.stun++;
	if (n > 0)
		reply_capped(m, from, &v, out, n, len);
}

/* ---- the relay (mediate -r, README "Relay") ---- */

/* The chain of client id's sessions: entries are session * 2 + side. */
static int32_t *
rs_chain(struct mediator *m, uint64_t id)
{
	unsigned char b[8];
	struct wr w;

	wr_init(&w, b, sizeof(b));
	wr_u64(&w, id);
	return &m->rs_hash[siphash24(m->hash_key, b, 8) & (m->rs_nhash - 1)];
}

/*
 * The relay session with client id registered at from (side *j), or
 * NULL. Not by id alone: a peer knows the other's id, and could open a
 * session of its own under it.
 */
static struct rsess *
rs_find(struct mediator *m, uint64_t id, const struct ep *from, int *j)
{
	int32_t c;

	if (m->rs == NULL)
		return NULL;
	for (c = *rs_chain(m, id); c != -1; c = m->rs[c / 2].hnext[c % 2])
		if (m->rs[c / 2].id[c % 2] == id &&
		    ep_equal(from, &m->rs[c / 2].pub[c % 2])) {
			*j = c % 2;
			return &m->rs[c / 2];
		}
	return NULL;
}

/* Take session rs out of (on 0) or put it at the young end of the use list. */
static void
rs_use(struct mediator *m, struct rsess *rs, int on)
{
	int32_t k = (int32_t)(rs - m->rs);

	if (rs->older != -1)
		m->rs[rs->older].newer = rs->newer;
	else if (m->rs_oldest == k)
		m->rs_oldest = rs->newer;
	if (rs->newer != -1)
		m->rs[rs->newer].older = rs->older;
	else if (m->rs_newest == k)
		m->rs_newest = rs->older;
	rs->older = rs->newer = -1;
	if (!on)
		return;
	rs->older = m->rs_newest;
	if (m->rs_newest != -1)
		m->rs[m->rs_newest].newer = k;
	else
		m->rs_oldest = k;
	m->rs_newest = k;
}

/* Charge (d 1) or give back (d -1) each side's prefixes' session count. */
static int
rs_charge(struct mediator *m, struct rsess *rs, int d)
{
	int i, j, over = 0;

	for (j = 0; j < 2; j++)
		for (i = 0; i < rs->nq[j]; i++) {
			pt_add(&m->rs_src, rs->q[j][i], d);
			over |= pt_get(&m->rs_src, rs->q[j][i]) >
			    m->rs_share[i];
		}
	return over;
}

static void
rs_close(struct mediator *m, struct rsess *rs)
{
	int32_t k = (int32_t)(rs - m->rs), *cp;
	int j;

	vlog("relay session closed after %llu bytes",
	    (unsigned long long)rs->bytes);
	for (j = 0; j < 2; j++) {
		for (cp = rs_chain(m, rs->id[j]); *cp != 2 * k + j;
		    cp = &m->rs[*cp / 2].hnext[*cp % 2])
			;
		*cp = rs->hnext[j];
	}
	(void)rs_charge(m, rs, -1);
	rs_use(m, rs, 0);
	rs->e->rsx = 0;
	rs->e->relay_want = 0;		/* a new session: both ask again */
	rs->id[0] = rs->id[1] = 0;
	rs->older = m->rs_free;
	m->rs_free = k;
}

/*
 * A session for e, whose two clients (registered as v) have both asked
 * for it. Returns NULL, or why not.
 */
static const char *
rs_open(struct mediator *m, struct entry *e, const struct slotv *v,
    int64_t now)
{
	struct rsess *rs;
	struct pfx p;
	int32_t k, *cp, next;
	int i, j;

	if ((k = m->rs_free) == -1)
		return "relay full: all sessions in use, try later";
	if (pt_reserve(&m->rs_src, 2 * PFX_LEVELS) == -1)
		return "relay: out of memory, try later";
	rs = &m->rs[k];
	next = rs->older;
	memset(rs, 0, sizeof(*rs));
	rs->older = rs->newer = -1;
	for (j = 0; j < 2; j++) {
		pfx_of(m, &v[j].pub, &p);
		rs->nq[j] = (uint8_t)p.n;
		for (i = 0; i < p.n; i++)
			rs->q[j][i] = p.k[i];
	}
	if (rs_charge(m, rs, 1)) {
		(void)rs_charge(m, rs, -1);
		rs->older = next;
		return "relay: too many sessions from your network, try later";
	}
	m->rs_free = next;
	for (j = 0; j < 2; j++) {
		rs->id[j] = e->s[j]->id;
		rs->pub[j] = v[j].pub;
		rs->via[j] = v[j].via;
		rs->heard[j] = now;
		cp = rs_chain(m, rs->id[j]);
		rs->hnext[j] = *cp;
		*cp = 2 * k + j;
	}
	rs->e = e;
	e->rsx = (uint32_t)k + 1;
	rs->born = rs->last = now;
	rs->tat = now * 1000;
	rs_use(m, rs, 1);
	m->st.relayed++;
	vlog("relaying %.*s", e->namelen, e->name);
	return NULL;
}

static void
send_relayok(struct mediator *m, const struct ep *to, const struct med_via *via,
    uint64_t id)
{
	unsigned char buf[HDR_LEN];
	struct wr w;

	wr_init(&w, buf, sizeof(buf));
	wr_hdr(&w, T_RELAYOK, id);
	reply(m, to, via, buf, w.len);
}

/*
 * A client of an introduced pair asks for the relay: it must come from
 * the endpoint it registered. The pair gets a session when both have
 * asked, and both are told; until then the asker hears nothing (it asks
 * again).
 */
static void
handle_relayreq(struct mediator *m, const struct reg *rg,
    const struct ep *from, const struct med_via *via, int64_t now)
{
	int group = reg_group(rg);
	struct entry *e = *entry_ref(m, group, rg->name, rg->namelen);
	struct slotv v[2];
	const char *why;
	int i;

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
	e->relay_want |= (uint8_t)(1 << i);
	e->s[i]->seen = now;		/* from its endpoint: it is alive */
	entry_touch(m, e, now);
	if (e->rsx == 0) {
		if (e->relay_want != 3)
			return;		/* the other side has not asked */
		if ((why = rs_open(m, e, v, now)) != NULL) {
			m->st.refused++;
			send_error(m, from, via, rg->id, E_RELAY, why,
			    SIZE_MAX);
			return;
		}
		send_relayok(m, &v[1 - i].pub, &v[1 - i].via, e->s[1 - i]->id);
	}
	m->rs[e->rsx - 1].heard[i] = now;
	send_relayok(m, from, via, rg->id);
}

/*
 * One side's session is over (T_RELAYEND, from its registered endpoint):
 * the relay session ends now, not after 30 s idle, and its slot and its
 * sources' shares go to the next pair. An attacker would need the id
 * and the endpoint, as for RELAY itself.
 */
static void
handle_relayend(struct mediator *m, size_t len, uint64_t id,
    const struct ep *from)
{
	struct rsess *rs;
	int j;

	if (len != HDR_LEN)
		return drop(m, from, "malformed RELAYEND");
	if ((rs = rs_find(m, id, from, &j)) == NULL)
		return drop(m, from, "relay end: not a relayed endpoint");
	vlog("relay session ended by a side");
	rs_close(m, rs);
}

/*
 * A datagram to relay: from one registered endpoint of a session, to
 * the other, as it is (the peers' own MACs, with -K, cover the inside),
 * if that side is itself sending through the relay. It keeps its
 * sender's registration live; the session ends with the other's (30 s
 * without a word from it). It costs the same at -x 64 or -x 65536.
 */
static void
handle_relay(struct mediator *m, const unsigned char *buf, size_t len,
    uint64_t id, const struct ep *from, int64_t now)
{
	struct rsess *rs;
	int j;
	int64_t t = now * 1000;

	if ((rs = rs_find(m, id, from, &j)) == NULL)
		return drop(m, from, "relay: not a relayed endpoint");
	if (now - rs->born >= RELAY_LIFE) {
		rs_close(m, rs);
		return drop(m, from, "relay: session past its lifetime");
	}
	if (!slot_live(rs->e->s[1 - j], now)) {	/* the other side is gone */
		rs_close(m, rs);
		return drop(m, from, "relay: the peer's registration ended");
	}
	rs->heard[j] = rs->last = now;
	rs_use(m, rs, 1);
	rs->e->s[j]->seen = now;
	entry_touch(m, rs->e, now);
	if (now - rs->heard[1 - j] >= RELAY_CONSENT) {
		m->st.relay_dropped++;	/* no consent from the receiver */
		return;
	}
	if (rs->tat < t)
		rs->tat = t;
	if (m->rs_gtat < t)
		m->rs_gtat = t;
	if (rs->tat - t > 100000 || m->rs_gtat - t > 100000 ||
	    (m->rs_cap && rs->bytes + len > (uint64_t)m->rs_cap)) {
		m->st.relay_dropped++;	/* over a rate or the cap */
		return;
	}
	rs->tat += (int64_t)len * 1000000 / m->rs_rate;
	m->rs_gtat += (int64_t)len * 1000000 / m->rs_grate;
	rs->bytes += len;
	m->st.relay_bytes += len;
	reply_now(m, &rs->pub[1 - j], &rs->via[1 - j], buf, len);
}

/* One message, as hostile input: its header checked, then by its type. */
static void
handle_message(struct mediator *m, const unsigned char *buf, size_t len,
    const struct ep *from, const struct med_via *via, int ttl, int64_t now)
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
		/*
		 * The refusal in the asker's own header (versions 1 to 3
		 * share its layout), or a v2 client drops it and only says
		 * we did not answer; a later version gets ours. Capped at
		 * the request's size, like every answer to a stranger.
		 */
		static const char why[] = "mediator speaks pnc protocol version 3";
		unsigned char e[64];
		struct wr w;

		m->st.badversion++;
		wr_init(&w, e, sizeof(e));
		wr_error(&w, id, E_VERSION, why, sizeof(why) - 1);
		if (version >= 1 && version < PROTO_VERSION)
			e[2] = (unsigned char)version;
		if (!w.bad)
			reply_capped(m, from, via, e, w.len, len);
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
	rg.alt = rg.tcp ? 0 : m->locals[via->sock].alt_port;
	if (rg.tcp && type != T_REGISTER && type != T_PEERACK)
		return drop(m, from, "unexpected message over TCP");
	if (type == T_RELAY)
		return handle_relay(m, buf, len, id, from, now);
	if (type == T_RELAYEND)
		return handle_relayend(m, len, id, from);
	if (type == T_RELAYREQ) {
		if (rd_reg(&r, &rg, 0) == -1)
			return drop(m, from, "malformed RELAYREQ");
		return handle_relayreq(m, &rg, from, via, now);
	}
	if (type == T_REGISTER) {
		if (rd_reg(&r, &rg, 1) == -1)
			return drop(m, from, "malformed REGISTER");
		handle_register(m, &rg, from, via, now);
	} else if (type == T_BIND) {
		handle_bind(m, &r, id, from, via, len);
	} else if (type == T_PEERACK) {
		if (rd_reg(&r, &rg, 0) == -1)
			return drop(m, from, "malformed PEERACK");
		handle_peerack(m, &rg, from, now);
	} else
		drop(m, from, "unexpected message type");
}

/* ---- the core's entry points ---- */

/*
 * One message from a client: a UDP datagram that came in on local
 * socket via->sock, or a TCP message (via->tcp), with the TTL it
 * arrived with (0: unknown). len is MAX_DGRAM + 1 or more for a
 * datagram that did not fit. Answers go to the outbox.
 */
void
mediator_input(struct mediator *m, const unsigned char *buf, size_t len,
    const struct ep *from, const struct med_via *via, int ttl, int64_t now)
{
	m->st.rx++;
	if (len > MAX_DGRAM) {
		m->st.oversized++;
		return drop(m, from, "oversized");
	}
	handle_message(m, buf, len, from, via, ttl, now);
}

/*
 * Bytes read from a TCP client: each complete frame (a 2-byte length,
 * then a message) is one input. Returns the bytes used, the frames;
 * or -1 for a bad frame length, after which the connection is to close.
 */
long
mediator_stream(struct mediator *m, const unsigned char *buf, size_t len,
    const struct ep *from, const struct med_via *via, int64_t now)
{
	size_t used = 0, flen;

	while (len - used >= 2) {
		flen = (size_t)buf[used] << 8 | buf[used + 1];
		if (flen < HDR_LEN || flen > MAX_DGRAM) {
			drop(m, from, "bad TCP frame length");
			return -1;
		}
		if (len - used < 2 + flen)
			break;
		mediator_input(m, buf + used + 2, flen, from, via, 0, now);
		used += 2 + flen;
	}
	return (long)used;
}

/*
 * Re-introduce pair e, due now: it is on queue n, its nth resend; next
 * on queue n + 1, or done.
 */
static void
rexmit_fire(struct mediator *m, struct entry *e, int64_t now)
{
	int i, n = e->rexmit_n;

	if (e->s[0] == NULL || e->s[1] == NULL ||
	    (e->s[0]->acked && e->s[1]->acked)) {
		rexmit_remove(m, e);
		return;
	}
	/*
	 * A controlled side that does not answer must not keep the other
	 * from its peer: without READY it waits 1 s for full-TTL probes
	 * (punch.c).
	 */
	if (n + 1 >= INTRO_CTL_TRIES)
		e->intro_ctl = 1;
	for (i = 0; i < 2; i++)
		if (!e->s[i]->acked && (i != ctl_slot(e) || e->intro_ctl))
			send_peer(m, e, i);
	if (n + 1 >= REXMIT_TRIES)
		rexmit_remove(m, e);
	else
		rexmit_push(m, e, n + 1, now + ((int64_t)REXMIT_FIRST <<
		    (n + 1)));
}

/* Close idle relay sessions; expire names not refreshed. */
static void
expire(struct mediator *m, int64_t now)
{
	struct entry *e;
	struct rsess *rs;

	while (m->rs_oldest != -1 && now - (rs = &m->rs[m->rs_oldest])->last
	    >= REG_TTL * 1000)
		rs_close(m, rs);
	while ((e = m->oldest) != NULL &&
	    now - e->touched >= REG_TTL * 1000) {
		m->st.expired++;
		entry_free(m, e);
	}
}

/*
 * The timers: re-introductions, expiry. Returns the ms until the next
 * is due (at most TICK_MAX); answers go to the outbox. Each queue is
 * in order of due time: only their heads are looked at.
 */
int
mediator_tick(struct mediator *m, int64_t now)
{
	struct entry *e;
	int64_t t = TICK_MAX;
	int n;

	for (n = 0; n < REXMIT_TRIES; n++)
		while ((e = m->rq[n].head) != NULL && now >= e->rexmit_at)
			rexmit_fire(m, e, now);
	expire(m, now);
	for (n = 0; n < REXMIT_TRIES; n++)
		if ((e = m->rq[n].head) != NULL && e->rexmit_at - now < t)
			t = e->rexmit_at - now;
	return t < 0 ? 0 : (int)t;
}

/* Hand every queue that holds something to the I/O layer. */
void
mediator_flush(struct mediator *m)
{
	int k;

	for (k = 0; k < m->nlocals; k++)
		if (m->udpq[k].n > 0)
			drain(m, &m->udpq[k]);
	if (m->tcpq.n > 0)
		drain(m, &m->tcpq);
}

const struct med_stats *
mediator_stats(struct mediator *m)
{
	m->st.names = m->count;
	return &m->st;
}

void
mediator_free(struct mediator *m)
{
	if (m == NULL)
		return;
	while (m->oldest != NULL)
		entry_free(m, m->oldest);
	free(m->buckets);
	free(m->old);
	free(m->rl);
	free(m->stun_rl);
	free(m->live.t);
	free(m->rs);
	free(m->rs_hash);
	free(m->rs_src.t);
	free(m);
}

/* max / div, at least lo, at most max: a prefix's share. */
static uint32_t
share(size_t max, size_t div, size_t lo)
{
	size_t n = max / div < lo ? lo : max / div;

	return (uint32_t)(n < max ? n : max);
}

/* The relay's sessions, free, their index by id. 0, or -1. */
static int
relay_init(struct mediator *m, const struct med_config *c)
{
	int k;

	m->rs_cap = c->relay_cap;
	m->rs_max = c->relay_max ? c->relay_max : RELAY_MAX;
	m->rs_rate = c->relay_rate ? c->relay_rate : RELAY_RATE;
	m->rs_grate = c->relay_global ? c->relay_global :
	    RELAY_GLOBAL * m->rs_rate;
	m->rs_share[0] = share((size_t)m->rs_max, RELAY_SHARE, 2);
	m->rs_share[1] = share((size_t)m->rs_max, RELAY_SHARE / COARSE,
	    2 * COARSE);
	if (m->rs_share[1] < 2)	/* a session's two sides in one /24 or /48 */
		m->rs_share[1] = 2;
	m->rs_share[2] = 2 * (uint32_t)m->rs_max;	/* an IPv4 /16: no cap */
	for (m->rs_nhash = 2; m->rs_nhash < 2 * (uint32_t)m->rs_max;)
		m->rs_nhash *= 2;
	m->rs = calloc((size_t)m->rs_max, sizeof(*m->rs));
	m->rs_hash = malloc(m->rs_nhash * sizeof(*m->rs_hash));
	if (m->rs == NULL || m->rs_hash == NULL)
		return -1;
	memset(m->rs_hash, 0xff, m->rs_nhash * sizeof(*m->rs_hash));
	for (k = m->rs_max - 1; k >= 0; k--) {
		m->rs[k].older = m->rs_free;
		m->rs[k].newer = -1;
		m->rs_free = k;
	}
	return 0;
}

/*
 * A mediator as c asks for, serving on the n local sockets of locals;
 * drain (with arg) sends what it queues. Returns it, or NULL (out of
 * memory).
 */
struct mediator *
mediator_init(const struct med_config *c, const struct med_local *locals,
    int n, med_drain_fn *drain, void *arg)
{
	struct mediator *m;
	int i;

	if (n < 1 || n > MED_SOCKS || (m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		m->locals[i] = locals[i];
		m->has_alt |= locals[i].alt_port;
	}
	m->nlocals = n;
	m->drain = drain;
	m->drain_arg = arg;
	m->max = c->max_names;
	m->nbuckets = 16;
	for (i = 0; i < 2; i++) {
		m->cookie_key[i] = random64();
		m->hash_key[i] = random64();
	}
	m->share[0] = share(m->max, SHARE_FINE, 8);
	m->share[1] = share(m->max, SHARE_COARSE, 32);
	m->share[2] = share(m->max, SHARE_WIDE, 128);
	m->rs_free = m->rs_oldest = m->rs_newest = -1;
	if (c->relay && relay_init(m, c) == -1) {
		mediator_free(m);
		return NULL;
	}
	if ((m->rate = c->rate) > 0)
		m->rl = calloc(RL_SLOTS, sizeof(*m->rl));
	m->stun_rl = calloc(RL_SLOTS, sizeof(*m->stun_rl));
	m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
	if (m->buckets == NULL || m->stun_rl == NULL ||
	    (c->rate > 0 && m->rl == NULL)) {
		mediator_free(m);
		return NULL;
	}
	return m;
}

/* ---- options ---- */

/* The usage line; -1, with *status the exit status it goes with. */
static int
usage(int *status, int code)
{
	fprintf(code == EX_OK ? stdout : stderr, "usage: pnc mediate %s\n",
	    MEDIATE_USAGE);
	*status = code;
	return -1;
}

/* A number in [lo, hi] into *v. 0, or -1 for garbage. */
static int
parse_long(const char *s, long lo, long hi, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(s, &end, 10);
	return errno || *end || *v < lo || *v > hi ? -1 : 0;
}

/* One flag (getopt's ch and optarg) into c. 0, or -1: a usage error. */
static int
option(struct med_config *c, int ch, char *arg)
{
	long v;
	int p;

	switch (ch) {
	case '4':
	case '6':
		c->family = ch == '4' ? AF_INET : AF_INET6;
		return 0;
	case 'l':
		if (parse_long(arg, 0, 1000000, &v) == -1) {
			warnx("bad rate: %s", arg);
			return -1;
		}
		c->rate = (int)v;
		return 0;
	case 'n':
		if (parse_long(arg, 1, 16 * 1024 * 1024, &v) == -1) {
			warnx("bad table size: %s", arg);
			return -1;
		}
		c->max_names = (size_t)v;
		return 0;
	case 'p':
		if (parse_port(arg, &p) == -1 || p == 0 || p == 65535) {
			warnx("bad port: %s", arg);
			return -1;
		}
		c->port = arg;
		return 0;
	case 's':
		if (c->naddrs == 2) {
			warnx("-s at most twice");
			return -1;
		}
		c->addrs[c->naddrs++] = arg;
		return 0;
	case 'v':
		verbose = 1;
		return 0;
	case 'r':
		c->relay = 1;
		return 0;
	case 'T':
		c->no_tcp = 1;
		return 0;
	case 'B':
	case 'b':
	case 'c':
	case 'x':
		if (parse_long(arg, ch == 'c' ? 0 : 1,
		    ch == 'x' ? 65536 : LONG_MAX / 2, &v) == -1) {
			warnx("bad -%c: %s", ch, arg);
			return -1;
		}
		if (ch == 'B')
			c->relay_global = v;
		else if (ch == 'b')
			c->relay_rate = v;
		else if (ch == 'c')
			c->relay_cap = v;
		else
			c->relay_max = (int)v;
		return 0;
	}
	return -1;	/* getopt has said why */
}

/*
 * mediate's command line into c. Returns 0, or -1 with *status set
 * after -h (EX_OK, usage on stdout) or a usage error (EX_USAGE, usage
 * on stderr).
 */
int
mediator_options(struct med_config *c, int argc, char **argv, int *status)
{
	int ch;

	memset(c, 0, sizeof(*c));
	c->port = PNC_PORT;
	c->family = AF_UNSPEC;
	c->max_names = MAX_NAMES;
	c->rate = RATE_DEFAULT;
	while ((ch = getopt(argc, argv, "46B:b:c:hl:n:p:rs:Tvx:")) != -1) {
		if (ch == 'h')
			return usage(status, EX_OK);
		if (option(c, ch, optarg) == -1)
			return usage(status, EX_USAGE);
	}
	if (optind != argc)
		return usage(status, EX_USAGE);
	return 0;
}

/* ---- the I/O layer: sockets and the poll() loop around the core ---- */

/* A TCP rendezvous client: messages framed by a 2-byte length. */
struct tcpslot {
	int		 fd;
	unsigned	 gen;
	int64_t		 seen;
	int64_t		 born;		/* accepted */
	int64_t		 frame_at;	/* the partial frame's first byte */
	int		 framed;	/* a whole frame has come */
	struct pfx	 p;		/* its source's counters */
	struct ep	 from;
	size_t		 len;
	unsigned char	 buf[2 + MAX_DGRAM];
};

/* Control data: a destination address (IP_PKTINFO) out, and a TTL in. */
union cmsgbuf {
	char		c[CMSG_SPACE(sizeof(struct in6_pktinfo)) + 64];
	struct cmsghdr	align;
};

/* A burst of datagrams read with one recvmmsg. */
struct rxb {
	struct mmsghdr	 msg[RX_BATCH];
	struct iovec	 iov[RX_BATCH];
	struct ep	 from[RX_BATCH];
	union cmsgbuf	 cbuf[RX_BATCH];
	unsigned char	 buf[RX_BATCH][MAX_DGRAM + 1];
};

/* A queue of the core's sends as one sendmmsg takes them. */
struct txb {
	struct mmsghdr	 msg[MED_BATCH];
	struct iovec	 iov[MED_BATCH];
	union cmsgbuf	 cbuf[MED_BATCH];
};

/* The I/O layer: the core, the sockets it is told of, the TCP clients. */
struct server {
	struct mediator	*m;
	struct med_local locals[MED_SOCKS];	/* what the core knows ... */
	int		 fds[MED_SOCKS];	/* ... of these sockets */
	int		 wildcard[MED_SOCKS];	/* needs IP_PKTINFO to answer
						   from the right address */
	int		 nfds;
	int		 has_alt;	/* some socket serves P+1 */
	int		 lfds[2];	/* TCP listeners */
	int		 nlfds;
	struct tcpslot	*tc[MAXTCP];
	int		 tc_end;	/* tc[tc_end...] are all NULL */
	unsigned	 gen;
	unsigned long	 tcp_refused;	/* TCP clients beyond the caps */
	unsigned long	 tcp_timeouts;	/* closed for a deadline */
	struct ptab	 tcp_src;	/* connections per prefix */
	uint64_t	 tcp_key[2];	/* their hash's key */
	int64_t		 listen_at;	/* poll the listeners again then */
	struct rxb	*rxb;
	struct txb	*txb;
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/*
 * Answer from the address the client reached us at: IP_PKTINFO (or its
 * IPv6 twin) in msg, built in cbuf, for a socket bound to the wildcard.
 */
static void
set_pktinfo(struct msghdr *msg, char *cbuf, size_t cap, const struct ep *to,
    const struct med_via *via)
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
 * A framed message to a TCP client. Messages are small and the client
 * reads them at once, so a full socket buffer means a dead client: drop.
 */
static void
tcp_send(struct server *sv, const struct med_via *via, const void *buf,
    size_t len)
{
	struct tcpslot *c = sv->tc[via->tcp - 1];
	unsigned char frame[2 + MAX_DGRAM];

	if (c == NULL || c->gen != via->gen || len > MAX_DGRAM)
		return;		/* that connection is gone */
	frame[0] = (unsigned char)(len >> 8);
	frame[1] = (unsigned char)len;
	memcpy(frame + 2, buf, len);
	(void)send(c->fd, frame, len + 2, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/*
 * Send q on socket k: one sendmmsg, more only past an error. A full
 * socket buffer loses the rest, another error the one datagram it was
 * for; the clients retry.
 */
static void
udp_send(struct server *sv, int k, const struct med_outq *q)
{
	struct txb *b = sv->txb;
	const struct med_send *s;
	struct msghdr *msg;
	int i, off = 0, r;

	for (i = 0; i < q->n; i++) {
		s = &q->s[i];
		b->iov[i].iov_base = (void *)s->data;
		b->iov[i].iov_len = s->len;
		msg = &b->msg[i].msg_hdr;
		memset(msg, 0, sizeof(*msg));
		msg->msg_name = (void *)&s->to.u;
		msg->msg_namelen = s->to.len;
		msg->msg_iov = &b->iov[i];
		msg->msg_iovlen = 1;
		if (s->via.have_dst && sv->wildcard[k])
			set_pktinfo(msg, b->cbuf[i].c, sizeof(b->cbuf[i].c),
			    &s->to, &s->via);
	}
	while (off < q->n) {
		r = sendmmsg(sv->fds[k], b->msg + off, (unsigned)(q->n - off),
		    MSG_DONTWAIT);
		if (r > 0)
			off += r;
		else if (errno == EAGAIN || errno == ENOBUFS)
			break;
		else if (errno != EINTR)
			off++;
	}
}

/* The core's med_drain_fn: socket k's queue, or (-1) the TCP clients'. */
static void
send_queue(void *arg, int k, const struct med_outq *q)
{
	struct server *sv = arg;
	int i;

	if (k >= 0) {
		udp_send(sv, k, q);
		return;
	}
	for (i = 0; i < q->n; i++)
		tcp_send(sv, &q->s[i].via, q->s[i].data, q->s[i].len);
}

/* Where a datagram was sent to, and the TTL it arrived with. */
static void
read_cmsgs(struct msghdr *msg, struct med_via *via, int *ttl)
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
 * Read a burst of datagrams from socket k, with their destination
 * addresses and TTLs, into the core; the answers wait in its queues
 * for mediator_flush. Returns how many, 0 (none) or -1.
 */
static int
receive(struct server *sv, int k, int64_t now)
{
	struct rxb *b = sv->rxb;
	struct msghdr *msg;
	struct med_via via;
	size_t len;
	int i, n, ttl;

	for (i = 0; i < RX_BATCH; i++) {
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
	if ((n = recvmmsg(sv->fds[k], b->msg, RX_BATCH, MSG_DONTWAIT,
	    NULL)) == -1)
		return errno == EAGAIN || errno == EINTR ||
		    errno == ECONNREFUSED ? 0 : -1;
	for (i = 0; i < n; i++) {
		msg = &b->msg[i].msg_hdr;
		b->from[i].len = msg->msg_namelen;
		memset(&via, 0, sizeof(via));
		via.sock = k;
		ttl = 0;
		read_cmsgs(msg, &via, &ttl);
		len = b->msg[i].msg_len;
		if (msg->msg_flags & MSG_TRUNC)
			len = MAX_DGRAM + 1;	/* the core drops it */
		mediator_input(sv->m, b->buf[i], len, &b->from[i], &via, ttl,
		    now);
	}
	return n;
}

/*
 * One bound socket per address. Only a wildcard socket needs to learn
 * each datagram's destination (to answer from it): a control message
 * per datagram that a socket bound to one address does without.
 */
static int
open_socket(const struct ep *bindto, int wildcard)
{
	int fd, one = 1;

	if ((fd = sock_bound(bindto, SOCK_DGRAM, SK_REUSEADDR)) == -1)
		return -1;
	if (bindto->u.sa.sa_family == AF_INET6) {
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
	return fd;
}

/* TCP rendezvous on the same address and port. Returns fd or -1. */
static int
tcp_listen(const struct ep *e)
{
	int fd;

	if ((fd = sock_bound(e, SOCK_STREAM, SK_REUSEADDR)) == -1)
		return -1;
	if (listen(fd, 128) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
tcp_close(struct server *sv, int k)
{
	struct tcpslot *c = sv->tc[k];
	int i;

	for (i = 0; i < c->p.n; i++)
		pt_add(&sv->tcp_src, c->p.k[i], -1);
	close(c->fd);
	free(c);
	sv->tc[k] = NULL;
	while (sv->tc_end > 0 && sv->tc[sv->tc_end - 1] == NULL)
		sv->tc_end--;
}

/* Room for one more connection from p (a coarser prefix: coarse()). */
static int
tcp_room(const struct server *sv, const struct pfx *p)
{
	int i;

	for (i = 0; i < p->n; i++)
		if (pt_get(&sv->tcp_src, p->k[i]) >=
		    (uint32_t)(TCP_PER_SRC * coarse(i)))
			return 0;
	return 1;
}

/* Client fd from ss into a free slot, if its source has room. 0 or -1. */
static int
tcp_add(struct server *sv, int fd, const struct sockaddr_storage *ss,
    socklen_t len, int64_t now)
{
	struct tcpslot *c;
	struct ep from;
	struct pfx p;
	int k, i;

	memset(&from, 0, sizeof(from));
	memcpy(&from.u, ss, len);
	from.len = len;
	pfx_hash(sv->tcp_key, &from, &p);
	for (k = 0; k < MAXTCP && sv->tc[k] != NULL; k++)
		;
	if (k == MAXTCP || !tcp_room(sv, &p) ||
	    pt_reserve(&sv->tcp_src, PFX_LEVELS) == -1 ||
	    (c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	sv->tc[k] = c;
	if (k >= sv->tc_end)
		sv->tc_end = k + 1;
	c->fd = fd;
	c->gen = ++sv->gen;
	c->seen = c->born = now;
	c->from = from;
	c->p = p;
	for (i = 0; i < p.n; i++)
		pt_add(&sv->tcp_src, p.k[i], 1);
	return 0;
}

/*
 * Accept what is waiting; beyond MAXTCP, or beyond its source's cap,
 * a new client is closed. Out of fds (EMFILE, ENFILE) the connection
 * stays queued and the listener readable: the listeners rest a while
 * rather than wake poll() at once, forever (poll_set).
 */
static void
tcp_accept(struct server *sv, int lfd, int64_t now)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, i;

	for (i = 0; i < 64; i++) {
		len = sizeof(ss);
		if ((fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				sv->listen_at = now + TCP_PAUSE_MS;
			return;
		}
		if (tcp_add(sv, fd, &ss, len, now) == -1) {
			sv->tcp_refused++;
			close(fd);
		}
	}
}

/*
 * Read TCP client k into the core, which takes every complete frame;
 * the answers go at once (with any the core holds for UDP). A bad frame
 * closes the connection.
 */
static void
tcp_read(struct server *sv, int k, int64_t now)
{
	struct tcpslot *c = sv->tc[k];
	struct med_via via;
	ssize_t n;
	long used;

	n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len,
	    MSG_DONTWAIT);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		tcp_close(sv, k);
		return;
	}
	if (n == -1)
		return;
	if (c->len == 0)
		c->frame_at = now;
	c->len += (size_t)n;
	c->seen = now;
	memset(&via, 0, sizeof(via));
	via.tcp = k + 1;
	via.gen = c->gen;
	used = mediator_stream(sv->m, c->buf, c->len, &c->from, &via, now);
	mediator_flush(sv->m);
	if (used == -1) {
		tcp_close(sv, k);
		return;
	}
	if (used > 0) {
		c->framed = 1;
		c->frame_at = now;	/* what is left began now */
	}
	c->len -= (size_t)used;
	memmove(c->buf, c->buf + used, c->len);
}

/*
 * When TCP client c is to be closed: silent for a registration's life,
 * a frame begun and not finished in TCP_FRAME_MS (one byte at a time
 * does not keep it open), no whole frame in TCP_HELLO_MS.
 */
static int64_t
tcp_deadline(const struct tcpslot *c)
{
	int64_t t = c->seen + REG_TTL * 1000;

	if (c->len > 0 && c->frame_at + TCP_FRAME_MS < t)
		t = c->frame_at + TCP_FRAME_MS;
	if (!c->framed && c->born + TCP_HELLO_MS < t)
		t = c->born + TCP_HELLO_MS;
	return t;
}

/*
 * Fill pfd: the UDP sockets, the TCP listeners (unless they rest), then
 * the TCP clients (which[i] naming client i's slot, *nt of them),
 * closing those past their deadline. Returns the count before the
 * clients; *timeout shrinks to the next deadline.
 */
static int
poll_set(struct server *sv, struct pollfd *pfd, int *which, int *nt,
    int *timeout, int64_t now)
{
	int64_t d;
	int i, n;

	for (i = 0; i < sv->nfds; i++) {
		pfd[i].fd = sv->fds[i];
		pfd[i].events = POLLIN;
	}
	for (i = 0; i < sv->nlfds; i++) {
		pfd[sv->nfds + i].fd = sv->listen_at > now ? -1 : sv->lfds[i];
		pfd[sv->nfds + i].events = POLLIN;
	}
	if (sv->listen_at > now && sv->listen_at - now < *timeout)
		*timeout = (int)(sv->listen_at - now);
	n = sv->nfds + sv->nlfds;
	/* Not all MAXTCP slots at every wakeup: a UDP burst is short. */
	for (i = *nt = 0; i < sv->tc_end; i++) {
		if (sv->tc[i] == NULL)
			continue;
		if ((d = tcp_deadline(sv->tc[i])) <= now) {
			sv->tcp_timeouts++;
			tcp_close(sv, i);
			continue;
		}
		if (d - now < *timeout)
			*timeout = (int)(d - now);
		pfd[n + *nt].fd = sv->tc[i]->fd;
		pfd[n + *nt].events = POLLIN;
		which[(*nt)++] = i;
	}
	return n;
}

/* The loop: the core's timers, its answers, then one poll(). */
static int
serve(struct server *sv)
{
	static struct pollfd pfd[MED_SOCKS + 2 + MAXTCP];
	static int which[MAXTCP];
	int i, n, nt, timeout;
	int64_t now;

	while (!stop) {
		now = now_ms();
		timeout = mediator_tick(sv->m, now);
		mediator_flush(sv->m);	/* the last burst's answers, tick's */
		n = poll_set(sv, pfd, which, &nt, &timeout, now);
		if (poll(pfd, (nfds_t)(n + nt), timeout) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		now = now_ms();
		/* A bounded batch per wakeup keeps timers honest. */
		for (i = 0; i < sv->nfds; i++)
			if (pfd[i].revents)
				(void)receive(sv, i, now);
		for (i = 0; i < nt; i++)
			if (pfd[n + i].revents && sv->tc[which[i]] != NULL)
				tcp_read(sv, which[i], now);
		for (i = 0; i < sv->nlfds; i++)
			if (pfd[sv->nfds + i].revents & POLLIN)
				tcp_accept(sv, sv->lfds[i], now);
	}
	return 0;
}

/* Bind addr (NULL: the wildcard of family) on port and port+1. */
static int
add_sockets(struct server *sv, const char *addr, int family, int port,
    int addr_idx, int tcp)
{
	static const struct in6_addr any6 = IN6ADDR_ANY_INIT;
	struct med_local *l;
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
		l = &sv->locals[sv->nfds];
		l->bound = e;
		l->addr_idx = addr_idx;
		l->alt_port = alt;
		sv->fds[sv->nfds] = fd;
		sv->wildcard[sv->nfds] = any;
		sv->nfds++;
		sv->has_alt |= alt;
		if (tcp && !alt && sv->nlfds < 2 &&
		    (fd = tcp_listen(&e)) != -1)
			sv->lfds[sv->nlfds++] = fd;
	}
	return 0;
}

static int
setup_sockets(struct server *sv, const struct med_config *c, int port)
{
	int i;

	for (i = 0; i < c->naddrs; i++)
		if (add_sockets(sv, c->addrs[i], c->family, port, i,
		    !c->no_tcp) == -1)
			return -1;
	if (c->naddrs > 0)
		return 0;
	/* Both families on the wildcard; IPv6 may be absent. */
	if (c->family != AF_UNSPEC)
		return add_sockets(sv, NULL, c->family, port, 0, !c->no_tcp);
	if (add_sockets(sv, NULL, AF_INET, port, 0, !c->no_tcp) == -1)
		return -1;
	(void)add_sockets(sv, NULL, AF_INET6, port, 0, !c->no_tcp);
	return 0;
}

static void
print_stats(struct server *sv)
{
	const struct med_stats *s = mediator_stats(sv->m);

	vlog("stats: %lu datagrams, %lu malformed (%lu oversized), "
	    "%lu bad version, %lu cookie(s) handed out, %lu registered, "
	    "%lu introduced, %lu refused, %lu rate-limited, %lu answer(s) "
	    "withheld as larger than the request, %lu expired, %lu STUN "
	    "answer(s), %lu relayed session(s), %lu byte(s) relayed, %lu "
	    "dropped over the relay's caps, %zu names now, %lu TCP "
	    "connection(s) closed for a deadline",
	    s->rx, s->malformed, s->oversized, s->badversion, s->cookies,
	    s->registered, s->introduced, s->refused + sv->tcp_refused,
	    s->ratelimited, s->capped, s->expired, s->stun, s->relayed,
	    s->relay_bytes, s->relay_dropped, s->names, sv->tcp_timeouts);
}

/*
 * Room for every TCP client: the soft fd limit (1024 under systemd) up
 * to what MAXTCP needs, as far as the hard limit allows. Past it,
 * tcp_accept copes.
 */
static void
raise_nofile(void)
{
	struct rlimit rl;
	rlim_t want = MAXTCP + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ?
	    rl.rlim_max : want;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
}

/*
 * The sockets of c and a core on them. Returns 0, or -1: the
 * sockets (errno set by the failure), or -2: out of memory.
 */
static int
server_open(struct server *sv, const struct med_config *c)
{
	int port;

	memset(sv, 0, sizeof(*sv));
	sv->tcp_key[0] = random64();
	sv->tcp_key[1] = random64();
	raise_nofile();
	(void)parse_port(c->port, &port);
	if (setup_sockets(sv, c, port) == -1)
		return -1;
	if ((sv->rxb = calloc(1, sizeof(*sv->rxb))) == NULL ||
	    (sv->txb = calloc(1, sizeof(*sv->txb))) == NULL ||
	    (sv->m = mediator_init(c, sv->locals, sv->nfds, send_queue,
	    sv)) == NULL)
		return -2;
	return 0;
}

static void
server_close(struct server *sv)
{
	int k;

	mediator_free(sv->m);
	for (k = 0; k < sv->nfds; k++)
		close(sv->fds[k]);
	for (k = 0; k < sv->nlfds; k++)
		close(sv->lfds[k]);
	for (k = 0; k < MAXTCP; k++)
		if (sv->tc[k] != NULL)
			tcp_close(sv, k);
	free(sv->rxb);
	free(sv->txb);
	free(sv->tcp_src.t);
}

int
mediate_main(int argc, char **argv)
{
	static struct server sv;
	struct med_config c;
	struct sigaction sa;
	int status;

	if (mediator_options(&c, argc, argv, &status) == -1)
		return status;
	if ((status = server_open(&sv, &c)) == -2)
		err(EX_FAIL, "calloc");
	if (status == -1)
		err(EX_FAIL, "cannot serve on %s port %s",
		    c.naddrs ? c.addrs[0] : "*", c.port);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	vlog("serving on %s%s%s port %s%s, at most %zu names, %d new "
	    "registration(s)/s per address%s", c.naddrs ? c.addrs[0] : "*",
	    c.naddrs == 2 ? " and " : "", c.naddrs == 2 ? c.addrs[1] : "",
	    c.port, sv.has_alt ? " (and the next port)" : "",
	    c.max_names, c.rate, c.rate ? "" : " (no limit)");
	if (serve(&sv) == -1)
		err(EX_FAIL, "poll");
	print_stats(&sv);
	server_close(&sv);
	return EX_OK;
}
