/*
 * Smaller stand-ins for parts of musl, for the static build (make static)
 * only: vfprintf, the err(3) family, qsort and strstr. Linked before
 * libc.a, a definition
 * here wins, and libc's own callers reach it too.
 *
 * vfprintf.
 *
 * musl's vfprintf is 10.5 KB, half of it float formatting (fmt_fp) that
 * pnc never asks for; it comes in whole with the first printf. Linked
 * before libc.a, this definition wins, and every printf-family function
 * of libc (printf, fprintf, snprintf, vsnprintf, err, warn, inet_ntop's
 * snprintf) reaches it. It formats into a local buffer and hands the
 * bytes to fwrite, so buffering, ferror and fflush stay libc's, and a
 * short message to unbuffered stderr is still one write(2).
 *
 * It does what pnc's formats and libc's own calls use: flags '-' and
 * '0', a width and a precision (digits or '*'), the lengths hh h l ll z
 * j t, and the conversions d i u x X c s p %. Anything else (floats,
 * %n) fails as musl fails on a bad format: -1 with errno EINVAL; the
 * ship tests keep float conversions out of the sources.
 */

#include <err.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct out {
	FILE	*f;
	size_t	 n;		/* bytes in buf */
	size_t	 total;		/* bytes formatted, as printf counts */
	int	 failed;	/* fwrite fell short */
	char	 buf[256];
};

static void
out_flush(struct out *o)
{
	if (o->n > 0 && fwrite(o->buf, 1, o->n, o->f) != o->n)
		o->failed = 1;
	o->n = 0;
}

static void
out_put(struct out *o, const char *s, size_t n)
{
	size_t k;

	o->total += n;
	while (n > 0) {
		if ((k = sizeof(o->buf) - o->n) > n)
			k = n;
		memcpy(o->buf + o->n, s, k);
		o->n += k;
		s += k;
		n -= k;
		if (o->n == sizeof(o->buf))
			out_flush(o);
	}
}

static void
out_pad(struct out *o, char c, long n)
{
	while (n-- > 0)
		out_put(o, &c, 1);
}

/*
 * One field: prefix ("-", "0x"), zeros (int precision), then the body,
 * padded to width on the left, or on the right with '-'.
 */
static void
out_field(struct out *o, const char *pre, const char *s, size_t n,
    long zeros, long width, int left, int zeropad)
{
	long len = (long)(strlen(pre) + n) + (zeros > 0 ? zeros : 0);

	if (!left && !zeropad)
		out_pad(o, ' ', width - len);
	out_put(o, pre, strlen(pre));
	if (!left && zeropad)
		out_pad(o, '0', width - len);
	out_pad(o, '0', zeros);
	out_put(o, s, n);
	if (left)
		out_pad(o, ' ', width - len);
}

/* A decimal or hexadecimal integer field; precision -1: none given. */
static void
out_int(struct out *o, uintmax_t v, int neg, int conv, long width,
    long prec, int left, int zeropad)
{
	const char *xd = conv == 'X' ? "0123456789ABCDEF" :
	    "0123456789abcdef";
	unsigned base = conv == 'x' || conv == 'X' || conv == 'p' ? 16 : 10;
	char d[3 * sizeof(v)], *p = d + sizeof(d);
	size_t n;

	do
		*--p = xd[v % base];
	while ((v /= base) != 0);
	n = (size_t)(d + sizeof(d) - p);
	if (prec == 0 && n == 1 && *p == '0')
		n = 0;			/* C: "%.0d" of 0 is empty */
	out_field(o, conv == 'p' ? "0x" : neg ? "-" : "", p, n,
	    prec > (long)n ? prec - (long)n : 0, width, left,
	    zeropad && prec < 0);
}

/* The argument of an integer conversion, by its length modifier. */
static uintmax_t
int_arg(va_list *ap, const char *len, int sign, int *neg)
{
	intmax_t s;
	uintmax_t u;

	if (strcmp(len, "ll") == 0 || strcmp(len, "j") == 0)
		s = va_arg(*ap, long long), u = (unsigned long long)s;
	else if (strcmp(len, "l") == 0 || strcmp(len, "z") == 0 ||
	    strcmp(len, "t") == 0)
		s = va_arg(*ap, long), u = (unsigned long)s;
	else {
		s = va_arg(*ap, int);
		u = (unsigned)s;
		if (strcmp(len, "h") == 0)
			s = (short)s, u = (unsigned short)u;
		else if (strcmp(len, "hh") == 0)
			s = (signed char)s, u = (unsigned char)u;
	}
	*neg = sign && s < 0;
	return *neg ? -(uintmax_t)s : u;
}

/* A width or precision: digits, or '*' from the arguments. */
static long
num(const char **fmt, va_list *ap)
{
	long v = 0;

	if (**fmt == '*') {
		(*fmt)++;
		return va_arg(*ap, int);
	}
	while (**fmt >= '0' && **fmt <= '9' && v < INT_MAX / 10)
		v = v * 10 + *(*fmt)++ - '0';
	return v;
}

/* One conversion after its '%'; -1 for one this file does not do. */
static int
convert(struct out *o, const char **fmt, va_list *ap)
{
	const char *s;
	char len[3] = "", c;
	long width, prec = -1;
	int left = 0, zeropad = 0, neg;
	size_t n;
	uintmax_t v;

	for (; **fmt == '-' || **fmt == '0'; (*fmt)++) {
		if (**fmt == '-')
			left = 1;
		else
			zeropad = 1;
	}
	if ((width = num(fmt, ap)) < 0)
		left = 1, width = -width;
	if (**fmt == '.') {
		(*fmt)++;
		prec = num(fmt, ap);
	}
	for (n = 0; n < 2 && **fmt != '\0' && strchr("hlzjt", **fmt) !=
	    NULL && (n == 0 || **fmt == len[0]); n++)
		len[n] = *(*fmt)++;
	switch (c = *(*fmt)++) {
	case 'd': case 'i': case 'u': case 'x': case 'X':
		v = int_arg(ap, len, c == 'd' || c == 'i', &neg);
		out_int(o, v, neg, c, width, prec, left, zeropad);
		return 0;
	case 'p':
		v = (uintptr_t)va_arg(*ap, void *);
		out_int(o, v, 0, c, width, -1, left, 0);
		return 0;
	case 'c':
		c = (char)va_arg(*ap, int);
		out_field(o, "", &c, 1, 0, width, left, 0);
		return 0;
	case 's':
		if ((s = va_arg(*ap, const char *)) == NULL)
			s = "(null)";
		n = prec < 0 ? strlen(s) : strnlen(s, (size_t)prec);
		out_field(o, "", s, n, 0, width, left, 0);
		return 0;
	case '%':
		out_put(o, "%", 1);
		return 0;
	}
	return -1;
}

int
vfprintf(FILE *restrict f, const char *restrict fmt, va_list ap)
{
	struct out o = { .f = f };
	const char *p = fmt, *q;
	va_list aq;
	int rc = 0;

	va_copy(aq, ap);
	while (*p != '\0' && rc == 0) {
		for (q = p; *q != '\0' && *q != '%'; q++)
			;
		out_put(&o, p, (size_t)(q - p));
		if (*(p = q) == '%') {
			p++;
			rc = convert(&o, &p, &aq);
		}
	}
	va_end(aq);
	out_flush(&o);
	if (rc == -1) {
		errno = EINVAL;
		return -1;
	}
	if (o.failed)
		return -1;
	if (o.total > INT_MAX) {
		errno = EOVERFLOW;
		return -1;
	}
	return (int)o.total;
}

/*
 * qsort: an insertion sort, 100 bytes for musl's 2 KB smoothsort. Its
 * one caller in pnc-static is getaddrinfo ordering at most 48 addresses
 * (RFC 6724), where n*n is nothing; pnc itself does not sort.
 */
void
qsort(void *base, size_t n, size_t size, int (*cmp)(const void *,
    const void *))
{
	unsigned char *b = base, *p, t;
	size_t i, j, k;

	for (i = 1; i < n; i++)
		for (j = i; j > 0; j--) {
			p = b + j * size;
			if (cmp(p - size, p) <= 0)
				break;
			for (k = 0; k < size; k++) {
				t = p[k];
				p[k] = p[k - size];
				p[k - size] = t;
			}
		}
}

/*
 * strstr: the plain quadratic search, for musl's 1.3 KB two-way one. Its
 * callers in pnc-static look for short words in short lines (the
 * resolver's /etc/resolv.conf and /etc/hosts).
 */
char *
strstr(const char *h, const char *n)
{
	size_t len = strlen(n);

	for (; *h != '\0'; h++)
		if (strncmp(h, n, len) == 0)
			return (char *)h;
	return len == 0 ? (char *)h : NULL;
}

/*
 * The err(3) family, printing as musl's does ("pnc: message: reason"),
 * without its perror and putc (1.5 KB). e: the errno to name, or -1.
 */
static void
report(const char *fmt, va_list ap, int e)
{
	fprintf(stderr, "%s: ", program_invocation_short_name);
	if (fmt != NULL)
		vfprintf(stderr, fmt, ap);
	if (e >= 0)
		fprintf(stderr, "%s%s", fmt != NULL ? ": " : "", strerror(e));
	fputs("\n", stderr);
}

void
vwarn(const char *fmt, va_list ap)
{
	report(fmt, ap, errno);
}

void
vwarnx(const char *fmt, va_list ap)
{
	report(fmt, ap, -1);
}

void
verr(int status, const char *fmt, va_list ap)
{
	report(fmt, ap, errno);
	exit(status);
}

void
verrx(int status, const char *fmt, va_list ap)
{
	report(fmt, ap, -1);
	exit(status);
}

void
warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(fmt, ap, errno);
	va_end(ap);
}

void
warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(fmt, ap, -1);
	va_end(ap);
}

void
err(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(fmt, ap, errno);
	va_end(ap);
	exit(status);
}

void
errx(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(fmt, ap, -1);
	va_end(ap);
	exit(status);
}
