package helm_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/formats/helm"
	"github.com/chantal-lite/chantal/formats/helm/helmtest"
)

// ociRegistry adapts helmtest.Registry to these tests.
type ociRegistry struct{ *helmtest.Registry }

func newOCIRegistry(t testing.TB, user, pass string) *ociRegistry {
	return &ociRegistry{helmtest.NewRegistry(t, user, pass)}
}

func (r *ociRegistry) host() string                        { return r.Host() }
func (r *ociRegistry) push(repo, tag string, chart []byte) { r.Push(repo, tag, chart) }

// fileHost serves files and records the Authorization headers it saw.
type fileHost struct {
	mu    sync.Mutex
	files map[string][]byte
	auth  []string
	srv   *httptest.Server
}

func newFileHost(t testing.TB, files map[string][]byte) *fileHost {
	h := &fileHost{files: files}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.auth = append(h.auth, r.Header.Get("Authorization"))
		b, ok := h.files[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func fetchAll(f *helm.Format, req helm.FetchRequest) ([]byte, error) {
	rc, err := f.Fetch(context.Background(), req)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func TestFetchRemoteAndOCI(t *testing.T) {
	f := helm.New(nil)
	alpha := readFixture(t, "repo/charts/alpha-0.2.0.tgz")
	epsilon := readFixture(t, "remote/epsilon-1.0.0.tgz")
	delta := readFixture(t, "oci/delta-3.0.0.tgz")
	feed := newFileHost(t, map[string][]byte{"repo/charts/alpha-0.2.0.tgz": alpha})
	other := newFileHost(t, map[string][]byte{"x/epsilon-1.0.0.tgz": epsilon})
	reg := newOCIRegistry(t, "robot", "s3cret")
	reg.push("charts/delta", "3.0.0", delta)

	base := feed.srv.URL + "/repo/"
	top := &formats.TopLevel{Data: remoteIndex(t, base, other.srv.URL+"/x/", reg.host())}
	items := scanAll(t, f, formats.ScanRequest{Top: top})
	if len(items) != 3 {
		t.Fatalf("%d items", len(items))
	}
	creds := helm.Credentials{Username: "feeduser", Password: "feedpass"}
	want := map[string][]byte{"alpha": alpha, "delta": delta, "epsilon": epsilon}
	for _, it := range items {
		got, err := fetchAll(f, helm.FetchRequest{
			Item: it, Base: base, Credentials: creds, PlainHTTP: true,
			Registries: map[string]helm.Credentials{reg.host(): {Username: "robot", Password: "s3cret"}},
		})
		if err != nil {
			t.Errorf("%s: %v", it.Name, err)
			continue
		}
		if string(got) != string(want[it.Name]) {
			t.Errorf("%s: wrong bytes", it.Name)
		}
	}
	// Feed credentials go to the feed's origin only.
	if len(feed.auth) != 1 || !strings.HasPrefix(feed.auth[0], "Basic ") {
		t.Errorf("feed saw auth %q, want basic auth", feed.auth)
	}
	if len(other.auth) != 1 || other.auth[0] != "" {
		t.Errorf("second host saw auth %q, want none", other.auth)
	}

	// Wrong registry credentials fail; a digest the index disagrees with fails early.
	var delt formats.Item
	for _, it := range items {
		if it.Name == "delta" {
			delt = it
		}
	}
	if _, err := fetchAll(f, helm.FetchRequest{Item: delt, PlainHTTP: true}); err == nil {
		t.Error("anonymous pull from an authenticated registry succeeded")
	}
	bad := delt
	bad.Checksums = formats.Checksums{"sha256": strings.Repeat("c", 64)}
	_, err := fetchAll(f, helm.FetchRequest{Item: bad, PlainHTTP: true, Registries: map[string]helm.Credentials{reg.host(): {Username: "robot", Password: "s3cret"}}})
	if !errors.Is(err, helm.ErrFetch) {
		t.Errorf("digest mismatch: %v, want ErrFetch", err)
	}
	// A tagless reference uses the version as the tag ('+' as '_').
	reg.push("charts/delta", "3.0.0_b1", delta)
	tagless := delt
	tagless.Version = "3.0.0+b1"
	tagless.Fields = map[string]string{helm.FieldURL: "oci://" + reg.host() + "/charts/delta"}
	if got, err := fetchAll(f, helm.FetchRequest{Item: tagless, PlainHTTP: true, Registries: map[string]helm.Credentials{reg.host(): {Username: "robot", Password: "s3cret"}}}); err != nil || string(got) != string(delta) {
		t.Errorf("tagless oci reference: %v", err)
	}
}

func TestFetchVerifies(t *testing.T) {
	f := helm.New(nil)
	h := newFileHost(t, map[string][]byte{"a.tgz": []byte("tampered")})
	it := formats.Item{Name: "a", Version: "1.0.0", Checksums: formats.Checksums{"sha256": strings.Repeat("d", 64)},
		Fields: map[string]string{helm.FieldURL: h.srv.URL + "/a.tgz"}}
	if _, err := fetchAll(f, helm.FetchRequest{Item: it}); err == nil {
		t.Error("Fetch returned bytes that do not match the index digest")
	}
	it.Fields[helm.FieldURL] = h.srv.URL + "/missing.tgz"
	if _, err := fetchAll(f, helm.FetchRequest{Item: it}); err == nil {
		t.Error("404 not reported")
	}
	for _, u := range []string{"file:///etc/passwd", "http://user:pw@127.0.0.1/a.tgz"} {
		it.Fields[helm.FieldURL] = u
		if _, err := fetchAll(f, helm.FetchRequest{Item: it}); !errors.Is(err, helm.ErrFetch) {
			t.Errorf("%s: %v, want ErrFetch", u, err)
		}
	}
}
