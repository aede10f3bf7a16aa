package formats

import (
	"context"
	"fmt"
	"io"

	"github.com/chantal-lite/chantal/internal/verify"
)

// A VerifyingSource opens a File and verifies its declared size and checksums
// while it streams: the reader's Read returns an error instead of io.EOF on a
// mismatch. chantal's sources implement it and keep what they read in the pool,
// so that yielding a File entry for the same path costs no second download.
type VerifyingSource interface {
	Source
	OpenFile(ctx context.Context, f File) (io.ReadCloser, error)
}

// OpenFile opens f through src and verifies it against f.Size and f.Checksums:
// through src.OpenFile when src is a VerifyingSource, otherwise by wrapping
// src.Open. A File with no trusted checksum is refused.
func OpenFile(ctx context.Context, src Source, f File) (io.ReadCloser, error) {
	if vs, ok := src.(VerifyingSource); ok {
		return vs.OpenFile(ctx, f)
	}
	rc, err := src.Open(ctx, f.Path)
	if err != nil {
		return nil, err
	}
	vr, err := verify.NewReader(rc, f.Size, f.Checksums)
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("opening %s: %w", f.Path, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{vr, rc}, nil
}

// WriteFile writes data as the whole file at path of sink.
func WriteFile(ctx context.Context, sink Sink, path string, data []byte) error {
	w, err := sink.Create(ctx, path)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	_, err = w.Write(data)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
