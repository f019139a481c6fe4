/*
 * rel.c - reliable mode (-R): a lossless, ordered byte stream each way
 * over the punched UDP path.
 *
 * A file of its own because it is a transport with its own state: the
 * sender keeps every packet until it is acknowledged, the receiver puts
 * packets back in order, and both bound their memory by RWIN packets.
 *
 * Sender: packet numbers (pn) count packets in stream order; a lost
 * packet is sent again under its own pn. Acks carry the cumulative pn,
 * up to 16 SACK ranges above it, the receiver's limit (flow control),
 * and the send time of the newest packet that arrived (RTT samples free
 * of retransmission ambiguity). A packet is lost when one sent 3 later
 * was acked, or when a later one was acked and it is 5/4 RTT old (as
 * RACK); the retransmission timer (RFC 6298, doubling) covers the tail.
 * Congestion: slow start, then AIMD (halve once per window of loss),
 * cwnd 2 after a timeout; sending is paced at cwnd per RTT with bursts
 * of at most a quarter window.
 *
 * Receiver: RWIN slots; a slot is freed when its bytes reach stdout, and
 * the limit it advertises is the next undelivered pn + RWIN, so a slow
 * reader stops the far sender instead of growing memory.
 *
 * Passive: the session loop (session.c) gives it what the peer sent,
 * what stdin gave (as much as rel_room() says it takes) and timer calls;
 * it queues its datagrams in an outbox the loop sends, and hands out
 * in-order bytes for stdout (rel_output, rel_written). It never touches
 * a descriptor and never polls.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <sys/uio.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pnc.h"

#define RWIN		1024	/* packets in flight, and buffered, at most */
#define MAX_SACK	16
#define RTO_MIN		2	/* ms; poll() can time no finer than 1 */
#define RTO_MAX		2000
#define DUPTHRESH	3
#define F_FIN		0x01

struct spkt {
	uint32_t	pn;
	uint16_t	len;
	uint8_t		fin, acked, lost;	/* lost: to send again */
	uint8_t		inflight;
	int64_t		sent_us;
	unsigned char	data[MAX_PAYLOAD];
};

struct rpkt {
	uint16_t	len, off;	/* off: bytes already written */
	uint8_t		have, fin;
	unsigned char	data[MAX_PAYLOAD];
};

struct rel {
	uint64_t	 id;		/* ours, in every header */
	int		 nostdin;
	/* sender */
	struct spkt	 s[RWIN];	/* indexed by pn % RWIN */
	uint32_t	 una, nxt;	/* oldest unacked, next new */
	uint32_t	 peer_limit;	/* may send pn < peer_limit */
	uint32_t	 largest_acked, recover;
	int		 have_largest;
	double		 cwnd, ssthresh, tokens;
	uint32_t	 inflight;	/* sent, not acked, not lost */
	int64_t		 srtt, rttvar, rto;	/* us */
	int64_t		 rto_at, pace_us;	/* us */
	int		 in_open, fin_sent;
	uint32_t	 fin_pn;
	uint64_t	 bytes_read, bytes_acked;
	/* receiver */
	struct rpkt	 r[RWIN];
	uint32_t	 rcv;		/* next pn for stdout */
	uint32_t	 cum;		/* every pn < cum received */
	uint32_t	 ts_echo;
	int		 ack_pending, peer_fin_done, out_open;
	uint64_t	 bytes_out;
	struct outbox	 out;		/* what the loop is to send */
};

/* Room in the outbox for a datagram, at the end: NULL if none. */
static unsigned char *
out_slot(struct rel *R)
{
	return R->out.n < OUTBOX_N ? R->out.buf[R->out.n] : NULL;
}

/* The datagram built in out_slot() is to go; the loop seals it. */
static void
rsend(struct rel *R, size_t len)
{
	R->out.len[R->out.n++] = len;
}

/* An ack: cum, limit, the newest send time seen, SACK ranges above cum. */
static void
send_ack_r(struct rel *R)
{
	unsigned char *buf = out_slot(R);
	struct wr w;
	uint32_t pn, end = R->rcv + RWIN, start;
	int n = 0;
	size_t nat;

	if (buf == NULL)
		return;		/* the outbox is full: the next one goes */
	/* AUTH_TRAILER bytes stay free for -K's seal. */
	wr_init(&w, buf, HDR_LEN + 13 + 8 * MAX_SACK);
	wr_hdr(&w, T_RACK, R->id);
	wr_u32(&w, R->cum);
	wr_u32(&w, R->rcv + RWIN);
	wr_u32(&w, R->ts_echo);
	nat = w.len;
	wr_u8(&w, 0);
	for (pn = R->cum; pn != end && n < MAX_SACK; pn++) {
		if (!R->r[pn % RWIN].have)
			continue;
		for (start = pn; pn != end && R->r[pn % RWIN].have; pn++)
			;
		wr_u32(&w, start);
		wr_u32(&w, pn);
		n++;
		if (pn == end)
			break;
	}
	buf[nat] = (unsigned char)n;
	rsend(R, w.len);
	R->ack_pending = 0;
}

static void
send_pkt(struct rel *R, struct spkt *sp, int64_t now_us)
{
	unsigned char *buf = out_slot(R);
	struct wr w;

	if (buf == NULL)
		return;		/* never: callers leave room (OUT_SPARE) */
	wr_init(&w, buf, HDR_LEN + 9 + MAX_PAYLOAD);
	wr_hdr(&w, T_RDATA, R->id);
	wr_u32(&w, sp->pn);
	wr_u32(&w, (uint32_t)now_us);
	wr_u8(&w, sp->fin ? F_FIN : 0);
	wr_bytes(&w, sp->data, sp->len);
	rsend(R, w.len);
	sp->sent_us = now_us;
	sp->lost = 0;
	if (!sp->inflight) {
		sp->inflight = 1;
		R->inflight++;
	}
	if (R->rto_at == 0)
		R->rto_at = now_us + R->rto;
}

/* Pacing: tokens at cwnd per smoothed RTT, bursts of a quarter window. */
static void
pace_fill(struct rel *R, int64_t now_us)
{
	double burst = R->cwnd / 4 > 16 ? R->cwnd / 4 : 16;
	int64_t srtt = R->srtt > 50 ? R->srtt : 50;

	R->tokens += (double)(now_us - R->pace_us) * R->cwnd / (double)srtt;
	R->pace_us = now_us;
	if (R->tokens > burst)
		R->tokens = burst;
}

static int
pace_take(struct rel *R, int64_t now_us)
{
	pace_fill(R, now_us);
	if (R->tokens < 1)
		return 0;
	R->tokens -= 1;
	return 1;
}

/*
 * New data may go while a hole is being repaired (what is in flight
 * counts, not what is unacknowledged): the acks it brings find losses.
 */
static int
window_open(const struct rel *R)
{
	return R->nxt - R->una < RWIN && R->inflight < (uint32_t)R->cwnd &&
	    (int32_t)(R->peer_limit - R->nxt) > 0;
}

/* Outbox slots kept free for an ack and a retransmission. */
#define OUT_SPARE	4

/* A new packet of n bytes (0: the FIN), sent at once. */
static void
new_pkt(struct rel *R, const unsigned char *data, size_t n, int64_t now_us)
{
	struct spkt *sp = &R->s[R->nxt % RWIN];

	memset(sp, 0, offsetof(struct spkt, data));
	sp->pn = R->nxt++;
	sp->len = (uint16_t)n;
	if (n > 0)
		memcpy(sp->data, data, n);
	else {
		sp->fin = 1;		/* the FIN: no data */
		R->fin_sent = 1;
		R->fin_pn = sp->pn;
	}
	R->bytes_read += n;
	send_pkt(R, sp, now_us);
}

/*
 * Retransmit what is lost, then the FIN once stdin has ended (with -d,
 * once the peer's has too). New data comes through rel_write().
 */
static void
sender_push(struct rel *R, int64_t now_us)
{
	struct spkt *sp;
	uint32_t pn;

	for (pn = R->una; pn != R->nxt; pn++) {
		sp = &R->s[pn % RWIN];
		if (sp->lost && !sp->acked) {
			if (R->inflight >= (uint32_t)R->cwnd ||
			    OUTBOX_N - R->out.n < OUT_SPARE ||
			    !pace_take(R, now_us))
				return;
			send_pkt(R, sp, now_us);
		}
	}
	if (window_open(R) && !R->fin_sent && !R->in_open &&
	    (!R->nostdin || R->peer_fin_done) && pace_take(R, now_us))
		new_pkt(R, NULL, 0, now_us);
}

/*
 * How many bytes of stdin the sender takes now: whole packets, as many
 * as the window, the pacing and the outbox allow. 0: wait.
 */
size_t
rel_room(struct rel *R, int64_t now_us)
{
	uint32_t k, w;

	if (!R->in_open || R->fin_sent || !window_open(R))
		return 0;
	pace_fill(R, now_us);
	k = RWIN - (R->nxt - R->una);
	if ((w = (uint32_t)R->cwnd - R->inflight) < k)
		k = w;
	if ((w = R->peer_limit - R->nxt) < k)
		k = w;
	if ((w = (uint32_t)R->tokens) < k)
		k = w;
	if ((w = (uint32_t)(OUTBOX_N - R->out.n - OUT_SPARE)) < k)
		k = w;
	return (size_t)k * MAX_PAYLOAD;
}

/*
 * Bytes from stdin, at most rel_room(): cut into packets and sent. n 0:
 * stdin has ended; the FIN goes after all data.
 */
void
rel_write(struct rel *R, const unsigned char *data, size_t n, int64_t now_us)
{
	size_t k;

	if (n == 0) {
		R->in_open = 0;
		sender_push(R, now_us);
		return;
	}
	while (n > 0) {
		k = n < MAX_PAYLOAD ? n : MAX_PAYLOAD;
		R->tokens -= 1;		/* rel_room() counted it */
		new_pkt(R, data, k, now_us);
		data += k;
		n -= k;
	}
}

/* Does the sender want stdin read now? */
int
rel_wants_input(const struct rel *R)
{
	return R->in_open && !R->fin_sent && window_open(R);
}

static void
rtt_sample(struct rel *R, int64_t rtt)
{
	if (rtt < 1)
		rtt = 1;
	if (R->srtt == 0) {
		R->srtt = rtt;
		R->rttvar = rtt / 2;
	} else {
		int64_t d = R->srtt > rtt ? R->srtt - rtt : rtt - R->srtt;

		R->rttvar = (3 * R->rttvar + d) / 4;
		R->srtt = (7 * R->srtt + rtt) / 8;
	}
	R->rto = R->srtt + 4 * R->rttvar;
	if (R->rto < RTO_MIN * 1000)
		R->rto = RTO_MIN * 1000;
	if (R->rto > RTO_MAX * 1000)
		R->rto = RTO_MAX * 1000;
}

static void
mark_acked(struct rel *R, uint32_t pn, uint32_t *newly)
{
	struct spkt *sp;

	if ((int32_t)(pn - R->una) < 0 || (int32_t)(pn - R->nxt) >= 0)
		return;
	sp = &R->s[pn % RWIN];
	if (sp->acked)
		return;
	sp->acked = 1;
	sp->lost = 0;
	if (sp->inflight) {
		sp->inflight = 0;
		R->inflight--;
	}
	R->bytes_acked += sp->len;
	(*newly)++;
	if (!R->have_largest || (int32_t)(pn - R->largest_acked) > 0) {
		R->largest_acked = pn;
		R->have_largest = 1;
	}
}

/* Losses by packet threshold and time threshold (RACK-like). */
static void
detect_loss(struct rel *R, int64_t now_us)
{
	int64_t thresh = R->srtt * 5 / 4 + 1000;
	uint32_t pn;
	int loss = 0;

	if (!R->have_largest)
		return;
	for (pn = R->una; (int32_t)(pn - R->largest_acked) < 0; pn++) {
		struct spkt *sp = &R->s[pn % RWIN];

		if (sp->acked || sp->lost)
			continue;
		if (R->largest_acked - pn >= DUPTHRESH ||
		    now_us - sp->sent_us >= thresh) {
			sp->lost = 1;
			if (sp->inflight) {
				sp->inflight = 0;
				R->inflight--;
			}
			/* One halving per window of losses. */
			if ((int32_t)(pn - R->recover) >= 0)
				loss = 1;
		}
	}
	if (loss) {
		R->ssthresh = R->cwnd / 2 > 2 ? R->cwnd / 2 : 2;
		R->cwnd = R->ssthresh;
		R->recover = R->nxt;
	}
}

static void
on_rack(struct rel *R, struct rd *rd, int64_t now_us)
{
	uint32_t cum = rd_u32(rd), limit = rd_u32(rd), ts = rd_u32(rd);
	uint32_t newly = 0, pn, a, b;
	int n = rd_u8(rd), i;

	if (rd->bad || n > MAX_SACK || (size_t)n * 8 != rd->left ||
	    (int32_t)(cum - R->nxt) > 0)
		return;		/* malformed, or acks what was never sent */
	if ((int32_t)(limit - R->peer_limit) > 0)
		R->peer_limit = limit;
	for (pn = R->una; (int32_t)(pn - cum) < 0; pn++)
		mark_acked(R, pn, &newly);
	for (i = 0; i < n; i++) {
		a = rd_u32(rd);
		b = rd_u32(rd);
		if ((int32_t)(b - a) <= 0 || (int32_t)(b - a) > RWIN)
			continue;
		for (pn = a; pn != b; pn++)
			mark_acked(R, pn, &newly);
	}
	if (newly && ts != 0)
		rtt_sample(R, (int64_t)(uint32_t)((uint32_t)now_us - ts));
	while (R->una != R->nxt && R->s[R->una % RWIN].acked)
		R->una++;
	if (newly) {
		R->cwnd += R->cwnd < R->ssthresh ? newly :
		    (double)newly / R->cwnd;
		if (R->cwnd > RWIN)
			R->cwnd = RWIN;
		R->rto_at = R->una == R->nxt ? 0 : now_us + R->rto;
	}
	detect_loss(R, now_us);
}

/*
 * The head of the receive queue: a FIN ends stdout's stream; with stdout
 * gone, data is dropped as it comes in order. Data for stdout waits.
 */
static void
head(struct rel *R)
{
	struct rpkt *rp;

	while ((rp = &R->r[R->rcv % RWIN])->have) {
		if (rp->fin) {
			R->out_open = 0;
			R->peer_fin_done = 1;
			rp->have = 0;
			R->rcv++;
			return;
		}
		if (rp->off < rp->len && R->out_open)
			return;		/* for rel_output() */
		rp->have = 0;
		R->rcv++;
		R->ack_pending = 1;	/* the limit moved */
	}
}

/*
 * In-order bytes for stdout, up to PIPE_BUF (what POLLOUT on a pipe
 * promises), in at most max iovecs. Returns how many; 0: nothing now.
 */
int
rel_output(struct rel *R, struct iovec *iov, int max)
{
	struct rpkt *rp;
	uint32_t pn;
	size_t room = PIPE_BUF, k;
	int n = 0;

	if (!R->out_open)
		return 0;
	for (pn = R->rcv; n < max && room > 0; pn++) {
		rp = &R->r[pn % RWIN];
		if (!rp->have || rp->fin || pn - R->rcv >= RWIN)
			break;
		k = (size_t)(rp->len - rp->off);
		if (k > room)
			k = room;
		iov[n].iov_base = rp->data + rp->off;
		iov[n++].iov_len = k;
		room -= k;
	}
	return n;
}

/* n bytes of what rel_output() gave reached stdout: free their slots. */
void
rel_written(struct rel *R, size_t n)
{
	struct rpkt *rp;
	size_t k;

	while (n > 0 && (rp = &R->r[R->rcv % RWIN])->have && !rp->fin) {
		k = (size_t)(rp->len - rp->off);
		if (k > n)
			k = n;
		rp->off += (uint16_t)k;
		R->bytes_out += k;
		n -= k;
		if (rp->off < rp->len)
			break;
		rp->have = 0;
		R->rcv++;
		R->ack_pending = 1;	/* the limit moved */
	}
	head(R);
}

/* stdout's reader went away: what comes is discarded from now on. */
void
rel_out_gone(struct rel *R)
{
	R->out_open = 0;
	head(R);
}

/* The peer's stream has ended, and all of it went to stdout. */
int
rel_out_ended(const struct rel *R)
{
	return R->peer_fin_done;
}

static void
on_rdata(struct rel *R, struct rd *rd)
{
	uint32_t pn = rd_u32(rd), ts = rd_u32(rd);
	int flags = rd_u8(rd);
	struct rpkt *rp;

	if (rd->bad || rd->left > MAX_PAYLOAD ||
	    ((flags & F_FIN) && rd->left != 0))
		return;
	R->ack_pending = 1;
	if ((int32_t)(pn - R->rcv) < 0 || (int32_t)(pn - R->rcv) >= RWIN)
		return;		/* a duplicate, or beyond what we offered */
	rp = &R->r[pn % RWIN];
	if (!rp->have) {
		rp->have = 1;
		rp->fin = (flags & F_FIN) != 0;
		rp->len = (uint16_t)rd->left;
		rp->off = 0;
		memcpy(rp->data, rd->p, rd->left);
	}
	R->ts_echo = ts;
	while (R->cum != R->rcv + RWIN && R->r[R->cum % RWIN].have)
		R->cum++;
	if ((int32_t)(R->cum - R->rcv) < 0)
		R->cum = R->rcv;
}

/*
 * A session message from the peer (checked by the loop: its path, its
 * id, -K's seal), the body after the header in rd. Returns 1 when it
 * was -R's, 0 when not (-R and plain UDP do not mix).
 */
int
rel_input(struct rel *R, int type, struct rd *rd, int64_t now_us)
{
	if (type == T_RDATA)
		on_rdata(R, rd);
	else if (type == T_RACK)
		on_rack(R, rd, now_us);
	else if (type != T_KEEPALIVE)
		return 0;
	head(R);
	return 1;
}

/* The retransmission timer: nothing came back for an RTO. */
static void
rto_fire(struct rel *R, int64_t now_us)
{
	struct spkt *sp;

	if (R->rto_at && now_us >= R->rto_at && R->una != R->nxt) {
		uint32_t pn;

		/* Nothing came back for an RTO: all in flight is lost. */
		for (pn = R->una; pn != R->nxt; pn++) {
			sp = &R->s[pn % RWIN];
			if (!sp->acked && sp->inflight) {
				sp->inflight = 0;
				sp->lost = 1;
			}
		}
		R->inflight = 0;
		sp = &R->s[R->una % RWIN];
		send_pkt(R, sp, now_us);	/* the oldest, at once */
		R->rto = R->rto * 2 > RTO_MAX * 1000 ? RTO_MAX * 1000 :
		    R->rto * 2;
		R->rto_at = now_us + R->rto;
		R->ssthresh = R->cwnd / 2 > 2 ? R->cwnd / 2 : 2;
		R->cwnd = 2;
		R->recover = R->nxt;
	}
}

/* Milliseconds until rel_tick() wants to run; -1: no timer of its own. */
int64_t
rel_next(const struct rel *R, int64_t now_us)
{
	int64_t t = -1;

	if (R->rto_at && (t = (R->rto_at - now_us) / 1000 + 1) < 0)
		t = 0;
	/* Packets in flight: loss and pacing timers, look again soon. */
	if (R->una != R->nxt && (t < 0 || t > 1))
		t = 1;
	return t;
}

/* The timers: retransmissions, the FIN, a pending ack. */
void
rel_tick(struct rel *R, int64_t now_us)
{
	head(R);
	rto_fire(R, now_us);
	sender_push(R, now_us);
	if (R->ack_pending)
		send_ack_r(R);
}

/* Everything sent acknowledged, everything received written. */
int
rel_done(const struct rel *R)
{
	return R->fin_sent && R->una == R->nxt && R->peer_fin_done;
}

/* How long to answer resends once done: our last ack may be lost. */
int64_t
rel_linger(const struct rel *R)
{
	return 3 * R->rto / 1000 > 100 ? 3 * R->rto / 1000 : 100;
}

/* The session's keepalive: an ack, which also repeats our window. */
void
rel_keepalive(struct rel *R)
{
	send_ack_r(R);
}

/* Bytes sent that the peer has not acknowledged. */
uint64_t
rel_unconfirmed(const struct rel *R)
{
	return R->bytes_read - R->bytes_acked;
}

/* Bytes read from stdin, bytes written to stdout, smoothed RTT (us). */
void
rel_counts(const struct rel *R, uint64_t *out, uint64_t *in, int64_t *srtt)
{
	*out = R->bytes_read;
	*in = R->bytes_out;
	*srtt = R->srtt;
}

struct outbox *
rel_outbox(struct rel *R)
{
	return &R->out;
}

/* A transport for a punched path: our id, and -d. */
struct rel *
rel_new(uint64_t id, int nostdin, int64_t now_us)
{
	struct rel *R;

	if ((R = calloc(1, sizeof(*R))) == NULL)
		return NULL;
	R->id = id;
	R->nostdin = nostdin;
	R->in_open = !nostdin;
	R->out_open = 1;
	R->cwnd = 10;
	R->ssthresh = RWIN;
	R->rto = 200 * 1000;
	R->peer_limit = RWIN;
	R->pace_us = now_us;
	return R;
}

void
rel_report(const struct rel *R)
{
	vlog("reliable session: %llu bytes sent and acknowledged, %llu "
	    "received and written, srtt %lld us, cwnd %lld",
	    (unsigned long long)R->bytes_acked,
	    (unsigned long long)R->bytes_out, (long long)R->srtt,
	    (long long)(R->cwnd + 0.5));	/* integers, as human() */
}

void
rel_free(struct rel *R)
{
	free(R);
}
