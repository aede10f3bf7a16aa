// Package helmtest provides test servers for Helm chart repositories: a
// minimal in-process OCI distribution registry holding Helm charts.
package helmtest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Media types of a Helm chart in an OCI registry (as helm pushes it).
const (
	ConfigMediaType     = "application/vnd.cncf.helm.config.v1+json"
	ChartLayerMediaType = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
)

// Registry is a minimal OCI distribution server, pull side only (/v2/,
// manifests by tag or digest, blobs), optionally requiring basic auth. It
// serves plain http on 127.0.0.1.
type Registry struct {
	mu        sync.Mutex
	manifests map[string][]byte // "<repo>:<tag or digest>" → manifest
	blobs     map[string][]byte // digest → content
	user      string
	pass      string
	auth      []string
	srv       *httptest.Server
}

// NewRegistry starts a Registry, closed when t ends. With a non-empty user
// every request needs basic auth.
func NewRegistry(t testing.TB, user, pass string) *Registry {
	r := &Registry{manifests: map[string][]byte{}, blobs: map[string][]byte{}, user: user, pass: pass}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// Host returns host:port of the registry, as an oci:// reference names it.
func (r *Registry) Host() string { return strings.TrimPrefix(r.srv.URL, "http://") }

// AuthSeen returns the Authorization headers of every request so far.
func (r *Registry) AuthSeen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.auth...)
}

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// Push stores chart as repo:tag, with a Helm config blob and the chart as
// its only layer.
func (r *Registry) Push(repo, tag string, chart []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cfg := []byte(`{"name":"x","version":"` + tag + `"}`)
	cd, ld := digestOf(cfg), digestOf(chart)
	r.blobs[cd], r.blobs[ld] = cfg, chart
	m, _ := json.Marshal(map[string]any{ // plain values cannot fail
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        map[string]any{"mediaType": ConfigMediaType, "digest": cd, "size": len(cfg)},
		"layers":        []any{map[string]any{"mediaType": ChartLayerMediaType, "digest": ld, "size": len(chart)}},
	})
	r.manifests[repo+":"+tag] = m
	r.manifests[repo+":"+digestOf(m)] = m
}

func (r *Registry) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.auth = append(r.auth, req.Header.Get("Authorization"))
	if r.user != "" {
		u, p, ok := req.BasicAuth()
		if !ok || u != r.user || p != r.pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
			return
		}
	}
	p := req.URL.Path
	if p == "/v2/" {
		w.WriteHeader(http.StatusOK)
		return
	}
	if i := strings.LastIndex(p, "/manifests/"); strings.HasPrefix(p, "/v2/") && i > 0 {
		m, ok := r.manifests[p[len("/v2/"):i]+":"+p[i+len("/manifests/"):]]
		if !ok {
			http.Error(w, `{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		w.Header().Set("Docker-Content-Digest", digestOf(m))
		w.Header().Set("Content-Length", fmt.Sprint(len(m)))
		if req.Method != http.MethodHead {
			w.Write(m)
		}
		return
	}
	if i := strings.LastIndex(p, "/blobs/"); strings.HasPrefix(p, "/v2/") && i > 0 {
		b, ok := r.blobs[p[i+len("/blobs/"):]]
		if !ok {
			http.Error(w, `{"errors":[{"code":"BLOB_UNKNOWN"}]}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		w.Write(b)
		return
	}
	http.NotFound(w, req)
}
