package chantal_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chantal-lite/chantal"
	"github.com/chantal-lite/chantal/config"
)

// pki is a throwaway CA with one server and one client certificate, written
// as PEM files the way a RHEL entitlement directory holds them.
type pki struct {
	dir                   string
	caFile                string
	serverCert            tls.Certificate
	clientCert, clientKey string
	pool                  *x509.CertPool
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CDN CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, cn string, server bool) ([]byte, []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature,
		}
		if server {
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		} else {
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalECPrivateKey(key)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	}
	p := &pki{dir: dir, caFile: filepath.Join(dir, "redhat-uep.pem"), pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	os.WriteFile(p.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644)
	sc, sk := issue(2, "127.0.0.1", true)
	if p.serverCert, err = tls.X509KeyPair(sc, sk); err != nil {
		t.Fatal(err)
	}
	cc, ck := issue(3, "entitlement", false)
	ent := filepath.Join(dir, "entitlement")
	os.MkdirAll(ent, 0o700)
	p.clientCert, p.clientKey = filepath.Join(ent, "1234.pem"), filepath.Join(ent, "1234-key.pem")
	os.WriteFile(p.clientCert, cc, 0o644)
	os.WriteFile(p.clientKey, ck, 0o600)
	return p
}

// TestRHELCDNClientCertificates syncs the rpm fixture from an https server
// that, like Red Hat's CDN, requires a client (entitlement) certificate.
func TestRHELCDNClientCertificates(t *testing.T) {
	p := newPKI(t)
	srv := httptest.NewUnstartedServer(http.FileServer(http.Dir(filepath.Join("testdata", "rpm", "repo"))))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.serverCert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: p.pool}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are the point of two cases
	srv.StartTLS()
	t.Cleanup(srv.Close)

	for _, c := range []struct {
		name, ssl string
		ok        bool
	}{
		{"cert and key", fmt.Sprintf("{ca_bundle: %s, client_cert: %s, client_key: %s}", p.caFile, p.clientCert, p.clientKey), true},
		{"entitlement directory", fmt.Sprintf("{ca_bundle: %s, cert_dir: %s}", p.caFile, filepath.Dir(p.clientCert)), true},
		{"no client certificate", fmt.Sprintf("{ca_bundle: %s}", p.caFile), false},
		{"unknown server CA", "{}", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg, err := config.Parse([]byte(fmt.Sprintf(`
storage: {base_path: %s}
download: {retries: 0}
repositories:
  - id: rhel9-baseos
    type: rpm
    mode: mirror
    feed: %s/
    ssl: %s
`, filepath.Join(dir, "data"), srv.URL, c.ssl)), filepath.Join(dir, "c.yaml"), nil)
			if err != nil {
				t.Fatal(err)
			}
			m, err := chantal.Open("", chantal.WithConfig(cfg), chantal.WithNoSync())
			if err != nil {
				t.Fatal(err)
			}
			res, err := m.Sync(context.Background(), chantal.SyncRequest{Repos: []string{"rhel9-baseos"}})
			if err != nil {
				t.Fatal(err)
			}
			rr := res.Repos[0]
			if c.ok && (rr.Err != nil || len(rr.Added) != 5) {
				t.Fatalf("sync: %+v", rr)
			}
			if !c.ok && rr.Err == nil {
				t.Fatalf("sync without a valid client certificate succeeded: %+v", rr)
			}
		})
	}
}
