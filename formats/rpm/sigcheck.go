package rpm

import (
	"bytes"
	"context"
	"crypto"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/chantal-lite/chantal/formats"
)

var (
	_ formats.PackageVerifier = (*Format)(nil)
	_ formats.KeyPublisher    = (*Format)(nil)
)

// ErrUnsigned is returned (wrapped) by VerifyPackage for a package that
// carries no header signature.
var ErrUnsigned = errors.New("rpm: package has no header signature")

// Signature-header and main-header tags VerifyPackage reads.
const (
	sigTagDSAHeader   = 267 // OpenPGP signature (DSA, ECDSA, EdDSA) over the main header
	sigTagRSAHeader   = 268 // OpenPGP signature (RSA) over the main header
	tagPayloadDigest  = 5092
	tagPayloadDigAlgo = 5093
)

// payloadDigestAlgos maps rpm's PGPHASHALGO numbers to hashes.
var payloadDigestAlgos = map[uint32]crypto.Hash{8: crypto.SHA256, 9: crypto.SHA384, 10: crypto.SHA512, 11: crypto.SHA224}

// VerifyPackage checks a package as rpm's %_pkgverify_level signature does:
// the OpenPGP signature in the signature header (tag 268 RSAHEADER or 267
// DSAHEADER) must verify with keys over exactly the main header blob, and the
// payload (everything after the main header) must match the header's payload
// digest, which the signature covers. A package built before rpm 4.14 has
// no payload digest; its header signature does not bind the payload, which
// is then bound only by the checksum in the signed repository metadata (this
// is why verify.gpgcheck needs repository verification). Only the headers
// (at most MaxHeaderSize bytes) are held in memory.
func (f *Format) VerifyPackage(ctx context.Context, r io.ReaderAt, size int64, keys formats.Keyring) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if keys == nil {
		return errors.New("verifying package signature: no keys")
	}
	raw, start, end, err := readHeaders(r, size)
	if err != nil {
		return err
	}
	sigHdr := raw[leadSize:start]
	main := raw[start:end]
	var sig []byte
	for _, tag := range []uint32{sigTagRSAHeader, sigTagDSAHeader} {
		if typ, b, ok := headerEntry(sigHdr, tag); ok && typ == 7 && len(b) > 0 {
			sig = b
			break
		}
	}
	if sig == nil {
		return fmt.Errorf("verifying package signature: %w", ErrUnsigned)
	}
	if err := keys.VerifyDetached(main, sig); err != nil {
		return fmt.Errorf("verifying package signature: %w", err)
	}
	typ, dig, ok := headerEntry(main, tagPayloadDigest)
	if !ok {
		return nil
	}
	if typ != 8 && typ != 6 {
		return fmt.Errorf("verifying payload digest: %w: payload digest has type %d", ErrMalformed, typ)
	}
	want := string(dig)
	if i := strings.IndexByte(want, 0); i >= 0 {
		want = want[:i]
	}
	h := crypto.SHA256
	if atyp, a, ok := headerEntry(main, tagPayloadDigAlgo); ok {
		if atyp != 4 || len(a) < 4 {
			return fmt.Errorf("verifying payload digest: %w: bad digest algorithm entry", ErrMalformed)
		}
		if h, ok = payloadDigestAlgos[binary.BigEndian.Uint32(a)]; !ok {
			return fmt.Errorf("verifying payload digest: %w: unsupported digest algorithm %d", ErrMalformed, binary.BigEndian.Uint32(a))
		}
	}
	hh := h.New()
	if _, err := io.Copy(hh, &ctxReader{ctx: ctx, r: io.NewSectionReader(r, end, size-end)}); err != nil {
		return fmt.Errorf("verifying payload digest: %w", err)
	}
	if got := hex.EncodeToString(hh.Sum(nil)); !strings.EqualFold(got, strings.TrimSpace(want)) {
		return fmt.Errorf("verifying payload digest: %w: payload does not match the signed header", ErrMalformed)
	}
	return nil
}

// UpstreamKeyPath returns "RPM-GPG-KEY-<repo>", the file dnf's gpgkey=
// points at to check package signatures (and, in mirror mode, upstream's
// repomd.xml.asc).
func (f *Format) UpstreamKeyPath(repo string) string { return "RPM-GPG-KEY-" + repo }

// headerEntry finds tag in a header blob (intro, index, data store; layout
// already checked by readHeaders) and returns its type and data from its
// offset: count bytes for BIN, the rest of the store otherwise.
func headerEntry(hdr []byte, tag uint32) (typ uint32, data []byte, ok bool) {
	if len(hdr) < 16 {
		return 0, nil, false
	}
	n := int64(binary.BigEndian.Uint32(hdr[8:]))
	dl := int64(binary.BigEndian.Uint32(hdr[12:]))
	if 16+n*16+dl > int64(len(hdr)) {
		return 0, nil, false
	}
	index, store := hdr[16:16+n*16], hdr[16+n*16:16+n*16+dl]
	for i := 0; i+16 <= len(index); i += 16 {
		if binary.BigEndian.Uint32(index[i:]) != tag {
			continue
		}
		typ = binary.BigEndian.Uint32(index[i+4:])
		o := int64(binary.BigEndian.Uint32(index[i+8:]))
		c := int64(binary.BigEndian.Uint32(index[i+12:]))
		if o > int64(len(store)) {
			return 0, nil, false
		}
		if typ == 7 {
			if o+c > int64(len(store)) {
				return 0, nil, false
			}
			return typ, bytes.Clone(store[o : o+c]), true
		}
		return typ, store[o:], true
	}
	return 0, nil, false
}

// ctxReader stops a long read when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
