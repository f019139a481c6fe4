/*
 * tests/pmap.c - the port-mapping codecs of wire.c (wr_natpmp,
 * wr_pcp_map, rd_pmap) against the byte layouts of RFC 6886 and RFC
 * 6887, then every prefix of each good answer and a million random
 * ones (run under ASan/UBSan by tests/reach.bats). Prints "ok N" or
 * the first failure, and exits 0 or 1.
 *
 *	cc -fsanitize=address,undefined -o pmap tests/pmap.c wire.c util.c
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../pnc.h"

static int checks;

#define CHECK(c) do { checks++; if (!(c)) { printf("FAIL line %d: %s\n", \
	__LINE__, #c); exit(1); } } while (0)

static const unsigned char nonce[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
    11, 12 };

static void
encoders(void)
{
	unsigned char b[128];
	struct wr w;
	struct ep self;
	static const unsigned char natpmp_map[12] = { 0, 1, 0, 0, 0x9c, 0x40,
	    0x9c, 0x41, 0, 0, 0, 120 };
	static const unsigned char pcp_map[60] = {
	    2, 1, 0, 0, 0, 0, 0, 120,
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 0, 2,
	    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
	    17, 0, 0, 0, 0x9c, 0x40, 0x9c, 0x40,
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0 };

	wr_init(&w, b, sizeof(b));
	wr_natpmp(&w, PMAP_OP_ADDR, 0, 0, 0);
	CHECK(!w.bad && w.len == 2 && b[0] == 0 && b[1] == 0);
	wr_init(&w, b, sizeof(b));
	wr_natpmp(&w, PMAP_OP_MAP, 40000, 40001, 120);
	CHECK(!w.bad && w.len == 12 && memcmp(b, natpmp_map, 12) == 0);
	CHECK(parse_hostport("10.1.0.2:1", NULL, AF_INET, &self) == 0);
	wr_init(&w, b, sizeof(b));
	wr_pcp_map(&w, nonce, &self, 40000, 40000, 120);
	CHECK(!w.bad && w.len == 60 && memcmp(b, pcp_map, 60) == 0);
}

/* A PCP MAP answer: result, granted port, external address. */
static size_t
pcp_answer(unsigned char *b, int result, int eport, const char *ext)
{
	struct in_addr a;
	size_t n = 0;

	memset(b, 0, 60);
	b[n++] = 2;
	b[n++] = 0x81;
	n++;
	b[n++] = (unsigned char)result;
	b[7] = 120;
	n = 24;
	memcpy(b + n, nonce, 12);
	n += 12;
	b[n++] = 17;
	n += 3;
	b[n++] = 0x9c;		/* internal port 40000 */
	b[n++] = 0x40;
	b[n++] = (unsigned char)(eport >> 8);
	b[n++] = (unsigned char)eport;
	b[n + 10] = b[n + 11] = 0xff;
	inet_pton(AF_INET, ext, &a);
	memcpy(b + n + 12, &a, 4);
	return n + 16;
}

static void
decoders(void)
{
	unsigned char b[64];
	struct pmap_reply r;
	struct rd rd;
	char s[64];
	size_t n;
	static const unsigned char addr[12] = { 0, 128, 0, 0, 0, 0, 1, 0,
	    198, 51, 100, 2 };
	static const unsigned char map[16] = { 0, 129, 0, 0, 0, 0, 1, 0,
	    0x9c, 0x40, 0x9c, 0x41, 0, 0, 0, 120 };
	static const unsigned char unsupp[4] = { 0, 129, 0, 1 };
	static const unsigned char unsupp0[8] = { 0, 0, 0, 1, 0, 0, 1, 0 };
	static const unsigned char req0[8] = { 0, 0, 0, 0, 0, 0, 1, 0 };

	n = pcp_answer(b, 0, 40001, "198.51.100.2");
	CHECK(n == 60);
	rd_init(&rd, b, n);
	CHECK(rd_pmap(&rd, &r) == 0 && r.proto == PMAP_PCP && r.result == 0 &&
	    r.lifetime == 120 && r.iport == 40000 && r.eport == 40001 &&
	    r.have_ext && memcmp(r.nonce, nonce, 12) == 0);
	CHECK(strcmp(ep_addr(&r.ext, s, sizeof(s)), "198.51.100.2") == 0);
	n = pcp_answer(b, 2, 0, "0.0.0.0");	/* NOT_AUTHORIZED */
	rd_init(&rd, b, n);
	CHECK(rd_pmap(&rd, &r) == 0 && r.proto == PMAP_PCP && r.result == 2);
	rd_init(&rd, b, 24);		/* an error without the MAP part */
	CHECK(rd_pmap(&rd, &r) == 0 && r.result == 2);
	b[1] = 0x01;			/* a request, not an answer */
	rd_init(&rd, b, n);
	CHECK(rd_pmap(&rd, &r) == -1);
	rd_init(&rd, addr, sizeof(addr));
	CHECK(rd_pmap(&rd, &r) == 0 && r.proto == PMAP_NATPMP &&
	    r.op == PMAP_OP_ADDR && r.result == 0 && r.have_ext);
	CHECK(strcmp(ep_addr(&r.ext, s, sizeof(s)), "198.51.100.2") == 0);
	rd_init(&rd, map, sizeof(map));
	CHECK(rd_pmap(&rd, &r) == 0 && r.op == PMAP_OP_MAP &&
	    r.iport == 40000 && r.eport == 40001 && r.lifetime == 120);
	rd_init(&rd, unsupp, sizeof(unsupp));
	CHECK(rd_pmap(&rd, &r) == -1);	/* too short even for an error */
	/* a NAT-PMP server's answer to PCP (RFC 6886 3.5) */
	rd_init(&rd, unsupp0, sizeof(unsupp0));
	CHECK(rd_pmap(&rd, &r) == 0 && r.proto == PMAP_NATPMP &&
	    r.op == PMAP_OP_MAP && r.result == 1);
	rd_init(&rd, req0, sizeof(req0));	/* our own request, echoed */
	CHECK(rd_pmap(&rd, &r) == -1);
	/* every prefix of a good answer but the whole: not a grant */
	n = pcp_answer(b, 0, 40001, "198.51.100.2");
	for (size_t k = 0; k < n; k++) {
		rd_init(&rd, b, k);
		CHECK(rd_pmap(&rd, &r) == -1 || r.result != 0 || !r.have_ext);
	}
	for (size_t k = 0; k < sizeof(map); k++) {
		rd_init(&rd, map, k);
		CHECK(rd_pmap(&rd, &r) == -1);
	}
}

static void
random_input(void)
{
	unsigned char b[80];
	struct pmap_reply r;
	struct rd rd;
	int i;
	size_t k;

	srandom(1);
	for (i = 0; i < 1000000; i++) {
		size_t n = (size_t)random() % sizeof(b);

		for (k = 0; k < n; k++)
			b[k] = (unsigned char)random();
		b[0] = (unsigned char)(random() & 1 ? 0 : 2);
		rd_init(&rd, b, n);
		(void)rd_pmap(&rd, &r);
	}
	checks++;
}

int
main(void)
{
	encoders();
	decoders();
	random_input();
	printf("ok %d\n", checks);
	return 0;
}
