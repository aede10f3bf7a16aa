package formattest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
)

// MemFS is an in-memory tree that is both a formats.Source and a formats.Sink,
// for tests of formats. The zero value is empty and ready to use.
type MemFS struct {
	mu    sync.Mutex
	files map[string][]byte
}

// Open implements formats.Source. A missing file yields an error wrapping fs.ErrNotExist.
func (m *MemFS) Open(ctx context.Context, p string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := CheckPath(p); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.files[p]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// Create implements formats.Sink. The file becomes visible when the writer is closed.
func (m *MemFS) Create(ctx context.Context, p string) (io.WriteCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := CheckPath(p); err != nil {
		return nil, err
	}
	return &memFile{m: m, path: p}, nil
}

// Put stores b at p.
func (m *MemFS) Put(p string, b []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.files == nil {
		m.files = make(map[string][]byte)
	}
	m.files[p] = append([]byte(nil), b...)
}

// Get returns the bytes at p.
func (m *MemFS) Get(p string) ([]byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.files[p]
	return b, ok
}

// Paths returns every stored path, sorted.
func (m *MemFS) Paths() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	ps := make([]string, 0, len(m.files))
	for p := range m.files {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return ps
}

type memFile struct {
	m    *MemFS
	path string
	buf  bytes.Buffer
	done bool
}

func (f *memFile) Write(p []byte) (int, error) {
	if f.done {
		return 0, fs.ErrClosed
	}
	return f.buf.Write(p)
}

func (f *memFile) Close() error {
	if f.done {
		return fs.ErrClosed
	}
	f.done = true
	f.m.Put(f.path, f.buf.Bytes())
	return nil
}

// CheckPath reports whether p is a clean, relative, slash-separated path that
// stays inside its root: no leading "/", no "." or ".." elements, no
// backslashes, no NUL, not empty.
func CheckPath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("invalid path %q: empty", p)
	case strings.ContainsAny(p, "\\\x00"):
		return fmt.Errorf("invalid path %q: backslash or NUL", p)
	case strings.HasPrefix(p, "/"):
		return fmt.Errorf("invalid path %q: absolute", p)
	case path.Clean(p) != p:
		return fmt.Errorf("invalid path %q: not clean", p)
	case p == "." || p == ".." || strings.HasPrefix(p, "../"):
		return fmt.Errorf("invalid path %q: escapes the root", p)
	}
	return nil
}
