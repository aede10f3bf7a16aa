package rpm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"

	rpmutils "github.com/sassoftware/go-rpmutils"

	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/pool"
)

var _ formats.Inspector = (*Format)(nil)

// Header tags go-rpmutils does not name.
const (
	tagRecommendName = 5046 + 3*iota
	tagSuggestName
	tagSupplementName
	tagEnhanceName
)

const (
	tagDirIndexes = 1116
	tagBaseNames  = 1117
	tagDirNames   = 1118
	tagFileModes  = 1030
	tagFileFlags  = 1037
	leadSize      = 96
	headerMagic   = 0x8eade801
)

// RPMSENSE bits that createrepo_c reads.
const (
	senseLess       = 1 << 1
	senseGreater    = 1 << 2
	senseEqual      = 1 << 3
	sensePrereq     = 1 << 6
	senseScriptPre  = 1 << 9
	senseScriptPost = 1 << 10
)

// depKind is one dependency type of primary: its element and header tags
// (name; flags and version follow rpm's numbering).
type depKind struct {
	elem                string
	name, flags, versio int
}

// depKinds lists the dependency types in createrepo_c's order.
var depKinds = [...]depKind{
	{"provides", rpmutils.PROVIDENAME, rpmutils.PROVIDEFLAGS, rpmutils.PROVIDEVERSION},
	{"requires", rpmutils.REQUIRENAME, rpmutils.REQUIREFLAGS, rpmutils.REQUIREVERSION},
	{"conflicts", rpmutils.CONFLICTNAME, rpmutils.CONFLICTFLAGS, rpmutils.CONFLICTVERSION},
	{"obsoletes", rpmutils.OBSOLETENAME, rpmutils.OBSOLETEFLAGS, rpmutils.OBSOLETEVERSION},
	{"suggests", tagSuggestName, tagSuggestName + 2, tagSuggestName + 1},
	{"enhances", tagEnhanceName, tagEnhanceName + 2, tagEnhanceName + 1},
	{"recommends", tagRecommendName, tagRecommendName + 2, tagRecommendName + 1},
	{"supplements", tagSupplementName, tagSupplementName + 2, tagSupplementName + 1},
}

// Inspect reads a package's headers (at most MaxHeaderSize bytes of them; the
// payload is only hashed) and returns its Item for hosted mode: NEVRA, the
// filterable fields, Size, the sha256 checksum and digest, Path =
// PublishPath, and primary, filelists and other fragments equivalent to the
// ones createrepo_c writes for the same file (the sha256 is the pkgid; file
// times, which a ReaderAt lacks, are the build time). Headers that are
// malformed or inconsistent fail with ErrMalformed, oversized ones with
// ErrTooLarge.
func (f *Format) Inspect(ctx context.Context, r io.ReaderAt, size int64) (it formats.Item, err error) {
	if err := ctx.Err(); err != nil {
		return formats.Item{}, err
	}
	raw, start, end, err := readHeaders(r, size)
	if err != nil {
		return formats.Item{}, err
	}
	defer func() {
		// go-rpmutils indexes header data without bounds checks in places;
		// readHeaders validated the layout, this is defence in depth.
		if p := recover(); p != nil {
			it, err = formats.Item{}, fmt.Errorf("inspecting package: %w: %v", ErrMalformed, p)
		}
	}()
	h, err := rpmutils.ReadHeader(bytes.NewReader(raw))
	if err != nil {
		return formats.Item{}, fmt.Errorf("inspecting package: %w: %v", ErrMalformed, err)
	}
	hsum := sha256.New()
	if _, err := io.Copy(hsum, io.NewSectionReader(r, 0, size)); err != nil {
		return formats.Item{}, fmt.Errorf("hashing package: %w", err)
	}
	var dg pool.Digest
	copy(dg[:], hsum.Sum(nil))
	p := &pkgHeader{h: h}
	name := p.str(rpmutils.NAME)
	if name == "" || strings.ContainsAny(name, "/\x00") {
		return formats.Item{}, fmt.Errorf("inspecting package: %w: no valid name", ErrMalformed)
	}
	arch := p.str(rpmutils.ARCH)
	if !h.HasTag(rpmutils.SOURCERPM) { // rpm's headerIsSource
		arch = "src"
	}
	evr := EVR{Epoch: p.epoch(), Version: p.str(rpmutils.VERSION), Release: p.str(rpmutils.RELEASE)}
	file := fmt.Sprintf("%s-%s-%s.%s.rpm", name, evr.Version, evr.Release, arch)
	if strings.ContainsAny(file, "/\\\x00") || strings.HasPrefix(file, ".") {
		return formats.Item{}, fmt.Errorf("inspecting package: %w: unusable file name %q", ErrMalformed, clip(file))
	}
	sum := hex.EncodeToString(dg[:])
	it = formats.Item{
		Path: file, Size: size, Digest: dg, Checksums: formats.Checksums{"sha256": sum},
		Name: name, Version: evr.String(), Arch: arch,
	}
	it.Path = f.PublishPath(it)
	it.Fields = map[string]string{
		"epoch": epochOrZero(evr.Epoch), "version": evr.Version, "release": evr.Release,
		"summary": p.str(rpmutils.SUMMARY), "group": p.str(rpmutils.GROUP), "license": p.str(rpmutils.LICENSE),
		"vendor": p.str(rpmutils.VENDOR), "packager": p.str(rpmutils.PACKAGER), "buildhost": p.str(rpmutils.BUILDHOST),
		"buildtime": p.num(rpmutils.BUILDTIME), "sourcerpm": p.str(rpmutils.SOURCERPM), "url": p.str(rpmutils.URL),
	}
	for k, v := range it.Fields {
		if v == "" {
			delete(it.Fields, k)
		}
	}
	files, err := p.files()
	if err != nil {
		return formats.Item{}, err
	}
	it.Fragments = map[string][]byte{
		"primary":   p.primary(it, evr, files, start, end),
		"filelists": p.filelists(sum, it, evr, files),
		"other":     p.other(sum, it, evr, f.chlog),
	}
	return it, nil
}

// readHeaders reads the lead, signature header and main header, checking
// their layout (entry offsets and counts inside the data, strings
// terminated) before go-rpmutils sees them, and returns their bytes and the
// header range (start and end of the main header).
func readHeaders(r io.ReaderAt, size int64) (raw []byte, start, end int64, err error) {
	bad := func(format string, args ...any) ([]byte, int64, int64, error) {
		return nil, 0, 0, fmt.Errorf("inspecting package: %w: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
	lead := make([]byte, leadSize)
	if _, err := r.ReadAt(lead, 0); err != nil {
		return bad("reading lead: %v", err)
	}
	if binary.BigEndian.Uint32(lead) != 0xedabeedb {
		return bad("not an rpm file")
	}
	off := int64(leadSize)
	for i := 0; i < 2; i++ {
		var intro [16]byte
		if _, err := r.ReadAt(intro[:], off); err != nil {
			return bad("reading header: %v", err)
		}
		if binary.BigEndian.Uint32(intro[:]) != headerMagic {
			return bad("bad header magic")
		}
		n, dl := int64(binary.BigEndian.Uint32(intro[8:])), int64(binary.BigEndian.Uint32(intro[12:]))
		total := 16 + n*16 + dl
		if i == 0 {
			total = 16 + n*16 + (dl+7)/8*8
		}
		if off+total > leadSize+MaxHeaderSize {
			return nil, 0, 0, fmt.Errorf("inspecting package: %w: headers larger than %d bytes", ErrTooLarge, MaxHeaderSize)
		}
		if off+total > size {
			return bad("header runs past the end of the file")
		}
		buf := make([]byte, total)
		if _, err := r.ReadAt(buf, off); err != nil {
			return bad("reading header: %v", err)
		}
		if err := checkEntries(buf[16:16+n*16], buf[16+n*16:16+n*16+dl]); err != nil {
			return bad("%v", err)
		}
		if i == 1 {
			start = off
		}
		off += total
	}
	raw = make([]byte, off)
	if _, err := r.ReadAt(raw, 0); err != nil {
		return bad("reading headers: %v", err)
	}
	return raw, start, off, nil
}

// checkEntries validates a header's index against its data store.
func checkEntries(index, data []byte) error {
	sizes := map[uint32]int64{0: 0, 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1}
	var scanned int64
	for i := 0; i+16 <= len(index); i += 16 {
		tag := binary.BigEndian.Uint32(index[i:])
		typ := binary.BigEndian.Uint32(index[i+4:])
		o := int64(binary.BigEndian.Uint32(index[i+8:]))
		n := int64(binary.BigEndian.Uint32(index[i+12:]))
		if o > int64(len(data)) {
			return fmt.Errorf("tag %d: offset outside the header", tag)
		}
		if sz, ok := sizes[typ]; ok {
			if o+sz*n > int64(len(data)) {
				return fmt.Errorf("tag %d: data outside the header", tag)
			}
			continue
		}
		if typ != 6 && typ != 8 && typ != 9 {
			return fmt.Errorf("tag %d: unknown type %d", tag, typ)
		}
		if typ == 6 && n != 1 {
			return fmt.Errorf("tag %d: string with count %d", tag, n)
		}
		p := o
		for k := int64(0); k < n; k++ {
			j := bytes.IndexByte(data[p:], 0)
			if j < 0 {
				return fmt.Errorf("tag %d: unterminated string", tag)
			}
			p += int64(j) + 1
		}
		// Entries of a real header do not overlap, so their strings add up
		// to at most the data store; more means crafted overlaps that
		// would make this check (and every reader) quadratic.
		if scanned += p - o; scanned > int64(len(data)) {
			return fmt.Errorf("tag %d: overlapping string data", tag)
		}
	}
	return nil
}

// pkgHeader reads tags leniently: a missing or mistyped tag is empty.
type pkgHeader struct{ h *rpmutils.RpmHeader }

func (p *pkgHeader) strs(tag int) []string {
	s, err := p.h.GetStrings(tag)
	if err != nil {
		return nil
	}
	return s
}

func (p *pkgHeader) str(tag int) string {
	if s := p.strs(tag); len(s) > 0 {
		return s[0]
	}
	return ""
}

func (p *pkgHeader) ints(tag int) []uint64 {
	v, err := p.h.GetUint64s(tag)
	if err != nil {
		return nil
	}
	return v
}

func (p *pkgHeader) num(tag int) string {
	if v := p.ints(tag); len(v) > 0 {
		return strconv.FormatUint(v[0], 10)
	}
	return ""
}

func (p *pkgHeader) epoch() string {
	if v := p.ints(rpmutils.EPOCH); len(v) > 0 {
		return strconv.FormatUint(v[0], 10)
	}
	return ""
}

type pkgFile struct {
	path string
	typ  string // "", "dir" or "ghost"
}

// files joins DIRNAMES, DIRINDEXES and BASENAMES (checked, unlike
// go-rpmutils) and classifies each file as createrepo_c does.
func (p *pkgHeader) files() ([]pkgFile, error) {
	base, dirs := p.strs(tagBaseNames), p.strs(tagDirNames)
	idx := p.ints(tagDirIndexes)
	modes, flags := p.ints(tagFileModes), p.ints(tagFileFlags)
	if len(idx) != len(base) {
		return nil, fmt.Errorf("inspecting package: %w: %d base names, %d dir indexes", ErrMalformed, len(base), len(idx))
	}
	out := make([]pkgFile, 0, len(base))
	for i, b := range base {
		if idx[i] >= uint64(len(dirs)) {
			return nil, fmt.Errorf("inspecting package: %w: dir index out of range", ErrMalformed)
		}
		fl := pkgFile{path: dirs[idx[i]] + b}
		switch {
		case i < len(flags) && flags[i]&rpmutils.RPMFILE_GHOST != 0:
			fl.typ = "ghost"
		case i < len(modes) && modes[i]&0o170000 == 0o040000:
			fl.typ = "dir"
		}
		out = append(out, fl)
	}
	return out, nil
}

// xw builds an XML fragment.
type xw struct{ bytes.Buffer }

func (w *xw) attr(k, v string) { w.WriteString(" " + k + `="` + attrEscaper.Replace(v) + `"`) }
func (w *xw) elem(ind, name, text string) {
	w.WriteString(ind + "<" + name + ">" + textEscaper.Replace(text) + "</" + name + ">\n")
}

func (w *xw) version(ind string, evr EVR) {
	w.WriteString(ind + "<version")
	w.attr("epoch", epochOrZero(evr.Epoch))
	w.attr("ver", evr.Version)
	w.attr("rel", evr.Release)
	w.WriteString("/>\n")
}

// primaryFile reports whether createrepo_c lists a file in primary.
func primaryFile(p string) bool {
	return strings.HasPrefix(p, "/etc/") || strings.Contains(p, "bin/") || p == "/usr/lib/sendmail"
}

func (p *pkgHeader) primary(it formats.Item, evr EVR, files []pkgFile, start, end int64) []byte {
	var w xw
	w.WriteString(`<package type="rpm">` + "\n")
	w.elem("  ", "name", it.Name)
	w.elem("  ", "arch", it.Arch)
	w.version("  ", evr)
	w.WriteString(`  <checksum type="sha256" pkgid="YES">` + it.Checksums["sha256"] + "</checksum>\n")
	w.elem("  ", "summary", p.str(rpmutils.SUMMARY))
	w.elem("  ", "description", p.str(rpmutils.DESCRIPTION))
	w.elem("  ", "packager", p.str(rpmutils.PACKAGER))
	w.elem("  ", "url", p.str(rpmutils.URL))
	w.WriteString("  <time")
	w.attr("file", p.num(rpmutils.BUILDTIME))
	w.attr("build", p.num(rpmutils.BUILDTIME))
	w.WriteString("/>\n  <size")
	w.attr("package", strconv.FormatInt(it.Size, 10))
	installed := p.num(rpmutils.LONGSIZE)
	if installed == "" {
		installed = p.num(rpmutils.SIZE)
	}
	w.attr("installed", installed)
	archive := p.num(rpmutils.SIG_LONGARCHIVESIZE)
	if archive == "" {
		archive = p.num(rpmutils.SIG_PAYLOADSIZE)
	}
	w.attr("archive", archive)
	w.WriteString("/>\n  <location")
	w.attr("href", it.Path)
	w.WriteString("/>\n  <format>\n")
	w.elem("    ", "rpm:license", p.str(rpmutils.LICENSE))
	w.elem("    ", "rpm:vendor", p.str(rpmutils.VENDOR))
	w.elem("    ", "rpm:group", p.str(rpmutils.GROUP))
	w.elem("    ", "rpm:buildhost", p.str(rpmutils.BUILDHOST))
	w.elem("    ", "rpm:sourcerpm", p.str(rpmutils.SOURCERPM))
	w.WriteString("    <rpm:header-range")
	w.attr("start", strconv.FormatInt(start, 10))
	w.attr("end", strconv.FormatInt(end, 10))
	w.WriteString("/>\n")
	for _, k := range depKinds {
		p.deps(&w, k)
	}
	for _, fl := range files {
		if !primaryFile(fl.path) {
			continue
		}
		w.WriteString("    <file")
		if fl.typ != "" {
			w.attr("type", fl.typ)
		}
		w.WriteString(">" + textEscaper.Replace(fl.path) + "</file>\n")
	}
	w.WriteString("  </format>\n</package>")
	return w.Bytes()
}

// deps writes one dependency list as createrepo_c does: rpmlib() requires
// and duplicates left out, pre="1" for install-time requires.
func (p *pkgHeader) deps(w *xw, k depKind) {
	names := p.strs(k.name)
	if len(names) == 0 {
		return
	}
	flags, vers := p.ints(k.flags), p.strs(k.versio)
	seen := map[string]bool{}
	var body xw
	for i, n := range names {
		var fl uint64
		if i < len(flags) {
			fl = flags[i]
		}
		v := ""
		if i < len(vers) {
			v = vers[i]
		}
		pre := k.elem == "requires" && fl&(sensePrereq|senseScriptPre|senseScriptPost) != 0
		if k.elem == "requires" && strings.HasPrefix(n, "rpmlib(") {
			continue
		}
		key := fmt.Sprint(n, "\x00", fl&(senseLess|senseGreater|senseEqual), "\x00", v, "\x00", pre)
		if seen[key] {
			continue
		}
		seen[key] = true
		body.WriteString("      <rpm:entry")
		body.attr("name", n)
		if f := senseFlags(fl); f != "" && v != "" {
			body.attr("flags", f)
			e := ParseEVR(v)
			body.attr("epoch", epochOrZero(e.Epoch))
			body.attr("ver", e.Version)
			if e.Release != "" {
				body.attr("rel", e.Release)
			}
		}
		if pre {
			body.attr("pre", "1")
		}
		body.WriteString("/>\n")
	}
	if body.Len() == 0 {
		return
	}
	w.WriteString("    <rpm:" + k.elem + ">\n")
	w.Write(body.Bytes())
	w.WriteString("    </rpm:" + k.elem + ">\n")
}

func senseFlags(fl uint64) string {
	switch fl & (senseLess | senseGreater | senseEqual) {
	case senseLess:
		return "LT"
	case senseGreater:
		return "GT"
	case senseEqual:
		return "EQ"
	case senseLess | senseEqual:
		return "LE"
	case senseGreater | senseEqual:
		return "GE"
	}
	return ""
}

func (p *pkgHeader) filelists(pkgid string, it formats.Item, evr EVR, files []pkgFile) []byte {
	var w xw
	w.WriteString("<package")
	w.attr("pkgid", pkgid)
	w.attr("name", it.Name)
	w.attr("arch", it.Arch)
	w.WriteString(">\n")
	w.version("  ", evr)
	for _, fl := range files {
		w.WriteString("  <file")
		if fl.typ != "" {
			w.attr("type", fl.typ)
		}
		w.WriteString(">" + textEscaper.Replace(fl.path) + "</file>\n")
	}
	w.WriteString("</package>")
	return w.Bytes()
}

// other writes the newest limit changelog entries, oldest first, as
// createrepo_c does.
func (p *pkgHeader) other(pkgid string, it formats.Item, evr EVR, limit int) []byte {
	var w xw
	w.WriteString("<package")
	w.attr("pkgid", pkgid)
	w.attr("name", it.Name)
	w.attr("arch", it.Arch)
	w.WriteString(">\n")
	w.version("  ", evr)
	times, names, texts := p.ints(rpmutils.CHANGELOGTIME), p.strs(rpmutils.CHANGELOGNAME), p.strs(rpmutils.CHANGELOGTEXT)
	n := min(len(times), len(names), len(texts), limit)
	for i := n - 1; i >= 0; i-- {
		w.WriteString("  <changelog")
		w.attr("author", names[i])
		w.attr("date", strconv.FormatUint(times[i], 10))
		w.WriteString(">" + textEscaper.Replace(texts[i]) + "</changelog>\n")
	}
	w.WriteString("</package>")
	return w.Bytes()
}
