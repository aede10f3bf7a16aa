package errata

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// osvDoc is the part of the OSV schema (1.6) that the model uses.
type osvDoc struct {
	ID               string          `json:"id"`
	Modified         string          `json:"modified"`
	Published        string          `json:"published"`
	Withdrawn        string          `json:"withdrawn"`
	Aliases          []string        `json:"aliases"`
	Related          []string        `json:"related"`
	Upstream         []string        `json:"upstream"`
	Summary          string          `json:"summary"`
	Details          string          `json:"details"`
	Severity         []osvSeverity   `json:"severity"`
	Affected         []osvAffected   `json:"affected"`
	References       []osvReference  `json:"references"`
	DatabaseSpecific json.RawMessage `json:"database_specific"`
}

type osvSeverity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

type osvReference struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

type osvAffected struct {
	Package struct {
		Ecosystem string `json:"ecosystem"`
		Name      string `json:"name"`
		PURL      string `json:"purl"`
	} `json:"package"`
	Severity          []osvSeverity   `json:"severity"`
	Ranges            []osvRange      `json:"ranges"`
	Versions          []string        `json:"versions"`
	EcosystemSpecific json.RawMessage `json:"ecosystem_specific"`
	DatabaseSpecific  json.RawMessage `json:"database_specific"`
}

type osvRange struct {
	Type   string `json:"type"`
	Repo   string `json:"repo"`
	Events []struct {
		Introduced   string `json:"introduced"`
		Fixed        string `json:"fixed"`
		LastAffected string `json:"last_affected"`
		Limit        string `json:"limit"`
	} `json:"events"`
}

// osvHints is what database_specific / ecosystem_specific objects may say
// about type and severity; other members are ignored. Values of the wrong
// JSON type are ignored too.
type osvHints struct {
	Type     string
	Severity string
	Binaries []Binary
}

func readHints(raw json.RawMessage) osvHints {
	var h osvHints
	if len(raw) == 0 || raw[0] != '{' {
		return h
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return h
	}
	str := func(k string) string {
		var s string
		if v, ok := m[k]; ok && json.Unmarshal(v, &s) == nil {
			return strings.TrimSpace(s)
		}
		return ""
	}
	h.Type = str("type")
	h.Severity = str("severity")
	if h.Severity == "" {
		h.Severity = str("urgency")
	}
	if v, ok := m["binaries"]; ok {
		var bins []struct {
			Name    string `json:"binary_name"`
			Version string `json:"binary_version"`
		}
		if json.Unmarshal(v, &bins) == nil {
			for _, b := range bins {
				if b.Name != "" {
					h.Binaries = append(h.Binaries, Binary{Name: b.Name, Version: b.Version})
				}
			}
		}
	}
	return h
}

// rpmDistros and debDistros name the OSV ecosystems that are RPM and
// Debian-package distributions.
var (
	rpmDistros = []string{"AlmaLinux", "Rocky Linux", "Red Hat", "CentOS", "Fedora", "Oracle Linux",
		"openSUSE", "SUSE", "Mageia", "openEuler", "Azure Linux", "Photon OS"}
	debDistros = []string{"Debian", "Ubuntu"}
	apkDistros = []string{"Alpine", "Wolfi", "Chainguard"}
)

// NormalizeEcosystem maps an OSV ecosystem to the model's (Ecosystem,
// Distro, DistroRelease): "AlmaLinux:9" → ("rpm", "AlmaLinux", "9"),
// "Debian:12" → ("deb", "Debian", "12"), "Ubuntu:22.04:LTS" → ("deb",
// "Ubuntu", "22.04"), "Alpine:v3.20" → ("apk", "Alpine", "3.20"). The
// release is the first ":"-separated part that starts with a digit (or v
// and a digit), else the rest after the distribution name. Language
// ecosystems keep their name ("npm", "PyPI", "Go") and no distro.
func NormalizeEcosystem(raw string) (eco, distro, release string) {
	parts := strings.Split(strings.TrimSpace(raw), ":")
	name := parts[0]
	switch {
	case slices.Contains(rpmDistros, name):
		eco = "rpm"
	case slices.Contains(debDistros, name):
		eco = "deb"
	case slices.Contains(apkDistros, name):
		eco = "apk"
	default:
		return name, "", ""
	}
	for _, p := range parts[1:] {
		q := strings.TrimPrefix(p, "v")
		if q != "" && q[0] >= '0' && q[0] <= '9' {
			return eco, name, q
		}
	}
	return eco, name, strings.Join(parts[1:], ":")
}

// typeFromID reads the type from Red Hat style IDs: the letters before the
// first "-" end in SA (security), BA (bug fix) or EA (enhancement):
// RHSA, ALBA, RLEA, ELSA ... ok is false for other IDs.
func typeFromID(id string) (Type, bool) {
	pfx, _, found := strings.Cut(id, "-")
	if !found || len(pfx) != 4 {
		return "", false
	}
	switch strings.ToUpper(pfx[2:]) {
	case "SA":
		return TypeSecurity, true
	case "BA":
		return TypeBugfix, true
	case "EA":
		return TypeEnhancement, true
	}
	return "", false
}

func osvType(doc *osvDoc, db osvHints) Type {
	if db.Type != "" {
		return ParseType(db.Type)
	}
	if t, ok := typeFromID(doc.ID); ok {
		return t
	}
	s := strings.ToLower(doc.Summary)
	switch {
	case strings.Contains(s, "security"):
		return TypeSecurity
	case strings.Contains(s, "bug fix"), strings.Contains(s, "bugfix"):
		return TypeBugfix
	case strings.Contains(s, "enhancement"):
		return TypeEnhancement
	}
	return TypeSecurity
}

// osvSeverityOf picks the severity: database_specific.severity, the
// "Important: ..." prefix of a Red Hat style summary, a severity word
// (Ubuntu priority, ecosystem_specific severity or urgency), else the
// highest CVSS base score.
func osvSeverityOf(doc *osvDoc, db osvHints, aff []osvHints) (Severity, string) {
	if sev, ok := ParseSeverity(db.Severity); ok && db.Severity != "" {
		return sev, db.Severity
	}
	if w, _, ok := strings.Cut(doc.Summary, ":"); ok {
		if sev, ok := ParseSeverity(w); ok && sev != SeverityNone {
			return sev, strings.TrimSpace(w)
		}
	}
	all := slices.Clone(doc.Severity)
	for i := range doc.Affected {
		all = append(all, doc.Affected[i].Severity...)
	}
	best, raw, found := SeverityNone, "", false
	for _, s := range all {
		if strings.HasPrefix(s.Type, "CVSS") {
			continue
		}
		if sev, ok := ParseSeverity(s.Score); ok && (!found || sev > best) {
			best, raw, found = sev, s.Score, true
		}
	}
	for _, h := range aff {
		if sev, ok := ParseSeverity(h.Severity); ok && h.Severity != "" && (!found || sev > best) {
			best, raw, found = sev, h.Severity, true
		}
	}
	if found {
		return best, raw
	}
	var top float64
	for _, s := range all {
		if !strings.HasPrefix(s.Type, "CVSS") {
			continue
		}
		if f, ok := CVSSBaseScore(s.Score); ok && (raw == "" || f > top) {
			top, raw = f, s.Score
		}
	}
	if raw != "" {
		return SeverityFromScore(top), raw
	}
	return SeverityNone, ""
}

func parseOSVTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q: %w", field, clip(s), ErrMalformed)
	}
	return t.UTC(), nil
}

// osvToAdvisory converts one OSV record.
func osvToAdvisory(doc *osvDoc) (Advisory, error) {
	a := Advisory{
		ID:          strings.TrimSpace(doc.ID),
		Title:       strings.TrimSpace(doc.Summary),
		Description: strings.TrimSpace(doc.Details),
		Aliases:     doc.Aliases,
		Related:     doc.Related,
	}
	a.Aliases, a.Related = nilIfEmpty(a.Aliases), nilIfEmpty(a.Related)
	if !printableID(a.ID) {
		return a, fmt.Errorf("no usable id: %w", ErrMalformed)
	}
	for _, u := range doc.Upstream {
		if !slices.Contains(a.Related, u) && !slices.Contains(a.Aliases, u) {
			a.Related = append(a.Related, u)
		}
	}
	var err error
	if a.Issued, err = parseOSVTime("published", doc.Published); err != nil {
		return a, err
	}
	if a.Updated, err = parseOSVTime("modified", doc.Modified); err != nil {
		return a, err
	}
	if a.Withdrawn, err = parseOSVTime("withdrawn", doc.Withdrawn); err != nil {
		return a, err
	}
	if a.Issued.IsZero() {
		a.Issued = a.Updated
	}
	db := readHints(doc.DatabaseSpecific)
	affHints := make([]osvHints, 0, 2*len(doc.Affected))
	for i := range doc.Affected {
		af := &doc.Affected[i]
		es, ds := readHints(af.EcosystemSpecific), readHints(af.DatabaseSpecific)
		affHints = append(affHints, es, ds)
		eco, distro, rel := NormalizeEcosystem(af.Package.Ecosystem)
		p := Package{
			Ecosystem:     eco,
			Distro:        distro,
			DistroRelease: rel,
			RawEcosystem:  af.Package.Ecosystem,
			Name:          af.Package.Name,
			PURL:          af.Package.PURL,
			Versions:      nilIfEmpty(af.Versions),
			Binaries:      es.Binaries,
		}
		for _, r := range af.Ranges {
			rg := Range{Type: strings.ToUpper(r.Type), Repo: r.Repo}
			for _, e := range r.Events {
				ev := Event{Introduced: e.Introduced, Fixed: e.Fixed, LastAffected: e.LastAffected, Limit: e.Limit}
				if ev != (Event{}) {
					rg.Events = append(rg.Events, ev)
				}
			}
			p.Ranges = append(p.Ranges, rg)
		}
		a.Packages = append(a.Packages, p)
	}
	a.Type = osvType(doc, db)
	a.Severity, a.RawSeverity = osvSeverityOf(doc, db, affHints)
	a.Scores = make([]Score, 0, len(doc.Severity))
	for _, s := range doc.Severity {
		a.Scores = append(a.Scores, Score(s))
	}
	if len(a.Scores) == 0 {
		a.Scores = nil
	}
	for _, r := range doc.References {
		a.References = append(a.References, Reference{Type: strings.ToLower(r.Type), URL: r.URL})
	}
	var cves []string
	for _, s := range slices.Concat(a.Aliases, a.Related) {
		if s = strings.ToUpper(strings.TrimSpace(s)); IsCVE(s) {
			cves = append(cves, s)
		}
	}
	slices.Sort(cves)
	for _, c := range slices.Compact(cves) {
		a.References = append(a.References, Reference{Type: "cve", ID: c})
	}
	return a, nil
}

// fileFault marks a fault of one file or entry: a directory or zip reader
// skips that file and goes on.
type fileFault struct{ err error }

func (f *fileFault) Error() string { return f.err.Error() }
func (f *fileFault) Unwrap() error { return f.err }

// budgetReader fails with ErrTooLarge once more than limit bytes were read.
type budgetReader struct {
	r     io.Reader
	n     int64
	limit int64
}

func (b *budgetReader) Read(p []byte) (int, error) {
	if b.n >= b.limit {
		return 0, fmt.Errorf("reading OSV: document longer than its bound: %w", ErrTooLarge)
	}
	if int64(len(p)) > b.limit-b.n {
		p = p[:b.limit-b.n]
	}
	k, err := b.r.Read(p)
	b.n += int64(k)
	return k, err
}

// ReadOSV reads OSV records from r: one JSON document, a JSON array of
// documents, or a sequence of documents (JSON Lines). A record that is
// valid JSON but not a usable advisory (wrong member types, no id, a bad
// time) is skipped and reported to o.OnSkip; invalid JSON or a document
// over o.MaxAdvisoryBytes ends the read with ErrMalformed or ErrTooLarge.
func ReadOSV(ctx context.Context, r io.Reader, o *Options) ([]Advisory, error) {
	s := newSettings(o)
	if err := readOSVStream(ctx, r, "osv", s); err != nil {
		var ff *fileFault
		if errors.As(err, &ff) {
			return nil, ff.err
		}
		return nil, err
	}
	return s.out, nil
}

const jsonSlack = 64 << 10

func readOSVStream(ctx context.Context, r io.Reader, name string, s *settings) error {
	br := bufio.NewReaderSize(r, 64<<10)
	first := byte(0)
	for {
		c, err := br.ReadByte()
		if err == io.EOF {
			return nil // empty input: no advisories
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			first = c
			_ = br.UnreadByte()
			break
		}
	}
	budget := &budgetReader{r: br}
	arm := func() { budget.limit = budget.n + s.MaxAdvisoryBytes + jsonSlack }
	dec := json.NewDecoder(budget)
	fault := func(err error) error {
		if errors.Is(err, ErrTooLarge) {
			return &fileFault{fmt.Errorf("reading %s: %w", name, err)}
		}
		return &fileFault{fmt.Errorf("parsing %s: %w: %v", name, ErrMalformed, err)}
	}
	index := 0
	one := func(raw json.RawMessage) error {
		i := index
		index++
		if int64(len(raw)) > s.MaxAdvisoryBytes {
			return fault(fmt.Errorf("document %d longer than %d bytes: %w", i, s.MaxAdvisoryBytes, ErrTooLarge))
		}
		var doc osvDoc
		if err := json.Unmarshal(raw, &doc); err != nil {
			s.skip(&SkipError{Name: name, Index: i, ID: doc.ID, Err: fmt.Errorf("%w: %v", ErrMalformed, err)})
			return nil
		}
		a, err := osvToAdvisory(&doc)
		if err != nil {
			s.skip(&SkipError{Name: name, Index: i, ID: a.ID, Err: err})
			return nil
		}
		return s.emit(ctx, a)
	}
	if first == '[' {
		arm()
		if _, err := dec.Token(); err != nil {
			return fault(err)
		}
		for dec.More() {
			arm()
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return fault(err)
			}
			if err := one(raw); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return fault(err)
		}
		arm()
		if _, err := dec.Token(); err != io.EOF {
			return fault(errors.New("data after the array"))
		}
		return nil
	}
	for {
		arm()
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fault(err)
		}
		if err := one(raw); err != nil {
			return err
		}
	}
}

// readEntry parses one file of a directory or zip, skipping it (with a
// report) on a per-file fault. total counts decompressed bytes.
func readEntry(ctx context.Context, name string, size int64, open func() (io.ReadCloser, error), s *settings, total *int64) error {
	if size > s.MaxAdvisoryBytes {
		s.skip(&SkipError{Name: name, Err: fmt.Errorf("%d bytes, bound %d: %w", size, s.MaxAdvisoryBytes, ErrTooLarge)})
		return nil
	}
	rc, err := open()
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	data, err := io.ReadAll(io.LimitReader(rc, s.MaxAdvisoryBytes+1))
	closeErr := rc.Close()
	if err != nil {
		// A corrupt zip entry (bad deflate data, checksum) is that entry's fault.
		s.skip(&SkipError{Name: name, Err: fmt.Errorf("%w: %v", ErrMalformed, err)})
		return nil
	}
	if closeErr != nil {
		return fmt.Errorf("close %s: %w", name, closeErr)
	}
	if int64(len(data)) > s.MaxAdvisoryBytes {
		s.skip(&SkipError{Name: name, Err: fmt.Errorf("longer than %d bytes: %w", s.MaxAdvisoryBytes, ErrTooLarge)})
		return nil
	}
	*total += int64(len(data))
	if *total > s.MaxTotalBytes {
		return fmt.Errorf("reading OSV: more than %d bytes in all: %w", s.MaxTotalBytes, ErrTooLarge)
	}
	err = readOSVStream(ctx, bytes.NewReader(data), name, s)
	var ff *fileFault
	if errors.As(err, &ff) {
		s.skip(&SkipError{Name: name, Err: ff.err})
		return nil
	}
	return err
}

// ReadOSVDir reads every *.json file under the root of fsys (recursively,
// in lexical path order) as ReadOSV does. A file that is not valid JSON or
// is over o.MaxAdvisoryBytes is skipped and reported to o.OnSkip; the
// number of files is bounded by o.MaxAdvisories and their bytes by
// o.MaxTotalBytes.
func ReadOSVDir(ctx context.Context, fsys fs.FS, o *Options) ([]Advisory, error) {
	s := newSettings(o)
	var names []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && strings.HasSuffix(p, ".json") {
			if len(names) >= s.MaxAdvisories {
				return tooMany(s.MaxAdvisories)
			}
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read OSV directory: %w", err)
	}
	var total int64
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fi, err := fs.Stat(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read OSV directory: %w", err)
		}
		open := func() (io.ReadCloser, error) { return fsys.Open(name) }
		if err := readEntry(ctx, name, fi.Size(), open, s, &total); err != nil {
			return nil, err
		}
	}
	return s.out, nil
}

// ReadOSVZip reads an OSV export archive (the all.zip layout: one JSON
// document per entry) of size bytes from r. Entries named *.json are read
// in name order; nothing is extracted. The number of entries is bounded by
// o.MaxAdvisories, each entry's decompressed size by o.MaxAdvisoryBytes
// (an oversized or corrupt entry is skipped and reported) and the sum by
// o.MaxTotalBytes.
func ReadOSVZip(ctx context.Context, r io.ReaderAt, size int64, o *Options) ([]Advisory, error) {
	s := newSettings(o)
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("read OSV zip: %w: %v", ErrMalformed, err)
	}
	if len(zr.File) > s.MaxAdvisories {
		return nil, tooMany(s.MaxAdvisories)
	}
	files := slices.Clone(zr.File)
	slices.SortStableFunc(files, func(a, b *zip.File) int { return strings.Compare(a.Name, b.Name) })
	var total int64
	for _, f := range files {
		if strings.HasSuffix(f.Name, "/") || path.Ext(f.Name) != ".json" {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		sz := int64(f.UncompressedSize64)
		if f.UncompressedSize64 > 1<<62 {
			sz = 1 << 62
		}
		if err := readEntry(ctx, f.Name, sz, f.Open, s, &total); err != nil {
			return nil, err
		}
	}
	return s.out, nil
}

// nilIfEmpty makes "[]" and a missing member read the same.
func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// printableID reports whether id is a usable advisory ID: non-empty valid
// UTF-8 without control characters.
func printableID(id string) bool {
	if id == "" || !utf8.ValidString(id) {
		return false
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError || r > 0xFFFD && r < 0x10000 {
			return false
		}
	}
	return true
}
