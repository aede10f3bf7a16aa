package pool

import (
	"errors"
	"fmt"
)

// ErrNotFound is returned by Open, Stat, Link and Remove when the pool holds no
// blob with the requested digest.
var ErrNotFound = errors.New("pool: blob not found")

// A DigestMismatchError reports content that did not hash to the expected digest.
type DigestMismatchError struct {
	Want, Got Digest
	Size      int64 // bytes read before the mismatch was detected
}

func (e *DigestMismatchError) Error() string {
	return fmt.Sprintf("pool: digest mismatch after %d bytes: got %s, want %s", e.Size, e.Got, e.Want)
}

// A SizeMismatchError reports content whose length differs from the expected size.
type SizeMismatchError struct {
	Want, Got int64
}

func (e *SizeMismatchError) Error() string {
	return fmt.Sprintf("pool: size mismatch: got %d bytes, want %d", e.Got, e.Want)
}

// ErrClosed is returned by Writer.Write and Writer.Commit after the Writer has
// ended (Commit, Abort or Discard).
var ErrClosed = errors.New("pool: writer closed")
