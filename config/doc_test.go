package config_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/chantal-lite/chantal/config"
)

// TestDocExample keeps the complete example in docs/config.md loadable.
func TestDocExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "config.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "## Complete example")
	if !ok {
		t.Fatal("docs/config.md has no complete example")
	}
	var blocks []string
	for {
		_, rest, ok := strings.Cut(after, "```yaml\n")
		if !ok {
			break
		}
		block, rest2, ok := strings.Cut(rest, "```\n")
		if !ok {
			t.Fatal("unterminated yaml block")
		}
		blocks = append(blocks, block)
		after = rest2
	}
	if len(blocks) != 2 {
		t.Fatalf("found %d yaml blocks in the example, want 2 (main file and conf.d file)", len(blocks))
	}
	files := map[string]string{"/etc/chantal-lite/conf.d/10-team.yaml": blocks[1]}
	c, err := config.Parse([]byte(blocks[0]), "/etc/chantal-lite/config.yaml", &config.LoadOptions{
		Getenv:   env(map[string]string{"PROXY_PASSWORD": "pw", "CHARTS_TOKEN": "tok"}),
		ReadFile: memRead(files),
		Glob:     memGlob(files),
	})
	if err != nil {
		t.Fatalf("the documented example does not load:\n%v", err)
	}
	if len(c.Repositories) != 6 || len(c.Views) != 2 {
		t.Errorf("example has %d repositories and %d views, want 6 and 2", len(c.Repositories), len(c.Views))
	}
	if c.GPG.KeyFile != "/etc/chantal-lite/keys/signing.asc" {
		t.Errorf("gpg.key_file = %q", c.GPG.KeyFile)
	}
}

// TestDocEveryKey checks that docs/config.md mentions every configuration key.
func TestDocEveryKey(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "config.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] || typ == reflect.TypeFor[config.Duration]() {
			return
		}
		seen[typ] = true
		for i := range typ.NumField() {
			f := typ.Field(i)
			key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if key == "-" {
				continue
			}
			if !strings.Contains(doc, "`"+key+"`") && !strings.Contains(doc, key+":") {
				t.Errorf("docs/config.md does not document key %q (%s.%s)", key, typ.Name(), f.Name)
			}
			walk(f.Type)
		}
	}
	walk(reflect.TypeFor[config.Config]())
}
