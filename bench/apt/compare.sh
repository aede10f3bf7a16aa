#!/bin/sh
# compare.sh measures chantal-lite side by side with aptly on the same
# synthetic APT upstream (63,000 packages, signed InRelease) served over HTTP
# on 127.0.0.1, and prints each step's wall time, CPU time and peak RSS and
# the ratios the APT budgets are stated in.
#
# Usage, from anywhere in the checkout:
#
#	bench/apt/compare.sh [DIR]          # ROUNDS=2 rounds
#	ROUNDS=3 PACKAGES=63000 bench/apt/compare.sh [DIR]
#
# DIR (default: chantal-aptbench in the system temp dir) receives the
# generated upstream (DIR/upstream, about 400 MB; kept and reused when it
# exists, delete it to regenerate) and one work directory per run
# (DIR/run.XXXXXX: binaries, configs, pools, aptly's rootDir, raw timings).
# Nothing is written into the checkout.
#
# Needs: go, aptly (Debian package aptly), gpg, xz, /usr/bin/time (Debian
# package time).
#
# Every round starts both tools from empty state and runs them one after the
# other (chantal-lite, then aptly), so load that changes during the run hits
# both:
#
#	machine
#	  fetch.floor     the same 63,000 downloads with nothing but SHA-256,
#	                  temp file and rename (gen floor): the machine's floor
#	  fetch.floor.raw the same without net/http's Transport and with
#	                  O_TMPFILE + linkat (gen floor -raw -tmpfile)
#	chantal-lite (mode: mirror, download.parallel 4)
#	  sync.first      sync into an empty pool (63,000 downloads)
#	  publish.first   publish repo (hard links, upstream indexes verbatim)
#	  link.tree       cp -al of that published tree: what the machine itself
#	                  needs for the same directories and hard links
#	  sync.noop       sync again, upstream unchanged
#	  publish.noop    publish repo again, state unchanged
#	chantal-lite (mode: filtered, no filters, same pool) -- FILTERED=0 skips
#	  f.sync.first    sync of the same feed (payloads already in the pool)
#	  f.publish.first regenerate Packages(.gz/.xz) and Release, sign, link
#	  f.publish.noop  publish again, state unchanged
#	aptly (downloadConcurrency 4, gpgProvider gpg, no Contents, no bz2)
#	  mirror.update.first   mirror update into an empty pool
#	  snapshot.create       snapshot create s1 from mirror
#	  publish.snapshot      publish snapshot s1 (signed)
#	  mirror.update.noop    mirror update again, upstream unchanged
#	  publish.switch        snapshot create s2 (timed apart), publish switch to s2
#
# Ratios are medians over the rounds; the machine's load is printed before
# each round. Wall time on a shared machine follows the load, CPU time
# (user + sys) much less, so both are reported.
set -eu

ROUNDS=${ROUNDS:-2}
PACKAGES=${PACKAGES:-63000}
FILTERED=${FILTERED:-1}
PARALLEL=${PARALLEL:-4}

cd "$(dirname "$0")/../.."
top=$(pwd)
DIR=${1:-$(dirname "$(mktemp -u)")/chantal-aptbench}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
case "$DIR" in "$top" | "$top"/*)
	echo "compare.sh: DIR must be outside the checkout" >&2
	exit 2
	;;
esac
for t in go aptly gpg xz /usr/bin/time; do
	command -v "$t" >/dev/null || {
		echo "compare.sh: $t not found (aptly, gpg, xz-utils and time are Debian packages)" >&2
		exit 2
	}
done

run=$(mktemp -d "$DIR/run.XXXXXX")
res="$run/results.tsv"
load() { cut -d' ' -f1-3 /proc/loadavg; }

echo "# go:       $(go version)"
echo "# aptly:    $(aptly version 2>/dev/null | head -n1)"
echo "# cpus:     $(nproc) ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | sort -u | head -n1))"
echo "# memory:   $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
echo "# fs:       $(stat -f -c %T "$DIR") (file system of $DIR)"
echo "# work dir: $run"

go build -tags bench -o "$run/gen" ./bench/apt/gen
CGO_ENABLED=0 go build -o "$run/chantal-lite" ./cmd/chantal-lite
up="$DIR/upstream"
if [ ! -f "$up/repo/dists/stable/InRelease" ]; then
	rm -rf "$up"
	mkdir -p "$up"
	echo "# generating $PACKAGES packages into $up"
	"$run/gen" repo -n "$PACKAGES" "$up"
fi

# The upstream stands in for a remote mirror, whose CPU a real sync would not
# share: gen serve answers from memory with a few microseconds a request
# (SERVER=stdlib: net/http.FileServer, about ten times that). A warm-up pass
# (gen floor, not timed) loads every file before the first timed step.
serve_flag=
[ "${SERVER:-lean}" = lean ] || serve_flag=-stdlib
"$run/gen" serve -portfile "$run/port" $serve_flag "$up/repo" >"$run/serve.log" 2>&1 &
srv=$!
# On exit: stop the file server and the gpg-agent of our GNUPGHOME (if gpg
# started one), both ours.
trap 'kill "$srv" 2>/dev/null || true; [ -z "${GNUPGHOME:-}" ] || gpgconf --kill gpg-agent 2>/dev/null || true' EXIT INT TERM
i=0
while [ ! -s "$run/port" ]; do
	i=$((i + 1))
	[ "$i" -le 100 ] || {
		echo "compare.sh: file server did not start" >&2
		exit 1
	}
	sleep 0.1
done
feed="http://127.0.0.1:$(cat "$run/port")/"
echo "# upstream: $feed ($(du -sh "$up/repo" | cut -f1), server ${SERVER:-lean})"
"$run/gen" floor -parallel "$PARALLEL" "$feed" "$run/warmup" >/dev/null
rm -rf "$run/warmup"
sleep "${SETTLE:-120}"

# The key aptly signs its publishes with (chantal-lite generates its own).
export GNUPGHOME="$run/gnupg"
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key 'aptly bench <bench@example.invalid>' rsa3072 sign never 2>/dev/null

# measure ROUND TOOL STEP CMD... runs CMD under /usr/bin/time, appends
# "round tool step wall cpu rss_kib" to the results and fails on error.
measure() {
	r=$1 tool=$2 step=$3
	shift 3
	log="$run/$tool.$step.$r"
	if ! /usr/bin/time -f '%e %U %S %M' -o "$log.time" "$@" >"$log.log" 2>&1; then
		echo "compare.sh: $tool $step failed (round $r):" >&2
		tail -n 20 "$log.log" >&2
		exit 1
	fi
	awk -v r="$r" -v t="$tool" -v s="$step" 'END { printf "%s\t%s\t%s\t%.2f\t%.2f\t%d\n", r, t, s, $1, $2 + $3, $4 }' "$log.time" >>"$res"
	awk 'END { printf "  %-22s wall %7.2f s  cpu %7.2f s  rss %5.0f MiB\n", s, $1, $2 + $3, $4 / 1024 }' s="$tool $step" "$log.time"
}

chantal_round() {
	r=$1 base="$run/chantal.$1"
	mkdir -p "$base"
	cat >"$base/config.yaml" <<EOF
storage:
  base_path: $base/data
  published_path: $base/pub
download: {parallel: $PARALLEL}
gpg: {generate_key: true}
repositories:
  - id: bench
    type: apt
    mode: mirror
    feed: $feed
    apt: {distribution: stable, components: [main], architectures: [amd64]}
    verify: {keys: [$up/key.asc]}
  - id: benchf
    type: apt
    mode: filtered
    feed: $feed
    apt: {distribution: stable, components: [main], architectures: [amd64]}
    verify: {keys: [$up/key.asc]}
EOF
	cl="$run/chantal-lite -c $base/config.yaml"
	# What the machine itself needs for the same downloads: the same
	# requests in flight, SHA-256 checked, each written to a temp file and
	# renamed into a fan-out directory, one syncfs (gen floor). No
	# signature, index, catalog or resume: no tool can do less.
	measure "$r" machine fetch.floor "$run/gen" floor -parallel "$PARALLEL" "$feed" "$base/floor"
	# The same with nothing but bytes, hash and one link per file (gen
	# floor -raw -tmpfile: no http.Transport, O_TMPFILE + linkat).
	measure "$r" machine fetch.floor.raw "$run/gen" floor -raw -tmpfile -parallel "$PARALLEL" "$feed" "$base/floor.raw"
	measure "$r" chantal sync.first $cl sync bench
	grep -q "synced $PACKAGES items" "$run/chantal.sync.first.$r.log" || {
		echo "compare.sh: chantal-lite did not sync $PACKAGES items:" >&2
		cat "$run/chantal.sync.first.$r.log" >&2
		exit 1
	}
	measure "$r" chantal publish.first $cl publish repo bench
	# What the machine itself needs to create the same directories and hard
	# links: cp -al of the tree just published (the budget: the first
	# publish within 1.5x of it). The copy goes with the round's cleanup.
	measure "$r" machine link.tree cp -al "$base/pub/bench" "$base/linkcopy"
	measure "$r" chantal sync.noop $cl sync bench
	measure "$r" chantal publish.noop $cl publish repo bench
	grep -q unchanged "$run/chantal.sync.noop.$r.log" || echo "  warning: no-op sync did not report unchanged"
	grep -q unchanged "$run/chantal.publish.noop.$r.log" || echo "  warning: no-op publish did not report unchanged"
	if [ "$FILTERED" = 1 ]; then
		measure "$r" chantal f.sync.first $cl sync benchf
		measure "$r" chantal f.publish.first $cl publish repo benchf
		measure "$r" chantal f.publish.noop $cl publish repo benchf
	fi
	du -sk "$base/data" | awk '{ printf "  chantal-lite base_path: %.0f MiB\n", $1 / 1024 }'
}

aptly_round() {
	r=$1 root="$run/aptly.$1"
	mkdir -p "$root"
	cat >"$root/aptly.conf" <<EOF
{
  "rootDir": "$root/root",
  "downloadConcurrency": $PARALLEL,
  "architectures": ["amd64"],
  "gpgProvider": "gpg",
  "skipContentsPublishing": true,
  "skipBz2Publishing": true
}
EOF
	a="aptly -config=$root/aptly.conf"
	$a mirror create -keyring="$up/keyring.gpg" bench "$feed" stable main >"$root/create.log" 2>&1 || {
		cat "$root/create.log" >&2
		exit 1
	}
	measure "$r" aptly mirror.update.first $a mirror update -keyring="$up/keyring.gpg" bench
	measure "$r" aptly snapshot.create $a snapshot create s1 from mirror bench
	measure "$r" aptly publish.snapshot $a publish snapshot -batch -distribution=stable s1
	measure "$r" aptly mirror.update.noop $a mirror update -keyring="$up/keyring.gpg" bench
	measure "$r" aptly snapshot.create2 $a snapshot create s2 from mirror bench
	measure "$r" aptly publish.switch $a publish switch -batch stable s2
	n=$(grep -c '^Package: ' "$root/root/public/dists/stable/main/binary-amd64/Packages" || true)
	[ "$n" = "$PACKAGES" ] || echo "  warning: aptly published $n packages, want $PACKAGES"
	du -sk "$root/root" | awk '{ printf "  aptly rootDir: %.0f MiB\n", $1 / 1024 }'
}

# Deleting a round's 63,000-file trees makes ext4 skip the freed inodes
# (recently_deleted) when the next tool creates files, for a minute or
# more: each round deletes both trees after both tools ran, then waits
# (SETTLE seconds) before the next round.
SETTLE=${SETTLE:-120}
r=1
while [ "$r" -le "$ROUNDS" ]; do
	echo "# round $r/$ROUNDS, load $(load)"
	chantal_round "$r"
	echo "# round $r/$ROUNDS, load $(load)"
	aptly_round "$r"
	rm -rf "$run/chantal.$r" "$run/aptly.$r" # keep the disk from filling over many rounds
	r=$((r + 1))
	[ "$r" -gt "$ROUNDS" ] || sleep "$SETTLE"
done
echo "# load after: $(load)"

# med TOOL STEP COLUMN prints the median of COLUMN (4 wall, 5 cpu, 6 rss KiB).
med() {
	awk -F '\t' -v t="$1" -v s="$2" -v c="$3" '$2 == t && $3 == s { print $c }' "$res" | sort -g | awk '
		{ v[NR] = $1 }
		END { if (NR == 0) print "NaN"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo
echo "medians over $ROUNDS rounds (wall s, cpu s, peak RSS MiB)"
awk -F '\t' '{ print $2 "\t" $3 }' "$res" | awk '!seen[$0]++' | while IFS="$(printf '\t')" read -r tool step; do
	printf '  %-8s %-22s %8.2f %8.2f %7.0f\n' "$tool" "$step" "$(med "$tool" "$step" 4)" "$(med "$tool" "$step" 5)" \
		"$(echo "$(med "$tool" "$step" 6)" | awk '{ print $1 / 1024 }')"
done

# ratio LABEL BUDGET APTLY_STEP CHANTAL_STEP prints aptly ÷ chantal-lite for
# wall and CPU time (higher is better for chantal-lite). /usr/bin/time counts
# in 0.01 s: a chantal-lite time of 0 is printed as a lower bound (">").
ratio() {
	aw=$(med aptly "$3" 4) ac=$(med aptly "$3" 5) cw=$(med chantal "$4" 4) cc=$(med chantal "$4" 5)
	awk -v l="$1" -v b="$2" -v aw="$aw" -v ac="$ac" -v cw="$cw" -v cc="$cc" '
	function r(a, c) { return c > 0 ? sprintf("%8.1fx", a / c) : sprintf(">%7.0fx", a / 0.01) }
	BEGIN { printf "  %-46s wall %s  cpu %s  (budget: %s)\n", l, r(aw, cw), r(ac, cc), b }'
}
echo
echo "ratios, aptly time / chantal-lite time (higher is better for chantal-lite)"
ratio "first sync (mirror update / sync)" ">= 5x" mirror.update.first sync.first
ratio "no-op sync" ">= 50x" mirror.update.noop sync.noop
ratio "no-op republish (publish switch / publish)" ">= 30x" publish.switch publish.noop
ratio "first publish, mirror mode" "none" publish.snapshot publish.first
if [ "$FILTERED" = 1 ]; then
	ratio "first publish, filtered (regenerated, signed)" "none" publish.snapshot f.publish.first
	ratio "no-op republish, filtered" "none" publish.switch f.publish.noop
fi
awk -v c="$(med chantal publish.first 4)" -v m="$(med machine link.tree 4)" 'BEGIN {
	printf "  %-46s %.2f of cp -al'"'"'s wall time (budget: <= 1.5)\n", "first publish, mirror mode (tree of hard links)", (m > 0 ? c / m : 0)
}'
for floor in fetch.floor fetch.floor.raw; do
	awk -v c="$(med chantal sync.first 4)" -v a="$(med aptly mirror.update.first 4)" -v m="$(med machine $floor 4)" -v f=$floor 'BEGIN {
		printf "  %-46s chantal-lite %.2f, aptly %.2f of its wall time\n", "first sync against the machine (" f ")", (m > 0 ? c / m : 0), (m > 0 ? a / m : 0)
	}'
done
awk -v a="$(med aptly mirror.update.first 6)" -v c="$(med chantal sync.first 6)" 'BEGIN {
	printf "  %-46s %.2f of aptly'"'"'s peak RSS (budget: <= 0.33)\n", "first sync peak RSS, chantal-lite", c / a
}'
echo
echo "raw results: $res"
