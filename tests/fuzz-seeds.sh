#!/bin/bash
# Writes the fuzzer's seed corpus (tests/fuzz-corpus): valid messages of
# each kind (protocol version 3), framed as tests/fuzz.c expects: the
# target byte, then per datagram a control byte, a source byte and a
# length byte. Run once; the output is kept.
set -eu
d=$(dirname "$0")/fuzz-corpus
rm -rf "$d" && mkdir -p "$d"
H='PN\003'			# magic, version
ID='\000\000\000\000\000\000\000\001'
PID='\000\000\000\000\000\000\000\002'
ME='\000\000\000\000\000\000\021\021'	# the fuzz peer's own id, 0x1111
EP='\004\033\271\012\000\000\002'	# 10.0.0.2:7097
CK='\000\000\000\000\000\000\000\000'	# cookie: none yet (fuzz_mediator.c
				# puts in the one the source was sent)

# rec CTL SRC BODY: one framed datagram, BODY in printf notation
rec() {
	local body
	body=$(printf "$3" | od -An -v -tx1 | tr -d ' \n')
	printf "\\$(printf %03o "$1")\\$(printf %03o "$2")"
	printf "\\$(printf %03o $((${#body} / 2)))"
	printf "$3"
}
# rec2 CTL SRC BODY: the same with a 2-byte length (the mediator's
# records only: CTL gets bit 7), for datagrams longer than 255 bytes
rec2() {
	local body n
	body=$(printf "$3" | od -An -v -tx1 | tr -d ' \n')
	n=$((${#body} / 2))
	printf "\\$(printf %03o $(($1 | 128)))\\$(printf %03o "$2")"
	printf "\\$(printf %03o $((n >> 8)))\\$(printf %03o $((n & 255)))"
	printf "$3"
}
# zeros N: N zero bytes in printf notation
zeros() {
	head -c "$1" /dev/zero | od -An -v -to1 | tr -s ' \n' ' ' |
	    sed 's/ $//; s/ /\\/g'
}
# pad BODY to 64 bytes (REGISTER, BIND)
pad() {
	local n
	n=$(printf "$1" | wc -c)
	printf '%s' "$1"
	[ "$n" -lt 64 ] && head -c $((64 - n)) /dev/zero | od -An -v -to1 |
	    tr -s ' \n' ' ' | sed 's/ $//; s/ /\\/g'
	return 0
}
# mediator: REGISTER (punch, name x, one local) to P for a cookie, again
# with it, to P+1, PEERACK
{ printf '\000'
  rec 0 8 "$(pad "${H}\001${ID}\001\001x\001${EP}${CK}")"
  rec 0 8 "$(pad "${H}\001${ID}\001\001x\001${EP}${CK}")"
  rec 1 8 "$(pad "${H}\001${ID}\001\001x\001${EP}${CK}")"
  rec 2 9 "${H}\004${ID}\001\001x\000"; } >"$d/med-register"
# pair NAME: a listen (source 16) and a connect (17) get cookies,
# register, and meet once the copies to P+1 are past waiting for (388 ms)
pair() {
  rec 0 16 "$(pad "${H}\001${ID}\002\001$1\000${CK}")"
  rec 0 17 "$(pad "${H}\001${PID}\003\001$1\000${CK}")"
  rec 0 16 "$(pad "${H}\001${ID}\002\001$1\000${CK}")"
  rec 0 17 "$(pad "${H}\001${PID}\003\001$1\000${CK}")"
  rec 8 16 "$(pad "${H}\001${ID}\002\001$1\000${CK}")"
}
{ printf '\000'; pair y
  rec 0 16 "${H}\004${ID}\002\001y\000"; } >"$d/med-pair"
# one source registers 21 names, 97 ms apart (under the rate limit): the
# table grows past 16 buckets and fills (-n 20)
{ printf '\000'
  rec 0 8 "$(pad "${H}\001${ID}\001\001a\000${CK}")"
  for c in a b c d e f g h i j k l m n o p q r s t u; do
    rec 2 8 "$(pad "${H}\001${ID}\001\001$c\000${CK}")"
  done; } >"$d/med-many"
{ printf '\000'; rec 0 0 "$(pad "${H}\006${ID}\000\000\000\001\003")"; } >"$d/med-bind"
# a TCP listen (source 248) and connect (249): frames of a 2-byte length,
# no cookie needed; they meet at once, the controlled side acknowledges
{ printf '\000'
  rec 0 248 "\000\100$(pad "${H}\001${ID}\002\001z\000${CK}")"
  rec 0 249 "\000\100$(pad "${H}\001${PID}\003\001z\000${CK}")"
  rec 0 248 "\000\020${H}\004${ID}\002\001z\000"; } >"$d/med-tcp"
# zeros N: N zero bytes in printf notation
zeros() { head -c "$1" /dev/zero | od -An -v -to1 | tr -s ' \n' ' ' |
    sed 's/ $//; s/ /\\/g'; }
SHARE="\011$(zeros 31)"	# u = 9, a share of no low order
# peer: REGISTERED (cookie only), PEER (controlling: the initiator),
# PROBE, ACK, then the responder's REPLY (a wrong confirm: the fuzzer
# varies it) and a record
{ printf '\001'
  rec 1 0 "${H}\002${ME}${EP}\000\000${CK}"
  rec 1 0 "${H}\003${ME}\001\077${PID}${EP}${EP}\001${EP}"
  rec 1 1 "${H}\020${PID}${ME}\001\000\000\000\001"
  rec 0 1 "${H}\021${PID}${ME}\001\000\000\000\001${EP}"
  rec 0 1 "${H}\120${PID}\002${SHARE}\000\000$(zeros 32)"
  rec 0 1 "${H}\121${PID}$(zeros 8)\040hi$(zeros 16)"; } >"$d/peer-session"
# the controlled side, -K (target byte bit 1): a nomination, our probe
# to its source answered, the nomination again; the initiator's HELLO,
# its FINISH, a record
{ printf '\003'
  rec 1 0 "${H}\003${ME}\000\077${PID}${EP}${EP}\000"
  rec 1 1 "${H}\020${PID}${ME}\001\000\000\000\001"
  rec 0 1 "${H}\021${PID}${ME}\000\000\000\000\001${EP}"
  rec 0 1 "${H}\020${PID}${ME}\001\000\000\000\002"
  rec 0 1 "${H}\120${PID}\001${SHARE}\000\002ab"
  rec 0 1 "${H}\120${PID}\003$(zeros 32)"
  rec 0 1 "${H}\121${PID}$(zeros 8)\040hi$(zeros 16)"; } >"$d/peer-auth"
# mediator: a pair meets, one asks for the relay and sends through it
# mediator: a pair meets, both ask for the relay (a session needs both)
# and send through it, one a datagram of 1000 bytes; then one of 1501
# (oversized)
{ printf '\000'; pair r
  rec 0 16 "${H}\101${ID}\002\001r\000"
  rec 0 17 "${H}\101${PID}\003\001r\000"
  rec 0 16 "${H}\100${ID}${H}\040${ID}\000\000\000\000hi"
  rec 0 17 "${H}\100${PID}${H}\040${PID}\000\000\000\000ho"
  rec2 0 16 "${H}\100${ID}${H}\040${ID}\000\000\000\000$(zeros 972)"
  rec2 0 16 "${H}\100${ID}$(zeros 1489)"; } >"$d/med-relay"
# peer: a relayed probe from the mediator
{ printf '\001'
  rec 1 0 "${H}\003${ME}\021\077${PID}${EP}${EP}\000"
  rec 1 0 "${H}\100${PID}${H}\020${PID}${ME}\001\000\000\000\001"; } >"$d/peer-relay"
# a STUN Binding request with FINGERPRINT, to the mediator
{ printf '\000'
  rec 0 8 '\000\001\000\010\041\022\244\102abcdefghijkl\200\050\000\004\000\000\000\000'; } >"$d/med-stun"
