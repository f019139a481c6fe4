/*
 * util.c - time, logging, parsing, addresses and socket helpers.
 *
 * Helpers here never exit and never print errors: they return -1 with
 * errno set (or a gai error folded into errno) and leave the message to
 * the subcommand.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pnc.h"

int verbose;

/*
 * Narration for -v, on stderr, one line an event. On a terminal a line is
 * stamped with the monotonic clock; not elsewhere: a journal (or a log
 * file's reader) stamps lines itself.
 */
void
vlog(const char *fmt, ...)
{
	static int64_t t0;
	static int tty = -1;
	va_list ap;
	int64_t t;

	if (!verbose)
		return;
	t = now_ms();
	if (t0 == 0)
		t0 = t;
	if (tty == -1)
		tty = isatty(STDERR_FILENO);
	if (tty)
		fprintf(stderr, "pnc: [%lld.%03lld] ", (long long)(t - t0) /
		    1000, (long long)(t - t0) % 1000);
	else
		fputs("pnc: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Milliseconds on the monotonic clock: timers must not jump with NTP. */
int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Microseconds on the same clock, for round-trip times. */
int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * Session ids must not repeat across runs on one port (a late datagram of
 * the previous session would be taken for this one), so they come from
 * the kernel's generator, not from the clock.
 */
uint64_t
random64(void)
{
	uint64_t v = 0;

	if (getentropy(&v, sizeof(v)) == -1)
		v = (uint64_t)now_ms() ^ ((uint64_t)getpid() << 32);
	return v ? v : 1;
}

/* Range-checked port: 0..65535. Returns 0, or -1 for garbage. */
int
parse_port(const char *s, int *port)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0 || v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}

/*
 * Seconds, possibly fractional ("0.5"), into milliseconds rounded to the
 * nearest, at least 1: decimal digits with at most one point, more than
 * zero, at most a year. By hand, not strtod: float scanning is 6 KB of a
 * static build's 100 KB budget.
 */
int
parse_secs(const char *s, int64_t *ms)
{
	static const int scale[3] = { 100, 10, 1 };
	const int64_t max = 86400LL * 365 * 1000;
	int64_t v = 0;
	int digits = 0, frac = -1, nonzero = 0, d;

	if (s == NULL)
		return -1;
	for (; *s != '\0'; s++) {
		if (*s == '.' && frac == -1) {
			frac = 0;
			continue;
		}
		if (*s < '0' || *s > '9')
			return -1;
		d = *s - '0';
		digits++;
		nonzero |= d != 0;
		if (frac == -1) {
			if ((v = v * 10 + d * 1000) > max)
				return -1;
		} else if (frac < 3)
			v += d * scale[frac++];
		else if (frac == 3) {
			frac++;		/* the first digit past the ms rounds */
			v += d >= 5;
		}
	}
	if (digits == 0 || !nonzero || v > max)
		return -1;
	*ms = v > 0 ? v : 1;
	return 0;
}

/*
 * Resolve host and port into the first usable address. family may be
 * AF_UNSPEC; passive asks for a wildcard when host is NULL.
 * Returns 0, or -1 with errno set (EHOSTUNREACH for a name that does not
 * resolve, so the caller can say so).
 */
int
resolve(const char *host, const char *port, int family, int passive,
    struct ep *out)
{
	struct addrinfo hints, *res;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_protocol = IPPROTO_UDP;
	hints.ai_flags = passive ? AI_PASSIVE : 0;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		errno = rc == EAI_SYSTEM ? errno : EHOSTUNREACH;
		return -1;
	}
	if (res->ai_addrlen > sizeof(out->u)) {
		freeaddrinfo(res);
		errno = EAFNOSUPPORT;
		return -1;
	}
	memcpy(&out->u, res->ai_addr, res->ai_addrlen);
	out->len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/*
 * Split "host", "host:port", "[v6]:port" or a bare v6 address; defport
 * when no port is given. Checks syntax and the port's range only.
 * Returns 0, or -1 (EINVAL) for a malformed spec.
 */
int
split_hostport(const char *spec, const char *defport, char *host,
    size_t hlen, const char **port)
{
	const char *colon, *rb;
	size_t n;
	int p;

	*port = defport;
	if (spec == NULL || *spec == '\0' || strlen(spec) >= hlen)
		goto bad;
	if (spec[0] == '[') {
		if ((rb = strchr(spec, ']')) == NULL || rb == spec + 1)
			goto bad;
		n = (size_t)(rb - spec - 1);
		memcpy(host, spec + 1, n);
		host[n] = '\0';
		if (rb[1] == ':')
			*port = rb + 2;
		else if (rb[1] != '\0')
			goto bad;
	} else if ((colon = strchr(spec, ':')) != NULL &&
	    strchr(colon + 1, ':') == NULL) {
		if ((n = (size_t)(colon - spec)) == 0)
			goto bad;
		memcpy(host, spec, n);
		host[n] = '\0';
		*port = colon + 1;
	} else
		strcpy(host, spec);
	if (parse_port(*port, &p) == -1 || p == 0)
		goto bad;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/* A host[:port] spec resolved. Returns 0 or -1. */
int
parse_hostport(const char *spec, const char *defport, int family,
    struct ep *out)
{
	char host[256];
	const char *port;

	if (split_hostport(spec, defport, host, sizeof(host), &port) == -1)
		return -1;
	return resolve(host, port, family, 0, out);
}

/*
 * A host[:port] spec resolved in both families: out[0] its first IPv4
 * address, out[1] its first IPv6 one (len 0: none). Returns which it
 * has, bit 0 IPv4 and bit 1 IPv6 (never 0), or -1.
 */
int
parse_hostport_both(const char *spec, const char *defport, struct ep out[2])
{
	struct addrinfo hints, *res, *ai;
	char host[256];
	const char *port;
	int f, got = 0;

	if (split_hostport(spec, defport, host, sizeof(host), &port) == -1)
		return -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_protocol = IPPROTO_UDP;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	memset(out, 0, 2 * sizeof(*out));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		f = ai->ai_family == AF_INET6 ? 1 : 0;
		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    (got & (1 << f)) || ai->ai_addrlen > sizeof(out[f].u))
			continue;
		memcpy(&out[f].u, ai->ai_addr, ai->ai_addrlen);
		out[f].len = ai->ai_addrlen;
		got |= 1 << f;
	}
	freeaddrinfo(res);
	return got ? got : -1;
}

/*
 * An IPv4 address as a udp_dual() socket reports it (::ffff:a.b.c.d)
 * back to AF_INET, as everything else compares and sends it.
 */
void
ep_unmap(struct ep *e)
{
	struct sockaddr_in in;

	if (e->u.sa.sa_family != AF_INET6 ||
	    !IN6_IS_ADDR_V4MAPPED(&e->u.in6.sin6_addr))
		return;
	memset(&in, 0, sizeof(in));
	in.sin_family = AF_INET;
	in.sin_port = e->u.in6.sin6_port;
	memcpy(&in.sin_addr, e->u.in6.sin6_addr.s6_addr + 12, 4);
	memset(&e->u, 0, sizeof(e->u));
	e->u.in = in;
	e->len = sizeof(in);
}

/* "addr:port" or "[v6addr]:port" for messages. */
const char *
ep_str(const struct ep *e, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	ep_addr(e, a, sizeof(a));
	if (e->u.sa.sa_family == AF_INET6)
		snprintf(buf, len, "[%s]:%d", a, ep_port(e));
	else
		snprintf(buf, len, "%s:%d", a, ep_port(e));
	return buf;
}

/* The numeric address alone. */
const char *
ep_addr(const struct ep *e, char *buf, size_t len)
{
	const void *a;

	if (e->u.sa.sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)&e->u)->sin6_addr;
	else if (e->u.sa.sa_family == AF_INET)
		a = &((const struct sockaddr_in *)&e->u)->sin_addr;
	else {
		snprintf(buf, len, "?");
		return buf;
	}
	if (inet_ntop(e->u.sa.sa_family, a, buf, len) == NULL)
		snprintf(buf, len, "?");
	return buf;
}

int
ep_port(const struct ep *e)
{
	if (e->u.sa.sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&e->u)->sin6_port);
	if (e->u.sa.sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&e->u)->sin_port);
	return 0;
}

/* Set the port of an IPv4 or IPv6 endpoint. */
void
ep_set_port(struct ep *e, int port)
{
	if (e->u.sa.sa_family == AF_INET6)
		e->u.in6.sin6_port = htons((uint16_t)port);
	else if (e->u.sa.sa_family == AF_INET)
		e->u.in.sin_port = htons((uint16_t)port);
}

/* Same family, address and port (scope and flow info ignored). */
int
ep_equal(const struct ep *a, const struct ep *b)
{
	if (a->u.sa.sa_family != b->u.sa.sa_family)
		return 0;
	if (a->u.sa.sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)&a->u;
		const struct sockaddr_in *y = (const void *)&b->u;

		return x->sin_port == y->sin_port &&
		    x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->u.sa.sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)&a->u;
		const struct sockaddr_in6 *y = (const void *)&b->u;

		return x->sin6_port == y->sin6_port &&
		    memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	}
	return 0;
}

/* Same address, whatever the port. */
int
ep_equal_addr(const struct ep *a, const struct ep *b)
{
	struct ep x = *b;

	ep_set_port(&x, ep_port(a));
	return ep_equal(a, &x);
}

int
ep_is_loopback(const struct ep *e)
{
	if (e->u.sa.sa_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)&e->u;

		return (ntohl(s->sin_addr.s_addr) >> 24) == 127;
	}
	if (e->u.sa.sa_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)&e->u;

		return IN6_IS_ADDR_LOOPBACK(&s->sin6_addr);
	}
	return 0;
}

/*
 * The one socket maker: a non-blocking socket of type (SOCK_DGRAM,
 * SOCK_STREAM) bound to bindto, with flags SK_*. IPv6 sockets are
 * IPv6 only, the two families kept apart, unless SK_DUAL asks for both
 * (IPv4 as v4-mapped addresses). Returns the fd, or -1
 * with errno kept and nothing left open.
 */
int
sock_bound(const struct ep *bindto, int type, int flags)
{
	int fd, one = 1, bufsz = 4 << 20, save, v6only;

	if ((fd = socket(bindto->u.sa.sa_family, type | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (bindto->u.sa.sa_family == AF_INET6) {
		v6only = (flags & SK_DUAL) == 0;
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
		    sizeof(v6only));
	}
	if (flags & (SK_REUSE | SK_REUSEADDR))
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one));
	if (flags & SK_REUSE)
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
		    sizeof(one));
	/*
	 * Large buffers, because nc -u semantics lose whatever does not fit
	 * when a burst arrives while stdout is slow. Root may exceed
	 * rmem_max (FORCE); others get what the cap allows.
	 */
	if ((flags & SK_BIGBUF) && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE,
	    &bufsz, sizeof(bufsz)) == -1)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz,
		    sizeof(bufsz));
	if ((flags & SK_BIGBUF) && setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE,
	    &bufsz, sizeof(bufsz)) == -1)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz,
		    sizeof(bufsz));
	if (bind(fd, &bindto->u.sa, bindto->len) == -1) {
		save = errno;
		close(fd);
		errno = save;
		return -1;
	}
	return fd;
}

/* The wildcard address of family, with port. */
static void
ep_any(struct ep *e, int family, int port)
{
	memset(e, 0, sizeof(*e));
	e->u.sa.sa_family = family == AF_INET6 ? AF_INET6 : AF_INET;
	e->len = family == AF_INET6 ? sizeof(e->u.in6) : sizeof(e->u.in);
	ep_set_port(e, port);
}

/* A UDP socket bound to port on the wildcard address. Returns fd or -1. */
int
udp_socket(int family, int port)
{
	struct ep any;

	ep_any(&any, family, port);
	return sock_bound(&any, SOCK_DGRAM, SK_BIGBUF);
}

/*
 * One UDP socket for both families: IPv6 on the wildcard with
 * IPV6_V6ONLY off, so that IPv4 peers and mediators share its port
 * (IPv4 addresses arrive v4-mapped: ep_unmap). Returns fd or -1.
 */
int
udp_dual(int port)
{
	struct ep any;

	ep_any(&any, AF_INET6, port);
	return sock_bound(&any, SOCK_DGRAM, SK_BIGBUF | SK_DUAL);
}

/*
 * A TCP socket bound to the shared local port: SO_REUSEADDR and
 * SO_REUSEPORT let the mediator connection, the listener and every
 * connect toward the peer share it, so that the mediator sees the very
 * mapping the peer must reach. Returns fd or -1.
 */
int
tcp_socket(int family, int port)
{
	struct ep any;

	ep_any(&any, family, port);
	return sock_bound(&any, SOCK_STREAM, SK_REUSE);
}

/* Close with RST: no TIME_WAIT on our side. */
void
tcp_abort(int fd)
{
	struct linger l = { 1, 0 };

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

/*
 * TCP keepalives every ms (whole seconds), so that the NATs keep their
 * mappings, and an idle connection's peer gone for 4 of them is
 * noticed. No TCP_USER_TIMEOUT: Linux applies it to the probes of a
 * zero window too, so a reader that pauses (less, ^Z) would reset the
 * session after 4 keepalives; with data in flight TCP's own retries
 * notice a vanished peer (minutes), and -w bounds a stalled session.
 */
void
tcp_keepalive(int fd, int64_t ms)
{
	int one = 1, idle = (int)(ms / 1000), cnt = 4;

	if (idle < 1)
		idle = 1;
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &idle, sizeof(idle));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

/*
 * The IP TTL (IPv6 hop limit) of what fd sends from now on; family
 * AF_UNSPEC: both, for a udp_dual() socket. 0 or -1.
 */
int
set_ttl(int fd, int family, int ttl)
{
	if (family == AF_UNSPEC && setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl,
	    sizeof(ttl)) == -1)
		return -1;
	if (family == AF_INET6 || family == AF_UNSPEC)
		return setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl,
		    sizeof(ttl));
	return setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl));
}

/*
 * The host's own addresses of one family, with port: the "local"
 * candidates a peer on the same LAN can reach without hairpinning.
 * Loopback and link-local addresses are skipped (no peer elsewhere can
 * use them). Returns the count, at most max.
 */
int
local_addrs(int family, int port, struct ep *out, int max)
{
	struct ifaddrs *ifa, *i;
	int n = 0;

	if (getifaddrs(&ifa) == -1)
		return 0;
	for (i = ifa; i != NULL && n < max; i = i->ifa_next) {
		struct ep e;

		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != family ||
		    (i->ifa_flags & IFF_UP) == 0 ||
		    (i->ifa_flags & IFF_LOOPBACK) != 0)
			continue;
		memset(&e, 0, sizeof(e));
		e.len = family == AF_INET ? sizeof(e.u.in) : sizeof(e.u.in6);
		memcpy(&e.u, i->ifa_addr, e.len);
		ep_set_port(&e, port);
		if (family == AF_INET &&
		    (ntohl(e.u.in.sin_addr.s_addr) >> 16) == 0xa9fe)
			continue;	/* 169.254/16 */
		if (family == AF_INET6 &&
		    IN6_IS_ADDR_LINKLOCAL(&e.u.in6.sin6_addr))
			continue;
		if (ep_is_loopback(&e))
			continue;
		out[n++] = e;
	}
	freeifaddrs(ifa);
	return n;
}
