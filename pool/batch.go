package pool

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// batchPrefix names the tmp/ subdirectory of a Batch; batchLock is the file
// in it whose flock says that the batch is alive. The batch's temp files are
// spread over batchFan subdirectories 0, 1, ...: creating a file locks its
// directory, and with one directory the downloads of a sync queued there
// (on ext4, a tenth of a first sync's kernel time went to spinning on that
// lock).
const (
	batchPrefix = "batch-"
	batchLock   = "lock"
	batchFan    = 16
)

// A Batch is a group commit: Writer.CommitTo verifies a blob and parks it in a
// batch-owned temp directory, and Flush makes every parked blob durable with
// one syncfs(2) of the pool's file system, moves them to their canonical
// paths and syncs again. A crash before Flush returns leaves at a canonical
// path only blobs whose bytes were already durable; the parked temp files are
// removed by a later CleanTemp.
//
// Until Flush returns, a blob parked in the batch is absent for Has, Stat,
// Open, Link and Walk (Put and Begin may store it again; the duplicate is
// dropped). A Batch is safe for concurrent use: CommitTo may run in many
// goroutines while another one calls Flush. Call Discard when done with it:
// it removes the temps of blobs not flushed and the batch directory, and a
// Flush or CommitTo after it fails with ErrClosed.
type Batch struct {
	s       *Store
	flushMu sync.Mutex // serializes Flush and Discard

	mu      sync.Mutex
	dir     string   // tmp/batch-*, created by the first CommitTo
	lock    *os.File // holds the flock on dir/lock
	seq     int
	pending []parked
	parked  map[Digest]Info // every blob parked and not yet at its canonical path
	closed  bool
	// creating counts the files Begin is creating in dir outside mu;
	// Discard waits for them before removing dir.
	creating sync.WaitGroup
}

// parked is one verified blob waiting in the batch directory.
type parked struct {
	temp string
	info Info
}

// NewBatch starts a group commit. It touches the disk only at the first
// CommitTo.
func (s *Store) NewBatch() *Batch {
	return &Batch{s: s, parked: map[Digest]Info{}}
}

// CommitTo is Commit for a group commit: it checks the bytes against req
// exactly as Commit does, then, instead of syncing the blob and moving it
// into place, parks it in b (freeing the resumable partial's name) until
// b.Flush. The returned Info is valid, but the blob is visible only once
// Flush has returned. If the pool or b already holds the blob, the temp file
// is removed. CommitTo always ends the Writer. A nil b commits at once, as
// Commit.
func (w *Writer) CommitTo(ctx context.Context, req PutRequest, b *Batch) (Info, error) {
	if b == nil {
		return w.Commit(ctx, req)
	}
	got, err := w.check(ctx, req)
	if err != nil {
		return Info{}, err
	}
	info, err := b.park(w, got)
	if err != nil {
		return Info{}, withCleanup(fmt.Errorf("pool: committing %s: %w", got, err), w.Abort())
	}
	return info, nil
}

// Begin starts a Writer whose temp file is created in the batch's own
// directory, for blobs too small to be worth resuming: it takes no lock of
// its own (the batch's lock covers its directory), is created read-only
// (the open descriptor still writes), and CommitTo to b parks it where it
// is. Abort removes it, like any anonymous temp file; req.ResumeKey is
// ignored. It fails with ErrClosed after Discard.
func (b *Batch) Begin(ctx context.Context, req BeginRequest) (*Writer, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pool: beginning blob: %w", err)
	}
	for _, h := range req.Hashes {
		h.Reset()
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, fmt.Errorf("pool: beginning blob: %w", ErrClosed)
	}
	if err := b.open(); err != nil {
		b.mu.Unlock()
		return nil, fmt.Errorf("pool: beginning blob: %w", err)
	}
	name := b.tempName("w")
	// Create the file without holding b.mu (an inode allocation, slow while
	// a flush syncs the file system): Discard waits for it instead.
	b.creating.Add(1)
	b.mu.Unlock()
	f, err := createExcl(name, blobMode)
	b.creating.Done()
	if err != nil {
		return nil, fmt.Errorf("pool: beginning blob: %w", err)
	}
	return &Writer{s: b.s, f: f, name: name, sum: sha256.New(), extra: req.Hashes, batch: b}, nil
}

// park moves w's verified temp file into the batch directory and ends w.
func (b *Batch) park(w *Writer, d Digest) (Info, error) {
	if b.s != w.s {
		return Info{}, errors.New("batch belongs to another store")
	}
	if w.batch != nil {
		if w.batch != b {
			return Info{}, errors.New("writer belongs to another batch")
		}
		return b.parkInPlace(w, d)
	}
	if fi, err := os.Lstat(b.s.Path(d)); err == nil && fi.Mode().IsRegular() && fi.Size() == w.size {
		if err := w.Discard(); err != nil {
			return Info{}, err
		}
		return Info{Digest: d, Size: fi.Size(), ModTime: fi.ModTime()}, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return Info{}, ErrClosed
	}
	if info, ok := b.parked[d]; ok && info.Size == w.size {
		if err := w.Discard(); err != nil {
			return Info{}, err
		}
		return info, nil
	}
	if err := b.open(); err != nil {
		return Info{}, err
	}
	temp := b.tempName("")
	if err := w.f.Chmod(blobMode); err != nil {
		return Info{}, err
	}
	if err := os.Rename(w.name, temp); err != nil {
		return Info{}, w.unchmod(err)
	}
	// The batch's lock now guards the file: release the Writer's.
	w.name = temp
	info, err := w.close(d)
	if err != nil {
		return Info{}, err
	}
	b.add(temp, info)
	return info, nil
}

// parkInPlace parks a Writer from b.Begin: its file already is in the batch
// directory, read-only. Whether the pool holds the blob already is left to
// Flush, which must look anyway. The file is closed before b.mu is taken, so
// concurrent downloads do not queue behind each other's system calls.
func (b *Batch) parkInPlace(w *Writer, d Digest) (Info, error) {
	info, err := w.close(d)
	if err != nil {
		return Info{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return Info{}, errors.Join(ErrClosed, removeTemp(w.name))
	}
	if prev, ok := b.parked[d]; ok && prev.Size == info.Size {
		return prev, removeTemp(w.name)
	}
	b.add(w.name, info)
	return info, nil
}

// tempName returns a new name for a file in the batch directory, prefix and
// a sequence number in one of its fan-out directories; b.mu is held and the
// directory open.
func (b *Batch) tempName(prefix string) string {
	b.seq++
	return filepath.Join(b.dir, strconv.Itoa(b.seq%batchFan), prefix+strconv.Itoa(b.seq))
}

// add records the file at temp, holding info's blob, as parked until Flush;
// b.mu is held.
func (b *Batch) add(temp string, info Info) {
	b.pending = append(b.pending, parked{temp: temp, info: info})
	b.parked[info.Digest] = info
}

// close ends w, whose verified file stays where it is, and returns its Info;
// on error the file is removed. The size is what w wrote (check verified it)
// and the time the close's: no fstat per blob.
func (w *Writer) close(d Digest) (Info, error) {
	w.done = true
	if err := w.f.Close(); err != nil {
		return Info{}, errors.Join(err, removeTemp(w.name))
	}
	return Info{Digest: d, Size: w.size, ModTime: time.Now()}, nil
}

// removeTemp removes a temp file that may already be gone (Discard removes
// the batch directory).
func removeTemp(name string) error {
	if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// open creates and locks the batch directory; b.mu is held.
func (b *Batch) open() error {
	if b.lock != nil {
		return nil
	}
	dir, err := os.MkdirTemp(b.s.tmpDir(), batchPrefix+"*")
	if err != nil {
		return err
	}
	for i := range batchFan {
		if err := os.Mkdir(filepath.Join(dir, strconv.Itoa(i)), 0o700); err != nil {
			os.RemoveAll(dir) // already failing; CleanTemp removes what is left
			return err
		}
	}
	name := filepath.Join(dir, batchLock)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, tempMode)
	if err == nil {
		var ok bool
		if ok, err = tryLock(f); err == nil && !ok {
			err = fmt.Errorf("new batch lock %s is locked", name)
		}
		if err == nil && !samePath(f, name) {
			err = fmt.Errorf("batch directory %s was removed", dir)
		}
		if err != nil {
			f.Close() // already failing
		}
	}
	if err != nil {
		os.RemoveAll(dir) // already failing; CleanTemp removes what is left
		return err
	}
	b.dir, b.lock = dir, f
	return nil
}

// Flush makes every blob whose CommitTo returned before Flush was called
// durable and visible at its canonical path: one syncfs of the pool's file
// system, a rename per blob, and a second syncfs for the directories. On
// error the blobs not yet moved stay parked (Discard removes them); those
// already moved are complete and durable blobs. Options.NoSync skips the
// syncs.
func (b *Batch) Flush(ctx context.Context) error {
	b.flushMu.Lock()
	defer b.flushMu.Unlock()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return fmt.Errorf("pool: flushing batch: %w", ErrClosed)
	}
	todo := b.pending
	b.pending = nil
	b.mu.Unlock()
	if len(todo) == 0 {
		return nil
	}
	done, err := b.install(ctx, todo)
	b.mu.Lock()
	for _, p := range todo[:done] {
		delete(b.parked, p.info.Digest)
	}
	b.pending = append(b.pending, todo[done:]...)
	b.mu.Unlock()
	if err != nil {
		return fmt.Errorf("pool: flushing batch: %w", err)
	}
	b.s.log.Debug("flushed batch", "blobs", len(todo))
	return nil
}

// install syncs the parked files, moves them into place and syncs the
// directories. It returns how many of todo it moved (or found in place).
func (b *Batch) install(ctx context.Context, todo []parked) (int, error) {
	s := b.s
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	perFile := false
	if !s.opts.NoSync {
		if err := syncFS(s.root); errors.Is(err, errors.ErrUnsupported) {
			perFile = true
		} else if err != nil {
			return 0, err
		}
	}
	dirs := map[string]bool{} // to sync one by one (perFile)
	for i, p := range todo {
		if perFile {
			if err := syncPath(p.temp); err != nil {
				return i, err
			}
		}
		if err := s.moveIn(p, dirs, perFile); err != nil {
			return i, err
		}
	}
	if s.opts.NoSync {
		return len(todo), nil
	}
	if !perFile {
		return len(todo), syncFS(s.root)
	}
	for dir := range dirs {
		if err := syncPath(dir); err != nil {
			return len(todo), err
		}
	}
	return len(todo), nil
}

// moveIn moves the parked file p to its canonical path, unless the pool
// holds the blob already (then the parked file is removed). With perFile it
// adds the directories it changed to dirs.
func (s *Store) moveIn(p parked, dirs map[string]bool, perFile bool) error {
	d := p.info.Digest
	dst := s.Path(d)
	dir := filepath.Dir(dst)
	for retried := false; ; retried = true {
		created, err := s.fanoutDir(d, dir)
		if err != nil {
			return err
		}
		if perFile {
			dirs[dir] = true
			if created {
				dirs[filepath.Dir(dir)] = true
			}
		}
		err = s.rename(p, dst)
		if errors.Is(err, fs.ErrNotExist) && !retried {
			// The blob directory was removed behind the pool's back: make
			// it again, once.
			s.fanout[d[0]].Store(false)
			continue
		}
		return err
	}
}

// rename moves p's file to dst without replacing a blob already there.
func (s *Store) rename(p parked, dst string) error {
	moved, err := renameNoReplace(p.temp, dst)
	if err != nil || moved {
		return err
	}
	if fi, err := os.Lstat(dst); err == nil && fi.Mode().IsRegular() && fi.Size() == p.info.Size {
		// Stored meanwhile by another writer: keep that file.
		return os.Remove(p.temp)
	}
	return os.Rename(p.temp, dst)
}

// fanoutDir makes sure dir, the blob directory of d, exists: the first
// time a Store is asked for it, it creates it unless it exists, afterwards
// it trusts that it still does (the pool never removes one; moveIn makes it
// again if it went away). It reports whether it created dir.
func (s *Store) fanoutDir(d Digest, dir string) (bool, error) {
	if s.fanout[d[0]].Load() {
		return false, nil
	}
	created, err := mkdirNew(dir)
	if err != nil {
		return false, err
	}
	s.fanout[d[0]].Store(true)
	return created, nil
}

// mkdirNew creates dir unless it exists and reports whether it did.
func mkdirNew(dir string) (bool, error) {
	err := os.Mkdir(dir, dirMode)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	return err == nil, err
}

// Discard ends the batch: it removes the temp files of blobs not flushed and
// the batch directory, and releases its lock. After a successful Flush it
// only removes the empty directory. Discard again does nothing.
func (b *Batch) Discard() error {
	b.flushMu.Lock()
	defer b.flushMu.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	b.pending, b.parked = nil, nil
	if b.lock == nil {
		return nil
	}
	// No Begin starts a file once closed is set; wait for those that did.
	b.creating.Wait()
	// Remove while holding the lock, so CleanTemp leaves the directory alone.
	rerr := os.RemoveAll(b.dir)
	cerr := b.lock.Close()
	if err := errors.Join(rerr, cerr); err != nil {
		return fmt.Errorf("pool: discarding batch: %w", err)
	}
	return nil
}

// cleanBatch removes the batch directory dir unless a live Batch holds its
// lock, and returns how many parked files it removed.
func (s *Store) cleanBatch(dir string) (int, error) {
	lock, err := os.Open(filepath.Join(dir, batchLock))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// A batch that died before taking its lock (old enough to be stale).
	case err != nil:
		return 0, err
	default:
		defer lock.Close() // read-only; closing releases the lock
		ok, err := tryLock(lock)
		if err != nil || !ok {
			return 0, err
		}
		if !samePath(lock, filepath.Join(dir, batchLock)) {
			return 0, nil
		}
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, e := range entries {
		switch {
		case e.Name() == batchLock:
		case e.IsDir(): // a fan-out directory
			files, err := os.ReadDir(filepath.Join(dir, e.Name()))
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return 0, err
			}
			removed += len(files)
		default: // a temp file of an older layout
			removed++
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return 0, err
	}
	s.log.Debug("removed stale batch", "path", filepath.Base(dir), "files", removed)
	return removed, nil
}

// isBatchDir reports whether a tmp/ entry is a batch directory.
func isBatchDir(e fs.DirEntry) bool {
	return e.IsDir() && strings.HasPrefix(e.Name(), batchPrefix)
}
