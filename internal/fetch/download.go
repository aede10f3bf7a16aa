package fetch

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/chantal-lite/chantal/internal/verify"
	"github.com/chantal-lite/chantal/pool"
)

// DownloadRequest names a payload file and what its bytes must be.
type DownloadRequest struct {
	// Path is relative to the repository root.
	Path string
	// Size is the declared length; 0 means unknown.
	Size int64
	// Checksums maps canonical algorithm names (see verify.NormalizeAlgo) to
	// lower-case hex values. The strongest trusted one is verified; md5 alone,
	// an empty value or none at all is refused.
	Checksums map[string]string
	// Digest is the expected SHA-256, if known. A sha256 entry in Checksums is
	// used when Digest is zero.
	Digest pool.Digest
	// Absent says the caller has just found Digest missing from the pool:
	// Download does not look again before fetching.
	Absent bool
	// Batch, when set, group-commits the blob: Download ends with
	// Writer.CommitTo instead of Commit, and the blob becomes visible in the
	// pool only at Batch.Flush (the returned Info is valid before).
	Batch *pool.Batch
}

// maxUnresumable is the largest declared size that a group-committed
// download (DownloadRequest.Batch) writes straight into the batch, without a
// resumable partial: fetching it again costs less than the partial's
// bookkeeping (a named file, its lock, a rename) costs every download.
const maxUnresumable = 1 << 20

// download carries one Download's state across attempts.
type download struct {
	path      string
	size      int64
	algo      string
	want      string
	digest    pool.Digest
	validator string // strong validator seen in this call, for If-Range
	batch     *pool.Batch
}

// Download fetches req.Path into st unless st already holds req.Digest, and
// returns the stored blob's Info.
//
// The declared checksum is checked before anything is fetched: without a
// trusted one the error wraps verify.ErrNoChecksum. The blob is written through
// a resumable pool Writer keyed by "<algo>:<hex>" of the strongest declared
// checksum, so a partial left by an interrupted attempt (in this call or an
// earlier one) is continued with an HTTP Range request; a server that answers
// 200 or 416 instead makes the download start over. Failed and truncated
// transfers are retried (Options.Retries) and resumed. At the end the size and
// the checksum are checked: a mismatch discards the bytes and is retried once
// from scratch, then returned as a *verify.SizeError or *verify.ChecksumError;
// nothing reaches the pool.
func (s *Source) Download(ctx context.Context, st *pool.Store, req DownloadRequest) (pool.Info, error) {
	p, err := cleanPath(req.Path)
	if err != nil {
		return pool.Info{}, err
	}
	algo, want, err := verify.Strongest(req.Checksums)
	if err != nil {
		return pool.Info{}, fmt.Errorf("fetch: download %s: %w", p, err)
	}
	if req.Size < 0 {
		return pool.Info{}, fmt.Errorf("fetch: download %s: negative size %d", p, req.Size)
	}
	d := &download{path: p, size: req.Size, algo: algo, want: want, digest: req.Digest, batch: req.Batch}
	if d.digest.IsZero() {
		if v, ok := req.Checksums["sha256"]; ok {
			if dg, err := pool.Parse(strings.TrimSpace(v)); err == nil {
				d.digest = dg
			}
		}
	}
	if !d.digest.IsZero() && !req.Absent {
		info, err := st.Stat(d.digest)
		switch {
		case err == nil && d.size > 0 && info.Size != d.size:
			return pool.Info{}, fmt.Errorf("fetch: download %s: pooled blob %s: %w", p, d.digest,
				&verify.SizeError{Want: d.size, Got: info.Size})
		case err == nil:
			return info, nil
		case !errors.Is(err, pool.ErrNotFound):
			return pool.Info{}, fmt.Errorf("fetch: download %s: %w", p, err)
		}
	}

	var retries, mismatches int
	for {
		info, err := s.downloadOnce(ctx, st, d)
		if err == nil {
			return info, nil
		}
		var (
			ce *verify.ChecksumError
			se *verify.SizeError
		)
		if errors.As(err, &ce) || errors.As(err, &se) {
			mismatches++
			if mismatches > 1 || ctx.Err() != nil {
				return pool.Info{}, fmt.Errorf("fetch: download %s: %w", p, err)
			}
			s.log.Debug("fetch: mismatch, downloading again", "path", p, "err", err)
			continue
		}
		if retries >= s.retries || !retryable(ctx, err) {
			return pool.Info{}, fmt.Errorf("fetch: download %s: %w", p, err)
		}
		retries++
		if err := s.pause(ctx, p, retries, err); err != nil {
			return pool.Info{}, fmt.Errorf("fetch: download %s: %w", p, err)
		}
	}
}

// downloadOnce makes one attempt, resuming a partial when the pool has one. On
// a transfer error the partial is kept; on a mismatch it is discarded.
func (s *Source) downloadOnce(ctx context.Context, st *pool.Store, d *download) (pool.Info, error) {
	// The pool's Writer computes the SHA-256 anyway: a second hash only for
	// another algorithm.
	var h hash.Hash
	var hashes []hash.Hash
	if d.algo != "sha256" {
		h = verify.New(d.algo)
		hashes = []hash.Hash{h}
	}
	begin := func() (*pool.Writer, error) {
		var w *pool.Writer
		var err error
		if d.batch != nil && d.size > 0 && d.size <= maxUnresumable {
			w, err = d.batch.Begin(ctx, pool.BeginRequest{Hashes: hashes})
		} else {
			w, err = st.Begin(ctx, pool.BeginRequest{ResumeKey: d.algo + ":" + d.want, Hashes: hashes})
		}
		if err != nil {
			return nil, &permanentError{err}
		}
		return w, nil
	}
	w, err := begin()
	if err != nil {
		return pool.Info{}, err
	}
	defer func() { _ = w.Abort() }() // keeps the partial; a no-op after Commit or Discard

	for restarted := false; ; restarted = true {
		off := w.Offset()
		if d.size > 0 && off == d.size {
			break // a complete partial: only verify and commit
		}
		if d.size > 0 && off > d.size && !restarted {
			if err := w.Discard(); err != nil {
				return pool.Info{}, &permanentError{err}
			}
			if w, err = begin(); err != nil {
				return pool.Info{}, err
			}
			continue
		}
		rep, err := s.attempt(ctx, attemptReq{path: d.path, off: off, ifRange: d.validator})
		if err != nil {
			if errors.Is(err, errRangeNotSatisfiable) && !restarted {
				s.log.Debug("fetch: range not satisfiable, starting over", "path", d.path, "offset", off)
				if err := w.Discard(); err != nil {
					return pool.Info{}, &permanentError{err}
				}
				if w, err = begin(); err != nil {
					return pool.Info{}, err
				}
				continue
			}
			return pool.Info{}, err
		}
		if rep.start != off {
			// A 200 to a Range request: the partial is useless.
			s.log.Debug("fetch: server sent the whole file, starting over", "path", d.path, "offset", off)
			if err := w.Discard(); err != nil {
				rep.body.Close()
				return pool.Info{}, &permanentError{err}
			}
			if w, err = begin(); err != nil {
				rep.body.Close()
				return pool.Info{}, err
			}
			if w.Offset() != 0 {
				rep.body.Close()
				return pool.Info{}, fmt.Errorf("fetch: partial for %s reappeared", d.path)
			}
		}
		if d.validator == "" {
			d.validator = rep.validator()
		}
		err = s.copyBody(ctx, w, rep, d)
		rep.body.Close()
		if err != nil {
			var se *verify.SizeError
			if errors.As(err, &se) {
				_ = w.Discard()
			}
			return pool.Info{}, err
		}
		break
	}

	if d.size > 0 && w.Size() != d.size {
		_ = w.Discard()
		return pool.Info{}, &verify.SizeError{Want: d.size, Got: w.Size()}
	}
	var got string
	if h != nil {
		got = hex.EncodeToString(h.Sum(nil))
	} else {
		got = w.Digest().String()
	}
	if got != d.want {
		_ = w.Discard()
		return pool.Info{}, &verify.ChecksumError{Algo: d.algo, Want: d.want, Got: got}
	}
	info, err := w.CommitTo(ctx, pool.PutRequest{Digest: d.digest, Size: d.size}, d.batch)
	if err != nil {
		return pool.Info{}, &permanentError{err}
	}
	return info, nil
}

// copyBody streams rep's body into w through the rate limiter, reporting
// progress and stopping as soon as the declared size is exceeded.
func (s *Source) copyBody(ctx context.Context, w *pool.Writer, rep *reply, d *download) error {
	total := int64(-1)
	switch {
	case d.size > 0:
		total = d.size
		if rep.total >= 0 && rep.total != d.size {
			return &verify.SizeError{Want: d.size, Got: rep.total}
		}
	case rep.total >= 0:
		total = rep.total
	}
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	buf := *bp
	for {
		n, err := s.read(ctx, rep.body, buf)
		if n > 0 {
			if d.size > 0 && w.Size()+int64(n) > d.size {
				return &verify.SizeError{Want: d.size, Got: w.Size() + int64(n)}
			}
			if _, werr := w.Write(buf[:n]); werr != nil {
				return &permanentError{werr}
			}
			s.report(d.path, w.Size(), total)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
