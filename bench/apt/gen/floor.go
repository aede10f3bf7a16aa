//go:build bench

package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"
)

// floor does the least any tool must do to mirror the upstream at feed
// (dists/DIST/main/binary-amd64/Packages) into dir: fetch every Filename
// listed with parallel keep-alive requests (net/http's client), hash it with
// SHA-256 and check it against the index, write it to a temp file, rename it
// to a content-addressed path in 256 fan-out directories, then syncfs once.
// No signature, no catalog, no resume, no retries: the machine's own cost of
// the same downloads and files, which compare.sh reports beside both tools.
//
// With raw it does even less: each worker writes its requests and reads the
// responses on a connection of its own (no http.Transport goroutines), and
// writes each payload to an unnamed file (O_TMPFILE) linked at its content
// address once checked (no temp name, no rename). Nothing durable-minded
// tool could skip is left but the bytes, the hash and one link per file.
func floor(ctx context.Context, feed, dist, dir string, parallel int, raw, tmpfile bool) error {
	store := renameStore
	if tmpfile {
		store = linkStore
	}
	feed = strings.TrimSuffix(feed, "/")
	resp, err := http.Get(feed + "/dists/" + dist + "/main/binary-amd64/Packages")
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return fmt.Errorf("fetching Packages: %s", resp.Status)
	}
	type file struct{ name, sha string }
	var files []file
	var cur file
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "Filename: "):
			cur.name = strings.TrimPrefix(line, "Filename: ")
		case strings.HasPrefix(line, "SHA256: "):
			cur.sha = strings.TrimPrefix(line, "SHA256: ")
		case line == "":
			if cur.name != "" {
				files = append(files, cur)
			}
			cur = file{}
		}
	}
	if cur.name != "" {
		files = append(files, cur)
	}
	resp.Body.Close()
	if err := sc.Err(); err != nil {
		return err
	}
	if len(files) == 0 {
		return errors.New("no Filename in Packages")
	}
	for _, d := range []string{"tmp", "pool"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	for i := range 256 {
		if err := os.Mkdir(filepath.Join(dir, "pool", fmt.Sprintf("%02x", i)), 0o755); err != nil {
			return err
		}
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: parallel}}
	var next atomic.Int64
	g, ctx := errgroup.WithContext(ctx)
	for range parallel {
		g.Go(func() error {
			get := func(name string) (*http.Response, error) {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, feed+"/"+name, nil)
				if err != nil {
					return nil, err
				}
				return client.Do(req)
			}
			if raw {
				c, err := dialRaw(feed)
				if err != nil {
					return err
				}
				defer c.c.Close()
				get = c.get
			}
			for {
				i := int(next.Add(1)) - 1
				if i >= len(files) || ctx.Err() != nil {
					return nil
				}
				if err := fetchOne(get, store, files[i].name, files[i].sha, dir, i); err != nil {
					return err
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return err
	}
	fmt.Printf("fetched %d files\n", len(files))
	return nil
}

// fetchOne gets name and stores its body as the i-th payload.
func fetchOne(get func(string) (*http.Response, error), store func(io.Reader, string, string, int) error, name, want, dir string, i int) error {
	resp, err := get(name)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", name, resp.Status)
	}
	return store(resp.Body, want, dir, i)
}

// rawConn sends one request at a time on its own connection.
type rawConn struct {
	c          net.Conn
	r          *bufio.Reader
	host, base string
}

func dialRaw(feed string) (*rawConn, error) {
	u, err := url.Parse(feed)
	if err != nil {
		return nil, err
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		return nil, err
	}
	return &rawConn{c: c, r: bufio.NewReader(c), host: u.Host, base: u.Path}, nil
}

// get writes the request for name and reads the response's head; the body
// must be read to its end before the next get.
func (rc *rawConn) get(name string) (*http.Response, error) {
	req := &http.Request{Method: "GET", URL: &url.URL{Path: rc.base + "/" + name}, Host: rc.host, Header: http.Header{}, ProtoMajor: 1, ProtoMinor: 1}
	if err := req.Write(rc.c); err != nil {
		return nil, err
	}
	return http.ReadResponse(rc.r, req)
}

// renameStore writes body to a temp file and renames it into the pool.
func renameStore(body io.Reader, want, dir string, i int) error {
	temp := filepath.Join(dir, "tmp", strconv.Itoa(i))
	f, err := os.OpenFile(temp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if sum != want {
		return fmt.Errorf("sha256 %s, want %s", sum, want)
	}
	return os.Rename(temp, filepath.Join(dir, "pool", sum[:2], sum))
}

// linkStore writes body to an unnamed file (O_TMPFILE) in the pool and
// links it at its content address: one directory entry made, none moved.
func linkStore(body io.Reader, want, dir string, i int) error {
	if len(want) < 2 {
		return fmt.Errorf("bad sha256 %q", want)
	}
	fd, err := unix.Open(filepath.Join(dir, "pool", want[:2]), unix.O_RDWR|unix.O_TMPFILE|unix.O_CLOEXEC, 0o444)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), "tmpfile")
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), body); err != nil {
		return err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if sum != want {
		return fmt.Errorf("sha256 %s, want %s", sum, want)
	}
	return unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), unix.AT_FDCWD, filepath.Join(dir, "pool", sum[:2], sum), unix.AT_SYMLINK_FOLLOW)
}
