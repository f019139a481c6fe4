#!/usr/bin/env bats
#
# tests/layers.sh (make layers) against made-up objects: a tree whose
# calls point down passes; a call up, a call beside, a transport that
# polls and an object the table does not know each fail it. No lab and
# no root: this does not load helpers.bash.

ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
CC=${CC:-cc}

setup() {
	D=$BATS_TEST_TMPDIR/tree
	mkdir -p "$D"
}

# obj NAME DEFS [CALLS...]: $D/NAME.o defining the functions of the
# comma-separated DEFS, the first of which calls each of CALLS (undefined
# there, as a call into another file is).
obj() {
	local name=$1 defs=$2 c d
	shift 2
	{
		for c in "$@"; do echo "void $c(void);"; done
		for d in ${defs//,/ }; do
			echo "void $d(void) {"
			if [[ $d == "${defs%%,*}" ]]; then
				for c in "$@"; do echo "	$c();"; done
			fi
			echo "}"
		done
	} >"$D/$name.c"
	"$CC" -c -o "$D/$name.o" "$D/$name.c"
	rm "$D/$name.c"
}

# A tree whose calls all point down; session and mediator poll.
clean_tree() {
	obj pnc pnc_main session_run mediate_main parse_port
	obj session session_run rel_input punch_input wr_hdr poll
	obj rel rel_input wr_hdr auth_seal now_ms
	obj punch punch_input wr_hdr hmac_init now_ms
	obj mediator mediate_main wr_hdr siphash poll vlog
	obj wire wr_hdr ep_port
	obj crypto auth_seal,hmac_init,siphash
	obj util parse_port,now_ms,vlog,ep_port
}

check() {
	run bash "$ROOT/tests/layers.sh" "$D"
	echo "$output"
}

@test "layers: a tree whose calls point down passes, and says what it checked" {
	clean_tree
	check
	[ "$status" -eq 0 ]
	[[ "$output" != *FAIL* ]]
	[[ "$output" == *"8 object(s) checked, calls point down"* ]]
	grep -q '^layers: session.o .* calls: punch.o rel.o wire.o$' <<<"$output"
	grep -q '^layers: rel.o .* calls: crypto.o util.o wire.o$' <<<"$output"
}

@test "layers: an object not built yet is skipped, and said so" {
	clean_tree
	rm "$D/session.o"
	check
	[ "$status" -eq 0 ]
	[[ "$output" == *"skip session.o (layer 4): not built"* ]]
	[[ "$output" == *"7 object(s) checked"* ]]
}

@test "layers: a transport calling back into the punch fails" {
	clean_tree
	obj rel rel_input wr_hdr punch_input
	check
	[ "$status" -eq 1 ]
	[[ "$output" == *"FAIL rel.o calls punch.o beside it (both layer 3): punch_input"* ]]
	[[ "$output" == *"1 violation(s)"* ]]
}

@test "layers: the mediator calling the front end fails" {
	clean_tree
	obj mediator mediate_main wr_hdr poll pnc_main
	check
	[ "$status" -eq 1 ]
	[[ "$output" == *"FAIL mediator.o (layer 3) calls up into pnc.o (layer 5): pnc_main"* ]]
}

@test "layers: util calling up into the codec fails" {
	clean_tree
	obj util parse_port wr_hdr
	check
	[ "$status" -eq 1 ]
	[[ "$output" == *"FAIL util.o (layer 1) calls up into wire.o (layer 2): wr_hdr"* ]]
}

@test "layers: a transport or the front end that polls fails; the loops may" {
	clean_tree
	obj rel rel_input wr_hdr poll
	obj pnc pnc_main session_run epoll_wait
	check
	[ "$status" -eq 1 ]
	[[ "$output" == *"FAIL rel.o waits for events (poll): only session.o and mediator.o may"* ]]
	[[ "$output" == *"FAIL pnc.o waits for events (epoll_wait)"* ]]
	[[ "$output" != *"FAIL session.o"* ]]
	[[ "$output" != *"FAIL mediator.o"* ]]
	[[ "$output" == *"2 violation(s)"* ]]
}

@test "layers: an object the table does not list fails" {
	clean_tree
	obj extra extra_fn wr_hdr
	check
	[ "$status" -eq 1 ]
	[[ "$output" == *"FAIL extra.o: not in the layer table"* ]]
}

@test "layers: an empty directory fails" {
	check
	[ "$status" -eq 1 ]
	[[ "$output" == *"no object of the table is built"* ]]
}
