/*
 * rel.c - reliable mode (-R): a lossless, ordered byte stream each way
 * over the punched UDP path.
 *
 * A file of its own because it is a transport with its own state: the
 * sender keeps every packet until it is acknowledged, the receiver puts
 * packets back in order, and both bound their memory by a budget.
 *
 * Sender: packet numbers (pn) count packets in stream order; a lost
 * packet is sent again under its own pn. Acks carry the cumulative pn,
 * up to 16 SACK ranges above it (the newest first), the receiver's
 * limit (flow control), and the send time of the newest packet that
 * arrived (RTT samples free of retransmission ambiguity). Loss is found
 * by time, as RACK (RFC 8985): a packet is lost when one sent after it
 * was acked and it is older than the RTT plus a quarter of the minimum
 * RTT; a tail loss probe, then the retransmission timer (RFC 6298,
 * doubling) cover the tail.
 *
 * Congestion: rate based, as BBR v1: each ack gives a delivery rate
 * sample; the bottleneck rate is the largest of the last 10 rounds, the
 * path's delay the smallest RTT of 10 s. Sending is paced at a gain
 * times that rate (2.885 while starting up, then cycling 1.25, 0.75 and
 * six rounds of 1), the window 1.875 times their product. A random loss is
 * repaired, not taken as congestion, so 1% or 5% loss costs about that
 * much of the rate, not a collapse.
 *
 * Windows: the send ring grows (doubling from 1024 packets) while it and
 * not the congestion window limits the sender, the receive ring while
 * packets arrive beyond it, both up to half the session's memory budget
 * each; the receiver advertises a limit of the next undelivered pn plus
 * its largest ring, so a slow reader stops the far writer when that
 * much waits, and memory stays within the budget.
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

/*
 * Data bytes per RDATA sent (a receiver takes up to MAX_PAYLOAD): a
 * record layer that adds bytes to each datagram lowers this.
 */
#define REL_PAYLOAD	MAX_PAYLOAD
#define WIN_MIN		1024	/* packets: each ring's first size */
#define RTO_MIN		2	/* ms; poll() can time no finer than 1 */
#define RTO_MAX		2000

/* BBR's constants (v1): gains, filter lengths. */
#define STARTUP_GAIN	2.885	/* 2/ln 2: doubles the rate each round */
/*
 * The window's gain after startup: BBR v1's 2 took 45-69% of a
 * one-BDP drop-tail queue shared with one CUBIC flow, 1.5 took 26-28%,
 * 1.8 took 52-69% (5 runs), 1.875 took 53-74% (7 runs and a CI run
 * whose 74% failed tests/rwan.bats's bound), 1.75 took 48-57% (9 runs;
 * 38-57% in 3 earlier ones). Near 2 the share is neutral (the window
 * of both flows fills the same queue) and drifts with every high rate
 * sample. Not lower: a window-limited flow whose RTT grows by more than
 * the gain (a loaded machine: 1.75 once fell to 3 MB/s on a 50 MB/s
 * path) sees its rate samples, and so its window, shrink. A window cut
 * on loss with the queue high (as BBR v2) took 20-45% instead: capped,
 * the flow's own rate samples fell and its pacing with them.
 */
#define CWND_GAIN	1.75
/*
 * Beside a flow that keeps a queue full (a loss-based TCP: CUBIC), 1.75
 * took 63-72% of the link (7 runs, rwan.bats); 1.6 took 48-56% (11
 * runs, 9 on a loaded machine), 1.5 39-42% (3). The other flow's queue is
 * told from ours by BBR's draining phase, which empties ours once a
 * cycle: windows of Q_ROUNDS rounds (and Q_MIN_US) whose least RTT
 * stayed more than a quarter of the path's delay (and Q_MIN_QUEUE)
 * above it, Q_ENTER_LOSS in a row with a loss of ours among them, or
 * Q_ENTER without (paced, -R may lose nothing for seconds where the
 * bursty TCP loses); it is gone after Q_LEAVE windows in a row with no
 * such queue (longer than CUBIC's cycle, a few seconds, in which the
 * queue drains after each cut). Only then: a lower gain everywhere
 * lets a loaded machine's late acks shrink a window-limited flow's
 * rate samples, and its window with them.
 */
#define CWND_GAIN_Q	1.6
#define Q_ROUNDS	8
#define Q_MIN_US	100000
#define Q_MIN_QUEUE	4000
#define Q_ENTER_LOSS	2
#define Q_ENTER		4
#define Q_LEAVE		8
#define BW_ROUNDS	10	/* the rate filter: rounds */
#define MINRTT_US	10000000	/* the delay filter: 10 s */
#define PROBE_RTT_US	200000	/* ... refreshed by 200 ms at 4 packets */
#define CWND_MIN	4
#define NCYCLE		8
/* A policer (BBR v1's long-term rate): sampled over LT_ROUNDS rounds and
   LT_MIN_US at least, with more than 1/LT_LOSS lost; two samples within
   1/4 of each other; then held for LT_HOLD_US. */
#define LT_ROUNDS	4
#define LT_MIN_US	50000
#define LT_MAX_US	1000000
#define LT_LOSS		2	/* more than half lost: random loss of 20%
				   (reliable.bats), with a queue's on top,
				   is not a policer */
#define LT_HOLD_US	4000000	/* doubled each time it is found again,
				   up to LT_HOLD_MAX */
#define LT_HOLD_MAX	64000000
#define LT_PACE		0.875	/* paced under it: a bucket's burst, taken
				   in the samples, put the mean 20% over */

enum { M_STARTUP, M_DRAIN, M_PROBE_BW, M_PROBE_RTT };

static const double cycle_gain[NCYCLE] = {
	1.25, 0.75, 1, 1, 1, 1, 1, 1
};

struct spkt {
	uint32_t	pn;
	uint16_t	len;
	uint8_t		fin, acked, lost;	/* lost: to send again */
	uint8_t		inflight, retx;	/* retx: sent more than once */
	uint64_t	sseq;		/* transmission order */
	int64_t		sent_us;
	/* the delivery rate's state at this transmission */
	uint64_t	delivered;
	int64_t		deliv_us, first_us;
};

struct rpkt {
	uint16_t	len, off;	/* off: bytes already written */
	uint8_t		have, fin;
};

typedef unsigned char	pbuf[MAX_PAYLOAD];

struct rel {
	uint64_t	 id;		/* ours, in every header */
	int		 nostdin;
	/* sender: a ring of scap packets, indexed by pn % scap */
	struct spkt	*s;
	pbuf		*sd;
	uint32_t	 scap, smax;
	uint32_t	 una, nxt;	/* oldest unacked, next new */
	uint32_t	 peer_limit;	/* may send pn < peer_limit */
	uint32_t	 nlost;		/* packets to send again */
	uint32_t	 inflight;	/* sent, not acked, not lost */
	double		 cwnd, tokens;
	int64_t		 srtt, rttvar, rto;	/* us */
	int64_t		 rto_at, pace_us;	/* us */
	int		 tlp_sent;	/* the probe went; next: the RTO */
	/* RACK */
	uint64_t	 sseq, rack_sseq;
	int64_t		 rack_sent_us, rack_rtt, rack_check_at;
	/* delivery rate and BBR */
	uint64_t	 delivered, round, round_end;
	uint32_t	 rnd_lost, rnd_acked;	/* this round's */
	uint64_t	 lost_total;
	/* a policer: the long-term rate (0: none seen) */
	double		 lt_bw, lt_last;	/* packets per us */
	int64_t		 lt_start_us, lt_until, lt_hold;
	uint64_t	 lt_deliv, lt_lost, lt_round;
	unsigned	 lt_found;	/* -v: times a policer was seen */
	int64_t		 delay_since;	/* startup: RTTs high since */
	int64_t		 deliv_us, first_us;
	double		 bw[BW_ROUNDS], btlbw;	/* packets per us */
	int64_t		 min_rtt, min_rtt_at;
	int		 mode, cycle, filled, full_cnt;
	double		 full_bw, pacing_gain, prior_cwnd;
	int64_t		 cycle_at, probe_rtt_end;
	/* another flow's queue (CWND_GAIN_Q): windows with, without */
	int		 compete, qhigh, qlow;
	int64_t		 q_min, q_at;
	uint64_t	 q_round;
	uint64_t	 q_lost, q_lost0;	/* lost_total when the run of
					   windows, this window began */
	int		 in_open, fin_sent;
	uint32_t	 fin_pn;
	uint64_t	 bytes_read, bytes_acked, resent;
	/* receiver: a ring of rcap packets */
	struct rpkt	*r;
	pbuf		*rdata;
	uint32_t	 rcap, rmax;
	uint32_t	 rcv;		/* next pn for stdout */
	uint32_t	 cum;		/* every pn < cum received */
	uint32_t	 high;		/* every pn received is < high */
	uint32_t	 ts_echo;
	uint32_t	 recent[RACK_SACK];	/* arrivals since the last ack */
	int		 nrecent;
	int		 ack_pending, peer_fin_done, out_open;
	uint64_t	 bytes_out;
	struct outbox	 out;		/* what the loop is to send */
};

/* ---- the rings ---- */

/*
 * Grow the send ring to cap packets (a power of two): each packet in
 * [una, nxt) moves to its new slot. -1: no memory (the ring stays).
 */
static int
sring_grow(struct rel *R, uint32_t cap)
{
	struct spkt *s;
	pbuf *d;
	uint32_t pn;

	if ((s = calloc(cap, sizeof(*s))) == NULL)
		return -1;
	if ((d = malloc((size_t)cap * sizeof(*d))) == NULL) {
		free(s);
		return -1;
	}
	for (pn = R->una; pn != R->nxt; pn++) {
		s[pn % cap] = R->s[pn % R->scap];
		memcpy(d[pn % cap], R->sd[pn % R->scap], R->s[pn % R->scap].len);
	}
	free(R->s);
	free(R->sd);
	R->s = s;
	R->sd = d;
	R->scap = cap;
	return 0;
}

/* The same for the receive ring: [rcv, rcv + rcap) moves. */
static int
rring_grow(struct rel *R, uint32_t cap)
{
	struct rpkt *r;
	pbuf *d;
	uint32_t pn, i;

	if ((r = calloc(cap, sizeof(*r))) == NULL)
		return -1;
	if ((d = malloc((size_t)cap * sizeof(*d))) == NULL) {
		free(r);
		return -1;
	}
	for (i = 0, pn = R->rcv; i < R->rcap; i++, pn++) {
		r[pn % cap] = R->r[pn % R->rcap];
		if (r[pn % cap].have)
			memcpy(d[pn % cap], R->rdata[pn % R->rcap],
			    r[pn % cap].len);
	}
	free(R->r);
	free(R->rdata);
	R->r = r;
	R->rdata = d;
	R->rcap = cap;
	return 0;
}

/* Ring packets in a budget of bytes: a power of two, WIN_MIN at least. */
static uint32_t
ring_max(size_t budget, size_t per)
{
	uint32_t n = WIN_MIN;

	while ((size_t)n * 2 * per <= budget && n < (1u << 24))
		n *= 2;
	return n;
}

/* ---- sending ---- */

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

/* The limit we offer: the next undelivered pn plus our largest ring. */
static uint32_t
rcv_limit(const struct rel *R)
{
	return R->rcv + R->rmax;
}

/* The received range around pn (have): [*a, *b). */
static void
range_of(const struct rel *R, uint32_t pn, uint32_t *a, uint32_t *b)
{
	for (*a = pn; (int32_t)(*a - R->cum) > 0 &&
	    R->r[(*a - 1) % R->rcap].have; (*a)--)
		;
	for (*b = pn + 1; (int32_t)(R->high - *b) > 0 &&
	    R->r[*b % R->rcap].have; (*b)++)
		;
}

/* Is pn in one of the ranges of a so far? */
static int
in_ranges(const struct rack *a, uint32_t pn)
{
	int i;

	for (i = 0; i < a->n; i++)
		if ((int32_t)(pn - a->sack[i][0]) >= 0 &&
		    (int32_t)(pn - a->sack[i][1]) < 0)
			return 1;
	return 0;
}

/*
 * SACK ranges above cum: first those around what arrived since the last
 * ack, newest first (a repair deep in the window is news too), then the
 * highest ones, into k (k->n of them).
 */
static void
sack_ranges(struct rel *R, struct rack *k)
{
	uint32_t a, b, pn;
	int i;

	k->n = 0;
	for (i = R->nrecent - 1; i >= 0 && k->n < RACK_SACK; i--) {
		pn = R->recent[i];
		if ((int32_t)(pn - R->cum) < 0 || (int32_t)(pn - R->high) >= 0 ||
		    !R->r[pn % R->rcap].have || in_ranges(k, pn))
			continue;
		range_of(R, pn, &a, &b);
		k->sack[k->n][0] = a;
		k->sack[k->n++][1] = b;
	}
	R->nrecent = 0;
	for (b = R->high; k->n < RACK_SACK; b = a) {
		while ((int32_t)(b - R->cum) > 0 &&
		    !R->r[(b - 1) % R->rcap].have)
			b--;
		if ((int32_t)(b - R->cum) <= 0)
			break;
		range_of(R, b - 1, &a, &pn);
		if (!in_ranges(k, b - 1)) {
			k->sack[k->n][0] = a;
			k->sack[k->n++][1] = b;
		}
	}
}

/* An ack: cum, limit, the newest send time seen, SACK ranges. */
static void
send_ack_r(struct rel *R)
{
	unsigned char *buf = out_slot(R);
	struct rack k;
	struct wr w;

	if (buf == NULL)
		return;		/* the outbox is full: the next one goes */
	k.cum = R->cum;
	k.limit = rcv_limit(R);
	k.ts = R->ts_echo;
	sack_ranges(R, &k);
	/* Small enough that the record (SEC_OVERHEAD more) fits a datagram. */
	wr_init(&w, buf, HDR_LEN + 13 + 8 * RACK_SACK);
	wr_rack(&w, R->id, &k);
	rsend(R, w.len);
	R->ack_pending = 0;
}

static void
send_pkt(struct rel *R, struct spkt *sp, int64_t now_us)
{
	unsigned char *buf = out_slot(R);
	struct rdata d;
	struct wr w;

	if (buf == NULL)
		return;		/* never: callers leave room (OUT_SPARE) */
	d.pn = sp->pn;
	d.ts = (uint32_t)now_us;
	d.flags = sp->fin ? RDATA_FIN : 0;
	d.data = R->sd[sp->pn % R->scap];
	d.len = sp->len;
	wr_init(&w, buf, HDR_LEN + 9 + MAX_PAYLOAD);
	wr_rdata(&w, R->id, &d);
	rsend(R, w.len);
	if (R->inflight == 0)	/* from idle: rate samples start now */
		R->first_us = R->deliv_us = now_us;
	sp->retx = sp->sseq != 0;
	sp->sent_us = now_us;
	sp->sseq = ++R->sseq;
	sp->delivered = R->delivered;
	sp->deliv_us = R->deliv_us;
	sp->first_us = R->first_us;
	if (sp->lost) {
		sp->lost = 0;
		R->nlost--;
		R->resent++;
	}
	if (!sp->inflight) {
		sp->inflight = 1;
		R->inflight++;
	}
	if (R->rto_at == 0)
		R->rto_at = now_us + R->rto;
}

/*
 * The pacing rate, packets per us: a gain times the bottleneck's; while
 * starting up, twice the window per RTT at least (as Linux paces TCP's
 * slow start), so that the window, doubling each round, is what limits.
 */
static double
pace_rate(const struct rel *R)
{
	int64_t rtt = R->srtt > 1000 ? R->srtt : 1000;
	double w = 2 * R->cwnd / (double)rtt;

	if (R->lt_bw > 0)	/* a policer's: under it, no probing */
		return R->lt_bw * LT_PACE;

	if (R->btlbw > 0 && (R->mode != M_STARTUP ||
	    R->pacing_gain * R->btlbw > w))
		return R->pacing_gain * R->btlbw;
	return R->mode == M_STARTUP ? w : R->pacing_gain * R->cwnd / (double)rtt;
}

/* Tokens at the pacing rate; bursts of 2 ms of it, 16 packets at least. */
static void
pace_fill(struct rel *R, int64_t now_us)
{
	double rate = pace_rate(R), burst = rate * 2000;

	if (burst < 16)		/* under a policer, its bucket: 2 */
		burst = R->lt_bw > 0 ? 2 : 16;
	R->tokens += (double)(now_us - R->pace_us) * rate;
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

/* The send ring limits, not the congestion window: grow it. */
static void
sring_fit(struct rel *R)
{
	if (R->nxt - R->una >= R->scap && R->scap < R->smax &&
	    R->inflight < (uint32_t)R->cwnd)
		(void)sring_grow(R, R->scap * 2);
}

/*
 * New data may go while a hole is being repaired (what is in flight
 * counts, not what is unacknowledged): the acks it brings find losses.
 */
static int
window_open(const struct rel *R)
{
	return R->nxt - R->una < R->scap && R->inflight < (uint32_t)R->cwnd &&
	    (int32_t)(R->peer_limit - R->nxt) > 0;
}

/* Outbox slots kept free for an ack and a retransmission. */
#define OUT_SPARE	4

/* A new packet of n bytes (0: the FIN), sent at once. */
static void
new_pkt(struct rel *R, const unsigned char *data, size_t n, int64_t now_us)
{
	struct spkt *sp = &R->s[R->nxt % R->scap];

	memset(sp, 0, sizeof(*sp));
	sp->pn = R->nxt++;
	sp->len = (uint16_t)n;
	if (n > 0)
		memcpy(R->sd[sp->pn % R->scap], data, n);
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

	for (pn = R->una; R->nlost > 0 && pn != R->nxt; pn++) {
		sp = &R->s[pn % R->scap];
		if (sp->lost && !sp->acked) {
			if (R->inflight >= (uint32_t)R->cwnd ||
			    OUTBOX_N - R->out.n < OUT_SPARE ||
			    !pace_take(R, now_us))
				return;
			send_pkt(R, sp, now_us);
		}
	}
	sring_fit(R);
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

	sring_fit(R);
	if (!R->in_open || R->fin_sent || !window_open(R))
		return 0;
	pace_fill(R, now_us);
	k = R->scap - (R->nxt - R->una);
	if ((w = (uint32_t)R->cwnd - R->inflight) < k)
		k = w;
	if ((w = R->peer_limit - R->nxt) < k)
		k = w;
	if ((w = (uint32_t)R->tokens) < k)
		k = w;
	if ((w = (uint32_t)(OUTBOX_N - R->out.n - OUT_SPARE)) < k)
		k = w;
	return (size_t)k * REL_PAYLOAD;
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
		k = n < REL_PAYLOAD ? n : REL_PAYLOAD;
		R->tokens -= 1;		/* rel_room() counted it */
		new_pkt(R, data, k, now_us);
		data += k;
		n -= k;
	}
}

/* Does the sender want stdin read now (window and pacing open)? */
int
rel_wants_input(const struct rel *R, int64_t now_us)
{
	double t = R->tokens + (double)(now_us - R->pace_us) * pace_rate(R);

	return R->in_open && !R->fin_sent && window_open(R) && t >= 1;
}

/* ---- acks: RTT, delivery rate, BBR ---- */

static void
rtt_sample(struct rel *R, int64_t rtt, int64_t now_us)
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
	/* a quarter RTT more than RFC 6298: a busy peer's late ack is
	   not a timeout that counts all in flight lost */
	R->rto = R->srtt + 4 * R->rttvar + R->srtt / 4 + RTO_MIN * 1000;
	if (R->rto < RTO_MIN * 1000)
		R->rto = RTO_MIN * 1000;
	if (R->rto > RTO_MAX * 1000)
		R->rto = RTO_MAX * 1000;
	if (R->min_rtt == 0 || rtt <= R->min_rtt) {
		R->min_rtt = rtt;
		R->min_rtt_at = now_us;
	}
}

/* The newest-sent packet an ack delivered: a rate sample, a round. */
static void
rate_sample(struct rel *R, const struct spkt *p, int64_t now_us)
{
	int64_t snd = p->sent_us - p->first_us, ack = now_us - p->deliv_us;
	int64_t iv = snd > ack ? snd : ack;
	double bw;
	int i;

	R->first_us = p->sent_us;
	if (p->delivered >= R->round_end) {
		R->round++;
		R->round_end = R->delivered;
		R->bw[R->round % BW_ROUNDS] = 0;
	}
	if (iv <= 0)
		return;
	bw = (double)(R->delivered - p->delivered) / (double)iv;
	if (bw > R->bw[R->round % BW_ROUNDS])
		R->bw[R->round % BW_ROUNDS] = bw;
	for (R->btlbw = 0, i = 0; i < BW_ROUNDS; i++)
		if (R->bw[i] > R->btlbw)
			R->btlbw = R->bw[i];
	if (R->lt_bw > 0)
		R->btlbw = R->lt_bw;
}

static void
lt_restart(struct rel *R, int64_t now_us)
{
	R->lt_start_us = now_us;
	R->lt_deliv = R->delivered;
	R->lt_lost = R->lost_total;
	R->lt_round = R->round;
}

/*
 * Paced at a policer's rate and still losing more than 1 in 20: the
 * samples that found it had the bucket's burst in them (a relay's -b:
 * 100 ms of its rate; the first sample came out 48% over). What an
 * interval at its rate delivers is the rate, bursts spent; by a quarter
 * at most a step (an interval with a stall in it delivers less).
 */
static void
lt_refine(struct rel *R, int64_t now_us)
{
	uint64_t d = R->delivered - R->lt_deliv, l = R->lost_total - R->lt_lost;
	int64_t t = now_us - R->lt_start_us;

	if (R->round - R->lt_round < LT_ROUNDS || t < LT_MIN_US)
		return;
	if (l * 20 > d + l && d > 0 && (double)d / (double)t < R->lt_bw) {
		R->lt_bw = (double)d / (double)t;
		if (R->lt_bw < R->btlbw * 0.75)
			R->lt_bw = R->btlbw * 0.75;
		R->btlbw = R->lt_bw;
	}
	lt_restart(R, now_us);
}

/*
 * Once a round: is a policer dropping what is over a rate (a token
 * bucket, as a relay's -b)? The rate filter takes the bucket's bursts
 * for the path's rate, and on a short RTT sent 6 times what the relay
 * let through (tests/relay.bats). Two intervals that lost more than
 * half and delivered at rates within 1/4 of each other: the flow is
 * paced at their mean for LT_HOLD_US, then probes again (BBR v1's
 * long-term rate, timed in microseconds, not rounds, so that a 1 ms RTT
 * holds it as long as a 100 ms one).
 */
static void
lt_sample(struct rel *R, int64_t now_us)
{
	uint64_t d = R->delivered - R->lt_deliv, l = R->lost_total - R->lt_lost;
	int64_t t = now_us - R->lt_start_us;
	double bw;
	int i;

	if (R->lt_bw > 0 && now_us < R->lt_until) {
		lt_refine(R, now_us);
		return;
	}
	if (R->lt_bw > 0) {
		/* probe again, from the policer's rate: the filter's
		   samples of its bursts (160 times it) would overshoot */
		for (i = 0; i < BW_ROUNDS; i++)
			R->bw[i] = R->lt_bw * LT_PACE;
		R->lt_bw = R->lt_last = 0;
		lt_restart(R, now_us);
		return;
	}
	if (R->round - R->lt_round < LT_ROUNDS || t < LT_MIN_US)
		return;
	if (l * LT_LOSS <= d + l || d == 0) {
		if (t > LT_MAX_US) {
			R->lt_last = 0;
			lt_restart(R, now_us);
		}
		return;
	}
	bw = (double)d / (double)t;
	if (R->lt_last > 0 && (bw > R->lt_last ? bw - R->lt_last :
	    R->lt_last - bw) <= R->lt_last / 4) {
		R->lt_bw = (bw + R->lt_last) / 2;
		R->lt_hold = R->lt_hold == 0 ? LT_HOLD_US :
		    R->lt_hold * 2 > LT_HOLD_MAX ? LT_HOLD_MAX : R->lt_hold * 2;
		R->lt_until = now_us + R->lt_hold;
		R->btlbw = R->lt_bw;
		R->lt_found++;
	} else
		R->lt_last = bw;
	lt_restart(R, now_us);
}

/*
 * The path's bandwidth-delay product, packets (0: not known yet). The
 * delay is taken as 1 ms at least: the loop's timer, which paces and
 * acks, is no finer, so a LAN needs a window of a millisecond's sending.
 */
static double
bdp(const struct rel *R)
{
	return R->btlbw * (double)(R->min_rtt > 1000 ? R->min_rtt : 1000);
}

/* The window's gain: beside another flow's queue, less. */
static double
cwnd_gain(const struct rel *R)
{
	return R->mode != M_PROBE_BW ? STARTUP_GAIN :
	    R->compete ? CWND_GAIN_Q : CWND_GAIN;
}

static void
set_mode(struct rel *R, int mode, int64_t now_us)
{
	R->mode = mode;
	R->pacing_gain = mode == M_STARTUP ? STARTUP_GAIN :
	    mode == M_DRAIN ? 1 / STARTUP_GAIN : 1;
	if (mode == M_PROBE_BW) {
		/* start anywhere but the draining phase */
		R->cycle = (int)(R->sseq % (NCYCLE - 1));
		R->cycle += R->cycle >= 1;
		R->pacing_gain = cycle_gain[R->cycle];
	}
	R->cycle_at = now_us;
}

/*
 * Each RTT sample: is another flow keeping a queue at the bottleneck
 * (see CWND_GAIN_Q)?
 */
static void
queue_check(struct rel *R, int64_t rtt, int64_t now_us)
{
	int64_t q = R->min_rtt / 4 > Q_MIN_QUEUE ? R->min_rtt / 4 : Q_MIN_QUEUE;

	if (R->q_min == 0 || rtt < R->q_min)
		R->q_min = rtt;
	if (R->round - R->q_round < Q_ROUNDS || now_us - R->q_at < Q_MIN_US)
		return;
	if (R->min_rtt == 0 || R->mode != M_PROBE_BW || R->lt_bw > 0)
		R->qhigh = R->qlow = 0;
	else if (R->q_min > R->min_rtt + q) {
		R->qlow = 0;
		if (R->qhigh++ == 0)
			R->q_lost = R->q_lost0;
		if (R->qhigh >= Q_ENTER || (R->qhigh >= Q_ENTER_LOSS &&
		    R->lost_total > R->q_lost))
			R->compete = 1;
	} else {
		R->qhigh = 0;
		if (++R->qlow >= Q_LEAVE)
			R->compete = 0;
	}
	R->q_min = 0;
	R->q_round = R->round;
	R->q_at = now_us;
	R->q_lost0 = R->lost_total;
}

/*
 * RTT samples in startup more than an eighth of the least (4 to 16 ms)
 * above it, and nothing less, for a quarter of the least RTT: a queue is
 * building (as HyStart++), so the rate delivered is the bottleneck's
 * already; startup ends then, not a round later. One late burst of acks
 * (a peer that was not scheduled) is not a queue.
 */
static void
check_delay(struct rel *R, int64_t rtt, int64_t now_us)
{
	int64_t grow = R->min_rtt / 8;

	grow = grow < 4000 ? 4000 : grow > 16000 ? 16000 : grow;
	if (R->filled || R->min_rtt == 0 || rtt <= R->min_rtt + grow)
		R->delay_since = 0;
	else if (R->delay_since == 0)
		R->delay_since = now_us;
	else if (now_us - R->delay_since >= R->min_rtt / 4)
		R->filled = 1;
}

/*
 * Once per round: has the rate stopped growing (by 25% in 3 rounds), or
 * did more than 2% of a round's packets get lost while the RTT grew by a
 * quarter (a queue overflowing: random loss alone does not end it)?
 */
static void
check_full(struct rel *R)
{
	uint32_t lost = R->rnd_lost, acked = R->rnd_acked;

	R->rnd_lost = R->rnd_acked = 0;
	if (R->filled)
		return;
	if (lost * 50 > acked + lost && R->rack_rtt > R->min_rtt * 5 / 4) {
		R->filled = 1;
		return;
	}
	if (R->btlbw >= R->full_bw * 1.25) {
		R->full_bw = R->btlbw;
		R->full_cnt = 0;
	} else if (++R->full_cnt >= 3)
		R->filled = 1;
}

/* BBR's states: startup, drain, probing the rate, probing the delay. */
static void
bbr_update(struct rel *R, int new_round, int64_t now_us)
{
	if (new_round) {
		check_full(R);
		lt_sample(R, now_us);
	}
	if (R->mode == M_STARTUP && R->filled)
		set_mode(R, M_DRAIN, now_us);
	if (R->mode == M_DRAIN && R->inflight <= bdp(R))
		set_mode(R, M_PROBE_BW, now_us);
	if (R->mode == M_PROBE_BW && now_us - R->cycle_at > R->min_rtt &&
	    (R->pacing_gain <= 1 || R->inflight >= R->pacing_gain * bdp(R) ||
	    now_us - R->cycle_at > 2 * R->min_rtt)) {
		R->cycle = (R->cycle + 1) % NCYCLE;
		R->pacing_gain = cycle_gain[R->cycle];
		R->cycle_at = now_us;
	}
	if (R->mode != M_PROBE_RTT && R->min_rtt > 0 &&
	    now_us - R->min_rtt_at > MINRTT_US) {
		R->prior_cwnd = R->cwnd;
		R->mode = M_PROBE_RTT;
		R->pacing_gain = 1;
		R->probe_rtt_end = 0;
		R->min_rtt = 0;		/* the next samples set it anew */
	}
	if (R->mode == M_PROBE_RTT) {
		if (R->probe_rtt_end == 0 && R->inflight <= CWND_MIN)
			R->probe_rtt_end = now_us + PROBE_RTT_US;
		if (R->probe_rtt_end != 0 && now_us >= R->probe_rtt_end) {
			R->min_rtt_at = now_us;
			R->cwnd = R->prior_cwnd;
			set_mode(R, R->filled ? M_PROBE_BW : M_STARTUP, now_us);
		}
	}
}

/* The window: the gain times the BDP; grown by what was acked. */
static void
cwnd_update(struct rel *R, uint32_t acked)
{
	double target = cwnd_gain(R) * bdp(R) + 16;

	if (R->mode == M_PROBE_RTT) {
		R->cwnd = CWND_MIN;
		return;
	}
	if (!R->filled || R->cwnd < target)
		R->cwnd += acked;
	if (R->filled && R->cwnd > target)
		R->cwnd = target;
	if (R->cwnd < CWND_MIN)
		R->cwnd = CWND_MIN;
	if (R->cwnd > R->smax)
		R->cwnd = R->smax;
}

static void
mark_acked(struct rel *R, uint32_t pn, uint32_t *newly,
    const struct spkt **newest)
{
	struct spkt *sp;

	if ((int32_t)(pn - R->una) < 0 || (int32_t)(pn - R->nxt) >= 0)
		return;
	sp = &R->s[pn % R->scap];
	if (sp->acked)
		return;
	sp->acked = 1;
	if (sp->lost) {
		sp->lost = 0;
		R->nlost--;
	}
	if (sp->inflight) {
		sp->inflight = 0;
		R->inflight--;
	}
	R->delivered++;
	R->bytes_acked += sp->len;
	(*newly)++;
	if (*newest == NULL || sp->sseq > (*newest)->sseq)
		*newest = sp;
}

/*
 * RACK: lost, what was sent before a packet that arrived and is older
 * than that packet's RTT plus a reordering window of min RTT / 4.
 * Notes when to look again for those not old enough yet.
 */
static void
detect_loss(struct rel *R, int64_t now_us)
{
	int64_t reo = R->min_rtt / 4 + 500, due;
	uint32_t pn;
	struct spkt *sp;

	R->rack_check_at = 0;
	if (R->rack_sseq == 0)
		return;
	for (pn = R->una; pn != R->nxt; pn++) {
		sp = &R->s[pn % R->scap];
		if (sp->acked || sp->lost || !sp->inflight)
			continue;
		if (sp->sseq >= R->rack_sseq) {
			if (!sp->retx)
				break;	/* first sends from here on: all later */
			continue;
		}
		due = sp->sent_us + R->rack_rtt + reo;
		if (now_us >= due) {
			sp->lost = 1;
			sp->inflight = 0;
			R->inflight--;
			R->nlost++;
			R->rnd_lost++;
			R->lost_total++;
		} else if (R->rack_check_at == 0 || due < R->rack_check_at)
			R->rack_check_at = due;
	}
}

static void
on_rack(struct rel *R, struct rd *rd, int64_t now_us)
{
	struct rack k;
	uint32_t newly = 0, pn, a, b;
	const struct spkt *newest = NULL;
	uint64_t round = R->round;
	int i;

	if (rd_rack(rd, &k) == -1 || (int32_t)(k.cum - R->nxt) > 0)
		return;		/* malformed, or acks what was never sent */
	if ((int32_t)(k.limit - R->peer_limit) > 0)
		R->peer_limit = k.limit;
	for (pn = R->una; (int32_t)(pn - k.cum) < 0; pn++)
		mark_acked(R, pn, &newly, &newest);
	for (i = 0; i < k.n; i++) {
		a = k.sack[i][0];
		b = k.sack[i][1];
		if ((int32_t)(b - a) <= 0 || (int32_t)(a - R->una) < 0 ||
		    (int32_t)(b - R->nxt) > 0)
			continue;
		for (pn = a; pn != b; pn++)
			mark_acked(R, pn, &newly, &newest);
	}
	if (newly == 0) {
		while (R->una != R->nxt && R->s[R->una % R->scap].acked)
			R->una++;
		return;
	}
	if (k.ts != 0) {
		int64_t rtt = (int64_t)(uint32_t)((uint32_t)now_us - k.ts);

		rtt_sample(R, rtt, now_us);
		check_delay(R, rtt, now_us);
		queue_check(R, rtt, now_us);
	}
	R->deliv_us = now_us;
	R->rnd_acked += newly;
	if (newest->sseq > R->rack_sseq) {
		R->rack_sseq = newest->sseq;
		R->rack_sent_us = newest->sent_us;
		R->rack_rtt = now_us - newest->sent_us;
	}
	rate_sample(R, newest, now_us);
	while (R->una != R->nxt && R->s[R->una % R->scap].acked)
		R->una++;
	bbr_update(R, R->round != round, now_us);
	cwnd_update(R, newly);
	R->tlp_sent = 0;
	R->rto_at = R->una == R->nxt ? 0 : now_us + R->rto;
	detect_loss(R, now_us);
}

/* ---- receiving ---- */

/*
 * The head of the receive queue: a FIN ends stdout's stream; with stdout
 * gone, data is dropped as it comes in order. Data for stdout waits.
 */
static void
head(struct rel *R)
{
	struct rpkt *rp;

	while ((rp = &R->r[R->rcv % R->rcap])->have) {
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
 * In-order bytes for stdout, up to room bytes (what stdout takes without
 * blocking), in at most max iovecs. Returns how many; 0: nothing now.
 */
int
rel_output(struct rel *R, struct iovec *iov, int max, size_t room)
{
	struct rpkt *rp;
	uint32_t pn;
	size_t k;
	int n = 0;

	if (!R->out_open)
		return 0;
	for (pn = R->rcv; n < max && room > 0; pn++) {
		rp = &R->r[pn % R->rcap];
		if (!rp->have || rp->fin || pn - R->rcv >= R->rcap)
			break;
		k = (size_t)(rp->len - rp->off);
		if (k > room)
			k = room;
		iov[n].iov_base = R->rdata[pn % R->rcap] + rp->off;
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

	while (n > 0 && (rp = &R->r[R->rcv % R->rcap])->have && !rp->fin) {
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

/* The peer's stream has ended, and all of it went to stdout. */
int
rel_out_ended(const struct rel *R)
{
	return R->peer_fin_done;
}

static void
on_rdata(struct rel *R, struct rd *rd)
{
	struct rdata m;
	uint32_t pn, d, cap;
	struct rpkt *rp;

	if (rd_rdata(rd, &m) == -1)
		return;
	pn = m.pn;
	R->ack_pending = 1;
	if ((int32_t)(pn - R->rcv) < 0 || (d = pn - R->rcv) >= R->rmax)
		return;		/* a duplicate, or beyond what we offered */
	for (cap = R->rcap; d >= cap; cap *= 2)
		;
	if (cap != R->rcap && rring_grow(R, cap) == -1)
		return;		/* no memory: as if lost */
	rp = &R->r[pn % R->rcap];
	if (!rp->have) {
		rp->have = 1;
		rp->fin = (m.flags & RDATA_FIN) != 0;
		rp->len = (uint16_t)m.len;
		rp->off = 0;
		memcpy(R->rdata[pn % R->rcap], m.data, m.len);
	}
	R->ts_echo = m.ts;
	if (R->nrecent == RACK_SACK)
		memmove(R->recent, R->recent + 1,
		    (RACK_SACK - 1) * sizeof(R->recent[0]));
	else
		R->nrecent++;
	R->recent[R->nrecent - 1] = pn;
	if ((int32_t)(pn + 1 - R->high) > 0)
		R->high = pn + 1;
	if ((int32_t)(R->cum - R->rcv) < 0)
		R->cum = R->rcv;
	while (R->cum != R->rcv + R->rcap && R->r[R->cum % R->rcap].have)
		R->cum++;
	if ((int32_t)(R->high - R->cum) < 0)
		R->high = R->cum;
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

/* ---- timers ---- */

/*
 * Nothing came back for an RTO. The first time a tail loss probe: the
 * newest packet in flight again, whose ack shows what is lost. Then the
 * timeout: all in flight is lost, the window drops to its least.
 */
static void
rto_fire(struct rel *R, int64_t now_us)
{
	struct spkt *sp;
	uint32_t pn;

	if (R->rto_at == 0 || now_us < R->rto_at || R->una == R->nxt)
		return;
	if (!R->tlp_sent) {
		R->tlp_sent = 1;
		for (pn = R->nxt; pn != R->una; pn--) {
			sp = &R->s[(pn - 1) % R->scap];
			if (!sp->acked) {
				send_pkt(R, sp, now_us);
				break;
			}
		}
		R->rto_at = now_us + R->rto;
		return;
	}
	for (pn = R->una; pn != R->nxt; pn++) {
		sp = &R->s[pn % R->scap];
		if (!sp->acked && sp->inflight) {
			sp->inflight = 0;
			sp->lost = 1;
			R->nlost++;
			R->lost_total++;
		}
	}
	R->inflight = 0;
	sp = &R->s[R->una % R->scap];
	if (sp->lost)
		send_pkt(R, sp, now_us);	/* the oldest, at once */
	R->rto = R->rto * 2 > RTO_MAX * 1000 ? RTO_MAX * 1000 : R->rto * 2;
	R->rto_at = now_us + R->rto;
	R->cwnd = CWND_MIN;
}

/* Milliseconds until rel_tick() wants to run; -1: no timer of its own. */
int64_t
rel_next(const struct rel *R, int64_t now_us)
{
	int64_t t = -1;

	if (R->rto_at && (t = (R->rto_at - now_us) / 1000 + 1) < 0)
		t = 0;
	/* In flight, or pacing holds stdin back: look again soon. */
	if ((R->una != R->nxt || (R->in_open && !R->fin_sent &&
	    window_open(R) && !rel_wants_input(R, now_us))) &&
	    (t < 0 || t > 1))
		t = 1;
	return t;
}

/* The timers: losses by time, retransmissions, the FIN, a pending ack. */
void
rel_tick(struct rel *R, int64_t now_us)
{
	head(R);
	if (R->rack_check_at && now_us >= R->rack_check_at)
		detect_loss(R, now_us);
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

/*
 * How long to answer resends once done: our last ack may be lost, and
 * the peer, which cannot end well without it, resends its FIN on a timer
 * that doubles. Four of its resends (1 + 2 + 4 + 8 timeouts of about
 * ours) must fit, so that only four lost acks in a row end it badly;
 * 3 rto was one resend, and under load the peer's often came later.
 */
int64_t
rel_linger(const struct rel *R)
{
	int64_t ms = 15 * R->rto / 1000;

	return ms < 200 ? 200 : ms > 3000 ? 3000 : ms;
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

/*
 * A transport for a punched path: our id, -d, and the memory budget in
 * bytes (0: REL_BUDGET), half for each direction's ring.
 */
struct rel *
rel_new(uint64_t id, int nostdin, size_t budget, int64_t now_us)
{
	struct rel *R;

	if ((R = calloc(1, sizeof(*R))) == NULL)
		return NULL;
	if (budget == 0)
		budget = REL_BUDGET;
	R->smax = ring_max(budget / 2, sizeof(struct spkt) + sizeof(pbuf));
	R->rmax = ring_max(budget / 2, sizeof(struct rpkt) + sizeof(pbuf));
	R->scap = R->rcap = WIN_MIN;
	R->s = calloc(WIN_MIN, sizeof(*R->s));
	R->sd = malloc(WIN_MIN * sizeof(*R->sd));
	R->r = calloc(WIN_MIN, sizeof(*R->r));
	R->rdata = malloc(WIN_MIN * sizeof(*R->rdata));
	if (R->s == NULL || R->sd == NULL || R->r == NULL ||
	    R->rdata == NULL) {
		rel_free(R);
		return NULL;
	}
	R->id = id;
	R->nostdin = nostdin;
	R->in_open = !nostdin;
	R->out_open = 1;
	R->cwnd = 10;
	R->rto = 200 * 1000;
	R->peer_limit = WIN_MIN;
	R->pace_us = R->deliv_us = R->first_us = now_us;
	lt_restart(R, now_us);
	set_mode(R, M_STARTUP, now_us);
	return R;
}

/*
 * The session moved to another path (relay, then direct): its rate and
 * delay are not the old one's, so the estimates start anew, from
 * startup, as RFC 9000 9.4 resets a migrated connection's. What is in
 * flight stays: acked or found lost as before (the RTO and RACK keep
 * the old path's RTT, which is no shorter than what is in flight needs).
 */
void
rel_newpath(struct rel *R, int64_t now_us)
{
	memset(R->bw, 0, sizeof(R->bw));
	R->btlbw = R->full_bw = 0;
	R->lt_bw = R->lt_last = 0;
	R->lt_hold = 0;
	lt_restart(R, now_us);
	R->full_cnt = R->filled = 0;
	R->delay_since = 0;
	R->min_rtt = 0;
	R->min_rtt_at = now_us;
	R->round_end = R->delivered;
	R->compete = R->qhigh = R->qlow = 0;
	R->q_min = 0;		/* the old path's RTTs are not this one's */
	if (R->mode == M_PROBE_RTT)
		R->cwnd = R->prior_cwnd;
	if (R->cwnd < 10)
		R->cwnd = 10;
	set_mode(R, M_STARTUP, now_us);
}

void
rel_report(const struct rel *R)
{
	long long rate10 = (long long)(R->btlbw * REL_PAYLOAD * 10 + 0.5);

	vlog("reliable session: %llu bytes sent and acknowledged, %llu "
	    "received and written, srtt %lld us, min %lld us, rate %lld.%lld "
	    "MB/s, cwnd %lld, %llu packets sent again",
	    (unsigned long long)R->bytes_acked,
	    (unsigned long long)R->bytes_out, (long long)R->srtt,
	    (long long)R->min_rtt, rate10 / 10, rate10 % 10,
	    (long long)(R->cwnd + 0.5),	/* integers, as human() */
	    (unsigned long long)R->resent);
	if (R->lt_found > 0)
		vlog("reliable session: a rate limit that drops what is over "
		    "it (a policer) seen %u time(s); paced at its rate",
		    R->lt_found);
}

void
rel_free(struct rel *R)
{
	if (R == NULL)
		return;
	free(R->s);
	free(R->sd);
	free(R->r);
	free(R->rdata);
	free(R);
}
