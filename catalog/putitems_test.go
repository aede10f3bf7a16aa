package catalog_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/chantal-lite/chantal/catalog"
	"github.com/chantal-lite/chantal/pool"
)

func TestPutItemsMatchesPutItem(t *testing.T) {
	ctx := context.Background()
	var items []catalog.Item
	for i := range 500 {
		d := pool.Sum([]byte(fmt.Sprint("item ", i)))
		items = append(items, catalog.Item{Digest: d, Size: int64(i), Format: "rpm", Name: fmt.Sprint("p", i),
			Checksums: map[string]string{"sha1": fmt.Sprintf("%040x", i)}})
	}
	one, many := openTest(t), openTest(t)
	if err := one.Update(ctx, func(tx *catalog.Tx) error {
		for _, it := range items {
			if err := tx.PutItem(it); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := many.Update(ctx, func(tx *catalog.Tx) error { return tx.PutItems(items) }); err != nil {
		t.Fatal(err)
	}
	// Replacing an item through PutItems moves its checksum index entry.
	moved := items[7]
	moved.Checksums = map[string]string{"sha1": fmt.Sprintf("%040x", 99999)}
	if err := many.Update(ctx, func(tx *catalog.Tx) error { return tx.PutItems([]catalog.Item{moved}) }); err != nil {
		t.Fatal(err)
	}
	for _, db := range []*catalog.DB{one, many} {
		if err := db.View(ctx, func(tx *catalog.Tx) error {
			for i, it := range items {
				got, err := tx.Item(it.Digest)
				if err != nil || got.Name != it.Name {
					return fmt.Errorf("item %d: %+v, %v", i, got, err)
				}
				want := it.Checksums["sha1"]
				if db == many && i == 7 {
					want = moved.Checksums["sha1"]
				}
				if d, err := tx.ItemByChecksum("sha1", want); err != nil || d != it.Digest {
					return fmt.Errorf("index of item %d: %v, %v", i, d, err)
				}
			}
			if db == many {
				if _, err := tx.ItemByChecksum("sha1", items[7].Checksums["sha1"]); err == nil {
					return fmt.Errorf("the replaced item's old checksum is still indexed")
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}
