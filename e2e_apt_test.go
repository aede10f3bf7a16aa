package chantal_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chantal-lite/chantal"
	"github.com/chantal-lite/chantal/config"
	"github.com/chantal-lite/chantal/formats/apt"
)

const aptFixtures = "testdata/apt"

// aptMirror opens a Mirror whose config has one apt repository "deb" with the
// given YAML body (indented under the repository).
func aptMirror(t *testing.T, body string) *chantal.Mirror {
	t.Helper()
	return aptMirrorRepos(t, "  - id: deb\n    type: apt\n"+body)
}

// aptMirrorRepos opens a Mirror whose config lists the given repositories
// (YAML list items).
func aptMirrorRepos(t testing.TB, repos string) *chantal.Mirror {
	t.Helper()
	dir := t.TempDir()
	yaml := fmt.Sprintf(`
storage:
  base_path: %s
  published_path: %s
download: {parallel: 4, retries: 1, timeout: 10s}
repositories:
%s
`, filepath.Join(dir, "data"), filepath.Join(dir, "pub"), repos)
	p := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p, nil)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	m, err := chantal.Open("", chantal.WithConfig(cfg), chantal.WithFormats(apt.New(nil)), chantal.WithNoSync())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// serveDir serves a directory over HTTP on 127.0.0.1; tamper, when not nil,
// may rewrite a response body by path.
func aptServeDir(t *testing.T, dir string, tamper func(p string, b []byte) []byte) string {
	t.Helper()
	fsrv := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tamper == nil {
			fsrv.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		fsrv.ServeHTTP(rec, r)
		b := tamper(strings.TrimPrefix(r.URL.Path, "/"), rec.Body.Bytes())
		for k, v := range rec.Header() {
			if k != "Content-Length" {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(rec.Code)
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

func aptFixture(t testing.TB, p string) string {
	t.Helper()
	a, err := filepath.Abs(filepath.Join(aptFixtures, p))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func aptSyncOK(t testing.TB, m *chantal.Mirror) chantal.RepoSyncResult {
	t.Helper()
	res, err := m.Sync(context.Background(), chantal.SyncRequest{Repos: []string{"deb"}})
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if err := res.Err(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	return res.Repos[0]
}

func aptPublishOK(t testing.TB, m *chantal.Mirror) *chantal.PublishResult {
	t.Helper()
	pub, err := m.Publish(context.Background(), chantal.PublishRequest{Repo: "deb"})
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	return pub
}

// aptClient is a stock apt-get working in a temp root.
type aptClient struct {
	t    *testing.T
	root string
	// dir is where apt-get runs (apt-get source downloads there).
	dir string
}

func newAptClient(t *testing.T, sourcesLine string) *aptClient {
	t.Helper()
	if _, err := exec.LookPath("apt-get"); err != nil {
		if os.Getenv("CHANTAL_E2E") == "require" {
			t.Fatalf("apt-get is required (CHANTAL_E2E=require): %v", err)
		}
		t.Skip("apt-get not installed; skipping the stock-client test (install the Debian package apt)")
	}
	root := t.TempDir()
	for _, d := range []string{"etc/apt/sources.list.d", "etc/apt/apt.conf.d", "etc/apt/preferences.d", "etc/apt/trusted.gpg.d",
		"var/lib/apt/lists/partial", "var/cache/apt/archives/partial", "var/lib/dpkg", "var/log/apt"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "etc/apt/sources.list"), []byte(sourcesLine+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	return &aptClient{t: t, root: root, dir: filepath.Join(root, "src")}
}

func (c *aptClient) run(args ...string) (string, error) {
	base := []string{
		"-o", "Dir=" + c.root,
		"-o", "Dir::State::status=" + filepath.Join(c.root, "var/lib/dpkg/status"),
		"-o", "APT::Architecture=amd64", "-o", "APT::Architectures=amd64",
		"-o", "Debug::NoLocking=1", "-o", "Acquire::Languages=none",
		"-o", "APT::Sandbox::User=root", "-o", "Acquire::Retries=0",
		"-o", "Acquire::http::Proxy=DIRECT", "-o", "Dir::Etc::SourceParts=" + filepath.Join(c.root, "etc/apt/sources.list.d"),
	}
	cmd := exec.Command("apt-get", append(base, args...)...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "http_proxy=", "HTTP_PROXY=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// update runs apt-get update and fails on any error or warning about the repository.
func (c *aptClient) update() {
	c.t.Helper()
	out, err := c.run("update")
	if err != nil || strings.Contains(out, "W: ") || strings.Contains(out, "E: ") {
		c.t.Fatalf("apt-get update: %v\n%s", err, out)
	}
}

// download runs apt-get install --download-only and returns the .debs fetched.
func (c *aptClient) download(pkgs ...string) []string {
	c.t.Helper()
	out, err := c.run(append([]string{"install", "--download-only", "-y", "--no-install-recommends"}, pkgs...)...)
	if err != nil {
		c.t.Fatalf("apt-get install --download-only %v: %v\n%s", pkgs, err, out)
	}
	ms, _ := filepath.Glob(filepath.Join(c.root, "var/cache/apt/archives/*.deb"))
	var names []string
	for _, m := range ms {
		names = append(names, filepath.Base(m))
	}
	return names
}

func aptHasPrefixIn(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func TestAPTMirrorWithStockApt(t *testing.T) {
	feed := aptServeDir(t, aptFixture(t, "repo"), nil)
	key := aptFixture(t, "fixtures-key.asc")
	m := aptMirror(t, fmt.Sprintf(`    feed: %s
    mode: mirror
    apt: {distribution: stable, components: [main, contrib], architectures: [amd64, arm64]}
    verify: {keys: [%s]}`, feed, key))
	rr := aptSyncOK(t, m)
	if rr.Wanted != 6 {
		t.Errorf("Wanted = %d, want 6 (arch:all counted once)", rr.Wanted)
	}
	pub := aptPublishOK(t, m)
	// Mirror mode is verbatim: every upstream index byte for byte.
	for _, p := range []string{"dists/stable/InRelease", "dists/stable/Release", "dists/stable/Release.gpg", "dists/stable/main/binary-amd64/Packages.xz", "dists/stable/main/binary-amd64/Packages", "dists/stable/main/i18n/Translation-en.bz2"} {
		want, _ := os.ReadFile(filepath.Join(aptFixture(t, "repo"), p))
		got, err := os.ReadFile(filepath.Join(pub.Target, p))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s not republished verbatim (err %v)", p, err)
		}
	}
	srv := aptServeDir(t, pub.Target, nil)
	c := newAptClient(t, fmt.Sprintf("deb [signed-by=%s] %s stable main contrib", key, srv))
	c.update()
	got := c.download("greet", "greet-notify")
	for _, w := range []string{"greet_1.1-1_amd64.deb", "libgreet1_1.0-1_amd64.deb", "greet-data_1.0-1_all.deb", "postgreet_2%3a0.9~rc1-1_amd64.deb", "greet-notify_1.0-1_all.deb"} {
		if !aptHasPrefixIn(got, strings.SplitN(w, "_", 2)[0]+"_") || !aptContains(got, w) {
			t.Errorf("apt-get did not download %s: %v", w, got)
		}
	}
}

func aptContains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestAPTFilteredWithStockApt(t *testing.T) {
	feed := aptServeDir(t, aptFixture(t, "repo-xz"), nil)
	key := aptFixture(t, "fixtures-key.asc")
	m := aptMirror(t, fmt.Sprintf(`    feed: %s
    mode: filtered
    apt: {distribution: stable, components: [main, contrib], architectures: [amd64, arm64]}
    verify: {keys: [%s]}
    filters:
      patterns: {include: ["^greet$"]}
      filter_with_deps: true
      post_processing: {only_latest_n_versions: 1}`, feed, key))
	aptSyncOK(t, m)
	pub := aptPublishOK(t, m)
	pk, err := os.ReadFile(filepath.Join(pub.Target, "dists/stable/main/binary-amd64/Packages"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(pk)
	for _, w := range []string{"Package: greet\n", "Version: 1.1-1\n", "Package: libgreet1\n", "Package: greet-data\n", "Filename: pool/main/g/greet/libgreet1_1.0-1_amd64.deb\n"} {
		if !strings.Contains(s, w) {
			t.Errorf("published Packages lacks %q:\n%s", w, s)
		}
	}
	if strings.Contains(s, "Version: 1.0-1\nArchitecture: amd64\nMaintainer: chantal-lite fixtures <fixtures@example.invalid>\nInstalled-Size: 1\nDepends") || strings.Contains(s, "postgreet") {
		t.Errorf("filtered Packages keeps what filters drop:\n%s", s)
	}
	arm, _ := os.ReadFile(filepath.Join(pub.Target, "dists/stable/main/binary-arm64/Packages"))
	if !strings.Contains(string(arm), "Package: greet-data\n") {
		t.Errorf("Architecture: all is not in binary-arm64/Packages:\n%s", arm)
	}
	rel, _ := os.ReadFile(filepath.Join(pub.Target, "dists/stable/Release"))
	if !strings.Contains(string(rel), "Suite: stable\n") || !strings.Contains(string(rel), "Codename: chantal-fixture\n") {
		t.Errorf("Release does not keep Suite and Codename apart:\n%s", rel)
	}
	srv := aptServeDir(t, pub.Target, nil)
	c := newAptClient(t, fmt.Sprintf("deb [signed-by=%s] %s stable main contrib", pub.KeyFile, srv))
	c.update()
	got := c.download("greet")
	for _, w := range []string{"greet_1.1-1_amd64.deb", "libgreet1_1.0-1_amd64.deb", "greet-data_1.0-1_all.deb"} {
		if !aptContains(got, w) {
			t.Errorf("apt-get did not download %s: %v", w, got)
		}
	}

	// A tampered Release (or InRelease) is rejected by apt.
	tampered := aptServeDir(t, pub.Target, func(p string, b []byte) []byte {
		if strings.HasSuffix(p, "/InRelease") || strings.HasSuffix(p, "/Release") {
			return bytes.Replace(b, []byte("Suite: stable"), []byte("Suite: stabl3"), 1)
		}
		return b
	})
	c2 := newAptClient(t, fmt.Sprintf("deb [signed-by=%s] %s stable main contrib", pub.KeyFile, tampered))
	out, err := c2.run("update")
	if err == nil && !strings.Contains(out, "E: ") && !strings.Contains(out, "W: ") {
		t.Errorf("apt-get update accepted a tampered Release:\n%s", out)
	}
	if out, err := c2.run("install", "--download-only", "-y", "greet"); err == nil {
		t.Errorf("apt-get installed from a tampered repository:\n%s", out)
	}
}

func TestAPTFallbacksAndFlat(t *testing.T) {
	key := aptFixture(t, "fixtures-key.asc")
	for _, tc := range []struct{ dir, apt string }{
		{"repo-byhash", "{distribution: stable, components: [main, contrib], architectures: [amd64]}"},
		{"repo-flat", "{flat: true, architectures: [amd64]}"},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			feed := aptServeDir(t, aptFixture(t, tc.dir), nil)
			m := aptMirror(t, fmt.Sprintf(`    feed: %s
    mode: filtered
    apt: %s
    verify: {keys: [%s]}`, feed, tc.apt, key))
			rr := aptSyncOK(t, m)
			if rr.Wanted < 4 {
				t.Errorf("Wanted = %d", rr.Wanted)
			}
			pub := aptPublishOK(t, m)
			srv := aptServeDir(t, pub.Target, nil)
			line := fmt.Sprintf("deb [signed-by=%s] %s stable main", pub.KeyFile, srv)
			if tc.dir == "repo-flat" {
				line = fmt.Sprintf("deb [signed-by=%s] %s ./", pub.KeyFile, srv)
			}
			c := newAptClient(t, line)
			c.update()
			if got := c.download("greet"); !aptContains(got, "libgreet1_1.0-1_amd64.deb") {
				t.Errorf("apt-get did not resolve Depends: %v", got)
			}
		})
	}
}

func TestAPTExpiredAndTamperedUpstream(t *testing.T) {
	key := aptFixture(t, "fixtures-key.asc")
	// Valid-Until in the past: the sync fails and keeps nothing.
	feed := aptServeDir(t, aptFixture(t, "repo-expired"), nil)
	m := aptMirror(t, fmt.Sprintf(`    feed: %s
    mode: mirror
    apt: {distribution: stable, components: [main]}
    verify: {keys: [%s]}`, feed, key))
	res, err := m.Sync(context.Background(), chantal.SyncRequest{Repos: []string{"deb"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Err(); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("sync of an expired upstream: %v, want an expiry error", err)
	}
	// A tampered InRelease fails and never falls back to the unsigned Release.
	feed = aptServeDir(t, aptFixture(t, "repo"), func(p string, b []byte) []byte {
		if strings.HasSuffix(p, "InRelease") {
			return bytes.Replace(b, []byte("Suite: stable"), []byte("Suite: stabl3"), 1)
		}
		return b
	})
	m = aptMirror(t, fmt.Sprintf(`    feed: %s
    mode: filtered
    apt: {distribution: stable, components: [main]}
    verify: {keys: [%s]}`, feed, key))
	res, err = m.Sync(context.Background(), chantal.SyncRequest{Repos: []string{"deb"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Err() == nil {
		t.Errorf("sync accepted a tampered InRelease")
	}
}

func aptDebs(t *testing.T, pattern string) []string {
	t.Helper()
	ms, err := filepath.Glob(filepath.Join(aptFixture(t, "."), pattern))
	if err != nil || len(ms) == 0 {
		t.Fatalf("no fixture matches %s", pattern)
	}
	return ms
}

// Hosted mode: uploaded .debs (fixture and real Debian ones) in two
// components are published signed, and stock apt resolves Depends across
// components, arch:all packages and Provides.
func TestAPTHostedWithStockApt(t *testing.T) {
	ctx := context.Background()
	m := aptMirrorRepos(t, `  - id: deb
    type: apt
    mode: hosted
    apt: {distribution: stable, components: [main, contrib], architectures: [amd64, arm64]}
  - id: other
    type: apt
    mode: hosted
    apt: {distribution: stable, components: [main, contrib], architectures: [amd64]}`)
	main := append(aptDebs(t, "debs-pool/main/g/greet/*.deb"), aptDebs(t, "real-debs/main/n/*/*.deb")...)
	res, err := m.Upload(ctx, chantal.UploadRequest{Repo: "deb", Files: main})
	if err != nil || len(res.Added) != len(main) {
		t.Fatalf("Upload main = %+v, %v", res, err)
	}
	// The same greet-data bytes go to another repository's contrib: the
	// digest-keyed item's component changes, this repository's must not.
	if _, err := m.Upload(ctx, chantal.UploadRequest{Repo: "other", Files: aptDebs(t, "debs-pool/main/g/greet/greet-data_*.deb"), Component: "contrib"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Upload(ctx, chantal.UploadRequest{Repo: "deb", Files: aptDebs(t, "debs-pool/contrib/*/*/*.deb"), Component: "contrib"}); err != nil {
		t.Fatal(err)
	}
	pub, err := m.Publish(ctx, chantal.PublishRequest{Repo: "deb"})
	if err != nil {
		t.Fatal(err)
	}
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(pub.Target, p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	mainPk, contribPk := read("dists/stable/main/binary-amd64/Packages"), read("dists/stable/contrib/binary-amd64/Packages")
	for _, w := range []string{"Package: greet-data\n", "Filename: pool/main/g/greet/greet-data_1.0-1_all.deb\n", "Package: node-once\n", "Filename: pool/main/n/node-wrappy/node-wrappy_1.0.2-3_all.deb\n", "Multi-Arch: foreign\n"} {
		if !strings.Contains(mainPk, w) {
			t.Errorf("main Packages lacks %q:\n%s", w, mainPk)
		}
	}
	if strings.Contains(contribPk, "greet-data") || !strings.Contains(contribPk, "Filename: pool/contrib/p/postgreet/postgreet_0.9~rc1-1_amd64.deb\n") {
		t.Errorf("contrib Packages:\n%s", contribPk)
	}
	if arm := read("dists/stable/main/binary-arm64/Packages"); !strings.Contains(arm, "Package: node-wrappy\n") || strings.Contains(arm, "Architecture: amd64") {
		t.Errorf("arm64 Packages:\n%s", arm)
	}
	for _, p := range []string{"dists/stable/InRelease", "dists/stable/Release.gpg"} {
		if _, err := os.Stat(filepath.Join(pub.Target, p)); err != nil {
			t.Errorf("hosted repository is not signed: %v", err)
		}
	}
	srv := aptServeDir(t, pub.Target, nil)
	c := newAptClient(t, fmt.Sprintf("deb [signed-by=%s] %s stable main contrib", pub.KeyFile, srv))
	c.update()
	got := c.download("greet", "greet-notify", "node-once")
	for _, w := range []string{"greet_1.1-1_amd64.deb", "libgreet1_1.0-1_amd64.deb", "greet-data_1.0-1_all.deb", "greet-notify_1.0-1_all.deb",
		"postgreet_2%3a0.9~rc1-1_amd64.deb", "node-once_1.4.0-7_all.deb", "node-wrappy_1.0.2-3_all.deb"} {
		if !aptContains(got, w) {
			t.Errorf("apt-get did not download %s: %v", w, got)
		}
	}
	// What apt downloaded is what was uploaded.
	for _, f := range main {
		want, _ := os.ReadFile(f)
		b, err := os.ReadFile(filepath.Join(c.root, "var/cache/apt/archives", filepath.Base(f)))
		if err == nil && !bytes.Equal(b, want) {
			t.Errorf("%s: downloaded bytes differ from the upload", filepath.Base(f))
		}
	}
}

// TestAPTHostedByHashWithStockApt: with by_hash the regenerated indexes get
// their by-hash names as hard links of the same file, and stock apt, told
// Acquire-By-Hash, fetches them by hash (the plain names are made to fail).
func TestAPTHostedByHashWithStockApt(t *testing.T) {
	ctx := context.Background()
	m := aptMirrorRepos(t, `  - id: deb
    type: apt
    mode: hosted
    apt: {distribution: stable, components: [main], architectures: [amd64], by_hash: true}`)
	if _, err := m.Upload(ctx, chantal.UploadRequest{Repo: "deb", Files: aptDebs(t, "debs-pool/main/g/greet/*.deb")}); err != nil {
		t.Fatal(err)
	}
	pub, err := m.Publish(ctx, chantal.PublishRequest{Repo: "deb"})
	if err != nil {
		t.Fatal(err)
	}
	rel, err := os.ReadFile(filepath.Join(pub.Target, "dists/stable/Release"))
	if err != nil || !strings.Contains(string(rel), "Acquire-By-Hash: yes") {
		t.Fatalf("Release without Acquire-By-Hash (%v):\n%s", err, rel)
	}
	dir := filepath.Join(pub.Target, "dists/stable/main/binary-amd64")
	plain, err := os.Stat(filepath.Join(dir, "Packages.xz"))
	if err != nil {
		t.Fatal(err)
	}
	hashed, _ := filepath.Glob(filepath.Join(dir, "by-hash", "SHA256", "*"))
	same := 0
	for _, h := range hashed {
		if fi, err := os.Stat(h); err == nil && os.SameFile(fi, plain) {
			same++
		}
	}
	if same != 1 {
		t.Fatalf("Packages.xz has %d by-hash links among %v", same, hashed)
	}
	// Only by-hash index names answer.
	srv := aptServeDir(t, pub.Target, func(p string, b []byte) []byte {
		if strings.Contains(p, "/binary-") && !strings.Contains(p, "/by-hash/") {
			return []byte("not the index")
		}
		return b
	})
	c := newAptClient(t, fmt.Sprintf("deb [signed-by=%s] %s stable main", pub.KeyFile, srv))
	c.update()
	if got := c.download("greet"); !aptContains(got, "greet_1.1-1_amd64.deb") {
		t.Errorf("apt-get did not download greet: %v", got)
	}
}

// Sources in mirror mode: everything upstream serves is republished byte for
// byte (InRelease, Release, Release.gpg, Sources variants), a variant the
// Release lists but upstream lacks does not fail the sync, and stock apt
// fetches the source package.
func TestAPTSourcesMirrorWithStockApt(t *testing.T) {
	up := aptFixture(t, "repo-src")
	feed := aptServeDir(t, up, nil)
	key := aptFixture(t, "fixtures-key.asc")
	m := aptMirror(t, fmt.Sprintf(`    feed: %s
    mode: mirror
    apt: {distribution: stable, components: [main], architectures: [amd64], sources: true}
    verify: {keys: [%s]}`, feed, key))
	aptSyncOK(t, m)
	pub := aptPublishOK(t, m)
	for _, p := range []string{"dists/stable/InRelease", "dists/stable/Release", "dists/stable/Release.gpg",
		"dists/stable/main/source/Sources.gz", "dists/stable/main/source/Sources.xz", "dists/stable/main/binary-amd64/Packages.gz",
		"pool/main/g-src/greet_1.1.orig.tar.gz", "pool/main/g-src/greet_1.1-1.dsc", "pool/main/n/node-once/node-once_1.4.0-7_all.deb"} {
		want, _ := os.ReadFile(filepath.Join(up, p))
		got, err := os.ReadFile(filepath.Join(pub.Target, p))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s not republished verbatim (err %v)", p, err)
		}
	}
	srv := aptServeDir(t, pub.Target, nil)
	c := newAptClient(t, fmt.Sprintf("deb [signed-by=%s] %s stable main\ndeb-src [signed-by=%s] %s stable main", key, srv, key, srv))
	c.update()
	aptSource(t, c, "greet", "greet_1.1-2.dsc", "greet_1.1.orig.tar.gz", "greet_1.1-2.debian.tar.xz")
	if got := c.download("node-once"); !aptContains(got, "node-wrappy_1.0.2-3_all.deb") {
		t.Errorf("apt-get did not resolve node-once's Depends: %v", got)
	}
}

// Debian's "listed but absent" uncompressed indexes cost no probes: a dry run
// requests none of them, a mirror sync requests each at most once (the
// download the facade skips on 404) and succeeds, and the published mirror
// serves stock apt.
func TestAPTMirrorListedButAbsentRequests(t *testing.T) {
	up := aptFixture(t, "repo-src")
	var mu sync.Mutex
	reqs := map[string]int{}
	fsrv := http.FileServer(http.Dir(up))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reqs[strings.TrimPrefix(r.URL.Path, "/")]++
		mu.Unlock()
		fsrv.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	key := aptFixture(t, "fixtures-key.asc")
	m := aptMirror(t, fmt.Sprintf(`    feed: %s/
    mode: mirror
    apt: {distribution: stable, components: [main], architectures: [amd64], sources: true}
    verify: {keys: [%s]}`, srv.URL, key))
	absent := []string{"dists/stable/main/binary-amd64/Packages", "dists/stable/main/source/Sources"}
	for _, p := range absent {
		if _, err := os.Stat(filepath.Join(up, p)); err == nil {
			t.Fatalf("fixture serves %s; the test needs it listed but absent", p)
		}
	}
	count := func(what string, max int) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		for _, p := range absent {
			if reqs[p] > max {
				t.Errorf("%s requested %s %d times, want at most %d (%v)", what, p, reqs[p], max, reqs)
			}
		}
		clear(reqs)
	}
	res, err := m.Sync(context.Background(), chantal.SyncRequest{Repos: []string{"deb"}, DryRun: true})
	if err != nil || res.Err() != nil {
		t.Fatalf("dry run: %v %v", err, res.Err())
	}
	count("a dry run", 0)
	aptSyncOK(t, m)
	count("a sync", 1)
	// An unchanged upstream costs one conditional request for InRelease.
	res, err = m.Sync(context.Background(), chantal.SyncRequest{Repos: []string{"deb"}})
	if err != nil || res.Err() != nil || !res.Repos[0].Unchanged {
		t.Fatalf("no-op sync: %v %v %+v", err, res.Err(), res.Repos)
	}
	mu.Lock()
	if len(reqs) != 1 || reqs["dists/stable/InRelease"] != 1 {
		t.Errorf("no-op sync made requests %v, want one for InRelease", reqs)
	}
	clear(reqs)
	mu.Unlock()
	pub := aptPublishOK(t, m)
	for _, p := range absent {
		if _, err := os.Stat(filepath.Join(pub.Target, p)); err == nil {
			t.Errorf("%s published although upstream lacks it", p)
		}
	}
	mirror := aptServeDir(t, pub.Target, nil)
	c := newAptClient(t, fmt.Sprintf("deb [signed-by=%s] %s stable main\ndeb-src [signed-by=%s] %s stable main", key, mirror, key, mirror))
	c.update()
	aptSource(t, c, "greet", "greet_1.1-2.dsc", "greet_1.1.orig.tar.gz", "greet_1.1-2.debian.tar.xz")
	if got := c.download("node-once"); !aptContains(got, "node-once_1.4.0-7_all.deb") {
		t.Errorf("apt-get did not download node-once: %v", got)
	}
}

// aptSource runs apt-get source --download-only and checks the files fetched.
func aptSource(t *testing.T, c *aptClient, pkg string, want ...string) {
	t.Helper()
	out, err := c.run("source", "--download-only", pkg)
	if err != nil {
		t.Fatalf("apt-get source %s: %v\n%s", pkg, err, out)
	}
	for _, w := range want {
		if _, err := os.Stat(filepath.Join(c.dir, w)); err != nil {
			t.Errorf("apt-get source did not fetch %s:\n%s", w, out)
		}
	}
}

// Sources in filtered mode with only_latest_n_versions: 1: the latest
// revision's .dsc keeps the orig tarball it shares with the older one, the
// older revision's own files go, and the re-signed tree serves stock apt
// (binaries from real Debian packages included).
func TestAPTSourcesFilteredWithStockApt(t *testing.T) {
	feed := aptServeDir(t, aptFixture(t, "repo-src"), nil)
	key := aptFixture(t, "fixtures-key.asc")
	m := aptMirror(t, fmt.Sprintf(`    feed: %s
    mode: filtered
    apt: {distribution: stable, components: [main], architectures: [amd64], sources: true}
    verify: {keys: [%s]}
    filters:
      patterns: {include: ["^greet$", "^node-once$"]}
      filter_with_deps: true
      post_processing: {only_latest_n_versions: 1}`, feed, key))
	aptSyncOK(t, m)
	pub := aptPublishOK(t, m)
	dir := filepath.Join(pub.Target, "pool/main/g/greet")
	for fn, want := range map[string]bool{"greet_1.1.orig.tar.gz": true, "greet_1.1-2.dsc": true, "greet_1.1-2.debian.tar.xz": true,
		"greet_1.1-1.dsc": false, "greet_1.1-1.debian.tar.xz": false, "greet_1.1-1_amd64.deb": true, "greet_1.0-1_amd64.deb": false} {
		if _, err := os.Stat(filepath.Join(dir, fn)); (err == nil) != want {
			t.Errorf("%s published = %v, want %v", fn, err == nil, want)
		}
	}
	srcs, err := os.ReadFile(filepath.Join(pub.Target, "dists/stable/main/source/Sources"))
	if err != nil || strings.Count(string(srcs), "Package: greet\n") != 1 || !strings.Contains(string(srcs), "Directory: pool/main/g/greet\n") {
		t.Errorf("Sources (%v):\n%s", err, srcs)
	}
	srv := aptServeDir(t, pub.Target, nil)
	c := newAptClient(t, fmt.Sprintf("deb [signed-by=%s] %s stable main\ndeb-src [signed-by=%s] %s stable main", pub.KeyFile, srv, pub.KeyFile, srv))
	c.update()
	aptSource(t, c, "greet", "greet_1.1-2.dsc", "greet_1.1.orig.tar.gz", "greet_1.1-2.debian.tar.xz")
	got := c.download("greet", "node-once")
	for _, w := range []string{"greet_1.1-1_amd64.deb", "libgreet1_1.0-1_amd64.deb", "greet-data_1.0-1_all.deb", "node-once_1.4.0-7_all.deb", "node-wrappy_1.0.2-3_all.deb"} {
		if !aptContains(got, w) {
			t.Errorf("apt-get did not download %s: %v", w, got)
		}
	}
}
