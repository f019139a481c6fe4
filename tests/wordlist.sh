#!/bin/sh
# tests/wordlist.sh - makes the code word table in crypto.c ("code_words").
#
# Source: the EFF large wordlist (Electronic Frontier Foundation, 2016,
# CC-BY-3.0: https://www.eff.org/dice), as Debian's `diceware` package
# ships it. The EFF chose its words to be easy to remember, type and say,
# and left out the vulgar ones. Of its 7776 words we keep the ones of 3 to
# 5 lowercase letters (short to type and say), less a few more taken out
# by hand below: brand names, and words someone could find unpleasant in
# a code read out loud. The output, one C initialiser line per 8 words,
# replaces the table body in crypto.c; tests/sec.bats checks that the two
# are the same.
#
#	apt-get install diceware
#	sh tests/wordlist.sh [EFF-LIST] > words.inc
set -eu

list=${1:-/usr/lib/python3/dist-packages/diceware/wordlists/wordlist_en_eff.txt}
drop='aids arson bully chemo chevy coke curse deity dork dweeb ebay evil
fetal filth gonad gore gory groin grope hate ipad ipod java john lego lusty
mumps nappy opium ovary pagan polio pope pox prude skype slain smite swear
thong trump twerp virus womb xbox xerox yahoo zit'

awk -v drop="$drop" '
BEGIN { n = split(drop, d, /[ \n]+/); for (i = 1; i <= n; i++) bad[d[i]] = 1 }
{
	w = $NF
	if (w !~ /^[a-z]+$/ || length(w) < 3 || length(w) > 5 || (w in bad))
		next
	line = line sprintf("\"%s\",", w)
	if (++k % 8 == 0) { print "\t" line; line = "" }
	else line = line " "
}
END { if (line != "") { sub(/ $/, "", line); print "\t" line } }
' "$list"
