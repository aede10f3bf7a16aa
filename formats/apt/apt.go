// Package apt is the chantal-lite format for APT (Debian/Ubuntu) repositories.
//
// Scan reads dists/<distribution>/InRelease (or Release with Release.gpg), the
// Packages indexes it lists for the configured components and architectures
// (and optionally the debian-installer and Sources indexes) and yields one
// formats.Item per .deb (or source artifact) with its control stanza kept
// verbatim as the fragment "stanza", plus one formats.File per upstream index
// for mirror mode. Render republishes those files byte for byte in mirror mode
// and regenerates a pool/ layout with Packages, Sources, Release, InRelease and
// Release.gpg in filtered and hosted mode.
//
// Every upstream byte is hostile: indexes are verified against the Release
// checksums while they stream, decompression is bounded, Filename and
// Directory values are confined to the repository root, components,
// architectures and suites must be plain tokens, and every re-emitted field is
// folded so that no value can forge a stanza.
package apt

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/chantal-lite/chantal/formats"
)

// Default limits; see Options.
const (
	// DefaultMaxIndexSize bounds one decompressed index (Packages, Sources).
	DefaultMaxIndexSize int64 = 2 << 30
	// DefaultMaxStanzaSize bounds one control stanza.
	DefaultMaxStanzaSize = 1 << 20
	// MaxControlSize bounds the decompressed control.tar of an uploaded .deb.
	MaxControlSize = 16 << 20
	// maxReleaseSize bounds InRelease/Release when Scan fetches it itself.
	maxReleaseSize = 64 << 20
	// ctxEvery is how many stanzas Scan reads between checks of ctx.
	ctxEvery = 256
)

// FragmentStanza is the key of the verbatim control stanza in Item.Fragments.
const FragmentStanza = "stanza"

// Options configure a Format. The zero value and nil mean defaults.
type Options struct {
	// MaxIndexSize is the most bytes one index may decompress to; 0 means
	// DefaultMaxIndexSize.
	MaxIndexSize int64
	// MaxStanzaSize is the longest stanza accepted; 0 means DefaultMaxStanzaSize.
	MaxStanzaSize int
	// Logger is used when a request carries none; nil discards.
	Logger *slog.Logger
}

// Format is the APT format. It is safe for concurrent use.
type Format struct {
	maxIndex  int64
	maxStanza int
	log       *slog.Logger
}

// Interface checks.
var (
	_ formats.Format             = (*Format)(nil)
	_ formats.TopLeveler         = (*Format)(nil)
	_ formats.Verifier           = (*Format)(nil)
	_ formats.Inspector          = (*Format)(nil)
	_ formats.Layouter           = (*Format)(nil)
	_ formats.Comparer           = (*Format)(nil)
	_ formats.DependencyResolver = (*Format)(nil)
)

// New returns the APT format; nil options mean defaults.
func New(o *Options) *Format {
	f := &Format{maxIndex: DefaultMaxIndexSize, maxStanza: DefaultMaxStanzaSize}
	if o != nil {
		if o.MaxIndexSize > 0 {
			f.maxIndex = o.MaxIndexSize
		}
		if o.MaxStanzaSize > 0 {
			f.maxStanza = o.MaxStanzaSize
		}
		f.log = o.Logger
	}
	return f
}

// Name implements formats.Format.
func (f *Format) Name() string { return "apt" }

func (f *Format) logger(l *slog.Logger) *slog.Logger {
	if l != nil {
		return l
	}
	if f.log != nil {
		return f.log
	}
	return slog.New(slog.DiscardHandler)
}

// ValidToken reports whether s may be used as a component, architecture or
// suite: it becomes a directory name and a value of the signed Release.
func ValidToken(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '+' && c != '_' && c != '-') {
			return false
		}
	}
	return true
}

// params is the parsed per-repository configuration.
type params struct {
	dist    string
	flat    bool
	comps   []string
	archs   []string
	byHash  bool
	udebs   bool
	sources bool
	now     time.Time
	origin  string
	label   string
	suite   string
	code    string
	valid   time.Duration
	// compress are the compressed variants written next to each plain
	// index in filtered and hosted mode (".gz", ".xz").
	compress []string
}

// parseParams validates the repository settings. Components, architectures
// and the distribution must be tokens (the distribution may contain "/" between
// tokens, as in "bookworm/updates").
func parseParams(p map[string]string) (params, error) {
	var out params
	out.flat = p["flat"] == "true"
	out.dist = p["distribution"]
	if out.dist == "./" || out.dist == "." {
		out.flat, out.dist = true, ""
	}
	if out.flat {
		out.dist = strings.TrimSuffix(strings.TrimPrefix(out.dist, "./"), "/")
	}
	if !out.flat && out.dist == "" {
		return out, fmt.Errorf("%w: apt.distribution is not set", ErrConfig)
	}
	if out.dist != "" {
		for seg := range strings.SplitSeq(out.dist, "/") {
			if !ValidToken(seg) {
				return out, fmt.Errorf("%w: distribution %q is not a plain token", ErrConfig, clip(out.dist))
			}
		}
	}
	var err error
	if out.comps, err = tokens(p["components"], "component"); err != nil {
		return out, err
	}
	if out.archs, err = tokens(p["architectures"], "architecture"); err != nil {
		return out, err
	}
	out.byHash = p["by_hash"] != "false"
	out.udebs = p["udebs"] == "true"
	out.sources = p["sources"] == "true"
	out.now = time.Now()
	if s := p["now"]; s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return out, fmt.Errorf("%w: now %q: %v", ErrConfig, clip(s), err)
		}
		out.now = t
	}
	out.origin, out.label = p["origin"], p["label"]
	if out.origin == "" {
		out.origin = "chantal-lite"
	}
	if out.label == "" {
		out.label = p["repo"]
	}
	if out.label == "" {
		out.label = "chantal-lite"
	}
	out.suite, out.code = p["suite"], p["codename"]
	for _, v := range []string{out.origin, out.label, out.suite, out.code} {
		if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return out, fmt.Errorf("%w: release field %q has a control character", ErrConfig, clip(v))
		}
	}
	out.compress = []string{".gz", ".xz"}
	if s := p["compression"]; s != "" && s != "auto" {
		out.compress = nil
		for c := range strings.SplitSeq(s, ",") {
			switch c = strings.TrimSpace(c); c {
			case "gz", "xz":
				if !contains(out.compress, "."+c) {
					out.compress = append(out.compress, "."+c)
				}
			default:
				return out, fmt.Errorf("%w: compression %q: apt indexes are written as gz and/or xz", ErrConfig, clip(c))
			}
		}
	}
	if s := p["valid_until"]; s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return out, fmt.Errorf("%w: valid_until %q is not a positive duration", ErrConfig, clip(s))
		}
		out.valid = d
	}
	return out, nil
}

func tokens(s, what string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	seen := map[string]bool{}
	for t := range strings.SplitSeq(s, ",") {
		t = strings.TrimSpace(t)
		if !ValidToken(t) {
			return nil, fmt.Errorf("%w: %s %q is not a plain token", ErrConfig, what, clip(t))
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out, nil
}

// base is the directory of the Release file and its indexes: for a flat
// repository the distribution directory below the feed (usually the feed itself).
func (p params) base() string {
	if p.flat {
		if p.dist == "" {
			return ""
		}
		return p.dist + "/"
	}
	return "dists/" + p.dist + "/"
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
