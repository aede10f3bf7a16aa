package publish

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"
)

// stagingSink is the formats.Sink handed to Render: it creates files below the
// staging directory, confined like every other path publish writes.
// It is safe for concurrent use.
type stagingSink struct {
	t *tree // rooted at the staging directory

	mu    sync.Mutex
	files []string
	open  map[string]*stagedFile
	// closed are files Render closed whose fsync is deferred to sync, so
	// that the disk writes of all of them overlap each other and the rest
	// of the publish instead of each blocking its renderer.
	closed []*os.File
}

// maxDeferredSyncs bounds the files kept open for the deferred fsync; a
// file closed beyond it is fsynced by Close.
const maxDeferredSyncs = 64

func newStagingSink(t *tree) *stagingSink {
	return &stagingSink{t: t, open: map[string]*stagedFile{}}
}

// Create implements formats.Sink. A path rendered twice is an error.
func (s *stagingSink) Create(ctx context.Context, p string) (io.WriteCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkPath(p); err != nil {
		return nil, err
	}
	if err := s.t.mkdirAll(parentOf(p)); err != nil {
		return nil, err
	}
	s.t.op()
	f, err := os.OpenFile(s.t.abs(p), os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", p, err)
	}
	w := &stagedFile{f: f, s: s, path: p}
	s.mu.Lock()
	s.files = append(s.files, p)
	s.open[p] = w
	s.mu.Unlock()
	return w, nil
}

// Link implements formats.SinkLinker: path becomes a hard link to the
// rendered, closed file existing. Both are confined like Create's paths.
func (s *stagingSink) Link(ctx context.Context, existing, p string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, q := range []string{existing, p} {
		if err := checkPath(q); err != nil {
			return err
		}
	}
	s.mu.Lock()
	_, open := s.open[existing]
	rendered := slices.Contains(s.files, existing)
	s.mu.Unlock()
	if !rendered || open {
		return fmt.Errorf("linking %s: %s is not a rendered, closed file", p, existing)
	}
	if err := s.t.mkdirAll(parentOf(p)); err != nil {
		return err
	}
	s.t.op()
	if err := os.Link(s.t.abs(existing), s.t.abs(p)); err != nil {
		return fmt.Errorf("linking %s: %w", p, err)
	}
	s.mu.Lock()
	s.files = append(s.files, p)
	s.mu.Unlock()
	return nil
}

// closeLeftovers closes the files Render created and did not close and
// returns their paths, sorted.
func (s *stagingSink) closeLeftovers() []string {
	s.mu.Lock()
	var out []string
	var ws []*stagedFile
	for p, w := range s.open {
		out = append(out, p)
		ws = append(ws, w)
	}
	s.mu.Unlock()
	for _, w := range ws {
		w.Close() // the leftover itself is the error reported
	}
	slices.Sort(out)
	return out
}

// sync fsyncs the files whose fsync Close deferred, several at a time, and
// closes them. It must be called, once, before the staging directory is
// renamed into place; release closes them without syncing on failure.
func (s *stagingSink) sync() error {
	fs := s.takeClosed()
	var g errgroup.Group
	g.SetLimit(8)
	for _, f := range fs {
		g.Go(func() error {
			err := f.Sync()
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("syncing staged metadata: %w", err)
			}
			return nil
		})
	}
	return g.Wait()
}

// takeClosed returns the files waiting for sync and forgets them.
func (s *stagingSink) takeClosed() []*os.File {
	s.mu.Lock()
	defer s.mu.Unlock()
	fs := s.closed
	s.closed = nil
	return fs
}

// release closes the files still waiting for sync.
func (s *stagingSink) release() {
	for _, f := range s.takeClosed() {
		f.Close() // read-only use left; the publish is failing anyway
	}
}

// count returns how many files were rendered.
func (s *stagingSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.files)
}

// dirs returns every directory that holds a rendered file, root included.
func (s *stagingSink) dirs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{"": true}
	for _, p := range s.files {
		for d := parentOf(p); d != ""; d = parentOf(d) {
			seen[d] = true
		}
	}
	out := make([]string, 0, len(seen))
	for d := range seen {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

type stagedFile struct {
	f    *os.File
	s    *stagingSink
	path string
	once sync.Once
	err  error
}

func (w *stagedFile) Write(b []byte) (int, error) { return w.f.Write(b) }

// Close ends the file. Unless Options.NoSync, it starts the file's disk
// writes and leaves the file open for stagingSink.sync (or fsyncs it now
// when too many wait). Only the first call does anything.
func (w *stagedFile) Close() error {
	w.once.Do(func() {
		if w.s.t.sync {
			w.s.mu.Lock()
			deferred := len(w.s.closed) < maxDeferredSyncs
			if deferred {
				w.s.closed = append(w.s.closed, w.f)
			}
			w.s.mu.Unlock()
			if deferred {
				startWriteback(w.f)
			} else {
				w.err = w.f.Sync()
				if err := w.f.Close(); w.err == nil {
					w.err = err
				}
			}
		} else {
			w.err = w.f.Close()
		}
		if w.err != nil {
			w.err = fmt.Errorf("writing %s: %w", w.path, w.err)
		}
		w.s.mu.Lock()
		delete(w.s.open, w.path)
		w.s.mu.Unlock()
	})
	return w.err
}
