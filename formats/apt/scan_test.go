package apt

import (
	"bufio"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/formats/formattest"
)

var stdParams = map[string]string{"distribution": "stable", "components": "main,contrib", "architectures": "amd64,arm64"}

func TestVersionTable(t *testing.T) {
	f, err := os.Open(filepath.Join(fixtures, "vercmp", "table.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		p := strings.Fields(sc.Text())
		if len(p) != 3 {
			t.Fatalf("bad line %q", sc.Text())
		}
		want := map[string]int{"<": -1, "=": 0, ">": 1}[p[2]]
		if got := CompareVersions(p[0], p[1]); got != want {
			t.Errorf("CompareVersions(%q, %q) = %d, dpkg says %s", p[0], p[1], got, p[2])
		}
		n++
	}
	if n < 1000 {
		t.Fatalf("table has %d rows", n)
	}
}

func TestScanFixtures(t *testing.T) {
	kr := fixtureKeyring(t)
	for _, tc := range []struct {
		dir    string
		params map[string]string
		top    string
		sig    string
		mirror []string // files mirror mode must yield
	}{
		{"repo", stdParams, "dists/stable/InRelease", "", []string{"dists/stable/main/binary-amd64/Packages", "dists/stable/main/binary-amd64/Packages.xz", "dists/stable/main/i18n/Translation-en.bz2"}},
		{"repo-xz", stdParams, "dists/stable/InRelease", "", []string{"dists/stable/main/binary-amd64/Packages.xz"}},
		{"repo-byhash", stdParams, "dists/stable/InRelease", "", nil},
		{"repo-flat", map[string]string{"flat": "true"}, "Release", "Release.gpg", []string{"Packages.gz"}},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			f := New(nil)
			src := loadTree(t, tc.dir)
			req := formats.ScanRequest{Source: src, Mode: formats.ModeMirror, Params: tc.params}
			top, sig, err := f.TopLevel(context.Background(), req)
			if _, ok := src.Get(top); !ok && err == nil {
				// No InRelease upstream: the caller asks for the alternate.
				top, sig, err = f.AlternateTopLevel(context.Background(), req)
			}
			if err != nil || top != tc.top || sig != tc.sig {
				t.Fatalf("TopLevel = %q, %q, %v; want %q, %q", top, sig, err, tc.top, tc.sig)
			}
			data, _ := src.Get(top)
			tl := &formats.TopLevel{Path: top, Data: data}
			if sig != "" {
				tl.Signature, _ = src.Get(sig)
			}
			if err := f.Verify(context.Background(), tl, kr); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			req.Top = tl
			items, files := scanAll(t, f, req)
			got := names(items)
			want := []string{"greet=1.0-1", "greet=1.1-1", "libgreet1=1.0-1", "greet-data=1.0-1"}
			if tc.params["flat"] == "" {
				want = append(want, "postgreet=2:0.9~rc1-1", "greet-notify=1.0-1")
			}
			for _, w := range want {
				if got[w] != 1 {
					t.Errorf("%s yielded %d times (want once; arch:all must be one item)", w, got[w])
				}
			}
			if len(items) != len(want) {
				t.Errorf("got %d items %v, want %d", len(items), got, len(want))
			}
			for _, it := range items {
				if tc.params["flat"] == "" && it.Fields["component"] == "" {
					t.Errorf("%s has no component", it.Path)
				}
				if _, ok := src.Get(it.Path); !ok {
					t.Errorf("item path %s does not exist upstream", it.Path)
				}
				if len(it.Fragments[FragmentStanza]) == 0 {
					t.Errorf("%s: no stanza", it.Path)
				}
			}
			fp := map[string]bool{}
			for _, fl := range files {
				fp[fl.Path] = true
				if _, ok := src.Get(fl.Path); !ok && !fl.Optional {
					t.Errorf("mirror file %s does not exist upstream and is not Optional", fl.Path)
				}
			}
			for _, m := range tc.mirror {
				if !fp[m] {
					t.Errorf("mirror files lack %s: %v", m, fp)
				}
			}
			if tc.dir == "repo-byhash" {
				n := 0
				for p := range fp {
					if strings.Contains(p, "/by-hash/SHA256/") {
						n++
					}
				}
				if n != 4 {
					t.Errorf("by-hash files = %d, want 4: %v", n, fp)
				}
			}
		})
	}
}

func TestSuiteCodename(t *testing.T) {
	src := loadTree(t, "repo")
	data, _ := src.Get("dists/stable/InRelease")
	tl := &formats.TopLevel{Path: "dists/stable/InRelease", Data: data}
	if err := New(nil).Verify(context.Background(), tl, fixtureKeyring(t)); err != nil {
		t.Fatal(err)
	}
	r, err := ParseRelease(tl.Data)
	if err != nil {
		t.Fatal(err)
	}
	if r.Suite != "stable" || r.Codename != "chantal-fixture" {
		t.Errorf("Suite/Codename = %q/%q", r.Suite, r.Codename)
	}
}

func TestVerifyRejects(t *testing.T) {
	f := New(nil)
	kr := fixtureKeyring(t)
	src := loadTree(t, "repo")
	in, _ := src.Get("dists/stable/InRelease")
	rel, _ := src.Get("dists/stable/Release")
	sig, _ := src.Get("dists/stable/Release.gpg")
	tampered := []byte(strings.Replace(string(in), "Suite: stable", "Suite: stab1e", 1))
	for name, tl := range map[string]*formats.TopLevel{
		"tampered InRelease": {Path: "InRelease", Data: tampered},
		"tampered Release":   {Path: "Release", Data: append([]byte("X-Evil: 1\n"), rel...), Signature: sig},
		"unsigned Release":   {Path: "Release", Data: rel},
		"wrong signature":    {Path: "Release", Data: rel, Signature: []byte("-----BEGIN PGP SIGNATURE-----\n\n-----END PGP SIGNATURE-----\n")},
	} {
		if err := f.Verify(context.Background(), tl, kr); err == nil {
			t.Errorf("%s: Verify accepted it", name)
		}
	}
	// An expired Release is refused by Verify and by Scan.
	exp := loadTree(t, "repo-expired")
	data, _ := exp.Get("dists/stable/InRelease")
	tl := &formats.TopLevel{Path: "dists/stable/InRelease", Data: data}
	if err := f.Verify(context.Background(), tl, kr); !errors.Is(err, ErrExpired) {
		t.Errorf("expired InRelease: Verify = %v, want ErrExpired", err)
	}
	err := f.Scan(context.Background(), formats.ScanRequest{Source: exp, Params: stdParams, Top: tl}, func(formats.Entry) error { return nil })
	if !errors.Is(err, ErrExpired) {
		t.Errorf("expired: Scan = %v, want ErrExpired", err)
	}
	// With a clock before Valid-Until, Scan accepts it.
	p := map[string]string{"now": "2026-01-01T12:00:00Z"}
	for k, v := range stdParams {
		p[k] = v
	}
	if err := f.Scan(context.Background(), formats.ScanRequest{Source: exp, Params: p, Top: tl}, func(formats.Entry) error { return nil }); err != nil {
		t.Errorf("Scan before Valid-Until: %v", err)
	}
}

// An index whose bytes do not match the Release fails the scan: it is never
// parsed.
func TestScanCorruptIndex(t *testing.T) {
	src := loadTree(t, "repo-xz")
	p := "dists/stable/main/binary-amd64/Packages.xz"
	b, _ := src.Get(p)
	b[len(b)/2] ^= 0xff
	src.Put(p, b)
	err := New(nil).Scan(context.Background(), formats.ScanRequest{Source: src, Params: stdParams}, func(formats.Entry) error { return nil })
	if err == nil {
		t.Fatal("Scan accepted an index that does not match the Release")
	}
}

// Lenient decoding: a bad stanza or field skips one entry, not the component.
func TestScanLenient(t *testing.T) {
	idx := "Package: good\nVersion: 1\nArchitecture: amd64\nFilename: pool/g/good.deb\nSize: 3\nSHA256: " + strings.Repeat("a", 64) + "\nDescription: caf\xe9 invalid utf-8\n\n" +
		"Package: badsize\nVersion: 1\nArchitecture: amd64\nFilename: pool/b/bad.deb\nSize: lots\nSHA256: " + strings.Repeat("b", 64) + "\n\n" +
		"Package: escape\nVersion: 1\nArchitecture: amd64\nFilename: ../../etc/passwd\nSize: 3\nSHA256: " + strings.Repeat("c", 64) + "\n\n" +
		"this is not a field\n\n" +
		"Package: dup\nPackage: dup2\nVersion: 1\nArchitecture: amd64\nFilename: pool/d/d.deb\nSize: 3\nSHA256: " + strings.Repeat("d", 64) + "\n\n" +
		"Package: good2\nVersion: 2\nArchitecture: all\nFilename: pool/g/good2.deb\nSize: 3\nSHA256: " + strings.Repeat("e", 64) + "\n"
	src := syntheticRepo(t, map[string]string{"main/binary-amd64/Packages": idx})
	items, _ := scanAll(t, New(nil), formats.ScanRequest{Source: src, Params: map[string]string{"distribution": "x", "components": "main", "architectures": "amd64"}})
	got := names(items)
	if len(items) != 2 || got["good=1"] != 1 || got["good2=2"] != 1 {
		t.Errorf("items = %v, want good and good2", got)
	}
}

func TestScanCancelledAndConformance(t *testing.T) {
	formattest.Run(t, New(nil), formattest.Fixture{
		Upstream: loadTree(t, "repo"), Params: stdParams, MinItems: 6,
		Layout: New(nil).PublishPath,
	})
}
