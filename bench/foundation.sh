#!/bin/sh
# foundation.sh runs the foundation benchmarks (pool and catalog) and prints
# each result as a ratio: pool.Put throughput against raw SHA-256 and raw
# writes of the same stream, catalog times against their budgets, and the
# catalog growth of a small change against the first commit.
#
# Usage, from anywhere in the checkout:
#
#	bench/foundation.sh            # COUNT=5 rounds
#	COUNT=10 bench/foundation.sh   # more rounds on a noisy machine
#
# Each round runs every benchmark once (-count 1), and the rounds repeat, so
# that load changing during the run hits the reference and the measured
# benchmark alike. Pool ratios are taken per round and summarised as median
# and best; catalog times are medians over the rounds. The machine's load is
# printed before every round: on a shared machine, trust only quiet rounds.
# Raw output is kept in $OUT (default: a new temp directory) for benchstat.
set -eu

COUNT=${COUNT:-5}
POOL_BENCHTIME=${POOL_BENCHTIME:-2x}
CATALOG_BENCHTIME=${CATALOG_BENCHTIME:-5x}
OUT=${OUT:-$(mktemp -d -t chantal-bench.XXXXXX)}

cd "$(dirname "$0")/.."

load() { cut -d' ' -f1-3 /proc/loadavg; }

echo "# go:    $(go version)"
echo "# cpus:  $(nproc) ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | sort -u | head -n1))"
tmp=$(dirname "$(mktemp -u)") # where b.TempDir puts the benchmarks' files
echo "# fs:    $(stat -f -c %T "$tmp") (file system of the temp dir the benchmarks write to)"
echo "# load before: $(load)"
echo "# raw output:  $OUT"

: >"$OUT/pool.txt"
: >"$OUT/catalog.txt"
i=1
while [ "$i" -le "$COUNT" ]; do
	echo "# round $i/$COUNT, load $(load)"
	go test -run '^$' -bench '^(BenchmarkSHA256Raw|BenchmarkWriteRaw|BenchmarkPut1GiB)$' \
		-benchtime "$POOL_BENCHTIME" -count 1 ./pool >>"$OUT/pool.txt"
	go test -run '^$' -bench '^(BenchmarkSetRepoState100k|BenchmarkSetRepoStateChange100k|BenchmarkState100k|BenchmarkDiffStates100k)$' \
		-benchtime "$CATALOG_BENCHTIME" -count 1 ./catalog >>"$OUT/catalog.txt"
	i=$((i + 1))
done
go test -run '^TestGrowthBudget$' -count 1 -v ./catalog >"$OUT/growth.txt"
echo "# load after: $(load)"

# median NAME FILE prints the median ns/op of benchmark NAME (without the
# -GOMAXPROCS suffix) in FILE.
median() {
	awk -v name="$1" '$1 ~ /^Benchmark/ {
		n = $1; sub(/-[0-9]+$/, "", n)
		for (i = 2; i < NF; i++) if ($(i+1) == "ns/op" && n == name) print $i
	}' "$2" | sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "NaN"; exit }
		if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2
	}'
}

set100k=$(median BenchmarkSetRepoState100k "$OUT/catalog.txt")
change100k=$(median BenchmarkSetRepoStateChange100k "$OUT/catalog.txt")
read100k=$(median BenchmarkState100k "$OUT/catalog.txt")
diff100k=$(median BenchmarkDiffStates100k "$OUT/catalog.txt")

# The pool ratios pair the benchmarks of one round (run seconds apart), so
# that load which changes between rounds cancels out; the summary is the
# median and the best of the rounds.
echo
echo "pool (1 GiB stream; throughput ratios per round, higher is better; budget: Put/nosync >= 0.80 of SHA256Raw)"
awk '$1 ~ /^Benchmark/ {
	n = $1; sub(/-[0-9]+$/, "", n)
	for (i = 2; i < NF; i++) if ($(i+1) == "ns/op") ns[n, ++seen[n]] = $i
}
function ratio(label, num, den,    k, i, j, t, r, out, m) {
	k = 0
	for (i = 1; (num, i) in ns && (den, i) in ns; i++) r[++k] = ns[num, i] / ns[den, i]
	if (k == 0) { printf "  %-26s no data\n", label; return }
	for (i = 1; i <= k; i++) out = out sprintf(" %.2f", r[i])
	for (i = 2; i <= k; i++) for (j = i; j > 1 && r[j] < r[j-1]; j--) { t = r[j]; r[j] = r[j-1]; r[j-1] = t }
	m = (k % 2) ? r[(k + 1) / 2] : (r[k / 2] + r[k / 2 + 1]) / 2
	printf "  %-26s median %.2f, best %.2f  (rounds:%s)\n", label, m, r[k], out
}
END {
	ratio("Put/nosync vs SHA256Raw", "BenchmarkSHA256Raw", "BenchmarkPut1GiB/nosync")
	ratio("Put/fsync  vs SHA256Raw", "BenchmarkSHA256Raw", "BenchmarkPut1GiB/fsync")
	ratio("Put/nosync vs WriteRaw", "BenchmarkWriteRaw", "BenchmarkPut1GiB/nosync")
	ratio("WriteRaw   vs SHA256Raw", "BenchmarkSHA256Raw", "BenchmarkWriteRaw")
}' "$OUT/pool.txt"
echo
echo "catalog (100k refs; fraction of the budget, lower is better)"
awk -v a="$set100k" -v c="$change100k" -v r="$read100k" -v d="$diff100k" 'BEGIN {
	printf "  SetRepoState100k  (commit, fsync)   %.2f of 1 s\n", a / 1e9
	printf "  State100k         (read back)       %.2f of 0.3 s\n", r / 3e8
	printf "  SetRepoStateChange100k (1%% change, no fsync)  %.2f of 1 s (no budget of its own)\n", c / 1e9
	printf "  DiffStates100k    (1%% differ)       %.2f of 0.3 s (no budget of its own)\n", d / 3e8
}'
echo
echo "catalog growth (10 of 100k refs change; budget: < 5% of the first commit)"
sed -n 's/^ *internal_test.go:[0-9]*: /  /p' "$OUT/growth.txt"
grep -E '^(--- |ok|FAIL)' "$OUT/growth.txt" | sed 's/^/  /'
if command -v benchstat >/dev/null 2>&1; then
	echo
	benchstat "$OUT/pool.txt" "$OUT/catalog.txt"
fi
