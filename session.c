/*
 * session.c - the one client loop: a punch (UDP, TCP, or the NAT check),
 * then one transport (datagrams as nc -u, -R's reliable stream, or a TCP
 * byte stream), with -q, -w, -k, keepalive, linger and -v's progress
 * written once, here.
 *
 * Only this file polls. Each phase of a session says which descriptors
 * it waits for, when it next needs the clock, and what to do with what
 * poll() found; the punch (punch.c) and the -R transport (rel.c) are
 * state machines it feeds with datagrams and timer calls, and whose
 * datagrams it sends. The datagram and TCP transports are small enough
 * to live here, as the same kind of passive parts.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <netinet/in.h>
#include <netinet/udp.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pnc.h"

#define OBUF_SIZE	(128 * 1024)	/* peer -> stdout: twice a pipe's */
#define STRAGGLE_MS	200	/* wait for datagrams overtaken by EOF */
#define BATCH		64	/* datagrams read per wakeup */
#define RBATCH		32	/* ... per recvmmsg() */
#define SBATCH		64	/* messages per sendmmsg() */
#define GSO_MAX		32	/* datagrams per UDP GSO message */
#define GSO_BYTES	60000	/* ... and their bytes, under 64 kB */
#define DG_BATCH	16	/* datagrams from one read of stdin */
#define IN_CHUNK	(DG_BATCH * MAX_PAYLOAD)	/* stdin read at once */
#define REL_CHUNK	(64 * MAX_PAYLOAD)	/* ... with -R, at most */
#define PUNCH_LINGER	150	/* ms: pnc punch's controlled side lingers */
#define TBUF		(64 * 1024)	/* TCP: each direction's buffer */
#define OUT_MAX		(64 * 1024)	/* -R: bytes per write to stdout */
#define OUT_IOV		(OUT_MAX / MAX_PAYLOAD + 2)

/*
 * The poll() slots: the network (the path's socket), stdin, stdout,
 * then the punch's own (birthday sockets, -t's connections, the NAT
 * check's). A slot not wanted this time has fd -1.
 */
enum { SL_NET, SL_IN, SL_OUT, SL_PUNCH, NSLOTS = SL_PUNCH + NSPRAY };
_Static_assert(NSPRAY >= 2 + MAX_TCONNS, "-t's descriptors fit the slots");

enum phase { PH_PUNCH, PH_NATCHECK, PH_DGRAM, PH_REL, PH_STREAM,
    PH_LINGER, PH_END };

/* ---- -q, -w and -v's progress, the same for every transport ---- */

struct ends {
	int64_t		 eof_at;	/* when stdin ended, ms; 0: not yet */
	uint64_t	 moved;		/* bytes each way, summed ... */
	int64_t		 moved_at;	/* ... and when that last grew */
	int64_t		 line_at;	/* -v: the last progress line */
	uint64_t	 out, in;	/* ... and the bytes then */
};

/* ---- the datagram transport: nc -u, plus an end-of-input message ---- */

struct dgram {
	/* stdin -> peer */
	int		 in_open;	/* stdin still read */
	int		 eof_sent, eof_acked;
	int64_t		 eof_next, eof_gap;
	uint32_t	 sent;
	uint64_t	 bytes_out;
	unsigned char	 in[IN_CHUNK];	/* one read of stdin ... */
	size_t		 inoff, inlen;	/* ... in[inoff..inlen) not yet sent */
	/* sealed datagrams from in[], pend[pendoff..npend) not yet sent */
	unsigned char	 pend[DG_BATCH][HDR_LEN + 4 + MAX_PAYLOAD +
			    AUTH_TRAILER];
	size_t		 pendlen[DG_BATCH];
	int		 npend, pendoff;
	/* peer -> stdout */
	int		 out_open;	/* 1 open, 0 discarding, -1 closed */
	int		 peer_eof;
	uint32_t	 peer_count, rcvd;
	uint64_t	 bytes_in;
	int64_t		 peer_eof_at;
	unsigned char	 obuf[OBUF_SIZE];
	size_t		 ohead, olen;
};

/* ---- the TCP transport: a plain byte stream, as nc ---- */

struct tbuf {
	unsigned char	b[TBUF];
	size_t		off, len;	/* data is b[off, len) */
};

struct tstream {
	struct tbuf	 in, out;	/* stdin -> net, net -> stdout */
	int		 in_open, net_open, out_open, shut;
	uint64_t	 nin, nout;
};

struct session {
	struct sess_cfg	 cfg;
	struct punch	*p;
	struct path	*path;		/* the punch's: agreed once done */
	enum phase	 phase;
	int		 punched;	/* the punch is through: tell the
					   caller once (SR_PUNCHED) */
	struct natcheck	 chk;		/* PH_NATCHECK */
	struct dgram	*dg;
	struct rel	*rel;
	struct tstream	*st;
	int		 rel_out_closed;	/* -R: stdout closed at FIN */
	int		 no_gso;	/* UDP GSO failed once: not again */
	struct ends	 ends;		/* -q, -w, -v */
	int64_t		 last_rx, last_tx;	/* the peer's, ours: ms */
	int64_t		 linger;	/* answer resends this long at the end */
	int64_t		 quiet_since;	/* ... since the peer's last datagram */
	char		 why[256];	/* SR_FAILED's reason */
};

/* Bytes for people: "512 B", "12.3 kB", "4.1 MB". */
static const char *
human(double v, char *buf, size_t len)
{
	static const char *unit[] = { "B", "kB", "MB", "GB", "TB" };
	int i = 0;

	while (v >= 1000 && i < 4) {
		v /= 1000;
		i++;
	}
	snprintf(buf, len, i ? "%.1f %s" : "%.0f %s", v, unit[i]);
	return buf;
}

static void
ends_start(struct ends *g, int64_t now)
{
	memset(g, 0, sizeof(*g));
	g->moved_at = g->line_at = now;
}

/* -v, once a second while bytes move: totals, rates, RTT (us; 0 none). */
static void
progress(struct ends *g, int64_t now, uint64_t out, uint64_t in,
    int64_t rtt_us)
{
	char a[32], b[32], c[32], d[32], r[32] = "";
	double dt = (double)(now - g->line_at) / 1000;

	if (!verbose || now - g->line_at < 1000)
		return;
	if (out != g->out || in != g->in) {
		if (rtt_us > 0)
			snprintf(r, sizeof(r), ", rtt %.1f ms",
			    (double)rtt_us / 1000);
		vlog("%s out (%s/s), %s in (%s/s)%s",
		    human((double)out, a, sizeof(a)),
		    human((double)(out - g->out) / dt, b, sizeof(b)),
		    human((double)in, c, sizeof(c)),
		    human((double)(in - g->in) / dt, d, sizeof(d)), r);
	}
	g->line_at = now;
	g->out = out;
	g->in = in;
}

/*
 * With the bytes moved so far each way: print progress, and say whether
 * the session is to end now for -q (that long after stdin's end) or -w
 * (that long without data). Returns 1 then; it is not a failure.
 */
static int
ends_due(struct session *s, int64_t now, uint64_t out, uint64_t in,
    int64_t rtt_us)
{
	const struct sess_cfg *S = &s->cfg;
	struct ends *g = &s->ends;

	if (out + in != g->moved) {
		g->moved = out + in;
		g->moved_at = now;
	}
	progress(g, now, out, in, rtt_us);
	if (S->quit >= 0 && g->eof_at != 0 && now - g->eof_at >= S->quit) {
		vlog("-q: %lld ms after the end of input; quitting",
		    (long long)S->quit);
		return 1;
	}
	if (S->idle > 0 && now - g->moved_at >= S->idle) {
		vlog("-w: no data for %lld ms; quitting", (long long)S->idle);
		return 1;
	}
	return 0;
}

/* The sooner of t (-1: none yet) and c (overdue counts as now). */
static int64_t
sooner(int64_t t, int64_t c)
{
	if (c < 0)
		c = 0;
	return t < 0 || c < t ? c : t;
}

/* Milliseconds until ends_due() may act, at most t (-1: no bound). */
static int64_t
ends_next(const struct session *s, int64_t now, int64_t t)
{
	const struct sess_cfg *S = &s->cfg;
	const struct ends *g = &s->ends;

	if (verbose)
		t = sooner(t, g->line_at + 1000 - now);
	if (S->quit >= 0 && g->eof_at != 0)
		t = sooner(t, g->eof_at + S->quit - now);
	if (S->idle > 0)
		t = sooner(t, g->moved_at + S->idle - now);
	return t;
}

/* ---- sending on the agreed path ---- */

/*
 * A session message built in buf (AUTH_TRAILER bytes of room left):
 * sealed with -K, sent direct or through the mediator's relay. What
 * sendto() did.
 */
static ssize_t
path_send(struct session *s, unsigned char *buf, size_t len)
{
	len = auth_seal(&s->path->auth, buf, len);
	return punch_send(s->p, buf, len);
}

/*
 * How many of dg[i..n) go in one UDP GSO message: the same length, the
 * last one maybe shorter, GSO_MAX and GSO_BYTES at most. 1 without GSO.
 */
static int
gso_run(const struct session *s, const struct iovec *dg, int i, int n)
{
	size_t len = dg[i].iov_len, sum = 0;
	int k;

	if (s->no_gso || s->cfg.no_gso)
		return 1;
	for (k = 0; i + k < n && k < GSO_MAX; k++) {
		if (dg[i + k].iov_len > len || sum + dg[i + k].iov_len >
		    GSO_BYTES)
			break;
		sum += dg[i + k].iov_len;
		if (dg[i + k].iov_len < len) {
			k++;		/* a shorter one ends the run */
			break;
		}
	}
	return k;
}

/*
 * One sendmmsg() of up to SBATCH messages from dg[i..n), each a GSO run
 * (the kernel cuts it into datagrams of the first one's size). What
 * sendmmsg() did; cnt[m] says how many datagrams message m held.
 */
static int
send_batch(struct session *s, struct iovec *dg, int i, int n, int *cnt)
{
	struct mmsghdr mm[SBATCH];
	union {
		char		buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr	align;
	} ctl[SBATCH];
	struct cmsghdr *cm;
	uint16_t seg;
	int m;

	memset(mm, 0, sizeof(mm));
	for (m = 0; i < n && m < SBATCH; m++) {
		cnt[m] = gso_run(s, dg, i, n);
		mm[m].msg_hdr.msg_name = &s->path->peer.u;
		mm[m].msg_hdr.msg_namelen = s->path->peer.len;
		mm[m].msg_hdr.msg_iov = &dg[i];
		mm[m].msg_hdr.msg_iovlen = (size_t)cnt[m];
		if (cnt[m] > 1) {
			seg = (uint16_t)dg[i].iov_len;
			mm[m].msg_hdr.msg_control = ctl[m].buf;
			mm[m].msg_hdr.msg_controllen = sizeof(ctl[m].buf);
			cm = CMSG_FIRSTHDR(&mm[m].msg_hdr);
			cm->cmsg_level = SOL_UDP;
			cm->cmsg_type = UDP_SEGMENT;
			cm->cmsg_len = CMSG_LEN(sizeof(seg));
			memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
		}
		i += cnt[m];
	}
	return sendmmsg(s->path->fd, mm, (unsigned)m, 0);
}

/*
 * Sealed datagrams dg[0..n) to the peer: through the relay one by one,
 * direct in batches (sendmmsg, UDP GSO where the kernel has it: where it
 * fails, never again). Returns how many went or were dropped (ICMP from
 * a path in flux, as nc -u); fewer than n: the socket is full (errno).
 */
static int
net_sendv(struct session *s, struct iovec *dg, int n)
{
	int cnt[SBATCH], i = 0, j, r;

	while (i < n) {
		if (s->path->relayed) {
			r = punch_send(s->p, dg[i].iov_base, dg[i].iov_len) ==
			    -1 ? -1 : 1;
			cnt[0] = 1;
		} else
			r = send_batch(s, dg, i, n, cnt);
		if (r == -1 && cnt[0] > 1 && (errno == EIO ||
		    errno == EINVAL || errno == EOPNOTSUPP ||
		    errno == ENOPROTOOPT)) {
			s->no_gso = 1;	/* no GSO here: the same, plainly */
			vlog("UDP GSO refused (%s): plain datagrams",
			    strerror(errno));
			continue;
		}
		if (r == -1 && (errno == EAGAIN || errno == ENOBUFS ||
		    errno == EINTR))
			break;
		if (r == -1)
			r = 1;		/* that one is dropped; on */
		for (j = 0; j < r; j++)
			i += cnt[j];
	}
	if (i > 0)
		s->last_tx = now_ms();
	return i;
}

/* What a transport queued: a lost send is a lost datagram; timers retry. */
static void
outbox_flush(struct session *s, struct outbox *o)
{
	struct iovec dg[OUTBOX_N];
	int i;

	for (i = 0; i < o->n; i++) {
		dg[i].iov_base = o->buf[i];
		dg[i].iov_len = auth_seal(&s->path->auth, o->buf[i], o->len[i]);
	}
	(void)net_sendv(s, dg, o->n);
	o->n = 0;
}

/* ---- keepalive and a lost peer, the same for datagrams and -R ---- */

static void	dg_send_ctl(struct session *, int, int, uint32_t);

/*
 * Quiet for a keepalive period: the transport's keepalive, which keeps
 * the NATs' mappings (and the relay's session) open.
 */
static void
keepalive(struct session *s, int64_t now)
{
	if (now - s->last_tx < s->cfg.keepalive)
		return;
	if (s->rel != NULL) {
		rel_keepalive(s->rel);
		outbox_flush(s, rel_outbox(s->rel));
	} else
		dg_send_ctl(s, T_KEEPALIVE, 0, 0);
}

/* Nothing from the peer for four keepalive periods: lost (why set). */
static int
peer_lost(struct session *s, int64_t now)
{
	char what[80];

	if (now - s->last_rx < 4 * s->cfg.keepalive)
		return 0;
	if (s->rel != NULL)
		snprintf(what, sizeof(what), "%llu byte(s) sent were not "
		    "confirmed", (unsigned long long)rel_unconfirmed(s->rel));
	else
		snprintf(what, sizeof(what), "session lost");
	snprintf(s->why, sizeof(s->why), "peer silent for %lld s; %s",
	    (long long)(now - s->last_rx) / 1000, what);
	return 1;
}

/* Milliseconds until keepalive() or peer_lost() may act. */
static int64_t
alive_next(const struct session *s, int64_t now)
{
	int64_t t = s->cfg.keepalive - (now - s->last_tx);

	if (4 * s->cfg.keepalive - (now - s->last_rx) < t)
		t = 4 * s->cfg.keepalive - (now - s->last_rx);
	return t < 0 ? 0 : t;
}

/* The peer's stream has ended: stdout too, unless listen -k keeps it. */
static void
stdout_end(struct session *s)
{
	if (!s->cfg.keep)	/* -k: the next session writes to it */
		close(STDOUT_FILENO);
}

/* ---- the datagram transport: dg_* ---- */

static void
dg_send_ctl(struct session *s, int type, int with_count, uint32_t count)
{
	unsigned char buf[HDR_LEN + 4 + AUTH_TRAILER];
	struct wr w;

	wr_init(&w, buf, sizeof(buf));
	wr_hdr(&w, type, s->path->id);
	if (with_count)
		wr_u32(&w, count);
	/* Counted as sent even if it failed: a retry storm helps nobody. */
	(void)path_send(s, buf, w.len);
	s->last_tx = now_ms();
}

/* Is something from stdin still to go to the peer? */
static int
dg_queued(const struct dgram *d)
{
	return d->pendoff < d->npend || d->inoff < d->inlen;
}

/*
 * Read stdin, up to 16 datagrams' worth: a read of up to MAX_PAYLOAD
 * bytes (a line from a terminal) is one datagram, as with nc -u; a
 * longer one (a file) is cut into MAX_PAYLOAD pieces, so that bulk data
 * costs one read and one poll per 16 datagrams, not each.
 */
static void
dg_stdin(struct session *s)
{
	struct dgram *d = s->dg;
	ssize_t n;

	if ((n = read(STDIN_FILENO, d->in, sizeof(d->in))) == -1) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		warn("stdin");
		n = 0;		/* a broken stdin ends our direction */
	}
	if (n == 0) {
		d->in_open = 0;
		s->ends.eof_at = now_ms();
		vlog("end of input after %u datagram(s), %llu bytes",
		    d->sent, (unsigned long long)d->bytes_out);
		return;
	}
	d->inoff = 0;
	d->inlen = (size_t)n;
}

/* What stdin gave, as sealed DATA datagrams in pend, as many as fit. */
static void
dg_pend_fill(struct session *s)
{
	struct dgram *d = s->dg;
	size_t n;
	struct wr w;

	d->npend = d->pendoff = 0;
	while (d->inoff < d->inlen && d->npend < DG_BATCH) {
		if ((n = d->inlen - d->inoff) > MAX_PAYLOAD)
			n = MAX_PAYLOAD;
		wr_init(&w, d->pend[d->npend], sizeof(d->pend[0]));
		wr_hdr(&w, T_DATA, s->path->id);
		wr_u32(&w, d->sent);
		wr_bytes(&w, d->in + d->inoff, n);
		d->pendlen[d->npend] = auth_seal(&s->path->auth,
		    d->pend[d->npend], w.len);
		d->npend++;
		d->inoff += n;
		d->sent++;
		d->bytes_out += n;
	}
}

/* Send what stdin gave, in batches, until the socket is full. */
static void
dg_pend_flush(struct session *s)
{
	struct dgram *d = s->dg;
	struct iovec dg[DG_BATCH];
	int i, n;

	while (dg_queued(d)) {
		if (d->pendoff == d->npend)
			dg_pend_fill(s);
		for (n = 0, i = d->pendoff; i < d->npend; i++, n++) {
			dg[n].iov_base = d->pend[i];
			dg[n].iov_len = d->pendlen[i];
		}
		d->pendoff += net_sendv(s, dg, n);
		if (d->pendoff < d->npend)
			return;		/* the socket is full: POLLOUT, later */
	}
}

static void
dg_obuf_put(struct dgram *d, const unsigned char *b, size_t n)
{
	size_t tail, k;

	if (d->out_open != 1 || n > OBUF_SIZE - d->olen)
		return;		/* stdout gone, or (never) no room */
	tail = (d->ohead + d->olen) % OBUF_SIZE;
	k = n < OBUF_SIZE - tail ? n : OBUF_SIZE - tail;
	memcpy(d->obuf + tail, b, k);
	memcpy(d->obuf, b + k, n - k);
	d->olen += n;
}

static void
dg_stdout(struct dgram *d)
{
	size_t k = d->olen < OBUF_SIZE - d->ohead ? d->olen :
	    OBUF_SIZE - d->ohead;
	ssize_t n;

	/* POLLOUT on a pipe promises PIPE_BUF: more could block the loop. */
	if (k > PIPE_BUF)
		k = PIPE_BUF;
	if ((n = write(STDOUT_FILENO, d->obuf + d->ohead, k)) == -1) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		/* The reader went away (EPIPE): discard from now on. */
		d->out_open = 0;
		d->olen = 0;
		return;
	}
	d->ohead = (d->ohead + (size_t)n) % OBUF_SIZE;
	d->olen -= (size_t)n;
}

/* No room for another datagram: leave the socket's queue unread. */
static int
dg_full(const struct dgram *d)
{
	return d->out_open == 1 && OBUF_SIZE - d->olen < MAX_DGRAM;
}

/* A message from the agreed peer: its body (after the header) in rd. */
static void
dg_input(struct session *s, int type, struct rd *rd, int64_t now)
{
	struct dgram *d = s->dg;
	uint32_t v;

	switch (type) {
	case T_DATA:
		(void)rd_u32(rd);
		if (rd->bad || rd->left > MAX_PAYLOAD)
			return;
		s->last_rx = now;
		d->rcvd++;
		d->bytes_in += rd->left;
		dg_obuf_put(d, rd->p, rd->left);
		break;
	case T_EOF:
		v = rd_u32(rd);
		if (rd->bad || rd->left != 0)
			return;
		s->last_rx = now;
		dg_send_ctl(s, T_EOFACK, 1, v);
		if (!d->peer_eof) {
			d->peer_eof = 1;
			d->peer_count = v;
			d->peer_eof_at = now;
			vlog("peer's end of input after %u datagram(s)", v);
		}
		break;
	case T_EOFACK:
		v = rd_u32(rd);
		if (rd->bad || rd->left != 0)
			return;
		s->last_rx = now;
		if (d->eof_sent && v == d->sent)
			d->eof_acked = 1;
		break;
	case T_KEEPALIVE:
		if (rd->left == 0)
			s->last_rx = now;
		break;
	}
}

/* Close stdout once the peer's direction has ended and is written. */
static void
dg_close_stdout(struct session *s, int64_t now)
{
	struct dgram *d = s->dg;

	if (!d->peer_eof || d->olen > 0 || d->out_open == -1)
		return;
	if (d->rcvd < d->peer_count && now - d->peer_eof_at < STRAGGLE_MS)
		return;
	if (d->rcvd < d->peer_count)
		warnx("%u of %u datagram(s) from the peer were lost",
		    d->peer_count - d->rcvd, d->peer_count);
	stdout_end(s);
	d->out_open = -1;	/* closed for good, not just discarding */
	/* As nc -l: the listener is done when the connector is. */
	if (s->cfg.punch.role == ROLE_LISTEN && d->in_open) {
		d->in_open = 0;
		s->ends.eof_at = now;
		vlog("peer finished; ending our direction too");
	}
}

/* Our end of input, sent until acknowledged. */
static void
dg_eof_timer(struct session *s, int64_t now)
{
	struct dgram *d = s->dg;

	if (!d->in_open && !dg_queued(d) && !d->eof_sent &&
	    (!s->cfg.nostdin || d->out_open == -1)) {
		d->eof_sent = 1;
		d->eof_next = now;
	}
	if (d->eof_sent && !d->eof_acked && now >= d->eof_next) {
		dg_send_ctl(s, T_EOF, 1, d->sent);
		d->eof_next = now + d->eof_gap;
		if (d->eof_gap < 2000)
			d->eof_gap *= 2;
	}
}

/* Timers of the datagram session: 1 when over, -1 when the peer is lost. */
static int
dg_timers(struct session *s, int64_t now)
{
	struct dgram *d = s->dg;

	dg_close_stdout(s, now);
	/* We are not reading the peer while stdout is full: not silence. */
	if (dg_full(d))
		s->last_rx = now;
	dg_eof_timer(s, now);
	if (peer_lost(s, now))
		return -1;
	keepalive(s, now);
	if (ends_due(s, now, d->bytes_out, d->bytes_in, s->path->rtt * 1000)) {
		if (d->eof_sent && !d->eof_acked)	/* one last try */
			dg_send_ctl(s, T_EOF, 1, d->sent);
		return 1;
	}
	return d->eof_acked && d->out_open == -1;
}

static int64_t
dg_next(const struct session *s, int64_t now)
{
	const struct dgram *d = s->dg;
	int64_t t = alive_next(s, now);

	if (d->eof_sent && !d->eof_acked && d->eof_next - now < t)
		t = d->eof_next - now;
	if (d->peer_eof && d->out_open != -1 && d->olen == 0)
		t = t < 20 ? t : 20;
	if (t < 0)
		t = 0;
	return ends_next(s, now, t);
}

static void
dg_start(struct session *s)
{
	struct dgram *d = s->dg;

	d->in_open = !s->cfg.nostdin;
	d->out_open = 1;
	d->eof_gap = s->path->rtt * 2 > 30 ? s->path->rtt * 2 : 30;
	s->linger = 3 * d->eof_gap;
	vlog("session open with %s%s", s->cfg.punch.label,
	    s->path->auth.on ? ", authenticated" : "");
}

static int
dg_pollfds(struct session *s, struct pollfd *pfd)
{
	struct dgram *d = s->dg;

	/* Back-pressure: no room for a datagram, leave it queued. */
	pfd[SL_NET].events = dg_full(d) ? 0 : POLLIN;
	if (dg_queued(d))
		pfd[SL_NET].events |= POLLOUT;
	else if (d->in_open)
		pfd[SL_IN].fd = STDIN_FILENO;
	if (d->olen && d->out_open == 1)
		pfd[SL_OUT].fd = STDOUT_FILENO;
	return SL_PUNCH;
}

static void
dg_events(struct session *s, const struct pollfd *pfd)
{
	if (pfd[SL_OUT].revents & (POLLOUT | POLLERR | POLLHUP))
		dg_stdout(s->dg);
	if (pfd[SL_NET].revents & POLLOUT)
		dg_pend_flush(s);
	if (pfd[SL_IN].revents & (POLLIN | POLLHUP | POLLERR)) {
		dg_stdin(s);
		dg_pend_flush(s);
	}
}

/* ---- the -R transport (rel.c), its glue: rs_* ---- */

static int
rs_timers(struct session *s, int64_t now)
{
	struct rel *R = s->rel;
	uint64_t out, in;
	int64_t srtt;

	rel_tick(R, now_us());
	outbox_flush(s, rel_outbox(R));
	keepalive(s, now);
	rel_counts(R, &out, &in, &srtt);
	if (ends_due(s, now, out, in, srtt))
		return 1;
	if (rel_done(R)) {
		/* Linger: our last ack may be lost; answer resends. */
		if (s->linger == 0)
			s->linger = rel_linger(R);
		if (now - s->quiet_since >= s->linger)
			return 1;
	}
	return peer_lost(s, now) ? -1 : 0;
}

static int64_t
rs_timeout(const struct session *s, int64_t now)
{
	int64_t t = rel_next(s->rel, now_us()), a = alive_next(s, now);

	t = ends_next(s, now, t < 0 || a < t ? a : t);

	if (rel_done(s->rel) && s->linger - (now - s->quiet_since) < t)
		t = s->linger - (now - s->quiet_since);
	return t;
}

/* -R's FIN reached stdout: close it, unless -k keeps it for the next. */
static void
rs_fin(struct session *s)
{
	if (!s->rel_out_closed && rel_out_ended(s->rel)) {
		stdout_end(s);
		s->rel_out_closed = 1;
	}
}

static int
rs_pollfds(struct session *s, struct pollfd *pfd)
{
	struct iovec iov[4];

	pfd[SL_NET].events = POLLIN;
	if (rel_wants_input(s->rel, now_us()))
		pfd[SL_IN].fd = STDIN_FILENO;
	if (rel_output(s->rel, iov, 4, PIPE_BUF) > 0)
		pfd[SL_OUT].fd = STDOUT_FILENO;
	return SL_PUNCH;
}

/* stdin -> the -R sender, as much as its window and pacing take now. */
static void
rs_stdin(struct session *s)
{
	static unsigned char buf[REL_CHUNK];
	int64_t t = now_us();
	size_t room = rel_room(s->rel, t);
	ssize_t n;

	if (room == 0)
		return;		/* the window or the pacing: later */
	if (room > sizeof(buf))
		room = sizeof(buf);
	n = read(STDIN_FILENO, buf, room);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0)
		s->ends.eof_at = now_ms();
	rel_write(s->rel, buf, n > 0 ? (size_t)n : 0, t);
	outbox_flush(s, rel_outbox(s->rel));
}

/*
 * How much one write to stdout takes without blocking the loop: what
 * POLLOUT promises (PIPE_BUF), or, on a pipe, what it has free (Linux:
 * its size less what it holds, less two pages for a partly read one and
 * a partly written one), up to OUT_MAX.
 */
static size_t
stdout_room(void)
{
	int cap, used;
	size_t room;

	if ((cap = fcntl(STDOUT_FILENO, F_GETPIPE_SZ)) == -1 ||
	    ioctl(STDOUT_FILENO, FIONREAD, &used) == -1 || used < 0 ||
	    cap - used < 2 * 4096 + PIPE_BUF)
		return PIPE_BUF;
	room = (size_t)(cap - used - 2 * 4096);
	return room < OUT_MAX ? room : OUT_MAX;
}

/* In-order bytes -> stdout, as much as it takes without blocking. */
static void
rs_stdout(struct session *s)
{
	struct iovec iov[OUT_IOV];
	ssize_t n;
	int k;

	if ((k = rel_output(s->rel, iov, OUT_IOV, stdout_room())) == 0)
		return;
	if ((n = writev(STDOUT_FILENO, iov, k)) == -1) {
		if (errno != EAGAIN && errno != EINTR)
			rel_out_gone(s->rel);	/* reader gone: discard */
		return;
	}
	rel_written(s->rel, (size_t)n);
	rs_fin(s);
}

static void
rs_events(struct session *s, const struct pollfd *pfd)
{
	if (pfd[SL_OUT].revents)
		rs_stdout(s);
	if (pfd[SL_IN].revents & (POLLIN | POLLHUP | POLLERR))
		rs_stdin(s);
}

/* ---- the TCP transport, a byte stream: ts_* ---- */

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

static void
ts_start(struct session *s)
{
	struct tstream *t = s->st;

	t->in_open = !s->cfg.nostdin;
	t->net_open = t->out_open = 1;
	tcp_keepalive(s->path->fd, s->cfg.keepalive);
}

/*
 * Both directions have ended? Unlike the datagram transport, a listener
 * does not stop at the connector's EOF: a TCP half-close is a request's
 * end, as HTTP's. stdin EOF half-closes (shutdown SHUT_WR) as nc -N;
 * the peer's EOF closes stdout. Returns 1 when the session is over.
 */
static int
ts_timers(struct session *s, int64_t now)
{
	struct tstream *t = s->st;

	if (ends_due(s, now, t->nout, t->nin, 0))
		return 1;
	if (!t->in_open && t->in.off == t->in.len && !t->shut &&
	    (!s->cfg.nostdin || !t->net_open)) {
		(void)shutdown(s->path->fd, SHUT_WR);
		t->shut = 1;
	}
	if (!t->net_open && (t->out.off == t->out.len || !t->out_open) &&
	    t->out_open != -1) {
		stdout_end(s);
		t->out_open = -1;
	}
	return t->shut && t->out_open == -1;
}

static int
ts_pollfds(struct session *s, struct pollfd *pfd)
{
	struct tstream *t = s->st;

	if (t->in_open && t->in.len - t->in.off < TBUF)
		pfd[SL_IN].fd = STDIN_FILENO;
	pfd[SL_NET].events = (t->net_open && t->out.len - t->out.off < TBUF ?
	    POLLIN : 0) | (t->in.off < t->in.len ? POLLOUT : 0);
	if (t->out_open == 1 && t->out.off < t->out.len)
		pfd[SL_OUT].fd = STDOUT_FILENO;
	return SL_PUNCH;
}

/* A reset or error on the connection: the session fails. */
static int
ts_broken(struct session *s)
{
	snprintf(s->why, sizeof(s->why), "connection to the peer: %s",
	    strerror(errno));
	return -1;
}

static int
ts_events(struct session *s, const struct pollfd *pfd)
{
	struct tstream *t = s->st;
	int fd = s->path->fd, ev = pfd[SL_NET].revents;
	ssize_t n;

	if (pfd[SL_IN].revents & (POLLIN | POLLHUP | POLLERR)) {
		if ((n = tbuf_fill(&t->in, STDIN_FILENO, 0)) > 0)
			t->nout += (uint64_t)n;
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
			t->in_open = 0;
			s->ends.eof_at = now_ms();
		}
	}
	if (ev & POLLERR) {
		/* A reset or timeout, even after the peer's EOF. */
		int e = 0;
		socklen_t elen = sizeof(e);

		(void)getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen);
		errno = e ? e : ECONNRESET;
		return ts_broken(s);
	}
	if (ev & POLLOUT && tbuf_drain(&t->in, fd, 1) == -1)
		return ts_broken(s);
	if (ev & (POLLIN | POLLHUP | POLLERR) && t->net_open) {
		if ((n = tbuf_fill(&t->out, fd, 1)) > 0)
			t->nin += (uint64_t)n;
		if (n == 0)
			t->net_open = 0;
		else if (n == -1 && errno != EAGAIN && errno != EINTR)
			return ts_broken(s);
	}
	if (pfd[SL_OUT].revents && tbuf_drain(&t->out, STDOUT_FILENO, 0) ==
	    -1) {
		t->out_open = 0;	/* reader gone: discard */
		t->out.off = t->out.len = 0;
	}
	return 0;
}

/* ---- datagrams from the network ---- */

/* Is this from the agreed peer, on the agreed path? */
static int
from_peer(const struct session *s, const struct ep *from, uint64_t id)
{
	return punch_state(s->p) == P_DONE && ep_equal(from, &s->path->peer) &&
	    id == s->path->peer_id;
}

static void	punched(struct session *, int64_t);

/* Session data for the transport: its body, opened with -K. */
static void
transport_input(struct session *s, int type, const unsigned char *in,
    size_t inlen, int64_t now)
{
	struct rd rd;

	rd_init(&rd, in + HDR_LEN, inlen - HDR_LEN);
	if (s->phase == PH_DGRAM || (s->phase == PH_LINGER && s->dg))
		dg_input(s, type, &rd, now);
	else if (s->rel != NULL && s->phase == PH_REL) {
		if (rel_input(s->rel, type, &rd, now_us()))
			s->last_rx = now;
		outbox_flush(s, rel_outbox(s->rel));
		rs_fin(s);
	}
}

/* One datagram from the network, of whatever kind. */
static void
net_datagram(struct session *s, const unsigned char *buf, size_t len,
    const struct ep *from, int sock, int64_t now)
{
	const unsigned char *in = buf;
	size_t inlen = len;
	struct rd rd;
	int version, type;
	uint64_t id;
	long n;

	/* Relayed: the peer's datagram is inside (punch_input unwraps too). */
	(void)punch_unwrap(s->p, &in, &inlen, from);
	rd_init(&rd, in, inlen);
	if (rd_hdr(&rd, &version, &type, &id) == -1 ||
	    version != PROTO_VERSION)
		return;		/* not for us: ignored, like any stranger */
	if (type >= T_DATA && type <= T_RACK && s->path->auth.on) {
		if (id != s->path->peer_id ||
		    (n = auth_open(&s->path->auth, in, inlen)) < 0)
			return;		/* forged or replayed: counted */
		inlen = (size_t)n;
	}
	if (from_peer(s, from, id))
		s->quiet_since = now;
	if (punch_state(s->p) != P_DONE || type < T_DATA) {
		if (punch_input(s->p, buf, len, from, sock, now) == -1)
			return;
		if (punch_state(s->p) != P_DONE || type < T_DATA)
			return;
	}
	if (s->phase == PH_PUNCH)
		punched(s, now);	/* data that completed the punch */
	if (from_peer(s, from, id))
		transport_input(s, type, in, inlen, now);
}

/*
 * Read what a birthday socket (sock, fd) has, one datagram at a time:
 * one may end the punch, and close fd.
 */
static void
net_read_one(struct session *s, int fd, int sock, int64_t now)
{
	unsigned char buf[MAX_DGRAM + 1];
	struct ep from;
	ssize_t n;
	int i;

	for (i = 0; i < BATCH; i++) {
		from.len = sizeof(from.u);
		n = recvfrom(fd, buf, sizeof(buf), 0, &from.u.sa, &from.len);
		if (n == -1) {
			if (errno == ECONNREFUSED || errno == EHOSTUNREACH ||
			    errno == ENETUNREACH)
				continue;	/* ICMP while punching: not yet */
			break;
		}
		if (n > MAX_DGRAM)
			continue;	/* oversized: not ours */
		net_datagram(s, buf, (size_t)n, &from, sock, now);
		if (punch_state(s->p) != P_PROBE)
			break;		/* the punch is over: fd is closed */
	}
}

/*
 * Read what socket fd has (the path's, sock -1, or birthday socket
 * sock), within the room stdout has: the path's in batches of RBATCH
 * (recvmmsg), BATCH at most per wakeup.
 */
static void
net_read(struct session *s, int fd, int sock, int64_t now)
{
	static unsigned char buf[RBATCH][MAX_DGRAM + 1];
	struct mmsghdr mm[RBATCH];
	struct iovec iov[RBATCH];
	struct ep from[RBATCH];
	int i, k, n, got = 0;

	if (sock >= 0) {
		net_read_one(s, fd, sock, now);
		return;
	}
	while (got < BATCH) {
		/* datagrams: as many as stdout's buffer has room for */
		for (k = 0; k < RBATCH; k++)
			if (s->phase == PH_DGRAM && OBUF_SIZE - s->dg->olen <
			    (size_t)(k + 1) * MAX_DGRAM)
				break;
		if (k == 0)
			break;
		memset(mm, 0, sizeof(mm));
		for (i = 0; i < k; i++) {
			iov[i].iov_base = buf[i];
			iov[i].iov_len = sizeof(buf[i]);
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
			mm[i].msg_hdr.msg_name = &from[i].u;
			mm[i].msg_hdr.msg_namelen = sizeof(from[i].u);
		}
		if ((n = recvmmsg(fd, mm, (unsigned)k, MSG_DONTWAIT, NULL)) ==
		    -1) {
			if (errno == ECONNREFUSED || errno == EHOSTUNREACH ||
			    errno == ENETUNREACH) {
				got++;		/* ICMP while punching: not yet */
				continue;
			}
			break;
		}
		for (i = 0; i < n; i++) {
			from[i].len = mm[i].msg_hdr.msg_namelen;
			if (mm[i].msg_len <= MAX_DGRAM)	/* else not ours */
				net_datagram(s, buf[i], mm[i].msg_len,
				    &from[i], sock, now);
		}
		got += n;
		if (n < k)
			break;		/* the socket is empty */
	}
}

/* ---- the phases ---- */

/* The punch got through: on to the transport, or tell the caller. */
static void
punched(struct session *s, int64_t now)
{
	s->quiet_since = s->last_rx = s->last_tx = now;
	if (s->path->relayed)		/* said even without -v */
		warnx("no direct path to the peer: the session is relayed by "
		    "the mediator");
	ends_start(&s->ends, now);
	s->punched = 1;			/* the caller hears of it */
	if (s->cfg.what == SESS_PUNCH) {
		/* The controlled side's ACK may be lost: linger. */
		s->phase = s->cfg.punch.tcp || s->path->controlling ? PH_END :
		    PH_LINGER;
		s->linger = PUNCH_LINGER;
	} else if (s->cfg.punch.tcp) {
		s->phase = PH_STREAM;
		ts_start(s);
	} else if (s->cfg.punch.reliable) {
		s->phase = PH_REL;
		s->rel = rel_new(s->path->id, s->cfg.nostdin, s->cfg.rel_budget,
		    now_us());
		if (s->rel == NULL) {
			snprintf(s->why, sizeof(s->why), "out of memory");
			s->phase = PH_END;	/* advance() fails it */
		}
	} else {
		s->phase = PH_DGRAM;
		dg_start(s);
	}
}

/* The punch's timers; -1 when it failed. */
static int
punch_timers(struct session *s, int64_t now)
{
	if (punch_tick(s->p, now) == -1) {
		snprintf(s->why, sizeof(s->why), "%s", punch_why(s->p));
		return -1;
	}
	if (punch_stalled(s->p))
		warnx("no answer from the mediator yet; still trying");
	if (s->phase == PH_PUNCH && punch_state(s->p) == P_DONE)
		punched(s, now);
	return 0;
}

/* Run the timers of the phase, and move on. Returns -1 on failure. */
static int
advance(struct session *s, int64_t now)
{
	int rc = 0;

	if (s->phase == PH_NATCHECK) {
		if (natcheck_tick(s->p, &s->chk, now) == 0)
			return 0;
		s->phase = PH_END;
		if (natcheck_finish(s->p, &s->chk, now) == -1) {
			snprintf(s->why, sizeof(s->why), "%s",
			    punch_why(s->p));
			return -1;
		}
		return 0;
	}
	if (s->phase != PH_END && punch_timers(s, now) == -1)
		return -1;
	if (s->phase == PH_END && s->why[0] != '\0')
		return -1;
	if (s->phase == PH_DGRAM)
		rc = dg_timers(s, now);
	else if (s->phase == PH_REL)
		rc = rs_timers(s, now);
	else if (s->phase == PH_STREAM)
		rc = ts_timers(s, now);
	if (rc != 0 && s->phase == PH_REL)
		rel_report(s->rel);
	if (rc == -1)
		return -1;
	if (rc == 1 && s->phase == PH_DGRAM) {
		s->phase = PH_LINGER;
		vlog("session done: sent %u datagram(s) %llu bytes, received "
		    "%u %llu bytes", s->dg->sent,
		    (unsigned long long)s->dg->bytes_out, s->dg->rcvd,
		    (unsigned long long)s->dg->bytes_in);
	} else if (rc == 1)
		s->phase = PH_END;
	/* Answer retransmissions until the peer has been quiet a while. */
	if (s->phase == PH_LINGER && now - s->quiet_since >= s->linger)
		s->phase = PH_END;
	return 0;
}

/* Milliseconds poll() may wait, from every timer of the phase. */
static int
timeout(struct session *s, int64_t now)
{
	int64_t t = -1;
	int pt;

	if (s->phase == PH_NATCHECK)
		return natcheck_next(&s->chk, now);
	pt = punch_next(s->p, now);
	if (s->phase == PH_PUNCH)
		return pt;
	if (s->phase == PH_LINGER)
		t = s->linger - (now - s->quiet_since);
	else if (s->phase == PH_DGRAM)
		t = dg_next(s, now);
	else if (s->phase == PH_REL)
		t = rs_timeout(s, now);
	else if (s->phase == PH_STREAM)
		t = ends_next(s, now, -1);
	if (pt >= 0 && (t < 0 || pt < t))
		t = pt;
	if (t < 0)
		return s->phase == PH_STREAM ? -1 : 0;
	return (int)(t > 60000 ? 60000 : t);
}

/* The descriptors of the phase; returns how many slots are in use. */
static int
pollfds(struct session *s, struct pollfd *pfd)
{
	int i, n = SL_PUNCH;

	for (i = 0; i < SL_PUNCH; i++) {
		pfd[i].fd = -1;
		pfd[i].events = i == SL_OUT ? POLLOUT : POLLIN;
		pfd[i].revents = 0;
	}
	if (s->phase == PH_NATCHECK)
		return SL_PUNCH + natcheck_pollfds(s->p, &s->chk,
		    pfd + SL_PUNCH);
	if (s->phase != PH_PUNCH || !s->cfg.punch.tcp)
		pfd[SL_NET].fd = s->path->fd;
	if (s->phase == PH_DGRAM)
		n = dg_pollfds(s, pfd);
	else if (s->phase == PH_REL)
		n = rs_pollfds(s, pfd);
	else if (s->phase == PH_STREAM)
		n = ts_pollfds(s, pfd);
	if (s->phase == PH_PUNCH)
		n = SL_PUNCH + punch_pollfds(s->p, pfd + SL_PUNCH);
	return n;
}

/* The NAT check's answers, from its two sockets. */
static void
natcheck_read(struct session *s, const struct pollfd *pfd)
{
	unsigned char buf[MAX_DGRAM + 1];
	struct ep from;
	ssize_t n;
	int i;

	for (i = 0; i < 2; i++) {
		if ((pfd[SL_PUNCH + i].revents & POLLIN) == 0)
			continue;
		from.len = sizeof(from.u);
		n = recvfrom(pfd[SL_PUNCH + i].fd, buf, sizeof(buf), 0,
		    &from.u.sa, &from.len);
		if (n > 0 && n <= MAX_DGRAM)
			natcheck_input(s->p, &s->chk, buf, (size_t)n, i, &from);
	}
}

/* What poll() found, to whom it concerns. Returns -1 on failure. */
static int
events(struct session *s, struct pollfd *pfd, int n, int64_t now)
{
	int i;

	if (s->phase == PH_NATCHECK) {
		natcheck_read(s, pfd);
		return 0;
	}
	if (s->phase == PH_PUNCH && s->cfg.punch.tcp) {
		if (punch_events(s->p, pfd + SL_PUNCH, n - SL_PUNCH, now) ==
		    -1) {
			snprintf(s->why, sizeof(s->why), "%s",
			    punch_why(s->p));
			return -1;
		}
		return 0;
	}
	for (i = SL_PUNCH; i < n && punch_state(s->p) == P_PROBE; i++)
		if (pfd[i].revents & (POLLIN | POLLERR))
			net_read(s, pfd[i].fd, i - SL_PUNCH, now);
	/* The path's socket: a birthday socket's, if the punch just chose it. */
	if (s->phase != PH_STREAM && pfd[SL_NET].revents & (POLLIN | POLLERR))
		net_read(s, s->path->fd, -1, now);
	if (s->phase == PH_DGRAM)
		dg_events(s, pfd);
	else if (s->phase == PH_REL)
		rs_events(s, pfd);
	else if (s->phase == PH_STREAM)
		return ts_events(s, pfd);
	return 0;
}

/* ---- the session ---- */

/* A session as cfg asks, no socket yet. NULL when out of memory. */
struct session *
session_new(const struct sess_cfg *cfg)
{
	struct session *s;
	int data = cfg->what == SESS_DATA;

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->p = punch_new(&cfg->punch, now_ms())) == NULL)
		goto nomem;
	s->cfg = *cfg;
	s->path = punch_path(s->p);	/* its fd: the punch's until done */
	s->phase = cfg->what == SESS_NATCHECK ? PH_NATCHECK : PH_PUNCH;
	if (data && !cfg->punch.tcp && !cfg->punch.reliable &&
	    (s->dg = calloc(1, sizeof(*s->dg))) == NULL)
		goto nomem;
	if (data && cfg->punch.tcp &&
	    (s->st = calloc(1, sizeof(*s->st))) == NULL)
		goto nomem;
	return s;
nomem:
	session_free(s, 0);
	return NULL;
}

/*
 * Open the sockets (the punch's; the NAT check's). Returns 0, or -1
 * with the reason in session_why().
 */
int
session_open(struct session *s)
{
	if (punch_open(s->p) == -1 || (s->phase == PH_NATCHECK &&
	    natcheck_start(s->p, &s->chk, now_ms()) == -1)) {
		snprintf(s->why, sizeof(s->why), "%s", punch_why(s->p));
		return -1;
	}
	return 0;
}

/*
 * What the loop does with a datagram from the path's socket (sock -1)
 * or birthday socket sock, for a caller without sockets (the fuzzer).
 */
void
session_input(struct session *s, const unsigned char *buf, size_t len,
    const struct ep *from, int sock, int64_t now)
{
	net_datagram(s, buf, len, from, sock, now);
}

/* ... and with the clock: the timers. -1 when the session failed. */
int
session_tick(struct session *s, int64_t now)
{
	return advance(s, now);
}

/*
 * The one poll() loop. Returns SR_PUNCHED once the punch is through
 * (call again to go on: pnc punch prints the path first), SR_DONE at
 * the end, SR_FAILED with the reason in session_why().
 */
int
session_run(struct session *s)
{
	struct pollfd pfd[NSLOTS];
	int64_t now;
	int n;

	for (;;) {
		now = now_ms();
		if (advance(s, now) == -1)
			return SR_FAILED;
		if (s->punched) {
			s->punched = 0;
			return SR_PUNCHED;
		}
		if (s->phase == PH_END)
			return SR_DONE;
		n = pollfds(s, pfd);
		if (poll(pfd, (nfds_t)n, timeout(s, now)) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(s->why, sizeof(s->why), "poll: %s",
			    strerror(errno));
			return SR_FAILED;
		}
		if (events(s, pfd, n, now_ms()) == -1)
			return SR_FAILED;
	}
}

const char *
session_why(const struct session *s)
{
	return s->why;
}

/* Did the punch get through (a later failure is the session's)? */
int
session_punched(const struct session *s)
{
	return punch_state(s->p) == P_DONE;
}

/* The path: agreed once punched, and its -K counters in any case. */
const struct path *
session_path(const struct session *s)
{
	return punch_path(s->p);
}

const struct natcheck *
session_natcheck(const struct session *s)
{
	return &s->chk;
}

/*
 * Close everything. abort: a TCP path goes with RST (pnc punch -t: no
 * TIME_WAIT, so that nc may bind the port).
 */
void
session_free(struct session *s, int abort)
{
	struct path *path;

	if (s == NULL)
		return;
	if (s->p == NULL) {
		free(s);
		return;
	}
	path = punch_path(s->p);
	if (path->fd != -1) {
		if (abort)
			tcp_abort(path->fd);
		else
			close(path->fd);
		path->fd = -1;
	}
	if (s->rel != NULL)
		rel_free(s->rel);
	free(s->dg);
	free(s->st);
	punch_free(s->p);
	free(s);
}
