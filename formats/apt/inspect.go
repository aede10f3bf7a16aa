package apt

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/pool"
)

const arMagic = "!<arch>\n"

// arMember is one member of an ar archive.
type arMember struct {
	name      string
	off, size int64
}

// readAr lists the members of an ar archive of the given size. Member sizes
// are untrusted: a size that is not a non-negative decimal, or that runs past
// the end of the archive, is an error.
func readAr(r io.ReaderAt, size int64) ([]arMember, error) {
	var magic [8]byte
	if _, err := r.ReadAt(magic[:], 0); err != nil || string(magic[:]) != arMagic {
		return nil, fmt.Errorf("%w: not an ar archive", ErrMalformed)
	}
	var out []arMember
	off := int64(len(arMagic))
	for off < size && len(out) < 64 {
		if size-off < 60 {
			return nil, fmt.Errorf("%w: truncated ar header at %d", ErrMalformed, off)
		}
		var h [60]byte
		if _, err := r.ReadAt(h[:], off); err != nil {
			return nil, fmt.Errorf("%w: reading ar header: %v", ErrMalformed, err)
		}
		if h[58] != '`' || h[59] != '\n' {
			return nil, fmt.Errorf("%w: bad ar header at %d", ErrMalformed, off)
		}
		name := strings.TrimRight(string(h[0:16]), " ")
		name = strings.TrimSuffix(name, "/")
		szs := strings.TrimRight(string(h[48:58]), " ")
		n, err := strconv.ParseInt(szs, 10, 64)
		if err != nil || n < 0 || szs == "" || szs[0] == '+' || szs[0] == '-' {
			return nil, fmt.Errorf("%w: bad ar member size %q", ErrMalformed, szs)
		}
		off += 60
		if n > size-off {
			return nil, fmt.Errorf("%w: ar member %q runs past the end", ErrMalformed, clip(name))
		}
		out = append(out, arMember{name: name, off: off, size: n})
		off += n + n%2
	}
	return out, nil
}

// Inspect implements formats.Inspector for an uploaded .deb: it reads the
// control member (control.tar, .gz, .xz or .zst, decompressed to at most
// MaxControlSize bytes) and returns an Item whose fragment is the control
// stanza, with all checksums of the file. Component defaults to none; the
// caller sets Fields["component"].
func (f *Format) Inspect(ctx context.Context, r io.ReaderAt, size int64) (formats.Item, error) {
	var it formats.Item
	ms, err := readAr(r, size)
	if err != nil {
		return it, err
	}
	if len(ms) < 3 || ms[0].name != "debian-binary" {
		return it, fmt.Errorf("%w: not a .deb (first member is not debian-binary)", ErrMalformed)
	}
	var ctl []byte
	for _, m := range ms {
		if m.name != "control.tar" && !strings.HasPrefix(m.name, "control.tar.") {
			continue
		}
		if ctl, err = controlFile(io.NewSectionReader(r, m.off, m.size), m.name); err != nil {
			return it, err
		}
		break
	}
	if ctl == nil {
		return it, fmt.Errorf("%w: no control member", ErrMalformed)
	}
	if err := ctx.Err(); err != nil {
		return it, err
	}
	sr := newStanzaReader(bytes.NewReader(ctl), DefaultMaxStanzaSize)
	raw, err := sr.next()
	if err != nil {
		return it, fmt.Errorf("%w: control file: %v", ErrMalformed, err)
	}
	fs, err := parseFields(raw, nil)
	if err != nil {
		return it, fmt.Errorf("%w: control file: %v", ErrMalformed, err)
	}
	for _, n := range []string{"Package", "Version", "Architecture"} {
		v, ok := get(fs, n)
		if !ok || len(v) == 0 || bytes.ContainsAny(v, "\n /") {
			return it, fmt.Errorf("%w: control file: missing or bad %s", ErrMalformed, n)
		}
	}
	name, _ := get(fs, "Package")
	ver, _ := get(fs, "Version")
	arch, _ := get(fs, "Architecture")
	it.Name, it.Version, it.Arch = string(name), string(ver), string(arch)
	if !ValidToken(it.Arch) {
		return it, fmt.Errorf("%w: architecture %q is not a plain token", ErrMalformed, clip(it.Arch))
	}
	v := it.Version
	if i := strings.IndexByte(v, ':'); i >= 0 {
		v = v[i+1:]
	}
	it.Path = safeName(it.Name) + "_" + safeName(v) + "_" + it.Arch + ".deb"
	it.Size = size
	hs := []io.Writer{md5.New(), sha1.New(), sha256.New(), sha512.New()}
	if _, err := io.Copy(io.MultiWriter(hs...), io.NewSectionReader(r, 0, size)); err != nil {
		return it, fmt.Errorf("reading package: %w", err)
	}
	sum := func(i int) string { return hex.EncodeToString(hs[i].(interface{ Sum([]byte) []byte }).Sum(nil)) }
	it.Checksums = formats.Checksums{"md5": sum(0), "sha1": sum(1), "sha256": sum(2), "sha512": sum(3)}
	if it.Digest, err = pool.Parse(sum(2)); err != nil {
		return it, err
	}
	it.Fields = map[string]string{"source": sourceName(fs, it.Name)}
	for _, c := range []struct{ field, key string }{{"Section", "section"}, {"Priority", "priority"}} {
		if v, ok := get(fs, c.field); ok && len(v) > 0 && !bytes.ContainsAny(v, "\n") {
			it.Fields[c.key] = string(v)
		}
	}
	it.Fragments = map[string][]byte{FragmentStanza: bytes.Clone(raw)}
	return it, nil
}

// controlFile returns ./control from a control.tar member, bounded.
func controlFile(r io.Reader, name string) ([]byte, error) {
	dr, err := decompress(r, name, MaxControlSize)
	if err != nil {
		return nil, err
	}
	defer dr.Close()
	tr := tar.NewReader(dr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, fmt.Errorf("%w: %s has no control file", ErrMalformed, name)
		}
		if err != nil {
			if errors.Is(err, ErrTooLarge) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: reading %s: %v", ErrMalformed, name, err)
		}
		if h.Name != "./control" && h.Name != "control" {
			continue
		}
		if h.Typeflag != tar.TypeReg || h.Size > DefaultMaxStanzaSize {
			return nil, fmt.Errorf("%w: %s: control is not a small regular file", ErrMalformed, name)
		}
		return io.ReadAll(tr)
	}
}
