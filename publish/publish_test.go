package publish_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/internal/lock"
	"github.com/chantal-lite/chantal/pool"
	"github.com/chantal-lite/chantal/publish"
)

// fakeFormat renders "meta/index.txt" (one line per item plus the "tag"
// parameter), "meta/sub/x.txt" (the time) and "top.txt" (the item count): a
// top-level directory and a top-level file.
type fakeFormat struct {
	fail    error         // returned after meta/index.txt is written
	badPath string        // rendered in addition, when set
	entered chan struct{} // closed when Render starts, when set
	release chan struct{} // Render waits for it, when set
}

func (fakeFormat) Name() string { return "fake" }

func (fakeFormat) Scan(context.Context, formats.ScanRequest, func(formats.Entry) error) error {
	return errors.New("fake: no scan")
}

func indexContent(items []formats.Item, params map[string]string) string {
	var b strings.Builder
	for _, it := range items {
		fmt.Fprintf(&b, "%s %s\n", it.Path, it.Digest)
	}
	fmt.Fprintf(&b, "tag=%s\n", params["tag"])
	return b.String()
}

func (f fakeFormat) Render(ctx context.Context, req formats.RenderRequest) error {
	if f.entered != nil {
		close(f.entered)
	}
	if f.release != nil {
		<-f.release
	}
	write := func(p, content string) error {
		w, err := req.Sink.Create(ctx, p)
		if err != nil {
			return err
		}
		if _, err := w.Write([]byte(content)); err != nil {
			w.Close()
			return err
		}
		return w.Close()
	}
	if err := write("meta/index.txt", indexContent(req.Items, req.Params)); err != nil {
		return err
	}
	if f.fail != nil {
		return f.fail
	}
	if err := write("meta/sub/x.txt", req.Now.UTC().Format(time.RFC3339)+"\n"); err != nil {
		return err
	}
	if f.badPath != "" {
		if err := write(f.badPath, "x"); err != nil {
			return err
		}
	}
	return write("top.txt", fmt.Sprintf("n=%d\n", len(req.Items)))
}

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

type env struct {
	t      testing.TB
	pool   *pool.Store
	target string
	n      int // publishes so far, for distinct Now
}

func newEnv(t testing.TB) *env {
	t.Helper()
	dir := t.TempDir()
	p, err := pool.Open(filepath.Join(dir, "pool"), &pool.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, pool: p, target: filepath.Join(dir, "pub", "repo")}
}

// item puts content into the pool and returns an Item at path.
func (e *env) item(path, content string) formats.Item {
	e.t.Helper()
	info, err := e.pool.Put(context.Background(), strings.NewReader(content), pool.PutRequest{})
	if err != nil {
		e.t.Fatal(err)
	}
	return formats.Item{Path: path, Size: info.Size, Digest: info.Digest}
}

func (e *env) request(key string, items []formats.Item) publish.Request {
	e.n++
	return publish.Request{
		Target: e.target,
		Format: fakeFormat{},
		Mode:   formats.ModeFiltered,
		Items:  items,
		Pool:   e.pool,
		Params: map[string]string{"tag": key},
		Now:    t0.Add(time.Duration(e.n) * time.Second),
		Key:    key,
	}
}

func (e *env) publish(req publish.Request) publish.Result {
	e.t.Helper()
	res, err := publish.Publish(context.Background(), req, &publish.Options{NoSync: true})
	if err != nil {
		e.t.Fatalf("Publish(%s): %v", req.Key, err)
	}
	return res
}

func (e *env) read(rel string) string {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.target, filepath.FromSlash(rel)))
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

func (e *env) exists(rel string) bool {
	_, err := os.Lstat(filepath.Join(e.target, filepath.FromSlash(rel)))
	return err == nil
}

func sameInode(t testing.TB, a, b string) bool {
	t.Helper()
	fa, err := os.Stat(a)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := os.Stat(b)
	if err != nil {
		t.Fatal(err)
	}
	return os.SameFile(fa, fb)
}

// snapshot describes every entry below root: type, symlink target, content hash.
func snapshot(t testing.TB, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			dest, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "link " + dest
		case d.IsDir():
			out[rel] = "dir"
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = fmt.Sprintf("file %x", sha256.Sum256(b))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func diffSnapshots(a, b map[string]string) []string {
	var d []string
	for k, v := range a {
		if b[k] != v {
			d = append(d, fmt.Sprintf("%s: %q -> %q", k, v, b[k]))
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			d = append(d, fmt.Sprintf("%s: new %q", k, v))
		}
	}
	slices.Sort(d)
	return d
}

func TestFirstPublish(t *testing.T) {
	e := newEnv(t)
	items := []formats.Item{
		e.item("Packages/h/hello-1.0-1.x86_64.rpm", "hello"),
		e.item("Packages/w/world-2.0-1.noarch.rpm", "world"),
		e.item("top-level.rpm", "top"),
	}
	res := e.publish(e.request("k1", items))
	if res.Linked != 3 || res.Replaced != 0 || res.Removed != 0 || res.MetadataFiles != 3 || res.Unchanged {
		t.Errorf("result = %+v, want 3 linked, 3 metadata files", res)
	}
	for _, it := range items {
		if !sameInode(t, filepath.Join(e.target, it.Path), e.pool.Path(it.Digest)) {
			t.Errorf("%s is not a hard link of its pool blob", it.Path)
		}
	}
	for _, name := range []string{"meta", "top.txt"} {
		dest, err := os.Readlink(filepath.Join(e.target, name))
		if err != nil {
			t.Fatalf("%s is not a symlink: %v", name, err)
		}
		if want := ".versions/" + res.Version + "/" + name; dest != want {
			t.Errorf("%s -> %s, want %s", name, dest, want)
		}
	}
	sorted := slices.Clone(items)
	slices.SortFunc(sorted, func(a, b formats.Item) int { return strings.Compare(a.Path, b.Path) })
	if got, want := e.read("meta/index.txt"), indexContent(sorted, map[string]string{"tag": "k1"}); got != want {
		t.Errorf("meta/index.txt = %q, want %q", got, want)
	}
	if got := e.read("meta/sub/x.txt"); got != "2026-11-26T12:00:01Z\n" {
		t.Errorf("meta/sub/x.txt = %q", got)
	}
	if got := e.read("top.txt"); got != "n=3\n" {
		t.Errorf("top.txt = %q", got)
	}
	if !strings.HasPrefix(res.Version, "20261126T120001Z-") || len(res.Version) != len("20261126T120001Z-")+8 {
		t.Errorf("version id %q, want 20261126T120001Z-<8 hex>", res.Version)
	}
	if !e.exists(".versions/" + res.Version + ".manifest") {
		t.Error("no manifest beside the version")
	}
	if e.exists(".versions/" + res.Version + ".tmp") {
		t.Error("staging directory left")
	}
	vs, err := publish.Versions(e.target)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 || vs[0].ID != res.Version || vs[0].Key != "k1" || !vs[0].Current || !vs[0].Created.Equal(t0.Add(time.Second)) {
		t.Errorf("Versions = %+v", vs)
	}
}

func TestVersionIDDeterministic(t *testing.T) {
	a, b := newEnv(t), newEnv(t)
	ra := a.publish(a.request("same", []formats.Item{a.item("x.rpm", "x")}))
	rb := b.publish(b.request("same", []formats.Item{b.item("x.rpm", "x")}))
	if ra.Version != rb.Version {
		t.Errorf("same Now and Key gave ids %s and %s", ra.Version, rb.Version)
	}
	if sa, sb := snapshot(t, a.target), snapshot(t, b.target); len(diffSnapshots(sa, sb)) != 0 {
		t.Errorf("same request gave different trees: %v", diffSnapshots(sa, sb))
	}
}

func TestUnchanged(t *testing.T) {
	e := newEnv(t)
	items := []formats.Item{e.item("a.rpm", "a")}
	first := e.publish(e.request("k1", items))
	before := snapshot(t, e.target)
	res := e.publish(e.request("k1", append(items, e.item("b.rpm", "b"))))
	if !res.Unchanged || res.Ops != 0 || res.Version != first.Version || res.Linked != 0 {
		t.Errorf("same key: result = %+v, want Unchanged with 0 ops and version %s", res, first.Version)
	}
	if d := diffSnapshots(before, snapshot(t, e.target)); len(d) != 0 {
		t.Errorf("unchanged publish changed the tree: %v", d)
	}
	if e.exists("b.rpm") {
		t.Error("unchanged publish linked a payload")
	}
}

// TestOneItemAdded checks that adding one item costs the same few operations
// whatever the repository's size, and touches no other payload.
func TestOneItemAdded(t *testing.T) {
	var added []int
	for _, n := range []int{10, 300} {
		e := newEnv(t)
		var items []formats.Item
		for i := range n {
			items = append(items, e.item(fmt.Sprintf("Packages/p%04d.rpm", i), fmt.Sprint("payload ", i)))
		}
		req := e.request("k1", items)
		req.KeepVersions = 10
		e.publish(req)
		inode := map[string]os.FileInfo{}
		for _, it := range items {
			fi, err := os.Stat(filepath.Join(e.target, it.Path))
			if err != nil {
				t.Fatal(err)
			}
			inode[it.Path] = fi
		}
		req = e.request("k2", items) // metadata only
		req.KeepVersions = 10
		base := e.publish(req)
		more := append(slices.Clone(items), e.item("Packages/new.rpm", "new"))
		req = e.request("k3", more)
		req.KeepVersions = 10
		res := e.publish(req)
		if res.Linked != 1 || res.Replaced != 0 || res.Removed != 0 {
			t.Errorf("n=%d: result = %+v, want exactly 1 linked", n, res)
		}
		if base.Linked != 0 || base.Replaced != 0 {
			t.Errorf("n=%d: metadata-only publish linked payloads: %+v", n, base)
		}
		if got := res.Ops - base.Ops; got != 1 {
			t.Errorf("n=%d: adding one item cost %d more operations than a metadata-only publish, want 1 (link)", n, got)
		}
		for _, it := range items {
			fi, err := os.Stat(filepath.Join(e.target, it.Path))
			if err != nil {
				t.Fatal(err)
			}
			if !os.SameFile(fi, inode[it.Path]) {
				t.Errorf("n=%d: unchanged %s was relinked", n, it.Path)
			}
		}
		if !sameInode(t, filepath.Join(e.target, "Packages/new.rpm"), e.pool.Path(more[n].Digest)) {
			t.Errorf("n=%d: new item is not linked from the pool", n)
		}
		added = append(added, res.Ops)
	}
	if added[0] != added[1] {
		t.Errorf("adding one item cost %d ops at 10 items and %d at 300: cost depends on size", added[0], added[1])
	}
}

func TestRemovalWaitsForKeptVersions(t *testing.T) {
	e := newEnv(t)
	a, b := e.item("a.rpm", "a"), e.item("extra/sub/b.rpm", "b")
	pub := func(key string, items ...formats.Item) publish.Result {
		req := e.request(key, items)
		req.KeepVersions = 2
		return e.publish(req)
	}
	pub("v1", a, b)
	for _, key := range []string{"v2", "v3"} {
		res := pub(key, a)
		if res.Removed != 0 || !e.exists("extra/sub/b.rpm") {
			t.Fatalf("%s: b.rpm removed while version v1, which names it, is kept (result %+v)", key, res)
		}
	}
	res := pub("v4", a)
	if res.Removed != 1 || e.exists("extra/sub/b.rpm") {
		t.Errorf("v4 pruned v1: result %+v, b.rpm exists = %v; want it removed", res, e.exists("extra/sub/b.rpm"))
	}
	if e.exists("extra") {
		t.Error("empty directories of a removed payload were left")
	}
	if !e.exists("a.rpm") {
		t.Error("a.rpm, named by every version, was removed")
	}
	vs, err := publish.Versions(e.target)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, v := range vs {
		keys = append(keys, v.Key)
	}
	if want := []string{"v4", "v3", "v2"}; !slices.Equal(keys, want) {
		t.Errorf("kept versions %v, want %v", keys, want)
	}
	des, err := os.ReadDir(filepath.Join(e.target, ".versions"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	if len(names) != 2+2*3 { // .lock, state.json, 3 × (dir, manifest)
		t.Errorf(".versions holds %v, want the lock, the state and 3 versions", names)
	}
	if _, err := os.Stat(e.pool.Path(b.Digest)); err != nil {
		t.Errorf("removing a payload touched the pool: %v", err)
	}
}

func TestChangedBytesReplacedByRename(t *testing.T) {
	e := newEnv(t)
	old := e.item("Packages/hello.rpm", "old bytes")
	e.publish(e.request("v1", []formats.Item{old}))
	held, err := os.Open(filepath.Join(e.target, "Packages/hello.rpm"))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()

	repacked := e.item("Packages/hello.rpm", "new bytes, same name")
	res := e.publish(e.request("v2", []formats.Item{repacked}))
	if res.Replaced != 1 || res.Linked != 0 {
		t.Errorf("result = %+v, want 1 replaced", res)
	}
	if got := e.read("Packages/hello.rpm"); got != "new bytes, same name" {
		t.Errorf("published file = %q", got)
	}
	if !sameInode(t, filepath.Join(e.target, "Packages/hello.rpm"), e.pool.Path(repacked.Digest)) {
		t.Error("replaced file is not the new blob")
	}
	b, err := os.ReadFile(e.pool.Path(old.Digest))
	if err != nil || string(b) != "old bytes" {
		t.Errorf("old pool blob = %q, %v: it was written through the published link", b, err)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(held); err != nil || buf.String() != "old bytes" {
		t.Errorf("a reader holding the old file read %q, %v", buf.String(), err)
	}
}

func TestRenderErrorLeavesTreeUntouched(t *testing.T) {
	e := newEnv(t)
	e.publish(e.request("v1", []formats.Item{e.item("a.rpm", "a")}))
	before := snapshot(t, e.target)

	boom := errors.New("boom")
	req := e.request("v2", []formats.Item{e.item("a.rpm", "a"), e.item("b.rpm", "b")})
	req.Format = fakeFormat{fail: boom}
	_, err := publish.Publish(context.Background(), req, &publish.Options{NoSync: true})
	if !errors.Is(err, boom) {
		t.Fatalf("Publish = %v, want the render error", err)
	}
	if d := diffSnapshots(before, snapshot(t, e.target)); len(d) != 0 {
		t.Errorf("failed publish changed the tree: %v", d)
	}
	// The next publish works and leaves no staging behind either.
	res := e.publish(e.request("v3", []formats.Item{e.item("a.rpm", "a")}))
	if got := e.read("meta/index.txt"); !strings.Contains(got, "tag=v3") {
		t.Errorf("after recovery index = %q (version %s)", got, res.Version)
	}
}

func TestCancelledBeforeSwitch(t *testing.T) {
	e := newEnv(t)
	e.publish(e.request("v1", []formats.Item{e.item("a.rpm", "a")}))
	before := snapshot(t, e.target)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := publish.Publish(ctx, e.request("v2", []formats.Item{e.item("b.rpm", "b")}), &publish.Options{NoSync: true})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Publish = %v, want context.Canceled", err)
	}
	if d := diffSnapshots(before, snapshot(t, e.target)); len(d) != 0 {
		t.Errorf("cancelled publish changed the tree: %v", d)
	}
}

func TestBusy(t *testing.T) {
	e := newEnv(t)
	e.publish(e.request("v1", []formats.Item{e.item("a.rpm", "a")}))
	e.publish(e.request("v2", []formats.Item{e.item("a.rpm", "a")}))

	l, err := lock.Acquire(context.Background(), lock.Request{Path: filepath.Join(e.target, ".versions", ".lock")})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	o := &publish.Options{NoSync: true}
	if _, err := publish.Publish(ctx, e.request("v3", nil), o); !errors.Is(err, publish.ErrBusy) {
		t.Errorf("Publish under a held lock = %v, want ErrBusy", err)
	}
	if _, err := publish.Rollback(ctx, e.target, o); !errors.Is(err, publish.ErrBusy) {
		t.Errorf("Rollback under a held lock = %v, want ErrBusy", err)
	}
	if err := publish.Unpublish(ctx, e.target, o); !errors.Is(err, publish.ErrBusy) {
		t.Errorf("Unpublish under a held lock = %v, want ErrBusy", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if res := e.publish(e.request("v3", nil)); res.Unchanged {
		t.Error("publish after unlock did nothing")
	}
}

// TestConcurrentPublish runs two Publishes on one target: the second starts
// while the first is inside Render and must fail with ErrBusy.
func TestConcurrentPublish(t *testing.T) {
	e := newEnv(t)
	entered, release := make(chan struct{}), make(chan struct{})
	slow := e.request("slow", []formats.Item{e.item("a.rpm", "a")})
	slow.Format = fakeFormat{entered: entered, release: release}
	done := make(chan error, 1)
	go func() {
		_, err := publish.Publish(context.Background(), slow, &publish.Options{NoSync: true})
		done <- err
	}()
	<-entered
	_, err := publish.Publish(context.Background(), e.request("fast", []formats.Item{e.item("b.rpm", "b")}), &publish.Options{NoSync: true})
	close(release)
	if !errors.Is(err, publish.ErrBusy) {
		t.Errorf("second Publish = %v, want ErrBusy", err)
	}
	if err := <-done; err != nil {
		t.Errorf("first Publish: %v", err)
	}
	if got := e.read("meta/index.txt"); !strings.Contains(got, "tag=slow") {
		t.Errorf("index = %q, want the first publish's", got)
	}
}

func TestPathConfinement(t *testing.T) {
	for _, p := range []string{
		"../x", "/etc/passwd", ".versions/x", ".versions", "a/../../b", "a\\b", "",
		"a//b", "./a", "a/", "a/.", "x\x00y", ".hidden/a.rpm", ".meta.new",
	} {
		t.Run(fmt.Sprintf("%q", p), func(t *testing.T) {
			e := newEnv(t)
			ok := e.item("ok.rpm", "ok")
			bad := e.item(p, "bad")
			_, err := publish.Publish(context.Background(), e.request("k", []formats.Item{ok, bad}), &publish.Options{NoSync: true})
			var pe *publish.PathError
			if !errors.Is(err, publish.ErrInvalidPath) || !errors.As(err, &pe) || pe.Path != p {
				t.Fatalf("Publish = %v, want a PathError for %q wrapping ErrInvalidPath", err, p)
			}
			if _, err := os.Lstat(e.target); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("target was created (%v): something was written before the check", err)
			}
		})
	}
}

func TestRenderedPathConfinement(t *testing.T) {
	for _, p := range []string{"../escape", "/abs", ".versions/x", "meta/../../x", ".top.txt.new"} {
		t.Run(fmt.Sprintf("%q", p), func(t *testing.T) {
			e := newEnv(t)
			e.publish(e.request("v1", []formats.Item{e.item("a.rpm", "a")}))
			before := snapshot(t, e.target)
			req := e.request("v2", []formats.Item{e.item("a.rpm", "a")})
			req.Format = fakeFormat{badPath: p}
			_, err := publish.Publish(context.Background(), req, &publish.Options{NoSync: true})
			if !errors.Is(err, publish.ErrInvalidPath) {
				t.Fatalf("Publish = %v, want ErrInvalidPath", err)
			}
			if d := diffSnapshots(before, snapshot(t, e.target)); len(d) != 0 {
				t.Errorf("tree changed: %v", d)
			}
			if _, err := os.Lstat(filepath.Join(filepath.Dir(e.target), "escape")); err == nil {
				t.Error("a rendered file escaped the target")
			}
		})
	}
}

// TestNewPayloadOverStray: a file where the current version has no payload
// (left by an interrupted publish or by hand) is replaced by the payload.
func TestNewPayloadOverStray(t *testing.T) {
	e := newEnv(t)
	e.publish(e.request("k1", []formats.Item{e.item("Packages/a.rpm", "a")}))
	stray := filepath.Join(e.target, "Packages", "b.rpm")
	if err := os.WriteFile(stray, []byte("stray bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := e.publish(e.request("k2", []formats.Item{e.item("Packages/a.rpm", "a"), e.item("Packages/b.rpm", "b")}))
	if res.Linked != 1 {
		t.Errorf("result %+v, want 1 linked", res)
	}
	if b, err := os.ReadFile(stray); err != nil || string(b) != "b" {
		t.Fatalf("Packages/b.rpm = %q, %v; want the payload", b, err)
	}
}

func TestConflicts(t *testing.T) {
	t.Run("real top-level directory", func(t *testing.T) {
		e := newEnv(t)
		if err := os.MkdirAll(filepath.Join(e.target, "meta"), 0o755); err != nil {
			t.Fatal(err)
		}
		_, err := publish.Publish(context.Background(), e.request("k", []formats.Item{e.item("a.rpm", "a")}), &publish.Options{NoSync: true})
		if !errors.Is(err, publish.ErrConflict) {
			t.Fatalf("Publish = %v, want ErrConflict", err)
		}
		if e.exists("a.rpm") || e.exists("top.txt") {
			t.Error("a refused publish wrote into the tree")
		}
	})
	t.Run("payload under a rendered name", func(t *testing.T) {
		e := newEnv(t)
		_, err := publish.Publish(context.Background(), e.request("k", []formats.Item{e.item("meta/a.rpm", "a")}), &publish.Options{NoSync: true})
		if !errors.Is(err, publish.ErrConflict) {
			t.Fatalf("Publish = %v, want ErrConflict", err)
		}
	})
	t.Run("symlinked payload directory", func(t *testing.T) {
		e := newEnv(t)
		outside := filepath.Join(t.TempDir(), "outside")
		if err := os.MkdirAll(outside, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(e.target, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outside, filepath.Join(e.target, "Packages")); err != nil {
			t.Fatal(err)
		}
		_, err := publish.Publish(context.Background(), e.request("k", []formats.Item{e.item("Packages/a.rpm", "a")}), &publish.Options{NoSync: true})
		if !errors.Is(err, publish.ErrConflict) {
			t.Fatalf("Publish = %v, want ErrConflict", err)
		}
		if des, _ := os.ReadDir(outside); len(des) != 0 {
			t.Errorf("publish wrote through a symlink: %v", des)
		}
		if e.exists("meta") {
			t.Error("metadata switched although payloads failed")
		}
	})
	t.Run("duplicate item path", func(t *testing.T) {
		e := newEnv(t)
		_, err := publish.Publish(context.Background(), e.request("k", []formats.Item{e.item("a.rpm", "a"), e.item("a.rpm", "b")}), &publish.Options{NoSync: true})
		if !errors.Is(err, publish.ErrConflict) {
			t.Fatalf("Publish = %v, want ErrConflict", err)
		}
	})
	// An item whose path is another item's directory, with paths sorting
	// between them ("p-x" < "p/q" since '-' < '/'), given sorted and not.
	for name, items := range map[string][]string{
		"sorted":   {"p", "p-x", "p/q"},
		"unsorted": {"p/q/r", "z", "p"},
		"deep":     {"a", "a/b/c/d"},
	} {
		t.Run("item under another item "+name, func(t *testing.T) {
			e := newEnv(t)
			var its []formats.Item
			for i, p := range items {
				its = append(its, e.item(p, fmt.Sprint(i)))
			}
			_, err := publish.Publish(context.Background(), e.request("k", its), &publish.Options{NoSync: true})
			if !errors.Is(err, publish.ErrConflict) {
				t.Fatalf("Publish = %v, want ErrConflict", err)
			}
		})
	}
}

func TestRollback(t *testing.T) {
	e := newEnv(t)
	common := e.item("common.rpm", "common")
	p1 := e.item("Packages/p.rpm", "p version 1")
	p2 := e.item("Packages/p.rpm", "p version 2") // same path, repackaged
	only3 := e.item("Packages/only3.rpm", "only in v3")
	e.publish(e.request("v1", []formats.Item{common, p1}))
	e.publish(e.request("v2", []formats.Item{common, p2}))
	r3 := e.publish(e.request("v3", []formats.Item{common, p2, only3}))
	ctx := context.Background()

	// Without the pool, restoring p.rpm's old bytes is impossible: nothing changes.
	if _, err := publish.Rollback(ctx, e.target, &publish.Options{NoSync: true}); err != nil {
		t.Fatalf("rollback v3 → v2: %v", err)
	}
	if got := e.read("meta/index.txt"); !strings.Contains(got, "tag=v2") {
		t.Errorf("after rollback index = %q, want v2's", got)
	}
	// The retired version's payloads stay until the next publish, so a client
	// that read v3's index just before the switch can still fetch them.
	if !e.exists("Packages/only3.rpm") {
		t.Error("payload named only by the retired version vanished at the rollback")
	}
	if !e.exists(".versions/" + r3.Version) {
		t.Error("retired version's metadata vanished at the rollback")
	}
	before := snapshot(t, e.target)
	if _, err := publish.Rollback(ctx, e.target, &publish.Options{NoSync: true}); err == nil || !strings.Contains(err.Error(), "Options.Pool") {
		t.Fatalf("rollback v2 → v1 without a pool = %v, want an error naming Options.Pool", err)
	}
	if d := diffSnapshots(before, snapshot(t, e.target)); len(d) != 0 {
		t.Errorf("refused rollback changed the tree: %v", d)
	}

	res, err := publish.Rollback(ctx, e.target, &publish.Options{NoSync: true, Pool: e.pool})
	if err != nil {
		t.Fatalf("rollback v2 → v1: %v", err)
	}
	if res.Replaced != 1 {
		t.Errorf("result = %+v, want p.rpm replaced", res)
	}
	if got := e.read("meta/index.txt"); !strings.Contains(got, "tag=v1") {
		t.Errorf("after second rollback index = %q, want v1's", got)
	}
	if got := e.read("Packages/p.rpm"); got != "p version 1" {
		t.Errorf("p.rpm = %q, want v1's bytes", got)
	}
	vs, err := publish.Versions(e.target)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 || vs[0].Key != "v1" || !vs[0].Current || vs[0].ID != res.Version {
		t.Errorf("Versions = %+v, want only v1", vs)
	}
	if _, err := publish.Rollback(ctx, e.target, &publish.Options{NoSync: true}); !errors.Is(err, publish.ErrNoPrevious) {
		t.Errorf("third rollback = %v, want ErrNoPrevious", err)
	}
	// Publishing again after a rollback diffs against the rolled-back version.
	res = e.publish(e.request("v4", []formats.Item{common, p2}))
	if res.Replaced != 1 || e.read("Packages/p.rpm") != "p version 2" {
		t.Errorf("publish after rollback: %+v, p.rpm = %q", res, e.read("Packages/p.rpm"))
	}
	// That publish dropped the retired versions and what only they named.
	if e.exists("Packages/only3.rpm") {
		t.Error("payload named only by a retired version survived the next publish")
	}
	if e.exists(".versions/" + r3.Version) {
		t.Error("retired version's metadata survived the next publish")
	}
}

func TestNotPublished(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	if _, err := publish.Rollback(ctx, dir, nil); !errors.Is(err, publish.ErrNotPublished) {
		t.Errorf("Rollback = %v, want ErrNotPublished", err)
	}
	if err := publish.Unpublish(ctx, dir, nil); !errors.Is(err, publish.ErrNotPublished) {
		t.Errorf("Unpublish = %v, want ErrNotPublished", err)
	}
	if _, err := publish.Versions(dir); !errors.Is(err, publish.ErrNotPublished) {
		t.Errorf("Versions = %v, want ErrNotPublished", err)
	}
	if des, _ := os.ReadDir(dir); len(des) != 0 {
		t.Errorf("a refused call wrote %v", des)
	}
}

func TestUnpublish(t *testing.T) {
	e := newEnv(t)
	a := e.item("Packages/a/a.rpm", "a")
	e.publish(e.request("v1", []formats.Item{a, e.item("b.rpm", "b")}))
	e.publish(e.request("v2", []formats.Item{a}))
	if err := publish.Unpublish(context.Background(), e.target, &publish.Options{NoSync: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(e.target); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("target still exists: %v", err)
	}
	if _, err := os.Stat(e.pool.Path(a.Digest)); err != nil {
		t.Errorf("unpublish touched the pool: %v", err)
	}

	e.publish(e.request("v3", []formats.Item{a}))
	if err := os.WriteFile(filepath.Join(e.target, "README"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := publish.Unpublish(context.Background(), e.target, &publish.Options{NoSync: true}); err != nil {
		t.Fatal(err)
	}
	if got := snapshot(t, e.target); len(got) != 2 || got["README"] == "" {
		t.Errorf("after unpublish with a stray file the target holds %v, want only README", got)
	}
}

// TestRecoversLeftovers simulates a crash: a staging directory, an orphan
// version with its manifest and a pending switch in the state.
func TestRecoversLeftovers(t *testing.T) {
	e := newEnv(t)
	a := e.item("a.rpm", "a")
	e.publish(e.request("v1", []formats.Item{a}))
	r2 := e.publish(e.request("v2", []formats.Item{a, e.item("b.rpm", "b")}))
	// Pretend v2's switch never finished: roll the state back by hand, leave
	// the symlinks on v2 and mark it pending.
	vs, err := publish.Versions(e.target)
	if err != nil {
		t.Fatal(err)
	}
	state := fmt.Sprintf(`{"versions":[{"id":%q,"key":"v1","created":%q}],"pending":%q}`,
		vs[1].ID, vs[1].Created.Format(time.RFC3339), r2.Version)
	if err := os.WriteFile(filepath.Join(e.target, ".versions", "state.json"), []byte(state), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(e.target, ".versions", "20200101T000000Z-deadbeef.tmp", "meta"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(".versions/x/meta", filepath.Join(e.target, ".meta.new")); err != nil {
		t.Fatal(err)
	}

	res := e.publish(e.request("v1", []formats.Item{a})) // equal to the (recovered) current key
	if !res.Unchanged || res.Version != vs[1].ID {
		t.Errorf("result = %+v, want unchanged at %s", res, vs[1].ID)
	}
	if got := e.read("meta/index.txt"); !strings.Contains(got, "tag=v1") {
		t.Errorf("index after recovery = %q, want v1's", got)
	}
	for _, p := range []string{"b.rpm", ".meta.new", ".versions/" + r2.Version, ".versions/" + r2.Version + ".manifest", ".versions/20200101T000000Z-deadbeef.tmp"} {
		if e.exists(p) {
			t.Errorf("%s survived recovery", p)
		}
	}
}

// TestReaderNeverSeesMissingOrMixed polls the index while 50 publishes run:
// every read must succeed and return one published version's index.
func TestReaderNeverSeesMissingOrMixed(t *testing.T) {
	e := newEnv(t)
	const n = 50
	valid := map[string]bool{}
	var reqs []publish.Request
	base := []formats.Item{e.item("a.rpm", "a")}
	for i := range n {
		items := append(slices.Clone(base), e.item(fmt.Sprintf("p/%d.rpm", i), fmt.Sprint(i)))
		req := e.request(fmt.Sprint("v", i), items)
		req.KeepVersions = 1
		reqs = append(reqs, req)
		sorted := slices.Clone(items)
		slices.SortFunc(sorted, func(a, b formats.Item) int { return strings.Compare(a.Path, b.Path) })
		valid[indexContent(sorted, req.Params)] = true
	}
	e.publish(reqs[0])

	done := make(chan struct{})
	type report struct {
		reads int
		bad   []string
	}
	out := make(chan report)
	go func() {
		var r report
		index := filepath.Join(e.target, "meta", "index.txt")
		for {
			select {
			case <-done:
				out <- r
				return
			default:
			}
			b, err := os.ReadFile(index)
			r.reads++
			if err != nil {
				r.bad = append(r.bad, err.Error())
			} else if !valid[string(b)] {
				r.bad = append(r.bad, fmt.Sprintf("unknown content %q", b))
			}
			if len(r.bad) > 10 {
				<-done
				out <- r
				return
			}
		}
	}()
	for _, req := range reqs[1:] {
		if _, err := publish.Publish(context.Background(), req, &publish.Options{NoSync: true}); err != nil {
			close(done)
			<-out
			t.Fatal(err)
		}
	}
	close(done)
	r := <-out
	if r.reads == 0 {
		t.Fatal("the reader never read")
	}
	for _, b := range r.bad {
		t.Error(b)
	}
}

func BenchmarkRepublishOneChange(b *testing.B) {
	e := newEnv(b)
	const n = 20000
	items := make([]formats.Item, 0, n+b.N)
	for i := range n {
		items = append(items, e.item(fmt.Sprintf("Packages/%02d/p%05d.rpm", i%100, i), fmt.Sprint("payload ", i)))
	}
	o := &publish.Options{NoSync: true}
	if _, err := publish.Publish(context.Background(), e.request("base", items), o); err != nil {
		b.Fatal(err)
	}
	ops := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		items = append(items, e.item(fmt.Sprintf("Packages/new/n%06d.rpm", i), fmt.Sprint("new ", i)))
		req := e.request(fmt.Sprint("k", i), items)
		b.StartTimer()
		res, err := publish.Publish(context.Background(), req, o)
		if err != nil {
			b.Fatal(err)
		}
		ops += res.Ops
	}
	b.ReportMetric(float64(ops)/float64(b.N), "fsops/op")
}

// BenchmarkFirstVsRepublish63k publishes a 63,000-item tree from scratch and
// then again after a one-item change, reporting the republish's share of the
// first publish's time and its file-system operations (the budget:
// O(change) operations and at most 10% of the first publish).
func BenchmarkFirstVsRepublish63k(b *testing.B) {
	e := newEnv(b)
	const n = 63000
	items := make([]formats.Item, 0, n+1)
	for i := range n {
		items = append(items, e.item(fmt.Sprintf("pool/main/%02d/p%05d.deb", i%100, i), fmt.Sprint("payload ", i)))
	}
	extra := e.item("pool/main/new/n.deb", "new")
	o := &publish.Options{NoSync: true}
	var first, again time.Duration
	ops := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		target := filepath.Join(b.TempDir(), "t")
		req := e.request(fmt.Sprint("base", i), items)
		req.Target = target
		t0 := time.Now()
		if _, err := publish.Publish(context.Background(), req, o); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		req = e.request(fmt.Sprint("next", i), append(items[:n:n], extra))
		req.Target = target
		res, err := publish.Publish(context.Background(), req, o)
		if err != nil {
			b.Fatal(err)
		}
		first += t1.Sub(t0)
		again += time.Since(t1)
		ops += res.Ops
	}
	b.ReportMetric(float64(again)/float64(first), "republish/first")
	b.ReportMetric(float64(ops)/float64(b.N), "republish-fsops")
}
