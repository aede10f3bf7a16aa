package helm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/internal/verify"
)

// Media types of a Helm chart in an OCI registry.
const (
	ChartLayerMediaType  = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
	ConfigMediaType      = "application/vnd.cncf.helm.config.v1+json"
	legacyChartMediaType = "application/tar+gzip"
	maxManifestSize      = 4 << 20
)

// ErrFetch is wrapped by Fetch errors that are not transport errors: an
// unusable URL, a manifest without a chart layer, a digest that disagrees
// with the index.
var ErrFetch = errors.New("helm: cannot fetch chart")

// Credentials authenticate chart downloads. They never appear in URLs, logs
// or errors.
type Credentials struct {
	Username, Password string
	// Token is a bearer token (an OCI registry access token).
	Token string
}

func (c Credentials) empty() bool { return c == Credentials{} }

// FetchRequest says which chart Fetch downloads and how.
type FetchRequest struct {
	// Item is a scanned chart; Fetch reads Item.Fields[FieldURL] (or Item.Path
	// when unset) and verifies against Item.Checksums when it has any.
	Item formats.Item
	// Base is the repository's feed URL; relative chart URLs resolve against it.
	Base string
	// Client sends the requests (TLS, proxy and timeouts are its business);
	// nil means a plain http.Client.
	Client *http.Client
	// Credentials are sent to http(s) chart URLs with Base's scheme, host and
	// port only, never to other hosts an index names.
	Credentials Credentials
	// Registries holds OCI registry credentials by host[:port], as in the
	// oci:// reference. A registry without an entry is accessed anonymously.
	Registries map[string]Credentials
	// PlainHTTP talks to OCI registries over http instead of https.
	PlainHTTP bool
}

// Fetch downloads a chart whose URL the repository-relative Source cannot
// reach (Item.Fields[FieldRemote] == "true"): an absolute http(s) URL, a
// relative URL leaving the feed, or an oci:// reference pulled over the OCI
// distribution API (manifest, then the chart layer). The reader verifies size
// and checksum as it streams and returns an error instead of io.EOF on a
// mismatch; with no checksum on the item only the OCI layer digest is checked.
// The caller closes the reader.
func (f *Format) Fetch(ctx context.Context, req FetchRequest) (io.ReadCloser, error) {
	raw := req.Item.Fields[FieldURL]
	if raw == "" {
		raw = req.Item.Path
	}
	client := req.Client
	if client == nil {
		client = &http.Client{}
	}
	kind, _ := classify(raw)
	switch kind {
	case urlBad:
		return nil, fmt.Errorf("%w: unusable url %q", ErrFetch, clip(raw))
	case urlOCI:
		return f.fetchOCI(ctx, req, raw, client)
	}
	return fetchHTTP(ctx, req, raw, client)
}

func fetchHTTP(ctx context.Context, req FetchRequest, raw string, client *http.Client) (io.ReadCloser, error) {
	ref, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFetch, err)
	}
	u := ref
	var base *url.URL
	if req.Base != "" {
		if base, err = url.Parse(req.Base); err != nil {
			return nil, fmt.Errorf("%w: base url: %v", ErrFetch, err)
		}
		if !strings.HasSuffix(base.Path, "/") {
			base.Path += "/"
		}
		u = base.ResolveReference(ref)
	}
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		return nil, fmt.Errorf("%w: %s url", ErrFetch, clip(u.Scheme))
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: chart url carries credentials", ErrFetch)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFetch, err)
	}
	if base != nil && sameOrigin(base, u) && !req.Credentials.empty() {
		if c := req.Credentials; c.Token != "" {
			hreq.Header.Set("Authorization", "Bearer "+c.Token)
		} else {
			hreq.SetBasicAuth(c.Username, c.Password)
		}
	}
	resp, err := client.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", redact(u), stripURL(err))
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("fetching %s: %s", redact(u), resp.Status)
	}
	return verified(resp.Body, req.Item.Size, req.Item.Checksums)
}

func (f *Format) fetchOCI(ctx context.Context, req FetchRequest, raw string, client *http.Client) (io.ReadCloser, error) {
	ref, err := registry.ParseReference(raw[len("oci://"):])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFetch, err)
	}
	if ref.Reference == "" {
		// Helm tags a chart with its version, '+' (not allowed in tags) as '_'.
		ref.Reference = strings.ReplaceAll(req.Item.Version, "+", "_")
	}
	repo := &remote.Repository{Reference: ref, PlainHTTP: req.PlainHTTP}
	ac := &auth.Client{Client: client, Cache: auth.NewCache()}
	if c, ok := req.Registries[ref.Registry]; ok && !c.empty() {
		ac.Credential = auth.StaticCredential(ref.Registry, auth.Credential{Username: c.Username, Password: c.Password, AccessToken: c.Token})
	}
	repo.Client = ac
	mdesc, mrc, err := repo.FetchReference(ctx, ref.Reference)
	if err != nil {
		return nil, fmt.Errorf("fetching manifest of %s: %w", clip(ref.String()), err)
	}
	if mdesc.Size > maxManifestSize || mdesc.Size < 0 {
		mrc.Close()
		return nil, fmt.Errorf("%w: manifest of %d bytes", ErrFetch, mdesc.Size)
	}
	mb, err := io.ReadAll(io.LimitReader(mrc, maxManifestSize+1))
	mrc.Close()
	if err != nil {
		return nil, fmt.Errorf("reading manifest of %s: %w", clip(ref.String()), err)
	}
	if int64(len(mb)) != mdesc.Size || mdesc.Digest.Validate() != nil || digest.FromBytes(mb) != mdesc.Digest && mdesc.Digest.Algorithm() == digest.SHA256 {
		return nil, fmt.Errorf("%w: manifest of %s does not match its descriptor", ErrFetch, clip(ref.String()))
	}
	var m ocispec.Manifest
	dec := json.NewDecoder(bytes.NewReader(mb))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: manifest: %v", ErrFetch, err)
	}
	var layer *ocispec.Descriptor
	for i := range m.Layers {
		if mt := m.Layers[i].MediaType; mt == ChartLayerMediaType || mt == legacyChartMediaType {
			layer = &m.Layers[i]
			break
		}
	}
	if layer == nil {
		return nil, fmt.Errorf("%w: %s has no chart layer", ErrFetch, clip(ref.String()))
	}
	if layer.Digest.Algorithm() != digest.SHA256 || layer.Digest.Validate() != nil || layer.Size < 0 {
		return nil, fmt.Errorf("%w: chart layer digest %q", ErrFetch, clip(string(layer.Digest)))
	}
	hexsum := layer.Digest.Encoded()
	if want := req.Item.Checksums["sha256"]; want != "" && want != hexsum {
		return nil, fmt.Errorf("%w: %s: registry layer sha256 %s, index says %s", ErrFetch, clip(ref.String()), hexsum, want)
	}
	rc, err := repo.Blobs().Fetch(ctx, *layer)
	if err != nil {
		return nil, fmt.Errorf("fetching chart layer of %s: %w", clip(ref.String()), err)
	}
	sums := formats.Checksums{"sha256": hexsum}
	for k, v := range req.Item.Checksums {
		if k != "sha256" {
			sums[k] = v
		}
	}
	return verified(rc, layer.Size, sums)
}

// verified wraps rc in a verifying reader when sums names a trusted checksum.
func verified(rc io.ReadCloser, size int64, sums formats.Checksums) (io.ReadCloser, error) {
	if _, _, err := verify.Strongest(sums); err != nil {
		return rc, nil
	}
	vr, err := verify.NewReader(rc, size, sums)
	if err != nil {
		rc.Close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{vr, rc}, nil
}

func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Host, b.Host)
}

func redact(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery = ""
	return clip(c.String())
}

// stripURL keeps an error's cause without the request URL (which may carry a
// signed query).
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
