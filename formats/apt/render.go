package apt

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/ulikunitz/xz"
	"golang.org/x/sync/errgroup"

	"github.com/chantal-lite/chantal/formats"
)

// Render implements formats.Format. Mirror mode copies every upstream file
// verbatim; filtered and hosted mode regenerate the indexes, the Release and
// its signatures.
func (f *Format) Render(ctx context.Context, req formats.RenderRequest) error {
	switch req.Mode {
	case formats.ModeMirror:
		for _, fl := range req.Files {
			if err := copyFile(ctx, req, fl); err != nil {
				return err
			}
		}
		return nil
	case formats.ModeFiltered, formats.ModeHosted:
		return f.renderIndexes(ctx, req)
	}
	return fmt.Errorf("rendering apt metadata: %w: unknown mode %q", ErrConfig, req.Mode)
}

func copyFile(ctx context.Context, req formats.RenderRequest, fl formats.File) error {
	if req.Open == nil {
		return fmt.Errorf("copying %s: no Open function", fl.Path)
	}
	rc, err := req.Open(ctx, fl.Digest)
	if err != nil {
		return fmt.Errorf("copying %s: %w", fl.Path, err)
	}
	defer rc.Close()
	w, err := req.Sink.Create(ctx, fl.Path)
	if err != nil {
		return fmt.Errorf("copying %s: %w", fl.Path, err)
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(w, h), rc)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copying %s: %w", fl.Path, err)
	}
	if !fl.Digest.IsZero() && !bytes.Equal(h.Sum(nil), fl.Digest[:]) {
		return fmt.Errorf("copying %s: %w: content does not match its digest", fl.Path, ErrMalformed)
	}
	return nil
}

// index is one regenerated index: its path relative to the Release, and its
// uncompressed content.
type index struct {
	name string
	data []byte
}

// rendered is one written file listed in the Release.
type rendered struct {
	name string
	size int64
	sums [4]string // md5, sha1, sha256, sha512
}

func (f *Format) renderIndexes(ctx context.Context, req formats.RenderRequest) error {
	p, err := parseParams(req.Params)
	if err != nil {
		return fmt.Errorf("rendering apt metadata: %w", err)
	}
	log := f.logger(req.Logger)
	up := upstreamRelease(ctx, req, p)
	if up == nil {
		for _, it := range req.Items {
			if it.Fields["suite"] != "" || it.Fields["codename"] != "" {
				up = &Release{Suite: it.Fields["suite"], Codename: it.Fields["codename"]}
				break
			}
		}
	}

	defComp := "main"
	if len(p.comps) > 0 {
		defComp = p.comps[0]
	}
	type group struct{ bin, udeb, src []*formats.Item }
	groups := map[string]*group{}
	archSet := map[string]bool{}
	for i := range req.Items {
		it := &req.Items[i]
		comp := componentOf(it, defComp)
		if p.flat {
			comp = ""
		} else if !ValidToken(comp) || len(p.comps) > 0 && !contains(p.comps, comp) {
			log.Warn("skipping a package in an unusable component", "path", it.Path, "component", clip(comp))
			continue
		}
		if !ValidToken(it.Arch) {
			log.Warn("skipping a package with an unusable architecture", "path", it.Path, "arch", clip(it.Arch))
			continue
		}
		g := groups[comp]
		if g == nil {
			g = &group{}
			groups[comp] = g
		}
		switch {
		case it.Arch == "source":
			if it.Fields["kind"] == "dsc" {
				g.src = append(g.src, it)
			}
		case it.Fields["udeb"] == "true":
			g.udeb = append(g.udeb, it)
		default:
			g.bin = append(g.bin, it)
			if it.Arch != "all" {
				archSet[it.Arch] = true
			}
		}
	}
	archs := p.archs
	if len(archs) == 0 {
		for a := range archSet {
			archs = append(archs, a)
		}
		sort.Strings(archs)
		if len(archs) == 0 {
			archs = []string{"all"}
		}
	}
	comps := p.comps
	if len(comps) == 0 && !p.flat {
		for c := range groups {
			comps = append(comps, c)
		}
		sort.Strings(comps)
		if len(comps) == 0 {
			comps = []string{defComp}
		}
	}
	if p.flat {
		comps = []string{""}
	}

	var idx []index
	w := &stanzaWriter{log: log}
	for _, comp := range comps {
		g := groups[comp]
		if g == nil {
			g = &group{}
		}
		dir := ""
		if comp != "" {
			dir = comp + "/"
		}
		sortItems(g.bin)
		sortItems(g.udeb)
		sortItems(g.src)
		for _, a := range archs {
			if p.flat && a != archs[0] {
				break
			}
			name := dir + "binary-" + a + "/Packages"
			if p.flat {
				name = "Packages"
			}
			idx = append(idx, index{name, w.packages(g.bin, a, p.flat)})
			if p.udebs && !p.flat {
				idx = append(idx, index{dir + "debian-installer/binary-" + a + "/Packages", w.packages(g.udeb, a, false)})
			}
		}
		if p.sources {
			name := dir + "source/Sources"
			if p.flat {
				name = "Sources"
			}
			idx = append(idx, index{name, w.sources(req.Items, g.src)})
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	files, err := writeIndexes(ctx, req.Sink, p.base(), idx, p.byHash, p.compress)
	if err != nil {
		return err
	}
	rel := releaseText(p, up, req, comps, archs, files)
	base := p.base()
	if err := formats.WriteFile(ctx, req.Sink, base+"Release", rel); err != nil {
		return err
	}
	if req.Signer == nil {
		log.Warn("no signing key: clients need [trusted=yes] for this repository")
		return nil
	}
	in, err := req.Signer.ClearSign(ctx, rel)
	if err != nil {
		return fmt.Errorf("signing InRelease: %w", err)
	}
	if err := formats.WriteFile(ctx, req.Sink, base+"InRelease", in); err != nil {
		return err
	}
	sig, err := req.Signer.DetachSign(ctx, rel)
	if err != nil {
		return fmt.Errorf("signing Release.gpg: %w", err)
	}
	return formats.WriteFile(ctx, req.Sink, base+"Release.gpg", sig)
}

// componentOf is the component an item is published in: the one its
// published path names (pool/<component>/…, as PublishPath lays it out), so
// that the index and the pool always agree, even when the digest-keyed item's
// fields were written by another repository; else its "component" field;
// else def.
func componentOf(it *formats.Item, def string) string {
	if rest, ok := strings.CutPrefix(it.Path, "pool/"); ok {
		if c, _, ok := strings.Cut(rest, "/"); ok && ValidToken(c) {
			return c
		}
	}
	if c := it.Fields["component"]; c != "" {
		return c
	}
	return def
}

// upstreamRelease reads the upstream Release kept in the state (filtered
// mode), for its Suite and Codename; nil when there is none.
func upstreamRelease(ctx context.Context, req formats.RenderRequest, p params) *Release {
	if req.Open == nil {
		return nil
	}
	for _, fl := range req.Files {
		if fl.Path != p.base()+"InRelease" && fl.Path != p.base()+"Release" {
			continue
		}
		rc, err := req.Open(ctx, fl.Digest)
		if err != nil {
			return nil
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxReleaseSize))
		rc.Close()
		if err != nil {
			return nil
		}
		if isClearsigned(b) {
			// Verified at sync time; here only Suite and Codename are read.
			if b, err = stripClearsign(b); err != nil {
				return nil
			}
		}
		r, err := ParseRelease(b)
		if err != nil {
			return nil
		}
		return r
	}
	return nil
}

// stanzaWriter re-emits verbatim stanzas with Filename and checksums
// replaced and every value folded.
type stanzaWriter struct {
	log    *slog.Logger
	fields []field
}

// replaced are the fields a regenerated Packages stanza takes from the Item.
var replaced = map[string]bool{"filename": true, "size": true, "md5sum": true, "sha1": true, "sha256": true, "sha512": true}

func (w *stanzaWriter) packages(items []*formats.Item, arch string, flat bool) []byte {
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	last := ""
	for _, it := range items {
		if !flat && it.Arch != arch && it.Arch != "all" {
			continue
		}
		if it.Path == last {
			// One stanza per published file (items are sorted by name,
			// version, arch and path, so a repeated path is adjacent).
			w.log.Warn("skipping a second package published at the same path", "path", it.Path)
			continue
		}
		last = it.Path
		fs, ok := w.parse(it)
		if !ok {
			continue
		}
		wrote := false
		tail := func() {
			writeField(bw, "Filename", []byte(it.Path))
			writeField(bw, "Size", []byte(strconv.FormatInt(it.Size, 10)))
			for _, c := range []struct{ name, alg string }{{"MD5sum", "md5"}, {"SHA1", "sha1"}, {"SHA256", "sha256"}, {"SHA512", "sha512"}} {
				v := it.Checksums[c.alg]
				if c.alg == "sha256" {
					v = it.Digest.String()
				}
				if v != "" && isHex(v) {
					writeField(bw, c.name, []byte(v))
				}
			}
			wrote = true
		}
		for _, f := range fs {
			if replaced[strings.ToLower(string(f.Name))] {
				if !wrote {
					tail()
				}
				continue
			}
			writeField(bw, string(f.Name), f.Value)
		}
		if !wrote {
			tail()
		}
		bw.WriteByte('\n')
	}
	bw.Flush()
	return out.Bytes()
}

// parse parses an item's fragment, which must be exactly one stanza whose
// Package field names the item.
func (w *stanzaWriter) parse(it *formats.Item) ([]field, bool) {
	raw := bytes.TrimLeft(bytes.TrimRight(it.Fragments[FragmentStanza], " \t\r\n"), "\r\n")
	var err error
	// A blank line inside (a second stanza) is an error of parseFields.
	w.fields, err = parseFields(raw, w.fields)
	if err == nil && len(w.fields) == 0 {
		err = fmt.Errorf("empty fragment")
	}
	if err == nil {
		if v, _ := get(w.fields, "Package"); string(v) != it.Name {
			err = fmt.Errorf("fragment names package %q", clip(string(v)))
		}
	}
	if err != nil {
		w.log.Warn("skipping a package with an unusable stanza", "path", it.Path, "err", err)
		return nil, false
	}
	return w.fields, true
}

// sources regenerates a Sources index from the .dsc items' stanzas with
// Directory replaced by where the .dsc is published. A source package is
// listed only when every file its stanza names is published next to its .dsc
// with the declared sha256: a client must never be sent after a missing
// tarball.
func (w *stanzaWriter) sources(all []formats.Item, dscs []*formats.Item) []byte {
	published := make(map[string]string, len(all))
	for i := range all {
		published[all[i].Path] = all[i].Digest.String()
	}
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	for _, it := range dscs {
		fs, ok := w.parse(it)
		if !ok {
			continue
		}
		if missing := missingArtifact(fs, path.Dir(it.Path), published); missing != "" {
			w.log.Warn("skipping a source package whose files are not all published", "path", it.Path, "missing", missing)
			continue
		}
		for _, f := range fs {
			if strings.EqualFold(string(f.Name), "Directory") {
				writeField(bw, "Directory", []byte(path.Dir(it.Path)))
				continue
			}
			writeField(bw, string(f.Name), f.Value)
		}
		bw.WriteByte('\n')
	}
	bw.Flush()
	return out.Bytes()
}

// missingArtifact returns the first file of a Sources stanza's
// Checksums-Sha256 that is not published in dir with that sha256, or "".
func missingArtifact(fs []field, dir string, published map[string]string) string {
	v, _ := get(fs, "Checksums-Sha256")
	n := 0
	for ln := range strings.SplitSeq(string(v), "\n") {
		f := strings.Fields(ln)
		if len(f) != 3 {
			continue
		}
		n++
		if published[dir+"/"+f[2]] != strings.ToLower(f[0]) {
			return f[2]
		}
	}
	if n == 0 {
		return "Checksums-Sha256"
	}
	return ""
}

// writeIndexes writes every index uncompressed and in each of the
// compressions (in parallel across indexes and compressions), with by-hash
// copies, and returns what the Release lists.
func writeIndexes(ctx context.Context, sink formats.Sink, base string, idx []index, byHash bool, exts []string) ([]rendered, error) {
	var mu sync.Mutex
	var out []rendered
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, ix := range idx {
		for _, ext := range append([]string{""}, exts...) {
			g.Go(func() error {
				data := ix.data
				if ext != "" {
					var err error
					if data, err = compress(ix.data, ext); err != nil {
						return fmt.Errorf("compressing %s: %w", ix.name, err)
					}
				}
				r := rendered{name: ix.name + ext, size: int64(len(data)), sums: sumsOf(data)}
				if err := formats.WriteFile(gctx, sink, base+r.name, data); err != nil {
					return err
				}
				if byHash {
					for _, h := range []struct{ dir, sum string }{{"SHA256", r.sums[2]}, {"SHA512", r.sums[3]}} {
						if err := formats.WriteFile(gctx, sink, base+byHashPath(r.name, h.dir, h.sum), data); err != nil {
							return err
						}
					}
				}
				mu.Lock()
				out = append(out, r)
				mu.Unlock()
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// compress is deterministic: gzip with no name and zero mtime, xz with CRC32.
func compress(b []byte, ext string) ([]byte, error) {
	var buf bytes.Buffer
	var w io.WriteCloser
	var err error
	switch ext {
	case ".gz":
		w, err = gzip.NewWriterLevel(&buf, gzip.BestCompression)
	case ".xz":
		w, err = xz.WriterConfig{CheckSum: xz.CRC32}.NewWriter(&buf)
	default:
		return nil, fmt.Errorf("unknown compression %q", ext)
	}
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func sumsOf(b []byte) [4]string {
	m, s1, s2, s5 := md5.Sum(b), sha1.Sum(b), sha256.Sum256(b), sha512.Sum512(b)
	return [4]string{hex.EncodeToString(m[:]), hex.EncodeToString(s1[:]), hex.EncodeToString(s2[:]), hex.EncodeToString(s5[:])}
}

// releaseDate is the Date format Debian's archive uses.
const releaseDate = "Mon, 02 Jan 2006 15:04:05 UTC"

func releaseText(p params, up *Release, req formats.RenderRequest, comps, archs []string, files []rendered) []byte {
	suite, code := p.suite, p.code
	if up != nil {
		if suite == "" && ValidToken(up.Suite) {
			suite = up.Suite
		}
		if code == "" && ValidToken(up.Codename) {
			code = up.Codename
		}
	}
	if suite == "" {
		suite = p.dist
	}
	if code == "" {
		code = p.dist
	}
	var b bytes.Buffer
	bw := bufio.NewWriter(&b)
	one := func(n, v string) {
		if v != "" {
			writeField(bw, n, []byte(v))
		}
	}
	one("Origin", p.origin)
	one("Label", p.label)
	if !p.flat {
		one("Suite", suite)
		one("Codename", code)
	}
	now := req.Now.UTC()
	one("Date", now.Format(releaseDate))
	if p.valid > 0 {
		one("Valid-Until", now.Add(p.valid).Format(releaseDate))
	}
	var as []string
	for _, a := range archs {
		if a != "all" {
			as = append(as, a)
		}
	}
	if len(as) == 0 {
		as = []string{"all"}
	}
	one("Architectures", strings.Join(as, " "))
	if !p.flat {
		one("Components", strings.Join(comps, " "))
	}
	if p.byHash {
		one("Acquire-By-Hash", "yes")
	}
	width := 0
	for _, r := range files {
		width = max(width, len(strconv.FormatInt(r.size, 10)))
	}
	for i, h := range []string{"MD5Sum", "SHA1", "SHA256", "SHA512"} {
		bw.WriteString(h + ":\n")
		for _, r := range files {
			fmt.Fprintf(bw, " %s %*d %s\n", r.sums[i], width, r.size, r.name)
		}
	}
	bw.Flush()
	return b.Bytes()
}
