package chantal_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chantal-lite/chantal"
	"github.com/chantal-lite/chantal/config"
	testformat "github.com/chantal-lite/chantal/formats/formattest/lines"
)

func hostedMirror(t *testing.T) *chantal.Mirror {
	t.Helper()
	dir := t.TempDir()
	cfg, err := config.Parse([]byte(`
storage: {base_path: `+filepath.Join(dir, "data")+`, published_path: `+filepath.Join(dir, "pub")+`}
repositories:
  - {id: h1, type: lines, mode: hosted}
  - {id: m1, type: lines, feed: "file:///nonexistent"}
`), filepath.Join(dir, "config.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := chantal.Open("", chantal.WithConfig(cfg), chantal.WithFormats(testformat.Format{}), chantal.WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func writePayload(t *testing.T, name, version string, extra string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name+"-"+version+".pkg")
	if err := os.WriteFile(p, append(testformat.Payload(name, version, "noarch"), extra...), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUpload(t *testing.T) {
	ctx := context.Background()
	m := hostedMirror(t)
	a := writePayload(t, "alpha", "1.0", "")
	b := writePayload(t, "beta", "2.0", "")
	res, err := m.Upload(ctx, chantal.UploadRequest{Repo: "h1", Files: []string{a, b}})
	if err != nil || len(res.Added) != 2 {
		t.Fatalf("Upload = %+v, %v", res, err)
	}
	// Same bytes again: nothing changes.
	res, err = m.Upload(ctx, chantal.UploadRequest{Repo: "h1", Files: []string{a}})
	if err != nil || len(res.Unchanged) != 1 || len(res.Added) != 0 {
		t.Fatalf("re-upload = %+v, %v", res, err)
	}
	// Same name, version and arch with new bytes: refused, then forced.
	a2 := writePayload(t, "alpha", "1.0", "rebuilt\n")
	if _, err := m.Upload(ctx, chantal.UploadRequest{Repo: "h1", Files: []string{a2}}); !errors.Is(err, chantal.ErrConflict) {
		t.Fatalf("conflicting upload: %v, want ErrConflict", err)
	}
	res, err = m.Upload(ctx, chantal.UploadRequest{Repo: "h1", Files: []string{a2}, Force: true})
	if err != nil || len(res.Replaced) != 1 {
		t.Fatalf("forced upload = %+v, %v", res, err)
	}
	pkgs, err := m.Packages(ctx, chantal.PackageQuery{Repo: "h1"})
	if err != nil || len(pkgs) != 2 || pkgs[0].Name != "alpha" || pkgs[0].Size != int64(len(testformat.Payload("alpha", "1.0", "noarch"))+len("rebuilt\n")) {
		t.Fatalf("Packages = %+v, %v", pkgs, err)
	}
	if pkgs, _ := m.Packages(ctx, chantal.PackageQuery{Repo: "h1", Name: "^be"}); len(pkgs) != 1 || pkgs[0].Name != "beta" {
		t.Fatalf("search = %+v", pkgs)
	}
	// A failing file adds nothing.
	bad := filepath.Join(t.TempDir(), "bad.pkg")
	os.WriteFile(bad, []byte("not a package"), 0o644)
	c1 := writePayload(t, "gamma", "1", "")
	if _, err := m.Upload(ctx, chantal.UploadRequest{Repo: "h1", Files: []string{c1, bad}}); err == nil || !strings.Contains(err.Error(), "bad.pkg") {
		t.Fatalf("bad upload: %v", err)
	}
	if pkgs, _ := m.Packages(ctx, chantal.PackageQuery{Repo: "h1"}); len(pkgs) != 2 {
		t.Fatalf("a failed upload changed the repository: %+v", pkgs)
	}
	// Publishing a hosted repository regenerates its index.
	pub, err := m.Publish(ctx, chantal.PublishRequest{Repo: "h1"})
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := os.ReadFile(filepath.Join(pub.Target, testformat.Index))
	if strings.Count(string(idx), "\n") != 2 {
		t.Fatalf("hosted index:\n%s", idx)
	}
	// A component is a plain token.
	for _, c := range []string{"../main", "ma in", ".."} {
		if _, err := m.Upload(ctx, chantal.UploadRequest{Repo: "h1", Files: []string{c1}, Component: c}); err == nil {
			t.Errorf("upload with component %q succeeded", c)
		}
	}
	// Uploads go to hosted repositories only; hosted ones do not sync.
	if _, err := m.Upload(ctx, chantal.UploadRequest{Repo: "m1", Files: []string{a}}); err == nil {
		t.Fatal("upload into a filtered repository succeeded")
	}
	sr, _ := m.Sync(ctx, chantal.SyncRequest{Repos: []string{"h1"}})
	if sr.Repos[0].Err == nil {
		t.Fatal("sync of a hosted repository succeeded")
	}
	runs, _ := m.History(ctx, "h1", 0)
	if len(runs) != 3 || runs[0].Status != "upload" {
		t.Fatalf("history = %+v", runs)
	}
}
