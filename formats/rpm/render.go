package rpm

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/chantal-lite/chantal/formats"
)

// Roots of the regenerated metadata files, as createrepo_c writes them.
const (
	xmlDecl       = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"
	primaryRoot   = `<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="%d">` + "\n"
	filelistsRoot = `<filelists xmlns="http://linux.duke.edu/metadata/filelists" packages="%d">` + "\n"
	otherRoot     = `<otherdata xmlns="http://linux.duke.edu/metadata/other" packages="%d">` + "\n"
	repomdRoot    = `<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">` + "\n"
)

// keptKinds are the repo-level files filtered and hosted mode republish
// verbatim: they name no package locations.
var keptKinds = [...]string{"group", "group_gz", "modules"}

// Render writes published metadata.
//
// In mirror mode it writes every File of req.Files byte for byte at its
// upstream path (repomd.xml, its signature, every data file), so upstream
// signatures stay valid; payloads keep their upstream locations.
//
// In filtered and hosted mode it regenerates repodata/: primary, filelists and
// other from the items' verbatim fragments (only each primary <location> is
// rewritten, to Item.Path), compressed per Params["compression"]; comps
// (group, group_gz) verbatim; updateinfo and modules pruned to the published
// packages (see renderModules); a .treeinfo verbatim at its path; a new
// repomd.xml dated req.Now; and, when req.Signer is set,
// repodata/repomd.xml.asc. zchunk and sqlite metadata are never written. The
// same request gives the same bytes.
func (f *Format) Render(ctx context.Context, req formats.RenderRequest) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if req.Sink == nil {
		return errors.New("rendering rpm metadata: no sink")
	}
	switch req.Mode {
	case formats.ModeMirror:
		return f.renderMirror(ctx, req)
	case formats.ModeFiltered, formats.ModeHosted:
		return formats.RenderPieces(ctx, f, req, nil)
	}
	return fmt.Errorf("rendering rpm metadata: mode %q: %w", req.Mode, ErrNotImplemented)
}

// PieceVersion implements formats.PieceRenderer.
func (f *Format) PieceVersion() string { return "rpm-1" }

// Streams of the pieces: the three indexes, and "nevra", every published
// package's identity, which updateinfo and modules are pruned to.
const nevraStream = "nevra"

// RenderPiece implements formats.PieceRenderer: the package's primary
// fragment with its location rewritten to it.Path, its filelists and other
// fragments verbatim (each followed by a newline), and its NEVRA.
func (f *Format) RenderPiece(_ context.Context, _ formats.PieceRequest, it *formats.Item, emit func(string, []byte)) error {
	prim := it.Fragments["primary"]
	if len(prim) == 0 {
		return fmt.Errorf("rendering primary: %w: item %s has no primary fragment", ErrMalformed, clip(it.Path))
	}
	frag, err := relocate(prim, it.Path)
	if err != nil {
		return fmt.Errorf("rendering primary: package %s: %w", clip(it.Path), err)
	}
	emit("primary", append(frag, '\n'))
	for _, typ := range []string{"filelists", "other"} {
		if b := it.Fragments[typ]; len(b) > 0 {
			emit(typ, append(append(make([]byte, 0, len(b)+1), b...), '\n'))
		}
	}
	n := itemNEVRA(it)
	var b []byte
	for _, v := range []string{n.name, n.epoch, n.version, n.release, n.arch} {
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	emit(nevraStream, b)
	return nil
}

// publishedNEVRAs reads the nevra stream back.
func publishedNEVRAs(ctx context.Context, s formats.Streams) (map[nevra]bool, error) {
	rc, err := s.Open(ctx, nevraStream)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	br := bufio.NewReader(rc)
	keep := make(map[nevra]bool, s.Count(nevraStream))
	for {
		var v [5]string
		for i := range v {
			l, err := binary.ReadUvarint(br)
			if err == io.EOF && i == 0 {
				return keep, nil
			}
			if err != nil || l > 1<<20 {
				return nil, fmt.Errorf("reading published packages: malformed (%v)", err)
			}
			b := make([]byte, l)
			if _, err := io.ReadFull(br, b); err != nil {
				return nil, fmt.Errorf("reading published packages: %w", err)
			}
			v[i] = string(b)
		}
		keep[nevra{v[0], v[1], v[2], v[3], v[4]}] = true
	}
}

// MirrorFromFiles implements formats.MirrorFromFiles: renderMirror copies
// the upstream files and reads nothing of the items.
func (f *Format) MirrorFromFiles() bool { return true }

// renderMirror copies every repo-level file verbatim.
func (f *Format) renderMirror(ctx context.Context, req formats.RenderRequest) error {
	for _, fl := range req.Files {
		if _, err := copyFile(ctx, req, fl, fl.Path, 0); err != nil {
			return err
		}
	}
	return nil
}

// copyFile writes the bytes of fl to the sink at dst and checks them against
// fl.Digest. When open > 0 it also returns the checksum and size of the
// decompressed content, read through a second pass bounded by open bytes.
func copyFile(ctx context.Context, req formats.RenderRequest, fl formats.File, dst string, open int64) (Data, error) {
	if req.Open == nil {
		return Data{}, fmt.Errorf("copying %s: no Open function", fl.Path)
	}
	rc, err := req.Open(ctx, fl.Digest)
	if err != nil {
		return Data{}, fmt.Errorf("copying %s: %w", fl.Path, err)
	}
	defer rc.Close()
	w, err := req.Sink.Create(ctx, dst)
	if err != nil {
		return Data{}, fmt.Errorf("copying %s: %w", fl.Path, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), rc)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Data{}, fmt.Errorf("copying %s: %w", fl.Path, err)
	}
	if !fl.Digest.IsZero() && !bytes.Equal(h.Sum(nil), fl.Digest[:]) {
		return Data{}, fmt.Errorf("copying %s: %w: content does not match its digest", fl.Path, ErrMalformed)
	}
	d := Data{Type: fl.Kind, Href: dst, Size: n, Checksums: formats.Checksums{"sha256": hex.EncodeToString(h.Sum(nil))}}
	if open <= 0 {
		return d, nil
	}
	if c, _ := byExt(dst); c == None {
		return d, nil
	}
	rc2, err := req.Open(ctx, fl.Digest)
	if err != nil {
		return Data{}, fmt.Errorf("reading %s: %w", fl.Path, err)
	}
	defer rc2.Close()
	dec, err := decompress(rc2, dst, open)
	if err != nil {
		return Data{}, err
	}
	defer dec.Close()
	oh := sha256.New()
	if d.OpenSize, err = io.Copy(oh, dec); err != nil {
		return Data{}, err
	}
	d.OpenChecksums = formats.Checksums{"sha256": hex.EncodeToString(oh.Sum(nil))}
	return d, nil
}

// RenderStreams implements formats.PieceRenderer: it regenerates repodata/
// for filtered and hosted mode.
func (f *Format) RenderStreams(ctx context.Context, req formats.RenderRequest, s formats.Streams) error {
	comp, err := parseCompression(req.Params["compression"])
	if err != nil {
		return fmt.Errorf("rendering rpm metadata: %w", err)
	}
	if _, err := compressor(io.Discard, comp); err != nil {
		return fmt.Errorf("rendering rpm metadata: %w", err)
	}
	log := f.logger(req.Logger)
	var data []Data
	var keep map[nevra]bool // read once, when updateinfo or modules need it
	published := func() (map[nevra]bool, error) {
		if keep == nil {
			var err error
			keep, err = publishedNEVRAs(ctx, s)
			return keep, err
		}
		return keep, nil
	}
	// The three indexes are written at once: each hashes its whole
	// content, which cannot be resumed (the header counts the packages).
	types := []string{"primary", "filelists", "other"}
	idx := make([]Data, len(types))
	g, gctx := errgroup.WithContext(ctx)
	for i, typ := range types {
		g.Go(func() error {
			var err error
			idx[i], err = f.renderIndex(gctx, req, s, typ, comp)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	data = append(data, idx...)

	written := map[string]bool{RepomdPath: true, SignaturePath: true}
	for _, d := range data {
		written[d.Href] = true
	}
	var uiFiles []formats.File
	var kept []Data
	for _, kind := range keptKinds {
		for _, fl := range req.Files {
			if fl.Kind != kind {
				continue
			}
			dst := "repodata/" + path.Base(fl.Path)
			if written[dst] {
				return fmt.Errorf("rendering rpm metadata: %w: %s file %s collides with another file", ErrMalformed, kind, clip(fl.Path))
			}
			written[dst] = true
			if kind == "modules" {
				keep, err := published()
				if err != nil {
					return err
				}
				d, ok, err := f.renderModules(ctx, req, fl, dst, comp, keep)
				if err != nil {
					return err
				}
				if ok {
					kept = append(kept, d)
				}
				continue
			}
			d, err := copyFile(ctx, req, fl, dst, f.maxMeta)
			if err != nil {
				return err
			}
			kept = append(kept, d)
		}
	}
	for _, fl := range req.Files {
		if fl.Kind != KindTreeinfo {
			continue
		}
		if written[fl.Path] {
			return fmt.Errorf("rendering rpm metadata: %w: %s collides with another file", ErrMalformed, clip(fl.Path))
		}
		written[fl.Path] = true
		if _, err := copyFile(ctx, req, fl, fl.Path, 0); err != nil {
			return err
		}
	}
	for i, fl := range req.Files {
		switch {
		case fl.Kind == KindTreeinfo:
		case fl.Kind == "updateinfo":
			uiFiles = append(uiFiles, req.Files[i])
		case fl.MirrorOnly, fl.Kind == "repomd", fl.Kind == "signature", mirrorOnly(fl.Kind), isKept(fl.Kind):
		default:
			log.Warn("not republishing repo-level file in regenerated metadata", "path", fl.Path, "kind", fl.Kind)
		}
	}
	if len(uiFiles) > 0 {
		keep, err := published()
		if err != nil {
			return err
		}
		d, ok, err := f.renderUpdateinfo(ctx, req, uiFiles, comp, keep)
		if err != nil {
			return err
		}
		if ok {
			data = append(data, d)
		}
	}
	data = append(data, kept...)

	md := repomdXML(req.Now.Unix(), data)
	if err := formats.WriteFile(ctx, req.Sink, RepomdPath, md); err != nil {
		return err
	}
	if req.Signer != nil {
		sig, err := req.Signer.DetachSign(ctx, md)
		if err != nil {
			return fmt.Errorf("signing %s: %w", RepomdPath, err)
		}
		if err := formats.WriteFile(ctx, req.Sink, SignaturePath, sig); err != nil {
			return err
		}
	}
	return nil
}

func isKept(kind string) bool {
	for _, k := range keptKinds {
		if k == kind {
			return true
		}
	}
	return false
}

// renderIndex writes one of primary, filelists and other from its stream,
// named by its checksum.
func (f *Format) renderIndex(ctx context.Context, req formats.RenderRequest, s formats.Streams, typ string, comp Compression) (Data, error) {
	fail := func(err error) (Data, error) { return Data{}, fmt.Errorf("rendering %s: %w", typ, err) }
	root := map[string]string{"primary": primaryRoot, "filelists": filelistsRoot, "other": otherRoot}[typ]
	tmp, err := os.CreateTemp(f.tempDir, "chantal-rpm-"+typ+"-*")
	if err != nil {
		return fail(err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	bw := bufio.NewWriterSize(tmp, 256<<10)
	sum, err := s.Write(ctx, bw, formats.StreamWrite{
		Streams:     []string{typ},
		Header:      []byte(xmlDecl + fmt.Sprintf(root, s.Count(typ))),
		Footer:      []byte("</" + strings.Fields(strings.TrimPrefix(root, "<"))[0] + ">\n"),
		Compression: string(comp),
		Hashes:      []string{"sha256"},
		OpenHashes:  []string{"sha256"},
	})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return fail(err)
	}
	d, err := storeNamed(ctx, req.Sink, tmp, Data{
		Type: typ, Size: sum.Size, OpenSize: sum.OpenSize,
		Checksums:     formats.Checksums{"sha256": sum.Sums["sha256"]},
		OpenChecksums: formats.Checksums{"sha256": sum.OpenSums["sha256"]},
	}, ".xml", comp)
	if err != nil {
		return fail(err)
	}
	return d, nil
}

// relocate replaces the first <location> child of a primary <package>
// fragment by <location href="href"/>, dropping xml:base and any other
// attribute. The rest of the fragment stays byte for byte.
func relocate(frag []byte, href string) ([]byte, error) {
	if off, end, ok := locationSpan(frag); ok {
		var b bytes.Buffer
		b.Grow(len(frag) + len(href))
		b.Write(frag[:off])
		b.WriteString(`<location href="`)
		if err := xml.EscapeText(&b, []byte(href)); err != nil {
			return nil, err
		}
		b.WriteString(`"/>`)
		b.Write(frag[end:])
		return b.Bytes(), nil
	}
	return relocateXML(frag, href)
}

// locationSpan finds the self-closing <location .../> child of the root
// element of a fragment without a full XML tokenizer (relocate spends most of
// a publish's render time there otherwise). It gives up (ok false) on
// anything it does not handle exactly like relocateXML: comments, CDATA,
// processing instructions and declarations anywhere in the fragment, a
// prefixed or non-empty location element, unbalanced tags or quotes.
func locationSpan(frag []byte) (off, end int, ok bool) {
	if bytes.Contains(frag, []byte("<!")) || bytes.Contains(frag, []byte("<?")) {
		return 0, 0, false
	}
	depth := 0
	for i := 0; i < len(frag); i++ {
		if frag[i] != '<' {
			continue
		}
		start := i
		if i+1 < len(frag) && frag[i+1] == '/' {
			j := bytes.IndexByte(frag[i:], '>')
			if j < 0 {
				return 0, 0, false
			}
			depth--
			if depth <= 0 {
				return 0, 0, false // the root ended without a location
			}
			i += j
			continue
		}
		// Start tag: its name, then attributes up to '>' outside quotes.
		j := i + 1
		for j < len(frag) && !isSpace(frag[j]) && frag[j] != '/' && frag[j] != '>' {
			j++
		}
		name := frag[i+1 : j]
		var quote byte
		for ; j < len(frag); j++ {
			c := frag[j]
			switch {
			case c == '<':
				return 0, 0, false
			case quote != 0:
				if c == quote {
					quote = 0
				}
			case c == '"' || c == '\'':
				quote = c
			}
			if quote == 0 && c == '>' {
				break
			}
		}
		if j >= len(frag) {
			return 0, 0, false
		}
		selfClosing := frag[j-1] == '/'
		if k := bytes.LastIndexByte(name, ':'); k >= 0 && string(name[k+1:]) == "location" {
			return 0, 0, false
		}
		if depth == 1 && string(name) == "location" {
			if !selfClosing {
				return 0, 0, false
			}
			return start, j + 1, true
		}
		if !selfClosing {
			depth++
		}
		i = j
	}
	return 0, 0, false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// relocateXML is relocate with encoding/xml, for fragments locationSpan
// does not handle.
func relocateXML(frag []byte, href string) ([]byte, error) {
	d := xml.NewDecoder(bytes.NewReader(frag))
	d.Strict = true
	depth := 0
	for {
		off := d.InputOffset()
		tok, err := d.Token()
		if err == io.EOF {
			return nil, fmt.Errorf("%w: no location element", ErrMalformed)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 1 && t.Name.Local == "location" {
				if err := d.Skip(); err != nil {
					return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
				}
				end := d.InputOffset()
				var b bytes.Buffer
				b.Grow(len(frag) + len(href))
				b.Write(frag[:off])
				b.WriteString(`<location href="`)
				if err := xml.EscapeText(&b, []byte(href)); err != nil {
					return nil, err
				}
				b.WriteString(`"/>`)
				b.Write(frag[end:])
				return b.Bytes(), nil
			}
			depth++
		case xml.EndElement:
			depth--
			if depth == 0 {
				return nil, fmt.Errorf("%w: no location element", ErrMalformed)
			}
		}
	}
}

// hashCounter hashes and counts what passes through to w.
type hashCounter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func newHashCounter(w io.Writer) *hashCounter { return &hashCounter{w: w, h: sha256.New()} }

func (c *hashCounter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

func (c *hashCounter) sum() string { return hex.EncodeToString(c.h.Sum(nil)) }

// indexWriter writes one regenerated metadata file, compressed, into a
// temporary file (its name carries the checksum, known only at the end) and
// measures the compressed and the open bytes on the way. Write errors stick
// and are reported by finish.
type indexWriter struct {
	typ string
	// suffix follows the type in the file name: ".xml" unless set.
	suffix string
	comp   Compression
	tmp    *os.File
	out    *hashCounter // compressed bytes
	open   *hashCounter // decompressed bytes
	z      io.WriteCloser
	bw     *bufio.Writer
	err    error
}

func (f *Format) newIndexWriter(typ string, comp Compression) (*indexWriter, error) {
	tmp, err := os.CreateTemp(f.tempDir, "chantal-rpm-"+typ+"-*")
	if err != nil {
		return nil, fmt.Errorf("rendering %s: %w", typ, err)
	}
	iw := &indexWriter{typ: typ, comp: comp, tmp: tmp, out: newHashCounter(tmp)}
	if iw.z, err = compressor(iw.out, comp); err != nil {
		iw.discard()
		return nil, fmt.Errorf("rendering %s: %w", typ, err)
	}
	iw.open = newHashCounter(iw.z)
	iw.bw = bufio.NewWriterSize(iw.open, 64<<10)
	return iw, nil
}

func (iw *indexWriter) Write(p []byte) (int, error) {
	if iw.err != nil {
		return 0, iw.err
	}
	n, err := iw.bw.Write(p)
	iw.err = err
	return n, err
}

func (iw *indexWriter) WriteString(s string) (int, error) {
	if iw.err != nil {
		return 0, iw.err
	}
	n, err := iw.bw.WriteString(s)
	iw.err = err
	return n, err
}

// finish completes the file, copies it to the sink under
// repodata/<sha256>-<type>.xml[.ext] and describes it.
func (iw *indexWriter) finish(ctx context.Context, s formats.Sink) (Data, error) {
	fail := func(err error) (Data, error) { return Data{}, fmt.Errorf("rendering %s: %w", iw.typ, err) }
	if iw.err != nil {
		return fail(iw.err)
	}
	if err := iw.bw.Flush(); err != nil {
		return fail(err)
	}
	if err := iw.z.Close(); err != nil {
		return fail(err)
	}
	d, err := storeNamed(ctx, s, iw.tmp, Data{
		Type: iw.typ, Size: iw.out.n, OpenSize: iw.open.n,
		Checksums:     formats.Checksums{"sha256": iw.out.sum()},
		OpenChecksums: formats.Checksums{"sha256": iw.open.sum()},
	}, iw.suffixOrXML(), iw.comp)
	if err != nil {
		return fail(err)
	}
	return d, nil
}

// storeNamed copies the finished file tmp to the sink as
// repodata/<sha256>-<type><suffix><ext>, the name repomd.xml gives it, and
// returns d with that Href (and without open checksums when uncompressed).
func storeNamed(ctx context.Context, sink formats.Sink, tmp *os.File, d Data, suffix string, comp Compression) (Data, error) {
	d.Href = "repodata/" + d.Checksums["sha256"] + "-" + d.Type + suffix + extOf(comp)
	if comp == None {
		d.OpenChecksums, d.OpenSize = nil, 0
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return Data{}, err
	}
	w, err := sink.Create(ctx, d.Href)
	if err != nil {
		return Data{}, err
	}
	_, err = io.Copy(w, tmp)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Data{}, err
	}
	return d, nil
}

func (iw *indexWriter) suffixOrXML() string {
	if iw.suffix != "" {
		return iw.suffix
	}
	return ".xml"
}

// discard removes the temporary file; it is safe after finish.
func (iw *indexWriter) discard() {
	if iw.tmp != nil {
		iw.tmp.Close()
		os.Remove(iw.tmp.Name())
		iw.tmp = nil
	}
}

// repomdXML renders repomd.xml for data, every timestamp and the revision
// set to now.
func repomdXML(now int64, data []Data) []byte {
	var b bytes.Buffer
	ts := strconv.FormatInt(now, 10)
	b.WriteString(xmlDecl)
	b.WriteString(repomdRoot)
	b.WriteString("  <revision>" + ts + "</revision>\n")
	for _, d := range data {
		b.WriteString(`  <data type="`)
		xml.EscapeText(&b, []byte(d.Type))
		b.WriteString("\">\n")
		fmt.Fprintf(&b, "    <checksum type=\"sha256\">%s</checksum>\n", d.Checksums["sha256"])
		if v := d.OpenChecksums["sha256"]; v != "" {
			fmt.Fprintf(&b, "    <open-checksum type=\"sha256\">%s</open-checksum>\n", v)
		}
		b.WriteString(`    <location href="`)
		xml.EscapeText(&b, []byte(d.Href))
		b.WriteString("\"/>\n")
		b.WriteString("    <timestamp>" + ts + "</timestamp>\n")
		fmt.Fprintf(&b, "    <size>%d</size>\n", d.Size)
		if d.OpenChecksums["sha256"] != "" {
			fmt.Fprintf(&b, "    <open-size>%d</open-size>\n", d.OpenSize)
		}
		b.WriteString("  </data>\n")
	}
	b.WriteString("</repomd>\n")
	return b.Bytes()
}
