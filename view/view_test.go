package view_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/pool"
	"github.com/chantal-lite/chantal/view"
)

func item(path, name, version, arch string) formats.Item {
	return formats.Item{Path: path, Digest: pool.Sum([]byte(path + name + version + arch)), Name: name, Version: version, Arch: arch}
}

func TestMergeCollisionRule(t *testing.T) {
	a := view.Member{Name: "base", Items: []formats.Item{
		item("p/bash-5.x86_64.rpm", "bash", "5", "x86_64"),
		item("p/zlib-1.x86_64.rpm", "zlib", "1", "x86_64"),
		// A member may hold two builds of one identity; it keeps both.
		item("p/dup-1.a.rpm", "dup", "1", "noarch"),
		item("p/dup-1.b.rpm", "dup", "1", "noarch"),
	}, Files: []formats.File{
		{Path: "repodata/comps.xml", Digest: pool.Sum([]byte("comps")), Kind: "group"},
		{Path: "repodata/a-updateinfo.xml.gz", Digest: pool.Sum([]byte("ua")), Kind: "updateinfo"},
	}}
	b := view.Member{Name: "epel/2026-11", Items: []formats.Item{
		item("p/bash-5.x86_64.rpm", "bash", "5", "x86_64"),     // same path: base wins
		item("other/zlib-1.x86_64.rpm", "zlib", "1", "x86_64"), // same identity elsewhere: base wins
		item("p/zlib-2.x86_64.rpm", "zlib", "2", "x86_64"),     // another version: kept
		item("p/htop-3.x86_64.rpm", "htop", "3", "x86_64"),
	}, Files: []formats.File{
		{Path: "repodata/comps.xml", Digest: pool.Sum([]byte("comps")), Kind: "group"},             // equal bytes: once, silently
		{Path: "repodata/b-updateinfo.xml.gz", Digest: pool.Sum([]byte("ub")), Kind: "updateinfo"}, // both updateinfo files go to the format
	}}
	c := view.Member{Name: "late", Files: []formats.File{
		{Path: "repodata/comps.xml", Digest: pool.Sum([]byte("other comps")), Kind: "group"}, // other bytes: reported
	}}
	got := view.Merge([]view.Member{a, b, c})
	var paths []string
	for _, it := range got.Items {
		paths = append(paths, it.Path)
	}
	wantPaths := []string{"p/bash-5.x86_64.rpm", "p/dup-1.a.rpm", "p/dup-1.b.rpm", "p/htop-3.x86_64.rpm", "p/zlib-1.x86_64.rpm", "p/zlib-2.x86_64.rpm"}
	if diff := cmp.Diff(wantPaths, paths); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
	if got.Items[0].Digest != a.Items[0].Digest {
		t.Errorf("p/bash is not the first member's item")
	}
	var files []string
	for _, f := range got.Files {
		files = append(files, f.Path)
	}
	if diff := cmp.Diff([]string{"repodata/a-updateinfo.xml.gz", "repodata/b-updateinfo.xml.gz", "repodata/comps.xml"}, files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if got.Files[2].Digest != pool.Sum([]byte("comps")) {
		t.Errorf("comps.xml is not the first member's")
	}
	wantColl := []view.Collision{
		{Reason: view.SameIdentity, Path: "other/zlib-1.x86_64.rpm", Name: "zlib", Version: "1", Arch: "x86_64", Kept: "base", KeptPath: "p/zlib-1.x86_64.rpm", Dropped: "epel/2026-11"},
		{Reason: view.SamePath, Path: "p/bash-5.x86_64.rpm", Name: "bash", Version: "5", Arch: "x86_64", Kept: "base", KeptPath: "p/bash-5.x86_64.rpm", Dropped: "epel/2026-11"},
		{Reason: view.SameFile, Path: "repodata/comps.xml", Kept: "base", KeptPath: "repodata/comps.xml", Dropped: "late"},
	}
	if diff := cmp.Diff(wantColl, got.Collisions); diff != "" {
		t.Errorf("collisions (-want +got):\n%s", diff)
	}
	// Order decides: with the members swapped, epel's items win.
	sw := view.Merge([]view.Member{b, a})
	for _, c := range sw.Collisions {
		if c.Kept != "epel/2026-11" {
			t.Errorf("swapped order: %+v kept by %s", c, c.Kept)
		}
	}
}

func TestKey(t *testing.T) {
	if view.Key([]string{"a", "b"}) == view.Key([]string{"b", "a"}) || view.Key([]string{"ab"}) == view.Key([]string{"a", "b"}) {
		t.Error("Key ignores order or boundaries")
	}
	if k := view.Key([]string{"a"}); len(k) != 64 || k != view.Key([]string{"a"}) {
		t.Error("Key is not deterministic")
	}
}
