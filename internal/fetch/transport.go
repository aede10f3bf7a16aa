package fetch

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// newTransport builds the transport for o: a directTransport for plain
// http, over the http.Transport that serves everything else.
func newTransport(o *Options, par int) (*directTransport, error) {
	tc, err := tlsConfig(&o.TLS, time.Now())
	if err != nil {
		return nil, err
	}
	proxy, err := proxyFunc(&o.Proxy)
	if err != nil {
		return nil, err
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		Proxy:                 proxy,
		DialContext:           d.DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   timeout,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   par,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return newDirectTransport(t), nil
}

// tlsConfig builds the client TLS configuration; now decides certificate validity
// when choosing from a cert dir.
func tlsConfig(o *TLSOptions, now time.Time) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.Insecure}
	if o.CABundle != "" {
		pem, err := os.ReadFile(o.CABundle)
		if err != nil {
			return nil, fmt.Errorf("fetch: reading CA bundle: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("fetch: CA bundle %s: no certificates", o.CABundle)
		}
		tc.RootCAs = pool
	}
	switch {
	case o.CertDir != "" && (o.ClientCert != "" || o.ClientKey != ""):
		return nil, errors.New("fetch: TLS cert dir and client cert are exclusive")
	case o.CertDir != "":
		c, err := pickCertDir(o.CertDir, now)
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{c}
	case o.ClientCert != "" || o.ClientKey != "":
		if o.ClientCert == "" || o.ClientKey == "" {
			return nil, errors.New("fetch: TLS client cert and key must be given together")
		}
		c, err := tls.LoadX509KeyPair(o.ClientCert, o.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("fetch: loading client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{c}
	}
	return tc, nil
}

// pickCertDir chooses a client certificate from an entitlement directory: every
// <name>.pem with a matching <name>-key.pem, valid at now, the latest NotAfter
// winning and ties going to the first name in sorted order.
func pickCertDir(dir string, now time.Time) (tls.Certificate, error) {
	certs, err := filepath.Glob(filepath.Join(dir, "*.pem"))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("fetch: cert dir: %w", err)
	}
	slices.Sort(certs)
	var (
		best     tls.Certificate
		bestEnd  time.Time
		found    bool
		problems []error
	)
	for _, cp := range certs {
		if strings.HasSuffix(cp, "-key.pem") {
			continue
		}
		kp := strings.TrimSuffix(cp, ".pem") + "-key.pem"
		if _, err := os.Stat(kp); err != nil {
			continue
		}
		c, err := tls.LoadX509KeyPair(cp, kp)
		if err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", filepath.Base(cp), err))
			continue
		}
		leaf := c.Leaf
		if leaf == nil {
			if leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
				problems = append(problems, fmt.Errorf("%s: %w", filepath.Base(cp), err))
				continue
			}
		}
		if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
			problems = append(problems, fmt.Errorf("%s: not valid now (valid %s to %s)",
				filepath.Base(cp), leaf.NotBefore.Format(time.RFC3339), leaf.NotAfter.Format(time.RFC3339)))
			continue
		}
		if !found || leaf.NotAfter.After(bestEnd) {
			best, bestEnd, found = c, leaf.NotAfter, true
		}
	}
	if !found {
		err := fmt.Errorf("fetch: cert dir %s: no valid certificate and key pair", dir)
		if len(problems) > 0 {
			err = fmt.Errorf("%w: %w", err, errors.Join(problems...))
		}
		return tls.Certificate{}, err
	}
	return best, nil
}

// proxyFunc returns the Transport.Proxy function for o. Credentials are put into
// the proxy URL's userinfo, from which net/http sends Proxy-Authorization to the
// proxy only (on plain requests and on CONNECT), never to the origin.
func proxyFunc(o *ProxyOptions) (func(*http.Request) (*url.URL, error), error) {
	if o.URL == "" {
		if o.Username != "" || o.Password != "" {
			return nil, errors.New("fetch: proxy credentials without proxy URL")
		}
		return http.ProxyFromEnvironment, nil
	}
	pu, err := url.Parse(o.URL)
	if err != nil {
		return nil, fmt.Errorf("fetch: parsing proxy URL: %w", redactURLError(err))
	}
	switch pu.Scheme {
	case "http", "https", "socks5", "socks5h":
	default:
		return nil, fmt.Errorf("fetch: proxy URL %s: unsupported scheme %q", redact(pu), pu.Scheme)
	}
	if pu.Host == "" {
		return nil, fmt.Errorf("fetch: proxy URL %s: missing host", redact(pu))
	}
	if o.Username != "" {
		pu.User = url.UserPassword(o.Username, o.Password)
	}
	noProxy := parseNoProxy(o.NoProxy)
	return func(r *http.Request) (*url.URL, error) {
		if noProxy.match(r.URL.Hostname()) {
			return nil, nil
		}
		return pu, nil
	}, nil
}

type noProxyList struct {
	all      bool
	names    []string // lower case, without leading dot
	prefixes []netip.Prefix
}

func parseNoProxy(s string) noProxyList {
	var l noProxyList
	for f := range strings.SplitSeq(s, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		switch {
		case f == "":
		case f == "*":
			l.all = true
		default:
			if p, err := netip.ParsePrefix(f); err == nil {
				l.prefixes = append(l.prefixes, p.Masked())
				continue
			}
			if a, err := netip.ParseAddr(f); err == nil {
				l.prefixes = append(l.prefixes, netip.PrefixFrom(a, a.BitLen()))
				continue
			}
			if h, _, err := net.SplitHostPort(f); err == nil {
				f = h
			}
			l.names = append(l.names, strings.TrimPrefix(f, "."))
		}
	}
	return l
}

func (l noProxyList) match(host string) bool {
	if l.all {
		return true
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if a, err := netip.ParseAddr(host); err == nil {
		for _, p := range l.prefixes {
			if p.Contains(a.Unmap()) {
				return true
			}
		}
		return false
	}
	for _, n := range l.names {
		if host == n || strings.HasSuffix(host, "."+n) {
			return true
		}
	}
	return false
}
