//go:build bench

// Command gen builds and serves the synthetic APT upstream of the side-by-side
// benchmark against aptly (bench/apt/compare.sh).
//
//	gen repo [-n 63000] [-dist stable] DIR
//	gen serve [-addr 127.0.0.1:0] [-portfile FILE] [-stdlib] DIR
//	gen floor [-dist stable] [-parallel 4] [-raw] [-tmpfile] URL DIR
//
// "gen repo" writes DIR/repo: n tiny but valid .deb files (ar archive with
// debian-binary, control.tar.gz and data.tar.gz, about 1.5 KB each) under
// pool/main/, dists/DIST/main/binary-amd64/Packages with Debian-sized stanzas
// (multi-line Description, Depends, MD5sum, SHA256) plus .gz and .xz, and a
// Release with MD5Sum, SHA1 and SHA256 for every index, signed as InRelease
// (clearsigned) and Release.gpg (detached) with a key generated for the run.
// The public key is written as DIR/key.asc (armored, for chantal-lite) and
// DIR/keyring.gpg (binary, for aptly's gpgv). Everything but the key and the
// signatures is deterministic. Packages.xz is compressed by the xz tool (-2:
// only decompression speed matters to the tools measured).
//
// "gen serve" serves DIR over HTTP/1.1 with keep-alive and If-Modified-Since,
// so both tools fetch through the network stack the same way. It stands in
// for a remote mirror, whose CPU a real sync would not share, so by default it
// is a lean server answering from memory (lean.go: a few microseconds a
// request); -stdlib serves with net/http.FileServer instead (Range too, about
// 70 µs of CPU a request on the 2 cores the tools measured also use). The
// chosen address is printed on stdout and, with -portfile, its port written
// to FILE.
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/klauspost/compress/gzip"
	"golang.org/x/sync/errgroup"

	"github.com/chantal-lite/chantal/internal/pgp"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: gen repo [-n N] [-dist D] DIR | gen serve [-addr A] [-portfile F] [-stdlib] DIR | gen floor [-dist D] [-parallel P] [-raw] [-tmpfile] URL DIR")
	}
	switch args[0] {
	case "repo":
		fs := flag.NewFlagSet("repo", flag.ContinueOnError)
		n := fs.Int("n", 63000, "number of packages")
		dist := fs.String("dist", "stable", "distribution (suite and codename)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 1 || *n <= 0 {
			return errors.New("usage: gen repo [-n N] [-dist D] DIR")
		}
		return generate(fs.Arg(0), *n, *dist)
	case "serve":
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		addr := fs.String("addr", "127.0.0.1:0", "listen address")
		portFile := fs.String("portfile", "", "write the port to this file once listening")
		stdlib := fs.Bool("stdlib", false, "serve with net/http.FileServer instead of the lean server")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return errors.New("usage: gen serve [-addr A] [-portfile F] [-stdlib] DIR")
		}
		return serve(fs.Arg(0), *addr, *portFile, *stdlib)
	case "floor":
		fs := flag.NewFlagSet("floor", flag.ContinueOnError)
		dist := fs.String("dist", "stable", "distribution")
		parallel := fs.Int("parallel", 4, "requests in flight")
		raw := fs.Bool("raw", false, "no http.Transport: requests and responses on the worker's own connection")
		tmpfile := fs.Bool("tmpfile", false, "O_TMPFILE + linkat instead of temp file + rename")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 2 || *parallel <= 0 {
			return errors.New("usage: gen floor [-dist D] [-parallel P] [-raw] [-tmpfile] URL DIR")
		}
		return floor(context.Background(), fs.Arg(0), *dist, fs.Arg(1), *parallel, *raw, *tmpfile)
	}
	return fmt.Errorf("unknown command %q (want repo, serve or floor)", args[0])
}

// serve serves dir until SIGINT or SIGTERM.
func serve(dir, addr, portFile string, stdlib bool) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	fmt.Printf("serving %s at http://%s/\n", dir, ln.Addr())
	if portFile != "" {
		if err := os.WriteFile(portFile, fmt.Appendf(nil, "%d\n", port), 0o644); err != nil {
			return fmt.Errorf("write port file: %w", err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if !stdlib {
		s, err := newLeanServer(dir)
		if err != nil {
			return err
		}
		return s.serve(ctx, ln)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir)), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// mtime is the fixed modification time inside every generated archive.
var mtime = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)

// prefixes spread the names the way a Debian archive does (lib*, python3-*, …).
var prefixes = []string{"lib", "python3-", "golang-", "node-", "r-cran-", "ruby-", "fonts-", "lib", "", "", "perl-", "texlive-"}

var words = []string{"alpha", "bridge", "cobalt", "delta", "ember", "falcon", "garnet", "harbor", "indigo", "juniper",
	"kestrel", "lumen", "meadow", "nickel", "orbit", "pepper", "quartz", "raven", "saffron", "timber", "umber", "vortex"}

// pkg is one generated package.
type pkg struct {
	name, src, version, fileVersion, arch string
}

func newPkg(i int) pkg {
	p := pkg{
		name: fmt.Sprintf("%s%s%d", prefixes[i%len(prefixes)], words[i/len(prefixes)%len(words)], i),
		src:  fmt.Sprintf("%s%s-src%d", prefixes[(i/3)%len(prefixes)], words[(i/3)%len(words)], i/3),
		arch: "amd64",
	}
	if i%5 == 0 {
		p.arch = "all"
	}
	up := fmt.Sprintf("%d.%d.%d", i%13, i%101, i%7)
	rev := fmt.Sprintf("%d+deb12u%d", 1+i%4, i%3)
	p.fileVersion = up + "-" + rev
	p.version = p.fileVersion
	if i%9 == 0 {
		p.version = "1:" + p.fileVersion
	}
	return p
}

// poolDir is the source's directory below pool/main, as dak lays it out.
func (p pkg) poolDir() string {
	first := p.src[:1]
	if strings.HasPrefix(p.src, "lib") && len(p.src) > 3 {
		first = p.src[:4]
	}
	return "pool/main/" + first + "/" + p.src
}

func (p pkg) filename() string {
	return fmt.Sprintf("%s/%s_%s_%s.deb", p.poolDir(), p.name, p.fileVersion, p.arch)
}

// control is the package's control file (what the .deb carries); the
// Packages stanza adds Filename, Size and checksums.
func (p pkg) control(i, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Package: %s\n", p.name)
	if p.src != p.name {
		fmt.Fprintf(&b, "Source: %s\n", p.src)
	}
	fmt.Fprintf(&b, "Version: %s\nInstalled-Size: %d\nMaintainer: %s Team <pkg-%s@lists.example.invalid>\nArchitecture: %s\n",
		p.version, 16+i*7%9000, words[i%len(words)], words[(i/7)%len(words)], p.arch)
	if p.arch != "all" {
		b.WriteString("Multi-Arch: same\n")
	}
	fmt.Fprintf(&b, "Depends: libc6 (>= 2.34), %s (>= %s), %s | %s, zlib1g (>= 1:1.1.4)\n",
		newPkg((i+1)%n).name, newPkg((i+1)%n).version, newPkg((i+2)%n).name, newPkg((i+3)%n).name)
	if i%4 == 0 {
		fmt.Fprintf(&b, "Recommends: %s, ca-certificates\n", newPkg((i+5)%n).name)
	}
	if i%6 == 0 {
		fmt.Fprintf(&b, "Breaks: %s (<< %s)\nReplaces: %s (<< %s)\n", newPkg((i+7)%n).name, p.fileVersion, newPkg((i+7)%n).name, p.fileVersion)
	}
	fmt.Fprintf(&b, "Section: %s\nPriority: optional\nHomepage: https://%s.example.invalid/%s\n", sections[i%len(sections)], words[i%len(words)], p.name)
	fmt.Fprintf(&b, "Description: %s %s library and tools (package %d of the benchmark)\n", words[i%len(words)], words[(i/3)%len(words)], i)
	fmt.Fprintf(&b, " The %s project provides a small, fast implementation of the %s\n", words[(i/5)%len(words)], words[(i/11)%len(words)])
	b.WriteString(" protocol together with command-line tools and documentation.\n .\n")
	fmt.Fprintf(&b, " This package contains the %s files for %s.\n", sections[i%len(sections)], p.name)
	return b.String()
}

var sections = []string{"libs", "python", "golang", "javascript", "gnu-r", "ruby", "fonts", "libdevel", "utils", "net", "perl", "tex"}

// buildDeb returns a valid .deb for p.
func buildDeb(p pkg, control string, rnd *rand.Rand) ([]byte, error) {
	ctl, err := tarGz([]tarFile{{"./control", []byte(control)}, {"./md5sums", fmt.Appendf(nil, "%032x  usr/share/doc/%s/copyright\n", rnd.Uint64(), p.name)}})
	if err != nil {
		return nil, err
	}
	// Incompressible content gives each .deb a realistic-ish, distinct size.
	blob := make([]byte, 200+rnd.IntN(600))
	for i := range blob {
		blob[i] = byte(rnd.Uint32())
	}
	data, err := tarGz([]tarFile{{"./usr/share/doc/" + p.name + "/copyright", fmt.Appendf(nil, "Files: *\nLicense: MIT\nPackage: %s\n", p.name)},
		{"./usr/share/" + p.src + "/" + p.name + ".dat", blob}})
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString("!<arch>\n")
	for _, m := range []struct {
		name string
		data []byte
	}{{"debian-binary", []byte("2.0\n")}, {"control.tar.gz", ctl}, {"data.tar.gz", data}} {
		fmt.Fprintf(&b, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", m.name, mtime.Unix(), 0, 0, "100644", len(m.data))
		b.Write(m.data)
		if len(m.data)%2 == 1 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes(), nil
}

type tarFile struct {
	name string
	data []byte
}

func tarGz(files []tarFile) ([]byte, error) {
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	dirs := map[string]bool{}
	for _, f := range files {
		var parts []string
		for d := filepath.Dir(f.name); d != "." && d != "/"; d = filepath.Dir(d) {
			parts = append(parts, d)
		}
		parts = append(parts, ".")
		for j := len(parts) - 1; j >= 0; j-- {
			d := parts[j] + "/"
			if d != "./" {
				d = "./" + d
			}
			if dirs[d] {
				continue
			}
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: mtime, Uname: "root", Gname: "root", Format: tar.FormatGNU}); err != nil {
				return nil, err
			}
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: 0o644, Size: int64(len(f.data)), ModTime: mtime, Uname: "root", Gname: "root", Format: tar.FormatGNU}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// generate writes the repository, keys and signatures below out.
func generate(out string, n int, dist string) error {
	start := time.Now()
	root := filepath.Join(out, "repo")
	if _, err := os.Stat(root); err == nil {
		return fmt.Errorf("%s exists; remove it or pick another directory", root)
	}
	compDir := filepath.Join(root, "dists", dist, "main", "binary-amd64")
	if err := os.MkdirAll(compDir, 0o755); err != nil {
		return err
	}
	// The key is generated while the packages are built.
	type keyResult struct {
		s   *pgp.Signer
		err error
	}
	keyc := make(chan keyResult, 1)
	go func() {
		s, _, err := pgp.GenerateSigner(pgp.GenerateRequest{Name: "chantal-lite bench upstream", Email: "bench@example.invalid"})
		keyc <- keyResult{s, err}
	}()

	stanzas := make([]string, n)
	var g errgroup.Group
	workers := runtime.GOMAXPROCS(0)
	var mkdir sync.Mutex
	made := map[string]bool{}
	for w := range workers {
		g.Go(func() error {
			for i := w; i < n; i += workers {
				p := newPkg(i)
				ctl := p.control(i, n)
				deb, err := buildDeb(p, ctl, rand.New(rand.NewPCG(uint64(i), 42)))
				if err != nil {
					return fmt.Errorf("build %s: %w", p.name, err)
				}
				dir := filepath.Join(root, filepath.FromSlash(p.poolDir()))
				mkdir.Lock()
				if !made[dir] {
					if err := os.MkdirAll(dir, 0o755); err != nil {
						mkdir.Unlock()
						return err
					}
					made[dir] = true
				}
				mkdir.Unlock()
				if err := os.WriteFile(filepath.Join(root, filepath.FromSlash(p.filename())), deb, 0o644); err != nil {
					return err
				}
				md := md5.Sum(deb)
				sh := sha256.Sum256(deb)
				stanzas[i] = fmt.Sprintf("%sFilename: %s\nSize: %d\nMD5sum: %s\nSHA256: %s\n",
					ctl, p.filename(), len(deb), hex.EncodeToString(md[:]), hex.EncodeToString(sh[:]))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	debsDone := time.Now()

	var packages bytes.Buffer
	for _, s := range stanzas {
		packages.WriteString(s)
		packages.WriteByte('\n')
	}
	raw := packages.Bytes()
	var gz bytes.Buffer
	var xzOut []byte
	var cg errgroup.Group
	cg.Go(func() error {
		zw, err := gzip.NewWriterLevel(&gz, gzip.DefaultCompression)
		if err != nil {
			return err
		}
		if _, err := zw.Write(raw); err != nil {
			return err
		}
		return zw.Close()
	})
	cg.Go(func() error {
		cmd := exec.Command("xz", "-2", "-T2", "-c")
		cmd.Stdin = bytes.NewReader(raw)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("xz: %w: %s", err, strings.TrimSpace(stderr.String()))
		}
		xzOut = b
		return nil
	})
	if err := cg.Wait(); err != nil {
		return err
	}
	indexes := []struct {
		name string
		data []byte
	}{
		{"main/binary-amd64/Packages", raw},
		{"main/binary-amd64/Packages.gz", gz.Bytes()},
		{"main/binary-amd64/Packages.xz", xzOut},
		{"main/binary-amd64/Release", fmt.Appendf(nil, "Archive: %s\nOrigin: Bench\nLabel: Bench\nComponent: main\nArchitecture: amd64\n", dist)},
	}
	for _, ix := range indexes {
		if err := os.WriteFile(filepath.Join(root, "dists", dist, filepath.FromSlash(ix.name)), ix.data, 0o644); err != nil {
			return err
		}
	}

	var rel strings.Builder
	fmt.Fprintf(&rel, "Origin: Bench\nLabel: Bench\nSuite: %s\nCodename: %s\nDate: %s\nArchitectures: amd64\nComponents: main\nDescription: synthetic upstream of %d packages for the chantal-lite/aptly benchmark\n",
		dist, dist, time.Now().UTC().Format(time.RFC1123Z), n)
	for _, h := range []struct {
		field string
		new   func() hash.Hash
	}{{"MD5Sum", md5.New}, {"SHA1", sha1.New}, {"SHA256", sha256.New}} {
		rel.WriteString(h.field + ":\n")
		for _, ix := range indexes {
			d := h.new()
			d.Write(ix.data)
			fmt.Fprintf(&rel, " %s %8d %s\n", hex.EncodeToString(d.Sum(nil)), len(ix.data), ix.name)
		}
	}
	release := []byte(rel.String())

	kr := <-keyc
	if kr.err != nil {
		return kr.err
	}
	ctx := context.Background()
	in, err := kr.s.ClearSign(ctx, release)
	if err != nil {
		return err
	}
	det, err := kr.s.DetachSign(ctx, release)
	if err != nil {
		return err
	}
	distDir := filepath.Join(root, "dists", dist)
	for name, data := range map[string][]byte{"Release": release, "InRelease": in, "Release.gpg": det} {
		if err := os.WriteFile(filepath.Join(distDir, name), data, 0o644); err != nil {
			return err
		}
	}
	pub := kr.s.PublicKey()
	if err := os.WriteFile(filepath.Join(out, "key.asc"), pub, 0o644); err != nil {
		return err
	}
	blk, err := armor.Decode(bytes.NewReader(pub))
	if err != nil {
		return fmt.Errorf("dearmor public key: %w", err)
	}
	bin, err := io.ReadAll(blk.Body)
	if err != nil {
		return fmt.Errorf("dearmor public key: %w", err)
	}
	if err := os.WriteFile(filepath.Join(out, "keyring.gpg"), bin, 0o644); err != nil {
		return err
	}

	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(w, "generated %d packages in %s (debs %.1fs, total %.1fs)\n", n, root, debsDone.Sub(start).Seconds(), time.Since(start).Seconds())
	fmt.Fprintf(w, "Packages %d bytes, .gz %d, .xz %d; key %s\n", len(raw), gz.Len(), len(xzOut), kr.s.Fingerprint())
	return w.Flush()
}
