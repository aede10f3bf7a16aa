package formats

import (
	"context"
	"io"
)

// A PackageVerifier checks a payload's own signature (an RPM's header
// signature) against the repository's trusted keys, after the caller has
// downloaded and checksummed it. The caller calls it only when the repository
// asks for it (verify.gpgcheck); a payload that fails is not published.
type PackageVerifier interface {
	VerifyPackage(ctx context.Context, r io.ReaderAt, size int64, keys Keyring) error
}

// A KeyPublisher names where the format's clients look for the upstream
// repository's trust anchors in the published tree (for rpm
// "RPM-GPG-KEY-<repo>", which dnf's gpgkey= points at). The caller publishes
// the repository's verify.keys there, in every mode; the metadata signing
// key is published elsewhere and never under this name.
type KeyPublisher interface {
	UpstreamKeyPath(repo string) string
}

// LinkKindPrefix starts the Kind of a File that is published like a payload:
// hard-linked from the pool at its Path and not passed to Render (installer
// images listed by an RPM tree's .treeinfo, a chart's .prov).
const LinkKindPrefix = "link:"
