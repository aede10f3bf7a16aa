// Package helm is the chantal-lite format for Helm chart repositories: it reads
// index.yaml with strict typing and yields one formats.Item per chart version,
// keeping the chart's index entry verbatim as its fragment. Render republishes
// the upstream index with local chart URLs (mirror mode) or regenerates it from
// the kept entries (filtered and hosted mode: apiVersion v1, relative URLs,
// bare-hex digests, deterministic order). Inspect reads Chart.yaml from an
// uploaded chart archive; Fetch downloads charts whose URL is absolute or an
// oci:// reference, which the repository-relative Source cannot reach.
//
// Every upstream byte is hostile: YAML field types are checked, one bad entry
// is skipped and reported instead of failing the scan, derived paths are
// confined, decompression is bounded, and no input makes the package panic.
package helm

import (
	"context"
	"log/slog"
	"strings"

	"github.com/chantal-lite/chantal/formats"
)

// Paths and kinds.
const (
	// IndexPath is the repository's top-level metadata.
	IndexPath = "index.yaml"
	// ChartsDir is where filtered and hosted mode, and mirror mode for charts
	// with absolute or oci:// URLs, publish chart archives.
	ChartsDir = "charts"
	// KindProvenance is the formats.File kind of a chart's .prov file; Render
	// writes such files at their Path.
	KindProvenance = "provenance"
	// FragmentEntry is the Item.Fragments key of the chart's index entry (YAML).
	FragmentEntry = "entry"
)

// Default limits; see Options.
const (
	// DefaultMaxChartSize bounds the decompressed size of a chart archive that
	// Inspect reads.
	DefaultMaxChartSize int64 = 256 << 20
	// MaxChartYAMLSize bounds Chart.yaml in a chart archive.
	MaxChartYAMLSize = 1 << 20
	// DefaultMaxIndexSize bounds index.yaml when Scan fetches it itself.
	DefaultMaxIndexSize int64 = 512 << 20
	// ctxEvery is how many entries Scan and Render handle between checks of ctx.
	ctxEvery = 256
)

// Options configure a Format. nil means defaults.
type Options struct {
	// MaxChartSize bounds the decompressed bytes Inspect reads from a chart
	// archive; 0 means DefaultMaxChartSize.
	MaxChartSize int64
	// Logger is used when a request carries none; nil discards.
	Logger *slog.Logger
}

// Format is the Helm format. It is safe for concurrent use.
type Format struct {
	maxChart int64
	log      *slog.Logger
}

// Interface checks.
var (
	_ formats.Format         = (*Format)(nil)
	_ formats.TopLeveler     = (*Format)(nil)
	_ formats.Inspector      = (*Format)(nil)
	_ formats.Comparer       = (*Format)(nil)
	_ formats.VersionMatcher = (*Format)(nil)
	_ formats.Layouter       = (*Format)(nil)
)

// New returns the Helm format with o's settings (nil means defaults).
func New(o *Options) *Format {
	f := &Format{maxChart: DefaultMaxChartSize, log: slog.New(slog.DiscardHandler)}
	if o != nil {
		if o.MaxChartSize > 0 {
			f.maxChart = o.MaxChartSize
		}
		if o.Logger != nil {
			f.log = o.Logger
		}
	}
	return f
}

// Name implements formats.Format.
func (f *Format) Name() string { return "helm" }

// TopLevel implements formats.TopLeveler: index.yaml, with no detached signature
// (Helm signs charts, through .prov files, not the index).
func (f *Format) TopLevel(context.Context, formats.ScanRequest) (string, string, error) {
	return IndexPath, "", nil
}

// PublishPath implements formats.Layouter: "charts/<name>-<version>.tgz".
func (f *Format) PublishPath(it formats.Item) string {
	return chartPath(it.Name, it.Version)
}

func chartPath(name, version string) string {
	return ChartsDir + "/" + name + "-" + version + ".tgz"
}

// ProvenancePath is where a chart published at chartPath keeps its provenance
// file; helm fetches "<chart URL>.prov" when verifying.
func ProvenancePath(chartPath string) string { return chartPath + ".prov" }

func (f *Format) logger(l *slog.Logger) *slog.Logger {
	if l != nil {
		return l
	}
	return f.log
}

// validToken reports whether s may be part of a path and of a YAML key: chart
// names and versions (SemVer) use letters, digits, '.', '_', '+' and '-'.
func validToken(s string) bool {
	if s == "" || len(s) > 200 || strings.HasPrefix(s, ".") || strings.HasPrefix(s, "-") {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '+' || c == '-') {
			return false
		}
	}
	return !strings.Contains(s, "..")
}
