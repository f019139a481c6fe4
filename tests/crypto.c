/*
 * tests/crypto.c - the primitives of crypto.c against published vectors: FIPS 180-4 / NIST
 * examples for SHA-256, RFC 4231 cases 1-7 for HMAC-SHA256; then how
 * the input is split into updates must not matter, ct_equal, and
 * SipHash-2-4 against its reference vectors.
 *
 * Prints "ok NAME" or "FAIL NAME expected X got Y" per check, then
 * "N passed, M failed"; exits 1 if anything failed.
 *
 *	cc -std=c11 -Wall -Wextra -O2 -o crypto tests/crypto.c crypto.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../pnc.h"

static int npass, nfail;

static void
tohex(char *dst, const unsigned char *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		dst[2 * i] = digits[p[i] >> 4];
		dst[2 * i + 1] = digits[p[i] & 0xf];
	}
	dst[2 * n] = '\0';
}

/* Compares the n bytes at got with want, written in lower-case hex. */
static void
check_hex(const char *name, const char *want, const unsigned char *got,
    size_t n)
{
	char hex[2 * SHA256_LEN + 1];

	tohex(hex, got, n);
	if (strcmp(hex, want) == 0) {
		printf("ok %s\n", name);
		npass++;
	} else {
		printf("FAIL %s expected %s got %s\n", name, want, hex);
		nfail++;
	}
}

static void
check_int(const char *name, int want, int got)
{
	if (want == got) {
		printf("ok %s\n", name);
		npass++;
	} else {
		printf("FAIL %s expected %d got %d\n", name, want, got);
		nfail++;
	}
}

static void
digest(const void *p, size_t n, unsigned char out[32])
{
	struct sha256 c;

	sha256_init(&c);
	sha256_update(&c, p, n);
	sha256_final(&c, out);
}

/* FIPS 180-4 examples (NIST CSRC "SHA256.pdf", "SHA2_Additional"). */
static void
test_sha256_vectors(void)
{
	static const struct {
		const char	*name, *msg, *want;
	} v[] = {
		{ "sha256 empty", "",
		  "e3b0c44298fc1c149afbf4c8996fb924"
		  "27ae41e4649b934ca495991b7852b855" },
		{ "sha256 abc", "abc",
		  "ba7816bf8f01cfea414140de5dae2223"
		  "b00361a396177a9cb410ff61f20015ad" },
		{ "sha256 448-bit",
		  "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039"
		  "a33ce45964ff2167f6ecedd419db06c1" },
		{ "sha256 896-bit",
		  "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
		  "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
		  "cf5b16a778af8380036ce59e7b049237"
		  "0b249b11e8f07a51afac45037afee9d1" },
	};
	unsigned char out[SHA256_LEN];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		digest(v[i].msg, strlen(v[i].msg), out);
		check_hex(v[i].name, v[i].want, out, sizeof(out));
	}
}

/*
 * One million 'a', once in a single update and once in updates of 1, 2,
 * 3, ... bytes, so that partial blocks start and end at every offset and
 * later chunks take the whole-block path too.
 */
static void
test_million_a(void)
{
	static const char want[] =
	    "cdc76e5c9914fb9281a1c7e284d73e67"
	    "f1809a48a497200e046d39ccc7112cd0";
	unsigned char out[SHA256_LEN], *a;
	struct sha256 c;
	size_t off, k, n = 1000000;

	if ((a = malloc(n)) == NULL) {
		perror("malloc");
		exit(1);
	}
	memset(a, 'a', n);
	digest(a, n, out);
	check_hex("sha256 million a, one update", want, out, sizeof(out));

	sha256_init(&c);
	for (off = 0, k = 1; off < n; off += k, k++) {
		if (k > n - off)
			k = n - off;
		sha256_update(&c, a + off, k);
	}
	sha256_final(&c, out);
	check_hex("sha256 million a, updates of 1,2,3,... bytes", want, out,
	    sizeof(out));
	free(a);
}

/*
 * Every length from 0 to 300 bytes, hashed in one update, in two at every
 * split point, and a byte at a time, must agree. This walks the padding
 * across the 55/56 and 63/64 byte boundaries, which the vectors above
 * only touch at 56.
 */
static void
test_splits(void)
{
	unsigned char msg[300], one[SHA256_LEN], out[SHA256_LEN];
	struct sha256 c;
	size_t len, cut, i;
	int bad = 0;

	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)(i * 131 + 7);
	for (len = 0; len <= sizeof(msg) && !bad; len++) {
		digest(msg, len, one);
		for (cut = 0; cut <= len && !bad; cut++) {
			sha256_init(&c);
			sha256_update(&c, msg, cut);
			sha256_update(&c, msg + cut, len - cut);
			sha256_final(&c, out);
			bad = memcmp(one, out, sizeof(out)) != 0;
		}
		sha256_init(&c);
		for (i = 0; i < len; i++)
			sha256_update(&c, msg + i, 1);
		sha256_final(&c, out);
		bad = bad || memcmp(one, out, sizeof(out)) != 0;
	}
	if (bad)
		printf("(first disagreement at length %zu)\n", len - 1);
	check_int("sha256 split updates agree, lengths 0-300", 0, bad);
}

/* RFC 4231 section 4: HMAC-SHA256 test cases 1-7. */
static void
test_hmac_vectors(void)
{
	static const struct {
		const char	*name;
		int		 keybyte;	/* key is keylen of these... */
		size_t		 keylen;
		const char	*key;		/* ...unless this is set */
		int		 msgbyte;	/* likewise the message */
		size_t		 msglen;
		const char	*msg;
		size_t		 taglen;	/* case 5 truncates */
		const char	*want;
	} v[] = {
		{ "rfc4231 case 1", 0x0b, 20, NULL, 0, 0, "Hi There", 32,
		  "b0344c61d8db38535ca8afceaf0bf12b"
		  "881dc200c9833da726e9376c2e32cff7" },
		{ "rfc4231 case 2", 0, 4, "Jefe",
		  0, 0, "what do ya want for nothing?", 32,
		  "5bdcc146bf60754e6a042426089575c7"
		  "5a003f089d2739839dec58b964ec3843" },
		{ "rfc4231 case 3", 0xaa, 20, NULL, 0xdd, 50, NULL, 32,
		  "773ea91e36800e46854db8ebd09181a7"
		  "2959098b3ef8c122d9635514ced565fe" },
		{ "rfc4231 case 4", 0, 25,
		  "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d"
		  "\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19",
		  0xcd, 50, NULL, 32,
		  "82558a389a443c0ea4cc819899f2083a"
		  "85f0faa3e578f8077a2e3ff46729665b" },
		{ "rfc4231 case 5 (128-bit tag)", 0x0c, 20, NULL,
		  0, 0, "Test With Truncation", 16,
		  "a3b6167473100ee06e0c796c2955552b" },
		{ "rfc4231 case 6 (131-byte key)", 0xaa, 131, NULL,
		  0, 0, "Test Using Larger Than Block-Size Key - "
		  "Hash Key First", 32,
		  "60e431591ee0b67f0d8a26aacbf5b77f"
		  "8e0bc6213728c5140546040f0ee37f54" },
		{ "rfc4231 case 7 (131-byte key, 152-byte message)", 0xaa, 131,
		  NULL, 0, 0,
		  "This is a test using a larger than block-size key and a "
		  "larger than block-size data. The key needs to be hashed "
		  "before being used by the HMAC algorithm.", 32,
		  "9b09ffa71b942fcb27635fbcd5b0e944"
		  "bfdc63644f0713938a7f51535c3a35e2" },
	};
	unsigned char key[131], msg[160], out[SHA256_LEN];
	struct hmac_sha256 m;
	char name[96];
	size_t i, off, k, msglen;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		if (v[i].key != NULL)
			memcpy(key, v[i].key, v[i].keylen);
		else
			memset(key, v[i].keybyte, v[i].keylen);
		if (v[i].msg != NULL) {
			msglen = strlen(v[i].msg);
			memcpy(msg, v[i].msg, msglen);
		} else {
			msglen = v[i].msglen;
			memset(msg, v[i].msgbyte, msglen);
		}

		hmac_sha256(key, v[i].keylen, msg, msglen, out);
		check_hex(v[i].name, v[i].want, out, v[i].taglen);

		/* The incremental form, in updates of 1, 2, 3, ... bytes. */
		hmac_init(&m, key, v[i].keylen);
		for (off = 0, k = 1; off < msglen; off += k, k++) {
			if (k > msglen - off)
				k = msglen - off;
			hmac_update(&m, msg + off, k);
		}
		hmac_final(&m, out);
		snprintf(name, sizeof(name), "%s, incremental", v[i].name);
		check_hex(name, v[i].want, out, v[i].taglen);
	}
}

/*
 * Not published vectors: the key-length edges RFC 4231 skips (empty, 64
 * bytes used as is, 65 bytes hashed first). Expected values from
 * OpenSSL and Python's hmac module.
 */
static void
test_hmac_edges(void)
{
	static const char msg[] = "Test Using Block-Size Key";
	unsigned char key[65], out[SHA256_LEN];

	hmac_sha256("", 0, "", 0, out);
	check_hex("hmac empty key, empty message",
	    "b613679a0814d9ec772f95d778c35fc5"
	    "ff1697c493715653c6c712144292c5ad",
	    out, sizeof(out));
	memset(key, 0xaa, sizeof(key));
	hmac_sha256(key, 64, msg, strlen(msg), out);
	check_hex("hmac 64-byte key",
	    "d0d577cd64caf12b90eaf0053fb42f18"
	    "132bf30903a0bf6a1187dbd38bbc6e07",
	    out, sizeof(out));
	hmac_sha256(key, 65, msg, strlen(msg), out);
	check_hex("hmac 65-byte key",
	    "a182226eb1c5ebffa7869a5d4d45bcc7"
	    "a7a756c013fcea02e0cbfc0fa4afa4e9",
	    out, sizeof(out));
}

/*
 * ct_equal returns exactly 1 or 0. Each single-bit difference, at every
 * position, covers d = 1..128 in its final test; all bits differing
 * covers d = 255.
 */
static void
test_ct_equal(void)
{
	unsigned char a[32], b[32];
	size_t i;
	int bit, wrong = 0;

	for (i = 0; i < sizeof(a); i++)
		a[i] = b[i] = (unsigned char)(i * 37);
	check_int("ct_equal equal", 1, ct_equal(a, b, sizeof(a)));
	check_int("ct_equal same pointer", 1, ct_equal(a, a, sizeof(a)));
	check_int("ct_equal zero length", 1, ct_equal("x", "y", 0));
	check_int("ct_equal equal prefix", 1, ct_equal("abc", "abd", 2));
	check_int("ct_equal last byte differs", 0, ct_equal("abc", "abd", 3));
	check_int("ct_equal first byte differs", 0, ct_equal("xbc", "abc", 3));

	for (i = 0; i < sizeof(a); i++)
		for (bit = 0; bit < 8; bit++) {
			b[i] ^= (unsigned char)(1u << bit);
			wrong += ct_equal(a, b, sizeof(a)) != 0;
			b[i] ^= (unsigned char)(1u << bit);
		}
	check_int("ct_equal each single-bit difference", 0, wrong);

	memset(a, 0x00, sizeof(a));
	memset(b, 0xff, sizeof(b));
	check_int("ct_equal every bit differs", 0, ct_equal(a, b, sizeof(a)));
}

/*
 * SipHash-2-4 against the reference vectors (the paper's appendix and
 * the reference code's vectors.h): key 00 01 .. 0f, message 00 01 ..
 * (n-1) for n = 0..63. A spread of lengths: empty, a partial word, one
 * word, one word and one byte, the paper's 15-byte example, two words,
 * and the longest.
 */
static void
test_siphash(void)
{
	static const struct { size_t n; uint64_t want; } v[] = {
		{ 0, 0x726fdb47dd0e0e31ULL }, { 1, 0x74f839c593dc67fdULL },
		{ 7, 0xab0200f58b01d137ULL }, { 8, 0x93f5f5799a932462ULL },
		{ 9, 0x9e0082df0ba9e4b0ULL }, { 15, 0xa129ca6149be45e5ULL },
		{ 16, 0x3f2acc7f57c29bdbULL }, { 63, 0x958a324ceb064572ULL },
	};
	const uint64_t k[2] = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL };
	unsigned char msg[64], want[8], got[8];
	char name[64], hex[17];
	size_t i, j;

	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)i;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint64_t h = siphash24(k, msg, v[i].n);

		for (j = 0; j < 8; j++) {
			want[j] = (unsigned char)(v[i].want >> (56 - 8 * j));
			got[j] = (unsigned char)(h >> (56 - 8 * j));
		}
		snprintf(name, sizeof(name), "siphash24 %zu bytes", v[i].n);
		tohex(hex, want, 8);
		check_hex(name, hex, got, 8);
	}
}

int
main(void)
{
	/* So that the lines before a crash are not lost in the buffer. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_sha256_vectors();
	test_million_a();
	test_splits();
	test_hmac_vectors();
	test_hmac_edges();
	test_ct_equal();
	test_siphash();
	printf("%d passed, %d failed\n", npass, nfail);
	return nfail > 0;
}
