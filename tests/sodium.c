/*
 * tests/sodium.c - differential test of crypto.c against libsodium (a
 * test-only dependency: pnc itself never links it) on random inputs:
 * X25519 (random scalars and u-coordinates, bit 255 and values >= p
 * included), ChaCha20-Poly1305 IETF (random key, nonce, lengths 0..2000,
 * AD 0..300; each side opens the other's output, and a one-bit forgery
 * is rejected by both), SHA-512 (lengths 0..2000, split at a random
 * point) and HMAC-SHA-512 (keys 0..300 bytes, messages 0..2000); and,
 * though pnc uses them only inside the AEAD, ChaCha20 from a random
 * block counter and one-shot Poly1305 on any length.
 *
 *	sodium [-n COUNT] [-s SEED] [-b]
 *
 * COUNT inputs per primitive (default 100000); SEED for the generator
 * (default: from the clock, printed so that a failure can be replayed).
 * -b breaks one byte of our output every 1000 cases, to show that a
 * mismatch is caught. Prints one line per primitive, "NAME: N inputs,
 * M mismatches", and exits 1 if any mismatch.
 *
 *	cc -std=c11 -O2 -o sodium tests/sodium.c crypto.c -lsodium
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "../pnc.h"

static uint64_t rng;		/* splitmix64 state */
static int breakit;		/* -b */

static uint64_t
next64(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
fill(unsigned char *p, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (i % 8 == 0)
			v = next64();
		p[i] = (unsigned char)(v >> (8 * (i % 8)));
	}
}

static size_t
upto(size_t max)
{
	return (size_t)(next64() % (max + 1));
}

/* -b: spoil our side of case i now and then. */
static void
spoil(unsigned char *p, long i)
{
	if (breakit && i % 1000 == 999)
		p[0] ^= 0x01;
}

static void
report(const char *name, long n, long bad)
{
	printf("%s: %ld inputs, %ld mismatches\n", name, n, bad);
}

static long
diff_x25519(long n)
{
	unsigned char k[32], u[32], ours[32], theirs[32];
	long i, bad = 0;
	int r1, r2;

	for (i = 0; i < n; i++) {
		fill(k, 32);
		fill(u, 32);
		if (i % 16 == 0)	/* u >= p: 2^255 - 19 + small */
			memset(u + 1, 0xff, 31), u[0] = (unsigned char)
			    (0xed + upto(18));
		r1 = x25519(ours, k, u);
		r2 = crypto_scalarmult(theirs, k, u);
		spoil(ours, i);
		if (memcmp(ours, theirs, 32) != 0 || r1 != r2)
			bad++;
	}
	report("x25519", n, bad);
	return bad;
}

static long
diff_aead(long n)
{
	static unsigned char m[2000], ad[300], c1[2016], c2[2016], p[2016];
	unsigned char key[32], nonce[12];
	unsigned long long clen, plen;
	size_t mlen, adlen;
	long i, bad = 0;
	int ok;

	for (i = 0; i < n; i++) {
		fill(key, 32);
		fill(nonce, 12);
		mlen = upto(sizeof(m));
		adlen = upto(sizeof(ad));
		fill(m, mlen);
		fill(ad, adlen);
		chacha20poly1305_seal(c1, m, mlen, ad, adlen, nonce, key);
		crypto_aead_chacha20poly1305_ietf_encrypt(c2, &clen, m, mlen,
		    ad, adlen, NULL, nonce, key);
		spoil(c1, i);
		ok = clen == mlen + 16 && memcmp(c1, c2, mlen + 16) == 0;
		/* we open theirs, they open ours */
		ok = ok && chacha20poly1305_open(p, c2, mlen + 16, ad, adlen,
		    nonce, key) == 0 && memcmp(p, m, mlen) == 0;
		ok = ok && crypto_aead_chacha20poly1305_ietf_decrypt(p, &plen,
		    NULL, c1, mlen + 16, ad, adlen, nonce, key) == 0 &&
		    plen == mlen;
		/* a one-bit forgery anywhere: both reject */
		c2[upto(mlen + 15)] ^= (unsigned char)(1 << upto(7));
		ok = ok && chacha20poly1305_open(p, c2, mlen + 16, ad, adlen,
		    nonce, key) == -1;
		ok = ok && crypto_aead_chacha20poly1305_ietf_decrypt(p, &plen,
		    NULL, c2, mlen + 16, ad, adlen, nonce, key) == -1;
		if (!ok)
			bad++;
	}
	report("chacha20-poly1305-ietf", n, bad);
	return bad;
}

static long
diff_sha512(long n)
{
	static unsigned char m[2000];
	unsigned char ours[64], theirs[64];
	struct sha512 c;
	size_t len, cut;
	long i, bad = 0;

	for (i = 0; i < n; i++) {
		len = upto(sizeof(m));
		fill(m, len);
		cut = upto(len);
		sha512_init(&c);
		sha512_update(&c, m, cut);
		sha512_update(&c, m + cut, len - cut);
		sha512_final(&c, ours);
		crypto_hash_sha512(theirs, m, len);
		spoil(ours, i);
		if (memcmp(ours, theirs, 64) != 0)
			bad++;
	}
	report("sha512", n, bad);
	return bad;
}

static long
diff_hmac(long n)
{
	static unsigned char m[2000], key[300];
	unsigned char ours[64], theirs[64];
	crypto_auth_hmacsha512_state st;
	size_t len, klen;
	long i, bad = 0;

	for (i = 0; i < n; i++) {
		len = upto(sizeof(m));
		klen = upto(sizeof(key));
		fill(m, len);
		fill(key, klen);
		hmac_sha512(key, klen, m, len, ours);
		crypto_auth_hmacsha512_init(&st, key, klen);
		crypto_auth_hmacsha512_update(&st, m, len);
		crypto_auth_hmacsha512_final(&st, theirs);
		spoil(ours, i);
		if (memcmp(ours, theirs, 64) != 0)
			bad++;
	}
	report("hmac-sha512", n, bad);
	return bad;
}

/* The stream alone, from a random block counter (lengths 0..2000). */
static long
diff_chacha20(long n)
{
	static unsigned char m[2000], c1[2000], c2[2000];
	unsigned char key[32], nonce[12];
	uint32_t ctr;
	size_t len;
	long i, bad = 0;

	for (i = 0; i < n; i++) {
		fill(key, 32);
		fill(nonce, 12);
		len = upto(sizeof(m));
		if (len == 0 && breakit && i % 1000 == 999)
			len = 1;	/* so that -b has a byte to spoil */
		fill(m, len);
		/* small counters, and large ones short of the 32-bit wrap
		   (a message here is at most 32 blocks) */
		ctr = (uint32_t)next64();
		if (i % 4 == 0)
			ctr %= UINT32_MAX - 40;
		else
			ctr = (uint32_t)upto(1000);
		chacha20_xor(c1, m, len, key, nonce, ctr);
		crypto_stream_chacha20_ietf_xor_ic(c2, m, len, nonce, ctr, key);
		spoil(c1, i);
		if (memcmp(c1, c2, len) != 0)
			bad++;
	}
	report("chacha20-ietf", n, bad);
	return bad;
}

/* One-shot Poly1305 on any length, partial last blocks included. */
static long
diff_poly1305(long n)
{
	static unsigned char m[2000];
	unsigned char key[32], ours[16], theirs[16];
	size_t len;
	long i, bad = 0;

	for (i = 0; i < n; i++) {
		fill(key, 32);
		len = upto(sizeof(m));
		fill(m, len);
		poly1305(ours, m, len, key);
		crypto_onetimeauth_poly1305(theirs, m, len, key);
		spoil(ours, i);
		if (memcmp(ours, theirs, 16) != 0)
			bad++;
	}
	report("poly1305", n, bad);
	return bad;
}

int
main(int argc, char **argv)
{
	long n = 100000, bad;
	int i;

	rng = (uint64_t)time(NULL);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			n = strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
			rng = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "-b") == 0)
			breakit = 1;
		else {
			fprintf(stderr, "usage: sodium [-n count] [-s seed] "
			    "[-b]\n");
			return 2;
		}
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "sodium: sodium_init failed\n");
		return 2;
	}
	printf("seed %llu\n", (unsigned long long)rng);
	bad = diff_x25519(n);
	bad += diff_aead(n);
	bad += diff_sha512(n);
	bad += diff_hmac(n);
	bad += diff_chacha20(n);
	bad += diff_poly1305(n);
	return bad == 0 ? 0 : 1;
}
