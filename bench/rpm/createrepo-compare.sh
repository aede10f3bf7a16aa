#!/bin/sh
# createrepo-compare.sh measures chantal-lite's RPM publish side by side with
# createrepo_c on the same N real (tiny, empty-payload) RPMs:
#
#   full       chantal-lite publish of a hosted repository from its catalog
#              vs a full createrepo_c run over the same files
#   unchanged  chantal-lite publish of the same state again
#              vs createrepo_c --update with nothing changed
#   one        one package added (a new one each round): chantal-lite
#              package upload + publish
#              (which renders only the segments the package touches,
#              from its render cache) vs createrepo_c --update
#
# Usage, from anywhere in the checkout:
#
#	bench/rpm/createrepo-compare.sh              # N=10000, ROUNDS=3
#	N=2000 ROUNDS=1 bench/rpm/createrepo-compare.sh
#	RPMS=/some/dir bench/rpm/createrepo-compare.sh   # reuse built RPMs
#
# Needs rpmbuild (Debian: rpm), createrepo_c (createrepo-c) and the go tool.
# Packages are built as specs of 1000 empty subpackages each (rpmbuild of
# one package at a time is far slower), noarch, uncompressed payload.
# Both tools write gzip metadata and no sqlite databases (--no-database):
# chantal-lite never writes sqlite. createrepo_c uses its default workers.
# Times are medians over ROUNDS of wall clock and of CPU (user+sys, GNU
# time; createrepo_c's worker threads included); ratios below 1 mean
# chantal-lite is faster. Needs GNU time (Debian: time) and bc.
set -eu

N=${N:-10000}
ROUNDS=${ROUNDS:-3}
PER=1000
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d -t chantal-crcmp.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
export TZ=UTC LC_ALL=C

now() { date +%s.%N; }
# timed FILE CMD...: run CMD, append "wall cpu" seconds (GNU time) to FILE.
timed() {
	out=$1
	shift
	/usr/bin/time -f '%e %U %S' -o "$work/t" "$@" >/dev/null
	awk '{ printf "%s %.2f\n", $1, $2 + $3 }' "$work/t" >>"$out"
}
elapsed() { echo "$2 - $1" | bc; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "# go:    $(go version)"
echo "# cpus:  $(nproc) ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | sort -u | head -n1))"
echo "# createrepo_c: $(createrepo_c --version | head -n1)"
echo "# N=$N ROUNDS=$ROUNDS load $(cut -d' ' -f1-3 /proc/loadavg)"

# --- Build the RPMs --------------------------------------------------------
build() { # build DIR BATCH COUNT: COUNT empty subpackages of spec bench-BATCH
	dir=$1 b=$2 n=$3
	top="$work/rpmbuild-$b"
	mkdir -p "$top/SPECS"
	spec="$top/SPECS/bench-$b.spec"
	{
		echo "Name: bench-$b"
		echo "Version: 1.0"
		echo "Release: 1"
		echo "Summary: benchmark batch $b"
		echo "License: MIT"
		echo "BuildArch: noarch"
		echo "%description"
		echo "Benchmark batch $b."
		i=0
		while [ "$i" -lt "$n" ]; do
			echo "%package -n bench-$b-$i"
			echo "Summary: benchmark package $b-$i"
			echo "Provides: bench-cap-$b-$i = 1.0"
			echo "Requires: bench-$b"
			echo "%description -n bench-$b-$i"
			echo "Benchmark package $i of batch $b."
			echo "%files -n bench-$b-$i"
			i=$((i + 1))
		done
		echo "%files"
	} >"$spec"
	rpmbuild --quiet -bb --define "_topdir $top" --define "_binary_payload w0.ufdio" \
		--define "_build_id_links none" --define "debug_package %{nil}" --define "__os_install_post %{nil}" \
		"$spec" >/dev/null 2>&1
	mv "$top"/RPMS/noarch/*.rpm "$dir/"
	rm -rf "$top"
}

if [ -z "${RPMS:-}" ]; then
	RPMS="$work/rpms"
	mkdir -p "$RPMS" "$work/extra"
	t0=$(now)
	b=0
	while [ $((b * PER)) -lt "$N" ]; do
		left=$((N - b * PER))
		[ "$left" -gt "$PER" ] && left=$PER
		build "$RPMS" "$b" "$((left - 1))" & # the main package counts too
		b=$((b + 1))
		if [ $((b % $(nproc))) -eq 0 ]; then wait; fi
	done
	wait
	echo "# built $(ls "$RPMS" | wc -l) rpms in $(elapsed "$t0" "$(now)") s"
else
	mkdir -p "$work/extra"
fi
# One extra package per round for the one-added case.
r=1
while [ "$r" -le "$ROUNDS" ]; do
	build "$work/extra" "x$r" 0
	r=$((r + 1))
done

# --- chantal-lite -----------------------------------------------------------
go build -o "$work/chantal-lite" "$root/cmd/chantal-lite"
cl() { "$work/chantal-lite" -q -c "$work/chantal.yaml" "$@"; }
cat >"$work/chantal.yaml" <<YAML
storage:
  base_path: $work/data
  published_path: $work/pub
publish: {keep_versions: 1}
repositories:
  - id: bench
    type: rpm
    mode: hosted
YAML
t0=$(now)
ls "$RPMS"/*.rpm | xargs -n 2000 "$work/chantal-lite" -q -c "$work/chantal.yaml" package upload --repo bench
echo "# chantal-lite upload (inspect + catalog) of $(ls "$RPMS" | wc -l) rpms: $(elapsed "$t0" "$(now)") s"

# --- createrepo_c -----------------------------------------------------------
mkdir -p "$work/cr/Packages"
ln "$RPMS"/*.rpm "$work/cr/Packages/" 2>/dev/null || cp "$RPMS"/*.rpm "$work/cr/Packages/"

# The first publish generates the signing key; keep that out of the timings.
cl publish repo --target "$work/pub-warm" bench >/dev/null
: >"$work/cl-full"; : >"$work/cr-full"; : >"$work/cl-same"; : >"$work/cr-same"
r=1
while [ "$r" -le "$ROUNDS" ]; do
	rm -rf "$work/cr/repodata"
	# A full publish renders everything: publish to a fresh target each
	# round, with no render cache (a later publish reuses its segments).
	rm -rf "$work/data/cache"
	timed "$work/cl-full" "$work/chantal-lite" -q -c "$work/chantal.yaml" publish repo --target "$work/pub/r$r" bench
	timed "$work/cr-full" createrepo_c --quiet --no-database "$work/cr"
	timed "$work/cl-same" "$work/chantal-lite" -q -c "$work/chantal.yaml" publish repo --target "$work/pub/r$r" bench
	timed "$work/cr-same" createrepo_c --quiet --no-database --update "$work/cr"
	echo "# round $r/$ROUNDS done, load $(cut -d' ' -f1-3 /proc/loadavg)"
	r=$((r + 1))
done

# One package added, ROUNDS times (a new one each round; the state grows).
r=1
while [ "$r" -le "$ROUNDS" ]; do
	extra="$work/extra/bench-x$r-1.0-1.noarch.rpm"
	cp "$extra" "$work/cr/Packages/"
	timed "$work/cl-up" "$work/chantal-lite" -q -c "$work/chantal.yaml" package upload --repo bench "$extra"
	timed "$work/cl-one" "$work/chantal-lite" -q -c "$work/chantal.yaml" publish repo --target "$work/pub/r$ROUNDS" bench
	timed "$work/cr-one" createrepo_c --quiet --no-database --update "$work/cr"
	r=$((r + 1))
done

# col FILE N: the median of column N (1 wall, 2 cpu) of FILE.
col() { cut -d' ' -f"$2" "$1" | median; }
ratio() { echo "scale=3; $1 / $2" | bc; }
echo
printf '%-34s %9s %9s %9s %9s %7s %7s %s\n' case cl-wall cr-wall cl-cpu cr-cpu wall-r cpu-r target
row() { # row LABEL CL CR TARGET
	a=$(col "$work/$2" 1) b=$(col "$work/$3" 1) c=$(col "$work/$2" 2) d=$(col "$work/$3" 2)
	printf '%-34s %8ss %8ss %8ss %8ss %7s %7s %s\n' "$1" "$a" "$b" "$c" "$d" "$(ratio "$a" "$b")" "$(ratio "$c" "$d")" "$4"
}
row "full publish vs full run" cl-full cr-full "<= 0.5"
row "republish, no change vs --update" cl-same cr-same "<= 0.1"
row "one added: publish vs --update" cl-one cr-one "<= 0.1"
row "one added: upload vs --update" cl-up cr-one ""
