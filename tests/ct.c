/*
 * tests/ct.c - constant-time check of crypto.c under valgrind memcheck.
 *
 * Every secret input (scalars, the CPace password, keys, plaintexts) is
 * marked undefined with VALGRIND_MAKE_MEM_UNDEFINED before the call, so
 * memcheck reports "Conditional jump or move depends on uninitialised
 * value(s)" for any branch on it and "Use of uninitialised value" for any
 * memory index computed from it. crypto.c, built with -DCRYPTO_CT_CHECK,
 * marks defined only the few results that are public by nature (is a tag
 * right, is a shared point the neutral element, the CPace share that
 * goes on the wire), and only after the constant-time computation.
 *
 *	ct all		the primitives; valgrind must report no error
 *	ct sec		a whole protocol-3 handshake (the password secret,
 *			every message public once on the wire, as it is)
 *			and a record each way: the confirm and ack compares
 *			and the record code must not branch on a secret
 *	ct branch	control: a branch on a secret byte (must be reported)
 *	ct index	control: a table index from a secret byte (likewise)
 *
 *	cc -std=c11 -O2 -DCRYPTO_CT_CHECK -o ct tests/ct.c crypto.c
 *	valgrind --error-exitcode=99 ./ct all
 *
 * Outside valgrind the client requests do nothing and the program only
 * runs the primitives.
 */
#include <stdio.h>
#include <string.h>

#include <valgrind/memcheck.h>

#include "../pnc.h"

#define SECRET(p, n)	VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define PUBLIC(p, n)	VALGRIND_MAKE_MEM_DEFINED((p), (n))

/*
 * Inputs come through a volatile, so that the compiler cannot know them
 * and fold the computation (clang did, for the branch control) past the
 * point where valgrind is told they are secret.
 */
static volatile unsigned char salt;

static void
fill(unsigned char *p, size_t n, unsigned char seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(seed + 7 * i + salt);
}

static void
ct_x25519(void)
{
	unsigned char k[32], u[32], out[32];

	fill(k, 32, 1);
	fill(u, 32, 2);
	/* both secret: CPace's generator is derived from the password */
	SECRET(k, 32);
	SECRET(u, 32);
	(void)x25519(out, k, u);
	x25519_base(out, k);
	printf("ct: x25519 done\n");
}

static void
ct_elligator2(void)
{
	unsigned char r[32], out[32];
	int i;

	/* a few inputs, so that both branches of the map are taken */
	for (i = 0; i < 4; i++) {
		fill(r, 32, (unsigned char)(3 + i));
		SECRET(r, 32);
		elligator2_25519(out, r);
	}
	printf("ct: elligator2 done\n");
}

static void
ct_cpace(void)
{
	unsigned char prs[16], y1[32], y2[32], s1[32], s2[32];
	unsigned char isk1[64], isk2[64];
	struct cpace a, b;
	struct cpace_in in = { prs, "ci", "sid", "ADa", sizeof(prs), 2, 3, 3 };
	int roles[2][2] = { { CPACE_INITIATOR, CPACE_RESPONDER },
	    { CPACE_SYMMETRIC, CPACE_SYMMETRIC } };
	int i, rc;

	for (i = 0; i < 2; i++) {
		fill(prs, sizeof(prs), 5);
		fill(y1, 32, 6);
		fill(y2, 32, 7);
		SECRET(prs, sizeof(prs));
		SECRET(y1, 32);
		SECRET(y2, 32);
		cpace_generator(s1, &in);
		rc = cpace_start(&a, roles[i][0], &in, y1, s1);
		in.ad = "ADb";
		rc |= cpace_start(&b, roles[i][1], &in, y2, s2);
		in.ad = "ADa";
		rc |= cpace_finish(&a, s2, "ADb", 3, isk1);
		rc |= cpace_finish(&b, s1, "ADa", 3, isk2);
		/* the keys agree: compared in constant time, then public */
		rc |= !ct_equal(isk1, isk2, sizeof(isk1));
		PUBLIC(&rc, sizeof(rc));
		printf("ct: cpace %s %s\n", i ? "symmetric" : "initiator-responder",
		    rc == 0 ? "agreed" : "FAILED");
	}
}

static void
ct_aead(void)
{
	unsigned char key[32], nonce[12] = { 1 }, ad[13], m[1200 + 16];
	unsigned char c[1200 + 16];
	int rc;

	fill(key, 32, 8);
	fill(ad, sizeof(ad), 9);
	fill(m, sizeof(m), 10);
	SECRET(key, 32);
	SECRET(m, 1200);
	chacha20poly1305_seal(c, m, 1200, ad, sizeof(ad), nonce, key);
	/* the ciphertext is public (it goes on the wire), the key is not */
	PUBLIC(c, sizeof(c));
	rc = chacha20poly1305_open(m, c, sizeof(c), ad, sizeof(ad), nonce, key);
	printf("ct: aead open of a good record: %d\n", rc);
	c[5] ^= 1;		/* and a forged one: the same path */
	rc = chacha20poly1305_open(m, c, sizeof(c), ad, sizeof(ad), nonce, key);
	printf("ct: aead open of a forged record: %d\n", rc);
}

static void
ct_hash(void)
{
	unsigned char key[200], msg[300], out[64], okm[100];

	fill(key, sizeof(key), 11);
	fill(msg, sizeof(msg), 12);
	SECRET(key, sizeof(key));
	SECRET(msg, sizeof(msg));
	sha512(msg, sizeof(msg), out);
	hmac_sha512(key, sizeof(key), msg, sizeof(msg), out);
	hmac_sha512(key, 20, msg, sizeof(msg), out);
	(void)hkdf_sha512("salt", 4, key, 64, "info", 4, okm, sizeof(okm));
	poly1305(out, msg, 37, key);
	chacha20_xor(msg, msg, sizeof(msg), key, key + 32, 7);
	printf("ct: sha512 hmac hkdf poly1305 chacha20 done\n");
}

/* One handshake message from one side to the other, public on the way. */
static int
ct_hs_move(struct sec *from, struct sec *to)
{
	unsigned char m[SEC_HS_MAX];
	size_t n;
	int rc;

	if ((n = sec_hs_output(from, m, sizeof(m))) == 0)
		return -2;
	PUBLIC(m, n);
	rc = sec_hs_input(to, m, n);
	PUBLIC(&rc, sizeof(rc));
	return rc;
}

static void
ct_sec(void)
{
	unsigned char secret[19], key[40], msg[300], rec[400];
	const unsigned char *pl;
	struct sec_params p;
	struct sec a, b;
	size_t n, got;
	int rc, type;

	fill(secret, sizeof(secret), 14);
	fill(key, sizeof(key), 15);
	fill(msg, sizeof(msg), 16);
	SECRET(secret, sizeof(secret));
	SECRET(key, sizeof(key));
	memset(&p, 0, sizeof(p));
	p.secret = secret;
	p.secretlen = sizeof(secret);
	p.key = key;
	p.keylen = sizeof(key);
	p.ci = "ci";
	p.cilen = 2;
	p.ad = "initiator";
	p.adlen = 9;
	p.my_id = 1;
	p.peer_id = 2;
	rc = sec_start(&a, 1, &p);
	p.ad = "responder";
	p.my_id = 2;
	p.peer_id = 1;
	rc |= sec_start(&b, 0, &p);
	PUBLIC(&rc, sizeof(rc));
	rc |= ct_hs_move(&a, &b) != SEC_MORE;		/* HELLO */
	rc |= ct_hs_move(&b, &a) != SEC_DONE;		/* REPLY */
	rc |= ct_hs_move(&a, &b) != SEC_DONE;		/* FINISH */
	rc |= ct_hs_move(&b, &a) != SEC_MORE;		/* ACK */
	printf("ct: sec handshake %s\n", rc == 0 && sec_confirmed(&a) ?
	    "done" : "FAILED");
	/* a record each way: a secret payload; the record is public */
	SECRET(msg, sizeof(msg));
	n = sec_seal(&a, "hdr", 3, 0x20, msg, sizeof(msg), rec, sizeof(rec));
	PUBLIC(rec, n);
	rc = sec_open(&b, rec, n, 3, &type, &pl, &got);
	printf("ct: sec record i->r: %d\n", rc);
	n = sec_seal(&b, "hdr", 3, 0x20, msg, 10, rec, sizeof(rec));
	PUBLIC(rec, n);
	rec[n - 1] ^= 1;
	rc = sec_open(&a, rec, n, 3, &type, &pl, &got);
	printf("ct: sec forged record r->i: %d\n", rc);
	sec_close(&a);
	sec_close(&b);
}

/*
 * The controls: code that is not constant time, which must be caught.
 * A tag compare that stops at the first difference and says so. The
 * output is what keeps it a branch: gcc turns "s[0] & 1 ? 3 : 5" into a
 * cmov, and clang the bare early-exit loop into an OR of all bytes.
 */
static int
leak_branch(const unsigned char *s)
{
	static const unsigned char tag[16] = { 0x0d, 0x14 };
	int i;

	for (i = 0; i < 16; i++)
		if (s[i] != tag[i]) {
			printf("ct: control: differs at byte %d\n", i);
			return 0;
		}
	return 1;
}

static int
leak_index(const unsigned char *s)
{
	static const unsigned char table[256] = { 1, 2, 3 };
	volatile unsigned char v = table[s[0]];

	return v;
}

int
main(int argc, char **argv)
{
	unsigned char s[32];
	volatile int sink;

	if (argc != 2)
		goto usage;
	if (strcmp(argv[1], "all") == 0) {
		ct_x25519();
		ct_elligator2();
		ct_cpace();
		ct_aead();
		ct_hash();
		return 0;
	}
	if (strcmp(argv[1], "sec") == 0) {
		ct_sec();
		return 0;
	}
	fill(s, sizeof(s), 13);
	SECRET(s, sizeof(s));
	if (strcmp(argv[1], "branch") == 0) {
		sink = leak_branch(s);
		PUBLIC((void *)&sink, sizeof(sink));
		printf("ct: control branch %d\n", sink);
		return 0;
	}
	if (strcmp(argv[1], "index") == 0) {
		sink = leak_index(s);
		PUBLIC((void *)&sink, sizeof(sink));
		printf("ct: control index %d\n", sink);
		return 0;
	}
usage:
	fprintf(stderr, "usage: ct all | sec | branch | index\n");
	return 2;
}
