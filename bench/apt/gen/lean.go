//go:build bench

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// leanServer serves the files below a directory over HTTP/1.1 with as little
// CPU as it can: it stands in for a remote mirror, whose work would not run on
// the machine measured, so every cycle it spends is taken from the tools it
// serves. It answers GET and HEAD from an in-memory copy of each file (read
// once, on first request), keeps connections alive, honours
// If-Modified-Since with 304, and answers everything else (directories,
// missing files, other methods, request bodies) with an error status. It
// ignores Range and sends the whole file with 200, which HTTP allows.
type leanServer struct {
	root *os.Root

	mu    sync.Mutex
	files map[string]*leanFile
}

// leanFile is one cached file: its bytes, or the status to answer with.
type leanFile struct {
	once    sync.Once
	body    []byte
	modTime time.Time
	header  []byte // status line and headers of the 200 answer, blank line included
	status  int    // 200, 404 or 500
}

func newLeanServer(dir string) (*leanServer, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &leanServer{root: root, files: map[string]*leanFile{}}, nil
}

// serve accepts connections on ln until ctx ends.
func (s *leanServer) serve(ctx context.Context, ln net.Listener) error {
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go s.conn(c)
	}
}

// conn answers the requests of one connection in order.
func (s *leanServer) conn(c net.Conn) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 4096)
	for {
		c.SetReadDeadline(time.Now().Add(2 * time.Minute))
		req, err := readLeanRequest(r)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				c.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
			}
			return
		}
		bufs := s.answer(req)
		if _, err := bufs.WriteTo(c); err != nil || req.close {
			return
		}
	}
}

// leanRequest is what the server needs of a request.
type leanRequest struct {
	method, target  string
	ifModifiedSince string
	close           bool
}

// readLeanRequest reads one request's line and headers.
func readLeanRequest(r *bufio.Reader) (leanRequest, error) {
	var req leanRequest
	line, err := r.ReadSlice('\n')
	if err != nil {
		if len(line) == 0 && errors.Is(err, io.EOF) {
			return req, io.EOF
		}
		return req, fmt.Errorf("request line: %w", err)
	}
	f := strings.Fields(string(line))
	if len(f) != 3 || !strings.HasPrefix(f[2], "HTTP/1.") {
		return req, errors.New("malformed request line")
	}
	req.method, req.target = f[0], f[1]
	req.close = f[2] == "HTTP/1.0"
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return req, fmt.Errorf("header: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			return req, nil
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return req, errors.New("malformed header")
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Connection")):
			switch {
			case bytes.EqualFold(value, []byte("close")):
				req.close = true
			case bytes.EqualFold(value, []byte("keep-alive")):
				req.close = false
			}
		case bytes.EqualFold(name, []byte("If-Modified-Since")):
			req.ifModifiedSince = string(value)
		case bytes.EqualFold(name, []byte("Content-Length")), bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return req, errors.New("request bodies are not served")
		}
	}
}

// answer returns the response to req.
func (s *leanServer) answer(req leanRequest) net.Buffers {
	status := func(code int) net.Buffers {
		return net.Buffers{fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Length: 0\r\n\r\n", code, http.StatusText(code))}
	}
	if req.method != http.MethodGet && req.method != http.MethodHead {
		return status(http.StatusMethodNotAllowed)
	}
	p, _, _ := strings.Cut(req.target, "?")
	p, err := url.PathUnescape(p)
	if err != nil || !strings.HasPrefix(p, "/") {
		return status(http.StatusBadRequest)
	}
	f := s.file(path.Clean(p)[1:])
	if f.status != http.StatusOK {
		return status(f.status)
	}
	if req.ifModifiedSince != "" {
		if t, err := http.ParseTime(req.ifModifiedSince); err == nil && !f.modTime.Truncate(time.Second).After(t) {
			return net.Buffers{[]byte("HTTP/1.1 304 Not Modified\r\n\r\n")}
		}
	}
	if req.method == http.MethodHead {
		return net.Buffers{f.header}
	}
	return net.Buffers{f.header, f.body}
}

// file returns the cached file at name (slash-separated, relative to the
// root), reading it on first use.
func (s *leanServer) file(name string) *leanFile {
	s.mu.Lock()
	f, ok := s.files[name]
	if !ok {
		f = &leanFile{}
		s.files[name] = f
	}
	s.mu.Unlock()
	f.once.Do(func() { f.load(s.root, name) })
	return f
}

func (f *leanFile) load(root *os.Root, name string) {
	if name == "" {
		name = "."
	}
	fi, err := root.Stat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist) || (err == nil && !fi.Mode().IsRegular()):
		f.status = http.StatusNotFound
		return
	case err != nil:
		f.status = http.StatusInternalServerError
		return
	}
	if f.body, err = root.ReadFile(name); err != nil {
		f.status = http.StatusInternalServerError
		return
	}
	f.modTime = fi.ModTime()
	f.status = http.StatusOK
	f.header = []byte("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
		strconv.Itoa(len(f.body)) + "\r\nLast-Modified: " + f.modTime.UTC().Format(http.TimeFormat) + "\r\n\r\n")
}
