package gctune

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// TestTune: GOGC stays at the small-heap setting while the live heap is
// small and returns to the base one once a collection finds it grown.
func TestTune(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	Tune(100, 400, 8<<20)
	runtime.GC()
	runtime.GC()
	time.Sleep(10 * time.Millisecond) // the finalizer runs in its own goroutine
	if got := debug.SetGCPercent(400); got != 400 {
		t.Fatalf("GOGC %d with a small heap, want 400", got)
	}
	live := make([][]byte, 0, 32)
	for range 32 {
		live = append(live, make([]byte, 1<<20))
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
		got := debug.SetGCPercent(-1)
		debug.SetGCPercent(got)
		if got == 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GOGC still %d with %d MB live, want 100", got, len(live))
		}
	}
	runtime.KeepAlive(live)
}
