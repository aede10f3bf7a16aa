// Package config loads the chantal-lite YAML configuration.
//
// Loading is strict: an unknown key at any depth, a value of the wrong type, a
// regular expression that does not compile, an unset ${VARIABLE} or a dangling
// view member is an error that names the file and line. The key names follow
// the original Chantal tool. docs/config.md documents every key.
//
// Load and Parse return a Config that has been expanded, validated and given
// its defaults, in that order. A Config built by hand can be checked with
// Validate; it does not get defaults.
package config

import (
	"strconv"
	"strings"
	"time"
)

// Default values applied by Load and Parse to keys the configuration leaves out.
const (
	DefaultBasePath     = "/var/lib/chantal-lite"
	DefaultParallel     = 8
	DefaultRetries      = 4
	DefaultTimeout      = 5 * time.Minute
	DefaultGCGrace      = time.Hour
	DefaultKeepVersions = 3
)

// Repository modes (Repository.Mode).
const (
	ModeMirror   = "mirror"   // publish upstream metadata byte for byte; no filters
	ModeFiltered = "filtered" // regenerate metadata from the kept items and re-sign
	ModeHosted   = "hosted"   // items come only from uploads; no feed
)

// Config is a whole chantal-lite configuration: the main file plus the
// repositories and views of every included file.
type Config struct {
	Storage      Storage      `yaml:"storage"`
	Download     Download     `yaml:"download"`
	Publish      Publish      `yaml:"publish"`
	GPG          GPG          `yaml:"gpg,omitempty"` // signing key for repositories and views that name none
	Include      []string     `yaml:"include,omitempty"`
	Repositories []Repository `yaml:"repositories,omitempty"`
	Views        []View       `yaml:"views,omitempty"`
	// ErrataSources are advisory feeds (OSV) synced with "errata sync";
	// main file only.
	ErrataSources []ErrataSource `yaml:"errata_sources,omitempty"`

	// Files lists the files that were read, the main file first, then the
	// included ones in the order they were loaded.
	Files []string `yaml:"-"`
}

// Storage says where chantal-lite keeps its data. Load resolves relative
// paths against the directory of the main configuration file.
type Storage struct {
	BasePath      string   `yaml:"base_path"`      // catalog.db, pool/, keys/, tmp/; default DefaultBasePath
	PublishedPath string   `yaml:"published_path"` // root of published trees; default BasePath/published
	TempPath      string   `yaml:"temp_path"`      // default BasePath/tmp
	GCGrace       Duration `yaml:"gc_grace"`       // unreferenced blobs younger than this survive GC; default 1h, 0 disables
}

// Download tunes fetching from upstream. The top-level section is the default
// for every repository; a repository's own download section overrides it key
// by key (after Load, Repository.Download holds the merged result).
type Download struct {
	Parallel int `yaml:"parallel"` // concurrent downloads; 0 or absent means DefaultParallel
	// Retries is the number of retries after a failed attempt. An absent key
	// means DefaultRetries; an explicit 0 disables retries.
	Retries   int      `yaml:"retries"`
	Timeout   Duration `yaml:"timeout"`                   // per request; 0 or absent means DefaultTimeout
	RateLimit int64    `yaml:"rate_limit" chantal:"size"` // bytes per second over all downloads, 0 = unlimited; "10MiB", "500k" accepted
	UserAgent string   `yaml:"user_agent,omitempty"`      // empty means the library's default
}

// Publish tunes publishing.
type Publish struct {
	// KeepVersions is how many previous metadata versions stay for rollback.
	// An absent key means DefaultKeepVersions; 0 keeps none.
	KeepVersions int `yaml:"keep_versions"`
}

// Repository is one upstream (or hosted) repository.
type Repository struct {
	ID      string `yaml:"id"`                // token: [A-Za-z0-9._-]+, not "." or ".."
	Name    string `yaml:"name,omitempty"`    // free text
	Type    string `yaml:"type"`              // format name: rpm, apt, helm, …
	Feed    string `yaml:"feed,omitempty"`    // http://, https:// or file:// URL; empty only in hosted mode
	Mode    string `yaml:"mode"`              // ModeMirror, ModeFiltered (default) or ModeHosted
	Enabled *bool  `yaml:"enabled,omitempty"` // nil means true; see IsEnabled

	SSL      SSL       `yaml:"ssl,omitempty"`
	Auth     Auth      `yaml:"auth,omitempty"`
	Proxy    Proxy     `yaml:"proxy,omitempty"`
	Download *Download `yaml:"download,omitempty"` // nil: use Config.Download

	Filters   Filters   `yaml:"filters,omitempty"`
	Verify    Verify    `yaml:"verify,omitempty"`
	GPG       GPG       `yaml:"gpg,omitempty"`
	APT       APT       `yaml:"apt,omitempty"`
	RPM       RPM       `yaml:"rpm,omitempty"`
	Helm      Helm      `yaml:"helm,omitempty"`
	Retention Retention `yaml:"retention,omitempty"`

	// PublishPath overrides where the repository's latest state is published,
	// relative to Storage.PublishedPath; empty means ID.
	PublishPath string `yaml:"publish_path,omitempty"`
}

// IsEnabled reports whether the repository takes part in "sync --all" and
// similar bulk operations. A missing enabled key means true.
func (r *Repository) IsEnabled() bool { return r.Enabled == nil || *r.Enabled }

// SSL configures TLS towards the upstream. Relative paths are resolved
// against the directory of the file that declares the repository.
type SSL struct {
	CABundle   string `yaml:"ca_bundle,omitempty"`   // PEM file of trusted CAs (added to the system pool)
	ClientCert string `yaml:"client_cert,omitempty"` // PEM client certificate; needs ClientKey
	ClientKey  string `yaml:"client_key,omitempty"`  // PEM client key; needs ClientCert
	// CertDir holds an entitlement pair (RHEL style): the first *.pem not
	// ending in -key.pem and its <name>-key.pem. Exclusive with ClientCert.
	CertDir  string `yaml:"cert_dir,omitempty"`
	Insecure bool   `yaml:"insecure,omitempty"` // skip server certificate verification
}

// Auth types (Auth.Type).
const (
	AuthBasic  = "basic"  // Username and Password
	AuthBearer = "bearer" // Token
	AuthCustom = "custom" // Headers
)

// Auth configures credentials towards the upstream. Password, Token and
// the header values are secrets (see Config.Redacted).
type Auth struct {
	Type     string            `yaml:"type,omitempty"`
	Username string            `yaml:"username,omitempty"`
	Password string            `yaml:"password,omitempty"`
	Token    string            `yaml:"token,omitempty"`
	Headers  map[string]string `yaml:"headers,omitempty"` // sent on every request; stripped on cross-host redirects
}

// Proxy configures an HTTP proxy for one repository. Credentials are sent as
// Proxy-Authorization to the proxy only.
type Proxy struct {
	URL      string `yaml:"url,omitempty"` // http://, https:// or socks5:// URL
	Username string `yaml:"username,omitempty"`
	Password string `yaml:"password,omitempty"`
	NoProxy  string `yaml:"no_proxy,omitempty"` // comma-separated hosts, as in $NO_PROXY
}

// Filters select which upstream items a filtered repository keeps. Filters
// that belong to one format (groups for rpm, sections for apt, versions for
// helm, …) are refused on repositories of another known format.
type Filters struct {
	Patterns      IncludeExclude `yaml:"patterns,omitempty"`      // regular expressions (RE2) searched in the item name
	Architectures IncludeExclude `yaml:"architectures,omitempty"` // exact architecture names

	SizeBytes SizeRange `yaml:"size_bytes,omitempty"`
	BuildTime BuildTime `yaml:"build_time,omitempty"`

	// rpm
	Groups        IncludeExclude `yaml:"groups,omitempty"`
	Licenses      IncludeExclude `yaml:"licenses,omitempty"`
	Vendors       IncludeExclude `yaml:"vendors,omitempty"`
	Epochs        IncludeExclude `yaml:"epochs,omitempty"`
	ExcludeSource bool           `yaml:"exclude_source,omitempty"` // drop source packages (arch src)

	// apt
	Sections   IncludeExclude `yaml:"sections,omitempty"`
	Priorities IncludeExclude `yaml:"priorities,omitempty"`
	Components IncludeExclude `yaml:"components,omitempty"`

	// helm
	SkipDeprecated bool   `yaml:"skip_deprecated,omitempty"`
	SkipPrerelease bool   `yaml:"skip_prerelease,omitempty"`
	Versions       string `yaml:"versions,omitempty"` // semver constraint, e.g. ">=1.2, <2"; checked by the format

	PostProcessing PostProcessing `yaml:"post_processing,omitempty"`
	// FilterWithDeps keeps, in addition, what the kept items depend on.
	FilterWithDeps bool `yaml:"filter_with_deps,omitempty"`
}

// IsZero reports whether no filter is set.
func (f *Filters) IsZero() bool {
	return f.Patterns.IsZero() && f.Architectures.IsZero() && f.SizeBytes == (SizeRange{}) &&
		f.BuildTime == (BuildTime{}) && f.Groups.IsZero() && f.Licenses.IsZero() && f.Vendors.IsZero() &&
		f.Epochs.IsZero() && !f.ExcludeSource && f.Sections.IsZero() && f.Priorities.IsZero() &&
		f.Components.IsZero() && !f.SkipDeprecated && !f.SkipPrerelease && f.Versions == "" &&
		f.PostProcessing == (PostProcessing{}) && !f.FilterWithDeps
}

// IncludeExclude is a pair of value lists. An empty Include admits
// everything; Exclude wins over Include.
type IncludeExclude struct {
	Include []string `yaml:"include,omitempty"`
	Exclude []string `yaml:"exclude,omitempty"`
}

// IsZero reports whether both lists are empty.
func (l IncludeExclude) IsZero() bool { return len(l.Include) == 0 && len(l.Exclude) == 0 }

// Allows reports whether v passes the lists compared as exact strings.
func (l IncludeExclude) Allows(v string) bool {
	for _, x := range l.Exclude {
		if x == v {
			return false
		}
	}
	if len(l.Include) == 0 {
		return true
	}
	for _, x := range l.Include {
		if x == v {
			return true
		}
	}
	return false
}

// SizeRange bounds the payload size in bytes; 0 means unbounded. Values may be
// written as "10MiB", "500k" and the like.
type SizeRange struct {
	Min int64 `yaml:"min,omitempty" chantal:"size"`
	Max int64 `yaml:"max,omitempty" chantal:"size"`
}

// BuildTime bounds the build time of kept items. After and Before are
// RFC 3339 timestamps or YYYY-MM-DD dates (midnight UTC); LastNDays keeps
// items built within that many days before the sync.
type BuildTime struct {
	After     string `yaml:"newer_than,omitempty"`
	Before    string `yaml:"older_than,omitempty"`
	LastNDays int    `yaml:"last_n_days,omitempty"`
}

// Range returns After and Before as times; an empty bound is the zero time.
// Load has checked both, so for a loaded Config the error is always nil.
func (b BuildTime) Range() (after, before time.Time, err error) {
	if after, err = parseDate(b.After); err != nil {
		return time.Time{}, time.Time{}, err
	}
	if before, err = parseDate(b.Before); err != nil {
		return time.Time{}, time.Time{}, err
	}
	return after, before, nil
}

func parseDate(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Parse(time.DateOnly, s)
}

// PostProcessing trims the filtered set per item name.
type PostProcessing struct {
	OnlyLatestNVersions int  `yaml:"only_latest_n_versions,omitempty"`
	OnlyLatestVersion   bool `yaml:"only_latest_version,omitempty"` // same as OnlyLatestNVersions: 1
}

// LatestN returns how many newest versions per name to keep; 0 keeps all.
func (p PostProcessing) LatestN() int {
	if p.OnlyLatestVersion && p.OnlyLatestNVersions == 0 {
		return 1
	}
	return p.OnlyLatestNVersions
}

// Verify-on-invalid actions (Verify.OnInvalid).
const (
	OnInvalidFail = "fail"
	OnInvalidWarn = "warn"
	OnInvalidSkip = "skip"
)

// Verify configures verification of upstream signatures.
type Verify struct {
	Enabled *bool    `yaml:"enabled,omitempty"` // nil: enabled when Keys is not empty; see IsEnabled
	Keys    []string `yaml:"keys,omitempty"`    // armored public key files, relative to the declaring file
	// TrustedFingerprints pins the keys that may sign. Load normalises them to
	// upper-case hex without spaces.
	TrustedFingerprints []string `yaml:"trusted_fingerprints,omitempty"`
	OnInvalid           string   `yaml:"on_invalid,omitempty"` // OnInvalidFail (default), OnInvalidWarn or OnInvalidSkip
	GPGCheck            bool     `yaml:"gpgcheck,omitempty"`   // also verify each package's own signature
}

// IsEnabled reports whether signatures are verified.
func (v *Verify) IsEnabled() bool {
	if v.Enabled != nil {
		return *v.Enabled
	}
	return len(v.Keys) > 0
}

// GPG names the key that signs published metadata.
type GPG struct {
	KeyFile        string `yaml:"key_file,omitempty"`        // armored private key, relative to the declaring file
	PassphraseFile string `yaml:"passphrase_file,omitempty"` // file whose first line is the passphrase
	Passphrase     string `yaml:"passphrase,omitempty"`      // secret; prefer PassphraseFile or ${ENV}
	GenerateKey    bool   `yaml:"generate_key,omitempty"`    // create (once) and keep a key under base_path/keys
}

// APT holds the apt-specific settings of a repository.
type APT struct {
	// Distribution is the suite or codename (bookworm, bookworm-updates,
	// bookworm/updates). For a flat repository it is the directory below the
	// feed that holds Packages ("" or "." for the feed itself).
	Distribution  string   `yaml:"distribution,omitempty"`
	Components    []string `yaml:"components,omitempty"`    // default [main]; none for flat repositories
	Architectures []string `yaml:"architectures,omitempty"` // default [amd64]
	ByHash        *bool    `yaml:"by_hash,omitempty"`       // nil: follow upstream's Acquire-By-Hash
	Udebs         bool     `yaml:"udebs,omitempty"`         // also mirror debian-installer udebs
	Sources       bool     `yaml:"sources,omitempty"`       // also mirror source packages
	Flat          bool     `yaml:"flat,omitempty"`          // flat repository (no dists/)
}

// RPM holds the rpm-specific settings of a repository.
type RPM struct {
	// Compression of regenerated metadata: auto (as upstream), gz, xz, zst,
	// bz2 or none. The spellings gzip, zstd, zstandard and bzip2 are accepted
	// and normalised.
	Compression string `yaml:"compression,omitempty"`
}

// Helm holds the helm-specific settings of a repository.
type Helm struct {
	// OCIPlainHTTP pulls oci:// charts over plain http instead of https (for a
	// registry on the local network or in tests).
	OCIPlainHTTP bool `yaml:"oci_plain_http,omitempty"`
}

// Retention policies (Retention.Policy).
const (
	RetentionMirror     = "mirror"      // keep what upstream lists
	RetentionNewestOnly = "newest-only" // keep the newest version per name
	RetentionKeepLastN  = "keep-last-n" // keep KeepCount newest versions per name
	RetentionKeepAll    = "keep-all"    // never drop what was once synced
)

// Retention says what a sync drops from the repository state.
type Retention struct {
	Policy    string `yaml:"policy,omitempty"`     // default RetentionMirror
	KeepCount int    `yaml:"keep_count,omitempty"` // only with keep-last-n, at least 1
}

// View combines repositories (latest states) and snapshots of one format into
// one published repository.
type View struct {
	Name        string   `yaml:"name"` // token like a repository id
	Description string   `yaml:"description,omitempty"`
	Repos       []string `yaml:"repos,omitempty"`     // repository ids
	Snapshots   []string `yaml:"snapshots,omitempty"` // REPO/NAME
	// PublishPath overrides views/<name> below Storage.PublishedPath.
	PublishPath string `yaml:"publish_path,omitempty"`
	// ErrataFilter, when set, makes the view publish its base snapshot plus
	// only the packages of the selected advisories found in its members.
	ErrataFilter *ErrataFilter `yaml:"errata_filter,omitempty"`
}

// ErrataFilter selects advisories for an errata-filtered view, the way
// Katello's content-view errata filters do. Every set key must match.
type ErrataFilter struct {
	Base         string   `yaml:"base"`                    // REPO/SNAPSHOT published in full
	Types        []string `yaml:"types,omitempty"`         // security, bugfix, enhancement, newpackage
	Severity     string   `yaml:"severity,omitempty"`      // minimum: low, moderate, important, critical
	CVEs         []string `yaml:"cves,omitempty"`          // advisories naming one of these CVEs
	IDs          []string `yaml:"ids,omitempty"`           // advisories with one of these ids
	IssuedBefore string   `yaml:"issued_before,omitempty"` // RFC 3339 time or YYYY-MM-DD: issued strictly before
}

// IssuedBeforeTime returns IssuedBefore as a time (zero when unset). Load
// has checked it, so for a loaded Config the error is always nil.
func (f *ErrataFilter) IssuedBeforeTime() (time.Time, error) { return parseDate(f.IssuedBefore) }

// Errata source types (ErrataSource.Type).
const (
	ErrataOSV = "osv" // OSV JSON: one file, a directory of files, or a zip export
)

// ErrataSource is an advisory feed that "errata sync" reads like a
// repository: an OSV JSON file, a directory of them, or a zip export (such
// as OSV's all.zip), from a local path or an http(s)/file URL.
type ErrataSource struct {
	ID   string `yaml:"id"`   // token like a repository id; must not be one
	Type string `yaml:"type"` // ErrataOSV
	URL  string `yaml:"url,omitempty"`
	Path string `yaml:"path,omitempty"` // relative to the main file's directory
	// Ecosystem keeps only packages of one OSV ecosystem, e.g. "Debian:12"
	// or "AlmaLinux:9"; empty keeps all.
	Ecosystem string `yaml:"ecosystem,omitempty"`
	// AppliesTo names the repositories whose packages the advisories are
	// evaluated against (and their snapshots and views).
	AppliesTo []string `yaml:"applies_to,omitempty"`
}

// ErrataSource returns the errata source with the given id.
func (c *Config) ErrataSource(id string) (*ErrataSource, bool) {
	for i := range c.ErrataSources {
		if c.ErrataSources[i].ID == id {
			return &c.ErrataSources[i], true
		}
	}
	return nil, false
}

// Repository returns the repository with the given id.
func (c *Config) Repository(id string) (*Repository, bool) {
	for i := range c.Repositories {
		if c.Repositories[i].ID == id {
			return &c.Repositories[i], true
		}
	}
	return nil, false
}

// View returns the view with the given name.
func (c *Config) View(name string) (*View, bool) {
	for i := range c.Views {
		if c.Views[i].Name == name {
			return &c.Views[i], true
		}
	}
	return nil, false
}

// DownloadFor returns the download settings that apply to r: its own section
// when it has one, the top-level one otherwise.
func (c *Config) DownloadFor(r *Repository) Download {
	if r.Download != nil {
		return *r.Download
	}
	return c.Download
}

// Duration is a time.Duration written in YAML as "5m", "1h30m" or an integer
// number of seconds.
type Duration struct{ time.Duration }

// ParseDuration parses the forms Duration accepts. Negative values are errors.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > int64(1<<63-1)/int64(time.Second) || n < 0 {
			return Duration{}, &valueError{"duration out of range: " + strconv.Quote(s)}
		}
		d = time.Duration(n) * time.Second
	} else {
		d, err = time.ParseDuration(s)
		if err != nil {
			return Duration{}, &valueError{"invalid duration " + strconv.Quote(s) + ` (want e.g. "30s", "5m" or seconds)`}
		}
	}
	if d < 0 {
		return Duration{}, &valueError{"negative duration " + strconv.Quote(s)}
	}
	return Duration{d}, nil
}

// MarshalText writes the duration as time.Duration.String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses the forms ParseDuration accepts.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// ParseSize parses a byte count: a plain integer, or a number with a unit
// k, M, G, T (powers of 1000, also kB, MB …) or KiB, MiB, GiB, TiB (powers
// of 1024). Units are case-insensitive except that "b" alone means bytes.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, &valueError{"invalid size " + strconv.Quote(s)}
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, &valueError{"size out of range: " + strconv.Quote(s)}
	}
	unit := strings.ToLower(strings.TrimSpace(t[i:]))
	mult, ok := sizeUnits[unit]
	if !ok {
		return 0, &valueError{"invalid size unit in " + strconv.Quote(s) + " (want k, M, G, T, KiB, MiB, GiB or TiB)"}
	}
	if n > (1<<63-1)/mult {
		return 0, &valueError{"size out of range: " + strconv.Quote(s)}
	}
	return n * mult, nil
}

// sizeUnits is a constant table of size suffixes (lower-cased) to multipliers.
var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
	"ki": 1 << 10, "kib": 1 << 10, "mi": 1 << 20, "mib": 1 << 20,
	"gi": 1 << 30, "gib": 1 << 30, "ti": 1 << 40, "tib": 1 << 40,
}

// valueError is a malformed scalar; the decoder adds file and line.
type valueError struct{ msg string }

func (e *valueError) Error() string { return e.msg }
