package rpm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"

	"github.com/chantal-lite/chantal/formats"
)

// artifact is the NEVRA as modules.yaml lists it: name-epoch:version-release.arch.
func (n nevra) artifact() string {
	return n.name + "-" + n.epoch + ":" + n.version + "-" + n.release + "." + n.arch
}

// renderModules writes modules.yaml pruned to the published packages, as
// libmodulemd reads it: each modulemd stream's data.artifacts.rpms is cut to
// the published artifacts; a stream that listed artifacts and keeps none is
// dropped; modulemd-defaults, -translations and -obsoletes documents are
// dropped when no stream of their module is left; other documents are kept.
// When nothing is pruned the upstream file is copied verbatim (at dst); when
// no stream is left, ok is false and nothing is written. A pruned file is
// re-encoded, compressed per the repository's compression and named by its
// checksum.
func (f *Format) renderModules(ctx context.Context, req formats.RenderRequest, fl formats.File, dst string, comp Compression, published map[nevra]bool) (d Data, ok bool, err error) {
	if req.Open == nil {
		return Data{}, false, fmt.Errorf("reading %s: no Open function", fl.Path)
	}
	rc, err := req.Open(ctx, fl.Digest)
	if err != nil {
		return Data{}, false, fmt.Errorf("reading %s: %w", fl.Path, err)
	}
	defer rc.Close()
	dec, err := decompress(rc, fl.Path, f.maxMeta)
	if err != nil {
		return Data{}, false, err
	}
	defer dec.Close()
	raw, err := io.ReadAll(io.LimitReader(dec, f.maxHeld+1))
	if err != nil {
		return Data{}, false, err
	}
	if int64(len(raw)) > f.maxHeld {
		return Data{}, false, fmt.Errorf("reading %s: %w: more than %d bytes", fl.Path, ErrTooLarge, f.maxHeld)
	}
	keep := make(map[string]bool, len(published))
	for n := range published {
		keep[n.artifact()] = true
	}
	out, changed, streams, err := pruneModules(raw, fl.Path, keep)
	if err != nil {
		return Data{}, false, err
	}
	if streams == 0 {
		return Data{}, false, nil
	}
	if !changed {
		d, err := copyFile(ctx, req, fl, dst, f.maxMeta)
		return d, err == nil, err
	}
	iw, err := f.newIndexWriter("modules", comp)
	if err != nil {
		return Data{}, false, err
	}
	defer iw.discard()
	iw.suffix = ".yaml"
	iw.Write(out)
	d, err = iw.finish(ctx, req.Sink)
	return d, err == nil, err
}

// pruneModules prunes a modules.yaml document stream (see renderModules) and
// returns the new text, whether anything changed, and how many modulemd
// streams are left.
func pruneModules(raw []byte, name string, keep map[string]bool) (out []byte, changed bool, streams int, err error) {
	type doc struct {
		node   *yaml.Node
		kind   string
		module string
		drop   bool
	}
	var docs []*doc
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, false, 0, fmt.Errorf("parsing %s: %w: %v", name, ErrMalformed, err)
		}
		if n.Kind != yaml.DocumentNode || len(n.Content) != 1 || n.Content[0].Kind != yaml.MappingNode {
			return nil, false, 0, fmt.Errorf("parsing %s: %w: a document is not a mapping", name, ErrMalformed)
		}
		root := n.Content[0]
		d := &doc{node: &n, kind: scalar(mapGet(root, "document"))}
		data := mapGet(root, "data")
		d.module = scalar(mapGet(data, "module"))
		if d.kind == "modulemd" {
			d.module = scalar(mapGet(data, "name"))
			if rpms := mapGet(mapGet(data, "artifacts"), "rpms"); rpms != nil && rpms.Kind == yaml.SequenceNode && len(rpms.Content) > 0 {
				kept := rpms.Content[:0:0]
				for _, a := range rpms.Content {
					if a.Kind == yaml.ScalarNode && keep[a.Value] {
						kept = append(kept, a)
					}
				}
				if len(kept) != len(rpms.Content) {
					changed = true
					rpms.Content = kept
				}
				d.drop = len(kept) == 0
			}
		}
		docs = append(docs, d)
	}
	live := map[string]bool{}
	for _, d := range docs {
		if d.kind == "modulemd" && !d.drop {
			live[d.module] = true
			streams++
		}
	}
	var b bytes.Buffer
	for _, d := range docs {
		switch d.kind {
		case "modulemd-defaults", "modulemd-translations", "modulemd-obsoletes":
			if !live[d.module] {
				d.drop = true
			}
		}
		if d.drop {
			changed = true
			continue
		}
		b.WriteString("---\n")
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(d.node); err != nil {
			return nil, false, 0, fmt.Errorf("writing %s: %w", name, err)
		}
		if err := enc.Close(); err != nil {
			return nil, false, 0, fmt.Errorf("writing %s: %w", name, err)
		}
		b.WriteString("...\n")
	}
	return b.Bytes(), changed, streams, nil
}

// mapGet returns the value of key in a mapping node, or nil.
func mapGet(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}
