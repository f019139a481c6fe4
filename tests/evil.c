/*
 * evil.c - an attacker for pnc's lab (tests/auth.bats): everything a
 * stranger without the key (-K) can throw at a pnc session.
 *
 *	evil spray [-i id]... [-k kinds] [-r rate] [-s src:port]
 *	    addr portlo porthi secs
 *	evil register med[:port] name punch|listen|connect secs
 *	evil replay src dst count secs [flip]
 *	evil sniff src dst secs
 *	evil wirename keyfile|- name
 *
 * Every subcommand is bounded by its secs and prints "key value" lines
 * on stdout; progress for the test to wait on goes to stderr. Payloads
 * carry the marker EVILEVIL, so that a test can grep any stdout for it.
 *
 *	cc -O2 -Wall -Wextra -o evil tests/evil.c crypto.c
 */
#define _GNU_SOURCE

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../pnc.h"	/* for crypto.c's SHA-256 and HMAC only */

/* The wire format of README / the v2 spec, as far as an attacker needs. */
#define HDR_LEN		12
#define T_REGISTER	0x01
#define T_REGISTERED	0x02
#define T_PEER		0x03
#define T_PEERACK	0x04
#define T_ERROR		0x05
#define T_PROBE		0x10
#define T_ACK		0x11
#define T_DATA		0x20
#define T_EOF		0x21
#define T_KEEPALIVE	0x23
#define T_RDATA		0x24
#define NONCE_LEN	16
#define MAC_LEN		16
#define TRAILER		(8 + MAC_LEN)	/* seq(8) mac: -K session messages */
#define REQ_MIN		64
#define EVIL_CANDS	16
#define MAX_IDS		16
#define MARKER		"EVILEVIL"

static uint64_t	rng_state;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: evil spray [-i id]... [-k gtdekrps] [-r rate] "
	    "[-s src:port] addr portlo porthi secs\n"
	    "       evil register med[:port] name punch|listen|connect secs\n"
	    "       evil replay src dst count secs [flip]\n"
	    "       evil sniff src dst secs\n"
	    "       evil wirename keyfile|- name\n");
	exit(2);
}

static void __attribute__((noreturn))
die(const char *what)
{
	fprintf(stderr, "evil: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void __attribute__((noreturn))
bad(const char *what, const char *arg)
{
	fprintf(stderr, "evil: bad %s: %s\n", what, arg);
	exit(2);
}

static int64_t
evil_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* xorshift64*: fast enough to fill thousands of datagrams a second. */
static uint64_t
rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static void
rnd_fill(unsigned char *p, size_t n)
{
	while (n-- > 0)
		*p++ = (unsigned char)rnd();
}

static long
num(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < lo || v > hi)
		bad(what, s);
	return v;
}

static struct in_addr
addr4(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		bad("IPv4 address", s);
	return a;
}

/* "a.b.c.d[:port]" into sin; port defaults to defport. */
static void
hostport(const char *s, int defport, struct sockaddr_in *sin)
{
	char host[64];
	const char *c = strchr(s, ':');
	size_t n = c ? (size_t)(c - s) : strlen(s);

	if (n >= sizeof(host))
		bad("address", s);
	memcpy(host, s, n);
	host[n] = '\0';
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr = addr4(host);
	sin->sin_port = htons((uint16_t)(c ? num(c + 1, 1, 65535, "port") :
	    defport));
}

static void
put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void
put32(unsigned char *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static void
put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint64_t
get64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static size_t
put_hdr(unsigned char *p, int type, uint64_t id)
{
	p[0] = 'P';
	p[1] = 'N';
	p[2] = 2;
	p[3] = (unsigned char)type;
	put64(p + 4, id);
	return HDR_LEN;
}

static size_t
put_marker(unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)MARKER[i % 8];
	return n;
}

/* ---- raw IPv4/UDP, for spoofed sources and replays ---- */

static uint32_t
csum_add(uint32_t sum, const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static uint16_t
csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/*
 * Fill in the IP and UDP checksums of the IPv4/UDP packet pkt. A packet
 * captured on a veth may carry only the pseudo-header sum (checksum
 * offload), so the UDP one is always computed afresh.
 */
static void
fix_checksums(unsigned char *pkt)
{
	size_t ihl = (size_t)(pkt[0] & 15) * 4;
	unsigned char *udp = pkt + ihl, pseudo[12];
	size_t ulen = (size_t)udp[4] << 8 | udp[5];
	uint16_t c;

	pkt[10] = pkt[11] = 0;
	put16(pkt + 10, csum_fold(csum_add(0, pkt, ihl)));
	memcpy(pseudo, pkt + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = IPPROTO_UDP;
	put16(pseudo + 10, (uint16_t)ulen);
	udp[6] = udp[7] = 0;
	c = csum_fold(csum_add(csum_add(0, pseudo, 12), udp, ulen));
	put16(udp + 6, c ? c : 0xffff);	/* 0 would mean "no checksum" */
}

static int
raw_socket(void)
{
	int fd, on = 1;

	if ((fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW)) == -1)
		die("raw socket");
	if (setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &on, sizeof(on)) == -1)
		die("IP_HDRINCL");
	return fd;
}

/* Send the complete IPv4 packet pkt (checksums fixed here). */
static int
raw_send(int fd, unsigned char *pkt, size_t len)
{
	struct sockaddr_in to;

	fix_checksums(pkt);
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	memcpy(&to.sin_addr, pkt + 16, 4);
	return sendto(fd, pkt, len, 0, (struct sockaddr *)&to,
	    sizeof(to)) == (ssize_t)len ? 0 : -1;
}

/* Wrap payload in IPv4/UDP from src to dst, into pkt. Returns length. */
static size_t
udp_packet(unsigned char *pkt, const struct sockaddr_in *src,
    const struct sockaddr_in *dst, const unsigned char *pl, size_t n)
{
	memset(pkt, 0, 28);
	pkt[0] = 0x45;
	put16(pkt + 2, (uint16_t)(28 + n));
	put16(pkt + 4, (uint16_t)rnd());
	pkt[8] = 64;
	pkt[9] = IPPROTO_UDP;
	memcpy(pkt + 12, &src->sin_addr, 4);
	memcpy(pkt + 16, &dst->sin_addr, 4);
	memcpy(pkt + 20, &src->sin_port, 2);
	memcpy(pkt + 22, &dst->sin_port, 2);
	put16(pkt + 24, (uint16_t)(8 + n));
	memcpy(pkt + 28, pl, n);
	return 28 + n;
}

/*
 * An AF_PACKET socket that sees every IPv4 packet of the namespace as
 * it arrives (and, filtered out by the caller, as it leaves).
 */
static int
sniff_socket(void)
{
	int fd;

	if ((fd = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_IP))) == -1)
		die("AF_PACKET socket");
	return fd;
}

/*
 * The next UDP packet from src to dst arriving on any interface, into
 * pkt (IP header included), before deadline. Returns its length, or 0.
 * Outgoing copies are skipped: they include what we inject ourselves.
 */
static size_t
sniff_next(int fd, struct in_addr src, struct in_addr dst,
    unsigned char *pkt, size_t cap, int64_t deadline)
{
	struct sockaddr_ll sll;
	socklen_t sl;
	struct pollfd pfd;
	ssize_t n;
	size_t ihl;
	int64_t left;

	while ((left = deadline - evil_now_ms()) > 0) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		sl = sizeof(sll);
		if ((n = recvfrom(fd, pkt, cap, 0, (struct sockaddr *)&sll,
		    &sl)) < 28)
			continue;
		ihl = (size_t)(pkt[0] & 15) * 4;
		if (sll.sll_pkttype == PACKET_OUTGOING ||
		    (pkt[0] >> 4) != 4 || ihl < 20 || pkt[9] != IPPROTO_UDP ||
		    memcmp(pkt + 12, &src, 4) != 0 ||
		    memcmp(pkt + 16, &dst, 4) != 0 ||
		    (pkt[6] & 0x3f) != 0 || pkt[7] != 0 ||	/* fragment */
		    (size_t)n < ihl + 8 ||
		    ((size_t)pkt[2] << 8 | pkt[3]) != (size_t)n)
			continue;
		return (size_t)n;
	}
	return 0;
}

/* ---- evil spray ---- */

struct spray {
	uint64_t	 ids[MAX_IDS];
	int		 nids;
	const char	*kinds;		/* letters of what to send */
	unsigned long	 sent, failed;
};

/* A session message's trailer as -K has it, with a random (bad) MAC. */
static size_t
fake_trailer(unsigned char *p)
{
	put64(p, rnd() % 1000000 + 1);
	rnd_fill(p + 8, MAC_LEN);
	return TRAILER;
}

/* An id: one the test gave us, most of the time, or a random one. */
static uint64_t
pick_id(const struct spray *s)
{
	if (s->nids > 0 && rnd() % 4 != 0)
		return s->ids[rnd() % (uint64_t)s->nids];
	return rnd() | 1;
}

/* One hostile datagram of a kind picked from s->kinds, into p. */
static size_t
spray_build(const struct spray *s, unsigned char *p, size_t cap)
{
	size_t n = 0, klen = strlen(s->kinds);
	char kind = s->kinds[rnd() % klen];
	int keyed = rnd() % 4 != 0;	/* mostly dressed as -K traffic */

	switch (kind) {
	case 'g':		/* garbage, sometimes with our magic */
		n = 1 + rnd() % 1400;
		rnd_fill(p, n);
		if (rnd() % 2)
			memcpy(p, "PN\002", 3);
		return n;
	case 't':		/* a header cut short */
		n = put_hdr(p, T_DATA + (int)(rnd() % 6), pick_id(s));
		return rnd() % n;
	case 'd':
		n = put_hdr(p, T_DATA, pick_id(s));
		put32(p + n, (uint32_t)(rnd() % 2000));
		n += 4;
		n += put_marker(p + n, 8 + 8 * (rnd() % 100));
		break;
	case 'e':
		n = put_hdr(p, T_EOF, pick_id(s));
		put32(p + n, (uint32_t)(rnd() % 2000));
		n += 4;
		break;
	case 'k':
		n = put_hdr(p, T_KEEPALIVE, pick_id(s));
		break;
	case 's':		/* a bare STUN Binding request (20 bytes) */
		put16(p, 0x0001);
		put16(p + 2, 0);
		put32(p + 4, 0x2112a442);
		rnd_fill(p + 8, 12);
		return 20;
	case 'r':		/* -R data: pn ts flags payload */
		n = put_hdr(p, T_RDATA, pick_id(s));
		put32(p + n, (uint32_t)(rnd() % 2000));
		put32(p + n + 4, (uint32_t)rnd());
		p[n + 8] = (unsigned char)(rnd() % 2);
		n += 9;
		n += put_marker(p + n, 8 + 8 * (rnd() % 100));
		break;
	case 'p':		/* PROBE or ACK naming a known id */
		n = put_hdr(p, rnd() % 2 ? T_PROBE : T_ACK, rnd() | 1);
		put64(p + n, pick_id(s));
		p[n + 8] = (unsigned char)(rnd() % 4);
		put32(p + n + 9, (uint32_t)rnd());
		n += 13;
		if (p[3] == T_ACK) {	/* ep(seen) */
			p[n] = 4;
			rnd_fill(p + n + 1, 6);
			n += 7;
		}
		rnd_fill(p + n, NONCE_LEN * 2 + MAC_LEN);
		return n + NONCE_LEN * 2 + MAC_LEN;
	default:
		return 0;
	}
	if (keyed && n + TRAILER <= cap)
		n += fake_trailer(p + n);
	return n;
}

static int
spray_main(int argc, char **argv)
{
	struct spray s;
	struct sockaddr_in to, src;
	unsigned char pl[1500], pkt[1600];
	int fd, ch, spoof = 0, rate = 2000, port, lo, hi, per;
	int64_t end, next;
	size_t n;

	memset(&s, 0, sizeof(s));
	s.kinds = "gtdekrp";
	while ((ch = getopt(argc, argv, "i:k:r:s:")) != -1) {
		switch (ch) {
		case 'i':
			if (s.nids == MAX_IDS)
				bad("id count", optarg);
			s.ids[s.nids++] = strtoull(optarg, NULL, 16);
			break;
		case 'k':
			if (*optarg == '\0' ||
			    strspn(optarg, "gtdekrps") != strlen(optarg))
				bad("kinds", optarg);
			s.kinds = optarg;
			break;
		case 'r':
			rate = (int)num(optarg, 1, 1000000, "rate");
			break;
		case 's':
			hostport(optarg, 0, &src);
			if (src.sin_port == 0)
				bad("source (want addr:port)", optarg);
			spoof = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 4)
		usage();
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_addr = addr4(argv[0]);
	lo = (int)num(argv[1], 1, 65535, "port");
	hi = (int)num(argv[2], lo, 65535, "port");
	end = evil_now_ms() + num(argv[3], 0, 3600, "seconds") * 1000;
	if (spoof)
		fd = raw_socket();
	else if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
		die("socket");
	/* Bursts every 5 ms: rate per second without a busy loop. */
	per = rate / 200 > 0 ? rate / 200 : 1;
	port = lo;
	for (next = evil_now_ms(); evil_now_ms() < end; next += 5) {
		int i, ok;

		for (i = 0; i < per; i++) {
			n = spray_build(&s, pl, sizeof(pl));
			to.sin_port = htons((uint16_t)port);
			if (spoof)
				ok = raw_send(fd, pkt,
				    udp_packet(pkt, &src, &to, pl, n)) == 0;
			else
				ok = sendto(fd, pl, n, 0,
				    (struct sockaddr *)&to, sizeof(to)) >= 0;
			if (ok)
				s.sent++;
			else
				s.failed++;
			port = port == hi ? lo : port + 1;
		}
		while (evil_now_ms() < next)
			usleep(1000);
	}
	printf("sent %lu\nfailed %lu\n", s.sent, s.failed);
	return 0;
}

/* ---- evil register: an impostor without the key ---- */

struct impostor {
	int		 fd;
	struct sockaddr_in med[2];	/* mediator ports P and P+1 */
	unsigned char	 cookie[2][8];
	const char	*name;
	int		 role;
	uint64_t	 id, peer_id;
	int		 registered, introduced, peer_flags;
	struct sockaddr_in cands[EVIL_CANDS];
	int		 ncands;
	unsigned char	 nonce[NONCE_LEN], peer_nonce[NONCE_LEN];
	uint64_t	 seq;
	unsigned long	 sent, probes_rx, other_rx, errors;
};

static void
imp_send(struct impostor *im, const struct sockaddr_in *to,
    const unsigned char *p, size_t n)
{
	if (sendto(im->fd, p, n, 0, (const struct sockaddr *)to,
	    sizeof(*to)) >= 0)
		im->sent++;
}

/* REGISTER (or PEERACK) exactly as a v2 client builds it. */
static void
imp_register(struct impostor *im, int type, int alt)
{
	unsigned char b[256];
	size_t len = strlen(im->name), n;

	n = put_hdr(b, type, im->id);
	b[n++] = (unsigned char)im->role;
	b[n++] = (unsigned char)len;
	memcpy(b + n, im->name, len);
	n += len;
	if (type == T_REGISTER) {
		b[n++] = 0;		/* no local candidates */
		memcpy(b + n, im->cookie[alt], 8);
		n += 8;
		while (n < REQ_MIN)
			b[n++] = 0;
	} else
		b[n++] = (unsigned char)im->peer_flags;
	imp_send(im, &im->med[alt], b, n);
}

/* Reads ep (IPv4 only) at p; returns bytes used, 0 if malformed. */
static size_t
get_ep(const unsigned char *p, size_t left, struct sockaddr_in *sin,
    int *v4)
{
	size_t n;

	if (left == 0)
		return 0;
	n = p[0] == 4 ? 7 : p[0] == 6 ? 19 : 0;
	if (n == 0 || left < n)
		return 0;
	*v4 = p[0] == 4;
	if (*v4) {
		memset(sin, 0, sizeof(*sin));
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_port, p + 1, 2);
		memcpy(&sin->sin_addr, p + 3, 4);
	}
	return n;
}

static void
imp_add_cand(struct impostor *im, const struct sockaddr_in *c)
{
	int i;

	for (i = 0; i < im->ncands; i++)
		if (im->cands[i].sin_port == c->sin_port &&
		    im->cands[i].sin_addr.s_addr == c->sin_addr.s_addr)
			return;
	if (im->ncands < EVIL_CANDS)
		im->cands[im->ncands++] = *c;
}

/* The introduction: learn the victim's id and candidates. */
static void
imp_peer(struct impostor *im, const unsigned char *p, size_t len)
{
	struct sockaddr_in e;
	size_t off = HDR_LEN + 10, k;
	int i, n, v4;

	if (len < off)
		return;
	if (im->introduced && get64(p + HDR_LEN + 2) != im->peer_id)
		return;
	im->peer_flags = p[HDR_LEN];
	im->peer_id = get64(p + HDR_LEN + 2);
	for (i = 0; i < 2; i++) {	/* ep(you), ep(peer) */
		if ((k = get_ep(p + off, len - off, &e, &v4)) == 0)
			return;
		if (i == 1 && v4)
			imp_add_cand(im, &e);
		off += k;
	}
	if (off >= len)
		return;
	n = p[off++];
	for (i = 0; i < n; i++) {
		if ((k = get_ep(p + off, len - off, &e, &v4)) == 0)
			return;
		if (v4)
			imp_add_cand(im, &e);
		off += k;
	}
	if (!im->introduced) {
		im->introduced = 1;
		fprintf(stderr, "evil: introduced to %016llx\n",
		    (unsigned long long)im->peer_id);
	}
	imp_register(im, T_PEERACK, 0);
}

/* The -K handshake trailer: our nonce, theirs, a MAC we cannot make. */
static size_t
imp_hs(struct impostor *im, unsigned char *p)
{
	memcpy(p, im->nonce, NONCE_LEN);
	memcpy(p + NONCE_LEN, im->peer_nonce, NONCE_LEN);
	rnd_fill(p + 2 * NONCE_LEN, MAC_LEN);
	return 2 * NONCE_LEN + MAC_LEN;
}

static void
imp_probe(struct impostor *im, const struct sockaddr_in *to, int flags)
{
	unsigned char b[128];
	size_t n = put_hdr(b, T_PROBE, im->id);

	put64(b + n, im->peer_id);
	b[n + 8] = (unsigned char)flags;
	put32(b + n + 9, (uint32_t)rnd());
	n += 13;
	n += imp_hs(im, b + n);
	imp_send(im, to, b, n);
}

/* Answer a probe as a keyed peer would, echoing its nonce and tx. */
static void
imp_ack(struct impostor *im, const struct sockaddr_in *to,
    const unsigned char *probe, size_t len)
{
	unsigned char b[128];
	size_t n = put_hdr(b, T_ACK, im->id);

	if (len >= HDR_LEN + 13 + 2 * NONCE_LEN + MAC_LEN)
		memcpy(im->peer_nonce, probe + len - 2 * NONCE_LEN - MAC_LEN,
		    NONCE_LEN);
	put64(b + n, im->peer_id);
	/* Take any nomination: we would love to be the path. */
	b[n + 8] = (unsigned char)((len > HDR_LEN + 8 ?
	    probe[HDR_LEN + 8] : 0) | 1);
	memcpy(b + n + 9, len >= HDR_LEN + 13 ? probe + HDR_LEN + 9 :
	    (const unsigned char *)"\0\0\0\0", 4);
	n += 13;
	b[n] = 4;
	memcpy(b + n + 1, &to->sin_port, 2);
	memcpy(b + n + 3, &to->sin_addr, 4);
	n += 7;
	n += imp_hs(im, b + n);
	imp_send(im, to, b, n);
}

/* Session data with our id (the one the victim was told) or its own. */
static void
imp_data(struct impostor *im, const struct sockaddr_in *to)
{
	unsigned char b[256];
	int type = rnd() % 3 ? T_DATA : T_RDATA;
	size_t n = put_hdr(b, type, rnd() % 2 ? im->id : im->peer_id);

	put32(b + n, (uint32_t)im->seq);
	n += 4;
	if (type == T_RDATA) {
		put32(b + n, (uint32_t)rnd());
		b[n + 4] = 0;
		n += 5;
	}
	n += put_marker(b + n, 64);
	if (rnd() % 2) {	/* as -K would frame it */
		put64(b + n, ++im->seq);
		rnd_fill(b + n + 8, MAC_LEN);
		n += TRAILER;
	}
	imp_send(im, to, b, n);
}

static void
imp_input(struct impostor *im, const unsigned char *p, size_t len,
    const struct sockaddr_in *from)
{
	int alt = from->sin_port == im->med[1].sin_port &&
	    from->sin_addr.s_addr == im->med[1].sin_addr.s_addr;
	int med = alt || (from->sin_port == im->med[0].sin_port &&
	    from->sin_addr.s_addr == im->med[0].sin_addr.s_addr);

	if (len < HDR_LEN || p[0] != 'P' || p[1] != 'N' || p[2] != 2) {
		im->other_rx++;
		return;
	}
	if (med && p[3] == T_REGISTERED && len >= HDR_LEN + 7 + 2 + 8 &&
	    p[HDR_LEN] == 4) {
		int ttl = p[HDR_LEN + 7] << 8 | p[HDR_LEN + 8];

		/* ep(you) is IPv4 here: 7 bytes, then ttl(2), cookie(8) */
		memcpy(im->cookie[alt], p + HDR_LEN + 9, 8);
		if (ttl == 0)
			imp_register(im, T_REGISTER, alt);
		else if (!alt && !im->registered) {
			im->registered = 1;
			fprintf(stderr, "evil: registered %s\n", im->name);
		}
	} else if (med && p[3] == T_PEER)
		imp_peer(im, p, len);
	else if (med && p[3] == T_ERROR)
		im->errors++;
	else if (!med && p[3] == T_PROBE && im->introduced) {
		im->probes_rx++;
		imp_add_cand(im, from);		/* peer-reflexive */
		imp_ack(im, from, p, len);
		imp_probe(im, from, 1);		/* a triggered check */
	} else
		im->other_rx++;
}

static int
register_main(int argc, char **argv)
{
	static const char *roles[] = { "punch", "listen", "connect" };
	struct impostor im;
	struct sockaddr_in from;
	struct pollfd pfd;
	unsigned char b[2048];
	socklen_t fl;
	ssize_t n;
	int64_t now, end, reg_at, probe_at;
	int i;

	if (argc != 5)
		usage();
	memset(&im, 0, sizeof(im));
	hostport(argv[1], 7321, &im.med[0]);
	im.med[1] = im.med[0];
	im.med[1].sin_port = htons((uint16_t)(ntohs(im.med[0].sin_port) + 1));
	im.name = argv[2];
	if (strlen(im.name) == 0 || strlen(im.name) > 64)
		bad("name", im.name);
	for (i = 0; i < 3; i++)
		if (strcmp(argv[3], roles[i]) == 0)
			im.role = i + 1;
	if (im.role == 0)
		bad("role", argv[3]);
	end = evil_now_ms() + num(argv[4], 0, 3600, "seconds") * 1000;
	im.id = rnd() | 1;
	rnd_fill(im.nonce, NONCE_LEN);
	if ((im.fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
		die("socket");
	reg_at = probe_at = 0;
	while ((now = evil_now_ms()) < end) {
		if (now >= reg_at) {
			/* Refresh like a client; fast until registered. */
			imp_register(&im, T_REGISTER, 0);
			imp_register(&im, T_REGISTER, 1);
			reg_at = now + (im.registered ? 5000 : 200);
		}
		if (im.introduced && now >= probe_at) {
			for (i = 0; i < im.ncands; i++) {
				imp_probe(&im, &im.cands[i], 1);
				imp_data(&im, &im.cands[i]);
			}
			probe_at = now + 20;
		}
		pfd.fd = im.fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 10) <= 0)
			continue;
		for (;;) {
			fl = sizeof(from);
			n = recvfrom(im.fd, b, sizeof(b), MSG_DONTWAIT,
			    (struct sockaddr *)&from, &fl);
			if (n < 0 && errno == EAGAIN)
				break;
			if (n >= 0)	/* ICMP errors (n < 0) are ignored */
				imp_input(&im, b, (size_t)n, &from);
		}
	}
	printf("registered %d\nintroduced %d\nprobes-received %lu\n"
	    "other-received %lu\nerrors %lu\nsent %lu\n", im.registered,
	    im.introduced, im.probes_rx, im.other_rx, im.errors, im.sent);
	return 0;
}

/* ---- evil replay and evil sniff: on the path, in core ---- */

static int
replay_main(int argc, char **argv)
{
	struct in_addr src, dst;
	unsigned char pkt[65536];
	int sfd, rfd, count, flip = 0;
	unsigned long captured = 0, injected = 0, bytes = 0, session = 0;
	int64_t end;
	size_t n, ihl, off;

	if (argc != 5 && !(argc == 6 && strcmp(argv[5], "flip") == 0))
		usage();
	src = addr4(argv[1]);
	dst = addr4(argv[2]);
	count = (int)num(argv[3], 1, 1000000, "count");
	end = evil_now_ms() + num(argv[4], 0, 3600, "seconds") * 1000;
	flip = argc == 6;
	sfd = sniff_socket();
	rfd = raw_socket();
	fprintf(stderr, "evil: capturing\n");
	while (captured < (unsigned long)count &&
	    (n = sniff_next(sfd, src, dst, pkt, sizeof(pkt), end)) > 0) {
		captured++;
		ihl = (size_t)(pkt[0] & 15) * 4;
		off = ihl + 8 + HDR_LEN;	/* the first byte after pnc's header */
		if (n >= off && pkt[ihl + 8] == 'P' && pkt[ihl + 11] >= T_DATA &&
		    pkt[ihl + 11] <= 0x25)
			session++;	/* what -K must count when replayed */
		if (flip && n > off)
			pkt[off + rnd() % (n - off)] ^= (unsigned char)(1 +
			    rnd() % 255);
		/*
		 * Same addresses and ports as captured: rA's conntrack takes
		 * it for the reply direction of the peers' flow and un-NATs
		 * it to the host, as it did the original.
		 */
		if (raw_send(rfd, pkt, n) == 0) {
			injected++;
			bytes += n - ihl - 8;
		}
	}
	printf("captured %lu\nsession %lu\ninjected %lu\nbytes %lu\n",
	    captured, session, injected, bytes);
	return 0;
}

/* Print the ports and sender id of the next pnc datagram src -> dst. */
static int
sniff_main(int argc, char **argv)
{
	struct in_addr src, dst;
	unsigned char pkt[65536];
	const unsigned char *u, *p;
	int64_t end;
	size_t n, ihl;
	int fd;

	if (argc != 4)
		usage();
	src = addr4(argv[1]);
	dst = addr4(argv[2]);
	end = evil_now_ms() + num(argv[3], 0, 3600, "seconds") * 1000;
	fd = sniff_socket();
	fprintf(stderr, "evil: sniffing\n");
	while ((n = sniff_next(fd, src, dst, pkt, sizeof(pkt), end)) > 0) {
		ihl = (size_t)(pkt[0] & 15) * 4;
		u = pkt + ihl;
		p = u + 8;
		if (n < ihl + 8 + HDR_LEN || p[0] != 'P' || p[1] != 'N')
			continue;
		printf("sport %d\ndport %d\nid %016llx\ntype %d\n",
		    u[0] << 8 | u[1], u[2] << 8 | u[3],
		    (unsigned long long)get64(p + 4), p[3]);
		return 0;
	}
	fprintf(stderr, "evil: nothing from %s\n", argv[1]);
	return 1;
}

/* ---- evil wirename: the -K name derivation, from the spec ---- */

static int
wirename_main(int argc, char **argv)
{
	static unsigned char key[65536];
	unsigned char K[SHA256_LEN], t[SHA256_LEN];
	struct hmac_sha256 h;
	const char *env;
	size_t len = 0;
	ssize_t n;
	int fd, i;

	if (argc != 3)
		usage();
	if (strcmp(argv[1], "-") == 0) {
		if ((env = getenv("PNC_KEY")) == NULL ||
		    (len = strlen(env)) > sizeof(key))
			bad("PNC_KEY", "unset or too long");
		memcpy(key, env, len);
	} else {
		if ((fd = open(argv[1], O_RDONLY)) == -1)
			die(argv[1]);
		while ((n = read(fd, key + len, sizeof(key) - len)) > 0)
			len += (size_t)n;
		if (n == -1)
			die(argv[1]);
		close(fd);
	}
	/* The spec: one trailing "\n" or "\r\n" is not key material. */
	if (len > 0 && key[len - 1] == '\n') {
		len--;
		if (len > 0 && key[len - 1] == '\r')
			len--;
	}
	hmac_sha256(key, len, "pnc v2 key", 10, K);
	hmac_init(&h, K, sizeof(K));
	hmac_update(&h, "pnc v2 name", 11);
	hmac_update(&h, argv[2], strlen(argv[2]));
	hmac_final(&h, t);
	printf("wirename ");
	for (i = 0; i < 16; i++)
		printf("%02x", t[i]);
	printf("\n");
	return 0;
}

int
main(int argc, char **argv)
{
	int rc;

	if (argc < 2)
		usage();
	if (getentropy(&rng_state, sizeof(rng_state)) == -1)
		die("getentropy");
	rng_state |= 1;		/* xorshift must not start at 0 */
	if (strcmp(argv[1], "spray") == 0)
		rc = spray_main(argc - 1, argv + 1);
	else if (strcmp(argv[1], "register") == 0)
		rc = register_main(argc - 1, argv + 1);
	else if (strcmp(argv[1], "replay") == 0)
		rc = replay_main(argc - 1, argv + 1);
	else if (strcmp(argv[1], "sniff") == 0)
		rc = sniff_main(argc - 1, argv + 1);
	else if (strcmp(argv[1], "wirename") == 0)
		rc = wirename_main(argc - 1, argv + 1);
	else
		usage();
	return rc;
}
