// Package lines is a tiny line-based repository format used to test the
// core without any real package format: an upstream is an "index.txt" whose lines
// read "<sha256> <size> <path> <name> <version> <arch>", plus the payload files.
package lines

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/pool"
)

// Index is the path of the top-level index.
const Index = "index.txt"

// Format is the test format. The zero value is ready to use.
type Format struct{}

// Name implements formats.Format.
func (Format) Name() string { return "lines" }

// TopLevel implements formats.TopLeveler.
func (Format) TopLevel(context.Context, formats.ScanRequest) (string, string, error) {
	return Index, "", nil
}

// Compare implements formats.Comparer: dot-separated numeric segments.
func (Format) Compare(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// Scan implements formats.Format.
func (Format) Scan(ctx context.Context, req formats.ScanRequest, yield func(formats.Entry) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var data []byte
	if req.Top != nil {
		data = req.Top.Data
	} else {
		rc, err := req.Source.Open(ctx, Index)
		if err != nil {
			return fmt.Errorf("opening %s: %w", Index, err)
		}
		data, err = io.ReadAll(io.LimitReader(rc, 64<<20))
		rc.Close()
		if err != nil {
			return fmt.Errorf("reading %s: %w", Index, err)
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		n++
		if err := ctx.Err(); err != nil {
			return err
		}
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		it, err := parseLine(line)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", Index, n, err)
		}
		if err := yield(formats.Entry{Item: &it}); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading %s: %w", Index, err)
	}
	sum := sha256.Sum256(data)
	return yield(formats.Entry{File: &formats.File{
		Path: Index, Size: int64(len(data)), Digest: pool.Digest(sum), Kind: "index",
		Checksums: formats.Checksums{"sha256": hex.EncodeToString(sum[:])},
	}})
}

func parseLine(line string) (formats.Item, error) {
	f := strings.Fields(line)
	if len(f) != 6 {
		return formats.Item{}, fmt.Errorf("want 6 fields, got %d", len(f))
	}
	d, err := pool.Parse(f[0])
	if err != nil {
		return formats.Item{}, err
	}
	size, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil || size < 0 {
		return formats.Item{}, fmt.Errorf("bad size %q", f[1])
	}
	if strings.Contains(f[2], "..") || strings.HasPrefix(f[2], "/") {
		return formats.Item{}, fmt.Errorf("bad path %q", f[2])
	}
	return formats.Item{
		Path: f[2], Size: size, Digest: d,
		Checksums: formats.Checksums{"sha256": d.String()},
		Name:      f[3], Version: f[4], Arch: f[5],
		Fields:    map[string]string{"first": f[3][:1]},
		Fragments: map[string][]byte{"line": []byte(line)},
	}, nil
}

// Inspect implements formats.Inspector: a payload of this format starts with a
// line "# lines <name> <version> <arch>".
func (Format) Inspect(ctx context.Context, r io.ReaderAt, size int64) (formats.Item, error) {
	if err := ctx.Err(); err != nil {
		return formats.Item{}, err
	}
	head := make([]byte, min(size, 4096))
	n, err := r.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return formats.Item{}, err
	}
	line, _, _ := strings.Cut(string(head[:n]), "\n")
	f := strings.Fields(line)
	if len(f) != 5 || f[0] != "#" || f[1] != "lines" {
		return formats.Item{}, fmt.Errorf("not a lines payload: first line %q", line)
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, size)); err != nil {
		return formats.Item{}, err
	}
	d := pool.Digest(h.Sum(nil))
	return formats.Item{
		Path: fmt.Sprintf("pkgs/%s-%s.%s.pkg", f[2], f[3], f[4]), Size: size, Digest: d,
		Checksums: formats.Checksums{"sha256": d.String()},
		Name:      f[2], Version: f[3], Arch: f[4],
		Fields: map[string]string{"first": f[2][:1]},
	}, nil
}

// Payload returns a payload of this format for tests.
func Payload(name, version, arch string) []byte {
	return []byte(fmt.Sprintf("# lines %s %s %s\npayload of %s %s\n", name, version, arch, name, version))
}

// Line formats one index line.
func Line(it formats.Item) string {
	return fmt.Sprintf("%s %d %s %s %s %s", it.Digest, it.Size, it.Path, it.Name, it.Version, it.Arch)
}

// Render implements formats.Format: mirror mode copies the upstream index
// verbatim, other modes write a new one (through RenderPieces, one line per
// item); a Signer adds index.txt.asc.
func (f Format) Render(ctx context.Context, req formats.RenderRequest) error {
	if req.Mode != formats.ModeMirror {
		return formats.RenderPieces(ctx, f, req, nil)
	}
	var buf bytes.Buffer
	for _, f := range req.Files {
		if f.Kind != "index" {
			continue
		}
		rc, err := req.Open(ctx, f.Digest)
		if err != nil {
			return err
		}
		_, err = io.Copy(&buf, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	if err := formats.WriteFile(ctx, req.Sink, Index, buf.Bytes()); err != nil {
		return err
	}
	return sign(ctx, req, buf.Bytes())
}

func sign(ctx context.Context, req formats.RenderRequest, data []byte) error {
	if req.Signer == nil {
		return nil
	}
	sig, err := req.Signer.DetachSign(ctx, data)
	if err != nil {
		return fmt.Errorf("signing %s: %w", Index, err)
	}
	return formats.WriteFile(ctx, req.Sink, Index+".asc", sig)
}

// PieceVersion implements formats.PieceRenderer.
func (Format) PieceVersion() string { return "1" }

// RenderPiece implements formats.PieceRenderer: the item's index line.
func (Format) RenderPiece(_ context.Context, _ formats.PieceRequest, it *formats.Item, emit func(string, []byte)) error {
	emit("index", []byte(Line(*it)+"\n"))
	return nil
}

// RenderStreams implements formats.PieceRenderer: index.txt and its signature.
func (Format) RenderStreams(ctx context.Context, req formats.RenderRequest, s formats.Streams) error {
	w, err := req.Sink.Create(ctx, Index)
	if err != nil {
		return err
	}
	// What is signed is kept while it is written, not read again.
	var signed bytes.Buffer
	out := io.Writer(w)
	if req.Signer != nil {
		signed.Grow(int(s.Size("index")))
		out = io.MultiWriter(w, &signed)
	}
	_, err = s.Write(ctx, out, formats.StreamWrite{Streams: []string{"index"}, Resumable: true})
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return sign(ctx, req, signed.Bytes())
}

// Build returns an upstream index for payloads (path → content) with the given
// name/version/arch triples, for tests: name-version.arch.pkg files.
func Build(pkgs map[string][]byte, meta func(path string) (name, version, arch string)) []byte {
	var paths []string
	for p := range pkgs {
		paths = append(paths, p)
	}
	sortStrings(paths)
	var buf bytes.Buffer
	for _, p := range paths {
		n, v, a := meta(p)
		fmt.Fprintf(&buf, "%s %d %s %s %s %s\n", pool.Sum(pkgs[p]), len(pkgs[p]), p, n, v, a)
	}
	return buf.Bytes()
}

func sortStrings(s []string) {
	slices.Sort(s)
}
