/*
 * pnc - netcat for peer-to-peer: rendezvous, UDP hole punching, relay.
 *
 * What the files share: the wire format (protocol version 1, documented
 * in README), the punch state, and the helpers in util.c.
 */
#ifndef PNC_H
#define PNC_H

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stddef.h>
#include <poll.h>
#include <stdint.h>


#define PNC_VERSION	"0.1"
#define PNC_PORT	"7321"	/* default mediator port */

/* Exit statuses, a contract with scripts. */
#define EX_OK		0
#define EX_FAIL		1	/* punch or session failed */
#define EX_USAGE	2	/* bad command line */

/* ---- wire format, protocol version 1 (README "Wire protocol") ---- */

#define PROTO_VERSION	2
#define MAGIC0		'P'
#define MAGIC1		'N'
#define HDR_LEN		12	/* magic(2) version(1) type(1) id(8) */
#define NAME_MAX_LEN	64
#define MAX_LOCALS	8	/* local candidates a client may announce */
#define EP_MAX_LEN	19	/* family(1) port(2) address(16) */
#define MAX_PAYLOAD	1200	/* data bytes per datagram: no IP fragments */
#define MAX_DGRAM	1500	/* anything longer is oversized */
#define REQ_MIN		64	/* REGISTER and BIND are padded to this, so
				   that no answer to them is larger */
#define COOKIE_LEN	8

/* Client <-> mediator. */
#define T_REGISTER	0x01	/* role(1) namelen(1) name n(1) ep*n
				   cookie(8) zero padding */
#define T_REGISTERED	0x02	/* ep(you) ttl(2) cookie(8); ttl 0: not yet,
				   send REGISTER again with this cookie */
#define T_PEER		0x03	/* flags(1) ttl(1) peerid(8) ep(you) ep(peer)
				   n(1) ep*n */
#define T_PEERACK	0x04	/* role(1) namelen(1) name flags(1) */
#define T_ERROR		0x05	/* code(1) len(1) text */
#define T_BIND		0x06	/* tx(4) flags(1) zero padding: NAT check */
#define T_BOUND		0x07	/* tx(4) flags(1) ep(you) n(1) ep*n */

/* Peer <-> peer. */
#define T_PROBE		0x10	/* toid(8) flags(1) tx(4) */
#define T_ACK		0x11	/* toid(8) flags(1) tx(4) ep(seen) */
#define T_DATA		0x20	/* seq(4) payload */
#define T_EOF		0x21	/* count(4): data datagrams sent */
#define T_EOFACK	0x22	/* count(4) */
#define T_KEEPALIVE	0x23	/* nothing */
#define T_RDATA		0x24	/* -R: pn(4) ts(4) flags(1: FIN) payload */
#define T_RACK		0x25	/* -R: cum(4) limit(4) ts(4) n(1) [a(4) b(4)]*n */
#define T_THELLO	0x30	/* TCP: toid(8), first on a new connection */
#define T_TUSE		0x31	/* TCP: (controlling) this connection */

/* Relay (mediate -r), client <-> mediator. */
#define T_RELAY		0x40	/* hdr(sender) then a whole peer datagram */
#define T_RELAYREQ	0x41	/* role(1) namelen(1) name flags(1) */
#define T_RELAYOK	0x42	/* nothing: relaying for this rendezvous */

#define PF_NOMINATE	0x01	/* probe/ack flag: use this path */
#define PF_RELIABLE	0x02	/* ... the sender runs -R */
#define PEER_CONTROLLING 0x01	/* T_PEER flags: you pick the path */
#define PEER_YOU_EPDEP	0x02	/* your NAT maps endpoint-dependently */
#define PEER_THEY_EPDEP	0x04	/* the peer's does */
#define PEER_READY	0x08	/* the peer has its introduction */
#define PEER_RELAY	0x10	/* the mediator would relay (mediate -r) */
#define BIND_OTHER_PORT	0x01	/* T_BIND: answer from port P+1 */
#define BIND_OTHER_ADDR	0x02	/* ... from the other address */

#define ROLE_PUNCH	1
#define ROLE_LISTEN	2
#define ROLE_CONNECT	3

#define E_VERSION	1	/* error codes in T_ERROR */
#define E_FULL		2
#define E_BUSY		3
#define E_RATE		4
#define E_RELAY		5	/* no relay: off, or full */

/* Timers, in milliseconds. */
#define REG_REFRESH	10000	/* re-register while waiting for a peer */
#define REG_TTL		30	/* seconds a registration lives unrefreshed */
#define KEEPALIVE_MS	15000	/* default; PNC_KEEPALIVE overrides */

/* -K: what authentication adds to messages (README "Authentication"). */
#define NONCE_LEN	16
#define MAC_LEN		16	/* HMAC-SHA256, truncated */
#define AUTH_HS		(2 * NONCE_LEN + MAC_LEN)	/* on PROBE and ACK */
#define AUTH_TRAILER	(8 + MAC_LEN)	/* seq(8) mac on session messages */
#define KEY_MAX		65536	/* bytes of key material read */
#define REPLAY_WIN	256	/* sequence numbers remembered below the top */

/* ---- crypto.c: SHA-256, HMAC-SHA256, SipHash-2-4 ---- */

#define SHA256_LEN	32	/* digest and HMAC tag, bytes */
#define SHA256_BLOCK	64	/* block size, bytes; also HMAC's B */

struct sha256 {
	uint32_t	h[8];		/* chaining state */
	uint64_t	len;		/* bytes hashed so far */
	unsigned char	buf[64];	/* partial block */
	size_t		nbuf;		/* bytes in buf, always < 64 */
};

struct hmac_sha256 {
	struct sha256	inner, outer;	/* keyed with K^ipad, K^opad */
};

void	sha256_init(struct sha256 *);
void	sha256_update(struct sha256 *, const void *, size_t);
void	sha256_final(struct sha256 *, unsigned char [32]);

void	hmac_sha256(const void *, size_t, const void *, size_t,
	    unsigned char [32]);
void	hmac_init(struct hmac_sha256 *, const void *, size_t);
void	hmac_update(struct hmac_sha256 *, const void *, size_t);
void	hmac_final(struct hmac_sha256 *, unsigned char [32]);

int	ct_equal(const void *, const void *, size_t);

uint64_t siphash24(const uint64_t [2], const void *, size_t);

/*
 * Issue 15's primitives (crypto.c, second part): SHA-512, HMAC-SHA-512,
 * HKDF-SHA-512, X25519, the Elligator 2 map, CPace (CPACE-X25519-SHA512),
 * ChaCha20, Poly1305 and the ChaCha20-Poly1305 AEAD. Constant time in
 * every secret input; the _final and _finish functions wipe their state.
 */
#define SHA512_LEN	64	/* digest and HMAC tag, bytes */
#define SHA512_BLOCK	128	/* block size; HMAC's B, CPace's s_in_bytes */

struct sha512 {
	uint64_t	h[8];		/* chaining state */
	uint64_t	len;		/* bytes hashed so far */
	unsigned char	buf[128];	/* partial block */
	size_t		nbuf;		/* bytes in buf, always < 128 */
};

struct hmac_sha512 {
	struct sha512	inner, outer;	/* keyed with K^ipad, K^opad */
};

void	crypto_wipe(void *, size_t);

void	sha512_init(struct sha512 *);
void	sha512_update(struct sha512 *, const void *, size_t);
void	sha512_final(struct sha512 *, unsigned char [64]);
void	sha512(const void *, size_t, unsigned char [64]);

void	hmac_sha512_init(struct hmac_sha512 *, const void *, size_t);
void	hmac_sha512_update(struct hmac_sha512 *, const void *, size_t);
void	hmac_sha512_final(struct hmac_sha512 *, unsigned char [64]);
void	hmac_sha512(const void *, size_t, const void *, size_t,
	    unsigned char [64]);

/* salt, ikm -> prk; prk, info -> out (-1 if outlen > 255 * 64); both. */
void	hkdf_sha512_extract(const void *, size_t, const void *, size_t,
	    unsigned char [64]);
int	hkdf_sha512_expand(const void *, size_t, const void *, size_t,
	    unsigned char *, size_t);
int	hkdf_sha512(const void *, size_t, const void *, size_t,
	    const void *, size_t, unsigned char *, size_t);

#define X25519_LEN	32
/* out = X25519(scalar, u); -1 (out all zero) if u is of low order. */
int	x25519(unsigned char [32], const unsigned char [32],
	    const unsigned char [32]);
void	x25519_base(unsigned char [32], const unsigned char [32]);
/* RFC 9380 map_to_curve_elligator2 on curve25519: field element -> u. */
void	elligator2_25519(unsigned char [32], const unsigned char [32]);

#define CPACE_SHARE_LEN	32	/* Ya or Yb on the wire */
#define CPACE_ISK_LEN	64	/* the intermediate session key */
#define CPACE_SID_MAX	64	/* longest sid a context keeps */
#define CPACE_AD_MAX	256	/* longest ADa or ADb */

enum { CPACE_INITIATOR, CPACE_RESPONDER, CPACE_SYMMETRIC };

/* CPace's inputs: PRS (secret), CI (not sent), sid, and our AD (sent). */
struct cpace_in {
	const void	*prs, *ci, *sid, *ad;
	size_t		 prslen, cilen, sidlen, adlen;
};

struct cpace {
	unsigned char	y[32];			/* secret scalar */
	unsigned char	share[32];		/* our Y */
	unsigned char	sid[CPACE_SID_MAX];
	unsigned char	ad[CPACE_AD_MAX];	/* our AD */
	size_t		sidlen, adlen;
	int		role;			/* CPACE_INITIATOR... */
};

/*
 * cpace_init draws the scalar and writes our share (cpace_start takes the
 * scalar: tests); cpace_finish takes the peer's share and AD, writes ISK
 * and returns 0, or -1 on a low-order share; it wipes the context either
 * way (a run given up before it: crypto_wipe the context).
 */
void	cpace_generator(unsigned char [32], const struct cpace_in *);
int	cpace_init(struct cpace *, int, const struct cpace_in *,
	    unsigned char [32]);
int	cpace_start(struct cpace *, int, const struct cpace_in *,
	    const unsigned char [32], unsigned char [32]);
int	cpace_finish(struct cpace *, const unsigned char [32], const void *,
	    size_t, unsigned char [64]);

#define AEAD_KEY_LEN	32
#define AEAD_NONCE_LEN	12
#define AEAD_TAG_LEN	16

void	chacha20_block(unsigned char [64], const unsigned char [32],
	    const unsigned char [12], uint32_t);
void	chacha20_xor(unsigned char *, const unsigned char *, size_t,
	    const unsigned char [32], const unsigned char [12], uint32_t);
void	poly1305(unsigned char [16], const unsigned char *, size_t,
	    const unsigned char [32]);
/* c = ENC(m) || tag (mlen + 16 bytes); open: 0, or -1 with m untouched. */
void	chacha20poly1305_seal(unsigned char *, const unsigned char *, size_t,
	    const unsigned char *, size_t, const unsigned char [12],
	    const unsigned char [32]);
int	chacha20poly1305_open(unsigned char *, const unsigned char *, size_t,
	    const unsigned char *, size_t, const unsigned char [12],
	    const unsigned char [32]);

/* ---- util.c ---- */

/* An endpoint as it travels and as it is compared. */
struct ep {
	union {			/* not sockaddr_storage: 28 bytes, not 128 */
		struct sockaddr		sa;
		struct sockaddr_in	in;
		struct sockaddr_in6	in6;
	} u;
	socklen_t		len;
};

/* A byte cursor for parsing hostile input: every get checks length. */
struct rd {
	const unsigned char	*p;
	size_t			 left;
	int			 bad;	/* a read ran past the end */
};

/* A byte cursor for building messages. */
struct wr {
	unsigned char	*p;
	size_t		 len, cap;
	int		 bad;
};

extern int	verbose;

void		 vlog(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
int64_t		 now_ms(void);
int64_t		 now_us(void);
uint64_t	 random64(void);
int		 parse_port(const char *, int *);
int		 parse_secs(const char *, int64_t *);
int		 resolve(const char *, const char *, int, int, struct ep *);
int		 split_hostport(const char *, const char *, char *, size_t,
		    const char **);
int		 parse_hostport(const char *, const char *, int, struct ep *);
const char	*ep_str(const struct ep *, char *, size_t);
const char	*ep_addr(const struct ep *, char *, size_t);
int		 ep_port(const struct ep *);
int		 ep_equal(const struct ep *, const struct ep *);
int		 ep_equal_addr(const struct ep *, const struct ep *);
int		 ep_is_loopback(const struct ep *);
int		 udp_socket(int, int);
int		 tcp_socket(int, int);
int		 set_ttl(int, int, int);
int		 local_addrs(int, int, struct ep *, int);

void		 rd_init(struct rd *, const void *, size_t);
uint8_t		 rd_u8(struct rd *);
uint16_t	 rd_u16(struct rd *);
uint32_t	 rd_u32(struct rd *);
uint64_t	 rd_u64(struct rd *);
const unsigned char *rd_bytes(struct rd *, size_t);
int		 rd_ep(struct rd *, struct ep *);
void		 wr_init(struct wr *, void *, size_t);
void		 wr_u8(struct wr *, uint8_t);
void		 wr_u16(struct wr *, uint16_t);
void		 wr_u32(struct wr *, uint32_t);
void		 wr_u64(struct wr *, uint64_t);
void		 wr_bytes(struct wr *, const void *, size_t);
void		 wr_ep(struct wr *, const struct ep *);
void		 wr_hdr(struct wr *, int, uint64_t);
int		 rd_hdr(struct rd *, int *, int *, uint64_t *);

/* ---- STUN (RFC 8489 Binding, RFC 5780 CHANGE-REQUEST), util.c ---- */

#define STUN_HDR	20
#define STUN_COOKIE	0x2112a442u
#define STUN_BINDING	0x0001
#define STUN_BINDING_OK	0x0101
#define STUN_CHANGE_IP	0x04	/* CHANGE-REQUEST flags */
#define STUN_CHANGE_PORT 0x02

struct stun {
	int		 type;
	unsigned char	 txid[12];
	int		 fingerprint;	/* the message had a valid one */
	int		 change;	/* CHANGE-REQUEST flags */
	int		 response_port;	/* RESPONSE-PORT, or 0 */
	int		 have_mapped, have_other;
	struct ep	 mapped;	/* XOR-MAPPED-ADDRESS (or MAPPED-) */
	struct ep	 other;		/* OTHER-ADDRESS */
};

int	stun_looks(const unsigned char *, size_t);
int	stun_parse(const unsigned char *, size_t, struct stun *);
size_t	stun_request(const unsigned char *, int, unsigned char *, size_t);
size_t	stun_response(const struct stun *, const struct ep *,
	    const struct ep *, unsigned char *, size_t);

/* ---- punch.c ---- */

#define MAX_CANDS	(2 * MAX_LOCALS + 2)
#define MAX_MEDS	4	/* -m given several times */
#define NSPRAY		256	/* sockets of an endpoint-dependent side */

enum pstate { P_REGISTER, P_PROBE, P_DONE, P_FAILED };

struct auth {
	int		 on;
	struct hmac_sha256 kn;		/* keyed: key and name */
	struct hmac_sha256 ks;		/* keyed: session, once both nonces */
	unsigned char	 nonce[NONCE_LEN], peer_nonce[NONCE_LEN];
	int		 have_peer;	/* peer_nonce known, ks set */
	int		 fresh;		/* the last PROBE/ACK echoed our nonce */
	uint64_t	 tx_seq, rx_top;
	uint64_t	 win[REPLAY_WIN / 64];	/* bit i: rx_top - i seen */
	unsigned long	 badhs;		/* PROBE/ACK failing the check */
	unsigned long	 forged, replayed;	/* session messages dropped */
};

struct cand {
	struct ep	 ep;
	const char	*kind;		/* "public", "local", "peer-reflexive" */
	int		 sock;		/* -1: main socket, else spray index */
	int		 acked;		/* a probe to it was answered */
};

struct punch {
	/* set by the caller */
	int		 role;
	int		 reliable;	/* -R: must match the peer's */
	const char	*name;		/* as sent: a keyed hash with -K */
	const char	*label;		/* as the user gave it */
	const char	*medspec;	/* host[:port]: the first mediator */
	const char	*medspecs[MAX_MEDS];	/* all of them */
	int		 nmeds;
	int		 family;	/* -4, -6: AF_INET(6); else AF_UNSPEC */
	int		 natstun;	/* -S: the NAT check asks STUN servers,
					   which are the "mediators" */
	int		 lport;
	int64_t		 deadline;	/* absolute ms, 0 for none */

	int		 fd;
	struct ep	 med, med_alt;	/* the first mediator's P and P+1 */
	struct ep	 meds[MAX_MEDS][2];	/* every mediator's P and P+1 */
	unsigned char	 cookies[MAX_MEDS][2][COOKIE_LEN];
	int		 med_dead[MAX_MEDS];	/* it refused us */
	struct ep	 self_pub;	/* as the mediator sees us */
	struct ep	 locals[MAX_LOCALS];
	int		 nlocals;
	uint64_t	 id, peer_id;
	int		 controlling;
	enum pstate	 state;
	int64_t		 start, next_tx, txgap, peer_at;
	int64_t		 med_seen;	/* last datagram from the mediator */
	int		 warned;
	int		 rate_limited;	/* the mediator said: later */
	int		 med_from;	/* the mediator that introduced the peer */
	int		 relay_offer;	/* it would relay */
	int		 relay_state;	/* 0 no, 1 asked, 2 granted, -1 refused */
	int64_t		 relay_at;	/* when to ask, if no direct path */
	int		 relayed;	/* the session goes through the relay */
	int		 peer_flags;	/* of the last T_PEER, echoed */
	int		 peer_ready;	/* the peer has its introduction */
	int		 heard_peer;	/* a valid probe or ack came */
	int		 ttl_low, ttl_cur;
	int		 epdep_self, epdep_peer;
	struct cand	 cands[MAX_CANDS];
	int		 ncands;
	int		 nominated;	/* index into cands, -1 */
	uint32_t	 tx;
	int64_t		 tx_sent;	/* when probe tx was sent */
	int64_t		 rtt;		/* first measured round trip, ms */
	int		 rounds;
	unsigned	 probes_rx;
	/* birthday method */
	int		 spray[NSPRAY];	/* our sockets, if we are EPDEP */
	int		 nspray;
	int64_t		 spray_next;
	unsigned	 sprayed;	/* probes to random ports of the peer */
	struct ep	 peer;		/* the agreed path */
	int64_t		 done_at;
	struct auth	 auth;
	char		 why[256];	/* reason for P_FAILED */
};

int	punch_init(struct punch *);
int	punch_next(struct punch *, int64_t);
int	punch_tick(struct punch *, int64_t);
int	punch_input(struct punch *, const unsigned char *, size_t,
	    const struct ep *, int, int64_t);
int	punch_pollfds(const struct punch *, struct pollfd *);
int	auth_init(struct punch *, const unsigned char *, size_t, char *,
	    size_t);
ssize_t	punch_send(struct punch *, const void *, size_t);
int	punch_unwrap(const struct punch *, const unsigned char **, size_t *,
	    const struct ep *);
size_t	auth_seal(struct punch *, unsigned char *, size_t);
long	auth_open(struct punch *, const unsigned char *, size_t);
void	punch_close(struct punch *);
struct natcheck {
	int		 fd2, fd3;	/* filtering and hairpin sockets */
	struct ep	 pub;		/* our mapping toward the mediator */
	struct ep	 other;		/* the mediator's second address */
	int		 have_other;
	int		 answered[6];
	int		 got[6];	/* what the mediator could change */
	struct ep	 mapped[6];
	int64_t		 ms;
};

int	natcheck_run(struct punch *, struct natcheck *);

/* ---- a session, whatever its transport (pnc.c, rel.c) ---- */

struct sess {
	int		 nostdin;	/* -d */
	int		 keep;		/* listen -k: stdout outlives it */
	int64_t		 keepalive;	/* ms */
	int64_t		 quit;		/* -q: ms after stdin's end; -1 never */
	int64_t		 idle;		/* -w: ms without data; 0 never */
};

/*
 * The ends a user asked for, -q and -w, and -v's progress line, the
 * same in every relay (UDP, -R, TCP).
 */
struct ends {
	int64_t		 eof_at;	/* when stdin ended, ms; 0: not yet */
	uint64_t	 moved;		/* bytes each way, summed ... */
	int64_t		 moved_at;	/* ... and when that last grew */
	int64_t		 line_at;	/* -v: the last progress line */
	uint64_t	 out, in;	/* ... and the bytes then */
};

void	ends_start(struct ends *, int64_t);
int	ends_due(struct ends *, const struct sess *, int64_t, uint64_t,
	    uint64_t, int64_t);
int64_t	ends_next(const struct ends *, const struct sess *, int64_t, int64_t);

/* ---- rel.c ---- */

int	rel_run(struct punch *, const struct sess *, char *, size_t);
int	tcp_punch(struct punch *);
void	tcp_abort(int);

/* ---- mediator.c: the rendezvous server ---- */

/*
 * A core without sockets or clock (init, input, tick), driven by the
 * one poll() loop of mediate_main and by tests/fuzz_mediator.c.
 */
#define MEDIATE_USAGE	"[-46rTv] [-B bytes/s] [-b bytes/s] [-c bytes] " \
			"[-l rate] [-n max] [-p port] [-s addr] " \
			"[-x sessions]"
#define MED_SOCKS	4	/* two addresses (or families) x two ports */
#define MED_BATCH	64	/* sends queued for one socket at most */
#define MED_REPLY_MAX	256	/* no answer is longer (see their buffers) */

/* What mediate was asked for, its options. */
struct med_config {
	const char	*addrs[2];	/* -s, at most twice */
	int		 naddrs;
	const char	*port;		/* -p */
	int		 family;	/* -4, -6: AF_INET(6); else AF_UNSPEC */
	size_t		 max_names;	/* -n */
	int		 rate;		/* -l: new registrations per second
					   per address; 0: no limit */
	int		 relay;		/* -r */
	int		 relay_max;	/* -x: sessions at once; 0: default */
	int64_t		 relay_rate;	/* -b: bytes/s a session; 0: default */
	int64_t		 relay_cap;	/* -c: bytes a session; 0: no cap */
	int64_t		 relay_global;	/* -B: bytes/s, all sessions; 0:
					   default */
	int		 no_tcp;	/* -T: no TCP rendezvous */
};

/* A local socket as the core knows it: where it is bound, not its fd. */
struct med_local {
	struct ep	 bound;
	int		 addr_idx;	/* 0, or 1 for the second -s */
	int		 alt_port;	/* bound to port P+1 */
};

/* Where a client reached us: its answers leave the same way. */
struct med_via {
	int		 sock;		/* index into the locals */
	union {
		struct in_addr	v4;
		struct in6_addr	v6;
	} dst;				/* the address it sent to ... */
	int		 have_dst;	/* ... if known (IP_PKTINFO) */
	int		 tcp;		/* TCP connection index + 1, or 0 */
	unsigned	 gen;		/* ... and its generation */
};

/* One datagram (or TCP message) the core wants sent. */
struct med_send {
	struct ep		 to;
	struct med_via		 via;
	const unsigned char	*data;	/* a buf of its queue; or, for a
					   relayed datagram, the input
					   itself, drained before input
					   returns */
	size_t			 len;
};

/* The sends queued for one local socket, or for the TCP clients. */
struct med_outq {
	int		 n;
	struct med_send	 s[MED_BATCH];
	unsigned char	 buf[MED_BATCH][MED_REPLY_MAX];
};

/*
 * Sends what q holds (socket k, or -1: the TCP clients). The core calls
 * it when a queue is full or a relayed datagram waits, and at
 * mediator_flush; the queue is empty afterwards, sent or not.
 */
typedef void	med_drain_fn(void *, int, const struct med_outq *);

struct med_stats {
	unsigned long	rx, malformed, oversized, badversion, registered,
			introduced, refused, expired, cookies, ratelimited,
			capped, stun, relayed, relay_bytes, relay_dropped;
	size_t		names;		/* in the table now */
};

struct mediator;

int	mediator_options(struct med_config *, int, char **, int *);
struct mediator *mediator_init(const struct med_config *,
	    const struct med_local *, int, med_drain_fn *, void *);
void	mediator_input(struct mediator *, const unsigned char *, size_t,
	    const struct ep *, const struct med_via *, int, int64_t);
long	mediator_stream(struct mediator *, const unsigned char *, size_t,
	    const struct ep *, const struct med_via *, int64_t);
int	mediator_tick(struct mediator *, int64_t);
void	mediator_flush(struct mediator *);
const struct med_stats *mediator_stats(struct mediator *);
void	mediator_free(struct mediator *);
int	mediate_main(int, char **);

/* ---- pnc.c ---- */

int	peer_fuzz(const unsigned char *, size_t, int);
int	punch_main(int, char **);
int	listen_main(int, char **);
int	connect_main(int, char **);
void	usage_cmd(const char *, int);

#endif /* PNC_H */
