/*
 * loadgen.c - load and timing helpers for tests/bench.sh (make bench) and
 * tests/hostile.bats.
 *
 * Plain C11 and libc. Speaks pnc's wire protocol version 3 (PROTOCOL) as
 * many clients at once, from a few sockets: a client's identity at the
 * mediator is its 64-bit id and its name, so distinct ids and names are
 * enough, and the replies are told apart by the id in their header. Each
 * new client registers as pnc does (punch.c: send_register, on_mediator):
 * every REGISTER is padded to 64 bytes and carries the cookie field; the
 * first, with a zero cookie, goes to port P only; a REGISTERED with ttl 0
 * from P is answered at once with the REGISTER again, with that cookie,
 * to P and to P+1 (P's cookie, unless P+1 has handed out one of its own).
 * That round trip is part of each rendezvous and registration timed.
 *
 *   loadgen rate PORT SECS [WINDOW]     rendezvous per second: WINDOW pairs
 *       in flight, each two clients of one new name; a pair is done when
 *       both have their T_PEER and the controlling side its "ready".
 *       "intros" counts the T_PEER datagrams of the completed pairs,
 *       "early" their controlling sides introduced before "ready",
 *       "badrole" pairs where the lower id was told it controls,
 *       "cpu_ms" the CPU time loadgen itself used (user and system).
 *       PORT may be a list, PORT,PORT,...: a mediator on each; each
 *       name goes to the one pnc would register it with first
 *       (hrw_pick, the same rendezvous hashing), and a second line says
 *       how many pairs each was given (med0 N ...).
 *   loadgen rate PORT SECS WINDOW mute  the same, but the controlled
 *       side never acknowledges its T_PEER: a pair is done when both
 *       have one (the controlling side's then without "ready").
 *   loadgen fill PORT COUNT [WINDOW]    COUNT registrations that wait for
 *       a peer (each a new name, acknowledged by T_REGISTERED); then exit
 *       so that the caller can read the mediator's memory.
 *   loadgen reflect PORT                the floor for a UDP server on one
 *       core: answer each datagram to 127.0.0.1:PORT with itself.
 *   loadgen echo PORT SECS [WINDOW]     drive reflect: round trips/s.
 *   loadgen xchg LPORT ADDR PORT [MS]   the floor for a punch: from local
 *       port LPORT, send to ADDR:PORT every 10 ms until a datagram from
 *       there arrives; print "ok", answer for 200 ms more, exit 0 (1 after
 *       MS, default 5000, without an answer).
 *   loadgen sink                        read stdin to its end; print the
 *       bytes and the seconds from the first byte to the last.
 *   loadgen flood ADDR PORT COUNT SECS [cookie|nocookie]
 *       a registration flood from this host: COUNT new names from
 *       FLOOD_SOCKS sockets, as fast as the mediator answers (at most
 *       FLOOD_WINDOW names unanswered) for at most SECS seconds. "cookie"
 *       (the default) does the cookie exchange once per socket, as pnc
 *       does it (the first name to PORT only), and then sends each name
 *       as pnc sends a REGISTER with a cookie: to PORT, then PORT+1;
 *       "nocookie" never has a cookie and sends each name to PORT+1 and
 *       PORT (what a flood with forged source addresses looks like to
 *       the mediator). Prints one line: each name's outcome
 *       (registered, cookie: a ttl 0 REGISTERED, err2, err4, other, lost:
 *       no answer within FLOOD_LOST_US), the reply datagrams by kind
 *       (rx_*), the bytes sent and received, the longest request and
 *       reply, and "over": replies longer than the request that drew
 *       them. "loadgen: flooding" on stderr when the flood proper starts.
 *   loadgen rank NAME ADDR:PORT...      the mediators (IPv4) in the order
 *       pnc ranks them for NAME (hrw_weight), one a line.
 *   loadgen amp ADDR PORT               from fresh sockets (sources that
 *       never showed a cookie), one request of each kind (AMP_CASES),
 *       well-formed and not; collect every reply until the replies have
 *       stopped for AMP_QUIET_US (AMP_LIMIT_US at most). Prints one line
 *       per request, "case NAME port P request BYTES replies N max BYTES",
 *       then "over N": the replies longer than their request. Exit 1 if
 *       there is one.
 *
 * rate, fill, reflect and echo talk to 127.0.0.1 only; flood and amp to
 * any IPv4 address. Every loop is bounded in time. Results go to stdout
 * as "key value" words.
 */
#define _GNU_SOURCE

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NSOCKS		64	/* client sockets: many source ports */
#define RTO_US		400000	/* resend what is unanswered after */
#define HDR_LEN		12
#define VERSION		3
#define REQ_MIN		64	/* REGISTER and BIND are padded to this */
#define COOKIE_LEN	8
#define T_REGISTER	0x01
#define T_REGISTERED	0x02
#define T_PEER		0x03
#define T_PEERACK	0x04
#define T_ERROR		0x05
#define T_BIND		0x06
#define ROLE_PUNCH	1
#define PEER_CONTROLLING 0x01
#define PEER_READY	0x08
#define E_FULL		2
#define E_RATE		4
#define FILL_LIMIT_US	120000000	/* fill gives up after 2 minutes */
#define MAX_MEDS	8	/* rate, fill: PORT,PORT,...: mediators */
#define FILL_RTO_US	50000	/* fill resends what is unanswered after */

#define FLOOD_SOCKS	16	/* flood: source ports, one cookie each */
#define FLOOD_WINDOW	128	/* names sent and not yet answered */
#define FLOOD_RING	65536	/* names between the oldest unanswered
				   and the newest: bounds the send times kept */
#define FLOOD_LOST_US	500000	/* unanswered this long: lost */
#define FLOOD_MAX	(16 << 20)

#define AMP_QUIET_US	300000	/* amp: no reply for this long: done */
#define AMP_LIMIT_US	3000000

/* One rendezvous in flight (rate), or one pending registration (fill). */
struct pair {
	uint32_t	gen;		/* bumps when the slot is reused */
	uint64_t	seq;		/* names the pair: unique in the run */
	int64_t		start, tx;
	uint8_t		got[2];		/* 1 REGISTERED, 2 PEER */
	uint8_t		ready;		/* the controlling side saw READY */
	uint8_t		done;
	uint8_t		tries;		/* resends so far */
	uint8_t		intros;		/* T_PEER datagrams received */
	uint8_t		early;		/* ... by the controlling side, no READY */
	uint8_t		badrole;	/* control not given to the higher id */
	uint8_t		med;		/* its mediator: rendezvous hashing */
	unsigned char	cookie[2][2][COOKIE_LEN]; /* side, mediator port */
};

/*
 * Datagrams queued for one client socket, sent with one sendmmsg when
 * the socket's burst of replies is handled (or the queue is full): the
 * load generator's system calls should not be what the rate measures.
 */
#define QMAX	64
struct outq {
	int		 n;
	struct mmsghdr	 msg[QMAX];
	struct iovec	 iov[QMAX];
	unsigned char	 buf[QMAX][128];
};

struct gen {
	int		 fds[NSOCKS];
	struct outq	*q;		/* one per socket */
	struct sockaddr_in med[MAX_MEDS][2];	/* each one's P and P+1 */
	int		 nmeds;
	uint64_t	 per_med[MAX_MEDS];	/* pairs started on each */
	uint16_t	 salt;
	int		 sides;		/* 2: rate, 1: fill */
	int		 mute;		/* rate: the controlled side never acks */
	struct pair	*p;
	size_t		 window;
	uint64_t	 next_seq, limit_seq;
	uint64_t	 completed, first_try, resent, errors, stale, cookies;
	uint64_t	 intros, early, badrole;	/* of completed pairs */
	int64_t		*lat;		/* completion latencies, us */
	size_t		 nlat, caplat;
};

/* What a reply from the mediator is. */
struct reply {
	int		 type;		/* -1: not a version 2 message */
	uint64_t	 id;
	int		 ttl;		/* T_REGISTERED; -1 if malformed */
	const unsigned char *cookie;
	int		 code;		/* T_ERROR; -1 if malformed */
	int		 flags;		/* T_PEER */
	uint64_t	 peer;		/* T_PEER: the peer's id, or 0 */
};

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A number in [lo, hi] at the start of s, up to a comma or the end. */
static long
num_prefix(const char *s, long lo, long hi)
{
	char *end;
	long v;

	v = strtol(s, &end, 10);
	if (end == s || (*end != '\0' && *end != ',') || v < lo || v > hi) {
		fprintf(stderr, "loadgen: bad number: %s\n", s);
		exit(2);
	}
	return v;
}

static long
num(const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *s == '\0' || *end || v < lo || v > hi) {
		fprintf(stderr, "loadgen: bad number: %s\n", s);
		exit(2);
	}
	return v;
}

/*
 * A UDP socket on addr (INADDR_LOOPBACK, INADDR_ANY), port 0: any, with
 * big buffers.
 */
static int
udp_open(uint32_t addr, int port, int nonblock)
{
	struct sockaddr_in sin;
	int fd, one = 1, big = 4 << 20;

	fd = socket(AF_INET, SOCK_DGRAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd == -1)
		return -1;
	/*
	 * Only for a port of our choosing: with SO_REUSEADDR, two UDP
	 * sockets bound to port 0 may get the same port (1 in 80 sets of
	 * amp's 25 here), and one takes the other's replies.
	 */
	if (port != 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one));
	/* Root may exceed rmem_max: lose nothing on our side. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)))
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)))
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(addr);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ADDR PORT of the command line: an IPv4 destination. */
static void
dest(const char *addr, const char *port, struct sockaddr_in *sin)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)num(port, 1, 65534));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1) {
		fprintf(stderr, "loadgen: bad address %s\n", addr);
		exit(2);
	}
}

static uint64_t
salt64(void)
{
	uint64_t salt;

	if (getentropy(&salt, sizeof(salt)) == -1)
		salt = (uint64_t)now_us() ^ (uint64_t)getpid() << 32;
	return salt;
}

static void
put64(unsigned char *b, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		b[i] = (unsigned char)v;
}

static uint64_t
get64(const unsigned char *b)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

/*
 * The version this run speaks: VERSION, or LOADGEN_VERSION's, so that
 * make bench can load a mediator of an older protocol the same way.
 */
static int version = VERSION;

/* LOADGEN_SHARD k: rate plays only the names pnc would take to the k-th
 * mediator of PORT,PORT,... (one load generator per mediator); -1: all. */
static int shard = -1;

/* The 12-byte header of protocol version 3. */
static void
hdr(unsigned char *b, int type, uint64_t id)
{
	b[0] = 'P';
	b[1] = 'N';
	b[2] = (unsigned char)version;
	b[3] = (unsigned char)type;
	put64(b + 4, id);
}

/*
 * A REGISTER without local candidates: role, name, cookie (NULL: zeros),
 * zero padding to REQ_MIN. b holds at least 128 bytes; returns the length.
 */
static size_t
reg_build(unsigned char *b, uint64_t id, const char *name, size_t n,
    const unsigned char *cookie)
{
	size_t len;

	hdr(b, T_REGISTER, id);
	b[12] = ROLE_PUNCH;
	b[13] = (unsigned char)n;
	memcpy(b + 14, name, n);
	b[14 + n] = 0;			/* no local candidates */
	if (cookie != NULL)
		memcpy(b + 15 + n, cookie, COOKIE_LEN);
	else
		memset(b + 15 + n, 0, COOKIE_LEN);
	len = 15 + n + COOKIE_LEN;
	if (len < REQ_MIN) {
		memset(b + len, 0, REQ_MIN - len);
		len = REQ_MIN;
	}
	return len;
}

/* Parse what the mediator sent; r->type is -1 for anything else. */
static void
parse_reply(const unsigned char *b, ssize_t n, struct reply *r)
{
	size_t eplen;

	memset(r, 0, sizeof(*r));
	r->type = -1;
	r->ttl = r->code = -1;
	if (n < HDR_LEN || b[0] != 'P' || b[1] != 'N' || b[2] != version)
		return;
	r->type = b[3];
	r->id = get64(b + 4);
	switch (r->type) {
	case T_REGISTERED:
		/* ep(family port addr) ttl(2) cookie(8), nothing after */
		if (n < HDR_LEN + 1)
			return;
		eplen = b[HDR_LEN] == 4 ? 7 : b[HDR_LEN] == 6 ? 19 : 0;
		if (eplen == 0 ||
		    (size_t)n != HDR_LEN + eplen + 2 + COOKIE_LEN)
			return;
		r->ttl = b[HDR_LEN + eplen] << 8 | b[HDR_LEN + eplen + 1];
		r->cookie = b + HDR_LEN + eplen + 2;
		break;
	case T_ERROR:
		if (n >= HDR_LEN + 1)
			r->code = b[HDR_LEN];
		break;
	case T_PEER:
		if (n >= HDR_LEN + 1)
			r->flags = b[HDR_LEN];
		if (n >= HDR_LEN + 10)
			r->peer = get64(b + HDR_LEN + 2);
		break;
	}
}

/*
 * Client ids: salt(16) slot(23) gen(24) side(1). A reply names its slot
 * and generation, so a late answer to a finished pair is recognised.
 */
static uint64_t
client_id(const struct gen *g, size_t slot, int side)
{
	return (uint64_t)g->salt << 48 | (uint64_t)slot << 25 |
	    (uint64_t)(g->p[slot].gen & 0xffffff) << 1 | (uint64_t)side;
}

/* Has this client a cookie from mediator port alt? */
static int
has_cookie(const struct pair *p, int side, int alt)
{
	static const unsigned char zero[COOKIE_LEN];

	return memcmp(p->cookie[side][alt], zero, COOKIE_LEN) != 0;
}

/* A burst of datagrams for recvmmsg. */
struct burst {
	unsigned char	 b[QMAX][1600];
	struct sockaddr_in from[QMAX];
	struct mmsghdr	 mm[QMAX];
	struct iovec	 iov[QMAX];
};

/* Receive a burst from fd (flags as recvmmsg's); returns as it does. */
static int
burst_recv(struct burst *u, int fd, int flags)
{
	int j;

	memset(u->mm, 0, sizeof(u->mm));
	for (j = 0; j < QMAX; j++) {
		u->iov[j].iov_base = u->b[j];
		u->iov[j].iov_len = sizeof(u->b[j]);
		u->mm[j].msg_hdr.msg_iov = &u->iov[j];
		u->mm[j].msg_hdr.msg_iovlen = 1;
		u->mm[j].msg_hdr.msg_name = &u->from[j];
		u->mm[j].msg_hdr.msg_namelen = sizeof(u->from[j]);
	}
	return recvmmsg(fd, u->mm, QMAX, flags, NULL);
}

/* Send what is queued for socket k. */
static void
flush_sock(struct gen *g, int k)
{
	struct outq *q = &g->q[k];
	int off = 0, r;

	while (off < q->n) {
		if ((r = sendmmsg(g->fds[k], q->msg + off,
		    (unsigned)(q->n - off), 0)) > 0)
			off += r;
		else if (errno != EINTR)
			off++;		/* lost: the resend timer covers it */
	}
	q->n = 0;
}

static void
flush_all(struct gen *g)
{
	int k;

	for (k = 0; k < NSOCKS; k++)
		if (g->q[k].n > 0)
			flush_sock(g, k);
}

/*
 * REGISTER to mediator port alt (extra < 0), or PEERACK with flags
 * extra, for one client.
 */
static size_t
build(const struct gen *g, size_t slot, int side, int alt, int extra,
    unsigned char *b)
{
	const struct pair *p = &g->p[slot];
	char name[40];
	int n;

	n = snprintf(name, sizeof(name), "lg%04x-%llu", g->salt,
	    (unsigned long long)p->seq);
	/* As pnc: P's cookie is good at P+1 unless P+1 gave its own. */
	if (extra < 0)
		return reg_build(b, client_id(g, slot, side), name, (size_t)n,
		    p->cookie[side][alt && has_cookie(p, side, 1)]);
	hdr(b, T_PEERACK, client_id(g, slot, side));
	b[12] = ROLE_PUNCH;
	b[13] = (unsigned char)n;
	memcpy(b + 14, name, (size_t)n);
	b[14 + n] = (unsigned char)extra;
	return (size_t)(15 + n);
}

/* A client's socket: by its pair's sequence, so all NSOCKS take turns. */
static int
sock_of(const struct gen *g, size_t slot, int side)
{
	return (int)((g->p[slot].seq * (uint64_t)g->sides + (uint64_t)side) %
	    NSOCKS);
}

/* One REGISTER copy (to port P, or P+1 with alt) or a PEERACK, queued. */
static void
tx_one(struct gen *g, size_t slot, int side, int alt, int extra)
{
	int k = sock_of(g, slot, side);
	struct outq *q = &g->q[k];
	struct msghdr *mh;

	if (q->n == QMAX)
		flush_sock(g, k);
	mh = &q->msg[q->n].msg_hdr;
	memset(mh, 0, sizeof(*mh));
	q->iov[q->n].iov_base = q->buf[q->n];
	q->iov[q->n].iov_len = build(g, slot, side, alt, extra, q->buf[q->n]);
	mh->msg_iov = &q->iov[q->n];
	mh->msg_iovlen = 1;
	mh->msg_name = (void *)&g->med[g->p[slot].med][alt != 0];
	mh->msg_namelen = sizeof(g->med[0][0]);
	q->n++;
}

/*
 * A REGISTER as pnc sends it: to P, and to P+1 once P has given a cookie
 * (before, the copy to P+1 would only fetch another); or a PEERACK, to P.
 */
static void
tx(struct gen *g, size_t slot, int side, int extra)
{
	tx_one(g, slot, side, 0, extra);
	if (extra < 0 && has_cookie(&g->p[slot], side, 0))
		tx_one(g, slot, side, 1, extra);
}

/* Start a new pair (or registration) in slot, if the run wants one. */
static void	usage(void);

/* The CPU time this process has used, user and system, in ms. */
static long long
cpu_ms(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) == -1)
		return -1;
	return (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

#define ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do { \
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
} while (0)

/* SipHash-2-4 under the all-zero key, written apart from crypto.c's. */
static uint64_t
siphash0(const unsigned char *m, size_t n)
{
	uint64_t v0 = 0x736f6d6570736575ULL, v1 = 0x646f72616e646f6dULL;
	uint64_t v2 = 0x6c7967656e657261ULL, v3 = 0x7465646279746573ULL;
	uint64_t b = (uint64_t)n << 56, w;
	size_t i, j;

	for (i = 0; i + 8 <= n; i += 8) {
		for (w = 0, j = 0; j < 8; j++)
			w |= (uint64_t)m[i + j] << (8 * j);
		v3 ^= w;
		SIPROUND;
		SIPROUND;
		v0 ^= w;
	}
	for (j = 0; i + j < n; j++)
		b |= (uint64_t)m[i + j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/*
 * Rendezvous hashing (highest random weight) as pnc ranks its mediators
 * for a name (punch.c: med_weight; PROTOCOL 2.1, "Several mediators"):
 * SipHash-2-4 under the zero key of the mediator's endpoint in wire
 * form (family 4, port P, the 4 address bytes) and the name.
 */
static uint64_t
hrw_weight(const char *name, size_t n, const struct sockaddr_in *med)
{
	unsigned char b[7 + 64];

	if (n > 64)
		n = 64;
	b[0] = 4;
	memcpy(b + 1, &med->sin_port, 2);
	memcpy(b + 3, &med->sin_addr, 4);
	memcpy(b + 7, name, n);
	return siphash0(b, 7 + n);
}

/* The mediator that ranks first for the name: the one a pair meets at. */
static int
hrw_pick(const struct gen *g, const char *name, size_t n)
{
	uint64_t w, best = 0;
	int i, k = 0;

	for (i = 0; i < g->nmeds; i++)
		if ((w = hrw_weight(name, n, &g->med[i][0])) > best ||
		    i == 0) {
			best = w;
			k = i;
		}
	return k;
}

/*
 * loadgen rank NAME ADDR:PORT...: the mediators in pnc's order for NAME,
 * one a line, as given.
 */
static int
run_rank(const char *name, int n, char **meds)
{
	struct sockaddr_in e[MAX_MEDS];
	int i, j, done[MAX_MEDS] = { 0 }, best;
	char host[64], *colon;

	if (n > MAX_MEDS)
		usage();
	for (i = 0; i < n; i++) {
		snprintf(host, sizeof(host), "%s", meds[i]);
		if ((colon = strrchr(host, ':')) == NULL)
			usage();
		*colon = '\0';
		memset(&e[i], 0, sizeof(e[i]));
		e[i].sin_family = AF_INET;
		e[i].sin_port = htons((uint16_t)num(colon + 1, 1, 65535));
		if (inet_pton(AF_INET, host, &e[i].sin_addr) != 1)
			usage();
	}
	for (i = 0; i < n; i++) {
		for (best = -1, j = 0; j < n; j++)
			if (!done[j] && (best == -1 || hrw_weight(name,
			    strlen(name), &e[j]) > hrw_weight(name,
			    strlen(name), &e[best])))
				best = j;
		done[best] = 1;
		printf("%s\n", meds[best]);
	}
	return 0;
}

static void
pair_start(struct gen *g, size_t slot, int64_t now)
{
	char name[40];
	int n;

	struct pair *p = &g->p[slot];
	int side;

	if (g->next_seq >= g->limit_seq) {
		p->done = 1;
		return;
	}
	p->gen++;
	do {	/* LOADGEN_SHARD: only the names hashed to that mediator */
		p->seq = g->next_seq++;
		n = snprintf(name, sizeof(name), "lg%04x-%llu", g->salt,
		    (unsigned long long)p->seq);
		p->med = (uint8_t)hrw_pick(g, name, (size_t)n);
	} while (shard >= 0 && p->med != shard);
	g->per_med[p->med]++;
	p->start = p->tx = now;
	p->got[0] = p->got[1] = 0;
	p->ready = p->done = p->tries = p->intros = p->early = 0;
	p->badrole = 0;
	/* New clients: no cookie yet, as a pnc that has just started. */
	memset(p->cookie, 0, sizeof(p->cookie));
	for (side = 0; side < g->sides; side++)
		tx(g, slot, side, -1);
}

static void
pair_done(struct gen *g, size_t slot, int64_t now)
{
	if (g->nlat < g->caplat)
		g->lat[g->nlat++] = now - g->p[slot].start;
	g->completed++;
	g->first_try += g->p[slot].tries == 0;
	g->intros += g->p[slot].intros;
	g->early += g->p[slot].early;
	g->badrole += g->p[slot].badrole;
	pair_start(g, slot, now);
}

/* One datagram from the mediator, from its port P or P+1 (alt). */
static void
on_reply(struct gen *g, const unsigned char *b, ssize_t n, int alt,
    int64_t now)
{
	struct reply r;
	size_t slot;
	int side;
	struct pair *p;

	parse_reply(b, n, &r);
	if (r.type == -1)
		return;
	slot = (size_t)(r.id >> 25 & 0x7fffff);
	side = (int)(r.id & 1);
	if (r.id >> 48 != g->salt || slot >= g->window || side >= g->sides) {
		g->stale++;
		return;
	}
	p = &g->p[slot];
	if ((uint32_t)(r.id >> 1 & 0xffffff) != (p->gen & 0xffffff) ||
	    p->done) {
		g->stale++;
		return;
	}
	if (r.type == T_ERROR) {
		if (g->errors++ == 0)
			fprintf(stderr, "loadgen: mediator error code %d\n",
			    r.code);
		return;
	}
	if (r.type == T_REGISTERED) {
		if (r.ttl == -1)
			return;
		if (r.ttl == 0) {
			/*
			 * Not registered: repeat at once with the cookie, as
			 * pnc does (P's to both ports); a cookie already sent
			 * waits for resend(), so that no answer can make us
			 * loop.
			 */
			if (memcmp(p->cookie[side][alt], r.cookie,
			    COOKIE_LEN) != 0) {
				memcpy(p->cookie[side][alt], r.cookie,
				    COOKIE_LEN);
				g->cookies++;
				if (alt)
					tx_one(g, slot, side, 1, -1);
				else
					tx(g, slot, side, -1);
			}
			return;
		}
		memcpy(p->cookie[side][alt], r.cookie, COOKIE_LEN);
		if (alt)
			return;		/* pnc counts only P's answer */
		p->got[side] |= 1;
		if (g->sides == 1)
			pair_done(g, slot, now);
		return;
	}
	if (r.type != T_PEER || n < HDR_LEN + 1)
		return;
	p->got[side] |= 2;
	if (p->intros < 255)
		p->intros++;
	if ((r.flags & PEER_CONTROLLING) && !(r.flags & PEER_READY))
		p->early = 1;
	if (((r.flags & PEER_CONTROLLING) != 0) != (r.id > r.peer))
		p->badrole = 1;
	if (!g->mute || (r.flags & PEER_CONTROLLING))
		tx(g, slot, side, r.flags);	/* PEERACK, as pnc does */
	if ((r.flags & PEER_CONTROLLING) &&
	    ((r.flags & PEER_READY) || g->mute))
		p->ready = 1;
	if (g->sides == 2 && (p->got[0] & 2) && (p->got[1] & 2) && p->ready)
		pair_done(g, slot, now);
}

/*
 * Resend the REGISTERs of clients that have not had their answer. In
 * protocol version 2 every first REGISTER is answered at once (with the
 * cookie), so what is unanswered was lost: mostly in the mediator's
 * socket buffer, which a window of lone registrations (fill) fills in a
 * burst; they are resent after FILL_RTO_US, pairs (rate) after RTO_US.
 */
static void
resend(struct gen *g, int64_t now)
{
	size_t i;
	int side, want = g->sides == 2 ? 2 : 1;
	int64_t rto = g->sides == 1 ? FILL_RTO_US : RTO_US;

	for (i = 0; i < g->window; i++) {
		struct pair *p = &g->p[i];

		if (p->done || now - p->tx < rto)
			continue;
		p->tx = now;
		if (p->tries < 255)
			p->tries++;
		for (side = 0; side < g->sides; side++)
			if (!(p->got[side] & want)) {
				tx(g, i, side, -1);
				g->resent++;
			}
	}
}

static int
all_done(const struct gen *g)
{
	size_t i;

	for (i = 0; i < g->window; i++)
		if (!g->p[i].done)
			return 0;
	return 1;
}

/*
 * Drain every readable socket, a few bursts of QMAX each (recvmmsg), and
 * send what the replies called for.
 */
/* A reply from some mediator's port P+1? */
static int
is_alt(const struct gen *g, in_port_t port)
{
	int i;

	for (i = 0; i < g->nmeds; i++)
		if (port == g->med[i][1].sin_port)
			return 1;
	return 0;
}

static void
drain(struct gen *g, struct pollfd *pfd, int64_t now)
{
	static struct burst u;
	int i, j, k, n;

	for (i = 0; i < NSOCKS; i++) {
		if (!(pfd[i].revents & POLLIN))
			continue;
		for (k = 0; k < 4; k++) {
			if ((n = burst_recv(&u, pfd[i].fd, 0)) <= 0)
				break;
			for (j = 0; j < n; j++)
				on_reply(g, u.b[j], (ssize_t)u.mm[j].msg_len,
				    is_alt(g, u.from[j].sin_port), now);
			if (n < QMAX)
				break;
		}
	}
	flush_all(g);
}

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int64_t
pct(int64_t *v, size_t n, int p)
{
	size_t k;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp64);
	k = (n * (size_t)p + 99) / 100;
	return v[k ? k - 1 : 0];
}

/* rate and fill: the client side of many rendezvous. */
static int
run_clients(const char *ports, int sides, int64_t secs, uint64_t count,
    size_t window, int mute)
{
	static struct gen g;
	const char *c;
	int port;
	struct pollfd pfd[NSOCKS];
	int64_t t0, now, last_scan, end;
	size_t i;

	memset(&g, 0, sizeof(g));
	g.sides = sides;
	g.mute = mute;
	g.window = window;
	g.limit_seq = sides == 2 ? UINT64_MAX : count;
	g.salt = (uint16_t)(salt64() | 1);
	g.p = calloc(window, sizeof(*g.p));
	g.q = calloc(NSOCKS, sizeof(*g.q));
	g.caplat = 1 << 22;
	g.lat = malloc(g.caplat * sizeof(*g.lat));
	if (g.p == NULL || g.q == NULL || g.lat == NULL) {
		perror("loadgen: malloc");
		return 1;
	}
	/* PORT or PORT,PORT,...: a mediator on each, on 127.0.0.1. */
	for (c = ports; g.nmeds < MAX_MEDS; c = strchr(c, ',') + 1) {
		port = (int)num_prefix(c, 1, 65534);
		memset(g.med[g.nmeds], 0, sizeof(g.med[g.nmeds]));
		g.med[g.nmeds][0].sin_family = AF_INET;
		g.med[g.nmeds][0].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		g.med[g.nmeds][0].sin_port = htons((uint16_t)port);
		g.med[g.nmeds][1] = g.med[g.nmeds][0];
		g.med[g.nmeds][1].sin_port = htons((uint16_t)(port + 1));
		g.nmeds++;
		if (strchr(c, ',') == NULL)
			break;
	}
	if (shard >= g.nmeds) {
		fprintf(stderr, "loadgen: LOADGEN_SHARD %d of %d mediators\n",
		    shard, g.nmeds);
		return 2;
	}
	/*
	 * Each socket on an address of its own, 127.1.0.1, 127.2.0.1 and
	 * up (all of 127/8 is the loopback's): the mediator gives one
	 * address at most 1/64 of its table, a /24 1/16 and a /16 1/4, so
	 * NSOCKS sources in as many /16s can fill it, as many users would.
	 */
	for (i = 0; i < NSOCKS; i++) {
		if ((g.fds[i] = udp_open(0x7f000001 + (((uint32_t)i + 1) << 16),
		    0, 1))
		    == -1) {
			perror("loadgen: socket");
			return 1;
		}
		pfd[i].fd = g.fds[i];
		pfd[i].events = POLLIN;
	}
	t0 = last_scan = now_us();
	end = t0 + (sides == 2 ? secs * 1000000 : FILL_LIMIT_US);
	for (i = 0; i < window; i++)
		pair_start(&g, i, t0);
	flush_all(&g);
	for (now = t0; now < end && !all_done(&g); now = now_us()) {
		if (poll(pfd, NSOCKS, sides == 1 ? 1 : 10) == -1 &&
		    errno != EINTR)
			break;
		now = now_us();
		drain(&g, pfd, now);
		if (sides == 1 || now - last_scan >= 50000) {
			resend(&g, now);
			flush_all(&g);
			last_scan = now;
		}
	}
	printf("%s %llu secs %.3f per_sec %.0f p50_ms %.2f p99_ms %.2f "
	    "first_try %llu resent %llu errors %llu stale %llu cookies %llu "
	    "intros %llu early %llu badrole %llu cpu_ms %lld\n",
	    sides == 2 ? "rendezvous" : "registered",
	    (unsigned long long)g.completed, (double)(now - t0) / 1e6,
	    (double)g.completed * 1e6 / (double)(now - t0),
	    (double)pct(g.lat, g.nlat, 50) / 1e3,
	    (double)pct(g.lat, g.nlat, 99) / 1e3,
	    (unsigned long long)g.first_try,
	    (unsigned long long)g.resent, (unsigned long long)g.errors,
	    (unsigned long long)g.stale, (unsigned long long)g.cookies,
	    (unsigned long long)g.intros, (unsigned long long)g.early,
	    (unsigned long long)g.badrole, cpu_ms());
	if (g.nmeds > 1) {	/* how the names split, started pairs */
		for (i = 0; i < (size_t)g.nmeds; i++)
			printf("%smed%zu %llu", i ? " " : "", i,
			    (unsigned long long)g.per_med[i]);
		printf("\n");
	}
	return sides == 1 && g.completed < count;
}

/* ---- flood ---- */

enum { K_NONE, K_OK, K_COOKIE, K_ERR2, K_ERR4, K_OTHER, K_LOST, K_MAX };

static const char *const kname[K_MAX] = {
	"none", "registered", "cookie", "err2", "err4", "other", "lost"
};

struct fsock {
	int		 fd;
	uint8_t		 have[2];	/* a cookie for port P, P+1 */
	unsigned char	 cookie[2][COOKIE_LEN];
	int64_t		 asked;		/* cookie exchange under way since */
};

struct flood {
	struct fsock	 s[FLOOD_SOCKS];
	struct sockaddr_in med, med_alt;
	int		 use_cookie;
	uint32_t	 salt;
	uint64_t	 count, next, lo, inflight;
	uint8_t		*kind;		/* per name: K_* */
	uint8_t		*sock;		/* per name: the socket it went from */
	int64_t		*sent_at;	/* FLOOD_RING send times */
	uint64_t	 names[K_MAX], rx[K_MAX];
	uint64_t	 dgrams, rxn, bytes_tx, bytes_rx, over, stray;
	size_t		 max_req, max_rep;
	int		 rr;		/* next socket to send from */
};

static size_t
flood_build(const struct flood *f, uint64_t seq, int alt, unsigned char *b)
{
	const struct fsock *s = &f->s[f->sock[seq]];
	const unsigned char *c = NULL;
	char name[40];
	int n;

	/* Unpredictable names: a random run salt and the name's number. */
	n = snprintf(name, sizeof(name), "f%08x-%llx", f->salt,
	    (unsigned long long)seq);
	if (f->use_cookie && s->have[alt])
		c = s->cookie[alt];
	else if (f->use_cookie && s->have[0])
		c = s->cookie[0];	/* the same source: the same cookie */
	return reg_build(b, (uint64_t)f->salt << 32 | seq, name, (size_t)n,
	    c);
}

/* One copy of name seq's REGISTER, to port P or (alt) P+1. */
static void
flood_tx(struct flood *f, uint64_t seq, int alt)
{
	unsigned char b[128];
	size_t len = flood_build(f, seq, alt, b);
	const struct sockaddr_in *to = alt ? &f->med_alt : &f->med;

	if (sendto(f->s[f->sock[seq]].fd, b, len, 0,
	    (const struct sockaddr *)to, sizeof(*to)) == -1)
		return;
	f->dgrams++;
	f->bytes_tx += len;
	if (len > f->max_req)
		f->max_req = len;
}

static void
flood_name(struct flood *f, int sock, int64_t now)
{
	uint64_t seq = f->next++;

	f->sock[seq] = (uint8_t)sock;
	f->sent_at[seq % FLOOD_RING] = now;
	f->inflight++;
	if (!f->use_cookie) {
		flood_tx(f, seq, 1);	/* forged: whatever draws a reply */
		flood_tx(f, seq, 0);
		return;
	}
	/* As pnc: to P, and to P+1 once P has given the cookie. */
	flood_tx(f, seq, 0);
	if (f->s[sock].have[0])
		flood_tx(f, seq, 1);
}

static void
flood_resolve(struct flood *f, uint64_t seq, int k)
{
	if (f->kind[seq] != K_NONE)
		return;
	f->kind[seq] = (uint8_t)k;
	f->names[k]++;
	f->inflight--;
}

/*
 * Send new names while the window has room. In cookie mode a socket
 * sends only once it has its cookie; one without sends a single name to
 * fetch it (again once that name is lost). Returns 1 if it sent any.
 */
static int
flood_send(struct flood *f, int64_t now)
{
	int i, k, sent = 0;
	struct fsock *s;

	while (f->next < f->count && f->inflight < FLOOD_WINDOW &&
	    f->next - f->lo < FLOOD_RING) {
		for (i = 0; i < FLOOD_SOCKS; i++) {
			k = (f->rr + i) % FLOOD_SOCKS;
			s = &f->s[k];
			if (!f->use_cookie || s->have[0])
				break;
			if (s->asked == 0 || now - s->asked >= FLOOD_LOST_US) {
				s->asked = now;
				break;
			}
		}
		if (i == FLOOD_SOCKS)
			break;		/* every socket waits for a cookie */
		f->rr = (k + 1) % FLOOD_SOCKS;
		flood_name(f, k, now);
		sent = 1;
	}
	return sent;
}

static void
flood_reply(struct flood *f, const unsigned char *b, ssize_t n, int alt,
    int64_t now)
{
	static int said;
	struct reply r;
	struct fsock *s;
	uint64_t seq;
	int k;

	f->rxn++;
	f->bytes_rx += (uint64_t)n;
	if ((size_t)n > f->max_rep)
		f->max_rep = (size_t)n;
	parse_reply(b, n, &r);
	seq = r.id & 0xffffffff;
	if (r.type == -1 || r.id >> 32 != f->salt || seq >= f->next) {
		f->stray++;
		f->rx[K_OTHER]++;
		return;
	}
	/* Every request of ours has the same length: flood_build's. */
	if ((size_t)n > f->max_req)
		f->over++;
	if (r.type == T_REGISTERED && r.ttl > 0)
		k = K_OK;
	else if (r.type == T_REGISTERED && r.ttl == 0)
		k = K_COOKIE;
	else if (r.type == T_ERROR && r.code == E_FULL)
		k = K_ERR2;
	else if (r.type == T_ERROR && r.code == E_RATE)
		k = K_ERR4;
	else
		k = K_OTHER;
	f->rx[k]++;
	if (k == K_COOKIE && f->use_cookie) {
		s = &f->s[f->sock[seq]];
		if (s->have[alt] &&
		    memcmp(s->cookie[alt], r.cookie, COOKIE_LEN) == 0)
			return;		/* sent with it: let it be lost */
		memcpy(s->cookie[alt], r.cookie, COOKIE_LEN);
		s->have[alt] = 1;
		if (!said++)
			fprintf(stderr, "loadgen: flooding\n");
		if (f->kind[seq] == K_NONE) {
			/* As pnc: P's cookie goes to both ports. */
			f->sent_at[seq % FLOOD_RING] = now;
			flood_tx(f, seq, alt);
			if (!alt)
				flood_tx(f, seq, 1);
		}
		return;
	}
	flood_resolve(f, seq, k);
}

static int
run_flood(const char *addr, const char *port, uint64_t count, int64_t secs,
    int use_cookie)
{
	static struct flood f;
	struct pollfd pfd[FLOOD_SOCKS];
	unsigned char b[1600];
	struct sockaddr_in from;
	socklen_t flen;
	int64_t t0, now, end;
	ssize_t n;
	int i, j, sent;

	f.count = count;
	f.use_cookie = use_cookie;
	f.salt = (uint32_t)salt64() | 1;
	dest(addr, port, &f.med);
	f.med_alt = f.med;
	f.med_alt.sin_port = htons((uint16_t)(ntohs(f.med.sin_port) + 1));
	f.kind = calloc(count, 1);
	f.sock = calloc(count, 1);
	f.sent_at = calloc(FLOOD_RING, sizeof(*f.sent_at));
	if (f.kind == NULL || f.sock == NULL || f.sent_at == NULL) {
		perror("loadgen: malloc");
		return 1;
	}
	for (i = 0; i < FLOOD_SOCKS; i++) {
		if ((f.s[i].fd = udp_open(INADDR_ANY, 0, 1)) == -1) {
			perror("loadgen: socket");
			return 1;
		}
		pfd[i].fd = f.s[i].fd;
		pfd[i].events = POLLIN;
	}
	if (!use_cookie)
		fprintf(stderr, "loadgen: flooding\n");
	t0 = now_us();
	end = t0 + secs * 1000000;
	for (now = t0;; now = now_us()) {
		/* The oldest names: answered, or lost by now. */
		while (f.lo < f.next && (f.kind[f.lo] != K_NONE ||
		    now - f.sent_at[f.lo % FLOOD_RING] >= FLOOD_LOST_US)) {
			flood_resolve(&f, f.lo, K_LOST);
			f.lo++;
		}
		if (now >= end)
			f.count = f.next;	/* time is up: send no more */
		if (f.lo == f.next && f.next == f.count)
			break;
		/* Bounded even if lost names were never resolved. */
		if (now - end >= FLOOD_LOST_US + 100000)
			break;
		sent = flood_send(&f, now);
		if (poll(pfd, FLOOD_SOCKS, sent ? 0 : 5) == -1 &&
		    errno != EINTR)
			break;
		now = now_us();
		for (i = 0; i < FLOOD_SOCKS; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			for (j = 0; j < 256; j++) {
				flen = sizeof(from);
				n = recvfrom(pfd[i].fd, b, sizeof(b), 0,
				    (struct sockaddr *)&from, &flen);
				if (n == -1)
					break;
				flood_reply(&f, b, n,
				    from.sin_port == f.med_alt.sin_port, now);
			}
		}
	}
	printf("names %llu", (unsigned long long)f.next);
	for (i = K_OK; i < K_MAX; i++)
		printf(" %s %llu", kname[i], (unsigned long long)f.names[i]);
	printf(" sent %llu rx %llu", (unsigned long long)f.dgrams,
	    (unsigned long long)f.rxn);
	for (i = K_OK; i < K_LOST; i++)
		printf(" rx_%s %llu", kname[i], (unsigned long long)f.rx[i]);
	printf(" bytes_sent %llu bytes_received %llu max_request %zu "
	    "max_reply %zu over %llu secs %.3f names_per_sec %.0f\n",
	    (unsigned long long)f.bytes_tx, (unsigned long long)f.bytes_rx,
	    f.max_req, f.max_rep, (unsigned long long)f.over,
	    (double)(now - t0) / 1e6,
	    (double)f.next * 1e6 / (double)(now - t0 > 0 ? now - t0 : 1));
	return 0;
}

/* ---- amp ---- */

struct amp {
	const char	*name;
	int		 alt;		/* to port P+1 */
	size_t		 len;
	unsigned char	 b[1500];
	int		 fd;
	unsigned	 replies;
	size_t		 max;
};

/* The next request, named; zeroed, so that padding is zeros. */
static struct amp *
amp_add(struct amp *a, size_t *n, const char *name, int alt)
{
	struct amp *c = &a[(*n)++];

	memset(c->b, 0, sizeof(c->b));
	c->name = name;
	c->alt = alt;
	return c;
}

/* A header with a random id and version v; the rest stays zero. */
static void
amp_hdr(struct amp *c, int version, int type, size_t len)
{
	hdr(c->b, type, salt64() | 1);
	c->b[2] = (unsigned char)version;
	c->len = len;
}

/*
 * The requests: what a source that has shown no cookie can send, well
 * formed and not. Each goes from a fresh socket, so that every reply
 * answers one request.
 */
static size_t
amp_cases(struct amp *a)
{
	static const char *const bind_name[4] = { "bind-64", "bind-64-port",
	    "bind-64-addr", "bind-64-port-addr" };
	unsigned char forged[COOKIE_LEN];
	struct amp *c;
	size_t n = 0, i, k;

	/* REGISTER, zero cookie, the minimal (padded) size, to P and P+1 */
	c = amp_add(a, &n, "register-zero-cookie", 0);
	c->len = reg_build(c->b, salt64() | 1, "amp", 3, NULL);
	c = amp_add(a, &n, "register-zero-cookie-alt", 1);
	c->len = reg_build(c->b, salt64() | 1, "amp", 3, NULL);
	/* ... with a made-up cookie */
	for (i = 0; i < COOKIE_LEN; i++)
		forged[i] = (unsigned char)(0xa5 ^ i);
	c = amp_add(a, &n, "register-forged-cookie", 0);
	c->len = reg_build(c->b, salt64() | 1, "amp", 3, forged);
	/* ... with eight IPv6 local candidates (2001:db8::i): long */
	c = amp_add(a, &n, "register-8-locals", 0);
	amp_hdr(c, VERSION, T_REGISTER, 0);
	c->b[12] = ROLE_PUNCH;
	c->b[13] = 3;
	memcpy(c->b + 14, "amp", 3);
	c->b[17] = 8;
	for (i = 0, k = 18; i < 8; i++, k += 19) {
		c->b[k] = 6;
		c->b[k + 1] = 0x1c;
		c->b[k + 2] = (unsigned char)i;
		c->b[k + 3] = 0x20;
		c->b[k + 4] = 0x01;
		c->b[k + 5] = 0x0d;
		c->b[k + 6] = 0xb8;
		c->b[k + 18] = (unsigned char)(i + 1);
	}
	c->len = k + COOKIE_LEN;		/* zero cookie */
	/* REGISTER without its padding */
	c = amp_add(a, &n, "register-unpadded", 0);
	(void)reg_build(c->b, salt64() | 1, "amp", 3, NULL);
	c->len = 15 + 3 + COOKIE_LEN;
	/* REGISTER cut short: in its name, in its cookie */
	c = amp_add(a, &n, "register-truncated-15", 0);
	(void)reg_build(c->b, salt64() | 1, "amp", 3, NULL);
	c->len = 15;
	c = amp_add(a, &n, "register-truncated-22", 0);
	(void)reg_build(c->b, salt64() | 1, "amp", 3, NULL);
	c->len = 22;
	/* REGISTER with a nonzero byte in its padding; from id 0 */
	c = amp_add(a, &n, "register-bad-padding", 0);
	c->len = reg_build(c->b, salt64() | 1, "amp", 3, NULL);
	c->b[REQ_MIN - 1] = 1;
	c = amp_add(a, &n, "register-zero-id", 0);
	c->len = reg_build(c->b, 0, "amp", 3, NULL);
	/* BIND of 64 bytes: this endpoint, the other port, address, both */
	for (i = 0; i < 4; i++) {
		c = amp_add(a, &n, bind_name[i], 0);
		amp_hdr(c, VERSION, T_BIND, REQ_MIN);
		c->b[12] = 0x01;		/* tx */
		c->b[16] = (unsigned char)i;	/* flags */
	}
	/* BIND too short: version 1's 17 bytes, and 63 */
	c = amp_add(a, &n, "bind-17", 0);
	amp_hdr(c, VERSION, T_BIND, 17);
	c = amp_add(a, &n, "bind-63", 0);
	amp_hdr(c, VERSION, T_BIND, REQ_MIN - 1);
	/* Version 1: a bare header, a REGISTER, a BIND */
	c = amp_add(a, &n, "v1-header", 0);
	amp_hdr(c, 1, T_REGISTER, HDR_LEN);
	c = amp_add(a, &n, "v1-register", 0);
	amp_hdr(c, 1, T_REGISTER, 18);
	c->b[12] = ROLE_PUNCH;
	c->b[13] = 3;
	memcpy(c->b + 14, "amp", 3);
	c = amp_add(a, &n, "v1-bind", 0);
	amp_hdr(c, 1, T_BIND, 17);
	/* A version from the future, padded: an error reply would fit */
	c = amp_add(a, &n, "v4-64", 0);
	amp_hdr(c, VERSION + 1, T_REGISTER, REQ_MIN);
	/* PEERACK of a name nobody has; an unknown type; a mediator's own */
	c = amp_add(a, &n, "peerack", 0);
	amp_hdr(c, VERSION, T_PEERACK, 18);
	c->b[12] = ROLE_PUNCH;
	c->b[13] = 3;
	memcpy(c->b + 14, "amp", 3);
	c = amp_add(a, &n, "type-7f", 0);
	amp_hdr(c, VERSION, 0x7f, REQ_MIN);
	c = amp_add(a, &n, "registered", 0);
	amp_hdr(c, VERSION, T_REGISTERED, REQ_MIN);
	/* Garbage: random bytes; "PN", version 3 and random bytes; nothing */
	c = amp_add(a, &n, "garbage-64", 0);
	for (i = 0; i < REQ_MIN; i += 8)
		put64(c->b + i, salt64());
	c->b[0] = 'X';
	c->len = REQ_MIN;
	c = amp_add(a, &n, "garbage-pn-1400", 0);
	for (i = 0; i < 1400; i += 8)
		put64(c->b + i, salt64());
	c->b[0] = 'P';
	c->b[1] = 'N';
	c->b[2] = VERSION;
	c->len = 1400;
	c = amp_add(a, &n, "empty", 0);
	c->len = 0;
	return n;
}

static int
run_amp(const char *addr, const char *port)
{
	static struct amp a[64];
	struct sockaddr_in med, alt;
	struct pollfd pfd[64];
	unsigned char b[1600];
	int64_t t0, now, last;
	unsigned long over = 0;
	size_t n, i;
	ssize_t got;
	int j;

	dest(addr, port, &med);
	alt = med;
	alt.sin_port = htons((uint16_t)(ntohs(med.sin_port) + 1));
	n = amp_cases(a);
	for (i = 0; i < n; i++) {
		if ((a[i].fd = udp_open(INADDR_ANY, 0, 1)) == -1) {
			perror("loadgen: socket");
			return 2;
		}
		pfd[i].fd = a[i].fd;
		pfd[i].events = POLLIN;
	}
	for (i = 0; i < n; i++)
		if (sendto(a[i].fd, a[i].b, a[i].len, 0, (struct sockaddr *)
		    (a[i].alt ? &alt : &med), sizeof(med)) == -1) {
			fprintf(stderr, "loadgen: send %s: %s\n", a[i].name,
			    strerror(errno));
			return 2;
		}
	t0 = last = now_us();
	for (now = t0; now - last < AMP_QUIET_US && now - t0 < AMP_LIMIT_US;
	    now = now_us()) {
		if (poll(pfd, (nfds_t)n, 10) == -1 && errno != EINTR)
			break;
		for (i = 0; i < n; i++)
			for (j = 0; j < 64 && (pfd[i].revents & POLLIN); j++) {
				if ((got = recv(a[i].fd, b, sizeof(b), 0)) < 0)
					break;
				last = now_us();
				a[i].replies++;
				if ((size_t)got > a[i].max)
					a[i].max = (size_t)got;
				if ((size_t)got > a[i].len)
					over++;
			}
	}
	for (i = 0; i < n; i++)
		printf("case %s port %s request %zu replies %u max %zu\n",
		    a[i].name, a[i].alt ? "P+1" : "P", a[i].len, a[i].replies,
		    a[i].max);
	printf("over %lu\n", over);
	return over != 0;
}

/*
 * The floor of a UDP server: one blocking socket; a burst received with
 * one recvmmsg goes back with one sendmmsg, as the mediator batches.
 */
static int
run_reflect(int port)
{
	static struct burst u;
	int fd, i, n;

	if ((fd = udp_open(INADDR_LOOPBACK, port, 0)) == -1) {
		perror("loadgen: reflect");
		return 1;
	}
	for (;;) {
		if ((n = burst_recv(&u, fd, MSG_WAITFORONE)) <= 0)
			continue;
		for (i = 0; i < n; i++)
			u.iov[i].iov_len = u.mm[i].msg_len;
		(void)sendmmsg(fd, u.mm, (unsigned)n, 0);
	}
}

/* Drive reflect with WINDOW datagrams in flight, 30 bytes each. */
static int
run_echo(int port, int64_t secs, size_t window)
{
	struct sockaddr_in to;
	struct pollfd pfd[NSOCKS];
	unsigned char b[64];
	int64_t *sent, t0, now, end, last_scan;
	uint64_t got = 0, resent = 0;
	uint32_t k;
	size_t i;
	ssize_t n;

	if ((sent = calloc(window, sizeof(*sent))) == NULL)
		return 1;
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	to.sin_port = htons((uint16_t)port);
	memset(b, 'x', sizeof(b));
	for (i = 0; i < NSOCKS; i++) {
		if ((pfd[i].fd = udp_open(INADDR_LOOPBACK, 0, 1)) == -1)
			return 1;
		pfd[i].events = POLLIN;
	}
	t0 = last_scan = now_us();
	end = t0 + secs * 1000000;
	for (k = 0; k < window; k++) {
		memcpy(b, &k, sizeof(k));
		sent[k] = t0;
		(void)sendto(pfd[k % NSOCKS].fd, b, 30, 0,
		    (struct sockaddr *)&to, sizeof(to));
	}
	for (now = t0; now < end; now = now_us()) {
		if (poll(pfd, NSOCKS, 10) == -1 && errno != EINTR)
			break;
		now = now_us();
		for (i = 0; i < NSOCKS; i++) {
			int j;

			for (j = 0; j < 256 && (pfd[i].revents & POLLIN); j++) {
				if ((n = recv(pfd[i].fd, b, sizeof(b), 0)) < 4)
					break;
				memcpy(&k, b, sizeof(k));
				if (k >= window)
					continue;
				got++;
				sent[k] = now;
				(void)sendto(pfd[i].fd, b, 30, 0,
				    (struct sockaddr *)&to, sizeof(to));
			}
		}
		if (now - last_scan >= 50000) {
			for (k = 0; k < window; k++)
				if (now - sent[k] >= RTO_US) {
					memcpy(b, &k, sizeof(k));
					sent[k] = now;
					resent++;
					(void)sendto(pfd[k % NSOCKS].fd, b, 30,
					    0, (struct sockaddr *)&to,
					    sizeof(to));
				}
			last_scan = now;
		}
	}
	printf("echoes %llu secs %.3f per_sec %.0f resent %llu\n",
	    (unsigned long long)got, (double)(now - t0) / 1e6,
	    (double)got * 1e6 / (double)(now - t0),
	    (unsigned long long)resent);
	return 0;
}

/* Two of these started at once: the floor under a punch. */
static int
run_xchg(int lport, const char *addr, int port, int64_t ms)
{
	struct sockaddr_in peer, from;
	struct sockaddr_in sin;
	socklen_t flen;
	unsigned char b[64];
	int64_t t0, now, next, until = 0;
	int fd, one = 1;
	ssize_t n;

	memset(&peer, 0, sizeof(peer));
	peer.sin_family = AF_INET;
	peer.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &peer.sin_addr) != 1) {
		fprintf(stderr, "loadgen: bad address %s\n", addr);
		return 2;
	}
	/* Not udp_open: bind the wildcard, as pnc does, not loopback. */
	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0)) == -1)
		return 1;
	if (lport != 0)		/* as udp_open */
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)lport);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		perror("loadgen: bind");
		return 1;
	}
	memcpy(b, "pnc-bench", 9);
	t0 = next = now_us();
	for (now = t0; ; now = now_us()) {
		if (until ? now >= until : now - t0 >= ms * 1000)
			break;
		if (!until && now >= next) {
			(void)sendto(fd, b, 9, 0, (struct sockaddr *)&peer,
			    sizeof(peer));
			next = now + 10000;
		}
		struct pollfd pfd = { fd, POLLIN, 0 };
		(void)poll(&pfd, 1, 1 + (int)((until ? until - now :
		    next - now) / 1000));
		for (;;) {
			flen = sizeof(from);
			n = recvfrom(fd, b + 16, sizeof(b) - 16, 0,
			    (struct sockaddr *)&from, &flen);
			if (n == -1 && errno == ECONNREFUSED)
				continue;
			if (n == -1)
				break;
			if (from.sin_addr.s_addr != peer.sin_addr.s_addr ||
			    from.sin_port != peer.sin_port)
				continue;
			if (!until) {
				printf("ok\n");
				fflush(stdout);
				until = now_us() + 200000;
			}
			/* Answer each: the peer may have lost ours. */
			(void)sendto(fd, b, 9, 0, (struct sockaddr *)&peer,
			    sizeof(peer));
		}
	}
	return until ? 0 : 1;
}

/* Count stdin: bytes, and the time from the first byte to the last. */
static int
run_sink(void)
{
	static unsigned char b[1 << 16];
	unsigned long long total = 0;
	int64_t first = 0, last = 0;
	ssize_t n;

	for (;;) {
		n = read(STDIN_FILENO, b, sizeof(b));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		last = now_us();
		if (total == 0)
			first = last;
		total += (unsigned long long)n;
	}
	printf("bytes %llu secs %.6f\n", total, (double)(last - first) / 1e6);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: loadgen rate PORT SECS [WINDOW]\n"
	    "       loadgen fill PORT COUNT [WINDOW]\n"
	    "       loadgen reflect PORT\n"
	    "       loadgen echo PORT SECS [WINDOW]\n"
	    "       loadgen xchg LPORT ADDR PORT [MS]\n"
	    "       loadgen sink\n"
	    "       loadgen flood ADDR PORT COUNT SECS [cookie|nocookie]\n"
	    "       loadgen amp ADDR PORT\n"
	    "       loadgen rank NAME ADDR:PORT...\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";
	long w = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (getenv("LOADGEN_VERSION") != NULL)
		version = (int)num(getenv("LOADGEN_VERSION"), 1, 255);
	if (getenv("LOADGEN_SHARD") != NULL)
		shard = (int)num(getenv("LOADGEN_SHARD"), 0, MAX_MEDS - 1);
	if ((strcmp(m, "rate") == 0 || strcmp(m, "fill") == 0 ||
	    strcmp(m, "echo") == 0) && argc >= 5)
		w = num(argv[4], 1, 1 << 22);
	if (strcmp(m, "rate") == 0 && (argc == 4 || argc == 5 ||
	    (argc == 6 && strcmp(argv[5], "mute") == 0)))
		return run_clients(argv[2], 2,
		    num(argv[3], 1, 600), 0, w ? (size_t)w : 32, argc == 6);
	if (strcmp(m, "fill") == 0 && (argc == 4 || argc == 5))
		return run_clients(argv[2], 1, 0,
		    (uint64_t)num(argv[3], 1, 16 << 20), w ? (size_t)w : 64,
		    0);
	if (strcmp(m, "reflect") == 0 && argc == 3)
		return run_reflect((int)num(argv[2], 1, 65535));
	if (strcmp(m, "echo") == 0 && (argc == 4 || argc == 5))
		return run_echo((int)num(argv[2], 1, 65535),
		    num(argv[3], 1, 600), w ? (size_t)w : 32);
	if (strcmp(m, "xchg") == 0 && (argc == 5 || argc == 6))
		return run_xchg((int)num(argv[2], 0, 65535), argv[3],
		    (int)num(argv[4], 1, 65535),
		    argc == 6 ? num(argv[5], 1, 600000) : 5000);
	if (strcmp(m, "sink") == 0 && argc == 2)
		return run_sink();
	if (strcmp(m, "flood") == 0 && (argc == 6 || (argc == 7 &&
	    (strcmp(argv[6], "cookie") == 0 ||
	    strcmp(argv[6], "nocookie") == 0))))
		return run_flood(argv[2], argv[3],
		    (uint64_t)num(argv[4], 1, FLOOD_MAX), num(argv[5], 1, 600),
		    argc == 6 || strcmp(argv[6], "cookie") == 0);
	if (strcmp(m, "amp") == 0 && argc == 4)
		return run_amp(argv[2], argv[3]);
	if (strcmp(m, "rank") == 0 && argc >= 4)
		return run_rank(argv[2], argc - 3, argv + 3);
	usage();
	return 2;
}
