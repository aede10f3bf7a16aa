package catalog_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/chantal-lite/chantal/catalog"
)

func verifyPath(t *testing.T, path string) *catalog.VerifyReport {
	t.Helper()
	db, err := catalog.Open(path, &catalog.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rep *catalog.VerifyReport
	view(t, db, func(tx *catalog.Tx) error {
		rep, err = tx.Verify(context.Background())
		return err
	})
	return rep
}

// TestVerify damages a good catalog in one way at a time, behind the
// catalog's back, and checks that Verify names the damage.
func TestVerify(t *testing.T) {
	damage := map[string]struct {
		fn   func(tx *bolt.Tx) error
		want string // substring of some problem
	}{
		"clean": {func(*bolt.Tx) error { return nil }, ""},
		"item deleted": {func(tx *bolt.Tx) error {
			k, _ := tx.Bucket([]byte("items")).Cursor().First()
			return tx.Bucket([]byte("items")).Delete(k)
		}, "names missing item"},
		"item corrupt": {func(tx *bolt.Tx) error {
			k, _ := tx.Bucket([]byte("items")).Cursor().First()
			return tx.Bucket([]byte("items")).Put(k, []byte{9, 9})
		}, "(corrupt)"},
		"chunk altered": {func(tx *bolt.Tx) error {
			k, _ := tx.Bucket([]byte("chunks")).Cursor().First()
			cb := tx.Bucket([]byte("chunks")).Bucket(k)
			v := append([]byte(nil), cb.Get([]byte("d"))...)
			v[len(v)-1] ^= 1
			return cb.Put([]byte("d"), v)
		}, "does not match its hash"},
		"chunk missing": {func(tx *bolt.Tx) error {
			k, _ := tx.Bucket([]byte("chunks")).Cursor().First()
			return tx.Bucket([]byte("chunks")).DeleteBucket(k)
		}, "missing"},
		"state count": {func(tx *bolt.Tx) error {
			k, _ := tx.Bucket([]byte("staterc")).Cursor().First()
			return tx.Bucket([]byte("staterc")).Put(k, []byte{7})
		}, "counted 7 holders"},
		"snapshot of a missing repo": {func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("repos")).Delete([]byte("empty"))
		}, `repo "empty" does not exist`},
		"state missing": {func(tx *bolt.Tx) error {
			c := tx.Bucket([]byte("states")).Cursor()
			k, _ := c.Last()
			return tx.Bucket([]byte("states")).Delete(k)
		}, "does not exist"},
	}
	tmpl := filepath.Join(t.TempDir(), "template.db")
	db, err := catalog.Open(tmpl, &catalog.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	fillCatalog(t, db, 600)
	golden := exportBytes(t, db)
	db.Close()
	for name, d := range damage {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.db")
			if _, err := catalog.Import(context.Background(), path, strings.NewReader(string(golden)), &catalog.ImportOptions{NoSync: true}); err != nil {
				t.Fatal(err)
			}
			bdb, err := bolt.Open(path, 0o644, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := bdb.Update(d.fn); err != nil {
				t.Fatal(err)
			}
			bdb.Close()
			rep := verifyPath(t, path)
			if rep.Items == 0 && d.want == "" {
				t.Errorf("nothing counted: %+v", rep)
			}
			var all []string
			for _, p := range rep.Problems {
				all = append(all, p.String())
			}
			got := strings.Join(all, "\n")
			switch {
			case d.want == "" && got != "":
				t.Errorf("clean catalog has problems:\n%s", got)
			case d.want != "" && !strings.Contains(got, d.want):
				t.Errorf("problems do not mention %q:\n%s", d.want, got)
			}
		})
	}
}
