package atomicfile_test

import (
	"os"
	"path/filepath"
	"runtime"
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

func TestSyncFS(t *testing.T) {
	ok, err := atomicfile.SyncFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "linux" && !ok {
		t.Error("SyncFS did nothing on Linux")
	}
	if ok, err := atomicfile.SyncFS(filepath.Join(t.TempDir(), "missing")); ok && err == nil {
		t.Error("SyncFS of a missing directory succeeded")
	}
}
