#!/bin/sh
# make demo: a mediator and two peers on this machine meet by name,
# punch (trivially, on loopback) and exchange a message each way.
# Needs nothing but the built ./pnc; no root, no network.
set -eu
PNC=${PNC:-./pnc}
dir=$(mktemp -d)
trap 'kill $med 2>/dev/null; rm -rf "$dir"' EXIT INT TERM

# A free port: try a few random ones until the mediator stays up.
for try in 1 2 3 4 5 6 7 8; do
	port=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000 ))
	$PNC mediate -v -p "$port" -s 127.0.0.1 2>"$dir/med" &
	med=$!
	# bounded poll: it says "serving", or exits at once
	i=0; while [ $i -lt 200 ] && kill -0 $med 2>/dev/null &&
	    ! grep -q serving "$dir/med"; do i=$((i + 1)); sleep 0.01; done
	grep -q serving "$dir/med" && break
done
export PNC_MEDIATOR=127.0.0.1:$port
name=demo-$$
echo "mediator:  pnc mediate -p $port -s 127.0.0.1"
echo "peer A:    echo 'hello from A' | pnc listen  $name"
echo "peer B:    echo 'hello from B' | pnc connect $name"
(echo "hello from A" | $PNC listen -v "$name" >"$dir/a.out" 2>"$dir/a.err") &
a=$!
echo "hello from B" | $PNC connect -v "$name" >"$dir/b.out" 2>"$dir/b.err"
wait $a
echo "A got:     $(cat "$dir/a.out")"
echo "B got:     $(cat "$dir/b.out")"
grep -h 'punched through' "$dir/a.err" "$dir/b.err" | sed 's/^pnc: /           /'
echo "punch:     pnc punch prints LOCALPORT PEERADDR PEERPORT on each side:"
$PNC punch "$name-p" | sed 's/^/           A: /' &
a=$!
$PNC punch "$name-p" | sed 's/^/           B: /'
wait $a
if [ "$(cat "$dir/a.out")" != "hello from B" ] ||
    [ "$(cat "$dir/b.out")" != "hello from A" ]; then
	echo "demo failed; A's and B's stderr (-v):"
	cat "$dir/a.err" "$dir/b.err"
	exit 1
fi
echo "demo ok"
