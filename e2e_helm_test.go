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
			t.Fatalf("provenance not published beside its chart: %v", err)
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
			t.Fatalf("provenance not published beside its chart: %v", err)
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

// helmLoggingServer serves dir and records each request's path and status.
type helmLoggingServer struct {
	mu  sync.Mutex
	log []string // "path status"
	srv *httptest.Server
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(c int) { w.code = c; w.ResponseWriter.WriteHeader(c) }

func helmLogDir(t *testing.T, dir string) *helmLoggingServer {
	l := &helmLoggingServer{}
	fs := http.FileServer(http.Dir(dir))
	l.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		fs.ServeHTTP(sw, r)
		l.mu.Lock()
		l.log = append(l.log, fmt.Sprintf("%s %d", strings.TrimPrefix(r.URL.Path, "/"), sw.code))
		l.mu.Unlock()
	}))
	t.Cleanup(l.srv.Close)
	return l
}

// take returns the requests logged since the last call.
func (l *helmLoggingServer) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.log
	l.log = nil
	return out
}

// helmCopyRepo copies the fixture repository to a temporary directory.
func helmCopyRepo(t *testing.T) string {
	dir := t.TempDir()
	root := filepath.Join(helmFixtures, "repo")
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		helmWriteFile(t, filepath.Join(dir, rel), b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestHelmUnchangedIndex: a second sync of an unchanged upstream is a no-op
// costing exactly one request, the conditional GET of index.yaml (the index
// is fetched once per sync, never a second time by the scan: no TOCTOU). A
// changed index is fetched once too, and the next publish follows it.
func TestHelmUnchangedIndex(t *testing.T) {
	dir := helmCopyRepo(t)
	up := helmLogDir(t, dir)
	m, _ := helmMirror(t, up.srv.URL+"/", "    mode: mirror")
	rr, _ := helmSyncPublish(t, m)
	if rr.Downloaded != 7 {
		t.Fatalf("first sync downloaded %d charts, want 7", rr.Downloaded)
	}
	first := up.take()
	n := 0
	for _, r := range first {
		if strings.HasPrefix(r, helm.IndexPath+" ") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("first sync requested index.yaml %d times, want once: %v", n, first)
	}

	again := mustSync(t, m, chantal.SyncRequest{Repos: []string{"charts"}})
	reqs := up.take()
	if !again.Unchanged || again.Downloaded != 0 {
		t.Errorf("second sync was not a no-op: %+v", again)
	}
	t.Logf("second sync: %v", reqs)
	if len(reqs) != 1 || (reqs[0] != "index.yaml 304" && reqs[0] != "index.yaml 200") {
		t.Fatalf("second sync made requests %v, want exactly one for index.yaml (304, or 200 with identical bytes)", reqs)
	}

	// Upstream drops gamma: one index request, nothing downloaded, gamma unpublished.
	idx, err := os.ReadFile(filepath.Join(dir, "index.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	start := bytes.Index(idx, []byte("\n  gamma:\n"))
	end := bytes.Index(idx, []byte("\n  zeta:\n"))
	if start < 0 || end < start {
		t.Fatal("fixture index layout changed")
	}
	helmWriteFile(t, filepath.Join(dir, "index.yaml"), append(idx[:start:start], idx[end:]...))
	later := time.Now().Add(time.Minute)
	os.Chtimes(filepath.Join(dir, "index.yaml"), later, later)
	rr, target := helmSyncPublish(t, m)
	reqs = up.take()
	if len(reqs) != 1 || reqs[0] != "index.yaml 200" || len(rr.Removed) != 1 || rr.Downloaded != 0 {
		t.Errorf("sync after upstream dropped gamma: requests %v, removed %v, downloaded %d", reqs, rr.Removed, rr.Downloaded)
	}
	pubIdx, err := os.ReadFile(filepath.Join(target, "index.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(pubIdx, []byte("gamma")) {
		t.Errorf("published index still lists gamma:\n%s", pubIdx)
	}
	// gamma's file stays until no kept metadata version names it (publish.KeepVersions).
}

// TestHelmDigestMismatch: a chart whose bytes do not match the index digest
// fails alone (it is neither stored nor published), and a chart with the same
// bytes listed correctly elsewhere in the same sync is unharmed. (Filtered
// mode: a mirror-mode repository keeps its previous state when any payload
// fails.)
func TestHelmDigestMismatch(t *testing.T) {
	dir := helmCopyRepo(t)
	// alpha-0.2.0.tgz now holds alpha-0.1.0's bytes; the index still says 0.2.0's digest.
	good := helmFixtureBytes(t, "repo/charts/alpha-0.1.0.tgz")
	helmWriteFile(t, filepath.Join(dir, "charts/alpha-0.2.0.tgz"), good)
	up := helmServeDir(t, dir)
	m, _ := helmMirror(t, up.srv.URL+"/", "    mode: filtered")
	rr := mustSync(t, m, chantal.SyncRequest{Repos: []string{"charts"}})
	if rr.Err != nil || len(rr.Failed) != 1 || rr.Failed[0].Path != "charts/alpha-0.2.0.tgz" {
		t.Fatalf("sync: err %v, failed %v; want only alpha-0.2.0 failed", rr.Err, rr.Failed)
	}
	pub, err := m.Publish(context.Background(), chantal.PublishRequest{Repo: "charts"})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(pub.Target, "charts/alpha-0.1.0.tgz")); err != nil || !bytes.Equal(b, good) {
		t.Errorf("alpha-0.1.0 not published intact: %v", err)
	}
	if _, err := os.Stat(filepath.Join(pub.Target, "charts/alpha-0.2.0.tgz")); err == nil {
		t.Error("the mismatched chart was published")
	}
	idx, _ := os.ReadFile(filepath.Join(pub.Target, "index.yaml"))
	if bytes.Contains(idx, []byte("alpha-0.2.0")) {
		t.Errorf("published index lists the chart that failed:\n%s", idx)
	}
}

// TestHelmE2EHostedUpload builds a hosted chart repository with package
// upload (a chart's .prov beside it is taken along and checked), publishes
// it through the facade and consumes it with stock helm, provenance included.
func TestHelmE2EHostedUpload(t *testing.T) {
	h := newHelmClient(t)
	ctx := context.Background()
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	var files []string
	for _, p := range []string{"repo/charts/alpha-0.2.0.tgz", "repo/charts/gamma-0.1.0.tgz", "repo/charts/gamma-0.1.0.tgz.prov", "remote/epsilon-1.0.0.tgz"} {
		dst := filepath.Join(in, filepath.Base(p))
		helmWriteFile(t, dst, helmFixtureBytes(t, p))
		if filepath.Ext(p) == ".tgz" {
			files = append(files, dst)
		}
	}
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
storage: {base_path: %s, published_path: %s}
repositories:
  - {id: charts, type: helm, mode: hosted}
`, filepath.Join(dir, "data"), filepath.Join(dir, "pub"))), filepath.Join(dir, "c.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := chantal.Open("", chantal.WithConfig(cfg), chantal.WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.Upload(ctx, chantal.UploadRequest{Repo: "charts", Files: files})
	if err != nil || len(res.Added) != 3 {
		t.Fatalf("upload: %+v, %v", res, err)
	}
	// A .prov that does not belong to its chart is refused with the upload.
	bad := filepath.Join(dir, "bad")
	helmWriteFile(t, filepath.Join(bad, "alpha-0.2.0.tgz"), helmFixtureBytes(t, "repo/charts/alpha-0.2.0.tgz"))
	helmWriteFile(t, filepath.Join(bad, "alpha-0.2.0.tgz.prov"), helmFixtureBytes(t, "repo/charts/gamma-0.1.0.tgz.prov"))
	if _, err := m.Upload(ctx, chantal.UploadRequest{Repo: "charts", Files: []string{filepath.Join(bad, "alpha-0.2.0.tgz")}, Force: true}); err == nil {
		t.Fatal("a chart with another chart's provenance was accepted")
	}
	pub, err := m.Publish(ctx, chantal.PublishRequest{Repo: "charts"})
	if err != nil {
		t.Fatal(err)
	}
	srv := helmServeDir(t, pub.Target)
	h.run("repo", "add", "up", srv.srv.URL)
	h.run("repo", "update")
	if got, want := strings.Join(h.versions("up"), " "), "alpha@0.2.0 epsilon@1.0.0 gamma@0.1.0"; got != want {
		t.Errorf("helm search: %s, want %s", got, want)
	}
	h.run("pull", "up/gamma", "--verify", "--keyring", filepath.Join(helmFixtures, "keyring.gpg"), "-d", t.TempDir())
}
