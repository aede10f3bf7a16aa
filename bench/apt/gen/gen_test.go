//go:build bench

package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// startLean serves dir with the lean server and returns its address.
func startLean(t *testing.T, dir string) string {
	t.Helper()
	s, err := newLeanServer(dir)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func TestLeanServer(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "pool", "a b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pool", "a b", "x.deb"), []byte("payload"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(dir), "outside"), []byte("secret"), 0o644); err != nil && !errors.Is(err, os.ErrPermission) {
		t.Fatal(err)
	}
	addr := startLean(t, dir)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	// Each request on the same connection; the answers in order.
	ask := func(req string) *http.Response {
		t.Helper()
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		method, _, _ := strings.Cut(req, " ")
		resp, err := http.ReadResponse(r, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("%q: %v", req, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(strings.NewReader(string(body)))
		return resp
	}
	body := func(resp *http.Response) string {
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	resp := ask("GET /pool/a%20b/x.deb HTTP/1.1\r\nHost: h\r\n\r\n")
	lastMod := resp.Header.Get("Last-Modified")
	if resp.StatusCode != 200 || body(resp) != "payload" || resp.ContentLength != 7 || lastMod == "" {
		t.Fatalf("GET: %s, %d bytes, Last-Modified %q", resp.Status, resp.ContentLength, lastMod)
	}
	for _, tc := range []struct {
		req  string
		code int
	}{
		{"HEAD /pool/a%20b/x.deb HTTP/1.1\r\n\r\n", 200},
		{"GET /pool/a%20b/x.deb HTTP/1.1\r\nIf-Modified-Since: " + lastMod + "\r\n\r\n", 304},
		{"GET /pool/a%20b/x.deb HTTP/1.1\r\nIf-Modified-Since: Mon, 01 Jan 2001 00:00:00 GMT\r\n\r\n", 200},
		{"GET /pool/ HTTP/1.1\r\n\r\n", 404},
		{"GET /missing HTTP/1.1\r\n\r\n", 404},
		{"GET /../outside HTTP/1.1\r\n\r\n", 404},
		{"GET /%2e%2e/outside HTTP/1.1\r\n\r\n", 404},
		{"DELETE /pool/a%20b/x.deb HTTP/1.1\r\n\r\n", 405},
	} {
		resp := ask(tc.req)
		if resp.StatusCode != tc.code {
			t.Errorf("%q: %s, want %d", tc.req, resp.Status, tc.code)
		}
		if b := body(resp); tc.code != 200 && b != "" || strings.HasPrefix(tc.req, "HEAD") && b != "" {
			t.Errorf("%q: body %q", tc.req, b)
		}
	}
	// Connection: close ends the connection after the answer.
	if resp := ask("GET /pool/a%20b/x.deb HTTP/1.1\r\nConnection: close\r\n\r\n"); resp.StatusCode != 200 {
		t.Fatalf("last GET: %s", resp.Status)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := r.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("after Connection: close: %d bytes, %v; want EOF", n, err)
	}
}

func TestFloor(t *testing.T) {
	up := t.TempDir()
	if err := generate(up, 40, "stable"); err != nil {
		t.Fatal(err)
	}
	feed := "http://" + startLean(t, filepath.Join(up, "repo")) + "/"
	for _, raw := range []bool{false, true} {
		t.Run(fmt.Sprint("raw=", raw), func(t *testing.T) {
			dir := t.TempDir()
			if raw {
				fd, err := unix.Open(dir, unix.O_RDWR|unix.O_TMPFILE, 0o600)
				if err != nil {
					t.Skipf("no O_TMPFILE here: %v", err)
				}
				unix.Close(fd)
			}
			if err := floor(context.Background(), feed, "stable", dir, 3, raw, raw); err != nil {
				t.Fatal(err)
			}
			blobs, err := filepath.Glob(filepath.Join(dir, "pool", "*", "*"))
			if err != nil || len(blobs) != 40 {
				t.Fatalf("%d blobs in the pool (%v), want 40", len(blobs), err)
			}
			// Each is where its SHA-256 says.
			for _, b := range blobs {
				data, err := os.ReadFile(b)
				if err != nil {
					t.Fatal(err)
				}
				if got := fmt.Sprintf("%x", sha256.Sum256(data)); got != filepath.Base(b) {
					t.Errorf("%s holds bytes of sha256 %s", b, got)
				}
			}
		})
	}
	if err := floor(context.Background(), feed+"no-such-dir/", "stable", t.TempDir(), 2, false, false); err == nil {
		t.Error("floor of a missing repository succeeded")
	}
	// A payload that is not what the index says fails the floor.
	bad := t.TempDir()
	if err := generate(bad, 3, "stable"); err != nil {
		t.Fatal(err)
	}
	debs, _ := filepath.Glob(filepath.Join(bad, "repo", "pool", "main", "*", "*", "*.deb"))
	if len(debs) != 3 {
		t.Fatalf("%d generated debs, want 3", len(debs))
	}
	if err := os.WriteFile(debs[1], []byte("tampered"), 0o644); err != nil {
		t.Fatal(err)
	}
	badFeed := "http://" + startLean(t, filepath.Join(bad, "repo")) + "/"
	if err := floor(context.Background(), badFeed, "stable", t.TempDir(), 2, false, false); err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Errorf("floor of a tampered payload: %v, want a sha256 mismatch", err)
	}
}
