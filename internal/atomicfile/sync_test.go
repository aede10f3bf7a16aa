package atomicfile_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/chantal-lite/chantal/internal/atomicfile"
)

func TestSync(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, f} {
		if err := atomicfile.Sync(p); err != nil {
			t.Errorf("Sync(%s): %v", p, err)
		}
	}
	if err := atomicfile.Sync(filepath.Join(dir, "missing")); err == nil {
		t.Error("Sync of a missing path succeeded")
	}
}
