package fetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chantal-lite/chantal/internal/verify"
)

// attemptReq describes one request.
type attemptReq struct {
	path    string // cleaned, relative
	off     int64  // > 0: ask for the bytes from off on
	ifRange string // validator for If-Range (with off > 0)
	// Conditional GET validators.
	etag, lastMod string
}

// reply is one successful response (or an opened local file).
type reply struct {
	body        io.ReadCloser // nil when notModified
	start       int64         // offset of the first body byte in the file
	total       int64         // length of the whole file, -1 if unknown
	etag        string
	lastMod     string
	ranges      bool // the server accepts byte ranges
	notModified bool
}

// validator returns a strong validator usable in If-Range, or "".
func (r *reply) validator() string {
	if r.etag != "" && !strings.HasPrefix(r.etag, "W/") {
		return r.etag
	}
	return r.lastMod
}

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// errRangeNotSatisfiable reports a 416 answer to a resume (or an offset past the
// end of a local file): the caller restarts from zero.
var errRangeNotSatisfiable = errors.New("fetch: range not satisfiable")

// errTimedOut is the cancel cause when the Timeout expires.
var errTimedOut = errors.New("timeout")

// A timeoutError reports that Options.Timeout expired.
type timeoutError struct {
	what string
	d    time.Duration
}

func (e *timeoutError) Error() string { return fmt.Sprintf("no %s within %v", e.what, e.d) }
func (e *timeoutError) Timeout() bool { return true }

func (s *Source) acquire(ctx context.Context) error {
	select {
	case s.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Source) release() { <-s.sem }

// attempt sends one request (or opens a local file) without retrying. It holds a
// concurrency slot until the returned body is closed.
func (s *Source) attempt(ctx context.Context, ar attemptReq) (*reply, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	if s.root != "" {
		rep, err := s.attemptFile(ar)
		if err != nil {
			s.release()
			return nil, err
		}
		rep.body = &releaseBody{ReadCloser: rep.body, release: sync.OnceFunc(s.release)}
		return rep, nil
	}
	u := s.base.ResolveReference(&url.URL{Path: ar.path})
	actx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(s.timeout, func() { cancel(errTimedOut) })
	release := sync.OnceFunc(s.release)
	cleanup := func() {
		timer.Stop()
		cancel(nil)
		release()
	}
	fail := func(err error) (*reply, error) {
		cleanup()
		return nil, err
	}
	req, err := http.NewRequestWithContext(actx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fail(&permanentError{fmt.Errorf("fetch: GET %s: %w", redact(u), err)})
	}
	req.Header.Set("User-Agent", s.ua)
	// Ask for the stored bytes: no transparent decompression, and ranges that
	// count the bytes we keep.
	req.Header.Set("Accept-Encoding", "identity")
	s.setAuth(req.Header)
	if ar.off > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", ar.off))
		if ar.ifRange != "" {
			req.Header.Set("If-Range", ar.ifRange)
		}
	}
	if ar.etag != "" {
		req.Header.Set("If-None-Match", ar.etag)
	}
	if ar.lastMod != "" {
		req.Header.Set("If-Modified-Since", ar.lastMod)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if ctx.Err() == nil && errors.Is(context.Cause(actx), errTimedOut) {
			err = &timeoutError{what: "response headers", d: s.timeout}
		}
		return fail(fmt.Errorf("fetch: GET %s: %w", redact(u), err))
	}
	final := redact(resp.Request.URL)
	discard := func() {
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		resp.Body.Close()
	}
	rep := &reply{
		total:   -1,
		etag:    resp.Header.Get("ETag"),
		lastMod: resp.Header.Get("Last-Modified"),
		ranges:  strings.EqualFold(strings.TrimSpace(resp.Header.Get("Accept-Ranges")), "bytes"),
	}
	switch {
	case resp.StatusCode == http.StatusNotModified && (ar.etag != "" || ar.lastMod != ""):
		discard()
		rep.notModified = true
		cleanup()
		return rep, nil
	case resp.StatusCode == http.StatusOK:
		rep.total = resp.ContentLength
	case resp.StatusCode == http.StatusPartialContent && ar.off > 0:
		start, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != ar.off {
			discard()
			return fail(&permanentError{fmt.Errorf("fetch: GET %s: bad Content-Range %q for offset %d",
				final, clip(resp.Header.Get("Content-Range")), ar.off)})
		}
		rep.start, rep.total, rep.ranges = start, total, true
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && ar.off > 0:
		discard()
		return fail(fmt.Errorf("fetch: GET %s: %w", final, errRangeNotSatisfiable))
	default:
		discard()
		he := &HTTPError{URL: final, StatusCode: resp.StatusCode, Status: resp.Status}
		if he.Temporary() {
			he.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
		return fail(he)
	}
	rep.body = &idleBody{
		rc: resp.Body, ctx: ctx, actx: actx, timer: timer, d: s.timeout,
		cancel: cancel, release: release, url: final,
	}
	return rep, nil
}

// attemptFile opens a file under the file:// root, confined by os.Root (which
// also refuses symlinks leading out of the root).
func (s *Source) attemptFile(ar attemptReq) (*reply, error) {
	root, err := os.OpenRoot(s.root)
	if err != nil {
		return nil, &permanentError{fmt.Errorf("fetch: opening root: %w", err)}
	}
	defer root.Close()
	f, err := root.Open(ar.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &permanentError{fmt.Errorf("fetch: open %s: %w", ar.path, ErrNotFound)}
		}
		return nil, &permanentError{fmt.Errorf("fetch: open %s: %w", ar.path, err)}
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = errors.New("not a regular file")
	}
	if err == nil && ar.off > fi.Size() {
		err = errRangeNotSatisfiable
	}
	if err == nil && ar.off > 0 {
		_, err = f.Seek(ar.off, io.SeekStart)
	}
	if err != nil {
		f.Close()
		if errors.Is(err, errRangeNotSatisfiable) {
			return nil, fmt.Errorf("fetch: open %s: %w", ar.path, err)
		}
		return nil, &permanentError{fmt.Errorf("fetch: open %s: %w", ar.path, err)}
	}
	return &reply{
		body:    f,
		start:   ar.off,
		total:   fi.Size(),
		lastMod: fi.ModTime().UTC().Format(http.TimeFormat),
		ranges:  true,
	}, nil
}

type releaseBody struct {
	io.ReadCloser
	release func()
}

func (b *releaseBody) Close() error {
	err := b.ReadCloser.Close()
	b.release()
	return err
}

// idleBody enforces the idle read timeout and frees the request's resources
// on Close.
type idleBody struct {
	rc      io.ReadCloser
	ctx     context.Context // the caller's
	actx    context.Context // the request's
	timer   *time.Timer
	d       time.Duration
	cancel  context.CancelCauseFunc
	release func()
	url     string
	once    sync.Once
}

func (b *idleBody) Read(p []byte) (int, error) {
	b.timer.Reset(b.d)
	n, err := b.rc.Read(p)
	b.timer.Stop()
	if err != nil && err != io.EOF {
		if b.ctx.Err() == nil && errors.Is(context.Cause(b.actx), errTimedOut) {
			err = &timeoutError{what: "body bytes", d: b.d}
		}
		err = fmt.Errorf("fetch: reading %s: %w", b.url, err)
	}
	return n, err
}

func (b *idleBody) Close() error {
	var err error
	b.once.Do(func() {
		b.timer.Stop()
		err = b.rc.Close()
		b.cancel(nil)
		b.release()
	})
	return err
}

// parseContentRange parses "bytes first-last/total" (total may be "*").
func parseContentRange(v string) (start, total int64, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(v), "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, tot, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, false
	}
	first, last, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	start, err1 := strconv.ParseInt(first, 10, 64)
	end, err2 := strconv.ParseInt(last, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, 0, false
	}
	total = -1
	if tot != "*" {
		t, err := strconv.ParseInt(tot, 10, 64)
		if err != nil || t <= end {
			return 0, 0, false
		}
		total = t
	}
	return start, total, true
}

// parseRetryAfter parses delay-seconds or an HTTP date; 0 if absent or invalid.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return min(time.Duration(n)*time.Second, maxRetryAfter)
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfter)
	}
	return 0
}

// retryable reports whether err may go away on another attempt.
func retryable(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil {
		return false
	}
	var (
		he   *HTTPError
		pe   *permanentError
		ce   *verify.ChecksumError
		se   *verify.SizeError
		cve  *tls.CertificateVerificationError
		uae  x509.UnknownAuthorityError
		hne  x509.HostnameError
		cie  x509.CertificateInvalidError
		rhe  tls.RecordHeaderError
		path *fs.PathError
	)
	switch {
	case errors.As(err, &he):
		return he.Temporary()
	case errors.As(err, &pe), errors.As(err, &ce), errors.As(err, &se),
		errors.As(err, &cve), errors.As(err, &uae), errors.As(err, &hne),
		errors.As(err, &cie), errors.As(err, &rhe), errors.As(err, &path),
		errors.Is(err, ErrNotFound), errors.Is(err, ErrTooLarge), errors.Is(err, ErrPath),
		errors.Is(err, ErrRedirect), errors.Is(err, verify.ErrNoChecksum),
		errors.Is(err, errRangeNotSatisfiable):
		return false
	}
	// Connection resets, refused connections, truncated bodies, timeouts,
	// HTTP/2 stream errors: try again.
	return true
}

// retry calls fn until it succeeds, fails for good, or the retries are spent.
// fn receives the attempt number (0 for the first).
func (s *Source) retry(ctx context.Context, p string, fn func(attempt int) error) error {
	for attempt := 0; ; attempt++ {
		err := fn(attempt)
		if err == nil || attempt >= s.retries || !retryable(ctx, err) {
			return err
		}
		if err := s.pause(ctx, p, attempt+1, err); err != nil {
			return err
		}
	}
}

// pause waits before retry number attempt (1, 2, …) after err.
func (s *Source) pause(ctx context.Context, p string, attempt int, cause error) error {
	d := s.backoff(attempt)
	var he *HTTPError
	if errors.As(cause, &he) && he.retryAfter > 0 {
		d = he.retryAfter
	}
	s.log.Debug("fetch: retrying", "path", p, "attempt", attempt, "delay", d, "err", cause)
	if err := s.sleep(ctx, d); err != nil {
		return fmt.Errorf("fetch: %s: waiting to retry: %w (after %w)", p, err, cause)
	}
	return nil
}

// read reads into p, at most the rate limiter's burst, and waits for the
// limiter to admit the bytes read.
func (s *Source) read(ctx context.Context, r io.Reader, p []byte) (int, error) {
	if s.limit != nil && len(p) > s.limit.Burst() {
		p = p[:s.limit.Burst()]
	}
	n, err := r.Read(p)
	if n > 0 && s.limit != nil {
		if werr := s.limit.WaitN(ctx, n); werr != nil && (err == nil || err == io.EOF) {
			err = fmt.Errorf("fetch: rate limit: %w", werr)
		}
	}
	return n, err
}

func (s *Source) report(p string, done, total int64) {
	if s.progress != nil {
		s.progress(Progress{Path: p, Done: done, Total: total})
	}
}
