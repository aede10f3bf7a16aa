package helm

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/Masterminds/semver/v3"
	"go.yaml.in/yaml/v3"

	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/pool"
)

// ErrChart is wrapped by Inspect's errors about the archive's content.
var ErrChart = errors.New("helm: invalid chart archive")

// Inspect implements formats.Inspector: it reads the chart archive's top-level
// Chart.yaml (the shallowest one, at most MaxChartYAMLSize bytes; the archive
// is decompressed at most up to Options.MaxChartSize), which must name a valid
// chart and SemVer version, and returns an Item published at
// "charts/<name>-<version>.tgz" whose entry is Chart.yaml's fields.
func (f *Format) Inspect(ctx context.Context, r io.ReaderAt, size int64) (formats.Item, error) {
	if err := ctx.Err(); err != nil {
		return formats.Item{}, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, size)); err != nil {
		return formats.Item{}, fmt.Errorf("reading chart: %w", err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	chartYAML, err := f.readChartYAML(ctx, io.NewSectionReader(r, 0, size))
	if err != nil {
		return formats.Item{}, err
	}
	n, name, version, err := parseChartYAML(chartYAML)
	if err != nil {
		return formats.Item{}, err
	}
	d, err := pool.Parse(sum)
	if err != nil {
		return formats.Item{}, err
	}
	p := chartPath(name, version)
	frag := fragment(n)
	it := formats.Item{
		Path: p, Size: size, Digest: d, Checksums: formats.Checksums{"sha256": sum},
		Name: name, Version: version,
		Fields:    map[string]string{},
		Fragments: map[string][]byte{FragmentEntry: frag},
	}
	if v := getKey(n, "deprecated"); v != nil && v.ShortTag() == "!!bool" && v.Value == "true" {
		it.Fields[FieldDeprecated] = "true"
	}
	if v, err := semver.NewVersion(version); err == nil && v.Prerelease() != "" {
		it.Fields[FieldPrerelease] = "true"
	}
	if v := getKey(n, "appVersion"); v != nil && v.Kind == yaml.ScalarNode {
		it.Fields[FieldAppVersion] = v.Value
	}
	return it, nil
}

// readChartYAML returns the shallowest Chart.yaml of a gzip'd tar archive.
func (f *Format) readChartYAML(ctx context.Context, r io.Reader) ([]byte, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrChart, err)
	}
	defer zr.Close()
	lr := &io.LimitedReader{R: zr, N: f.maxChart}
	tr := tar.NewReader(lr)
	var best []byte
	bestDepth := -1
	for n := 0; ; n++ {
		if n%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if lr.N <= 0 {
				return nil, fmt.Errorf("%w: decompresses to more than %d bytes", ErrChart, f.maxChart)
			}
			return nil, fmt.Errorf("%w: %v", ErrChart, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		name := strings.TrimPrefix(hdr.Name, "./")
		if name != "Chart.yaml" && !strings.HasSuffix(name, "/Chart.yaml") {
			continue
		}
		depth := strings.Count(name, "/")
		if bestDepth >= 0 && depth >= bestDepth {
			continue
		}
		if hdr.Size > MaxChartYAMLSize {
			return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrChart, clip(name), MaxChartYAMLSize)
		}
		b, err := io.ReadAll(io.LimitReader(tr, MaxChartYAMLSize+1))
		if err != nil {
			return nil, fmt.Errorf("%w: reading %s: %v", ErrChart, clip(name), err)
		}
		best, bestDepth = b, depth
	}
	if best == nil {
		return nil, fmt.Errorf("%w: no Chart.yaml", ErrChart)
	}
	return best, nil
}

// parseChartYAML checks Chart.yaml's types and returns its mapping node.
func parseChartYAML(b []byte) (*yaml.Node, string, string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, "", "", fmt.Errorf("%w: Chart.yaml: %v", ErrChart, clipErr(err))
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, "", "", fmt.Errorf("%w: Chart.yaml is not a mapping", ErrChart)
	}
	n := doc.Content[0]
	if !clean(n) {
		return nil, "", "", fmt.Errorf("%w: Chart.yaml uses YAML aliases or merge keys", ErrChart)
	}
	var name, version string
	var ok bool
	if v := getKey(n, "name"); v != nil {
		name, ok = str(v)
	}
	if !ok || !validToken(name) {
		return nil, "", "", fmt.Errorf("%w: Chart.yaml has no valid name", ErrChart)
	}
	ok = false
	if v := getKey(n, "version"); v != nil {
		version, ok = str(v)
	}
	if !ok || !validToken(version) {
		return nil, "", "", fmt.Errorf("%w: Chart.yaml has no valid version", ErrChart)
	}
	if _, err := semver.NewVersion(version); err != nil {
		return nil, "", "", fmt.Errorf("%w: Chart.yaml version %q is not SemVer", ErrChart, clip(version))
	}
	return n, name, version, nil
}
