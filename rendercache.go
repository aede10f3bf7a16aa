package chantal

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/chantal-lite/chantal/catalog"
	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/pool"
)

// renderCache is the formats.PieceCache of a Mirror: rendered and
// compressed metadata segments under <base>/cache/render/<xx>/<key>, so a
// republish renders only the segments a change touched. Entries are
// immutable (named by their content's key) and checked by their reader;
// losing one costs a render, never a wrong byte. An entry read is touched
// at most once a day; GC removes entries untouched for renderCacheAge.
type renderCache struct {
	dir string
	now func() time.Time
	// held keeps the index entries read while keying segments, for the
	// render that follows (nil: nothing held).
	mu   sync.Mutex
	held map[string][]byte
	dirs map[string]bool // directories known to exist
	free [][]byte        // buffers given back by Release
}

// Release implements formats.PieceCacheReleaser: Get reads into released
// buffers again, so a publish does not allocate (and collect) the size of
// its indexes.
func (c *renderCache) Release(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.free) < 16 {
		c.free = append(c.free, b[:0])
	}
}

// buffer returns a released buffer of at least n bytes, or a new one.
func (c *renderCache) buffer(n int) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, b := range c.free {
		if cap(b) >= n {
			c.free = append(c.free[:i], c.free[i+1:]...)
			return b[:n]
		}
	}
	return make([]byte, n)
}

// eagerMisses is how many segments missing from the render cache are
// decoded while the segments are keyed; past it each is decoded when it is
// rendered, so a first publish holds only the segments in hand.
const eagerMisses = 8

// renderCacheAge is how long an unused cache entry survives a GC.
const renderCacheAge = 7 * 24 * time.Hour

func (m *Mirror) renderCache() *renderCache {
	return &renderCache{dir: filepath.Join(m.dir, "cache", "render"), now: m.now}
}

func (c *renderCache) path(key string) (string, error) {
	if len(key) < 3 || len(key) > 200 || strings.Trim(key, "0123456789abcdefghijklmnopqrstuvwxyz.") != "" {
		return "", fmt.Errorf("render cache: invalid key %q", key)
	}
	return filepath.Join(c.dir, key[:2], key), nil
}

// Get implements formats.PieceCache.
func (c *renderCache) Get(_ context.Context, key string) ([]byte, bool) {
	c.mu.Lock()
	b, ok := c.held[key]
	delete(c.held, key)
	c.mu.Unlock()
	if ok {
		return b, true
	}
	p, err := c.path(key)
	if err != nil {
		return nil, false
	}
	b, mtime, err := readSmallFile(p, 1<<31, c.buffer)
	if err != nil {
		return nil, false
	}
	if now := c.now(); now.Sub(mtime) > 24*time.Hour {
		_ = os.Chtimes(p, now, now) // best effort: only GC's choice depends on it
	}
	return b, true
}

// Put implements formats.PieceCache: written to a temporary file and
// renamed, so a reader sees a whole entry or none.
func (c *renderCache) Put(_ context.Context, key string, data []byte) error {
	p, err := c.path(key)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	c.mu.Lock()
	known := c.dirs[dir]
	c.mu.Unlock()
	if !known {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("render cache: %w", err)
		}
		c.mu.Lock()
		if c.dirs == nil {
			c.dirs = map[string]bool{}
		}
		c.dirs[dir] = true
		c.mu.Unlock()
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("render cache: %w", err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("render cache: %w", err)
	}
	return nil
}

// prune removes entries (and stray temporary files) last used before
// cutoff; it returns how many it removed.
func (c *renderCache) prune(ctx context.Context, cutoff time.Time) (int, error) {
	n := 0
	err := filepath.WalkDir(c.dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		if fi.ModTime().Before(cutoff) {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("pruning render cache: %w", err)
	}
	return n, nil
}

// pieceSegments splits a catalog state's refs into render segments keyed
// by the refs and the catalog's item change log (catalog.Tx.ItemChanges),
// without reading the items: only the items of segments the render cache
// does not hold are decoded, in the same transaction, so a segment's items
// always match its key. It also returns the refs as link-only items (Path
// and Digest).
//
// A cached segment whose entries go missing before they are read is loaded
// again through view, and refused if its items changed meanwhile.
//
// The index entries it reads stay held in cache for the render.
func pieceSegments(ctx context.Context, tx *catalog.Tx, id catalog.StateID, f formats.PieceRenderer, preq formats.PieceRequest, cache *renderCache, view func(context.Context, func(*catalog.Tx) error) error) ([]formats.Segment, []formats.Item, error) {
	if cache.held == nil {
		cache.held = map[string][]byte{}
	}
	logID, changes, err := tx.ItemChanges()
	if err != nil {
		return nil, nil, err
	}
	n, err := tx.StateLen(id)
	if err != nil {
		return nil, nil, err
	}
	// Split and key the segments.
	var (
		groups [][]catalog.Ref
		cur    []catalog.Ref
		links  = make([]formats.Item, 0, n)
	)
	err = tx.WalkState(id, func(r catalog.Ref) error {
		if len(links)%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		cur = append(cur, r)
		links = append(links, formats.Item{Path: r.Path, Digest: r.Digest})
		if formats.SegmentBoundary(r.Path, len(cur)) {
			groups = append(groups, cur)
			cur = nil
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if len(cur) > 0 {
		groups = append(groups, cur)
	}
	segs := make([]formats.Segment, len(groups))
	var scratch []byte
	for i, refs := range groups {
		segs[i].Key, scratch = segmentKey(f, preq, logID, changes, refs, scratch)
	}
	// Look the segments up in the cache, several at a time: each is a
	// small file read.
	hit := make([]bool, len(segs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i := range segs {
		g.Go(func() error {
			key := segs[i].Key + ".idx"
			if idx, ok := cache.Get(gctx, key); ok {
				cache.mu.Lock()
				cache.held[key] = idx
				cache.mu.Unlock()
				hit[i] = true
			}
			return gctx.Err()
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	misses := 0
	for _, h := range hit {
		if !h {
			misses++
		}
	}
	for i, refs := range groups {
		key := segs[i].Key
		if !hit[i] && misses <= eagerMisses {
			// A few segments to render: decode them now, in this
			// transaction.
			items, err := loadRefs(tx, refs)
			if err != nil {
				return nil, nil, err
			}
			segs[i].Load = func(context.Context) ([]formats.Item, error) { return items, nil }
			continue
		}
		// Many (a first publish), or cached: decode when rendered, in a
		// transaction of its own, so only the segments being rendered
		// are in memory; the key is checked again there.
		segs[i].Load = func(ctx context.Context) ([]formats.Item, error) {
			var items []formats.Item
			err := view(ctx, func(tx *catalog.Tx) error {
				logID, changes, err := tx.ItemChanges()
				if err != nil {
					return err
				}
				if k, _ := segmentKey(f, preq, logID, changes, refs, nil); k != key {
					return fmt.Errorf("%w: items changed while publishing; publish again", ErrBusy)
				}
				items, err = loadRefs(tx, refs)
				return err
			})
			return items, err
		}
	}
	return segs, links, nil
}

// segmentKey identifies a segment's content: the refs, and for items
// changed since first put, when (an item's bytes never change otherwise).
// It encodes the refs into scratch and returns it for the next call.
func segmentKey(f formats.PieceRenderer, preq formats.PieceRequest, logID []byte, changes map[pool.Digest]uint64, refs []catalog.Ref, scratch []byte) (string, []byte) {
	k := formats.NewSegmentKeyer(f, preq)
	k.Add("catalog refs 1", string(logID))
	// One buffer, one hash write: per-field writes cost more than the hashing.
	b := scratch[:0]
	for _, r := range refs {
		b = binary.AppendUvarint(b, uint64(len(r.Path)))
		b = append(b, r.Path...)
		b = append(b, r.Digest[:]...)
		seq, ok := changes[r.Digest]
		if !ok {
			b = append(b, 0)
			continue
		}
		b = append(b, 1)
		b = binary.AppendUvarint(b, seq)
	}
	k.AddBytes(b)
	return k.Key(), b
}

// loadRefs reads the items of refs.
func loadRefs(tx *catalog.Tx, refs []catalog.Ref) ([]formats.Item, error) {
	items := make([]formats.Item, len(refs))
	for i, r := range refs {
		it, err := tx.Item(r.Digest)
		if err != nil {
			return nil, fmt.Errorf("loading item %s: %w", r.Path, err)
		}
		items[i] = stateItem(r, it)
	}
	return items, nil
}

// stateItem is the formats.Item a state's ref and its catalog item make.
func stateItem(r catalog.Ref, it catalog.Item) formats.Item {
	return formats.Item{
		Path: r.Path, Size: it.Size, Digest: it.Digest, Checksums: it.Checksums,
		Name: it.Name, Version: it.Version, Arch: it.Arch, Fields: it.Fields, Fragments: it.Fragments,
	}
}
