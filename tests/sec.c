/*
 * tests/sec.c - the protocol-3 secure channel (crypto.c: sec_*, code_*)
 * with two struct sec talking in memory: handshakes that must succeed
 * and ones that must fail, duplicated and tampered messages, records
 * (sizes, replay, reorder, reflection, alteration, limits, strict mode),
 * and the codes.
 *
 *	sec		run every test: "ok NAME" or "FAIL NAME: why" each,
 *			then "N passed, M failed"
 *	sec -x NAME	test NAME alone, sabotaged: its scenario is turned
 *			into the opposite case (a right password for a wrong
 *			one, an unaltered record for an altered one), so
 *			that it must report FAIL
 *	sec -l		list the tests
 *
 *	cc -std=c11 -O2 -o sec tests/sec.c crypto.c
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../pnc.h"

#define HDR	12		/* a pnc header's length, for the records */

static const char *sabotaged;	/* -x NAME */
static const char *current;	/* the test running */
static int failures;		/* checks failed in the current test */

/* 1 if the current test is the one to sabotage. */
static int
sab(void)
{
	return sabotaged != NULL && strcmp(sabotaged, current) == 0;
}

#define CHECK(c) do {							\
	if (!(c)) {							\
		if (failures++ == 0)					\
			printf("FAIL %s: line %d: %s\n", current,	\
			    __LINE__, #c);				\
	}								\
} while (0)

/* ---- the two ends ---- */

struct end {
	const char	*secret, *key, *ci;
	char		 ad[64];
	uint64_t	 id;
	int		 strict;
};

static void
end_init(struct end *e, uint64_t id, const char *ad)
{
	memset(e, 0, sizeof(*e));
	e->secret = "harbor-cobalt-tiger";
	e->ci = "pnc v3 listen/connect mode=udp";
	e->id = id;
	snprintf(e->ad, sizeof(e->ad), "%s", ad);
}

static int
start(struct sec *s, int initiator, const struct end *me,
    const struct end *peer)
{
	struct sec_params p;

	memset(&p, 0, sizeof(p));
	p.secret = me->secret;
	p.secretlen = strlen(me->secret);
	if (me->key != NULL) {
		p.key = me->key;
		p.keylen = strlen(me->key);
	}
	p.my_id = me->id;
	p.peer_id = peer->id;
	p.ci = me->ci;
	p.cilen = strlen(me->ci);
	p.ad = me->ad;
	p.adlen = strlen(me->ad);
	p.strict = me->strict;
	return sec_start(s, initiator, &p);
}

/* The usual pair: a initiator (controlling), b responder. */
static struct end ea, eb;

static void
ends_default(void)
{
	end_init(&ea, 0x1111222233334444ULL, "i pub=192.0.2.1:5000 peer=198.51.100.2:6000");
	end_init(&eb, 0x5555666677778888ULL, "r pub=198.51.100.2:6000 peer=192.0.2.1:5000");
}

/*
 * Runs the handshake in memory, each message delivered at once, until
 * neither side has anything to send; ra and rb collect what
 * sec_hs_input returned (SEC_DONE or SEC_FAIL seen, by bit).
 */
#define SAW_DONE	1
#define SAW_FAIL	2

static int
saw(int rc)
{
	return rc == SEC_DONE ? SAW_DONE : rc == SEC_FAIL ? SAW_FAIL : 0;
}

static void
pump(struct sec *a, struct sec *b, int *ra, int *rb)
{
	unsigned char m[SEC_HS_MAX];
	size_t n;
	int moved = 1, rounds = 0;

	*ra = *rb = 0;
	while (moved && rounds++ < 20) {
		moved = 0;
		if ((n = sec_hs_output(a, m, sizeof(m))) > 0) {
			*rb |= saw(sec_hs_input(b, m, n));
			moved = 1;
		}
		if ((n = sec_hs_output(b, m, sizeof(m))) > 0) {
			*ra |= saw(sec_hs_input(a, m, n));
			moved = 1;
		}
	}
}

/* Both ends started from ea and eb, handshake run. */
static void
handshake(struct sec *a, struct sec *b, int *ra, int *rb)
{
	CHECK(start(a, 1, &ea, &eb) == 0);
	CHECK(start(b, 0, &eb, &ea) == 0);
	pump(a, b, ra, rb);
}

static int
all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n-- > 0)
		if (*c++ != 0)
			return 0;
	return 1;
}

/* 1 if the n bytes at needle occur in hay (memmem, which C11 lacks). */
static int
contains(const unsigned char *hay, size_t len, const unsigned char *needle,
    size_t n)
{
	size_t i;

	for (i = 0; i + n <= len; i++)
		if (memcmp(hay + i, needle, n) == 0)
			return 1;
	return 0;
}

/* a seals a record of n bytes (type t), b opens it: 0 if it came through intact. */
static int
roundtrip(struct sec *a, struct sec *b, size_t n, int t)
{
	unsigned char hdr[HDR], msg[1500], rec[1600];
	const unsigned char *pl;
	size_t len, got;
	int type;

	memset(hdr, 0x50 + (int)(n % 7), sizeof(hdr));
	for (len = 0; len < n; len++)
		msg[len] = (unsigned char)(len * 31 + n);
	len = sec_seal(a, hdr, sizeof(hdr), t, msg, n, rec, sizeof(rec));
	if (len != HDR + SEC_OVERHEAD + n)
		return -1;
	if (memcmp(rec, hdr, HDR) != 0)
		return -1;
	if (n >= 16 && contains(rec, len, msg, 16))
		return -1;		/* the payload is not in the clear */
	if (sec_open(b, rec, len, HDR, &type, &pl, &got) != 0)
		return -1;
	if (type != t || got != n || (n > 0 && memcmp(pl, msg, n) != 0))
		return -1;
	return 0;
}

/* Seals a record from a into rec; its length. */
static size_t
seal(struct sec *a, unsigned char *rec, size_t cap, const char *text)
{
	unsigned char hdr[HDR] = { 'P', 'N', 3, 0x51 };

	return sec_seal(a, hdr, sizeof(hdr), 0x20, text, strlen(text), rec,
	    cap);
}

static int
open_rec(struct sec *b, unsigned char *rec, size_t len)
{
	const unsigned char *pl;
	size_t n;
	int type;

	return sec_open(b, rec, len, HDR, &type, &pl, &n);
}

/* ---- handshakes ---- */

static void
t_success(void)
{
	struct sec a, b;
	int ra, rb;

	ends_default();
	if (sab())
		eb.secret = "harbor-cobalt-tigers";
	handshake(&a, &b, &ra, &rb);
	CHECK(ra == SAW_DONE && rb == SAW_DONE);
	CHECK(a.state == SEC_S_OPEN && b.state == SEC_S_OPEN);
	CHECK(sec_confirmed(&a) && sec_confirmed(&b));
	CHECK(sec_error(&a) == SEC_E_NONE && sec_error(&b) == SEC_E_NONE);
	/* equal keys, one per direction, and different directions */
	CHECK(memcmp(a.ktx, b.krx, 32) == 0 && memcmp(a.krx, b.ktx, 32) == 0);
	CHECK(memcmp(a.ktx, a.krx, 32) != 0);
	CHECK(!all_zero(a.ktx, 32) && !all_zero(a.krx, 32));
	/* forward secrecy: the CPace scalars are gone */
	CHECK(all_zero(&a.cp, sizeof(a.cp)) && all_zero(&b.cp, sizeof(b.cp)));
	/* records both ways */
	CHECK(roundtrip(&a, &b, 100, 0x20) == 0);
	CHECK(roundtrip(&b, &a, 100, 0x21) == 0);
	CHECK(a.hs_dropped == 0 && b.hs_dropped == 0);
	sec_close(&a);
	CHECK(all_zero(a.ktx, 32) && all_zero(a.krx, 32) &&
	    all_zero(&a.cp, sizeof(a.cp)));
	CHECK(sec_seal(&a, "h", 1, 0, "x", 1, (unsigned char[64]){ 0 }, 64) == 0);
	sec_close(&b);
}

/* With -K on both sides, an empty AD, and another pair of ids. */
static void
t_success_key(void)
{
	struct sec a, b;
	int ra, rb;

	ends_default();
	ea.key = eb.key = "a key file's bytes\n";
	ea.ad[0] = eb.ad[0] = '\0';
	ea.id = 1;
	eb.id = 2;
	if (sab())
		eb.key = "a key file's bytes";
	handshake(&a, &b, &ra, &rb);
	CHECK(ra == SAW_DONE && rb == SAW_DONE);
	CHECK(roundtrip(&a, &b, 0, 0) == 0 && roundtrip(&b, &a, 1200, 255) == 0);
	sec_close(&a);
	sec_close(&b);
}

/*
 * A mismatch that must fail both sides with SEC_E_AUTH and let no
 * record through: the initiator at REPLY, the responder at the FINISH
 * the initiator still sends.
 */
static void
both_fail(const char *why)
{
	struct sec a, b;
	unsigned char rec[200], m[SEC_HS_MAX];
	int ra, rb;

	handshake(&a, &b, &ra, &rb);
	CHECK(ra == SAW_FAIL && rb == SAW_FAIL);
	CHECK(sec_error(&a) == SEC_E_AUTH && sec_error(&b) == SEC_E_AUTH);
	CHECK(a.state == SEC_S_FAILED && b.state == SEC_S_FAILED);
	CHECK(all_zero(a.ktx, 32) && all_zero(b.krx, 32));
	/* no records either way */
	CHECK(seal(&a, rec, sizeof(rec), why) == 0);
	CHECK(seal(&b, rec, sizeof(rec), why) == 0);
	memset(rec, 0, sizeof(rec));
	CHECK(open_rec(&a, rec, 60) == -1 && open_rec(&b, rec, 60) == -1);
	/* reported once: nothing more to send, inputs ignored */
	CHECK(sec_hs_output(&a, m, sizeof(m)) == 0);
	CHECK(sec_hs_latest(&a, m, sizeof(m)) == 0);
	CHECK(sec_hs_input(&b, m, 33) == SEC_MORE);
	CHECK(strstr(sec_strerror(sec_error(&a)), "authentication failed") != NULL);
	sec_close(&a);
	sec_close(&b);
}

static void
t_wrong_password(void)
{
	ends_default();
	if (!sab())
		eb.secret = "harbor-cobalt-tigre";
	both_fail("wrong password");
}

static void
t_wrong_key(void)
{
	ends_default();
	ea.key = "key one";
	if (!sab())
		eb.key = "key two";
	else
		eb.key = "key one";
	both_fail("wrong key");
}

/* The same name, one side with -K and one without. */
static void
t_key_vs_none(void)
{
	ends_default();
	if (!sab())
		ea.key = "k";
	both_fail("key vs none");
}

/* lv-prefixed PRS: ("ab", "c") is not ("a", "bc"). */
static void
t_prs_unambiguous(void)
{
	ends_default();
	ea.secret = "ab";
	ea.key = "c";
	eb.secret = sab() ? "ab" : "a";
	eb.key = sab() ? "c" : "bc";
	both_fail("prs");
}

/* The mode (CI) differs: -R on one side only. */
static void
t_wrong_ci(void)
{
	ends_default();
	if (!sab())
		eb.ci = "pnc v3 listen/connect mode=udp -R";
	both_fail("ci");
}

/* The ids differ (sid): introduced to someone else. */
static void
t_wrong_sid(void)
{
	struct sec a, b;
	int ra, rb;

	ends_default();
	CHECK(start(&a, 1, &ea, &eb) == 0);
	if (!sab())
		ea.id = 99;	/* b thinks it talks to client 99 */
	CHECK(start(&b, 0, &eb, &ea) == 0);
	pump(&a, &b, &ra, &rb);
	CHECK(ra == SAW_FAIL && rb == SAW_FAIL);
	sec_close(&a);
	sec_close(&b);
}

/*
 * A man in the middle rewrites the endpoint in one side's AD (as a NAT
 * or a mediator pointing us elsewhere would): the transcripts differ.
 */
static void
mitm_ad(int which)
{
	struct sec a, b;
	unsigned char m[SEC_HS_MAX];
	size_t n;
	int rc;

	ends_default();
	CHECK(start(&a, 1, &ea, &eb) == 0);
	CHECK(start(&b, 0, &eb, &ea) == 0);
	n = sec_hs_output(&a, m, sizeof(m));
	if (which == 0 && !sab())
		m[n - 1] ^= '1' ^ '2';		/* "...:5000" -> "...:5003" */
	CHECK(sec_hs_input(&b, m, n) == SEC_MORE);
	n = sec_hs_output(&b, m, sizeof(m));
	if (which == 1 && !sab())
		m[40] ^= 1;			/* in ADb */
	rc = sec_hs_input(&a, m, n);
	CHECK(rc == SEC_FAIL && sec_error(&a) == SEC_E_AUTH);
	n = sec_hs_output(&a, m, sizeof(m));
	CHECK(n == 33);
	CHECK(sec_hs_input(&b, m, n) == SEC_FAIL && sec_error(&b) == SEC_E_AUTH);
	sec_close(&a);
	sec_close(&b);
}

static void
t_mitm_ad_hello(void)
{
	mitm_ad(0);
}

static void
t_mitm_ad_reply(void)
{
	mitm_ad(1);
}

/* The caller's own look at the peer's AD, refusing it. */
static int
refuse(void *arg, const unsigned char *ad, size_t n)
{
	const char *want = arg;

	return n == strlen(want) && memcmp(ad, want, n) == 0 ? 0 : -1;
}

static void
t_ad_check(void)
{
	struct sec a, b;
	struct sec_params p;
	unsigned char m[SEC_HS_MAX];
	size_t n;

	ends_default();
	memset(&p, 0, sizeof(p));
	p.secret = ea.secret;
	p.secretlen = strlen(ea.secret);
	p.my_id = eb.id;
	p.peer_id = ea.id;
	p.ad = eb.ad;
	p.adlen = strlen(eb.ad);
	p.ci = ea.ci;
	p.cilen = strlen(ea.ci);
	p.ad_check = refuse;
	p.ad_arg = sab() ? ea.ad : "i pub=192.0.2.1:5000 peer=203.0.113.9:6000";
	CHECK(start(&a, 1, &ea, &eb) == 0);
	CHECK(sec_start(&b, 0, &p) == 0);
	n = sec_hs_output(&a, m, sizeof(m));
	CHECK(sec_hs_input(&b, m, n) == SEC_FAIL && sec_error(&b) == SEC_E_AD);
	CHECK(sec_hs_output(&b, m, sizeof(m)) == 0);	/* no REPLY: no guess */
	CHECK(all_zero(&b.cp, sizeof(b.cp)));
	sec_close(&a);
	sec_close(&b);
}

/* Flips one bit of message k (0 HELLO, 1 REPLY, 2 FINISH) at offset off. */
static void
tamper(int k, size_t off, int fail_a, int fail_b, int err)
{
	struct sec a, b;
	unsigned char m[SEC_HS_MAX];
	size_t n;
	int rc[3] = { 0, 0, 0 }, i;

	ends_default();
	CHECK(start(&a, 1, &ea, &eb) == 0);
	CHECK(start(&b, 0, &eb, &ea) == 0);
	for (i = 0; i < 3; i++) {
		struct sec *from = i == 1 ? &b : &a, *to = i == 1 ? &a : &b;

		if ((n = sec_hs_output(from, m, sizeof(m))) == 0)
			break;
		if (i == k && !sab())
			m[off < n ? off : n - 1] ^= 0x04;
		rc[i] = sec_hs_input(to, m, n);
	}
	CHECK((a.state == SEC_S_FAILED) == fail_a);
	CHECK((b.state == SEC_S_FAILED) == fail_b);
	CHECK(!fail_a || sec_error(&a) == err);
	CHECK(!fail_b || sec_error(&b) == err || sec_error(&b) == SEC_E_AUTH);
	/* the side that got the tampered message fails at once */
	CHECK(k == 0 || rc[k] == SEC_FAIL);
	CHECK(k != 0 || rc[1] == SEC_FAIL);
	sec_close(&a);
	sec_close(&b);
}

static void
t_tamper_hello_share(void)
{
	tamper(0, 5, 1, 1, SEC_E_AUTH);
}

static void
t_tamper_reply_share(void)
{
	tamper(1, 9, 1, 1, SEC_E_AUTH);
}

static void
t_tamper_reply_confirm(void)
{
	tamper(1, SEC_HS_MAX, 1, 1, SEC_E_AUTH);	/* the last byte */
}

static void
t_tamper_finish(void)
{
	tamper(2, 20, 0, 1, SEC_E_AUTH);
}

/* A malformed HELLO (its AD length) is dropped, not fatal; the real one then works. */
static void
t_malformed_dropped(void)
{
	struct sec a, b;
	unsigned char m[SEC_HS_MAX], bad[SEC_HS_MAX];
	size_t n;
	int ra, rb;

	ends_default();
	CHECK(start(&a, 1, &ea, &eb) == 0);
	CHECK(start(&b, 0, &eb, &ea) == 0);
	n = sec_hs_latest(&a, m, sizeof(m));
	memcpy(bad, m, n);
	if (!sab())
		bad[34] ^= 1;
	CHECK(sec_hs_input(&b, bad, n) == SEC_MORE && b.hs_dropped == 1);
	CHECK(sec_hs_input(&b, bad, 0) == SEC_MORE && b.hs_dropped == 2);
	bad[0] = 0x77;
	CHECK(sec_hs_input(&b, bad, n) == SEC_MORE && b.hs_dropped == 3);
	CHECK(sec_hs_output(&b, bad, sizeof(bad)) == 0);
	pump(&a, &b, &ra, &rb);
	CHECK(ra == SAW_DONE && rb == SAW_DONE);
	sec_close(&a);
	sec_close(&b);
}

/* Low-order shares (RFC 7748's list: 0, 1, and an order-8 point). */
static void
low_order(int in_reply)
{
	static const unsigned char order8[32] = {
		0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56,
		0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb,
		0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49,
		0xb8, 0x00 };
	struct sec a, b;
	unsigned char m[SEC_HS_MAX];
	size_t n;
	int i;

	for (i = 0; i < 3; i++) {
		ends_default();
		CHECK(start(&a, 1, &ea, &eb) == 0);
		CHECK(start(&b, 0, &eb, &ea) == 0);
		n = sec_hs_output(&a, m, sizeof(m));
		if (!in_reply && !sab()) {
			memset(m + 1, 0, 32);
			if (i == 1)
				m[1] = 1;
			if (i == 2)
				memcpy(m + 1, order8, 32);
		}
		if (!in_reply) {
			CHECK(sec_hs_input(&b, m, n) == SEC_FAIL);
			CHECK(sec_error(&b) == SEC_E_SHARE);
			CHECK(sec_hs_output(&b, m, sizeof(m)) == 0);
		} else {
			(void)sec_hs_input(&b, m, n);
			n = sec_hs_output(&b, m, sizeof(m));
			if (!sab()) {
				memset(m + 1, 0, 32);
				if (i == 2)
					memcpy(m + 1, order8, 32);
			}
			CHECK(sec_hs_input(&a, m, n) == SEC_FAIL);
			CHECK(sec_error(&a) == SEC_E_SHARE);
			CHECK(sec_hs_output(&a, m, sizeof(m)) == 0);
		}
		sec_close(&a);
		sec_close(&b);
	}
}

static void
t_low_order_hello(void)
{
	low_order(0);
}

static void
t_low_order_reply(void)
{
	low_order(1);
}

/*
 * Every message delivered twice: the same answer each time, no second
 * share; a rival HELLO after the first is dropped unanswered.
 */
static void
t_duplicates(void)
{
	struct sec a, b;
	unsigned char hello[SEC_HS_MAX], reply[SEC_HS_MAX], r2[SEC_HS_MAX];
	unsigned char fin[SEC_HS_MAX], f2[SEC_HS_MAX], ack[SEC_HS_MAX];
	unsigned char a2[SEC_HS_MAX], other[SEC_HS_MAX];
	size_t nh, nr, nf, na, n;
	struct sec c;

	ends_default();
	CHECK(start(&a, 1, &ea, &eb) == 0);
	CHECK(start(&b, 0, &eb, &ea) == 0);
	CHECK(start(&c, 1, &ea, &eb) == 0);	/* a rival initiator */
	nh = sec_hs_output(&a, hello, sizeof(hello));
	CHECK(sec_hs_output(&a, r2, sizeof(r2)) == 0);	/* given once */
	CHECK(sec_hs_input(&b, hello, nh) == SEC_MORE);
	nr = sec_hs_output(&b, reply, sizeof(reply));
	CHECK(nr > 0);
	CHECK(sec_hs_input(&b, hello, nh) == SEC_MORE);
	n = sec_hs_output(&b, r2, sizeof(r2));
	CHECK(n == nr && memcmp(reply, r2, n) == 0);
	n = sec_hs_output(&c, other, sizeof(other));
	if (sab())
		memcpy(other, hello, n);
	CHECK(sec_hs_input(&b, other, n) == SEC_MORE);
	CHECK(sec_hs_output(&b, r2, sizeof(r2)) == 0 && b.hs_dropped == 1);
	CHECK(sec_hs_input(&a, reply, nr) == SEC_DONE);
	nf = sec_hs_output(&a, fin, sizeof(fin));
	CHECK(nf == 33);
	CHECK(sec_hs_input(&a, reply, nr) == SEC_MORE);
	n = sec_hs_output(&a, f2, sizeof(f2));
	CHECK(n == nf && memcmp(fin, f2, n) == 0);
	/* FINISH lost: the initiator's timer re-sends it */
	CHECK(sec_hs_latest(&a, f2, sizeof(f2)) == nf && memcmp(fin, f2, nf) == 0);
	CHECK(sec_hs_input(&b, fin, nf) == SEC_DONE);
	na = sec_hs_output(&b, ack, sizeof(ack));
	CHECK(na == 33);
	CHECK(sec_hs_input(&b, fin, nf) == SEC_MORE);
	n = sec_hs_output(&b, a2, sizeof(a2));
	CHECK(n == na && memcmp(ack, a2, n) == 0);
	CHECK(sec_hs_input(&b, hello, nh) == SEC_MORE);	/* late: ignored */
	CHECK(sec_hs_output(&b, a2, sizeof(a2)) == 0 && b.hs_dropped == 1);
	CHECK(!sec_confirmed(&a));
	CHECK(sec_hs_input(&a, ack, na) == SEC_MORE && sec_confirmed(&a));
	CHECK(sec_hs_input(&a, ack, na) == SEC_MORE);
	CHECK(sec_hs_latest(&a, f2, sizeof(f2)) == 0);	/* timer off */
	CHECK(a.state == SEC_S_OPEN && b.state == SEC_S_OPEN);
	CHECK(roundtrip(&a, &b, 10, 1) == 0 && roundtrip(&b, &a, 10, 1) == 0);
	sec_close(&a);
	sec_close(&b);
	sec_close(&c);
}

/*
 * The initiator's records sent before its FINISH arrived are dropped
 * (counted early); once FINISH is in, the next ones pass. A record
 * from the responder confirms FINISH to the initiator like an ACK.
 */
static void
t_early_records(void)
{
	struct sec a, b;
	unsigned char m[SEC_HS_MAX], rec[200];
	size_t n, fin;

	ends_default();
	CHECK(start(&a, 1, &ea, &eb) == 0);
	CHECK(start(&b, 0, &eb, &ea) == 0);
	n = sec_hs_output(&a, m, sizeof(m));
	CHECK(sec_seal(&b, "h", 1, 0, "x", 1, rec, sizeof(rec)) == 0);
	(void)sec_hs_input(&b, m, n);
	n = sec_hs_output(&b, m, sizeof(m));
	CHECK(sec_hs_input(&a, m, n) == SEC_DONE);
	fin = sec_hs_output(&a, m, sizeof(m));		/* FINISH: lost */
	CHECK(sec_seal(&b, "h", 1, 0, "x", 1, rec, sizeof(rec)) == 0);
	n = seal(&a, rec, sizeof(rec), "early");
	CHECK(n > 0);
	if (sab())
		(void)sec_hs_input(&b, m, fin);
	CHECK(open_rec(&b, rec, n) == -1 && b.early == 1);
	CHECK(sec_hs_latest(&a, m, sizeof(m)) == fin);	/* re-sent */
	CHECK(sec_hs_input(&b, m, fin) == SEC_DONE);
	(void)sec_hs_output(&b, m, sizeof(m));		/* ACK: lost too */
	CHECK(roundtrip(&a, &b, 5, 2) == 0);
	CHECK(!sec_confirmed(&a));
	CHECK(roundtrip(&b, &a, 5, 2) == 0);
	CHECK(sec_confirmed(&a));
	CHECK(sec_hs_latest(&a, m, sizeof(m)) == 0);
	sec_close(&a);
	sec_close(&b);
}

/* ---- a lossy, duplicating, reordering path ---- */

struct flight {
	unsigned char	 m[SEC_HS_MAX];
	size_t		 n;
	int		 to_b;
};

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static unsigned
rnd(unsigned k)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % k);
}

/* Queues what s has to send now (and, on a timer tick, what it re-sends). */
static void
emit(struct sec *s, int to_b, int tick, struct flight *q, int *nq)
{
	size_t n;

	if (*nq < 64 && (n = sec_hs_output(s, q[*nq].m, SEC_HS_MAX)) > 0) {
		q[*nq].n = n;
		q[(*nq)++].to_b = to_b;
	}
	if (tick && *nq < 64 && (n = sec_hs_latest(s, q[*nq].m, SEC_HS_MAX)) > 0) {
		q[*nq].n = n;
		q[(*nq)++].to_b = to_b;
	}
}

/*
 * 300 handshakes over a path that drops 30%, duplicates 15% and
 * delivers in random order, the initiator re-sending on a timer tick
 * whenever nothing is in flight: every one completes with equal keys,
 * neither side ever fails, and no message is ever dropped as bad.
 */
static void
t_lossy(void)
{
	static struct flight q[64];
	struct sec a, b;
	int run, nq, i, ticks, done = 0, bad = 0, rc;

	for (run = 0; run < 300; run++) {
		ends_default();
		CHECK(start(&a, 1, &ea, &eb) == 0);
		CHECK(start(&b, 0, &eb, &ea) == 0);
		nq = 0;
		emit(&a, 1, 0, q, &nq);
		for (ticks = 0; ticks < 200;) {
			if (sec_confirmed(&a) && sec_confirmed(&b) && nq == 0)
				break;
			if (nq == 0) {
				ticks++;
				emit(&a, 1, 1, q, &nq);
				continue;
			}
			i = (int)rnd((unsigned)nq);
			struct flight f = q[i];
			q[i] = q[--nq];
			if (rnd(100) < 30 || (sab() && !f.to_b))
				continue;		/* lost */
			if (rnd(100) < 15 && nq < 64)
				q[nq++] = f;		/* and a copy later */
			rc = sec_hs_input(f.to_b ? &b : &a, f.m, f.n);
			if (rc == SEC_FAIL)
				bad++;
			emit(f.to_b ? &b : &a, !f.to_b, 0, q, &nq);
		}
		if (a.state == SEC_S_OPEN && b.state == SEC_S_OPEN &&
		    sec_confirmed(&a) && sec_confirmed(&b) &&
		    memcmp(a.ktx, b.krx, 32) == 0 && memcmp(a.krx, b.ktx, 32) == 0)
			done++;
		if (a.hs_dropped != 0 || b.hs_dropped != 0)
			bad++;		/* a copy is answered or ignored */
		sec_close(&a);
		sec_close(&b);
	}
	CHECK(done == 300 && bad == 0);
}

/* ---- records ---- */

static struct sec ra_, rb_;	/* an open pair, for the record tests */

static void
open_pair(void)
{
	int x, y;

	ends_default();
	handshake(&ra_, &rb_, &x, &y);
	CHECK(x == SAW_DONE && y == SAW_DONE);
}

static void
t_sizes(void)
{
	size_t n, bad = 0;

	open_pair();
	for (n = 0; n <= 1200; n++) {
		if (roundtrip(&ra_, &rb_, n, (int)(n % 256)) != 0)
			bad++;
		if (roundtrip(&rb_, &ra_, n, (int)(n % 256)) != 0)
			bad++;
	}
	if (sab())
		ra_.ktx[0] ^= 1;
	if (roundtrip(&ra_, &rb_, 1200, 7) != 0)
		bad++;
	CHECK(bad == 0);
	CHECK(ra_.tx_next == 1202 && rb_.rx_top == 1202);
	CHECK(rb_.forged == 0 && rb_.replayed == 0 && rb_.too_old == 0);
	sec_close(&ra_);
	sec_close(&rb_);
}

static void
t_overhead(void)
{
	unsigned char hdr[HDR] = { 1 }, out[HDR + SEC_OVERHEAD + 100];
	size_t n;

	open_pair();
	CHECK(SEC_OVERHEAD == 25);
	n = sec_seal(&ra_, hdr, HDR, 1, out, 100, out, sizeof(out));
	CHECK(n == HDR + 8 + 1 + 100 + 16);
	/* one byte short of room: refused, no counter used */
	CHECK(sec_seal(&ra_, hdr, HDR, 1, out, sab() ? 99 : 101, out,
	    sizeof(out)) == 0);
	CHECK(ra_.tx_next == 1);
	CHECK(sec_seal(&ra_, hdr, HDR, 256, out, 1, out, sizeof(out)) == 0);
	CHECK(sec_seal(&ra_, hdr, HDR, -1, out, 1, out, sizeof(out)) == 0);
	sec_close(&ra_);
	sec_close(&rb_);
}

/* In place: the header already at out, the payload at out + hdrlen + 9. */
static void
t_in_place(void)
{
	unsigned char buf[HDR + SEC_OVERHEAD + 64];
	const unsigned char *pl;
	size_t n, got;
	int type;

	open_pair();
	memset(buf, 'H', HDR);
	memcpy(buf + HDR + 9, "in place, zero copy", 19);
	n = sec_seal(&ra_, buf, HDR, 9, buf + HDR + 9, 19, buf, sizeof(buf));
	CHECK(n == HDR + SEC_OVERHEAD + 19);
	if (sab())
		buf[HDR + 9] ^= 1;
	CHECK(sec_open(&rb_, buf, n, HDR, &type, &pl, &got) == 0);
	CHECK(type == 9 && got == 19 && memcmp(pl, "in place, zero copy", 19) == 0);
	CHECK(pl == buf + HDR + 9);
	sec_close(&ra_);
	sec_close(&rb_);
}

static void
t_replay(void)
{
	unsigned char rec[200], copy[200];
	size_t n;

	open_pair();
	n = seal(&ra_, rec, sizeof(rec), "once only");
	memcpy(copy, rec, n);
	CHECK(open_rec(&rb_, rec, n) == 0);
	if (sab())
		n = seal(&ra_, copy, sizeof(copy), "once only");
	CHECK(open_rec(&rb_, copy, n) == -1);
	CHECK(rb_.replayed == 1 && rb_.forged == 0);
	sec_close(&ra_);
	sec_close(&rb_);
}

/* Records opened in reverse order: all within the window pass once. */
static void
t_reorder(void)
{
	static unsigned char recs[SEC_WINDOW + 8][40];
	size_t lens[SEC_WINDOW + 8];
	int i, ok = 0, total = SEC_WINDOW + 8;

	open_pair();
	for (i = 0; i < total; i++)
		lens[i] = seal(&ra_, recs[i], sizeof(recs[i]), "r");
	/* the newest first, then back down: SEC_WINDOW of them fit */
	for (i = total - 1; i >= 0; i--)
		if (open_rec(&rb_, recs[i], lens[i]) == 0)
			ok++;
	CHECK(ok == SEC_WINDOW + (sab() ? 1 : 0));
	CHECK(rb_.too_old == 8 && rb_.replayed == 0 && rb_.forged == 0);
	CHECK(rb_.rx_top == (uint64_t)total);
	sec_close(&ra_);
	sec_close(&rb_);
}

/* The window's edge exactly: top - SEC_WINDOW passes, one below does not. */
static void
t_window_edge(void)
{
	static unsigned char recs[SEC_WINDOW + 2][40];
	size_t lens[SEC_WINDOW + 2];
	int i, last = SEC_WINDOW + 1;

	open_pair();
	for (i = 0; i <= last; i++)
		lens[i] = seal(&ra_, recs[i], sizeof(recs[i]), "e");
	CHECK(open_rec(&rb_, recs[last], lens[last]) == 0);	/* top = W + 2 */
	CHECK(open_rec(&rb_, recs[2], lens[2]) == 0);		/* top - W */
	CHECK(open_rec(&rb_, recs[sab() ? 3 : 1], lens[1]) == -1);
	CHECK(rb_.too_old == 1);
	CHECK(open_rec(&rb_, recs[2], lens[2]) == -1 && rb_.replayed == 1);
	CHECK(open_rec(&rb_, recs[last - 1], lens[last - 1]) == 0);
	sec_close(&ra_);
	sec_close(&rb_);
}

/* A jump far ahead clears the window: older in-window records still pass once. */
static void
t_window_jump(void)
{
	unsigned char r0[64], r1[64], r2[64];
	size_t n0, n1, n2;

	open_pair();
	n0 = seal(&ra_, r0, sizeof(r0), "0");
	n1 = seal(&ra_, r1, sizeof(r1), "1");
	ra_.tx_next = 3 * SEC_WINDOW;		/* as if many were lost */
	n2 = seal(&ra_, r2, sizeof(r2), "2");
	CHECK(open_rec(&rb_, r0, n0) == 0);
	CHECK(open_rec(&rb_, r2, n2) == 0);
	CHECK(open_rec(&rb_, sab() ? r2 : r1, sab() ? n2 : n1) == -1 &&
	    rb_.too_old == 1);
	CHECK(rb_.rx_top == 3 * SEC_WINDOW + 1);
	sec_close(&ra_);
	sec_close(&rb_);
}

/* Our own records sent back to us: the other direction's key. */
static void
t_reflection(void)
{
	unsigned char rec[200];
	size_t n;

	open_pair();
	n = seal(&ra_, rec, sizeof(rec), "mirror");
	CHECK(open_rec(sab() ? &rb_ : &ra_, rec, n) == -1);
	CHECK(ra_.forged == 1);
	n = seal(&rb_, rec, sizeof(rec), "mirror");
	CHECK(open_rec(&rb_, rec, n) == -1 && rb_.forged == 1);
	sec_close(&ra_);
	sec_close(&rb_);
}

/* One bit changed anywhere (header, counter, type, payload, tag): dropped, rec untouched. */
static void
t_altered(void)
{
	unsigned char rec[200], orig[200];
	size_t n, i, bad = 0;

	open_pair();
	n = seal(&ra_, orig, sizeof(orig), "altered in flight");
	for (i = 0; i < n; i++) {
		memcpy(rec, orig, n);
		if (!sab() || i != HDR + 3)
			rec[i] ^= (unsigned char)(1u << (i % 8));
		if (open_rec(&rb_, rec, n) != -1)
			bad++;
		else if (memcmp(rec, orig, n) != 0 && (rec[i] ^= (unsigned char)(1u << (i % 8)),
		    memcmp(rec, orig, n) != 0))
			bad++;		/* a rejected record is left as it was */
	}
	CHECK(bad == 0);
	CHECK(rb_.forged == n);
	/* truncated, and a record of nothing but a header */
	CHECK(open_rec(&rb_, orig, n - 1) == -1);
	CHECK(open_rec(&rb_, orig, HDR + SEC_OVERHEAD - 1) == -1);
	CHECK(open_rec(&rb_, orig, 5) == -1);
	CHECK(rb_.forged == n + 3);
	CHECK(open_rec(&rb_, orig, n) == 0);	/* the original still passes */
	sec_close(&ra_);
	sec_close(&rb_);
}

/* Sealed with the key of the other direction: the peer cannot open it. */
static void
t_wrong_direction(void)
{
	unsigned char rec[200];
	struct sec evil;
	size_t n;

	open_pair();
	evil = ra_;
	if (!sab())
		memcpy(evil.ktx, ra_.krx, 32);	/* r->i key, used i->r */
	n = seal(&evil, rec, sizeof(rec), "wrong way");
	CHECK(open_rec(&rb_, rec, n) == -1 && rb_.forged == 1);
	sec_close(&evil);
	sec_close(&ra_);
	sec_close(&rb_);
}

/* A counter of 2^64 - 1 is never valid; the seal limit fails the sender. */
static void
t_limits(void)
{
	unsigned char rec[200];
	size_t n;
	int i;

	open_pair();
	n = seal(&ra_, rec, sizeof(rec), "max");
	memset(rec + HDR, 0xff, 8);
	CHECK(open_rec(&rb_, rec, n) == -1 && rb_.forged == 1);
	ra_.seal_limit = ra_.tx_next + (sab() ? 3 : 2);
	CHECK(seal(&ra_, rec, sizeof(rec), "1") > 0);
	CHECK(seal(&ra_, rec, sizeof(rec), "2") > 0);
	CHECK(seal(&ra_, rec, sizeof(rec), "3") == 0);
	CHECK(sec_error(&ra_) == SEC_E_LIMIT && all_zero(ra_.ktx, 32));
	/* too many forgeries end the receiver */
	rb_.forge_limit = 4;
	memset(rec, 0, sizeof(rec));
	for (i = 0; i < 3; i++)
		CHECK(open_rec(&rb_, rec, 60) == -1);
	CHECK(rb_.state == SEC_S_FAILED && sec_error(&rb_) == SEC_E_FORGED);
	CHECK(all_zero(rb_.krx, 32));
	sec_close(&ra_);
	sec_close(&rb_);
}

/* Strict mode (a byte stream): in order passes; a gap is fatal. */
static void
strict_pair(void)
{
	int x, y;

	ends_default();
	ea.strict = eb.strict = 1;
	ea.ci = eb.ci = "pnc v3 mode=tcp";
	handshake(&ra_, &rb_, &x, &y);
	CHECK(x == SAW_DONE && y == SAW_DONE);
}

static void
t_strict_gap(void)
{
	unsigned char r[3][64];
	size_t n[3];
	int i;

	strict_pair();
	for (i = 0; i < 3; i++)
		n[i] = seal(&ra_, r[i], sizeof(r[i]), "s");
	CHECK(open_rec(&rb_, r[0], n[0]) == 0);
	CHECK(open_rec(&rb_, r[sab() ? 1 : 2], n[2]) == -1);	/* 1 skipped */
	CHECK(rb_.state == SEC_S_FAILED && sec_error(&rb_) == SEC_E_ORDER);
	CHECK(open_rec(&rb_, r[1], n[1]) == -1);	/* and that is final */
	sec_close(&ra_);
	sec_close(&rb_);
}

static void
t_strict_replay_forged(void)
{
	unsigned char r[64], c[64];
	size_t n;

	strict_pair();
	n = seal(&ra_, r, sizeof(r), "s");
	memcpy(c, r, n);
	CHECK(open_rec(&rb_, r, n) == 0);
	if (sab())
		n = seal(&ra_, c, sizeof(c), "s");
	CHECK(open_rec(&rb_, c, n) == -1 && sec_error(&rb_) == SEC_E_ORDER);
	sec_close(&rb_);
	sec_close(&ra_);
	strict_pair();
	n = seal(&ra_, r, sizeof(r), "s");
	if (!sab())
		r[n - 1] ^= 1;
	CHECK(open_rec(&rb_, r, n) == -1 && sec_error(&rb_) == SEC_E_FORGED);
	sec_close(&ra_);
	sec_close(&rb_);
}

/* In strict mode, 10000 records in order all pass. */
static void
t_strict_stream(void)
{
	unsigned char r[64];
	size_t n;
	int i, ok = 0;

	strict_pair();
	for (i = 0; i < 10000; i++) {
		n = seal(&ra_, r, sizeof(r), "stream");
		if (sab() && i == 5000)
			continue;
		if (open_rec(&rb_, r, n) == 0)
			ok++;
	}
	CHECK(ok == 10000);
	sec_close(&ra_);
	sec_close(&rb_);
}

/* Bad parameters: too long a secret or AD. */
static void
t_params(void)
{
	struct sec s;
	char big[SEC_SECRET_MAX + 2];

	ends_default();
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ea.secret = big;
	if (sab())
		big[SEC_SECRET_MAX] = '\0';
	CHECK(start(&s, 1, &ea, &eb) == -1 && s.state == SEC_S_FAILED);
	big[SEC_SECRET_MAX] = '\0';
	CHECK(start(&s, 1, &ea, &eb) == 0);
	sec_close(&s);
}

/* ---- codes ---- */

static void
t_wordlist(void)
{
	size_t i, n = code_nwords(), j, bad = 0;
	const char *w, *prev = "";

	CHECK(n >= 1024);
	for (i = 0; i < n; i++) {
		w = code_word(i);
		for (j = 0; w[j] != '\0'; j++)
			if (w[j] < 'a' || w[j] > 'z')
				bad++;
		if (j < 3 || j > 5)
			bad++;
		if (strcmp(prev, w) >= 0)	/* sorted: hence distinct */
			bad++;
		prev = w;
	}
	CHECK(bad == 0);
	CHECK(code_word(n) == NULL);
	CHECK(code_word(sab() ? 0 : n + 100) == NULL);
	printf("# %zu words\n", n);
}

/* 100000 fresh codes parse back; the words are drawn uniformly. */
static void
t_codes_roundtrip(void)
{
	static unsigned long count[2048];
	char code[CODE_MAX], secret[CODE_MAX], want[CODE_MAX], *p;
	unsigned np;
	size_t i, j, n = code_nwords(), bad = 0;
	double chi = 0, expect;
	int len;

	for (i = 0; i < 100000; i++) {
		len = code_new(code, sizeof(code), (unsigned)(i % 1000));
		if (len <= 0 || (size_t)len != strlen(code)) {
			bad++;
			continue;
		}
		if (sab() && i == 77)
			code[len - 1] = 'Q';
		if (code_parse(code, &np, secret, sizeof(secret)) != 0 ||
		    np != i % 1000) {
			bad++;
			continue;
		}
		p = strchr(code, '-');
		if (p == NULL || strcmp(p + 1, secret) != 0)
			bad++;
		/* count each word's index */
		snprintf(want, sizeof(want), "%s", secret);
		for (p = strtok(want, "-"); p != NULL; p = strtok(NULL, "-"))
			for (j = 0; j < n; j++)
				if (strcmp(code_word(j), p) == 0) {
					count[j]++;
					break;
				}
	}
	CHECK(bad == 0);
	/* chi-squared over n - 1 degrees of freedom: mean n - 1, sd ~ 53 */
	expect = 300000.0 / (double)n;
	for (j = 0; j < n; j++)
		chi += ((double)count[j] - expect) * ((double)count[j] - expect) /
		    expect;
	printf("# chi-squared %.0f over %zu degrees of freedom\n", chi, n - 1);
	CHECK(chi < (double)(n - 1) + 8 * 54);
	CHECK(code_new(code, 10, 7) == -1);	/* too small */
	CHECK(code_new(code, sizeof(code), CODE_NAMEPLATE_MAX + 1) == -1);
	CHECK(code_new(code, sizeof(code), CODE_NAMEPLATE_MAX) > 0);
}

static void
t_codes_malformed(void)
{
	static const char *bad[] = {
		"", "7", "7-", "-able-acid-acorn", "7-able-acid",
		"7-able-acid-acorn-acre", "7-Able-acid-acorn",
		"7-ABLE-ACID-ACORN", "7-able-acid-acorn-", "7-able--acid-acorn",
		"7--able-acid-acorn", "7_able_acid_acorn", "7 able acid acorn",
		"7-able-acid-acorn\n", " 7-able-acid-acorn", "07-able-acid-acorn",
		"1000000-able-acid-acorn", "99999999999999999999-able-acid-acorn",
		"7-able-acid-zzzzz", "7-abacus-acid-acorn", "7-ab-acid-acorn",
		"7-able-acid-acorns", "x-able-acid-acorn", "7-able-ácid-acorn",
		"7-able-acid-aco", "+7-able-acid-acorn", "7-able-acid-acorn\x01",
	};
	char secret[CODE_MAX], huge[10000];
	unsigned np = 12345;
	size_t i, wrong = 0;

	memset(secret, 0xAA, sizeof(secret));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (code_parse(sab() && i == 6 ? "7-able-acid-acorn" : bad[i],
		    &np, secret, sizeof(secret)) != -1) {
			printf("# accepted: \"%s\"\n", bad[i]);
			wrong++;
		}
	memset(huge, 'a', sizeof(huge) - 1);
	huge[0] = '7';
	huge[1] = '-';
	huge[sizeof(huge) - 1] = '\0';
	if (code_parse(huge, &np, secret, sizeof(secret)) != -1)
		wrong++;
	CHECK(wrong == 0);
	/* no partial output */
	CHECK(np == 12345);
	for (i = 0; i < sizeof(secret); i++)
		if ((unsigned char)secret[i] != 0xAA)
			wrong++;
	CHECK(wrong == 0);
	/* the good ones, and a short output buffer */
	CHECK(code_parse("7-able-acid-acorn", &np, secret, sizeof(secret)) == 0);
	CHECK(np == 7 && strcmp(secret, "able-acid-acorn") == 0);
	CHECK(code_parse("0-zoom-zoom-zoom", &np, secret, sizeof(secret)) == 0);
	CHECK(np == 0 && strcmp(secret, "zoom-zoom-zoom") == 0);
	CHECK(code_parse("999999-able-acid-acorn", &np, secret, 16) == 0);
	memset(secret, 0xAA, sizeof(secret));
	CHECK(code_parse("5-able-acid-acorn", &np, secret, 15) == -1);
	CHECK(np == 999999 && (unsigned char)secret[0] == 0xAA);
}

/* A code's words into a whole handshake: the same code meets, another fails. */
static void
t_code_handshake(void)
{
	char code[CODE_MAX], s1[CODE_MAX], s2[CODE_MAX];
	unsigned n1, n2;
	struct sec a, b;
	int ra, rb;

	CHECK(code_new(code, sizeof(code), 42) > 0);
	CHECK(code_parse(code, &n1, s1, sizeof(s1)) == 0);
	CHECK(code_parse(code, &n2, s2, sizeof(s2)) == 0 && n1 == 42);
	ends_default();
	ea.secret = s1;
	eb.secret = s2;
	handshake(&a, &b, &ra, &rb);
	CHECK(ra == SAW_DONE && rb == SAW_DONE);
	sec_close(&a);
	sec_close(&b);
	/* one letter off in one word */
	s2[0] = s2[0] == 'a' ? 'b' : 'a';
	if (sab())
		s2[0] = s1[0];
	handshake(&a, &b, &ra, &rb);
	CHECK(ra == SAW_FAIL && rb == SAW_FAIL);
	sec_close(&a);
	sec_close(&b);
}

static const struct {
	const char	*name;
	void		(*fn)(void);
} tests[] = {
	{ "success", t_success },
	{ "success-key", t_success_key },
	{ "wrong-password", t_wrong_password },
	{ "wrong-key", t_wrong_key },
	{ "key-vs-none", t_key_vs_none },
	{ "prs-unambiguous", t_prs_unambiguous },
	{ "wrong-ci", t_wrong_ci },
	{ "wrong-sid", t_wrong_sid },
	{ "mitm-ad-hello", t_mitm_ad_hello },
	{ "mitm-ad-reply", t_mitm_ad_reply },
	{ "ad-check", t_ad_check },
	{ "tamper-hello-share", t_tamper_hello_share },
	{ "tamper-reply-share", t_tamper_reply_share },
	{ "tamper-reply-confirm", t_tamper_reply_confirm },
	{ "tamper-finish", t_tamper_finish },
	{ "malformed-dropped", t_malformed_dropped },
	{ "low-order-hello", t_low_order_hello },
	{ "low-order-reply", t_low_order_reply },
	{ "duplicates", t_duplicates },
	{ "early-records", t_early_records },
	{ "lossy", t_lossy },
	{ "sizes", t_sizes },
	{ "overhead", t_overhead },
	{ "in-place", t_in_place },
	{ "replay", t_replay },
	{ "reorder", t_reorder },
	{ "window-edge", t_window_edge },
	{ "window-jump", t_window_jump },
	{ "reflection", t_reflection },
	{ "altered", t_altered },
	{ "wrong-direction", t_wrong_direction },
	{ "limits", t_limits },
	{ "strict-gap", t_strict_gap },
	{ "strict-replay-forged", t_strict_replay_forged },
	{ "strict-stream", t_strict_stream },
	{ "params", t_params },
	{ "wordlist", t_wordlist },
	{ "codes-roundtrip", t_codes_roundtrip },
	{ "codes-malformed", t_codes_malformed },
	{ "code-handshake", t_code_handshake },
};

int
main(int argc, char **argv)
{
	size_t i, nt = sizeof(tests) / sizeof(tests[0]);
	int passed = 0, failed = 0;

	if (argc == 2 && strcmp(argv[1], "-l") == 0) {
		for (i = 0; i < nt; i++)
			printf("%s\n", tests[i].name);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "-x") == 0)
		sabotaged = argv[2];
	else if (argc != 1) {
		fprintf(stderr, "usage: sec [-l | -x test]\n");
		return 2;
	}
	for (i = 0; i < nt; i++) {
		if (sabotaged != NULL && strcmp(sabotaged, tests[i].name) != 0)
			continue;
		current = tests[i].name;
		failures = 0;
		tests[i].fn();
		if (failures == 0) {
			printf("ok %s\n", current);
			passed++;
		} else
			failed++;
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}
