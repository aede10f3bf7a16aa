package pool

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// bufSize is the copy buffer size of Put, Verify and resume re-hashing: large
// enough that syscall and hand-off overhead vanish next to hashing.
const bufSize = 1 << 20

// Blobs are read-only so that a hardlinked published file is never rewritten
// in place; temp files stay writable until they are committed.
const (
	blobMode = 0o444
	tempMode = 0o644
	dirMode  = 0o755
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
	// every byte of the blob, including a resumed prefix. Begin resets them first.
	Hashes []hash.Hash
}

// Store is a content-addressed blob store rooted at a directory:
// <root>/sha256/ab/<hex> for blobs and <root>/tmp/ for writes in progress.
// It is safe for concurrent use by several goroutines and processes.
type Store struct {
	root string
	opts Options
	log  *slog.Logger
	bufs sync.Pool // *[]byte of bufSize

	// fanout[b] is set once the blob directory of digests starting with
	// byte b is known to exist (Batch.Flush).
	fanout [256]atomic.Bool

	// link makes a hard link; tests replace it to simulate EXDEV and friends.
	link func(oldname, newname string) error
}

// Open opens the pool rooted at root, creating root, root/sha256 and root/tmp
// (mode 0755) as needed.
func Open(root string, o *Options) (*Store, error) {
	s := &Store{root: filepath.Clean(root), link: os.Link}
	if o != nil {
		s.opts = *o
	}
	s.log = s.opts.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.bufs.New = func() any {
		b := make([]byte, bufSize)
		return &b
	}
	for _, dir := range []string{s.root, s.blobsDir(), s.tmpDir()} {
		if err := os.MkdirAll(dir, dirMode); err != nil {
			return nil, fmt.Errorf("pool: opening store: %w", err)
		}
	}
	return s, nil
}

// Root returns the directory the store was opened at.
func (s *Store) Root() string { return s.root }

func (s *Store) blobsDir() string { return filepath.Join(s.root, "sha256") }
func (s *Store) tmpDir() string   { return filepath.Join(s.root, "tmp") }

// Path returns the canonical path of the blob d, whether or not it exists.
// It is meant for read-only use such as serving; blobs must never be written
// through it.
func (s *Store) Path(d Digest) string {
	h := d.String()
	return filepath.Join(s.root, "sha256", h[:2], h)
}

func (s *Store) getBuf() *[]byte  { return s.bufs.Get().(*[]byte) }
func (s *Store) putBuf(b *[]byte) { s.bufs.Put(b) }

// Has reports whether the pool holds the blob d.
func (s *Store) Has(d Digest) (bool, error) {
	_, err := os.Lstat(s.Path(d))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("pool: checking blob: %w", err)
	}
}

// Stat describes the blob d. It returns an error wrapping ErrNotFound when the
// pool does not hold it.
func (s *Store) Stat(d Digest) (Info, error) {
	fi, err := os.Lstat(s.Path(d))
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !fi.Mode().IsRegular()) {
		return Info{}, fmt.Errorf("stat %s: %w", d, ErrNotFound)
	}
	if err != nil {
		return Info{}, fmt.Errorf("pool: stat blob: %w", err)
	}
	return Info{Digest: d, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Open opens the blob d for reading. It returns an error wrapping ErrNotFound
// when the pool does not hold it.
func (s *Store) Open(d Digest) (*os.File, error) {
	f, err := os.Open(s.Path(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("open %s: %w", d, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("pool: opening blob: %w", err)
	}
	return f, nil
}

// Remove deletes the blob d. It returns an error wrapping ErrNotFound when the
// pool does not hold it. Hard links made by Link are not affected.
func (s *Store) Remove(d Digest) error {
	err := os.Remove(s.Path(d))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", d, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("pool: removing blob: %w", err)
	}
	return s.bumpGeneration()
}

// generationFile grows by one byte per removed blob; its size is the pool's
// removal generation.
const generationFile = "generation"

// Generation identifies the pool's removals so far: it changes whenever Remove
// takes a blob out, and only then. A caller that saw every blob of a set
// present at one generation knows they are still present at the same
// generation (blobs leave the pool only through Remove; files deleted behind
// the pool's back are what Verify and a catalog check are for).
func (s *Store) Generation() (int64, error) {
	fi, err := os.Stat(filepath.Join(s.root, generationFile))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("pool: reading generation: %w", err)
	}
	return fi.Size(), nil
}

// MarkChanged moves the generation without removing anything: for a caller
// that found blobs missing which were deleted behind the pool's back.
func (s *Store) MarkChanged() error { return s.bumpGeneration() }

func (s *Store) bumpGeneration() error {
	f, err := os.OpenFile(filepath.Join(s.root, generationFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("pool: recording removal: %w", err)
	}
	_, err = f.Write([]byte{'.'}) // O_APPEND: concurrent removers never lose a byte
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("pool: recording removal: %w", err)
	}
	return nil
}

// Verify re-hashes the blob d. It returns a *DigestMismatchError when the
// bytes on disk no longer hash to d, and an error wrapping ErrNotFound when the
// pool does not hold it.
func (s *Store) Verify(ctx context.Context, d Digest) error {
	f, err := s.Open(d)
	if err != nil {
		return err
	}
	defer f.Close() // read-only: a close error cannot lose data
	h := sha256.New()
	buf := s.getBuf()
	defer s.putBuf(buf)
	n, err := copyChunks(ctx, h, f, *buf)
	if err != nil {
		return fmt.Errorf("pool: verifying %s: %w", d, err)
	}
	if got := Digest(h.Sum(nil)); got != d {
		return &DigestMismatchError{Want: d, Got: got, Size: n}
	}
	return nil
}

// copyChunks copies r to w in chunks of len(buf), checking ctx before each.
func copyChunks(ctx context.Context, w io.Writer, r io.Reader, buf []byte) (int64, error) {
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		m, err := r.Read(buf)
		if m > 0 {
			if _, werr := w.Write(buf[:m]); werr != nil {
				return n, werr
			}
			n += int64(m)
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// Walk calls fn with every blob in the pool, in digest order. Temp files and
// names that are not canonical lower-case hex digests are skipped. A blob
// removed while Walk runs may or may not be reported. If fn returns
// fs.SkipAll, Walk stops and returns nil; any other error from fn stops Walk
// and is returned unchanged.
func (s *Store) Walk(ctx context.Context, fn func(Info) error) error {
	dirs, err := os.ReadDir(s.blobsDir())
	if err != nil {
		return fmt.Errorf("pool: walking blobs: %w", err)
	}
	for _, dir := range dirs {
		if !dir.IsDir() || len(dir.Name()) != 2 || !isLowerHex(dir.Name()) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("pool: walking blobs: %w", err)
		}
		entries, err := os.ReadDir(filepath.Join(s.blobsDir(), dir.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("pool: walking blobs: %w", err)
		}
		for _, e := range entries {
			name := e.Name()
			if !e.Type().IsRegular() || len(name) != 64 || name[:2] != dir.Name() || !isLowerHex(name) {
				continue
			}
			d, err := Parse(name)
			if err != nil {
				continue // unreachable after isLowerHex; skip like any stray name
			}
			fi, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed since ReadDir
			}
			if err != nil {
				return fmt.Errorf("pool: walking blobs: %w", err)
			}
			if err := fn(Info{Digest: d, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
				if errors.Is(err, fs.SkipAll) {
					return nil
				}
				return err
			}
		}
	}
	return nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// CleanTemp removes files in tmp/ whose modification time is older than
// olderThan, skipping those locked by a live Writer (in this or another
// process). Aborted resumable partials are removed too once stale, and so are
// the parked files of a Batch whose process died (its directory's
// modification time counts); a live Batch's are kept. It returns how many
// files it removed.
func (s *Store) CleanTemp(ctx context.Context, olderThan time.Duration) (removed int, err error) {
	entries, err := os.ReadDir(s.tmpDir())
	if err != nil {
		return 0, fmt.Errorf("pool: cleaning temp files: %w", err)
	}
	cutoff := time.Now().Add(-olderThan)
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return removed, fmt.Errorf("pool: cleaning temp files: %w", err)
		}
		if !e.Type().IsRegular() && !isBatchDir(e) {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return removed, fmt.Errorf("pool: cleaning temp files: %w", err)
		}
		if !fi.ModTime().Before(cutoff) {
			continue
		}
		if isBatchDir(e) {
			n, err := s.cleanBatch(filepath.Join(s.tmpDir(), e.Name()))
			if err != nil {
				return removed, fmt.Errorf("pool: cleaning temp files: %w", err)
			}
			removed += n
			continue
		}
		ok, err := s.removeIfUnlocked(filepath.Join(s.tmpDir(), e.Name()))
		if err != nil {
			return removed, fmt.Errorf("pool: cleaning temp files: %w", err)
		}
		if ok {
			removed++
			s.log.Debug("removed stale temp file", "path", e.Name(), "bytes", fi.Size())
		}
	}
	return removed, nil
}

// removeIfUnlocked removes path unless a Writer holds its lock.
func (s *Store) removeIfUnlocked(path string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close() // read-only; closing releases the lock
	locked, err := tryLock(f)
	if err != nil || !locked {
		return false, err
	}
	// Between Open and tryLock the owner may have committed or removed the
	// file and another Begin may have created a new one under the same name.
	if !samePath(f, path) {
		return false, nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	return true, nil
}

// samePath reports whether path still names the file open as f.
func samePath(f *os.File, path string) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	pi, err := os.Lstat(path)
	return err == nil && os.SameFile(fi, pi)
}

// Link makes dst a hard link to the blob d. dst's parent directory must
// exist; if dst exists, Link fails with an error wrapping fs.ErrExist (callers
// remove it first, or link to a temp name and rename). Where a hard link is
// impossible (EXDEV across file systems, EMLINK, EPERM, ENOTSUP), Link copies
// the blob to a temp file beside dst and renames it into place, read-only.
// Link returns an error wrapping ErrNotFound when the pool does not hold d.
func (s *Store) Link(d Digest, dst string) error {
	src := s.Path(d)
	err := s.link(src, dst)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("pool: linking %s: %w", d, err)
	case errors.Is(err, fs.ErrNotExist):
		if ok, herr := s.Has(d); herr == nil && !ok {
			return fmt.Errorf("link %s: %w", d, ErrNotFound)
		}
		return fmt.Errorf("pool: linking %s: %w", d, err)
	case errors.Is(err, syscall.EXDEV), errors.Is(err, syscall.EMLINK),
		errors.Is(err, syscall.EPERM), errors.Is(err, syscall.ENOTSUP):
		s.log.Debug("hard link impossible, copying", "digest", d.String(), "path", dst, "err", err)
		if err := s.copyTo(d, dst); err != nil {
			return fmt.Errorf("pool: copying %s: %w", d, err)
		}
		return nil
	default:
		return fmt.Errorf("pool: linking %s: %w", d, err)
	}
}

// copyTo copies the blob d to a temp file beside dst and moves it to dst
// without replacing an existing file.
func (s *Store) copyTo(d Digest, dst string) (err error) {
	src, err := s.Open(d)
	if err != nil {
		return err
	}
	defer src.Close() // read-only: a close error cannot lose data
	if _, err := os.Lstat(dst); err == nil {
		return &fs.PathError{Op: "link", Path: dst, Err: fs.ErrExist}
	}
	dir := filepath.Dir(dst)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close() // already failing; the file is removed below
			os.Remove(tmp.Name())
		}
	}()
	if _, err := io.Copy(tmp, src); err != nil { // copy_file_range where possible
		return err
	}
	if !s.opts.NoSync {
		if err := tmp.Sync(); err != nil {
			return err
		}
	}
	if err := tmp.Chmod(blobMode); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// Link refuses to replace dst; rename does not, so check first where
	// the file system cannot link at all.
	if lerr := os.Link(tmp.Name(), dst); lerr == nil {
		if err := os.Remove(tmp.Name()); err != nil {
			return err
		}
	} else if errors.Is(lerr, fs.ErrExist) {
		return lerr
	} else {
		if _, err := os.Lstat(dst); err == nil {
			return &fs.PathError{Op: "link", Path: dst, Err: fs.ErrExist}
		}
		if err := os.Rename(tmp.Name(), dst); err != nil {
			return err
		}
	}
	if !s.opts.NoSync {
		return syncPath(dir)
	}
	return nil
}

// tryLock takes an exclusive flock on f without blocking. It reports false
// when another open file description holds the lock.
func tryLock(f *os.File) (bool, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return false, err
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) {
		for {
			lerr = syscall.Flock(int(fd), syscall.LOCK_EX|syscall.LOCK_NB)
			if lerr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return false, err
	}
	if errors.Is(lerr, syscall.EWOULDBLOCK) {
		return false, nil
	}
	if lerr != nil {
		return false, fmt.Errorf("locking %s: %w", f.Name(), lerr)
	}
	return true, nil
}

// syncPath fsyncs the file or directory at path; syncing a directory makes
// the entries created, renamed or removed in it durable. (The pool imports
// nothing of ours, so it keeps this one helper of its own.)
func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
