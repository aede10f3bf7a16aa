package apt

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/chantal-lite/chantal/formats"
)

// Interface check.
var _ formats.PieceRenderer = (*Format)(nil)

// Streams of the pieces. An index's stanzas go into a stream named for
// what selects them: "<component>\x00binary\x00<arch>",
// "<component>\x00udeb\x00<arch>" and "<component>\x00source" (the
// component is "" in a flat repository). A package of a usable component
// and architecture that no index lists still names them (in the Release's
// Components and Architectures): it emits an empty piece into that name
// with unlistedSuffix, a stream never written. Components and
// architectures are tokens, so the names cannot collide with each other
// nor with the two streams of their own below.
const (
	kindBinary = "binary"
	kindUdeb   = "udeb"
	kindSource = "source"
	// releaseStream holds the Suite and Codename of each item that has
	// them, for a Release without an upstream one.
	releaseStream = "release"
	// sourceFilesStream (with sources: true) holds what Sources needs to
	// know about all items: every published path with its sha256, and the
	// files each listed .dsc needs published next to it.
	sourceFilesStream = "source-files"
	unlistedSuffix    = "\x00unlisted"
)

func stanzaStream(comp, kind, arch string) string {
	if kind == kindSource {
		return comp + "\x00" + kindSource
	}
	return comp + "\x00" + kind + "\x00" + arch
}

// PieceVersion implements formats.PieceRenderer.
func (f *Format) PieceVersion() string { return "apt-1" }

// RenderPiece implements formats.PieceRenderer: an item's finished stanza
// (as it appears in its index, with the blank line that ends it) in the
// stream of its component, kind and architecture. A package of an unusable
// component or architecture is logged and skipped; one of a kind the
// parameters do not publish, or with an unusable stanza, only marks its
// stream (see unlistedSuffix).
func (f *Format) RenderPiece(_ context.Context, req formats.PieceRequest, it *formats.Item, emit func(string, []byte)) error {
	p, err := parseParams(req.Params)
	if err != nil {
		return fmt.Errorf("rendering apt metadata: %w", err)
	}
	log := f.logger(req.Logger)
	if s, c := it.Fields["suite"], it.Fields["codename"]; s != "" || c != "" {
		emit(releaseStream, appendRecord(nil, s, c))
	}
	if p.sources {
		// Every item counts as published for the .dsc files check, as
		// the item is in the state whatever its index.
		emit(sourceFilesStream, appendRecord(nil, "f", it.Path, it.Digest.String()))
	}
	defComp := "main"
	if len(p.comps) > 0 {
		defComp = p.comps[0]
	}
	comp := componentOf(it, defComp)
	if p.flat {
		comp = ""
	} else if !ValidToken(comp) || len(p.comps) > 0 && !contains(p.comps, comp) {
		log.Warn("skipping a package in an unusable component", "path", it.Path, "component", clip(comp))
		return nil
	}
	if !ValidToken(it.Arch) {
		log.Warn("skipping a package with an unusable architecture", "path", it.Path, "arch", clip(it.Arch))
		return nil
	}
	// Pieces of the index streams are never empty: an empty part would be
	// taken for one dropped from memory.
	unlisted := func(stream string) error {
		emit(stream+unlistedSuffix, nil)
		return nil
	}
	switch {
	case it.Arch == "source":
		stream := stanzaStream(comp, kindSource, "")
		if it.Fields["kind"] != "dsc" || !p.sources {
			return unlisted(stream)
		}
		fs, ok := parseStanza(it, log)
		if !ok {
			return unlisted(stream)
		}
		rec := sourceFiles(fs, comp, it.Path)
		if rec == nil {
			log.Warn("skipping a source package whose files are not all published", "path", it.Path, "missing", "Checksums-Sha256")
			return unlisted(stream)
		}
		emit(sourceFilesStream, rec)
		emit(stream, sourceStanza(fs, it))
	case it.Fields["udeb"] == "true":
		stream := stanzaStream(comp, kindUdeb, it.Arch)
		if !p.udebs || p.flat {
			return unlisted(stream)
		}
		b := packageStanza(it, log)
		if b == nil {
			return unlisted(stream)
		}
		emit(stream, b)
	default:
		stream := stanzaStream(comp, kindBinary, it.Arch)
		b := packageStanza(it, log)
		if b == nil {
			return unlisted(stream)
		}
		emit(stream, b)
	}
	return nil
}

// replaced are the fields a regenerated Packages stanza takes from the Item.
var replaced = map[string]bool{"filename": true, "size": true, "md5sum": true, "sha1": true, "sha256": true, "sha512": true}

// packageStanza re-emits an item's verbatim stanza with Filename, Size and
// checksums replaced (where the first of them was) and every value folded;
// nil when the stanza is unusable.
func packageStanza(it *formats.Item, log *slog.Logger) []byte {
	fs, ok := parseStanza(it, log)
	if !ok {
		return nil
	}
	bw, out := stanzaBuffer(it)
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
	bw.Flush()
	return out.Bytes()
}

// stanzaBuffer returns a writer into a buffer sized for an item's
// re-emitted stanza: the emitted piece is copied, so each item allocates
// about its stanza's size once.
func stanzaBuffer(it *formats.Item) (*bufio.Writer, *bytes.Buffer) {
	out := &bytes.Buffer{}
	out.Grow(len(it.Fragments[FragmentStanza]) + 512)
	return bufio.NewWriterSize(out, 256), out
}

// sourceStanza re-emits a .dsc item's Sources stanza with Directory
// replaced by where the .dsc is published and every value folded.
func sourceStanza(fs []field, it *formats.Item) []byte {
	bw, out := stanzaBuffer(it)
	for _, f := range fs {
		if strings.EqualFold(string(f.Name), "Directory") {
			writeField(bw, "Directory", []byte(path.Dir(it.Path)))
			continue
		}
		writeField(bw, string(f.Name), f.Value)
	}
	bw.WriteByte('\n')
	bw.Flush()
	return out.Bytes()
}

// parseStanza parses an item's fragment, which must be exactly one stanza
// whose Package field names the item.
func parseStanza(it *formats.Item, log *slog.Logger) ([]field, bool) {
	raw := bytes.TrimLeft(bytes.TrimRight(it.Fragments[FragmentStanza], " \t\r\n"), "\r\n")
	// A blank line inside (a second stanza) is an error of parseFields.
	fs, err := parseFields(raw, nil)
	if err == nil && len(fs) == 0 {
		err = errors.New("empty fragment")
	}
	if err == nil {
		if v, _ := get(fs, "Package"); string(v) != it.Name {
			err = fmt.Errorf("fragment names package %q", clip(string(v)))
		}
	}
	if err != nil {
		log.Warn("skipping a package with an unusable stanza", "path", it.Path, "err", err)
		return nil, false
	}
	return fs, true
}

// sourceFiles is the "d" record of a .dsc: its component and path, then
// the name and sha256 of each file its Checksums-Sha256 lists; nil when it
// lists none.
func sourceFiles(fs []field, comp, dsc string) []byte {
	v, _ := get(fs, "Checksums-Sha256")
	ss := []string{"d", comp, dsc}
	for ln := range strings.SplitSeq(string(v), "\n") {
		f := strings.Fields(ln)
		if len(f) == 3 {
			ss = append(ss, f[2], strings.ToLower(f[0]))
		}
	}
	if len(ss) == 3 {
		return nil
	}
	return appendRecord(nil, ss...)
}

// appendRecord appends a record of a stream of the format's own: the number
// of strings, then each length-prefixed.
func appendRecord(b []byte, ss ...string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

// maxRecordString bounds a string read back from a record.
const maxRecordString = 1 << 20

// readRecord reads one record; io.EOF at a record boundary ends the stream.
func readRecord(br *bufio.Reader) ([]string, error) {
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return nil, err
	}
	if n > 1<<16 {
		return nil, fmt.Errorf("%w: record of %d strings", ErrMalformed, n)
	}
	ss := make([]string, n)
	for i := range ss {
		l, err := binary.ReadUvarint(br)
		if err == nil && l > maxRecordString {
			err = fmt.Errorf("%w: record string of %d bytes", ErrMalformed, l)
		}
		if err != nil {
			return nil, noEOF(err)
		}
		b := make([]byte, l)
		if _, err := io.ReadFull(br, b); err != nil {
			return nil, noEOF(err)
		}
		ss[i] = string(b)
	}
	return ss, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// streamRelease is the Suite and Codename of the first item (in Path order)
// that has either; nil when none has.
func streamRelease(ctx context.Context, s formats.Streams) (*Release, error) {
	if s.Count(releaseStream) == 0 {
		return nil, nil
	}
	rc, err := s.Open(ctx, releaseStream)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	r, err := readRecord(bufio.NewReader(rc))
	if err == nil && len(r) != 2 {
		err = fmt.Errorf("%w: release record of %d strings", ErrMalformed, len(r))
	}
	if err != nil {
		return nil, fmt.Errorf("reading the items' suite: %w", err)
	}
	return &Release{Suite: r[0], Codename: r[1]}, nil
}

// unlistedSources reads the source-files stream and returns, per
// component, the positions (counted from 0 in the component's source
// stream) of the .dsc stanzas whose files are not all published next to the
// .dsc with the declared sha256: a client must never be sent after a
// missing tarball.
func unlistedSources(ctx context.Context, s formats.Streams, log *slog.Logger) (map[string]map[int]bool, error) {
	if s.Count(sourceFilesStream) == 0 {
		return nil, nil
	}
	rc, err := s.Open(ctx, sourceFilesStream)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 64<<10)
	published := make(map[string]string, s.Count(sourceFilesStream))
	type dsc struct {
		comp, path string
		files      []string // name, sha256, …
	}
	var dscs []dsc
	for {
		r, err := readRecord(br)
		if err == io.EOF {
			break
		}
		switch {
		case err != nil:
		case len(r) == 3 && r[0] == "f":
			published[r[1]] = r[2]
		case len(r) >= 5 && len(r)%2 == 1 && r[0] == "d":
			dscs = append(dscs, dsc{r[1], r[2], r[3:]})
		default:
			err = fmt.Errorf("%w: source-files record %q", ErrMalformed, r[0])
		}
		if err != nil {
			return nil, fmt.Errorf("reading the published source files: %w", err)
		}
	}
	drop := map[string]map[int]bool{}
	seen := map[string]int{}
	for _, d := range dscs {
		k := seen[d.comp]
		seen[d.comp]++
		dir := path.Dir(d.path)
		for i := 0; i < len(d.files); i += 2 {
			if published[dir+"/"+d.files[i]] != d.files[i+1] {
				log.Warn("skipping a source package whose files are not all published", "path", d.path, "missing", d.files[i])
				if drop[d.comp] == nil {
					drop[d.comp] = map[int]bool{}
				}
				drop[d.comp][k] = true
				break
			}
		}
	}
	return drop, nil
}

// withoutStanzas reads a stream of stanzas (each ending in a blank line;
// folded values have none inside) and returns it without the stanzas at
// the positions in drop.
func withoutStanzas(ctx context.Context, s formats.Streams, stream string, drop map[int]bool) ([]byte, error) {
	rc, err := s.Open(ctx, stream)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	all, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", stream, err)
	}
	out := make([]byte, 0, len(all))
	for k := 0; len(all) > 0; k++ {
		n := bytes.Index(all, []byte("\n\n"))
		if n < 0 {
			return nil, fmt.Errorf("%w: unterminated stanza in %q", ErrMalformed, stream)
		}
		if !drop[k] {
			out = append(out, all[:n+2]...)
		}
		all = all[n+2:]
	}
	return out, nil
}

// rendered is one written file listed in the Release.
type rendered struct {
	name string
	size int64
	sums [4]string // md5, sha1, sha256, sha512
}

// index is one regenerated index: its path relative to the Release, and
// the streams it concatenates, or (a Sources some stanzas of which are
// left out) its content.
type index struct {
	name    string
	streams []string
	data    []byte
}

// RenderStreams implements formats.PieceRenderer: it writes every index of
// a filtered or hosted publish, plain and compressed, with by-hash copies,
// then the Release, InRelease and Release.gpg.
func (f *Format) RenderStreams(ctx context.Context, req formats.RenderRequest, s formats.Streams) error {
	p, err := parseParams(req.Params)
	if err != nil {
		return fmt.Errorf("rendering apt metadata: %w", err)
	}
	log := f.logger(req.Logger)
	up := upstreamRelease(ctx, req, p)
	if up == nil {
		if up, err = streamRelease(ctx, s); err != nil {
			return fmt.Errorf("rendering apt metadata: %w", err)
		}
	}

	// Components and architectures come from the names of the streams.
	defComp := "main"
	if len(p.comps) > 0 {
		defComp = p.comps[0]
	}
	compSet := map[string]bool{}
	archSet := map[string]bool{}
	streamsOf := map[string][]string{} // "<comp>\x00<kind>" → its streams, sorted
	for _, n := range s.Names() {
		name, unlisted := strings.CutSuffix(n, unlistedSuffix)
		parts := strings.Split(name, "\x00")
		if len(parts) < 2 {
			continue
		}
		compSet[parts[0]] = true
		if key := parts[0] + "\x00" + parts[1]; !unlisted {
			streamsOf[key] = append(streamsOf[key], n)
		}
		if parts[1] == kindBinary && len(parts) == 3 && parts[2] != "all" {
			archSet[parts[2]] = true
		}
	}
	archs := p.archs
	if len(archs) == 0 {
		for a := range archSet {
			archs = append(archs, a)
		}
		slices.Sort(archs)
		if len(archs) == 0 {
			archs = []string{"all"}
		}
	}
	comps := p.comps
	if len(comps) == 0 && !p.flat {
		for c := range compSet {
			comps = append(comps, c)
		}
		slices.Sort(comps)
		if len(comps) == 0 {
			comps = []string{defComp}
		}
	}
	if p.flat {
		comps = []string{""}
	}
	var drop map[string]map[int]bool
	if p.sources {
		if drop, err = unlistedSources(ctx, s, log); err != nil {
			return fmt.Errorf("rendering apt metadata: %w", err)
		}
	}

	var idx []index
	for _, comp := range comps {
		dir := ""
		if comp != "" {
			dir = comp + "/"
		}
		for _, a := range archs {
			if p.flat {
				// One Packages with every binary package, whatever its
				// architecture; "all" last as in the others.
				var ss, all []string
				for _, n := range streamsOf["\x00"+kindBinary] {
					if n == stanzaStream("", kindBinary, "all") {
						all = append(all, n)
					} else {
						ss = append(ss, n)
					}
				}
				idx = append(idx, index{name: "Packages", streams: append(ss, all...)})
				break
			}
			idx = append(idx, index{name: dir + "binary-" + a + "/Packages", streams: archStreams(comp, kindBinary, a)})
			if p.udebs {
				idx = append(idx, index{name: dir + "debian-installer/binary-" + a + "/Packages", streams: archStreams(comp, kindUdeb, a)})
			}
		}
		if p.sources {
			ix := index{name: dir + "source/Sources", streams: []string{stanzaStream(comp, kindSource, "")}}
			if p.flat {
				ix.name = "Sources"
			}
			if len(drop[comp]) > 0 {
				// Some stanzas are left out: this index is written from
				// its content rather than from the pieces.
				if ix.data, err = withoutStanzas(ctx, s, ix.streams[0], drop[comp]); err != nil {
					return fmt.Errorf("rendering apt metadata: %w", err)
				}
				ix.streams = nil
			}
			idx = append(idx, ix)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	files, err := writeIndexes(ctx, req.Sink, s, p.base(), idx, p.byHash, p.compress)
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

// archStreams are the streams of an architecture's index: its own
// packages, then those of architecture "all".
func archStreams(comp, kind, arch string) []string {
	if arch == "all" {
		return []string{stanzaStream(comp, kind, "all")}
	}
	return []string{stanzaStream(comp, kind, arch), stanzaStream(comp, kind, "all")}
}

// releaseHashes are the checksums the Release lists, in its order.
var releaseHashes = []string{"md5", "sha1", "sha256", "sha512"}

// writeIndexes writes every index plain and in each of the compressions,
// with by-hash copies, and returns what the Release lists. Each write
// compresses its segments in parallel, and two writes run at once, so a
// plain file's writing overlaps another's compression.
func writeIndexes(ctx context.Context, sink formats.Sink, s formats.Streams, base string, idx []index, byHash bool, exts []string) ([]rendered, error) {
	var (
		mu  sync.Mutex
		out []rendered
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(2)
	for _, ix := range idx {
		for _, ext := range append([]string{""}, exts...) {
			g.Go(func() error {
				r, err := writeIndex(gctx, sink, s, base, ix, ext, byHash)
				mu.Lock()
				out = append(out, r)
				mu.Unlock()
				return err
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b rendered) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

// writeIndex writes one index file (ext "", ".gz" or ".xz") and, with
// byHash, its by-hash copies, written again from the streams (the same
// bytes: the compressed parts are reused, not compressed again).
func writeIndex(ctx context.Context, sink formats.Sink, s formats.Streams, base string, ix index, ext string, byHash bool) (rendered, error) {
	name := ix.name + ext
	sw := formats.StreamWrite{Streams: ix.streams, Header: ix.data, Compression: strings.TrimPrefix(ext, "."), Hashes: releaseHashes,
		// No header: the hashes of an unchanged prefix are kept.
		Resumable: len(ix.data) == 0}
	write := func(paths []string, sw formats.StreamWrite) (formats.StreamSums, error) {
		var ws []io.Writer
		var cs []io.Closer
		var err error
		for _, p := range paths {
			w, cerr := sink.Create(ctx, base+p)
			if cerr != nil {
				err = cerr
				break
			}
			ws, cs = append(ws, w), append(cs, w)
		}
		var sums formats.StreamSums
		if err == nil {
			sums, err = s.Write(ctx, io.MultiWriter(ws...), sw)
		}
		for _, c := range cs {
			if cerr := c.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			return sums, fmt.Errorf("writing %s: %w", base+name, err)
		}
		return sums, nil
	}
	sums, err := write([]string{name}, sw)
	if err != nil {
		return rendered{}, err
	}
	r := rendered{name: name, size: sums.Size}
	for i, h := range releaseHashes {
		r.sums[i] = sums.Sums[h]
	}
	if byHash {
		copies := []string{byHashPath(name, "SHA256", r.sums[2]), byHashPath(name, "SHA512", r.sums[3])}
		if l, ok := sink.(formats.SinkLinker); ok {
			// The same bytes under their hashes' names: links, not copies.
			for _, c := range copies {
				if err := l.Link(ctx, base+name, base+c); err != nil {
					return rendered{}, err
				}
			}
			return r, nil
		}
		// Streams.Write gives the same bytes for the same request; not
		// hashing them again saves a pass over every index.
		sw.Hashes = nil
		again, err := write(copies, sw)
		if err != nil {
			return rendered{}, err
		}
		if again.Size != r.size {
			return rendered{}, fmt.Errorf("writing %s: by-hash copy differs from the index", base+name)
		}
	}
	return r, nil
}

// onePerPath returns items in Path order with one item per published path:
// of several claiming one path (upstream repackaging: same name, version
// and architecture, other bytes) the first by name, version, architecture,
// then given order. items is returned as is when already so.
func onePerPath(items []formats.Item, log *slog.Logger) []formats.Item {
	byPath := func(a, b formats.Item) int { return strings.Compare(a.Path, b.Path) }
	ok := slices.IsSortedFunc(items, byPath)
	for i := 1; ok && i < len(items); i++ {
		ok = items[i].Path != items[i-1].Path
	}
	if ok {
		return items
	}
	sorted := slices.Clone(items)
	slices.SortStableFunc(sorted, byPath)
	out := sorted[:0]
	for i := 0; i < len(sorted); {
		j := i + 1
		for j < len(sorted) && sorted[j].Path == sorted[i].Path {
			j++
		}
		keep := sorted[i]
		if j > i+1 {
			run := make([]*formats.Item, 0, j-i)
			for k := i; k < j; k++ {
				run = append(run, &sorted[k])
			}
			sortItems(run)
			keep = *run[0]
			log.Warn("skipping a second package published at the same path", "path", keep.Path, "count", j-i)
		}
		out = append(out, keep)
		i = j
	}
	return out
}
