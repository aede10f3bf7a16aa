package view

import (
	"slices"
	"strings"
	"testing"

	"github.com/chantal-lite/chantal/errata"
	"github.com/chantal-lite/chantal/formats"
)

func item(path, name, version, arch, source string) formats.Item {
	it := formats.Item{Path: path, Name: name, Version: version, Arch: arch}
	if source != "" {
		it.Fields = map[string]string{"source": source}
	}
	return it
}

func paths(items []formats.Item) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.Path)
	}
	return out
}

// cmpTilde orders "~" before everything, like rpm and dpkg, enough for
// the test (byte order would not).
func cmpTilde(a, b string) int {
	return strings.Compare(strings.ReplaceAll(a, "~", "\x00"), strings.ReplaceAll(b, "~", "\x00"))
}

func TestErrataFilter(t *testing.T) {
	base := Member{Name: "el/base", Items: []formats.Item{item("a/hello-1.0", "hello", "1.0-1", "x86_64", "")},
		Files: []formats.File{{Path: "repodata/comps.xml", Kind: "group"}, {Path: ".chantal/advisories", Kind: KindAdvisories}}}
	members := []Member{{Name: "el", Items: []formats.Item{
		item("a/hello-1.0", "hello", "1.0-1", "x86_64", ""),
		item("a/hello-1.1", "hello", "1.1-1", "x86_64", ""),
		item("a/hello-1.1.i686", "hello", "1.1-1", "i686", ""),
		item("a/hello-1.2", "hello", "1.2-1", "x86_64", ""),
		item("d/xorg-core-u8", "xserver-xorg-core", "2:21-3+u8", "amd64", "xorg-server"),
		item("d/xorg-core-u9rc", "xserver-xorg-core", "2:21-3+u9~rc1", "amd64", "xorg-server"),
		item("d/xorg-core-u9", "xserver-xorg-core", "2:21-3+u9", "amd64", "xorg-server"),
		item("d/xvfb-u9", "xvfb", "2:21-3+u9", "amd64", "xorg-server"),
		item("d/xorg-core-u10", "xserver-xorg-core", "2:21-3+u10", "amd64", "xorg-server"),
	}}}
	advs := []errata.Advisory{
		// An exact build: only hello-1.1-1.x86_64, not i686, not 1.2.
		{ID: "FIX-1", Packages: []errata.Package{{Name: "hello", Version: "1.1", Release: "1", Epoch: "0", Arch: "x86_64"}}},
		// Fixed versions only, by source name: the lowest fixing version,
		// every binary at it ("~rc1" is below the fix).
		{ID: "DSA-1", Packages: []errata.Package{{Name: "xorg-server", Ranges: []errata.Range{{Type: "ECOSYSTEM",
			Events: []errata.Event{{Introduced: "0"}, {Fixed: "2:21-3+u9"}}}}}}},
	}
	m := ErrataFilter(ErrataRequest{Base: base, Members: members, Advisories: advs, Compare: cmpTilde})
	want := []string{"a/hello-1.0", "a/hello-1.1", "d/xorg-core-u9", "d/xvfb-u9"}
	if got := paths(m.Items); !slices.Equal(got, want) {
		t.Errorf("items = %v, want %v", got, want)
	}
	if len(m.Files) != 1 || m.Files[0].Path != "repodata/comps.xml" {
		t.Errorf("files = %+v, want the base's comps only (advisory sets dropped)", m.Files)
	}
	if len(m.Collisions) != 0 {
		t.Errorf("collisions = %+v (the base's own item picked again must not collide)", m.Collisions)
	}
	if none := ErrataFilter(ErrataRequest{Base: base, Members: members}); !slices.Equal(paths(none.Items), []string{"a/hello-1.0"}) {
		t.Errorf("no advisories: items = %v, want the base", paths(none.Items))
	}
}
