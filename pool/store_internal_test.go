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

// TestWriteFailureRefusesCommit checks that a failed file write poisons the
// Writer, on both the plain and the pipelined path, and leaves no blob.
func TestWriteFailureRefusesCommit(t *testing.T) {
	for _, pipelined := range []bool{false, true} {
		t.Run(map[bool]string{false: "Write", true: "ReadFrom"}[pipelined], func(t *testing.T) {
			s, err := Open(filepath.Join(t.TempDir(), "pool"), &Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			w, err := s.Begin(context.Background(), BeginRequest{})
			if err != nil {
				t.Fatal(err)
			}
			// Swap in a read-only descriptor of the same file: every write fails.
			locked := w.f
			ro, err := os.Open(w.name)
			if err != nil {
				t.Fatal(err)
			}
			w.f = ro
			content := strings.Repeat("y", 5*bufSize/2)
			if pipelined {
				_, err = w.ReadFrom(strings.NewReader(content))
			} else {
				_, err = w.Write([]byte(content))
			}
			if err == nil {
				t.Fatal("write to a read-only descriptor succeeded")
			}
			if _, err := w.Write([]byte("more")); err == nil {
				t.Error("Write after a failed write succeeded")
			}
			if _, err := w.Commit(context.Background(), PutRequest{}); err == nil {
				t.Error("Commit after a failed write succeeded")
			}
			if err := locked.Close(); err != nil {
				t.Fatal(err)
			}
			entries, err := os.ReadDir(s.tmpDir())
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 0 {
				t.Errorf("tmp/ holds %d files", len(entries))
			}
			blobs := 0
			if err := s.Walk(context.Background(), func(Info) error { blobs++; return nil }); err != nil {
				t.Fatal(err)
			}
			if blobs != 0 {
				t.Errorf("%d blobs after a failed write", blobs)
			}
		})
	}
}
