package pool_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/chantal-lite/chantal/pool"
)

func ExampleStore_Put() {
	dir, err := os.MkdirTemp("", "pool-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	s, err := pool.Open(filepath.Join(dir, "pool"), nil)
	if err != nil {
		log.Fatal(err)
	}
	want, err := pool.Parse("sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
	if err != nil {
		log.Fatal(err)
	}
	info, err := s.Put(context.Background(), strings.NewReader("hello"), pool.PutRequest{Digest: want, Size: 5})
	if err != nil {
		log.Fatal(err)
	}
	rel, err := filepath.Rel(s.Root(), s.Path(info.Digest))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Size, rel)

	// Publish it under a human name: a hard link, never a rewrite.
	dst := filepath.Join(dir, "hello.txt")
	if err := s.Link(info.Digest, dst); err != nil {
		log.Fatal(err)
	}
	b, err := os.ReadFile(dst)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(b))
	// Output:
	// 5 sha256/2c/2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824
	// hello
}

func ExampleStore_Begin() {
	dir, err := os.MkdirTemp("", "pool-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s, err := pool.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	content := "a download interrupted halfway"
	want := pool.Sum([]byte(content))
	key := "sha256:" + want.String()

	// The first attempt breaks off after 10 bytes.
	w, err := s.Begin(ctx, pool.BeginRequest{ResumeKey: key})
	if err != nil {
		log.Fatal(err)
	}
	w.Write([]byte(content[:10]))
	if err := w.Abort(); err != nil {
		log.Fatal(err)
	}

	// The next one continues where it stopped (an HTTP Range request).
	w, err = s.Begin(ctx, pool.BeginRequest{ResumeKey: key})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Abort() // no-op after Commit
	fmt.Println("resume at", w.Offset())
	if _, err := w.Write([]byte(content[w.Offset():])); err != nil {
		log.Fatal(err)
	}
	info, err := w.Commit(ctx, pool.PutRequest{Digest: want})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Size, info.Digest == want)
	// Output:
	// resume at 10
	// 30 true
}
