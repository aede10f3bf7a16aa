package rpm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/internal/verify"
	"github.com/chantal-lite/chantal/pool"
)

// Scan reads repodata/repomd.xml (req.Top when set, else through req.Source)
// and yields, in this order: a File of Kind "repomd" for repomd.xml itself, a
// File per <data> entry (Kind = data type, in document order), the files of
// an installer tree when the root has a .treeinfo (see scanTreeinfo), then an
// Item per package of primary, in primary's order. Files that filtered and hosted
// mode regenerate or drop (repomd, primary, filelists, other, *_db, *_zck) are
// marked MirrorOnly; comps, updateinfo, modules and the like are not.
//
// primary, filelists and other are opened through formats.OpenFile, so their
// declared size and checksum are verified while they stream, and are parsed
// one package at a time. A mismatch shows at the end of a file: Scan then
// returns the error, and the entries it yielded before must be discarded (the
// caller commits a sync only when Scan returns nil). filelists and other are
// walked in step with primary and matched by pkgid and NEVRA; entries out of
// order are parked in memory up to Options.MaxHeldSize.
//
// A package whose location is not a confined relative path is an error
// (*LocationError) in mirror mode and is skipped with a warning otherwise; so
// is a package with an unknown checksum type or no name.
func (f *Format) Scan(ctx context.Context, req formats.ScanRequest, yield func(formats.Entry) error) error {
	log := f.logger(req.Logger)
	if err := ctx.Err(); err != nil {
		return err
	}
	top, err := f.repomdBytes(ctx, req)
	if err != nil {
		return err
	}
	md, err := ParseRepomd(top)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(top)
	if err := yield(formats.Entry{File: &formats.File{
		Path: RepomdPath, Size: int64(len(top)), Digest: pool.Digest(sum),
		Checksums: formats.Checksums{"sha256": hex.EncodeToString(sum[:])}, Kind: "repomd", MirrorOnly: true,
	}}); err != nil {
		return err
	}
	for _, d := range md.Data {
		fl := dataFile(d)
		if err := yield(formats.Entry{File: &fl}); err != nil {
			return err
		}
	}
	if err := f.scanTreeinfo(ctx, req, log, yield); err != nil {
		return err
	}
	primary := md.Find("primary")
	if primary == nil {
		return fmt.Errorf("scanning %s: %w: no primary data", RepomdPath, ErrMalformed)
	}
	ps, err := f.open(ctx, req.Source, *primary)
	if err != nil {
		return err
	}
	defer ps.close()
	sec := map[string]*matcher{}
	for _, typ := range []string{"filelists", "other"} {
		d := md.Find(typ)
		if d == nil {
			log.Warn("repomd.xml lists no "+typ+"; packages get no "+typ+" fragment", "path", RepomdPath)
			continue
		}
		s, err := f.open(ctx, req.Source, *d)
		if err != nil {
			return err
		}
		defer s.close()
		m := &matcher{s: s, parked: map[pkgKey][][]byte{}, max: f.maxHeld}
		m.start()
		defer m.halt() // before s.close: the goroutine reads s
		sec[typ] = m
	}

	for n := 0; ; n++ {
		if n%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		var p xmlPrimary
		raw, err := ps.elems.next(&p)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		it, err := item(primary.Href, &p, raw)
		if err != nil {
			if req.Mode == formats.ModeMirror {
				var le *LocationError
				if errors.As(err, &le) {
					le.Mirror = true
				}
				return err
			}
			log.Warn("skipping package", "path", primary.Href, "package", clip(p.Name), "err", err)
			continue
		}
		k := p.key()
		for _, typ := range []string{"filelists", "other"} {
			m := sec[typ]
			if m == nil {
				continue
			}
			frag, err := m.find(k)
			if err != nil {
				return err
			}
			if frag == nil {
				log.Warn("package has no "+typ+" entry", "path", it.Path, "pkgid", k.pkgid)
				continue
			}
			it.Fragments[typ] = frag
		}
		if err := yield(formats.Entry{Item: it}); err != nil {
			return err
		}
	}
	if err := ps.finish(); err != nil {
		return err
	}
	for _, typ := range []string{"filelists", "other"} {
		m := sec[typ]
		if m == nil {
			continue
		}
		extra, err := m.rest()
		if err != nil {
			return err
		}
		if extra > 0 {
			log.Warn(typ+" lists packages that primary does not", "path", m.s.href, "count", extra)
		}
		m.halt() // the goroutine has read to the end; finish reads the rest
		if err := m.s.finish(); err != nil {
			return err
		}
	}
	return nil
}

func (f *Format) repomdBytes(ctx context.Context, req formats.ScanRequest) ([]byte, error) {
	if req.Top != nil {
		return req.Top.Data, nil
	}
	if req.Source == nil {
		return nil, errors.New("scanning rpm repository: no source")
	}
	rc, err := req.Source.Open(ctx, RepomdPath)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", RepomdPath, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxRepomdSize+1))
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", RepomdPath, err)
	}
	if len(b) > maxRepomdSize {
		return nil, fmt.Errorf("fetching %s: %w: more than %d bytes", RepomdPath, ErrTooLarge, maxRepomdSize)
	}
	return b, nil
}

// mirrorOnly reports whether a data type is one that filtered and hosted mode
// regenerate (primary, filelists, other) or drop (sqlite and zchunk variants).
func mirrorOnly(typ string) bool {
	switch typ {
	case "primary", "filelists", "other":
		return true
	}
	return strings.HasSuffix(typ, "_db") || strings.HasSuffix(typ, "_zck")
}

func dataFile(d Data) formats.File {
	fl := formats.File{Path: d.Href, Size: d.Size, Checksums: d.Checksums, Kind: d.Type, MirrorOnly: mirrorOnly(d.Type)}
	if v, ok := d.Checksums["sha256"]; ok {
		if dg, err := pool.Parse(v); err == nil {
			fl.Digest = dg
		}
	}
	return fl
}

// metaStream is one opened metadata file.
type metaStream struct {
	href  string
	raw   io.ReadCloser // verified, compressed bytes
	dec   io.ReadCloser // decompressed, bounded
	elems *elemStream
}

func (f *Format) open(ctx context.Context, src formats.Source, d Data) (*metaStream, error) {
	if src == nil {
		return nil, fmt.Errorf("opening %s: no source", d.Href)
	}
	rc, err := formats.OpenFile(ctx, src, formats.File{Path: d.Href, Size: d.Size, Checksums: d.Checksums})
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", d.Href, err)
	}
	dec, err := decompress(rc, d.Href, f.maxMeta)
	if err != nil {
		rc.Close()
		return nil, err
	}
	return &metaStream{href: d.Href, raw: rc, dec: dec, elems: newElemStream(dec, d.Href, f.maxHeld)}, nil
}

// finish reads the compressed file to its end, so that its size and checksum
// are checked even when the decompressor stopped early.
func (m *metaStream) finish() error {
	if _, err := io.Copy(io.Discard, m.raw); err != nil {
		return fmt.Errorf("verifying %s: %w", m.href, err)
	}
	return nil
}

func (m *metaStream) close() {
	m.dec.Close()
	m.raw.Close()
}

// matcher finds the filelists or other entry of each primary package. In
// createrepo_c output the entries come in primary's order and nothing is
// parked; otherwise entries read past are parked (bounded by max bytes).
// A goroutine of its own parses the file a little ahead (start), so that
// filelists and other are parsed beside primary.
type matcher struct {
	s      *metaStream
	parked map[pkgKey][][]byte
	held   int64
	max    int64
	eof    bool

	ch   chan secEntry // parsed entries in document order; an error ends it
	stop chan struct{}
	done chan struct{} // closed when the goroutine no longer reads s
}

// secEntry is one parsed filelists or other entry, or the error (io.EOF at
// the end) that ended the parse.
type secEntry struct {
	key pkgKey
	raw []byte
	err error
}

// matcherAhead is how many entries the parsing goroutine may be ahead.
const matcherAhead = 64

// start parses m.s in a goroutine until its end, an error or halt.
func (m *matcher) start() {
	m.ch, m.stop, m.done = make(chan secEntry, matcherAhead), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(m.done)
		for {
			select {
			case <-m.stop:
				return
			default:
			}
			var x xmlSecondary
			raw, err := m.s.elems.next(&x)
			e := secEntry{raw: raw, err: err}
			if err == nil {
				e.key = x.key()
			}
			select {
			case m.ch <- e:
			case <-m.stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
}

// halt stops the parsing goroutine and waits until it no longer reads.
// Halting again does nothing.
func (m *matcher) halt() {
	select {
	case <-m.stop:
	default:
		close(m.stop)
	}
	<-m.done
}

// read returns the next parsed entry.
func (m *matcher) read() (pkgKey, []byte, error) {
	e := <-m.ch // the goroutine sends an error before it ends
	return e.key, e.raw, e.err
}

func (m *matcher) find(k pkgKey) ([]byte, error) {
	if q := m.parked[k]; len(q) > 0 {
		raw := q[0]
		if len(q) == 1 {
			delete(m.parked, k)
		} else {
			m.parked[k] = q[1:]
		}
		m.held -= int64(len(raw))
		return raw, nil
	}
	for !m.eof {
		xk, raw, err := m.read()
		if err == io.EOF {
			m.eof = true
			break
		}
		if err != nil {
			m.eof = true
			return nil, err
		}
		if xk == k {
			return raw, nil
		}
		m.held += int64(len(raw))
		if m.held > m.max {
			return nil, fmt.Errorf("matching %s to primary: %w: out-of-order entries exceed %d bytes", m.s.href, ErrTooLarge, m.max)
		}
		m.parked[xk] = append(m.parked[xk], raw)
	}
	return nil, nil
}

// rest reads the remaining entries and returns how many matched no package.
func (m *matcher) rest() (int, error) {
	n := 0
	for _, q := range m.parked {
		n += len(q)
	}
	for !m.eof {
		_, _, err := m.read()
		if err == io.EOF {
			break
		}
		if err != nil {
			m.eof = true
			return n, err
		}
		n++
	}
	m.eof = true
	return n, nil
}

// item builds the Item of one primary package.
func item(file string, p *xmlPrimary, raw []byte) (*formats.Item, error) {
	name := strings.TrimSpace(p.Name)
	if name == "" {
		return nil, fmt.Errorf("%w: package without name", ErrMalformed)
	}
	href, err := confine(file, strings.TrimSpace(p.Location.Href), p.Location.base())
	if err != nil {
		return nil, err
	}
	algo := verify.NormalizeAlgo(p.Checksum.Type)
	if verify.New(algo) == nil {
		return nil, fmt.Errorf("%w: package %s: unknown checksum type %q", ErrMalformed, clip(name), clip(p.Checksum.Type))
	}
	val := strings.ToLower(strings.TrimSpace(p.Checksum.Value))
	it := &formats.Item{
		Path:      href,
		Checksums: formats.Checksums{algo: val},
		Name:      name,
		Arch:      strings.TrimSpace(p.Arch),
		Fragments: map[string][]byte{"primary": raw},
	}
	if algo == "sha256" {
		if d, err := pool.Parse(val); err == nil {
			it.Digest = d
		}
	}
	if it.Size, err = parseSize(p.Size.Package); err != nil {
		return nil, fmt.Errorf("%w: package %s: size: %v", ErrMalformed, clip(name), err)
	}
	evr := EVR{Epoch: strings.TrimSpace(p.Version.Epoch), Version: p.Version.Ver, Release: p.Version.Rel}
	it.Version = evr.String()
	it.Fields = map[string]string{
		"epoch":     epochOrZero(evr.Epoch),
		"version":   evr.Version,
		"release":   evr.Release,
		"summary":   strings.TrimSpace(p.Summary),
		"group":     strings.TrimSpace(p.Format.Group),
		"license":   strings.TrimSpace(p.Format.License),
		"vendor":    strings.TrimSpace(p.Format.Vendor),
		"packager":  strings.TrimSpace(p.Packager),
		"buildhost": strings.TrimSpace(p.Format.BuildHost),
		"buildtime": strings.TrimSpace(p.Time.Build),
		"filetime":  strings.TrimSpace(p.Time.File),
		"sourcerpm": strings.TrimSpace(p.Format.SourceRPM),
		"url":       strings.TrimSpace(p.URL),
	}
	for k, v := range it.Fields {
		if v == "" {
			delete(it.Fields, k)
		}
	}
	return it, nil
}
