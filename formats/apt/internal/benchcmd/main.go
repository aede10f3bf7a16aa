// Command benchcmd measures the apt format's budgets in a process of its own,
// so that /usr/bin/time -v reports the peak RSS of exactly one operation:
//
//	go build -o /tmp/aptbench ./formats/apt/internal/benchcmd
//	/usr/bin/time -v /tmp/aptbench -op scan              # ingest of 63,000 stanzas
//	/usr/bin/time -v /tmp/aptbench -op render -compression gz
//	/usr/bin/time -v /tmp/aptbench -op render -compression gz,xz -components 4
//
// It writes a synthetic repository (dists/x/Release and Packages.gz, streamed
// to a temporary directory, never held in memory), scans it keeping every
// item as the caller does, and for -op render renders, compresses and signs
// the indexes into the temporary directory. The phase's wall and CPU time are
// printed on stdout.
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/formats/apt"
	"github.com/chantal-lite/chantal/internal/pgp"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchcmd:", err)
		os.Exit(1)
	}
}

func run() error {
	op := flag.String("op", "scan", "scan or render")
	n := flag.Int("stanzas", 63000, "stanzas per component")
	comps := flag.Int("components", 1, "components (one Packages index each)")
	compression := flag.String("compression", "gz", "render: gz, xz or gz,xz")
	flag.Parse()
	dir, err := os.MkdirTemp("", "aptbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var names []string
	for c := range *comps {
		names = append(names, fmt.Sprintf("c%d", c))
	}
	if err := generate(filepath.Join(dir, "up"), names, *n); err != nil {
		return err
	}
	runtime.GC()
	debug.FreeOSMemory()
	ctx := context.Background()
	f := apt.New(nil)
	params := map[string]string{"distribution": "x", "components": strings.Join(names, ","), "architectures": "amd64", "compression": *compression}

	t0, c0 := time.Now(), cpu()
	var items []formats.Item
	err = f.Scan(ctx, formats.ScanRequest{Source: dirFS(filepath.Join(dir, "up")), Mode: formats.ModeFiltered, Params: params}, func(e formats.Entry) error {
		if e.Item != nil {
			items = append(items, *e.Item)
		}
		return nil
	})
	if err != nil {
		return err
	}
	report("scan", len(items), t0, c0)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	fmt.Printf("scan: live heap %d MiB after GC (%d B per item)\n", ms.HeapAlloc>>20, ms.HeapAlloc/uint64(max(len(items), 1)))
	if *op == "scan" {
		return nil
	}
	for i := range items {
		items[i].Path = f.PublishPath(items[i])
	}
	signer, _, err := pgp.GenerateSigner(pgp.GenerateRequest{Name: "bench", Email: "bench@example.invalid"})
	if err != nil {
		return err
	}
	t0, c0 = time.Now(), cpu()
	err = f.Render(ctx, formats.RenderRequest{Sink: dirFS(filepath.Join(dir, "pub")), Mode: formats.ModeFiltered, Items: items,
		Params: params, Now: time.Unix(1767225600, 0), Signer: signer})
	if err != nil {
		return err
	}
	report("render "+*compression, len(items), t0, c0)
	return nil
}

func report(phase string, n int, t0 time.Time, c0 time.Duration) {
	fmt.Printf("%s: %d items, wall %.2fs, cpu %.2fs, GOMAXPROCS %d\n", phase, n, time.Since(t0).Seconds(), (cpu() - c0).Seconds(), runtime.GOMAXPROCS(0))
}

// cpu is the process's user+system time so far.
func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// generate writes dists/x/Release and one Packages.gz of n realistic stanzas
// (~750 bytes each, like Debian's) per component, streaming.
func generate(root string, comps []string, n int) error {
	var rel strings.Builder
	rel.WriteString("Suite: x\nCodename: x\nComponents: " + strings.Join(comps, " ") + "\nArchitectures: amd64\nSHA256:\n")
	for _, c := range comps {
		p := c + "/binary-amd64/Packages.gz"
		full := filepath.Join(root, "dists/x", p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		fh, err := os.Create(full)
		if err != nil {
			return err
		}
		h := sha256.New()
		cw := &counter{w: io.MultiWriter(fh, h)}
		zw := gzip.NewWriter(cw)
		bw := bufio.NewWriter(zw)
		for i := range n {
			writeStanza(bw, c, i, n)
		}
		if err := errors.Join(bw.Flush(), zw.Close(), fh.Close()); err != nil {
			return err
		}
		fmt.Fprintf(&rel, " %s %d %s\n", hex.EncodeToString(h.Sum(nil)), cw.n, p)
	}
	return os.WriteFile(filepath.Join(root, "dists/x/Release"), []byte(rel.String()), 0o644)
}

func writeStanza(b *bufio.Writer, comp string, i, n int) {
	sum := sha256.Sum256([]byte(comp + fmt.Sprint(i)))
	h := hex.EncodeToString(sum[:])
	arch := "amd64"
	if i%5 == 0 {
		arch = "all"
	}
	fmt.Fprintf(b, "Package: %s-pkg%d\nSource: src%d\nVersion: 1:%d.%d-%d+deb12u1\nInstalled-Size: %d\nMaintainer: Debian Maintainers <pkg-maint%d@lists.example.invalid>\nArchitecture: %s\n",
		comp, i, i/3, i%17, i%101, i%7, i*3%9000, i%50, arch)
	fmt.Fprintf(b, "Depends: libc6 (>= 2.34), libssl3 (>= 3.0.0), pkg%d (= ${binary:Version}) | pkg%d, zlib1g (>= 1:1.1.4)\nDescription: package number %d of the benchmark\nHomepage: https://example.invalid/pkg%d\n", (i+1)%n, (i+2)%n, i, i)
	fmt.Fprintf(b, "Description-md5: %s\nTag: devel::library, implemented-in::c, role::shared-lib\nSection: libs\nPriority: optional\n", h[:32])
	fmt.Fprintf(b, "Filename: pool/%s/s/src%d/%s-pkg%d_%d.%d-%d+deb12u1_%s.deb\nSize: %d\nMD5sum: %s\nSHA256: %s\n\n", comp, i/3, comp, i, i%17, i%101, i%7, arch, 10000+i, h[:32], h)
}

type counter struct {
	w io.Writer
	n int64
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// dirFS is a formats.Source and formats.Sink over a directory.
type dirFS string

func (d dirFS) Open(_ context.Context, p string) (io.ReadCloser, error) {
	fh, err := os.Open(filepath.Join(string(d), filepath.FromSlash(p)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", p, fs.ErrNotExist)
	}
	return fh, err
}

func (d dirFS) Create(_ context.Context, p string) (io.WriteCloser, error) {
	full := filepath.Join(string(d), filepath.FromSlash(p))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return nil, err
	}
	return os.Create(full)
}
