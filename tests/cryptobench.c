/*
 * tests/cryptobench.c - crypto.c beside libsodium, on one core, in one
 * run: ChaCha20-Poly1305 seal and open of 1200-byte records (pnc's
 * datagram size) in MB/s, X25519 in operations per second, and CPace
 * (both sides of a whole exchange) in runs per second.
 *
 *	cryptobench [SECONDS]
 *
 * Each figure is the best of 3 rounds of SECONDS (default 0.3) each, the
 * two implementations alternating, so that a neighbour's load on a shared
 * machine hurts both alike; time is this thread's CPU time, so that time
 * the scheduler gives to others is not counted against either. The
 * process is pinned to the core it starts on.
 *
 *	cc -std=c11 -D_GNU_SOURCE -O2 -o cryptobench tests/cryptobench.c \
 *	    crypto.c -lsodium
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "../pnc.h"

#define RECORD	1200

static double secs = 0.3;
static unsigned char key[32], nonce[12], ad[16], buf[RECORD + 16];
static unsigned char sk[32], pk[32], out[32];
static volatile unsigned char sink;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
seal_pnc(void)
{
	chacha20poly1305_seal(buf, buf, RECORD, ad, sizeof(ad), nonce, key);
}

static void
seal_sodium(void)
{
	unsigned long long clen;

	crypto_aead_chacha20poly1305_ietf_encrypt(buf, &clen, buf, RECORD, ad,
	    sizeof(ad), NULL, nonce, key);
}

/* Open includes the tag check: a record sealed once, opened each time. */
static unsigned char sealed[RECORD + 16];

static void
open_pnc(void)
{
	sink ^= (unsigned char)chacha20poly1305_open(buf, sealed, RECORD + 16,
	    ad, sizeof(ad), nonce, key);
}

static void
open_sodium(void)
{
	unsigned long long mlen;

	sink ^= (unsigned char)crypto_aead_chacha20poly1305_ietf_decrypt(buf,
	    &mlen, NULL, sealed, RECORD + 16, ad, sizeof(ad), nonce, key);
}

static void
x25519_pnc(void)
{
	sink ^= (unsigned char)x25519(out, sk, pk);
	sk[0] ^= out[0];
}

static void
x25519_sodium(void)
{
	sink ^= (unsigned char)crypto_scalarmult(out, sk, pk);
	sk[0] ^= out[0];
}

static void
cpace_pnc(void)
{
	struct cpace_in in = { "password", "ci", "sid", "ad", 8, 2, 3, 2 };
	unsigned char ya[32], yb[32], isk[64];
	struct cpace a, b;

	(void)cpace_init(&a, CPACE_INITIATOR, &in, ya);
	(void)cpace_init(&b, CPACE_RESPONDER, &in, yb);
	(void)cpace_finish(&a, yb, "ad", 2, isk);
	(void)cpace_finish(&b, ya, "ad", 2, isk);
	sink ^= isk[0];
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

/* Best of 3 for each of the pair, alternating. */
static void
pair(void (*a)(void), void (*b)(void), int n, double *ra, double *rb)
{
	double x;
	int i;

	*ra = *rb = 0;
	for (i = 0; i < 3; i++) {
		if ((x = rate(a, n)) > *ra)
			*ra = x;
		if (b != NULL && (x = rate(b, n)) > *rb)
			*rb = x;
	}
}

int
main(int argc, char **argv)
{
	cpu_set_t set;
	double a, b, mb = RECORD / 1e6;
	int cpu;

	if (argc > 1 && (secs = atof(argv[1])) <= 0) {
		fprintf(stderr, "usage: cryptobench [seconds]\n");
		return 2;
	}
	if (sodium_init() < 0)
		return 2;
	if ((cpu = sched_getcpu()) >= 0) {
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		(void)sched_setaffinity(0, sizeof(set), &set);
	}
	randombytes_buf(key, sizeof(key));
	randombytes_buf(sk, sizeof(sk));
	randombytes_buf(pk, sizeof(pk));
	chacha20poly1305_seal(sealed, buf, RECORD, ad, sizeof(ad), nonce, key);

	printf("%-34s %14s %14s %7s\n", "crypto (one core, best of 3)",
	    "pnc", "libsodium", "ratio");
	pair(seal_pnc, seal_sodium, 100, &a, &b);
	printf("%-34s %9.0f MB/s %9.0f MB/s %7.2f\n",
	    "chacha20-poly1305 seal, 1200 B", a * mb, b * mb, a / b);
	pair(open_pnc, open_sodium, 100, &a, &b);
	printf("%-34s %9.0f MB/s %9.0f MB/s %7.2f\n",
	    "chacha20-poly1305 open, 1200 B", a * mb, b * mb, a / b);
	pair(x25519_pnc, x25519_sodium, 20, &a, &b);
	printf("%-34s %9.0f op/s %9.0f op/s %7.2f\n", "x25519", a, b, a / b);
	pair(cpace_pnc, NULL, 5, &a, &b);
	printf("%-34s %9.0f op/s %14s\n", "cpace, both sides of a run", a, "-");
	return 0;
}
