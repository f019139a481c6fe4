#!/bin/sh
# Writes the fuzzer's seed corpus (tests/fuzz-corpus): valid messages of
# each kind, framed as tests/fuzz.c expects. Run once; the output is kept.
set -eu
d=$(dirname "$0")/fuzz-corpus
mkdir -p "$d"
H='PN\001'			# magic, version
ID='\000\000\000\000\000\000\000\001'
PID='\000\000\000\000\000\000\000\002'
ME='\000\000\000\000\000\000\021\021'	# the fuzz peer's own id, 0x1111
EP='\004\033\271\012\000\000\002'	# 10.0.0.2:7097
# mediator: REGISTER (punch, name "x", one local), its copy to P+1, PEERACK, BIND
printf "\000\000\010\041${H}\001${ID}\001\001x\001${EP}\001\010\041${H}\001${ID}\001\001x\001${EP}\002\011\017${H}\004${ID}\001\001x\000" >"$d/med-register"
printf "\000\000\020\041${H}\001${ID}\002\001y\000${EP}\000\021\041${H}\001${PID}\003\001y\000${EP}" >"$d/med-pair"
printf "\000\000\000\021${H}\006${ID}\000\000\000\001\003" >"$d/med-bind"
# peer: PEER (controlling), PROBE, ACK, DATA, EOF
printf "\001\000\000\046${H}\003${ME}\001\077${PID}${EP}${EP}\001${EP}\001\001\031${H}\020${PID}${ME}\001\000\000\000\001\000\001\040${H}\021${PID}${ME}\001\000\000\000\001${EP}\000\001\022${H}\040${PID}\000\000\000\000hi" >"$d/peer-session"
