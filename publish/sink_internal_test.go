package publish

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// TestStagingSinkLink: a rendered, closed file gets a second name with the
// same bytes (one inode); open files, unknown files and unsafe paths are
// refused.
func TestStagingSinkLink(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := newStagingSink(newTree(dir, false, &atomic.Int64{}))
	w, err := s.Create(ctx, "dists/stable/main/binary-amd64/Packages")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("Package: a\n"))
	if err := s.Link(ctx, "dists/stable/main/binary-amd64/Packages", "dists/stable/main/binary-amd64/by-hash/SHA256/x"); err == nil {
		t.Fatal("linked a file still being written")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Link(ctx, "dists/stable/main/binary-amd64/Packages", "dists/stable/main/binary-amd64/by-hash/SHA256/x"); err != nil {
		t.Fatal(err)
	}
	a, _ := os.Stat(filepath.Join(dir, "dists/stable/main/binary-amd64/Packages"))
	b, err := os.Stat(filepath.Join(dir, "dists/stable/main/binary-amd64/by-hash/SHA256/x"))
	if err != nil || !os.SameFile(a, b) {
		t.Fatalf("by-hash name is not the same file: %v", err)
	}
	if s.count() != 2 {
		t.Errorf("count = %d, want 2", s.count())
	}
	for _, c := range [][2]string{
		{"never/rendered", "x/y"},
		{"dists/stable/main/binary-amd64/Packages", "../escape"},
		{"dists/stable/main/binary-amd64/Packages", "/abs"},
		{"../outside", "x/z"},
	} {
		if err := s.Link(ctx, c[0], c[1]); err == nil {
			t.Errorf("Link(%q, %q) succeeded", c[0], c[1])
		}
	}
}
