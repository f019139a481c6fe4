/*
 * evil.c - an attacker for pnc's lab (tests/auth.bats): everything a
 * stranger without the key (-K) or code can throw at a pnc session of
 * protocol version 3: plain messages, records it cannot seal, and, as an
 * impostor under the name, a handshake it cannot complete.
 *
 *	evil spray [-i id]... [-k kinds] [-r rate] [-s src:port]
 *	    addr portlo porthi secs
 *	evil register med[:port] name punch|listen|connect secs
 *	evil replay src dst count secs [flip]
 *	evil sniff src dst secs
 *	evil intro [-f flags] bind:port them:port secs cand:port...
 *	evil mitm [-f] [-w file] med[:port] secs
 *	evil capture file secs
 *	evil ackcopy [-a | -r] peer victim third:port secs
 *	evil mangle [-c n] [-f n] [-p pct] [-k kinds] a b secs
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
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../pnc.h"	/* the secure channel, for evil mitm */

/* The wire format of PROTOCOL (version 3), as far as an attacker needs. */
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
#define T_HS		0x50	/* handshake message */
#define T_REC		0x51	/* record: ctr(8) sealed(type, body) tag(16) */
#define SHARE_LEN	32
#define CONFIRM_LEN	32
#define REC_OVERHEAD	(8 + 1 + 16)
#define REQ_MIN		64
#define EVIL_CANDS	16
#define MAX_IDS		16
#define MARKER		"EVILEVIL"

static uint64_t	rng_state;
static volatile sig_atomic_t evil_stop;	/* SIGTERM: report, then exit */

static void
on_term(int sig)
{
	(void)sig;
	evil_stop = 1;
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: evil spray [-i id]... [-k gtdekrps] [-r rate] "
	    "[-s src:port] addr portlo porthi secs\n"
	    "       evil register med[:port] name punch|listen|connect secs\n"
	    "       evil replay src dst count secs [flip]\n"
	    "       evil sniff src dst secs\n"
	    "       evil mitm [-f] [-w file] med[:port] secs\n"
	    "       evil capture file secs\n"
	    "       evil ackcopy [-a | -r] peer victim third:port secs\n"
	    "       evil mangle [-c n] [-f n] [-p pct] [-k dourtx] a b secs\n"
	    "       evil intro [-f flags] bind:port them:port secs "
	    "cand:port...\n");
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
	p[2] = 3;
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
	int fd, big = 32 << 20;

	if ((fd = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_IP))) == -1)
		die("AF_PACKET socket");
	/* Room for a burst: a packet lost here would be lost on the path. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) == -1)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	return fd;
}

/* How many packets the kernel dropped for want of room on fd. */
static unsigned
sniff_drops(int fd)
{
	struct tpacket_stats st;
	socklen_t sl = sizeof(st);

	memset(&st, 0, sizeof(st));
	(void)getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &sl);
	return st.tp_drops;
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

/*
 * A plain session message (p, n) dressed as a record: T_REC, a counter,
 * its type and body as they were (not sealed: we have no key), and a
 * random tag. Returns the new length, or n if it does not fit.
 */
static size_t
fake_record(unsigned char *p, size_t n, size_t cap)
{
	int type = p[3];

	if (n < HDR_LEN || n + REC_OVERHEAD > cap)
		return n;
	memmove(p + HDR_LEN + 9, p + HDR_LEN, n - HDR_LEN);
	p[3] = T_REC;
	put64(p + HDR_LEN, rnd() % 1000000);
	p[HDR_LEN + 8] = (unsigned char)type;
	rnd_fill(p + n + 9, 16);
	return n + REC_OVERHEAD;
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
	int keyed = rnd() % 4 != 0;	/* mostly dressed as records */

	switch (kind) {
	case 'g':		/* garbage, sometimes with our magic */
		n = 1 + rnd() % 1400;
		rnd_fill(p, n);
		if (rnd() % 2)
			memcpy(p, "PN\003", 3);
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
		return n;
	default:
		return 0;
	}
	return keyed ? fake_record(p, n, cap) : n;
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
	uint64_t	 seq;
	unsigned long	 sent, probes_rx, other_rx, errors, hs_rx;
};

static void
imp_send(struct impostor *im, const struct sockaddr_in *to,
    const unsigned char *p, size_t n)
{
	if (sendto(im->fd, p, n, 0, (const struct sockaddr *)to,
	    sizeof(*to)) >= 0)
		im->sent++;
}

/* REGISTER (or PEERACK) exactly as a v3 client builds it. */
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

/*
 * A handshake message of kind k (1 HELLO, 2 REPLY, 3 FINISH) as the
 * impostor can make them: a random share (a point of no low order, very
 * likely), no AD, and a random confirmation: a guess of the password it
 * does not hold, which the victim must turn down.
 */
static void
imp_hs(struct impostor *im, const struct sockaddr_in *to, int k)
{
	unsigned char b[128];
	size_t n = put_hdr(b, T_HS, im->id);

	b[n++] = (unsigned char)k;
	if (k != 3) {
		rnd_fill(b + n, SHARE_LEN);
		b[n + SHARE_LEN - 1] &= 0x7f;
		n += SHARE_LEN;
		b[n++] = 0;	/* adlen */
		b[n++] = 0;
	}
	if (k != 1) {
		rnd_fill(b + n, CONFIRM_LEN);
		n += CONFIRM_LEN;
	}
	imp_send(im, to, b, n);
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
	imp_send(im, to, b, n);
}

/* Answer a probe as a peer would, echoing its tx. */
static void
imp_ack(struct impostor *im, const struct sockaddr_in *to,
    const unsigned char *probe, size_t len)
{
	unsigned char b[128];
	size_t n = put_hdr(b, T_ACK, im->id);

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
	im->seq++;
	if (rnd() % 2)		/* dressed as a record */
		n = fake_record(b, n, sizeof(b));
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

	if (len < HDR_LEN || p[0] != 'P' || p[1] != 'N' || p[2] != 3) {
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
	} else if (!med && p[3] == T_HS && len > HDR_LEN && im->introduced) {
		/* HELLO: a REPLY; REPLY: a FINISH. Neither can be right. */
		im->hs_rx++;
		if (p[HDR_LEN] == 1 || p[HDR_LEN] == 2)
			imp_hs(im, from, p[HDR_LEN] + 1);
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
				/* a victim that answers HELLOs: our guess */
				if (rnd() % 10 == 0)
					imp_hs(&im, &im.cands[i], 1);
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
	    "handshake-received %lu\nother-received %lu\nerrors %lu\n"
	    "sent %lu\n", im.registered, im.introduced, im.probes_rx,
	    im.hs_rx, im.other_rx, im.errors, im.sent);
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
		if (n >= off && pkt[ihl + 8] == 'P' && pkt[ihl + 11] == T_REC)
			session++;	/* what must be counted when replayed */
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

/* ---- evil mitm: a dishonest mediator in the middle of the session ---- */

/*
 * One of the two clients of the name. It is told that its peer is at
 * rs (our relay socket for it), so that everything it sends its peer
 * comes to us.
 */
struct victim {
	uint64_t	 id;
	struct sockaddr_in ep;		/* its public endpoint, on P */
	int		 version;	/* the header's version byte it sent */
	int		 role;
	int		 rs;		/* our socket it takes for its peer */
	struct sockaddr_in rs_ep;
	int		 acked;		/* PEERACK seen */
	int		 peer_tx;	/* PEERs sent */
	struct sec	 sec;		/* our handshake with it (protocol 3) */
	int		 hs_on, hs_done, hs_failed;
	unsigned long	 fwd, fwd_bytes, hs_rx;
};

struct mitm {
	int		 med[2];	/* ports P and P+1 */
	struct sockaddr_in med_ep;
	char		 name[65];
	struct victim	 v[2];
	int		 nv, mode, intercept;
	FILE		*log;		/* every byte we forward: what we read */
	int64_t		 peer_at, hs_at;
};

static int
udp_bound(const struct sockaddr_in *sin)
{
	int fd, on = 1;

	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
		die("socket");
	/* not for port 0: two sockets could get one port (loadgen.c) */
	if (sin->sin_port != 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
		    sizeof(on));
	if (bind(fd, (const struct sockaddr *)sin, sizeof(*sin)) == -1)
		die("bind");
	return fd;
}

static size_t
put_ep(unsigned char *p, const struct sockaddr_in *sin)
{
	p[0] = 4;
	memcpy(p + 1, &sin->sin_port, 2);
	memcpy(p + 3, &sin->sin_addr, 4);
	return 7;
}

static size_t
mitm_hdr(unsigned char *p, int version, int type, uint64_t id)
{
	put_hdr(p, type, id);
	p[2] = (unsigned char)version;
	return HDR_LEN;
}

static void
mitm_send(int fd, const struct sockaddr_in *to, const void *p, size_t n)
{
	(void)sendto(fd, p, n, 0, (const struct sockaddr *)to, sizeof(*to));
}

/* PEER to victim i: its peer is our relay socket for it, "ready". */
static void
mitm_peer(struct mitm *m, int i)
{
	struct victim *me = &m->v[i], *other = &m->v[!i];
	unsigned char b[128];
	size_t n = mitm_hdr(b, me->version, T_PEER, me->id);

	b[n++] = (unsigned char)((me->id > other->id ? 0x01 : 0) | 0x08);
	b[n++] = 0;
	put64(b + n, other->id);
	n += 8;
	n += put_ep(b + n, &me->ep);
	n += put_ep(b + n, &me->rs_ep);
	b[n++] = 0;
	mitm_send(m->med[0], &me->ep, b, n);
	me->peer_tx++;
}

static void
mitm_registered(struct mitm *m, int alt, const struct sockaddr_in *to,
    int version, uint64_t id, int ttl)
{
	unsigned char b[64];
	size_t n = mitm_hdr(b, version, T_REGISTERED, id);

	n += put_ep(b + n, to);
	put16(b + n, (uint16_t)ttl);
	n += 2;
	memset(b + n, 0x42, 8);		/* any cookie: we check none */
	n += 8;
	mitm_send(m->med[alt], to, b, n);
}

/* REGISTER or PEERACK from a client; the first two ids are the pair. */
static void
mitm_med_input(struct mitm *m, int alt, const unsigned char *p, size_t len,
    const struct sockaddr_in *from)
{
	uint64_t id = get64(p + 4);
	size_t nl;
	int i;

	if (len < HDR_LEN + 2 || (p[3] != T_REGISTER && p[3] != T_PEERACK))
		return;
	for (i = 0; i < m->nv && m->v[i].id != id; i++)
		;
	if (p[3] == T_PEERACK) {
		if (i < m->nv)
			m->v[i].acked = 1;
		return;
	}
	if (alt)
		return;		/* the copy to P+1: noted by nobody */
	nl = p[HDR_LEN + 1];
	if (nl == 0 || nl > 64 || len < HDR_LEN + 2 + nl)
		return;
	if (i == m->nv) {
		if (m->nv == 2)
			return;
		if (m->nv == 1 && (memcmp(m->name, p + HDR_LEN + 2, nl) != 0 ||
		    m->name[nl] != '\0'))
			return;
		memcpy(m->name, p + HDR_LEN + 2, nl);
		m->name[nl] = '\0';
		m->v[i].id = id;
		m->v[i].ep = *from;
		m->v[i].version = p[2];
		m->v[i].role = p[HDR_LEN];
		m->nv++;
		fprintf(stderr, "evil: registered %s version %d\n", m->name,
		    p[2]);
		if (m->nv == 2)
			m->peer_at = evil_now_ms();
	}
	mitm_registered(m, 0, from, p[2], id, 30);
}

/* Our handshake with victim i: we play its peer, with the name alone. */
static void
mitm_hs_start(struct mitm *m, int i)
{
	struct victim *me = &m->v[i], *other = &m->v[!i];
	struct sec_params sp;
	unsigned char ci[8], ad[1 + 7 + 7 + 1];
	size_t n = 0;

	memcpy(ci, "pnc v3", 6);
	ci[6] = me->role == 1 ? 1 : 2;
	ci[7] = (unsigned char)m->mode;
	ad[n++] = me->id > other->id ? 2 : 1;
	n += put_ep(ad + n, &me->rs_ep);
	n += put_ep(ad + n, &me->ep);
	ad[n++] = 0;
	memset(&sp, 0, sizeof(sp));
	sp.secret = m->name;
	sp.secretlen = strlen(m->name);
	sp.my_id = other->id;
	sp.peer_id = me->id;
	sp.ci = ci;
	sp.cilen = sizeof(ci);
	sp.ad = ad;
	sp.adlen = n;
	if (sec_start(&me->sec, me->id < other->id, &sp) == -1)
		die("sec_start");
	me->hs_on = 1;
	fprintf(stderr, "evil: handshake with %016llx as the %s\n",
	    (unsigned long long)me->id, me->id < other->id ? "initiator" :
	    "responder");
}

/* Send whatever our handshake with victim i has due, as its peer. */
static void
mitm_hs_flush(struct mitm *m, int i, int latest)
{
	struct victim *me = &m->v[i];
	unsigned char b[HDR_LEN + SEC_HS_MAX];
	size_t n;

	n = latest ? sec_hs_latest(&me->sec, b + HDR_LEN, SEC_HS_MAX) :
	    sec_hs_output(&me->sec, b + HDR_LEN, SEC_HS_MAX);
	if (n == 0)
		return;
	mitm_hdr(b, me->version, T_HS, m->v[!i].id);
	mitm_send(me->rs, &me->ep, b, HDR_LEN + n);
}

static void
mitm_hs_input(struct mitm *m, int i, const unsigned char *p, size_t len)
{
	struct victim *me = &m->v[i];
	int rc;

	me->hs_rx++;
	if (!me->hs_on)
		mitm_hs_start(m, i);
	if (!m->v[!i].hs_on) {		/* the other side: we open to it */
		mitm_hs_start(m, !i);
		mitm_hs_flush(m, !i, 0);
		m->hs_at = evil_now_ms() + 100;
	}
	rc = sec_hs_input(&me->sec, p + HDR_LEN, len - HDR_LEN);
	if (rc == SEC_DONE) {
		me->hs_done = 1;
		fprintf(stderr, "evil: handshake with %016llx done\n",
		    (unsigned long long)me->id);
	} else if (rc == SEC_FAIL) {
		me->hs_failed = 1;
		fprintf(stderr, "evil: handshake with %016llx failed: %s\n",
		    (unsigned long long)me->id,
		    sec_strerror(sec_error(&me->sec)));
	}
	mitm_hs_flush(m, i, 0);
}

/* A datagram from victim i to "its peer": forward it, or play the peer. */
static void
mitm_rs_input(struct mitm *m, int i, const unsigned char *p, size_t len,
    const struct sockaddr_in *from)
{
	struct victim *me = &m->v[i], *other = &m->v[!i];

	if (from->sin_addr.s_addr != me->ep.sin_addr.s_addr ||
	    from->sin_port != me->ep.sin_port)
		return;
	if (len >= HDR_LEN + 9 && p[0] == 'P' && p[3] == T_PROBE &&
	    (p[HDR_LEN + 8] & 0x02))
		m->mode |= 1;		/* -R, as the probes say */
	if (m->intercept && len > HDR_LEN && p[0] == 'P' && p[3] == T_HS) {
		mitm_hs_input(m, i, p, len);
		return;
	}
	me->fwd++;
	me->fwd_bytes += len;
	if (m->log != NULL)
		fwrite(p, 1, len, m->log);
	mitm_send(other->rs, &other->ep, p, len);
}

static void
mitm_tick(struct mitm *m, int64_t now)
{
	int i;

	if (m->nv == 2 && now >= m->peer_at) {
		for (i = 0; i < 2; i++)
			if (!m->v[i].acked && m->v[i].peer_tx < 20)
				mitm_peer(m, i);
		m->peer_at = now + 100;
	}
	if (m->hs_at != 0 && now >= m->hs_at) {
		for (i = 0; i < 2; i++)
			if (m->v[i].hs_on)
				mitm_hs_flush(m, i, 1);
		m->hs_at = now + 200;
	}
}

static void
mitm_read(struct mitm *m, int fd, int kind)
{
	unsigned char b[2048];
	struct sockaddr_in from;
	socklen_t fl;
	ssize_t n;

	for (;;) {
		fl = sizeof(from);
		n = recvfrom(fd, b, sizeof(b), MSG_DONTWAIT,
		    (struct sockaddr *)&from, &fl);
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < HDR_LEN || b[0] != 'P' || b[1] != 'N')
			continue;
		if (kind < 2)
			mitm_med_input(m, kind, b, (size_t)n, &from);
		else if (kind - 2 < m->nv)
			mitm_rs_input(m, kind - 2, b, (size_t)n, &from);
	}
}

static int
mitm_main(int argc, char **argv)
{
	struct mitm m;
	struct pollfd pfd[4];
	struct sockaddr_in sin;
	socklen_t sl;
	int64_t now, end;
	int ch, i, k;

	signal(SIGTERM, on_term);	/* report, then exit */
	memset(&m, 0, sizeof(m));
	m.intercept = 1;
	while ((ch = getopt(argc, argv, "fw:")) != -1) {
		switch (ch) {
		case 'f':
			m.intercept = 0;	/* forward the handshake too */
			break;
		case 'w':
			if ((m.log = fopen(optarg, "w")) == NULL)
				die(optarg);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2)
		usage();
	hostport(argv[0], 7321, &m.med_ep);
	end = evil_now_ms() + num(argv[1], 0, 3600, "seconds") * 1000;
	m.med[0] = udp_bound(&m.med_ep);
	sin = m.med_ep;
	sin.sin_port = htons((uint16_t)(ntohs(sin.sin_port) + 1));
	m.med[1] = udp_bound(&sin);
	for (i = 0; i < 2; i++) {
		sin = m.med_ep;
		sin.sin_port = 0;
		m.v[i].rs = udp_bound(&sin);
		sl = sizeof(m.v[i].rs_ep);
		if (getsockname(m.v[i].rs, (struct sockaddr *)&m.v[i].rs_ep,
		    &sl) == -1)
			die("getsockname");
	}
	fprintf(stderr, "evil: mediating\n");
	while ((now = evil_now_ms()) < end && !evil_stop) {
		mitm_tick(&m, now);
		for (k = 0; k < 4; k++) {
			pfd[k].fd = k < 2 ? m.med[k] : m.v[k - 2].rs;
			pfd[k].events = POLLIN;
		}
		if (poll(pfd, 4, 20) <= 0)
			continue;
		for (k = 0; k < 4; k++)
			if (pfd[k].revents & POLLIN)
				mitm_read(&m, pfd[k].fd, k);
	}
	if (m.log != NULL)
		fclose(m.log);
	printf("clients %d\n", m.nv);
	for (i = 0; i < 2; i++)
		printf("v%d-version %d\nv%d-forwarded %lu\nv%d-bytes %lu\n"
		    "v%d-hs-received %lu\nv%d-hs-done %d\nv%d-hs-failed %d\n",
		    i, m.v[i].version, i, m.v[i].fwd, i, m.v[i].fwd_bytes,
		    i, m.v[i].hs_rx, i, m.v[i].hs_done, i, m.v[i].hs_failed);
	return 0;
}

/* ---- evil mangle: the path between two public addresses, on core ---- */

/*
 * The test drops every packet core would forward between a and b (nft,
 * forward hook); we see them anyway, on the AF_PACKET tap before the
 * IP layer, and send them on ourselves from a raw socket (which goes out
 * through core's output hook, not forward), as the kinds say: d drop,
 * o hold back until the next one (reorder), u twice, r also a copy of an
 * earlier one (replay), t also a copy cut short (sent first, so that a
 * receiver cannot tell it by its counter), x cut short instead.
 * Each kind strikes a packet with probability pct. -c n: after n big
 * packets (500 bytes or more: data, not control) from a to b, drop all
 * further ones from a to b: the tail of a transfer, its end included.
 * -f n: alter one byte of the n-th big packet from a to b (past pnc's
 * header, or in TCP's data), checksums made good: TCP takes it.
 */
#define MG_RING		64

struct mg_dir {
	unsigned char	 ring[MG_RING][1600];
	size_t		 ringlen[MG_RING];
	unsigned long	 nring;
	unsigned char	 held[1600];
	size_t		 heldlen;
	int64_t		 held_at;
	unsigned long	 seen, big, sent, dropped, dup, held_n, replayed, cut,
			 truncated, tail, flipped;
};

struct mangle {
	int		 rfd;
	const char	*kinds;
	int		 pct;
	long		 cut_after, flip_at;
	struct mg_dir	 d[2];		/* 0: a to b, 1: b to a */
};

/* IP and L4 checksums again after a change; TCP or UDP. */
static void
mg_fix(unsigned char *pkt, size_t len)
{
	size_t ihl = (size_t)(pkt[0] & 15) * 4, l4 = len - ihl;
	unsigned char *t = pkt + ihl, pseudo[12];
	uint16_t c;

	put16(pkt + 2, (uint16_t)len);
	if (pkt[9] == IPPROTO_UDP) {
		put16(t + 4, (uint16_t)l4);
		fix_checksums(pkt);
		return;
	}
	pkt[10] = pkt[11] = 0;
	put16(pkt + 10, csum_fold(csum_add(0, pkt, ihl)));
	if (pkt[9] != IPPROTO_TCP || l4 < 20)
		return;
	memcpy(pseudo, pkt + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = IPPROTO_TCP;
	put16(pseudo + 10, (uint16_t)l4);
	t[16] = t[17] = 0;
	c = csum_fold(csum_add(csum_add(0, pseudo, 12), t, l4));
	put16(t + 16, c);
}

static void
mg_send(struct mangle *m, struct mg_dir *d, const unsigned char *pkt,
    size_t len)
{
	unsigned char b[1600];

	struct sockaddr_in to;

	memcpy(b, pkt, len);
	mg_fix(b, len);
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	memcpy(&to.sin_addr, b + 16, 4);
	if (sendto(m->rfd, b, len, 0, (struct sockaddr *)&to,
	    sizeof(to)) == (ssize_t)len)
		d->sent++;
}

/* One byte of the payload past pnc's header (UDP) or of TCP's data. */
static void
mg_flip(struct mg_dir *d, unsigned char *pkt, size_t len)
{
	size_t ihl = (size_t)(pkt[0] & 15) * 4, off;

	if (pkt[9] == IPPROTO_UDP)
		off = ihl + 8 + HDR_LEN;
	else
		off = ihl + (size_t)(pkt[ihl + 12] >> 4) * 4;
	if (off >= len)
		return;
	pkt[off + rnd() % (len - off)] ^= (unsigned char)(1 + rnd() % 255);
	d->flipped++;
}

static int
mg_hit(const struct mangle *m, char kind)
{
	return strchr(m->kinds, kind) != NULL && (int)(rnd() % 100) < m->pct;
}

/* A copy of pkt with the end cut off: at least the IP+UDP header kept. */
static void
mg_truncated(struct mangle *m, struct mg_dir *d, const unsigned char *pkt,
    size_t len)
{
	size_t ihl = (size_t)(pkt[0] & 15) * 4, keep;

	if (len <= ihl + 9)
		return;
	keep = ihl + 8 + 1 + rnd() % (len - ihl - 9);
	mg_send(m, d, pkt, keep);
	d->truncated++;
}

static void
mg_packet(struct mangle *m, int dir, unsigned char *pkt, size_t len)
{
	struct mg_dir *d = &m->d[dir];
	unsigned long k;

	d->seen++;
	if (len >= 500)
		d->big++;
	if (dir == 0 && m->cut_after >= 0 && (long)d->big > m->cut_after) {
		d->tail++;
		return;
	}
	if (len > sizeof(d->ring[0]))
		return;		/* bigger than the path's MTU: cannot be */
	if (dir == 0 && len >= 500 && (long)d->big == m->flip_at)
		mg_flip(d, pkt, len);
	k = d->nring++ % MG_RING;
	memcpy(d->ring[k], pkt, len);
	d->ringlen[k] = len;
	if (mg_hit(m, 'd')) {
		d->dropped++;
		return;
	}
	if (mg_hit(m, 'x')) {
		mg_truncated(m, d, pkt, len);
		return;
	}
	if (mg_hit(m, 't'))	/* before the original: its counter is new */
		mg_truncated(m, d, pkt, len);
	if (d->heldlen == 0 && mg_hit(m, 'o')) {
		memcpy(d->held, pkt, len);
		d->heldlen = len;
		d->held_at = evil_now_ms();
		d->held_n++;
		return;
	}
	mg_send(m, d, pkt, len);
	if (d->heldlen > 0) {		/* the one held back: now, after */
		mg_send(m, d, d->held, d->heldlen);
		d->heldlen = 0;
	}
	if (mg_hit(m, 'u')) {
		mg_send(m, d, pkt, len);
		d->dup++;
	}
	if (mg_hit(m, 'r') && d->nring > 1) {
		k = (d->nring - 1 - 1 - rnd() % (d->nring - 1 < MG_RING - 1 ?
		    d->nring - 1 : MG_RING - 1)) % MG_RING;
		mg_send(m, d, d->ring[k], d->ringlen[k]);
		d->replayed++;
	}
}

/* The next IPv4 UDP or TCP packet between a and b, either way. */
static size_t
mg_next(int fd, struct in_addr a, struct in_addr b, unsigned char *pkt,
    size_t cap, int *dir, int64_t deadline)
{
	struct sockaddr_ll sll;
	socklen_t sl;
	struct pollfd pfd;
	ssize_t n;
	int64_t left;

	while ((left = deadline - evil_now_ms()) > 0) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)(left < 20 ? left : 20)) <= 0)
			return 0;	/* a tick: release what is held */
		sl = sizeof(sll);
		if ((n = recvfrom(fd, pkt, cap, 0, (struct sockaddr *)&sll,
		    &sl)) < 28 || sll.sll_pkttype == PACKET_OUTGOING ||
		    (pkt[0] >> 4) != 4 || (pkt[0] & 15) < 5 ||
		    (pkt[9] != IPPROTO_UDP && pkt[9] != IPPROTO_TCP) ||
		    ((size_t)pkt[2] << 8 | pkt[3]) != (size_t)n)
			continue;
		if (memcmp(pkt + 12, &a, 4) == 0 && memcmp(pkt + 16, &b, 4) == 0)
			*dir = 0;
		else if (memcmp(pkt + 12, &b, 4) == 0 &&
		    memcmp(pkt + 16, &a, 4) == 0)
			*dir = 1;
		else
			continue;
		return (size_t)n;
	}
	return 0;
}

static int
mangle_main(int argc, char **argv)
{
	struct mangle *m;
	struct in_addr a, b;
	unsigned char pkt[65536];
	int sfd, ch, dir, i;
	int64_t end, now;
	size_t n;

	signal(SIGTERM, on_term);	/* report, then exit */
	if ((m = calloc(1, sizeof(*m))) == NULL)
		die("calloc");
	m->kinds = "";
	m->pct = 10;
	m->cut_after = -1;
	m->flip_at = -1;
	while ((ch = getopt(argc, argv, "c:f:k:p:")) != -1) {
		switch (ch) {
		case 'c':
			m->cut_after = num(optarg, 0, 100000000, "count");
			break;
		case 'f':
			m->flip_at = num(optarg, 1, 100000000, "count");
			break;
		case 'k':
			if (strspn(optarg, "dourtx") != strlen(optarg))
				bad("kinds", optarg);
			m->kinds = optarg;
			break;
		case 'p':
			m->pct = (int)num(optarg, 0, 100, "percentage");
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 3)
		usage();
	a = addr4(argv[0]);
	b = addr4(argv[1]);
	end = evil_now_ms() + num(argv[2], 0, 3600, "seconds") * 1000;
	sfd = sniff_socket();
	m->rfd = raw_socket();
	fprintf(stderr, "evil: mangling\n");
	while ((now = evil_now_ms()) < end && !evil_stop) {
		if ((n = mg_next(sfd, a, b, pkt, sizeof(pkt), &dir, end)) > 0)
			mg_packet(m, dir, pkt, n);
		now = evil_now_ms();
		for (i = 0; i < 2; i++)		/* nothing held past 50 ms */
			if (m->d[i].heldlen > 0 && now - m->d[i].held_at > 50) {
				mg_send(m, &m->d[i], m->d[i].held,
				    m->d[i].heldlen);
				m->d[i].heldlen = 0;
			}
	}
	for (i = 0; i < 2; i++)
		printf("d%d-seen %lu\nd%d-sent %lu\nd%d-dropped %lu\n"
		    "d%d-reordered %lu\nd%d-duplicated %lu\nd%d-replayed %lu\n"
		    "d%d-truncated %lu\nd%d-tail-dropped %lu\nd%d-flipped %lu\n",
		    i, m->d[i].seen, i, m->d[i].sent, i, m->d[i].dropped,
		    i, m->d[i].held_n, i, m->d[i].dup, i, m->d[i].replayed,
		    i, m->d[i].truncated, i, m->d[i].tail, i, m->d[i].flipped);
	printf("kernel-dropped %u\n", sniff_drops(sfd));
	free(m);
	return 0;
}

/* ---- evil capture: every packet core sees, for a byte search ---- */

/*
 * Every packet on every interface of the namespace, both ways, lo
 * included, from the IP header on, appended to file as it comes (no
 * framing: the test searches the bytes). Capturing from the moment
 * "evil: capturing" is printed; the report says how many packets the
 * kernel dropped for want of room (PACKET_STATISTICS), which must be 0
 * for "every packet" to hold.
 */
static int
capture_main(int argc, char **argv)
{
	unsigned char pkt[65536];
	unsigned long packets = 0, bytes = 0;
	struct pollfd pfd;
	FILE *f;
	ssize_t n;
	int fd, big = 64 << 20;
	int64_t end;

	signal(SIGTERM, on_term);	/* report, then exit */
	if (argc != 3)
		usage();
	if ((f = fopen(argv[1], "w")) == NULL)
		die(argv[1]);
	end = evil_now_ms() + num(argv[2], 0, 3600, "seconds") * 1000;
	if ((fd = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_ALL))) == -1)
		die("AF_PACKET socket");
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) == -1)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	fprintf(stderr, "evil: capturing\n");
	while (evil_now_ms() < end && !evil_stop) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		while ((n = recv(fd, pkt, sizeof(pkt), MSG_DONTWAIT)) > 0) {
			fwrite(pkt, 1, (size_t)n, f);
			packets++;
			bytes += (unsigned long)n;
		}
	}
	fclose(f);
	printf("packets %lu\nbytes %lu\nkernel-dropped %u\n", packets, bytes,
	    sniff_drops(fd));
	return 0;
}

/* ---- evil ackcopy: a copied ACK (or PROBE) from a third address ---- */

/*
 * On core. The test drops, in core's forward path, the PROBEs and ACKs
 * from peer to victim (a host without NAT, so that a third address can
 * reach it); we see each on the AF_PACKET tap, send a copy of its UDP
 * payload first from our own socket on third, then, 20 ms later, the
 * original from the raw socket: the copy always arrives first. We answer
 * nothing. -a: copy only the ACKs (PROBEs pass untouched); -r: records
 * (T_REC) too, the path checks of a relayed session among them (the
 * test's nft rule must drop them too). Whatever the
 * victim then sends to third is counted: its
 * checks (PROBEs), nominations (PROBE flag 0x01), and session traffic
 * (data, EOF, handshake, records): the path it took through us.
 */
struct ackcopy {
	int		 fd, rfd;
	unsigned long	 copied, rx_probes, rx_nominations, rx_session,
			 rx_other;
};

static void
ack_drain(struct ackcopy *a)
{
	unsigned char b[2048];
	ssize_t n;

	while ((n = recv(a->fd, b, sizeof(b), MSG_DONTWAIT)) >= 0) {
		if (n < HDR_LEN || b[0] != 'P' || b[1] != 'N')
			a->rx_other++;
		else if (b[3] == T_PROBE) {
			a->rx_probes++;
			if (n > HDR_LEN + 8 && (b[HDR_LEN + 8] & 0x01))
				a->rx_nominations++;
		} else if (b[3] >= T_DATA)
			a->rx_session++;
		else
			a->rx_other++;
	}
}

static int
ackcopy_main(int argc, char **argv)
{
	struct ackcopy a;
	struct sockaddr_in third, to;
	struct in_addr peer, victim;
	unsigned char pkt[65536];
	const unsigned char *u, *p;
	int64_t end;
	size_t n, ihl;
	int sfd, acks_only = argc == 6 && strcmp(argv[1], "-a") == 0;
	int recs = argc == 6 && strcmp(argv[1], "-r") == 0;

	signal(SIGTERM, on_term);	/* report, then exit */
	argc -= acks_only + recs;
	argv += acks_only + recs;
	if (argc != 5)
		usage();
	memset(&a, 0, sizeof(a));
	peer = addr4(argv[1]);
	victim = addr4(argv[2]);
	hostport(argv[3], 0, &third);
	end = evil_now_ms() + num(argv[4], 0, 3600, "seconds") * 1000;
	a.fd = udp_bound(&third);
	sfd = sniff_socket();
	a.rfd = raw_socket();
	fprintf(stderr, "evil: copying\n");
	while (evil_now_ms() < end && !evil_stop) {
		ack_drain(&a);
		if ((n = sniff_next(sfd, peer, victim, pkt, sizeof(pkt),
		    evil_now_ms() + 20)) == 0)
			continue;
		ihl = (size_t)(pkt[0] & 15) * 4;
		u = pkt + ihl;
		p = u + 8;
		if (n < ihl + 8 + HDR_LEN || p[0] != 'P' || p[1] != 'N' ||
		    (p[3] != T_PROBE && p[3] != T_ACK && (!recs ||
		    p[3] != T_REC)))
			continue;
		if (acks_only && p[3] != T_ACK) {
			(void)raw_send(a.rfd, pkt, n);	/* on, untouched */
			continue;
		}
		memset(&to, 0, sizeof(to));
		to.sin_family = AF_INET;
		to.sin_addr = victim;
		memcpy(&to.sin_port, u + 2, 2);
		if (sendto(a.fd, p, n - ihl - 8, 0, (struct sockaddr *)&to,
		    sizeof(to)) >= 0)
			a.copied++;
		usleep(20000);
		(void)raw_send(a.rfd, pkt, n);
	}
	ack_drain(&a);
	printf("copied %lu\nrx-probes %lu\nrx-nominations %lu\n"
	    "rx-session %lu\nrx-other %lu\nkernel-dropped %u\n", a.copied,
	    a.rx_probes, a.rx_nominations, a.rx_session, a.rx_other,
	    sniff_drops(sfd));
	return 0;
}

/* ---- intro: a hostile mediator (issue 16, point 5) ---- */

#define T_PEER_THEY_EPDEP	0x04	/* T_PEER flag: the peer is symmetric */
#define MAX_LOCALS		8

static size_t
put_ep4(unsigned char *p, const struct sockaddr_in *sin)
{
	p[0] = 4;
	memcpy(p + 1, &sin->sin_port, 2);
	memcpy(p + 3, &sin->sin_addr, 4);
	return 7;
}

/*
 * Answers every REGISTER at bind:port with a PEER: flags (default "the
 * peer is symmetric"), a random peer id, the peer "at" them, and the
 * given local candidates (at most 8), whatever their addresses. Each
 * REGISTER is answered once per client id; PEERACKs are ignored. Prints
 * "registers N" and "intros N" at the end.
 */
static int
intro_main(int argc, char **argv)
{
	struct sockaddr_in me, them, cands[MAX_LOCALS], from;
	unsigned char b[1500], o[256];
	uint64_t ids[64];
	unsigned long regs = 0, intros = 0;
	int fd, c, i, nc, nids = 0, flags = T_PEER_THEY_EPDEP;
	int64_t end;
	socklen_t fl;
	ssize_t n;
	size_t k;

	while ((c = getopt(argc, argv, "f:")) != -1)
		if (c == 'f')
			flags = (int)num(optarg, 0, 255, "flags");
		else
			usage();
	argc -= optind;
	argv += optind;
	if (argc < 3 || argc - 3 > MAX_LOCALS)
		usage();
	hostport(argv[0], 7321, &me);
	hostport(argv[1], 7321, &them);
	end = evil_now_ms() + num(argv[2], 1, 3600, "secs") * 1000;
	for (nc = 0; nc < argc - 3; nc++)
		hostport(argv[3 + nc], 7321, &cands[nc]);
	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
		die("socket");
	if (bind(fd, (struct sockaddr *)&me, sizeof(me)) == -1)
		die("bind");
	fprintf(stderr, "evil: mediating\n");
	while (evil_now_ms() < end) {
		struct pollfd pfd = { fd, POLLIN, 0 };

		if (poll(&pfd, 1, (int)(end - evil_now_ms())) <= 0)
			continue;
		fl = sizeof(from);
		n = recvfrom(fd, b, sizeof(b), 0, (struct sockaddr *)&from, &fl);
		if (n < HDR_LEN || b[0] != 'P' || b[1] != 'N' ||
		    b[3] != T_REGISTER)
			continue;
		regs++;
		for (i = 0; i < nids && ids[i] != get64(b + 4); i++)
			;
		if (i < nids)
			continue;
		if (nids < 64)
			ids[nids++] = get64(b + 4);
		k = put_hdr(o, T_PEER, get64(b + 4));
		o[2] = b[2];	/* the asker's version: v2 for a control */
		o[k++] = (unsigned char)flags;
		o[k++] = 63;			/* ttl seen: one hop */
		put64(o + k, rnd() | 1);
		k += 8;
		k += put_ep4(o + k, &from);	/* you */
		k += put_ep4(o + k, &them);	/* the "peer" */
		o[k++] = (unsigned char)nc;
		for (i = 0; i < nc; i++)
			k += put_ep4(o + k, &cands[i]);
		if (sendto(fd, o, k, 0, (struct sockaddr *)&from,
		    sizeof(from)) == (ssize_t)k)
			intros++;
	}
	printf("registers %lu\nintros %lu\n", regs, intros);
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
	else if (strcmp(argv[1], "mitm") == 0)
		rc = mitm_main(argc - 1, argv + 1);
	else if (strcmp(argv[1], "mangle") == 0)
		rc = mangle_main(argc - 1, argv + 1);
	else if (strcmp(argv[1], "capture") == 0)
		rc = capture_main(argc - 1, argv + 1);
	else if (strcmp(argv[1], "ackcopy") == 0)
		rc = ackcopy_main(argc - 1, argv + 1);
	else if (strcmp(argv[1], "intro") == 0)
		rc = intro_main(argc - 1, argv + 1);
	else
		usage();
	return rc;
}
