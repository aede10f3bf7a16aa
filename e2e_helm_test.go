package chantal_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chantal-lite/chantal"
	"github.com/chantal-lite/chantal/config"
	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/formats/formattest"
	"github.com/chantal-lite/chantal/formats/helm"
	"github.com/chantal-lite/chantal/pool"
)

const helmFixtures = "testdata/helm"

// helmBinary finds stock helm in PATH or in $GOPATH/bin (where CI's
// "go install helm.sh/helm/v3/cmd/helm" puts it). Missing helm skips, or
// fails under CHANTAL_E2E=require.
func helmBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("helm"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if home, err := os.UserHomeDir(); err == nil {
			gopath = filepath.Join(home, "go")
		}
	}
	if p := filepath.Join(gopath, "bin", "helm"); gopath != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CHANTAL_E2E") == "require" {
		t.Fatal("helm not found (CHANTAL_E2E=require): go install helm.sh/helm/v3/cmd/helm@v3.22.0")
	}
	t.Skip("helm not found: go install helm.sh/helm/v3/cmd/helm@v3.22.0 to run this test")
	return ""
}

// helmClient runs stock helm with private config, cache and data homes.
type helmClient struct {
	t   *testing.T
	bin string
	env []string
}

func newHelmClient(t *testing.T) *helmClient {
	d := t.TempDir()
	env := append(os.Environ(),
		"HELM_CONFIG_HOME="+filepath.Join(d, "config"),
		"HELM_CACHE_HOME="+filepath.Join(d, "cache"),
		"HELM_DATA_HOME="+filepath.Join(d, "data"),
		"HELM_REPOSITORY_CONFIG="+filepath.Join(d, "config", "repositories.yaml"),
		"HELM_REPOSITORY_CACHE="+filepath.Join(d, "cache", "repository"),
	)
	return &helmClient{t: t, bin: helmBinary(t), env: env}
}

func (h *helmClient) run(args ...string) string {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.bin, args...)
	cmd.Env = h.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		h.t.Fatalf("helm %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// versions lists "chart@version" that helm search finds in repo, sorted by
// name and then in helm's own order.
func (h *helmClient) versions(repo string) []string {
	h.t.Helper()
	var res []struct{ Name, Version string }
	if err := json.Unmarshal([]byte(h.run("search", "repo", repo+"/", "--versions", "--devel", "-o", "json")), &res); err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, r := range res {
		out = append(out, strings.TrimPrefix(r.Name, repo+"/")+"@"+r.Version)
	}
	return out
}

// helmCountingServer serves dir and counts requests by path.
type helmCountingServer struct {
	mu  sync.Mutex
	n   map[string]int
	srv *httptest.Server
}

func helmServeDir(t *testing.T, dir string) *helmCountingServer {
	c := &helmCountingServer{n: map[string]int{}}
	fs := http.FileServer(http.Dir(dir))
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.n[strings.TrimPrefix(r.URL.Path, "/")]++
		c.mu.Unlock()
		fs.ServeHTTP(w, r)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *helmCountingServer) charts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for p, k := range c.n {
		if strings.HasSuffix(p, ".tgz") {
			n += k
		}
	}
	return n
}

func helmMirror(t *testing.T, feed, extra string) (*chantal.Mirror, string) {
	t.Helper()
	dir := t.TempDir()
	y := fmt.Sprintf(`
storage:
  base_path: %s
  published_path: %s
download: {parallel: 4, retries: 1, timeout: 10s}
repositories:
  - id: charts
    type: helm
    feed: %s
%s
`, filepath.Join(dir, "data"), filepath.Join(dir, "pub"), feed, extra)
	p := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p, nil)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	m, err := chantal.Open("", chantal.WithConfig(cfg), chantal.WithFormats(helm.New(nil)), chantal.WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, filepath.Join(dir, "pub")
}

func helmSyncPublish(t *testing.T, m *chantal.Mirror) (chantal.RepoSyncResult, string) {
	t.Helper()
	rr := mustSync(t, m, chantal.SyncRequest{Repos: []string{"charts"}})
	if rr.Err != nil || len(rr.Failed) > 0 {
		t.Fatalf("sync: %v, failed %v", rr.Err, rr.Failed)
	}
	pub, err := m.Publish(context.Background(), chantal.PublishRequest{Repo: "charts"})
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	return rr, pub.Target
}

func helmFixtureBytes(t *testing.T, p string) []byte {
	b, err := os.ReadFile(filepath.Join(helmFixtures, p))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHelmE2EMirror(t *testing.T) {
	up := helmServeDir(t, filepath.Join(helmFixtures, "repo"))
	m, _ := helmMirror(t, up.srv.URL+"/", "    mode: mirror")

	// check-updates (a dry-run sync) downloads no chart.
	dry := mustSync(t, m, chantal.SyncRequest{Repos: []string{"charts"}, DryRun: true})
	if dry.Err != nil || len(dry.Added) != 7 || up.charts() != 0 {
		t.Fatalf("dry run: err %v, %d added, %d chart requests", dry.Err, len(dry.Added), up.charts())
	}

	rr, target := helmSyncPublish(t, m)
	if rr.Wanted != 7 || rr.Downloaded != 7 {
		t.Errorf("sync wanted %d downloaded %d, want 7 (eta and zeta have no usable digest, broken is invalid)", rr.Wanted, rr.Downloaded)
	}
	again := mustSync(t, m, chantal.SyncRequest{Repos: []string{"charts"}})
	if !again.Unchanged {
		t.Errorf("second sync of an unchanged upstream was not a no-op: %+v", again)
	}

	pub := helmServeDir(t, target)
	h := newHelmClient(t)
	h.run("repo", "add", "mirror", pub.srv.URL)
	h.run("repo", "update")
	got := h.versions("mirror")
	want := []string{"alpha@1.0.0", "alpha@1.0.0-rc.1", "alpha@0.2.0", "alpha@0.1.0", "beta@2.1.0", "beta@1.0.0", "gamma@0.1.0"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("helm search: %v\nwant %v", got, want)
	}
	checkHelmOrder(t, got)
	dest := t.TempDir()
	h.run("pull", "mirror/alpha", "--version", "0.1.0", "-d", dest)
	if b, err := os.ReadFile(filepath.Join(dest, "alpha-0.1.0.tgz")); err != nil || !bytes.Equal(b, helmFixtureBytes(t, "repo/charts/alpha-0.1.0.tgz")) {
		t.Errorf("pulled chart differs from upstream: %v", err)
	}
	t.Run("verify", func(t *testing.T) {
		if _, err := os.Stat(filepath.Join(target, "charts/gamma-0.1.0.tgz.prov")); err != nil {
			t.Skip("the facade does not mirror .prov files yet (formats/helm.ProvenancePath, CheckProvenance)")
		}
		h.run("pull", "mirror/gamma", "--verify", "--keyring", filepath.Join(helmFixtures, "keyring.gpg"), "-d", t.TempDir())
	})
}

func TestHelmE2EFiltered(t *testing.T) {
	up := helmServeDir(t, filepath.Join(helmFixtures, "repo"))
	m, _ := helmMirror(t, up.srv.URL+"/", `    mode: filtered
    filters:
      patterns: {include: ["^(alpha|beta|gamma)$"]}
      versions: ">=0.1.0, <3"
      skip_deprecated: true
      skip_prerelease: true
      post_processing: {only_latest_n_versions: 2}`)
	_, target := helmSyncPublish(t, m)
	idx, err := os.ReadFile(filepath.Join(target, "index.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(idx, []byte("sha256:")) || bytes.Contains(idx, []byte("://")) {
		t.Errorf("regenerated index has prefixed digests or absolute urls:\n%s", idx)
	}
	pub := helmServeDir(t, target)
	h := newHelmClient(t)
	h.run("repo", "add", "filtered", pub.srv.URL)
	h.run("repo", "update")
	got := h.versions("filtered")
	want := []string{"alpha@1.0.0", "alpha@0.2.0", "beta@2.1.0", "gamma@0.1.0"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("helm search: %v\nwant %v", got, want)
	}
	dest := t.TempDir()
	h.run("pull", "filtered/beta", "-d", dest)
	if b, err := os.ReadFile(filepath.Join(dest, "beta-2.1.0.tgz")); err != nil || !bytes.Equal(b, helmFixtureBytes(t, "repo/charts/beta-2.1.0.tgz")) {
		t.Errorf("pulled chart differs from upstream: %v", err)
	}
	t.Run("verify", func(t *testing.T) {
		if _, err := os.Stat(filepath.Join(target, "charts/gamma-0.1.0.tgz.prov")); err != nil {
			t.Skip("the facade does not mirror .prov files yet (formats/helm.ProvenancePath, CheckProvenance)")
		}
		h.run("pull", "filtered/gamma", "--verify", "--keyring", filepath.Join(helmFixtures, "keyring.gpg"), "-d", t.TempDir())
	})
}

// TestHelmE2EHosted publishes uploaded charts (Inspect, then Render, as a
// hosted repository does) with a provenance file, and verifies with helm.
func TestHelmE2EHosted(t *testing.T) {
	h := newHelmClient(t)
	f := helm.New(nil)
	ctx := context.Background()
	out := t.TempDir()
	var items []formats.Item
	for _, p := range []string{"repo/charts/alpha-0.2.0.tgz", "repo/charts/gamma-0.1.0.tgz", "remote/epsilon-1.0.0.tgz", "oci/delta-3.0.0.tgz"} {
		b := helmFixtureBytes(t, p)
		it, err := f.Inspect(ctx, bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatalf("Inspect %s: %v", p, err)
		}
		it.Path = f.PublishPath(it)
		helmWriteFile(t, filepath.Join(out, it.Path), b)
		items = append(items, it)
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Path < items[j].Path })
	prov := helmFixtureBytes(t, "repo/charts/gamma-0.1.0.tgz.prov")
	pd := pool.Sum(prov)
	sink := &formattest.MemFS{}
	err := f.Render(ctx, formats.RenderRequest{
		Sink: sink, Mode: formats.ModeHosted, Items: items, Now: time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC),
		Files: []formats.File{{Path: helm.ProvenancePath("charts/gamma-0.1.0.tgz"), Digest: pd, Kind: helm.KindProvenance}},
		Open: func(_ context.Context, d pool.Digest) (io.ReadCloser, error) {
			if d != pd {
				return nil, fmt.Errorf("no file %s", d)
			}
			return io.NopCloser(bytes.NewReader(prov)), nil
		},
	})
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	for _, p := range sink.Paths() {
		b, _ := sink.Get(p)
		helmWriteFile(t, filepath.Join(out, p), b)
	}
	pub := helmServeDir(t, out)
	h.run("repo", "add", "hosted", pub.srv.URL)
	h.run("repo", "update")
	got := h.versions("hosted")
	want := []string{"alpha@0.2.0", "delta@3.0.0", "epsilon@1.0.0", "gamma@0.1.0"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("helm search: %v\nwant %v", got, want)
	}
	dest := t.TempDir()
	h.run("pull", "hosted/gamma", "--verify", "--keyring", filepath.Join(helmFixtures, "keyring.gpg"), "-d", dest)
	if _, err := os.Stat(filepath.Join(dest, "gamma-0.1.0.tgz")); err != nil {
		t.Errorf("verified pull left no chart: %v", err)
	}
	// A tampered provenance must make helm refuse the chart.
	bad := bytes.Replace(prov, []byte("gamma fixture chart"), []byte("gamma fixture chart!"), 1)
	helmWriteFile(t, filepath.Join(out, "charts/gamma-0.1.0.tgz.prov"), bad)
	cmd := exec.Command(h.bin, "pull", "hosted/gamma", "--verify", "--keyring", filepath.Join(helmFixtures, "keyring.gpg"), "-d", t.TempDir())
	cmd.Env = h.env
	if b, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("helm verified a tampered provenance file: %s", b)
	}
}

func helmWriteFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkHelmOrder checks that helm lists each chart's versions in the order of
// helm.Format.Compare, newest first: our SemVer order is the real tool's.
func checkHelmOrder(t *testing.T, got []string) {
	t.Helper()
	f := helm.New(nil)
	for i := 1; i < len(got); i++ {
		a, b := strings.SplitN(got[i-1], "@", 2), strings.SplitN(got[i], "@", 2)
		if a[0] == b[0] && f.Compare(a[1], b[1]) <= 0 {
			t.Errorf("helm lists %s before %s; Compare disagrees", got[i-1], got[i])
		}
	}
}
