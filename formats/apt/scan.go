package apt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/pool"
)

// TopLevel implements formats.TopLeveler: dists/<dist>/InRelease (a flat
// repository's files are at its root). Without an InRelease upstream the
// caller asks AlternateTopLevel.
func (f *Format) TopLevel(ctx context.Context, req formats.ScanRequest) (string, string, error) {
	p, err := parseParams(req.Params)
	if err != nil {
		return "", "", err
	}
	return p.base() + "InRelease", "", nil
}

// AlternateTopLevel implements formats.AlternateTopLeveler: without an
// InRelease upstream, Release with its detached Release.gpg. An InRelease that
// exists but is invalid never falls back to Release (the caller asks only on
// "not found").
func (f *Format) AlternateTopLevel(ctx context.Context, req formats.ScanRequest) (string, string, error) {
	p, err := parseParams(req.Params)
	if err != nil {
		return "", "", err
	}
	return p.base() + "Release", p.base() + "Release.gpg", nil
}

// Verify implements formats.Verifier: a clearsigned InRelease is verified and
// top.Data replaced by exactly the signed payload; a Release is verified
// against its detached Release.gpg. An unsigned Release is refused, and so is
// a Release whose Valid-Until has passed.
func (f *Format) Verify(ctx context.Context, top *formats.TopLevel, keys formats.Keyring) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	switch {
	case isClearsigned(top.Data):
		payload, err := keys.VerifyClearsigned(top.Data)
		if err != nil {
			return fmt.Errorf("verifying %s: %w", top.Path, err)
		}
		top.Data = payload
	case len(top.Signature) > 0:
		if err := keys.VerifyDetached(top.Data, top.Signature); err != nil {
			return fmt.Errorf("verifying %s: %w", top.Path, err)
		}
	default:
		return fmt.Errorf("verifying %s: %w", top.Path, ErrUnsigned)
	}
	rel, err := ParseRelease(top.Data)
	if err != nil {
		return err
	}
	return rel.CheckFresh(time.Now())
}

// Scan implements formats.Format.
func (f *Format) Scan(ctx context.Context, req formats.ScanRequest, yield func(formats.Entry) error) error {
	p, err := parseParams(req.Params)
	if err != nil {
		return err
	}
	log := f.logger(req.Logger)
	var data []byte
	var topPath string
	if req.Top != nil {
		data, topPath = req.Top.Data, req.Top.Path
	} else {
		tp, _, err := f.TopLevel(ctx, req)
		if err != nil {
			return err
		}
		data, err = readAll(ctx, req.Source, tp, maxReleaseSize)
		if errors.Is(err, fs.ErrNotExist) {
			if tp, _, err = f.AlternateTopLevel(ctx, req); err != nil {
				return err
			}
			data, err = readAll(ctx, req.Source, tp, maxReleaseSize)
		}
		if err != nil {
			return err
		}
		topPath = tp
	}
	if isClearsigned(data) {
		// Verification is off (a verified InRelease arrives as its payload).
		if data, err = stripClearsign(data); err != nil {
			return err
		}
	}
	rel, err := ParseRelease(data)
	if err != nil {
		return err
	}
	if err := rel.CheckFresh(p.now); err != nil {
		return err
	}
	s := &scanner{f: f, req: req, p: p, rel: rel, log: log, yield: yield, seen: map[pool.Digest]bool{}, parsed: map[string]bool{},
		topPath: topPath, payload: data}
	return s.run(ctx)
}

func readAll(ctx context.Context, src formats.Source, p string, max int64) ([]byte, error) {
	rc, err := src.Open(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", p, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", p, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("fetching %s: %w", p, ErrTooLarge)
	}
	return b, nil
}

type scanner struct {
	f     *Format
	req   formats.ScanRequest
	p     params
	rel   *Release
	log   *slog.Logger
	yield func(formats.Entry) error
	seen  map[pool.Digest]bool
	// parsed records the paths read (and so already fetched), from dists/ on.
	parsed map[string]bool
	comps  []string
	archs  []string
	fields []field
	// fieldMaps are recent items' Fields maps, by their values.
	fieldMaps map[string]map[string]string
	key       []byte
	// topPath is the Release or InRelease read, payload its (verified) text.
	topPath string
	payload []byte
}

// variants is the order in which index compressions are preferred.
var variants = []string{".gz", ".xz", ".zst", ".bz2", ""}

func (s *scanner) run(ctx context.Context) error {
	s.comps, s.archs = s.p.comps, s.p.archs
	if len(s.comps) == 0 {
		for _, c := range s.rel.Components {
			if ValidToken(c) {
				s.comps = append(s.comps, c)
			} else {
				s.log.Warn("skipping a component that is not a plain token", "component", clip(c))
			}
		}
	}
	if len(s.archs) == 0 {
		for _, a := range s.rel.Architectures {
			if a != "all" && a != "source" && ValidToken(a) {
				s.archs = append(s.archs, a)
			}
		}
	}
	if s.p.flat {
		if err := s.index(ctx, "Packages", "", false); err != nil {
			return err
		}
		if s.p.sources {
			if err := s.index(ctx, "Sources", "", false); err != nil {
				return err
			}
		}
	} else {
		if len(s.comps) == 0 {
			return fmt.Errorf("scanning %sRelease: %w: no components configured or listed", s.p.base(), ErrConfig)
		}
		for _, comp := range s.comps {
			archs := append(append([]string(nil), s.archs...), "all")
			for _, a := range archs {
				if err := s.index(ctx, comp+"/binary-"+a+"/Packages", comp, false); err != nil {
					return err
				}
				if s.p.udebs {
					if err := s.index(ctx, comp+"/debian-installer/binary-"+a+"/Packages", comp, true); err != nil {
						return err
					}
				}
			}
			if s.p.sources {
				if err := s.index(ctx, comp+"/source/Sources", comp, false); err != nil {
					return err
				}
			}
		}
	}
	if s.req.Mode == formats.ModeMirror {
		if err := s.mirrorFiles(); err != nil {
			return err
		}
		return s.releaseCopies(ctx)
	}
	return nil
}

// pick returns the Release entry of the preferred listed variant of name.
func (s *scanner) pick(name string) *IndexFile {
	for _, v := range variants {
		if e := s.rel.Files[name+v]; e != nil && (e.Sums["sha256"] != "" || e.Sums["sha512"] != "") {
			return e
		}
	}
	return nil
}

// fileFor describes a Release entry as a formats.File.
func (s *scanner) fileFor(e *IndexFile, at, kind string) formats.File {
	fl := formats.File{Path: s.p.base() + at, Size: e.Size, Checksums: e.checksums(), Kind: kind, MirrorOnly: true}
	if d, err := pool.Parse(e.Sums["sha256"]); err == nil {
		fl.Digest = d
	}
	return fl
}

// byHashPath is the by-hash location of a Release entry for the given
// algorithm directory ("SHA256", "SHA512").
func byHashPath(p, dir, sum string) string {
	d := path.Dir(p)
	if d == "." {
		return "by-hash/" + dir + "/" + sum
	}
	return d + "/by-hash/" + dir + "/" + sum
}

// open fetches and verifies a Release entry: from by-hash first when the
// Release offers it, then from its plain path.
func (s *scanner) open(ctx context.Context, e *IndexFile) (io.ReadCloser, error) {
	if s.rel.AcquireByHash && s.p.byHash && e.Sums["sha256"] != "" {
		fl := s.fileFor(e, byHashPath(e.Path, "SHA256", e.Sums["sha256"]), "by-hash")
		rc, err := formats.OpenFile(ctx, s.req.Source, fl)
		if err == nil {
			s.parsed[fl.Path] = true
			return rc, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("fetching %s: %w", fl.Path, err)
		}
		s.log.Debug("by-hash copy missing; fetching the plain path", "path", fl.Path)
	}
	fl := s.fileFor(e, e.Path, "index")
	rc, err := formats.OpenFile(ctx, s.req.Source, fl)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", fl.Path, err)
	}
	s.parsed[fl.Path] = true
	return rc, nil
}

// index reads one Packages or Sources index (name without compression
// suffix, relative to the Release) and yields its items.
func (s *scanner) index(ctx context.Context, name, comp string, udeb bool) error {
	e := s.pick(name)
	if e == nil {
		if strings.Contains(name, "binary-all/") || udeb {
			return nil
		}
		s.log.Warn("index not listed in the release; skipping", "index", s.p.base()+name)
		return nil
	}
	rc, err := s.open(ctx, e)
	if err != nil {
		return err
	}
	defer rc.Close()
	dr, err := decompress(rc, e.Path, s.f.maxIndex)
	if err != nil {
		return err
	}
	defer dr.Close()
	src := strings.HasSuffix(name, "Sources")
	// Source artifacts are held until the index ends: an orig tarball shared
	// by several revisions is one item, and it takes the highest version that
	// lists it, so that keeping the latest revisions keeps it with its .dsc.
	var pending []formats.Item
	at := map[pool.Digest]int{}
	sr := newStanzaReader(dr, s.f.maxStanza)
	for n := 0; ; n++ {
		if n%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		raw, err := sr.next()
		if err == io.EOF {
			for i := range pending {
				if err := s.yield(formats.Entry{Item: &pending[i]}); err != nil {
					return err
				}
			}
			return nil
		}
		if errors.Is(err, errStanzaTooLong) {
			s.log.Warn("skipping an over-long stanza", "index", e.Path, "line", sr.start)
			continue
		}
		if err != nil {
			return fmt.Errorf("reading %s%s: %w", s.p.base(), e.Path, err)
		}
		var items []formats.Item
		if src {
			items, err = s.sourceItems(raw, comp)
		} else {
			var it formats.Item
			it, err = s.binaryItem(raw, comp, udeb)
			items = []formats.Item{it}
		}
		if err != nil {
			s.log.Warn("skipping a stanza", "index", e.Path, "line", sr.start, "err", err)
			continue
		}
		for i := range items {
			it := &items[i]
			if j, ok := at[it.Digest]; ok {
				if p := &pending[j]; p.Name == it.Name && CompareVersions(it.Version, p.Version) > 0 {
					p.Version = it.Version
				}
				continue
			}
			if s.seen[it.Digest] {
				continue // arch:all in several indexes, or an artifact of another index
			}
			s.seen[it.Digest] = true
			if src {
				at[it.Digest] = len(pending)
				pending = append(pending, *it)
				continue
			}
			if err := s.yield(formats.Entry{Item: it}); err != nil {
				return err
			}
		}
	}
}

// binaryItem makes an Item of a Packages stanza. The item's strings taken
// from single-line fields (name, version, architecture, path, checksums) share
// the memory of its verbatim stanza instead of copying it: at 63,000 items
// that is a tenth of what a scan keeps.
func (s *scanner) binaryItem(raw []byte, comp string, udeb bool) (formats.Item, error) {
	stanza := bytes.Clone(raw)
	var err error
	s.fields, err = parseFields(stanza, s.fields)
	if err != nil {
		return formats.Item{}, err
	}
	fs := s.fields
	req := func(n string) (string, error) {
		v, ok := get(fs, n)
		if !ok || len(v) == 0 || bytes.ContainsAny(v, "\n") {
			return "", fmt.Errorf("missing or multi-line %s", n)
		}
		return frozenString(v), nil
	}
	var it formats.Item
	if it.Name, err = req("Package"); err != nil {
		return it, err
	}
	if it.Version, err = req("Version"); err != nil {
		return it, err
	}
	if it.Arch, err = req("Architecture"); err != nil {
		return it, err
	}
	fn, err := req("Filename")
	if err != nil {
		return it, err
	}
	if it.Path, err = cleanRel(fn); err != nil {
		return it, err
	}
	if s.p.flat {
		// A flat repository's Filename is relative to its own directory.
		it.Path = s.p.base() + it.Path
	}
	size, err := req("Size")
	if err != nil {
		return it, err
	}
	if it.Size, err = strconv.ParseInt(size, 10, 64); err != nil || it.Size < 0 {
		return it, fmt.Errorf("bad Size %q", clip(size))
	}
	sha, err := req("SHA256")
	if err != nil {
		return it, err
	}
	sha = strings.ToLower(sha) // no copy when it already is
	if it.Digest, err = pool.Parse(sha); err != nil {
		return it, fmt.Errorf("bad SHA256: %w", err)
	}
	it.Checksums = formats.Checksums{"sha256": sha}
	for _, c := range []struct{ field, alg string }{{"MD5sum", "md5"}, {"SHA1", "sha1"}, {"SHA512", "sha512"}} {
		if v, ok := get(fs, c.field); ok && !bytes.ContainsAny(v, "\n") && isHex(frozenString(v)) {
			it.Checksums[c.alg] = strings.ToLower(frozenString(v))
		}
	}
	var sec, prio []byte
	if v, ok := get(fs, "Section"); ok && len(v) > 0 && !bytes.ContainsAny(v, "\n") {
		sec = v
	}
	if v, ok := get(fs, "Priority"); ok && len(v) > 0 && !bytes.ContainsAny(v, "\n") {
		prio = v
	}
	it.Fields = s.fieldsFor(comp, sec, prio, sourceName(fs, it.Name), udeb)
	it.Fragments = map[string][]byte{FragmentStanza: stanza}
	return it, nil
}

// frozenString returns b as a string sharing b's memory. b must be a
// single-line value inside an item's verbatim stanza: fragments are never
// written to once scanned (Render and the catalog only read them).
func frozenString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// maxFieldMaps bounds the window of shared Fields maps.
const maxFieldMaps = 4096

// fieldsFor returns the Fields of a binary item. Items with the same values
// share one map (the binaries of one source package usually do): at 63,000
// items a map each is a sixth of the memory a scan keeps. Fields are read-only
// for everyone but their creator; Upload sets a component only on the fresh
// map of an Inspect.
func (s *scanner) fieldsFor(comp string, sec, prio []byte, src string, udeb bool) map[string]string {
	k := append(s.key[:0], comp...)
	k = append(append(k, 0), sec...)
	k = append(append(k, 0), prio...)
	k = append(append(k, 0), src...)
	if udeb {
		k = append(k, 0, 'u')
	}
	s.key = k
	if m, ok := s.fieldMaps[string(k)]; ok {
		return m
	}
	m := map[string]string{"source": src}
	if comp != "" {
		m["component"] = comp
	}
	if sec != nil {
		m["section"] = string(sec)
	}
	if prio != nil {
		m["priority"] = string(prio)
	}
	s.releaseFields(m)
	if udeb {
		m["udeb"] = "true"
	}
	if s.fieldMaps == nil || len(s.fieldMaps) >= maxFieldMaps {
		// Binaries of one source are near each other in Packages (sorted by
		// name): a window of recent maps finds most of them.
		s.fieldMaps = make(map[string]map[string]string, maxFieldMaps)
	}
	s.fieldMaps[string(k)] = m
	return m
}

// releaseFields records the upstream Suite and Codename on an item, so that
// a regenerated Release keeps them apart (the upstream Release itself is not
// kept outside mirror mode).
func (s *scanner) releaseFields(m map[string]string) {
	if ValidToken(s.rel.Suite) {
		m["suite"] = s.rel.Suite
	}
	if ValidToken(s.rel.Codename) {
		m["codename"] = s.rel.Codename
	}
}

// sourceName is the source package of a binary stanza: its Source field
// without a "(version)", else the package name.
func sourceName(fs []field, pkg string) string {
	v, ok := get(fs, "Source")
	if !ok {
		return pkg
	}
	name := string(v)
	if i := strings.IndexByte(name, '('); i >= 0 {
		name = name[:i]
	}
	name = strings.TrimSpace(name)
	if name == "" || strings.ContainsAny(name, "\n/") {
		return pkg
	}
	return name
}

// sourceItems makes one Item per artifact of a Sources stanza (the .dsc, the
// tarballs); the .dsc carries the stanza. An artifact with a bad line is
// skipped alone.
func (s *scanner) sourceItems(raw []byte, comp string) ([]formats.Item, error) {
	var err error
	s.fields, err = parseFields(raw, s.fields)
	if err != nil {
		return nil, err
	}
	fs := s.fields
	one := func(n string) string {
		v, _ := get(fs, n)
		if bytes.ContainsAny(v, "\n") {
			return ""
		}
		return string(v)
	}
	name, ver, dir := one("Package"), one("Version"), one("Directory")
	if name == "" || ver == "" || dir == "" {
		return nil, errors.New("missing Package, Version or Directory")
	}
	if dir, err = cleanRel(dir); err != nil {
		return nil, err
	}
	sums := map[string]formats.Checksums{}
	sizes := map[string]int64{}
	var order []string
	for _, c := range []struct{ field, alg string }{{"Checksums-Sha256", "sha256"}, {"Checksums-Sha1", "sha1"}, {"Checksums-Sha512", "sha512"}, {"Files", "md5"}} {
		v, _ := get(fs, c.field)
		for ln := range strings.SplitSeq(string(v), "\n") {
			f := strings.Fields(ln)
			if len(f) != 3 || !isHex(f[0]) || strings.ContainsAny(f[2], "/\\") {
				continue
			}
			size, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil || size < 0 {
				s.log.Warn("skipping a source artifact with a bad size", "package", name, "file", clip(f[2]))
				continue
			}
			if c.alg != "sha256" && sums[f[2]] == nil {
				continue // the sha256 list defines the artifact set
			}
			if sums[f[2]] == nil {
				sums[f[2]] = formats.Checksums{}
				sizes[f[2]] = size
				order = append(order, f[2])
			}
			sums[f[2]][c.alg] = strings.ToLower(f[0])
		}
	}
	var out []formats.Item
	for _, fn := range order {
		d, err := pool.Parse(sums[fn]["sha256"])
		if err != nil {
			continue
		}
		it := formats.Item{Path: dir + "/" + fn, Size: sizes[fn], Digest: d, Checksums: sums[fn],
			Name: name, Version: ver, Arch: "source",
			Fields: map[string]string{"source": name, "kind": "source"}}
		if comp != "" {
			it.Fields["component"] = comp
		}
		if v := one("Section"); v != "" {
			it.Fields["section"] = v
		}
		s.releaseFields(it.Fields)
		if v := one("Priority"); v != "" {
			it.Fields["priority"] = v
		}
		if strings.HasSuffix(fn, ".dsc") {
			it.Fields["kind"] = "dsc"
			it.Fragments = map[string][]byte{FragmentStanza: bytes.Clone(raw)}
		}
		out = append(out, it)
	}
	if len(out) == 0 {
		return nil, errors.New("no artifact with a sha256")
	}
	return out, nil
}

// mirrorFiles yields, for mirror mode, every file the Release lists for the
// selected components and architectures (all compression variants, Contents,
// Translation) and their by-hash copies. Nothing is probed here: the files
// that may be absent are Optional, so the caller's download skips them when
// upstream lacks them. They are the compression variants of an index listed in
// several (Debian lists uncompressed indexes it does not ship), and with
// Acquire-By-Hash every plain path and by-hash copy (a repository may keep only
// one of them), except the copy the scan read. A file listed once in a
// repository without by-hash must exist: the caller's download of it fails the
// sync otherwise.
func (s *scanner) mirrorFiles() error {
	paths := s.rel.Paths()
	variants := map[string]int{}
	for _, p := range paths {
		variants[stripCompression(p)]++
	}
	for _, p := range paths {
		if !s.wanted(p) {
			continue
		}
		e := s.rel.Files[p]
		if e.Sums["sha256"] == "" && e.Sums["sha512"] == "" {
			continue
		}
		kind := path.Base(p)
		if i := strings.IndexByte(kind, '.'); i > 0 {
			kind = kind[:i]
		}
		cands := []formats.File{s.fileFor(e, p, kind)}
		if s.rel.AcquireByHash {
			for _, h := range []struct{ dir, alg string }{{"SHA256", "sha256"}, {"SHA512", "sha512"}} {
				if sum := e.Sums[h.alg]; sum != "" {
					cands = append(cands, s.fileFor(e, byHashPath(p, h.dir, sum), "by-hash"))
				}
			}
		}
		mayLack := s.rel.AcquireByHash || variants[stripCompression(p)] > 1
		for _, fl := range cands {
			fl.Optional = mayLack && !s.parsed[fl.Path]
			if err := s.yield(formats.Entry{File: &fl}); err != nil {
				return err
			}
		}
	}
	return nil
}

// stripCompression removes a compression suffix from an index path.
func stripCompression(p string) string {
	for _, ext := range []string{".gz", ".xz", ".zst", ".bz2", ".lz4", ".lzma"} {
		if strings.HasSuffix(p, ext) {
			return strings.TrimSuffix(p, ext)
		}
	}
	return p
}

// maxReleaseCopy bounds the Release and Release.gpg fetched next to an
// InRelease in mirror mode.
const maxReleaseCopy = 16 << 20

// releaseCopies yields, in mirror mode with an InRelease, upstream's Release
// and Release.gpg too, so that the mirror serves every file upstream does
// (older clients and tools read Release + Release.gpg). A Release is kept only
// when it says exactly what the verified InRelease says; otherwise neither it
// nor its signature is republished. The Release lists neither, so their
// sha256 is computed here and the caller's download is checked against it.
func (s *scanner) releaseCopies(ctx context.Context) error {
	if path.Base(s.topPath) != "InRelease" {
		return nil // the caller keeps a Release and its Release.gpg itself
	}
	rel, err := s.optional(ctx, s.p.base()+"Release")
	if rel == nil || err != nil {
		return err
	}
	if !bytes.Equal(bytes.TrimRight(rel, "\r\n"), bytes.TrimRight(s.payload, "\r\n")) {
		s.log.Warn("upstream Release differs from its InRelease; republishing InRelease only", "path", s.p.base()+"Release")
		return nil
	}
	sig, err := s.optional(ctx, s.p.base()+"Release.gpg")
	if err != nil {
		return err
	}
	for _, c := range []struct {
		name, kind string
		b          []byte
	}{{"Release", "Release", rel}, {"Release.gpg", "signature", sig}} {
		if c.b == nil {
			continue
		}
		d := pool.Sum(c.b)
		fl := formats.File{Path: s.p.base() + c.name, Size: int64(len(c.b)), Digest: d,
			Checksums: formats.Checksums{"sha256": d.String()}, Kind: c.kind, MirrorOnly: true}
		if err := s.yield(formats.Entry{File: &fl}); err != nil {
			return err
		}
	}
	return nil
}

// optional reads a small upstream file that may be absent (nil, nil).
func (s *scanner) optional(ctx context.Context, p string) ([]byte, error) {
	b, err := readAll(ctx, s.req.Source, p, maxReleaseCopy)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// wanted reports whether a Release path belongs to the mirrored selection.
func (s *scanner) wanted(p string) bool {
	if s.p.flat {
		return true
	}
	archOK := func(a string) bool {
		if a == "all" {
			return true
		}
		if a == "source" {
			return s.p.sources
		}
		for _, x := range s.archs {
			if x == a {
				return true
			}
		}
		return false
	}
	contents := func(b string) bool {
		b = strings.TrimPrefix(b, "Contents-")
		if strings.HasPrefix(b, "udeb-") {
			if !s.p.udebs {
				return false
			}
			b = strings.TrimPrefix(b, "udeb-")
		}
		if i := strings.IndexByte(b, '.'); i >= 0 {
			b = b[:i]
		}
		return archOK(b)
	}
	parts := strings.Split(p, "/")
	if len(parts) == 1 {
		return strings.HasPrefix(p, "Contents-") && contents(p)
	}
	if !contains(s.comps, parts[0]) {
		return false
	}
	rest := parts[1:]
	switch {
	case strings.HasPrefix(rest[0], "binary-"):
		return archOK(strings.TrimPrefix(rest[0], "binary-"))
	case rest[0] == "debian-installer" && len(rest) > 1:
		return s.p.udebs && archOK(strings.TrimPrefix(rest[1], "binary-"))
	case rest[0] == "source":
		return s.p.sources
	case rest[0] == "i18n":
		return true
	case len(rest) == 1 && strings.HasPrefix(rest[0], "Contents-"):
		return contents(rest[0])
	}
	return false
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// sortItems orders items by name, dpkg version, architecture and path.
func sortItems(items []*formats.Item) {
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if c := CompareVersions(a.Version, b.Version); c != 0 {
			return c < 0
		}
		if a.Arch != b.Arch {
			return a.Arch < b.Arch
		}
		return a.Path < b.Path
	})
}
