package rpm

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"sort"
	"strings"

	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/internal/verify"
	"github.com/chantal-lite/chantal/pool"
)

// Installer tree files.
const (
	// TreeinfoPath is where installer trees (kickstart, PXE) describe their
	// images; TreeinfoAltPath is the older spelling.
	TreeinfoPath    = ".treeinfo"
	TreeinfoAltPath = "treeinfo"
	// maxTreeinfoSize bounds a .treeinfo; real ones are a few KiB.
	maxTreeinfoSize = 1 << 20
	// KindTreeinfo and KindImage are the File kinds of a .treeinfo and of
	// the images it lists.
	KindTreeinfo = "treeinfo"
	KindImage    = "kickstart"
)

// Treeinfo is a parsed .treeinfo: the images of every images-* section and
// of [stage2], deduplicated by path and sorted, with the checksums of
// [checksums].
type Treeinfo struct {
	Images []TreeImage
}

// TreeImage is one installer file.
type TreeImage struct {
	// Path is relative to the tree root, confined.
	Path string
	// Checksums from [checksums] ("sha256:hex"); empty when it lists none.
	Checksums formats.Checksums
}

// ParseTreeinfo parses a .treeinfo (an INI file). Image paths that leave the
// tree root are a *LocationError; lines that are neither sections, keys nor
// comments, and checksums of an unknown algorithm, are ErrMalformed.
func ParseTreeinfo(b []byte) (*Treeinfo, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("parsing %s: %w: %s", TreeinfoPath, ErrMalformed, fmt.Sprintf(format, args...))
	}
	section := ""
	images := map[string]bool{}
	sums := map[string]formats.Checksums{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), maxTreeinfoSize)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			if !strings.HasSuffix(line, "]") {
				return nil, bad("line %d: unterminated section", n)
			}
			section = strings.TrimSpace(line[1 : len(line)-1])
			continue
		}
		i := strings.IndexAny(line, "=:")
		if i <= 0 {
			return nil, bad("line %d: not a key = value line", n)
		}
		key, val := strings.TrimSpace(line[:i]), strings.TrimSpace(line[i+1:])
		switch {
		case strings.HasPrefix(section, "images-") || section == "stage2":
			if val == "" {
				continue
			}
			p, err := confine(TreeinfoPath, val, "")
			if err != nil {
				return nil, err
			}
			images[p] = true
		case section == "checksums":
			p, err := confine(TreeinfoPath, key, "")
			if err != nil {
				return nil, err
			}
			algo, sum, ok := strings.Cut(val, ":")
			a := verify.NormalizeAlgo(strings.TrimSpace(algo))
			if !ok || verify.New(a) == nil || a == "md5" {
				return nil, bad("line %d: checksum %q: want sha256:<hex>", n, clip(val))
			}
			sum = strings.ToLower(strings.TrimSpace(sum))
			if sums[p] == nil {
				sums[p] = formats.Checksums{}
			}
			sums[p][a] = sum
		}
	}
	if err := sc.Err(); err != nil {
		return nil, bad("%v", err)
	}
	ti := &Treeinfo{}
	for p := range images {
		ti.Images = append(ti.Images, TreeImage{Path: p, Checksums: sums[p]})
	}
	sort.Slice(ti.Images, func(i, j int) bool { return ti.Images[i].Path < ti.Images[j].Path })
	return ti, nil
}

// scanTreeinfo yields the tree's .treeinfo (or treeinfo) as a File of Kind
// KindTreeinfo, republished verbatim at the root in every mode, and each image
// it lists as a File of Kind formats.LinkKindPrefix+KindImage (published as a
// hard link at its path, not copied). An image without a checksum cannot be
// verified and is skipped with a warning. A repository without a .treeinfo
// yields nothing.
func (f *Format) scanTreeinfo(ctx context.Context, req formats.ScanRequest, log *slog.Logger, yield func(formats.Entry) error) error {
	if req.Source == nil {
		return nil
	}
	var data []byte
	var at string
	for _, p := range []string{TreeinfoPath, TreeinfoAltPath} {
		rc, err := req.Source.Open(ctx, p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("fetching %s: %w", p, err)
		}
		data, err = io.ReadAll(io.LimitReader(rc, maxTreeinfoSize+1))
		rc.Close()
		if err != nil {
			return fmt.Errorf("fetching %s: %w", p, err)
		}
		if len(data) > maxTreeinfoSize {
			return fmt.Errorf("fetching %s: %w: more than %d bytes", p, ErrTooLarge, maxTreeinfoSize)
		}
		at = p
		break
	}
	if at == "" {
		return nil
	}
	ti, err := ParseTreeinfo(data)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	if err := yield(formats.Entry{File: &formats.File{
		Path: at, Size: int64(len(data)), Digest: pool.Digest(sum),
		Checksums: formats.Checksums{"sha256": hex.EncodeToString(sum[:])}, Kind: KindTreeinfo,
	}}); err != nil {
		return err
	}
	for _, im := range ti.Images {
		if _, _, err := verify.Strongest(im.Checksums); err != nil {
			log.Warn("skipping installer image without a usable checksum", "path", im.Path, "err", err)
			continue
		}
		fl := formats.File{Path: im.Path, Checksums: im.Checksums, Kind: formats.LinkKindPrefix + KindImage}
		if v, ok := im.Checksums["sha256"]; ok {
			if d, err := pool.Parse(v); err == nil {
				fl.Digest = d
			}
		}
		if err := yield(formats.Entry{File: &fl}); err != nil {
			return err
		}
	}
	return nil
}
