/*
 * pnc.c - entry point, subcommand table, and the stdin/peer relay.
 *
 * listen and connect run one poll() loop from registration to exit: the
 * punch state machine (punch.c) owns the socket until a path is agreed,
 * then the relay moves stdin to the peer and the peer to stdout, with
 * the semantics of nc -u plus an end-of-input message, as nc -N.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <err.h>
#include <fcntl.h>
#include <limits.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pnc.h"

#define DEFAULT_WAIT	30000	/* ms: punch and connect give up after */
#define STUN_PORT	"3478"
#define OBUF_SIZE	(128 * 1024)	/* peer -> stdout: twice a pipe's */
#define STRAGGLE_MS	200	/* wait for datagrams overtaken by EOF */
#define BATCH		64	/* datagrams read per wakeup */
#define IN_CHUNK	(16 * MAX_PAYLOAD)	/* stdin read at once */

struct cmd {
	const char	*name;
	int		(*main)(int, char **);
	const char	*usage;
};

static const struct cmd cmds[] = {
	{ "mediate", mediate_main, "[-46rv] [-b bytes/s] [-c bytes] [-l rate] "
	    "[-n max] [-p port] [-s addr] [-x sessions]" },
	{ "punch", punch_main, "[-46atv] [-K keyfile] [-m host[:port]] [-p lport] "
	    "[-S host[:port]] [-w secs] [name]" },
	{ "listen", listen_main, "[-46adkNRtv] [-K keyfile] [-m host[:port]] "
	    "[-p lport] [-q secs] [-w secs] name" },
	{ "connect", connect_main, "[-46adNRtv] [-K keyfile] [-m host[:port]] "
	    "[-p lport] [-q secs] [-w secs] name" },
};
#define NCMDS	(sizeof(cmds) / sizeof(cmds[0]))

static void
usage_all(FILE *f)
{
	size_t i;

	for (i = 0; i < NCMDS; i++)
		fprintf(f, "%s pnc %-7s %s\n", i ? "      " : "usage:",
		    cmds[i].name, cmds[i].usage);
	fprintf(f, "       pnc -h | pnc help\n");
}

/* Usage of one subcommand: stdout and 0 when asked, stderr otherwise. */
void
usage_cmd(const char *name, int status)
{
	FILE *f = status == 0 ? stdout : stderr;
	size_t i;

	for (i = 0; i < NCMDS; i++)
		if (strcmp(cmds[i].name, name) == 0)
			fprintf(f, "usage: pnc %s %s\n", name, cmds[i].usage);
	exit(status);
}

/* ---- the relay ---- */

struct relay {
	struct punch	*p;
	int		 listener;
	int64_t		 keepalive, dead;
	int64_t		 last_rx, last_tx;
	/* stdin -> peer */
	int		 in_open;	/* stdin still read */
	int		 nostdin;	/* -d: our direction ends with theirs */
	int		 eof_sent, eof_acked;
	int64_t		 eof_next, eof_gap;
	uint32_t	 sent;
	uint64_t	 bytes_out;
	unsigned char	 in[IN_CHUNK];	/* one read of stdin ... */
	size_t		 inoff, inlen;	/* ... in[inoff..inlen) not yet sent */
	unsigned char	 pend[HDR_LEN + 4 + MAX_PAYLOAD + AUTH_TRAILER];
	size_t		 pendlen;	/* a datagram the socket refused */
	/* peer -> stdout */
	int		 out_open;
	int		 peer_eof;
	uint32_t	 peer_count, rcvd;
	uint64_t	 bytes_in;
	int64_t		 peer_eof_at;
	unsigned char	*obuf;
	size_t		 ohead, olen;
	int		 failed;
	char		 why[160];
	const struct sess *S;
	struct ends	 ends;		/* -q, -w, -v's progress */
};

static void
net_send(struct relay *r, const void *buf, size_t len)
{
	struct punch *p = r->p;

	/* Counted as sent even if it failed: a retry storm helps nobody. */
	(void)punch_send(p, buf, len);
	r->last_tx = now_ms();
}

static void
send_ctl(struct relay *r, int type, int with_count, uint32_t count)
{
	unsigned char buf[HDR_LEN + 4 + AUTH_TRAILER];
	struct wr w;

	wr_init(&w, buf, sizeof(buf));
	wr_hdr(&w, type, r->p->id);
	if (with_count)
		wr_u32(&w, count);
	net_send(r, buf, auth_seal(&r->p->auth, buf, w.len));
}

/* Is something from stdin still to go to the peer? */
static int
out_queued(const struct relay *r)
{
	return r->pendlen > 0 || r->inoff < r->inlen;
}

/*
 * Read stdin, up to 16 datagrams' worth: a read of up to MAX_PAYLOAD
 * bytes (a line from a terminal) is one datagram, as with nc -u; a
 * longer one (a file) is cut into MAX_PAYLOAD pieces, so that bulk data
 * costs one read and one poll per 16 datagrams, not each.
 */
static void
stdin_read(struct relay *r)
{
	ssize_t n;

	if ((n = read(STDIN_FILENO, r->in, sizeof(r->in))) == -1) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		warn("stdin");
		n = 0;		/* a broken stdin ends our direction */
	}
	if (n == 0) {
		r->in_open = 0;
		r->ends.eof_at = now_ms();
		vlog("end of input after %u datagram(s), %llu bytes",
		    r->sent, (unsigned long long)r->bytes_out);
		return;
	}
	r->inoff = 0;
	r->inlen = (size_t)n;
}

/* The next piece of what stdin gave, as a DATA datagram in pend. */
static void
pend_fill(struct relay *r)
{
	size_t n = r->inlen - r->inoff;
	struct wr w;

	if (n > MAX_PAYLOAD)
		n = MAX_PAYLOAD;
	wr_init(&w, r->pend, sizeof(r->pend));
	wr_hdr(&w, T_DATA, r->p->id);
	wr_u32(&w, r->sent);
	wr_bytes(&w, r->in + r->inoff, n);
	r->pendlen = auth_seal(&r->p->auth, r->pend, w.len);
	r->inoff += n;
	r->sent++;
	r->bytes_out += n;
}

/* Send what stdin gave. Returns 1 when the socket was full. */
static int
pend_flush(struct relay *r)
{
	struct punch *p = r->p;

	while (out_queued(r)) {
		if (r->pendlen == 0)
			pend_fill(r);
		if (punch_send(p, r->pend, r->pendlen) == -1) {
			if (errno == EAGAIN || errno == ENOBUFS ||
			    errno == EINTR)
				return 1;
			/* ICMP from a path in flux: nc -u would drop it too. */
		}
		r->last_tx = now_ms();
		r->pendlen = 0;
	}
	return 0;
}

static void
obuf_put(struct relay *r, const unsigned char *d, size_t n)
{
	size_t tail, k;

	if (r->out_open != 1 || n > OBUF_SIZE - r->olen)
		return;		/* stdout gone, or (never) no room */
	tail = (r->ohead + r->olen) % OBUF_SIZE;
	k = n < OBUF_SIZE - tail ? n : OBUF_SIZE - tail;
	memcpy(r->obuf + tail, d, k);
	memcpy(r->obuf, d + k, n - k);
	r->olen += n;
}

static void
stdout_write(struct relay *r)
{
	size_t k = r->olen < OBUF_SIZE - r->ohead ? r->olen :
	    OBUF_SIZE - r->ohead;
	ssize_t n;

	/* POLLOUT on a pipe promises PIPE_BUF: more could block the loop. */
	if (k > PIPE_BUF)
		k = PIPE_BUF;

	if ((n = write(STDOUT_FILENO, r->obuf + r->ohead, k)) == -1) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		/* The reader went away (EPIPE): discard from now on. */
		r->out_open = 0;
		r->olen = 0;
		return;
	}
	r->ohead = (r->ohead + (size_t)n) % OBUF_SIZE;
	r->olen -= (size_t)n;
}

/* A message from the agreed peer, on the agreed path. */
static void
relay_input(struct relay *r, const unsigned char *buf, size_t len,
    int type, int64_t now)
{
	struct rd rd;
	uint32_t v;

	rd_init(&rd, buf + HDR_LEN, len - HDR_LEN);
	switch (type) {
	case T_DATA:
		(void)rd_u32(&rd);
		if (rd.bad || rd.left > MAX_PAYLOAD)
			return;
		r->last_rx = now;
		r->rcvd++;
		r->bytes_in += rd.left;
		obuf_put(r, rd.p, rd.left);
		break;
	case T_EOF:
		v = rd_u32(&rd);
		if (rd.bad || rd.left != 0)
			return;
		r->last_rx = now;
		send_ctl(r, T_EOFACK, 1, v);
		if (!r->peer_eof) {
			r->peer_eof = 1;
			r->peer_count = v;
			r->peer_eof_at = now;
			vlog("peer's end of input after %u datagram(s)", v);
		}
		break;
	case T_EOFACK:
		v = rd_u32(&rd);
		if (rd.bad || rd.left != 0)
			return;
		r->last_rx = now;
		if (r->eof_sent && v == r->sent)
			r->eof_acked = 1;
		break;
	case T_KEEPALIVE:
		if (rd.left == 0)
			r->last_rx = now;
		break;
	}
}

/* Close stdout once the peer's direction has ended and is written. */
static void
maybe_close_stdout(struct relay *r, int64_t now)
{
	if (!r->peer_eof || r->olen > 0 || r->out_open == -1)
		return;
	if (r->rcvd < r->peer_count && now - r->peer_eof_at < STRAGGLE_MS)
		return;
	if (r->rcvd < r->peer_count)
		warnx("%u of %u datagram(s) from the peer were lost",
		    r->peer_count - r->rcvd, r->peer_count);
	if (!r->S->keep)	/* listen -k: the next session writes too */
		close(STDOUT_FILENO);
	r->out_open = -1;	/* closed for good, not just discarding */
	/* As nc -l: the listener is done when the connector is. */
	if (r->listener && r->in_open) {
		r->in_open = 0;
		r->ends.eof_at = now;
		vlog("peer finished; ending our direction too");
	}
}

/* Timers of an established session. Returns 1 when it is over. */
static int
relay_timers(struct relay *r, int64_t now)
{
	maybe_close_stdout(r, now);
	/* We are not reading the peer while stdout is full: not silence. */
	if (r->out_open == 1 && OBUF_SIZE - r->olen < MAX_DGRAM)
		r->last_rx = now;
	if (!r->in_open && !out_queued(r) && !r->eof_sent &&
	    (!r->nostdin || r->out_open == -1)) {
		r->eof_sent = 1;
		r->eof_next = now;
	}
	if (r->eof_sent && !r->eof_acked && now >= r->eof_next) {
		send_ctl(r, T_EOF, 1, r->sent);
		r->eof_next = now + r->eof_gap;
		if (r->eof_gap < 2000)
			r->eof_gap *= 2;
	}
	if (now - r->last_rx >= r->dead) {
		snprintf(r->why, sizeof(r->why), "peer silent for %lld s; "
		    "session lost", (long long)(now - r->last_rx) / 1000);
		r->failed = 1;
		return 1;
	}
	if (now - r->last_tx >= r->keepalive)
		send_ctl(r, T_KEEPALIVE, 0, 0);
	if (ends_due(&r->ends, r->S, now, r->bytes_out, r->bytes_in,
	    r->p->rtt * 1000)) {
		if (r->eof_sent && !r->eof_acked)	/* one last try */
			send_ctl(r, T_EOF, 1, r->sent);
		return 1;
	}
	return r->eof_acked && r->out_open == -1;
}

static int64_t
relay_next(const struct relay *r, int64_t now)
{
	int64_t t = r->keepalive - (now - r->last_tx);

	if (r->dead - (now - r->last_rx) < t)
		t = r->dead - (now - r->last_rx);
	if (r->eof_sent && !r->eof_acked && r->eof_next - now < t)
		t = r->eof_next - now;
	if (r->peer_eof && r->out_open != -1 && r->olen == 0)
		t = t < 20 ? t : 20;
	if (t < 0)
		t = 0;
	return ends_next(&r->ends, r->S, now, t);
}

/* ---- the loop ---- */

enum { S_PUNCH, S_RELAY, S_LINGER, S_END };

struct loop {
	struct punch	*p;
	struct relay	*r;	/* NULL for the punch subcommand */
	int		 handoff;	/* stop at the punch: -R takes over */
	int		 state;
	int64_t		 linger, quiet_since;
};

/* One datagram from the network, of whatever kind. */
static void
net_datagram(struct loop *L, const unsigned char *buf, size_t len,
    const struct ep *from, int sock, int64_t now)
{
	struct punch *p = L->p;
	const unsigned char *in = buf;
	size_t inlen = len;
	struct rd rd;
	int version, type, rc;
	uint64_t id;

	/* Relayed: the peer's datagram is inside (punch_input unwraps too). */
	(void)punch_unwrap(p, &in, &inlen, from);
	rd_init(&rd, in, inlen);
	if (rd_hdr(&rd, &version, &type, &id) == -1 ||
	    version != PROTO_VERSION)
		return;		/* not for us: ignored, like any stranger */
	if (type >= T_DATA && type <= T_RACK && p->auth.on) {
		long n;

		if (id != p->peer_id || (n = auth_open(&p->auth, in, inlen)) < 0)
			return;		/* forged or replayed: counted */
		inlen = (size_t)n;
	}
	if (p->state == P_DONE && ep_equal(from, &p->peer) &&
	    id == p->peer_id)
		L->quiet_since = now;
	if (p->state != P_DONE || type < T_DATA) {
		if ((rc = punch_input(p, buf, len, from, sock, now)) == -1)
			return;
		if (p->state != P_DONE || type < T_DATA)
			return;
	}
	if (L->r != NULL && ep_equal(from, &p->peer) && id == p->peer_id)
		relay_input(L->r, in, inlen, type, now);
}

/*
 * Read what socket fd has (the main one, sock -1, or birthday socket
 * sock), within the room stdout has.
 */
static void
net_read(struct loop *L, int fd, int sock, int64_t now)
{
	unsigned char buf[MAX_DGRAM + 1];
	struct ep from;
	ssize_t n;
	int i;

	for (i = 0; i < BATCH; i++) {
		if (L->r && L->r->out_open == 1 &&
		    OBUF_SIZE - L->r->olen < MAX_DGRAM)
			break;
		from.len = sizeof(from.u);
		n = recvfrom(fd, buf, sizeof(buf), 0,
		    (struct sockaddr *)&from.u, &from.len);
		if (n == -1) {
			if (errno == ECONNREFUSED || errno == EHOSTUNREACH ||
			    errno == ENETUNREACH)
				continue;	/* ICMP while punching: not yet */
			break;
		}
		if (n > MAX_DGRAM)
			continue;	/* oversized: not ours */
		net_datagram(L, buf, (size_t)n, &from, sock, now);
		if (sock >= 0 && L->p->state != P_PROBE)
			break;		/* the punch is over: fd is closed */
	}
}

static void
print_result(const struct punch *p)
{
	char a[64];

	printf("%d %s %d\n", p->lport, ep_addr(&p->peer, a, sizeof(a)),
	    ep_port(&p->peer));
	if (fflush(stdout) == EOF || ferror(stdout))
		err(EX_FAIL, "stdout");
}

/* Advance the loop's state; returns -1 on failure. */
static int
advance(struct loop *L, int64_t now)
{
	struct punch *p = L->p;
	struct relay *r = L->r;

	if (punch_tick(p, now) == -1)
		return -1;
	if (L->state == S_PUNCH) {
		if (p->warned == 1) {
			warnx("no answer from the mediator yet; still trying");
			p->warned = 2;
		}
		if (p->state != P_DONE)
			return 0;
		L->quiet_since = now;
		if (p->relayed)		/* said even without -v */
			warnx("no direct path to the peer: the session is "
			    "relayed by the mediator");
		if (L->handoff) {
			L->state = S_END;
			return 0;
		}
		if (r == NULL) {
			print_result(p);
			/* The controlled side's ACK may be lost: linger. */
			L->state = p->controlling ? S_END : S_LINGER;
			L->linger = 150;
			return 0;
		}
		L->state = S_RELAY;
		r->last_rx = r->last_tx = now;
		ends_start(&r->ends, now);
		r->eof_gap = p->rtt * 2 > 30 ? p->rtt * 2 : 30;
		L->linger = 3 * r->eof_gap;
		vlog("session open with %s%s", p->label,
		    p->auth.on ? ", authenticated" : "");
	}
	if (L->state == S_RELAY && relay_timers(r, now)) {
		if (r->failed)
			return -1;
		L->state = S_LINGER;
		vlog("session done: sent %u datagram(s) %llu bytes, received "
		    "%u %llu bytes", r->sent, (unsigned long long)r->bytes_out,
		    r->rcvd, (unsigned long long)r->bytes_in);
	}
	/* Answer retransmissions until the peer has been quiet a while. */
	if (L->state == S_LINGER && now - L->quiet_since >= L->linger)
		L->state = S_END;
	return 0;
}

static int
loop_timeout(const struct loop *L, int64_t now)
{
	int64_t t;

	int pt = punch_next(L->p, now);

	if (L->state == S_PUNCH)
		return pt;
	if (L->state == S_LINGER)
		t = L->linger - (now - L->quiet_since);
	else
		t = relay_next(L->r, now);
	if (pt >= 0 && pt < t)
		t = pt;
	return t < 0 ? 0 : (int)(t > 60000 ? 60000 : t);
}

/* The one poll() loop. Returns 0, or -1 with the reason in p or r. */
static int
run(struct loop *L)
{
	struct punch *p = L->p;
	struct relay *r = L->r;
	struct pollfd pfd[3 + NSPRAY];
	int64_t now;
	int nspray, i;

	for (;;) {
		now = now_ms();
		if (advance(L, now) == -1)
			return -1;
		if (L->state == S_END)
			return 0;
		pfd[0].fd = p->fd;
		pfd[0].events = POLLIN;
		/* Back-pressure: no room for a datagram, leave it queued. */
		if (r != NULL && L->state == S_RELAY && r->out_open == 1 &&
		    OBUF_SIZE - r->olen < MAX_DGRAM)
			pfd[0].events = 0;
		pfd[1].fd = pfd[2].fd = -1;
		pfd[1].events = POLLIN;
		pfd[2].events = POLLOUT;
		if (r != NULL && L->state == S_RELAY) {
			if (out_queued(r))
				pfd[0].events |= POLLOUT;
			else if (r->in_open)
				pfd[1].fd = STDIN_FILENO;
			if (r->olen && r->out_open == 1)
				pfd[2].fd = STDOUT_FILENO;
		}
		nspray = punch_pollfds(p, pfd + 3);
		if (poll(pfd, 3 + (nfds_t)nspray, loop_timeout(L, now)) == -1) {
			if (errno == EINTR)
				continue;
			err(EX_FAIL, "poll");
		}
		now = now_ms();
		for (i = 0; i < nspray && p->state == P_PROBE; i++)
			if (pfd[3 + i].revents & (POLLIN | POLLERR))
				net_read(L, pfd[3 + i].fd, i, now);
		if (pfd[0].revents & (POLLIN | POLLERR))
			net_read(L, p->fd, -1, now);
		if (r == NULL || L->state != S_RELAY)
			continue;
		if (pfd[2].revents & (POLLOUT | POLLERR | POLLHUP))
			stdout_write(r);
		if (pfd[0].revents & POLLOUT)
			pend_flush(r);
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			stdin_read(r);
			pend_flush(r);
		}
	}
}

/* ---- the TCP relay: a plain byte stream, as nc ---- */

#define TBUF	(64 * 1024)

struct tbuf {
	unsigned char	b[TBUF];
	size_t		off, len;	/* data is b[off, len) */
};

/* Fill from fd; returns bytes read, 0 at EOF, -1 on error or EAGAIN. */
static ssize_t
tbuf_fill(struct tbuf *t, int fd, int sock)
{
	ssize_t n;

	if (t->off == t->len)
		t->off = t->len = 0;
	else if (t->len == TBUF && t->off > 0) {
		memmove(t->b, t->b + t->off, t->len - t->off);
		t->len -= t->off;
		t->off = 0;
	}
	if (t->len == TBUF) {
		/* Full: a zero-length read would look like EOF (POLLHUP). */
		errno = EAGAIN;
		return -1;
	}
	n = sock ? recv(fd, t->b + t->len, TBUF - t->len, 0) :
	    read(fd, t->b + t->len, TBUF - t->len);
	if (n > 0)
		t->len += (size_t)n;
	return n;
}

/* Drain to fd; returns -1 on a hard error. */
static int
tbuf_drain(struct tbuf *t, int fd, int sock)
{
	ssize_t n;

	n = sock ? send(fd, t->b + t->off, t->len - t->off, MSG_NOSIGNAL) :
	    write(fd, t->b + t->off, t->len - t->off);
	if (n == -1)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	t->off += (size_t)n;
	return 0;
}

/* Keepalives keep the NAT mappings, and notice a vanished peer. */
static void
tcp_keepalive(int fd, int64_t ms)
{
	int one = 1, idle = (int)(ms / 1000), cnt = 4;
	unsigned int uto = (unsigned int)(ms * 4);

	if (idle < 1)
		idle = 1;
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &idle, sizeof(idle));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	/* Data unacknowledged this long means the peer is gone. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto, sizeof(uto));
}

/*
 * stdin to the connection, the connection to stdout, until both
 * directions have ended (unlike the UDP relay, a listener does not stop
 * at the connector's EOF: a TCP half-close is a request's end, as HTTP's). stdin EOF half-closes (shutdown SHUT_WR) as nc
 * -N; the peer's EOF closes stdout. Returns 0 for a clean end, -1 (why
 * set) for a reset or error.
 */
static int
tcp_relay(int fd, const struct sess *S, char *why, size_t whylen)
{
	static struct tbuf in, out;	/* stdin -> net, net -> stdout */
	struct pollfd pfd[3];
	struct ends ends;
	int in_open = !S->nostdin, net_open = 1, out_open = 1, shut = 0;
	int64_t now, t;
	uint64_t nin = 0, nout = 0;
	ssize_t n;

	ends_start(&ends, now_ms());
	in.off = in.len = out.off = out.len = 0;	/* -k: anew */
	tcp_keepalive(fd, S->keepalive);
	for (;;) {
		now = now_ms();
		if (ends_due(&ends, S, now, nout, nin, 0))
			return 0;
		if (!in_open && in.off == in.len && !shut &&
		    (!S->nostdin || !net_open)) {
			(void)shutdown(fd, SHUT_WR);
			shut = 1;
		}
		if (!net_open && (out.off == out.len || !out_open) &&
		    out_open != -1) {
			if (!S->keep)
				close(STDOUT_FILENO);
			out_open = -1;
			continue;
		}
		if (shut && out_open == -1)
			return 0;
		pfd[0].fd = in_open && in.len - in.off < TBUF ? STDIN_FILENO :
		    -1;
		pfd[0].events = POLLIN;
		pfd[1].fd = fd;
		pfd[1].events = (net_open && out.len - out.off < TBUF ?
		    POLLIN : 0) |
		    (in.off < in.len ? POLLOUT : 0);
		pfd[2].fd = out_open == 1 && out.off < out.len ?
		    STDOUT_FILENO : -1;
		pfd[2].events = POLLOUT;
		t = ends_next(&ends, S, now, -1);
		if (poll(pfd, 3, t < 0 ? -1 : (int)t) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(why, whylen, "poll: %s", strerror(errno));
			return -1;
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = tbuf_fill(&in, STDIN_FILENO, 0);
			if (n > 0)
				nout += (uint64_t)n;
			if (n == 0 || (n == -1 && errno != EAGAIN &&
			    errno != EINTR)) {
				in_open = 0;
				ends.eof_at = now_ms();
			}
		}
		if (pfd[1].revents & POLLERR) {
			/* A reset or timeout, even after the peer's EOF. */
			int e = 0;
			socklen_t elen = sizeof(e);

			(void)getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen);
			errno = e ? e : ECONNRESET;
			goto broken;
		}
		if (pfd[1].revents & POLLOUT && tbuf_drain(&in, fd, 1) == -1)
			goto broken;
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR) && net_open) {
			if ((n = tbuf_fill(&out, fd, 1)) > 0)
				nin += (uint64_t)n;
			if (n == 0)
				net_open = 0;
			else if (n == -1 && errno != EAGAIN && errno != EINTR)
				goto broken;
		}
		if (pfd[2].revents && tbuf_drain(&out, STDOUT_FILENO, 0) == -1) {
			out_open = 0;	/* reader gone: discard */
			out.off = out.len = 0;
		}
	}
broken:
	snprintf(why, whylen, "connection to the peer: %s", strerror(errno));
	return -1;
}

/* ---- subcommands ---- */

static int
valid_name(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > NAME_MAX_LEN)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return 0;
	return 1;
}

#define TR_UDP	0
#define TR_TCP	1	/* -t */
#define TR_AUTO	2	/* -a: TCP first, then UDP */
#define TCP_SHARE 3000	/* ms of the -w budget -a gives TCP at most */

struct copts {
	int	nostdin;	/* -d */
	int	transport;
	int	reliable;	/* -R */
	int	keep;		/* listen -k */
	int64_t	quit;		/* -q, ms; -1: not given */
	int64_t	wait;		/* -w, ms; 0: none */
	int	wait_given;	/* ... then also the session's idle timeout */
	char	menv[512];	/* PNC_MEDIATOR, split */
	char	stun[MAX_MEDS][280];	/* -S host:port, port filled in */
	int	nstun;
	char	wire[40];	/* the name as sent, with -K */
};

/*
 * The key of -K (a file) or PNC_KEY, less one trailing newline, so that
 * `echo secret >file` and PNC_KEY=secret agree. Exits 1 if unreadable.
 */
static size_t
load_key(const char *file, unsigned char *buf, size_t cap)
{
	const char *env = getenv("PNC_KEY");
	size_t len = 0;
	ssize_t n;
	int fd;

	if (file == NULL) {
		if ((len = strlen(env)) > cap)
			errx(EX_FAIL, "PNC_KEY is longer than %zu bytes", cap);
		memcpy(buf, env, len);
	} else {
		if ((fd = open(file, O_RDONLY | O_CLOEXEC)) == -1)
			err(EX_FAIL, "key file %s", file);
		while (len < cap && (n = read(fd, buf + len, cap - len)) != 0) {
			if (n == -1 && errno != EINTR)
				err(EX_FAIL, "key file %s", file);
			if (n > 0)
				len += (size_t)n;
		}
		close(fd);
		if (len == cap)
			errx(EX_FAIL, "key file %s: longer than %zu bytes",
			    file, cap - 1);
	}
	if (len > 0 && buf[len - 1] == '\n') {
		len--;
		if (len > 0 && buf[len - 1] == '\r')
			len--;
	}
	if (len == 0)
		errx(EX_FAIL, "%s%s is empty", file ? "key file " : "PNC_KEY",
		    file ? file : "");
	return len;
}

/* Flags shared by punch, listen and connect; exits 2 on misuse. */
static void
client_opts(const char *cmd, int role, int argc, char **argv,
    struct punch *p, struct copts *o)
{
	int64_t wait = role == ROLE_LISTEN ? 0 : DEFAULT_WAIT;
	unsigned char key[KEY_MAX + 1];
	char host[256];
	const char *port, *keyfile = NULL;
	size_t keylen;
	int ch;

	memset(p, 0, sizeof(*p));
	p->role = role;
	p->fd = -1;
	p->medspec = getenv("PNC_MEDIATOR");
	memset(o, 0, sizeof(*o));
	o->quit = -1;
	while ((ch = getopt(argc, argv, role == ROLE_PUNCH ? "46ahK:m:p:S:tvw:" :
	    role == ROLE_LISTEN ? "46adhkK:m:Np:q:Rtvw:" :
	    "46adhK:m:Np:q:Rtvw:")) != -1) {
		switch (ch) {
		case '4':
			p->family = AF_INET;
			break;
		case '6':
			p->family = AF_INET6;
			break;
		case 'k':
			o->keep = 1;
			break;
		case 'S':
			if (o->nstun == MAX_MEDS || split_hostport(optarg,
			    STUN_PORT, host, sizeof(host), &port) == -1) {
				warnx("bad or too many -S: %s", optarg);
				usage_cmd(cmd, EX_USAGE);
			}
			snprintf(o->stun[o->nstun++], sizeof(o->stun[0]),
			    strchr(host, ':') ? "[%s]:%s" : "%s:%s", host,
			    port);
			break;
		case 'N':
			break;	/* nc's -N: what pnc always does at EOF */
		case 'q':
			if (optarg[0] == '-')
				o->quit = -1;	/* as nc: wait for ever */
			else if (strcmp(optarg, "0") == 0)
				o->quit = 0;
			else if (parse_secs(optarg, &o->quit) == -1) {
				warnx("bad -q: %s", optarg);
				usage_cmd(cmd, EX_USAGE);
			}
			break;
		case 'K':
			keyfile = optarg;
			break;
		case 'R':
			o->reliable = 1;
			break;
		case 'a':
			o->transport = TR_AUTO;
			break;
		case 'd':
			o->nostdin = 1;
			break;
		case 't':
			o->transport = TR_TCP;
			break;
		case 'h':
			usage_cmd(cmd, 0);
			break;
		case 'm':
			if (p->nmeds == MAX_MEDS) {
				warnx("-m at most %d times", MAX_MEDS);
				usage_cmd(cmd, EX_USAGE);
			}
			p->medspecs[p->nmeds++] = optarg;
			break;
		case 'p':
			if (parse_port(optarg, &p->lport) == -1) {
				warnx("bad port: %s", optarg);
				usage_cmd(cmd, EX_USAGE);
			}
			break;
		case 'v':
			verbose = 1;
			break;
		case 'w':
			if (parse_secs(optarg, &wait) == -1) {
				warnx("bad timeout: %s", optarg);
				usage_cmd(cmd, EX_USAGE);
			}
			o->wait_given = 1;
			break;
		default:
			usage_cmd(cmd, EX_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (o->reliable && o->transport == TR_TCP) {
		warnx("-R and -t: TCP is reliable already");
		usage_cmd(cmd, EX_USAGE);
	}
	p->reliable = o->reliable;
	if (argc == 0 && role == ROLE_PUNCH && o->transport == TR_UDP)
		p->name = NULL;		/* the NAT check */
	else if (argc != 1) {
		warnx(argc ? "one name, please" : "missing name");
		usage_cmd(cmd, EX_USAGE);
	} else if (!valid_name(argv[0])) {
		warnx("bad name: 1 to %d printable characters, no spaces",
		    NAME_MAX_LEN);
		usage_cmd(cmd, EX_USAGE);
	}
	if (o->nstun > 0) {
		/* -S: the NAT check asks these instead of a mediator. */
		if (argc != 0 || o->transport != TR_UDP) {
			warnx("-S is for the NAT check: no name, no -t");
			usage_cmd(cmd, EX_USAGE);
		}
		for (p->nmeds = 0; p->nmeds < o->nstun; p->nmeds++)
			p->medspecs[p->nmeds] = o->stun[p->nmeds];
		p->natstun = 1;
	}
	/* PNC_MEDIATOR may list several, split by commas or spaces. */
	if (p->nmeds == 0 && p->medspec != NULL &&
	    strlen(p->medspec) < sizeof(o->menv)) {
		char *s, *save = NULL;

		strcpy(o->menv, p->medspec);
		for (s = strtok_r(o->menv, ", \t", &save); s != NULL;
		    s = strtok_r(NULL, ", \t", &save)) {
			if (p->nmeds == MAX_MEDS) {
				warnx("PNC_MEDIATOR: at most %d", MAX_MEDS);
				usage_cmd(cmd, EX_USAGE);
			}
			p->medspecs[p->nmeds++] = s;
		}
	}
	if (p->nmeds == 0) {
		warnx("no mediator: give -m host[:port] or set PNC_MEDIATOR");
		usage_cmd(cmd, EX_USAGE);
	}
	for (ch = 0; ch < p->nmeds; ch++)
		if (split_hostport(p->medspecs[ch], PNC_PORT, host,
		    sizeof(host), &port) == -1) {
			warnx("bad mediator: %s (host[:port])",
			    p->medspecs[ch]);
			usage_cmd(cmd, EX_USAGE);
		}
	p->medspec = p->medspecs[0];
	if (argc == 1)
		p->name = argv[0];
	p->label = p->name;
	if (keyfile != NULL || (getenv("PNC_KEY") != NULL &&
	    *getenv("PNC_KEY") != '\0')) {
		if (o->transport != TR_UDP) {
			warnx("-K works over UDP only: not with -t or -a");
			usage_cmd(cmd, EX_USAGE);
		}
		if (p->name == NULL) {
			warnx("-K needs a name");
			usage_cmd(cmd, EX_USAGE);
		}
		keylen = load_key(keyfile, key, sizeof(key));
		if (auth_init(&p->auth, key, keylen, p->label, o->wire,
		    sizeof(o->wire)) == -1)
			errx(EX_FAIL, "cannot set up the key");
		explicit_bzero(key, sizeof(key));
		p->name = o->wire;
	}
	o->wait = wait;
	if (wait)
		p->deadline = now_ms() + wait;
}

/* With -K and -v: what the authentication turned away. */
static void
auth_report(const struct punch *p)
{
	if (p->auth.on)
		vlog("dropped %lu forged and %lu replayed datagram(s)",
		    p->auth.forged, p->auth.replayed);
}

static const char *
yesno(int v)
{
	return v ? "yes" : "no";
}

/*
 * The NAT check's report: one "key value" line per fact, stable for
 * scripts; -v adds how each was found.
 */
static void
natcheck_print(const struct punch *p, const struct natcheck *nc)
{
	const struct ep *m = nc->mapped;
	char a[80];
	int i, natted = 1, eim, filt_any, filt_port;

	for (i = 0; i < p->nlocals; i++)
		if (ep_equal(&p->locals[i], &m[0]))
			natted = 0;
	printf("nat %s\n", yesno(natted));
	printf("public-address %s\n", ep_addr(&m[0], a, sizeof(a)));
	printf("public-port %d\n", ep_port(&m[0]));
	printf("port-preserved %s\n", yesno(ep_port(&m[0]) == p->lport));
	vlog("mapping toward the mediator's port P: %s",
	    ep_str(&m[0], a, sizeof(a)));
	if (nc->answered[1])
		vlog("mapping toward its port P+1: %s",
		    ep_str(&m[1], a, sizeof(a)));
	if (nc->answered[2])
		vlog("mapping toward its other address: %s",
		    ep_str(&m[2], a, sizeof(a)));
	if (!nc->answered[1] && !nc->answered[2])
		printf("mapping unknown\n");
	else {
		/* -S with a plain STUN server and a second one: [2] only. */
		eim = (!nc->answered[1] || ep_equal(&m[0], &m[1])) &&
		    (!nc->answered[2] || ep_equal(&m[0], &m[2]));
		if (eim)
			printf("mapping endpoint-independent\n");
		else if (!nc->answered[1])
			printf("mapping endpoint-dependent\n");
		else if (ep_equal(&m[0], &m[1]))
			printf("mapping endpoint-dependent address-dependent\n");
		else
			printf("mapping endpoint-dependent "
			    "address-and-port-dependent\n");
	}
	/* An answer counts only if the mediator could send it from afar. */
	filt_any = nc->answered[3] && nc->got[3] == 3;
	filt_port = nc->answered[4] && nc->got[4] == 1;
	vlog("answer from the other address and port: %s; from the other "
	    "port: %s", nc->answered[3] ? (nc->got[3] == 3 ? "came" :
	    "mediator cannot") : "dropped by the NAT", nc->answered[4] ?
	    (nc->got[4] == 1 ? "came" : "mediator cannot") :
	    "dropped by the NAT");
	if (filt_any)
		printf("filtering endpoint-independent\n");
	else if (filt_port && nc->have_other)
		printf("filtering address-dependent\n");
	else if (filt_port)
		printf("filtering address-dependent-or-less\n");
	else if (nc->answered[4] && nc->got[4] == 0)
		printf("filtering unknown\n");
	else
		printf("filtering address-and-port-dependent\n");
	printf("hairpin %s\n", yesno(nc->answered[5]));
	vlog("checked in %lld ms", (long long)nc->ms);
	fflush(stdout);
}

/*
 * -t and -a: punch over TCP. With -a, TCP gets part of the budget and a
 * failure falls back to UDP (p is set up anew). Returns 1 when p->fd is
 * a TCP connection, 0 when the caller should go on over UDP.
 */
static int
try_tcp(struct punch *p, const struct copts *o)
{
	struct punch save = *p;
	int64_t now = now_ms(), share;

	if (o->transport == TR_UDP)
		return 0;
	if (punch_init(p) == -1)
		errx(EX_FAIL, "%s", p->why);
	if (o->transport == TR_AUTO) {
		share = save.deadline ? (save.deadline - now) / 2 : TCP_SHARE;
		p->deadline = now + (share < TCP_SHARE ? share : TCP_SHARE);
	} else if (p->role != ROLE_PUNCH && save.deadline)
		p->deadline = now + (save.deadline - now) / 2;
	if (tcp_punch(p) == 0) {
		vlog("using TCP");
		return 1;
	}
	if (o->transport == TR_TCP && p->role == ROLE_PUNCH)
		errx(EX_FAIL, "%s", p->why);	/* nc wants a TCP hole */
	if (o->transport == TR_TCP) {
		/*
		 * A stream was asked for: UDP with -R is one too, and goes
		 * through the mediator's relay when nothing else does. The
		 * peer, also -t, comes to the same.
		 */
		warnx("%s; falling back to UDP with -R (relayed if the "
		    "mediator relays)", p->why);
		*p = save;
		p->reliable = 1;
		return 0;
	}
	if (verbose)
		warnx("%s; falling back to UDP", p->why);
	*p = save;
	return 0;
}

int
punch_main(int argc, char **argv)
{
	struct punch p;
	struct loop L;
	struct natcheck nc;
	struct copts o;

	client_opts("punch", ROLE_PUNCH, argc, argv, &p, &o);
	if (auth_start(&p.auth, &p.auth) == -1)
		err(EX_FAIL, "getentropy");
	if (try_tcp(&p, &o)) {
		print_result(&p);
		tcp_abort(p.fd);	/* RST: nc may reuse the ports */
		return EX_OK;
	}
	if (punch_init(&p) == -1)
		errx(EX_FAIL, "%s", p.why);
	if (p.name == NULL) {
		if (natcheck_run(&p, &nc) == -1)
			errx(EX_FAIL, "%s", p.why);
		natcheck_print(&p, &nc);
		close(p.fd);
		return EX_OK;
	}
	memset(&L, 0, sizeof(L));
	L.p = &p;
	if (run(&L) == -1)
		errx(EX_FAIL, "%s", p.why);
	if (o.transport == TR_AUTO)
		vlog("using UDP");
	close(p.fd);
	return EX_OK;
}

/*
 * One session: punch, then relay. Returns 0, or -1 with the reason in
 * why; p->state says whether the punch got through.
 */
static int
session(struct punch *p, const struct copts *o, const struct sess *S,
    int role, unsigned char *obuf, char *why, size_t whylen)
{
	struct relay r;
	struct loop L;
	int rc;

	if (try_tcp(p, o)) {
		rc = tcp_relay(p->fd, S, why, whylen);
		close(p->fd);
		return rc;
	}
	if (punch_init(p) == -1)
		errx(EX_FAIL, "%s", p->why);
	memset(&L, 0, sizeof(L));
	L.p = p;
	if (p->reliable) {		/* -R, or -t fallen back */
		L.handoff = 1;
		if ((rc = run(&L)) == 0)
			rc = rel_run(p, S, why, whylen);
		else
			snprintf(why, whylen, "%s", p->why);
	} else {
		memset(&r, 0, sizeof(r));
		r.p = p;
		r.S = S;
		r.listener = role == ROLE_LISTEN;
		r.keepalive = S->keepalive;
		r.dead = 4 * S->keepalive;
		r.in_open = !S->nostdin;
		r.nostdin = S->nostdin;
		r.out_open = 1;
		r.obuf = obuf;
		L.r = &r;
		if ((rc = run(&L)) == -1)
			snprintf(why, whylen, "%s", r.failed ? r.why : p->why);
		else if (o->transport == TR_AUTO)
			vlog("using UDP");
	}
	auth_report(p);
	close(p->fd);
	return rc;
}

static int
session_main(const char *cmd, int role, int argc, char **argv)
{
	static unsigned char obuf[OBUF_SIZE];
	struct punch p0, p;
	struct copts o;
	struct sess S;
	const char *ka;
	char why[256];
	int64_t keepalive = KEEPALIVE_MS;

	client_opts(cmd, role, argc, argv, &p0, &o);
	if ((ka = getenv("PNC_KEEPALIVE")) != NULL &&
	    parse_secs(ka, &keepalive) == -1)
		errx(EX_USAGE, "bad PNC_KEEPALIVE: %s", ka);
	memset(&S, 0, sizeof(S));
	S.nostdin = o.nostdin;
	S.keep = o.keep;
	S.keepalive = keepalive;
	S.quit = o.quit;
	S.idle = o.wait_given ? o.wait : 0;
	for (;;) {
		p = p0;
		if (o.wait)
			p.deadline = now_ms() + o.wait;
		/* -k: every session its own ids and nonce. */
		if (auth_start(&p.auth, &p0.auth) == -1)
			err(EX_FAIL, "getentropy");
		if (session(&p, &o, &S, role, obuf, why, sizeof(why)) == 0) {
			if (!o.keep)
				return EX_OK;
		} else if (!o.keep || p.state != P_DONE)
			errx(EX_FAIL, "%s", why);	/* -k: not a peer's fault */
		else
			warnx("%s", why);
		vlog("-k: registering again for the next peer");
	}
}

int
listen_main(int argc, char **argv)
{
	return session_main("listen", ROLE_LISTEN, argc, argv);
}

int
connect_main(int argc, char **argv)
{
	return session_main("connect", ROLE_CONNECT, argc, argv);
}

int
main(int argc, char **argv)
{
	size_t i;

	/* A vanished stdout reader is an EPIPE to handle, not a death. */
	signal(SIGPIPE, SIG_IGN);
	/* A closed 0, 1 or 2 must not become our socket. */
	for (i = 0; i < 3; i++)
		if (fcntl((int)i, F_GETFD) == -1 &&
		    open("/dev/null", O_RDWR) != (int)i)
			return EX_FAIL;
	if (argc < 2) {
		usage_all(stderr);
		return EX_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0 ||
	    strcmp(argv[1], "--help") == 0) {
		usage_all(stdout);
		return EX_OK;
	}
	if (strcmp(argv[1], "-V") == 0) {
		printf("pnc %s (protocol %d)\n", PNC_VERSION, PROTO_VERSION);
		return EX_OK;
	}
	for (i = 0; i < NCMDS; i++)
		if (strcmp(argv[1], cmds[i].name) == 0) {
			optind = 1;
			return cmds[i].main(argc - 1, argv + 1);
		}
	warnx("unknown subcommand: %s", argv[1]);
	usage_all(stderr);
	return EX_USAGE;
}

/*
 * For the fuzzer (tests/fuzz.c): a listen-side punch and relay with no
 * socket, fed datagrams (records of ctl, src, len, bytes) from the
 * mediator or from a few peer addresses, timers run in between.
 */
int
peer_fuzz(const unsigned char *buf, size_t len, int keyed)
{
	static unsigned char obuf[OBUF_SIZE];
	char wire[40];
	struct punch p;
	struct sess S;
	struct relay r;
	struct loop L;
	struct ep from;
	int64_t now = 1000;
	size_t i = 0, n;

	memset(&p, 0, sizeof(p));
	memset(&r, 0, sizeof(r));
	memset(&L, 0, sizeof(L));
	p.role = ROLE_LISTEN;
	p.name = p.label = "x";
	if (keyed && auth_init(&p.auth, (const unsigned char *)"k", 1,
	    p.label, wire, sizeof(wire)) == 0 &&
	    auth_start(&p.auth, &p.auth) == 0)
		p.name = wire;
	p.fd = -1;
	p.id = 0x1111;
	p.state = P_REGISTER;
	p.nominated = -1;
	p.ttl_low = 2;
	p.txgap = 100;
	p.med.u.in.sin_family = AF_INET;
	p.med.u.in.sin_port = htons(7321);
	p.med.u.in.sin_addr.s_addr = htonl(0x7f000001);
	p.med.len = sizeof(p.med.u.in);
	p.med_alt = p.med;
	p.nmeds = 1;
	p.meds[0][0] = p.meds[0][1] = p.med;
	memset(&S, 0, sizeof(S));
	S.quit = -1;
	S.keepalive = 1000;
	r.p = &p;
	r.S = &S;
	r.out_open = r.in_open = 1;
	r.obuf = obuf;
	r.keepalive = 1000;
	r.dead = 4000;
	L.p = &p;
	L.r = &r;
	while (i + 3 <= len) {
		n = buf[i + 2];
		if (n > len - i - 3)
			n = len - i - 3;
		from = p.med;
		if (buf[i + 1] & 3) {
			from.u.in.sin_addr.s_addr = htonl(0x7f000000 |
			    (buf[i + 1] & 7));
			from.u.in.sin_port = htons(2000 + (buf[i + 1] >> 3));
		}
		now += buf[i] >> 2;
		if (buf[i] & 1)
			(void)punch_tick(&p, now);
		net_datagram(&L, buf + i + 3, n, &from, -1, now);
		if (r.olen > OBUF_SIZE || p.ncands > MAX_CANDS ||
		    p.nominated >= p.ncands)
			abort();
		i += 3 + n;
	}
	punch_close(&p);
	if (p.fd != -1)
		close(p.fd);
	return 0;
}
