// Package errata is chantal-lite's format-neutral advisory model: security,
// bug-fix and enhancement advisories from RPM updateinfo.xml, OSV JSON
// (AlmaLinux, Rocky Linux, Debian DSA/DLA, Ubuntu USN, language
// ecosystems) and later other sources, with pure queries over them.
//
// The package imports nothing of chantal-lite. Version order is never
// decided here: the queries that compare versions ([Advisory.Fixes],
// [Advisory.Affected]) take the ecosystem's comparison function from the
// caller (RPM EVR, dpkg, SemVer ...).
package errata

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

var (
	// ErrMalformed is returned (wrapped) for input that cannot be parsed at
	// all, and wrapped by a SkipError for one advisory that cannot be used.
	ErrMalformed = errors.New("errata: malformed input")

	// ErrTooLarge is returned (wrapped) when input exceeds one of the
	// bounds in Options.
	ErrTooLarge = errors.New("errata: input too large")
)

// A SkipError reports one advisory that was skipped while the rest of its
// input was read. Readers pass it to Options.OnSkip.
type SkipError struct {
	Name  string // the input: a file name, a zip entry, "updateinfo" ...
	Index int    // 0-based position of the advisory in Name
	ID    string // the advisory ID, if it was read
	Err   error
}

// Error describes the skipped advisory.
func (e *SkipError) Error() string {
	id := e.ID
	if id == "" {
		id = fmt.Sprintf("#%d", e.Index)
	}
	return fmt.Sprintf("errata: skipped advisory %s in %s: %v", id, e.Name, e.Err)
}

// Unwrap returns the reason.
func (e *SkipError) Unwrap() error { return e.Err }

// Type is an advisory's kind.
type Type string

// Advisory types. Sources' synonyms are mapped by ParseType.
const (
	TypeSecurity    Type = "security"
	TypeBugfix      Type = "bugfix"
	TypeEnhancement Type = "enhancement"
	TypeNewPackage  Type = "newpackage"
)

// ParseType maps an upstream type string to a Type: the four known types
// (any case) and the synonyms "recommended"/"bug fix" (bugfix),
// "feature"/"optional" (enhancement) and "new package". Anything else is
// returned lower-cased as is; "" stays "".
func ParseType(s string) Type {
	t := strings.ToLower(strings.TrimSpace(s))
	switch t {
	case "security", "sec":
		return TypeSecurity
	case "bugfix", "bug fix", "bug-fix", "recommended":
		return TypeBugfix
	case "enhancement", "feature", "optional":
		return TypeEnhancement
	case "newpackage", "new package", "new-package":
		return TypeNewPackage
	}
	return Type(t)
}

// Severity is a normalised advisory severity. The zero value is
// SeverityNone; the constants are ordered, so >= compares them.
type Severity uint8

// Normalised severities, lowest first.
const (
	SeverityNone Severity = iota
	SeverityLow
	SeverityModerate
	SeverityImportant
	SeverityCritical
)

var severityNames = [...]string{"none", "low", "moderate", "important", "critical"}

// String returns "none", "low", "moderate", "important" or "critical".
func (s Severity) String() string {
	if int(s) < len(severityNames) {
		return severityNames[s]
	}
	return fmt.Sprintf("severity(%d)", uint8(s))
}

// MarshalText implements encoding.TextMarshaler.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; it accepts what
// ParseSeverity accepts.
func (s *Severity) UnmarshalText(b []byte) error {
	v, ok := ParseSeverity(string(b))
	if !ok && len(b) > 0 {
		return fmt.Errorf("errata: unknown severity %q", b)
	}
	*s = v
	return nil
}

// ParseSeverity normalises an upstream severity word: Red Hat's and SUSE's
// (critical, important, moderate, low), CVSS qualitative ratings and GHSA's
// (critical, high, medium, low, none), Debian's urgencies and Ubuntu's
// priorities (high, medium, low, unimportant, negligible, not yet
// assigned). ok is false for anything else, which maps to SeverityNone.
func ParseSeverity(s string) (sev Severity, ok bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "critical", "urgent", "emergency":
		return SeverityCritical, true
	case "important", "high":
		return SeverityImportant, true
	case "moderate", "medium":
		return SeverityModerate, true
	case "low", "unimportant", "negligible":
		return SeverityLow, true
	case "none", "unknown", "unspecified", "not yet assigned", "not set":
		return SeverityNone, true
	}
	return SeverityNone, false
}

// SeverityFromScore maps a CVSS base score: critical (>= 9), important
// (>= 7), moderate (>= 4), low (> 0), none.
func SeverityFromScore(score float64) Severity {
	switch {
	case score >= 9:
		return SeverityCritical
	case score >= 7:
		return SeverityImportant
	case score >= 4:
		return SeverityModerate
	case score > 0:
		return SeverityLow
	}
	return SeverityNone
}

// An Advisory is one erratum: an updateinfo <update>, an OSV record, a
// DSA, a USN ... Fields a source does not have stay zero.
type Advisory struct {
	ID     string
	Source string `json:",omitempty"` // where it came from, set by the reader's caller
	Type   Type
	// Severity is normalised; RawSeverity is what upstream wrote (a word,
	// a CVSS vector or score).
	Severity    Severity
	RawSeverity string `json:",omitempty"`
	Title       string `json:",omitempty"`
	Summary     string `json:",omitempty"` // updateinfo <summary>
	Description string `json:",omitempty"`
	Solution    string `json:",omitempty"`
	Issued      time.Time
	Updated     time.Time `json:",omitzero"`
	Withdrawn   time.Time `json:",omitzero"` // OSV withdrawn: no longer valid
	// From, Status, Version, Rights, ReleaseName and PushCount are the
	// updateinfo attributes and elements of the same meaning.
	From        string `json:",omitempty"`
	Status      string `json:",omitempty"`
	Version     string `json:",omitempty"`
	Rights      string `json:",omitempty"`
	ReleaseName string `json:",omitempty"`
	PushCount   string `json:",omitempty"`
	// Aliases and Related are other IDs of the same or related issues
	// (OSV aliases, related and upstream).
	Aliases    []string    `json:",omitempty"`
	Related    []string    `json:",omitempty"`
	References []Reference `json:",omitempty"`
	Scores     []Score     `json:",omitempty"`
	Packages   []Package   `json:",omitempty"`
	// Advisory-level hints; Package carries per-package ones. NeedsReboot
	// and friends combine both.
	RebootSuggested  bool `json:",omitempty"`
	RestartSuggested bool `json:",omitempty"`
	ReloginSuggested bool `json:",omitempty"`
}

// A Reference points at an issue or document: a CVE, a bug tracker entry,
// the advisory's own page.
type Reference struct {
	Type  string // "cve", "bugzilla", "self", "advisory", "web", "fix" ... (lower case)
	ID    string `json:",omitempty"`
	URL   string `json:",omitempty"`
	Title string `json:",omitempty"`
}

// A Score is one severity score as published: Type "CVSS_V3", "CVSS_V2",
// "CVSS_V4", "Ubuntu" ...; Score a vector or a word.
type Score struct {
	Type  string
	Score string
}

// A Package is one package an advisory names in one ecosystem: either an
// exact fixed build (updateinfo: NEVRA, Filename, Sums) or affected ranges
// and versions (OSV), or both.
type Package struct {
	// Ecosystem is normalised: "rpm" and "deb" for distributions, "apk"
	// for Alpine, else the OSV ecosystem as written ("npm", "PyPI", "Go" ...).
	Ecosystem string
	// Distro and DistroRelease say which distribution release
	// ("AlmaLinux" "9", "Debian" "12", "Ubuntu" "22.04"); empty when the
	// source does not say (updateinfo: its repository says it).
	Distro        string `json:",omitempty"`
	DistroRelease string `json:",omitempty"`
	RawEcosystem  string `json:",omitempty"` // as upstream wrote it, e.g. "Ubuntu:22.04:LTS"
	Name          string
	PURL          string `json:",omitempty"`
	// Epoch, Version, Release and Arch name an exact fixed RPM build (or,
	// without Release, a fixed version of another ecosystem).
	Epoch    string `json:",omitempty"`
	Version  string `json:",omitempty"`
	Release  string `json:",omitempty"`
	Arch     string `json:",omitempty"`
	Src      string `json:",omitempty"`
	Filename string `json:",omitempty"`
	Sums     []Sum  `json:",omitempty"`
	// Module is the RPM module stream the package belongs to, if any.
	Module *Module `json:",omitempty"`
	// Collection and CollectionName are the updateinfo <collection short>
	// and <name> the package was listed under.
	Collection     string `json:",omitempty"`
	CollectionName string `json:",omitempty"`
	// Ranges and Versions are OSV's affected ranges and explicit affected
	// versions.
	Ranges   []Range  `json:",omitempty"`
	Versions []string `json:",omitempty"`
	// Binaries are binary packages built from this (source) package, with
	// their fixed versions (Ubuntu's ecosystem_specific.binaries).
	Binaries []Binary `json:",omitempty"`

	RebootSuggested  bool `json:",omitempty"`
	RestartSuggested bool `json:",omitempty"`
	ReloginSuggested bool `json:",omitempty"`
}

// A Sum is a checksum of a package file as updateinfo lists it.
type Sum struct {
	Type  string
	Value string
}

// A Binary is a binary package and its fixed version.
type Binary struct {
	Name    string
	Version string
}

// A Module is an RPM module stream (name:stream:version:context:arch).
type Module struct {
	Name    string
	Stream  string
	Version string `json:",omitempty"`
	Context string `json:",omitempty"`
	Arch    string `json:",omitempty"`
}

// String returns name:stream:version:context:arch.
func (m Module) String() string {
	return m.Name + ":" + m.Stream + ":" + m.Version + ":" + m.Context + ":" + m.Arch
}

// A Range is an OSV affected range: Events in the order published.
type Range struct {
	Type   string // "ECOSYSTEM", "SEMVER" or "GIT"
	Repo   string `json:",omitempty"` // GIT ranges
	Events []Event
}

// An Event is one OSV range event; exactly one field is set.
type Event struct {
	Introduced   string `json:",omitempty"`
	Fixed        string `json:",omitempty"`
	LastAffected string `json:",omitempty"`
	Limit        string `json:",omitempty"`
}

// EVR returns the package's fixed version as an RPM comparator expects it,
// "[epoch:]version-release" (the epoch only when set and not 0), or just
// Version when there is no Release.
func (p *Package) EVR() string {
	v := p.Version
	if p.Release != "" {
		v += "-" + p.Release
	}
	if p.Epoch != "" && strings.Trim(p.Epoch, "0") != "" {
		v = p.Epoch + ":" + v
	}
	return v
}

// FixedVersions returns the versions that fix the package: the exact build
// (EVR) if there is one, then every fixed event of its ranges. It is nil
// when the advisory names no fix.
func (p *Package) FixedVersions() []string {
	var out []string
	if p.Version != "" {
		out = append(out, p.EVR())
	}
	for _, r := range p.Ranges {
		if r.Type == "GIT" {
			continue
		}
		for _, e := range r.Events {
			if e.Fixed != "" && !slices.Contains(out, e.Fixed) {
				out = append(out, e.Fixed)
			}
		}
	}
	return out
}

// CVEs returns the advisory's CVE IDs (from its ID, aliases, related IDs
// and cve references), upper-cased, sorted and without duplicates.
func (a *Advisory) CVEs() []string {
	var out []string
	add := func(s string) {
		s = strings.ToUpper(strings.TrimSpace(s))
		if IsCVE(s) {
			out = append(out, s)
		}
	}
	add(a.ID)
	for _, s := range a.Aliases {
		add(s)
	}
	for _, s := range a.Related {
		add(s)
	}
	for _, r := range a.References {
		if strings.EqualFold(r.Type, "cve") {
			add(r.ID)
			if r.ID == "" {
				add(r.Title)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// IsCVE reports whether s has the form CVE-YYYY-NNNN[N...] (upper case).
func IsCVE(s string) bool {
	if len(s) < len("CVE-2000-0000") || !strings.HasPrefix(s, "CVE-") || s[8] != '-' {
		return false
	}
	for i := 4; i < len(s); i++ {
		if i != 8 && (s[i] < '0' || s[i] > '9') {
			return false
		}
	}
	return true
}

// NeedsReboot reports whether the advisory or one of its packages suggests
// a reboot; NeedsRestart and NeedsRelogin do the same for their hints.
func (a *Advisory) NeedsReboot() bool {
	return a.RebootSuggested || slices.ContainsFunc(a.Packages, func(p Package) bool { return p.RebootSuggested })
}

// NeedsRestart reports whether the advisory or a package suggests
// restarting the affected service.
func (a *Advisory) NeedsRestart() bool {
	return a.RestartSuggested || slices.ContainsFunc(a.Packages, func(p Package) bool { return p.RestartSuggested })
}

// NeedsRelogin reports whether the advisory or a package suggests logging
// in again.
func (a *Advisory) NeedsRelogin() bool {
	return a.ReloginSuggested || slices.ContainsFunc(a.Packages, func(p Package) bool { return p.ReloginSuggested })
}
