# tests/results.bash - the RESULTS file's tables, shared by tests/bench.sh
# and tests/matrix.sh (sourced, not run).
#
# RESULTS holds each script's last table between two marker lines,
#
#     [bench]                 (or [matrix udp], [matrix tcp], ...)
#         ...the table, as the script printed it, indented by 4...
#     [/bench]
#
# and results_update rewrites what lies between them. Everything outside
# the markers (how to read a table, what was concluded from it) is prose
# that a person keeps true by hand.

RESULTS_FILE=${RESULTS_FILE:-RESULTS}

# results_block SECTION < TABLE: the marked block, table indented by 4
# (empty lines stay empty).
results_block() {
	printf '[%s]\n' "$1"
	sed 's/^./    &/'
	printf '[/%s]\n' "$1"
}

# results_update SECTION TABLEFILE: put TABLEFILE's lines in SECTION of
# $RESULTS_FILE, in place of what was there; a section not yet in the
# file is appended. Returns 0, or 1 (file untouched) when the file is
# missing or its markers of SECTION are unpaired or repeated.
results_update() {
	local sec=$1 table=$2 f=$RESULTS_FILE new
	[[ -f $f ]] || { echo "results: no $f" >&2; return 1; }
	new=$(mktemp "$f.XXXXXX") || return 1
	results_block "$sec" <"$table" >"$new.block"
	if ! awk -v b="[$sec]" -v e="[/$sec]" -v blk="$new.block" '
	    function put() { while ((getline l < blk) > 0) print l; done = 1 }
	    bad { next }
	    $0 == b { if (in_s || done) bad = 1; in_s = 1; next }
	    $0 == e { if (!in_s) bad = 1; else { in_s = 0; put() }; next }
	    !in_s { print }
	    END { if (in_s) bad = 1; if (bad) exit 2
		if (!done) { print ""; put() } }
	    ' "$f" >"$new"; then
		echo "results: $f: markers of [$sec] unpaired or repeated;" \
		    "not changed" >&2
		rm -f "$new" "$new.block"
		return 1
	fi
	rm -f "$new.block"
	chmod --reference="$f" "$new" 2>/dev/null
	mv "$new" "$f"
	echo "results: section [$sec] of $f rewritten" >&2
}
