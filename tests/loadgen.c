/*
 * loadgen.c - load and timing helpers for tests/bench.sh (make bench).
 *
 * Plain C11 and libc. Speaks pnc's wire protocol version 1 (README) as
 * many clients at once, from a few sockets: a client's identity at the
 * mediator is its 64-bit id and its name, so distinct ids and names are
 * enough, and the replies are told apart by the id in their header.
 *
 *   loadgen rate PORT SECS [WINDOW]     rendezvous per second: WINDOW pairs
 *       in flight, each two clients of one new name; a pair is done when
 *       both have their T_PEER and the controlling side its "ready".
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
 *
 * The client modes talk to 127.0.0.1 only, and every loop is bounded in
 * time. Results go to stdout as "key value" words on one line.
 */
#define _GNU_SOURCE

#include <sys/types.h>
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
#define T_REGISTER	0x01
#define T_REGISTERED	0x02
#define T_PEER		0x03
#define T_PEERACK	0x04
#define T_ERROR		0x05
#define ROLE_PUNCH	1
#define PEER_CONTROLLING 0x01
#define PEER_READY	0x08
#define FILL_LIMIT_US	120000000	/* fill gives up after 2 minutes */

/* One rendezvous in flight (rate), or one pending registration (fill). */
struct pair {
	uint32_t	gen;		/* bumps when the slot is reused */
	uint64_t	seq;		/* names the pair: unique in the run */
	int64_t		start, tx;
	uint8_t		got[2];		/* 1 REGISTERED, 2 PEER */
	uint8_t		ready;		/* the controlling side saw READY */
	uint8_t		done;
	uint8_t		tries;		/* resends so far */
};

struct gen {
	int		 fds[NSOCKS];
	struct sockaddr_in med, med_alt;
	uint16_t	 salt;
	int		 sides;		/* 2: rate, 1: fill */
	struct pair	*p;
	size_t		 window;
	uint64_t	 next_seq, limit_seq;
	uint64_t	 completed, first_try, resent, errors, stale;
	int64_t		*lat;		/* completion latencies, us */
	size_t		 nlat, caplat;
};

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
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

/* A non-blocking UDP socket on 127.0.0.1 (port 0: any), big buffers. */
static int
udp_open(int port, int nonblock)
{
	struct sockaddr_in sin;
	int fd, one = 1, big = 4 << 20;

	fd = socket(AF_INET, SOCK_DGRAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd == -1)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Root may exceed rmem_max: lose nothing on our side. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)))
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)))
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
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
 * Client ids: salt(16) slot(23) gen(24) side(1). A reply names its slot
 * and generation, so a late answer to a finished pair is recognised.
 */
static uint64_t
client_id(const struct gen *g, size_t slot, int side)
{
	return (uint64_t)g->salt << 48 | (uint64_t)slot << 25 |
	    (uint64_t)(g->p[slot].gen & 0xffffff) << 1 | (uint64_t)side;
}

/* REGISTER (extra < 0) or PEERACK with flags extra, for one client. */
static size_t
build(const struct gen *g, size_t slot, int side, int extra,
    unsigned char *b)
{
	char name[40];
	int n;

	n = snprintf(name, sizeof(name), "lg%04x-%llu", g->salt,
	    (unsigned long long)g->p[slot].seq);
	b[0] = 'P';
	b[1] = 'N';
	b[2] = 1;
	b[3] = extra < 0 ? T_REGISTER : T_PEERACK;
	put64(b + 4, client_id(g, slot, side));
	b[12] = ROLE_PUNCH;
	b[13] = (unsigned char)n;
	memcpy(b + 14, name, (size_t)n);
	b[14 + n] = extra < 0 ? 0 : (unsigned char)extra; /* no locals */
	return (size_t)(15 + n);
}

static int
sock_of(size_t slot, int side)
{
	return (int)((slot * 2 + (size_t)side) % NSOCKS);
}

static void
tx(const struct gen *g, size_t slot, int side, int extra)
{
	unsigned char b[128];
	size_t len = build(g, slot, side, extra, b);
	int fd = g->fds[sock_of(slot, side)];

	/* The copy to P+1 first: the mediator answers the one to P. */
	if (extra < 0)
		(void)sendto(fd, b, len, 0, (const struct sockaddr *)&g->med_alt,
		    sizeof(g->med_alt));
	(void)sendto(fd, b, len, 0, (const struct sockaddr *)&g->med,
	    sizeof(g->med));
}

/* Start a new pair (or registration) in slot, if the run wants one. */
static void
pair_start(struct gen *g, size_t slot, int64_t now)
{
	struct pair *p = &g->p[slot];
	int side;

	if (g->next_seq >= g->limit_seq) {
		p->done = 1;
		return;
	}
	p->gen++;
	p->seq = g->next_seq++;
	p->start = p->tx = now;
	p->got[0] = p->got[1] = 0;
	p->ready = p->done = p->tries = 0;
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
	pair_start(g, slot, now);
}

/* One datagram from the mediator. */
static void
on_reply(struct gen *g, const unsigned char *b, ssize_t n, int64_t now)
{
	uint64_t id;
	size_t slot;
	int side, flags;
	struct pair *p;

	if (n < HDR_LEN || b[0] != 'P' || b[1] != 'N' || b[2] != 1)
		return;
	id = get64(b + 4);
	slot = (size_t)(id >> 25 & 0x7fffff);
	side = (int)(id & 1);
	if (id >> 48 != g->salt || slot >= g->window || side >= g->sides) {
		g->stale++;
		return;
	}
	p = &g->p[slot];
	if ((uint32_t)(id >> 1 & 0xffffff) != (p->gen & 0xffffff) ||
	    p->done) {
		g->stale++;
		return;
	}
	if (b[3] == T_ERROR) {
		if (g->errors++ == 0)
			fprintf(stderr, "loadgen: mediator error code %d\n",
			    n > HDR_LEN ? b[HDR_LEN] : -1);
		return;
	}
	if (b[3] == T_REGISTERED) {
		p->got[side] |= 1;
		if (g->sides == 1)
			pair_done(g, slot, now);
		return;
	}
	if (b[3] != T_PEER || n < HDR_LEN + 1)
		return;
	flags = b[HDR_LEN];
	p->got[side] |= 2;
	tx(g, slot, side, flags);	/* PEERACK, as pnc does for each */
	if ((flags & PEER_CONTROLLING) && (flags & PEER_READY))
		p->ready = 1;
	if (g->sides == 2 && (p->got[0] & 2) && (p->got[1] & 2) && p->ready)
		pair_done(g, slot, now);
}

/*
 * Resend the REGISTERs of clients that have not had their answer. The
 * first resend of a lone registration (fill) comes after 2 ms: the
 * mediator answers only a copy to port P that finds the copy to P+1
 * already there, and it reads its P socket first, so the first pair of
 * copies often goes unanswered (pnc's own client resends after 100 ms).
 */
static void
resend(struct gen *g, int64_t now)
{
	size_t i;
	int side, want = g->sides == 2 ? 2 : 1;
	int64_t rto;

	for (i = 0; i < g->window; i++) {
		struct pair *p = &g->p[i];

		rto = g->sides == 1 && p->tries == 0 ? 2000 : RTO_US;
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

/* Drain every readable socket, bounded per socket and per call. */
static void
drain(struct gen *g, struct pollfd *pfd, int64_t now)
{
	unsigned char b[1600];
	ssize_t n;
	int i, k;

	for (i = 0; i < NSOCKS; i++) {
		if (!(pfd[i].revents & POLLIN))
			continue;
		for (k = 0; k < 256; k++) {
			if ((n = recv(pfd[i].fd, b, sizeof(b), 0)) == -1)
				break;
			on_reply(g, b, n, now);
		}
	}
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
run_clients(int port, int sides, int64_t secs, uint64_t count,
    size_t window)
{
	struct gen g;
	struct pollfd pfd[NSOCKS];
	int64_t t0, now, last_scan, end;
	size_t i;
	uint64_t salt;

	memset(&g, 0, sizeof(g));
	g.sides = sides;
	g.window = window;
	g.limit_seq = sides == 2 ? UINT64_MAX : count;
	if (getentropy(&salt, sizeof(salt)) == -1)
		salt = (uint64_t)now_us() ^ (uint64_t)getpid();
	g.salt = (uint16_t)(salt | 1);
	g.p = calloc(window, sizeof(*g.p));
	g.caplat = 1 << 22;
	g.lat = malloc(g.caplat * sizeof(*g.lat));
	if (g.p == NULL || g.lat == NULL) {
		perror("loadgen: malloc");
		return 1;
	}
	memset(&g.med, 0, sizeof(g.med));
	g.med.sin_family = AF_INET;
	g.med.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g.med.sin_port = htons((uint16_t)port);
	g.med_alt = g.med;
	g.med_alt.sin_port = htons((uint16_t)(port + 1));
	for (i = 0; i < NSOCKS; i++) {
		if ((g.fds[i] = udp_open(0, 1)) == -1) {
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
	for (now = t0; now < end && !all_done(&g); now = now_us()) {
		if (poll(pfd, NSOCKS, sides == 1 ? 1 : 10) == -1 &&
		    errno != EINTR)
			break;
		now = now_us();
		drain(&g, pfd, now);
		if (sides == 1 || now - last_scan >= 50000) {
			resend(&g, now);
			last_scan = now;
		}
	}
	printf("%s %llu secs %.3f per_sec %.0f p50_ms %.2f p99_ms %.2f "
	    "first_try %llu resent %llu errors %llu stale %llu\n",
	    sides == 2 ? "rendezvous" : "registered",
	    (unsigned long long)g.completed, (double)(now - t0) / 1e6,
	    (double)g.completed * 1e6 / (double)(now - t0),
	    (double)pct(g.lat, g.nlat, 50) / 1e3,
	    (double)pct(g.lat, g.nlat, 99) / 1e3,
	    (unsigned long long)g.first_try,
	    (unsigned long long)g.resent, (unsigned long long)g.errors,
	    (unsigned long long)g.stale);
	return sides == 1 && g.completed < count;
}

/* The floor of a UDP server: one blocking socket, receive, send back. */
static int
run_reflect(int port)
{
	unsigned char b[1600];
	struct sockaddr_in from;
	socklen_t flen;
	ssize_t n;
	int fd;

	if ((fd = udp_open(port, 0)) == -1) {
		perror("loadgen: reflect");
		return 1;
	}
	for (;;) {
		flen = sizeof(from);
		n = recvfrom(fd, b, sizeof(b), 0, (struct sockaddr *)&from,
		    &flen);
		if (n >= 0)
			(void)sendto(fd, b, (size_t)n, 0,
			    (struct sockaddr *)&from, flen);
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
		if ((pfd[i].fd = udp_open(0, 1)) == -1)
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
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
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
	    "       loadgen sink\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";
	long w = argc > 4 ? num(argv[4], 1, 1 << 22) : 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(m, "rate") == 0 && (argc == 4 || argc == 5))
		return run_clients((int)num(argv[2], 1, 65534), 2,
		    num(argv[3], 1, 600), 0, w ? (size_t)w : 32);
	if (strcmp(m, "fill") == 0 && (argc == 4 || argc == 5))
		return run_clients((int)num(argv[2], 1, 65534), 1, 0,
		    (uint64_t)num(argv[3], 1, 16 << 20), w ? (size_t)w : 64);
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
	usage();
	return 2;
}
