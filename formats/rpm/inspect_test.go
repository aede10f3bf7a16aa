package rpm

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chantal-lite/chantal/formats"
	"github.com/google/go-cmp/cmp"
)

// semPrimary is the meaning of a primary <package>, formatting aside. The
// location and file time are left out: they depend on where and when the
// file was laid out, not on the package.
type semPrimary struct {
	Name     string     `xml:"name"`
	Arch     string     `xml:"arch"`
	Version  xmlVersion `xml:"version"`
	Checksum xmlSum     `xml:"checksum"`
	Summary  string     `xml:"summary"`
	Desc     string     `xml:"description"`
	Packager string     `xml:"packager"`
	URL      string     `xml:"url"`
	Time     struct {
		Build string `xml:"build,attr"`
	} `xml:"time"`
	Size struct {
		Package   string `xml:"package,attr"`
		Installed string `xml:"installed,attr"`
		Archive   string `xml:"archive,attr"`
	} `xml:"size"`
	Format struct {
		License     string `xml:"license"`
		Vendor      string `xml:"vendor"`
		Group       string `xml:"group"`
		BuildHost   string `xml:"buildhost"`
		SourceRPM   string `xml:"sourcerpm"`
		HeaderRange struct {
			Start string `xml:"start,attr"`
			End   string `xml:"end,attr"`
		} `xml:"header-range"`
		Provides    []semDep  `xml:"provides>entry"`
		Requires    []semDep  `xml:"requires>entry"`
		Conflicts   []semDep  `xml:"conflicts>entry"`
		Obsoletes   []semDep  `xml:"obsoletes>entry"`
		Suggests    []semDep  `xml:"suggests>entry"`
		Enhances    []semDep  `xml:"enhances>entry"`
		Recommends  []semDep  `xml:"recommends>entry"`
		Supplements []semDep  `xml:"supplements>entry"`
		Files       []semFile `xml:"file"`
	} `xml:"format"`
}

type semDep struct {
	Name  string `xml:"name,attr"`
	Flags string `xml:"flags,attr"`
	Epoch string `xml:"epoch,attr"`
	Ver   string `xml:"ver,attr"`
	Rel   string `xml:"rel,attr"`
	Pre   string `xml:"pre,attr"`
}

type semFile struct {
	Type string `xml:"type,attr"`
	Path string `xml:",chardata"`
}

type semFilelists struct {
	PkgID   string     `xml:"pkgid,attr"`
	Name    string     `xml:"name,attr"`
	Arch    string     `xml:"arch,attr"`
	Version xmlVersion `xml:"version"`
	Files   []semFile  `xml:"file"`
}

type semOther struct {
	PkgID     string     `xml:"pkgid,attr"`
	Name      string     `xml:"name,attr"`
	Arch      string     `xml:"arch,attr"`
	Version   xmlVersion `xml:"version"`
	Changelog []struct {
		Author string `xml:"author,attr"`
		Date   string `xml:"date,attr"`
		Text   string `xml:",chardata"`
	} `xml:"changelog"`
}

func semantic(t *testing.T, it formats.Item) (semPrimary, semFilelists, semOther) {
	t.Helper()
	var p semPrimary
	var fl semFilelists
	var o semOther
	for typ, v := range map[string]any{"primary": &p, "filelists": &fl, "other": &o} {
		if err := xml.Unmarshal(it.Fragments[typ], v); err != nil {
			t.Fatalf("%s: %s fragment: %v\n%s", it.Path, typ, err, it.Fragments[typ])
		}
	}
	return p, fl, o
}

// TestInspectMatchesCreaterepo runs createrepo_c on the fixture packages and
// compares what it says about each with what Inspect says.
func TestInspectMatchesCreaterepo(t *testing.T) {
	bin, err := exec.LookPath("createrepo_c")
	if err != nil {
		if os.Getenv("CHANTAL_E2E") == "require" {
			t.Fatalf("createrepo_c not found and CHANTAL_E2E=require: %v", err)
		}
		t.Skip("createrepo_c not installed (Debian: apt-get install createrepo-c); set CHANTAL_E2E=require to fail instead")
	}
	dir := t.TempDir()
	pkgs := filepath.Join(fixtures, "repo", "Packages")
	ents, err := os.ReadDir(pkgs)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "Packages"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(pkgs, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "Packages", e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, bin, "--quiet", "--no-database", "--checksum", "sha256", dir).CombinedOutput(); err != nil {
		t.Fatalf("createrepo_c: %v\n%s", err, out)
	}
	s, err := scan(t, New(nil), formats.ScanRequest{Source: dirSource(dir), Mode: formats.ModeFiltered})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.items) != len(ents) {
		t.Fatalf("createrepo_c listed %d packages, fixture has %d", len(s.items), len(ents))
	}
	f := New(nil)
	for _, want := range s.items {
		t.Run(filepath.Base(want.Path), func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, want.Path))
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.Inspect(context.Background(), bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			if got.Path != f.PublishPath(want) || got.Digest != want.Digest || got.Size != want.Size ||
				got.Name != want.Name || got.Version != want.Version || got.Arch != want.Arch {
				t.Errorf("item %s %s %s %s %d, want %s %s %s %s %d", got.Path, got.Name, got.Version, got.Arch, got.Size,
					f.PublishPath(want), want.Name, want.Version, want.Arch, want.Size)
			}
			if diff := cmp.Diff(want.Checksums, got.Checksums); diff != "" {
				t.Errorf("checksums (-createrepo_c +Inspect):\n%s", diff)
			}
			delete(want.Fields, "filetime") // the file's mtime, not the package's
			if diff := cmp.Diff(want.Fields, got.Fields); diff != "" {
				t.Errorf("fields (-createrepo_c +Inspect):\n%s", diff)
			}
			wp, wf, wo := semantic(t, want)
			gp, gf, gowant := semantic(t, got)
			if diff := cmp.Diff(wp, gp); diff != "" {
				t.Errorf("primary (-createrepo_c +Inspect):\n%s", diff)
			}
			if diff := cmp.Diff(wf, gf); diff != "" {
				t.Errorf("filelists (-createrepo_c +Inspect):\n%s", diff)
			}
			if diff := cmp.Diff(wo, gowant); diff != "" {
				t.Errorf("other (-createrepo_c +Inspect):\n%s", diff)
			}
		})
	}
}

func TestInspectFixtureDeps(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(fixtures, "repo", "Packages", "hello-1.1-1.x86_64.rpm"))
	if err != nil {
		t.Fatal(err)
	}
	it, err := New(nil).Inspect(context.Background(), bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	p, _, o := semantic(t, it)
	want := []semDep{{Name: "libgreet", Flags: "GE", Epoch: "0", Ver: "2.0"}, {Name: "libgreet.so.2()(64bit)"}}
	if diff := cmp.Diff(want, p.Format.Requires); diff != "" {
		t.Errorf("requires (-want +got):\n%s", diff)
	}
	if it.Path != "Packages/h/hello-1.1-1.x86_64.rpm" || len(o.Changelog) != 1 || !strings.Contains(o.Changelog[0].Text, "1.1") {
		t.Errorf("path %s, changelog %+v", it.Path, o.Changelog)
	}
	none, err := New(&Options{ChangelogLimit: -1}).Inspect(context.Background(), bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, o := semantic(t, none); len(o.Changelog) != 0 {
		t.Errorf("ChangelogLimit -1 kept %d entries", len(o.Changelog))
	}
}

func TestInspectRejects(t *testing.T) {
	good, err := os.ReadFile(filepath.Join(fixtures, "repo", "Packages", "libgreet-2.0-1.x86_64.rpm"))
	if err != nil {
		t.Fatal(err)
	}
	mut := func(fn func(b []byte) []byte) []byte { return fn(append([]byte(nil), good...)) }
	// Offsets: lead 96, signature header intro at 96 (entries at +8, data
	// length at +12), first index entry at 112.
	cases := map[string]struct {
		b    []byte
		want error
	}{
		"empty":     {nil, ErrMalformed},
		"not rpm":   {[]byte(strings.Repeat("x", 200)), ErrMalformed},
		"truncated": {good[:150], ErrMalformed},
		"huge header": {mut(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[96+12:], 40<<20)
			return b
		}), ErrTooLarge},
		"many entries": {mut(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[96+8:], 0xffffffff)
			return b
		}), ErrTooLarge},
		"entry offset outside": {mut(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[112+8:], 0x7fffffff)
			return b
		}), ErrMalformed},
		"entry count outside": {mut(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[112+12:], 0x7fffffff)
			return b
		}), ErrMalformed},
	}
	for name, c := range cases {
		_, err := New(nil).Inspect(context.Background(), bytes.NewReader(c.b), int64(len(c.b)))
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", name, err, c.want)
		}
	}
}

func FuzzInspect(f *testing.F) {
	b, err := os.ReadFile(filepath.Join(fixtures, "repo", "Packages", "hello-1.1-1.x86_64.rpm"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b[:4700])
	f.Fuzz(func(t *testing.T, b []byte) {
		it, err := New(nil).Inspect(context.Background(), bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		for typ, frag := range it.Fragments {
			if err := xml.Unmarshal(frag, new(struct{})); err != nil {
				t.Fatalf("%s fragment is not XML: %v\n%s", typ, err, frag)
			}
		}
	})
}
