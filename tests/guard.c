/*
 * tests/guard.c - the mediator's core against the attacks of issue 16,
 * on a virtual clock and virtual sources (tests/medattack.bats).
 *
 *	guard SCENARIO [mediate options...]
 *
 * It drives the core through pnc.h alone (mediator_options, _init,
 * _input, _tick), as tests/fuzz_mediator.c does, so that the same file
 * builds against this tree and against the mediator before the defences
 * (medattack.bats builds both): each scenario prints what the attack got,
 * as "key value" words, and the test compares the two. Sources are any
 * address, IPv4 or IPv6, without raw sockets or routes: the core only
 * sees a struct ep. The clients do what pnc does: the cookie round trip,
 * then REGISTER with the cookie to P and P+1.
 *
 *	cc -O2 -D_GNU_SOURCE -I. -o guard tests/guard.c mediator.c util.c \
 *	    wire.c crypto.c
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pnc.h"

#define P	7321
#define LOGMAX	4096
#define ALT_WAIT_MS	400	/* past the mediator's wait for a P+1 copy */

/* One send of the core, as the harness reads it. */
struct sent {
	struct ep	to;
	int		type;		/* -1: not a pnc message (STUN) */
	uint64_t	id;
	size_t		len;
	int		ttl, code, flags;
	struct ep	you, peer;	/* REGISTERED's, PEER's endpoints */
	struct ep	loc[MAX_LOCALS];	/* PEER's candidates */
	int		nloc;
	unsigned char	cookie[COOKIE_LEN];
};

static struct mediator	*M;
static int64_t		 NOW = 1000000;
static struct sent	 logb[LOGMAX];
static int		 nlog;
static unsigned long	 relayed, relayed_bytes;
static struct sent	 peers[64];	/* the last PEER to id, by id % 64 */
static int		 notick;	/* input() without the tick */

static void
parse_sent(struct sent *s, const unsigned char *p, size_t len)
{
	struct rd r;
	int version, i;

	rd_init(&r, p, len);
	s->len = len;
	if (rd_hdr(&r, &version, &s->type, &s->id) == -1) {
		s->type = -1;
		return;
	}
	if (s->type == T_REGISTERED) {
		(void)rd_ep(&r, &s->you);
		s->ttl = rd_u16(&r);
		memcpy(s->cookie, rd_bytes(&r, COOKIE_LEN), COOKIE_LEN);
	} else if (s->type == T_ERROR)
		s->code = rd_u8(&r);
	else if (s->type == T_PEER) {
		s->flags = rd_u8(&r);
		(void)rd_u8(&r);
		(void)rd_u64(&r);
		(void)rd_ep(&r, &s->you);
		(void)rd_ep(&r, &s->peer);
		s->nloc = rd_u8(&r);
		for (i = 0; i < s->nloc && i < MAX_LOCALS; i++)
			(void)rd_ep(&r, &s->loc[i]);
	}
}

static void
drain(void *arg, int k, const struct med_outq *q)
{
	int i;

	(void)arg;
	(void)k;
	for (i = 0; i < q->n; i++) {
		if (q->s[i].len >= HDR_LEN && q->s[i].data[3] == T_RELAY) {
			relayed++;
			relayed_bytes += q->s[i].len;
			continue;
		}
		if (nlog == LOGMAX)
			continue;
		logb[nlog].to = q->s[i].to;
		parse_sent(&logb[nlog], q->s[i].data, q->s[i].len);
		if (logb[nlog].type == T_PEER)
			peers[logb[nlog].id % 64] = logb[nlog];
		nlog++;
	}
}

static struct ep
ep4(uint32_t a, int port)
{
	struct ep e;

	memset(&e, 0, sizeof(e));
	e.u.in.sin_family = AF_INET;
	e.u.in.sin_addr.s_addr = htonl(a);
	e.u.in.sin_port = htons((uint16_t)port);
	e.len = sizeof(e.u.in);
	return e;
}

/* 2001:db8:NET48:SUB::IID */
static struct ep
ep6(unsigned net, unsigned sub, uint64_t iid, int port)
{
	struct ep e;
	unsigned char *a;
	int i;

	memset(&e, 0, sizeof(e));
	e.u.in6.sin6_family = AF_INET6;
	a = e.u.in6.sin6_addr.s6_addr;
	a[0] = 0x20; a[1] = 0x01; a[2] = 0x0d; a[3] = 0xb8;
	a[4] = (unsigned char)(net >> 8); a[5] = (unsigned char)net;
	a[6] = (unsigned char)(sub >> 8); a[7] = (unsigned char)sub;
	for (i = 0; i < 8; i++)
		a[8 + i] = (unsigned char)(iid >> (56 - 8 * i));
	e.u.in6.sin6_port = htons((uint16_t)port);
	e.len = sizeof(e.u.in6);
	return e;
}

/* One datagram into the core on socket sock (0: P, 1: P+1); flushed. */
static void
input(const void *buf, size_t len, const struct ep *from, int sock)
{
	struct med_via via;

	memset(&via, 0, sizeof(via));
	via.sock = sock;
	nlog = 0;
	if (!notick)
		(void)mediator_tick(M, NOW);
	mediator_input(M, buf, len, from, &via, 64, NOW);
	mediator_flush(M);
}

/* REGISTER with n local candidates loc. */
static size_t
build_reg_loc(unsigned char *b, uint64_t id, const char *name, int role,
    const unsigned char *cookie, const struct ep *loc, int n)
{
	struct wr w;
	int i;

	wr_init(&w, b, 256);
	wr_hdr(&w, T_REGISTER, id);
	wr_u8(&w, (uint8_t)role);
	wr_u8(&w, (uint8_t)strlen(name));
	wr_bytes(&w, name, strlen(name));
	wr_u8(&w, (uint8_t)n);
	for (i = 0; i < n; i++)
		wr_ep(&w, &loc[i]);
	wr_bytes(&w, cookie, COOKIE_LEN);
	while (w.len < REQ_MIN)
		wr_u8(&w, 0);
	return w.len;
}

static size_t
build_reg(unsigned char *b, uint64_t id, const char *name, int role,
    const unsigned char *cookie)
{
	return build_reg_loc(b, id, name, role, cookie, NULL, 0);
}

/* PEERACK or RELAYREQ (type) for name. */
static size_t
build_ack(unsigned char *b, int type, uint64_t id, const char *name,
    int role)
{
	struct wr w;

	wr_init(&w, b, 256);
	wr_hdr(&w, type, id);
	wr_u8(&w, (uint8_t)role);
	wr_u8(&w, (uint8_t)strlen(name));
	wr_bytes(&w, name, strlen(name));
	wr_u8(&w, 0);
	return w.len;
}

/* The last send to id, of type (0: any), in this step's log; or NULL. */
static struct sent *
answer(uint64_t id, int type)
{
	int i;

	for (i = nlog - 1; i >= 0; i--)
		if (logb[i].id == id && (type == 0 || logb[i].type == type))
			return &logb[i];
	return NULL;
}

/*
 * Register as pnc does: a zero cookie to P, then the cookie to P and
 * P+1. Returns 1 (REGISTERED), 2 (PEER: introduced), -code (ERROR), 0
 * (nothing). alt: P+1's copy comes from this endpoint instead.
 */
static int
reg_alt(const struct ep *from, const struct ep *alt, uint64_t id,
    const char *name, int role)
{
	static const unsigned char zero[COOKIE_LEN];
	unsigned char b[256], c[COOKIE_LEN];
	struct sent *s;
	size_t n;
	int r = 0;

	input(b, build_reg(b, id, name, role, zero), from, 0);
	if ((s = answer(id, T_REGISTERED)) == NULL || s->ttl != 0)
		return 0;
	memcpy(c, s->cookie, COOKIE_LEN);
	n = build_reg(b, id, name, role, c);
	input(b, n, from, 0);
	if ((s = answer(id, 0)) != NULL)
		r = s->type == T_ERROR ? -s->code : s->type == T_PEER ? 2 :
		    s->type == T_REGISTERED && s->ttl > 0;
	input(b, n, alt, 1);
	if ((s = answer(id, 0)) != NULL && r >= 0)
		r = s->type == T_ERROR ? -s->code : s->type == T_PEER ? 2 :
		    s->type == T_REGISTERED && s->ttl > 0 ? 1 : r;
	return r;
}

static int
reg(const struct ep *from, uint64_t id, const char *name, int role)
{
	return reg_alt(from, from, id, name, role);
}

static void
setup(int argc, char **argv)
{
	struct med_config c;
	struct med_local l[2];
	int i, status;

	optind = 1;
	argv[0] = "mediate";
	if (mediator_options(&c, argc, argv, &status) == -1)
		exit(2);
	memset(l, 0, sizeof(l));
	for (i = 0; i < 2; i++) {
		l[i].bound = ep4(0xc0000201, P + i);
		l[i].alt_port = i;
	}
	if ((M = mediator_init(&c, l, 2, drain, NULL)) == NULL)
		exit(2);
}

/*
 * Spoofed STUN in the victim's name, 2000 a second for 3 s; meanwhile
 * the victim registers a new name every 100 ms.
 */
static int
stunlock(void)
{
	unsigned char b[20] = { 0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42 };
	struct ep v = ep4(0xc6336402, 40000);
	char n[32];
	int i, ok = 0, tries = 0;

	for (i = 0; i < 6000; i++) {
		b[8] = (unsigned char)i;
		b[9] = (unsigned char)(i >> 8);
		input(b, sizeof(b), &v, 0);
		if (i % 2 == 1)
			NOW++;
		if (i % 200 == 100) {	/* after this ms's first STUN */
			snprintf(n, sizeof(n), "victim%d", i);
			v.u.in.sin_port = htons((uint16_t)(40000 + i));
			ok += reg(&v, 7 + (uint64_t)i, n, ROLE_PUNCH) == 1;
			tries++;
		}
	}
	printf("victim_registered %d of %d stun_answers %lu\n", ok, tries,
	    mediator_stats(M)->stun);
	return 0;
}

/*
 * n names: from n IPv6 addresses in one /64 (kind 6), one /48 with a
 * /64 each (48), the first addrs IPv4 addresses from 10.0.0.0 in turn
 * (4: 256 in each /24), or the 256 addresses of 10.0.0/24 in turn (24);
 * 100 new names a second. Then a bystander from elsewhere registers.
 */
static int
fill(int kind, int n, int addrs)
{
	struct ep e;
	char name[32];
	int i, r, ok = 0, full = 0, rate = 0, other = 0;

	for (i = 0; i < n; i++) {
		e = kind == 6 ? ep6(1, 1, (uint64_t)i + 1, 5000) :
		    kind == 48 ? ep6(1, (unsigned)i, 1, 5000) :
		    kind == 24 ? ep4(0x0a000000 + (uint32_t)i % 256, 5000) :
		    ep4(0x0a000000 + (uint32_t)(i % addrs), 5000);
		snprintf(name, sizeof(name), "f%d", i);
		r = reg(&e, (uint64_t)i + 100, name, ROLE_PUNCH);
		ok += r == 1;
		full += r == -E_FULL;
		rate += r == -E_RATE;
		other += r != 1 && r != -E_FULL && r != -E_RATE;
		if (i % 100 == 99)
			NOW += 10;
	}
	e = ep6(9, 9, 9, 6000);
	r = reg(&e, 1, "bystander", ROLE_PUNCH);
	printf("sources %d registered %d err2 %d err4 %d other %d names %zu "
	    "bystander %d\n", n, ok, full, rate, other,
	    mediator_stats(M)->names, r);
	return 0;
}

/*
 * Quotas that two prefixes share by chance: in each of trials fresh
 * mediators (a new hash key each), 63 IPv4 addresses, each of its own
 * /16, register share names each (a 64th of the table, -n). Each should
 * get all of them; a prefix whose counter met another's was refused
 * before.
 */
static int
shares(int argc, char **argv, int trials, int share)
{
	struct ep e;
	char name[32];
	int t, a, k, r, r0, ok = 0, refused = 0, bad = 0, other = 0;
	uint64_t id = 100;

	for (t = 0; t < trials; t++) {
		if (t > 0) {
			mediator_free(M);
			setup(argc, argv);
		}
		r0 = refused;
		for (a = 0; a < 63; a++) {
			e = ep4((uint32_t)(11 + a) << 24 | 1, 5000);
			for (k = 0; k < share; k++) {
				snprintf(name, sizeof(name), "s%d-%d", a, k);
				r = reg(&e, id++, name, ROLE_PUNCH);
				ok += r == 1;
				refused += r == -E_RATE;
				other += r != 1 && r != -E_RATE;
			}
		}
		bad += refused > r0;
	}
	printf("trials %d refused_trials %d registered %d refused %d "
	    "other %d\n", trials, bad, ok, refused, other);
	return 0;
}

/*
 * A live registration moved: the attacker, with a cookie of its own,
 * registers the victim's id from elsewhere; the peer is then told
 * whose endpoint?
 */
static int
move(void)
{
	struct ep v = ep4(0xc6336402, 40000), a = ep4(0xcb007101, 666);
	struct ep p = ep4(0xc6336406, 50000);
	char buf[80];

	reg(&v, 11, "moved", ROLE_LISTEN);
	printf("attacker %d\n", reg(&a, 11, "moved", ROLE_LISTEN));
	reg(&p, 12, "moved", ROLE_CONNECT);
	printf("intro_sent_to %s\n", peers[11].type != T_PEER ? "nothing" :
	    ep_equal(&peers[11].to, &a) ? "attacker" :
	    ep_equal(&peers[11].to, &v) ? "victim" :
	    ep_str(&peers[11].to, buf, sizeof(buf)));
	return 0;
}

/*
 * Forged PEERACK and a P+1 copy from a stranger: does the mediator stop
 * re-introducing the victim (who lost its PEER), and does it tell the
 * peer the victim maps endpoint-dependently?
 */
static int
ackspoof(void)
{
	struct ep v = ep4(0xc6336402, 40000), a = ep4(0xcb007101, 666);
	struct ep p = ep4(0xc6336406, 50000);
	static const unsigned char zero[COOKIE_LEN];
	unsigned char b[256], c[COOKIE_LEN];
	int i, resent = 0, epdep;
	struct sent *s;

	/*
	 * The victim's REGISTER reaches P (its copy to P+1 is lost); the
	 * attacker sends that copy, without a cookie, from its own address.
	 */
	input(b, build_reg(b, 21, "acked", ROLE_PUNCH, zero), &v, 0);
	memcpy(c, answer(21, T_REGISTERED)->cookie, COOKIE_LEN);
	input(b, build_reg(b, 21, "acked", ROLE_PUNCH, c), &v, 0);
	input(b, build_reg(b, 21, "acked", ROLE_PUNCH, zero), &a, 1);
	NOW += ALT_WAIT_MS;
	reg(&p, 22, "acked", ROLE_PUNCH);
	input(b, build_ack(b, T_PEERACK, 21, "acked", ROLE_PUNCH), &a, 0);
	for (i = 0; i < 8000; i += 50) {
		NOW += 50;
		nlog = 0;
		(void)mediator_tick(M, NOW);
		mediator_flush(M);
		for (s = logb; s < logb + nlog; s++)
			resent += s->type == T_PEER && s->id == 21;
	}
	epdep = peers[22].type == T_PEER &&
	    (peers[22].flags & PEER_THEY_EPDEP) != 0;
	printf("victim_reintroduced %d told_peer_epdep %d\n", resent, epdep);
	return 0;
}

/*
 * Not an attack: a port mapping granted while registering (pnc sends a
 * REGISTER with it at once) and the copy to P+1 of the REGISTER before
 * it, read after it from the other socket. Does the peer's introduction
 * still carry the mapping? (reach.bats lost it 1 in 25 under load.)
 */
static int
latecopy(void)
{
	struct ep v = ep4(0xc6336402, 40000), v1 = ep4(0xc6336402, 40001);
	struct ep p = ep4(0xc6336406, 50000);
	struct ep loc[2] = { ep4(0x0a010002, 40000), ep4(0xc6336402, 47493) };
	static const unsigned char zero[COOKIE_LEN];
	unsigned char b[256], c[COOKIE_LEN];
	int i, mapped = 0;

	input(b, build_reg(b, 41, "late", ROLE_LISTEN, zero), &v, 0);
	memcpy(c, answer(41, T_REGISTERED)->cookie, COOKIE_LEN);
	input(b, build_reg_loc(b, 41, "late", ROLE_LISTEN, c, loc, 1), &v, 0);
	input(b, build_reg_loc(b, 41, "late", ROLE_LISTEN, c, loc, 2), &v, 0);
	input(b, build_reg_loc(b, 41, "late", ROLE_LISTEN, c, loc, 1), &v1, 1);
	reg(&p, 32, "late", ROLE_CONNECT);	/* the controlled side */
	for (i = 0; peers[32].type == T_PEER && i < peers[32].nloc; i++)
		mapped |= ep_equal(&peers[32].loc[i], &loc[1]);
	printf("introduced %d candidates %d mapping %d\n",
	    peers[32].type == T_PEER, peers[32].nloc, mapped);
	return 0;
}

/* An introduced pair "n" from a and b (listen, connect). */
static void
pair(const struct ep *a, const struct ep *b, uint64_t id, const char *n)
{
	unsigned char buf[256];

	reg(a, id, n, ROLE_LISTEN);
	reg(b, id + 1, n, ROLE_CONNECT);
	input(buf, build_ack(buf, T_PEERACK, id, n, ROLE_LISTEN), a, 0);
	input(buf, build_ack(buf, T_PEERACK, id + 1, n, ROLE_CONNECT), b, 0);
}

static int
relayreq(const struct ep *from, uint64_t id, const char *n, int role)
{
	unsigned char buf[256];
	struct sent *s;

	input(buf, build_ack(buf, T_RELAYREQ, id, n, role), from, 0);
	s = answer(id, 0);
	return s == NULL ? 0 : s->type == T_RELAYOK ? 1 : -s->code;
}

static void
relay_send(const struct ep *from, uint64_t id, size_t len)
{
	unsigned char buf[1500];
	struct wr w;

	wr_init(&w, buf, sizeof(buf));
	wr_hdr(&w, T_RELAY, id);
	memset(buf + HDR_LEN, 'x', len - HDR_LEN);
	input(buf, len, from, 0);
}

/* One address pairs with itself, name after name, and asks the relay. */
static int
hoard(void)
{
	struct ep a = ep4(0xcb007101, 1000), b = ep4(0xcb007101, 2000);
	char n[32];
	int i, got = 0;

	for (i = 0; i < 100; i++) {
		snprintf(n, sizeof(n), "h%d", i);
		a.u.in.sin_port = htons((uint16_t)(1000 + i));
		b.u.in.sin_port = htons((uint16_t)(3000 + i));
		pair(&a, &b, 1000 + 2 * (uint64_t)i, n);
		relayreq(&a, 1000 + 2 * (uint64_t)i, n, ROLE_LISTEN);
		got += relayreq(&b, 1001 + 2 * (uint64_t)i, n,
		    ROLE_CONNECT) == 1;
		NOW += 70;
	}
	printf("sessions %d\n", got);
	return 0;
}

/*
 * Only the attacker asks for the relay, then sends through it at the
 * victim, who never asked and has gone quiet.
 */
static int
unasked(void)
{
	struct ep a = ep4(0xcb007101, 1000), v = ep4(0xc6336402, 40000);
	int i, ok;

	pair(&a, &v, 31, "unasked");
	ok = relayreq(&a, 31, "unasked", ROLE_LISTEN);
	for (i = 0; i < 1000; i++) {
		relay_send(&a, 31, 1000);
		NOW += 10;
	}
	printf("relayok %d forwarded_to_victim %lu\n", ok, relayed);
	return 0;
}

/*
 * Both ask; then the victim stops sending (it has gone) and the other
 * side sends for 60 s: how much reaches the victim's endpoint?
 */
static int
consent(void)
{
	struct ep a = ep4(0xcb007101, 1000), v = ep4(0xc6336402, 40000);
	int i;

	pair(&a, &v, 41, "consent");
	relayreq(&a, 41, "consent", ROLE_LISTEN);
	relayreq(&v, 42, "consent", ROLE_CONNECT);
	relay_send(&v, 42, 100);
	relayed = 0;
	for (i = 0; i < 6000; i++) {
		relay_send(&a, 41, 1000);
		NOW += 10;
	}
	printf("forwarded_after_silence %lu ms %lu sessions_relayed %lu\n",
	    relayed, relayed * 10, mediator_stats(M)->relayed);

	return 0;
}

/*
 * Both sides send through the relay once a second for 62 minutes: how
 * much is forwarded after the first hour (the session's lifetime)?
 */
static int
lifetime(void)
{
	struct ep a = ep4(0xcb007101, 1000), v = ep4(0xc6336402, 40000);
	unsigned long before = 0;
	int i;

	pair(&a, &v, 51, "life");
	relayreq(&a, 51, "life", ROLE_LISTEN);
	relayreq(&v, 52, "life", ROLE_CONNECT);
	relayed = 0;
	for (i = 0; i < 62 * 60; i++) {
		if (i == 60 * 60 + 1)
			before = relayed;
		relay_send(&a, 51, 100);
		relay_send(&v, 52, 100);
		NOW += 1000;
	}
	printf("forwarded_first_hour %lu after_an_hour %lu\n", before,
	    relayed - before);
	return 0;
}

/* Eight sessions, each at its own -b: bytes relayed a second in all. */
static int
global(void)
{
	struct ep a, b;
	char n[32];
	int i, k;

	for (k = 0; k < 8; k++) {
		a = ep4(0x0b000001 + (uint32_t)k, 1000);
		b = ep4(0x0c000001 + (uint32_t)k, 1000);
		snprintf(n, sizeof(n), "g%d", k);
		pair(&a, &b, 100 + 2 * (uint64_t)k, n);
		relayreq(&a, 100 + 2 * (uint64_t)k, n, ROLE_LISTEN);
		relayreq(&b, 101 + 2 * (uint64_t)k, n, ROLE_CONNECT);
	}
	relayed_bytes = 0;
	for (i = 0; i < 10000; i++) {	/* 10 s, 1 ms steps */
		for (k = 0; k < 8; k++) {
			a = ep4(0x0b000001 + (uint32_t)k, 1000);
			b = ep4(0x0c000001 + (uint32_t)k, 1000);
			relay_send(&a, 100 + 2 * (uint64_t)k, 1000);
			relay_send(&b, 101 + 2 * (uint64_t)k, 100);
		}
		NOW += 1;
	}
	printf("relayed_bytes_per_sec %lu\n", relayed_bytes / 10);
	return 0;
}

static double
cpu_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

/*
 * The cost of one junk relay datagram (an id no session has) with the
 * tick the I/O loop runs at each wakeup, as the table holds `pending`
 * pairs waiting for their PEERACK and -x allows sessions: CPU time over
 * 200 000 of them or half a second.
 */
static int
cost(int pending)
{
	struct ep a, b, j = ep4(0xcb007101, 9);
	unsigned char buf[64];
	char n[32];
	double t0;
	int i, k = 200000;

	notick = 1;		/* the old tick is slow here: not timed */
	for (i = 0; i < pending; i++) {
		a = ep4(0x0a000000 + (uint32_t)i, 1000);
		b = ep4(0x0b000000 + (uint32_t)i, 1000);
		snprintf(n, sizeof(n), "p%d", i);
		reg(&a, 1000000 + 2 * (uint64_t)i, n, ROLE_PUNCH);
		reg(&b, 1000001 + 2 * (uint64_t)i, n, ROLE_PUNCH);
	}
	notick = 0;
	memset(buf, 0, sizeof(buf));
	t0 = cpu_ns();
	for (i = 0; i < k && (i % 1000 != 0 || cpu_ns() - t0 < 5e8); i++) {
		struct wr w;

		wr_init(&w, buf, sizeof(buf));
		wr_hdr(&w, T_RELAY, 0x5555000000000000ULL + (uint64_t)i);
		input(buf, 40, &j, 0);
	}
	printf("pending %d names %zu datagrams %d ns_per_datagram %.0f\n",
	    pending, mediator_stats(M)->names, i, (cpu_ns() - t0) / i);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *s;

	if (argc < 2) {
		fprintf(stderr, "usage: guard scenario [mediate options]\n");
		return 2;
	}
	s = argv[1];
	setup(argc - 1, argv + 1);
	if (strcmp(s, "stunlock") == 0)
		return stunlock();
	if (strncmp(s, "fill", 4) == 0 && argc >= 2)
		return fill(atoi(s + 4), atoi(getenv("SOURCES") ?
		    getenv("SOURCES") : "6000"), atoi(getenv("ADDRS") ?
		    getenv("ADDRS") : "1000000"));
	if (strcmp(s, "move") == 0)
		return move();
	if (strcmp(s, "shares") == 0)
		return shares(argc - 1, argv + 1, atoi(getenv("TRIALS") ?
		    getenv("TRIALS") : "30"), atoi(getenv("SHARE") ?
		    getenv("SHARE") : "100"));
	if (strcmp(s, "ackspoof") == 0)
		return ackspoof();
	if (strcmp(s, "latecopy") == 0)
		return latecopy();
	if (strcmp(s, "hoard") == 0)
		return hoard();
	if (strcmp(s, "unasked") == 0)
		return unasked();
	if (strcmp(s, "consent") == 0)
		return consent();
	if (strcmp(s, "lifetime") == 0)
		return lifetime();
	if (strcmp(s, "global") == 0)
		return global();
	if (strncmp(s, "cost", 4) == 0)
		return cost(atoi(s + 4));
	fprintf(stderr, "guard: no scenario %s\n", s);
	return 2;
}
