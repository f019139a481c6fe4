/*
 * crypto.c - SHA-256 (FIPS 180-4), HMAC-SHA256 (RFC 2104), a
 * constant-time compare, for authenticating rendezvous messages, and
 * SipHash-2-4 for the mediator's cookies and hash tables.
 *
 * Written for pnc rather than borrowed so that the tool stays libc-only.
 * Byte order is handled byte by byte, never by casting buffers to
 * uint32_t, so the code is the same on any host and never reads
 * unaligned memory; ChaCha20's vectors and Poly1305's loads use memcpy
 * instead, and only where the host is known to be little-endian.
 *
 * The _final functions wipe their context: it held key-derived state.
 * Call _init again to reuse it.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pnc.h"

/* FIPS 180-4 4.2.2: cube roots of the first 64 primes, fraction bits. */
static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5,
	0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
	0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
	0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5,
	0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* FIPS 180-4 5.3.3: square roots of the first 8 primes, fraction bits. */
static const uint32_t H0[8] = {
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

/*
 * Zeroes n bytes at p. Through a volatile pointer because a plain memset
 * of memory that is about to die may be removed by the compiler, and the
 * point is that key material does not outlive its use.
 */
static void
wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n-- > 0)
		*v++ = 0;
}

/* Rotate right; n is 1..31, so neither shift is by 0 or 32. */
static uint32_t
ror(uint32_t x, unsigned int n)
{
	return (x >> n) | (x << (32 - n));
}

/* The casts widen before shifting: an int shifted into bit 31 is UB. */
static uint32_t
load_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void
store_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void
store_be64(unsigned char *p, uint64_t v)
{
	store_be32(p, (uint32_t)(v >> 32));
	store_be32(p + 4, (uint32_t)v);
}

/* FIPS 180-4 6.2.2 step 1: the message schedule for one block. */
static void
schedule(uint32_t w[64], const unsigned char *p)
{
	uint32_t s0, s1;
	int t;

	for (t = 0; t < 16; t++)
		w[t] = load_be32(p + 4 * t);
	for (t = 16; t < 64; t++) {
		s0 = ror(w[t - 15], 7) ^ ror(w[t - 15], 18) ^ (w[t - 15] >> 3);
		s1 = ror(w[t - 2], 17) ^ ror(w[t - 2], 19) ^ (w[t - 2] >> 10);
		w[t] = w[t - 16] + s0 + w[t - 7] + s1;
	}
}

/* FIPS 180-4 6.2.2 steps 2-4: 64 rounds folded into the state st. */
static void
rounds(uint32_t st[8], const uint32_t w[64])
{
	uint32_t a, b, c, d, e, f, g, h, t1, t2;
	int t;

	a = st[0]; b = st[1]; c = st[2]; d = st[3];
	e = st[4]; f = st[5]; g = st[6]; h = st[7];
	for (t = 0; t < 64; t++) {
		t1 = h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) +
		    ((e & f) ^ (~e & g)) + K[t] + w[t];
		t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) +
		    ((a & b) ^ (a & c) ^ (b & c));
		h = g; g = f; f = e; e = d + t1;
		d = c; c = b; b = a; a = t1 + t2;
	}
	st[0] += a; st[1] += b; st[2] += c; st[3] += d;
	st[4] += e; st[5] += f; st[6] += g; st[7] += h;
}

/*
 * Hashes n whole 64-byte blocks from p. The schedule holds words of the
 * input (for HMAC, of the key), so it is wiped once at the end rather
 * than once per block.
 */
static void
sha256_blocks(struct sha256 *c, const unsigned char *p, size_t n)
{
	uint32_t w[64];

	for (; n > 0; n--, p += 64) {
		schedule(w, p);
		rounds(c->h, w);
	}
	wipe(w, sizeof(w));
}

void
sha256_init(struct sha256 *c)
{
	memcpy(c->h, H0, sizeof(c->h));
	c->len = 0;
	c->nbuf = 0;
}

/*
 * Tops up a partial block first, then hashes whole blocks straight from
 * the caller's memory, and keeps the tail for next time.
 */
void
sha256_update(struct sha256 *c, const void *data, size_t n)
{
	const unsigned char *p = data;
	size_t take;

	/* memcpy from a null pointer is UB even for 0 bytes. */
	if (n == 0)
		return;
	c->len += n;
	if (c->nbuf > 0) {
		take = 64 - c->nbuf;
		if (take > n)
			take = n;
		memcpy(c->buf + c->nbuf, p, take);
		c->nbuf += take;
		p += take;
		n -= take;
		if (c->nbuf < 64)
			return;
		sha256_blocks(c, c->buf, 1);
		c->nbuf = 0;
	}
	if (n >= 64) {
		sha256_blocks(c, p, n / 64);
		p += n - n % 64;
		n %= 64;
	}
	memcpy(c->buf, p, n);
	c->nbuf = n;
}

/*
 * FIPS 180-4 5.1.1: a 1 bit, zeros up to 56 mod 64, then the length in
 * bits as 64 bits big-endian. The length is taken mod 2^64 bits, which
 * only matters past the standard's own limit.
 */
void
sha256_final(struct sha256 *c, unsigned char out[32])
{
	uint64_t bits = c->len << 3;
	int i;

	c->buf[c->nbuf++] = 0x80;
	if (c->nbuf > 56) {
		memset(c->buf + c->nbuf, 0, 64 - c->nbuf);
		sha256_blocks(c, c->buf, 1);
		c->nbuf = 0;
	}
	memset(c->buf + c->nbuf, 0, 56 - c->nbuf);
	store_be64(c->buf + 56, bits);
	sha256_blocks(c, c->buf, 1);
	for (i = 0; i < 8; i++)
		store_be32(out + 4 * i, c->h[i]);
	wipe(c, sizeof(*c));
}

/*
 * RFC 2104: a key longer than the block is hashed first, a shorter one
 * zero-padded to 64 bytes; the inner hash starts with K^ipad and the
 * outer with K^opad. Both contexts then carry only key-derived state, so
 * the padded key and the pads are wiped here.
 */
void
hmac_init(struct hmac_sha256 *m, const void *key, size_t keylen)
{
	unsigned char k0[SHA256_BLOCK], pad[SHA256_BLOCK];
	struct sha256 kc;
	size_t i;

	memset(k0, 0, sizeof(k0));
	if (keylen > sizeof(k0)) {
		sha256_init(&kc);
		sha256_update(&kc, key, keylen);
		sha256_final(&kc, k0);
	} else if (keylen > 0)
		memcpy(k0, key, keylen);

	for (i = 0; i < sizeof(pad); i++)
		pad[i] = k0[i] ^ 0x36;
	sha256_init(&m->inner);
	sha256_update(&m->inner, pad, sizeof(pad));

	for (i = 0; i < sizeof(pad); i++)
		pad[i] = k0[i] ^ 0x5c;
	sha256_init(&m->outer);
	sha256_update(&m->outer, pad, sizeof(pad));

	wipe(k0, sizeof(k0));
	wipe(pad, sizeof(pad));
}

void
hmac_update(struct hmac_sha256 *m, const void *data, size_t n)
{
	sha256_update(&m->inner, data, n);
}

/* H(K^opad || H(K^ipad || msg)). Both finals wipe their context. */
void
hmac_final(struct hmac_sha256 *m, unsigned char out[32])
{
	unsigned char ih[SHA256_LEN];

	sha256_final(&m->inner, ih);
	sha256_update(&m->outer, ih, sizeof(ih));
	sha256_final(&m->outer, out);
	wipe(ih, sizeof(ih));
}

void
hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
    unsigned char out[32])
{
	struct hmac_sha256 m;

	hmac_init(&m, key, keylen);
	hmac_update(&m, msg, msglen);
	hmac_final(&m, out);
}

/*
 * Returns 1 if the n bytes at a and b are equal, else 0, in time that
 * depends on n only: a compare that stops at the first difference tells
 * an attacker how much of a forged tag was right. The accumulator is
 * volatile so the compiler cannot turn the loop back into an early exit.
 * n == 0 compares equal.
 */
int
ct_equal(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;
	volatile unsigned char d = 0;
	size_t i;

	for (i = 0; i < n; i++)
		d |= p[i] ^ q[i];
	/* d is 0..255: d - 1 wraps to all ones only when d == 0. */
	return (int)((((unsigned int)d - 1) >> 8) & 1);
}

/*
 * SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed 64-bit PRF for
 * short inputs. The mediator keys it with a per-process secret for its
 * return-routability cookies (forging one means guessing 64 bits, as
 * with the 8 bytes of HMAC-SHA256 it replaced, at a twentieth of the
 * cost: it is most of a REGISTER's own work) and for its hash tables
 * (chains an attacker cannot aim at, unlike FNV with a seed).
 */
#define ROTL64(x, b)	(((x) << (b)) | ((x) >> (64 - (b))))

static void
sipround(uint64_t v[4])
{
	v[0] += v[1]; v[1] = ROTL64(v[1], 13); v[1] ^= v[0];
	v[0] = ROTL64(v[0], 32);
	v[2] += v[3]; v[3] = ROTL64(v[3], 16); v[3] ^= v[2];
	v[0] += v[3]; v[3] = ROTL64(v[3], 21); v[3] ^= v[0];
	v[2] += v[1]; v[1] = ROTL64(v[1], 17); v[1] ^= v[2];
	v[2] = ROTL64(v[2], 32);
}

static uint64_t
load_le64(const unsigned char *p, size_t n)
{
	uint64_t x = 0;

	while (n-- > 0)
		x = x << 8 | p[n];
	return x;
}

static void
sip_absorb(uint64_t v[4], uint64_t m)
{
	v[3] ^= m;
	sipround(v);
	sipround(v);
	v[0] ^= m;
}

/* k: the 16-byte key as two little-endian words (k[0] from bytes 0-7). */
uint64_t
siphash24(const uint64_t k[2], const void *data, size_t n)
{
	const unsigned char *p = data;
	uint64_t v[4];
	size_t left = n;

	v[0] = k[0] ^ 0x736f6d6570736575ULL;	/* "somepseudorandomlygeneratedbytes" */
	v[1] = k[1] ^ 0x646f72616e646f6dULL;
	v[2] = k[0] ^ 0x6c7967656e657261ULL;
	v[3] = k[1] ^ 0x7465646279746573ULL;
	for (; left >= 8; p += 8, left -= 8)
		sip_absorb(v, load_le64(p, 8));
	/* The last block: what is left, and the length's low byte on top. */
	sip_absorb(v, load_le64(p, left) | (uint64_t)(n & 0xff) << 56);
	v[2] ^= 0xff;
	sipround(v);
	sipround(v);
	sipround(v);
	sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/*
 * ==== Issue 15: SHA-512, HMAC-SHA-512, HKDF-SHA-512, X25519, Elligator2,
 * CPace (CPACE-X25519-SHA512), ChaCha20, Poly1305, ChaCha20-Poly1305 ====
 *
 * Written from the specifications (FIPS 180-4, RFC 2104, RFC 5869,
 * RFC 7748, RFC 9380 section 6.7.1, draft-irtf-cfrg-cpace, RFC 8439).
 *
 * Constant time: nothing below branches on, or indexes memory with, a
 * secret. Secrets flow only through arithmetic, masks and swaps. The
 * few decisions that must be taken on a secret-derived value (is a tag
 * right, is a shared point the neutral element) are public by nature:
 * their outcome is visible on the wire anyway. Those values pass through
 * declassify(), which is nothing in pnc and, in tests/ct.c's build
 * (-DCRYPTO_CT_CHECK), tells valgrind the value is now public, so that
 * valgrind reports every other branch or index on a secret.
 */
/*
 * getentropy: glibc declares it in <sys/random.h>, musl in <unistd.h>
 * (with _GNU_SOURCE, which the Makefile sets). Included here, not at the
 * top, since this part was appended to the file.
 */
#include <sys/random.h>
#include <unistd.h>

#ifndef __SIZEOF_INT128__
#error "crypto.c needs unsigned __int128 (gcc or clang on a 64-bit target)"
#endif
#ifdef CRYPTO_CT_CHECK
#include <valgrind/memcheck.h>
#define declassify(p, n)	VALGRIND_MAKE_MEM_DEFINED((p), (n))
#else
#define declassify(p, n)	((void)0)
#endif

/*
 * Zeroes n bytes at p, for every secret temporary below and for callers'
 * own key material (the handshake's). memset through a volatile pointer:
 * the compiler must call whatever the pointer holds, so it cannot drop
 * the store as dead, and it is memset's speed, not a byte loop's (the
 * ChaCha20 and SHA-512 inner functions wipe their state on every call).
 */
static void *(*const volatile memset_kept)(void *, int, size_t) = memset;

void
crypto_wipe(void *p, size_t n)
{
	(void)memset_kept(p, 0, n);
}

/* ---- SHA-512 (FIPS 180-4 6.4) ---- */

/* FIPS 180-4 4.2.3: cube roots of the first 80 primes, fraction bits. */
static const uint64_t K512[80] = {
	0x428a2f98d728ae22ULL, 0x7137449123ef65cdULL,
	0xb5c0fbcfec4d3b2fULL, 0xe9b5dba58189dbbcULL,
	0x3956c25bf348b538ULL, 0x59f111f1b605d019ULL,
	0x923f82a4af194f9bULL, 0xab1c5ed5da6d8118ULL,
	0xd807aa98a3030242ULL, 0x12835b0145706fbeULL,
	0x243185be4ee4b28cULL, 0x550c7dc3d5ffb4e2ULL,
	0x72be5d74f27b896fULL, 0x80deb1fe3b1696b1ULL,
	0x9bdc06a725c71235ULL, 0xc19bf174cf692694ULL,
	0xe49b69c19ef14ad2ULL, 0xefbe4786384f25e3ULL,
	0x0fc19dc68b8cd5b5ULL, 0x240ca1cc77ac9c65ULL,
	0x2de92c6f592b0275ULL, 0x4a7484aa6ea6e483ULL,
	0x5cb0a9dcbd41fbd4ULL, 0x76f988da831153b5ULL,
	0x983e5152ee66dfabULL, 0xa831c66d2db43210ULL,
	0xb00327c898fb213fULL, 0xbf597fc7beef0ee4ULL,
	0xc6e00bf33da88fc2ULL, 0xd5a79147930aa725ULL,
	0x06ca6351e003826fULL, 0x142929670a0e6e70ULL,
	0x27b70a8546d22ffcULL, 0x2e1b21385c26c926ULL,
	0x4d2c6dfc5ac42aedULL, 0x53380d139d95b3dfULL,
	0x650a73548baf63deULL, 0x766a0abb3c77b2a8ULL,
	0x81c2c92e47edaee6ULL, 0x92722c851482353bULL,
	0xa2bfe8a14cf10364ULL, 0xa81a664bbc423001ULL,
	0xc24b8b70d0f89791ULL, 0xc76c51a30654be30ULL,
	0xd192e819d6ef5218ULL, 0xd69906245565a910ULL,
	0xf40e35855771202aULL, 0x106aa07032bbd1b8ULL,
	0x19a4c116b8d2d0c8ULL, 0x1e376c085141ab53ULL,
	0x2748774cdf8eeb99ULL, 0x34b0bcb5e19b48a8ULL,
	0x391c0cb3c5c95a63ULL, 0x4ed8aa4ae3418acbULL,
	0x5b9cca4f7763e373ULL, 0x682e6ff3d6b2b8a3ULL,
	0x748f82ee5defb2fcULL, 0x78a5636f43172f60ULL,
	0x84c87814a1f0ab72ULL, 0x8cc702081a6439ecULL,
	0x90befffa23631e28ULL, 0xa4506cebde82bde9ULL,
	0xbef9a3f7b2c67915ULL, 0xc67178f2e372532bULL,
	0xca273eceea26619cULL, 0xd186b8c721c0c207ULL,
	0xeada7dd6cde0eb1eULL, 0xf57d4f7fee6ed178ULL,
	0x06f067aa72176fbaULL, 0x0a637dc5a2c898a6ULL,
	0x113f9804bef90daeULL, 0x1b710b35131c471bULL,
	0x28db77f523047d84ULL, 0x32caab7b40c72493ULL,
	0x3c9ebe0a15c9bebcULL, 0x431d67c49c100d4cULL,
	0x4cc5d4becb3e42b6ULL, 0x597f299cfc657e2aULL,
	0x5fcb6fab3ad6faecULL, 0x6c44198c4a475817ULL,
};

/* FIPS 180-4 5.3.5: square roots of the first 8 primes, fraction bits. */
static const uint64_t H512[8] = {
	0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL,
	0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
	0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL,
	0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

static uint64_t
ror64(uint64_t x, unsigned int n)
{
	return (x >> n) | (x << (64 - n));
}

static uint64_t
load_be64(const unsigned char *p)
{
	return (uint64_t)load_be32(p) << 32 | load_be32(p + 4);
}

/* FIPS 180-4 6.4.2: one block into the chaining state. */
static void
sha512_block(uint64_t st[8], const unsigned char *p)
{
	uint64_t w[80], v[8], t1, t2;
	int t;

	for (t = 0; t < 16; t++)
		w[t] = load_be64(p + 8 * t);
	for (t = 16; t < 80; t++)
		w[t] = (ror64(w[t - 2], 19) ^ ror64(w[t - 2], 61) ^
		    (w[t - 2] >> 6)) + w[t - 7] + (ror64(w[t - 15], 1) ^
		    ror64(w[t - 15], 8) ^ (w[t - 15] >> 7)) + w[t - 16];
	memcpy(v, st, sizeof(v));
	for (t = 0; t < 80; t++) {
		t1 = v[7] + (ror64(v[4], 14) ^ ror64(v[4], 18) ^
		    ror64(v[4], 41)) + ((v[4] & v[5]) ^ (~v[4] & v[6])) +
		    K512[t] + w[t];
		t2 = (ror64(v[0], 28) ^ ror64(v[0], 34) ^ ror64(v[0], 39)) +
		    ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
		v[7] = v[6];
		v[6] = v[5];
		v[5] = v[4];
		v[4] = v[3] + t1;
		v[3] = v[2];
		v[2] = v[1];
		v[1] = v[0];
		v[0] = t1 + t2;
	}
	for (t = 0; t < 8; t++)
		st[t] += v[t];
	crypto_wipe(w, sizeof(w));
	crypto_wipe(v, sizeof(v));
}

void
sha512_init(struct sha512 *c)
{
	memcpy(c->h, H512, sizeof(c->h));
	c->len = 0;
	c->nbuf = 0;
}

void
sha512_update(struct sha512 *c, const void *data, size_t n)
{
	const unsigned char *p = data;
	size_t k;

	if (n == 0)		/* data may be NULL: memcpy must not see it */
		return;
	c->len += n;
	if (c->nbuf > 0) {
		k = SHA512_BLOCK - c->nbuf < n ? SHA512_BLOCK - c->nbuf : n;
		memcpy(c->buf + c->nbuf, p, k);
		c->nbuf += k;
		p += k;
		n -= k;
		if (c->nbuf < SHA512_BLOCK)
			return;
		sha512_block(c->h, c->buf);
		c->nbuf = 0;
	}
	for (; n >= SHA512_BLOCK; p += SHA512_BLOCK, n -= SHA512_BLOCK)
		sha512_block(c->h, p);
	memcpy(c->buf, p, n);
	c->nbuf = n;
}

/*
 * FIPS 180-4 5.1.2: 0x80, zeros, then the length in bits as 128 bits;
 * the high 64 bits are the top 3 bits of the byte count.
 */
void
sha512_final(struct sha512 *c, unsigned char out[SHA512_LEN])
{
	int i;

	c->buf[c->nbuf++] = 0x80;
	if (c->nbuf > SHA512_BLOCK - 16) {
		memset(c->buf + c->nbuf, 0, SHA512_BLOCK - c->nbuf);
		sha512_block(c->h, c->buf);
		c->nbuf = 0;
	}
	memset(c->buf + c->nbuf, 0, SHA512_BLOCK - 16 - c->nbuf);
	store_be64(c->buf + SHA512_BLOCK - 16, c->len >> 61);
	store_be64(c->buf + SHA512_BLOCK - 8, c->len << 3);
	sha512_block(c->h, c->buf);
	for (i = 0; i < 8; i++)
		store_be64(out + 8 * i, c->h[i]);
	crypto_wipe(c, sizeof(*c));
}

void
sha512(const void *data, size_t n, unsigned char out[SHA512_LEN])
{
	struct sha512 c;

	sha512_init(&c);
	sha512_update(&c, data, n);
	sha512_final(&c, out);
}

/* ---- HMAC-SHA-512 (RFC 2104, B = 128) and HKDF (RFC 5869) ---- */

void
hmac_sha512_init(struct hmac_sha512 *m, const void *key, size_t keylen)
{
	unsigned char k0[SHA512_BLOCK], pad[SHA512_BLOCK];
	size_t i;

	memset(k0, 0, sizeof(k0));
	if (keylen > sizeof(k0))
		sha512(key, keylen, k0);
	else if (keylen > 0)
		memcpy(k0, key, keylen);
	for (i = 0; i < sizeof(pad); i++)
		pad[i] = k0[i] ^ 0x36;
	sha512_init(&m->inner);
	sha512_update(&m->inner, pad, sizeof(pad));
	for (i = 0; i < sizeof(pad); i++)
		pad[i] = k0[i] ^ 0x5c;
	sha512_init(&m->outer);
	sha512_update(&m->outer, pad, sizeof(pad));
	crypto_wipe(k0, sizeof(k0));
	crypto_wipe(pad, sizeof(pad));
}

void
hmac_sha512_update(struct hmac_sha512 *m, const void *data, size_t n)
{
	sha512_update(&m->inner, data, n);
}

void
hmac_sha512_final(struct hmac_sha512 *m, unsigned char out[SHA512_LEN])
{
	unsigned char ih[SHA512_LEN];

	sha512_final(&m->inner, ih);
	sha512_update(&m->outer, ih, sizeof(ih));
	sha512_final(&m->outer, out);
	crypto_wipe(ih, sizeof(ih));
}

void
hmac_sha512(const void *key, size_t keylen, const void *msg, size_t msglen,
    unsigned char out[SHA512_LEN])
{
	struct hmac_sha512 m;

	hmac_sha512_init(&m, key, keylen);
	hmac_sha512_update(&m, msg, msglen);
	hmac_sha512_final(&m, out);
}

/* RFC 5869 2.2: PRK = HMAC(salt, IKM); an absent salt is HashLen zeros,
   which HMAC's zero padding of a short key makes the same as "". */
void
hkdf_sha512_extract(const void *salt, size_t saltlen, const void *ikm,
    size_t ikmlen, unsigned char prk[SHA512_LEN])
{
	hmac_sha512(salt, saltlen, ikm, ikmlen, prk);
}

/*
 * RFC 5869 2.3: T(i) = HMAC(PRK, T(i-1) | info | i), 1 <= i <= 255.
 * Returns 0, or -1 (out untouched) if outlen > 255 * 64.
 */
int
hkdf_sha512_expand(const void *prk, size_t prklen, const void *info,
    size_t infolen, unsigned char *out, size_t outlen)
{
	struct hmac_sha512 m;
	unsigned char t[SHA512_LEN], ctr;
	size_t done, k;

	if (outlen > 255 * SHA512_LEN)
		return -1;
	for (done = 0, ctr = 1; done < outlen; done += k, ctr++) {
		hmac_sha512_init(&m, prk, prklen);
		if (done > 0)
			hmac_sha512_update(&m, t, sizeof(t));
		hmac_sha512_update(&m, info, infolen);
		hmac_sha512_update(&m, &ctr, 1);
		hmac_sha512_final(&m, t);
		k = outlen - done < SHA512_LEN ? outlen - done : SHA512_LEN;
		memcpy(out + done, t, k);
	}
	crypto_wipe(t, sizeof(t));
	return 0;
}

/* Extract then expand. Returns 0, or -1 if outlen > 255 * 64. */
int
hkdf_sha512(const void *salt, size_t saltlen, const void *ikm, size_t ikmlen,
    const void *info, size_t infolen, unsigned char *out, size_t outlen)
{
	unsigned char prk[SHA512_LEN];
	int rc;

	hkdf_sha512_extract(salt, saltlen, ikm, ikmlen, prk);
	rc = hkdf_sha512_expand(prk, sizeof(prk), info, infolen, out, outlen);
	crypto_wipe(prk, sizeof(prk));
	return rc;
}

/*
 * ---- GF(2^255 - 19) in radix 2^51 ----
 *
 * An element is five limbs, value = sum f[i] * 2^(51 i). Limbs may run a
 * few bits over 51 between operations: fe_add leaves them below 2^53,
 * fe_sub (which adds 2p first, so that it never goes negative) takes
 * inputs below 2^52 and carries its result, and fe_mul and fe_sq take
 * inputs below 2^53 (so that 19 times the top carry fits 64 bits) and
 * return limbs below 2^52. Only fe_tobytes
 * reduces fully to the canonical value below p.
 */
__extension__ typedef unsigned __int128 u128;
typedef uint64_t fe[5];

#define MASK51	((UINT64_C(1) << 51) - 1)

static uint64_t
load_le64_full(const unsigned char *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	    (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 |
	    (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
	    (uint64_t)p[7] << 56;
}

static void
store_le64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* RFC 7748 decodeUCoordinate: bit 255 is ignored; a value >= p is kept
   as it is and reduced by the arithmetic, as the RFC requires. */
static void
fe_frombytes(fe h, const unsigned char s[32])
{
	uint64_t w0 = load_le64_full(s), w1 = load_le64_full(s + 8);
	uint64_t w2 = load_le64_full(s + 16), w3 = load_le64_full(s + 24);

	h[0] = w0 & MASK51;
	h[1] = (w0 >> 51 | w1 << 13) & MASK51;
	h[2] = (w1 >> 38 | w2 << 26) & MASK51;
	h[3] = (w2 >> 25 | w3 << 39) & MASK51;
	h[4] = (w3 >> 12) & MASK51;
}

/* One carry pass: limbs below 2^51 plus a small excess in h[0]. */
static void
fe_carry(fe h)
{
	uint64_t c;

	c = h[0] >> 51; h[0] &= MASK51; h[1] += c;
	c = h[1] >> 51; h[1] &= MASK51; h[2] += c;
	c = h[2] >> 51; h[2] &= MASK51; h[3] += c;
	c = h[3] >> 51; h[3] &= MASK51; h[4] += c;
	c = h[4] >> 51; h[4] &= MASK51; h[0] += 19 * c;
}

/*
 * The canonical encoding: after two carry passes h < 2^255 + small, so
 * h >= p exactly when h + 19 carries out of bit 255; q is that carry
 * (0 or 1), found without a branch, and h + 19 q - 2^255 q is the answer.
 */
static void
fe_tobytes(unsigned char s[32], const fe f)
{
	fe h;
	uint64_t q;

	memcpy(h, f, sizeof(h));
	fe_carry(h);
	fe_carry(h);
	q = (h[0] + 19) >> 51;
	q = (h[1] + q) >> 51;
	q = (h[2] + q) >> 51;
	q = (h[3] + q) >> 51;
	q = (h[4] + q) >> 51;
	h[0] += 19 * q;
	h[1] += h[0] >> 51; h[0] &= MASK51;
	h[2] += h[1] >> 51; h[1] &= MASK51;
	h[3] += h[2] >> 51; h[2] &= MASK51;
	h[4] += h[3] >> 51; h[3] &= MASK51;
	h[4] &= MASK51;
	store_le64(s, h[0] | h[1] << 51);
	store_le64(s + 8, h[1] >> 13 | h[2] << 38);
	store_le64(s + 16, h[2] >> 26 | h[3] << 25);
	store_le64(s + 24, h[3] >> 39 | h[4] << 12);
	crypto_wipe(h, sizeof(h));
}

static void
fe_copy(fe h, const fe f)
{
	memcpy(h, f, sizeof(fe));
}

static void
fe_set(fe h, uint64_t v)
{
	h[0] = v;
	h[1] = h[2] = h[3] = h[4] = 0;
}

static void
fe_add(fe h, const fe f, const fe g)
{
	int i;

	for (i = 0; i < 5; i++)
		h[i] = f[i] + g[i];
}

/* f - g + 2p; 2p's limbs are 2^52 - 38 and 2^52 - 2. */
static void
fe_sub(fe h, const fe f, const fe g)
{
	h[0] = f[0] + UINT64_C(0xfffffffffffda) - g[0];
	h[1] = f[1] + UINT64_C(0xffffffffffffe) - g[1];
	h[2] = f[2] + UINT64_C(0xffffffffffffe) - g[2];
	h[3] = f[3] + UINT64_C(0xffffffffffffe) - g[3];
	h[4] = f[4] + UINT64_C(0xffffffffffffe) - g[4];
	fe_carry(h);
}

static void
fe_neg(fe h, const fe f)
{
	fe z;

	fe_set(z, 0);
	fe_sub(h, z, f);
}

/*
 * Folds the five 128-bit column sums into limbs: 2^255 = 19 mod p, so
 * the carry out of the top limb comes back times 19.
 */
static void
fe_reduce128(fe h, u128 r0, u128 r1, u128 r2, u128 r3, u128 r4)
{
	uint64_t c;

	r1 += (uint64_t)(r0 >> 51);
	r2 += (uint64_t)(r1 >> 51);
	r3 += (uint64_t)(r2 >> 51);
	r4 += (uint64_t)(r3 >> 51);
	c = (uint64_t)(r4 >> 51);
	h[0] = ((uint64_t)r0 & MASK51) + 19 * c;
	h[1] = ((uint64_t)r1 & MASK51) + (h[0] >> 51);
	h[0] &= MASK51;
	h[2] = (uint64_t)r2 & MASK51;
	h[3] = (uint64_t)r3 & MASK51;
	h[4] = (uint64_t)r4 & MASK51;
}

static void
fe_mul(fe h, const fe f, const fe g)
{
	uint64_t f0 = f[0], f1 = f[1], f2 = f[2], f3 = f[3], f4 = f[4];
	uint64_t g0 = g[0], g1 = g[1], g2 = g[2], g3 = g[3], g4 = g[4];
	uint64_t g1_19 = 19 * g1, g2_19 = 19 * g2, g3_19 = 19 * g3,
	    g4_19 = 19 * g4;
	u128 r0, r1, r2, r3, r4;

	r0 = (u128)f0 * g0 + (u128)f1 * g4_19 + (u128)f2 * g3_19 +
	    (u128)f3 * g2_19 + (u128)f4 * g1_19;
	r1 = (u128)f0 * g1 + (u128)f1 * g0 + (u128)f2 * g4_19 +
	    (u128)f3 * g3_19 + (u128)f4 * g2_19;
	r2 = (u128)f0 * g2 + (u128)f1 * g1 + (u128)f2 * g0 +
	    (u128)f3 * g4_19 + (u128)f4 * g3_19;
	r3 = (u128)f0 * g3 + (u128)f1 * g2 + (u128)f2 * g1 +
	    (u128)f3 * g0 + (u128)f4 * g4_19;
	r4 = (u128)f0 * g4 + (u128)f1 * g3 + (u128)f2 * g2 +
	    (u128)f3 * g1 + (u128)f4 * g0;
	fe_reduce128(h, r0, r1, r2, r3, r4);
}

static void
fe_sq(fe h, const fe f)
{
	uint64_t f0 = f[0], f1 = f[1], f2 = f[2], f3 = f[3], f4 = f[4];
	uint64_t f0_2 = 2 * f0, f1_2 = 2 * f1, f3_19 = 19 * f3,
	    f4_19 = 19 * f4;
	u128 r0, r1, r2, r3, r4;

	r0 = (u128)f0 * f0 + (u128)f1_2 * f4_19 + (u128)(2 * f2) * f3_19;
	r1 = (u128)f0_2 * f1 + (u128)(2 * f2) * f4_19 + (u128)f3 * f3_19;
	r2 = (u128)f0_2 * f2 + (u128)f1 * f1 + (u128)(2 * f3) * f4_19;
	r3 = (u128)f0_2 * f3 + (u128)f1_2 * f2 + (u128)f4 * f4_19;
	r4 = (u128)f0_2 * f4 + (u128)f1_2 * f3 + (u128)f2 * f2;
	fe_reduce128(h, r0, r1, r2, r3, r4);
}

/* h = f^(2^n), n >= 1. */
static void
fe_sqn(fe h, const fe f, int n)
{
	fe_sq(h, f);
	while (--n > 0)
		fe_sq(h, h);
}

/* h = f * k for a small constant k (the ladder's a24). */
static void
fe_mul_small(fe h, const fe f, uint32_t k)
{
	fe_reduce128(h, (u128)f[0] * k, (u128)f[1] * k, (u128)f[2] * k,
	    (u128)f[3] * k, (u128)f[4] * k);
}

/* Swaps f and g when b is 1, leaves them when b is 0, without a branch. */
static void
fe_cswap(fe f, fe g, uint64_t b)
{
	uint64_t mask = 0 - b, x;
	int i;

	for (i = 0; i < 5; i++) {
		x = mask & (f[i] ^ g[i]);
		f[i] ^= x;
		g[i] ^= x;
	}
}

/* f = g when b is 1, unchanged when b is 0. */
static void
fe_cmov(fe f, const fe g, uint64_t b)
{
	uint64_t mask = 0 - b;
	int i;

	for (i = 0; i < 5; i++)
		f[i] ^= mask & (f[i] ^ g[i]);
}

/*
 * z^(2^250 - 1), and z^11 on the side: the common head of the addition
 * chains for inversion (p - 2 = 2^255 - 21) and for the Legendre symbol
 * ((p - 1) / 2 = 2^254 - 10).
 */
static void
fe_pow22501(fe out, fe z11, const fe z)
{
	fe t0, t1, t2;

	fe_sq(t0, z);			/* 2 */
	fe_sqn(t1, t0, 2);		/* 8 */
	fe_mul(t1, t1, z);		/* 9 */
	fe_mul(z11, t1, t0);		/* 11 */
	fe_sq(t0, z11);			/* 22 */
	fe_mul(t0, t0, t1);		/* 2^5 - 1 */
	fe_sqn(t1, t0, 5);
	fe_mul(t0, t1, t0);		/* 2^10 - 1 */
	fe_sqn(t1, t0, 10);
	fe_mul(t1, t1, t0);		/* 2^20 - 1 */
	fe_sqn(t2, t1, 20);
	fe_mul(t1, t2, t1);		/* 2^40 - 1 */
	fe_sqn(t1, t1, 10);
	fe_mul(t0, t1, t0);		/* 2^50 - 1 */
	fe_sqn(t1, t0, 50);
	fe_mul(t1, t1, t0);		/* 2^100 - 1 */
	fe_sqn(t2, t1, 100);
	fe_mul(t1, t2, t1);		/* 2^200 - 1 */
	fe_sqn(t1, t1, 50);
	fe_mul(out, t1, t0);		/* 2^250 - 1 */
	crypto_wipe(t0, sizeof(t0));
	crypto_wipe(t1, sizeof(t1));
	crypto_wipe(t2, sizeof(t2));
}

/* z^(p - 2): 1/z, and 0 for 0 (RFC 9380's inv0). */
static void
fe_invert(fe out, const fe z)
{
	fe t, z11;

	fe_pow22501(t, z11, z);
	fe_sqn(t, t, 5);		/* 2^255 - 32 */
	fe_mul(out, t, z11);		/* 2^255 - 21 */
	crypto_wipe(t, sizeof(t));
	crypto_wipe(z11, sizeof(z11));
}

/* z^((p - 1) / 2): 1 for a non-zero square, -1 for a non-square, 0 for 0. */
static void
fe_legendre(fe out, const fe z)
{
	fe t, z11, z3;

	fe_pow22501(t, z11, z);
	fe_sqn(t, t, 4);		/* 2^254 - 16 */
	fe_sq(z3, z);
	fe_mul(z3, z3, z);
	fe_sq(z3, z3);			/* 6 */
	fe_mul(out, t, z3);		/* 2^254 - 10 */
	crypto_wipe(t, sizeof(t));
	crypto_wipe(z11, sizeof(z11));
	crypto_wipe(z3, sizeof(z3));
}

/* 1 if f == g (as field elements), else 0; no early exit. */
static uint64_t
fe_equal(const fe f, const fe g)
{
	unsigned char a[32], b[32];
	uint32_t d = 0;
	int i;

	fe_tobytes(a, f);
	fe_tobytes(b, g);
	for (i = 0; i < 32; i++)
		d |= (uint32_t)(a[i] ^ b[i]);
	crypto_wipe(a, sizeof(a));
	crypto_wipe(b, sizeof(b));
	return ((d - 1) >> 8) & 1;
}

/* ---- X25519 (RFC 7748 section 5) ---- */

/*
 * The Montgomery ladder of RFC 7748 5, on the clamped scalar: 255 steps,
 * each the same sequence of field operations, with the two points
 * swapped in and out by mask according to the scalar's bits.
 */
static void
x25519_ladder(fe x2, fe z2, const unsigned char k[32], const fe x1)
{
	fe z3, x3, a, aa, b, bb, e, c, d, da, cb;
	uint64_t swap = 0, kt;
	int t;

	fe_set(x2, 1);
	fe_set(z2, 0);
	fe_copy(x3, x1);
	fe_set(z3, 1);
	for (t = 254; t >= 0; t--) {
		kt = (k[t >> 3] >> (t & 7)) & 1;
		swap ^= kt;
		fe_cswap(x2, x3, swap);
		fe_cswap(z2, z3, swap);
		swap = kt;
		fe_add(a, x2, z2);
		fe_sq(aa, a);
		fe_sub(b, x2, z2);
		fe_sq(bb, b);
		fe_sub(e, aa, bb);
		fe_add(c, x3, z3);
		fe_sub(d, x3, z3);
		fe_mul(da, d, a);
		fe_mul(cb, c, b);
		fe_add(x3, da, cb);
		fe_sq(x3, x3);
		fe_sub(z3, da, cb);
		fe_sq(z3, z3);
		fe_mul(z3, z3, x1);
		fe_mul(x2, aa, bb);
		fe_mul_small(z2, e, 121665);
		fe_add(z2, z2, aa);
		fe_mul(z2, z2, e);
	}
	fe_cswap(x2, x3, swap);
	fe_cswap(z2, z3, swap);
	crypto_wipe(z3, sizeof(z3)); crypto_wipe(x3, sizeof(x3));
	crypto_wipe(a, sizeof(a)); crypto_wipe(aa, sizeof(aa));
	crypto_wipe(b, sizeof(b)); crypto_wipe(bb, sizeof(bb));
	crypto_wipe(e, sizeof(e)); crypto_wipe(c, sizeof(c)); crypto_wipe(d, sizeof(d));
	crypto_wipe(da, sizeof(da)); crypto_wipe(cb, sizeof(cb));
}

/*
 * out = X25519(scalar, u) (RFC 7748 5): the scalar is clamped (a copy:
 * the caller's bytes are not changed), bit 255 of u ignored, u >= p
 * accepted. Returns 0, or -1 if the result is all zero, i.e. u was of
 * low order on the curve or its twist (out is still written: zeros).
 * That check is what CPace's scalar_mult_vfy needs and what RFC 7748 6.1
 * allows; the zero test itself runs in constant time.
 */
int
x25519(unsigned char out[X25519_LEN], const unsigned char scalar[X25519_LEN],
    const unsigned char u[X25519_LEN])
{
	unsigned char k[32];
	fe x1, x2, z2;
	uint32_t d = 0;
	int i, zero;

	memcpy(k, scalar, sizeof(k));
	k[0] &= 248;
	k[31] &= 127;
	k[31] |= 64;
	fe_frombytes(x1, u);
	x25519_ladder(x2, z2, k, x1);
	fe_invert(z2, z2);
	fe_mul(x2, x2, z2);
	fe_tobytes(out, x2);
	for (i = 0; i < 32; i++)
		d |= out[i];
	zero = (int)(((d - 1) >> 8) & 1);
	declassify(&zero, sizeof(zero));	/* public: the peer knows */
	crypto_wipe(k, sizeof(k));
	crypto_wipe(x1, sizeof(x1));	/* CPace's generator is secret */
	crypto_wipe(x2, sizeof(x2));
	crypto_wipe(z2, sizeof(z2));
	return zero ? -1 : 0;
}

/* The public key: X25519(scalar, 9). */
void
x25519_base(unsigned char out[X25519_LEN], const unsigned char scalar[X25519_LEN])
{
	static const unsigned char nine[32] = { 9 };

	(void)x25519(out, scalar, nine);
}

/* ---- Elligator 2 for curve25519 (RFC 9380 6.7.1, Z = 2, J = A, K = 1) ---- */

/*
 * u = the 255-bit little-endian field element in r (bit 255 ignored, as
 * decodeUCoordinate does); out = the u-coordinate of
 * map_to_curve_elligator2(u): x1 = -A / (1 + 2 u^2) (with inv0, and -A
 * if that is 0), x2 = -x1 - A, x = x1 if x1^3 + A x1^2 + x1 is square,
 * else x2. Constant time: the inverse and the Legendre symbol are
 * exponentiations, the choices cmov.
 */
void
elligator2_25519(unsigned char out[32], const unsigned char r[32])
{
	fe u, t, x1, x2, gx, a, chi, minus1;
	uint64_t nonsquare;

	fe_frombytes(u, r);
	fe_set(a, 486662);
	fe_sq(t, u);
	fe_add(t, t, t);
	fe_set(x1, 1);
	fe_add(t, t, x1);		/* 1 + 2u^2 */
	fe_invert(t, t);
	fe_neg(x2, a);			/* -A */
	fe_mul(x1, x2, t);
	fe_set(t, 0);
	fe_cmov(x1, x2, fe_equal(x1, t));
	fe_add(gx, x1, a);
	fe_mul(gx, gx, x1);
	fe_set(t, 1);
	fe_add(gx, gx, t);
	fe_mul(gx, gx, x1);		/* x1^3 + A x1^2 + x1 */
	fe_neg(x2, x1);
	fe_sub(x2, x2, a);		/* -x1 - A */
	fe_legendre(chi, gx);
	fe_neg(minus1, t);
	nonsquare = fe_equal(chi, minus1);
	fe_cmov(x1, x2, nonsquare);
	fe_tobytes(out, x1);
	crypto_wipe(u, sizeof(u)); crypto_wipe(t, sizeof(t)); crypto_wipe(x1, sizeof(x1));
	crypto_wipe(x2, sizeof(x2)); crypto_wipe(gx, sizeof(gx)); crypto_wipe(chi, sizeof(chi));
}

/* ---- CPace, suite CPACE-X25519-SHA512 (draft-irtf-cfrg-cpace) ---- */

static const unsigned char cpace_dsi[] = "CPace255";	/* G_X25519.DSI */
static const unsigned char cpace_dsi_isk[] = "CPace255_ISK";

/* LEB128 of n (the draft's prepend_len prefix) into p; returns its length. */
static size_t
leb128(unsigned char p[10], size_t n)
{
	size_t k = 0;

	do {
		p[k] = (unsigned char)(n & 0x7f);
		n >>= 7;
		if (n != 0)
			p[k] |= 0x80;
		k++;
	} while (n != 0);
	return k;
}

/* Hashes prepend_len(data): one element of an lv_cat. */
static void
sha512_lv(struct sha512 *c, const void *data, size_t n)
{
	unsigned char len[10];

	sha512_update(c, len, leb128(len, n));
	sha512_update(c, data, n);
}

/*
 * G.calculate_generator: SHA-512 of generator_string(DSI, PRS, CI, sid,
 * 128) = lv_cat(DSI, PRS, zero_bytes(len_zpad), CI, sid), its first 32
 * bytes decoded as a 255-bit field element and mapped by Elligator 2.
 * The zero padding makes the first block hold DSI, PRS and zeros only.
 */
void
cpace_generator(unsigned char g[32], const struct cpace_in *in)
{
	static const unsigned char zeros[SHA512_BLOCK];
	unsigned char len[10], h[SHA512_LEN];
	struct sha512 c;
	size_t used, zpad = 0;

	used = leb128(len, in->prslen) + in->prslen +
	    leb128(len, sizeof(cpace_dsi) - 1) + sizeof(cpace_dsi) - 1 + 1;
	if (used < SHA512_BLOCK)
		zpad = SHA512_BLOCK - used;
	sha512_init(&c);
	sha512_lv(&c, cpace_dsi, sizeof(cpace_dsi) - 1);
	sha512_lv(&c, in->prs, in->prslen);
	sha512_lv(&c, zeros, zpad);
	sha512_lv(&c, in->ci, in->cilen);
	sha512_lv(&c, in->sid, in->sidlen);
	sha512_final(&c, h);
	elligator2_25519(g, h);		/* ignores bit 255 of h[0..31] */
	crypto_wipe(h, sizeof(h));
}

/*
 * Starts a CPace run with the scalar y (32 bytes, which the caller drew
 * at random and wipes; tests pass the draft's). Writes the public share
 * Y = X25519(y, g) to share; it goes on the wire with in->ad. Returns 0,
 * or -1 if sid or ad is longer than the context keeps. The context then
 * holds y until cpace_finish wipes it; a run given up before that must
 * be wiped by its owner (crypto_wipe(ctx, sizeof(*ctx))).
 */
int
cpace_start(struct cpace *ctx, int role, const struct cpace_in *in,
    const unsigned char y[32], unsigned char share[CPACE_SHARE_LEN])
{
	unsigned char g[32];

	if (in->sidlen > CPACE_SID_MAX || in->adlen > CPACE_AD_MAX ||
	    (role != CPACE_INITIATOR && role != CPACE_RESPONDER &&
	    role != CPACE_SYMMETRIC))
		return -1;
	memset(ctx, 0, sizeof(*ctx));
	ctx->role = role;
	memcpy(ctx->y, y, 32);
	if (in->sidlen > 0)
		memcpy(ctx->sid, in->sid, in->sidlen);
	ctx->sidlen = in->sidlen;
	if (in->adlen > 0)
		memcpy(ctx->ad, in->ad, in->adlen);
	ctx->adlen = in->adlen;
	cpace_generator(g, in);
	(void)x25519(ctx->share, ctx->y, g);	/* g is never of low order */
	declassify(ctx->share, CPACE_SHARE_LEN);	/* it goes on the wire */
	memcpy(share, ctx->share, CPACE_SHARE_LEN);
	crypto_wipe(g, sizeof(g));
	return 0;
}

/* As cpace_start, with y = G.sample_scalar(): 32 bytes from the kernel. */
int
cpace_init(struct cpace *ctx, int role, const struct cpace_in *in,
    unsigned char share[CPACE_SHARE_LEN])
{
	unsigned char y[32];
	int rc;

	if (getentropy(y, sizeof(y)) == -1)
		return -1;
	rc = cpace_start(ctx, role, in, y, share);
	crypto_wipe(y, sizeof(y));
	return rc;
}

/* lv_cat(Y, AD) into p (room for 1 + 32 + 10 + CPACE_AD_MAX); its length. */
static size_t
cpace_lv_msg(unsigned char *p, const unsigned char Y[32], const void *ad,
    size_t adlen)
{
	size_t k;

	p[0] = 32;
	memcpy(p + 1, Y, 32);
	k = 33 + leb128(p + 33, adlen);
	if (adlen > 0)
		memcpy(p + k, ad, adlen);
	return k + adlen;
}

/* The draft's lexiographically_larger(a, b), on public strings. */
static int
lex_larger(const unsigned char *a, size_t alen, const unsigned char *b,
    size_t blen)
{
	size_t i, n = alen < blen ? alen : blen;

	for (i = 0; i < n; i++)
		if (a[i] != b[i])
			return a[i] > b[i];
	return alen > blen;
}

/*
 * transcript_ir (initiator's lv_cat(Ya, ADa) first) or, in the symmetric
 * setting, transcript_oc (b"oc", then the larger of the two).
 */
static void
cpace_transcript(struct sha512 *c, const struct cpace *ctx,
    const unsigned char peer[32], const void *peer_ad, size_t peer_adlen)
{
	unsigned char ours[43 + CPACE_AD_MAX], theirs[43 + CPACE_AD_MAX];
	size_t no, nt;

	no = cpace_lv_msg(ours, ctx->share, ctx->ad, ctx->adlen);
	nt = cpace_lv_msg(theirs, peer, peer_ad, peer_adlen);
	if (ctx->role == CPACE_SYMMETRIC) {
		sha512_update(c, "oc", 2);
		if (!lex_larger(ours, no, theirs, nt)) {
			sha512_update(c, theirs, nt);
			sha512_update(c, ours, no);
			return;
		}
	} else if (ctx->role == CPACE_RESPONDER) {
		sha512_update(c, theirs, nt);
		sha512_update(c, ours, no);
		return;
	}
	sha512_update(c, ours, no);
	sha512_update(c, theirs, nt);
}

/*
 * Ends the run with the peer's share and AD: K = scalar_mult_vfy(y, peer);
 * ISK = SHA-512(lv_cat(DSI || "_ISK", sid, K) || transcript). Returns 0
 * with ISK written, or -1 (ISK zeroed) if the peer's share is of low
 * order (K is the neutral element) or its AD too long. The context,
 * with the scalar, is wiped in every case, and K never leaves.
 */
int
cpace_finish(struct cpace *ctx, const unsigned char peer[CPACE_SHARE_LEN],
    const void *peer_ad, size_t peer_adlen, unsigned char isk[CPACE_ISK_LEN])
{
	unsigned char k[32];
	struct sha512 c;
	int rc = -1;

	memset(isk, 0, CPACE_ISK_LEN);
	if (peer_adlen <= CPACE_AD_MAX && x25519(k, ctx->y, peer) == 0) {
		sha512_init(&c);
		sha512_lv(&c, cpace_dsi_isk, sizeof(cpace_dsi_isk) - 1);
		sha512_lv(&c, ctx->sid, ctx->sidlen);
		sha512_lv(&c, k, sizeof(k));
		cpace_transcript(&c, ctx, peer, peer_ad, peer_adlen);
		sha512_final(&c, isk);
		rc = 0;
	}
	crypto_wipe(k, sizeof(k));
	crypto_wipe(ctx, sizeof(*ctx));
	return rc;
}

/* ---- ChaCha20 (RFC 8439 2.3, 2.4) ---- */

static uint32_t
load_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static void
store_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

#define ROL32(x, n)	((x) << (n) | (x) >> (32 - (n)))
#define QROUND(a, b, c, d) do {					\
	a += b; d ^= a; d = ROL32(d, 16);				\
	c += d; b ^= c; b = ROL32(b, 12);				\
	a += b; d ^= a; d = ROL32(d, 8);				\
	c += d; b ^= c; b = ROL32(b, 7);				\
} while (0)

/* The initial state of 2.3: constants, key, block counter, nonce. */
static void
chacha20_setup(uint32_t st[16], const unsigned char key[32],
    const unsigned char nonce[12], uint32_t counter)
{
	int i;

	st[0] = 0x61707865;	/* "expand 32-byte k" */
	st[1] = 0x3320646e;
	st[2] = 0x79622d32;
	st[3] = 0x6b206574;
	for (i = 0; i < 8; i++)
		st[4 + i] = load_le32(key + 4 * i);
	st[12] = counter;
	for (i = 0; i < 3; i++)
		st[13 + i] = load_le32(nonce + 4 * i);
}

/* 2.3: 20 rounds (10 column + diagonal pairs) and the final addition. */
static void
chacha20_core(unsigned char out[64], const uint32_t st[16])
{
	uint32_t x[16];
	int i;

	memcpy(x, st, sizeof(x));
	for (i = 0; i < 10; i++) {
		QROUND(x[0], x[4], x[8], x[12]);
		QROUND(x[1], x[5], x[9], x[13]);
		QROUND(x[2], x[6], x[10], x[14]);
		QROUND(x[3], x[7], x[11], x[15]);
		QROUND(x[0], x[5], x[10], x[15]);
		QROUND(x[1], x[6], x[11], x[12]);
		QROUND(x[2], x[7], x[8], x[13]);
		QROUND(x[3], x[4], x[9], x[14]);
	}
	for (i = 0; i < 16; i++)
		store_le32(out + 4 * i, x[i] + st[i]);
	crypto_wipe(x, sizeof(x));
}

/* One 64-byte keystream block (RFC 8439 2.3.2's test, Poly1305 keys). */
void
chacha20_block(unsigned char out[64], const unsigned char key[32],
    const unsigned char nonce[12], uint32_t counter)
{
	uint32_t st[16];

	chacha20_setup(st, key, nonce, counter);
	chacha20_core(out, st);
	crypto_wipe(st, sizeof(st));
}

/*
 * Four blocks at once (counters st[12] .. st[12] + 3), one lane per
 * block, so that every statement of a quarter round is the same
 * operation on four independent words.
 *
 * CHACHA_VEC: written with the GCC/clang vector extensions (this file
 * needs GCC or clang already, for unsigned __int128), which give 128-bit
 * vector instructions (SSE2, NEON, AltiVec...) without intrinsics or a
 * target's header. Only on a little-endian host, where a vector's lanes
 * in memory are the little-endian words RFC 8439 serializes. Elsewhere,
 * or with -DCRYPTO_PORTABLE (which the tests build too), plain C with
 * lanes as arrays, byte order by hand: correct on any host.
 */
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && !defined(CRYPTO_PORTABLE)
#define CHACHA_VEC	1
#endif
#define LANES	4

#ifdef CHACHA_VEC
typedef uint32_t v4u32 __attribute__((vector_size(16)));

#if defined(__clang__) || __GNUC__ >= 12
#define SHUF4(a, b, i, j, k, l)	__builtin_shufflevector(a, b, i, j, k, l)
#else
#define SHUF4(a, b, i, j, k, l)	__builtin_shuffle(a, b, (v4u32){ i, j, k, l })
#endif
#define VQROUND(a, b, c, d) do {					\
	a += b; d ^= a; d = ROL32(d, 16);				\
	c += d; b ^= c; b = ROL32(b, 12);				\
	a += b; d ^= a; d = ROL32(d, 8);				\
	c += d; b ^= c; b = ROL32(b, 7);				\
} while (0)

static inline v4u32
vload(const unsigned char *p)
{
	v4u32 v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/*
 * Words i .. i+3 of four blocks (a vector per word, a lane per block)
 * transposed into a vector per block, XORed with in and stored at out:
 * block l's words go to 64 * l + 4 * i.
 */
static inline void
xor4x4(unsigned char *out, const unsigned char *in, v4u32 a, v4u32 b,
    v4u32 c, v4u32 d)
{
	v4u32 t0 = SHUF4(a, b, 0, 4, 1, 5), t1 = SHUF4(a, b, 2, 6, 3, 7);
	v4u32 t2 = SHUF4(c, d, 0, 4, 1, 5), t3 = SHUF4(c, d, 2, 6, 3, 7);

	a = SHUF4(t0, t2, 0, 1, 4, 5) ^ vload(in);
	b = SHUF4(t0, t2, 2, 3, 6, 7) ^ vload(in + 64);
	c = SHUF4(t1, t3, 0, 1, 4, 5) ^ vload(in + 128);
	d = SHUF4(t1, t3, 2, 3, 6, 7) ^ vload(in + 192);
	memcpy(out, &a, sizeof(a));
	memcpy(out + 64, &b, sizeof(b));
	memcpy(out + 128, &c, sizeof(c));
	memcpy(out + 192, &d, sizeof(d));
}

/*
 * out = in XOR four blocks of keystream (256 bytes). The state lives in
 * sixteen vector variables, not an array, so that it stays in registers
 * (what the compiler spills to the stack is not wiped, as in any C
 * code; the caller wipes the input state).
 */
static void
chacha20_xor4(unsigned char *out, const unsigned char *in,
    const uint32_t st[16])
{
	v4u32 x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13,
	    x14, x15, ctr = { 0, 1, 2, 3 };
	int i;

	x0 = (v4u32){ 0 } + st[0]; x1 = (v4u32){ 0 } + st[1];
	x2 = (v4u32){ 0 } + st[2]; x3 = (v4u32){ 0 } + st[3];
	x4 = (v4u32){ 0 } + st[4]; x5 = (v4u32){ 0 } + st[5];
	x6 = (v4u32){ 0 } + st[6]; x7 = (v4u32){ 0 } + st[7];
	x8 = (v4u32){ 0 } + st[8]; x9 = (v4u32){ 0 } + st[9];
	x10 = (v4u32){ 0 } + st[10]; x11 = (v4u32){ 0 } + st[11];
	x12 = ctr + st[12]; x13 = (v4u32){ 0 } + st[13];
	x14 = (v4u32){ 0 } + st[14]; x15 = (v4u32){ 0 } + st[15];
	for (i = 0; i < 10; i++) {
		VQROUND(x0, x4, x8, x12);
		VQROUND(x1, x5, x9, x13);
		VQROUND(x2, x6, x10, x14);
		VQROUND(x3, x7, x11, x15);
		VQROUND(x0, x5, x10, x15);
		VQROUND(x1, x6, x11, x12);
		VQROUND(x2, x7, x8, x13);
		VQROUND(x3, x4, x9, x14);
	}
	xor4x4(out, in, x0 + st[0], x1 + st[1], x2 + st[2], x3 + st[3]);
	xor4x4(out + 16, in + 16, x4 + st[4], x5 + st[5], x6 + st[6],
	    x7 + st[7]);
	xor4x4(out + 32, in + 32, x8 + st[8], x9 + st[9], x10 + st[10],
	    x11 + st[11]);
	xor4x4(out + 48, in + 48, x12 + ctr + st[12], x13 + st[13],
	    x14 + st[14], x15 + st[15]);
}

/*
 * CHACHA_AVX2: eight blocks at once in 256-bit vectors, for x86 CPUs
 * that have AVX2 (chosen at run time: __builtin_cpu_supports, GCC's and
 * clang's, reads what libgcc's constructor found with CPUID). Still
 * vector extensions, in a function compiled for AVX2 by its target
 * attribute; no intrinsics. Twice the work per instruction of the
 * 128-bit path, and the rotations by 16 and 8 become byte shuffles.
 * Left out where the build optimises for size (the static binary).
 */
#if (defined(__x86_64__) || defined(__i386__)) && \
    !defined(__OPTIMIZE_SIZE__) && defined(__has_builtin)
#if __has_builtin(__builtin_shufflevector) && \
    __has_builtin(__builtin_cpu_supports)
#define CHACHA_AVX2	1
#endif
#endif

#ifdef CHACHA_AVX2
typedef uint32_t v8u32 __attribute__((vector_size(32)));
typedef unsigned char v32u8 __attribute__((vector_size(32)));

#define SHUF8(a, b, i0, i1, i2, i3, i4, i5, i6, i7)			\
	__builtin_shufflevector(a, b, i0, i1, i2, i3, i4, i5, i6, i7)
/* Each 32-bit word's bytes rotated: by 16 bits (2 3 0 1), by 8 (3 0 1 2). */
#define BROT(x, a, b, c, d) ((v8u32)__builtin_shufflevector((v32u8)(x),	\
	(v32u8)(x), a, b, c, d, a + 4, b + 4, c + 4, d + 4, a + 8, b + 8,	\
	c + 8, d + 8, a + 12, b + 12, c + 12, d + 12, a + 16, b + 16,	\
	c + 16, d + 16, a + 20, b + 20, c + 20, d + 20, a + 24, b + 24,	\
	c + 24, d + 24, a + 28, b + 28, c + 28, d + 28))
#define V8QROUND(a, b, c, d) do {					\
	a += b; d ^= a; d = BROT(d, 2, 3, 0, 1);			\
	c += d; b ^= c; b = ROL32(b, 12);				\
	a += b; d ^= a; d = BROT(d, 3, 0, 1, 2);			\
	c += d; b ^= c; b = ROL32(b, 7);				\
} while (0)

/*
 * Words i .. i+3 (a, b, c, d) and i+4 .. i+7 (e, f, g, h) of eight
 * blocks, transposed: 32 bytes of each block, XORed with in, to out.
 * Shuffles within 128-bit halves first (block l below, l + 4 above),
 * then halves paired across.
 */
__attribute__((target("avx2"))) static inline void
xor8x8(unsigned char *out, const unsigned char *in, v8u32 a, v8u32 b,
    v8u32 c, v8u32 d, v8u32 e, v8u32 f, v8u32 g, v8u32 h)
{
	v8u32 t[4], o[4], p[4], v, w;
	int l;

	t[0] = SHUF8(a, b, 0, 8, 1, 9, 4, 12, 5, 13);
	t[1] = SHUF8(a, b, 2, 10, 3, 11, 6, 14, 7, 15);
	t[2] = SHUF8(c, d, 0, 8, 1, 9, 4, 12, 5, 13);
	t[3] = SHUF8(c, d, 2, 10, 3, 11, 6, 14, 7, 15);
	o[0] = SHUF8(t[0], t[2], 0, 1, 8, 9, 4, 5, 12, 13);
	o[1] = SHUF8(t[0], t[2], 2, 3, 10, 11, 6, 7, 14, 15);
	o[2] = SHUF8(t[1], t[3], 0, 1, 8, 9, 4, 5, 12, 13);
	o[3] = SHUF8(t[1], t[3], 2, 3, 10, 11, 6, 7, 14, 15);
	t[0] = SHUF8(e, f, 0, 8, 1, 9, 4, 12, 5, 13);
	t[1] = SHUF8(e, f, 2, 10, 3, 11, 6, 14, 7, 15);
	t[2] = SHUF8(g, h, 0, 8, 1, 9, 4, 12, 5, 13);
	t[3] = SHUF8(g, h, 2, 10, 3, 11, 6, 14, 7, 15);
	p[0] = SHUF8(t[0], t[2], 0, 1, 8, 9, 4, 5, 12, 13);
	p[1] = SHUF8(t[0], t[2], 2, 3, 10, 11, 6, 7, 14, 15);
	p[2] = SHUF8(t[1], t[3], 0, 1, 8, 9, 4, 5, 12, 13);
	p[3] = SHUF8(t[1], t[3], 2, 3, 10, 11, 6, 7, 14, 15);
	for (l = 0; l < 4; l++) {
		memcpy(&v, in + 64 * l, sizeof(v));
		memcpy(&w, in + 64 * (l + 4), sizeof(w));
		v ^= SHUF8(o[l], p[l], 0, 1, 2, 3, 8, 9, 10, 11);
		w ^= SHUF8(o[l], p[l], 4, 5, 6, 7, 12, 13, 14, 15);
		memcpy(out + 64 * l, &v, sizeof(v));
		memcpy(out + 64 * (l + 4), &w, sizeof(w));
	}
}

/* out = in XOR eight blocks of keystream (512 bytes). */
__attribute__((target("avx2"))) static void
chacha20_xor8(unsigned char *out, const unsigned char *in,
    const uint32_t st[16])
{
	v8u32 x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13,
	    x14, x15, ctr = { 0, 1, 2, 3, 4, 5, 6, 7 };
	int i;

	x0 = (v8u32){ 0 } + st[0]; x1 = (v8u32){ 0 } + st[1];
	x2 = (v8u32){ 0 } + st[2]; x3 = (v8u32){ 0 } + st[3];
	x4 = (v8u32){ 0 } + st[4]; x5 = (v8u32){ 0 } + st[5];
	x6 = (v8u32){ 0 } + st[6]; x7 = (v8u32){ 0 } + st[7];
	x8 = (v8u32){ 0 } + st[8]; x9 = (v8u32){ 0 } + st[9];
	x10 = (v8u32){ 0 } + st[10]; x11 = (v8u32){ 0 } + st[11];
	x12 = ctr + st[12]; x13 = (v8u32){ 0 } + st[13];
	x14 = (v8u32){ 0 } + st[14]; x15 = (v8u32){ 0 } + st[15];
	for (i = 0; i < 10; i++) {
		V8QROUND(x0, x4, x8, x12);
		V8QROUND(x1, x5, x9, x13);
		V8QROUND(x2, x6, x10, x14);
		V8QROUND(x3, x7, x11, x15);
		V8QROUND(x0, x5, x10, x15);
		V8QROUND(x1, x6, x11, x12);
		V8QROUND(x2, x7, x8, x13);
		V8QROUND(x3, x4, x9, x14);
	}
	xor8x8(out, in, x0 + st[0], x1 + st[1], x2 + st[2], x3 + st[3],
	    x4 + st[4], x5 + st[5], x6 + st[6], x7 + st[7]);
	xor8x8(out + 32, in + 32, x8 + st[8], x9 + st[9], x10 + st[10],
	    x11 + st[11], x12 + ctr + st[12], x13 + st[13], x14 + st[14],
	    x15 + st[15]);
}
#endif
#else
#define QROUND4(x, a, b, c, d) do {					\
	int l_;								\
	for (l_ = 0; l_ < LANES; l_++) {				\
		x[a][l_] += x[b][l_]; x[d][l_] ^= x[a][l_];		\
		x[d][l_] = ROL32(x[d][l_], 16);				\
		x[c][l_] += x[d][l_]; x[b][l_] ^= x[c][l_];		\
		x[b][l_] = ROL32(x[b][l_], 12);				\
		x[a][l_] += x[b][l_]; x[d][l_] ^= x[a][l_];		\
		x[d][l_] = ROL32(x[d][l_], 8);				\
		x[c][l_] += x[d][l_]; x[b][l_] ^= x[c][l_];		\
		x[b][l_] = ROL32(x[b][l_], 7);				\
	}								\
} while (0)

/*
 * The portable four blocks: a compiler still turns each lane loop into
 * vector instructions where it can (2.6 times the speed of one block at
 * a time on x86-64 with gcc -O2). out = in XOR the 256 bytes; the
 * keystream goes through ks, so that the XOR runs over a fixed count
 * and vectorizes too.
 */
static void
chacha20_xor4(unsigned char *out, const unsigned char *in,
    const uint32_t st[16])
{
	unsigned char ks[64 * LANES];
	uint32_t x[16][LANES];
	int i, l;

	for (i = 0; i < 16; i++)
		for (l = 0; l < LANES; l++)
			x[i][l] = st[i] + (i == 12 ? (uint32_t)l : 0);
	for (i = 0; i < 10; i++) {
		QROUND4(x, 0, 4, 8, 12);
		QROUND4(x, 1, 5, 9, 13);
		QROUND4(x, 2, 6, 10, 14);
		QROUND4(x, 3, 7, 11, 15);
		QROUND4(x, 0, 5, 10, 15);
		QROUND4(x, 1, 6, 11, 12);
		QROUND4(x, 2, 7, 8, 13);
		QROUND4(x, 3, 4, 9, 14);
	}
	for (l = 0; l < LANES; l++)
		for (i = 0; i < 16; i++)
			store_le32(ks + 64 * l + 4 * i, x[i][l] + st[i] +
			    (i == 12 ? (uint32_t)l : 0));
	for (i = 0; i < 64 * LANES; i++)
		ks[i] ^= in[i];
	memcpy(out, ks, sizeof(ks));
	crypto_wipe(x, sizeof(x));
	crypto_wipe(ks, sizeof(ks));
}
#endif

/* The largest group of blocks a call below makes at once, in bytes. */
#ifdef CHACHA_AVX2
#define GROUP_MAX	512
#else
#define GROUP_MAX	(64 * LANES)
#endif

/*
 * out = in XOR one group of keystream from st's counter on, which it
 * advances: eight blocks where the AVX2 path runs and want allows, else
 * four. Returns the group's size in bytes.
 */
static size_t
chacha20_group(unsigned char *out, const unsigned char *in, uint32_t st[16],
    size_t want)
{
#ifdef CHACHA_AVX2
	if (want >= 512 && __builtin_cpu_supports("avx2")) {
		chacha20_xor8(out, in, st);
		st[12] += 8;
		return 512;
	}
#endif
	(void)want;
	chacha20_xor4(out, in, st);
	st[12] += LANES;
	return 64 * LANES;
}

/*
 * out = in XOR n bytes of the keystream from st's counter on; advances
 * the counter. out may be in. A tail under a group goes through a
 * buffer, so that the group functions always have whole groups.
 */
static void
chacha20_stream(unsigned char *out, const unsigned char *in, size_t n,
    uint32_t st[16])
{
	unsigned char tail[64 * LANES];
	size_t g;

	for (; n >= sizeof(tail); n -= g, in += g, out += g)
		g = chacha20_group(out, in, st, n);
	if (n > 0) {
		memset(tail, 0, sizeof(tail));
		memcpy(tail, in, n);
		chacha20_group(tail, tail, st, sizeof(tail));
		memcpy(out, tail, n);
		crypto_wipe(tail, sizeof(tail));
	}
}

/*
 * 2.4: out = in XOR the keystream from block `counter` on. out may be in
 * (in place). The counter is 32 bits: a caller keeps n below 256 GB.
 */
void
chacha20_xor(unsigned char *out, const unsigned char *in, size_t n,
    const unsigned char key[32], const unsigned char nonce[12],
    uint32_t counter)
{
	uint32_t st[16];

	chacha20_setup(st, key, nonce, counter);
	chacha20_stream(out, in, n, st);
	crypto_wipe(st, sizeof(st));
}

/*
 * ---- Poly1305 (RFC 8439 2.5) ----
 *
 * The accumulator h and the clamped r in three limbs of 44, 44 and 42
 * bits, products in 128 bits. A product's part at or above 2^130 comes
 * back times 5 (2^130 = 5 mod p); s1, s2 are r1, r2 times 4 * 5 because
 * limb 1 times limb 2 lands at 2^132.
 */
#define MASK44	((UINT64_C(1) << 44) - 1)
#define MASK42	((UINT64_C(1) << 42) - 1)

struct poly1305 {
	uint64_t	r[4][3];	/* r, r^2, r^3, r^4 mod p */
	uint64_t	s[4][2];	/* their limbs 1 and 2 times 20 */
	uint64_t	h[3], pad[2];
};

/*
 * h = d mod p, partially: limbs of 44, 44 and 42 bits, the carry out of
 * the top coming back times 5 into h0 (which may keep a few bits over).
 * Inline, since it runs once per group of blocks.
 */
static inline void
poly1305_carry(uint64_t h[3], u128 d0, u128 d1, u128 d2)
{
	uint64_t c;

	c = (uint64_t)(d0 >> 44); h[0] = (uint64_t)d0 & MASK44;
	d1 += c;
	c = (uint64_t)(d1 >> 44); h[1] = (uint64_t)d1 & MASK44;
	d2 += c;
	c = (uint64_t)(d2 >> 42); h[2] = (uint64_t)d2 & MASK42;
	h[0] += c * 5;
	c = h[0] >> 44; h[0] &= MASK44;
	h[1] += c;
}

/*
 * d += a * r, unreduced; s is r's limbs 1 and 2 times 20. Limbs of a
 * under 2^45, of r under 2^44 + 2^4: a product is under 2^94, and the
 * twelve of a group of four blocks sum to under 2^98. A macro on plain
 * variables, so that the sums stay in registers.
 */
#define POLY_MAC(d0, d1, d2, a0, a1, a2, r, s) do {			\
	d0 += (u128)(a0) * (r)[0] + (u128)(a1) * (s)[1] +		\
	    (u128)(a2) * (s)[0];					\
	d1 += (u128)(a0) * (r)[1] + (u128)(a1) * (r)[0] +		\
	    (u128)(a2) * (s)[1];					\
	d2 += (u128)(a0) * (r)[2] + (u128)(a1) * (r)[1] +		\
	    (u128)(a2) * (r)[0];					\
} while (0)

/* r^(k+1) = a * b, with its s. */
static void
poly1305_power(struct poly1305 *p, int k, const uint64_t a[3],
    const uint64_t b[3])
{
	uint64_t s[2] = { b[1] * 20, b[2] * 20 };
	u128 d0 = 0, d1 = 0, d2 = 0;

	POLY_MAC(d0, d1, d2, a[0], a[1], a[2], b, s);
	poly1305_carry(p->r[k], d0, d1, d2);
	p->s[k][0] = p->r[k][1] * 20;
	p->s[k][1] = p->r[k][2] * 20;
}

static void
poly1305_init(struct poly1305 *p, const unsigned char key[32])
{
	uint64_t t0 = load_le64_full(key), t1 = load_le64_full(key + 8);

	p->r[0][0] = t0 & UINT64_C(0xffc0fffffff);
	p->r[0][1] = (t0 >> 44 | t1 << 20) & UINT64_C(0xfffffc0ffff);
	p->r[0][2] = (t1 >> 24) & UINT64_C(0x00ffffffc0f);
	p->s[0][0] = p->r[0][1] * 20;
	p->s[0][1] = p->r[0][2] * 20;
	poly1305_power(p, 1, p->r[0], p->r[0]);
	poly1305_power(p, 2, p->r[1], p->r[0]);
	poly1305_power(p, 3, p->r[1], p->r[1]);
	p->h[0] = p->h[1] = p->h[2] = 0;
	p->pad[0] = load_le64_full(key + 16);
	p->pad[1] = load_le64_full(key + 24);
}

/*
 * A little-endian 64-bit word, for the hot loops: one load where the
 * host is little-endian (memcpy: no alignment assumed), else bytes.
 */
static inline uint64_t
le64(const unsigned char *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
#else
	return load_le64_full(p);
#endif
}

/* The 16-byte block at m as limbs a0..a2, with hibit (2^128: 1 << 40). */
#define POLY_LOAD(a0, a1, a2, m, hibit) do {				\
	uint64_t t0_ = le64(m), t1_ = le64((m) + 8);			\
	a0 = t0_ & MASK44;						\
	a1 = (t0_ >> 44 | t1_ << 20) & MASK44;				\
	a2 = ((t1_ >> 24) & MASK42) | (hibit);				\
} while (0)

/*
 * nblocks 16-byte blocks. Four at a time as (h + m1) r^4 + m2 r^3 +
 * m3 r^2 + m4 r: the four products are independent and share one
 * reduction, where block by block each multiply waits for the one
 * before and its reduction. The last group of k < 4 the same way with
 * r^k .. r (k is public: a length). What Poly1305 reads here is public
 * in the AEAD (AD, ciphertext); h is in p, which finish wipes.
 */
static void
poly1305_blocks(struct poly1305 *p, const unsigned char *m, size_t nblocks,
    uint64_t hibit)
{
	uint64_t a0, a1, a2, *h = p->h;
	u128 d0, d1, d2;
	size_t i, k;

	for (; nblocks >= 4; nblocks -= 4, m += 64) {
		POLY_LOAD(a0, a1, a2, m, hibit);
		d0 = d1 = d2 = 0;
		POLY_MAC(d0, d1, d2, a0 + h[0], a1 + h[1], a2 + h[2],
		    p->r[3], p->s[3]);
		POLY_LOAD(a0, a1, a2, m + 16, hibit);
		POLY_MAC(d0, d1, d2, a0, a1, a2, p->r[2], p->s[2]);
		POLY_LOAD(a0, a1, a2, m + 32, hibit);
		POLY_MAC(d0, d1, d2, a0, a1, a2, p->r[1], p->s[1]);
		POLY_LOAD(a0, a1, a2, m + 48, hibit);
		POLY_MAC(d0, d1, d2, a0, a1, a2, p->r[0], p->s[0]);
		poly1305_carry(h, d0, d1, d2);
	}
	if ((k = nblocks) > 0) {
		POLY_LOAD(a0, a1, a2, m, hibit);
		d0 = d1 = d2 = 0;
		POLY_MAC(d0, d1, d2, a0 + h[0], a1 + h[1], a2 + h[2],
		    p->r[k - 1], p->s[k - 1]);
		for (i = 1; i < k; i++) {
			POLY_LOAD(a0, a1, a2, m + 16 * i, hibit);
			POLY_MAC(d0, d1, d2, a0, a1, a2, p->r[k - 1 - i],
			    p->s[k - 1 - i]);
		}
		poly1305_carry(h, d0, d1, d2);
	}
}

/* Data zero-padded to a multiple of 16, as RFC 8439 2.8 feeds AD and C. */
static void
poly1305_padded(struct poly1305 *p, const unsigned char *m, size_t n)
{
	unsigned char last[16];

	poly1305_blocks(p, m, n / 16, UINT64_C(1) << 40);
	if (n % 16 != 0) {
		memset(last, 0, sizeof(last));
		memcpy(last, m + n / 16 * 16, n % 16);
		poly1305_blocks(p, last, 1, UINT64_C(1) << 40);
		crypto_wipe(last, sizeof(last));
	}
}

/*
 * h mod p, then + s mod 2^128. h - p is chosen over h by a mask taken
 * from the borrow, not by a branch.
 */
static void
poly1305_finish(struct poly1305 *p, unsigned char tag[16])
{
	uint64_t h0 = p->h[0], h1 = p->h[1], h2 = p->h[2];
	uint64_t g0, g1, g2, c, mask;

	c = h1 >> 44; h1 &= MASK44; h2 += c;
	c = h2 >> 42; h2 &= MASK42; h0 += c * 5;
	c = h0 >> 44; h0 &= MASK44; h1 += c;
	c = h1 >> 44; h1 &= MASK44; h2 += c;
	c = h2 >> 42; h2 &= MASK42; h0 += c * 5;
	c = h0 >> 44; h0 &= MASK44; h1 += c;
	g0 = h0 + 5; c = g0 >> 44; g0 &= MASK44;
	g1 = h1 + c; c = g1 >> 44; g1 &= MASK44;
	g2 = h2 + c - (UINT64_C(1) << 42);
	mask = (g2 >> 63) - 1;		/* all ones when h >= p */
	h0 = (h0 & ~mask) | (g0 & mask);
	h1 = (h1 & ~mask) | (g1 & mask);
	h2 = (h2 & ~mask) | (g2 & mask);
	h0 += p->pad[0] & MASK44; c = h0 >> 44; h0 &= MASK44;
	h1 += ((p->pad[0] >> 44 | p->pad[1] << 20) & MASK44) + c;
	c = h1 >> 44; h1 &= MASK44;
	h2 += (p->pad[1] >> 24) + c;
	store_le64(tag, h0 | h1 << 44);
	store_le64(tag + 8, h1 >> 20 | h2 << 24);
	crypto_wipe(p, sizeof(*p));
}

/* One-shot Poly1305 (2.5.1): the last partial block gets a 1 byte. */
void
poly1305(unsigned char tag[16], const unsigned char *m, size_t n,
    const unsigned char key[32])
{
	struct poly1305 p;
	unsigned char last[16];
	size_t k = n % 16;

	poly1305_init(&p, key);
	poly1305_blocks(&p, m, n / 16, UINT64_C(1) << 40);
	if (k != 0) {
		memset(last, 0, sizeof(last));
		memcpy(last, m + n - k, k);
		last[k] = 1;
		poly1305_blocks(&p, last, 1, 0);
		crypto_wipe(last, sizeof(last));
	}
	poly1305_finish(&p, tag);
}

/* ---- ChaCha20-Poly1305 AEAD (RFC 8439 2.8) ---- */

/*
 * The AEAD's first group of keystream, from block 0, over a buffer that
 * holds 64 zero bytes and then the first k bytes of in: buf[0..31] is
 * then the Poly1305 key (2.6), buf[64..64+k) those bytes XOR their
 * keystream. One group call, rather than a block on its own for the key.
 * Returns k (at most n); st is left at the block after them.
 */
static size_t
aead_first(unsigned char buf[GROUP_MAX], uint32_t st[16],
    const unsigned char key[32], const unsigned char nonce[12],
    const unsigned char *in, size_t n)
{
	size_t k = n < GROUP_MAX - 64 ? n : GROUP_MAX - 64;

	chacha20_setup(st, key, nonce, 0);
	memset(buf, 0, GROUP_MAX);
	memcpy(buf + 64, in, k);
	k = chacha20_group(buf, buf, st, 64 + k) - 64;
	return n < k ? n : k;
}

/* The tag over AD and ciphertext with the one-time key otk (2.8). */
static void
aead_tag(unsigned char tag[16], const unsigned char otk[32],
    const unsigned char *ad, size_t adlen, const unsigned char *c,
    size_t clen)
{
	unsigned char lens[16];
	struct poly1305 p;

	poly1305_init(&p, otk);
	poly1305_padded(&p, ad, adlen);
	poly1305_padded(&p, c, clen);
	store_le64(lens, (uint64_t)adlen);
	store_le64(lens + 8, (uint64_t)clen);
	poly1305_blocks(&p, lens, 1, UINT64_C(1) << 40);
	poly1305_finish(&p, tag);
}

/*
 * Encrypts mlen bytes of m and writes ciphertext || tag (mlen + 16
 * bytes) to c; c may equal m. The nonce must never repeat under a key.
 */
void
chacha20poly1305_seal(unsigned char *c, const unsigned char *m, size_t mlen,
    const unsigned char *ad, size_t adlen,
    const unsigned char nonce[AEAD_NONCE_LEN],
    const unsigned char key[AEAD_KEY_LEN])
{
	unsigned char buf[GROUP_MAX];
	uint32_t st[16];
	size_t k;

	k = aead_first(buf, st, key, nonce, m, mlen);
	memcpy(c, buf + 64, k);
	chacha20_stream(c + k, m + k, mlen - k, st);
	aead_tag(c + mlen, buf, ad, adlen, c, mlen);
	crypto_wipe(buf, sizeof(buf));
	crypto_wipe(st, sizeof(st));
}

/*
 * Checks and decrypts clen bytes of ciphertext || tag: writes clen - 16
 * bytes of plaintext to m (which may equal c) and returns 0, or returns
 * -1 with m untouched if clen < 16 or the tag is wrong. The tag is
 * checked before any decryption, in constant time.
 */
int
chacha20poly1305_open(unsigned char *m, const unsigned char *c, size_t clen,
    const unsigned char *ad, size_t adlen,
    const unsigned char nonce[AEAD_NONCE_LEN],
    const unsigned char key[AEAD_KEY_LEN])
{
	unsigned char tag[AEAD_TAG_LEN], buf[GROUP_MAX];
	uint32_t st[16];
	size_t k;
	int ok;

	if (clen < AEAD_TAG_LEN)
		return -1;
	clen -= AEAD_TAG_LEN;
	k = aead_first(buf, st, key, nonce, c, clen);
	aead_tag(tag, buf, ad, adlen, c, clen);
	ok = ct_equal(tag, c + clen, AEAD_TAG_LEN);
	declassify(&ok, sizeof(ok));	/* public: the peer sees a drop */
	crypto_wipe(tag, sizeof(tag));
	if (!ok) {
		crypto_wipe(buf, sizeof(buf));
		crypto_wipe(st, sizeof(st));
		return -1;
	}
	memcpy(m, buf + 64, k);
	chacha20_stream(m + k, c + k, clen - k, st);
	crypto_wipe(buf, sizeof(buf));
	crypto_wipe(st, sizeof(st));
	return 0;
}

/*
 * ==== The protocol-3 secure channel (PROTOCOL 6): handshake,
 * records, codes ====
 *
 * Passive: no sockets, no clock. The session loop hands in what the
 * peer sent and sends what these functions return; retransmission is
 * its timer's. Failure is final: a struct sec that failed stays failed
 * and its keys are gone.
 */
#include <stdio.h>	/* snprintf, for code_new */

static const char sec_label_th[] = "pnc v3 transcript";
static const char sec_label_ci[] = "pnc v3 confirm i";
static const char sec_label_cr[] = "pnc v3 confirm r";
static const char sec_label_ack[] = "pnc v3 finish ack";
static const char sec_label_i2r[] = "pnc v3 key i->r";
static const char sec_label_r2i[] = "pnc v3 key r->i";

/*
 * PRS = lv(secret) || lv(K), K = SHA-512(key) with -K, else empty. The
 * key is hashed so that PRS stays small whatever the key file's size;
 * the length prefixes keep ("ab", "c") apart from ("a", "bc"). Returns
 * its length; p has room for 2 + SEC_SECRET_MAX + 1 + 64.
 */
static size_t
sec_prs(unsigned char *p, const struct sec_params *pa)
{
	size_t n;

	n = leb128(p, pa->secretlen);
	if (pa->secretlen > 0)
		memcpy(p + n, pa->secret, pa->secretlen);
	n += pa->secretlen;
	if (pa->keylen == 0) {
		p[n] = 0;
		return n + 1;
	}
	p[n++] = SHA512_LEN;
	sha512(pa->key, pa->keylen, p + n);
	return n + SHA512_LEN;
}

/* HELLO or the start of a REPLY: kind(1) Y(32) adlen(2) AD. Its length. */
static size_t
sec_put_share(unsigned char *p, int kind, const unsigned char y[32],
    const unsigned char *ad, size_t adlen)
{
	p[0] = (unsigned char)kind;
	memcpy(p + 1, y, 32);
	p[33] = (unsigned char)(adlen >> 8);
	p[34] = (unsigned char)adlen;
	if (adlen > 0)
		memcpy(p + 35, ad, adlen);
	return 35 + adlen;
}

/* Parses HELLO (tail 0) or REPLY (tail 32). Returns 0, or -1 if malformed. */
static int
sec_get_share(const unsigned char *m, size_t len, size_t tail,
    const unsigned char **y, const unsigned char **ad, size_t *adlen)
{
	size_t n;

	if (len < 35 + tail)
		return -1;
	n = (size_t)m[33] << 8 | m[34];
	if (n > SEC_AD_MAX || len != 35 + n + tail)
		return -1;
	*y = m + 1;
	*ad = m + 35;
	*adlen = n;
	return 0;
}

/*
 * th = SHA-512(lv("pnc v3 transcript") || lv(sid) || lv(SHA-512(CI)) ||
 * lv(HELLO) || lv(REPLY less its confirm)): the whole exchange as sent.
 */
static void
sec_transcript(const struct sec *s, const unsigned char *hello, size_t hlen,
    const unsigned char *reply, size_t rlen, unsigned char th[SHA512_LEN])
{
	struct sha512 c;

	sha512_init(&c);
	sha512_lv(&c, sec_label_th, sizeof(sec_label_th) - 1);
	sha512_lv(&c, s->sid, sizeof(s->sid));
	sha512_lv(&c, s->ci_hash, sizeof(s->ci_hash));
	sha512_lv(&c, hello, hlen);
	sha512_lv(&c, reply, rlen);
	sha512_final(&c, th);
}

/* out = HMAC-SHA-512(HKDF-Expand(prk, label, 64), th), first 32 bytes. */
static void
sec_tag(unsigned char out[SEC_CONFIRM_LEN], const unsigned char prk[64],
    const char *label, const unsigned char th[SHA512_LEN])
{
	unsigned char k[SHA512_LEN], mac[SHA512_LEN];

	(void)hkdf_sha512_expand(prk, SHA512_LEN, label, strlen(label), k,
	    sizeof(k));
	hmac_sha512(k, sizeof(k), th, SHA512_LEN, mac);
	memcpy(out, mac, SEC_CONFIRM_LEN);
	crypto_wipe(k, sizeof(k));
	crypto_wipe(mac, sizeof(mac));
}

/*
 * The key schedule: PRK = HKDF-Extract(salt = th, IKM = ISK); the two
 * confirmations and the ack from their own keys; a record key per
 * direction. ci and cr are the initiator's and responder's confirm.
 */
static void
sec_derive(struct sec *s, const unsigned char isk[CPACE_ISK_LEN],
    const unsigned char th[SHA512_LEN], unsigned char ci[SEC_CONFIRM_LEN],
    unsigned char cr[SEC_CONFIRM_LEN])
{
	unsigned char prk[SHA512_LEN];

	hkdf_sha512_extract(th, SHA512_LEN, isk, CPACE_ISK_LEN, prk);
	sec_tag(ci, prk, sec_label_ci, th);
	sec_tag(cr, prk, sec_label_cr, th);
	sec_tag(s->ack, prk, sec_label_ack, th);
	(void)hkdf_sha512_expand(prk, sizeof(prk), sec_label_i2r,
	    sizeof(sec_label_i2r) - 1, s->initiator ? s->ktx : s->krx,
	    AEAD_KEY_LEN);
	(void)hkdf_sha512_expand(prk, sizeof(prk), sec_label_r2i,
	    sizeof(sec_label_r2i) - 1, s->initiator ? s->krx : s->ktx,
	    AEAD_KEY_LEN);
	crypto_wipe(prk, sizeof(prk));
}

/*
 * Starts a run: draws the CPace scalar and, as initiator, makes HELLO
 * due. Returns 0, or -1 (s failed) if the secret or AD is too long or
 * the kernel gave no randomness.
 */
int
sec_start(struct sec *s, int initiator, const struct sec_params *p)
{
	unsigned char prs[2 + SEC_SECRET_MAX + 1 + SHA512_LEN], share[32];
	struct cpace_in in;
	int rc;

	memset(s, 0, sizeof(*s));
	s->state = SEC_S_FAILED;
	s->initiator = initiator != 0;
	if (p->secretlen > SEC_SECRET_MAX || p->adlen > SEC_AD_MAX ||
	    (p->secretlen > 0 && p->secret == NULL) ||
	    (p->keylen > 0 && p->key == NULL) ||
	    (p->adlen > 0 && p->ad == NULL) || (p->cilen > 0 && p->ci == NULL))
		return -1;
	store_be64(s->sid, s->initiator ? p->my_id : p->peer_id);
	store_be64(s->sid + 8, s->initiator ? p->peer_id : p->my_id);
	sha512(p->cilen > 0 ? p->ci : "", p->cilen, s->ci_hash);
	memset(&in, 0, sizeof(in));
	in.prs = prs;
	in.prslen = sec_prs(prs, p);
	in.ci = p->cilen > 0 ? p->ci : "";
	in.cilen = p->cilen;
	in.sid = s->sid;
	in.sidlen = sizeof(s->sid);
	in.ad = p->adlen > 0 ? p->ad : "";
	in.adlen = p->adlen;
	rc = cpace_init(&s->cp, s->initiator ? CPACE_INITIATOR :
	    CPACE_RESPONDER, &in, share);
	crypto_wipe(prs, sizeof(prs));
	if (rc == -1) {
		crypto_wipe(&s->cp, sizeof(s->cp));
		return -1;
	}
	s->strict = p->strict;
	s->ad_check = p->ad_check;
	s->ad_arg = p->ad_arg;
	s->seal_limit = SEC_SEAL_LIMIT;
	s->forge_limit = SEC_FORGE_LIMIT;
	s->state = SEC_S_HELLO;
	if (s->initiator) {
		s->outlen = sec_put_share(s->out, SEC_HELLO, share, s->cp.ad,
		    s->cp.adlen);
		s->due = 1;
	}
	return 0;
}

/* Ends the run for good: every key and the scalar wiped. SEC_FAIL. */
static int
sec_fail(struct sec *s, int err)
{
	crypto_wipe(&s->cp, sizeof(s->cp));
	crypto_wipe(s->ktx, sizeof(s->ktx));
	crypto_wipe(s->krx, sizeof(s->krx));
	crypto_wipe(s->confirm, sizeof(s->confirm));
	crypto_wipe(s->ack, sizeof(s->ack));
	s->state = SEC_S_FAILED;
	s->err = err;
	return SEC_FAIL;
}

/* A handshake message we ignore: malformed, unexpected, or a rival. */
static int
sec_drop(struct sec *s)
{
	s->hs_dropped++;
	return SEC_MORE;
}

/* -1 if the caller's check turns the peer's AD down. */
static int
sec_ad_refused(const struct sec *s, const unsigned char *ad, size_t adlen)
{
	return s->ad_check != NULL && s->ad_check(s->ad_arg, ad, adlen) != 0;
}

/*
 * A copy of the message we already answered: 1 (answer again, the same
 * answer), else 0. Compared by digest; both are public.
 */
static int
sec_is_seen(const struct sec *s, const unsigned char *m, size_t len)
{
	unsigned char d[SHA512_LEN];

	sha512(m, len, d);
	return memcmp(d, s->seen, sizeof(d)) == 0;
}

/*
 * Responder, HELLO: the first well-formed one is the run's; its copies
 * get the same REPLY again (once FINISH is in, a late copy is ignored),
 * any other HELLO is dropped (a second answer would give an attacker a
 * second guess).
 */
static int
sec_on_hello(struct sec *s, const unsigned char *m, size_t len)
{
	unsigned char isk[CPACE_ISK_LEN], th[SHA512_LEN];
	unsigned char ci[SEC_CONFIRM_LEN], cr[SEC_CONFIRM_LEN];
	const unsigned char *y, *ad;
	size_t adlen, n;

	if (s->state != SEC_S_HELLO && sec_is_seen(s, m, len)) {
		s->due = s->state == SEC_S_FINISH;	/* late in OPEN: no */
		return SEC_MORE;
	}
	if (s->state != SEC_S_HELLO ||
	    sec_get_share(m, len, 0, &y, &ad, &adlen) == -1)
		return sec_drop(s);
	if (sec_ad_refused(s, ad, adlen))
		return sec_fail(s, SEC_E_AD);
	n = sec_put_share(s->out, SEC_REPLY, s->cp.share, s->cp.ad,
	    s->cp.adlen);
	if (cpace_finish(&s->cp, y, ad, adlen, isk) == -1)
		return sec_fail(s, SEC_E_SHARE);
	sec_transcript(s, m, len, s->out, n, th);
	sec_derive(s, isk, th, ci, cr);
	memcpy(s->out + n, cr, SEC_CONFIRM_LEN);
	s->outlen = n + SEC_CONFIRM_LEN;
	declassify(s->out, s->outlen);		/* it goes on the wire */
	memcpy(s->confirm, ci, SEC_CONFIRM_LEN);
	sha512(m, len, s->seen);
	s->due = 1;
	s->state = SEC_S_FINISH;
	crypto_wipe(isk, sizeof(isk));
	crypto_wipe(ci, sizeof(ci));
	crypto_wipe(cr, sizeof(cr));
	return SEC_MORE;
}

/*
 * Initiator, REPLY: ISK, keys, the responder's confirm checked, FINISH
 * made due. A wrong confirm fails the run, but a FINISH is still due
 * once, with a confirm of zeros, so that the responder fails too instead
 * of waiting. Not our real confirm: if only the REPLY's confirm was
 * altered on the way, that would leave the responder open while we are
 * not; and zeros tell nobody anything.
 */
static int
sec_on_reply(struct sec *s, const unsigned char *m, size_t len)
{
	unsigned char isk[CPACE_ISK_LEN], th[SHA512_LEN];
	unsigned char ci[SEC_CONFIRM_LEN], cr[SEC_CONFIRM_LEN];
	const unsigned char *y, *ad;
	size_t adlen;
	int ok;

	if (s->state == SEC_S_OPEN && sec_is_seen(s, m, len)) {
		s->due = 1;
		return SEC_MORE;
	}
	if (s->state != SEC_S_HELLO ||
	    sec_get_share(m, len, SEC_CONFIRM_LEN, &y, &ad, &adlen) == -1)
		return sec_drop(s);
	if (sec_ad_refused(s, ad, adlen))
		return sec_fail(s, SEC_E_AD);
	if (cpace_finish(&s->cp, y, ad, adlen, isk) == -1)
		return sec_fail(s, SEC_E_SHARE);
	sec_transcript(s, s->out, s->outlen, m, len - SEC_CONFIRM_LEN, th);
	sec_derive(s, isk, th, ci, cr);
	ok = ct_equal(cr, m + len - SEC_CONFIRM_LEN, SEC_CONFIRM_LEN);
	declassify(&ok, sizeof(ok));	/* public: the peer sees the outcome */
	/* failed: an all-zero confirm, which no responder takes for ours */
	s->out[0] = SEC_FINISH;
	memset(s->out + 1, 0, SEC_CONFIRM_LEN);
	if (ok)
		memcpy(s->out + 1, ci, SEC_CONFIRM_LEN);
	s->outlen = 1 + SEC_CONFIRM_LEN;
	declassify(s->out, s->outlen);
	s->due = 1;
	sha512(m, len, s->seen);
	crypto_wipe(isk, sizeof(isk));
	crypto_wipe(ci, sizeof(ci));
	crypto_wipe(cr, sizeof(cr));
	if (!ok)
		return sec_fail(s, SEC_E_AUTH);
	s->state = SEC_S_OPEN;
	return SEC_DONE;
}

/*
 * Responder, FINISH: the initiator's confirm, in constant time. The
 * first right one opens the channel; its copies get the ack again; a
 * wrong one fails a run still waiting, and is dropped after.
 */
static int
sec_on_finish(struct sec *s, const unsigned char *m, size_t len)
{
	int ok;

	if (len != 1 + SEC_CONFIRM_LEN ||
	    (s->state != SEC_S_FINISH && s->state != SEC_S_OPEN))
		return sec_drop(s);
	ok = ct_equal(s->confirm, m + 1, SEC_CONFIRM_LEN);
	declassify(&ok, sizeof(ok));	/* public: the peer sees the outcome */
	if (s->state == SEC_S_OPEN) {
		if (!ok)
			return sec_drop(s);
		s->due = 1;
		return SEC_MORE;
	}
	if (!ok)
		return sec_fail(s, SEC_E_AUTH);
	s->out[0] = SEC_ACK;
	memcpy(s->out + 1, s->ack, SEC_CONFIRM_LEN);
	s->outlen = 1 + SEC_CONFIRM_LEN;
	declassify(s->out, s->outlen);
	s->due = 1;
	s->confirmed = 1;
	s->state = SEC_S_OPEN;
	return SEC_DONE;
}

/* Initiator, ACK: the responder has our FINISH; stop re-sending it. */
static int
sec_on_ack(struct sec *s, const unsigned char *m, size_t len)
{
	int ok;

	if (len != 1 + SEC_CONFIRM_LEN || s->state != SEC_S_OPEN)
		return sec_drop(s);
	ok = ct_equal(s->ack, m + 1, SEC_CONFIRM_LEN);
	declassify(&ok, sizeof(ok));
	if (!ok)
		return sec_drop(s);
	s->confirmed = 1;
	return SEC_MORE;
}

/*
 * A handshake message from the peer. Returns SEC_DONE once, when our
 * side completes (initiator: may seal; responder: may seal and open),
 * SEC_FAIL once, when the run fails (sec_error says why), else SEC_MORE.
 * Then sec_hs_output says whether to answer.
 */
int
sec_hs_input(struct sec *s, const unsigned char *m, size_t len)
{
	if (s->state == SEC_S_FAILED)
		return SEC_MORE;
	if (len == 0)
		return sec_drop(s);
	if (s->initiator && m[0] == SEC_REPLY)
		return sec_on_reply(s, m, len);
	if (s->initiator && m[0] == SEC_ACK)
		return sec_on_ack(s, m, len);
	if (!s->initiator && m[0] == SEC_HELLO)
		return sec_on_hello(s, m, len);
	if (!s->initiator && m[0] == SEC_FINISH)
		return sec_on_finish(s, m, len);
	return sec_drop(s);
}

/*
 * The handshake message to send now (after sec_start, after each
 * sec_hs_input): its length, or 0 if none is due. Each is given once.
 */
size_t
sec_hs_output(struct sec *s, unsigned char *buf, size_t cap)
{
	if (!s->due || cap < s->outlen)
		return 0;
	memcpy(buf, s->out, s->outlen);
	s->due = 0;
	return s->outlen;
}

/*
 * For the retransmission timer: the initiator's latest message (HELLO,
 * then FINISH until the responder confirms it), or 0 when there is
 * nothing more to re-send (the responder only ever answers).
 */
size_t
sec_hs_latest(const struct sec *s, unsigned char *buf, size_t cap)
{
	if (!s->initiator || s->state == SEC_S_FAILED || s->confirmed ||
	    s->outlen == 0 || cap < s->outlen)
		return 0;
	memcpy(buf, s->out, s->outlen);
	return s->outlen;
}

/* 1 once the peer is known to hold the keys: FINISH checked, or acked. */
int
sec_confirmed(const struct sec *s)
{
	return s->confirmed;
}

int
sec_error(const struct sec *s)
{
	return s->err;
}

const char *
sec_strerror(int err)
{
	switch (err) {
	case SEC_E_NONE:
		return "no error";
	case SEC_E_AUTH:
		return "authentication failed: the peer does not hold our key "
		    "or code, or someone tried to intercept";
	case SEC_E_SHARE:
		return "authentication failed: the peer sent an invalid key share";
	case SEC_E_AD:
		return "authentication failed: the peer's view of the path "
		    "does not match ours";
	case SEC_E_LIMIT:
		return "record counter exhausted";
	case SEC_E_ORDER:
		return "a record was missing, repeated or out of order";
	case SEC_E_FORGED:
		return "a record failed authentication";
	}
	return "unknown error";
}

/* Wipes every key and secret; s must be started again to be used. */
void
sec_close(struct sec *s)
{
	crypto_wipe(s, sizeof(*s));
	s->state = SEC_S_FAILED;
}

/* ---- records: hdr || counter(8) || ChaCha20-Poly1305(type || data) ---- */

/* nonce = 0(4) || the counter as on the wire (8, big-endian). */
static void
sec_nonce(unsigned char nonce[AEAD_NONCE_LEN], uint64_t c)
{
	memset(nonce, 0, 4);
	store_be64(nonce + 4, c);
}

/*
 * Seals one record into out: the caller's header (hdrlen bytes, sent in
 * the clear, authenticated), our next counter, then type (0..255) and
 * the n payload bytes encrypted, then the tag. hdr may be out itself and
 * payload may be out + hdrlen + 9 (in place); no other overlap. Returns
 * the record's length, hdrlen + 25 + n, or 0 if it cannot be sealed:
 * the handshake is not done (a responder seals only after FINISH), cap
 * is short, or the counter reached its limit (then s fails: the session
 * must end; a new handshake is the rekey).
 */
size_t
sec_seal(struct sec *s, const void *hdr, size_t hdrlen, int type,
    const void *payload, size_t n, unsigned char *out, size_t cap)
{
	unsigned char nonce[AEAD_NONCE_LEN], *p;

	if (s->state != SEC_S_OPEN || type < 0 || type > 255 ||
	    hdrlen > cap || cap - hdrlen < SEC_OVERHEAD ||
	    n > cap - hdrlen - SEC_OVERHEAD)
		return 0;
	if (s->tx_next >= s->seal_limit || s->tx_next == UINT64_MAX) {
		(void)sec_fail(s, SEC_E_LIMIT);
		return 0;
	}
	p = out + hdrlen;
	if (n > 0 && p + SEC_CTR_LEN + 1 != (const unsigned char *)payload)
		memmove(p + SEC_CTR_LEN + 1, payload, n);
	p[SEC_CTR_LEN] = (unsigned char)type;
	store_be64(p, s->tx_next);
	if (hdrlen > 0 && out != (const unsigned char *)hdr)
		memmove(out, hdr, hdrlen);
	sec_nonce(nonce, s->tx_next);
	chacha20poly1305_seal(p + SEC_CTR_LEN, p + SEC_CTR_LEN, 1 + n, out,
	    hdrlen + SEC_CTR_LEN, nonce, s->ktx);
	s->tx_next++;
	return hdrlen + SEC_OVERHEAD + n;
}

/* Counter c's bit in the replay window (a ring of SEC_WINDOW bits). */
static uint64_t *
sec_win_word(struct sec *s, uint64_t c, uint64_t *bit)
{
	*bit = UINT64_C(1) << (c % 64);
	return &s->win[c % SEC_WINDOW / 64];
}

/* 0 if counter c may be a new record, else -1 with the reason counted. */
static int
sec_win_check(struct sec *s, uint64_t c)
{
	uint64_t bit, *w;

	if (c >= s->rx_top)
		return 0;
	if (s->rx_top - c > SEC_WINDOW) {
		s->too_old++;
		return -1;
	}
	w = sec_win_word(s, c, &bit);
	if (*w & bit) {
		s->replayed++;
		return -1;
	}
	return 0;
}

/* Records c as seen, sliding the window up if c is the new top. */
static void
sec_win_mark(struct sec *s, uint64_t c)
{
	uint64_t bit, i, *w;

	if (c >= s->rx_top) {
		if (c - s->rx_top >= SEC_WINDOW)
			memset(s->win, 0, sizeof(s->win));
		else
			for (i = s->rx_top; i < c; i++) {
				w = sec_win_word(s, i, &bit);
				*w &= ~bit;
			}
		s->rx_top = c + 1;
	}
	w = sec_win_word(s, c, &bit);
	*w |= bit;
}

/* A record turned down: -1, and in strict mode the end of s. */
static int
sec_reject(struct sec *s, int err)
{
	if (s->strict && s->state != SEC_S_FAILED)
		(void)sec_fail(s, err);
	return -1;
}

/*
 * Opens a record of len bytes whose first hdrlen are the caller's header,
 * in place. Returns 0 with *type, *payload (inside rec) and *n set, or
 * -1 with rec untouched and the reason counted: early (the handshake is
 * not done here: a responder before FINISH), too_old (below the replay
 * window), replayed, forged (short, or the tag is wrong: altered,
 * reflected, or another key). In strict mode (a byte stream) the counter
 * must be the next one and any -1 fails s for good.
 */
int
sec_open(struct sec *s, unsigned char *rec, size_t len, size_t hdrlen,
    int *type, const unsigned char **payload, size_t *n)
{
	unsigned char nonce[AEAD_NONCE_LEN], *p;
	uint64_t c;

	if (s->state != SEC_S_OPEN) {
		if (s->state != SEC_S_FAILED)
			s->early++;
		return sec_reject(s, SEC_E_ORDER);
	}
	if (len < hdrlen || len - hdrlen < SEC_OVERHEAD) {
		s->forged++;
		return sec_reject(s, SEC_E_FORGED);
	}
	p = rec + hdrlen;
	c = load_be64(p);
	if (s->strict && c != s->rx_top)
		return sec_reject(s, SEC_E_ORDER);
	if (c == UINT64_MAX) {		/* never sealed: see sec_seal */
		s->forged++;
		return sec_reject(s, SEC_E_FORGED);
	}
	if (sec_win_check(s, c) == -1)
		return sec_reject(s, SEC_E_ORDER);
	sec_nonce(nonce, c);
	if (chacha20poly1305_open(p + SEC_CTR_LEN, p + SEC_CTR_LEN,
	    len - hdrlen - SEC_CTR_LEN, rec, hdrlen + SEC_CTR_LEN, nonce,
	    s->krx) == -1) {
		if (++s->forged >= s->forge_limit)
			(void)sec_fail(s, SEC_E_FORGED);
		return sec_reject(s, SEC_E_FORGED);
	}
	sec_win_mark(s, c);
	s->confirmed = 1;	/* the initiator: the responder has FINISH */
	*type = p[SEC_CTR_LEN];
	*payload = p + SEC_CTR_LEN + 1;
	*n = len - hdrlen - SEC_OVERHEAD;
	return 0;
}

/* ---- codes for the shell: "7-harbor-cobalt-tiger" ---- */

/*
 * The code words: the words of 3 to 5 letters of the EFF large wordlist
 * (Electronic Frontier Foundation, 2016, CC-BY-3.0, eff.org/dice), less
 * brand names and a few words unpleasant to read out; tests/wordlist.sh
 * makes this table from Debian's `diceware` package. Sorted, distinct,
 * NUL-padded to 6 bytes: no pointers, and every entry compares alike.
 */
static const char code_words[][6] = {
	"abide", "able", "acid", "acorn", "acre", "acts", "afar", "affix",
	"afoot", "aged", "agent", "agile", "aging", "agony", "ahead", "ahoy",
	"aide", "aim", "ajar", "alarm", "album", "alias", "alibi", "alike",
	"alive", "aloe", "aloft", "aloha", "alone", "aloof", "alto", "amaze",
	"amber", "amid", "amigo", "amino", "amiss", "among", "ample", "amply",
	"amuck", "anew", "anger", "anime", "ankle", "annex", "antsy", "anvil",
	"aorta", "apple", "apply", "april", "apron", "aptly", "aqua", "area",
	"arena", "argue", "arise", "armed", "army", "aroma", "arose", "array",
	"art", "ashen", "ashes", "ashy", "aside", "askew", "atlas", "atom",
	"atop", "attic", "audio", "avert", "avid", "avoid", "await", "award",
	"aware", "awoke", "awry", "axis", "bacon", "badge", "badly", "bagel",
	"baggy", "baked", "balmy", "banjo", "barge", "barn", "bash", "basil",
	"basin", "basis", "batch", "bath", "baton", "bats", "blade", "blah",
	"blame", "blank", "blast", "bleak", "bleep", "blend", "bless", "blimp",
	"bling", "blip", "blitz", "blob", "blog", "blot", "bluff", "blunt",
	"blurb", "blurt", "blush", "boat", "body", "bogus", "boil", "bok",
	"bolt", "boned", "boney", "bonus", "bony", "book", "booth", "boots",
	"boozy", "borax", "boss", "botch", "both", "boxer", "boxy", "briar",
	"bribe", "brick", "bride", "brim", "bring", "brink", "brook", "broom",
	"brunt", "brush", "brute", "buddy", "buggy", "bulb", "bulge", "bulk",
	"bunch", "bunny", "bunt", "bush", "bust", "buzz", "cable", "cache",
	"cacti", "caddy", "cadet", "cage", "cake", "calm", "cameo", "canal",
	"candy", "cane", "canon", "cape", "carat", "cargo", "carol", "carry",
	"carve", "case", "cash", "catty", "cause", "cedar", "chafe", "chain",
	"chair", "chant", "chaos", "chaps", "charm", "chase", "cheek", "cheer",
	"chef", "chess", "chest", "chewy", "chief", "chili", "chill", "chimp",
	"chip", "chive", "chomp", "chop", "chuck", "chug", "chump", "chunk",
	"churn", "chute", "cider", "cinch", "city", "civic", "civil", "clad",
	"claim", "clamp", "clang", "clash", "clasp", "class", "claw", "clay",
	"clean", "clear", "cleat", "cleft", "clerk", "cling", "clip", "cloak",
	"clock", "clone", "cloud", "clump", "coach", "coat", "cocoa", "cod",
	"coil", "cola", "cold", "colt", "coma", "come", "comfy", "comic",
	"comma", "conch", "cone", "cope", "copy", "coral", "cork", "corny",
	"cost", "couch", "cough", "could", "cover", "cozy", "cramp", "crane",
	"crank", "crate", "crave", "crazy", "creed", "creme", "crepe", "crept",
	"crib", "cried", "crier", "crimp", "croak", "crock", "crook", "croon",
	"crop", "cross", "crowd", "crown", "crumb", "crust", "crux", "cube",
	"cupid", "cure", "curly", "curry", "curve", "curvy", "cushy", "cusp",
	"cut", "cycle", "dab", "dad", "daily", "dairy", "daisy", "dance",
	"dandy", "dares", "darn", "dart", "dash", "data", "dawn", "dealt",
	"dean", "debit", "debug", "decaf", "decal", "decay", "deck", "decoy",
	"deed", "deem", "defog", "defy", "delay", "delta", "denim", "dense",
	"deny", "depth", "derby", "deuce", "dial", "diary", "dice", "dig",
	"dill", "dime", "dimly", "diner", "dingo", "dingy", "dish", "disk",
	"ditch", "ditto", "ditzy", "dizzy", "dock", "dodge", "dodgy", "doily",
	"doing", "dole", "dolly", "donor", "donut", "doozy", "dose", "dove",
	"down", "dowry", "doze", "drab", "drank", "draw", "dress", "drew",
	"dried", "drier", "drift", "drone", "drool", "droop", "drove", "drown",
	"drum", "dry", "ducky", "duct", "dude", "duh", "duke", "duly",
	"duo", "dupe", "dusk", "dust", "duty", "duvet", "dwarf", "each",
	"eagle", "early", "easel", "eaten", "eats", "ebony", "ebook", "ecard",
	"echo", "edge", "edgy", "eel", "eject", "elbow", "elf", "elite",
	"elk", "elm", "elope", "elude", "elves", "email", "ember", "emcee",
	"emit", "emote", "empty", "emu", "ended", "envoy", "envy", "epic",
	"equal", "error", "erupt", "essay", "ether", "evade", "even", "evict",
	"evoke", "exact", "exert", "exes", "exile", "exit", "expel", "fable",
	"fade", "fall", "false", "fame", "fancy", "fang", "fax", "feast",
	"feed", "feel", "femur", "fence", "ferry", "fetch", "fever", "fiber",
	"fifth", "fifty", "film", "finch", "finer", "fit", "five", "flail",
	"flaky", "flame", "flap", "flask", "fled", "flick", "flier", "fling",
	"flint", "flip", "flirt", "float", "flock", "flop", "floss", "flyer",
	"foam", "foe", "fog", "foil", "folic", "folk", "font", "food",
	"fool", "fox", "foyer", "frail", "frame", "frays", "fresh", "fried",
	"frill", "frisk", "from", "front", "froth", "frown", "fruit", "gab",
	"gaffe", "gag", "gains", "gala", "game", "gamma", "gap", "gas",
	"gauze", "gave", "gawk", "gear", "gecko", "geek", "gem", "genre",
	"gents", "getup", "giant", "giddy", "gift", "gills", "given", "giver",
	"gizmo", "glade", "glare", "glass", "glory", "gloss", "glove", "glue",
	"gnat", "goal", "goes", "going", "golf", "gone", "gong", "good",
	"gooey", "goofy", "goon", "gout", "gown", "grab", "grain", "grant",
	"grape", "graph", "grasp", "grass", "gravy", "gray", "green", "grew",
	"grid", "grief", "grill", "grime", "grimy", "grip", "grit", "groom",
	"grout", "grove", "growl", "grub", "grunt", "guide", "guise", "gulf",
	"gully", "gulp", "gummy", "guru", "gush", "gusto", "gusty", "guts",
	"guy", "had", "haiku", "half", "halt", "hanky", "happy", "hardy",
	"harsh", "hash", "haste", "hasty", "haunt", "haven", "hazy", "heap",
	"heat", "heave", "hedge", "hefty", "hence", "henna", "herbs", "hertz",
	"huff", "hug", "hula", "hulk", "hull", "human", "humid", "hunk",
	"hurry", "hurt", "hush", "hut", "ice", "icing", "icky", "icon",
	"icy", "idiom", "idly", "igloo", "image", "imply", "ion", "irate",
	"irk", "iron", "issue", "item", "ivory", "ivy", "jab", "jam",
	"jaunt", "jawed", "jaws", "jazz", "jeep", "jelly", "jet", "jiffy",
	"jimmy", "jinx", "job", "jolly", "jolt", "jot", "judge", "judo",
	"juice", "juicy", "july", "jumbo", "jump", "june", "juror", "jury",
	"kabob", "karma", "kebab", "keep", "keg", "kelp", "kept", "kick",
	"kiln", "kilt", "king", "kite", "kitty", "kiwi", "knee", "knelt",
	"knoll", "koala", "kooky", "kudos", "kung", "ladle", "lair", "lake",
	"lance", "lanky", "lapel", "lard", "large", "lark", "lash", "lasso",
	"last", "latch", "late", "lazy", "left", "legal", "lemon", "lend",
	"lens", "lent", "level", "lid", "life", "lilac", "lilly", "lily",
	"limb", "limes", "limit", "line", "lingo", "lint", "lion", "lip",
	"lisp", "list", "lived", "liver", "lucid", "lunar", "lung", "lurch",
	"lure", "lurk", "lying", "macaw", "mace", "magma", "maker", "malt",
	"mama", "mango", "mangy", "manly", "manor", "many", "map", "march",
	"mardi", "marry", "math", "mauve", "maybe", "mocha", "molar", "mold",
	"mom", "moody", "mop", "morse", "mossy", "most", "motor", "motto",
	"mouse", "mousy", "mouth", "move", "movie", "mower", "much", "muck",
	"mud", "mug", "mulch", "mule", "mumbo", "mummy", "mural", "murky",
	"mushy", "music", "musky", "musty", "mute", "mutt", "myth", "nacho",
	"nag", "nail", "name", "nanny", "nape", "navy", "neon", "nerd",
	"nervy", "nest", "net", "never", "next", "niece", "nifty", "ninja",
	"ninth", "nutty", "nylon", "oaf", "oak", "oasis", "oat", "oboe",
	"ocean", "ogle", "oil", "oink", "okay", "old", "olive", "omega",
	"omen", "omit", "onion", "only", "onset", "onto", "onyx", "oops",
	"ooze", "oozy", "opal", "open", "opt", "other", "otter", "ouch",
	"ought", "ounce", "outer", "oval", "oven", "owl", "ozone", "paced",
	"pager", "palm", "panda", "pang", "panic", "pants", "paper", "parka",
	"party", "pasta", "pasty", "path", "patio", "paver", "payee", "payer",
	"pecan", "pelt", "penny", "pep", "perch", "perky", "perm", "pesky",
	"peso", "petal", "petri", "petty", "phony", "photo", "plank", "plant",
	"plaza", "pleat", "plod", "plop", "plot", "plow", "ploy", "pluck",
	"plug", "plus", "poach", "pod", "poem", "poet", "pogo", "poise",
	"poker", "polar", "polka", "polo", "pond", "pony", "poppy", "pork",
	"poser", "posh", "pouch", "pound", "pout", "power", "press", "pried",
	"primp", "print", "prior", "prism", "prize", "probe", "prone", "prong",
	"props", "proud", "proxy", "prune", "pry", "pug", "pull", "pulp",
	"pulse", "puma", "punch", "punk", "pupil", "puppy", "purge", "purr",
	"purse", "pushy", "putt", "quack", "quail", "quake", "qualm", "query",
	"quiet", "quill", "quilt", "quirk", "quit", "quote", "rabid", "race",
	"rack", "radar", "radio", "raft", "rage", "rake", "rally", "ramp",
	"ranch", "rants", "rare", "rash", "raven", "reach", "ream", "rebel",
	"rehab", "relax", "relay", "relic", "rely", "remix", "reply", "reps",
	"rerun", "reset", "retry", "reuse", "rhyme", "rice", "ride", "rift",
	"rigid", "rigor", "rind", "rink", "rinse", "riot", "rise", "risk",
	"ritzy", "rival", "roast", "robe", "robin", "rocky", "rogue", "roman",
	"romp", "rope", "rosy", "rover", "royal", "ruby", "rug", "rule",
	"rumor", "runny", "runt", "rural", "ruse", "rush", "rust", "rut",
	"sadly", "saga", "sage", "saggy", "said", "saint", "sake", "salad",
	"salon", "salsa", "salt", "same", "sandy", "sank", "santa", "sappy",
	"sash", "sassy", "satin", "saucy", "sauna", "saved", "savor", "say",
	"scale", "scam", "scant", "scarf", "scary", "scion", "scoff", "scone",
	"scoop", "scope", "scorn", "scrap", "scuba", "scuff", "sedan", "self",
	"send", "sepia", "serve", "setup", "shack", "shady", "shaft", "shaky",
	"shale", "shame", "shank", "shape", "share", "shawl", "shed", "sheep",
	"sheet", "shelf", "shell", "shine", "shiny", "ship", "shirt", "shock",
	"shone", "shore", "shout", "shove", "shown", "showy", "shrug", "shun",
	"shush", "shut", "shy", "sift", "silk", "silly", "silo", "silt",
	"sip", "siren", "sixth", "size", "skid", "skied", "skier", "skies",
	"skirt", "slab", "slam", "slang", "slate", "slaw", "sled", "sleek",
	"sleep", "sleet", "slept", "slick", "slimy", "slip", "slit", "slot",
	"slug", "slum", "slurp", "slush", "sly", "small", "smell", "smile",
	"smirk", "smith", "smock", "smog", "smoky", "snack", "snap", "snare",
	"snarl", "sneak", "sneer", "snide", "sniff", "snore", "snort", "snout",
	"snowy", "snub", "snuff", "speak", "speed", "spent", "spew", "spied",
	"spill", "spilt", "spiny", "spoof", "spool", "spoon", "spore", "spout",
	"spray", "spree", "sprig", "spry", "spud", "spur", "squad", "squid",
	"stack", "staff", "stage", "stamp", "stand", "stank", "stark", "stash",
	"state", "stays", "steam", "steed", "steep", "stem", "step", "stew",
	"stick", "stilt", "stir", "stock", "stoic", "stoke", "stole", "stomp",
	"stony", "stood", "stool", "stoop", "storm", "stout", "stove", "straw",
	"stray", "strep", "strum", "strut", "stuck", "study", "stump", "stung",
	"stunt", "suave", "such", "suds", "sugar", "suing", "sulk", "sushi",
	"swab", "swan", "swarm", "sway", "sweat", "sweep", "swell", "swept",
	"swipe", "swirl", "swoop", "swore", "sworn", "swung", "syrup", "tabby",
	"tacky", "taco", "tag", "take", "tall", "talon", "tamer", "tank",
	"taps", "tarot", "task", "taste", "tasty", "taunt", "thank", "that",
	"thaw", "thee", "theft", "theme", "these", "thigh", "thing", "think",
	"thorn", "those", "thud", "thumb", "thus", "tiara", "tibia", "tidal",
	"tidy", "tiger", "tile", "till", "tilt", "timid", "tint", "tiny",
	"trace", "track", "trade", "train", "traps", "trash", "tray", "treat",
	"tree", "trend", "trial", "tried", "trio", "trout", "truce", "truck",
	"truth", "try", "tubby", "tug", "tulip", "tummy", "turf", "tusk",
	"tutor", "tutu", "tux", "tweak", "tweed", "tweet", "twice", "twig",
	"twine", "twins", "twirl", "tying", "tyke", "udder", "ultra", "uncle",
	"uncut", "unify", "union", "unit", "unlit", "untie", "until", "unwed",
	"unzip", "upon", "upper", "urban", "usage", "used", "user", "usher",
	"usual", "utter", "valid", "value", "veal", "vegan", "venue", "venus",
	"verse", "very", "vest", "veto", "vibes", "vice", "video", "viper",
	"viral", "visa", "visor", "vista", "vixen", "voice", "void", "voter",
	"vowed", "vowel", "wad", "wafer", "waged", "wager", "wages", "wagon",
	"wake", "walk", "waltz", "wand", "wasp", "watch", "water", "wavy",
	"wham", "wharf", "wheat", "whiff", "whiny", "whole", "why", "wick",
	"widen", "widow", "width", "wife", "wifi", "wilt", "wimp", "wince",
	"wind", "wing", "wipe", "wired", "wiry", "wise", "wish", "wispy",
	"wok", "wolf", "woof", "wool", "woozy", "word", "work", "worry",
	"worst", "wound", "woven", "wow", "wrath", "wrist", "yam", "yard",
	"yarn", "yeah", "yeast", "yelp", "yen", "yield", "yin", "yodel",
	"yoga", "yoyo", "yummy", "zap", "zebra", "zen", "zero", "zesty",
	"zippy", "zips", "zone", "zoom",
};

#define CODE_NLIST	(sizeof(code_words) / sizeof(code_words[0]))

/* A draw of 11 bits covers the list; more would waste entropy. */
_Static_assert(CODE_NLIST >= 1024 && CODE_NLIST <= 2048,
    "code word list size");

size_t
code_nwords(void)
{
	return CODE_NLIST;
}

/* The i-th code word, or NULL past the end. */
const char *
code_word(size_t i)
{
	return i < CODE_NLIST ? code_words[i] : NULL;
}

/*
 * The index of the n-letter word w, or -1 if it is not in the list. All
 * entries are compared in full, without an early exit: a code's words
 * are a secret, and the time taken should not say where they are.
 */
static long
code_lookup(const char *w, size_t n)
{
	unsigned char pad[6] = { 0 };
	unsigned long found = 0, idx = 0;
	unsigned int d, eq;
	size_t i, j;

	if (n == 0 || n >= sizeof(pad))
		return -1;
	memcpy(pad, w, n);
	for (i = 0; i < CODE_NLIST; i++) {
		d = 0;
		for (j = 0; j < sizeof(pad); j++)
			d |= (unsigned char)code_words[i][j] ^ pad[j];
		eq = ((d - 1) >> 8) & 1;	/* d is 0..255 */
		idx |= i & (0UL - eq);
		found |= eq;
	}
	return found ? (long)idx : -1;
}

/*
 * A uniform index into the list: 11 random bits, drawn again when past
 * the end (rejection sampling: a modulo would favour the first entries).
 * Returns 0, or -1 if the kernel gave no randomness.
 */
static int
code_draw(size_t *idx)
{
	unsigned char b[2];
	size_t v;

	do {
		if (getentropy(b, sizeof(b)) == -1)
			return -1;
		v = ((size_t)b[0] | (size_t)b[1] << 8) & 2047;
	} while (v >= CODE_NLIST);
	*idx = v;
	crypto_wipe(b, sizeof(b));
	return 0;
}

/*
 * Writes a fresh code, "NAMEPLATE-word-word-word", to out. Returns its
 * length, or -1 if cap is short (CODE_MAX always does), the nameplate
 * is over CODE_NAMEPLATE_MAX, or no randomness came.
 */
int
code_new(char *out, size_t cap, unsigned nameplate)
{
	char buf[CODE_MAX];
	size_t i, idx, k;

	if (nameplate > CODE_NAMEPLATE_MAX)
		return -1;
	k = (size_t)snprintf(buf, sizeof(buf), "%u", nameplate);
	for (i = 0; i < CODE_WORDS; i++) {
		if (code_draw(&idx) == -1) {
			crypto_wipe(buf, sizeof(buf));
			return -1;
		}
		buf[k++] = '-';
		memcpy(buf + k, code_words[idx], strlen(code_words[idx]));
		k += strlen(code_words[idx]);
	}
	buf[k] = '\0';
	if (k + 1 > cap) {
		crypto_wipe(buf, sizeof(buf));
		return -1;
	}
	memcpy(out, buf, k + 1);
	crypto_wipe(buf, sizeof(buf));
	return (int)k;
}

/*
 * Splits a code into its nameplate (decimal, no leading zero, at most
 * CODE_NAMEPLATE_MAX) and its secret, the three words joined by '-', as
 * CPace's password. Strict: exactly three lowercase words of the list,
 * each after one '-', nothing else. Returns 0, or -1 with nothing
 * written.
 */
int
code_parse(const char *code, unsigned *nameplate, char *secret, size_t cap)
{
	char buf[CODE_MAX];
	const char *p = code;
	unsigned long np = 0;
	size_t i, n, k = 0;

	for (n = 0; n < CODE_MAX && code[n] != '\0'; n++)
		continue;		/* strnlen, which C11 lacks */
	if (n == CODE_MAX || *p < '0' || *p > '9' ||
	    (p[0] == '0' && p[1] >= '0' && p[1] <= '9'))
		return -1;
	for (; *p >= '0' && *p <= '9'; p++)
		if ((np = np * 10 + (unsigned long)(*p - '0')) >
		    CODE_NAMEPLATE_MAX)
			return -1;
	for (i = 0; i < CODE_WORDS; i++) {
		if (*p++ != '-')
			goto bad;
		for (n = 0; p[n] >= 'a' && p[n] <= 'z'; n++)
			continue;
		if (code_lookup(p, n) == -1)
			goto bad;
		if (i > 0)
			buf[k++] = '-';
		memcpy(buf + k, p, n);
		k += n;
		p += n;
	}
	if (*p != '\0' || k + 1 > cap)
		goto bad;
	memcpy(secret, buf, k);
	secret[k] = '\0';
	*nameplate = (unsigned)np;
	crypto_wipe(buf, sizeof(buf));
	return 0;
bad:
	crypto_wipe(buf, sizeof(buf));
	return -1;
}
