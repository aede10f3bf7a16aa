// Package gctune adapts the garbage collector's GOGC to a command's live
// heap.
package gctune

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// ForSync sets the collector for a sync, unless GOGC is in the environment:
// the runtime's default of 100 while the live heap is under 96 MiB, 50 from
// the first collection that finds more. A 63,000-package APT first sync,
// whose live heap stays under 70 MiB, then spends a twentieth less CPU than
// at 50 throughout and peaks at about 160 MiB instead of 115; a larger sync
// keeps the lower peak.
func ForSync() {
	if os.Getenv("GOGC") == "" {
		Tune(50, 100, 96<<20)
	}
}

// ForPublish sets the collector for a publish, unless GOGC is in the
// environment: a publish holds little live memory and streams cached
// segments, so it runs with the runtime's default, and at 400 while its live
// heap is under 32 MiB (a republish after a small change collects a few
// times instead of a dozen).
func ForPublish() {
	if os.Getenv("GOGC") == "" {
		Tune(100, 400, 32<<20)
	}
}

// Tune runs the garbage collector at GOGC small while the live heap stays
// under threshold bytes, and at base from the first collection that finds
// more. A command that touches a small state (a republish after one change)
// then collects a few times instead of a dozen while its heap grows from
// nothing, and one that holds much keeps base's peak. It is checked after
// each collection, by a finalizer that re-arms itself.
func Tune(base, small int, threshold uint64) {
	debug.SetGCPercent(small)
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var arm func()
	arm = func() {
		sentinel := new([16]byte) // big enough not to share a tiny-alloc block
		runtime.SetFinalizer(sentinel, func(*[16]byte) {
			metrics.Read(sample)
			if sample[0].Value.Kind() == metrics.KindUint64 && sample[0].Value.Uint64() > threshold {
				debug.SetGCPercent(base)
				return
			}
			arm()
		})
	}
	arm()
}
