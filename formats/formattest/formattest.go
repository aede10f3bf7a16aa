// Package formattest is the conformance kit for chantal-lite format plugins.
//
// A third-party format proves itself with one call in its own tests:
//
//	func TestConformance(t *testing.T) {
//		formattest.Run(t, myformat.New(), formattest.Fixture{Upstream: tree})
//	}
//
// Run checks that Scan is deterministic and honours cancellation, that every
// Item and File has a valid relative path, a size and a trusted checksum, that
// Render is deterministic and writes only confined paths, and that what Render
// writes reads back through Scan as the same items. It needs no database and no
// network.
package formattest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/internal/verify"
	"github.com/chantal-lite/chantal/pool"
)

// Fixture is an upstream repository for Run.
type Fixture struct {
	// Upstream holds the upstream tree: metadata and payloads.
	Upstream *MemFS
	// Mode is the mode used for the render round trip; empty means filtered.
	Mode formats.Mode
	// Params are passed to Scan and Render.
	Params map[string]string
	// MinItems is the least number of items the fixture must yield (default 1).
	MinItems int
	// Layout maps a scanned Item to the path it is published at. Nil keeps Item.Path.
	Layout func(formats.Item) string
	// Now is the render clock; zero means a fixed instant.
	Now time.Time
	// Signer is passed to Render when not nil.
	Signer formats.Signer
}

// Run runs the conformance checks as subtests of t.
func Run(t *testing.T, f formats.Format, fx Fixture) {
	t.Helper()
	if fx.Upstream == nil {
		t.Fatal("formattest: Fixture.Upstream is nil")
	}
	if fx.Mode == "" {
		fx.Mode = formats.ModeFiltered
	}
	if fx.MinItems == 0 {
		fx.MinItems = 1
	}
	if fx.Now.IsZero() {
		fx.Now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	}
	ctx := context.Background()

	var first []formats.Entry
	t.Run("Name", func(t *testing.T) {
		if _, err := formats.NewRegistry(f); err != nil {
			t.Errorf("format name %q is not a valid registry key: %v", f.Name(), err)
		}
	})
	t.Run("ScanValid", func(t *testing.T) {
		es, err := Scan(ctx, f, fx.Upstream, fx)
		if err != nil {
			t.Fatalf("Scan: %v", err)
		}
		first = es
		items := 0
		seen := map[string]bool{}
		for i, e := range es {
			if err := CheckEntry(e); err != nil {
				t.Errorf("entry %d: %v", i, err)
				continue
			}
			p := entryPath(e)
			if e.Item != nil {
				items++
				if seen["item:"+p] {
					t.Errorf("entry %d: item path %q yielded twice", i, p)
				}
				seen["item:"+p] = true
			}
		}
		if items < fx.MinItems {
			t.Errorf("Scan yielded %d items, want at least %d", items, fx.MinItems)
		}
	})
	t.Run("ScanDeterministic", func(t *testing.T) {
		a, err := Scan(ctx, f, fx.Upstream, fx)
		if err != nil {
			t.Fatalf("Scan: %v", err)
		}
		b, err := Scan(ctx, f, fx.Upstream, fx)
		if err != nil {
			t.Fatalf("Scan: %v", err)
		}
		if d := diffEntries(a, b); d != "" {
			t.Errorf("two scans of the same upstream differ: %s", d)
		}
	})
	t.Run("ScanCancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := Scan(cctx, f, fx.Upstream, fx)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Scan with a cancelled context returned %v, want an error wrapping context.Canceled", err)
		}
	})
	t.Run("ScanYieldError", func(t *testing.T) {
		stop := errors.New("formattest: stop")
		err := f.Scan(ctx, scanRequest(fx.Upstream, fx), func(formats.Entry) error { return stop })
		if !errors.Is(err, stop) {
			t.Errorf("Scan returned %v after yield failed, want the yield error", err)
		}
	})
	t.Run("RenderRoundTrip", func(t *testing.T) {
		if first == nil {
			t.Skip("no scan result")
		}
		items, files := split(first, fx.Layout)
		out1, err := Render(ctx, f, items, files, fx)
		if err != nil {
			t.Fatalf("Render: %v", err)
		}
		out2, err := Render(ctx, f, items, files, fx)
		if err != nil {
			t.Fatalf("Render: %v", err)
		}
		if p1, p2 := out1.Paths(), out2.Paths(); fmt.Sprint(p1) != fmt.Sprint(p2) {
			t.Fatalf("two renders wrote different paths: %v vs %v", p1, p2)
		}
		for _, p := range out1.Paths() {
			a, _ := out1.Get(p)
			b, _ := out2.Get(p)
			if string(a) != string(b) {
				t.Errorf("two renders of the same items wrote different bytes at %s", p)
			}
		}
		if len(out1.Paths()) == 0 {
			t.Fatalf("Render wrote nothing")
		}
		back, err := Scan(ctx, f, out1, fx)
		if err != nil {
			t.Fatalf("Scan of the rendered tree: %v", err)
		}
		got, _ := split(back, nil)
		if d := diffItems(items, got); d != "" {
			t.Errorf("render then scan does not give back the items: %s", d)
		}
	})
	t.Run("PiecesCached", func(t *testing.T) {
		pr, ok := f.(formats.PieceRenderer)
		if !ok || fx.Mode == formats.ModeMirror {
			t.Skip("not rendered by pieces")
		}
		if first == nil {
			t.Skip("no scan result")
		}
		items, files := split(first, fx.Layout)
		want, err := Render(ctx, f, items, files, fx)
		if err != nil {
			t.Fatalf("Render: %v", err)
		}
		// A cold and a warm cache must both give Render's bytes.
		cache := &MemCache{}
		for _, round := range []string{"cold", "warm"} {
			got, err := render(ctx, f, items, files, fx, func(ctx context.Context, req formats.RenderRequest) error {
				return formats.RenderPieces(ctx, pr, req, &formats.PieceOptions{Cache: cache})
			})
			if err != nil {
				t.Fatalf("%s cache: RenderPieces: %v", round, err)
			}
			if p1, p2 := want.Paths(), got.Paths(); fmt.Sprint(p1) != fmt.Sprint(p2) {
				t.Fatalf("%s cache: wrote %v, Render wrote %v", round, p2, p1)
			}
			for _, p := range want.Paths() {
				a, _ := want.Get(p)
				b, _ := got.Get(p)
				if string(a) != string(b) {
					t.Errorf("%s cache: %s differs from Render's", round, p)
				}
			}
		}
	})
}

// MemCache is an in-memory formats.PieceCache for tests; the zero value is
// ready to use and safe for concurrent use. Get and Put copy the bytes.
type MemCache struct {
	mu sync.Mutex
	m  map[string][]byte
}

// Get implements formats.PieceCache.
func (c *MemCache) Get(_ context.Context, key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.m[key]
	return append([]byte(nil), b...), ok
}

// Put implements formats.PieceCache.
func (c *MemCache) Put(_ context.Context, key string, data []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string][]byte{}
	}
	c.m[key] = append([]byte(nil), data...)
	return nil
}

// Entries returns the cached entries themselves, for tests that inspect or
// damage them; not while a render uses the cache.
func (c *MemCache) Entries() map[string][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string][]byte{}
	}
	return c.m
}

// Scan runs f.Scan over src and collects the entries.
func Scan(ctx context.Context, f formats.Format, src formats.Source, fx Fixture) ([]formats.Entry, error) {
	var es []formats.Entry
	err := f.Scan(ctx, scanRequest(src, fx), func(e formats.Entry) error {
		es = append(es, e)
		return nil
	})
	return es, err
}

// Render runs f.Render for items and files into a new MemFS. Repo-level files
// are read from fx.Upstream by path.
func Render(ctx context.Context, f formats.Format, items []formats.Item, files []formats.File, fx Fixture) (*MemFS, error) {
	return render(ctx, f, items, files, fx, f.Render)
}

// render is Render through fn.
func render(ctx context.Context, f formats.Format, items []formats.Item, files []formats.File, fx Fixture, fn func(context.Context, formats.RenderRequest) error) (*MemFS, error) {
	out := &MemFS{}
	byDigest := map[pool.Digest]string{}
	for _, fl := range files {
		byDigest[fl.Digest] = fl.Path
	}
	err := fn(ctx, formats.RenderRequest{
		Sink:   out,
		Mode:   fx.Mode,
		Items:  items,
		Files:  files,
		Params: fx.Params,
		Now:    fx.Now,
		Signer: fx.Signer,
		Open: func(ctx context.Context, d pool.Digest) (io.ReadCloser, error) {
			p, ok := byDigest[d]
			if !ok {
				return nil, fmt.Errorf("formattest: no file with digest %s", d)
			}
			return fx.Upstream.Open(ctx, p)
		},
	})
	return out, err
}

func scanRequest(src formats.Source, fx Fixture) formats.ScanRequest {
	return formats.ScanRequest{Source: src, Mode: fx.Mode, Params: fx.Params}
}

// CheckEntry reports what is wrong with one scanned entry: exactly one of Item and
// File set, a valid confined path, a non-negative size, and a trusted checksum
// (sha1 or stronger, or the SHA-256 digest).
func CheckEntry(e formats.Entry) error {
	if (e.Item == nil) == (e.File == nil) {
		return errors.New("exactly one of Item and File must be set")
	}
	var (
		p    string
		size int64
		sums formats.Checksums
		d    pool.Digest
	)
	if e.Item != nil {
		p, size, sums, d = e.Item.Path, e.Item.Size, e.Item.Checksums, e.Item.Digest
		if e.Item.Name == "" {
			return fmt.Errorf("item %q has no name", p)
		}
	} else {
		p, size, sums, d = e.File.Path, e.File.Size, e.File.Checksums, e.File.Digest
	}
	if err := CheckPath(p); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("%s: negative size %d", p, size)
	}
	if d.IsZero() {
		if _, _, err := verify.Strongest(sums); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	return nil
}

func entryPath(e formats.Entry) string {
	if e.Item != nil {
		return e.Item.Path
	}
	return e.File.Path
}

func split(es []formats.Entry, layout func(formats.Item) string) ([]formats.Item, []formats.File) {
	var items []formats.Item
	var files []formats.File
	for _, e := range es {
		switch {
		case e.Item != nil:
			it := *e.Item
			if layout != nil {
				it.Path = layout(it)
			}
			items = append(items, it)
		case e.File != nil:
			files = append(files, *e.File)
		}
	}
	sortItems(items)
	return items, files
}
