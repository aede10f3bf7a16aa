package apt

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/formats/formattest"
	"github.com/chantal-lite/chantal/pool"
)

var update = flag.Bool("update", false, "rewrite golden files")

var renderNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func renderItems(t testing.TB, items []formats.Item, params map[string]string) *formattest.MemFS {
	t.Helper()
	out := &formattest.MemFS{}
	err := New(nil).Render(context.Background(), formats.RenderRequest{Sink: out, Mode: formats.ModeFiltered, Items: items, Params: params, Now: renderNow})
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return out
}

func laidOut(t testing.TB, dir string, params map[string]string) []formats.Item {
	f := New(nil)
	items, _ := scanAll(t, f, formats.ScanRequest{Source: loadTree(t, dir), Params: params})
	for i := range items {
		items[i].Path = f.PublishPath(items[i])
	}
	return items
}

func TestRenderGolden(t *testing.T) {
	out := renderItems(t, laidOut(t, "repo", stdParams), stdParams)
	for _, p := range []string{"dists/stable/Release", "dists/stable/main/binary-amd64/Packages", "dists/stable/main/binary-arm64/Packages", "dists/stable/contrib/binary-amd64/Packages"} {
		got, ok := out.Get(p)
		if !ok {
			t.Fatalf("%s not rendered", p)
		}
		golden := filepath.Join("testdata", "golden", strings.ReplaceAll(p, "/", "_"))
		if *update {
			os.MkdirAll(filepath.Dir(golden), 0o755)
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run with -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s:\n%s", p, golden, got)
		}
	}
	// by-hash copies exist for what the Release lists.
	rel, _ := out.Get("dists/stable/Release")
	if !strings.Contains(string(rel), "Acquire-By-Hash: yes") {
		t.Error("no Acquire-By-Hash")
	}
	n := 0
	for _, p := range out.Paths() {
		if strings.Contains(p, "/by-hash/SHA256/") {
			n++
		}
	}
	if n != 12 {
		t.Errorf("%d by-hash/SHA256 copies, want 12", n)
	}
}

func fakeItem(name, arch, stanza string) formats.Item {
	d := pool.Sum([]byte(name + arch + stanza))
	return formats.Item{Path: "pool/main/" + name[:1] + "/" + name + "/" + name + "_1_" + arch + ".deb", Size: 3, Digest: d,
		Checksums: formats.Checksums{"sha256": d.String()}, Name: name, Version: "1", Arch: arch,
		Fields: map[string]string{"component": "main"}, Fragments: map[string][]byte{FragmentStanza: []byte(stanza)}}
}

// Stanza injection: no value, fragment or architecture can forge a stanza or
// a path in the signed indexes.
func TestRenderInjection(t *testing.T) {
	items := []formats.Item{
		fakeItem("ok", "amd64", "Package: ok\nVersion: 1\nArchitecture: amd64\nDepends: libc6\n Package: forged-in-continuation\nDescription: x\n"),
		fakeItem("twostanzas", "amd64", "Package: twostanzas\nVersion: 1\nArchitecture: amd64\nDepends: x\n\nPackage: forged\nVersion: 6.6.6\nArchitecture: amd64\nFilename: pool/evil.deb\n"),
		fakeItem("blankline", "amd64", "Package: blankline\nVersion: 1\nArchitecture: amd64\nDepends: x\n \t\nPackage: forged2\n"),
		fakeItem("dup", "amd64", "Package: dup\nVersion: 1\nArchitecture: amd64\nPackage: forged3\n"),
		fakeItem("escape", "../../../etc", "Package: escape\nVersion: 1\nArchitecture: ../../../etc\n"),
		fakeItem("slash", "amd64/../x", "Package: slash\nVersion: 1\nArchitecture: amd64/../x\n"),
	}
	items[0].Checksums["md5"] = "0123\nPackage: forged4"
	out := renderItems(t, items, map[string]string{"distribution": "stable", "components": "main", "architectures": "amd64"})
	pk, _ := out.Get("dists/stable/main/binary-amd64/Packages")
	s := string(pk)
	if strings.Count(s, "\nPackage: ")+boolInt(strings.HasPrefix(s, "Package: ")) != 1 || !strings.HasPrefix(s, "Package: ok\n") {
		t.Errorf("Packages has other stanzas than ok:\n%s", s)
	}
	for _, bad := range []string{"\nPackage: forged", "6.6.6", "evil", "etc"} {
		if strings.Contains(s, bad) {
			t.Errorf("Packages contains %q:\n%s", bad, s)
		}
	}
	if !strings.Contains(s, "Depends: libc6\n Package: forged-in-continuation\n") {
		t.Errorf("continuation not kept folded:\n%s", s)
	}
	for _, p := range out.Paths() {
		if strings.Contains(p, "..") || strings.Contains(p, "etc") || strings.Contains(p, "/x/") {
			t.Errorf("rendered path %q", p)
		}
	}
	// Unsafe parameters never reach a path or the Release.
	for _, p := range []map[string]string{
		{"distribution": "stable", "architectures": "amd64/../../x"},
		{"distribution": "stable", "components": "main\nSuite: evil"},
		{"distribution": "../stable"},
	} {
		err := New(nil).Render(context.Background(), formats.RenderRequest{Sink: &formattest.MemFS{}, Mode: formats.ModeFiltered, Items: items, Params: p, Now: renderNow})
		if !errors.Is(err, ErrConfig) {
			t.Errorf("Render with %v = %v, want ErrConfig", p, err)
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestWriteFieldFolds(t *testing.T) {
	for in, want := range map[string]string{
		"a":                 "X: a\n",
		"a\nb":              "X: a\n b\n",
		"a\n\nb":            "X: a\n .\n b\n",
		"a\n  \nPackage: e": "X: a\n .\n Package: e\n",
		"\n line1\n line2":  "X:\n line1\n line2\n",
		"a\rb\x00c":         "X: abc\n",
	} {
		var b bytes.Buffer
		w := bufioWriter(&b)
		writeField(w, "X", []byte(in))
		w.Flush()
		if b.String() != want {
			t.Errorf("writeField(%q) = %q, want %q", in, b.String(), want)
		}
	}
}

func TestInspectFixtures(t *testing.T) {
	f := New(nil)
	ms, _ := filepath.Glob(filepath.Join(fixtures, "debs-pool", "*", "*", "*", "*.deb"))
	if len(ms) != 6 {
		t.Fatalf("found %d fixture debs", len(ms))
	}
	for _, m := range ms {
		b, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		it, err := f.Inspect(context.Background(), bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatalf("Inspect %s: %v", m, err)
		}
		if it.Digest != pool.Sum(b) || it.Size != int64(len(b)) || it.Checksums["sha512"] == "" || it.Path != filepath.Base(m) {
			t.Errorf("Inspect %s = %+v", m, it)
		}
	}
}

func TestInspectHostile(t *testing.T) {
	b, _ := os.ReadFile(filepath.Join(fixtures, "debs-pool/main/g/greet/greet_1.0-1_amd64.deb"))
	f := New(nil)
	setSize := func(b []byte, off int, s string) []byte {
		c := bytes.Clone(b)
		copy(c[off+48:off+58], fmt.Sprintf("%-10s", s))
		return c
	}
	// debian-binary's header starts at 8.
	for name, in := range map[string][]byte{
		"empty":     nil,
		"not ar":    []byte("hello world"),
		"negative":  setSize(b, 8, "-4"),
		"oversized": setSize(b, 8, "999999999"),
		"garbage":   setSize(b, 8, "4x"),
		"truncated": b[:len(b)/2],
	} {
		if _, err := f.Inspect(context.Background(), bytes.NewReader(in), int64(len(in))); err == nil {
			t.Errorf("%s: Inspect accepted it", name)
		}
	}
}

func TestAddDependencies(t *testing.T) {
	items := laidOut(t, "repo", stdParams)
	keep := make([]bool, len(items))
	for i, it := range items {
		keep[i] = it.Name == "greet-notify" || it.Name == "greet" && it.Version == "1.1-1"
	}
	if err := New(nil).AddDependencies(context.Background(), items, keep); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for i, it := range items {
		if keep[i] {
			got[it.Name+"="+it.Version] = true
		}
	}
	want := map[string]bool{"greet=1.1-1": true, "greet-notify=1.0-1": true, "libgreet1=1.0-1": true, "greet-data=1.0-1": true, "postgreet=2:0.9~rc1-1": true}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("closure = %v, want %v", got, want)
	}
	if r := parseRelations("a (>= 1) [amd64] | b:any <!nocheck>, c (<< 2~)"); fmt.Sprint(r) != "[[{a >= 1} {b  }] [{c << 2~}]]" {
		t.Errorf("parseRelations = %v", r)
	}
}

func FuzzStanza(f *testing.F) {
	f.Add([]byte("Package: a\nVersion: 1\n\nPackage: b\n Description\n .\n"))
	f.Add([]byte("#c\n \n\t\nX:\n y\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sr := newStanzaReader(bytes.NewReader(b), 4096)
		var fs []field
		for range 1000 {
			raw, err := sr.next()
			if err != nil {
				break
			}
			fs, err = parseFields(raw, fs)
			if err != nil {
				continue
			}
			var out bytes.Buffer
			w := bufioWriter(&out)
			for _, fl := range fs {
				writeField(w, string(fl.Name), fl.Value)
			}
			w.Flush()
			// Re-emitted fields are one stanza with the same field names.
			sr2 := newStanzaReader(bytes.NewReader(out.Bytes()), out.Len()+1)
			raw2, err := sr2.next()
			if len(fs) == 0 {
				continue
			}
			if err != nil {
				t.Fatalf("re-emitted stanza unreadable: %v\n%q", err, out.Bytes())
			}
			if _, err := sr2.next(); err == nil {
				t.Fatalf("re-emitted fields make two stanzas:\n%q", out.Bytes())
			}
			fs2, err := parseFields(raw2, nil)
			if err != nil || len(fs2) != len(fs) {
				t.Fatalf("re-emitted stanza parses to %d fields (%v), want %d:\n%q", len(fs2), err, len(fs), out.Bytes())
			}
		}
	})
}

func FuzzRelease(f *testing.F) {
	rel, _ := os.ReadFile(filepath.Join(fixtures, "repo", "dists", "stable", "Release"))
	f.Add(rel)
	f.Add([]byte("SHA256:\n 00 1 ../x\nValid-Until: Mon, 01 Jan 2001 00:00:00 UTC\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRelease(b)
		if err != nil {
			return
		}
		for p, e := range r.Files {
			if _, err := cleanRel(p); err != nil || e.Size < 0 {
				t.Fatalf("unsafe entry %q", p)
			}
		}
	})
}
