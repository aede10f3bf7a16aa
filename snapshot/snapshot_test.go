package snapshot_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chantal-lite/chantal/catalog"
	"github.com/chantal-lite/chantal/pool"
	"github.com/chantal-lite/chantal/snapshot"
)

func openDB(tb testing.TB) *catalog.DB {
	tb.Helper()
	db, err := catalog.Open(filepath.Join(tb.TempDir(), "catalog.db"), &catalog.Options{NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func update(tb testing.TB, db *catalog.DB, fn func(*catalog.Tx) error) {
	tb.Helper()
	if err := db.Update(context.Background(), fn); err != nil {
		tb.Fatal(err)
	}
}

// pkg is a hand-made item: name-version.arch, with its bytes named by tag.
type pkg struct{ name, version, arch, tag string }

func (p pkg) item() catalog.Item {
	return catalog.Item{Digest: pool.Sum([]byte(p.name + p.version + p.arch + p.tag)), Size: 1, Format: "lines", Name: p.name, Version: p.version, Arch: p.arch}
}

func (p pkg) path() string {
	return fmt.Sprintf("pkgs/%s-%s.%s%s.pkg", p.name, p.version, p.arch, p.tag)
}

// setRepo makes repo hold exactly pkgs (and files) and returns the state id.
func setRepo(tb testing.TB, db *catalog.DB, repo string, pkgs []pkg, files ...catalog.File) catalog.StateID {
	tb.Helper()
	var id catalog.StateID
	update(tb, db, func(tx *catalog.Tx) error {
		if _, err := tx.Repo(repo); errors.Is(err, catalog.ErrNotFound) {
			if err := tx.PutRepo(catalog.Repo{ID: repo, Format: "lines"}); err != nil {
				return err
			}
		}
		st := &catalog.State{Files: files}
		for _, p := range pkgs {
			it := p.item()
			if err := tx.PutItem(it); err != nil {
				return err
			}
			st.Refs = append(st.Refs, catalog.Ref{Path: p.path(), Digest: it.Digest})
		}
		var err error
		id, err = tx.SetRepoState(repo, st)
		return err
	})
	return id
}

// numeric orders dot-separated numbers, so "1.10" > "1.9" (byte order
// would say otherwise).
type numeric struct{}

func (numeric) Compare(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x - y
		}
	}
	return 0
}

func TestDiffHandMade(t *testing.T) {
	db := openDB(t)
	a := setRepo(t, db, "ra", []pkg{
		{"bash", "5.1", "x86_64", ""}, {"bash", "5.1", "aarch64", ""}, // multi-arch: only one arch changes
		{"gone", "1.0", "noarch", ""},
		{"kernel", "1.9", "x86_64", ""}, {"kernel", "1.8", "x86_64", ""},
		{"down", "2.0", "noarch", ""},
		{"same", "1.0", "noarch", ""},
		{"rebuilt", "3.0", "noarch", "a"},
	}, catalog.File{Path: "comps.xml", Digest: pool.Sum([]byte("c1"))}, catalog.File{Path: "old.xml", Digest: pool.Sum([]byte("o"))})
	b := setRepo(t, db, "rb", []pkg{
		{"bash", "5.2", "x86_64", ""}, {"bash", "5.1", "aarch64", ""},
		{"new", "0.1", "noarch", ""},
		{"kernel", "1.10", "x86_64", ""}, {"kernel", "1.9", "x86_64", ""}, // 1.10 > 1.9 natively
		{"down", "1.0", "noarch", ""},
		{"same", "1.0", "noarch", ""},
		{"rebuilt", "3.0", "noarch", "b"},
	}, catalog.File{Path: "comps.xml", Digest: pool.Sum([]byte("c2"))}, catalog.File{Path: "new.xml", Digest: pool.Sum([]byte("n"))})
	p := func(name, version, arch, tag string) string { return pkg{name, version, arch, tag}.path() }
	want := &snapshot.Result{
		Added:   []snapshot.Group{{Name: "new", Arch: "noarch", New: []string{"0.1"}, NewPaths: []string{p("new", "0.1", "noarch", "")}}},
		Removed: []snapshot.Group{{Name: "gone", Arch: "noarch", Old: []string{"1.0"}, OldPaths: []string{p("gone", "1.0", "noarch", "")}}},
		Upgraded: []snapshot.Group{
			{Name: "bash", Arch: "x86_64", Old: []string{"5.1"}, New: []string{"5.2"}, OldPaths: []string{p("bash", "5.1", "x86_64", "")}, NewPaths: []string{p("bash", "5.2", "x86_64", "")}},
			{Name: "kernel", Arch: "x86_64", Old: []string{"1.8"}, New: []string{"1.10"}, OldPaths: []string{p("kernel", "1.8", "x86_64", "")}, NewPaths: []string{p("kernel", "1.10", "x86_64", "")}},
		},
		Downgraded: []snapshot.Group{{Name: "down", Arch: "noarch", Old: []string{"2.0"}, New: []string{"1.0"}, OldPaths: []string{p("down", "2.0", "noarch", "")}, NewPaths: []string{p("down", "1.0", "noarch", "")}}},
		Changed:    []snapshot.Group{{Name: "rebuilt", Arch: "noarch", Old: []string{"3.0"}, New: []string{"3.0"}, OldPaths: []string{p("rebuilt", "3.0", "noarch", "a")}, NewPaths: []string{p("rebuilt", "3.0", "noarch", "b")}}},
		FilesAdded: []string{"new.xml"}, FilesRemoved: []string{"old.xml"}, FilesChanged: []string{"comps.xml"},
	}
	var got *snapshot.Result
	if err := db.View(context.Background(), func(tx *catalog.Tx) error {
		var err error
		got, err = snapshot.Diff(tx, a, b, numeric{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Diff (-want +got):\n%s", diff)
	}
	// Reversed, upgrades become downgrades.
	if err := db.View(context.Background(), func(tx *catalog.Tx) error {
		r, err := snapshot.Diff(tx, b, a, numeric{})
		if err != nil {
			return err
		}
		if len(r.Downgraded) != 2 || len(r.Upgraded) != 1 || len(r.Added) != 1 || r.Added[0].Name != "gone" {
			t.Errorf("reversed diff: %+v", r)
		}
		eq, err := snapshot.Diff(tx, a, a, nil)
		if err != nil || !eq.Equal || !eq.Empty() {
			t.Errorf("Diff(a, a) = %+v, %v", eq, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestDiffFullVersionSets(t *testing.T) {
	db := openDB(t)
	a := setRepo(t, db, "ra", []pkg{{"k", "1", "x", ""}, {"k", "2", "x", ""}, {"k", "3", "x", ""}})
	b := setRepo(t, db, "rb", []pkg{{"k", "3", "x", ""}, {"k", "4", "x", ""}, {"k", "10", "x", ""}})
	_ = db.View(context.Background(), func(tx *catalog.Tx) error {
		r, err := snapshot.Diff(tx, a, b, numeric{})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Upgraded) != 1 {
			t.Fatalf("Upgraded = %+v", r.Upgraded)
		}
		g := r.Upgraded[0]
		if !slicesEqual(g.Old, []string{"1", "2"}) || !slicesEqual(g.New, []string{"4", "10"}) {
			t.Errorf("versions old %v new %v, want [1 2] and [4 10]", g.Old, g.New)
		}
		return nil
	})
}

func slicesEqual(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }

func TestCreateCopyDelete(t *testing.T) {
	db := openDB(t)
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	update(t, db, func(tx *catalog.Tx) error { return tx.PutRepo(catalog.Repo{ID: "empty", Format: "lines"}) })
	update(t, db, func(tx *catalog.Tx) error {
		if _, err := snapshot.Create(tx, snapshot.CreateRequest{Repo: "empty", Name: "s"}); !errors.Is(err, snapshot.ErrNoState) {
			t.Errorf("Create of a never-synced repo: %v, want ErrNoState", err)
		}
		if _, err := snapshot.Create(tx, snapshot.CreateRequest{Repo: "nope", Name: "s"}); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("Create of an unknown repo: %v, want ErrNotFound", err)
		}
		if _, err := snapshot.Create(tx, snapshot.CreateRequest{Repo: "empty", Name: "../x"}); !errors.Is(err, catalog.ErrInvalid) {
			t.Errorf("Create with a bad name: %v, want ErrInvalid", err)
		}
		return nil
	})
	st := setRepo(t, db, "r", []pkg{{"a", "1", "x", ""}})
	setRepo(t, db, "prod", []pkg{{"a", "0", "x", ""}})
	update(t, db, func(tx *catalog.Tx) error {
		s, err := snapshot.Create(tx, snapshot.CreateRequest{Repo: "r", Name: "s1", Created: t0, StateTime: t0.Add(-time.Hour)})
		if err != nil {
			return err
		}
		if s.State != st || !s.StateTime.Equal(t0.Add(-time.Hour)) {
			t.Errorf("snapshot %+v", s)
		}
		if _, err := snapshot.Create(tx, snapshot.CreateRequest{Repo: "r", Name: "s1"}); !errors.Is(err, catalog.ErrExists) {
			t.Errorf("second Create: %v, want ErrExists", err)
		}
		c, err := snapshot.Copy(tx, snapshot.CopyRequest{FromRepo: "r", From: "s1", ToRepo: "prod", To: "promoted", Created: t0})
		if err != nil {
			return err
		}
		if c.State != st || !c.StateTime.Equal(s.StateTime) {
			t.Errorf("copy %+v does not share the state and time of %+v", c, s)
		}
		// A view snapshot froze r/s1; a publication names it.
		if err := tx.PutViewSnapshot(catalog.ViewSnapshot{View: "v", Name: "vs", Members: []catalog.ViewMember{{Repo: "r", Snapshot: "s1", State: st}}}); err != nil {
			return err
		}
		return tx.PutPublication(catalog.Publication{Target: "/pub/snapshots/r/s1", Kind: "snapshot", Name: "r/s1"})
	})
	update(t, db, func(tx *catalog.Tx) error {
		use, err := snapshot.Delete(tx, snapshot.DeleteRequest{Repo: "r", Name: "s1"})
		var ie *snapshot.InUseError
		if !errors.As(err, &ie) || !errors.Is(err, snapshot.ErrInUse) {
			t.Fatalf("Delete of a used snapshot: %v", err)
		}
		if !slicesEqual(use.Published, []string{"/pub/snapshots/r/s1"}) || !slicesEqual(use.ViewSnapshots, []string{"v/vs"}) {
			t.Errorf("uses %+v", use)
		}
		if !strings.Contains(err.Error(), "v/vs") || !strings.Contains(err.Error(), "/pub/snapshots/r/s1") {
			t.Errorf("error does not say what uses it: %v", err)
		}
		// The unused copy goes without force.
		if _, err := snapshot.Delete(tx, snapshot.DeleteRequest{Repo: "prod", Name: "promoted"}); err != nil {
			t.Errorf("Delete of an unused snapshot: %v", err)
		}
		_, err = snapshot.Delete(tx, snapshot.DeleteRequest{Repo: "r", Name: "s1", Force: true})
		return err
	})
	_ = db.View(context.Background(), func(tx *catalog.Tx) error {
		if _, err := tx.Snapshot("r", "s1"); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("forced delete left the snapshot: %v", err)
		}
		// The view snapshot still holds the state.
		s, err := tx.State(st)
		if err != nil || len(s.Refs) != 1 {
			t.Errorf("view snapshot lost its member state: %v", err)
		}
		return nil
	})
}

func TestExpandName(t *testing.T) {
	now := time.Date(2026, 11, 2, 13, 4, 5, 0, time.FixedZone("x", 3600))
	for _, c := range []struct {
		tmpl, want string
	}{
		{"{repo}-{date}", "epel9-2026-11-02"},
		{"{repo}-{datetime}", "epel9-20261102T120405Z"},
		{"plain", "plain"},
		{"{nope}", ""},
		{"{repo", ""},
		{"a/{repo}", ""},
	} {
		got, err := snapshot.ExpandName(c.tmpl, now, map[string]string{"repo": "epel9"})
		if got != c.want || (err != nil) != (c.want == "") {
			t.Errorf("ExpandName(%q) = %q, %v; want %q", c.tmpl, got, err, c.want)
		}
	}
}
