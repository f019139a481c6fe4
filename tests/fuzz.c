/*
 * tests/fuzz.c - libFuzzer entry for pnc's parsers (make fuzz).
 *
 * The first byte picks the target: even, the mediator (every message a
 * client may send it); odd, a peer (the mediator's answers, probes, acks
 * and session messages), with -K when bit 1 is set too. The rest is a list of datagrams, each with a
 * control byte (timers), a source byte and a length byte.
 */
#include <stddef.h>
#include <stdint.h>

#include "../pnc.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int mediator_fuzz(const unsigned char *, size_t);	/* fuzz_mediator.c */
int peer_fuzz(const unsigned char *, size_t, int);	/* fuzz_peer.c */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	if (len == 0)
		return 0;
	if (data[0] & 1)
		return peer_fuzz(data + 1, len - 1, data[0] & 2);
	return mediator_fuzz(data + 1, len - 1);
}
