package catalog_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/chantal-lite/chantal/catalog"
	"github.com/chantal-lite/chantal/pool"
)

func Example() {
	dir, err := os.MkdirTemp("", "catalog-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	db, err := catalog.Open(filepath.Join(dir, "catalog.db"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()

	ctx := context.Background()
	nginx := pool.Sum([]byte("nginx rpm bytes"))
	err = db.Update(ctx, func(tx *catalog.Tx) error {
		if err := tx.PutRepo(catalog.Repo{ID: "epel9", Format: "rpm", Mode: "filtered"}); err != nil {
			return err
		}
		if err := tx.PutItem(catalog.Item{Digest: nginx, Size: 15, Format: "rpm", Name: "nginx"}); err != nil {
			return err
		}
		id, err := tx.SetRepoState("epel9", &catalog.State{Refs: []catalog.Ref{
			{Path: "Packages/n/nginx-1.26.3-1.el9.x86_64.rpm", Digest: nginx},
		}})
		if err != nil {
			return err
		}
		return tx.PutSnapshot(catalog.Snapshot{Repo: "epel9", Name: "2026-11", State: id})
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	err = db.View(ctx, func(tx *catalog.Tx) error {
		snap, err := tx.Snapshot("epel9", "2026-11")
		if err != nil {
			return err
		}
		return tx.WalkState(snap.State, func(r catalog.Ref) error {
			fmt.Println(r.Path)
			return nil
		})
	})
	if err != nil {
		fmt.Println(err)
	}
	// Output: Packages/n/nginx-1.26.3-1.el9.x86_64.rpm
}
