package publish

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/chantal-lite/chantal/internal/atomicfile"
	"github.com/chantal-lite/chantal/pool"
)

const (
	dirMode  = 0o755
	fileMode = 0o644
)

// tree performs the file-system operations of one publish below root and
// counts the mutating ones (mkdir, link, rename, remove, symlink, create).
// Reads (lstat, readlink, readdir) and fsyncs are not counted.
type tree struct {
	root string
	sync bool
	ops  *atomic.Int64

	mu    sync.Mutex
	dirs  map[string]bool // relative directories known to be real directories ("" is root)
	dirty map[string]bool // relative directories that gained or lost entries
}

func newTree(root string, sync bool, ops *atomic.Int64) *tree {
	return &tree{root: root, sync: sync, ops: ops, dirs: map[string]bool{"": true}, dirty: map[string]bool{}}
}

func (t *tree) abs(rel string) string {
	if rel == "" {
		return t.root
	}
	return filepath.Join(t.root, filepath.FromSlash(rel))
}

func (t *tree) op() { t.ops.Add(1) }

// mkdirAll makes sure rel is a real directory, creating missing elements and
// refusing to pass through a symlink or a non-directory.
func (t *tree) mkdirAll(rel string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.walkDirs(rel, true)
}

// checkDirs reports whether every element of rel exists as a real directory.
// A missing element gives an error wrapping fs.ErrNotExist.
func (t *tree) checkDirs(rel string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.walkDirs(rel, false)
}

func (t *tree) walkDirs(rel string, create bool) error {
	if rel == "." {
		rel = ""
	}
	if t.dirs[rel] {
		return nil
	}
	if err := t.walkDirs(parentOf(rel), create); err != nil {
		return err
	}
	fi, err := os.Lstat(t.abs(rel))
	switch {
	case err == nil && fi.IsDir():
	case err == nil:
		return &PathError{Path: rel, Reason: "exists and is not a directory (" + fi.Mode().Type().String() + ")", Err: ErrConflict}
	case errors.Is(err, fs.ErrNotExist) && create:
		t.op()
		if err := os.Mkdir(t.abs(rel), dirMode); err != nil {
			return fmt.Errorf("creating directory %s: %w", rel, err)
		}
		t.dirty[parentOf(rel)] = true
	default:
		return err
	}
	t.dirs[rel] = true
	return nil
}

func parentOf(rel string) string {
	if d := path.Dir(rel); d != "." {
		return d
	}
	return ""
}

// tempName is the name a payload is linked to before it is renamed over rel:
// a hidden name in the same directory, deterministic so that a leftover from a
// crash is reused rather than accumulated.
func tempName(rel string) string {
	h := sha256.Sum256([]byte(path.Base(rel)))
	return path.Join(path.Dir(rel), ".chantal-"+hex.EncodeToString(h[:8])+".tmp")
}

// linkPayload hardlinks the blob d at rel: it links a temp name in the same
// directory and renames it over rel, so that a file already at rel (other
// bytes under the same name) is replaced atomically and never written to.
// The parent directories must be real directories (no symlink is followed).
// linkNew links a payload at rel, where the current version has none:
// straight to its name (link(2) creates it whole or not at all), falling
// back to linkPayload when something is there after all (the leftover of an
// interrupted publish, a directory).
func (t *tree) linkNew(p *pool.Store, d pool.Digest, rel string) error {
	dir := parentOf(rel)
	if err := t.mkdirAll(dir); err != nil {
		return err
	}
	t.op()
	err := p.Link(d, t.abs(rel))
	if errors.Is(err, fs.ErrExist) {
		return t.linkPayload(p, d, rel)
	}
	if err != nil {
		return fmt.Errorf("linking %s: %w", rel, err)
	}
	t.mu.Lock()
	t.dirty[dir] = true
	t.mu.Unlock()
	return nil
}

func (t *tree) linkPayload(p *pool.Store, d pool.Digest, rel string) error {
	dir := parentOf(rel)
	if err := t.mkdirAll(dir); err != nil {
		return err
	}
	tmp := t.abs(tempName(rel))
	t.op()
	err := p.Link(d, tmp)
	if errors.Is(err, fs.ErrExist) { // a leftover of an interrupted publish
		t.op()
		if rerr := os.Remove(tmp); rerr != nil {
			return fmt.Errorf("removing stale %s: %w", tempName(rel), rerr)
		}
		t.op()
		err = p.Link(d, tmp)
	}
	if err != nil {
		return fmt.Errorf("linking %s: %w", rel, err)
	}
	if fi, err := os.Lstat(t.abs(rel)); err == nil && fi.IsDir() {
		t.op()
		os.Remove(tmp) // best effort; the conflict is the error to report
		return &PathError{Path: rel, Reason: "payload path is a directory", Err: ErrConflict}
	}
	t.op()
	if err := os.Rename(tmp, t.abs(rel)); err != nil {
		t.op()
		os.Remove(tmp) // best effort; the rename error is the one to report
		return fmt.Errorf("renaming %s into place: %w", rel, err)
	}
	t.mu.Lock()
	t.dirty[dir] = true
	t.mu.Unlock()
	return nil
}

// removePayload removes the payload at rel if it is a file or a symlink; a
// directory is left alone. It reports whether something was removed.
func (t *tree) removePayload(rel string) (bool, error) {
	if err := t.checkDirs(parentOf(rel)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	fi, err := os.Lstat(t.abs(rel))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if fi.IsDir() {
		return false, nil
	}
	t.op()
	if err := os.Remove(t.abs(rel)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("removing %s: %w", rel, err)
	}
	t.mu.Lock()
	t.dirty[parentOf(rel)] = true
	t.mu.Unlock()
	return true, nil
}

// pruneDirs removes the now-empty directories among dirs and their parents,
// deepest first, never the root.
func (t *tree) pruneDirs(dirs []string) error {
	seen := map[string]bool{}
	for _, d := range dirs {
		for ; d != ""; d = parentOf(d) {
			seen[d] = true
		}
	}
	all := make([]string, 0, len(seen))
	for d := range seen {
		all = append(all, d)
	}
	// Deepest first, so that a parent is tried after its children.
	sort.Slice(all, func(i, j int) bool {
		ci, cj := strings.Count(all[i], "/"), strings.Count(all[j], "/")
		if ci != cj {
			return ci > cj
		}
		return all[i] < all[j]
	})
	nonEmpty := map[string]bool{}
	for _, d := range all {
		if nonEmpty[d] {
			nonEmpty[parentOf(d)] = true
			continue
		}
		if !t.dirs[d] { // only directories checked to be real ones on the way down
			if err := t.checkDirs(d); err != nil {
				continue
			}
		}
		t.op()
		err := os.Remove(t.abs(d))
		switch {
		case err == nil:
			delete(t.dirs, d)
			t.dirty[parentOf(d)] = true
		case errors.Is(err, fs.ErrNotExist):
		case errors.Is(err, syscall.ENOTEMPTY), errors.Is(err, syscall.EEXIST):
			nonEmpty[parentOf(d)] = true
		default:
			return fmt.Errorf("removing directory %s: %w", d, err)
		}
	}
	return nil
}

// manyDirs is how many dirty directories syncDirty still fsyncs one by one.
const manyDirs = 64

// syncDirty fsyncs every directory that gained or lost entries.
func (t *tree) syncDirty() error {
	t.mu.Lock()
	dirs := make([]string, 0, len(t.dirty))
	for d := range t.dirty {
		dirs = append(dirs, d)
	}
	clear(t.dirty)
	t.mu.Unlock()
	if !t.sync {
		return nil
	}
	if len(dirs) > manyDirs {
		// A first publish touches a directory per package or so: one
		// commit of the file system instead of one fsync each, where
		// the system has it.
		if ok, err := atomicfile.SyncFS(t.root); ok || err != nil {
			if err != nil {
				return fmt.Errorf("syncing %d directories: %w", len(dirs), err)
			}
			return nil
		}
	}
	slices.Sort(dirs)
	for _, d := range dirs {
		if err := atomicfile.Sync(t.abs(d)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("syncing %s: %w", d, err)
		}
	}
	return nil
}

// writeFile writes data to rel atomically (temp file, fsync, rename).
func (t *tree) writeFile(rel string, data []byte) error {
	tmp := t.abs(rel) + ".tmp"
	t.op()
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fileMode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil && t.sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		t.op()
		err = os.Rename(tmp, t.abs(rel))
	}
	if err != nil {
		t.op()
		os.Remove(tmp) // best effort; err is the one to report
		return fmt.Errorf("writing %s: %w", rel, err)
	}
	if t.sync {
		return atomicfile.Sync(filepath.Dir(t.abs(rel)))
	}
	return nil
}
