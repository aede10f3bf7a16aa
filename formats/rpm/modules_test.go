package rpm

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/chantal-lite/chantal/formats"
)

const modulesFixture = `---
document: modulemd
version: 2
data:
  name: greeter
  stream: "1"
  version: 20260101
  context: abc
  arch: x86_64
  summary: Greeter
  description: Hello and its library.
  license: {module: [MIT]}
  artifacts:
    rpms:
    - hello-0:1.0-1.src
    - hello-0:1.0-1.x86_64
    - hello-0:1.1-1.x86_64
    - hello-0:9.9-1.x86_64
    - libgreet-0:2.0-1.x86_64
...
---
document: modulemd
version: 2
data:
  name: perl
  stream: "5.30"
  version: 1
  context: def
  arch: x86_64
  summary: Perl
  description: Not published.
  license: {module: [GPL]}
  artifacts:
    rpms:
    - perl-4:5.30.1-1.x86_64
...
---
document: modulemd
version: 2
data:
  name: empty
  stream: "0"
  version: 1
  context: x
  summary: No artifacts
  description: Lists none.
  license: {module: [MIT]}
...
---
document: modulemd-defaults
version: 1
data:
  module: perl
  stream: "5.30"
...
---
document: modulemd-defaults
version: 1
data:
  module: greeter
  stream: "1"
  profiles: {"1": [default]}
...
---
document: modulemd-obsoletes
version: 1
data:
  module: perl
  stream: "5.30"
  modified: 2026-01-01T00:00Z
  message: gone
...
---
document: modulemd-translations
version: 1
data:
  module: greeter
  stream: "1"
  modified: 202601010000
  translations: {de: {summary: Begrüßer}}
...
`

type modDoc struct {
	Document string `yaml:"document"`
	Data     struct {
		Name, Module string
		Artifacts    struct{ RPMs []string }
	} `yaml:"data"`
}

func readModules(t *testing.T, b []byte) []modDoc {
	t.Helper()
	var out []modDoc
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var d modDoc
		if err := dec.Decode(&d); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatalf("published modules.yaml: %v\n%s", err, b)
		}
		out = append(out, d)
	}
}

// Pitfall (§2.1, #63): modules.yaml is pruned to what is published: streams
// keep only published artifacts (epoch-explicit NEVRA), empty streams go, and
// defaults/obsoletes of a module without streams go with it.
func TestRenderModulesPruned(t *testing.T) {
	base := renderInput(t, dirSource(filepath.Join(fixtures, "repo")), formats.ModeFiltered)
	with := func(items []formats.Item, modules string) map[string][]byte {
		req := base
		b := blobs{}
		for _, fl := range base.Files {
			rc, _ := base.Open(context.Background(), fl.Digest)
			data, _ := io.ReadAll(rc)
			b.add(data)
		}
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write([]byte(modules))
		zw.Close()
		req.Open = b.open
		req.Items = items
		req.Files = append(append([]formats.File{}, base.Files...), formats.File{Path: "repodata/x-modules.yaml.gz", Kind: "modules", Digest: b.add(gz.Bytes())})
		return render(t, New(nil), req).files
	}
	var noHello11 []formats.Item
	for _, it := range base.Items {
		if !(it.Name == "hello" && it.Fields["version"] == "1.1") {
			noHello11 = append(noHello11, it)
		}
	}
	files := with(noHello11, modulesFixture)
	md := checkRepomd(t, files)
	d := md.Find("modules")
	if d == nil {
		t.Fatal("no modules rendered")
	}
	if !strings.HasSuffix(d.Href, "-modules.yaml.gz") || !strings.HasPrefix(d.Href, "repodata/"+d.Checksums["sha256"]) {
		t.Errorf("modules href %s is not named by its checksum", d.Href)
	}
	docs := readModules(t, decompressed(t, d.Href, files[d.Href]))
	var got []string
	for _, doc := range docs {
		got = append(got, doc.Document+":"+doc.Data.Name+doc.Data.Module+":"+strings.Join(doc.Data.Artifacts.RPMs, ","))
	}
	want := []string{
		"modulemd:greeter:hello-0:1.0-1.src,hello-0:1.0-1.x86_64,libgreet-0:2.0-1.x86_64",
		"modulemd:empty:",
		"modulemd-defaults:greeter:",
		"modulemd-translations:greeter:",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("pruned modules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Nothing pruned: the upstream file is republished verbatim.
	all := strings.ReplaceAll(modulesFixture, "    - hello-0:9.9-1.x86_64\n", "")
	all = all[:strings.Index(all, "---\ndocument: modulemd\nversion: 2\ndata:\n  name: perl")]
	files = with(base.Items, all)
	d = checkRepomd(t, files).Find("modules")
	if d == nil || d.Href != "repodata/x-modules.yaml.gz" {
		t.Fatalf("unpruned modules: %+v", d)
	}

	// No stream left: no modules.yaml at all.
	files = with(noHello11, modulesFixture[strings.Index(modulesFixture, "---\ndocument: modulemd\nversion: 2\ndata:\n  name: perl"):strings.Index(modulesFixture, "---\ndocument: modulemd\nversion: 2\ndata:\n  name: empty")])
	if d := checkRepomd(t, files).Find("modules"); d != nil {
		t.Errorf("modules published although no stream survives: %+v", d)
	}
}

func FuzzPruneModules(f *testing.F) {
	f.Add([]byte(modulesFixture))
	f.Add([]byte("---\ndocument: modulemd\ndata: {name: a, artifacts: {rpms: [x]}}\n...\n"))
	f.Add([]byte("a: &a [*a]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pruneModules(b, "modules.yaml", map[string]bool{"x": true})
	})
}
