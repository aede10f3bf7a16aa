package fetch

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func newTextLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// headerLog records the headers of every request a server sees.
type headerLog struct {
	mu   sync.Mutex
	seen []http.Header
}

func (l *headerLog) add(r *http.Request) {
	l.mu.Lock()
	l.seen = append(l.seen, r.Header.Clone())
	l.mu.Unlock()
}

func (l *headerLog) all() []http.Header {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]http.Header(nil), l.seen...)
}

func TestBasicAndBearerAuth(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		switch {
		case ok && u == "alice" && p == "p:w@d":
		case r.Header.Get("Authorization") == "Bearer tok3n":
		default:
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "secret data")
	}))
	defer srv.Close()
	for name, o := range map[string]*Options{
		"basic":    {Auth: AuthOptions{Type: "basic", Username: "alice", Password: "p:w@d"}},
		"bearer":   {Auth: AuthOptions{Type: "bearer", Token: "tok3n"}},
		"userinfo": nil,
	} {
		base := srv.URL
		if o == nil {
			base = strings.Replace(srv.URL, "http://", "http://alice:p%3Aw%40d@", 1)
		}
		s, _ := newSource(t, base, o)
		res, err := s.Get(context.Background(), GetRequest{Path: "x"})
		if err != nil || string(res.Data) != "secret data" {
			t.Errorf("%s: Get = %v", name, err)
		}
	}
	s, _ := newSource(t, srv.URL, &Options{Auth: AuthOptions{Type: "bearer", Token: "wrong"}})
	var he *HTTPError
	if _, err := s.Get(context.Background(), GetRequest{Path: "x"}); !errors.As(err, &he) || he.StatusCode != 401 {
		t.Errorf("wrong token: err = %v, want 401", err)
	}
}

func TestRedirectToOtherHostDropsCredentials(t *testing.T) {
	var other headerLog
	otherSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		other.add(r)
		if r.URL.Path == "/gone" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "from the CDN")
	}))
	defer otherSrv.Close()
	var origin headerLog
	originSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin.add(r)
		switch r.URL.Path {
		case "/repo/hop":
			http.Redirect(w, r, "/repo/cdn", http.StatusFound) // same host first
		case "/repo/cdn":
			http.Redirect(w, r, otherSrv.URL+"/blob?X-Signature=sig-s3cret", http.StatusFound)
		case "/repo/gone":
			http.Redirect(w, r, otherSrv.URL+"/gone?X-Signature=sig-s3cret", http.StatusFound)
		}
	}))
	defer originSrv.Close()
	o := &Options{Auth: AuthOptions{Type: "basic", Username: "u", Password: "p",
		Headers: map[string]string{"X-API-Key": "k3y"}}}
	s, _ := newSource(t, originSrv.URL+"/repo/", o)
	res, err := s.Get(context.Background(), GetRequest{Path: "hop"})
	if err != nil || string(res.Data) != "from the CDN" {
		t.Fatalf("Get = %v", err)
	}
	seen := origin.all()
	if len(seen) != 2 {
		t.Fatalf("origin saw %d requests, want 2", len(seen))
	}
	for i, h := range seen {
		if h.Get("Authorization") == "" || h.Get("X-API-Key") != "k3y" {
			t.Errorf("origin request %d lacks credentials: %v", i, h)
		}
	}
	for _, h := range other.all() {
		if h.Get("Authorization") != "" || h.Get("X-API-Key") != "" {
			t.Errorf("credentials leaked to the other host: %v", h)
		}
	}
	if len(other.all()) != 1 {
		t.Errorf("other host saw %d requests", len(other.all()))
	}
	_, err = s.Get(context.Background(), GetRequest{Path: "gone"})
	if !errors.Is(err, ErrNotFound) || strings.Contains(err.Error(), "sig-s3cret") {
		t.Errorf("err = %v, want ErrNotFound without the signature", err)
	}
}

func TestRedirectPolicy(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/loop" {
			http.Redirect(w, r, "/loop", http.StatusFound)
			return
		}
		io.WriteString(w, "plain")
	}))
	defer plain.Close()
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/x", http.StatusFound)
	}))
	defer secure.Close()
	tr := secure.Client().Transport

	s, _ := newSource(t, secure.URL, &Options{Transport: tr, Auth: AuthOptions{Type: "bearer", Token: "t"}})
	if _, err := s.Get(context.Background(), GetRequest{Path: "x"}); !errors.Is(err, ErrRedirect) {
		t.Errorf("https→http with auth: err = %v, want ErrRedirect", err)
	}
	s, _ = newSource(t, secure.URL, &Options{Transport: tr})
	if res, err := s.Get(context.Background(), GetRequest{Path: "x"}); err != nil || string(res.Data) != "plain" {
		t.Errorf("https→http without auth: %v", err)
	}
	s, _ = newSource(t, plain.URL, nil)
	if _, err := s.Get(context.Background(), GetRequest{Path: "loop"}); !errors.Is(err, ErrRedirect) {
		t.Errorf("redirect loop: err = %v, want ErrRedirect", err)
	}
}

func TestClientCertificate(t *testing.T) {
	ca := newPKI(t)
	now := time.Now()
	serverCert := ca.issue(t, "server", true, now.Add(-time.Hour), now.Add(time.Hour), "", "")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{serverCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.pool,
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // expected handshake failures
	srv.StartTLS()
	defer srv.Close()

	certs := t.TempDir()
	ca.issue(t, "pair", false, now.Add(-time.Hour), now.Add(time.Hour), certs, "client")

	entitlement := t.TempDir()
	ca.issue(t, "expired", false, now.Add(-48*time.Hour), now.Add(-time.Hour), entitlement, "100")
	ca.issue(t, "newest", false, now.Add(-time.Hour), now.Add(20*time.Hour), entitlement, "200")
	ca.issue(t, "older", false, now.Add(-time.Hour), now.Add(10*time.Hour), entitlement, "300")
	ca.issue(t, "future", false, now.Add(time.Hour), now.Add(30*time.Hour), entitlement, "400")
	os.Remove(filepath.Join(entitlement, "300-key.pem"))
	ca.issue(t, "unpaired", false, now.Add(-time.Hour), now.Add(40*time.Hour), t.TempDir(), "500")
	os.WriteFile(filepath.Join(entitlement, "junk.pem"), []byte("not pem"), 0o600)
	os.WriteFile(filepath.Join(entitlement, "junk-key.pem"), []byte("not pem"), 0o600)

	for name, tc := range map[string]struct {
		tls  TLSOptions
		want string
	}{
		"cert and key": {TLSOptions{CABundle: ca.caPEM, ClientCert: filepath.Join(certs, "client.pem"), ClientKey: filepath.Join(certs, "client-key.pem")}, "pair"},
		"cert dir":     {TLSOptions{CABundle: ca.caPEM, CertDir: entitlement}, "newest"},
		"no cert":      {TLSOptions{CABundle: ca.caPEM}, ""},
		"unknown CA":   {TLSOptions{ClientCert: filepath.Join(certs, "client.pem"), ClientKey: filepath.Join(certs, "client-key.pem")}, ""},
	} {
		s, _ := newSource(t, srv.URL, &Options{TLS: tc.tls, Retries: 1})
		res, err := s.Get(context.Background(), GetRequest{Path: "x"})
		if tc.want == "" {
			if err == nil {
				t.Errorf("%s: Get succeeded", name)
			}
			continue
		}
		if err != nil || string(res.Data) != tc.want {
			t.Errorf("%s: Get = %v, %v; want %q", name, res, err, tc.want)
		}
	}

	empty := t.TempDir()
	ca.issue(t, "expired", false, now.Add(-48*time.Hour), now.Add(-time.Hour), empty, "1")
	if _, err := New(srv.URL, &Options{TLS: TLSOptions{CertDir: empty}}); err == nil || !strings.Contains(err.Error(), "no valid certificate") {
		t.Errorf("cert dir with only an expired pair: err = %v", err)
	}
	if _, err := New(srv.URL, &Options{TLS: TLSOptions{CertDir: entitlement, ClientCert: "x", ClientKey: "y"}}); err == nil {
		t.Error("cert dir and client cert together accepted")
	}
}

func TestProxyCredentialsOnlyToProxy(t *testing.T) {
	var originSeen headerLog
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		originSeen.add(r)
		io.WriteString(w, "via proxy")
	}))
	defer origin.Close()
	var proxySeen headerLog
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxySeen.add(r)
		if !r.URL.IsAbs() {
			http.Error(w, "not a proxy request", http.StatusBadRequest)
			return
		}
		out, _ := http.NewRequestWithContext(r.Context(), r.Method, r.URL.String(), nil)
		for k, v := range r.Header {
			if !strings.HasPrefix(k, "Proxy-") {
				out.Header[k] = v
			}
		}
		resp, err := (&http.Transport{}).RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	defer proxy.Close()

	o := &Options{Proxy: ProxyOptions{URL: proxy.URL, Username: "proxy user", Password: "p@ss:w/rd"}}
	s, _ := newSource(t, origin.URL, o)
	res, err := s.Get(context.Background(), GetRequest{Path: "x"})
	if err != nil || string(res.Data) != "via proxy" {
		t.Fatalf("Get = %v", err)
	}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("proxy user:p@ss:w/rd"))
	ps := proxySeen.all()
	if len(ps) != 1 || ps[0].Get("Proxy-Authorization") != want || ps[0].Get("Authorization") != "" {
		t.Errorf("proxy saw %v, want Proxy-Authorization %q and no Authorization", ps, want)
	}
	for _, h := range originSeen.all() {
		if h.Get("Authorization") != "" || h.Get("Proxy-Authorization") != "" {
			t.Errorf("origin saw credentials: %v", h)
		}
	}
	if len(originSeen.all()) != 1 {
		t.Errorf("origin saw %d requests", len(originSeen.all()))
	}

	// NoProxy bypasses the proxy.
	o.Proxy.NoProxy = "example.com, 127.0.0.0/8"
	s, _ = newSource(t, origin.URL, o)
	if _, err := s.Get(context.Background(), GetRequest{Path: "x"}); err != nil {
		t.Fatal(err)
	}
	if len(proxySeen.all()) != 1 {
		t.Errorf("NoProxy host went through the proxy")
	}
}

func TestProxyConnectForHTTPS(t *testing.T) {
	var originSeen headerLog
	origin := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		originSeen.add(r)
		io.WriteString(w, "tunnelled")
	}))
	defer origin.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	writePEM(t, ca, "CERTIFICATE", origin.Certificate().Raw)

	var proxySeen headerLog
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxySeen.add(r)
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		dst, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			dst.Close()
			return
		}
		io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n")
		go func() {
			io.Copy(dst, buf)
			dst.Close()
		}()
		io.Copy(conn, dst)
		conn.Close()
	}))
	defer proxy.Close()

	o := &Options{
		TLS:   TLSOptions{CABundle: ca},
		Auth:  AuthOptions{Type: "bearer", Token: "origin-token"},
		Proxy: ProxyOptions{URL: proxy.URL, Username: "pu", Password: "pp"},
	}
	s, _ := newSource(t, origin.URL, o)
	res, err := s.Get(context.Background(), GetRequest{Path: "x"})
	if err != nil || string(res.Data) != "tunnelled" {
		t.Fatalf("Get = %v", err)
	}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("pu:pp"))
	ps := proxySeen.all()
	if len(ps) != 1 || ps[0].Get("Proxy-Authorization") != want || ps[0].Get("Authorization") != "" {
		t.Errorf("proxy saw %v, want only Proxy-Authorization %q", ps, want)
	}
	seen := originSeen.all()
	if len(seen) != 1 || seen[0].Get("Authorization") != "Bearer origin-token" || seen[0].Get("Proxy-Authorization") != "" {
		t.Errorf("origin saw %v, want its own bearer token and no proxy credentials", seen)
	}
}

func TestNoProxyMatch(t *testing.T) {
	l := parseNoProxy(" .example.com,internal.test:8080, 10.0.0.0/8 ,::1,")
	for host, want := range map[string]bool{
		"example.com": true, "a.example.com": true, "badexample.com": false,
		"internal.test": true, "x.internal.test": true, "10.1.2.3": true, "11.0.0.1": false,
		"::1": true, "127.0.0.1": false,
	} {
		if got := l.match(host); got != want {
			t.Errorf("match(%q) = %v, want %v", host, got, want)
		}
	}
	if !parseNoProxy("*").match("anything") {
		t.Error("* does not match")
	}
}
