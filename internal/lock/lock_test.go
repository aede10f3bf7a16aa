package lock_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/chantal-lite/chantal/internal/lock"
)

func TestExclusiveAndShared(t *testing.T) {
	ctx := context.Background()
	p := filepath.Join(t.TempDir(), "locks", "a.lock")
	l1, err := lock.Acquire(ctx, lock.Request{Path: p})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Acquire(ctx, lock.Request{Path: p}); !errors.Is(err, lock.ErrBusy) {
		t.Fatalf("second exclusive: %v, want ErrBusy", err)
	}
	if _, err := lock.Acquire(ctx, lock.Request{Path: p, Shared: true}); !errors.Is(err, lock.ErrBusy) {
		t.Fatalf("shared while exclusive held: %v, want ErrBusy", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := lock.Acquire(cctx, lock.Request{Path: p, Wait: true}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting exclusive: %v, want deadline", err)
	}
	done := make(chan error, 1)
	go func() {
		l, err := lock.Acquire(ctx, lock.Request{Path: p, Wait: true})
		if err == nil {
			l.Unlock()
		}
		done <- err
	}()
	l1.Unlock()
	if err := <-done; err != nil {
		t.Fatalf("waiter: %v", err)
	}
	s1, err := lock.Acquire(ctx, lock.Request{Path: p, Shared: true})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := lock.Acquire(ctx, lock.Request{Path: p, Shared: true})
	if err != nil {
		t.Fatalf("two shared locks: %v", err)
	}
	if _, err := lock.Acquire(ctx, lock.Request{Path: p}); !errors.Is(err, lock.ErrBusy) {
		t.Fatalf("exclusive while shared held: %v", err)
	}
	s1.Unlock()
	s2.Unlock()
	s2.Unlock()
}
