//go:build bench

// Command synth measures chantal-lite's RPM ingest and publish budgets on a
// synthetic repository (bench/rpm/budgets.sh runs it under /usr/bin/time -v
// for the peak RSS of each step).
//
//	synth gen [-n 50000] DIR       write DIR/repo: repodata + n tiny payloads
//	synth scan DIR                 formats/rpm Scan of DIR/repo only
//	synth ingest [-mode M] DIR     the facade's Sync of DIR/repo (file:// feed) into
//	                               an empty DIR/data (mode filtered, the default) or
//	                               DIR/data-mirror (mode mirror)
//	synth sync DIR                 ingest -mode filtered (kept for old scripts)
//	synth publish DIR              Publish of the filtered state (gzip metadata)
//
// ingest is the real ingest: the sync streams the metadata, writes the items
// to the catalog in batches while it scans, downloads the payloads and commits
// the state. It prints the time to the end of the scan (metadata and catalog
// writes) on stderr and the whole sync's time on stdout.
//
// Package sizes follow a RHEL AppStream-like package: in primary 8 provides,
// 14 requires, 2 file entries, a two-line description (about 2.3 KB of XML);
// in filelists 30 files (about 1.9 KB); in other 3 changelog entries (about
// 0.8 KB). Payloads are 256-byte files (the budget is about metadata, not
// bytes). gen also writes a signing key that the configuration names. Each
// step prints one line "step seconds count".
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/chantal-lite/chantal"
	"github.com/chantal-lite/chantal/config"
	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/formats/rpm"
	"github.com/chantal-lite/chantal/internal/gctune"
	"github.com/chantal-lite/chantal/internal/pgp"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: synth gen [-n N] DIR | scan DIR | ingest [-mode M] DIR | sync DIR | resync DIR | publish DIR")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	n := fs.Int("n", 50000, "packages")
	mode := fs.String("mode", "filtered", "ingest: repository `mode` (filtered or mirror)")
	prof := fs.String("cpuprofile", "", "write a CPU profile to `FILE`")
	fs.Parse(os.Args[2:])
	if *prof != "" {
		f, err := os.Create(*prof)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	dir := fs.Arg(0)
	ctx := context.Background()
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(dir, *n)
	case "scan":
		err = scan(ctx, dir)
	case "ingest":
		err = syncRepo(ctx, dir, *mode)
	case "sync":
		err = syncRepo(ctx, dir, "filtered")
	case "resync":
		err = resync(ctx, dir)
	case "publish":
		err = publish(ctx, dir)
	default:
		err = fmt.Errorf("unknown step %q", os.Args[1])
	}
	if err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "synth:", err)
		os.Exit(1)
	}
}

type gzFile struct {
	f   *os.File
	sum func() []byte
	n   *counter
	z   *gzip.Writer
	w   *bufio.Writer
	oh  func() []byte
	on  *counter
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func newGz(p string) (*gzFile, error) {
	f, err := os.Create(p)
	if err != nil {
		return nil, err
	}
	h, oh := sha256.New(), sha256.New()
	c, oc := &counter{}, &counter{}
	z, _ := gzip.NewWriterLevel(io.MultiWriter(f, h, c), gzip.BestSpeed)
	w := bufio.NewWriterSize(io.MultiWriter(z, oh, oc), 1<<20)
	return &gzFile{f: f, sum: func() []byte { return h.Sum(nil) }, n: c, z: z, w: w, oh: func() []byte { return oh.Sum(nil) }, on: oc}, nil
}

func (g *gzFile) close() error {
	if err := g.w.Flush(); err != nil {
		return err
	}
	if err := g.z.Close(); err != nil {
		return err
	}
	return g.f.Close()
}

func gen(dir string, n int) error {
	repo := filepath.Join(dir, "repo")
	if err := os.MkdirAll(filepath.Join(repo, "repodata"), 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(repo, "Packages"), 0o755); err != nil {
		return err
	}
	t0 := time.Now()
	names := []string{"primary", "filelists", "other"}
	files := map[string]*gzFile{}
	for _, t := range names {
		g, err := newGz(filepath.Join(repo, "repodata", t+".xml.gz"))
		if err != nil {
			return err
		}
		files[t] = g
	}
	p, fl, ot := files["primary"].w, files["filelists"].w, files["other"].w
	fmt.Fprintf(p, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="%d">`+"\n", n)
	fmt.Fprintf(fl, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<filelists xmlns="http://linux.duke.edu/metadata/filelists" packages="%d">`+"\n", n)
	fmt.Fprintf(ot, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<otherdata xmlns="http://linux.duke.edu/metadata/other" packages="%d">`+"\n", n)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("synth-%05d", i)
		ver, rel := fmt.Sprintf("%d.%d.%d", 1+i%7, i%13, i%5), fmt.Sprintf("%d.el9", 1+i%4)
		file := fmt.Sprintf("%s-%s-%s.x86_64.rpm", name, ver, rel)
		payload := make([]byte, 256)
		copy(payload, fmt.Sprintf("payload of %s\n", file))
		if err := os.WriteFile(filepath.Join(repo, "Packages", file), payload, 0o644); err != nil {
			return err
		}
		sum := sha256.Sum256(payload)
		id := hex.EncodeToString(sum[:])
		fmt.Fprintf(p, `<package type="rpm">
  <name>%[1]s</name>
  <arch>x86_64</arch>
  <version epoch="0" ver="%[2]s" rel="%[3]s"/>
  <checksum type="sha256" pkgid="YES">%[4]s</checksum>
  <summary>Synthetic package %[1]s for the ingest benchmark</summary>
  <description>A synthetic package, sized like a typical AppStream package.
It has provides, requires and files like a real one.</description>
  <packager>Benchmark Build System &lt;bench@example.invalid&gt;</packager>
  <url>https://example.invalid/%[1]s</url>
  <time file="1767225600" build="1767225600"/>
  <size package="256" installed="%[6]d" archive="%[7]d"/>
  <location href="Packages/%[5]s"/>
  <format>
    <rpm:license>MIT AND (BSD-3-Clause OR GPL-2.0-or-later)</rpm:license>
    <rpm:vendor>Example</rpm:vendor>
    <rpm:group>Unspecified</rpm:group>
    <rpm:buildhost>build%[8]d.example.invalid</rpm:buildhost>
    <rpm:sourcerpm>%[1]s-%[2]s-%[3]s.src.rpm</rpm:sourcerpm>
    <rpm:header-range start="4504" end="%[9]d"/>
    <rpm:provides>
`, name, ver, rel, id, file, 100000+i, 100400+i, i%50, 20000+i%9000)
		for k := 0; k < 8; k++ {
			fmt.Fprintf(p, `      <rpm:entry name="%s-cap%d" flags="EQ" epoch="0" ver="%s" rel="%s"/>`+"\n", name, k, ver, rel)
		}
		p.WriteString("    </rpm:provides>\n    <rpm:requires>\n")
		for k := 0; k < 14; k++ {
			fmt.Fprintf(p, `      <rpm:entry name="synth-%05d-cap%d" flags="GE" epoch="0" ver="1.0"/>`+"\n", (i*7+k*131)%n, k%8)
		}
		fmt.Fprintf(p, "    </rpm:requires>\n    <file>/usr/bin/%s</file>\n    <file>/etc/%s.conf</file>\n  </format>\n</package>\n", name, name)

		fmt.Fprintf(fl, `<package pkgid="%s" name="%s" arch="x86_64">`+"\n"+`  <version epoch="0" ver="%s" rel="%s"/>`+"\n", id, name, ver, rel)
		for k := 0; k < 30; k++ {
			fmt.Fprintf(fl, "  <file>/usr/share/%s/data/file-%02d.dat</file>\n", name, k)
		}
		fl.WriteString("</package>\n")

		fmt.Fprintf(ot, `<package pkgid="%s" name="%s" arch="x86_64">`+"\n"+`  <version epoch="0" ver="%s" rel="%s"/>`+"\n", id, name, ver, rel)
		for k := 0; k < 3; k++ {
			fmt.Fprintf(ot, `  <changelog author="Benchmark Maintainer &lt;bench@example.invalid&gt; - %s-%d" date="%d">- Rebuilt for the synthetic benchmark, entry %d
- Fixes a bug described at some length to look like a real changelog line</changelog>`+"\n", ver, k, 1767225600-k*86400, k)
		}
		ot.WriteString("</package>\n")
	}
	p.WriteString("</metadata>\n")
	fl.WriteString("</filelists>\n")
	ot.WriteString("</otherdata>\n")
	var md []byte
	md = append(md, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">`+"\n  <revision>1767225600</revision>\n"...)
	var open int64
	for _, t := range names {
		g := files[t]
		if err := g.close(); err != nil {
			return err
		}
		open += g.on.n
		md = fmt.Appendf(md, `  <data type="%s">
    <checksum type="sha256">%x</checksum>
    <open-checksum type="sha256">%x</open-checksum>
    <location href="repodata/%s.xml.gz"/>
    <timestamp>1767225600</timestamp>
    <size>%d</size>
    <open-size>%d</open-size>
  </data>
`, t, g.sum(), g.oh(), t, g.n.n, g.on.n)
		fmt.Printf("# %s: %d bytes open, %d gz\n", t, g.on.n, g.n.n)
	}
	md = append(md, "</repomd>\n"...)
	// A configured signing key, as in production: the first publish then
	// does not generate one (RSA key generation is not what is measured).
	_, priv, err := pgp.GenerateSigner(pgp.GenerateRequest{Name: "synth bench signing key"})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "signing.asc"), priv, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(repo, "repodata", "repomd.xml"), md, 0o644); err != nil {
		return err
	}
	fmt.Printf("gen %.2f %d\n", time.Since(t0).Seconds(), n)
	return nil
}

type dirSource string

func (d dirSource) Open(ctx context.Context, p string) (io.ReadCloser, error) {
	return os.Open(filepath.Join(string(d), filepath.FromSlash(p)))
}

// scan runs formats/rpm Scan alone, keeping nothing.
func scan(ctx context.Context, dir string) error {
	t0 := time.Now()
	n := 0
	err := rpm.New(nil).Scan(ctx, formats.ScanRequest{Source: dirSource(filepath.Join(dir, "repo")), Mode: formats.ModeFiltered},
		func(e formats.Entry) error {
			if e.Item != nil {
				n++
			}
			return nil
		})
	if err != nil {
		return err
	}
	fmt.Printf("scan %.2f %d\n", time.Since(t0).Seconds(), n)
	return nil
}

// open opens the mirror of DIR; mode mirror uses its own base path, so that
// each mode's ingest starts from an empty catalog and pool.
func open(dir, mode string) (*chantal.Mirror, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	data := "data"
	if mode == "mirror" {
		data = "data-mirror"
	}
	y := fmt.Sprintf(`storage:
  base_path: %s/%s
  published_path: %s/pub
download: {parallel: 8}
gpg: {key_file: %s/signing.asc}
repositories:
  - id: synth
    type: rpm
    mode: %s
    feed: file://%s/repo/
`, abs, data, abs, abs, mode, abs)
	p := filepath.Join(abs, "config-"+mode+".yaml")
	if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
		return nil, err
	}
	cfg, err := config.Load(p, nil)
	if err != nil {
		return nil, err
	}
	return chantal.Open("", chantal.WithConfig(cfg), chantal.WithReporter(chantal.ReporterFunc(func(e chantal.Event) {
		if e.Kind == chantal.ScanDone {
			fmt.Fprintf(os.Stderr, "scan and catalog writes of %d items done after %.2f s\n", e.Total, time.Since(started).Seconds())
		}
	})))
}

// started is when the process started, for the ScanDone report.
var started = time.Now()

// syncRepo is the ingest step: a Sync of DIR/repo in mode into an empty base
// path, with the command line's garbage collector setting (gctune.ForSync).
func syncRepo(ctx context.Context, dir, mode string) error {
	if mode != "filtered" && mode != "mirror" {
		return fmt.Errorf("mode %q: want filtered or mirror", mode)
	}
	gctune.ForSync()
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	data := filepath.Join(abs, "data")
	if mode == "mirror" {
		data += "-mirror"
	}
	if err := os.RemoveAll(data); err != nil {
		return err
	}
	m, err := open(dir, mode)
	if err != nil {
		return err
	}
	defer m.Close()
	stop := sampleRSS()
	t0 := time.Now()
	res, err := m.Sync(ctx, chantal.SyncRequest{Repos: []string{"synth"}})
	anon, file := stop()
	fmt.Fprintf(os.Stderr, "sync peak RssAnon %d MB, RssFile %d MB\n", anon>>10, file>>10)
	if err != nil {
		return err
	}
	if err := res.Err(); err != nil {
		return err
	}
	fmt.Printf("ingest-%s %.2f %d\n", mode, time.Since(t0).Seconds(), len(res.Repos[0].Added))
	return nil
}

// resync syncs DIR/repo again into the filtered data directory, which
// keeps what it holds: after gen with one package more, a one-package change.
func resync(ctx context.Context, dir string) error {
	m, err := open(dir, "filtered")
	if err != nil {
		return err
	}
	defer m.Close()
	t0 := time.Now()
	res, err := m.Sync(ctx, chantal.SyncRequest{Repos: []string{"synth"}})
	if err != nil {
		return err
	}
	if err := res.Err(); err != nil {
		return err
	}
	fmt.Printf("resync %.2f %d\n", time.Since(t0).Seconds(), len(res.Repos[0].Added))
	return nil
}

func publish(ctx context.Context, dir string) error {
	m, err := open(dir, "filtered")
	if err != nil {
		return err
	}
	defer m.Close()
	t0 := time.Now()
	res, err := m.Publish(ctx, chantal.PublishRequest{Repo: "synth"})
	if err != nil {
		return err
	}
	step := "publish"
	if res.Unchanged {
		step = "republish-unchanged"
	}
	fmt.Printf("%s %.2f %d\n", step, time.Since(t0).Seconds(), res.Linked)
	return nil
}

// sampleRSS samples the process's anonymous (heap) and file-backed (the
// catalog's memory map) resident sizes until the returned func is called,
// which reports the peaks in KiB.
func sampleRSS() func() (anon, file int64) {
	var mu sync.Mutex
	var pa, pf int64
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			b, _ := os.ReadFile("/proc/self/status") // best effort: zero when unreadable
			for _, line := range strings.Split(string(b), "\n") {
				var v int64
				if _, err := fmt.Sscanf(line, "RssAnon: %d kB", &v); err == nil {
					mu.Lock()
					pa = max(pa, v)
					mu.Unlock()
				}
				if _, err := fmt.Sscanf(line, "RssFile: %d kB", &v); err == nil {
					mu.Lock()
					pf = max(pf, v)
					mu.Unlock()
				}
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() (int64, int64) {
		close(done)
		mu.Lock()
		defer mu.Unlock()
		return pa, pf
	}
}
