package publish_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"testing"

	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/publish"
)

// manyFiles renders n files meta/f<i>.txt, then fails with fail if set.
type manyFiles struct {
	n    int
	fail error
}

func (manyFiles) Name() string { return "many" }

func (manyFiles) Scan(context.Context, formats.ScanRequest, func(formats.Entry) error) error {
	return errors.New("many: no scan")
}

func (f manyFiles) Render(ctx context.Context, req formats.RenderRequest) error {
	for i := range f.n {
		if err := formats.WriteFile(ctx, req.Sink, fmt.Sprintf("meta/f%03d.txt", i), []byte(fmt.Sprintf("file %d\n", i))); err != nil {
			return err
		}
	}
	return f.fail
}

func openFDs(t *testing.T) int {
	t.Helper()
	des, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd here")
	}
	return len(des)
}

// TestSyncedPublishClosesEveryFile: with fsync on, rendered files are kept
// open for one concurrent fsync before the switch (up to a bound, fsynced
// at Close beyond it). Every one is written and closed whether the publish
// succeeds or the render fails half-way.
func TestSyncedPublishClosesEveryFile(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts descriptors in /proc/self/fd")
	}
	for _, tc := range []struct {
		name string
		f    manyFiles
	}{
		{"few", manyFiles{n: 5}},
		{"beyond the deferred bound", manyFiles{n: 150}},
		{"render fails", manyFiles{n: 150, fail: errors.New("boom")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			req := e.request("k", []formats.Item{e.item("Packages/a.rpm", "a")})
			req.Format = tc.f
			before := openFDs(t)
			_, err := publish.Publish(context.Background(), req, nil) // fsync on
			if after := openFDs(t); after != before {
				t.Errorf("%d descriptors open after Publish, %d before", after, before)
			}
			if tc.f.fail != nil {
				if err == nil {
					t.Fatal("Publish succeeded although Render failed")
				}
				if e.exists("meta") {
					t.Error("metadata switched although Render failed")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := range tc.f.n {
				if got, want := e.read(fmt.Sprintf("meta/f%03d.txt", i)), fmt.Sprintf("file %d\n", i); got != want {
					t.Fatalf("meta/f%03d.txt = %q, want %q", i, got, want)
				}
			}
		})
	}
}

// TestSyncedPublishManyDirectories: a publish that fills more directories
// than it fsyncs one by one commits them together, and every payload is
// in place.
func TestSyncedPublishManyDirectories(t *testing.T) {
	e := newEnv(t)
	var items []formats.Item
	for i := range 100 {
		items = append(items, e.item(fmt.Sprintf("pool/p%03d/p%03d.deb", i, i), fmt.Sprint(i)))
	}
	res, err := publish.Publish(context.Background(), e.request("k", items), nil) // fsync on
	if err != nil {
		t.Fatal(err)
	}
	if res.Linked != 100 {
		t.Fatalf("linked %d, want 100", res.Linked)
	}
	for i := range 100 {
		if got := e.read(fmt.Sprintf("pool/p%03d/p%03d.deb", i, i)); got != fmt.Sprint(i) {
			t.Fatalf("payload %d reads %q", i, got)
		}
	}
}
