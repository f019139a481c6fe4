/*
 * tests/fuzz_sec.c - libFuzzer over the protocol-3 secure channel:
 * sec_hs_input (both roles, at every step of the handshake), sec_open
 * (both roles, after a completed handshake, datagram and strict mode)
 * and code_parse, on arbitrary bytes. `make fuzz-sec` builds and runs it.
 *
 * Input: mode(1), then chunks of len(2, big-endian) bytes, each handed to
 * the function under test in turn (code_parse: the rest as one string).
 * The states to start from are made once per process, by a real
 * handshake in memory, and copied for each input, so that a run depends
 * on its input only. Besides the sanitizers, it traps if a record that
 * our peer did not seal as it arrives is ever accepted, or if a handshake
 * already open is ever failed or re-keyed by an input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../pnc.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

enum {
	M_RESP_FRESH,		/* responder waiting for HELLO */
	M_RESP_FINISH,		/* responder that answered a HELLO */
	M_INIT_FRESH,		/* initiator that sent HELLO */
	M_INIT_OPEN,		/* initiator after REPLY, FINISH sent */
	M_RESP_OPEN,		/* responder after FINISH */
	M_OPEN_RECORDS,		/* sec_open, both sides, datagram mode */
	M_STRICT_RECORDS,	/* the same, strict mode */
	M_MUTATE,		/* a real record, one byte changed */
	M_CODE,			/* code_parse */
	M_COUNT
};

static struct sec resp_fresh, resp_finish, init_fresh, init_open;
static struct sec resp_open, init_done, strict_i, strict_r;

static void
params(struct sec_params *p, const char *ad, uint64_t me, uint64_t peer,
    int strict)
{
	memset(p, 0, sizeof(*p));
	p->secret = "7-able-acid-acorn";
	p->secretlen = 17;
	p->ci = "fuzz";
	p->cilen = 4;
	p->ad = ad;
	p->adlen = strlen(ad);
	p->my_id = me;
	p->peer_id = peer;
	p->strict = strict;
}

/* A complete handshake; the snapshots along the way if asked. */
static void
pair(struct sec *i, struct sec *r, int strict, int snap)
{
	struct sec_params pi, pr;
	unsigned char m[SEC_HS_MAX];
	size_t n;

	params(&pi, "initiator", 1, 2, strict);
	params(&pr, "responder", 2, 1, strict);
	if (sec_start(i, 1, &pi) == -1 || sec_start(r, 0, &pr) == -1)
		abort();
	if (snap) {
		resp_fresh = *r;
		init_fresh = *i;
	}
	n = sec_hs_output(i, m, sizeof(m));
	(void)sec_hs_input(r, m, n);
	if (snap)
		resp_finish = *r;
	n = sec_hs_output(r, m, sizeof(m));
	if (sec_hs_input(i, m, n) != SEC_DONE)
		abort();
	if (snap)
		init_open = *i;
	n = sec_hs_output(i, m, sizeof(m));
	if (sec_hs_input(r, m, n) != SEC_DONE)
		abort();
}

static void
setup(void)
{
	static int done;

	if (done++)
		return;
	pair(&init_done, &resp_open, 0, 1);
	pair(&strict_i, &strict_r, 1, 0);
}

/* The next chunk of the input, or NULL at its end. */
static const uint8_t *
chunk(const uint8_t **p, size_t *left, size_t *n)
{
	const uint8_t *c;

	if (*left < 2)
		return NULL;
	*n = (size_t)(*p)[0] << 8 | (*p)[1];
	*p += 2;
	*left -= 2;
	if (*n > *left)
		*n = *left;
	c = *p;
	*p += *n;
	*left -= *n;
	return c;
}

static void
fuzz_hs(struct sec *s, const uint8_t *p, size_t left)
{
	unsigned char out[SEC_HS_MAX], keys[2 * AEAD_KEY_LEN];
	const uint8_t *c;
	size_t n;
	int was_open = s->state == SEC_S_OPEN, rc;

	memcpy(keys, s->ktx, AEAD_KEY_LEN);
	memcpy(keys + AEAD_KEY_LEN, s->krx, AEAD_KEY_LEN);
	while ((c = chunk(&p, &left, &n)) != NULL) {
		rc = sec_hs_input(s, c, n);
		if (was_open && (rc != SEC_MORE || s->state != SEC_S_OPEN))
			__builtin_trap();	/* an open channel was hit */
		(void)sec_hs_output(s, out, sizeof(out));
		(void)sec_hs_latest(s, out, sizeof(out));
	}
	if (was_open && (memcmp(keys, s->ktx, AEAD_KEY_LEN) != 0 ||
	    memcmp(keys + AEAD_KEY_LEN, s->krx, AEAD_KEY_LEN) != 0))
		__builtin_trap();
}

/* Arbitrary records: none may be accepted (nobody sealed them). */
static void
fuzz_records(struct sec *a, struct sec *b, const uint8_t *p, size_t left)
{
	unsigned char buf[4096];
	const unsigned char *pl;
	const uint8_t *c;
	size_t n, got, hdrlen;
	int type, k = 0;

	while ((c = chunk(&p, &left, &n)) != NULL) {
		if (n == 0 || n > sizeof(buf))
			continue;
		hdrlen = c[0] % 16;
		memcpy(buf, c, n);
		if (sec_open(k++ % 2 ? a : b, buf, n, hdrlen, &type, &pl,
		    &got) == 0)
			__builtin_trap();	/* a forgery passed */
	}
}

/*
 * A record the initiator really sealed (header and payload from the
 * input), then byte pos changed by x: accepted exactly when x is 0.
 */
static void
fuzz_mutate(const uint8_t *p, size_t left)
{
	struct sec i = init_done, r = resp_open;
	unsigned char rec[2048], pay[1200];
	const unsigned char *pl;
	size_t n, len, got, pos, hdrlen;
	int type, rc;

	if (left < 4)
		return;
	hdrlen = p[0] % 16;
	pos = (size_t)p[1] << 8 | p[2];
	n = left - 3 < sizeof(pay) ? left - 3 : sizeof(pay);
	memcpy(pay, p + 3, n);
	len = sec_seal(&i, p + 3, hdrlen < n ? hdrlen : n, p[1], pay, n, rec,
	    sizeof(rec));
	if (len == 0)
		return;
	hdrlen = hdrlen < n ? hdrlen : n;
	pos %= len;
	rec[pos] ^= p[2] & 1 ? 0x80 : 0;
	rc = sec_open(&r, rec, len, hdrlen, &type, &pl, &got);
	if ((rc == 0) != !(p[2] & 1))
		__builtin_trap();
	if (rc == 0 && (got != n || type != p[1] || memcmp(pl, pay, n) != 0))
		__builtin_trap();
}

static void
fuzz_code(const uint8_t *p, size_t left)
{
	char code[256], secret[CODE_MAX], again[CODE_MAX];
	unsigned np, np2;

	if (left >= sizeof(code))
		left = sizeof(code) - 1;
	memcpy(code, p, left);
	code[left] = '\0';
	if (code_parse(code, &np, secret, sizeof(secret)) == -1)
		return;
	/* what parses is canonical: it prints back as it came */
	snprintf(again, sizeof(again), "%u-%s", np, secret);
	if (strcmp(again, code) != 0 ||
	    code_parse(again, &np2, secret, sizeof(secret)) != 0 || np2 != np)
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sec a, b;

	setup();
	if (size == 0)
		return 0;
	switch (data[0] % M_COUNT) {
	case M_RESP_FRESH:
		a = resp_fresh;
		fuzz_hs(&a, data + 1, size - 1);
		break;
	case M_RESP_FINISH:
		a = resp_finish;
		fuzz_hs(&a, data + 1, size - 1);
		break;
	case M_INIT_FRESH:
		a = init_fresh;
		fuzz_hs(&a, data + 1, size - 1);
		break;
	case M_INIT_OPEN:
		a = init_open;
		fuzz_hs(&a, data + 1, size - 1);
		break;
	case M_RESP_OPEN:
		a = resp_open;
		fuzz_hs(&a, data + 1, size - 1);
		break;
	case M_OPEN_RECORDS:
		a = init_done;
		b = resp_open;
		fuzz_records(&a, &b, data + 1, size - 1);
		break;
	case M_STRICT_RECORDS:
		a = strict_i;
		b = strict_r;
		fuzz_records(&a, &b, data + 1, size - 1);
		break;
	case M_MUTATE:
		fuzz_mutate(data + 1, size - 1);
		break;
	case M_CODE:
		fuzz_code(data + 1, size - 1);
		break;
	}
	return 0;
}
