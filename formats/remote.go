package formats

import (
	"context"
	"io"
	"net/http"
)

// FieldRemote is the Item.Fields key a format sets to "true" for a payload that
// does not live under the repository root (an absolute URL on another host, an
// OCI reference). The caller fetches such items through the format's
// RemoteFetcher instead of the repository's Source.
const FieldRemote = "remote"

// Credentials authenticate to the repository's own host.
type Credentials struct {
	Username, Password, Token string
}

// RemoteRequest asks a RemoteFetcher for one payload.
type RemoteRequest struct {
	Item Item
	// Feed is the repository's URL; relative locations resolve against it.
	Feed string
	// Client carries the repository's TLS, proxy and timeout settings.
	Client *http.Client
	// Credentials may be sent to the feed's own scheme, host and port only.
	Credentials Credentials
	// Params are the repository's format parameters, as in ScanRequest.
	Params map[string]string
}

// A RemoteFetcher downloads payloads marked with FieldRemote. The reader must
// verify size and checksums while streaming (an error instead of io.EOF on a
// mismatch); the caller verifies the SHA-256 again when storing.
type RemoteFetcher interface {
	FetchRemote(ctx context.Context, req RemoteRequest) (io.ReadCloser, error)
}

// A Companion is a small file that belongs to one payload, such as a Helm
// chart's .prov provenance: fetched after the payload when upstream has it,
// checked against it, and published beside it.
type Companion struct {
	// From is the upstream path relative to the repository root.
	From string
	// Path is where it is published.
	Path string
	// Kind is the File.Kind it is kept under.
	Kind string
	// MaxSize bounds the download (default 1 MiB).
	MaxSize int64
	// Check validates the fetched bytes; nil accepts them.
	Check func(data []byte) error
}

// A Companioner names the companions of a payload. it.Path is the published
// path; from is the payload's upstream path.
type Companioner interface {
	Companions(it Item, from string) []Companion
}
