package chantal_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chantal-lite/chantal"
	"github.com/chantal-lite/chantal/config"
	"github.com/chantal-lite/chantal/internal/pgp"
)

// rpmUpstream serves a private copy of an rpm repository with fault
// injection: paths in broken answer 500.
type rpmUpstream struct {
	dir  string
	url  string
	mu   sync.Mutex
	bad  map[string]bool
	hits map[string]int
	tick int
}

func newRPMUpstream(t testing.TB, from string) *rpmUpstream {
	t.Helper()
	u := &rpmUpstream{dir: t.TempDir(), bad: map[string]bool{}, hits: map[string]int{}}
	copyTree(t, from, u.dir)
	fs := http.FileServer(http.Dir(u.dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		p := strings.TrimPrefix(r.URL.Path, "/")
		bad := u.bad[p]
		u.hits[p]++
		u.mu.Unlock()
		if bad {
			http.Error(w, "injected failure", http.StatusInternalServerError)
			return
		}
		fs.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	u.url = srv.URL + "/"
	return u
}

func (u *rpmUpstream) hitsOf(p string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hits[p]
}

func (u *rpmUpstream) breakPath(p string, broken bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.bad[p] = broken
}

// sign writes repodata/repomd.xml.asc with a fresh key and returns the
// armored public key's file.
func (u *rpmUpstream) sign(t testing.TB) string {
	t.Helper()
	s, _, err := pgp.GenerateSigner(pgp.GenerateRequest{Name: "upstream repo key", Now: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(u.dir, "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.DetachSign(context.Background(), md)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(u.dir, "repodata", "repomd.xml.asc"), sig, 0o644); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "repo-key.asc")
	if err := os.WriteFile(p, s.PublicKey(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// rpmMirrorWith opens a Mirror with one rpm repository "el" and extra YAML
// lines for it (indented by four spaces).
func rpmMirrorWith(t testing.TB, feed, mode, extra string) *chantal.Mirror {
	t.Helper()
	dir := t.TempDir()
	yaml := fmt.Sprintf(`
storage:
  base_path: %s
  published_path: %s
download: {parallel: 4, retries: 0, timeout: 30s}
repositories:
  - id: el
    type: rpm
    mode: %s
    feed: %s
%s
`, filepath.Join(dir, "data"), filepath.Join(dir, "pub"), mode, feed, extra)
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

func syncEl(t testing.TB, m *chantal.Mirror) chantal.RepoSyncResult {
	t.Helper()
	return mustSync(t, m, chantal.SyncRequest{Repos: []string{"el"}})
}

func publishEl(t testing.TB, m *chantal.Mirror) *chantal.PublishResult {
	t.Helper()
	pub, err := m.Publish(context.Background(), chantal.PublishRequest{Repo: "el"})
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	return pub
}

var locRE = regexp.MustCompile(`<location href="([^"]+)"`)

// publishedPrimary returns the package locations of a published tree's
// primary, checking that each exists in the tree.
func publishedPrimary(t testing.TB, root string) []string {
	t.Helper()
	md, err := os.ReadFile(filepath.Join(root, "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)<data type="primary">.*?<location href="([^"]+)"`).FindSubmatch(md)
	if m == nil {
		t.Fatalf("repomd.xml lists no primary:\n%s", md)
	}
	raw, err := os.ReadFile(filepath.Join(root, string(m[1])))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	prim, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var locs []string
	for _, l := range locRE.FindAllSubmatch(prim, -1) {
		p := string(l[1])
		locs = append(locs, p)
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("primary names %s, which is not published: %v", p, err)
		}
	}
	return locs
}

func hasSuffixIn(list []string, suffix string) bool {
	for _, s := range list {
		if strings.HasSuffix(s, suffix) {
			return true
		}
	}
	return false
}

// Pitfall: a package whose signature does not verify (gpgcheck) is a failed
// item and is neither referenced nor published.
func TestRPMGPGCheck(t *testing.T) {
	up := newRPMUpstream(t, rpmFixtures)
	repoKey := up.sign(t)
	pkgKey, _ := filepath.Abs(filepath.Join("testdata", "rpm", "RPM-GPG-KEY-fixtures"))
	extra := fmt.Sprintf("    verify: {keys: [%s, %s], gpgcheck: true}", pkgKey, repoKey)
	m := rpmMirrorWith(t, up.url, "filtered", extra)
	res, err := m.Sync(context.Background(), chantal.SyncRequest{Repos: []string{"el"}})
	if err != nil {
		t.Fatal(err)
	}
	rr := res.Repos[0]
	// Pitfall #33: repomd.xml is fetched once; its signature is checked over
	// exactly the bytes parsed.
	if n := up.hitsOf("repodata/repomd.xml"); n != 1 {
		t.Errorf("repomd.xml fetched %d times, want once", n)
	}
	if !errors.Is(res.Err(), chantal.ErrPartial) {
		t.Fatalf("Err() = %v, want ErrPartial (unsigned packages)", res.Err())
	}
	if len(rr.Failed) != 4 {
		t.Fatalf("failed = %v, want the 4 unsigned packages", rr.Failed)
	}
	for _, f := range rr.Failed {
		if strings.Contains(f.Path, "greet-data") || !errors.Is(f.Err, chantal.ErrVerify) {
			t.Errorf("failed item %s: %v", f.Path, f.Err)
		}
	}
	pub := publishEl(t, m)
	locs := publishedPrimary(t, pub.Target)
	if len(locs) != 1 || !strings.HasSuffix(locs[0], "greet-data-0.5-3.noarch.rpm") {
		t.Errorf("published primary = %v, want greet-data only", locs)
	}
	if _, err := os.Stat(filepath.Join(pub.Target, "Packages", "h", "hello-1.1-1.x86_64.rpm")); err == nil {
		t.Error("an unverified package is published")
	}

	// The upstream keys are republished beside the repository, the signing
	// key stays the root's key.asc.
	got, err := os.ReadFile(filepath.Join(pub.Target, "RPM-GPG-KEY-el"))
	if err != nil {
		t.Fatalf("upstream key not published: %v", err)
	}
	kr, err := pgp.ReadKeyring(got)
	if err != nil || len(kr.Fingerprints()) != 2 {
		t.Fatalf("published upstream key: %v, %v", kr, err)
	}
	ours, err := os.ReadFile(pub.KeyFile)
	if err != nil || bytes.Equal(ours, got) || filepath.Dir(pub.KeyFile) == pub.Target {
		t.Errorf("signing key %s: %v", pub.KeyFile, err)
	}

	// Without gpgcheck every package is kept.
	m2 := rpmMirrorWith(t, up.url, "filtered", fmt.Sprintf("    verify: {keys: [%s, %s]}", pkgKey, repoKey))
	if rr := syncEl(t, m2); rr.Err != nil || len(rr.Failed) != 0 || len(rr.Added) != 5 {
		t.Fatalf("without gpgcheck: %+v", rr)
	}
}

// Pitfall: turning gpgcheck on later re-verifies what the state already
// holds (the settings are part of the sync's fingerprint).
func TestRPMGPGCheckTurnedOnLater(t *testing.T) {
	up := newRPMUpstream(t, rpmFixtures)
	repoKey := up.sign(t)
	pkgKey, _ := filepath.Abs(filepath.Join("testdata", "rpm", "RPM-GPG-KEY-fixtures"))
	dir := t.TempDir()
	write := func(gpgcheck bool) *config.Config {
		y := fmt.Sprintf(`
storage: {base_path: %s, published_path: %s}
repositories:
  - id: el
    type: rpm
    feed: %s
    verify: {keys: [%s, %s], gpgcheck: %t}
`, filepath.Join(dir, "data"), filepath.Join(dir, "pub"), up.url, pkgKey, repoKey, gpgcheck)
		p := filepath.Join(dir, "config.yaml")
		if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(p, nil)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	m, err := chantal.Open("", chantal.WithConfig(write(false)), chantal.WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	if rr := syncEl(t, m); len(rr.Failed) != 0 || len(rr.Added) != 5 {
		t.Fatalf("first sync: %+v", rr)
	}
	m.Close()
	m, err = chantal.Open("", chantal.WithConfig(write(true)), chantal.WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	rr := syncEl(t, m)
	if rr.Unchanged || len(rr.Failed) != 4 || len(rr.Removed) != 4 {
		t.Fatalf("sync with gpgcheck turned on: unchanged %v, failed %v, removed %v", rr.Unchanged, rr.Failed, rr.Removed)
	}
}

// Pitfall (dangling primary): a package whose download failed is not in the
// regenerated primary (filtered), and mirror mode, which republishes
// upstream's primary verbatim, keeps its previous consistent state instead
// of publishing a primary that names a missing file.
func TestRPMFailedPayloadNotInPrimary(t *testing.T) {
	up := newRPMUpstream(t, rpmFixtures)
	up.breakPath("Packages/hello-1.1-1.x86_64.rpm", true)

	t.Run("filtered", func(t *testing.T) {
		m := rpmMirrorWith(t, up.url, "filtered", "")
		rr := syncEl(t, m)
		if len(rr.Failed) != 1 || len(rr.Added) != 4 {
			t.Fatalf("sync: %+v", rr)
		}
		locs := publishedPrimary(t, publishEl(t, m).Target)
		if len(locs) != 4 || hasSuffixIn(locs, "hello-1.1-1.x86_64.rpm") {
			t.Errorf("primary = %v", locs)
		}
	})
	t.Run("mirror", func(t *testing.T) {
		m := rpmMirrorWith(t, up.url, "mirror", "")
		rr := syncEl(t, m)
		if len(rr.Failed) != 1 || strings.Trim(rr.State, "0") != "" {
			t.Fatalf("first sync with a failed payload committed a state: %+v", rr)
		}
		if _, err := m.Publish(context.Background(), chantal.PublishRequest{Repo: "el"}); err == nil {
			t.Fatal("published a mirror whose payload is missing")
		}
		up.breakPath("Packages/hello-1.1-1.x86_64.rpm", false)
		rr = syncEl(t, m)
		if rr.Err != nil || len(rr.Failed) != 0 || rr.Unchanged {
			t.Fatalf("retry: %+v", rr)
		}
		good := rr.State
		pub := publishEl(t, m)
		if locs := publishedPrimary(t, pub.Target); len(locs) != 5 {
			t.Errorf("primary = %v", locs)
		}
		// Upstream changes and one new payload fails: the published state
		// stays the previous, consistent one.
		changeUpstreamRevision(t, up)
		up.breakPath("Packages/extra-1-1.noarch.rpm", true)
		rr = syncEl(t, m)
		if len(rr.Failed) != 1 || rr.State != good {
			t.Fatalf("sync with a failed payload: state %s (want %s), failed %v", rr.State, good, rr.Failed)
		}
		if again := publishEl(t, m); !again.Unchanged {
			t.Errorf("publish after the failed sync changed the tree: %+v", again)
		}
		publishedPrimary(t, pub.Target)
	})
}

// changeUpstreamRevision adds a package (a copy of greet-data under another
// file name) by rewriting primary with a second entry; repomd.xml points at
// the new primary. It is enough for the facade to want a new payload.
func changeUpstreamRevision(t testing.TB, up *rpmUpstream) {
	t.Helper()
	rd := filepath.Join(up.dir, "repodata")
	mdPath := filepath.Join(rd, "repomd.xml")
	md, err := os.ReadFile(mdPath)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)<data type="primary">.*?</data>`).Find(md)
	href := regexp.MustCompile(`href="([^"]+)"`).FindSubmatch(m)[1]
	raw, err := os.ReadFile(filepath.Join(up.dir, string(href)))
	if err != nil {
		t.Fatal(err)
	}
	zr, _ := gzip.NewReader(bytes.NewReader(raw))
	prim, _ := io.ReadAll(zr)
	i := bytes.Index(prim, []byte(`<package type="rpm">`))
	j := bytes.Index(prim[i:], []byte("</package>")) + i + len("</package>")
	dup := string(prim[i:j])
	dup = regexp.MustCompile(`<name>[^<]*</name>`).ReplaceAllString(dup, "<name>extra</name>")
	dup = regexp.MustCompile(`<location href="[^"]*"/>`).ReplaceAllString(dup, `<location href="Packages/extra-1-1.noarch.rpm"/>`)
	dup = regexp.MustCompile(`<checksum type="sha256" pkgid="YES">[0-9a-f]*</checksum>`).ReplaceAllString(dup, `<checksum type="sha256" pkgid="YES">`+strings.Repeat("ab", 32)+`</checksum>`)
	prim = append(append(append([]byte{}, prim[:j]...), "\n"+dup...), prim[j:]...)
	prim = regexp.MustCompile(`packages="(\d+)"`).ReplaceAll(prim, []byte(`packages="6"`))
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write(prim)
	zw.Close()
	newHref := "repodata/changed-primary.xml.gz"
	if err := os.WriteFile(filepath.Join(up.dir, newHref), zb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	blk := string(m)
	blk = strings.Replace(blk, string(href), newHref, 1)
	blk = regexp.MustCompile(`<checksum type="sha256">[0-9a-f]+</checksum>`).ReplaceAllString(blk, `<checksum type="sha256">`+sha256hex(zb.Bytes())+`</checksum>`)
	blk = regexp.MustCompile(`<size>\d+</size>`).ReplaceAllString(blk, fmt.Sprintf("<size>%d</size>", zb.Len()))
	blk = regexp.MustCompile(`(?s)\s*<open-checksum.*?</open-checksum>|\s*<open-size>\d+</open-size>`).ReplaceAllString(blk, "")
	md = bytes.Replace(md, m, []byte(blk), 1)
	if err := os.WriteFile(mdPath, md, 0o644); err != nil {
		t.Fatal(err)
	}
	up.touch(t, mdPath)
}

// touch gives a rewritten upstream file a new, strictly later mtime, so that
// a rewrite in the same second as the last fetch is not answered 304 Not
// Modified.
func (u *rpmUpstream) touch(t testing.TB, p string) {
	t.Helper()
	u.mu.Lock()
	u.tick++
	later := time.Now().Add(time.Duration(u.tick) * time.Hour)
	u.mu.Unlock()
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// addTree writes installer images and a .treeinfo listing them (with a
// duplicate images-* entry and [stage2]) into the upstream copy.
func addTree(t testing.TB, up *rpmUpstream, kernel string) {
	t.Helper()
	files := map[string]string{"images/pxeboot/vmlinuz": kernel, "images/pxeboot/initrd.img": "initrd", "images/install.img": "stage2 image"}
	ti := "[header]\ntype = productmd.treeinfo\nversion = 1.2\n\n[images-x86_64]\nkernel = images/pxeboot/vmlinuz\ninitrd = images/pxeboot/initrd.img\n\n" +
		"[images-xen]\nkernel = images/pxeboot/vmlinuz\n\n[stage2]\nmainimage = images/install.img\n\n[checksums]\n"
	for _, p := range []string{"images/install.img", "images/pxeboot/initrd.img", "images/pxeboot/vmlinuz"} {
		full := filepath.Join(up.dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(files[p]), 0o644); err != nil {
			t.Fatal(err)
		}
		ti += p + " = sha256:" + sha256hex([]byte(files[p])) + "\n"
	}
	p := filepath.Join(up.dir, ".treeinfo")
	if err := os.WriteFile(p, []byte(ti), 0o644); err != nil {
		t.Fatal(err)
	}
	up.touch(t, p)
}

// Pitfalls (§4.2 #26, #27, §4.7 kickstart rows): an installer tree is
// mirrored whole (.treeinfo verbatim at the root, every images-* and stage2
// file, checksummed), in mirror and filtered mode; a changed image replaces
// the old one instead of piling up; a mismatching image fails the sync.
func TestRPMTreeinfo(t *testing.T) {
	for _, mode := range []string{"mirror", "filtered"} {
		t.Run(mode, func(t *testing.T) {
			up := newRPMUpstream(t, rpmFixtures)
			addTree(t, up, "kernel v1")
			m := rpmMirrorWith(t, up.url, mode, "")
			if rr := syncEl(t, m); rr.Err != nil || len(rr.Failed) != 0 {
				t.Fatalf("sync: %+v", rr)
			}
			pub := publishEl(t, m)
			want, _ := os.ReadFile(filepath.Join(up.dir, ".treeinfo"))
			if got, err := os.ReadFile(filepath.Join(pub.Target, ".treeinfo")); err != nil || !bytes.Equal(got, want) {
				t.Fatalf(".treeinfo not published verbatim: %v", err)
			}
			for _, p := range []string{"images/pxeboot/vmlinuz", "images/pxeboot/initrd.img", "images/install.img"} {
				if _, err := os.Stat(filepath.Join(pub.Target, p)); err != nil {
					t.Errorf("%s not published: %v", p, err)
				}
			}
			ctx := context.Background()
			gc1, err := m.GC(ctx, chantal.GCRequest{Grace: -1})
			if err != nil {
				t.Fatal(err)
			}

			// A new compose: new images and a new repomd.xml (a sync whose
			// repomd.xml is unchanged stops there and reads no .treeinfo).
			addTree(t, up, "kernel v2")
			bumpRevision(t, up)
			rr := syncEl(t, m)
			if rr.Err != nil || len(rr.Failed) != 0 {
				t.Fatalf("second sync: %+v", rr)
			}
			pub = publishEl(t, m)
			if got, _ := os.ReadFile(filepath.Join(pub.Target, "images/pxeboot/vmlinuz")); string(got) != "kernel v2" {
				t.Errorf("published kernel = %q", got)
			}
			gc2, err := m.GC(ctx, chantal.GCRequest{Grace: -1})
			if err != nil {
				t.Fatal(err)
			}
			if gc2.Live != gc1.Live || gc2.Removed == 0 {
				t.Errorf("installer files pile up: live %d → %d (removed %d)", gc1.Live, gc2.Live, gc2.Removed)
			}

			// An image whose bytes do not match .treeinfo's checksum fails
			// the sync; the published tree keeps its consistent state.
			addTree(t, up, "kernel v3")
			os.WriteFile(filepath.Join(up.dir, "images", "pxeboot", "vmlinuz"), []byte("kernel v3 tampered"), 0o644)
			bumpRevision(t, up)
			res, err := m.Sync(ctx, chantal.SyncRequest{Repos: []string{"el"}})
			if err == nil && res.Err() == nil {
				t.Errorf("sync accepted an image that does not match .treeinfo: %+v", res.Repos[0])
			}
		})
	}
}

// bumpRevision changes upstream's repomd.xml revision (nothing else), so the
// next sync scans again.
func bumpRevision(t testing.TB, up *rpmUpstream) {
	t.Helper()
	p := filepath.Join(up.dir, "repodata", "repomd.xml")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b = regexp.MustCompile(`<revision>(\d+)</revision>`).ReplaceAllFunc(b, func(m []byte) []byte {
		return []byte("<revision>" + string(m[len("<revision>"):len(m)-len("</revision>")]) + "1</revision>")
	})
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	up.touch(t, p)
}

// Pitfall #30/#35 in mirror mode: upstream's repomd.xml and its signature
// are republished byte for byte, and the republished RPM-GPG-KEY-<repo>
// verifies them (what dnf with repo_gpgcheck=1 and that gpgkey does).
func TestRPMMirrorUpstreamKey(t *testing.T) {
	up := newRPMUpstream(t, rpmFixtures)
	repoKey := up.sign(t)
	m := rpmMirrorWith(t, up.url, "mirror", "    verify: {keys: ["+repoKey+"]}")
	if rr := syncEl(t, m); rr.Err != nil || len(rr.Failed) != 0 {
		t.Fatalf("sync: %+v", rr)
	}
	pub := publishEl(t, m)
	key, err := os.ReadFile(filepath.Join(pub.Target, "RPM-GPG-KEY-el"))
	if err != nil {
		t.Fatalf("upstream key not published: %v", err)
	}
	md, _ := os.ReadFile(filepath.Join(pub.Target, "repodata", "repomd.xml"))
	sig, _ := os.ReadFile(filepath.Join(pub.Target, "repodata", "repomd.xml.asc"))
	kr, err := pgp.ReadKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.VerifyDetached(md, sig, time.Now()); err != nil {
		t.Errorf("published upstream signature does not verify with the published upstream key: %v", err)
	}
	if pub.KeyFile != "" {
		t.Errorf("mirror mode wrote a signing key %s", pub.KeyFile)
	}
}

// Pitfall #24: a feed without a trailing slash keeps its last path segment
// when relative locations (repodata, packages, .treeinfo images) resolve.
func TestRPMFeedWithoutTrailingSlash(t *testing.T) {
	up := newRPMUpstream(t, rpmFixtures)
	addTree(t, up, "kernel")
	deep := http.NewServeMux()
	deep.Handle("/dist/el9/os/", http.StripPrefix("/dist/el9/os", http.FileServer(http.Dir(up.dir))))
	srv := httptest.NewServer(deep)
	t.Cleanup(srv.Close)
	m := rpmMirrorWith(t, srv.URL+"/dist/el9/os", "filtered", "")
	if rr := syncEl(t, m); rr.Err != nil || len(rr.Failed) != 0 || len(rr.Added) != 5 {
		t.Fatalf("sync: %+v", rr)
	}
	pub := publishEl(t, m)
	if _, err := os.Stat(filepath.Join(pub.Target, "images", "pxeboot", "vmlinuz")); err != nil {
		t.Errorf("tree image not mirrored: %v", err)
	}
}

// Pitfall #29 and #22: a repository checksummed with sha512 (pkgids in
// filelists/other too) is matched by NEVRA and deduplicated by the local
// sha256: a rescan downloads nothing again.
func TestRPMNonSHA256Repository(t *testing.T) {
	bin, err := exec.LookPath("createrepo_c")
	if err != nil {
		if os.Getenv("CHANTAL_E2E") == "require" {
			t.Fatalf("createrepo_c not found and CHANTAL_E2E=require: %v", err)
		}
		t.Skip("createrepo_c not installed (Debian: apt-get install createrepo-c)")
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "Packages"), 0o755); err != nil {
		t.Fatal(err)
	}
	copyTree(t, filepath.Join(rpmFixtures, "Packages"), filepath.Join(dir, "Packages"))
	if out, err := exec.Command(bin, "--quiet", "--no-database", "--checksum", "sha512", dir).CombinedOutput(); err != nil {
		t.Fatalf("createrepo_c: %v\n%s", err, out)
	}
	up := newRPMUpstream(t, dir)
	m := rpmMirrorWith(t, up.url, "filtered", "")
	rr := syncEl(t, m)
	if rr.Err != nil || len(rr.Failed) != 0 || rr.Downloaded != 5 {
		t.Fatalf("first sync: %+v", rr)
	}
	bumpRevision(t, up)
	rr = syncEl(t, m)
	if rr.Err != nil || rr.Unchanged || rr.Downloaded != 0 {
		t.Fatalf("rescan downloaded again: %+v", rr)
	}
	// filelists matched by NEVRA: the published filelists lists every package.
	pub := publishEl(t, m)
	if locs := publishedPrimary(t, pub.Target); len(locs) != 5 {
		t.Errorf("primary = %v", locs)
	}
}
