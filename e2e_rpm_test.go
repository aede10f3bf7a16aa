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
	"time"

	"github.com/chantal-lite/chantal"
	"github.com/chantal-lite/chantal/config"
)

// dnfTimeout bounds one dnf invocation.
const dnfTimeout = 3 * time.Minute

// rpmFixtures is the committed fixture repository (createrepo_c metadata,
// hello requiring libgreet, an advisory for hello-1.1).
var rpmFixtures = filepath.Join("testdata", "rpm", "repo")

// needDNF returns the dnf binary, skipping the test when there is none
// (failing instead under CHANTAL_E2E=require).
func needDNF(t *testing.T) string {
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

// serveDir serves a directory over HTTP for the test's lifetime.
func serveDir(t *testing.T, dir string) string {
	t.Helper()
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

// rpmMirror opens a Mirror with one rpm repository "el" in the given mode.
func rpmMirror(t *testing.T, feed, mode string) *chantal.Mirror {
	t.Helper()
	return rpmMirrorExtra(t, feed, mode, "")
}

// rpmMirrorExtra is rpmMirror with more YAML for the repository.
func rpmMirrorExtra(t *testing.T, feed, mode, extra string) *chantal.Mirror {
	t.Helper()
	dir := t.TempDir()
	feedLine := ""
	if feed != "" {
		feedLine = "    feed: " + feed
	}
	yaml := fmt.Sprintf(`
storage:
  base_path: %s
  published_path: %s
download: {parallel: 4, retries: 1, timeout: 30s}
repositories:
  - id: el
    type: rpm
    mode: %s
%s
%s
`, filepath.Join(dir, "data"), filepath.Join(dir, "pub"), mode, feedLine, extra)
	p := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p, nil)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	m, err := chantal.Open("", chantal.WithConfig(cfg), chantal.WithNoSync())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// dnfEnv is a throwaway dnf configuration and installroot for one repository.
type dnfEnv struct {
	t    *testing.T
	bin  string
	dir  string
	conf string
}

// newDNF writes a dnf.conf and a repo file for baseurl. With gpgKey (a file
// path) set, repo_gpgcheck=1 makes dnf verify repomd.xml.asc with that key.
func newDNF(t *testing.T, bin, baseurl, gpgKey string) *dnfEnv {
	t.Helper()
	dir := t.TempDir()
	repos := filepath.Join(dir, "repos.d")
	if err := os.MkdirAll(repos, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "dnf.conf")
	main := fmt.Sprintf("[main]\ngpgcheck=0\nplugins=0\ninstall_weak_deps=0\nkeepcache=0\nreposdir=%s\ncachedir=%s\nlogdir=%s\n",
		repos, filepath.Join(dir, "cache"), filepath.Join(dir, "log"))
	repo := fmt.Sprintf("[e2e]\nname=chantal-lite e2e\nbaseurl=%s\nenabled=1\ngpgcheck=0\nmetadata_expire=0\nskip_if_unavailable=0\n", baseurl)
	if gpgKey != "" {
		repo += "repo_gpgcheck=1\ngpgkey=file://" + filepath.ToSlash(gpgKey) + "\n"
	} else {
		repo += "repo_gpgcheck=0\n"
	}
	for p, b := range map[string]string{conf: main, filepath.Join(repos, "e2e.repo"): repo} {
		if err := os.WriteFile(p, []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return &dnfEnv{t: t, bin: bin, dir: dir, conf: conf}
}

// run runs dnf against the installroot and returns its combined output.
func (d *dnfEnv) run(args ...string) (string, error) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), dnfTimeout)
	defer cancel()
	full := append([]string{"-c", d.conf, "--installroot", filepath.Join(d.dir, "root"), "--releasever", "9",
		"--setopt=reposdir=" + filepath.Join(d.dir, "repos.d"), "--assumeyes", "--quiet"}, args...)
	cmd := exec.CommandContext(ctx, d.bin, full...)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		d.t.Fatalf("dnf %s: timed out after %v\n%s", strings.Join(args, " "), dnfTimeout, out)
	}
	return string(out), err
}

func (d *dnfEnv) must(args ...string) string {
	d.t.Helper()
	out, err := d.run(args...)
	if err != nil {
		d.t.Fatalf("dnf %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// checkDNF drives stock dnf against a published repository: metadata loads,
// every package is listed, and installing hello pulls libgreet in.
func checkDNF(t *testing.T, env *dnfEnv) {
	t.Helper()
	env.must("makecache")
	out := env.must("repoquery", "--available", "--queryformat", "%{name}-%{evr}.%{arch}\n")
	for _, want := range []string{"hello-1.0-1.x86_64", "hello-1.1-1.x86_64", "libgreet-2.0-1.x86_64", "greet-data-1:0.5-3.noarch"} {
		if !strings.Contains(out, want) {
			t.Errorf("repoquery does not list %s:\n%s", want, out)
		}
	}
	out = env.must("repoquery", "--requires", "--resolve", "hello-1.1")
	if !strings.Contains(out, "libgreet-0:2.0-1.x86_64") {
		t.Errorf("hello's requirements do not resolve to libgreet:\n%s", out)
	}
	dl := filepath.Join(env.dir, "download")
	env.must("install", "--downloadonly", "--downloaddir", dl, "hello")
	for _, f := range []string{"hello-1.1-1.x86_64.rpm", "libgreet-2.0-1.x86_64.rpm"} {
		if _, err := os.Stat(filepath.Join(dl, f)); err != nil {
			t.Errorf("install --downloadonly hello did not fetch %s: %v", f, err)
		}
	}
}

// checkAdvisory installs hello-1.0 into the installroot; dnf then lists the
// fixture advisory, whose pkglist names hello-1.1, as an available update.
func checkAdvisory(t *testing.T, env *dnfEnv) {
	t.Helper()
	env.must("install", "--setopt=tsflags=nodocs", "hello-1.0-1")
	out := env.must("updateinfo", "list", "--available")
	if !strings.Contains(out, "FEDORA-2026-0123456789") || !strings.Contains(out, "hello-1.1-1.x86_64") {
		t.Errorf("updateinfo list does not show the advisory for hello-1.1:\n%s", out)
	}
}

func TestE2ERPMMirror(t *testing.T) {
	bin := needDNF(t)
	m := rpmMirror(t, serveDir(t, rpmFixtures), "mirror")
	ctx := context.Background()
	res := mustSync(t, m, chantal.SyncRequest{Repos: []string{"el"}})
	if res.Err != nil || len(res.Failed) > 0 {
		t.Fatalf("sync: %v, failed items %v", res.Err, res.Failed)
	}
	pub, err := m.Publish(ctx, chantal.PublishRequest{Repo: "el"})
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	// Mirror mode republishes upstream metadata byte for byte.
	for _, p := range []string{"repodata/repomd.xml"} {
		want, _ := os.ReadFile(filepath.Join(rpmFixtures, p))
		got, err := os.ReadFile(filepath.Join(pub.Target, p))
		if err != nil || string(got) != string(want) {
			t.Errorf("%s is not the upstream file (err %v)", p, err)
		}
	}
	// The fixture repomd.xml is not signed, so dnf checks no repo signature.
	env := newDNF(t, bin, serveDir(t, pub.Target), "")
	checkDNF(t, env)
	checkAdvisory(t, env)
}

func TestE2ERPMFiltered(t *testing.T) {
	bin := needDNF(t)
	m := rpmMirror(t, serveDir(t, rpmFixtures), "filtered")
	ctx := context.Background()
	res := mustSync(t, m, chantal.SyncRequest{Repos: []string{"el"}})
	if res.Err != nil || len(res.Failed) > 0 {
		t.Fatalf("sync: %v, failed items %v", res.Err, res.Failed)
	}
	pub, err := m.Publish(ctx, chantal.PublishRequest{Repo: "el"})
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if pub.KeyFile == "" {
		t.Fatal("filtered publish wrote no public key")
	}
	for _, p := range []string{"repodata/repomd.xml.asc", "Packages/h/hello-1.1-1.x86_64.rpm", "Packages/l/libgreet-2.0-1.x86_64.rpm"} {
		if _, err := os.Stat(filepath.Join(pub.Target, p)); err != nil {
			t.Errorf("published tree lacks %s: %v", p, err)
		}
	}
	env := newDNF(t, bin, serveDir(t, pub.Target), pub.KeyFile)
	checkDNF(t, env)
	checkAdvisory(t, env)

	t.Run("tampered repomd", func(t *testing.T) {
		// Published files are hard links into the pool: tamper with a copy.
		dst := t.TempDir()
		copyTree(t, pub.Target, dst)
		p := filepath.Join(dst, "repodata", "repomd.xml")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		i := strings.Index(string(b), "<revision>") + len("<revision>")
		b[i] ^= 0x01 // a digit stays a digit: the XML is still valid
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		bad := newDNF(t, bin, serveDir(t, dst), pub.KeyFile)
		if out, err := bad.run("makecache"); err == nil {
			t.Errorf("dnf makecache accepted a tampered repomd.xml with repo_gpgcheck=1:\n%s", out)
		}
		// The same copy untouched is accepted, so the failure above is the signature's.
		b[i] ^= 0x01
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		good := newDNF(t, bin, serveDir(t, dst), pub.KeyFile)
		good.must("makecache")
	})
}

// TestE2ERPMCompressions: dnf reads regenerated metadata in every
// compression; each index is a header, the packages' segment and a footer
// compressed apart (gzip members, zstd frames, xz blocks of one stream).
func TestE2ERPMCompressions(t *testing.T) {
	bin := needDNF(t)
	for _, c := range []string{"gz", "xz", "zst", "none"} {
		t.Run(c, func(t *testing.T) {
			m := rpmMirrorExtra(t, serveDir(t, rpmFixtures), "filtered", "    rpm: {compression: "+c+"}")
			mustSync(t, m, chantal.SyncRequest{Repos: []string{"el"}})
			pub, err := m.Publish(context.Background(), chantal.PublishRequest{Repo: "el"})
			if err != nil {
				t.Fatalf("Publish: %v", err)
			}
			md, err := os.ReadFile(filepath.Join(pub.Target, "repodata", "repomd.xml"))
			if err != nil {
				t.Fatal(err)
			}
			if ext := map[string]string{"gz": ".xml.gz", "xz": ".xml.xz", "zst": ".xml.zst", "none": "-primary.xml\""}[c]; !strings.Contains(string(md), ext) {
				t.Fatalf("repomd.xml names no %s index:\n%s", ext, md)
			}
			env := newDNF(t, bin, serveDir(t, pub.Target), pub.KeyFile)
			checkDNF(t, env)
		})
	}
}

func TestE2ERPMHosted(t *testing.T) {
	bin := needDNF(t)
	m := rpmMirror(t, "", "hosted")
	ctx := context.Background()
	var files []string
	for _, f := range []string{"hello-1.0-1.x86_64.rpm", "hello-1.1-1.x86_64.rpm", "libgreet-2.0-1.x86_64.rpm", "greet-data-0.5-3.noarch.rpm"} {
		files = append(files, filepath.Join(rpmFixtures, "Packages", f))
	}
	if _, err := m.Upload(ctx, chantal.UploadRequest{Repo: "el", Files: files}); err != nil {
		t.Fatalf("Upload: %v", err)
	}
	pub, err := m.Publish(ctx, chantal.PublishRequest{Repo: "el"})
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	env := newDNF(t, bin, serveDir(t, pub.Target), pub.KeyFile)
	checkDNF(t, env)
}

// copyTree copies src to dst, following symlinks, so that the copy can be
// changed without touching the published tree or the pool.
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		s, d := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		fi, err := os.Stat(s)
		if err != nil {
			t.Fatal(err)
		}
		if fi.IsDir() {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			copyTree(t, s, d)
			continue
		}
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(d, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestE2ERPMUpstreamKey: a mirror of a signed upstream republishes its key as
// RPM-GPG-KEY-<repo>; stock dnf pointed at that URL alone (repo_gpgcheck=1,
// gpgcheck=1) verifies upstream's repomd.xml.asc, installs the signed
// package and refuses the unsigned one.
func TestE2ERPMUpstreamKey(t *testing.T) {
	bin := needDNF(t)
	up := newRPMUpstream(t, rpmFixtures)
	repoKey := up.sign(t)
	pkgKey, _ := filepath.Abs(filepath.Join("testdata", "rpm", "RPM-GPG-KEY-fixtures"))
	m := rpmMirrorWith(t, up.url, "mirror", fmt.Sprintf("    verify: {keys: [%s, %s]}", pkgKey, repoKey))
	if rr := syncEl(t, m); rr.Err != nil || len(rr.Failed) != 0 {
		t.Fatalf("sync: %+v", rr)
	}
	pub := publishEl(t, m)
	base := serveDir(t, pub.Target)
	env := newDNF(t, bin, base, "")
	repo := fmt.Sprintf("[e2e]\nname=chantal-lite e2e\nbaseurl=%s\nenabled=1\nmetadata_expire=0\nskip_if_unavailable=0\n"+
		"repo_gpgcheck=1\ngpgcheck=1\ngpgkey=%sRPM-GPG-KEY-el\n", base, base)
	if err := os.WriteFile(filepath.Join(env.dir, "repos.d", "e2e.repo"), []byte(repo), 0o644); err != nil {
		t.Fatal(err)
	}
	env.must("makecache")
	env.must("install", "--setopt=tsflags=nodocs", "greet-data")
	if out, err := env.run("install", "--setopt=tsflags=nodocs", "libgreet"); err == nil || !strings.Contains(out, "GPG check FAILED") {
		t.Errorf("dnf with gpgcheck=1 did not refuse an unsigned package (%v):\n%s", err, out)
	}
}
