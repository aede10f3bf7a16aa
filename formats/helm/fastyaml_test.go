package helm

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// sameNode reports how a differs from b in what the emitter and the entry
// checks read: kind, resolved tag, value and children.
func sameNode(a, b *yaml.Node, at string) error {
	if a.Kind != b.Kind || a.ShortTag() != b.ShortTag() || a.Value != b.Value || len(a.Content) != len(b.Content) {
		return fmt.Errorf("%s: fast {%v %s %q %d} yaml.v3 {%v %s %q %d}", at, a.Kind, a.ShortTag(), a.Value, len(a.Content), b.Kind, b.ShortTag(), b.Value, len(b.Content))
	}
	if a.Anchor != "" || b.Anchor != "" || b.Kind == yaml.AliasNode {
		return fmt.Errorf("%s: anchors or aliases", at)
	}
	for i := range a.Content {
		if err := sameNode(a.Content[i], b.Content[i], fmt.Sprintf("%s/%d", at, i)); err != nil {
			return err
		}
	}
	return nil
}

var fastSeeds = []string{
	"  a:\n  - name: a\n    version: 1.0.0\n    urls:\n    - a.tgz\n",
	"  a:\n    - name: a\n      version: \"1.0.0\"\n      urls:\n        - charts/a-1.0.0.tgz\n      digest: 0123\n",
	"  a:\n  - {name: a}\n",
	"  a:\n  - name: a\n    description: |\n      line one\n\n        indented\n      three\n    b: |-\n      x\n    c: y\n",
	"  a:\n  - k: 'single'\n    t: 2026-01-02T03:04:05Z\n    n: null\n    e: []\n    m: {}\n    y: yes\n    o: 0o17\n    x: 0x1F\n    f: 1.5e3\n    i: -1\n    dot: .inf\n",
	"  a:\n  - annotations:\n      artifacthub.io/changes: |\n        - kind: added\n          description: x: y # z\n      category: Database\n",
	"  a:\n  - a: b\n  - c\n  -   d: e\n      f: g\n",
	"  \"5\":\n  - version: 1.0.0\n",
	"  a:\n  - x: é – 😀\n",
	"  a:\n  - x: a #b\n",
	"  a:\n  - x: |\n     \n      y\n",
	"  a:\n  - x:\n    y: 1\n",
}

// FuzzFastYAML: whatever fastParse accepts, yaml.v3 decodes to the same tree.
func FuzzFastYAML(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	if b, err := os.ReadFile("../../testdata/helm/repo/index.yaml"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, ok := fastParse(data, 2)
		if !ok {
			return
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatalf("fastParse accepted what yaml.v3 refuses (%v):\n%s", err, data)
		}
		if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
			t.Fatalf("yaml.v3 read no document from what fastParse accepted:\n%s", data)
		}
		if err := sameNode(n, doc.Content[0], ""); err != nil {
			t.Fatalf("%v\n%s", err, data)
		}
	})
}

func TestFastYAMLSeeds(t *testing.T) {
	accepted := 0
	for _, s := range fastSeeds {
		n, ok := fastParse([]byte(s), 2)
		if !ok {
			continue
		}
		accepted++
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(s), &doc); err != nil {
			t.Fatalf("%q: yaml.v3: %v", s, err)
		}
		if err := sameNode(n, doc.Content[0], ""); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	if accepted < len(fastSeeds)-4 {
		t.Errorf("fastParse accepted only %d of %d seeds", accepted, len(fastSeeds))
	}
	for _, s := range []string{
		"  a:\n  - x: a #b\n", "  a:\n  - x: \"a\\nb\"\n", "  a:\n  - x: &y 1\n", "  a:\n  - x: *y\n",
		"  a:\n  - x: >\n      f\n", "  a:\n  - x: [1]\n", "  a:\n\t- x\n", "  a:\n  - x: y\n      z\n",
		"  a:\n  - ? x\n    : y\n", "  a:\n  - x: !!str 1\n", "  a:\n  - <<: {}\n",
	} {
		if _, ok := fastParse([]byte(s), 2); ok {
			t.Errorf("fastParse accepted %q, outside its subset", s)
		}
	}
}

// FuzzSplitIndex: when both readings succeed and no chart block is skipped
// for not decoding on its own, the split reading yields exactly the entries
// and skips of the whole one, and the same top-level keys.
func FuzzSplitIndex(f *testing.F) {
	if b, err := os.ReadFile("../../testdata/helm/repo/index.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("apiVersion: v1\nentries:\n  b:\n  - {name: b, version: 1.0.0, urls: [b.tgz]}\n  a:\n  - name: a\n    version: 1.0.0\n    urls: [a.tgz]\n# c\ngenerated: x\n"))
	f.Add([]byte("entries:\n  a: &x\n  - {name: a, version: 1.0.0, urls: [a]}\n  b: *x\n"))
	f.Add([]byte("entries:\n  a:\n  - name: a\n    description: \"x\n  b:\n  - y\"\n    version: 1.0.0\n    urls: [a]\n"))
	f.Add([]byte("entries:\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, ok := splitIndex(data)
		if !ok {
			return
		}
		w, err := wholeIndex(data)
		if err != nil {
			return
		}
		var se, we []Entry
		var ss, ws []EntryError
		for i := 0; i < s.len(); i++ {
			g := s.group(i)
			if g.err != "" {
				return // documented difference
			}
			se, ss = groupEntries(g, se, ss)
		}
		for i := 0; i < w.len(); i++ {
			we, ws = groupEntries(w.group(i), we, ws)
		}
		if len(se) != len(we) || len(ss) != len(ws) {
			t.Fatalf("split: %d entries %d skipped; whole: %d, %d\n%s", len(se), len(ss), len(we), len(ws), data)
		}
		for i := range se {
			a, b := se[i], we[i]
			if a.Name != b.Name || a.Version != b.Version || a.Digest != b.Digest || a.DigestNote != b.DigestNote ||
				strings.Join(a.URLs, " ") != strings.Join(b.URLs, " ") || a.Deprecated != b.Deprecated ||
				!bytes.Equal(fragment(a.Node), fragment(b.Node)) {
				t.Fatalf("entry %d differs: %+v vs %+v\n%s", i, a, b, data)
			}
		}
		for i := range ss {
			if ss[i] != ws[i] {
				t.Fatalf("skip %d differs: %v vs %v", i, ss[i], ws[i])
			}
		}
		var sk, wk []string
		for i := 0; i < len(s.root.Content); i += 2 {
			sk = append(sk, s.root.Content[i].Value)
		}
		for i := 0; i < len(w.root.Content); i += 2 {
			wk = append(wk, w.root.Content[i].Value)
		}
		if strings.Join(sk, " ") != strings.Join(wk, " ") {
			t.Fatalf("top-level keys %v vs %v", sk, wk)
		}
	})
}

// The layouts helm, chartmuseum and Render write are read split; others whole.
func TestSplitLayouts(t *testing.T) {
	fixture, err := os.ReadFile("../../testdata/helm/repo/index.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		in    string
		split bool
	}{
		{string(fixture), true},
		{"apiVersion: v1\nentries:\n  a:\n    - name: a\n", true},
		{"apiVersion: v1\nentries: {}\n", false},
		{"---\napiVersion: v1\nentries:\n  a: []\n", false},
		{"entries:\n    a: []\n", false},
		{"entries:\n  - a\n", false},
		{"entries:\r\n  a: []\r\n", false},
		{"entries:\n  a: []\nentries:\n  b: []\n", false},
		{"{entries: {}}\n", false},
	} {
		if _, ok := splitIndex([]byte(c.in)); ok != c.split {
			t.Errorf("splitIndex(%q) = %v, want %v", c.in, ok, c.split)
		}
	}
	// Every chart block of the fixture takes the fast path.
	r, _ := splitIndex(fixture)
	for _, b := range r.blocks {
		if _, ok := fastParse(b.text, 2); !ok {
			t.Errorf("chart block %s fell back to yaml.v3:\n%s", b.key.Value, b.text)
		}
	}
}
