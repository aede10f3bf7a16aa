package pool

// API surface (implementation in progress).

import (
	"context"
	"hash"
	"io"
	"log/slog"
	"os"
	"time"
)

// Options configure a Store. A nil *Options means defaults.
type Options struct {
	// NoSync skips fsync of blobs and directories. Only for tests and benchmarks.
	NoSync bool
	// Logger receives debug logs; nil means silent.
	Logger *slog.Logger
}

// Info describes one blob in the pool.
type Info struct {
	Digest  Digest
	Size    int64
	ModTime time.Time
}

// PutRequest says what Put and Writer.Commit expect of the content.
type PutRequest struct {
	// Digest is the expected SHA-256; the zero Digest accepts whatever the bytes hash to.
	Digest Digest
	// Size is the expected length; 0 means unknown.
	Size int64
}

// BeginRequest opens a Writer.
type BeginRequest struct {
	// ResumeKey names the partial file kept in tmp/ when a write is aborted, so that a
	// later Begin with the same key resumes it (for example "sha256:<hex>" of the
	// expected content). Empty means an anonymous temp file that is never resumed.
	ResumeKey string
	// Hashes are extra hashes (for example the upstream's declared sha512) fed with
	// every byte of the blob, including a resumed prefix.
	Hashes []hash.Hash
}

// Store is a content-addressed blob store rooted at a directory:
// <root>/sha256/ab/<hex> for blobs and <root>/tmp/ for writes in progress.
// It is safe for concurrent use by several goroutines and processes.
type Store struct {
	root string
	opts Options
}

var _ = context.Background
var _ io.Reader
var _ *os.File
