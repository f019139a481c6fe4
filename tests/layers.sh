#!/bin/bash
#
# layers.sh [DIR] - fails when an object file in DIR (default: the tree's
# root) calls upward, calls beside itself, or polls without being a loop.
# It reads what each built .o defines and what it leaves undefined (nm),
# so it checks the calls the compiler kept, not what a grep would guess.
#
# The layer table. An object may call objects of a lower layer only:
# never one above it, never one on its own layer. An object the table
# lists but that is not built is skipped (and said so); a built object
# the table does not list fails: a new file must take its place here.
LAYERS='
5  pnc.o       front end: dispatch, options, key file, printing
4  session.o   the one client loop: punch, then one transport
3  rel.o       the -R transport; passive, never calls back into the punch
3  punch.o     rendezvous and path agreement; passive, never calls rel.o
3  mediator.o  the server, the client'"'"'s sibling: wire, crypto, util only
2  wire.o      one encoder and decoder per message, framing, STUN
2  crypto.o    SHA-256, HMAC, SipHash, the secure channel
1  util.o      time, logging, parsing, addresses, sockets
'
# Only the loops wait for events: the client's and the mediator's.
POLLERS='session.o mediator.o'
POLL_CALLS='poll ppoll __poll_chk __ppoll_chk select pselect epoll_wait
	epoll_pwait epoll_pwait2'

set -u
dir=${1:-$(cd "$(dirname "$0")/.." && pwd)}
NM=${NM:-nm}

declare -A layer=() note=() owner=()
order=()
while read -r l o n; do
	[[ -n $l ]] || continue
	layer[$o]=$l note[$o]=$n
	order+=("$o")
done <<<"$LAYERS"

fails=0
fail() {
	echo "layers: FAIL $*"
	fails=$((fails + 1))
}

# Which object defines each global symbol.
present=()
for o in "${order[@]}"; do
	if [[ ! -f $dir/$o ]]; then
		echo "layers: skip $o (layer ${layer[$o]}): not built"
		continue
	fi
	present+=("$o")
	while read -r sym; do
		owner[$sym]=$o
	done < <("$NM" -P -g --defined-only "$dir/$o" | awk '{ print $1 }')
done
for f in "$dir"/*.o; do
	[[ -e $f ]] || continue
	[[ -n ${layer[${f##*/}]-} ]] || fail "${f##*/}: not in the layer table"
done
((${#present[@]})) || fail "no object of the table is built in $dir"

# Each object's calls (and data references) into the others.
for o in "${present[@]}"; do
	declare -A into=()
	polls=
	while read -r sym; do
		if [[ " $POLLERS " != *" $o "* ]] &&
		    [[ " ${POLL_CALLS//[$'\t\n']/ } " == *" $sym "* ]]; then
			polls+=" $sym"
		fi
		d=${owner[$sym]-}
		[[ -n $d && $d != "$o" ]] && into[$d]+=" $sym"
	done < <("$NM" -P -g --undefined-only "$dir/$o" | awk '{ print $1 }')
	callees="no other object"
	((${#into[@]})) && callees=$(printf '%s\n' "${!into[@]}" | sort | xargs)
	printf 'layers: %-11s layer %s (%s) calls: %s\n' "$o" "${layer[$o]}" \
	    "${note[$o]}" "$callees"
	for d in "${!into[@]}"; do
		if ((layer[$d] > layer[$o])); then
			fail "$o (layer ${layer[$o]}) calls up into $d" \
			    "(layer ${layer[$d]}):${into[$d]}"
		elif ((layer[$d] == layer[$o])); then
			fail "$o calls $d beside it (both layer ${layer[$o]}):${into[$d]}"
		fi
	done
	[[ -z $polls ]] ||
	    fail "$o waits for events (${polls# }): only ${POLLERS// / and } may"
	unset into
done

if ((fails)); then
	echo "layers: $fails violation(s) in ${#present[@]} object(s)"
	exit 1
fi
echo "layers: ${#present[@]} object(s) checked, calls point down"
