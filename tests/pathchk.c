/*
 * tests/pathchk.c - the path check codec of wire.c (wr_pathchk,
 * rd_pathchk: PROTOCOL 8.1) against its byte layout, then every prefix
 * of good bodies, a trailing byte, a zero nonce, bad families, and a
 * million random bodies (run under ASan/UBSan by tests/relay.bats).
 * Prints "ok N" or the first failure, and exits 0 or 1.
 *
 *	cc -fsanitize=address,undefined -o pathchk tests/pathchk.c wire.c util.c
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../pnc.h"

static int checks;

#define CHECK(c) do { checks++; if (!(c)) { printf("FAIL line %d: %s\n", \
	__LINE__, #c); exit(1); } } while (0)

/* A body (after the 12-byte header) parsed: 0 or -1, into pc. */
static int
parse(const unsigned char *b, size_t n, struct pathchk *pc)
{
	struct rd r;

	rd_init(&r, b, n);
	return rd_pathchk(&r, pc);
}

static void
layout(void)
{
	static const unsigned char want4[HDR_LEN + 15] = {
	    'P', 'N', PROTO_VERSION, T_PATHCHK, 0, 0, 0, 0, 0, 0, 0, 7,
	    1, 2, 3, 4, 5, 6, 7, 8, 4, 0x9c, 0x40, 198, 51, 100, 6 };
	unsigned char b[64];
	struct pathchk pc, back;
	struct wr w;
	size_t i;

	pc.nonce = 0x0102030405060708ull;
	CHECK(parse_hostport("198.51.100.6:40000", NULL, AF_INET, &pc.ep) == 0);
	wr_init(&w, b, sizeof(b));
	wr_pathchk(&w, T_PATHCHK, 7, &pc);
	CHECK(!w.bad && w.len == sizeof(want4) &&
	    memcmp(b, want4, sizeof(want4)) == 0);
	CHECK(parse(b + HDR_LEN, w.len - HDR_LEN, &back) == 0);
	CHECK(back.nonce == pc.nonce && ep_equal(&back.ep, &pc.ep));
	for (i = 0; i < w.len - HDR_LEN; i++)	/* every prefix: short */
		CHECK(parse(b + HDR_LEN, i, &back) == -1);
	b[w.len] = 0;				/* a trailing byte */
	CHECK(parse(b + HDR_LEN, w.len - HDR_LEN + 1, &back) == -1);
	b[HDR_LEN + 8] = 5;			/* no such family */
	CHECK(parse(b + HDR_LEN, w.len - HDR_LEN, &back) == -1);
	b[HDR_LEN + 8] = 6;			/* 6 wants 16 bytes */
	CHECK(parse(b + HDR_LEN, w.len - HDR_LEN, &back) == -1);
	b[HDR_LEN + 8] = 4;
	memset(b + HDR_LEN, 0, 8);		/* nonce 0 */
	CHECK(parse(b + HDR_LEN, w.len - HDR_LEN, &back) == -1);

	CHECK(parse_hostport("[2001:db8::1]:7", NULL, AF_INET6, &pc.ep) == 0);
	wr_init(&w, b, sizeof(b));
	wr_pathchk(&w, T_PATHOK, 7, &pc);
	CHECK(!w.bad && w.len == HDR_LEN + 8 + 19 && b[3] == T_PATHOK);
	CHECK(parse(b + HDR_LEN, w.len - HDR_LEN, &back) == 0);
	CHECK(back.nonce == pc.nonce && ep_equal(&back.ep, &pc.ep));
	wr_init(&w, b, HDR_LEN + 8 + 18);	/* no room: bad, no overrun */
	wr_pathchk(&w, T_PATHOK, 7, &pc);
	CHECK(w.bad);
}

/* Random bodies: parsed or refused, never read past their end. */
static void
noise(void)
{
	struct pathchk pc;
	unsigned char *b;
	size_t n, i;
	int k;

	srandom(1);
	for (k = 0; k < 1000000; k++) {
		n = (size_t)random() % 40;
		if ((b = malloc(n ? n : 1)) == NULL)
			exit(1);
		for (i = 0; i < n; i++)
			b[i] = (unsigned char)random();
		if (n > 8 && k % 2)
			b[8] = k % 4 == 1 ? 4 : 6;	/* a family, often */
		if (parse(b, n, &pc) == 0)
			CHECK(pc.nonce != 0 && (n == 15 || n == 27));
		free(b);
	}
	checks++;
}

int
main(void)
{
	layout();
	noise();
	printf("ok %d\n", checks);
	return 0;
}
