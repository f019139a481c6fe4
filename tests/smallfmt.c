/*
 * small.c against musl: tests/ship.bats builds this once with musl's own
 * functions and once with small.c in front of them, and compares the
 * two outputs byte for byte. Every conversion pnc's formats use, the
 * ones musl's inet_ntop uses, odd widths and precisions, truncation,
 * output past small.c's buffer, stdout and stderr in order, the err(3)
 * family, and qsort and strstr on the inputs the resolver gives them.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <err.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SN(...) do {							\
	char b_[200];							\
	int r_ = snprintf(b_, sizeof(b_), __VA_ARGS__);			\
	printf("%d [%s]\n", r_, b_);					\
} while (0)

static int
cmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

static void
formats(void)
{
	char big[600], sm[5];
	int r;

	SN("%s pnc %-7s %s|", "usage:", "punch", "x");
	SN("[%03lld] [%03lld] [%5d] [%-5d|] [%05d] [%d]", 7LL, 12345LL, -42,
	    -42, -42, INT_MIN);
	SN("%lld %llu %lu %zu %u %c %%", LLONG_MIN, ULLONG_MAX, ULONG_MAX,
	    (size_t)123, 4000000000u, 'Z');
	SN("%.*s|%.3s|%10.2s|%-4s|%*d|%-*d|", 3, "abcdef", "xy", "abc", "q",
	    4, 7, 4, 7);
	SN("%x %X %08x %p %hhd %hd %hhu", 0xdeadbeefu, 0xabcu, 0x1fu,
	    (void *)0x1234, 300, 70000, 300);
	SN("%.0d|%.3d|%5.3d|%s|%i", 0, 7, -7, (char *)NULL, -3);
	SN("%s", "");
	SN("%jd %td %ld", (intmax_t)-5, (ptrdiff_t)9, LONG_MIN);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	r = snprintf(NULL, 0, "%s%s", big, big);
	printf("len %d\n", r);
	r = snprintf(sm, sizeof(sm), "%d", 123456);
	printf("%d [%s]\n", r, sm);
	printf("%s|%s\n", big, big + 300);
}

static void
addresses(void)
{
	static const char *v6[] = { "2001:db8::ffff:1.2.3.4",
	    "::ffff:10.0.0.1", "::1", "::", "fe80::1:2:3:4", "1:2:3:4:5:6:7:8" };
	struct in6_addr a6;
	struct in_addr a4;
	char s[INET6_ADDRSTRLEN];
	size_t i;

	for (i = 0; i < sizeof(v6) / sizeof(v6[0]); i++) {
		inet_pton(AF_INET6, v6[i], &a6);
		printf("%s\n", inet_ntop(AF_INET6, &a6, s, sizeof(s)));
	}
	a4.s_addr = htonl(0xc0a80101);
	printf("%s\n", inet_ntop(AF_INET, &a4, s, sizeof(s)));
}

static void
sorting(void)
{
	static const char *h[] = { "", "abc", "nameserver 1.2.3.4",
	    "options ndots:2 attempts:3", "aaab" };
	static const char *n[] = { "", "a", "c", "nameserver", "ndots:",
	    "attempts:", "aab", "zz", "abcd" };
	unsigned s = 1;
	int a[64], t, i, k;
	size_t x, y;
	char *p;

	for (t = 0; t < 200; t++) {
		k = t % 60;
		for (i = 0; i < k; i++) {
			s = s * 1103515245 + 12345;
			a[i] = (int)(s >> 16) % 20;
		}
		qsort(a, (size_t)k, sizeof(a[0]), cmp);
		for (i = 0; i < k; i++)
			printf("%d%c", a[i], i + 1 < k ? ' ' : '\n');
	}
	for (x = 0; x < sizeof(h) / sizeof(h[0]); x++)
		for (y = 0; y < sizeof(n) / sizeof(n[0]); y++) {
			p = strstr(h[x], n[y]);
			printf("%ld ", p != NULL ? (long)(p - h[x]) : -1L);
		}
	printf("\n");
}

int
main(int argc, char **argv)
{
	(void)argv;
	formats();
	addresses();
	sorting();
	printf("no newline, then stderr: ");
	fflush(stdout);
	warnx("warnx %d %s", 5, "five");
	errno = ENOENT;
	warn("warn %s", "file");
	errno = EACCES;
	warn(NULL);
	if (argc > 1)
		errx(3, "errx %s", "three");
	errno = EPERM;
	err(4, "err %d", 4);
}
