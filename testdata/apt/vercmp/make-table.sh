#!/bin/sh
# Writes table.txt: "A B R" per line, R is <, = or > as `dpkg --compare-versions`
# orders versions A and B. The pairs are every combination of the versions in
# versions.txt (edge cases of epochs, "~", revisions, digits and letters).
# Needs the Debian package dpkg.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="$here/table.txt.tmp"
: > "$out"
# Only versions dpkg accepts: it refuses to compare invalid ones.
grep -v '^#' "$here/versions.txt" | grep -v '^$' | while read -r v; do
	if dpkg --validate-version "$v" 2>/dev/null; then echo "$v"; fi
done > "$here/.v"
while read -r a; do
	while read -r b; do
		if dpkg --compare-versions "$a" lt "$b" 2>/dev/null; then r='<'
		elif dpkg --compare-versions "$a" eq "$b" 2>/dev/null; then r='='
		else r='>'; fi
		printf '%s %s %s\n' "$a" "$b" "$r" >> "$out"
	done < "$here/.v"
done < "$here/.v"
rm -f "$here/.v"
mv "$out" "$here/table.txt"
