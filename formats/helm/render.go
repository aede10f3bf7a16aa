package helm

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"sort"
	"time"

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
	var root *yaml.Node
	var err error
	if req.Mode == formats.ModeMirror {
		root, err = f.mirrorIndex(ctx, req)
		if err != nil {
			log.Warn("upstream index unusable; regenerating it", "err", err)
			root = nil
		}
	}
	if root == nil {
		root, err = f.regenerate(ctx, req)
		if err != nil {
			return err
		}
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return fmt.Errorf("encoding %s: %w", IndexPath, err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("encoding %s: %w", IndexPath, err)
	}
	if err := write(ctx, req.Sink, IndexPath, buf.Bytes()); err != nil {
		return err
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

// mirrorIndex rewrites the upstream index kept in req.Files.
func (f *Format) mirrorIndex(ctx context.Context, req formats.RenderRequest) (*yaml.Node, error) {
	var top *formats.File
	for i := range req.Files {
		if req.Files[i].Path == IndexPath {
			top = &req.Files[i]
		}
	}
	if top == nil || req.Open == nil {
		return nil, fmt.Errorf("no upstream %s kept", IndexPath)
	}
	rc, err := req.Open(ctx, top.Digest)
	if err != nil {
		return nil, fmt.Errorf("opening upstream %s: %w", IndexPath, err)
	}
	data, err := io.ReadAll(io.LimitReader(rc, DefaultMaxIndexSize+1))
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("reading upstream %s: %w", IndexPath, err)
	}
	ix, err := ParseIndex(data)
	if err != nil {
		return nil, err
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
	entries := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	var cur *yaml.Node
	curName := ""
	add := func(name string, n *yaml.Node) {
		if cur == nil || curName != name {
			cur = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
			curName = name
			entries.Content = append(entries.Content, scalar(name), cur)
		}
		cur.Content = append(cur.Content, n)
	}
	for i := range ix.Entries {
		if i%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		e := &ix.Entries[i]
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
	// Items the upstream index no longer names (should not happen: the state
	// and the kept index come from one sync) keep their own fragment.
	for i := range req.Items {
		if used[i] {
			continue
		}
		n, err := entryNode(&req.Items[i], req.Now)
		if err != nil {
			return nil, err
		}
		add(req.Items[i].Name, n)
	}
	sortEntries(entries)
	root := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i := 0; i+1 < len(ix.Root.Content); i += 2 {
		k, v := ix.Root.Content[i], ix.Root.Content[i+1]
		if k.Value == "entries" {
			v = entries
		}
		root.Content = append(root.Content, k, v)
	}
	return root, nil
}

// regenerate builds a fresh index from the items' kept entries.
func (f *Format) regenerate(ctx context.Context, req formats.RenderRequest) (*yaml.Node, error) {
	order := make([]int, len(req.Items))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		x, y := &req.Items[order[a]], &req.Items[order[b]]
		if x.Name != y.Name {
			return x.Name < y.Name
		}
		if c := f.Compare(x.Version, y.Version); c != 0 {
			return c > 0
		}
		return x.Path < y.Path
	})
	entries := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	var cur *yaml.Node
	for k, i := range order {
		if k%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		it := &req.Items[i]
		if !validToken(it.Name) || !validToken(it.Version) {
			return nil, fmt.Errorf("rendering %s: invalid chart name or version %q %q", IndexPath, clip(it.Name), clip(it.Version))
		}
		n, err := entryNode(it, req.Now)
		if err != nil {
			return nil, fmt.Errorf("rendering %s: %s: %w", IndexPath, it.Path, err)
		}
		if k == 0 || req.Items[order[k-1]].Name != it.Name {
			cur = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
			entries.Content = append(entries.Content, scalar(it.Name), cur)
		}
		cur.Content = append(cur.Content, n)
	}
	return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
		scalar("apiVersion"), scalar("v1"),
		scalar("entries"), entries,
		scalar("generated"), scalar(req.Now.UTC().Format(time.RFC3339Nano)),
	}}, nil
}

// entryNode is an item's kept entry with its published url and digest.
func entryNode(it *formats.Item, now time.Time) (*yaml.Node, error) {
	var n *yaml.Node
	if b := it.Fragments[FragmentEntry]; len(b) > 0 {
		var err error
		if n, err = unmarshalFragment(b); err != nil {
			return nil, err
		}
	} else {
		n = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
			scalar("apiVersion"), scalar("v2"),
			scalar("name"), scalar(it.Name),
			scalar("version"), scalar(it.Version),
		}}
	}
	setKey(n, "name", scalar(it.Name))
	setKey(n, "version", scalar(it.Version))
	setKey(n, "urls", urlsNode(it.Path))
	if d := itemSHA256(it); d != "" {
		setKey(n, "digest", scalar(d))
	} else {
		deleteKey(n, "digest")
	}
	if getKey(n, "created") == nil {
		setKey(n, "created", scalar(now.UTC().Format(time.RFC3339Nano)))
	}
	return n, nil
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

func deleteKey(m *yaml.Node, k string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == k {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

// sortEntries orders an entries mapping by chart name, keeping each list's order.
func sortEntries(m *yaml.Node) {
	type pair struct{ k, v *yaml.Node }
	ps := make([]pair, 0, len(m.Content)/2)
	for i := 0; i+1 < len(m.Content); i += 2 {
		ps = append(ps, pair{m.Content[i], m.Content[i+1]})
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].k.Value < ps[j].k.Value })
	m.Content = m.Content[:0]
	for _, p := range ps {
		m.Content = append(m.Content, p.k, p.v)
	}
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
	return write(ctx, req.Sink, fl.Path, data)
}

func write(ctx context.Context, s formats.Sink, p string, b []byte) error {
	w, err := s.Create(ctx, p)
	if err != nil {
		return fmt.Errorf("creating %s: %w", p, err)
	}
	if _, err := w.Write(b); err != nil {
		w.Close()
		return fmt.Errorf("writing %s: %w", p, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	return nil
}
