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
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
	struct punch	*p;
	int		 nostdin;
	int64_t		 keepalive, dead;
	int64_t		 last_rx, last_tx;
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
	int64_t		 quiet_since;
	const struct sess *S;
	struct ends	 ends;		/* -q, -w, -v's progress */
};

static void
rsend(struct rel *R, unsigned char *buf, size_t len)
{
	struct punch *p = R->p;

	len = auth_seal(&p->auth, buf, len);	/* -K: buf has room for it */
	(void)punch_send(p, buf, len);
	R->last_tx = now_ms();
}

/* An ack: cum, limit, the newest send time seen, SACK ranges above cum. */
static void
send_ack_r(struct rel *R)
{
	unsigned char buf[HDR_LEN + 13 + 8 * MAX_SACK + AUTH_TRAILER];
	struct wr w;
	uint32_t pn, end = R->rcv + RWIN, start;
	int n = 0;
	size_t nat;

	wr_init(&w, buf, sizeof(buf));
	wr_hdr(&w, T_RACK, R->p->id);
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
	rsend(R, buf, w.len);
	R->ack_pending = 0;
}

static void
send_pkt(struct rel *R, struct spkt *sp, int64_t now_us)
{
	unsigned char buf[HDR_LEN + 9 + MAX_PAYLOAD + AUTH_TRAILER];
	struct wr w;

	wr_init(&w, buf, sizeof(buf));
	wr_hdr(&w, T_RDATA, R->p->id);
	wr_u32(&w, sp->pn);
	wr_u32(&w, (uint32_t)now_us);
	wr_u8(&w, sp->fin ? F_FIN : 0);
	wr_bytes(&w, sp->data, sp->len);
	rsend(R, buf, w.len);
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
static int
pace_take(struct rel *R, int64_t now_us)
{
	double burst = R->cwnd / 4 > 16 ? R->cwnd / 4 : 16;
	int64_t srtt = R->srtt > 50 ? R->srtt : 50;

	R->tokens += (double)(now_us - R->pace_us) * R->cwnd / (double)srtt;
	R->pace_us = now_us;
	if (R->tokens > burst)
		R->tokens = burst;
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

/* Retransmit what is lost, then send new data while the window lets. */
static void
sender_push(struct rel *R, int64_t now_us)
{
	unsigned char data[MAX_PAYLOAD];
	struct spkt *sp;
	uint32_t pn;
	ssize_t n;

	for (pn = R->una; pn != R->nxt; pn++) {
		sp = &R->s[pn % RWIN];
		if (sp->lost && !sp->acked) {
			if (R->inflight >= (uint32_t)R->cwnd ||
			    !pace_take(R, now_us))
				return;
			send_pkt(R, sp, now_us);
		}
	}
	while (window_open(R) && !R->fin_sent) {
		if (R->in_open) {
			struct pollfd pfd = { STDIN_FILENO, POLLIN, 0 };

			if (poll(&pfd, 1, 0) <= 0)
				return;		/* nothing to send now */
			if (!pace_take(R, now_us))
				return;
			n = read(STDIN_FILENO, data, sizeof(data));
			if (n == -1 && (errno == EINTR || errno == EAGAIN))
				return;
			if (n <= 0) {
				R->in_open = 0;
				R->ends.eof_at = now_ms();
				continue;
			}
		} else if (!R->nostdin || R->peer_fin_done) {
			n = 0;		/* the FIN, after all data */
			if (!pace_take(R, now_us))
				return;
		} else
			return;
		sp = &R->s[R->nxt % RWIN];
		memset(sp, 0, offsetof(struct spkt, data));
		sp->pn = R->nxt++;
		sp->len = (uint16_t)n;
		memcpy(sp->data, data, (size_t)n);
		if (n == 0) {
			sp->fin = 1;
			R->fin_sent = 1;
			R->fin_pn = sp->pn;
		}
		R->bytes_read += (uint64_t)n;
		send_pkt(R, sp, now_us);
	}
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

/* Move in-order packets to stdout; returns -1 if stdout broke. */
static int
deliver(struct rel *R)
{
	struct rpkt *rp;
	ssize_t n;
	size_t k;

	while ((rp = &R->r[R->rcv % RWIN])->have) {
		if (rp->fin) {
			if (!R->S->keep)	/* -k: the next session's */
				close(STDOUT_FILENO);
			R->out_open = 0;
			R->peer_fin_done = 1;
			rp->have = 0;
			R->rcv++;
			return 0;
		}
		if (rp->off < rp->len && R->out_open) {
			struct pollfd pfd = { STDOUT_FILENO, POLLOUT, 0 };

			if (poll(&pfd, 1, 0) <= 0)
				return 0;	/* stdout full: back-pressure */
			k = rp->len - rp->off;
			if (k > PIPE_BUF)
				k = PIPE_BUF;
			n = write(STDOUT_FILENO, rp->data + rp->off, k);
			if (n == -1) {
				if (errno == EAGAIN || errno == EINTR)
					return 0;
				R->out_open = 0;	/* reader gone */
				continue;
			}
			rp->off += (uint16_t)n;
			R->bytes_out += (uint64_t)n;
			if (rp->off < rp->len)
				continue;
		}
		rp->have = 0;
		R->rcv++;
		R->ack_pending = 1;	/* the limit moved */
	}
	return 0;
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

static void
rel_input(struct rel *R, const unsigned char *buf, size_t len,
    const struct ep *from, int64_t now)
{
	struct punch *p = R->p;
	const unsigned char *in = buf;
	size_t inlen = len;
	struct rd rd;
	int version, type;
	uint64_t id;

	/* Relayed: the peer's datagram is inside (punch_input unwraps too). */
	(void)punch_unwrap(p, &in, &inlen, from);
	rd_init(&rd, in, inlen);
	if (rd_hdr(&rd, &version, &type, &id) == -1 ||
	    version != PROTO_VERSION)
		return;
	if (type < T_DATA) {		/* late probes, nominations */
		(void)punch_input(p, buf, len, from, -1, now);
		return;
	}
	if (!ep_equal(from, &p->peer) || id != p->peer_id)
		return;		/* not our peer: ignored */
	if (p->auth.on) {
		long n = auth_open(&p->auth, in, inlen);

		if (n < 0)
			return;		/* forged or replayed: counted */
		rd_init(&rd, in + HDR_LEN, (size_t)n - HDR_LEN);
	}
	if (type == T_RDATA)
		on_rdata(R, &rd);
	else if (type == T_RACK)
		on_rack(R, &rd, now_us());
	else if (type != T_KEEPALIVE)
		return;		/* -R and plain UDP do not mix */
	R->last_rx = now;
	R->quiet_since = now;
}

static int
done_both(const struct rel *R)
{
	return R->fin_sent && R->una == R->nxt && R->peer_fin_done;
}

/* Timers: retransmission timeout and keepalive. */
static void
rel_timers(struct rel *R, int64_t now, int64_t now_us)
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
	if (now - R->last_tx >= R->keepalive)
		send_ack_r(R);
}

static int
rel_timeout(const struct rel *R, int64_t now, int64_t now_us)
{
	int64_t t = R->keepalive - (now - R->last_tx);

	if (R->dead - (now - R->last_rx) < t)
		t = R->dead - (now - R->last_rx);
	if (R->rto_at && (R->rto_at - now_us) / 1000 + 1 < t)
		t = (R->rto_at - now_us) / 1000 + 1;
	/* Packets in flight: loss and pacing timers, look again soon. */
	if (R->una != R->nxt && t > 1)
		t = 1;
	return t < 0 ? 0 : (int)t;
}

/*
 * The -R session, from a punched path in p to the end. Returns 0 when
 * everything sent was acknowledged and everything received was written,
 * -1 with why set otherwise.
 */
int
rel_run(struct punch *p, const struct sess *S, char *why, size_t whylen)
{
	struct rel *R;
	unsigned char buf[MAX_DGRAM + 1];
	struct pollfd pfd[3];
	struct ep from;
	int64_t now, now_u, linger = 0;
	ssize_t n;
	int i, rc = 0;

	if ((R = calloc(1, sizeof(*R))) == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	R->p = p;
	R->S = S;
	R->nostdin = S->nostdin;
	R->in_open = !S->nostdin;
	R->out_open = 1;
	R->keepalive = S->keepalive;
	R->dead = 4 * S->keepalive;
	R->cwnd = 10;
	R->ssthresh = RWIN;
	R->rto = 200 * 1000;
	R->peer_limit = RWIN;
	R->last_rx = R->last_tx = R->quiet_since = now_ms();
	ends_start(&R->ends, R->last_rx);
	R->pace_us = now_us();
	for (;;) {
		now = now_ms();
		now_u = now_us();
		(void)punch_tick(p, now);	/* "taken" repeats */
		if (deliver(R) == -1)
			break;
		rel_timers(R, now, now_u);
		sender_push(R, now_u);
		if (R->ack_pending)
			send_ack_r(R);
		if (ends_due(&R->ends, S, now, R->bytes_read, R->bytes_out,
		    R->srtt))
			break;
		if (done_both(R)) {
			/* Linger: our last ack may be lost; answer resends. */
			if (linger == 0)
				linger = 3 * R->rto / 1000 > 100 ?
				    3 * R->rto / 1000 : 100;
			if (now - R->quiet_since >= linger)
				break;
		}
		if (now - R->last_rx >= R->dead) {
			snprintf(why, whylen, "peer silent for %lld s; %llu "
			    "byte(s) sent were not confirmed",
			    (long long)(now - R->last_rx) / 1000,
			    (unsigned long long)(R->bytes_read -
			    R->bytes_acked));
			rc = -1;
			break;
		}
		pfd[0].fd = p->fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = R->in_open && window_open(R) ? STDIN_FILENO : -1;
		pfd[1].events = POLLIN;
		pfd[2].fd = R->out_open && R->r[R->rcv % RWIN].have ?
		    STDOUT_FILENO : -1;
		pfd[2].events = POLLOUT;
		i = (int)ends_next(&R->ends, S, now,
		    rel_timeout(R, now, now_u));
		if (done_both(R) && linger - (now - R->quiet_since) < i)
			i = (int)(linger - (now - R->quiet_since));
		if (poll(pfd, 3, i < 0 ? 0 : i) == -1 && errno != EINTR) {
			snprintf(why, whylen, "poll: %s", strerror(errno));
			rc = -1;
			break;
		}
		now = now_ms();
		for (i = 0; i < 64; i++) {
			from.len = sizeof(from.u);
			n = recvfrom(p->fd, buf, sizeof(buf), 0, &from.u.sa,
			    &from.len);
			if (n == -1 && (errno == ECONNREFUSED ||
			    errno == EHOSTUNREACH || errno == ENETUNREACH))
				continue;
			if (n == -1 || n > MAX_DGRAM)
				break;
			rel_input(R, buf, (size_t)n, &from, now);
		}
	}
	vlog("reliable session: %llu bytes sent and acknowledged, %llu "
	    "received and written, srtt %lld us, cwnd %.0f",
	    (unsigned long long)R->bytes_acked,
	    (unsigned long long)R->bytes_out, (long long)R->srtt, R->cwnd);
	free(R);
	return rc;
}
