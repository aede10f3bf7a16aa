package chantal_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/chantal-lite/chantal"
	"github.com/chantal-lite/chantal/formats"
	testformat "github.com/chantal-lite/chantal/formats/formattest/lines"
)

// seenItems is the lines format recording the items its Render gets, and
// declaring formats.MirrorFromFiles when filesOnly is set.
type seenItems struct {
	testformat.Format
	filesOnly bool
	mu        *sync.Mutex
	got       *[]formats.Item
}

func (f seenItems) MirrorFromFiles() bool { return f.filesOnly }

func (f seenItems) Render(ctx context.Context, req formats.RenderRequest) error {
	f.mu.Lock()
	*f.got = slices.Clone(req.Items)
	f.mu.Unlock()
	return f.Format.Render(ctx, req)
}

// TestMirrorPublishFromRefs: a format that renders mirror mode from its
// files alone gets items with Path and Digest only (the catalog's items are
// not decoded); one that does not say so gets them whole.
func TestMirrorPublishFromRefs(t *testing.T) {
	for _, filesOnly := range []bool{true, false} {
		up := newUpstream(t)
		up.add("a", "1.0")
		up.add("b", "2.0")
		var mu sync.Mutex
		var got []formats.Item
		f := seenItems{filesOnly: filesOnly, mu: &mu, got: &got}
		m := testMirror(t, up.srv.URL, "    mode: mirror", chantal.WithFormats(f))
		mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}})
		res, err := m.Publish(context.Background(), chantal.PublishRequest{Repo: "r1"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Linked != 2 {
			t.Fatalf("filesOnly=%v: linked %d payloads, want 2", filesOnly, res.Linked)
		}
		mu.Lock()
		items := got
		mu.Unlock()
		if len(items) != 2 {
			t.Fatalf("filesOnly=%v: Render got %d items, want 2", filesOnly, len(items))
		}
		for _, it := range items {
			if it.Path == "" || it.Digest.IsZero() {
				t.Errorf("filesOnly=%v: item without path or digest: %+v", filesOnly, it)
			}
			if decoded := it.Name != "" || it.Size != 0; decoded == filesOnly {
				t.Errorf("filesOnly=%v: item %s decoded=%v (name %q, size %d)", filesOnly, it.Path, decoded, it.Name, it.Size)
			}
		}
	}
}
