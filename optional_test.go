package chantal_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chantal-lite/chantal"
	"github.com/chantal-lite/chantal/formats"
	testformat "github.com/chantal-lite/chantal/formats/formattest/lines"
	"github.com/chantal-lite/chantal/pool"
)

// extraFileFormat is the lines format plus one repo-level file upstream lists
// but does not serve.
type extraFileFormat struct {
	testformat.Format
	optional bool
}

func (f extraFileFormat) Scan(ctx context.Context, req formats.ScanRequest, yield func(formats.Entry) error) error {
	if err := f.Format.Scan(ctx, req, yield); err != nil {
		return err
	}
	d := pool.Sum([]byte("never served"))
	return yield(formats.Entry{File: &formats.File{
		Path: "extra/listed-but-absent.txt", Kind: "extra", Digest: d,
		Checksums: formats.Checksums{"sha256": d.String()}, Optional: f.optional,
	}})
}

func TestOptionalFiles(t *testing.T) {
	for _, optional := range []bool{true, false} {
		up := newUpstream(t)
		up.add("alpha", "1.0")
		m := testMirror(t, up.srv.URL, "", chantal.WithFormats(extraFileFormat{optional: optional}))
		res, err := m.Sync(context.Background(), chantal.SyncRequest{Repos: []string{"r1"}})
		if err != nil {
			t.Fatal(err)
		}
		rr := res.Repos[0]
		if optional && (rr.Err != nil || len(rr.Added) != 1) {
			t.Errorf("an absent optional file failed the sync: %+v", rr)
		}
		if !optional && (rr.Err == nil || !strings.Contains(rr.Err.Error(), "listed-but-absent")) {
			t.Errorf("an absent required file did not fail the sync: %+v", rr)
		}
	}
}
