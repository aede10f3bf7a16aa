package catalog_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/chantal-lite/chantal/catalog"
)

// build100k writes a catalog with 100,000 items of realistic size (an RPM's
// primary, filelists and other fragments and fields, about 3.5 KiB each), a
// repository holding all of them, two snapshots (one older, 1% different)
// and sync runs, and returns its path.
func build100k(b *testing.B) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "catalog.db")
	db, err := catalog.Open(path, &catalog.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	putRepos(b, db, "el9")
	const n = 100_000
	st := &catalog.State{Refs: make([]catalog.Ref, 0, n)}
	filler := strings.Repeat("x", 64)
	for start := 0; start < n; start += 10_000 {
		update(b, db, func(tx *catalog.Tx) error {
			for i := start; i < start+10_000; i++ {
				ref := randRef(rng)
				name := fmt.Sprintf("pkg%06d", i)
				frag := func(size int) []byte {
					var buf bytes.Buffer
					fmt.Fprintf(&buf, `<package pkgid="%s" name="%s">`, ref.Digest, name)
					for buf.Len() < size {
						fmt.Fprintf(&buf, "<file>/usr/share/%s/%s/%d</file>", name, filler[:rng.IntN(60)], rng.IntN(1000))
					}
					buf.WriteString("</package>")
					return buf.Bytes()
				}
				it := catalog.Item{Digest: ref.Digest, Size: int64(10_000 + rng.IntN(5_000_000)), Format: "rpm", Name: name,
					Version: "1.2.3-4.el9", Arch: "x86_64",
					Checksums: map[string]string{"sha1": fmt.Sprintf("%040x", i)},
					Fields: map[string]string{"buildtime": "1767225600", "epoch": "0", "group": "System Environment/Base",
						"license": "GPL-2.0-or-later", "sourcerpm": name + "-1.2.3-4.el9.src.rpm", "summary": "A package for the benchmark",
						"url": "https://example.invalid/" + name, "vendor": "Example"},
					Fragments: map[string][]byte{"primary": frag(1300), "filelists": frag(1500), "other": frag(500)}}
				if err := tx.PutItem(it); err != nil {
					return err
				}
				st.Refs = append(st.Refs, ref)
			}
			return nil
		})
	}
	st.Sort()
	old := setState(b, db, "el9", &catalog.State{Refs: st.Refs[:n-1000]})
	update(b, db, func(tx *catalog.Tx) error {
		return tx.PutSnapshot(catalog.Snapshot{Repo: "el9", Name: "old", State: old})
	})
	cur := setState(b, db, "el9", st)
	update(b, db, func(tx *catalog.Tx) error {
		if err := tx.PutSnapshot(catalog.Snapshot{Repo: "el9", Name: "new", State: cur}); err != nil {
			return err
		}
		for range 50 {
			if err := tx.PutSyncRun(&catalog.SyncRun{Repo: "el9", Status: "success", Added: 10}); err != nil {
				return err
			}
		}
		return nil
	})
	return path
}

// benchChild runs op (export or import) in a child process (this test
// binary, TestBenchChild) so that its peak RSS can be measured alone, and
// reports it as peak-RSS-MB.
func benchChild(b *testing.B, op, src, dst string) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchChild$")
	cmd.Env = append(os.Environ(), "CHANTAL_BENCH_CHILD="+op, "CHANTAL_BENCH_SRC="+src, "CHANTAL_BENCH_DST="+dst)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("%s child: %v\n%s", op, err, out)
	}
	// rusage's maxrss would include the parent's, inherited through the
	// fork; the child reports its own high-water mark from /proc. It counts
	// the catalog file's pages bbolt maps (file-backed, reclaimable), so
	// go-sys-MB, the memory the Go runtime obtained, is reported beside it.
	for _, m := range []struct{ key, unit string }{{"VmHWM:", "peak-RSS-MB"}, {"GoSys:", "go-sys-MB"}} {
		if _, v, ok := strings.Cut(string(out), m.key); ok {
			var kib float64
			fmt.Sscan(v, &kib)
			b.ReportMetric(kib/1024, m.unit)
		}
	}
}

// TestBenchChild is the child side of benchChild; it does nothing in a
// normal test run.
func TestBenchChild(t *testing.T) {
	op := os.Getenv("CHANTAL_BENCH_CHILD")
	if op == "" {
		t.Skip("only runs as a benchmark's child process")
	}
	src, dst := os.Getenv("CHANTAL_BENCH_SRC"), os.Getenv("CHANTAL_BENCH_DST")
	ctx := context.Background()
	switch op {
	case "export":
		db, err := catalog.Open(src, &catalog.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		f, err := os.Create(dst)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := db.View(ctx, func(tx *catalog.Tx) error {
			_, err := tx.Export(ctx, f)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	case "import":
		f, err := os.Open(src)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := catalog.Import(ctx, dst, f, nil); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("unknown op %q", op)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("GoSys: %d\n", ms.Sys>>10)
	if status, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(l, "VmHWM:") {
				fmt.Println(strings.TrimSuffix(l, " kB"))
			}
		}
	}
}

// BenchmarkExport100k exports a 100k-item catalog to a file in a child
// process. Budget: ≤ 10 s/op, ≤ 200 MB peak RSS.
func BenchmarkExport100k(b *testing.B) {
	src := build100k(b)
	dst := filepath.Join(b.TempDir(), "export.jsonl")
	b.ResetTimer()
	for range b.N {
		benchChild(b, "export", src, dst)
	}
	b.StopTimer()
	if fi, err := os.Stat(dst); err == nil {
		b.ReportMetric(float64(fi.Size())/(1<<20), "file-MB")
	}
}

// BenchmarkImport100k imports that export into a new catalog (fsync on) in
// a child process. Budget: ≤ 10 s/op, ≤ 200 MB peak RSS.
func BenchmarkImport100k(b *testing.B) {
	src := build100k(b)
	dump := filepath.Join(b.TempDir(), "export.jsonl")
	benchChild(b, "export", src, dump)
	b.ResetTimer()
	for i := range b.N {
		benchChild(b, "import", dump, filepath.Join(b.TempDir(), fmt.Sprintf("c%d.db", i)))
	}
}

// BenchmarkVerify100k runs Tx.Verify over the 100k-item catalog. Budget
// (with the pool check in chantal.Mirror.VerifyDB): ≤ 1 s/op.
func BenchmarkVerify100k(b *testing.B) {
	src := build100k(b)
	db, err := catalog.Open(src, &catalog.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	b.ResetTimer()
	for range b.N {
		var rep *catalog.VerifyReport
		if err := db.View(context.Background(), func(tx *catalog.Tx) error {
			rep, err = tx.Verify(context.Background())
			return err
		}); err != nil {
			b.Fatal(err)
		}
		if !rep.OK() || rep.Items != 100_000 {
			b.Fatalf("report: %+v", rep)
		}
	}
}
