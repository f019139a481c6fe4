/*
 * tests/fuzz_mediator.c - the mediator under libFuzzer (make fuzz, from
 * tests/fuzz.c).
 *
 * The mediator is the one `pnc mediate -n 20 -r -x 2 -b 100000` makes:
 * the same option parser and init (so it cannot drift from the real
 * defaults), on two local sockets it is told of but that do not exist,
 * 192.0.2.1 ports P and P+1. Its input is records of ctl(1) src(1)
 * len(1 or 2) datagram(len): ctl bit 0 picks the port, bit 7 makes len
 * two bytes (big-endian: records up to MAX_DGRAM + 1, the oversized
 * one included, where one byte stops at 255), bits 1 to 6 move the
 * clock on by 97 ms steps; src is one of 256 sources, 10.0.0.(src >> 3)
 * port 1000 + (src & 7). The last eight, 10.0.0.31, are TCP
 * clients instead: their records are bytes of one stream each, framed
 * as TCP rendezvous frames them (mediator_stream). The answers come to
 * drain(), read and dropped.
 *
 * Cookies: the fuzzer cannot guess a 64-bit MAC, and the mediator has
 * no switch to skip the check, so this harness does what a client does:
 * it keeps the cookie a source was last sent (REGISTERED), and puts it
 * into a REGISTER from that source that carries a zero cookie (a
 * client's "none yet"). A nonzero cookie goes as it is, to be checked.
 *
 * FUZZ_MEDIATOR_COUNTS=1 in the environment prints, at exit, how many
 * answers of each kind were sent: proof that registrations complete.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../pnc.h"

#define NAMES	20	/* -n: the table grows (past 16) and fills */
#define P	7321
#define TCP_SRC	248	/* sources from here on are TCP clients */

int	mediator_fuzz(const unsigned char *, size_t);

static unsigned char	cookie[256][COOKIE_LEN];
static int		have_cookie[256];
static unsigned long	counts[256];	/* answers sent, by message type */
static unsigned long	completed;	/* REGISTERED with a ttl */
static unsigned long	tcp_sent;	/* answers to TCP clients */

/* A TCP client's bytes not yet taken, as the I/O layer keeps them. */
static struct {
	unsigned char	 buf[2 + MAX_DGRAM];
	size_t		 len;
	unsigned	 gen;
} tcp[256 - TCP_SRC];

/* The source index of an address the harness made, or -1. */
static int
src_of(const struct ep *e)
{
	uint32_t a;
	int port;

	if (e->u.sa.sa_family != AF_INET)
		return -1;
	a = ntohl(e->u.in.sin_addr.s_addr);
	port = ntohs(e->u.in.sin_port);
	if ((a & 0xffffff00) != 0x0a000000 || a > 0x0a00001f ||
	    port < 1000 || port > 1007)
		return -1;
	return (int)((a & 0x1f) << 3 | (unsigned)(port - 1000));
}

/* The mediator's med_drain_fn: count what it sends, keep cookies. */
static void
drain(void *arg, int k, const struct med_outq *q)
{
	const unsigned char *c;
	struct rd r;
	struct ep you;
	int i, src, version, type, ttl;
	uint64_t id;

	(void)arg;
	if (k == -1)
		tcp_sent += (unsigned long)q->n;
	for (i = 0; i < q->n; i++) {
		rd_init(&r, q->s[i].data, q->s[i].len);
		if (rd_hdr(&r, &version, &type, &id) == -1)
			continue;	/* STUN, or a relayed datagram */
		counts[type & 0xff]++;
		if (type != T_REGISTERED || rd_ep(&r, &you) == -1)
			continue;
		ttl = rd_u16(&r);
		c = rd_bytes(&r, COOKIE_LEN);
		if (r.bad || (src = src_of(&q->s[i].to)) == -1)
			continue;
		memcpy(cookie[src], c, COOKIE_LEN);
		have_cookie[src] = 1;
		completed += ttl > 0;
	}
}

/*
 * A REGISTER from src with a zero cookie gets the one src was sent:
 * written into buf (len bytes, a copy of the datagram) in place.
 */
static void
fill_cookie(unsigned char *buf, size_t len, int src)
{
	static const unsigned char zero[COOKIE_LEN];
	struct rd r;
	struct ep e;
	int version, type, i, n;
	uint64_t id;
	size_t off;

	rd_init(&r, buf, len);
	if (!have_cookie[src] || rd_hdr(&r, &version, &type, &id) == -1 ||
	    type != T_REGISTER)
		return;
	(void)rd_u8(&r);			/* role */
	(void)rd_bytes(&r, rd_u8(&r));		/* name */
	n = rd_u8(&r);
	for (i = 0; i < n && i <= MAX_LOCALS; i++)
		if (rd_ep(&r, &e) == -1)
			return;
	if (r.bad || r.left < COOKIE_LEN)
		return;
	off = len - r.left;
	if (memcmp(buf + off, zero, COOKIE_LEN) == 0)
		memcpy(buf + off, cookie[src], COOKIE_LEN);
}

static void
print_counts(void)
{
	if (getenv("FUZZ_MEDIATOR_COUNTS") == NULL)
		return;
	fprintf(stderr, "fuzz_mediator: %lu REGISTERED (%lu with a ttl), "
	    "%lu PEER, %lu ERROR, %lu BOUND, %lu RELAYOK; %lu to TCP "
	    "clients\n", counts[T_REGISTERED], completed, counts[T_PEER],
	    counts[T_ERROR], counts[T_BOUND], counts[T_RELAYOK], tcp_sent);
}

/* The mediator's configuration, from its own option parser, once. */
static const struct med_config *
config(void)
{
	static char *argv[] = { "mediate", "-n", "20", "-r", "-x", "2",
	    "-b", "100000", NULL };
	static struct med_config c;
	static int done;
	int status;

	if (!done) {
		optind = 1;
		if (mediator_options(&c, 8, argv, &status) == -1)
			abort();
		atexit(print_counts);
		done = 1;
	}
	return &c;
}

/* Two sockets of one address, on P and P+1. */
static void
locals_make(struct med_local *l)
{
	int i;

	memset(l, 0, 2 * sizeof(*l));
	for (i = 0; i < 2; i++) {
		l[i].bound.u.in.sin_family = AF_INET;
		l[i].bound.u.in.sin_addr.s_addr = htonl(0xc0000201);
		l[i].bound.u.in.sin_port = htons(P + i);
		l[i].bound.len = sizeof(struct sockaddr_in);
		l[i].alt_port = i;
	}
}

/* Bytes from TCP client src: on its stream; a bad frame ends that. */
static void
tcp_input(struct mediator *m, const unsigned char *b, size_t n,
    const struct ep *from, int src, int64_t now)
{
	struct med_via via;
	int k = src - TCP_SRC;
	long used;

	if (n > sizeof(tcp[k].buf) - tcp[k].len)
		n = sizeof(tcp[k].buf) - tcp[k].len;
	memcpy(tcp[k].buf + tcp[k].len, b, n);
	tcp[k].len += n;
	memset(&via, 0, sizeof(via));
	via.tcp = k + 1;
	via.gen = tcp[k].gen;
	if ((used = mediator_stream(m, tcp[k].buf, tcp[k].len, from, &via,
	    now)) == -1) {
		tcp[k].len = 0;		/* closed; a new connection next */
		tcp[k].gen++;
		return;
	}
	tcp[k].len -= (size_t)used;
	memmove(tcp[k].buf, tcp[k].buf + used, tcp[k].len);
}

int
mediator_fuzz(const unsigned char *buf, size_t len)
{
	struct med_local locals[2];
	struct mediator *m;
	unsigned char dgram[MAX_DGRAM + 1];
	struct ep from;
	struct med_via via;
	int64_t now = 1000000;
	size_t i = 0, n, hl;
	int src;

	locals_make(locals);
	memset(have_cookie, 0, sizeof(have_cookie));
	memset(tcp, 0, sizeof(tcp));
	if ((m = mediator_init(config(), locals, 2, drain, NULL)) == NULL)
		return 0;
	while (i + 3 <= len) {
		hl = buf[i] & 0x80 ? 4 : 3;
		if (i + hl > len)
			break;
		n = hl == 4 ? (size_t)buf[i + 2] << 8 | buf[i + 3] : buf[i + 2];
		if (n > sizeof(dgram))
			n = sizeof(dgram);
		if (n > len - i - hl)
			n = len - i - hl;
		src = buf[i + 1];
		memset(&from, 0, sizeof(from));
		from.u.in.sin_family = AF_INET;
		from.u.in.sin_port = htons(1000 + (src & 7));
		from.u.in.sin_addr.s_addr = htonl(0x0a000000 | (src >> 3));
		from.len = sizeof(from.u.in);
		memset(&via, 0, sizeof(via));
		via.sock = buf[i] & 1;
		now += ((buf[i] & 0x7f) >> 1) * 97;
		memcpy(dgram, buf + i + hl, n);
		(void)mediator_tick(m, now);
		if (src >= TCP_SRC)
			tcp_input(m, dgram, n, &from, src, now);
		else {
			fill_cookie(dgram, n, src);
			mediator_input(m, dgram, n, &from, &via, 60, now);
		}
		mediator_flush(m);
		if (mediator_stats(m)->names > NAMES)
			abort();	/* the table must stay bounded */
		i += hl + n;
	}
	mediator_free(m);
	return 0;
}
