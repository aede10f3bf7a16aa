package formattest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/formats/formattest"
	"github.com/chantal-lite/chantal/pool"
)

func TestCheckPath(t *testing.T) {
	for _, p := range []string{"a", "a/b.rpm", "Packages/h/hello-1.0.rpm", "..a"} {
		if err := formattest.CheckPath(p); err != nil {
			t.Errorf("CheckPath(%q) = %v", p, err)
		}
	}
	for _, p := range []string{"", ".", "..", "../x", "/etc/passwd", "a/../../b", "a/./b", "a//b", "a\\b", "a\x00b", "a/"} {
		if err := formattest.CheckPath(p); err == nil {
			t.Errorf("CheckPath(%q) accepted", p)
		}
	}
}

func TestCheckEntry(t *testing.T) {
	d := pool.Sum([]byte("x"))
	ok := formats.Item{Path: "a.pkg", Name: "a", Digest: d}
	bad := []formats.Entry{
		{},
		{Item: &ok, File: &formats.File{Path: "b"}},
		{Item: &formats.Item{Path: "../a", Name: "a", Digest: d}},
		{Item: &formats.Item{Path: "a", Digest: d}},
		{Item: &formats.Item{Path: "a", Name: "a", Size: -1, Digest: d}},
		{Item: &formats.Item{Path: "a", Name: "a", Checksums: formats.Checksums{"md5": "00"}}},
		{File: &formats.File{Path: "/x", Digest: d}},
	}
	for i, e := range bad {
		if err := formattest.CheckEntry(e); err == nil {
			t.Errorf("bad entry %d accepted", i)
		}
	}
	if err := formattest.CheckEntry(formats.Entry{Item: &ok}); err != nil {
		t.Errorf("good entry: %v", err)
	}
}

func TestMemFS(t *testing.T) {
	var m formattest.MemFS
	ctx := context.Background()
	w, err := m.Create(ctx, "a/b")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("hi"))
	if _, ok := m.Get("a/b"); ok {
		t.Error("file visible before Close")
	}
	w.Close()
	if b, ok := m.Get("a/b"); !ok || string(b) != "hi" {
		t.Errorf("Get = %q, %v", b, ok)
	}
	if _, err := m.Open(ctx, "nope"); err == nil {
		t.Error("Open(nope) succeeded")
	}
	if _, err := m.Create(ctx, "../x"); err == nil {
		t.Error("Create(../x) succeeded")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Open(cctx, "a/b"); !errors.Is(err, context.Canceled) {
		t.Errorf("Open with cancelled ctx = %v", err)
	}
}
