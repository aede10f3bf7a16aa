// Package fetch reads upstream repositories over http(s) and from file:// roots.
//
// A Source is bound to one repository root. It streams files (Open), fetches
// small top-level metadata with conditional requests (Get) and downloads payloads
// into the pool with checksum verification and Range resume (Download). Every
// request of a Source shares one concurrency limit, one retry policy and one
// optional bandwidth cap.
//
// Credentials never leave the configured host: Authorization and configured
// custom headers are set only on requests to the base URL's scheme and host and
// removed on redirects elsewhere; proxy credentials go only to the proxy, as
// Proxy-Authorization. URLs in errors and logs carry no userinfo, and their
// query (which may hold a signature) is replaced by "REDACTED".
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults used when the corresponding Options field is zero.
const (
	DefaultParallel = 8
	DefaultRetries  = 4
	DefaultTimeout  = 5 * time.Minute
	// DefaultMaxSize bounds GetRequest.MaxSize when it is zero.
	DefaultMaxSize int64 = 64 << 20
	// DefaultUserAgent is sent when Options.UserAgent is empty.
	DefaultUserAgent = "chantal-lite"
)

const (
	maxRedirects  = 10
	maxRetryAfter = 2 * time.Minute
	backoffBase   = 500 * time.Millisecond
	backoffCap    = 30 * time.Second
	maxBurst      = 256 << 10
)

// ErrNotFound is wrapped by errors for files the upstream does not have: HTTP 404
// and 410, and missing files under a file:// root. errors.Is(err, fs.ErrNotExist)
// also holds for such errors.
var ErrNotFound error = notFoundError{}

type notFoundError struct{}

func (notFoundError) Error() string        { return "fetch: not found" }
func (notFoundError) Is(target error) bool { return target == fs.ErrNotExist }

// ErrTooLarge is wrapped when a response exceeds GetRequest.MaxSize.
var ErrTooLarge = errors.New("fetch: response too large")

// ErrRedirect is wrapped when a redirect is refused: more than 10 hops, or a
// downgrade from https to http while credentials are configured.
var ErrRedirect = errors.New("fetch: redirect refused")

// ErrChanged is wrapped when an interrupted Open cannot resume because the
// upstream file changed (or stopped honouring ranges) in the meantime.
var ErrChanged = errors.New("fetch: upstream file changed during transfer")

// ErrPath is wrapped when a path is not a clean relative path inside the root.
var ErrPath = errors.New("fetch: invalid path")

// An HTTPError reports an unexpected HTTP status.
type HTTPError struct {
	URL        string // without userinfo
	StatusCode int
	Status     string

	retryAfter time.Duration // from a Retry-After header, 0 if none
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("fetch: GET %s: %s", e.URL, e.Status)
}

// Temporary reports whether the status is worth retrying: 5xx, 429 or 408.
func (e *HTTPError) Temporary() bool {
	return e.StatusCode >= 500 || e.StatusCode == http.StatusTooManyRequests ||
		e.StatusCode == http.StatusRequestTimeout
}

// Unwrap returns ErrNotFound for 404 and 410.
func (e *HTTPError) Unwrap() error {
	if e.StatusCode == http.StatusNotFound || e.StatusCode == http.StatusGone {
		return ErrNotFound
	}
	return nil
}

// Options configure a Source. A nil *Options means defaults.
type Options struct {
	// Parallel caps the concurrent requests of the Source, shared by Open, Get and
	// Download; a slot is held from sending a request until its body is closed.
	// 0 means DefaultParallel.
	Parallel int
	// Retries is the number of attempts after the first on 5xx, 429 and 408
	// responses, timeouts, connection errors and truncated bodies. 0 means
	// DefaultRetries; a negative value disables retries.
	Retries int
	// Timeout applies to every request twice over: it bounds the time from
	// sending the request to receiving the response headers (dial, TLS handshake
	// and server think time included), and it bounds every single wait for body
	// bytes (an idle read timeout; time the caller spends between reads does not
	// count). It is not a limit on the whole transfer. 0 means DefaultTimeout.
	Timeout time.Duration
	// RateLimit caps the body bytes per second read across the Source; 0 means
	// unlimited.
	RateLimit int64
	// TLS configures certificate verification and client certificates.
	TLS TLSOptions
	// Auth configures credentials sent to the repository host.
	Auth AuthOptions
	// Proxy configures a forward proxy; an empty Proxy.URL means the proxy from
	// the environment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY).
	Proxy ProxyOptions
	// UserAgent is sent with every request; empty means DefaultUserAgent.
	UserAgent string
	// Logger receives debug logs (retries, resumes); nil means silent.
	Logger *slog.Logger
	// Progress, if set, receives byte progress events. It is called from the
	// goroutine reading the body and must not block for long.
	Progress func(Progress)
	// Transport overrides the transport built from TLS and Proxy (for tests).
	Transport http.RoundTripper
	// Backoff returns the delay before retry attempt (1, 2, …); nil means jittered
	// exponential backoff from 500ms, capped at 30s. A Retry-After header on a
	// 429 or 503 response takes precedence, capped at two minutes.
	Backoff func(attempt int) time.Duration
}

// TLSOptions configure TLS for https sources.
type TLSOptions struct {
	// CABundle is a PEM file whose certificates replace the system roots.
	CABundle string
	// ClientCert and ClientKey are PEM files of a client certificate and its key.
	ClientCert, ClientKey string
	// CertDir is a RHEL-style entitlement directory holding <name>.pem
	// certificates and <name>-key.pem keys. Among the pairs that load and are
	// currently valid, the one with the latest NotAfter is used (ties: the first
	// by file name). It excludes ClientCert and ClientKey.
	CertDir string
	// Insecure disables server certificate verification.
	Insecure bool
}

// AuthOptions configure credentials sent to the repository host only.
type AuthOptions struct {
	// Type is "basic" (Username, Password), "bearer" (Token), "custom" (Headers
	// only) or "" (no Authorization header; Headers still apply).
	Type               string
	Username, Password string
	Token              string
	// Headers are extra request headers (for example X-API-Key). They are secrets
	// like Authorization and are removed on redirects to another host.
	Headers map[string]string
}

// ProxyOptions configure a forward proxy.
type ProxyOptions struct {
	// URL is the proxy (http, https or socks5 scheme).
	URL string
	// Username and Password authenticate to the proxy; they override userinfo in
	// URL and are sent only to the proxy, as Proxy-Authorization.
	Username, Password string
	// NoProxy is a comma-separated list of hosts that bypass the proxy: "*", an
	// exact host name or IP, a domain (".example.com" or "example.com" also
	// matching its subdomains), or an IP CIDR.
	NoProxy string
}

// Progress reports bytes read of one file.
type Progress struct {
	Path  string
	Done  int64 // bytes so far, including a resumed prefix
	Total int64 // expected total, -1 if unknown
}

// limiter is the part of *rate.Limiter the Source uses (swapped in tests).
type limiter interface {
	WaitN(ctx context.Context, n int) error
	Burst() int
}

// A Source reads files relative to one repository root. It is safe for
// concurrent use.
type Source struct {
	base     *url.URL // without userinfo, path ending in "/"
	root     string   // file:// only: local directory
	client   *http.Client
	sem      chan struct{}
	retries  int
	timeout  time.Duration
	limit    limiter // nil = unlimited
	auth     AuthOptions
	hasAuth  bool
	ua       string
	log      *slog.Logger
	progress func(Progress)
	backoff  func(int) time.Duration
	sleep    func(ctx context.Context, d time.Duration) error
	bufs     sync.Pool // *[]byte of copyBufSize for copyBody
}

// copyBufSize is the buffer of one download's copy loop.
const copyBufSize = 64 << 10

// New returns a Source for base, an http://, https:// or file:// URL of the
// repository root (a trailing slash is added). Userinfo in an http(s) base is
// taken as basic credentials and removed from the URL.
func New(base string, o *Options) (*Source, error) {
	if o == nil {
		o = &Options{}
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("fetch: parsing base URL: %w", redactURLError(err))
	}
	if u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("fetch: base URL %s: query, fragment or opaque part not allowed", redact(u))
	}
	s := &Source{
		retries:  o.Retries,
		timeout:  o.Timeout,
		auth:     o.Auth,
		ua:       o.UserAgent,
		log:      o.Logger,
		progress: o.Progress,
		backoff:  o.Backoff,
		sleep:    sleepCtx,
	}
	s.bufs.New = func() any { b := make([]byte, copyBufSize); return &b }
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.retries == 0 {
		s.retries = DefaultRetries
	} else if s.retries < 0 {
		s.retries = 0
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.ua == "" {
		s.ua = DefaultUserAgent
	}
	if s.backoff == nil {
		s.backoff = defaultBackoff
	}
	par := o.Parallel
	if par <= 0 {
		par = DefaultParallel
	}
	s.sem = make(chan struct{}, par)
	if o.RateLimit < 0 {
		return nil, fmt.Errorf("fetch: negative rate limit %d", o.RateLimit)
	}
	if o.RateLimit > 0 {
		burst := int(min(o.RateLimit, maxBurst))
		s.limit = rate.NewLimiter(rate.Limit(o.RateLimit), burst)
	}

	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("fetch: file URL %s: remote host not supported", redact(u))
		}
		if u.User != nil {
			return nil, fmt.Errorf("fetch: file URL %s: userinfo not allowed", redact(u))
		}
		if u.Path == "" || u.Path[0] != '/' {
			return nil, fmt.Errorf("fetch: file URL %s: path must be absolute", redact(u))
		}
		s.root = u.Path
	case "http", "https":
		if u.Host == "" {
			return nil, fmt.Errorf("fetch: base URL %s: missing host", redact(u))
		}
		if err := s.takeUserinfo(u); err != nil {
			return nil, err
		}
		if err := s.checkAuth(); err != nil {
			return nil, err
		}
		rt := o.Transport
		if rt == nil {
			t, err := newTransport(o, par)
			if err != nil {
				return nil, err
			}
			if o.TLS.Insecure {
				s.log.Warn("TLS certificate verification disabled", "base", redact(u))
			}
			rt = t
		}
		s.client = &http.Client{Transport: rt, CheckRedirect: s.checkRedirect}
	default:
		return nil, fmt.Errorf("fetch: base URL %s: unsupported scheme %q", redact(u), u.Scheme)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		if u.RawPath != "" {
			u.RawPath += "/"
		}
	}
	s.base = u
	return s, nil
}

// Base returns the repository root URL, without userinfo.
func (s *Source) Base() string { return redact(s.base) }

// takeUserinfo moves userinfo of the base URL into basic auth.
func (s *Source) takeUserinfo(u *url.URL) error {
	if u.User == nil {
		return nil
	}
	if s.auth.Type != "" && s.auth.Type != "basic" || s.auth.Username != "" {
		return fmt.Errorf("fetch: base URL %s: userinfo conflicts with configured auth", redact(u))
	}
	s.auth.Type = "basic"
	s.auth.Username = u.User.Username()
	s.auth.Password, _ = u.User.Password()
	u.User = nil
	return nil
}

func (s *Source) checkAuth() error {
	a := s.auth
	switch a.Type {
	case "":
		if a.Username != "" || a.Password != "" || a.Token != "" {
			return errors.New("fetch: auth credentials given without auth type")
		}
	case "basic":
		if a.Username == "" {
			return errors.New("fetch: basic auth needs a username")
		}
	case "bearer":
		if a.Token == "" {
			return errors.New("fetch: bearer auth needs a token")
		}
	case "custom":
		if len(a.Headers) == 0 {
			return errors.New("fetch: custom auth needs headers")
		}
	default:
		return fmt.Errorf("fetch: unknown auth type %q", a.Type)
	}
	for k := range a.Headers {
		if k == "" || strings.ContainsAny(k, " :\r\n") {
			return fmt.Errorf("fetch: invalid auth header name %q", k)
		}
	}
	s.hasAuth = a.Type != "" || len(a.Headers) > 0
	return nil
}

// setAuth adds the configured credentials to h.
func (s *Source) setAuth(h http.Header) {
	switch s.auth.Type {
	case "basic":
		r := http.Request{Header: h}
		r.SetBasicAuth(s.auth.Username, s.auth.Password)
	case "bearer":
		h.Set("Authorization", "Bearer "+s.auth.Token)
	}
	for k, v := range s.auth.Headers {
		h.Set(k, v)
	}
}

// stripAuth removes every credential header from h.
func (s *Source) stripAuth(h http.Header) {
	h.Del("Authorization")
	for k := range s.auth.Headers {
		h.Del(k)
	}
}

// sameOrigin reports whether u is on the base URL's scheme and host.
func (s *Source) sameOrigin(u *url.URL) bool {
	return u.Scheme == s.base.Scheme && strings.EqualFold(u.Host, s.base.Host)
}

func (s *Source) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return &permanentError{fmt.Errorf("%w: stopped after %d redirects", ErrRedirect, maxRedirects)}
	}
	prev := via[len(via)-1].URL
	if s.hasAuth && req.URL.Scheme != "https" && (prev.Scheme == "https" || s.base.Scheme == "https") {
		return &permanentError{fmt.Errorf("%w: https to http downgrade to %s with credentials configured", ErrRedirect, redact(req.URL))}
	}
	if s.sameOrigin(req.URL) {
		s.setAuth(req.Header)
	} else {
		s.stripAuth(req.Header)
	}
	return nil
}

// redact returns u as a string without userinfo and without its query, which
// may hold a token (a presigned redirect target, for example).
func redact(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User = nil
	if c.RawQuery != "" {
		c.RawQuery = "REDACTED"
	}
	return c.String()
}

// redactURLError drops the URL text of a *url.Error from url.Parse, which may
// hold a password.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func defaultBackoff(attempt int) time.Duration {
	d := backoffCap
	if attempt < 16 {
		d = min(backoffBase<<max(attempt-1, 0), backoffCap)
	}
	// Full jitter in [d/2, d).
	return d/2 + rand.N(d/2)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// HTTPClient returns the client the Source sends requests with: its TLS,
// proxy and redirect rules, without the repository's credentials (which the
// Source adds per request). For payloads that live outside the repository
// root, such as OCI references. It is nil for a file:// Source.
func (s *Source) HTTPClient() *http.Client {
	if s.root != "" {
		return nil
	}
	return s.client
}
