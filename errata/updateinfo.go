package errata

import (
	"bufio"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// uiNode is one element of an <update>, held generically until the whole
// advisory is read. Names are local names.
type uiNode struct {
	name  string
	attrs []xml.Attr
	text  strings.Builder
	kids  []*uiNode
}

func (n *uiNode) attr(local string) string {
	for _, a := range n.attrs {
		if a.Name.Local == local {
			return strings.TrimSpace(a.Value)
		}
	}
	return ""
}

func (n *uiNode) kid(name string) *uiNode {
	for _, k := range n.kids {
		if k.name == name {
			return k
		}
	}
	return nil
}

func (n *uiNode) kidText(name string) string {
	if k := n.kid(name); k != nil {
		return strings.TrimSpace(k.text.String())
	}
	return ""
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// ReadUpdateinfo reads an RPM updateinfo.xml document (decompressed) and
// returns its advisories in document order (or passes them to o.Each).
//
// The document is streamed: only one <update> is held at a time, bounded by
// o.MaxAdvisoryBytes and a nesting depth of 32. It is lenient per advisory:
// an <update> without an ID, with a bad date or over a bound is skipped and
// reported to o.OnSkip, and reading goes on. A document that is not
// well-formed XML, or whose root is not <updates>, fails with ErrMalformed
// (advisories before the fault have been delivered).
func ReadUpdateinfo(ctx context.Context, r io.Reader, o *Options) ([]Advisory, error) {
	s := newSettings(o)
	if err := readUpdateinfo(ctx, r, s); err != nil {
		return nil, err
	}
	return s.out, nil
}

func readUpdateinfo(ctx context.Context, r io.Reader, s *settings) error {
	d := xml.NewDecoder(bufio.NewReaderSize(r, 64<<10))
	d.Strict = true
	bad := func(format string, args ...any) error {
		return fmt.Errorf("parsing updateinfo: %w: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
	var (
		stack    []*uiNode // open elements of the current update
		depth    int       // element depth in the document
		start    int64     // input offset of the current update
		index    int       // updates seen
		skipping error     // why the current update is being skipped
		rootSeen bool
	)
	for {
		tok, err := d.Token()
		if err == io.EOF {
			if depth != 0 || !rootSeen {
				return bad("unexpected end of document")
			}
			return nil
		}
		if err != nil {
			return bad("%v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch {
			case depth == 0:
				if rootSeen {
					return bad("second root element")
				}
				if t.Name.Local != "updates" {
					return bad("root element is <%s>, want <updates>", clip(t.Name.Local))
				}
				rootSeen = true
			case depth == 1 && t.Name.Local == "update":
				start = d.InputOffset()
				skipping = nil
				stack = append(stack[:0], &uiNode{name: t.Name.Local, attrs: t.Attr})
			case len(stack) > 0 && skipping == nil:
				if len(stack) >= maxDepth {
					skipping = fmt.Errorf("nests deeper than %d elements: %w", maxDepth, ErrMalformed)
					break
				}
				n := &uiNode{name: t.Name.Local, attrs: t.Attr}
				top := stack[len(stack)-1]
				top.kids = append(top.kids, n)
				stack = append(stack, n)
			}
			depth++
		case xml.EndElement:
			depth--
			if depth == 1 && t.Name.Local == "update" && len(stack) > 0 {
				u := stack[0]
				stack = stack[:0]
				index++
				if skipping != nil {
					s.skip(&SkipError{Name: "updateinfo", Index: index - 1, ID: u.kidText("id"), Err: skipping})
					skipping = nil
					continue
				}
				a, err := updateToAdvisory(u)
				if err != nil {
					s.skip(&SkipError{Name: "updateinfo", Index: index - 1, ID: a.ID, Err: err})
					continue
				}
				if err := s.emit(ctx, a); err != nil {
					return err
				}
				continue
			}
			if len(stack) > 1 && skipping == nil {
				stack = stack[:len(stack)-1]
			}
		case xml.CharData:
			if len(stack) > 0 && skipping == nil {
				stack[len(stack)-1].text.Write(t)
			}
		}
		if len(stack) > 0 && skipping == nil && d.InputOffset()-start > s.MaxAdvisoryBytes {
			skipping = fmt.Errorf("longer than %d bytes: %w", s.MaxAdvisoryBytes, ErrTooLarge)
			id := stack[0].kid("id")
			stack[0].kids = nil // keep only the id, for the report
			if id != nil {
				stack[0].kids = []*uiNode{id}
			}
			stack = stack[:1]
		}
	}
}

// parseBool reads updateinfo's True/False flags.
func parseBool(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes":
		return true
	}
	return false
}

var dateLayouts = []string{
	"2006-01-02 15:04:05",
	"2006-01-02 15:04:05 MST",
	"2006-01-02T15:04:05Z07:00",
	"2006-01-02 15:04",
	"2006-01-02",
}

// parseDate reads updateinfo dates: "YYYY-MM-DD[ HH:MM[:SS]]", RFC 3339 or
// Unix seconds (SUSE). Times without a zone are UTC. "" is the zero time.
func parseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && len(s) >= 9 {
		return time.Unix(n, 0).UTC(), nil
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("date %q: %w", clip(s), ErrMalformed)
}

func updateToAdvisory(u *uiNode) (Advisory, error) {
	a := Advisory{
		ID:          u.kidText("id"),
		Type:        ParseType(u.attr("type")),
		From:        u.attr("from"),
		Status:      u.attr("status"),
		Version:     u.attr("version"),
		Title:       u.kidText("title"),
		Rights:      u.kidText("rights"),
		ReleaseName: u.kidText("release"),
		PushCount:   u.kidText("pushcount"),
		RawSeverity: u.kidText("severity"),
		Summary:     u.kidText("summary"),
		Description: u.kidText("description"),
		Solution:    u.kidText("solution"),
	}
	if a.ID == "" {
		return a, fmt.Errorf("no <id>: %w", ErrMalformed)
	}
	a.Severity, _ = ParseSeverity(a.RawSeverity)
	var err error
	if k := u.kid("issued"); k != nil {
		if a.Issued, err = parseDate(k.attr("date")); err != nil {
			return a, fmt.Errorf("issued %w", err)
		}
	}
	if k := u.kid("updated"); k != nil {
		if a.Updated, err = parseDate(k.attr("date")); err != nil {
			return a, fmt.Errorf("updated %w", err)
		}
	}
	for _, k := range u.kids {
		switch k.name {
		case "references":
			for _, r := range k.kids {
				if r.name != "reference" {
					continue
				}
				a.References = append(a.References, Reference{
					Type:  strings.ToLower(r.attr("type")),
					ID:    r.attr("id"),
					URL:   r.attr("href"),
					Title: r.attr("title"),
				})
			}
		case "pkglist":
			for _, c := range k.kids {
				if c.name == "collection" {
					a.Packages = appendCollection(a.Packages, c)
				}
			}
		case "reboot_suggested":
			a.RebootSuggested = parseBool(k.text.String())
		case "restart_suggested":
			a.RestartSuggested = parseBool(k.text.String())
		case "relogin_suggested":
			a.ReloginSuggested = parseBool(k.text.String())
		}
	}
	return a, nil
}

func appendCollection(out []Package, c *uiNode) []Package {
	short, cname := c.attr("short"), c.kidText("name")
	var mod *Module
	if m := c.kid("module"); m != nil {
		mod = &Module{Name: m.attr("name"), Stream: m.attr("stream"), Version: m.attr("version"), Context: m.attr("context"), Arch: m.attr("arch")}
	}
	for _, p := range c.kids {
		if p.name != "package" {
			continue
		}
		pk := Package{
			Ecosystem:      "rpm",
			Name:           p.attr("name"),
			Epoch:          p.attr("epoch"),
			Version:        p.attr("version"),
			Release:        p.attr("release"),
			Arch:           p.attr("arch"),
			Src:            p.attr("src"),
			Filename:       p.kidText("filename"),
			Module:         mod,
			Collection:     short,
			CollectionName: cname,
		}
		for _, k := range p.kids {
			switch k.name {
			case "sum":
				pk.Sums = append(pk.Sums, Sum{Type: k.attr("type"), Value: strings.TrimSpace(k.text.String())})
			case "reboot_suggested":
				pk.RebootSuggested = parseBool(k.text.String())
			case "restart_suggested":
				pk.RestartSuggested = parseBool(k.text.String())
			case "relogin_suggested":
				pk.ReloginSuggested = parseBool(k.text.String())
			}
		}
		out = append(out, pk)
	}
	return out
}

// errWriter remembers the first write error.
type errWriter struct {
	w   *bufio.Writer
	err error
}

func (w *errWriter) s(parts ...string) {
	for _, p := range parts {
		if w.err == nil {
			_, w.err = w.w.WriteString(p)
		}
	}
}

// xmlClean drops characters XML 1.0 cannot carry and repairs invalid UTF-8.
func xmlClean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	ok := true
	for _, r := range s {
		if !xmlChar(r) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	return strings.Map(func(r rune) rune {
		if xmlChar(r) {
			return r
		}
		return -1
	}, s)
}

func xmlChar(r rune) bool {
	return r == 0x9 || r == 0xA || r == 0xD || (r >= 0x20 && r <= 0xD7FF) ||
		(r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
}

var (
	textEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\r", "&#xD;")
	attrEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;",
		"\r", "&#xD;", "\n", "&#xA;", "\t", "&#x9;")
)

func escText(s string) string { return textEscaper.Replace(xmlClean(s)) }
func escAttr(s string) string { return attrEscaper.Replace(xmlClean(s)) }

const uiDate = "2006-01-02 15:04:05"

// severityWord is what <severity> says: the raw word when it is a plain
// word meaning the same level, else the canonical Red Hat word.
func severityWord(a *Advisory) string {
	if raw := strings.TrimSpace(a.RawSeverity); raw != "" && !strings.ContainsAny(raw, ":/. \t\n") {
		if sev, ok := ParseSeverity(raw); ok && sev == a.Severity {
			return raw
		}
	}
	if a.Severity == SeverityNone {
		if a.RawSeverity != "" {
			return "None"
		}
		return ""
	}
	w := a.Severity.String()
	return strings.ToUpper(w[:1]) + w[1:]
}

// WriteUpdateinfo renders advisories as an updateinfo.xml document, in the
// order given. The output is deterministic: fixed element and attribute
// order, dates as "YYYY-MM-DD HH:MM:SS" UTC, characters XML cannot carry
// dropped. Only packages of the "rpm" ecosystem (or none) that name an
// exact build (a Version) are listed; consecutive packages of the same
// collection and module share one <collection>. An advisory without an ID
// fails with ErrMalformed before anything is written.
func WriteUpdateinfo(w io.Writer, advs []Advisory) error {
	ew := &errWriter{w: bufio.NewWriterSize(w, 64<<10)}
	if err := checkIDs(advs); err != nil {
		return err
	}
	ew.s(`<?xml version="1.0" encoding="UTF-8"?>`, "\n<updates>\n")
	for i := range advs {
		writeUpdate(ew, &advs[i])
	}
	ew.s("</updates>\n")
	if ew.err != nil {
		return fmt.Errorf("write updateinfo: %w", ew.err)
	}
	if err := ew.w.Flush(); err != nil {
		return fmt.Errorf("write updateinfo: %w", err)
	}
	return nil
}

func writeUpdate(w *errWriter, a *Advisory) {
	w.s("  <update")
	for _, kv := range [][2]string{{"from", a.From}, {"status", a.Status}, {"type", string(a.Type)}, {"version", a.Version}} {
		if kv[1] != "" {
			w.s(" ", kv[0], `="`, escAttr(kv[1]), `"`)
		}
	}
	w.s(">\n")
	elem := func(name, text string) {
		if text != "" {
			w.s("    <", name, ">", escText(text), "</", name, ">\n")
		}
	}
	elem("id", a.ID)
	elem("title", a.Title)
	if !a.Issued.IsZero() {
		w.s(`    <issued date="`, a.Issued.UTC().Format(uiDate), "\"/>\n")
	}
	if !a.Updated.IsZero() {
		w.s(`    <updated date="`, a.Updated.UTC().Format(uiDate), "\"/>\n")
	}
	elem("rights", a.Rights)
	elem("release", a.ReleaseName)
	elem("pushcount", a.PushCount)
	elem("severity", severityWord(a))
	elem("summary", a.Summary)
	elem("description", a.Description)
	elem("solution", a.Solution)
	if len(a.References) > 0 {
		w.s("    <references>\n")
		for _, r := range a.References {
			w.s("      <reference")
			for _, kv := range [][2]string{{"href", r.URL}, {"id", r.ID}, {"type", r.Type}, {"title", r.Title}} {
				if kv[1] != "" {
					w.s(" ", kv[0], `="`, escAttr(kv[1]), `"`)
				}
			}
			w.s("/>\n")
		}
		w.s("    </references>\n")
	}
	writePkglist(w, a.Packages)
	flag := func(name string, on bool) {
		if on {
			w.s("    <", name, ">True</", name, ">\n")
		}
	}
	flag("reboot_suggested", a.RebootSuggested)
	flag("restart_suggested", a.RestartSuggested)
	flag("relogin_suggested", a.ReloginSuggested)
	w.s("  </update>\n")
}

func sameCollection(a, b *Package) bool {
	if a.Collection != b.Collection || a.CollectionName != b.CollectionName {
		return false
	}
	if a.Module == nil || b.Module == nil {
		return a.Module == nil && b.Module == nil
	}
	return *a.Module == *b.Module
}

func writePkglist(w *errWriter, pkgs []Package) {
	var listed []*Package
	for i := range pkgs {
		p := &pkgs[i]
		if (p.Ecosystem == "" || p.Ecosystem == "rpm") && p.Name != "" && p.Version != "" {
			listed = append(listed, p)
		}
	}
	if len(listed) == 0 {
		w.s("    <pkglist/>\n")
		return
	}
	w.s("    <pkglist>\n")
	for i, p := range listed {
		if i == 0 || !sameCollection(listed[i-1], p) {
			if i > 0 {
				w.s("      </collection>\n")
			}
			w.s("      <collection")
			if p.Collection != "" {
				w.s(` short="`, escAttr(p.Collection), `"`)
			}
			w.s(">\n")
			if p.CollectionName != "" {
				w.s("        <name>", escText(p.CollectionName), "</name>\n")
			}
			if m := p.Module; m != nil {
				w.s(`        <module name="`, escAttr(m.Name), `" stream="`, escAttr(m.Stream), `" version="`, escAttr(m.Version),
					`" context="`, escAttr(m.Context), `" arch="`, escAttr(m.Arch), "\"/>\n")
			}
		}
		w.s(`        <package name="`, escAttr(p.Name), `" version="`, escAttr(p.Version), `" release="`, escAttr(p.Release), `"`)
		if p.Epoch != "" {
			w.s(` epoch="`, escAttr(p.Epoch), `"`)
		}
		w.s(` arch="`, escAttr(p.Arch), `"`)
		if p.Src != "" {
			w.s(` src="`, escAttr(p.Src), `"`)
		}
		w.s(">\n")
		if p.Filename != "" {
			w.s("          <filename>", escText(p.Filename), "</filename>\n")
		}
		for _, s := range p.Sums {
			w.s(`          <sum type="`, escAttr(s.Type), `">`, escText(s.Value), "</sum>\n")
		}
		for _, f := range []struct {
			name string
			on   bool
		}{{"reboot_suggested", p.RebootSuggested}, {"restart_suggested", p.RestartSuggested}, {"relogin_suggested", p.ReloginSuggested}} {
			if f.on {
				w.s("          <", f.name, ">True</", f.name, ">\n")
			}
		}
		w.s("        </package>\n")
	}
	w.s("      </collection>\n")
	w.s("    </pkglist>\n")
}

func checkIDs(advs []Advisory) error {
	for i := range advs {
		if strings.TrimSpace(xmlClean(advs[i].ID)) == "" {
			return fmt.Errorf("write updateinfo: advisory %d has no id: %w", i, ErrMalformed)
		}
	}
	return nil
}
