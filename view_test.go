package chantal_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chantal-lite/chantal"
	"github.com/chantal-lite/chantal/config"
	testformat "github.com/chantal-lite/chantal/formats/formattest/lines"
	"github.com/chantal-lite/chantal/view"
)

// viewMirror opens a Mirror from a whole configuration body (repositories
// and views), with storage in a temp directory.
func viewMirror(t *testing.T, body string, opts ...chantal.Option) *chantal.Mirror {
	t.Helper()
	dir := t.TempDir()
	yaml := fmt.Sprintf("storage:\n  base_path: %s\n  published_path: %s\ndownload: {parallel: 4, retries: 1, timeout: 30s}\n%s",
		filepath.Join(dir, "data"), filepath.Join(dir, "pub"), body)
	p := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p, nil)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	opts = append([]chantal.Option{chantal.WithConfig(cfg), chantal.WithFormats(testformat.Format{}), chantal.WithNoSync()}, opts...)
	m, err := chantal.Open("", opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func syncAll(t *testing.T, m *chantal.Mirror, repos ...string) {
	t.Helper()
	res, err := m.Sync(context.Background(), chantal.SyncRequest{Repos: repos})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestViewPublishCollisionsAndViewSnapshot(t *testing.T) {
	u1, u2 := newUpstream(t), newUpstream(t)
	u1.add("a", "1.0")
	u1.add("b", "1.0")
	u2.add("a", "1.0") // the same path as r1's: r1 (first in config order) wins
	u2.add("c", "1.0")
	m := viewMirror(t, fmt.Sprintf(`repositories:
  - {id: r1, type: lines, feed: %s}
  - {id: r2, type: lines, feed: %s}
views:
  - {name: both, repos: [r1, r2]}
`, u1.srv.URL, u2.srv.URL))
	ctx := context.Background()
	syncAll(t, m, "r1", "r2")

	pub, err := m.Publish(ctx, chantal.PublishRequest{View: "both"})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(m.PublishedPath(), "views", "both", "latest"); pub.Target != want {
		t.Errorf("view target %s, want %s", pub.Target, want)
	}
	idx, err := os.ReadFile(filepath.Join(pub.Target, "index.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"pkgs/a-1.0.noarch.pkg", "pkgs/b-1.0.noarch.pkg", "pkgs/c-1.0.noarch.pkg"} {
		if strings.Count(string(idx), " "+p+" ") != 1 {
			t.Errorf("view index lists %s %d times:\n%s", p, strings.Count(string(idx), " "+p+" "), idx)
		}
		if _, err := os.Stat(filepath.Join(pub.Target, p)); err != nil {
			t.Errorf("payload %s: %v", p, err)
		}
	}
	// The payload at one path, and each member's upstream index.txt (a
	// repo-level file), are reported once each.
	if len(pub.Collisions) != 2 || pub.Collisions[0].Reason != view.SamePath || pub.Collisions[0].Kept != "r1" || pub.Collisions[0].Dropped != "r2" ||
		pub.Collisions[1].Reason != view.SameFile || pub.Collisions[1].Path != "index.txt" {
		t.Errorf("collisions %+v", pub.Collisions)
	}

	vs, err := m.ViewSnapshot(ctx, chantal.ViewSnapshotRequest{View: "both", Name: "{view}-{date}"})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs.Members) != 2 || vs.Format != "lines" {
		t.Errorf("view snapshot %+v", vs)
	}
	u1.add("d", "1.0")
	syncAll(t, m, "r1")
	if _, err := m.Publish(ctx, chantal.PublishRequest{View: "both"}); err != nil {
		t.Fatal(err)
	}
	idx, _ = os.ReadFile(filepath.Join(pub.Target, "index.txt"))
	if !strings.Contains(string(idx), "pkgs/d-1.0") {
		t.Errorf("the view's latest misses r1's new item:\n%s", idx)
	}
	vpub, err := m.Publish(ctx, chantal.PublishRequest{ViewSnapshot: "both/" + vs.Name})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(m.PublishedPath(), "views", "both", "snapshots", vs.Name); vpub.Target != want {
		t.Errorf("view snapshot target %s, want %s", vpub.Target, want)
	}
	vidx, _ := os.ReadFile(filepath.Join(vpub.Target, "index.txt"))
	if strings.Contains(string(vidx), "pkgs/d-1.0") || !strings.Contains(string(vidx), "pkgs/c-1.0") {
		t.Errorf("view snapshot index is not the frozen union:\n%s", vidx)
	}

	info, err := m.ShowView(ctx, "both")
	if err != nil || len(info.Members) != 2 || info.Format != "lines" || len(info.Snapshots) != 1 {
		t.Errorf("ShowView = %+v, %v", info, err)
	}
	if vl, err := m.Views(ctx); err != nil || len(vl) != 1 {
		t.Errorf("Views = %+v, %v", vl, err)
	}
}

// needDNFClient returns the dnf binary, skipping the test when there is none
// (failing instead under CHANTAL_E2E=require).
func needDNFClient(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("dnf")
	if err != nil {
		if os.Getenv("CHANTAL_E2E") == "require" {
			t.Fatalf("dnf not found and CHANTAL_E2E=require: %v", err)
		}
		t.Skip("dnf not installed; install it (Debian: apt-get install dnf) or set CHANTAL_E2E=require to make this a failure")
	}
	return bin
}

// dnfQuery runs stock dnf against one baseurl in a throwaway installroot and
// returns repoquery's NEVRAs, after checking that installing hello resolves
// (downloads) hello and libgreet.
func dnfQuery(t *testing.T, bin, baseurl string) string {
	t.Helper()
	dir := t.TempDir()
	repos := filepath.Join(dir, "repos.d")
	if err := os.MkdirAll(repos, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "dnf.conf")
	mainConf := fmt.Sprintf("[main]\ngpgcheck=0\nplugins=0\ninstall_weak_deps=0\nkeepcache=0\nreposdir=%s\ncachedir=%s\nlogdir=%s\n",
		repos, filepath.Join(dir, "cache"), filepath.Join(dir, "log"))
	repo := fmt.Sprintf("[e2e]\nname=chantal-lite e2e\nbaseurl=%s\nenabled=1\ngpgcheck=0\nrepo_gpgcheck=0\nmetadata_expire=0\nskip_if_unavailable=0\n", baseurl)
	if err := os.WriteFile(conf, []byte(mainConf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repos, "e2e.repo"), []byte(repo), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), dnfTimeout)
		defer cancel()
		full := append([]string{"-c", conf, "--installroot", filepath.Join(dir, "root"), "--releasever", "9",
			"--setopt=reposdir=" + repos, "--assumeyes", "--quiet"}, args...)
		cmd := exec.CommandContext(ctx, bin, full...)
		cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("dnf %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("makecache")
	out := run("repoquery", "--available", "--queryformat", "%{name}-%{evr}.%{arch}\n")
	dl := filepath.Join(dir, "download")
	run("install", "--downloadonly", "--downloaddir", dl, "hello")
	for _, f := range []string{"hello-1.1-1.x86_64.rpm", "libgreet-2.0-1.x86_64.rpm"} {
		if _, err := os.Stat(filepath.Join(dl, f)); err != nil {
			t.Errorf("install --downloadonly hello did not fetch %s: %v", f, err)
		}
	}
	return out
}

// TestE2EDNFViewAndSnapshot publishes a view of two repositories made from
// the rpm fixture with different filters (hello in one, its dependency
// libgreet in the other) and a snapshot, and lets stock dnf consume both.
func TestE2EDNFViewAndSnapshot(t *testing.T) {
	bin := needDNFClient(t)
	srv := httptest.NewServer(http.FileServer(http.Dir(filepath.Join("testdata", "rpm", "repo"))))
	t.Cleanup(srv.Close)
	m := viewMirror(t, fmt.Sprintf(`repositories:
  - id: apps
    type: rpm
    feed: %[1]s/
    filters: {patterns: {include: ["^hello$"]}}
  - id: libs
    type: rpm
    feed: %[1]s/
    filters: {patterns: {exclude: ["^hello$"]}}
  - {id: full, type: rpm, feed: %[1]s/}
views:
  - {name: el, repos: [apps, libs]}
`, srv.URL))
	ctx := context.Background()
	syncAll(t, m, "apps", "libs", "full")
	pub, err := m.Publish(ctx, chantal.PublishRequest{View: "el"})
	if err != nil {
		t.Fatalf("publish view: %v", err)
	}
	if len(pub.Collisions) != 0 {
		t.Errorf("disjoint members collided: %+v", pub.Collisions)
	}
	vsrv := httptest.NewServer(http.FileServer(http.Dir(pub.Target)))
	t.Cleanup(vsrv.Close)
	out := dnfQuery(t, bin, vsrv.URL+"/")
	for _, want := range []string{"hello-1.1-1.x86_64", "libgreet-2.0-1.x86_64", "greet-data-1:0.5-3.noarch"} {
		if !strings.Contains(out, want) {
			t.Errorf("view: repoquery does not list %s:\n%s", want, out)
		}
	}

	// A snapshot of the unfiltered repository, published after the
	// repository moved on (here: its filters changed).
	if _, err := m.Snapshot(ctx, chantal.SnapshotRequest{Repo: "full", Name: "s1"}); err != nil {
		t.Fatal(err)
	}
	spub, err := m.Publish(ctx, chantal.PublishRequest{Snapshot: "full/s1"})
	if err != nil {
		t.Fatalf("publish snapshot: %v", err)
	}
	ssrv := httptest.NewServer(http.FileServer(http.Dir(spub.Target)))
	t.Cleanup(ssrv.Close)
	out = dnfQuery(t, bin, ssrv.URL+"/")
	for _, want := range []string{"hello-1.0-1.x86_64", "hello-1.1-1.x86_64", "libgreet-2.0-1.x86_64"} {
		if !strings.Contains(out, want) {
			t.Errorf("snapshot: repoquery does not list %s:\n%s", want, out)
		}
	}
}
