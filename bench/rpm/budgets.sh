#!/bin/sh
# budgets.sh measures the RPM budgets of docs/rpm.md on a synthetic
# repository of N packages (bench/rpm/synth): formats/rpm Scan alone, the
# ingest (the facade's Sync into an empty catalog and pool, file:// feed,
# tiny payloads; in filtered and in mirror mode: the scan, the catalog writes
# during it, 50,000 payload downloads and the state's commit), a full
# publish of the filtered state (gzip metadata), a publish of the
# unchanged state and, after one package is added upstream and synced, a
# publish of the changed state (its ratio is to the first publish's time).
# Each step runs in its own process under /usr/bin/time -v, so the peak RSS
# is the real one of that step. Prints wall time, CPU time (user+sys), peak
# RSS and the ratio to each budget (below 1 is within budget).
#
# Usage, from anywhere in the checkout:
#
#	bench/rpm/budgets.sh             # N=50000
#	N=10000 bench/rpm/budgets.sh
#
# Needs the go tool and GNU time (Debian: apt-get install time). On a loaded
# machine wall time exceeds CPU time; the load is printed with each step.
set -eu
N=${N:-50000}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d -t chantal-rpmbudget.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM

echo "# go:    $(go version)"
echo "# cpus:  $(nproc) ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | sort -u | head -n1))"
echo "# fs:    $(stat -f -c %T "$work")"
(cd "$here/../.." && go build -tags bench -o "$work/synth" ./bench/rpm/synth)
"$work/synth" gen -n "$N" "$work/d"

# step LABEL BUDGET_SECONDS BUDGET_MB SYNTH_ARGS...: run synth SYNTH_ARGS DIR,
# print one result line.
step() {
	name=$1 budget_s=$2 budget_mb=$3
	shift 3
	load=$(cut -d' ' -f1 /proc/loadavg)
	/usr/bin/time -v -o "$work/time.txt" "$work/synth" "$@" "$work/d" >"$work/out.txt" 2>"$work/err.txt"
	sed 's/^/  # /' "$work/err.txt"
	wall=$(sed -n 's/^[[:space:]]*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/time.txt" | awk -F: '{ if (NF == 3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
	cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$work/time.txt")
	rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2/1024 }' "$work/time.txt")
	inner=$(cut -d' ' -f2 "$work/out.txt" | tail -n1)
	rs=-
	[ "$budget_s" != - ] && rs=$(echo "scale=3; $wall / $budget_s" | bc)
	rm_=-
	[ "$budget_mb" != - ] && rm_=$(echo "scale=2; $rss / $budget_mb" | bc)
	printf '%-20s %8ss %8ss %8ss %7s MB %7s %7s   load %s\n' "$name" "$wall" "$inner" "$cpu" "$rss" "$rs" "$rm_" "$load"
}
printf '%-20s %9s %9s %9s %10s %7s %7s\n' step wall in-proc cpu peak-rss t/budg rss/budg
step scan 10 200 scan                            # streaming only
step ingest-mirror 10 200 ingest -mode mirror     # the facade's sync end to end
step ingest-filtered 10 200 ingest -mode filtered # the same, filtered (publish reads it)
step publish 10 - publish
first=$wall
step republish 0.5 - publish # the same state again: the publish Key short-circuit
# One package more upstream, synced into the same catalog, then published
# from the render cache: its time against the first publish's (≤ 0.1).
"$work/synth" gen -n "$((N + 1))" "$work/d" >/dev/null
step resync - - resync
step publish-one-added "$first" - publish # t/budg here is the ratio to the first publish
