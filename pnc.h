/*
 * pnc - netcat for peer-to-peer: rendezvous, UDP hole punching, relay.
 *
 * The one header. First the protocol's constants (version 2), then each
 * file's interface, and the files are layers whose calls point down:
 *
 *	pnc.c		front end: subcommands, options, printing
 *	session.c	the one client loop		mediator.c
 *	rel.c punch.c	-R transport; rendezvous, path agreement
 *	wire.c crypto.c	messages, framing, STUN; hashes, the secure channel
 *	util.c		time, logging, parsing, addresses, sockets
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

/* ---- wire format, protocol version 3 (PROTOCOL) ---- */

#define PROTO_VERSION	3
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
#define T_PATHCHK	0x26	/* record: nonce(8) ep(to): a direct path? */
#define T_PATHOK	0x27	/* record: nonce(8) ep(seen): it works */
#define T_THELLO	0x30	/* TCP: toid(8), first on a new connection */
#define T_TUSE		0x31	/* TCP: (controlling) this connection */

/* Relay (mediate -r), client <-> mediator. */
#define T_RELAY		0x40	/* hdr(sender) then a whole peer datagram */
#define T_RELAYREQ	0x41	/* role(1) namelen(1) name flags(1) */
#define T_RELAYOK	0x42	/* nothing: relaying for this rendezvous */
#define T_RELAYEND	0x43	/* nothing: this side's session is over */

/* The secure channel (PROTOCOL 10), peer <-> peer, end to end. */
#define T_HS		0x50	/* a handshake message (sec_hs_*) */
#define T_REC		0x51	/* a record: ctr(8) sealed(inner type, body) */

#define PF_NOMINATE	0x01	/* probe/ack flag: use this path */
#define PF_RELIABLE	0x02	/* ... the sender runs -R */
#define PF_RELEASE	0x04	/* PROBE, punch: your "taken" came, go */
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

#define KEY_MAX		65536	/* -K: bytes of key material read */

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

/*
 * The protocol-3 secure channel (crypto.c, PROTOCOL 6): a CPace
 * handshake of three messages (and an ack), then ChaCha20-Poly1305
 * records with a key and a counter per direction. Passive: no sockets,
 * no clock; the session loop feeds it and sends what it returns.
 */
#define SEC_SECRET_MAX	256	/* name or code words, bytes */
#define SEC_AD_MAX	CPACE_AD_MAX	/* our AD: roles, mode, endpoints */
#define SEC_CONFIRM_LEN	32	/* HMAC-SHA-512 truncated */
#define SEC_HS_MAX	(1 + 32 + 2 + SEC_AD_MAX + SEC_CONFIRM_LEN)
#define SEC_CTR_LEN	8	/* record counter on the wire */
#define SEC_OVERHEAD	(SEC_CTR_LEN + 1 + AEAD_TAG_LEN)	/* 25 */
#define SEC_WINDOW	4096	/* replay window, records below the top */
#define SEC_SEAL_LIMIT	(UINT64_C(1) << 60)	/* records per direction */
#define SEC_FORGE_LIMIT	(UINT64_C(1) << 36)	/* RFC 9001 6.6 */

enum { SEC_FAIL = -1, SEC_MORE = 0, SEC_DONE = 1 };	/* sec_hs_input */
enum { SEC_HELLO = 1, SEC_REPLY, SEC_FINISH, SEC_ACK };	/* first byte */
enum { SEC_E_NONE, SEC_E_AUTH, SEC_E_SHARE, SEC_E_AD, SEC_E_LIMIT,
    SEC_E_ORDER, SEC_E_FORGED };		/* sec_error */
enum { SEC_S_HELLO, SEC_S_FINISH, SEC_S_OPEN, SEC_S_FAILED };

struct sec_params {
	const void	*secret;	/* the name, or a code's words */
	size_t		 secretlen;	/* <= SEC_SECRET_MAX */
	const void	*key;		/* -K file bytes, or NULL */
	size_t		 keylen;
	uint64_t	 my_id, peer_id;	/* client ids: the sid */
	const void	*ci;		/* the same on both sides: mode */
	size_t		 cilen;
	const void	*ad;		/* ours: role, endpoints we see */
	size_t		 adlen;		/* <= SEC_AD_MAX */
	int		 strict;	/* a byte stream: any bad record ends it */
	/* optional: 0 to go on with the peer's AD, -1 to fail the run */
	int		(*ad_check)(void *, const unsigned char *, size_t);
	void		*ad_arg;
};

struct sec {
	int		 initiator;
	int		 state;		/* SEC_S_* */
	int		 err;		/* SEC_E_*, once failed */
	int		 strict;
	int		 confirmed;	/* the peer holds our keys */
	int		 due;		/* out[] is to be sent now */
	struct cpace	 cp;		/* until the peer's share */
	unsigned char	 sid[16];	/* initiator id, responder id */
	unsigned char	 ci_hash[SHA512_LEN];
	unsigned char	 seen[SHA512_LEN];	/* digest of HELLO or REPLY */
	unsigned char	 out[SEC_HS_MAX];	/* our latest message */
	size_t		 outlen;
	unsigned char	 confirm[SEC_CONFIRM_LEN];	/* FINISH expected */
	unsigned char	 ack[SEC_CONFIRM_LEN];
	unsigned char	 ktx[AEAD_KEY_LEN], krx[AEAD_KEY_LEN];
	uint64_t	 tx_next, rx_top;	/* rx_top: highest seen + 1 */
	uint64_t	 win[SEC_WINDOW / 64];	/* bit c % SEC_WINDOW: c seen */
	uint64_t	 seal_limit, forge_limit;
	int		(*ad_check)(void *, const unsigned char *, size_t);
	void		*ad_arg;
	/* what was dropped, for -v */
	uint64_t	 forged, replayed, too_old, early, hs_dropped;
};

int	 sec_start(struct sec *, int, const struct sec_params *);
size_t	 sec_hs_output(struct sec *, unsigned char *, size_t);
size_t	 sec_hs_latest(const struct sec *, unsigned char *, size_t);
int	 sec_hs_input(struct sec *, const unsigned char *, size_t);
int	 sec_confirmed(const struct sec *);
int	 sec_error(const struct sec *);
const char *sec_strerror(int);
size_t	 sec_seal(struct sec *, const void *, size_t, int, const void *,
	    size_t, unsigned char *, size_t);
int	 sec_open(struct sec *, unsigned char *, size_t, size_t, int *,
	    const unsigned char **, size_t *);
void	 sec_close(struct sec *);

/* Codes: "7-harbor-cobalt-tiger"; the nameplate is the public part. */
#define CODE_WORDS	3
#define CODE_MAX	64	/* longest code, with its NUL */
#define CODE_NAMEPLATE_MAX 999999
size_t	 code_nwords(void);
const char *code_word(size_t);
int	 code_new(char *, size_t, unsigned);
int	 code_parse(const char *, unsigned *, char *, size_t);

/* ---- util.c: time, logging, parsing, addresses, sockets ---- */

/* An endpoint as it travels and as it is compared. */
struct ep {
	union {			/* not sockaddr_storage: 28 bytes, not 128 */
		struct sockaddr		sa;
		struct sockaddr_in	in;
		struct sockaddr_in6	in6;
	} u;
	socklen_t		len;
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
int		 parse_hostport_both(const char *, const char *, struct ep [2]);
const char	*ep_str(const struct ep *, char *, size_t);
const char	*ep_addr(const struct ep *, char *, size_t);
int		 ep_port(const struct ep *);
void		 ep_set_port(struct ep *, int);
int		 ep_equal(const struct ep *, const struct ep *);
int		 ep_equal_addr(const struct ep *, const struct ep *);
int		 ep_is_loopback(const struct ep *);
void		 ep_unmap(struct ep *);
#define SK_REUSE	0x01	/* SO_REUSEADDR and SO_REUSEPORT */
#define SK_BIGBUF	0x02	/* 4 MB socket buffers */
#define SK_REUSEADDR	0x04	/* SO_REUSEADDR alone: a server's socket,
				   which must not share its port */
#define SK_DUAL		0x08	/* an IPv6 socket that speaks IPv4 too */
int		 sock_bound(const struct ep *, int, int);
int		 udp_socket(int, int);
int		 udp_dual(int);
int		 tcp_socket(int, int);
void		 tcp_abort(int);
void		 tcp_keepalive(int, int64_t);
int		 set_ttl(int, int, int);
int		 local_addrs(int, int, struct ep *, int);

/* ---- wire.c: byte cursors, messages, TCP framing, STUN ---- */

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

/* T_PEER: the mediator introduces the peer. */
struct intro {
	int		 flags;		/* PEER_* */
	int		 ttl;		/* what was left of our REGISTER's */
	uint64_t	 peer_id;
	struct ep	 you, them;	/* public endpoints, ours and the peer's */
	struct ep	 locals[MAX_LOCALS];	/* the peer's local ones */
	int		 nlocals;
};

/* T_PROBE and T_ACK between peers. */
struct probe {
	uint64_t	 toid;		/* the id it is meant for */
	int		 flags;		/* PF_* */
	uint32_t	 tx;		/* the probe round it answers */
	struct ep	 seen;		/* ACK: where the PROBE came from */
};

/*
 * T_REGISTER, T_PEERACK, T_RELAYREQ as the mediator reads them: rd_reg
 * fills role, name and (REGISTER) the candidates, kept packed as they
 * came, and the cookie; the mediator the rest, from the header and
 * the socket.
 */
struct reg {
	uint64_t		 id;
	int			 role;
	const char		*name;
	size_t			 namelen;
	uint8_t			 nloc;
	const unsigned char	*locals;
	size_t			 loclen;
	int			 ttl;
	int			 alt;		/* arrived on port P+1 */
	int			 tcp;		/* arrived over TCP */
	const unsigned char	*cookie;
	size_t			 len;		/* of the whole datagram */
};

/* T_BOUND: the answer to a NAT check's T_BIND. */
struct bound {
	uint32_t	 tx;		/* the request it answers */
	int		 got;		/* BIND_* it was sent from */
	struct ep	 seen;		/* where the request came from */
	int		 have_other;	/* the mediator has another address: */
	struct ep	 other;
};

/* T_PATHCHK, T_PATHOK: a relayed session checks a direct path. */
struct pathchk {
	uint64_t	 nonce;		/* the check's, echoed */
	struct ep	 ep;		/* CHK: sent to; OK: the CHK came from */
};

void		 wr_register(struct wr *, int, uint64_t, int, const char *,
		    const struct ep *, int, const unsigned char *, int);
void		 wr_bind(struct wr *, uint64_t, uint32_t, int);
void		 wr_probe(struct wr *, int, uint64_t, const struct probe *);
int		 rd_probe(struct rd *, int, struct probe *);
void		 wr_pathchk(struct wr *, int, uint64_t, const struct pathchk *);
int		 rd_pathchk(struct rd *, struct pathchk *);
int		 rd_intro(struct rd *, struct intro *);
int		 rd_registered(struct rd *, struct ep *, int *,
		    const unsigned char **);
int		 rd_error(struct rd *, int *, const unsigned char **, size_t *);
int		 rd_bound(struct rd *, struct bound *);

/* -R's messages (PROTOCOL 5). */
#define RACK_SACK	16	/* SACK ranges an ack carries at most */
#define RDATA_FIN	0x01	/* rdata.flags: the last, no data */

/* T_RDATA: packet pn, sent at ts (us, mod 2^32), its data. */
struct rdata {
	uint32_t		 pn, ts;
	int			 flags;		/* RDATA_* */
	const unsigned char	*data;
	size_t			 len;
};

/* T_RACK: all below cum, the receive limit, an echo, SACK [a, b). */
struct rack {
	uint32_t	 cum, limit, ts;
	int		 n;
	uint32_t	 sack[RACK_SACK][2];
};

void		 wr_rdata(struct wr *, uint64_t, const struct rdata *);
int		 rd_rdata(struct rd *, struct rdata *);
void		 wr_rack(struct wr *, uint64_t, const struct rack *);
int		 rd_rack(struct rd *, struct rack *);
int		 rd_zeros(struct rd *);
int		 rd_reg(struct rd *, struct reg *, int);
int		 rd_bind(struct rd *, uint32_t *, int *);
void		 wr_intro(struct wr *, uint64_t, const struct intro *);
void		 wr_registered(struct wr *, uint64_t, const struct ep *, int,
		    const unsigned char *);
void		 wr_error(struct wr *, uint64_t, int, const char *, size_t);
void		 wr_bound(struct wr *, uint64_t, const struct bound *);
size_t		 frame_put(unsigned char *, size_t, const void *, size_t);
int		 frame_get(const unsigned char *, size_t, size_t *);

/* STUN (RFC 8489 Binding, RFC 5780 CHANGE-REQUEST), wire.c. */

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

/* Port mapping: NAT-PMP (RFC 6886) and PCP (RFC 6887), wire.c. */

#define PMAP_PORT	5351	/* the gateway's, for both */
#define PMAP_NONE	0	/* pmap_reply.proto; natcheck.pmap */
#define PMAP_PCP	1
#define PMAP_NATPMP	2
#define PMAP_OP_ADDR	0	/* NAT-PMP: the external address */
#define PMAP_OP_MAP	1	/* NAT-PMP: map UDP; PCP: MAP */
#define PCP_NONCE_LEN	12

struct pmap_reply {
	int		 proto;		/* PMAP_PCP, PMAP_NATPMP */
	int		 op;		/* PMAP_OP_* */
	int		 result;	/* 0: success */
	uint32_t	 lifetime;	/* seconds granted */
	int		 iport, eport;	/* internal, external port */
	unsigned char	 nonce[PCP_NONCE_LEN];	/* PCP's, echoed */
	struct ep	 ext;		/* external address (port: eport) */
	int		 have_ext;
};

void	wr_natpmp(struct wr *, int, int, int, uint32_t);
void	wr_pcp_map(struct wr *, const unsigned char [PCP_NONCE_LEN],
	    const struct ep *, int, int, uint32_t);
int	rd_pmap(struct rd *, struct pmap_reply *);

/* ---- punch.c: rendezvous and path agreement ---- */

#define MAX_CANDS	(2 * MAX_LOCALS + 2)
#define MAX_MEDS	4	/* -m given several times */
#define NSPRAY		256	/* sockets of an endpoint-dependent side */
#define MAX_TCONNS	(MAX_CANDS + 8)	/* -t: connections being tried */

enum pstate { P_REGISTER, P_PROBE, P_DONE, P_FAILED };

/* What the caller asks of a punch. */
struct punch_cfg {
	int		 role;		/* ROLE_* */
	int		 reliable;	/* -R: must match the peer's */
	int		 tcp;		/* -t: over TCP, simultaneous open */
	const char	*name;		/* as sent: the name, or "code-" N */
	const char	*label;		/* as the user gave it */
	const char	*medspecs[MAX_MEDS];	/* host[:port] of each */
	int		 nmeds;
	int		 family;	/* -4, -6: AF_INET(6); else AF_UNSPEC */
	int		 natstun;	/* -S: the NAT check asks STUN servers,
					   which are the "mediators" */
	int		 lport;		/* 0: any */
	int64_t		 deadline;	/* absolute ms, 0 for none */
	uint64_t	 id;		/* our session id; 0: a random one */
};

/* What a punch agrees on: the path a transport goes on with. */
struct path {
	int		 fd;		/* UDP socket, or the TCP connection */
	int		 lport;		/* its local port */
	struct ep	 peer;		/* the far end (a mediator: relayed) */
	uint64_t	 id, peer_id;
	int		 controlling;	/* our side picked the path */
	int		 relayed;	/* through the mediator's relay */
	int64_t		 rtt;		/* first measured round trip, ms */
	struct ep	 self_pub;	/* we, as the mediator saw us */
	int		 busy;		/* the mediator: the name is in use */
};

struct punch;			/* what the punch keeps: punch.c */

struct punch	*punch_new(const struct punch_cfg *, int64_t);
int	 punch_open(struct punch *);
void	 punch_free(struct punch *);
int	 punch_state(const struct punch *);
struct path *punch_path(struct punch *);
const char *punch_why(const struct punch *);
int	 punch_stalled(struct punch *);
void	 punch_release(struct punch *);
void	 punch_unmap(struct punch *);
void	 punch_relay_end(struct punch *);
int	 punch_gateway(struct punch *, const unsigned char *, size_t,
	    const struct ep *, int64_t);
int	 punch_released(const struct punch *);
int	 punch_next(struct punch *, int64_t);
int	 punch_tick(struct punch *, int64_t);
int	 punch_input(struct punch *, const unsigned char *, size_t,
	    const struct ep *, int, int64_t);
int	 punch_unwrap(const struct punch *, const unsigned char **, size_t *,
	    const struct ep *);
ssize_t	 punch_send(struct punch *, const void *, size_t);
int	 punch_pollfds(struct punch *, struct pollfd *);
int	 punch_events(struct punch *, const struct pollfd *, int, int64_t);
int	 punch_checks(struct punch *, int64_t, struct pathchk *, int);
int64_t	 punch_checks_next(const struct punch *, int64_t);
void	 punch_checks_soon(struct punch *, int64_t);
int	 punch_check_ok(struct punch *, const struct ep *,
	    const struct pathchk *, int64_t);
int	 punch_own(const struct punch *, const struct ep *);
int	 punch_heard(const struct punch *, const struct ep *, int);
int	 punch_upgrading(const struct punch *);
int	 punch_via_relay(const struct punch *, const struct ep *);
ssize_t	 punch_sendto(struct punch *, const struct ep *, const void *,
	    size_t);

/* The NAT check: pnc punch without a name. */
struct natcheck {
	int		 fd2, fd3;	/* filtering and hairpin sockets */
	struct ep	 pub;		/* our mapping toward the mediator */
	struct ep	 other;		/* the mediator's second address */
	int		 have_other;
	int		 answered[6];
	int		 got[6];	/* what the mediator could change */
	struct ep	 mapped[6];
	int64_t		 start, end, next;	/* ms */
	int		 gap, tries;
	int		 natted;	/* no local address is the mapping */
	int		 lport;		/* ours */
	int64_t		 ms;		/* how long it took */
	int		 pmap;		/* the gateway maps: PMAP_* */
	int64_t		 pmap_at;	/* ... asking it: its timer, or -1 */
};

int	natcheck_start(struct punch *, struct natcheck *, int64_t);
int	natcheck_tick(struct punch *, struct natcheck *, int64_t);
int	natcheck_next(const struct natcheck *, int64_t);
int	natcheck_pollfds(struct punch *, const struct natcheck *,
	    struct pollfd *);
void	natcheck_input(struct punch *, struct natcheck *,
	    const unsigned char *, size_t, int, const struct ep *, int64_t);
int	natcheck_finish(struct punch *, struct natcheck *, int64_t);

/* ---- rel.c: the -R transport, passive ---- */

#define OUTBOX_N	320	/* datagrams a transport queues at once */

/* What a transport wants sent, in order; the loop seals and sends it. */
struct outbox {
	int		 n;
	size_t		 len[OUTBOX_N];
	unsigned char	 buf[OUTBOX_N][MAX_DGRAM];	/* plain: sealed as sent */
};

struct rel;
struct iovec;

#define REL_BUDGET	(32u << 20)	/* -R: bytes per session, both rings */

struct rel	*rel_new(uint64_t, int, size_t, int64_t);
void	 rel_free(struct rel *);
int	 rel_input(struct rel *, int, struct rd *, int64_t);
void	 rel_tick(struct rel *, int64_t);
int64_t	 rel_next(const struct rel *, int64_t);
void	 rel_keepalive(struct rel *);
size_t	 rel_room(struct rel *, int64_t);
void	 rel_write(struct rel *, const unsigned char *, size_t, int64_t);
int	 rel_wants_input(const struct rel *, int64_t);
int	 rel_output(struct rel *, struct iovec *, int, size_t);
void	 rel_written(struct rel *, size_t);
int	 rel_out_ended(const struct rel *);
int	 rel_done(const struct rel *);
int64_t	 rel_linger(const struct rel *);
uint64_t rel_unconfirmed(const struct rel *);
void	 rel_counts(const struct rel *, uint64_t *, uint64_t *, int64_t *);
struct outbox *rel_outbox(struct rel *);
void	 rel_report(const struct rel *);
void	 rel_newpath(struct rel *, int64_t);

/* ---- session.c: the one client loop ---- */

#define SESS_PUNCH	0	/* pnc punch: the path is the result */
#define SESS_NATCHECK	1	/* pnc punch without a name */
#define SESS_DATA	2	/* listen, connect: then a transport */

#define SR_FAILED	(-1)	/* session_run(): see session_why() */
#define SR_DONE		0
#define SR_PUNCHED	1	/* SESS_PUNCH has its path: print, run on */

struct sess_cfg {
	struct punch_cfg punch;	/* .tcp, .reliable pick the transport */
	int		 what;		/* SESS_* */
	int		 nostdin;	/* -d */
	int		 keep;		/* listen -k: stdout outlives it */
	int64_t		 keepalive;	/* ms */
	int64_t		 quit;		/* -q: ms after stdin's end; -1 never */
	int64_t		 idle;		/* -w: ms without data; 0 never */
	/* the handshake's password: the name or a code's words, -K's key */
	const char	*secret;
	const unsigned char *key;
	size_t		 keylen;
	int		 code;		/* the name is a code's nameplate */
	size_t		 rel_budget;	/* -R's memory, bytes; 0 REL_BUDGET */
	int		 no_gso;	/* PNC_GSO=0: no UDP GSO */
};

struct session;

struct session *session_new(const struct sess_cfg *);
int	 session_open(struct session *);
int	 session_run(struct session *);
void	 session_input(struct session *, const unsigned char *, size_t,
	    const struct ep *, int, int64_t);
int	 session_tick(struct session *, int64_t);
const char *session_why(const struct session *);
int	 session_punched(const struct session *);
int	 session_authfailed(const struct session *);
void	 session_report(const struct session *);
const struct path *session_path(const struct session *);
const struct natcheck *session_natcheck(const struct session *);
void	 session_free(struct session *, int);

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

/* ---- pnc.c: the subcommands ---- */

int	punch_main(int, char **);
int	listen_main(int, char **);
int	connect_main(int, char **);
void	usage_cmd(const char *, int);

#endif /* PNC_H */
