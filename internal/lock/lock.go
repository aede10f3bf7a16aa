// Package lock provides advisory file locks (flock) between chantal-lite
// processes: exclusive for writers of one resource, shared for readers.
package lock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// ErrBusy is returned when a lock is held elsewhere and the caller did not wait.
var ErrBusy = errors.New("lock: held by another process")

// A Lock is a held file lock. Release it with Unlock.
type Lock struct {
	f *os.File
}

// Request says which lock to take and how.
type Request struct {
	Path   string
	Shared bool
	// Wait blocks until the lock is free or ctx ends; otherwise a held lock fails
	// at once with ErrBusy.
	Wait bool
}

// Acquire takes the lock named by req.Path, creating the file (and its directory).
func Acquire(ctx context.Context, req Request) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(req.Path), 0o755); err != nil {
		return nil, fmt.Errorf("creating lock directory: %w", err)
	}
	f, err := os.OpenFile(req.Path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening lock: %w", err)
	}
	how := syscall.LOCK_EX
	if req.Shared {
		how = syscall.LOCK_SH
	}
	delay := 10 * time.Millisecond
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			return &Lock{f: f}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", filepath.Base(req.Path), err)
		}
		if !req.Wait {
			f.Close()
			return nil, fmt.Errorf("%w: %s", ErrBusy, filepath.Base(req.Path))
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		if delay < 500*time.Millisecond {
			delay *= 2
		}
	}
}

// Unlock releases the lock. It is safe to call on a nil Lock and more than once.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the descriptor releases the flock
	l.f = nil
	return err
}
