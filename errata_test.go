package chantal_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/chantal-lite/chantal"
	"github.com/chantal-lite/chantal/catalog"
	"github.com/chantal-lite/chantal/config"
	"github.com/chantal-lite/chantal/pool"
)

// osvMirror opens a Mirror with an apt repository deb12 (never synced:
// states are made by hand) and the OSV fixtures as errata source osv-deb
// for Debian 12, applying to deb12.
func osvMirror(t testing.TB) *chantal.Mirror {
	t.Helper()
	osv, err := filepath.Abs(filepath.Join("testdata", "errata", "osv"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	yaml := fmt.Sprintf(`storage: {base_path: %s, published_path: %s}
repositories:
  - {id: deb12, type: apt, feed: "http://127.0.0.1:1/debian/", apt: {distribution: bookworm}}
views:
  - {name: deb-view, repos: [deb12]}
errata_sources:
  - {id: osv-deb, type: osv, path: %s, ecosystem: "Debian:12", applies_to: [deb12]}
`, filepath.Join(dir, "data"), filepath.Join(dir, "pub"), osv)
	p := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := chantal.Open("", chantal.WithConfig(cfg), chantal.WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	res, err := m.SyncErrata(context.Background(), chantal.ErrataSyncRequest{All: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Err(); err != nil || res.Sources[0].Advisories == 0 {
		t.Fatalf("errata sync: %+v, %v", res.Sources, err)
	}
	return m
}

// pkg is a hand-made deb: binary name, version, source package.
type pkg struct{ name, version, source string }

// setDebState makes deb12's state hold pkgs (plus filler packages) and
// snapshots it as name when name is not "".
func setDebState(t testing.TB, m *chantal.Mirror, snap string, pkgs []pkg) {
	t.Helper()
	db, err := catalog.Open(filepath.Join(m.Dir(), "catalog.db"), &catalog.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(context.Background(), func(tx *catalog.Tx) error {
		if _, err := tx.Repo("deb12"); err != nil {
			if err := tx.PutRepo(catalog.Repo{ID: "deb12", Format: "apt", Mode: "filtered"}); err != nil {
				return err
			}
		}
		st := &catalog.State{}
		for _, p := range pkgs {
			it := catalog.Item{Digest: pool.Sum([]byte(p.name + "_" + p.version)), Size: 1, Format: "apt", Name: p.name, Version: p.version,
				Arch: "amd64", Fields: map[string]string{"source": p.source}}
			if err := tx.PutItem(it); err != nil {
				return err
			}
			st.Refs = append(st.Refs, catalog.Ref{Path: "pool/main/" + p.source + "/" + p.name + "_" + p.version + "_amd64.deb", Digest: it.Digest})
		}
		st.Sort()
		if _, err := tx.SetRepoState("deb12", st); err != nil {
			return err
		}
		r, err := tx.Repo("deb12")
		if err != nil {
			return err
		}
		if snap != "" {
			return tx.PutSnapshot(catalog.Snapshot{Repo: "deb12", Name: snap, State: r.State})
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}

func xorg(v string) []pkg {
	return []pkg{{"xserver-xorg-core", v, "xorg-server"}, {"xvfb", v, "xorg-server"}, {"bash", "5.2.15-2+b7", "bash"}}
}

// TestErrataOSVDpkgOrder evaluates Debian OSV advisories (source package
// names, dpkg version order through the apt format) on hand-made states.
func TestErrataOSVDpkgOrder(t *testing.T) {
	m := osvMirror(t)
	ctx := context.Background()
	// "~rc1" sorts before the fixed version in dpkg order (after it in byte order).
	setDebState(t, m, "rc", xorg("2:21.1.7-3+deb12u9~rc1"))
	setDebState(t, m, "old", xorg("2:21.1.7-3+deb12u8"))
	setDebState(t, m, "new", xorg("2:21.1.7-3+deb12u9"))

	rep, err := m.ErrataCVE(ctx, "CVE-2025-26594")
	if err != nil {
		t.Fatal(err)
	}
	var fixed, affected []string
	for _, s := range rep.Fixed {
		fixed = append(fixed, s.Kind+":"+s.Name)
	}
	for _, s := range rep.Affected {
		affected = append(affected, s.Kind+":"+s.Name)
	}
	if want := []string{"repo:deb12", "snapshot:deb12/new", "view:deb-view"}; !slices.Equal(fixed, want) {
		t.Errorf("fixed = %v, want %v", fixed, want)
	}
	if want := []string{"snapshot:deb12/old", "snapshot:deb12/rc"}; !slices.Equal(affected, want) {
		t.Errorf("affected = %v, want %v", affected, want)
	}
	if len(rep.Advisories) != 1 || rep.Advisories[0].ID != "DSA-5871-1" {
		t.Errorf("advisories = %+v", rep.Advisories)
	}
	// Debian 11's DLA was narrowed away by the source's ecosystem.
	if _, err := m.ShowErratum(ctx, "DLA-3990-1"); err == nil {
		t.Error("DLA-3990-1 (Debian 11) was kept by a Debian:12 source")
	}

	d, err := m.ErrataDiff(ctx, "deb12/rc", "deb12/new")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Fixed) != 1 || d.Fixed[0].ID != "DSA-5871-1" || d.Fixed[0].Packages[0].Name != "xorg-server" {
		t.Errorf("errata diff rc → new = %+v", d.Fixed)
	}
	if d, err := m.ErrataDiff(ctx, "deb12/new", "deb12/rc"); err != nil || len(d.Fixed) != 0 {
		t.Errorf("errata diff new → rc = %+v, %v; want nothing", d, err)
	}

	sd, err := m.Diff(ctx, "deb12/old", "deb12/new")
	if err != nil {
		t.Fatal(err)
	}
	if len(sd.Errata) != 2 || sd.Errata[0].Name != "xserver-xorg-core" || sd.Errata[0].Advisories[0].ID != "DSA-5871-1" {
		t.Errorf("snapshot diff errata = %+v", sd.Errata)
	}

	list, err := m.Errata(ctx, chantal.ErrataQuery{Snapshot: "deb12/old", Severity: "important"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Status != chantal.StatusAffected {
		t.Errorf("important errata of deb12/old = %+v", list)
	}

	// A second errata sync of the same data changes nothing; history has both runs.
	res, err := m.SyncErrata(ctx, chantal.ErrataSyncRequest{Sources: []string{"osv-deb"}})
	if err != nil || !res.Sources[0].Unchanged || res.Sources[0].Added != 0 {
		t.Errorf("second errata sync = %+v, %v", res, err)
	}
}

// BenchmarkErrataCVE100Snapshots answers one CVE over 100 snapshots of a
// 2,000-package apt repository, each differing from the last by one package.
func BenchmarkErrataCVE100Snapshots(b *testing.B) {
	m := osvMirror(b)
	for s := range 100 {
		pkgs := xorg(fmt.Sprintf("2:21.1.7-3+deb12u%d", 5+s/20))
		for i := range 2000 {
			v := "1.0-1"
			if i == s {
				v = "1.1-1"
			}
			pkgs = append(pkgs, pkg{fmt.Sprintf("lib%04d", i), v, fmt.Sprintf("src%04d", i)})
		}
		setDebState(b, m, fmt.Sprintf("s%03d", s), pkgs)
	}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		rep, err := m.ErrataCVE(ctx, "CVE-2025-26595")
		if err != nil {
			b.Fatal(err)
		}
		if len(rep.Fixed)+len(rep.Affected) != 102 { // 100 snapshots, the repo, the view
			b.Fatalf("%d fixed, %d affected", len(rep.Fixed), len(rep.Affected))
		}
	}
}
