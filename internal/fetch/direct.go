package fetch

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// directTransport sends plain-http GET and HEAD requests that go through no
// proxy on connections of its own, one request at a time per connection:
// the request is written and the response read on the caller's goroutine,
// with net/http's own Request.Write and ReadResponse. net/http.Transport
// hands every request to the connection's writing goroutine and its response
// back from the reading one; for the tens of thousands of small payloads of
// a package repository those handoffs cost about a fifth of the wall time of
// the downloads on a two-core machine (docs/PERFORMANCE.md, gen floor -raw).
// Everything else (https and HTTP/2, proxied requests, requests with a body)
// goes to next.
//
// Connections are kept alive as net/http does: a response read to its end,
// neither side asking to close, returns its connection to the idle list
// (at most next.MaxIdleConnsPerHost per host, closed after
// next.IdleConnTimeout unused). A request that
// fails on a reused connection before any byte of the response arrived (the
// server closed it while idle) is sent again on another one, as
// net/http.Transport does for idempotent requests.
type directTransport struct {
	// next serves what is not plain http; its Proxy, DialContext,
	// MaxIdleConnsPerHost and IdleConnTimeout apply here too.
	next *http.Transport

	mu      sync.Mutex
	idle    map[string][]*directConn // host:port → idle connections, most recent last
	janitor *time.Timer              // armed while idle connections exist
}

// directConn is one connection of a directTransport.
type directConn struct {
	c      net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	since  time.Time // idle since
	reused bool      // carried a response before
}

// errStale marks a failure on a reused connection before the response began.
var errStale = errors.New("connection closed while idle")

// aLongTimeAgo is a deadline in the past, which interrupts blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

// maxInformational bounds the 1xx responses skipped before the final one.
const maxInformational = 8

func newDirectTransport(next *http.Transport) *directTransport {
	return &directTransport{next: next, idle: map[string][]*directConn{}}
}

// RoundTrip implements http.RoundTripper.
func (t *directTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" || req.URL.Host == "" ||
		(req.Method != http.MethodGet && req.Method != http.MethodHead) ||
		(req.Body != nil && req.Body != http.NoBody) {
		return t.next.RoundTrip(req)
	}
	if t.next.Proxy != nil {
		p, err := t.next.Proxy(req)
		if err != nil {
			return nil, err
		}
		if p != nil {
			return t.next.RoundTrip(req)
		}
	}
	addr := req.URL.Host
	if req.URL.Port() == "" {
		addr = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	ctx := req.Context()
	for {
		dc, err := t.get(ctx, addr)
		if err != nil {
			return nil, err
		}
		resp, err := t.exchange(ctx, dc, addr, req)
		if errors.Is(err, errStale) && ctx.Err() == nil {
			continue // each stale connection is dropped: this ends
		}
		return resp, err
	}
}

// exchange sends req on dc and reads the response's head. On error dc is
// closed; the error wraps errStale if dc was reused and the server sent
// nothing.
func (t *directTransport) exchange(ctx context.Context, dc *directConn, addr string, req *http.Request) (*http.Response, error) {
	stop := context.AfterFunc(ctx, func() { dc.c.SetDeadline(aLongTimeAgo) })
	fail := func(err error, stale bool) (*http.Response, error) {
		stop()
		dc.c.Close()
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case stale && dc.reused:
			return nil, fmt.Errorf("%w: %w", errStale, err)
		}
		return nil, err
	}
	if err := req.Write(dc.bw); err != nil {
		return fail(err, true)
	}
	if err := dc.bw.Flush(); err != nil {
		return fail(err, true)
	}
	if _, err := dc.br.Peek(1); err != nil {
		return fail(err, true)
	}
	for n := 0; ; n++ {
		resp, err := http.ReadResponse(dc.br, req)
		if err != nil {
			return fail(err, false)
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 {
			if resp.StatusCode == http.StatusSwitchingProtocols || n == maxInformational {
				return fail(fmt.Errorf("unexpected %s", resp.Status), false)
			}
			continue // an informational response has no body
		}
		b := &directBody{t: t, dc: dc, addr: addr, rc: resp.Body, ctx: ctx, stop: stop,
			keep: !resp.Close && !req.Close}
		if resp.Body == http.NoBody {
			b.finish(true)
		}
		resp.Body = b
		return resp, nil
	}
}

// get returns an idle connection to addr, or dials a new one.
func (t *directTransport) get(ctx context.Context, addr string) (*directConn, error) {
	now := time.Now()
	t.mu.Lock()
	for l := t.idle[addr]; len(l) > 0; l = t.idle[addr] {
		dc := l[len(l)-1]
		t.idle[addr] = l[:len(l)-1]
		if now.Sub(dc.since) < t.next.IdleConnTimeout && !connBroken(dc.c) {
			t.mu.Unlock()
			return dc, nil
		}
		dc.c.Close()
	}
	t.mu.Unlock()
	c, err := t.next.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &directConn{c: c, br: bufio.NewReaderSize(c, 16<<10), bw: bufio.NewWriterSize(c, 4<<10)}, nil
}

// put makes dc idle, or closes it when addr has enough idle connections.
func (t *directTransport) put(addr string, dc *directConn) {
	dc.since, dc.reused = time.Now(), true
	t.mu.Lock()
	defer t.mu.Unlock()
	maxIdle := t.next.MaxIdleConnsPerHost
	if maxIdle <= 0 {
		maxIdle = http.DefaultMaxIdleConnsPerHost // as net/http reads 0
	}
	if len(t.idle[addr]) >= maxIdle {
		dc.c.Close()
		return
	}
	t.idle[addr] = append(t.idle[addr], dc)
	if t.janitor == nil {
		t.janitor = time.AfterFunc(t.next.IdleConnTimeout, t.sweep)
	}
}

// sweep closes the connections idle for next.IdleConnTimeout or longer, and
// re-arms itself while others remain.
func (t *directTransport) sweep() {
	now, idleFor := time.Now(), t.next.IdleConnTimeout
	t.mu.Lock()
	defer t.mu.Unlock()
	t.janitor = nil
	var next time.Duration
	for addr, l := range t.idle {
		kept := l[:0]
		for _, dc := range l {
			if age := now.Sub(dc.since); age >= idleFor {
				dc.c.Close()
			} else {
				kept = append(kept, dc)
				if left := idleFor - age; next == 0 || left < next {
					next = left
				}
			}
		}
		if len(kept) == 0 {
			delete(t.idle, addr)
		} else {
			t.idle[addr] = kept
		}
	}
	if next > 0 {
		t.janitor = time.AfterFunc(next, t.sweep)
	}
}

// CloseIdleConnections closes every idle connection, its own and next's.
func (t *directTransport) CloseIdleConnections() {
	t.mu.Lock()
	for addr, l := range t.idle {
		for _, dc := range l {
			dc.c.Close()
		}
		delete(t.idle, addr)
	}
	if t.janitor != nil {
		t.janitor.Stop()
		t.janitor = nil
	}
	t.mu.Unlock()
	t.next.CloseIdleConnections()
}

// directBody is a response body read from a directConn. Read to its end, it
// returns the connection to the idle list; closed before, or failed, it
// closes the connection. Close may run while a Read is blocked.
type directBody struct {
	t    *directTransport
	dc   *directConn
	addr string
	rc   io.ReadCloser
	ctx  context.Context
	stop func() bool // stops the cancellation hook; false once it ran
	keep bool        // neither side asked to close the connection

	mu    sync.Mutex
	state int // bodyOpen, bodyEOF or bodyClosed
}

// The states of a directBody: once not open, it no longer reads from its
// connection (which may serve another request).
const (
	bodyOpen = iota
	bodyEOF
	bodyClosed
)

func (b *directBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	state := b.state
	b.mu.Unlock()
	switch state {
	case bodyEOF:
		return 0, io.EOF
	case bodyClosed:
		return 0, errBodyClosed
	}
	n, err := b.rc.Read(p)
	switch {
	case err == io.EOF:
		b.finish(true)
	case err != nil:
		if b.ctx.Err() != nil {
			err = b.ctx.Err()
		}
		b.finish(false)
	}
	return n, err
}

// errBodyClosed is returned by a Read after Close.
var errBodyClosed = errors.New("read on closed response body")

func (b *directBody) Close() error {
	b.finish(false)
	return nil
}

// finish releases the connection once: back to the idle list after a clean
// end, closed otherwise.
func (b *directBody) finish(eof bool) {
	b.mu.Lock()
	if b.state != bodyOpen {
		b.mu.Unlock()
		return
	}
	b.state = bodyClosed
	if eof {
		b.state = bodyEOF
	}
	b.mu.Unlock()
	hooked := b.stop() // false once the context ended: the deadline is poisoned
	if eof && hooked && b.keep && b.dc.br.Buffered() == 0 {
		b.t.put(b.addr, b.dc)
		return
	}
	b.dc.c.Close()
}
