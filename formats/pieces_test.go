package formats_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/formats/formattest"
	"github.com/chantal-lite/chantal/internal/compress"
	"github.com/chantal-lite/chantal/pool"
)

// pieceFormat is a PieceRenderer for tests: every item goes to stream
// "all"; items whose name starts with "b" also to "b". RenderStreams writes
// each stream in every compression and records what Write returned.
type pieceFormat struct {
	parallel bool         // RenderStreams writes its files concurrently
	calls    atomic.Int64 // RenderPiece calls
	mu       sync.Mutex
	sums     map[string]formats.StreamSums
}

func (*pieceFormat) Name() string         { return "piecetest" }
func (*pieceFormat) PieceVersion() string { return "1" }
func (*pieceFormat) Scan(context.Context, formats.ScanRequest, func(formats.Entry) error) error {
	return nil
}

func (f *pieceFormat) Render(ctx context.Context, req formats.RenderRequest) error {
	return formats.RenderPieces(ctx, f, req, nil)
}

func (f *pieceFormat) RenderPiece(_ context.Context, req formats.PieceRequest, it *formats.Item, emit func(string, []byte)) error {
	f.calls.Add(1)
	if it.Name == "bad" {
		return fmt.Errorf("bad item %s", it.Path)
	}
	emit("all", []byte(fmt.Sprintf("%s %s %s\n", it.Path, it.Name, req.Params["tag"])))
	if strings.HasPrefix(it.Name, "b") {
		emit("b", []byte("<"+it.Name+">"))
	}
	return nil
}

var compressions = []string{"", "gz", "zst", "xz"}

func (f *pieceFormat) RenderStreams(ctx context.Context, req formats.RenderRequest, s formats.Streams) error {
	if req.Items != nil {
		return fmt.Errorf("RenderStreams got %d items", len(req.Items))
	}
	sums := map[string]formats.StreamSums{}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	if !f.parallel {
		g.SetLimit(1)
	}
	for _, name := range []string{"all", "b", "none"} {
		for _, c := range compressions {
			g.Go(func() error {
				file := name + "." + c
				w, err := req.Sink.Create(gctx, file)
				if err != nil {
					return err
				}
				header := fmt.Sprintf("header %s %d %d\n", name, s.Count(name), s.Size(name))
				sum, err := s.Write(gctx, w, formats.StreamWrite{
					Streams: []string{name}, Header: []byte(header), Footer: []byte("footer\n"), Compression: c,
					Hashes: []string{"sha256", "md5"}, OpenHashes: []string{"sha256"}, Resumable: name != "b",
				})
				if cerr := w.Close(); err == nil {
					err = cerr
				}
				mu.Lock()
				sums[file] = sum
				mu.Unlock()
				return err
			})
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	// Two streams in one file.
	w, err := req.Sink.Create(ctx, "both.gz")
	if err != nil {
		return err
	}
	if _, err := s.Write(ctx, w, formats.StreamWrite{Streams: []string{"b", "all"}, Compression: "gz"}); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	f.mu.Lock()
	f.sums = sums
	f.mu.Unlock()
	return nil
}

func pieceItems(n int) []formats.Item {
	items := make([]formats.Item, n)
	for i := range items {
		name := fmt.Sprintf("a%05d", i)
		if i%3 == 0 {
			name = fmt.Sprintf("b%05d", i)
		}
		items[i] = formats.Item{Path: fmt.Sprintf("pool/%s.pkg", name), Name: name, Digest: pool.Sum([]byte(name)),
			Fragments: map[string][]byte{"x": []byte(name)}}
	}
	return items
}

func renderWith(t *testing.T, f *pieceFormat, items []formats.Item, o *formats.PieceOptions) map[string][]byte {
	t.Helper()
	sink := &formattest.MemFS{}
	req := formats.RenderRequest{Sink: sink, Mode: formats.ModeFiltered, Items: items, Params: map[string]string{"tag": "t1"}}
	if err := formats.RenderPieces(context.Background(), f, req, o); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, p := range sink.Paths() {
		files[p], _ = sink.Get(p)
	}
	return files
}

// expected is what a stream's file must decompress to.
func expected(items []formats.Item, stream string) string {
	var b strings.Builder
	n := 0
	for _, it := range items {
		switch {
		case stream == "all":
			fmt.Fprintf(&b, "%s %s t1\n", it.Path, it.Name)
			n++
		case stream == "b" && strings.HasPrefix(it.Name, "b"):
			b.WriteString("<" + it.Name + ">")
			n++
		}
	}
	return fmt.Sprintf("header %s %d %d\n", stream, n, b.Len()) + b.String() + "footer\n"
}

func decompressed(t *testing.T, name string, data []byte) string {
	t.Helper()
	r, err := compress.NewReader(bytes.NewReader(data), name, 1<<30, compress.Errors{})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return string(b)
}

func checkFiles(t *testing.T, f *pieceFormat, items []formats.Item, files map[string][]byte) {
	t.Helper()
	body := func(stream string) string {
		e := expected(items, stream)
		e = e[strings.IndexByte(e, '\n')+1:]
		return strings.TrimSuffix(e, "footer\n")
	}
	if got, want := decompressed(t, "both.gz", files["both.gz"]), body("b")+body("all"); got != want {
		t.Fatalf("both.gz: %d bytes, want %d", len(got), len(want))
	}
	for _, stream := range []string{"all", "b", "none"} {
		want := expected(items, stream)
		for _, c := range compressions {
			name := stream + "." + c
			data, ok := files[name]
			if !ok {
				t.Fatalf("%s not written", name)
			}
			got := string(data)
			if c != "" {
				got = decompressed(t, name, data)
			}
			if got != want {
				t.Fatalf("%s: content differs: got %d bytes, want %d", name, len(got), len(want))
			}
			sum := f.sums[name]
			ws, wm, wo := sha256.Sum256(data), md5.Sum(data), sha256.Sum256([]byte(want))
			if sum.Size != int64(len(data)) || sum.Sums["sha256"] != hex.EncodeToString(ws[:]) || sum.Sums["md5"] != hex.EncodeToString(wm[:]) {
				t.Errorf("%s: sums %+v do not match the written bytes", name, sum)
			}
			if sum.OpenSize != int64(len(want)) || sum.OpenSums["sha256"] != hex.EncodeToString(wo[:]) {
				t.Errorf("%s: open sums %d %v do not match the content", name, sum.OpenSize, sum.OpenSums)
			}
		}
	}
}

func TestRenderPieces(t *testing.T) {
	items := pieceItems(3000)
	f := &pieceFormat{}
	plain := renderWith(t, f, items, nil)
	checkFiles(t, f, items, plain)
	if f.calls.Load() != 3000 {
		t.Fatalf("%d RenderPiece calls, want 3000", f.calls.Load())
	}

	// With a cache: the same bytes, the first time and from the cache.
	cache := &formattest.MemCache{}
	for round := range 2 {
		f.calls.Store(0)
		got := renderWith(t, f, items, &formats.PieceOptions{Cache: cache, Parallel: 3})
		if !maps.EqualFunc(got, plain, bytes.Equal) {
			t.Fatalf("round %d: cached render differs from the uncached one", round)
		}
		checkFiles(t, f, items, got)
		if want := [2]int64{3000, 0}[round]; f.calls.Load() != want {
			t.Fatalf("round %d: %d RenderPiece calls, want %d", round, f.calls.Load(), want)
		}
	}

	hs := 0
	for k := range cache.Entries() {
		if strings.HasSuffix(k, ".hs") {
			hs++
		}
	}
	if hs == 0 {
		t.Fatal("no hash midstates cached")
	}

	// One item changed, one added: only their segments render again.
	changed := append([]formats.Item(nil), items...)
	changed[1500].Name = "b-changed"
	changed = append(changed, formats.Item{Path: "pool/zzz.pkg", Name: "zzz", Digest: pool.Sum([]byte("zzz"))})
	f.calls.Store(0)
	got := renderWith(t, f, changed, &formats.PieceOptions{Cache: cache})
	checkFiles(t, f, changed, got)
	if n := f.calls.Load(); n == 0 || n > 2*1024 {
		t.Fatalf("after a one-item change %d RenderPiece calls (of %d items)", n, len(changed))
	}
	f2 := &pieceFormat{}
	if fresh := renderWith(t, f2, changed, nil); !maps.EqualFunc(got, fresh, bytes.Equal) {
		t.Fatal("incremental render differs from a fresh one")
	}
}

// TestRenderPiecesConcurrentWrites: RenderStreams may write several files
// at once, sharing segments, with and without a cache (run with -race).
func TestRenderPiecesConcurrentWrites(t *testing.T) {
	items := pieceItems(3000)
	want := renderWith(t, &pieceFormat{}, items, nil)
	for _, cache := range []formats.PieceCache{nil, &formattest.MemCache{}} {
		for round := range 2 {
			f := &pieceFormat{parallel: true}
			var o *formats.PieceOptions
			if cache != nil {
				o = &formats.PieceOptions{Cache: cache}
			}
			got := renderWith(t, f, items, o)
			if !maps.EqualFunc(got, want, bytes.Equal) {
				t.Fatalf("cache %v round %d: concurrent writes differ", cache != nil, round)
			}
			checkFiles(t, f, items, got)
		}
	}
}

func TestRenderPiecesDamagedCache(t *testing.T) {
	items := pieceItems(2000)
	f := &pieceFormat{}
	want := renderWith(t, f, items, nil)
	cache := &formattest.MemCache{}
	renderWith(t, f, items, &formats.PieceOptions{Cache: cache})
	// Flip a byte in every part and drop every other uncompressed part;
	// index entries stay. The render must notice and render again.
	i := 0
	for k, v := range cache.Entries() {
		if strings.HasSuffix(k, ".idx") {
			continue
		}
		if i++; i%2 == 0 && strings.Count(k, ".") == 1 {
			delete(cache.Entries(), k)
			continue
		}
		v[len(v)/2] ^= 0x40
	}
	got := renderWith(t, f, items, &formats.PieceOptions{Cache: cache})
	for k := range want {
		if !bytes.Equal(got[k], want[k]) {
			t.Errorf("render from a damaged cache: %s differs (%d vs %d bytes)", k, len(got[k]), len(want[k]))
		}
	}
	// A damaged index entry is a miss too.
	for k, v := range cache.Entries() {
		if strings.HasSuffix(k, ".idx") {
			v[0] ^= 1
		}
	}
	f.calls.Store(0)
	if got := renderWith(t, f, items, &formats.PieceOptions{Cache: cache}); !maps.EqualFunc(got, want, bytes.Equal) {
		t.Fatal("render after damaged index entries differs")
	}
	if f.calls.Load() != 2000 {
		t.Fatalf("damaged index entries: %d RenderPiece calls, want 2000", f.calls.Load())
	}
}

func TestRenderPiecesEmptyAndErrors(t *testing.T) {
	f := &pieceFormat{}
	files := renderWith(t, f, nil, nil)
	checkFiles(t, f, nil, files)

	items := pieceItems(10)
	items[4].Name = "bad"
	req := formats.RenderRequest{Sink: &formattest.MemFS{}, Mode: formats.ModeFiltered, Items: items}
	if err := formats.RenderPieces(context.Background(), f, req, nil); err == nil || !strings.Contains(err.Error(), "bad item") {
		t.Fatalf("a failing piece: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req.Items = pieceItems(10)
	if err := formats.RenderPieces(ctx, f, req, nil); err == nil {
		t.Fatal("render with a cancelled context succeeded")
	}
}

// TestRenderPiecesClients checks the multi-member files with the
// reference tools when present (CI installs them).
func TestRenderPiecesClients(t *testing.T) {
	items := pieceItems(5000)
	f := &pieceFormat{}
	files := renderWith(t, f, items, nil)
	want := expected(items, "all")
	for c, tool := range map[string][]string{"gz": {"gzip", "-dc"}, "xz": {"xz", "-dc", "--single-stream"}, "zst": {"zstd", "-dc"}} {
		if _, err := exec.LookPath(tool[0]); err != nil {
			t.Logf("%s not installed; skipping its check", tool[0])
			continue
		}
		cmd := exec.Command(tool[0], tool[1:]...)
		cmd.Stdin = bytes.NewReader(files["all."+c])
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v", tool[0], err)
		}
		if string(out) != want {
			t.Fatalf("%s decompressed %d bytes, want %d", tool[0], len(out), len(want))
		}
	}
}

func TestSegmentBoundary(t *testing.T) {
	n, segs, longest := 0, 0, 0
	for i := range 100000 {
		n++
		if formats.SegmentBoundary(fmt.Sprintf("pool/main/p/pkg%d/pkg%d_1.0_amd64.deb", i, i), n) {
			segs++
			longest = max(longest, n)
			n = 0
		}
	}
	if segs < 100000/1024 || segs > 100000/64 {
		t.Fatalf("%d segments for 100000 items", segs)
	}
	if longest > 1024 {
		t.Fatalf("a segment of %d items", longest)
	}
	if !formats.SegmentBoundary("x", 1024) {
		t.Fatal("no boundary at the cap")
	}
}
