package chantal_test

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/chantal-lite/chantal"
)

// BenchmarkFacadeRepublishOneChange measures, through the facade, the first
// publish of an N-item repository (lines format; N from
// CHANTAL_BENCH_ITEMS, default 5000; the size is 63000) and, each
// round, the republish after one more item is synced: the ratios of the
// republish's mean wall and CPU time to the first publish's (the republish
// renders only the changed segment from the render cache) and its
// file-system operations. Republishes run under the pprof label
// phase=republish (go tool pprof -tagfocus phase=republish).
func BenchmarkFacadeRepublishOneChange(b *testing.B) {
	n := 5000
	if v, err := strconv.Atoi(os.Getenv("CHANTAL_BENCH_ITEMS")); err == nil && v > 0 {
		n = v
	}
	up := newUpstream(b)
	for j := range n {
		up.add(fmt.Sprintf("p%06d", j), "1.0")
	}
	m := testMirror(b, up.srv.URL, "")
	mustSync(b, m, chantal.SyncRequest{Repos: []string{"r1"}})
	benchRepublish(b, m, "r1", func(round int) {
		up.add(fmt.Sprintf("zz-new%03d", round), "1.0")
		mustSync(b, m, chantal.SyncRequest{Repos: []string{"r1"}})
	})
}

// benchRepublish publishes repo, then in each round of b makes a one-item
// change (change, untimed) and publishes again, under the pprof label
// phase=republish. It reports the republish's mean wall and CPU time as
// ratios to the first publish's, its file-system operations and the first
// publish's seconds.
func benchRepublish(b *testing.B, m *chantal.Mirror, repo string, change func(round int)) {
	ctx := context.Background()
	t0, c0 := time.Now(), cpuTime()
	if _, err := m.Publish(ctx, chantal.PublishRequest{Repo: repo}); err != nil {
		b.Fatal(err)
	}
	first, firstCPU := time.Since(t0), cpuTime()-c0
	var again, againCPU time.Duration
	rounds, ops := 0, 0
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		change(rounds)
		b.StartTimer()
		t1, c1 := time.Now(), cpuTime()
		var res *chantal.PublishResult
		var err error
		pprof.Do(ctx, pprof.Labels("phase", "republish"), func(ctx context.Context) {
			res, err = m.Publish(ctx, chantal.PublishRequest{Repo: repo})
		})
		if err != nil {
			b.Fatal(err)
		}
		again += time.Since(t1)
		againCPU += cpuTime() - c1
		if res.Linked != 1 {
			b.Fatalf("republish linked %d payloads, want 1", res.Linked)
		}
		rounds++
		ops = res.Ops
	}
	b.ReportMetric(float64(again)/float64(rounds)/float64(first), "republish/first")
	b.ReportMetric(float64(againCPU)/float64(rounds)/float64(firstCPU), "republish/first-cpu")
	b.ReportMetric(float64(ops), "republish-fs-ops")
	b.ReportMetric(first.Seconds(), "first-s")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
