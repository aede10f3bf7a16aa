package chantal_test

import (
	"context"
	"fmt"
	"io/fs"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/chantal-lite/chantal"
	"github.com/chantal-lite/chantal/config"
	"github.com/chantal-lite/chantal/formats/formattest/lines"
)

// A program that embeds chantal-lite opens a data directory with a
// configuration, syncs a repository from its upstream and publishes it.
func Example() {
	upstream := httptest.NewServer(exampleRepo("alpha-1.0", "beta-2.1"))
	defer upstream.Close()
	dir, err := os.MkdirTemp("", "chantal-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	cfg, err := config.Parse([]byte(`
storage: {base_path: "`+dir+`"}
repositories:
  - {id: demo, type: lines, feed: "`+upstream.URL+`"}
`), "chantal.yaml", nil)
	if err != nil {
		log.Fatal(err)
	}
	m, err := chantal.Open("", chantal.WithConfig(cfg), chantal.WithFormats(lines.Format{}))
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	ctx := context.Background()
	res, err := m.Sync(ctx, chantal.SyncRequest{Repos: []string{"demo"}})
	if err != nil {
		log.Fatal(err)
	}
	if err := res.Err(); err != nil {
		log.Fatal(err)
	}
	pub, err := m.Publish(ctx, chantal.PublishRequest{Repo: "demo"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("synced %d items, published %d payloads\n", len(res.Repos[0].Added), pub.Linked)
	// Output:
	// synced 2 items, published 2 payloads
}

// Sync reports what each repository's state gained, lost or updated; a sync
// of an unchanged upstream downloads nothing.
func ExampleMirror_Sync() {
	m, cleanup := exampleMirror("alpha-1.0", "beta-2.1")
	defer cleanup()

	ctx := context.Background()
	for range 2 {
		res, err := m.Sync(ctx, chantal.SyncRequest{Repos: []string{"demo"}})
		if err != nil {
			log.Fatal(err)
		}
		rr := res.Repos[0]
		if rr.Err != nil {
			log.Fatal(rr.Err)
		}
		for _, c := range rr.Added {
			fmt.Println("added", c.Name, c.New)
		}
		fmt.Printf("downloaded %d, unchanged %v\n", rr.Downloaded, rr.Unchanged)
	}
	// Output:
	// added alpha 1.0
	// added beta 2.1
	// downloaded 2, unchanged false
	// downloaded 0, unchanged true
}

// Publish writes a static tree that any web server can serve: payloads are
// hard links into the pool, the index is rendered and signed.
func ExampleMirror_Publish() {
	m, cleanup := exampleMirror("alpha-1.0", "beta-2.1")
	defer cleanup()

	ctx := context.Background()
	if _, err := m.Sync(ctx, chantal.SyncRequest{Repos: []string{"demo"}}); err != nil {
		log.Fatal(err)
	}
	pub, err := m.Publish(ctx, chantal.PublishRequest{Repo: "demo"})
	if err != nil {
		log.Fatal(err)
	}
	err = filepath.WalkDir(pub.Target, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() != "." && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir // kept metadata versions
		}
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(pub.Target, p) // p is under pub.Target
			fmt.Println(filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// index.txt
	// index.txt.asc
	// pkgs/alpha-1.0.noarch.pkg
	// pkgs/beta-2.1.noarch.pkg
}

// exampleMirror opens a Mirror over a temporary data directory with one
// repository "demo" of the lines format whose upstream holds pkgs; cleanup
// stops the upstream and removes the directory.
func exampleMirror(pkgs ...string) (*chantal.Mirror, func()) {
	upstream := httptest.NewServer(exampleRepo(pkgs...))
	dir, err := os.MkdirTemp("", "chantal-example")
	if err != nil {
		log.Fatal(err)
	}
	cleanup := func() {
		upstream.Close()
		os.RemoveAll(dir)
	}
	cfg, err := config.Parse([]byte(`
storage: {base_path: "`+dir+`"}
repositories:
  - {id: demo, type: lines, feed: "`+upstream.URL+`"}
`), "chantal.yaml", nil)
	if err != nil {
		log.Fatal(err)
	}
	m, err := chantal.Open("", chantal.WithConfig(cfg), chantal.WithFormats(lines.Format{}))
	if err != nil {
		log.Fatal(err)
	}
	return m, cleanup
}

// exampleRepo serves an upstream of the lines format with one small payload
// per "name-version", at pkgs/<name>-<version>.noarch.pkg.
func exampleRepo(pkgs ...string) http.Handler {
	files := map[string][]byte{}
	for _, nv := range pkgs {
		files["pkgs/"+nv+".noarch.pkg"] = []byte("payload of " + nv + "\n")
	}
	index := lines.Build(files, func(p string) (string, string, string) {
		nv := strings.TrimSuffix(strings.TrimPrefix(p, "pkgs/"), ".noarch.pkg")
		i := strings.LastIndex(nv, "-")
		return nv[:i], nv[i+1:], "noarch"
	})
	files[lines.Index] = index
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	})
}
