package fetch

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// connCounter counts the connections a test server accepts.
func connCounter(srv *httptest.Server) *atomic.Int32 {
	var n atomic.Int32
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.Add(1)
		}
	}
	return &n
}

func TestDirectReusesConnections(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			w.WriteHeader(http.StatusEarlyHints) // an informational response first
			io.WriteString(w, "chun")
			w.(http.Flusher).Flush()
			io.WriteString(w, "ked")
			return
		}
		io.WriteString(w, r.URL.Path)
	}))
	conns := connCounter(srv)
	srv.Start()
	defer srv.Close()
	s, _ := newSource(t, srv.URL, &Options{Parallel: 1})
	for i := range 20 {
		p := fmt.Sprintf("f%d", i)
		if i%5 == 4 {
			p = "chunked"
		}
		res, err := s.Get(context.Background(), GetRequest{Path: p})
		if err != nil {
			t.Fatal(err)
		}
		want := "/" + p
		if p == "chunked" {
			want = "chunked"
		}
		if string(res.Data) != want {
			t.Fatalf("GET %s = %q, want %q", p, res.Data, want)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("20 requests used %d connections, want 1", n)
	}
}

func TestDirectServerClosing(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.URL.Path)
	}))
	srv.Config.SetKeepAlivesEnabled(false) // every response says Connection: close
	conns := connCounter(srv)
	srv.Start()
	defer srv.Close()
	s, sl := newSource(t, srv.URL, nil)
	for i := range 5 {
		res, err := s.Get(context.Background(), GetRequest{Path: fmt.Sprint(i)})
		if err != nil || string(res.Data) != fmt.Sprint("/", i) {
			t.Fatalf("GET %d = %v, %v", i, res, err)
		}
	}
	if n := conns.Load(); n != 5 || len(sl.all()) != 0 {
		t.Errorf("%d connections, %d retries; want 5 and none", n, len(sl.all()))
	}
}

// rawServer accepts connections and hands each to serve with its index.
func rawServer(t *testing.T, serve func(i int, c net.Conn, r *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns { // the client's idle ones
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for i := 0; ; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				serve(i, c, bufio.NewReader(c))
			})
		}
	})
	return "http://" + ln.Addr().String() + "/"
}

// respond reads one request from r and answers it with body.
func respond(c net.Conn, r *bufio.Reader, body string) error {
	req, err := http.ReadRequest(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s%s", len(body)+len(req.URL.Path), req.URL.Path, body)
	return err
}

func TestDirectResendsOnConnectionClosedWhileIdle(t *testing.T) {
	// The first connection answers once, then closes as the second request
	// arrives, without a word: the request goes again on a new connection,
	// without a retry of the Source's own (Retries: -1 allows none).
	var conns atomic.Int32
	base := rawServer(t, func(i int, c net.Conn, r *bufio.Reader) {
		conns.Add(1)
		if respond(c, r, "") != nil || i > 0 {
			for respond(c, r, "") == nil {
			}
			return
		}
		http.ReadRequest(r)
	})
	s, _ := newSource(t, base, &Options{Retries: -1})
	for _, p := range []string{"a", "b", "c"} {
		res, err := s.Get(context.Background(), GetRequest{Path: p})
		if err != nil || string(res.Data) != "/"+p {
			t.Fatalf("GET %s = %v, %v", p, res, err)
		}
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

func TestDirectIgnoresUnsolicitedResponse(t *testing.T) {
	// After its answer the first connection sends a 408 nobody asked for and
	// closes: the next request must not take it for its own.
	pooled, sent := make(chan struct{}), make(chan struct{})
	base := rawServer(t, func(i int, c net.Conn, r *bufio.Reader) {
		if i > 0 {
			for respond(c, r, "") == nil {
			}
			return
		}
		respond(c, r, "")
		<-pooled
		io.WriteString(c, "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		c.(*net.TCPConn).CloseWrite()
		close(sent)
		io.Copy(io.Discard, r)
	})
	s, _ := newSource(t, base, &Options{Retries: -1})
	if _, err := s.Get(context.Background(), GetRequest{Path: "a"}); err != nil {
		t.Fatal(err)
	}
	close(pooled)
	<-sent
	time.Sleep(10 * time.Millisecond) // let the bytes reach our socket
	res, err := s.Get(context.Background(), GetRequest{Path: "b"})
	if err != nil || string(res.Data) != "/b" {
		t.Fatalf("GET b = %v, %v", res, err)
	}
}

func TestDirectBodyClosedEarlyDropsConnection(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			io.WriteString(w, big)
			return
		}
		io.WriteString(w, r.URL.Path)
	}))
	conns := connCounter(srv)
	srv.Start()
	defer srv.Close()
	s, _ := newSource(t, srv.URL, &Options{Parallel: 1})
	rc, err := s.Open(context.Background(), "big")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if _, err := io.ReadFull(rc, buf); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	res, err := s.Get(context.Background(), GetRequest{Path: "small"})
	if err != nil || string(res.Data) != "/small" {
		t.Fatalf("GET small after an abandoned body = %v, %v", res, err)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2 (the abandoned one not reused)", n)
	}
}

func TestDirectCancelDuringBody(t *testing.T) {
	stall := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, "half")
		w.(http.Flusher).Flush()
		<-stall
	}))
	defer srv.Close()
	defer close(stall)
	s, _ := newSource(t, srv.URL, &Options{Retries: -1})
	ctx, cancel := context.WithCancel(context.Background())
	rc, err := s.Open(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	buf := make([]byte, 4)
	if _, err := io.ReadFull(rc, buf); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := rc.Read(make([]byte, 10))
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Read after cancel = %v, want context.Canceled", err)
	}
}

func TestDirectIdleLimitAndSweep(t *testing.T) {
	var closed atomic.Int32
	tr := newDirectTransport(&http.Transport{IdleConnTimeout: time.Hour, MaxIdleConnsPerHost: 2})
	pipe := func() *directConn {
		a, b := net.Pipe()
		t.Cleanup(func() { b.Close() })
		return &directConn{c: &closeCounter{Conn: a, n: &closed}, br: bufio.NewReader(a), bw: bufio.NewWriter(a)}
	}
	for range 3 {
		tr.put("h:80", pipe())
	}
	if closed.Load() != 1 || len(tr.idle["h:80"]) != 2 {
		t.Fatalf("3 put with room for 2: %d closed, %d idle", closed.Load(), len(tr.idle["h:80"]))
	}
	// Idle past idleFor: the sweep closes them all and leaves no timer.
	tr.mu.Lock()
	for _, dc := range tr.idle["h:80"] {
		dc.since = dc.since.Add(-2 * time.Hour)
	}
	tr.mu.Unlock()
	tr.sweep()
	if closed.Load() != 3 || len(tr.idle) != 0 || tr.janitor != nil {
		t.Errorf("after sweep: %d closed, %d hosts idle, janitor %v", closed.Load(), len(tr.idle), tr.janitor)
	}
	tr.put("h:80", pipe())
	tr.CloseIdleConnections()
	if closed.Load() != 4 || len(tr.idle) != 0 || tr.janitor != nil {
		t.Errorf("after CloseIdleConnections: %d closed, %d hosts idle", closed.Load(), len(tr.idle))
	}
}

type closeCounter struct {
	net.Conn
	n    *atomic.Int32
	once sync.Once
}

func (c *closeCounter) Close() error {
	c.once.Do(func() { c.n.Add(1) })
	return c.Conn.Close()
}

func TestDirectLeavesOthersToNetHTTP(t *testing.T) {
	// https goes to net/http (and its HTTP/2); so does a request with a body.
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.Proto)
	}))
	defer srv.Close()
	srv.EnableHTTP2 = true
	next := srv.Client().Transport.(*http.Transport)
	tr := newDirectTransport(next)
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.HasPrefix(body, []byte("HTTP/")) || len(tr.idle) != 0 {
		t.Errorf("https: %q, %d idle direct hosts", body, len(tr.idle))
	}
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	}))
	defer plain.Close()
	resp, err = (&http.Client{Transport: tr}).Post(plain.URL, "text/plain", strings.NewReader("posted"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "posted" || len(tr.idle) != 0 {
		t.Errorf("POST: %q, %d idle direct hosts", body, len(tr.idle))
	}
}
