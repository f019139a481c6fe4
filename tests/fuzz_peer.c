/*
 * tests/fuzz_peer.c - the fuzzer's peer: a listen session built as
 * pnc listen builds it (session_new), without its sockets, fed datagrams
 * (records of ctl, src, len, bytes) from the mediator or from a few peer
 * addresses, its timers run in between. Reached from tests/fuzz.c.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>

#include "../pnc.h"

int	peer_fuzz(const unsigned char *, size_t, int);

/* The session id the corpus's messages are addressed to. */
#define FUZZ_ID		0x1111

int
peer_fuzz(const unsigned char *buf, size_t len, int keyed)
{
	struct sess_cfg cfg;
	struct session *s;
	struct ep med, from;
	int64_t now;
	size_t i = 0, n;

	memset(&cfg, 0, sizeof(cfg));
	cfg.punch.role = ROLE_LISTEN;
	cfg.punch.name = cfg.punch.label = cfg.secret = "x";
	cfg.punch.medspecs[0] = "127.0.0.1:7321";
	cfg.punch.nmeds = 1;
	cfg.punch.id = FUZZ_ID;
	if (keyed) {		/* -K: the password only, not the name */
		cfg.key = (const unsigned char *)"k";
		cfg.keylen = 1;
	}
	cfg.what = SESS_DATA;
	cfg.keep = 1;		/* stdout is the fuzzer's: never closed */
	cfg.quit = -1;
	cfg.keepalive = 1000;
	if ((s = session_new(&cfg)) == NULL)
		abort();
	if (parse_hostport(cfg.punch.medspecs[0], PNC_PORT, AF_INET,
	    &med) == -1)
		abort();
	now = now_ms();
	while (i + 3 <= len) {
		n = buf[i + 2];
		if (n > len - i - 3)
			n = len - i - 3;
		from = med;
		if (buf[i + 1] & 3) {
			from.u.in.sin_addr.s_addr = htonl(0x7f000000 |
			    (buf[i + 1] & 7));
			ep_set_port(&from, 2000 + (buf[i + 1] >> 3));
		}
		now += buf[i] >> 2;
		if (buf[i] & 1)
			(void)session_tick(s, now);
		session_input(s, buf + i + 3, n, &from, -1, now);
		i += 3 + n;
	}
	session_free(s, 0);
	return 0;
}
