package chantal_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chantal-lite/chantal"
	"github.com/chantal-lite/chantal/config"
	"github.com/chantal-lite/chantal/formats/helm/helmtest"
)

// authLog serves files and records the Authorization header of each request.
type authLog struct {
	mu    sync.Mutex
	seen  []string
	files map[string][]byte
}

func (a *authLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.seen = append(a.seen, r.Header.Get("Authorization"))
	b, ok := a.files[strings.TrimPrefix(r.URL.Path, "/")]
	a.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Write(b)
}

func (a *authLog) auth() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.seen...)
}

// TestHelmRemoteCharts syncs an index whose charts live on the feed, on a
// second host (absolute URL) and in an OCI registry, and publishes them all
// under relative URLs. Credentials go to the feed's host only.
func TestHelmRemoteCharts(t *testing.T) {
	read := func(p string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "helm", p))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	reg := helmtest.NewRegistry(t, "", "")
	reg.Push("charts/delta", "3.0.0", read("oci/delta-3.0.0.tgz"))
	other := &authLog{files: map[string][]byte{"x/epsilon-1.0.0.tgz": read("remote/epsilon-1.0.0.tgz")}}
	otherSrv := httptest.NewServer(other)
	t.Cleanup(otherSrv.Close)
	feed := &authLog{files: map[string][]byte{"repo/charts/alpha-0.2.0.tgz": read("repo/charts/alpha-0.2.0.tgz")}}
	feedSrv := httptest.NewServer(feed)
	t.Cleanup(feedSrv.Close)
	idx := strings.NewReplacer("@@BASE@@", feedSrv.URL+"/repo/", "@@OTHER@@", otherSrv.URL+"/x/", "@@OCI@@", reg.Host()).Replace(string(read("remote/index.yaml.tmpl")))
	feed.files["repo/index.yaml"] = []byte(idx)

	for _, mode := range []string{"mirror", "filtered"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			cfg, err := config.Parse([]byte(fmt.Sprintf(`
storage: {base_path: %s, published_path: %s}
repositories:
  - id: charts
    type: helm
    mode: %s
    feed: %s/repo/
    auth: {type: basic, username: robot, password: s3cret}
    helm: {oci_plain_http: true}
`, filepath.Join(dir, "data"), filepath.Join(dir, "pub"), mode, feedSrv.URL)), filepath.Join(dir, "c.yaml"), nil)
			if err != nil {
				t.Fatal(err)
			}
			m, err := chantal.Open("", chantal.WithConfig(cfg), chantal.WithNoSync())
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			rr := mustSync(t, m, chantal.SyncRequest{Repos: []string{"charts"}})
			if rr.Err != nil || len(rr.Failed) != 0 || len(rr.Added) != 3 {
				t.Fatalf("sync: %+v", rr)
			}
			pub, err := m.Publish(ctx, chantal.PublishRequest{Repo: "charts"})
			if err != nil {
				t.Fatal(err)
			}
			out, err := os.ReadFile(filepath.Join(pub.Target, "index.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			for _, chart := range []string{"charts/alpha-0.2.0.tgz", "charts/delta-3.0.0.tgz", "charts/epsilon-1.0.0.tgz"} {
				if !strings.Contains(string(out), chart) {
					t.Errorf("published index lacks %s:\n%s", chart, out)
				}
				if _, err := os.Stat(filepath.Join(pub.Target, chart)); err != nil {
					t.Errorf("published tree lacks %s: %v", chart, err)
				}
			}
			if strings.Contains(string(out), "oci://") || strings.Contains(string(out), "http://") {
				t.Errorf("published index still names remote locations:\n%s", out)
			}
		})
	}
	for _, a := range other.auth() {
		if a != "" {
			t.Errorf("the second host received credentials %q", a)
		}
	}
	for _, a := range reg.AuthSeen() {
		if a != "" {
			t.Errorf("the registry received credentials %q", a)
		}
	}
	sawAuth := false
	for _, a := range feed.auth() {
		sawAuth = sawAuth || strings.HasPrefix(a, "Basic ")
	}
	if !sawAuth {
		t.Error("the feed never received its credentials")
	}
}
