package pool

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
)

// pipelineDepth is how many chunks ReadFrom and Put let the file writes lag
// behind reading and hashing. A queue rather than one hand-off per chunk keeps
// both goroutines busy even when waking the other one takes a while.
const pipelineDepth = 3

// maxEmptyReads bounds how many (0, nil) reads Put tolerates in a row.
const maxEmptyReads = 100

// A Writer streams one blob into a temp file in the pool's tmp/ directory,
// hashing as it goes, until Commit moves it into place or Abort or Discard
// ends it. A Writer is not safe for concurrent use.
//
// Abort and Discard after Commit (or after each other) do nothing and return
// nil, so `defer w.Abort()` is a safe way to clean up.
type Writer struct {
	s         *Store
	f         *os.File
	name      string
	resumable bool
	sum       hash.Hash
	extra     []hash.Hash
	offset    int64
	size      int64
	err       error // sticky write error
	done      bool
	batch     *Batch // set by Batch.Begin: the file lives in the batch's directory
}

// Begin starts a Writer.
//
// With a non-empty req.ResumeKey the temp file is tmp/partial-<sha256 of the
// key>. If an earlier, aborted attempt left it behind, Begin re-hashes its
// bytes into the SHA-256 and into req.Hashes and the caller continues at
// w.Offset() (for example with an HTTP Range request). If another Writer (in
// this or another process) holds that partial, Begin does not wait: it falls
// back to an anonymous temp file at offset 0. Without a ResumeKey the temp file
// is anonymous and removed by Abort.
func (s *Store) Begin(ctx context.Context, req BeginRequest) (*Writer, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pool: beginning blob: %w", err)
	}
	for _, h := range req.Hashes {
		h.Reset()
	}
	w := &Writer{s: s, sum: sha256.New(), extra: req.Hashes}
	if req.ResumeKey != "" {
		ok, err := w.openPartial(ctx, req.ResumeKey)
		if err != nil {
			return nil, err
		}
		if ok {
			return w, nil
		}
	}
	f, err := os.CreateTemp(s.tmpDir(), "put-*")
	if err != nil {
		return nil, fmt.Errorf("pool: beginning blob: %w", err)
	}
	// Lock anonymous temp files too, so that CleanTemp never removes a slow
	// write in progress.
	if ok, err := tryLock(f); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("new temp file %s is locked", f.Name())
		}
		f.Close() // already failing
		os.Remove(f.Name())
		return nil, fmt.Errorf("pool: beginning blob: %w", err)
	}
	w.f, w.name = f, f.Name()
	return w, nil
}

// openPartial opens and locks the resumable partial for key and re-hashes what
// it holds. It reports false when another Writer holds it.
func (w *Writer) openPartial(ctx context.Context, key string) (bool, error) {
	k := sha256.Sum256([]byte(key))
	name := filepath.Join(w.s.tmpDir(), "partial-"+hex.EncodeToString(k[:]))
	// A holder may commit or discard the partial between our open and our
	// lock; then we locked an orphan and must try again.
	for range 3 {
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, tempMode)
		if err != nil {
			return false, fmt.Errorf("pool: opening partial: %w", err)
		}
		ok, err := tryLock(f)
		if err != nil || !ok {
			f.Close() // read nothing, wrote nothing
			return false, err
		}
		if !samePath(f, name) {
			f.Close() // orphan: read nothing, wrote nothing
			continue
		}
		w.f, w.name, w.resumable = f, name, true
		if err := w.rehash(ctx); err != nil {
			w.f.Close() // keep the partial for a later attempt
			w.f = nil
			return false, fmt.Errorf("pool: resuming partial: %w", err)
		}
		if w.offset > 0 {
			w.s.log.Debug("resuming partial", "path", filepath.Base(name), "bytes", w.offset)
		}
		return true, nil
	}
	return false, nil
}

// rehash feeds the bytes already in the partial file to the hashes and leaves
// the file offset at its end.
func (w *Writer) rehash(ctx context.Context) error {
	buf := w.s.getBuf()
	defer w.s.putBuf(buf)
	n, err := copyChunks(ctx, writerFunc(w.hash), w.f, *buf)
	if err != nil {
		return err
	}
	w.offset, w.size = n, n
	return nil
}

type writerFunc func([]byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }

func (w *Writer) hash(p []byte) {
	w.sum.Write(p)
	for _, h := range w.extra {
		h.Write(p)
	}
}

// Write appends p to the blob and to every hash. To copy a stream, prefer
// ReadFrom (which io.Copy uses): it hashes and writes in parallel.
func (w *Writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, fmt.Errorf("pool: writing blob: %w", ErrClosed)
	}
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.f.Write(p)
	w.hash(p[:n])
	w.size += int64(n)
	if err != nil {
		// The hashes may now disagree with the file: refuse to commit.
		w.err = fmt.Errorf("pool: writing blob: %w", err)
		return n, w.err
	}
	return n, nil
}

// Offset returns how many bytes the blob held when Begin returned: the length
// of a resumed partial, otherwise 0.
func (w *Writer) Offset() int64 { return w.offset }

// Size returns how many bytes the blob holds so far, including Offset.
func (w *Writer) Size() int64 { return w.size }

// Digest returns the SHA-256 of the bytes so far.
func (w *Writer) Digest() Digest { return Digest(w.sum.Sum(nil)) }

// Commit checks the bytes against req (a *SizeMismatchError or
// *DigestMismatchError when they differ, and the temp file is removed), makes
// them durable and read-only and moves them to the canonical path. If the pool
// already holds the blob, the existing file (which may be hard-linked into
// published trees) is kept untouched and the temp file removed. On any other
// error the Writer ends as with Abort. Commit always ends the Writer.
func (w *Writer) Commit(ctx context.Context, req PutRequest) (Info, error) {
	got, err := w.check(ctx, req)
	if err != nil {
		return Info{}, err
	}
	info, err := w.install(got)
	if err != nil {
		return Info{}, withCleanup(fmt.Errorf("pool: committing %s: %w", got, err), w.Abort())
	}
	w.s.log.Debug("stored blob", "digest", got.String(), "bytes", info.Size)
	return info, nil
}

// check verifies the bytes against req before a commit and returns their
// digest. On failure the Writer has ended: a mismatch discards the temp file,
// anything else aborts it.
func (w *Writer) check(ctx context.Context, req PutRequest) (Digest, error) {
	if w.done {
		return Digest{}, fmt.Errorf("pool: committing blob: %w", ErrClosed)
	}
	if w.err != nil {
		return Digest{}, withCleanup(w.err, w.Abort())
	}
	if err := ctx.Err(); err != nil {
		return Digest{}, withCleanup(fmt.Errorf("pool: committing blob: %w", err), w.Abort())
	}
	if req.Size > 0 && w.size != req.Size {
		return Digest{}, withCleanup(&SizeMismatchError{Want: req.Size, Got: w.size}, w.Discard())
	}
	got := w.Digest()
	if !req.Digest.IsZero() && got != req.Digest {
		return Digest{}, withCleanup(&DigestMismatchError{Want: req.Digest, Got: got, Size: w.size}, w.Discard())
	}
	return got, nil
}

// install moves the temp file to the canonical path of d and ends the Writer.
func (w *Writer) install(d Digest) (Info, error) {
	s := w.s
	dst := s.Path(d)
	if fi, err := os.Lstat(dst); err == nil && fi.Mode().IsRegular() && fi.Size() == w.size {
		// Same digest and size: the same bytes, already in place.
		if err := w.Discard(); err != nil {
			return Info{}, err
		}
		return Info{Digest: d, Size: fi.Size(), ModTime: fi.ModTime()}, nil
	}
	if !s.opts.NoSync {
		if err := w.f.Sync(); err != nil {
			return Info{}, err
		}
	}
	if err := w.f.Chmod(blobMode); err != nil {
		return Info{}, err
	}
	if err := s.mkdirBlobDir(filepath.Dir(dst)); err != nil {
		return Info{}, w.unchmod(err)
	}
	if err := os.Rename(w.name, dst); err != nil {
		return Info{}, w.unchmod(err)
	}
	// The blob is in place: from here on nothing may remove w.name's bytes.
	w.done = true
	fi, statErr := w.f.Stat()
	closeErr := w.f.Close() // releases the lock
	if !s.opts.NoSync {
		if err := syncPath(filepath.Dir(dst)); err != nil {
			return Info{}, err
		}
	}
	if statErr != nil {
		return Info{}, statErr
	}
	if closeErr != nil {
		return Info{}, closeErr
	}
	return Info{Digest: d, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// unchmod makes the temp file writable again so that an aborted partial can
// be resumed; it returns err.
func (w *Writer) unchmod(err error) error {
	if cerr := w.f.Chmod(tempMode); cerr != nil {
		return errors.Join(err, cerr)
	}
	return err
}

// mkdirBlobDir creates a blob fan-out directory, syncing its parent when it is new.
func (s *Store) mkdirBlobDir(dir string) error {
	err := os.Mkdir(dir, dirMode)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if s.opts.NoSync {
		return nil
	}
	return syncPath(filepath.Dir(dir))
}

// Abort ends the Writer without storing the blob. A resumable partial (Begin
// with a ResumeKey) is kept for a later Begin with the same key; an anonymous
// temp file is removed.
func (w *Writer) Abort() error {
	if w.done {
		return nil
	}
	if !w.resumable {
		return w.Discard()
	}
	w.done = true
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("pool: aborting blob: %w", err)
	}
	return nil
}

// Discard ends the Writer and removes its temp file, resumable or not.
func (w *Writer) Discard() error {
	if w.done {
		return nil
	}
	w.done = true
	// Remove while still holding the lock, so no other Writer resumes a
	// file that is about to vanish.
	rerr := os.Remove(w.name)
	if errors.Is(rerr, fs.ErrNotExist) {
		rerr = nil
	}
	cerr := w.f.Close()
	if err := errors.Join(rerr, cerr); err != nil {
		return fmt.Errorf("pool: discarding blob: %w", err)
	}
	return nil
}

// Put stores the bytes of r and returns the blob's Info.
//
// If req.Digest is set and the pool already holds that blob, Put does not read
// r at all and returns the existing Info (or a *SizeMismatchError when req.Size
// contradicts it). Otherwise Put streams r into a temp file, hashing while
// writing, and fails with a *SizeMismatchError as soon as r yields more than
// req.Size bytes, or at the end with a *SizeMismatchError or
// *DigestMismatchError; it then fsyncs and renames the file into place (see
// Writer.Commit). A failing reader, a mismatch or a cancelled ctx (checked
// between chunks of 1 MiB) leaves nothing at the canonical path and nothing in
// tmp/.
func (s *Store) Put(ctx context.Context, r io.Reader, req PutRequest) (Info, error) {
	if !req.Digest.IsZero() {
		info, err := s.Stat(req.Digest)
		if err == nil {
			if req.Size > 0 && info.Size != req.Size {
				return Info{}, &SizeMismatchError{Want: req.Size, Got: info.Size}
			}
			return info, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return Info{}, err
		}
	}
	w, err := s.Begin(ctx, BeginRequest{})
	if err != nil {
		return Info{}, err
	}
	if _, err := w.fill(ctx, r, req.Size); err != nil {
		return Info{}, withCleanup(err, w.Abort())
	}
	return w.Commit(ctx, req)
}

// ReadFrom implements io.ReaderFrom: it appends everything r yields until
// EOF, reading and hashing in the calling goroutine while another one writes
// to the file, so that a large stream costs little more than its SHA-256.
func (w *Writer) ReadFrom(r io.Reader) (int64, error) {
	return w.fill(context.Background(), r, 0)
}

// fill copies r into w in chunks of bufSize until EOF, checking ctx before
// each. Each chunk is read completely before it is queued, so a reader
// yielding small pieces (an HTTP body) still results in large writes.
// limit > 0 bounds the total size of the blob.
func (w *Writer) fill(ctx context.Context, r io.Reader, limit int64) (int64, error) {
	if w.done {
		return 0, fmt.Errorf("pool: writing blob: %w", ErrClosed)
	}
	if w.err != nil {
		return 0, w.err
	}
	type chunk struct {
		buf *[]byte
		n   int
	}
	queue := make(chan chunk, pipelineDepth)
	free := make(chan *[]byte, pipelineDepth+1)
	for range pipelineDepth + 1 {
		free <- w.s.getBuf()
	}
	var writeFailed atomic.Bool
	writeErr := make(chan error, 1)
	go func() {
		var err error
		for c := range queue {
			if err == nil {
				if _, err = w.f.Write((*c.buf)[:c.n]); err != nil {
					writeFailed.Store(true)
				}
			}
			free <- c.buf
		}
		writeErr <- err
	}()

	var total int64
	var err error
	for {
		if err = ctx.Err(); err != nil {
			err = fmt.Errorf("pool: putting blob: %w", err)
			break
		}
		if writeFailed.Load() {
			break // the writer's error is collected below
		}
		buf := <-free
		n, rerr := readChunk(r, *buf)
		if n > 0 && limit > 0 && w.size+int64(n) > limit {
			free <- buf
			err = &SizeMismatchError{Want: limit, Got: w.size + int64(n)}
			break
		}
		if n > 0 {
			w.hash((*buf)[:n])
			w.size += int64(n)
			total += int64(n)
			queue <- chunk{buf, n}
		} else {
			free <- buf
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			err = fmt.Errorf("pool: reading blob: %w", rerr)
			break
		}
	}
	close(queue)
	if werr := <-writeErr; werr != nil {
		// The hashes now disagree with the file: refuse to commit.
		w.err = fmt.Errorf("pool: writing blob: %w", werr)
		err = w.err
	}
	for range pipelineDepth + 1 {
		w.s.putBuf(<-free)
	}
	return total, err
}

// readChunk reads from r until buf is full or r fails; io.EOF marks the end.
func readChunk(r io.Reader, buf []byte) (int, error) {
	n, empty := 0, 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
		if m == 0 {
			if empty++; empty >= maxEmptyReads {
				return n, io.ErrNoProgress
			}
		}
	}
	return n, nil
}

// withCleanup returns err, joined with the error of the cleanup that followed
// it only when that cleanup failed too, so that callers can still type-assert
// the common case.
func withCleanup(err, cleanupErr error) error {
	if cleanupErr == nil {
		return err
	}
	return errors.Join(err, cleanupErr)
}
