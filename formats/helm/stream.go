package helm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"

	"go.yaml.in/yaml/v3"
)

// Streaming index reading. index.yaml files as helm and chartmuseum write them
// (and as Render writes them) have top-level keys at column 0 and chart names
// at column 2 under "entries:". splitIndex cuts such a file into the
// top-level text without entries and one block per chart name, and each block
// is decoded on its own (by fastParse, or yaml.v3 when fastParse gives up):
// a 20,000-version index is never a tree in memory at once. A layout the
// splitter does not recognise is decoded whole by yaml.v3.
//
// The two readings agree on every index yaml.v3 accepts, except that a chart
// block that is not valid YAML on its own (an alias to an anchor in another
// chart's block, or a quoted scalar spanning a line that looks like a chart
// name) is skipped and reported as an EntryError instead of failing the
// whole index.

// chartGroup is one "name: [versions]" pair of the entries mapping.
type chartGroup struct {
	key  *yaml.Node
	list *yaml.Node // nil when the block did not decode
	err  string
}

// indexReader yields an index's chart groups in name order.
type indexReader struct {
	// root is the top-level mapping; its "entries" value is nil in a split
	// index (use the groups).
	root   *yaml.Node
	groups []chartGroup // decoded whole
	blocks []chartBlock // split, decoded on demand
}

type chartBlock struct {
	key  *yaml.Node
	text []byte
}

func (r *indexReader) len() int { return len(r.groups) + len(r.blocks) }

// group decodes the i-th chart group.
func (r *indexReader) group(i int) chartGroup {
	if r.blocks == nil {
		return r.groups[i]
	}
	b := r.blocks[i]
	m, ok := fastParse(b.text, 2)
	if !ok {
		var doc yaml.Node
		if err := yaml.Unmarshal(b.text, &doc); err != nil {
			return chartGroup{key: b.key, err: "chart block is not valid YAML on its own: " + clipErr(err)}
		}
		if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
			return chartGroup{key: b.key, err: "chart block is empty"}
		}
		m = doc.Content[0]
	}
	if m.Kind != yaml.MappingNode || len(m.Content) != 2 {
		return chartGroup{key: b.key, err: "chart block is not one name with its versions"}
	}
	return chartGroup{key: m.Content[0], list: m.Content[1]}
}

// openIndex reads the index's layout: split when possible, whole otherwise.
func openIndex(data []byte) (*indexReader, error) {
	if r, ok := splitIndex(data); ok {
		return r, nil
	}
	return wholeIndex(data)
}

// wholeIndex decodes the document with yaml.v3 at once.
func wholeIndex(data []byte) (*indexReader, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrIndex, clipErr(err))
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%w: not a YAML mapping", ErrIndex)
	}
	root := doc.Content[0]
	r := &indexReader{root: root}
	var entries *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if k := root.Content[i]; k.Kind == yaml.ScalarNode && k.Value == "entries" {
			if entries != nil {
				return nil, fmt.Errorf("%w: two entries keys", ErrIndex)
			}
			entries = root.Content[i+1]
		}
	}
	if entries == nil {
		return nil, fmt.Errorf("%w: no entries", ErrIndex)
	}
	if entries.Kind == yaml.ScalarNode && (entries.Tag == "!!null" || entries.Value == "") {
		return r, nil // "entries: {}" written as "entries:" by some tools
	}
	if entries.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%w: entries is not a mapping", ErrIndex)
	}
	for i := 0; i+1 < len(entries.Content); i += 2 {
		r.groups = append(r.groups, chartGroup{key: entries.Content[i], list: entries.Content[i+1]})
	}
	sort.SliceStable(r.groups, func(i, j int) bool { return r.groups[i].key.Value < r.groups[j].key.Value })
	return r, nil
}

// splitIndex cuts data into the top-level text without entries (decoded now)
// and one block per chart name. It reports false for any other layout.
func splitIndex(data []byte) (*indexReader, bool) {
	if bytes.IndexByte(data, '\r') >= 0 || bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		return nil, false
	}
	var (
		rest      bytes.Buffer
		keys      int // top-level keys in rest
		entriesAt = -1
		inEntries bool
		blocks    []chartBlock
		blockAt   int // start of the current block in data
	)
	endBlock := func(end int) {
		if len(blocks) > 0 && blocks[len(blocks)-1].text == nil {
			blocks[len(blocks)-1].text = data[blockAt:end]
		}
	}
	for off := 0; off < len(data); {
		end := bytes.IndexByte(data[off:], '\n')
		next := off + end + 1
		if end < 0 {
			end, next = len(data)-off, len(data)
		}
		line := data[off : off+end]
		full := data[off:next]
		lineAt := off
		off = next
		blank := len(bytes.TrimLeft(line, " ")) == 0
		switch {
		case blank || line[0] == '#' || line[0] == ' ' && bytes.TrimLeft(line, " ")[0] == '#':
			if !inEntries {
				rest.Write(full)
			}
		case line[0] != ' ':
			if !topKey(line) {
				return nil, false
			}
			if inEntries {
				endBlock(lineAt)
				inEntries = false
			}
			if bytes.Equal(bytes.TrimRight(line, " "), []byte("entries:")) {
				if entriesAt >= 0 {
					return nil, false
				}
				entriesAt, inEntries = keys, true
				continue
			}
			keys++
			rest.Write(full)
		case !inEntries:
			if keys == 0 {
				return nil, false // indented before any key
			}
			rest.Write(full)
		case len(line) > 2 && line[0] == ' ' && line[1] == ' ' && bytes.IndexByte([]byte(" -#\t"), line[2]) < 0:
			k, ok := blockKey(line[2:])
			if !ok {
				return nil, false
			}
			endBlock(lineAt)
			blocks = append(blocks, chartBlock{key: k})
			blockAt = lineAt
		default:
			if len(blocks) == 0 {
				return nil, false // entries is not a mapping of chart names at column 2
			}
		}
	}
	if inEntries {
		endBlock(len(data))
	}
	if entriesAt < 0 {
		return nil, false
	}
	root := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	if keys > 0 {
		var doc yaml.Node
		if err := yaml.NewDecoder(&rest).Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
			return nil, false
		}
		if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode || len(doc.Content[0].Content) != 2*keys {
			return nil, false
		}
		root = doc.Content[0]
		for i := 0; i < len(root.Content); i += 2 {
			if root.Content[i].Value == "entries" {
				return nil, false
			}
		}
	}
	c := make([]*yaml.Node, 0, len(root.Content)+2)
	c = append(c, root.Content[:2*entriesAt]...)
	c = append(c, scalar("entries"), nil)
	root.Content = append(c, root.Content[2*entriesAt:]...)
	sort.SliceStable(blocks, func(i, j int) bool { return blocks[i].key.Value < blocks[j].key.Value })
	if blocks == nil {
		blocks = []chartBlock{}
	}
	return &indexReader{root: root, blocks: blocks}, true
}

// topKey reports whether a column-0 line is "key:" or "key: value" with a
// plain key.
func topKey(line []byte) bool {
	_, _, ok := splitKey(line)
	return ok
}

// blockKey reads a chart name line ("name:" and anything after).
func blockKey(t []byte) (*yaml.Node, bool) {
	k, _, ok := splitKey(t)
	return k, ok
}
