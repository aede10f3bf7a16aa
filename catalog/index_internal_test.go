package catalog

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/chantal-lite/chantal/pool"
)

// TestIndexSkipsDigest checks that a put indexes no entry for the SHA-256 of
// the digest (ItemByChecksum finds it among the items) nor md5, still indexes the
// other checksums, and that replacing an item removes the digest entry a
// catalog written before indexKeys holds.
func TestIndexSkipsDigest(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "c.db"), &Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := t.Context()
	d := pool.Sum([]byte("a"))
	it := Item{Digest: d, Size: 1, Format: "rpm", Name: "a", Checksums: map[string]string{"sha256": d.String(), "sha1": "aa", "md5": "cc"}}
	index := func() []string {
		var keys []string
		if err := db.View(ctx, func(tx *Tx) error {
			return tx.bucket(bucketChecksum).ForEach(func(k, _ []byte) error {
				keys = append(keys, strings.ReplaceAll(string(k), "\x00", ":"))
				return nil
			})
		}); err != nil {
			t.Fatal(err)
		}
		return keys
	}
	if err := db.Update(ctx, func(tx *Tx) error { return tx.PutItems([]Item{it}) }); err != nil {
		t.Fatal(err)
	}
	if got := index(); len(got) != 1 || got[0] != "sha1:aa" {
		t.Errorf("index after PutItems = %q, want only sha1:aa", got)
	}
	if err := db.View(ctx, func(tx *Tx) error {
		if got, err := tx.ItemByChecksum("SHA256", strings.ToUpper(d.String())); err != nil || got != d {
			t.Errorf("ItemByChecksum(sha256) = %v, %v", got, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// An entry as older catalogs wrote it goes when the item is replaced.
	if err := db.Update(ctx, func(tx *Tx) error {
		return tx.bucket(bucketChecksum).Put(checksumKey("sha256", d.String()), d[:])
	}); err != nil {
		t.Fatal(err)
	}
	it.Checksums = map[string]string{"sha1": "bb"}
	if err := db.Update(ctx, func(tx *Tx) error { return tx.PutItem(it) }); err != nil {
		t.Fatal(err)
	}
	if got := index(); len(got) != 1 || got[0] != "sha1:bb" {
		t.Errorf("index after replacing the item = %q, want only sha1:bb", got)
	}
}
