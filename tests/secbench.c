/*
 * tests/secbench.c - what the protocol-3 record layer costs over the raw
 * AEAD, and what a whole handshake costs, on one core:
 *
 *	raw    chacha20poly1305_seal then _open of a 1200-byte payload
 *	       with a 12-byte AD (a pnc header)
 *	sec    sec_seal then sec_open of a 1200-byte payload behind a
 *	       12-byte header (counter, type byte, replay window added)
 *	hs     sec_start on both sides and the four messages, in memory
 *
 *	secbench [SECONDS]
 *
 * Each figure is the best of 3 rounds of SECONDS (default 0.3) each, the
 * two record variants alternating, on this thread's CPU time (as
 * tests/cryptobench.c does), the process pinned to the core it starts on.
 *
 *	cc -std=c11 -D_GNU_SOURCE -O2 -o secbench tests/secbench.c crypto.c
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../pnc.h"

#define RECORD	1200
#define HDR	12

static double secs = 0.3;
static unsigned char key[32], nonce[12], hdr[HDR];
static unsigned char buf[HDR + RECORD + SEC_OVERHEAD], pay[RECORD];
static struct sec sa, sb;
static volatile unsigned char sink;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
raw(void)
{
	chacha20poly1305_seal(buf, pay, RECORD, hdr, HDR, nonce, key);
	sink ^= (unsigned char)chacha20poly1305_open(buf, buf, RECORD + 16,
	    hdr, HDR, nonce, key);
	nonce[0]++;
}

static void
sec(void)
{
	const unsigned char *pl;
	size_t n, got;
	int type;

	n = sec_seal(&sa, hdr, HDR, 0x20, pay, RECORD, buf, sizeof(buf));
	sink ^= (unsigned char)sec_open(&sb, buf, n, HDR, &type, &pl, &got);
}

static void
params(struct sec_params *p, const char *ad, uint64_t me, uint64_t peer)
{
	memset(p, 0, sizeof(*p));
	p->secret = "7-harbor-cobalt-tiger";
	p->secretlen = 21;
	p->ci = "pnc v3 mode=udp";
	p->cilen = 15;
	p->ad = ad;
	p->adlen = strlen(ad);
	p->my_id = me;
	p->peer_id = peer;
}

/* sec_start both sides, HELLO, REPLY, FINISH, ACK; leaves sa, sb open. */
static void
handshake(void)
{
	struct sec_params pi, pr;
	unsigned char m[SEC_HS_MAX];
	size_t n;
	int i;

	params(&pi, "i pub=192.0.2.1:5000 peer=198.51.100.2:6000", 1, 2);
	params(&pr, "r pub=198.51.100.2:6000 peer=192.0.2.1:5000", 2, 1);
	if (sec_start(&sa, 1, &pi) == -1 || sec_start(&sb, 0, &pr) == -1)
		exit(1);
	for (i = 0; i < 2; i++) {
		n = sec_hs_output(&sa, m, sizeof(m));
		(void)sec_hs_input(&sb, m, n);
		n = sec_hs_output(&sb, m, sizeof(m));
		(void)sec_hs_input(&sa, m, n);
	}
	if (!sec_confirmed(&sa) || !sec_confirmed(&sb))
		exit(1);
}

/* Calls per second of fn over secs seconds, in batches of n. */
static double
rate(void (*fn)(void), int n)
{
	double t0 = now(), t;
	long calls = 0;
	int i;

	do {
		for (i = 0; i < n; i++)
			fn();
		calls += n;
	} while ((t = now() - t0) < secs);
	return (double)calls / t;
}

int
main(int argc, char **argv)
{
	cpu_set_t set;
	double a = 0, b = 0, h = 0, x, mb = RECORD / 1e6;
	int cpu, i;

	if (argc > 1 && (secs = atof(argv[1])) <= 0) {
		fprintf(stderr, "usage: secbench [seconds]\n");
		return 2;
	}
	if ((cpu = sched_getcpu()) >= 0) {
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		(void)sched_setaffinity(0, sizeof(set), &set);
	}
	memset(pay, 'x', sizeof(pay));
	handshake();
	for (i = 0; i < 3; i++) {
		if ((x = rate(raw, 100)) > a)
			a = x;
		if ((x = rate(sec, 100)) > b)
			b = x;
		if ((x = rate(handshake, 2)) > h)
			h = x;
	}
	printf("%-40s %12s\n", "secure channel (one core, best of 3)", "");
	printf("%-40s %9.0f MB/s\n", "raw aead seal+open, 1200 B", a * mb);
	printf("%-40s %9.0f MB/s %6.2fx\n", "sec_seal+sec_open, 1200 B", b * mb,
	    b / a);
	printf("%-40s %9.0f us   %6.0f/s\n", "handshake, both sides, CPU",
	    1e6 / h, h);
	return 0;
}
