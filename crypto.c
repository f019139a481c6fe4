/*
 * crypto.c - SHA-256 (FIPS 180-4), HMAC-SHA256 (RFC 2104), a
 * constant-time compare, for authenticating rendezvous messages, and
 * SipHash-2-4 for the mediator's cookies and hash tables.
 *
 * Written for pnc rather than borrowed so that the tool stays libc-only.
 * Byte order is handled byte by byte, never by casting buffers to
 * uint32_t, so the code is the same on any host and never reads
 * unaligned memory.
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

/* ---- -K: the session sealing (README "Authentication") ---- */

/* The first n bytes of HMAC-SHA256(k, a || b), k already keyed. */
static void
mac_trunc(const struct hmac_sha256 *k, const void *a, size_t alen,
    const void *b, size_t blen, unsigned char *out, size_t n)
{
	struct hmac_sha256 h = *k;
	unsigned char tag[SHA256_LEN];

	hmac_update(&h, a, alen);
	if (blen > 0)
		hmac_update(&h, b, blen);
	hmac_final(&h, tag);
	memcpy(out, tag, n);
}

/*
 * Derive the keys from the key material and label (the name the user
 * gave), and write the name the mediator gets (a keyed hash, 32 hex
 * digits) into wire. Each session then takes a nonce (auth_start).
 * Returns 0 or -1.
 */
int
auth_init(struct auth *a, const unsigned char *key, size_t keylen,
    const char *label, char *wire, size_t wirelen)
{
	static const char hex[] = "0123456789abcdef";
	struct hmac_sha256 k;
	unsigned char K[SHA256_LEN], t[SHA256_LEN];
	size_t n = strlen(label);
	int i;

	if (wirelen < 33)
		return -1;
	memset(a, 0, sizeof(*a));
	hmac_sha256(key, keylen, "pnc v2 key", 10, K);
	hmac_init(&k, K, sizeof(K));
	mac_trunc(&k, "pnc v2 name", 11, label, n, t, sizeof(t));
	for (i = 0; i < 16; i++) {
		wire[2 * i] = hex[t[i] >> 4];
		wire[2 * i + 1] = hex[t[i] & 15];
	}
	wire[32] = '\0';
	mac_trunc(&k, "pnc v2 peer", 11, label, n, t, sizeof(t));
	hmac_init(&a->kn, t, sizeof(t));
	a->on = 1;
	return 0;
}

/*
 * A session's authentication state from the key (NULL: none) and a
 * fresh random nonce (the caller's: this file has no entropy source);
 * nothing learned of the peer yet.
 */
void
auth_start(struct auth *a, const struct auth *key,
    const unsigned char nonce[NONCE_LEN])
{
	struct hmac_sha256 kn;
	int on = key != NULL && key->on;

	if (on)
		kn = key->kn;	/* key may be a itself */
	memset(a, 0, sizeof(*a));
	if (!on)
		return;
	a->on = 1;
	a->kn = kn;
	memcpy(a->nonce, nonce, NONCE_LEN);
}

/*
 * PROBE and ACK: append our nonce, the peer's as far as we know it, and
 * the MAC to the len bytes of buf (cap in all). Returns the new length,
 * or 0 when it does not fit.
 */
size_t
auth_hs_put(const struct auth *a, unsigned char *buf, size_t len, size_t cap)
{
	static const unsigned char zero[NONCE_LEN];

	if (!a->on)
		return len;
	if (cap < len || cap - len < AUTH_HS)
		return 0;
	memcpy(buf + len, a->nonce, NONCE_LEN);
	memcpy(buf + len + NONCE_LEN, a->have_peer ? a->peer_nonce : zero,
	    NONCE_LEN);
	len += 2 * NONCE_LEN;
	mac_trunc(&a->kn, buf, len, NULL, 0, buf + len, MAC_LEN);
	return len + MAC_LEN;
}

/* Both nonces known: the session key, the same on both sides. */
static void
session_key(struct auth *a, const unsigned char *theirs, int controlling)
{
	struct hmac_sha256 h = a->kn;
	unsigned char t[SHA256_LEN];

	memcpy(a->peer_nonce, theirs, NONCE_LEN);
	hmac_update(&h, "pnc v2 session", 14);
	hmac_update(&h, controlling ? a->nonce : theirs, NONCE_LEN);
	hmac_update(&h, controlling ? theirs : a->nonce, NONCE_LEN);
	hmac_final(&h, t);
	hmac_init(&a->ks, t, sizeof(t));
	a->have_peer = 1;
}

/*
 * Check the MAC of a PROBE or ACK; ours says it comes from the
 * introduced peer, whose nonce it teaches us. Returns the length without
 * the trailer, or 0 to drop it. a->fresh says whether it echoed our
 * nonce: only such a message proves that the peer holds the key now,
 * and not in a recording.
 */
size_t
auth_hs_check(struct auth *a, const unsigned char *buf, size_t len, int ours,
    int controlling)
{
	unsigned char mac[MAC_LEN];
	const unsigned char *n;

	a->fresh = 0;
	if (len < HDR_LEN + AUTH_HS)
		goto bad;
	n = buf + len - AUTH_HS;
	mac_trunc(&a->kn, buf, len - MAC_LEN, NULL, 0, mac, MAC_LEN);
	if (!ct_equal(mac, buf + len - MAC_LEN, MAC_LEN))
		goto bad;
	if (ours && !a->have_peer)
		session_key(a, n, controlling);
	else if (ours && !ct_equal(a->peer_nonce, n, NONCE_LEN))
		goto bad;
	a->fresh = ours && ct_equal(n + NONCE_LEN, a->nonce, NONCE_LEN);
	return len - AUTH_HS;
bad:
	if (ours)
		a->badhs++;
	return 0;
}

/*
 * Session messages: append seq and MAC (buf has AUTH_TRAILER bytes of
 * room). Returns the new length.
 */
size_t
auth_seal(struct auth *a, unsigned char *buf, size_t len)
{
	uint64_t seq;
	int i;

	if (!a->on)
		return len;
	seq = ++a->tx_seq;
	for (i = 0; i < 8; i++)		/* big-endian, as on the wire */
		buf[len + i] = (unsigned char)(seq >> (56 - 8 * i));
	mac_trunc(&a->ks, buf, len + 8, NULL, 0, buf + len + 8, MAC_LEN);
	return len + AUTH_TRAILER;
}

/* Mark bit d of the replay window set after moving the top up by k. */
static void
win_shift(uint64_t *w, uint64_t k)
{
	int i, src, n = REPLAY_WIN / 64;
	unsigned bits = (unsigned)(k % 64);

	if (k >= REPLAY_WIN) {
		memset(w, 0, REPLAY_WIN / 8);
		return;
	}
	for (i = n - 1; i >= 0; i--) {	/* bit j moves to j + k */
		src = i - (int)(k / 64);
		w[i] = src < 0 ? 0 : w[src] << bits;
		if (src > 0 && bits)
			w[i] |= w[src - 1] >> (64 - bits);
	}
}

/*
 * Check a session message's MAC and sequence number. Returns its length
 * without the trailer, or -1 when it is forged, altered or replayed
 * (counted in a).
 */
long
auth_open(struct auth *a, const unsigned char *buf, size_t len)
{
	unsigned char mac[MAC_LEN];
	const unsigned char *s;
	uint64_t seq = 0, d;
	int i;

	if (!a->on)
		return (long)len;
	if (!a->have_peer || len < HDR_LEN + AUTH_TRAILER)
		goto forged;
	mac_trunc(&a->ks, buf, len - MAC_LEN, NULL, 0, mac, MAC_LEN);
	if (!ct_equal(mac, buf + len - MAC_LEN, MAC_LEN))
		goto forged;
	s = buf + len - AUTH_TRAILER;
	for (i = 0; i < 8; i++)
		seq = seq << 8 | s[i];
	if (seq == 0)
		goto forged;
	if (seq > a->rx_top) {
		win_shift(a->win, seq - a->rx_top);
		a->rx_top = seq;
		d = 0;
	} else if ((d = a->rx_top - seq) >= REPLAY_WIN ||
	    (a->win[d / 64] >> (d % 64) & 1)) {
		a->replayed++;
		return -1;
	}
	a->win[d / 64] |= (uint64_t)1 << (d % 64);
	return (long)(len - AUTH_TRAILER);
forged:
	a->forged++;
	return -1;
}
