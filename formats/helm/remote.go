package helm

import (
	"context"
	"io"
	"path"

	"github.com/chantal-lite/chantal/formats"
)

// FetchRemote implements formats.RemoteFetcher over Fetch: absolute chart URLs
// and oci:// references. Registry credentials are the repository's own when the
// registry is the feed's host.
func (f *Format) FetchRemote(ctx context.Context, req formats.RemoteRequest) (io.ReadCloser, error) {
	return f.Fetch(ctx, FetchRequest{
		Item:        req.Item,
		Base:        req.Feed,
		Client:      req.Client,
		Credentials: Credentials{Username: req.Credentials.Username, Password: req.Credentials.Password, Token: req.Credentials.Token},
		PlainHTTP:   req.Params["oci_plain_http"] == "true",
	})
}

// Companions implements formats.Companioner: a chart's provenance file, kept
// only when it names exactly this chart's bytes.
func (f *Format) Companions(it formats.Item, from string) []formats.Companion {
	if it.Fields[FieldRemote] == "true" {
		return nil // provenance of remote charts is not probed
	}
	sum := it.Checksums["sha256"]
	if sum == "" && !it.Digest.IsZero() {
		sum = it.Digest.String()
	}
	name := path.Base(from)
	return []formats.Companion{{
		From:    ProvenancePath(from),
		Path:    ProvenancePath(it.Path),
		Kind:    KindProvenance,
		MaxSize: maxProvSize,
		Check: func(data []byte) error {
			return CheckProvenance(data, name, sum)
		},
	}}
}
