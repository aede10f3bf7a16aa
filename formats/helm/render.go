package helm

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/Masterminds/semver/v3"
	"go.yaml.in/yaml/v3"

	"github.com/chantal-lite/chantal/formats"
)

// Render implements formats.Format. It writes index.yaml and the provenance
// files among req.Files. Mirror mode keeps the upstream index (from req.Files)
// verbatim except that each entry's urls become the published relative path of
// the chart it names, matched by digest (by path for digest-less entries), and
// entries whose chart is not in req.Items are dropped; when the upstream index
// is missing or unreadable it regenerates instead. Filtered and hosted mode
// regenerate the index from the kept entries: apiVersion v1, generated =
// req.Now, charts by name and then newest SemVer first, urls relative, digest
// the bare-hex SHA-256 of the published file. Each published file gets exactly
// one entry.
func (f *Format) Render(ctx context.Context, req formats.RenderRequest) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	log := f.logger(req.Logger)
	var entries []chartText
	var root *yaml.Node
	mirror := false
	if req.Mode == formats.ModeMirror {
		var err error
		root, entries, err = f.mirrorIndex(ctx, req)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			log.Warn("upstream index unusable; regenerating it", "err", err)
		} else {
			mirror = true
		}
	}
	w, err := req.Sink.Create(ctx, IndexPath)
	if err != nil {
		return fmt.Errorf("creating %s: %w", IndexPath, err)
	}
	bw := &indexWriter{w: w}
	if mirror {
		writeMirror(bw, root, entries)
	} else if err := f.regenerate(ctx, req, bw); err != nil {
		w.Close()
		return err
	}
	if err := bw.flush(); err != nil {
		w.Close()
		return fmt.Errorf("writing %s: %w", IndexPath, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", IndexPath, err)
	}
	for _, fl := range req.Files {
		if fl.Kind != KindProvenance {
			continue
		}
		if err := copyFile(ctx, req, fl); err != nil {
			return err
		}
	}
	return nil
}

// indexWriter buffers the rendered index in chunks of about 64 KiB: the
// emitters write to buf, and flushing passes it to w.
type indexWriter struct {
	buf bytes.Buffer
	w   io.Writer
	err error
}

// spill writes buf out once it is large.
func (iw *indexWriter) spill() {
	if iw.buf.Len() >= 64<<10 {
		iw.flush()
	}
}

func (iw *indexWriter) flush() error {
	if iw.err == nil && iw.buf.Len() > 0 {
		_, iw.err = iw.w.Write(iw.buf.Bytes())
	}
	iw.buf.Reset()
	return iw.err
}

// chartText is one chart name of a mirrored entries mapping, with its
// versions emitted as sequence items at indent 4.
type chartText struct {
	name *yaml.Node
	body []byte
}

// writeMirror writes root's keys in order, with entries as given.
func writeMirror(iw *indexWriter, root *yaml.Node, entries []chartText) {
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Value != "entries" {
			emitMapping(&iw.buf, &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{k, v}}, 0, "", nil)
			iw.spill()
			continue
		}
		emitScalar(&iw.buf, k)
		if len(entries) == 0 {
			iw.buf.WriteString(": {}\n")
			continue
		}
		iw.buf.WriteString(":\n")
		for _, c := range entries {
			iw.buf.WriteString("  ")
			emitScalar(&iw.buf, c.name)
			iw.buf.WriteString(":\n")
			iw.buf.Write(c.body)
			iw.spill()
		}
	}
}

// mirrorIndex reads the upstream index kept in req.Files, one chart name at a
// time, and returns its top-level mapping and its entries rewritten.
func (f *Format) mirrorIndex(ctx context.Context, req formats.RenderRequest) (*yaml.Node, []chartText, error) {
	var top *formats.File
	for i := range req.Files {
		if req.Files[i].Path == IndexPath {
			top = &req.Files[i]
		}
	}
	if top == nil || req.Open == nil {
		return nil, nil, fmt.Errorf("no upstream %s kept", IndexPath)
	}
	rc, err := req.Open(ctx, top.Digest)
	if err != nil {
		return nil, nil, fmt.Errorf("opening upstream %s: %w", IndexPath, err)
	}
	data, err := io.ReadAll(io.LimitReader(rc, DefaultMaxIndexSize+1))
	rc.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("reading upstream %s: %w", IndexPath, err)
	}
	r, err := openIndex(data)
	if err != nil {
		return nil, nil, err
	}
	byDigest := make(map[string][]int, len(req.Items))
	byPath := make(map[string]int, len(req.Items))
	for i := range req.Items {
		it := &req.Items[i]
		if d := itemSHA256(it); d != "" {
			byDigest[d] = append(byDigest[d], i)
		}
		byPath[it.Path] = i
	}
	used := make([]bool, len(req.Items))
	var out []chartText
	var b bytes.Buffer
	add := func(name string, n *yaml.Node) {
		if len(out) == 0 || out[len(out)-1].name.Value != name {
			out = append(out, chartText{name: scalar(name)})
		}
		b.Reset()
		emitMapping(&b, n, 6, "    - ", nil)
		c := &out[len(out)-1]
		c.body = append(c.body, b.Bytes()...)
	}
	var ents []Entry
	var skipped []EntryError
	count := 0
	for g := 0; g < r.len(); g++ {
		ents, skipped = groupEntries(r.group(g), ents[:0], skipped[:0])
		for i := range ents {
			if count++; count%ctxEvery == 0 {
				if err := ctx.Err(); err != nil {
					return nil, nil, err
				}
			}
			e := &ents[i]
			at := -1
			if e.Digest != "" {
				for _, j := range byDigest[e.Digest] {
					if !used[j] {
						at = j
						break
					}
				}
			} else if it, err := entryItem(e); err == nil {
				// Digest-less entries (kept only under allow_digestless) match by path.
				if j, ok := byPath[it.Path]; ok && !used[j] && req.Items[j].Name == e.Name && req.Items[j].Version == e.Version {
					at = j
				}
			}
			if at < 0 {
				continue // not held (filtered, failed, or a second entry for one file)
			}
			used[at] = true
			setKey(e.Node, "urls", urlsNode(req.Items[at].Path))
			add(e.Name, e.Node)
		}
		clear(ents)
	}
	// Items the upstream index no longer names (should not happen: the state
	// and the kept index come from one sync) keep their own fragment.
	for i := range req.Items {
		if used[i] {
			continue
		}
		n, err := entryNode(&req.Items[i], req.Now)
		if err != nil {
			return nil, nil, err
		}
		add(req.Items[i].Name, n)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].name.Value < out[j].name.Value })
	return r.root, out, nil
}

// regenerate writes a fresh index from the items' kept entries.
func (f *Format) regenerate(ctx context.Context, req formats.RenderRequest, iw *indexWriter) error {
	b := &iw.buf
	order := make([]int, len(req.Items))
	parsed := make([]*semver.Version, len(req.Items))
	for i := range order {
		order[i] = i
		parsed[i], _ = semver.NewVersion(req.Items[i].Version)
	}
	sort.SliceStable(order, func(a, b int) bool {
		x, y := &req.Items[order[a]], &req.Items[order[b]]
		if x.Name != y.Name {
			return x.Name < y.Name
		}
		if c := compareParsed(x.Version, y.Version, parsed[order[a]], parsed[order[b]]); c != 0 {
			return c > 0
		}
		return x.Path < y.Path
	})
	created := "created: " + strconv.Quote(req.Now.UTC().Format(time.RFC3339Nano)) + "\n"
	b.WriteString("apiVersion: v1\nentries:")
	if len(order) == 0 {
		b.WriteString(" {}")
	}
	b.WriteByte('\n')
	for k, i := range order {
		if k%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		it := &req.Items[i]
		if !validToken(it.Name) || !validToken(it.Version) {
			return fmt.Errorf("rendering %s: invalid chart name or version %q %q", IndexPath, clip(it.Name), clip(it.Version))
		}
		if k == 0 || req.Items[order[k-1]].Name != it.Name {
			b.WriteString("  ")
			emitString(b, it.Name)
			b.WriteString(":\n")
		}
		frag, err := entryFragment(it)
		if err != nil {
			return fmt.Errorf("rendering %s: %s: %w", IndexPath, it.Path, err)
		}
		hasCreated := false
		for j, line := 0, []byte(nil); len(frag) > 0; j++ {
			line, frag, _ = bytes.Cut(frag, []byte("\n"))
			if j == 0 {
				b.WriteString("    - ")
			} else {
				b.WriteString("      ")
			}
			b.Write(line)
			b.WriteByte('\n')
			hasCreated = hasCreated || bytes.HasPrefix(line, []byte("created:"))
		}
		if !hasCreated {
			b.WriteString("      " + created)
		}
		if d := itemSHA256(it); d != "" {
			b.WriteString("      digest: " + d + "\n")
		}
		b.WriteString("      urls:\n        - ")
		emitString(b, (&url.URL{Path: it.Path}).String())
		b.WriteByte('\n')
		iw.spill()
	}
	b.WriteString("generated: " + strconv.Quote(req.Now.UTC().Format(time.RFC3339Nano)) + "\n")
	return nil
}

// entryFragment is an item's kept entry as block YAML without urls and
// digest, with the item's name and version. A fragment this package wrote is
// used as is; anything else is parsed and re-emitted.
func entryFragment(it *formats.Item) ([]byte, error) {
	b := it.Fragments[FragmentEntry]
	if len(b) == 0 {
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
			scalar("apiVersion"), scalar("v2"),
			scalar("name"), scalar(it.Name),
			scalar("version"), scalar(it.Version),
		}}
		return fragment(n), nil
	}
	if ours(b, it) {
		return b, nil
	}
	n, err := unmarshalFragment(b)
	if err != nil {
		return nil, err
	}
	if !clean(n) {
		return nil, fmt.Errorf("kept entry uses YAML aliases")
	}
	setKey(n, "name", scalar(it.Name))
	setKey(n, "version", scalar(it.Version))
	return fragment(n), nil
}

// ours reports whether b looks like fragment's output for it: top-level lines
// are "key: value" or "key:" (nested lines indented), name and version are the
// item's, and neither urls nor digest is there.
func ours(b []byte, it *formats.Item) bool {
	if len(b) == 0 || b[len(b)-1] != '\n' {
		return false
	}
	var name, version bool
	for rest := b; len(rest) > 0; {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		if len(line) == 0 {
			return false
		}
		if line[0] == ' ' {
			continue
		}
		if line[0] == '-' || line[0] == '#' || line[0] == '"' || bytes.IndexByte(line, ':') < 1 {
			return false
		}
		switch {
		case bytes.HasPrefix(line, []byte("urls:")), bytes.HasPrefix(line, []byte("digest:")):
			return false
		case bytes.HasPrefix(line, []byte("name:")):
			name = string(line) == "name: "+plainOrQuoted(it.Name)
			if !name {
				return false
			}
		case bytes.HasPrefix(line, []byte("version:")):
			version = string(line) == "version: "+plainOrQuoted(it.Version)
			if !version {
				return false
			}
		}
	}
	return name && version
}

func plainOrQuoted(s string) string {
	var b bytes.Buffer
	emitString(&b, s)
	return b.String()
}

// itemSHA256 is the bare-hex SHA-256 of the published file.
func itemSHA256(it *formats.Item) string {
	if !it.Digest.IsZero() {
		return it.Digest.String()
	}
	if s := it.Checksums["sha256"]; isHex64(s) {
		return s
	}
	return ""
}

func urlsNode(p string) *yaml.Node {
	u := (&url.URL{Path: p}).String()
	return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{scalar(u)}}
}

func scalar(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

func getKey(m *yaml.Node, k string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == k {
			return m.Content[i+1]
		}
	}
	return nil
}

func setKey(m *yaml.Node, k string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == k {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, scalar(k), v)
}

func copyFile(ctx context.Context, req formats.RenderRequest, fl formats.File) error {
	if req.Open == nil {
		return fmt.Errorf("rendering %s: no way to read kept files", fl.Path)
	}
	rc, err := req.Open(ctx, fl.Digest)
	if err != nil {
		return fmt.Errorf("opening %s: %w", fl.Path, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxProvSize+1))
	if err != nil {
		return fmt.Errorf("reading %s: %w", fl.Path, err)
	}
	if len(data) > maxProvSize {
		return fmt.Errorf("reading %s: larger than %d bytes", fl.Path, maxProvSize)
	}
	return formats.WriteFile(ctx, req.Sink, fl.Path, data)
}

// entryNode is an item's kept entry with its published url and digest.
func entryNode(it *formats.Item, now time.Time) (*yaml.Node, error) {
	frag, err := entryFragment(it)
	if err != nil {
		return nil, err
	}
	n, err := unmarshalFragment(frag)
	if err != nil {
		return nil, err
	}
	setKey(n, "urls", urlsNode(it.Path))
	if d := itemSHA256(it); d != "" {
		setKey(n, "digest", scalar(d))
	}
	if getKey(n, "created") == nil {
		setKey(n, "created", scalar(now.UTC().Format(time.RFC3339Nano)))
	}
	return n, nil
}
