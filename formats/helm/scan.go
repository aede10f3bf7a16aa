package helm

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"

	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/pool"
)

// Item fields set by Scan and Inspect.
const (
	// FieldURL is the chart's fetch location as upstream declares it (urls[0]):
	// a path relative to the repository root, an absolute http(s) URL or an
	// oci:// reference. Fetch reads it.
	FieldURL = "url"
	// FieldRemote is "true" when FieldURL cannot be fetched through the
	// repository-relative Source (absolute URL on any host, a relative URL
	// leaving the root or carrying a query, or oci://): use Fetch.
	FieldRemote = "remote"
	// FieldDeprecated and FieldPrerelease are "true" or absent.
	FieldDeprecated = "deprecated"
	FieldPrerelease = "prerelease"
	// FieldAppVersion is the chart's appVersion when it is a string.
	FieldAppVersion = "appVersion"
)

// ParamAllowDigestless, set to "true" in ScanRequest.Params, makes Scan yield
// index entries without a usable digest (with no checksum) instead of skipping
// them; the caller then needs a trust-on-first-download policy.
const ParamAllowDigestless = "allow_digestless"

// Scan implements formats.Format. It parses req.Top (or fetches index.yaml
// itself when Top is nil) and yields one Item per valid chart version, in
// name then upstream order. It never downloads charts or probes for files.
// Skipped entries are logged as warnings; entries without a usable digest are
// skipped too unless Params[ParamAllowDigestless] is "true". Two entries that
// map to one path keep the first.
func (f *Format) Scan(ctx context.Context, req formats.ScanRequest, yield func(formats.Entry) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	log := f.logger(req.Logger)
	data, err := topData(ctx, req)
	if err != nil {
		return err
	}
	r, err := openIndex(data)
	if err != nil {
		return err
	}
	allowNoDigest := req.Params[ParamAllowDigestless] == "true"
	seen := make(map[string]bool)
	var (
		entries []Entry
		skipped []EntryError
		count   int
	)
	for g := 0; g < r.len(); g++ {
		entries, skipped = groupEntries(r.group(g), entries[:0], skipped[:0])
		for i := range skipped {
			log.Warn("skipping index entry", "err", skipped[i].Error())
		}
		for i := range entries {
			if count++; count%ctxEvery == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			e := &entries[i]
			if e.Digest == "" && !allowNoDigest {
				log.Warn("skipping chart without a usable digest", "chart", e.Name, "version", e.Version, "why", e.DigestNote)
				continue
			}
			it, err := entryItem(e)
			if err != nil {
				log.Warn("skipping index entry", "chart", e.Name, "version", e.Version, "err", err)
				continue
			}
			if seen[it.Path] {
				log.Warn("index lists a chart path twice; keeping the first", "path", it.Path, "chart", e.Name, "version", e.Version)
				continue
			}
			seen[it.Path] = true
			if err := yield(formats.Entry{Item: &it}); err != nil {
				return err
			}
		}
		clear(entries) // drop the block's nodes
	}
	return nil
}

func topData(ctx context.Context, req formats.ScanRequest) ([]byte, error) {
	if req.Top != nil {
		return req.Top.Data, nil
	}
	if req.Source == nil {
		return nil, fmt.Errorf("scanning helm repository: no index and no source")
	}
	rc, err := req.Source.Open(ctx, IndexPath)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", IndexPath, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, DefaultMaxIndexSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", IndexPath, err)
	}
	if int64(len(data)) > DefaultMaxIndexSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrIndex, DefaultMaxIndexSize)
	}
	return data, nil
}

// entryItem turns a valid entry into an Item.
func entryItem(e *Entry) (formats.Item, error) {
	raw := e.URLs[0]
	kind, rel := classify(raw)
	it := formats.Item{
		Name: e.Name, Version: e.Version,
		Fields: map[string]string{FieldURL: raw},
	}
	switch kind {
	case urlBad:
		return it, fmt.Errorf("unusable chart url %q", clip(raw))
	case urlRelative:
		it.Path = rel
	default:
		it.Path = chartPath(e.Name, e.Version)
		it.Fields[FieldRemote] = "true"
	}
	if e.Digest != "" {
		d, err := pool.Parse(e.Digest)
		if err != nil {
			return it, fmt.Errorf("digest: %w", err)
		}
		it.Digest = d
		it.Checksums = formats.Checksums{"sha256": e.Digest}
	}
	if e.Deprecated {
		it.Fields[FieldDeprecated] = "true"
	}
	if e.prerelease {
		it.Fields[FieldPrerelease] = "true"
	}
	for i := 0; i+1 < len(e.Node.Content); i += 2 {
		if e.Node.Content[i].Value == "appVersion" {
			if s, ok := str(e.Node.Content[i+1]); ok {
				it.Fields[FieldAppVersion] = s
			} else if v := e.Node.Content[i+1]; v.Kind == yaml.ScalarNode {
				it.Fields[FieldAppVersion] = v.Value
			}
		}
	}
	if getKey(e.Node, "name") == nil {
		setKey(e.Node, "name", scalar(e.Name))
	}
	it.Fragments = map[string][]byte{FragmentEntry: fragment(e.Node)}
	return it, nil
}

// fragment is an entry as block YAML at indent 0, without urls and digest,
// which Render writes from the published file.
func fragment(n *yaml.Node) []byte {
	var b bytes.Buffer
	emitMapping(&b, n, 0, "", func(k string) bool { return k == "urls" || k == "digest" })
	return b.Bytes()
}

// unmarshalFragment reads a kept entry back into a mapping node.
func unmarshalFragment(b []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("decoding kept entry: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("decoding kept entry: not a mapping")
	}
	return doc.Content[0], nil
}
