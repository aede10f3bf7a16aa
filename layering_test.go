package chantal_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/chantal-lite/chantal"

// layerOf gives each of our packages its layer (DESIGN §1). Imports may only point
// to a lower layer; internal/* helpers sit at layer 0 and may use pool.
func layerOf(pkg string) (int, bool) {
	rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
	switch {
	case rel == "cmd/chantal-lite" || strings.HasPrefix(rel, "cmd/"):
		return 5, true
	case rel == "":
		return 4, true
	case rel == "publish" || rel == "view":
		return 3, true
	case rel == "snapshot" || (strings.HasPrefix(rel, "formats/") && rel != "formats/formattest"):
		return 2, true
	case rel == "formats/formattest":
		return 2, true
	case rel == "catalog" || rel == "formats":
		return 1, true
	case rel == "pool" || rel == "errata" || rel == "config" || strings.HasPrefix(rel, "internal/"):
		return 0, true
	}
	return 0, false
}

func TestLayering(t *testing.T) {
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}} {{.Name}}{{range .Imports}} {{.}}{{end}}`, module+"/...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], module) {
			continue
		}
		pkg, name, imports := f[0], f[1], f[2:]
		lp, ok := layerOf(pkg)
		if name == "main" {
			lp, ok = 5, true // commands (the CLI, benchmark tools) sit on top; nothing imports them
		}
		if !ok {
			t.Errorf("package %s has no layer: add it to layerOf and DESIGN §1", pkg)
			continue
		}
		for _, imp := range imports {
			if imp == "go.etcd.io/bbolt" && pkg != module+"/catalog" {
				t.Errorf("%s imports bbolt: only catalog may", pkg)
			}
			if !strings.HasPrefix(imp, module) {
				continue
			}
			if strings.HasPrefix(imp, module+"/cmd") {
				t.Errorf("%s imports %s: nothing may import cmd", pkg, imp)
				continue
			}
			li, _ := layerOf(imp)
			rel := strings.TrimPrefix(pkg, module+"/")
			irel := strings.TrimPrefix(imp, module+"/")
			switch {
			case strings.HasPrefix(rel, "internal/") && (irel == "pool" || strings.HasPrefix(irel, "internal/")):
				// leaf helpers may use pool.Digest and each other
			case li >= lp:
				t.Errorf("%s (layer %d) imports %s (layer %d): imports must point down", pkg, lp, imp, li)
			}
			if (rel == "pool" || rel == "errata" || rel == "config") && irel != "" {
				t.Errorf("%s imports %s: it must import nothing of ours", pkg, imp)
			}
			if strings.HasPrefix(rel, "formats") && (irel == "catalog" || irel == "publish" || irel == "view" || irel == "snapshot") {
				t.Errorf("%s imports %s: formats never reach the catalog or publish", pkg, imp)
			}
		}
	}
}
