/*
 * mediator.c - the rendezvous server.
 *
 * Clients register a name; the mediator notes the public endpoint it sees
 * (the datagram's source) beside the local endpoints the client reports.
 * When a name has two clients (two punch, or a listen and a connect) each
 * is told about the other, and the mediator retransmits that introduction
 * until both acknowledge it. Then it stays out of the way.
 *
 * Memory is bounded: at most maxnames entries, each a fixed size; a full
 * table answers E_FULL instead of growing. Every datagram is parsed as
 * hostile input through the byte cursors of util.c.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <err.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pnc.h"

#define GROUP_PUNCH	0
#define GROUP_SESSION	1
#define REXMIT_FIRST	100	/* ms before the first re-introduction */
#define REXMIT_TRIES	6	/* 100+200+...+3200 ms, then give up */
#define MAXSOCKS	2

/* Where a client reached us: reply from that address (NAT-NOTES). */
struct via {
	int		sock;		/* index into the socket array */
	int		ifindex;
	union {
		struct in_addr	v4;
		struct in6_addr	v6;
	} dst;
	int		have_dst;
};

struct slot {
	uint64_t	id;		/* 0: empty */
	int64_t		seen;
	struct ep	pub;
	struct via	via;
	int		acked;		/* PEERACK for the introduction */
	uint8_t		nloc;
	uint8_t		loclen;
	unsigned char	locals[MAX_LOCALS * EP_MAX_LEN];
};

struct entry {
	struct entry	*hnext;		/* hash chain */
	struct entry	*older, *newer;	/* expiry list, oldest first */
	struct entry	*rnext;		/* re-introduction list */
	int64_t		 touched;
	int64_t		 rexmit_at;
	int		 rexmit_n;
	int		 on_rexmit;
	int		 introduced;
	uint8_t		 group;
	uint8_t		 namelen;
	char		 name[NAME_MAX_LEN];
	struct slot	 s[2];
};

struct stats {
	unsigned long	rx, malformed, oversized, badversion, registered,
			introduced, refused, expired;
};

struct mediator {
	int		 fds[MAXSOCKS];
	int		 nfds;
	struct entry	**buckets;
	size_t		 nbuckets;	/* a power of two */
	size_t		 count, max;
	struct entry	*oldest, *newest;
	struct entry	*rexmit;
	struct stats	 st;
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* FNV-1a over group and name: short keys, no need for anything slower. */
static size_t
name_hash(int group, const char *name, size_t len)
{
	uint32_t h = 2166136261u ^ (uint32_t)group;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 16777619u;
	}
	return h;
}

static struct entry **
entry_ref(struct mediator *m, int group, const char *name, size_t len)
{
	struct entry **ep;

	ep = &m->buckets[name_hash(group, name, len) & (m->nbuckets - 1)];
	for (; *ep != NULL; ep = &(*ep)->hnext)
		if ((*ep)->group == group && (*ep)->namelen == len &&
		    memcmp((*ep)->name, name, len) == 0)
			break;
	return ep;
}

static void
list_unlink(struct mediator *m, struct entry *e)
{
	if (e->older)
		e->older->newer = e->newer;
	else
		m->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		m->newest = e->older;
	e->older = e->newer = NULL;
}

/* Move to the young end of the expiry list. */
static void
entry_touch(struct mediator *m, struct entry *e, int64_t now)
{
	if (m->newest != e) {
		if (e->older || e->newer || m->oldest == e)
			list_unlink(m, e);
		e->older = m->newest;
		if (m->newest)
			m->newest->newer = e;
		else
			m->oldest = e;
		m->newest = e;
	}
	e->touched = now;
}

static void
rexmit_remove(struct mediator *m, struct entry *e)
{
	struct entry **rp;

	for (rp = &m->rexmit; *rp != NULL; rp = &(*rp)->rnext)
		if (*rp == e) {
			*rp = e->rnext;
			break;
		}
	e->on_rexmit = 0;
	e->rnext = NULL;
}

static void
entry_free(struct mediator *m, struct entry *e)
{
	struct entry **ep = entry_ref(m, e->group, e->name, e->namelen);

	if (*ep == e)
		*ep = e->hnext;
	if (e->on_rexmit)
		rexmit_remove(m, e);
	list_unlink(m, e);
	free(e);
	m->count--;
}

/* Returns the entry for name, creating it; NULL when the table is full. */
static struct entry *
entry_get(struct mediator *m, int group, const char *name, size_t len,
    int64_t now)
{
	struct entry **ep = entry_ref(m, group, name, len), *e;

	if (*ep != NULL)
		return *ep;
	if (m->count >= m->max || (e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	e->group = (uint8_t)group;
	e->namelen = (uint8_t)len;
	memcpy(e->name, name, len);
	*ep = e;
	m->count++;
	entry_touch(m, e, now);
	return e;
}

static int
slot_live(const struct slot *s, int64_t now)
{
	return s->id != 0 && now - s->seen < REG_TTL * 1000;
}

/* Send buf to a client, from the address it reached us at. */
static void
reply(struct mediator *m, const struct ep *to, const struct via *via,
    const void *buf, size_t len)
{
	union {
		char		c[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr	align;
	} cbuf;
	struct iovec iov = { (void *)buf, len };
	struct msghdr msg;
	struct cmsghdr *cm;

	memset(&msg, 0, sizeof(msg));
	memset(&cbuf, 0, sizeof(cbuf));
	msg.msg_name = (void *)&to->ss;
	msg.msg_namelen = to->len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (via->have_dst) {
		msg.msg_control = cbuf.c;
		cm = (struct cmsghdr *)cbuf.c;
		if (to->ss.ss_family == AF_INET6) {
			struct in6_pktinfo pi;

			memset(&pi, 0, sizeof(pi));
			pi.ipi6_addr = via->dst.v6;
			msg.msg_controllen = CMSG_SPACE(sizeof(pi));
			cm->cmsg_level = IPPROTO_IPV6;
			cm->cmsg_type = IPV6_PKTINFO;
			cm->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		} else {
			struct in_pktinfo pi;

			memset(&pi, 0, sizeof(pi));
			pi.ipi_spec_dst = via->dst.v4;
			msg.msg_controllen = CMSG_SPACE(sizeof(pi));
			cm->cmsg_level = IPPROTO_IP;
			cm->cmsg_type = IP_PKTINFO;
			cm->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		}
	}
	/* UDP: a full socket buffer loses this reply; the client retries. */
	(void)sendmsg(m->fds[via->sock], &msg, MSG_DONTWAIT);
}

static void
send_error(struct mediator *m, const struct ep *to, const struct via *via,
    uint64_t id, int code, const char *text)
{
	unsigned char buf[256];
	struct wr w;
	size_t n = strlen(text);

	wr_init(&w, buf, sizeof(buf));
	wr_hdr(&w, T_ERROR, id);
	wr_u8(&w, (uint8_t)code);
	wr_u8(&w, (uint8_t)n);
	wr_bytes(&w, text, n);
	if (!w.bad)
		reply(m, to, via, buf, w.len);
}

static void
send_registered(struct mediator *m, const struct slot *s)
{
	unsigned char buf[64];
	struct wr w;

	wr_init(&w, buf, sizeof(buf));
	wr_hdr(&w, T_REGISTERED, s->id);
	wr_ep(&w, &s->pub);
	wr_u16(&w, REG_TTL);
	reply(m, &s->pub, &s->via, buf, w.len);
}

/* Tell slot i of e about the other slot. */
static void
send_peer(struct mediator *m, const struct entry *e, int i)
{
	const struct slot *me = &e->s[i], *peer = &e->s[1 - i];
	unsigned char buf[256];
	struct wr w;

	wr_init(&w, buf, sizeof(buf));
	wr_hdr(&w, T_PEER, me->id);
	wr_u8(&w, i == 0 ? PEER_CONTROLLING : 0);
	wr_u64(&w, peer->id);
	wr_ep(&w, &me->pub);
	wr_ep(&w, &peer->pub);
	wr_u8(&w, peer->nloc);
	wr_bytes(&w, peer->locals, peer->loclen);
	if (!w.bad)
		reply(m, &me->pub, &me->via, buf, w.len);
}

static void
introduce(struct mediator *m, struct entry *e, int64_t now)
{
	char a[80], b[80];

	e->introduced = 1;
	e->s[0].acked = e->s[1].acked = 0;
	send_peer(m, e, 0);
	send_peer(m, e, 1);
	e->rexmit_at = now + REXMIT_FIRST;
	e->rexmit_n = 0;
	if (!e->on_rexmit) {
		e->rnext = m->rexmit;
		m->rexmit = e;
		e->on_rexmit = 1;
	}
	m->st.introduced++;
	vlog("introduced %.*s: %s <-> %s", e->namelen, e->name,
	    ep_str(&e->s[0].pub, a, sizeof(a)),
	    ep_str(&e->s[1].pub, b, sizeof(b)));
}

/*
 * Which slot a new client takes: listen 0, connect 1, punch any free.
 * Returns the index, or -1 when a live client of another id holds it.
 */
static int
slot_pick(struct entry *e, int role, int64_t now)
{
	if (role == ROLE_LISTEN)
		return slot_live(&e->s[0], now) ? -1 : 0;
	if (role == ROLE_CONNECT)
		return slot_live(&e->s[1], now) ? -1 : 1;
	if (!slot_live(&e->s[0], now))
		return 0;
	return slot_live(&e->s[1], now) ? -1 : 1;
}

struct reg {
	uint64_t		 id;
	int			 role;
	const char		*name;
	size_t			 namelen;
	uint8_t			 nloc;
	const unsigned char	*locals;
	size_t			 loclen;
};

static void
handle_register(struct mediator *m, const struct reg *rg,
    const struct ep *from, const struct via *via, int64_t now)
{
	int group = rg->role == ROLE_PUNCH ? GROUP_PUNCH : GROUP_SESSION;
	struct entry *e;
	struct slot *s;
	int i;
	char a[80];

	if ((e = entry_get(m, group, rg->name, rg->namelen, now)) == NULL) {
		m->st.refused++;
		send_error(m, from, via, rg->id, E_FULL,
		    "mediator table full, try later");
		return;
	}
	for (i = 0; i < 2; i++)
		if (e->s[i].id == rg->id)
			break;
	if (i == 2) {
		/* A newcomer after an introduction starts a new meeting. */
		if (e->introduced) {
			memset(e->s, 0, sizeof(e->s));
			e->introduced = 0;
			if (e->on_rexmit)
				rexmit_remove(m, e);
		}
		if ((i = slot_pick(e, rg->role, now)) == -1) {
			m->st.refused++;
			send_error(m, from, via, rg->id, E_BUSY,
			    "name in use by another client of that role");
			return;
		}
		m->st.registered++;
		vlog("registered %.*s role %d from %s", (int)rg->namelen,
		    rg->name, rg->role, ep_str(from, a, sizeof(a)));
	}
	s = &e->s[i];
	s->id = rg->id;
	s->seen = now;
	s->pub = *from;
	s->via = *via;
	s->nloc = rg->nloc;
	s->loclen = (uint8_t)rg->loclen;
	memcpy(s->locals, rg->locals, rg->loclen);
	entry_touch(m, e, now);
	if (e->introduced)
		send_peer(m, e, i);	/* it lost our introduction */
	else if (slot_live(&e->s[1 - i], now))
		introduce(m, e, now);
	else
		send_registered(m, s);
}

/* Parse role, name, and (for REGISTER) the candidates. 0 or -1. */
static int
parse_reg(struct rd *r, struct reg *rg, int with_cands)
{
	const unsigned char *start;
	size_t i;
	struct ep e;

	rg->role = rd_u8(r);
	rg->namelen = rd_u8(r);
	rg->name = (const char *)rd_bytes(r, rg->namelen);
	if (r->bad || rg->role < ROLE_PUNCH || rg->role > ROLE_CONNECT ||
	    rg->namelen == 0 || rg->namelen > NAME_MAX_LEN)
		return -1;
	for (i = 0; i < rg->namelen; i++)
		if (rg->name[i] <= ' ' || rg->name[i] > '~')
			return -1;
	rg->nloc = 0;
	rg->locals = NULL;
	rg->loclen = 0;
	if (with_cands) {
		rg->nloc = rd_u8(r);
		if (r->bad || rg->nloc > MAX_LOCALS)
			return -1;
		start = r->p;
		for (i = 0; i < rg->nloc; i++)
			if (rd_ep(r, &e) == -1)
				return -1;
		rg->locals = start;
		rg->loclen = (size_t)(r->p - start);
	}
	return r->left == 0 ? 0 : -1;
}

static void
handle_peerack(struct mediator *m, const struct reg *rg, int64_t now)
{
	int group = rg->role == ROLE_PUNCH ? GROUP_PUNCH : GROUP_SESSION;
	struct entry *e = *entry_ref(m, group, rg->name, rg->namelen);
	int i;

	if (e == NULL)
		return;
	for (i = 0; i < 2; i++)
		if (e->s[i].id == rg->id) {
			e->s[i].acked = 1;
			e->s[i].seen = now;
			entry_touch(m, e, now);
		}
}

static void
drop(struct mediator *m, const struct ep *from, const char *why)
{
	char a[80];

	m->st.malformed++;
	vlog("dropped datagram from %s: %s", ep_str(from, a, sizeof(a)), why);
}

static void
handle_datagram(struct mediator *m, const unsigned char *buf, size_t len,
    const struct ep *from, const struct via *via, int64_t now)
{
	struct rd r;
	struct reg rg;
	int version, type;
	uint64_t id;

	rd_init(&r, buf, len);
	if (rd_hdr(&r, &version, &type, &id) == -1)
		return drop(m, from, "not a pnc message");
	if (version != PROTO_VERSION) {
		m->st.badversion++;
		send_error(m, from, via, id, E_VERSION,
		    "mediator speaks pnc protocol version 1");
		return drop(m, from, "unknown protocol version");
	}
	if (id == 0)
		return drop(m, from, "zero id");
	rg.id = id;
	if (type == T_REGISTER) {
		if (parse_reg(&r, &rg, 1) == -1)
			return drop(m, from, "malformed REGISTER");
		handle_register(m, &rg, from, via, now);
	} else if (type == T_PEERACK) {
		if (parse_reg(&r, &rg, 0) == -1)
			return drop(m, from, "malformed PEERACK");
		handle_peerack(m, &rg, now);
	} else
		drop(m, from, "unexpected message type");
}

/* Read one datagram with its destination address. 1, 0 (none) or -1. */
static int
receive(struct mediator *m, int sock, int64_t now)
{
	unsigned char buf[MAX_DGRAM + 1];
	union {
		char		c[CMSG_SPACE(sizeof(struct in6_pktinfo)) + 64];
		struct cmsghdr	align;
	} cbuf;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr msg;
	struct cmsghdr *cm;
	struct ep from;
	struct via via;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	memset(&from, 0, sizeof(from));
	memset(&via, 0, sizeof(via));
	msg.msg_name = &from.ss;
	msg.msg_namelen = sizeof(from.ss);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf.c;
	msg.msg_controllen = sizeof(cbuf.c);
	if ((n = recvmsg(m->fds[sock], &msg, MSG_DONTWAIT)) == -1)
		return errno == EAGAIN || errno == EINTR ||
		    errno == ECONNREFUSED ? 0 : -1;
	from.len = msg.msg_namelen;
	via.sock = sock;
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level == IPPROTO_IP &&
		    cm->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			via.dst.v4 = pi.ipi_addr;
			via.have_dst = 1;
		} else if (cm->cmsg_level == IPPROTO_IPV6 &&
		    cm->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			via.dst.v6 = pi.ipi6_addr;
			via.have_dst = 1;
		}
	}
	m->st.rx++;
	if ((size_t)n > MAX_DGRAM || (msg.msg_flags & MSG_TRUNC)) {
		m->st.oversized++;
		drop(m, &from, "oversized");
		return 1;
	}
	handle_datagram(m, buf, (size_t)n, &from, &via, now);
	return 1;
}

/* Re-introduce pairs that have not acknowledged; expire old entries. */
static void
tick(struct mediator *m, int64_t now)
{
	struct entry **rp, *e;
	int i;

	for (rp = &m->rexmit; (e = *rp) != NULL;) {
		if (e->s[0].acked && e->s[1].acked)
			e->rexmit_n = REXMIT_TRIES;
		else if (now >= e->rexmit_at) {
			for (i = 0; i < 2; i++)
				if (!e->s[i].acked)
					send_peer(m, e, i);
			e->rexmit_n++;
			e->rexmit_at = now +
			    ((int64_t)REXMIT_FIRST << e->rexmit_n);
		}
		if (e->rexmit_n >= REXMIT_TRIES) {
			*rp = e->rnext;
			e->on_rexmit = 0;
			e->rnext = NULL;
		} else
			rp = &e->rnext;
	}
	while ((e = m->oldest) != NULL &&
	    now - e->touched >= REG_TTL * 1000) {
		m->st.expired++;
		entry_free(m, e);
	}
}

static int
next_timeout(const struct mediator *m, int64_t now)
{
	const struct entry *e;
	int64_t t = 1000;

	for (e = m->rexmit; e != NULL; e = e->rnext)
		if (e->rexmit_at - now < t)
			t = e->rexmit_at - now;
	return t < 0 ? 0 : (int)t;
}

/* One bound socket per address; wildcard sockets learn the destination. */
static int
open_socket(const struct ep *bindto)
{
	int fd, one = 1, save;

	if ((fd = socket(bindto->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, IPPROTO_UDP)) == -1)
		return -1;
	if (bindto->ss.ss_family == AF_INET6) {
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		    sizeof(one));
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one,
		    sizeof(one));
	} else
		(void)setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one,
		    sizeof(one));
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&bindto->ss, bindto->len)
	    == -1) {
		save = errno;
		close(fd);
		errno = save;
		return -1;
	}
	return fd;
}

static void
print_stats(const struct mediator *m)
{
	const struct stats *s = &m->st;

	vlog("stats: %lu datagrams, %lu malformed (%lu oversized), "
	    "%lu bad version, %lu registered, %lu introduced, %lu refused, "
	    "%lu expired, %zu names now", s->rx, s->malformed, s->oversized,
	    s->badversion, s->registered, s->introduced, s->refused,
	    s->expired, m->count);
}

static int
serve(struct mediator *m)
{
	struct pollfd pfd[MAXSOCKS];
	int i, n, got;
	int64_t now;

	for (i = 0; i < m->nfds; i++) {
		pfd[i].fd = m->fds[i];
		pfd[i].events = POLLIN;
	}
	while (!stop) {
		now = now_ms();
		tick(m, now);
		n = poll(pfd, (nfds_t)m->nfds, next_timeout(m, now));
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		now = now_ms();
		for (i = 0; i < m->nfds; i++) {
			/* A bounded batch per wakeup keeps timers honest. */
			for (got = 0; got < 64; got++)
				if (receive(m, i, now) <= 0)
					break;
		}
	}
	return 0;
}

static int
setup_sockets(struct mediator *m, const char *addr, const char *port)
{
	static const int fams[] = { AF_INET, AF_INET6 };
	struct ep e;
	size_t i;

	if (addr != NULL) {
		if (resolve(addr, port, AF_UNSPEC, 1, &e) == -1 ||
		    (m->fds[0] = open_socket(&e)) == -1)
			return -1;
		m->nfds = 1;
		return 0;
	}
	/* Both families on the wildcard; IPv6 may be absent. */
	for (i = 0; i < 2; i++) {
		if (resolve(NULL, port, fams[i], 1, &e) == -1)
			continue;
		if ((m->fds[m->nfds] = open_socket(&e)) != -1)
			m->nfds++;
		else if (fams[i] == AF_INET)
			return -1;
	}
	return m->nfds > 0 ? 0 : -1;
}

int
mediate_main(int argc, char **argv)
{
	struct mediator m;
	const char *addr = NULL, *port = PNC_PORT;
	struct sigaction sa;
	int ch, p;
	long v;
	char *end;

	memset(&m, 0, sizeof(m));
	m.max = 65536;
	while ((ch = getopt(argc, argv, "hn:p:s:v")) != -1) {
		switch (ch) {
		case 'h':
			usage_cmd("mediate", 0);
			break;
		case 'n':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || v < 1 || v > 16 * 1024 * 1024) {
				warnx("bad table size: %s", optarg);
				usage_cmd("mediate", EX_USAGE);
			}
			m.max = (size_t)v;
			break;
		case 'p':
			if (parse_port(optarg, &p) == -1 || p == 0) {
				warnx("bad port: %s", optarg);
				usage_cmd("mediate", EX_USAGE);
			}
			port = optarg;
			break;
		case 's':
			addr = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage_cmd("mediate", EX_USAGE);
		}
	}
	if (optind != argc)
		usage_cmd("mediate", EX_USAGE);

	for (m.nbuckets = 16; m.nbuckets < m.max; m.nbuckets <<= 1)
		;
	if ((m.buckets = calloc(m.nbuckets, sizeof(*m.buckets))) == NULL)
		err(EX_FAIL, "calloc");
	if (setup_sockets(&m, addr, port) == -1)
		err(EX_FAIL, "cannot serve on %s port %s",
		    addr ? addr : "*", port);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	vlog("serving on %s port %s, at most %zu names",
	    addr ? addr : "*", port, m.max);
	if (serve(&m) == -1)
		err(EX_FAIL, "poll");
	print_stats(&m);
	while (m.oldest != NULL)
		entry_free(&m, m.oldest);
	free(m.buckets);
	return EX_OK;
}
