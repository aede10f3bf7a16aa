package pool

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestLinkCopyFallback(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EXDEV, syscall.EMLINK, syscall.EPERM, syscall.ENOTSUP} {
		t.Run(errno.Error(), func(t *testing.T) {
			s, err := Open(filepath.Join(t.TempDir(), "pool"), nil)
			if err != nil {
				t.Fatal(err)
			}
			calls := 0
			s.link = func(oldname, newname string) error {
				calls++
				return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: errno}
			}
			content := "copied across file systems"
			info, err := s.Put(context.Background(), strings.NewReader(content), PutRequest{})
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			dst := filepath.Join(dir, "chart-1.0.0.tgz")
			if err := s.Link(info.Digest, dst); err != nil {
				t.Fatal(err)
			}
			if calls != 1 {
				t.Errorf("link called %d times", calls)
			}
			got, err := os.ReadFile(dst)
			if err != nil || string(got) != content {
				t.Fatalf("dst = %q, %v; want %q", got, err, content)
			}
			dfi, err := os.Stat(dst)
			if err != nil {
				t.Fatal(err)
			}
			bfi, err := os.Stat(s.Path(info.Digest))
			if err != nil {
				t.Fatal(err)
			}
			if os.SameFile(dfi, bfi) {
				t.Error("fallback made a hard link, want a copy")
			}
			if dfi.Mode().Perm() != blobMode {
				t.Errorf("copy mode %v, want %v", dfi.Mode().Perm(), os.FileMode(blobMode))
			}
			// An existing dst is refused, the copy fallback included.
			if err := s.Link(info.Digest, dst); !errors.Is(err, fs.ErrExist) {
				t.Errorf("second Link = %v, want fs.ErrExist", err)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 {
				t.Errorf("dst dir holds %d entries, want only dst (no temp leftovers)", len(entries))
			}
			if err := s.Link(Sum([]byte("absent")), filepath.Join(dir, "absent")); !errors.Is(err, ErrNotFound) {
				t.Errorf("Link(absent) = %v, want ErrNotFound", err)
			}
		})
	}
}

// TestLinkOtherErrorsDoNotCopy checks that only "hard link impossible"
// errors fall back to copying.
func TestLinkOtherErrorsDoNotCopy(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "pool"), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.link = func(oldname, newname string) error {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: syscall.EIO}
	}
	info, err := s.Put(context.Background(), strings.NewReader("x"), PutRequest{})
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "x")
	if err := s.Link(info.Digest, dst); !errors.Is(err, syscall.EIO) {
		t.Errorf("Link = %v, want EIO", err)
	}
	if _, err := os.Lstat(dst); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("dst exists after a failed Link: %v", err)
	}
}
