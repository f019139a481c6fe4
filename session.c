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
#include <sys/stat.h>
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
#define LISTEN_GRACE	1000	/* ms: listen's empty stdin pipe, at the
				   peer's end, may still bring its reply */
#define TBUF		(64 * 1024)	/* TCP: each direction's buffer */
#define TREC		(MAX_DGRAM - HDR_LEN - SEC_OVERHEAD)	/* TCP: bytes a
						   record, at most (a frame's) */
#define TFRAME		(2 + MAX_DGRAM)	/* ... and framed */
#define TREAD		16		/* TCP: records one stdin read makes */
#define HS_GAP0		100	/* ms: the initiator's first re-send ... */
#define HS_GAP_RTT	20	/* ... or this over twice the punch's round
				   trip, if less: at 10% loss a lost HELLO
				   cost 100 ms on a 1 ms path (make bench's
				   p95 of the punch 115-210 ms in 6 runs;
				   26 ms before protocol 3) */
#define HS_GAPMAX	1000	/* ... doubling up to this */
#define HS_LIMIT	10000	/* ms the handshake may take without -w */
#define HS_MIN		2000	/* ... at least, whatever -w left of it */
#define HS_ABORTS	3	/* copies of the initiator's abort FINISH */
#define HS_PUNCH_WAIT	3000	/* ms punch's initiator re-sends FINISH,
				   after printing, until the ACK ... */
#define HS_PUNCH_GAP	40	/* ... every this: within PUNCH_LINGER */
#define OUT_MAX		(64 * 1024)	/* -R: bytes per write to stdout */
#define OUT_IOV		(OUT_MAX / MAX_PAYLOAD + 2)

/*
 * The poll() slots: the network (the path's socket), stdin, stdout,
 * then the punch's own (birthday sockets, -t's connections, the NAT
 * check's). A slot not wanted this time has fd -1.
 */
enum { SL_NET, SL_IN, SL_OUT, SL_PUNCH, NSLOTS = SL_PUNCH + NSPRAY };
_Static_assert(NSPRAY >= 2 + MAX_TCONNS, "-t's descriptors fit the slots");

enum phase { PH_PUNCH, PH_NATCHECK, PH_HS, PH_DGRAM, PH_REL, PH_STREAM,
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
	int		 draining;	/* listen: the peer ended; stdin's */
	size_t		 drain_left;	/* ... bytes ready then still go */
	int64_t		 drain_until;	/* ... an empty pipe's grace */
	int		 eof_sent, eof_acked;
	int64_t		 eof_next, eof_gap;
	uint32_t	 sent;
	uint64_t	 bytes_out;
	unsigned char	 in[IN_CHUNK];	/* one read of stdin ... */
	size_t		 inoff, inlen;	/* ... in[inoff..inlen) not yet sent */
	/* sealed datagrams from in[], pend[pendoff..npend) not yet sent */
	unsigned char	 pend[DG_BATCH][HDR_LEN + 4 + MAX_PAYLOAD +
			    SEC_OVERHEAD];
	size_t		 pendlen[DG_BATCH];
	int		 npend, pendoff;
	/* peer -> stdout */
	int		 out_open;	/* 1 open, 0 discarding, -1 closed */
	int		 peer_eof;
	uint32_t	 peer_count, rcvd;
	uint32_t	 next_seq;	/* -v: the DATA number expected next */
	uint32_t	 reordered;	/* ... and those that came late */
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
	struct tbuf	 in, out;	/* framed records -> net, -> stdout */
	struct tbuf	 raw;		/* net -> frames, not yet opened */
	int		 in_open, net_open, out_open, shut;
	int		 eof_queued;	/* our EOF record is in in */
	int		 peer_eof;	/* the peer's EOF record came */
	uint64_t	 nin, nout;
	uint32_t	 recs;		/* DATA records sent */
};

struct session {
	struct sess_cfg	 cfg;
	/* outbox datagrams as records, a sendmmsg() batch at a time */
	unsigned char	 sealed[SBATCH][MAX_DGRAM + SEC_OVERHEAD];
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
	uint64_t	 tx_relay, tx_direct;	/* -v: bytes sent each way */
	uint64_t	 stray;		/* -v: the peer's id, not from its path */
	struct ends	 ends;		/* -q, -w, -v */
	int64_t		 last_rx, last_tx;	/* the peer's, ours: ms */
	int64_t		 linger;	/* answer resends this long at the end */
	int64_t		 quiet_since;	/* ... since the peer's last datagram */
	/* the secure channel (crypto.c): handshake, then every record */
	struct sec	 sec;
	int		 authfailed;	/* the handshake failed: sec_error */
	int64_t		 hs_next, hs_gap, hs_deadline;
	unsigned char	 hs_abort[SEC_HS_MAX];	/* the initiator's last word */
	size_t		 hs_abortlen;
	int		 hs_aborts;	/* copies of it still to send */
	int		 io_failed;	/* stdin or stdout failed: why says */
	int		 out_failed;	/* ... stdout: nothing more to it */
	char		 why[256];	/* SR_FAILED's reason */
};

static void	hs_input(struct session *, const unsigned char *, size_t,
		    int64_t);
static void	hs_done(struct session *, int64_t);

/*
 * Bytes for people: "512 B", "12.3 kB", "4.1 MB". In integers, rounded to
 * the nearest tenth: no double on the data path, and exact figures.
 */
static const char *
human(uint64_t v, char *buf, size_t len)
{
	static const char *unit[] = { "B", "kB", "MB", "GB", "TB" };
	uint64_t div = 1, t;
	int i = 0;

	while (v / div >= 1000 && i < 4) {
		div *= 1000;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)v);
	else {
		t = v / div * 10 + (v % div * 10 + div / 2) / div;
		snprintf(buf, len, "%llu.%llu %s", (unsigned long long)t / 10,
		    (unsigned long long)t % 10, unit[i]);
	}
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
	uint64_t dt = (uint64_t)(now - g->line_at);	/* ms, at least 1000 */

	if (!verbose || now - g->line_at < 1000)
		return;
	if (out != g->out || in != g->in) {
		if (rtt_us > 0)	/* in tenths of a ms, rounded */
			snprintf(r, sizeof(r), ", rtt %lld.%lld ms",
			    (long long)(rtt_us + 50) / 1000,
			    (long long)(rtt_us + 50) / 100 % 10);
		vlog("%s out (%s/s), %s in (%s/s)%s",
		    human(out, a, sizeof(a)),
		    human((out - g->out) * 1000 / dt, b, sizeof(b)),
		    human(in, c, sizeof(c)),
		    human((in - g->in) * 1000 / dt, d, sizeof(d)), r);
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
 * Seal one plain session message (header, then its body: what a v2
 * datagram was) as a record into out: a T_REC header, the counter, the
 * message's type and body encrypted. The one sealing function: every
 * session datagram passes it just before it is sent. Returns the
 * record's length, or 0 (the channel is not open, or is over).
 */
static size_t
rec_seal(struct session *s, const unsigned char *plain, size_t len,
    unsigned char *out, size_t cap)
{
	struct wr w;

	if (len < HDR_LEN)
		return 0;
	wr_init(&w, out, cap);
	wr_hdr(&w, T_REC, s->path->id);
	if (w.bad)
		return 0;
	return sec_seal(&s->sec, out, HDR_LEN, plain[3], plain + HDR_LEN,
	    len - HDR_LEN, out, cap);
}

/*
 * Open one record (buf, len: header included) in place. The one
 * opening function: every record from the peer passes it before
 * anything reads it. Returns 0 with the inner type and body, or -1:
 * dropped, and counted by the channel (forged, replayed, too old,
 * early).
 */
static int
rec_open(struct session *s, unsigned char *buf, size_t len, int *type,
    const unsigned char **body, size_t *n)
{
	return sec_open(&s->sec, buf, len, HDR_LEN, type, body, n);
}

/*
 * A session message built in buf: sealed, sent direct or through the
 * mediator's relay. What sendto() did.
 */
static ssize_t
path_send(struct session *s, const unsigned char *buf, size_t len)
{
	unsigned char rec[MAX_DGRAM + SEC_OVERHEAD];

	if ((len = rec_seal(s, buf, len, rec, sizeof(rec))) == 0) {
		errno = EINVAL;
		return -1;
	}
	return punch_send(s->p, rec, len);
}

/*
 * How many of dg[i..n) go in one UDP GSO message: the same length, the
 * last one maybe shorter, GSO_MAX and GSO_BYTES at most. 1 without GSO,
 * and for plain datagrams: nothing slows their sender to the receiver's
 * pace but its own cost per datagram, and with GSO it outran a receiver
 * as fast as itself (make bench, 50 MB in the lab: 22-35% lost at 190
 * MB/s; without, 0 lost at 87 MB/s). -R has flow control: GSO there.
 */
static int
gso_run(const struct session *s, const struct iovec *dg, int i, int n)
{
	size_t len = dg[i].iov_len, sum = 0;
	int k;

	if (s->no_gso || s->cfg.no_gso || s->rel == NULL)
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
	for (j = 0; j < i; j++)		/* -v: what went which way */
		*(s->path->relayed ? &s->tx_relay : &s->tx_direct) +=
		    dg[j].iov_len;
	return i;
}

/* What a transport queued: a lost send is a lost datagram; timers retry. */
static void
outbox_flush(struct session *s, struct outbox *o)
{
	struct iovec dg[SBATCH];
	size_t len;
	int i, k, n;

	/* Sealed SBATCH at a time: a record takes SEC_OVERHEAD more room. */
	for (i = 0; i < o->n; i += SBATCH) {
		for (k = n = 0; k < SBATCH && i + k < o->n; k++) {
			len = rec_seal(s, o->buf[i + k], o->len[i + k],
			    s->sealed[n], sizeof(s->sealed[n]));
			if (len == 0)
				continue;	/* the channel is over */
			dg[n].iov_base = s->sealed[n];
			dg[n++].iov_len = len;
		}
		(void)net_sendv(s, dg, n);
	}
	o->n = 0;
}

/* ---- keepalive and a lost peer, the same for datagrams and -R ---- */

/* Has the peer's authenticated end of input come (and, -R, reached us)? */
static int
peer_ended(const struct session *s)
{
	if (s->dg != NULL)
		return s->dg->peer_eof;
	if (s->rel != NULL)
		return rel_out_ended(s->rel);
	if (s->st != NULL)
		return s->st->peer_eof;
	return 0;
}

/*
 * -q or -w ends a session before the peer's authenticated end of
 * input: what arrived may be incomplete, so it is a failure. -1.
 */
static const char *
ender(const struct session *s)
{
	return s->ends.eof_at != 0 && s->cfg.quit >= 0 &&
	    now_ms() - s->ends.eof_at >= s->cfg.quit ? "-q" : "-w";
}

static int
early_end(struct session *s)
{
	snprintf(s->why, sizeof(s->why), "%s ended the session before the "
	    "peer's end of input: what arrived may be incomplete", ender(s));
	return -1;
}

/*
 * -R: the peer's end came, but not its ack of all we sent (and of our
 * end): what it got may be incomplete, so this is a failure too. -1.
 */
static int
unacked_end(struct session *s)
{
	snprintf(s->why, sizeof(s->why), "%s ended the session before the "
	    "peer acknowledged all we sent: not all data was acknowledged "
	    "(%llu byte(s) unconfirmed)", ender(s),
	    (unsigned long long)rel_unconfirmed(s->rel));
	return -1;
}

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
	snprintf(s->why, sizeof(s->why), "peer silent for %lld s; %s%s",
	    (long long)(now - s->last_rx) / 1000, what, peer_ended(s) ? "" :
	    "; the session ended before the peer's end of input");
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

/*
 * Reading stdin or writing stdout failed (not EAGAIN, EINTR): the
 * session fails, exit 1, with why. A broken stdin is no end of input,
 * so no end goes to the peer; a stdout that takes no more (ENOSPC, EIO,
 * EPIPE: its reader gone) is data the peer sent and we did not deliver.
 */
static void
local_error(struct session *s, int fd)
{
	if (s->io_failed)
		return;
	s->io_failed = 1;
	s->out_failed = fd == STDOUT_FILENO;
	snprintf(s->why, sizeof(s->why), "%s: %s", s->out_failed ? "stdout" :
	    "stdin", strerror(errno));
}

/*
 * The session is over: what came for stdout goes there first, blocking
 * now (stdout is a blocking descriptor: pnc never sets O_NONBLOCK on
 * it). 0, or -1 when stdout failed (why set).
 */
static int
write_all(struct session *s, const unsigned char *b, size_t n)
{
	ssize_t k;

	while (n > 0) {
		if ((k = write(STDOUT_FILENO, b, n)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			local_error(s, STDOUT_FILENO);
			return -1;
		}
		b += k;
		n -= (size_t)k;
	}
	return 0;
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
	unsigned char buf[HDR_LEN + 4];
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
		if (errno != EINTR && errno != EAGAIN)
			local_error(s, STDIN_FILENO);
		return;
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
	if (d->draining)
		d->drain_left -= (size_t)n < d->drain_left ? (size_t)n :
		    d->drain_left;
}

/* What stdin gave, as sealed DATA datagrams in pend, as many as fit. */
static void
dg_pend_fill(struct session *s)
{
	struct dgram *d = s->dg;
	unsigned char plain[HDR_LEN + 4 + MAX_PAYLOAD];
	size_t n;
	struct wr w;

	d->npend = d->pendoff = 0;
	while (d->inoff < d->inlen && d->npend < DG_BATCH) {
		if ((n = d->inlen - d->inoff) > MAX_PAYLOAD)
			n = MAX_PAYLOAD;
		wr_init(&w, plain, sizeof(plain));
		wr_hdr(&w, T_DATA, s->path->id);
		wr_u32(&w, d->sent);
		wr_bytes(&w, d->in + d->inoff, n);
		d->pendlen[d->npend] = rec_seal(s, plain, w.len,
		    d->pend[d->npend], sizeof(d->pend[0]));
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
dg_stdout(struct session *s)
{
	struct dgram *d = s->dg;
	size_t k = d->olen < OBUF_SIZE - d->ohead ? d->olen :
	    OBUF_SIZE - d->ohead;
	ssize_t n;

	/* POLLOUT on a pipe promises PIPE_BUF: more could block the loop. */
	if (k > PIPE_BUF)
		k = PIPE_BUF;
	if ((n = write(STDOUT_FILENO, d->obuf + d->ohead, k)) == -1) {
		if (errno != EINTR && errno != EAGAIN)
			local_error(s, STDOUT_FILENO);
		return;
	}
	d->ohead = (d->ohead + (size_t)n) % OBUF_SIZE;
	d->olen -= (size_t)n;
}

/* The end: what waits for stdout goes now (write_all). */
static void
dg_flush(struct session *s)
{
	struct dgram *d = s->dg;
	size_t k;

	if (d->out_open != 1 || d->olen == 0)
		return;
	k = d->olen < OBUF_SIZE - d->ohead ? d->olen : OBUF_SIZE - d->ohead;
	if (write_all(s, d->obuf + d->ohead, k) == 0)
		(void)write_all(s, d->obuf, d->olen - k);
	d->olen = 0;
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
		v = rd_u32(rd);
		if (rd->bad || rd->left > MAX_PAYLOAD)
			return;
		if (v < d->next_seq)
			d->reordered++;		/* -v: overtaken, or a gap */
		else
			d->next_seq = v + 1;
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
	if (d->reordered > 0)
		vlog("%u datagram(s) from the peer came out of order",
		    d->reordered);
	stdout_end(s);
	d->out_open = -1;	/* closed for good, not just discarding */
}

/*
 * As nc -l: the listener is done when the connector is, but what its
 * stdin held at that moment still goes (a reply already in the pipe
 * must not lose a race with the peer's quick end). FIONREAD counts it
 * for a pipe, a socket, a file or a terminal. An empty pipe or socket
 * gets LISTEN_GRACE to bring its reply or its end: `echo hi | pnc
 * listen`'s echo, not yet run on a loaded machine, lost the race (make
 * static's demo in CI, 1 run). A terminal's reader ends at once.
 */
static void
dg_listen_done(struct session *s, int64_t now)
{
	struct dgram *d = s->dg;
	struct stat st;
	int ready = 0;

	if (s->cfg.punch.role != ROLE_LISTEN || !d->in_open ||
	    d->out_open != -1)
		return;
	if (!d->draining) {
		d->draining = 1;
		if (ioctl(STDIN_FILENO, FIONREAD, &ready) == 0 && ready > 0)
			d->drain_left = (size_t)ready;
		else if (fstat(STDIN_FILENO, &st) == 0 &&
		    (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
			d->drain_until = now + LISTEN_GRACE;
	}
	if (d->drain_left > 0 || d->inlen > d->inoff || now < d->drain_until)
		return;
	d->in_open = 0;
	s->ends.eof_at = now;
	vlog("peer finished; ending our direction too");
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
	dg_listen_done(s, now);
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
		return d->peer_eof ? 1 : early_end(s);
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
	if (d->in_open && d->drain_until > now && d->drain_until - now < t)
		t = d->drain_until - now;
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
	vlog("session open with %s, encrypted", s->cfg.punch.label);
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
		dg_stdout(s);
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
	/* Success is both ends: ours acknowledged, the peer's arrived. */
	if (ends_due(s, now, out, in, srtt))
		return rel_done(R) ? 1 : rel_out_ended(R) ? unacked_end(s) :
		    early_end(s);
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
	if (n == -1) {
		local_error(s, STDIN_FILENO);
		return;
	}
	if (n == 0)
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
			local_error(s, STDOUT_FILENO);
		return;
	}
	rel_written(s->rel, (size_t)n);
	rs_fin(s);
}

/* The end: the in-order bytes that wait for stdout go now (write_all). */
static void
rs_flush(struct session *s)
{
	struct iovec iov[OUT_IOV];
	int i, k;

	while ((k = rel_output(s->rel, iov, OUT_IOV, OUT_MAX)) > 0) {
		for (i = 0; i < k; i++)
			if (write_all(s, iov[i].iov_base, iov[i].iov_len) == -1)
				return;
		for (i = 0; i < k; i++)
			rel_written(s->rel, iov[i].iov_len);
	}
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
	t->out_open = 1;
	tcp_keepalive(s->path->fd, s->cfg.keepalive);
}

/* Room at the end of t: moves what is left to the front first. */
static size_t
tbuf_room(struct tbuf *t)
{
	if (t->off > 0) {
		memmove(t->b, t->b + t->off, t->len - t->off);
		t->len -= t->off;
		t->off = 0;
	}
	return TBUF - t->len;
}

/* One plain message (header, body), sealed and framed, into t->in. */
static int
ts_queue(struct session *s, const unsigned char *plain, size_t len)
{
	struct tbuf *in = &s->st->in;
	size_t n;

	if (tbuf_room(in) < TFRAME ||
	    (n = rec_seal(s, plain, len, in->b + in->len + 2,
	    TBUF - in->len - 2)) == 0 || n > MAX_DGRAM)
		return -1;
	in->b[in->len] = (unsigned char)(n >> 8);
	in->b[in->len + 1] = (unsigned char)n;
	in->len += 2 + n;
	return 0;
}

/* stdin -> DATA records; at its end, the EOF record (ts_timers). */
static void
ts_stdin(struct session *s)
{
	static unsigned char buf[TREAD * TREC];
	unsigned char plain[HDR_LEN + TREC];
	struct tstream *t = s->st;
	size_t off, k;
	ssize_t n;
	struct wr w;

	if ((n = read(STDIN_FILENO, buf, sizeof(buf))) == -1 &&
	    (errno == EAGAIN || errno == EINTR))
		return;
	if (n == -1) {
		local_error(s, STDIN_FILENO);
		return;
	}
	if (n == 0) {
		t->in_open = 0;
		s->ends.eof_at = now_ms();
		return;
	}
	for (off = 0; off < (size_t)n; off += k) {
		k = (size_t)n - off < TREC ? (size_t)n - off : TREC;
		wr_init(&w, plain, sizeof(plain));
		wr_hdr(&w, T_DATA, s->path->id);
		wr_bytes(&w, buf + off, k);
		(void)ts_queue(s, plain, w.len);	/* polled with room */
		t->recs++;
	}
	t->nout += (uint64_t)n;
}

/* Our end of input, an EOF record: a FIN or RST alone is no end. */
static void
ts_eof(struct session *s)
{
	unsigned char plain[HDR_LEN + 4];
	struct wr w;

	wr_init(&w, plain, sizeof(plain));
	wr_hdr(&w, T_EOF, s->path->id);
	wr_u32(&w, s->st->recs);
	if (ts_queue(s, plain, w.len) == 0)
		s->st->eof_queued = 1;
}

static int	ts_broken(struct session *);

/*
 * -q or -w ends a -t session: our direction first goes out as far as the
 * socket takes it now (with the EOF record, after stdin's end). Read
 * from stdin and not sent is a failure, as the peer's stream that did
 * not all come is. 1 or -1.
 */
static int
ts_end(struct session *s)
{
	struct tstream *t = s->st;

	if (!t->in_open && !t->eof_queued)
		ts_eof(s);
	if (tbuf_drain(&t->in, s->path->fd, 1) == -1)
		return ts_broken(s);
	if (t->in.off < t->in.len || (!t->in_open && !t->eof_queued)) {
		snprintf(s->why, sizeof(s->why), "%s ended the session "
		    "before all we sent went out (%zu byte(s) of records "
		    "unsent)", ender(s), t->in.len - t->in.off);
		return -1;
	}
	if (t->eof_queued && !t->shut) {
		(void)shutdown(s->path->fd, SHUT_WR);
		t->shut = 1;
	}
	return t->peer_eof ? 1 : early_end(s);
}

/*
 * Both directions have ended? Unlike the datagram transport, a listener
 * does not stop at the connector's EOF: a TCP half-close is a request's
 * end, as HTTP's. stdin EOF sends the EOF record, then half-closes
 * (shutdown SHUT_WR) as nc -N; the peer's EOF record closes stdout.
 * Returns 1 when the session is over, -1 when it ended early.
 */
static int
ts_timers(struct session *s, int64_t now)
{
	struct tstream *t = s->st;

	if (ends_due(s, now, t->nout, t->nin, 0))
		return ts_end(s);
	if (!t->in_open && !t->eof_queued &&
	    (!s->cfg.nostdin || t->peer_eof))
		ts_eof(s);
	if (t->eof_queued && t->in.off == t->in.len && !t->shut) {
		(void)shutdown(s->path->fd, SHUT_WR);
		t->shut = 1;
	}
	if (t->peer_eof && (t->out.off == t->out.len || !t->out_open) &&
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

	if (t->in_open && TBUF - (t->in.len - t->in.off) >= TREAD * TFRAME)
		pfd[SL_IN].fd = STDIN_FILENO;
	pfd[SL_NET].events = (t->net_open && t->raw.len - t->raw.off < TBUF &&
	    t->out.len - t->out.off <= TBUF - TREC ? POLLIN : 0) |
	    (t->in.off < t->in.len ? POLLOUT : 0);
	/*
	 * Nothing asked: not polled at all, or a peer's FIN (POLLHUP,
	 * which poll reports unasked) would wake us in a loop while the
	 * buffers wait for stdout.
	 */
	if (pfd[SL_NET].events == 0)
		pfd[SL_NET].fd = -1;
	if (t->out_open == 1 && t->out.off < t->out.len)
		pfd[SL_OUT].fd = STDOUT_FILENO;
	return SL_PUNCH;
}

/* A reset or error on the connection: the session fails. */
static int
ts_broken(struct session *s)
{
	snprintf(s->why, sizeof(s->why), "connection to the peer: %s%s",
	    strerror(errno), s->st->peer_eof ? "" :
	    "; the session ended before the peer's end of input");
	return -1;
}

/* A failure of the stream, why set: -1. */
static int
ts_fail(struct session *s, const char *why)
{
	snprintf(s->why, sizeof(s->why), "%s", why);
	return -1;
}

/* One record from the stream (strict: any bad one ends it). 0 or -1. */
static int
ts_record(struct session *s, unsigned char *m, size_t len)
{
	struct tstream *t = s->st;
	const unsigned char *body;
	size_t n;
	int type;

	if (s->phase != PH_STREAM && s->phase != PH_LINGER)
		return ts_fail(s, "a record before the handshake's end");
	if (rec_open(s, m, len, &type, &body, &n) == -1)
		return ts_fail(s, sec_strerror(sec_error(&s->sec) ?
		    sec_error(&s->sec) : SEC_E_FORGED));
	if (t->peer_eof)
		return ts_fail(s, "a record after the peer's end of input");
	if (type == T_EOF)
		t->peer_eof = 1;
	else if (type == T_DATA && t->out_open == 1 && s->phase == PH_STREAM) {
		(void)tbuf_room(&t->out);
		memcpy(t->out.b + t->out.len, body, n);	/* polled with room */
		t->out.len += n;
	}
	if (type == T_DATA)
		t->nin += n;
	return 0;
}

/* The frames the stream holds, while stdout has room. 0 or -1. */
static int
ts_frames(struct session *s, int64_t now)
{
	struct tstream *t = s->st;
	struct tbuf *r = &t->raw;
	unsigned char *m;
	size_t flen;
	int rc, version, type;
	uint64_t id;
	struct rd rd;

	while (t->out.len - t->out.off <= TBUF - TREC &&
	    (rc = frame_get(r->b + r->off, r->len - r->off, &flen)) != 0) {
		m = r->b + r->off + 2;
		rd_init(&rd, m, flen);
		if (rc == -1 || rd_hdr(&rd, &version, &type, &id) == -1 ||
		    version != PROTO_VERSION || id != s->path->peer_id)
			return ts_fail(s, "the peer's stream is out of step");
		r->off += 2 + flen;
		s->quiet_since = s->last_rx = now;
		if (type == T_HS)
			hs_input(s, m + HDR_LEN, flen - HDR_LEN, now);
		else if (type == T_REC && ts_record(s, m, flen) == -1)
			return -1;
		if (s->phase == PH_END)
			return s->why[0] ? -1 : 0;
	}
	return 0;
}

/*
 * The end: the stream's data that waits for stdout goes now (write_all),
 * and the complete records still in the receive buffer after it (they
 * waited for room). A record that fails now keeps the first reason.
 */
static void
ts_flush(struct session *s)
{
	struct tstream *t = s->st;
	char why[sizeof(s->why)];

	memcpy(why, s->why, sizeof(why));
	while (t->out_open == 1 && t->out.off < t->out.len) {
		if (write_all(s, t->out.b + t->out.off,
		    t->out.len - t->out.off) == -1)
			return;
		t->out.off = t->out.len = 0;
		if (ts_frames(s, now_ms()) == -1) {
			memcpy(s->why, why, sizeof(why));
			return;
		}
	}
}

/*
 * The connection is closed: over when lingering; else the peer's EOF
 * must have come by the time the frames it left are read. Those wait
 * while stdout is full (ts_frames): the EOF record may be among them.
 * 0, or -1 when it failed.
 */
static int
ts_closed(struct session *s)
{
	struct tstream *t = s->st;
	size_t flen;

	if (t->net_open)
		return 0;
	if (s->phase == PH_LINGER)
		s->phase = PH_END;
	else if (!t->peer_eof && frame_get(t->raw.b + t->raw.off,
	    t->raw.len - t->raw.off, &flen) == 0)
		return ts_fail(s, s->phase == PH_HS ? "connection to the "
		    "peer closed during the handshake" : "connection to the "
		    "peer closed before the peer's end of input");
	return 0;
}

/* Read the connection, open what came. 0, or -1 when it failed. */
static int
ts_net(struct session *s, int64_t now)
{
	struct tstream *t = s->st;
	ssize_t n;

	/*
	 * Not with a full buffer: a recv of 0 bytes returns 0, which is
	 * no end of the stream (the peer's FIN, POLLHUP, woke us with data
	 * still queued: 1.5 MB lost at the end of 100 MB, the EOF record
	 * with it).
	 */
	if (t->net_open && t->raw.off == t->raw.len)
		t->raw.off = t->raw.len = 0;
	if (t->net_open && tbuf_room(&t->raw) > 0) {
		n = recv(s->path->fd, t->raw.b + t->raw.len,
		    TBUF - t->raw.len, 0);
		if (n > 0)
			t->raw.len += (size_t)n;
		else if (n == 0)
			t->net_open = 0;
		else if (errno != EAGAIN && errno != EINTR)
			return s->phase == PH_LINGER ? 0 : ts_broken(s);
	}
	if (ts_frames(s, now) == -1)
		return -1;
	return ts_closed(s);
}

static int
ts_events(struct session *s, const struct pollfd *pfd, int64_t now)
{
	struct tstream *t = s->st;
	int fd = s->path->fd, ev = pfd[SL_NET].revents;

	if (pfd[SL_IN].revents & (POLLIN | POLLHUP | POLLERR))
		ts_stdin(s);
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
	if (ev & (POLLIN | POLLHUP) && ts_net(s, now) == -1)
		return -1;
	if (pfd[SL_OUT].revents && tbuf_drain(&t->out, STDOUT_FILENO, 0) ==
	    -1) {
		local_error(s, STDOUT_FILENO);
		return -1;
	}
	/* stdout made room: frames that waited for it */
	if (ts_frames(s, now) == -1)
		return -1;
	return ts_closed(s);
}

/* ---- datagrams from the network ---- */

/*
 * Is this from the agreed peer, on the agreed path (or, relay then
 * direct, on the one it left or, a record, a direct candidate)?
 */
static int
from_peer(const struct session *s, const struct ep *from, uint64_t id,
    int type)
{
	return punch_state(s->p) == P_DONE && id == s->path->peer_id &&
	    punch_heard(s->p, from, type == T_REC);
}

static void	punched(struct session *, int64_t);
static void	transport_input(struct session *, int, const unsigned char *,
		    size_t, int64_t);
static void	path_input(struct session *, int, const unsigned char *,
		    size_t, const struct ep *, int64_t);

/*
 * A record from the agreed peer (a datagram): opened, then to the
 * transport. A record that opens at an initiator still waiting for the
 * responder's ACK proves our FINISH arrived: the transport starts.
 * Returns 1 for a path check (its own timer: no sign that the session
 * is busy, which would keep a linger going), else 0.
 */
static int
rec_input(struct session *s, const unsigned char *in, size_t len,
    const struct ep *from, int64_t now)
{
	unsigned char buf[MAX_DGRAM];
	const unsigned char *body;
	size_t n;
	int type;

	if (len > sizeof(buf))
		return 0;
	memcpy(buf, in, len);
	if (rec_open(s, buf, len, &type, &body, &n) == -1)
		return 0;	/* counted: -v reports it */
	if (s->phase == PH_HS)
		hs_done(s, now);
	if (type == T_PATHCHK || type == T_PATHOK) {
		path_input(s, type, body, n, from, now);
		return 1;
	}
	/* The peer's records come direct: it has moved; we check now. */
	if (punch_upgrading(s->p) && !punch_heard(s->p, from, 0))
		punch_checks_soon(s->p, now);
	transport_input(s, type, body, n, now);
	return 0;
}


/* Session data for the transport: an opened record's type and body. */
static void
transport_input(struct session *s, int type, const unsigned char *body,
    size_t n, int64_t now)
{
	struct rd rd;

	rd_init(&rd, body, n);
	if (s->phase == PH_DGRAM || (s->phase == PH_LINGER && s->dg))
		dg_input(s, type, &rd, now);
	else if (s->rel != NULL && s->phase == PH_REL) {
		if (rel_input(s->rel, type, &rd, now_us()))
			s->last_rx = now;
		outbox_flush(s, rel_outbox(s->rel));
		rs_fin(s);
	}
}

/* ---- relay, then direct: path checks, sealed (PROTOCOL 8.1) ---- */

/* A T_PATHCHK or T_PATHOK, sealed with the session's keys, direct to to. */
static void
check_send(struct session *s, int type, const struct pathchk *pc,
    const struct ep *to)
{
	unsigned char plain[HDR_LEN + 8 + EP_MAX_LEN];
	unsigned char rec[sizeof(plain) + SEC_OVERHEAD];
	size_t len;
	struct wr w;

	wr_init(&w, plain, sizeof(plain));
	wr_pathchk(&w, type, s->path->id, pc);
	if (w.bad || (len = rec_seal(s, plain, w.len, rec, sizeof(rec))) == 0)
		return;
	/* UDP: a lost check is one of a round; the next round goes again. */
	(void)punch_sendto(s->p, to, rec, len);
}

/* A relayed session's checks of its direct candidates, when due. */
static void
path_checks(struct session *s, int64_t now)
{
	struct pathchk pc[MAX_CANDS];
	int i, n;

	if (s->phase != PH_DGRAM && s->phase != PH_REL)
		return;
	n = punch_checks(s->p, now, pc, MAX_CANDS);
	for (i = 0; i < n; i++)
		check_send(s, T_PATHCHK, &pc[i], &pc[i].ep);
}

/* The session moved off the relay: once on stderr, -R's estimates anew. */
static void
path_moved(struct session *s)
{
	warnx("a direct path opened: the session is direct now");
	if (s->rel != NULL)
		rel_newpath(s->rel, now_us());
}

/*
 * A path check from the peer (opened: it holds the keys), or the
 * answer to ours. A check is answered, direct to where it came from,
 * when it was sent to one of our own endpoints (not passed on to us by
 * a third address from its own), saying where it came from; one that
 * came through the relay proves nothing about a direct path.
 */
static void
path_input(struct session *s, int type, const unsigned char *body, size_t n,
    const struct ep *from, int64_t now)
{
	struct pathchk pc;
	struct rd rd;

	rd_init(&rd, body, n);
	if (rd_pathchk(&rd, &pc) == -1 || punch_via_relay(s->p, from))
		return;
	if (type == T_PATHOK) {
		if (punch_check_ok(s->p, from, &pc, now))
			path_moved(s);
		return;
	}
	if (!punch_own(s->p, &pc.ep))
		return;		/* not sent to us: a third address passed it on */
	pc.ep = *from;
	check_send(s, T_PATHOK, &pc, from);
	punch_checks_soon(s->p, now);	/* it reaches us: our check too */
}

/* One datagram from the network, of whatever kind. */
static void
net_datagram(struct session *s, const unsigned char *buf, size_t len,
    const struct ep *from, int sock, int64_t now)
{
	const unsigned char *in = buf;
	size_t inlen = len;
	struct ep f = *from;
	struct rd rd;
	int version, type;
	uint64_t id;
	int64_t quiet;

	ep_unmap(&f);		/* IPv4 on a socket of both families */
	from = &f;
	if (sock < 0 && punch_gateway(s->p, buf, len, from, now))
		return;		/* PCP, NAT-PMP: the port mapping's answer */
	/* Relayed: the peer's datagram is inside (punch_input unwraps too). */
	(void)punch_unwrap(s->p, &in, &inlen, from);
	rd_init(&rd, in, inlen);
	if (rd_hdr(&rd, &version, &type, &id) == -1 ||
	    (version != PROTO_VERSION && punch_state(s->p) == P_DONE))
		return;		/* not for us: ignored, like any stranger */
	if (punch_state(s->p) != P_DONE || version != PROTO_VERSION ||
	    type < T_DATA) {
		if (punch_input(s->p, buf, len, from, sock, now) == -1)
			return;
		if (punch_state(s->p) != P_DONE || type < T_DATA)
			return;
	}
	if (s->phase == PH_PUNCH)
		punched(s, now);	/* the message that completed the punch */
	if (!from_peer(s, from, id, type)) {
		if (type == T_REC && id == s->path->peer_id &&
		    punch_state(s->p) == P_DONE)
			s->stray++;	/* -v: not opened, whatever it holds */
		return;
	}
	quiet = s->quiet_since;
	s->quiet_since = now;
	if (type == T_HS)
		hs_input(s, in + HDR_LEN, inlen - HDR_LEN, now);
	else if (type == T_REC && rec_input(s, in, inlen, from, now) == 1)
		s->quiet_since = quiet;	/* a path check: its own timer */
	/* Anything else, plain, is not taken from a peer in version 3. */
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

/* ---- the handshake (crypto.c's sec_*), on the agreed path ---- */

/* A handshake message to the peer: a datagram, or a frame over TCP. */
static void
hs_send(struct session *s, const unsigned char *msg, size_t len)
{
	unsigned char buf[2 + HDR_LEN + SEC_HS_MAX];
	struct wr w;

	wr_init(&w, buf + 2, sizeof(buf) - 2);
	wr_hdr(&w, T_HS, s->path->id);
	wr_bytes(&w, msg, len);
	if (w.bad)
		return;
	if (!s->cfg.punch.tcp) {
		(void)punch_send(s->p, buf + 2, w.len);
		s->last_tx = now_ms();
		return;
	}
	buf[0] = (unsigned char)(w.len >> 8);
	buf[1] = (unsigned char)w.len;
	/* A fresh connection's buffer takes it; a short write fails it. */
	(void)send(s->path->fd, buf, w.len + 2, MSG_NOSIGNAL);
}

/*
 * What each side gives the handshake: PRS (the name or a code's words,
 * and -K's key), CI (what both must agree on: command and mode), and
 * our AD (role, the public endpoint the mediator reported, the peer
 * endpoint we talk to, relayed or not). 0, or -1.
 */
static int
hs_start(struct session *s, int64_t now)
{
	const struct sess_cfg *S = &s->cfg;
	unsigned char ci[8] = "pnc v3", ad[2 + 2 * EP_MAX_LEN];
	struct sec_params sp;
	struct wr w;

	ci[6] = S->what == SESS_PUNCH ? 1 : 2;
	ci[7] = (S->punch.reliable ? 1 : 0) | (S->punch.tcp ? 2 : 0) |
	    (S->keylen > 0 ? 4 : 0);
	wr_init(&w, ad, sizeof(ad));
	wr_u8(&w, s->path->controlling ? 1 : 2);
	wr_ep(&w, &s->path->self_pub);
	wr_ep(&w, &s->path->peer);
	wr_u8(&w, s->path->relayed ? 1 : 0);
	memset(&sp, 0, sizeof(sp));
	sp.secret = S->secret;
	sp.secretlen = S->secret ? strlen(S->secret) : 0;
	sp.key = S->key;
	sp.keylen = S->keylen;
	sp.my_id = s->path->id;
	sp.peer_id = s->path->peer_id;
	sp.ci = ci;
	sp.cilen = sizeof(ci);
	sp.ad = ad;
	sp.adlen = w.len;
	sp.strict = S->punch.tcp;
	if (w.bad || sec_start(&s->sec, s->path->controlling, &sp) == -1)
		return -1;
	s->hs_gap = HS_GAP0;
	if (s->path->rtt > 0 && 2 * s->path->rtt + HS_GAP_RTT < HS_GAP0)
		s->hs_gap = 2 * s->path->rtt + HS_GAP_RTT;
	s->hs_next = now + s->hs_gap;
	s->hs_deadline = now + HS_LIMIT;
	if (S->punch.deadline > 0)
		s->hs_deadline = S->punch.deadline > now + HS_MIN ?
		    S->punch.deadline : now + HS_MIN;
	hs_input(s, NULL, 0, now);	/* sends HELLO (the initiator) */
	return 0;
}

/* The handshake failed: why, and the session ends (exit 1). */
static void
hs_failed(struct session *s, int err)
{
	s->authfailed = 1;
	snprintf(s->why, sizeof(s->why), "%s", sec_strerror(err));
	s->phase = PH_END;
}

/*
 * A handshake message from the peer (NULL: none, just send what is
 * due), in any phase: a late copy gets its answer again. The transport
 * starts once both sides are confirmed: the responder at a right
 * FINISH, the initiator at the responder's ACK (or its first record).
 */
static void
hs_input(struct session *s, const unsigned char *m, size_t len, int64_t now)
{
	unsigned char out[SEC_HS_MAX];
	size_t n;
	int rc = SEC_MORE, i;

	if (m != NULL)
		rc = sec_hs_input(&s->sec, m, len);
	if ((n = sec_hs_output(&s->sec, out, sizeof(out))) > 0)
		/* The initiator's abort, when failed: so that both fail. */
		for (i = 0; i < (rc == SEC_FAIL ? HS_ABORTS : 1); i++)
			hs_send(s, out, n);
	if (rc == SEC_FAIL)
		hs_failed(s, sec_error(&s->sec));
	else if (s->phase == PH_HS && s->sec.state == SEC_S_OPEN &&
	    (sec_confirmed(&s->sec) || s->cfg.what == SESS_PUNCH))
		hs_done(s, now);
}

/*
 * The initiator's FINISH, again on its timer while unconfirmed: in the
 * handshake, and after punch printed (the responder must not be left
 * waiting for it).
 */
static void
hs_resend(struct session *s, int64_t now)
{
	unsigned char out[SEC_HS_MAX];
	size_t n;

	if (s->cfg.punch.tcp || now < s->hs_next)
		return;
	if ((n = sec_hs_latest(&s->sec, out, sizeof(out))) > 0)
		hs_send(s, out, n);
	s->hs_next = now + s->hs_gap;
	if (s->hs_gap < HS_GAPMAX && s->phase != PH_LINGER)
		s->hs_gap *= 2;		/* punch, printed: a steady gap */
}

/* The initiator's re-sends, and the handshake's deadline. -1: failed. */
static int
hs_timers(struct session *s, int64_t now)
{
	if (now >= s->hs_deadline) {
		if (s->sec.state == SEC_S_HELLO) {
			snprintf(s->why, sizeof(s->why), "no answer to the "
			    "handshake from the peer");
			return -1;
		}
		/* Begun, never confirmed: the peer turned our proof down. */
		hs_failed(s, SEC_E_AUTH);
		return -1;
	}
	hs_resend(s, now);
	return 0;
}

static int64_t
hs_next(const struct session *s, int64_t now)
{
	int64_t t = s->hs_deadline - now;

	if (!s->cfg.punch.tcp && s->sec.initiator && s->hs_next - now < t)
		t = s->hs_next - now;
	return t < 0 ? 0 : t;
}

/* The punch got through: the handshake, relayed or not. */
static void
punched(struct session *s, int64_t now)
{
	s->quiet_since = s->last_rx = s->last_tx = now;
	if (s->path->relayed)		/* said even without -v */
		warnx("no direct path to the peer: the session is relayed by "
		    "the mediator");
	ends_start(&s->ends, now);
	if (s->st != NULL)
		s->st->net_open = 1;
	s->phase = PH_HS;
	if (hs_start(s, now) == -1) {
		snprintf(s->why, sizeof(s->why), "cannot start the handshake");
		s->phase = PH_END;	/* advance() fails it */
	}
}

/* Handshake done, both ways: on to the transport, or tell the caller. */
static void
hs_done(struct session *s, int64_t now)
{
	vlog("handshake done: the peer holds our %s%s", s->cfg.code ?
	    "code" : "name", s->cfg.keylen ? " and key" : "");
	s->quiet_since = s->last_rx = s->last_tx = now;
	ends_start(&s->ends, now);
	s->punched = 1;			/* the caller hears of it */
	if (s->cfg.what == SESS_PUNCH) {
		/*
		 * The initiator has checked the responder's proof: it prints,
		 * then re-sends FINISH until the ACK (or a while), and at the
		 * ACK releases the responder (punch_release). The responder
		 * answers copies of FINISH, or of a nomination, until then:
		 * its ACK may be lost, and the release with it.
		 */
		s->phase = PH_LINGER;
		s->linger = s->path->controlling ? HS_PUNCH_WAIT :
		    PUNCH_LINGER;
		/* A lost ACK: FINISH again before the responder's linger. */
		s->hs_gap = HS_PUNCH_GAP;
		s->hs_next = now + HS_PUNCH_GAP;
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
	if ((s->phase == PH_END && s->why[0] != '\0') || s->io_failed)
		return -1;
	if (s->phase == PH_HS && hs_timers(s, now) == -1)
		return -1;
	path_checks(s, now);
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
	/* punch's initiator: FINISH until the responder confirms it. */
	if (s->phase == PH_LINGER && s->cfg.what == SESS_PUNCH &&
	    s->path->controlling) {
		if (sec_confirmed(&s->sec)) {
			s->phase = PH_END;
			punch_release(s->p);	/* the responder may go */
		}
		hs_resend(s, now);
	}
	/* Answer retransmissions until the peer has been quiet a while. */
	if (s->phase == PH_LINGER && (now - s->quiet_since >= s->linger ||
	    (s->cfg.what == SESS_PUNCH && punch_released(s->p))))
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
	if (s->phase == PH_LINGER && s->cfg.what == SESS_PUNCH &&
	    s->path->controlling && !s->cfg.punch.tcp &&
	    s->hs_next - now < t)
		t = s->hs_next - now < 0 ? 0 : s->hs_next - now;
	if (s->phase == PH_HS)
		t = hs_next(s, now);
	else if (s->phase == PH_DGRAM)
		t = dg_next(s, now);
	else if (s->phase == PH_REL)
		t = rs_timeout(s, now);
	else if (s->phase == PH_STREAM)
		t = ends_next(s, now, -1);
	if ((s->phase == PH_DGRAM || s->phase == PH_REL) &&
	    punch_upgrading(s->p))
		t = sooner(t, punch_checks_next(s->p, now));
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
	if (s->phase == PH_PUNCH && s->cfg.punch.tcp)
		pfd[SL_NET].fd = -1;
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
			natcheck_input(s->p, &s->chk, buf, (size_t)n, i, &from,
			    now_ms());
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
	if (s->cfg.punch.tcp && s->phase == PH_STREAM)
		return ts_events(s, pfd, now);
	if (s->cfg.punch.tcp) {		/* the handshake, or linger */
		if (pfd[SL_NET].revents & (POLLIN | POLLHUP | POLLERR))
			return ts_net(s, now);
		return 0;
	}
	/* The path's socket: a birthday socket's, if the punch just chose it. */
	if (pfd[SL_NET].revents & (POLLIN | POLLERR))
		net_read(s, s->path->fd, -1, now);
	if (s->phase == PH_DGRAM)
		dg_events(s, pfd);
	else if (s->phase == PH_REL)
		rs_events(s, pfd);
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
	if (cfg->punch.tcp && (s->st = calloc(1, sizeof(*s->st))) == NULL)
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
static int
session_run_loop(struct session *s)
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

/*
 * A session that ended, well or not, writes what it received before it
 * goes: the transports write to stdout only as it takes it, and the end
 * (-q, -w, a closed or lost peer, a failure) may come with some of it
 * still buffered. Not after stdout itself failed.
 */
static void
flush_out(struct session *s)
{
	if (s->out_failed)
		return;
	if (s->rel != NULL)
		rs_flush(s);
	else if (s->st != NULL)
		ts_flush(s);
	else if (s->dg != NULL)
		dg_flush(s);
}

/* session_run_loop, then flush_out at the end. */
int
session_run(struct session *s)
{
	int r = session_run_loop(s);

	if (r != SR_PUNCHED) {
		flush_out(s);
		if (s->out_failed)	/* stdout failed: not done */
			r = SR_FAILED;
	}
	return r;
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

/* Did the handshake fail (authentication: a wrong key or code)? */
int
session_authfailed(const struct session *s)
{
	return s->authfailed;
}

/* -v: what the secure channel turned away, at the end of a session. */
void
session_report(const struct session *s)
{
	if (s->hs_deadline != 0)
		vlog("dropped: %llu forged, %llu replayed, %llu too old, "
		    "%llu early, %llu handshake", (unsigned long long)
		    s->sec.forged, (unsigned long long)s->sec.replayed,
		    (unsigned long long)s->sec.too_old,
		    (unsigned long long)s->sec.early,
		    (unsigned long long)s->sec.hs_dropped);
	if (s->stray > 0)
		vlog("dropped: %llu record(s) with the peer's id from an "
		    "address not on its path", (unsigned long long)s->stray);
	if (s->tx_relay > 0)
		vlog("sent: %llu bytes through the relay, %llu direct",
		    (unsigned long long)s->tx_relay,
		    (unsigned long long)s->tx_direct);
}

/* The path: agreed once punched. */
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
	punch_unmap(s->p);		/* while its socket is open */
	punch_relay_end(s->p);
	if (path->fd != -1) {
		if (abort)
			tcp_abort(path->fd);
		else
			close(path->fd);
		path->fd = -1;
	}
	if (s->rel != NULL)
		rel_free(s->rel);
	sec_close(&s->sec);
	free(s->dg);
	free(s->st);
	punch_free(s->p);
	free(s);
}
