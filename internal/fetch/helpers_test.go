package fetch

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chantal-lite/chantal/pool"
)

// fast returns options with instant backoff, merged into o.
func fast(o *Options) *Options {
	if o == nil {
		o = &Options{}
	}
	if o.Backoff == nil {
		o.Backoff = func(int) time.Duration { return 0 }
	}
	return o
}

// newSource builds a Source and records every pause instead of sleeping.
func newSource(t *testing.T, base string, o *Options) (*Source, *sleepLog) {
	t.Helper()
	s, err := New(base, fast(o))
	if err != nil {
		t.Fatalf("New(%q): %v", base, err)
	}
	sl := &sleepLog{}
	s.sleep = sl.sleep
	return s, sl
}

type sleepLog struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *sleepLog) sleep(ctx context.Context, d time.Duration) error {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
	return ctx.Err()
}

func (l *sleepLog) all() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Duration(nil), l.d...)
}

func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func sums(b []byte) map[string]string {
	s256 := sha256.Sum256(b)
	s512 := sha512.Sum512(b)
	return map[string]string{
		"sha256": hex.EncodeToString(s256[:]),
		"sha512": hex.EncodeToString(s512[:]),
	}
}

func openPool(t *testing.T) *pool.Store {
	t.Helper()
	st, err := pool.Open(t.TempDir(), &pool.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func poolCount(t *testing.T, st *pool.Store) int {
	t.Helper()
	n := 0
	if err := st.Walk(context.Background(), func(pool.Info) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// dieMidBody answers 200 with the full Content-Length, sends only the first n
// bytes of data and resets the TCP connection.
func dieMidBody(t *testing.T, w http.ResponseWriter, data []byte, n int, etag string) {
	t.Helper()
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n", len(data))
	if etag != "" {
		fmt.Fprintf(buf, "Accept-Ranges: bytes\r\nETag: %s\r\n", etag)
	}
	fmt.Fprintf(buf, "\r\n")
	buf.Write(data[:n])
	buf.Flush()
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0) // close with RST
	}
	conn.Close()
}

// pki is a throw-away certificate authority.
type pki struct {
	ca    *x509.Certificate
	key   *ecdsa.PrivateKey
	pool  *x509.CertPool
	caPEM string // file name of the CA certificate
	dir   string
	n     int64
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	p := &pki{ca: ca, key: key, pool: x509.NewCertPool(), dir: t.TempDir(), n: 1}
	p.pool.AddCert(ca)
	p.caPEM = filepath.Join(p.dir, "ca.pem")
	writePEM(t, p.caPEM, "CERTIFICATE", der)
	return p
}

func writePEM(t *testing.T, name, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(name, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// issue makes a certificate; server ones are for 127.0.0.1. It writes
// <dir>/<file>.pem and <dir>/<file>-key.pem when dir is not empty.
func (p *pki) issue(t *testing.T, cn string, server bool, notBefore, notAfter time.Time, dir, file string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p.n++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.n),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if dir != "" {
		writePEM(t, filepath.Join(dir, file+".pem"), "CERTIFICATE", der)
		writePEM(t, filepath.Join(dir, file+"-key.pem"), "PRIVATE KEY", kder)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
