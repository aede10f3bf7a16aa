// Package formats is the plugin contract between chantal-lite and the repository
// formats it mirrors (rpm, apt, helm and third-party ones).
//
// A Format parses upstream metadata into Entries (payload Items and repo-level
// Files) and renders published metadata for a set of Items. It never downloads
// payloads, writes to the pool or touches the catalog: the caller does that. A
// format therefore builds and tests with no database and no network; see
// package formattest for the conformance kit.
package formats

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/chantal-lite/chantal/pool"
)

// A Format understands one repository type's metadata.
// Implementations must be safe for concurrent use.
type Format interface {
	// Name is the stable key stored in the catalog: "rpm", "apt", "helm".
	Name() string
	// Scan reads upstream metadata through req.Source and calls yield once per
	// Entry, in a deterministic order. An error from yield stops the scan and is
	// returned as is. Scan must honour ctx.
	Scan(ctx context.Context, req ScanRequest, yield func(Entry) error) error
	// Render writes published metadata for req.Items (and req.Files) into req.Sink.
	// The same request must produce the same bytes.
	Render(ctx context.Context, req RenderRequest) error
}

// Mode is how a repository is mirrored and published.
type Mode string

// The modes of DESIGN §2.
const (
	// ModeMirror publishes upstream metadata byte for byte; no filters.
	ModeMirror Mode = "mirror"
	// ModeFiltered regenerates every index from the kept fragments and re-signs it.
	ModeFiltered Mode = "filtered"
	// ModeHosted takes items only from uploads.
	ModeHosted Mode = "hosted"
)

// ScanRequest is what Scan reads.
type ScanRequest struct {
	// Source is the upstream repository root.
	Source Source
	// Mode is the repository's mode; formats may skip work mirror mode does not need.
	Mode Mode
	// Params are per-repository settings of the format (for apt: "distribution",
	// "components", "architectures"); list values are comma-separated.
	Params map[string]string
	// Top, when not nil, is the verified top-level metadata (repomd.xml, InRelease,
	// index.yaml) that the caller already fetched through TopLevel; Scan must parse
	// these bytes and not fetch them again.
	Top *TopLevel
	// Logger receives warnings about skipped entries; never nil when called by chantal.
	Logger *slog.Logger
}

// RenderRequest is what Render writes.
type RenderRequest struct {
	Sink Sink
	Mode Mode
	// Items are the payloads to publish, sorted by Path. Each Item's Path is where
	// the caller links the payload in the published tree.
	Items []Item
	// Files are the repository's repo-level files (comps, updateinfo, upstream
	// indexes in mirror mode …), sorted by Path; Open reads their bytes.
	Files []File
	// Open reads a repo-level file's content by digest.
	Open   func(ctx context.Context, d pool.Digest) (io.ReadCloser, error)
	Params map[string]string
	// Now is the timestamp written into metadata that needs one.
	Now time.Time
	// Signer, when not nil, signs metadata that the format signs.
	Signer Signer
	Logger *slog.Logger
}

// An Entry is one thing found by Scan: exactly one of Item and File is set.
type Entry struct {
	Item *Item
	File *File
}

// Checksums are upstream-declared checksums of a payload: algorithm ("sha1",
// "sha224", "sha256", "sha384", "sha512", "md5") → lower-case hex.
type Checksums map[string]string

// Item is one payload file plus what is needed to publish it again.
type Item struct {
	// Path is the payload's path relative to the repository root, as upstream
	// declares it (or as the format lays it out when publishing).
	Path string
	// Size in bytes; 0 when upstream does not say.
	Size int64
	// Digest is the SHA-256 when known (from upstream metadata or the pool); zero
	// when upstream declares only other checksums.
	Digest pool.Digest
	// Checksums as declared upstream; the caller verifies downloads against them.
	Checksums Checksums
	// Name, Version and Arch identify the package in the format's own terms.
	Name, Version, Arch string
	// Fields are filterable attributes ("group", "license", "buildtime", "section",
	// "component", "source" …).
	Fields map[string]string
	// Fragments are the format's native metadata for this item, kept verbatim
	// (RPM <package> elements, a deb control stanza, a chart index entry).
	Fragments map[string][]byte
}

// File is a repo-level file (not a payload): comps.xml, updateinfo, an upstream
// index kept for mirror mode, a kernel image listed in .treeinfo.
type File struct {
	Path      string
	Size      int64
	Digest    pool.Digest
	Checksums Checksums
	// Kind classifies the file for the format ("primary", "comps", "Packages" …).
	Kind string
	// MirrorOnly marks a file only mirror mode republishes (upstream indexes that
	// other modes regenerate); other modes do not download or keep it.
	MirrorOnly bool
	// Optional marks a file upstream may list without serving (Debian lists
	// uncompressed Packages it does not ship): when it is not found, the sync
	// goes on without it instead of failing.
	Optional bool
}

// TopLevel is the top-level metadata document of a repository, fetched once and
// verified over exactly these bytes.
type TopLevel struct {
	Path string
	Data []byte
	// Signature holds a detached signature when the format uses one.
	Signature []byte
}

// Source reads upstream files relative to the repository root.
type Source interface {
	Open(ctx context.Context, path string) (io.ReadCloser, error)
}

// Sink receives rendered files relative to the published root.
type Sink interface {
	Create(ctx context.Context, path string) (io.WriteCloser, error)
}

// A SinkLinker is a Sink that can give a file it already wrote, and closed,
// a second name with the same bytes (a hard link), so a format publishing
// one content under several names (APT's by-hash copies) writes it once.
type SinkLinker interface {
	Link(ctx context.Context, existing, path string) error
}

// Signer signs rendered metadata with the repository's key.
type Signer interface {
	// DetachSign writes an armored detached signature of data.
	DetachSign(ctx context.Context, data []byte) ([]byte, error)
	// ClearSign writes an armored cleartext-signed copy of data.
	ClearSign(ctx context.Context, data []byte) ([]byte, error)
	// PublicKey returns the armored public key.
	PublicKey() []byte
}

// Optional capabilities, found by type assertion.

// TopLeveler names the top-level metadata a Format reads first, so that the
// caller can fetch it once, verify it, and skip a sync whose metadata is unchanged.
type TopLeveler interface {
	TopLevel(ctx context.Context, req ScanRequest) (path string, signaturePath string, err error)
}

// AlternateTopLeveler names the top-level metadata to use when the one
// TopLevel names is absent upstream (APT: Release and Release.gpg when there is
// no InRelease). It is consulted only on "not found", never when the first
// document exists but fails verification.
type AlternateTopLeveler interface {
	AlternateTopLevel(ctx context.Context, req ScanRequest) (path string, signaturePath string, err error)
}

// MirrorFromFiles is implemented by a Format whose mirror-mode Render
// copies the repository's files and reads nothing of the items but Path and
// Digest (the payloads are linked by the caller). MirrorFromFiles reports
// whether that holds; when it does, a publish passes items with only Path
// and Digest set and need not decode the rest from its catalog.
type MirrorFromFiles interface {
	MirrorFromFiles() bool
}

// Inspector builds an Item from a local payload (hosted mode, package upload).
type Inspector interface {
	Inspect(ctx context.Context, r io.ReaderAt, size int64) (Item, error)
}

// Verifier checks upstream metadata signatures over exactly the fetched bytes,
// using the repository's trusted keys. On success a format whose top-level
// document is cleartext-signed (InRelease) replaces top.Data with the verified
// payload, which is what Scan then parses. Formats that are not Verifiers and
// have a detached signature (TopLeveler's signaturePath) are verified by the caller.
type Verifier interface {
	Verify(ctx context.Context, top *TopLevel, keys Keyring) error
}

// Keyring verifies OpenPGP signatures against the repository's trusted (and
// pinned) keys. chantal supplies it; formats never parse keys themselves.
type Keyring interface {
	// VerifyDetached checks an armored or binary detached signature over exactly signed.
	VerifyDetached(signed, sig []byte) error
	// VerifyClearsigned checks a cleartext-signed message and returns exactly
	// the signed payload.
	VerifyClearsigned(msg []byte) (payload []byte, err error)
}

// Layouter decides where a payload is published in filtered and hosted mode
// (for rpm "Packages/<first letter>/<file>"). Without it, and always in mirror
// mode, an Item is published at its upstream Path.
type Layouter interface {
	PublishPath(it Item) string
}

// VersionMatcher evaluates a version constraint in the format's own syntax
// (for helm, Masterminds/semver constraints such as ">=1.2, <2").
type VersionMatcher interface {
	MatchVersion(constraint, version string) (bool, error)
}

// DependencyResolver extends a selection with its dependency closure within
// the repository (filter_with_deps): keep[i] says whether items[i] is selected,
// and AddDependencies sets keep for every item a selected one needs.
type DependencyResolver interface {
	AddDependencies(ctx context.Context, items []Item, keep []bool) error
}

// Comparer orders two versions of the same package name in the format's own
// version order (rpm EVR, dpkg, SemVer): negative, zero or positive.
type Comparer interface {
	Compare(a, b string) int
}

// ErrUnknownFormat is returned by Registry.Lookup for a name it does not hold.
var ErrUnknownFormat = errors.New("formats: unknown format")
