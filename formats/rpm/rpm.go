// Package rpm is the chantal-lite format for RPM (dnf/yum) repositories: it
// reads repodata/repomd.xml and the primary, filelists and other metadata it
// lists, and yields one formats.Item per package with the package's verbatim
// <package> elements as fragments, plus one formats.File per metadata file.
//
// Every upstream byte is treated as hostile: metadata is verified against the
// checksums repomd.xml declares while it streams, decompression is bounded,
// locations are confined to the repository root, and no input makes the
// package panic.
package rpm

import (
	"context"
	"log/slog"
	"path"
	"strings"

	"github.com/chantal-lite/chantal/formats"
)

// Default limits; see Options.
const (
	// DefaultMaxMetadataSize bounds one decompressed metadata file. The largest
	// real filelists (Fedora everything, openSUSE Tumbleweed) are below 1 GiB.
	DefaultMaxMetadataSize int64 = 4 << 30
	// DefaultMaxHeldSize bounds the verbatim XML held in memory per metadata file.
	DefaultMaxHeldSize int64 = 256 << 20
	// DefaultChangelogLimit is how many changelog entries Inspect keeps, as
	// createrepo_c does by default.
	DefaultChangelogLimit = 10
	// MaxHeaderSize bounds the signature and main header of a package that
	// Inspect reads.
	MaxHeaderSize = 32 << 20
	// maxRepomdSize bounds repomd.xml when Scan fetches it itself.
	maxRepomdSize = 16 << 20
	// ctxEvery is how many packages Scan handles between checks of ctx.
	ctxEvery = 64
)

// Paths of the top-level metadata.
const (
	RepomdPath    = "repodata/repomd.xml"
	SignaturePath = "repodata/repomd.xml.asc"
)

// Options configure a Format. The zero value and nil mean defaults.
type Options struct {
	// MaxMetadataSize is the most bytes one metadata file (primary, filelists,
	// other) may decompress to; 0 means DefaultMaxMetadataSize.
	MaxMetadataSize int64
	// MaxHeldSize is the most bytes of verbatim XML held in memory at once for
	// one metadata file: the package element being read plus the elements of
	// filelists/other parked while matching them to primary out of order.
	// createrepo_c writes the three files in one order, so a scan of its output
	// parks nothing. 0 means DefaultMaxHeldSize.
	MaxHeldSize int64
	// Logger is used when a ScanRequest or RenderRequest carries none; nil
	// discards.
	Logger *slog.Logger
	// TempDir holds regenerated metadata while Render compresses and hashes
	// it (its name carries its checksum); "" means os.TempDir().
	TempDir string
	// ChangelogLimit is how many of the newest changelog entries Inspect
	// keeps, as createrepo_c's --changelog-limit; 0 means
	// DefaultChangelogLimit, a negative value keeps none.
	ChangelogLimit int
}

// Format is the RPM format. It is safe for concurrent use.
type Format struct {
	maxMeta int64
	maxHeld int64
	log     *slog.Logger
	tempDir string
	chlog   int
}

// Interface checks.
var (
	_ formats.Format     = (*Format)(nil)
	_ formats.TopLeveler = (*Format)(nil)
	_ formats.Comparer   = (*Format)(nil)
	_ formats.Layouter   = (*Format)(nil)
)

// New returns an RPM Format configured by o (nil means defaults).
func New(o *Options) *Format {
	f := &Format{maxMeta: DefaultMaxMetadataSize, maxHeld: DefaultMaxHeldSize, log: slog.New(slog.DiscardHandler), chlog: DefaultChangelogLimit}
	if o != nil {
		if o.MaxMetadataSize > 0 {
			f.maxMeta = o.MaxMetadataSize
		}
		if o.MaxHeldSize > 0 {
			f.maxHeld = o.MaxHeldSize
		}
		if o.Logger != nil {
			f.log = o.Logger
		}
		f.tempDir = o.TempDir
		switch {
		case o.ChangelogLimit > 0:
			f.chlog = o.ChangelogLimit
		case o.ChangelogLimit < 0:
			f.chlog = 0
		}
	}
	return f
}

// Name returns "rpm".
func (f *Format) Name() string { return "rpm" }

// TopLevel returns repodata/repomd.xml and its detached signature
// repodata/repomd.xml.asc.
func (f *Format) TopLevel(ctx context.Context, req formats.ScanRequest) (path, signaturePath string, err error) {
	return RepomdPath, SignaturePath, nil
}

// Compare orders two "[E:]V-R" strings as rpm does; see CompareEVR.
func (f *Format) Compare(a, b string) int { return CompareEVR(a, b) }

// PublishPath lays a package out as "Packages/<first letter>/<file name>" in
// filtered and hosted mode, the letter lower-cased (as Fedora does). A file
// name that does not start with an ASCII letter or digit goes under
// "Packages/_/".
func (f *Format) PublishPath(it formats.Item) string {
	base := path.Base(it.Path)
	dir := "_"
	if c := base[0]; isAlpha(c) || isDigit(c) {
		dir = strings.ToLower(base[:1])
	}
	return "Packages/" + dir + "/" + base
}

func (f *Format) logger(l *slog.Logger) *slog.Logger {
	if l != nil {
		return l
	}
	return f.log
}
