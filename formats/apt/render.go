package apt

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/chantal-lite/chantal/formats"
)

// Render implements formats.Format. Mirror mode copies every upstream file
// verbatim; filtered and hosted mode regenerate the indexes, the Release and
// its signatures, by pieces (see RenderPiece and RenderStreams), from the
// items in Path order with one item per published path.
func (f *Format) Render(ctx context.Context, req formats.RenderRequest) error {
	switch req.Mode {
	case formats.ModeMirror:
		for _, fl := range req.Files {
			if err := copyFile(ctx, req, fl); err != nil {
				return err
			}
		}
		return nil
	case formats.ModeFiltered, formats.ModeHosted:
		if _, err := parseParams(req.Params); err != nil {
			return fmt.Errorf("rendering apt metadata: %w", err)
		}
		req.Logger = f.logger(req.Logger)
		req.Items = onePerPath(req.Items, req.Logger)
		return formats.RenderPieces(ctx, f, req, nil)
	}
	return fmt.Errorf("rendering apt metadata: %w: unknown mode %q", ErrConfig, req.Mode)
}

// MirrorFromFiles implements formats.MirrorFromFiles: mirror mode copies
// the upstream files and links the payloads, reading nothing else of them.
func (f *Format) MirrorFromFiles() bool { return true }

func copyFile(ctx context.Context, req formats.RenderRequest, fl formats.File) error {
	if req.Open == nil {
		return fmt.Errorf("copying %s: no Open function", fl.Path)
	}
	rc, err := req.Open(ctx, fl.Digest)
	if err != nil {
		return fmt.Errorf("copying %s: %w", fl.Path, err)
	}
	defer rc.Close()
	w, err := req.Sink.Create(ctx, fl.Path)
	if err != nil {
		return fmt.Errorf("copying %s: %w", fl.Path, err)
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(w, h), rc)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copying %s: %w", fl.Path, err)
	}
	if !fl.Digest.IsZero() && !bytes.Equal(h.Sum(nil), fl.Digest[:]) {
		return fmt.Errorf("copying %s: %w: content does not match its digest", fl.Path, ErrMalformed)
	}
	return nil
}

// componentOf is the component an item is published in: the one its
// published path names (pool/<component>/…, as PublishPath lays it out), so
// that the index and the pool always agree, even when the digest-keyed item's
// fields were written by another repository; else its "component" field;
// else def.
func componentOf(it *formats.Item, def string) string {
	if rest, ok := strings.CutPrefix(it.Path, "pool/"); ok {
		if c, _, ok := strings.Cut(rest, "/"); ok && ValidToken(c) {
			return c
		}
	}
	if c := it.Fields["component"]; c != "" {
		return c
	}
	return def
}

// upstreamRelease reads the upstream Release kept in the state (filtered
// mode), for its Suite and Codename; nil when there is none.
func upstreamRelease(ctx context.Context, req formats.RenderRequest, p params) *Release {
	if req.Open == nil {
		return nil
	}
	for _, fl := range req.Files {
		if fl.Path != p.base()+"InRelease" && fl.Path != p.base()+"Release" {
			continue
		}
		rc, err := req.Open(ctx, fl.Digest)
		if err != nil {
			return nil
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxReleaseSize))
		rc.Close()
		if err != nil {
			return nil
		}
		if isClearsigned(b) {
			// Verified at sync time; here only Suite and Codename are read.
			if b, err = stripClearsign(b); err != nil {
				return nil
			}
		}
		r, err := ParseRelease(b)
		if err != nil {
			return nil
		}
		return r
	}
	return nil
}

// releaseDate is the Date format Debian's archive uses.
const releaseDate = "Mon, 02 Jan 2006 15:04:05 UTC"

func releaseText(p params, up *Release, req formats.RenderRequest, comps, archs []string, files []rendered) []byte {
	suite, code := p.suite, p.code
	if up != nil {
		if suite == "" && ValidToken(up.Suite) {
			suite = up.Suite
		}
		if code == "" && ValidToken(up.Codename) {
			code = up.Codename
		}
	}
	if suite == "" {
		suite = p.dist
	}
	if code == "" {
		code = p.dist
	}
	var b bytes.Buffer
	bw := bufio.NewWriter(&b)
	one := func(n, v string) {
		if v != "" {
			writeField(bw, n, []byte(v))
		}
	}
	one("Origin", p.origin)
	one("Label", p.label)
	if !p.flat {
		one("Suite", suite)
		one("Codename", code)
	}
	now := req.Now.UTC()
	one("Date", now.Format(releaseDate))
	if p.valid > 0 {
		one("Valid-Until", now.Add(p.valid).Format(releaseDate))
	}
	var as []string
	for _, a := range archs {
		if a != "all" {
			as = append(as, a)
		}
	}
	if len(as) == 0 {
		as = []string{"all"}
	}
	one("Architectures", strings.Join(as, " "))
	if !p.flat {
		one("Components", strings.Join(comps, " "))
	}
	if p.byHash {
		one("Acquire-By-Hash", "yes")
	}
	width := 0
	for _, r := range files {
		width = max(width, len(strconv.FormatInt(r.size, 10)))
	}
	for i, h := range []string{"MD5Sum", "SHA1", "SHA256", "SHA512"} {
		bw.WriteString(h + ":\n")
		for _, r := range files {
			fmt.Fprintf(bw, " %s %*d %s\n", r.sums[i], width, r.size, r.name)
		}
	}
	bw.Flush()
	return b.Bytes()
}
