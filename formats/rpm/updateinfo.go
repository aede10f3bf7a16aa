package rpm

import (
	"bufio"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/chantal-lite/chantal/formats"
)

// maxUpdateDepth bounds the element nesting inside one <update>; real
// advisories nest five levels (update, pkglist, collection, package, sum).
const maxUpdateDepth = 32

// uiNode is one element of an advisory, kept generically so that fields this
// package does not know survive a prune. Names keep their prefixes as written.
type uiNode struct {
	name  xml.Name
	attrs []xml.Attr
	text  strings.Builder
	kids  []*uiNode
}

func (n *uiNode) qname() string {
	if n.name.Space != "" {
		return n.name.Space + ":" + n.name.Local
	}
	return n.name.Local
}

func (n *uiNode) attr(local string) string {
	for _, a := range n.attrs {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// nevra is a package identity as updateinfo names it; the epoch is
// normalised ("" and "00" are "0").
type nevra struct{ name, epoch, version, release, arch string }

func itemNEVRA(it *formats.Item) nevra {
	return nevra{it.Name, epochOrZero(it.Fields["epoch"]), it.Fields["version"], it.Fields["release"], it.Arch}
}

// readUpdates streams <update> elements of an updateinfo document to fn, one
// at a time. Each update may span at most maxHeld bytes of input and
// maxUpdateDepth levels; anything else directly under <updates> is skipped.
func readUpdates(r io.Reader, name string, maxHeld int64, fn func(*uiNode) error) error {
	d := xml.NewDecoder(bufio.NewReaderSize(r, 64<<10))
	d.Strict = true
	bad := func(format string, args ...any) error {
		return fmt.Errorf("parsing %s: %w: %s", name, ErrMalformed, fmt.Sprintf(format, args...))
	}
	var stack []*uiNode // open elements of the current update
	depth := 0          // element depth in the document
	var start int64
	rootSeen := false
	for {
		tok, err := d.RawToken()
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
			case depth == 1 && t.Name.Local == "update" && t.Name.Space == "":
				start = d.InputOffset()
				stack = append(stack[:0], &uiNode{name: t.Name, attrs: t.Copy().Attr})
			case len(stack) > 0:
				if len(stack) >= maxUpdateDepth {
					return bad("advisory nests deeper than %d elements", maxUpdateDepth)
				}
				n := &uiNode{name: t.Name, attrs: t.Copy().Attr}
				top := stack[len(stack)-1]
				top.kids = append(top.kids, n)
				stack = append(stack, n)
			}
			depth++
		case xml.EndElement:
			depth--
			if depth < 0 {
				return bad("unbalanced end element")
			}
			if len(stack) == 0 {
				if depth == 0 && t.Name.Local != "updates" {
					return bad("mismatched end element </%s>", clip(t.Name.Local))
				}
				continue
			}
			top := stack[len(stack)-1]
			if t.Name != top.name {
				return bad("end element </%s> closes <%s>", clip(t.Name.Local), clip(top.qname()))
			}
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				if err := fn(top); err != nil {
					return err
				}
			}
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			} else if depth == 0 && rootSeen && strings.TrimSpace(string(t)) != "" {
				return bad("text after the root element")
			}
		}
		if len(stack) > 0 && d.InputOffset()-start > maxHeld {
			return fmt.Errorf("parsing %s: %w: one advisory is longer than %d bytes", name, ErrTooLarge, maxHeld)
		}
	}
}

// prune keeps in each pkglist collection only the packages in keep, drops
// collections left empty, and reports whether any package remains.
func prune(u *uiNode, keep map[nevra]bool) bool {
	left := false
	for _, pl := range u.kids {
		if pl.name.Local != "pkglist" {
			continue
		}
		cols := pl.kids[:0]
		for _, c := range pl.kids {
			if c.name.Local != "collection" {
				cols = append(cols, c)
				continue
			}
			kids := c.kids[:0]
			n := 0
			for _, p := range c.kids {
				if p.name.Local == "package" {
					k := nevra{p.attr("name"), epochOrZero(p.attr("epoch")), p.attr("version"), p.attr("release"), p.attr("arch")}
					if !keep[k] {
						continue
					}
					n++
				}
				kids = append(kids, p)
			}
			c.kids = kids
			if n > 0 {
				cols = append(cols, c)
				left = true
			}
		}
		pl.kids = cols
	}
	return left
}

// Escapers for rendered advisories: text keeps its line breaks, attribute
// values escape them so that a parser reads them back unchanged.
var (
	textEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\r", "&#xD;")
	attrEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "\r", "&#xD;", "\n", "&#xA;", "\t", "&#x9;")
)

// textWriter is where advisories are rendered.
type textWriter interface {
	io.Writer
	io.StringWriter
}

// writeNode renders n at indentation depth: attributes in document order,
// whitespace between elements normalised, leaf text kept exactly.
func writeNode(w textWriter, n *uiNode, depth int) {
	ind := strings.Repeat("  ", depth)
	w.WriteString(ind + "<" + n.qname())
	for _, a := range n.attrs {
		q := a.Name.Local
		if a.Name.Space != "" {
			q = a.Name.Space + ":" + q
		}
		w.WriteString(" " + q + `="` + attrEscaper.Replace(a.Value) + `"`)
	}
	text := n.text.String()
	switch {
	case len(n.kids) == 0 && text == "":
		w.WriteString("/>\n")
		return
	case len(n.kids) == 0:
		w.WriteString(">" + textEscaper.Replace(text) + "</" + n.qname() + ">\n")
		return
	}
	w.WriteString(">\n")
	if t := strings.TrimSpace(text); t != "" {
		w.WriteString(ind + "  " + textEscaper.Replace(t) + "\n")
	}
	for _, k := range n.kids {
		writeNode(w, k, depth+1)
	}
	w.WriteString(ind + "</" + n.qname() + ">\n")
}

// renderUpdateinfo writes updateinfo pruned to the published packages. ok is
// false when no advisory names a published package (no file is written).
// renderUpdateinfo merges the updateinfo files (a view passes one per member;
// an advisory id listed by several keeps the first member's advisory) and
// prunes every advisory to the published packages, dropping those with none.
func (f *Format) renderUpdateinfo(ctx context.Context, req formats.RenderRequest, fls []formats.File, comp Compression, keep map[nevra]bool) (d Data, ok bool, err error) {
	if req.Open == nil {
		return Data{}, false, fmt.Errorf("reading updateinfo: no Open function")
	}
	iw, err := f.newIndexWriter("updateinfo", comp)
	if err != nil {
		return Data{}, false, err
	}
	defer iw.discard()
	n := 0
	seen := map[string]bool{}
	iw.WriteString(xmlDecl)
	iw.WriteString("<updates>\n")
	for _, fl := range fls {
		if err := f.pruneUpdateinfoFile(ctx, req, fl, keep, seen, iw, &n); err != nil {
			return Data{}, false, err
		}
	}
	iw.WriteString("</updates>\n")
	if n == 0 {
		return Data{}, false, nil
	}
	d, err = iw.finish(ctx, req.Sink)
	return d, err == nil, err
}

func (f *Format) pruneUpdateinfoFile(ctx context.Context, req formats.RenderRequest, fl formats.File, keep map[nevra]bool, seen map[string]bool, w textWriter, n *int) error {
	rc, err := req.Open(ctx, fl.Digest)
	if err != nil {
		return fmt.Errorf("reading %s: %w", fl.Path, err)
	}
	defer rc.Close()
	dec, err := decompress(rc, fl.Path, f.maxMeta)
	if err != nil {
		return err
	}
	defer dec.Close()
	return readUpdates(dec, fl.Path, f.maxHeld, func(u *uiNode) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		id := advisoryID(u)
		if id != "" && seen[id] {
			return nil
		}
		if !prune(u, keep) {
			return nil
		}
		if id != "" {
			seen[id] = true
		}
		*n++
		writeNode(w, u, 1)
		return nil
	})
}

// advisoryID returns the text of an <update>'s <id> child.
func advisoryID(u *uiNode) string {
	for _, k := range u.kids {
		if k.name.Local == "id" {
			return strings.TrimSpace(k.text.String())
		}
	}
	return ""
}

// pruneUpdateinfo reads updateinfo from r and writes the advisories that name
// a package in keep (pruned to those packages) to w, counting them in n.
func pruneUpdateinfo(ctx context.Context, r io.Reader, name string, maxHeld int64, keep map[nevra]bool, w textWriter, n *int) error {
	w.WriteString(xmlDecl)
	w.WriteString("<updates>\n")
	err := readUpdates(r, name, maxHeld, func(u *uiNode) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !prune(u, keep) {
			return nil
		}
		*n++
		writeNode(w, u, 1)
		return nil
	})
	if err != nil {
		return err
	}
	w.WriteString("</updates>\n")
	return nil
}
