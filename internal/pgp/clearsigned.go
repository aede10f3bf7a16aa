package pgp

import (
	"bytes"
	"crypto"
	"fmt"
	"strings"
)

const (
	beginSigned    = "-----BEGIN PGP SIGNED MESSAGE-----"
	beginSignature = "-----BEGIN PGP SIGNATURE-----"
	endSignature   = "-----END PGP SIGNATURE-----"
)

// hashNames maps the values allowed in a clearsigned "Hash:" armor header.
var hashNames = map[string]crypto.Hash{
	"MD5": crypto.MD5, "SHA1": crypto.SHA1, "RIPEMD160": crypto.RIPEMD160,
	"SHA224": crypto.SHA224, "SHA256": crypto.SHA256, "SHA384": crypto.SHA384, "SHA512": crypto.SHA512,
	"SHA3-256": crypto.SHA3_256, "SHA3-512": crypto.SHA3_512,
}

// A clearsigned message split into its parts.
type clearsigned struct {
	hashes    []crypto.Hash // from "Hash:" headers; nil if none
	canonical []byte        // the signed bytes: lines joined by CRLF (RFC 4880 §7.1)
	payload   []byte        // the same lines, each ended by LF
	armored   []byte        // the signature block, BEGIN to END line
}

// parseClearsigned splits msg strictly: the start line first, Hash headers,
// one empty line, dash-escaped text, one signature block and then nothing but
// white space. Lines may end in LF or CRLF.
func parseClearsigned(msg []byte) (*clearsigned, error) {
	rest := msg
	line, rest, _ := cutLine(rest)
	if trimEOL(line) != beginSigned {
		if bytes.Contains(msg, []byte(beginSigned)) {
			return nil, fmt.Errorf("%w: content before %s", ErrMalformed, beginSigned)
		}
		return nil, ErrNotSigned
	}
	cs := &clearsigned{}
	for {
		var ok bool
		line, rest, ok = cutLine(rest)
		if !ok {
			return nil, fmt.Errorf("%w: no text after the armor headers", ErrMalformed)
		}
		l := trimEOL(line)
		if l == "" {
			break
		}
		name, val, found := strings.Cut(l, ":")
		if !found || strings.TrimSpace(name) != "Hash" {
			return nil, fmt.Errorf("%w: armor header %q not allowed in a clearsigned message", ErrMalformed, l)
		}
		for _, v := range strings.Split(val, ",") {
			h, known := hashNames[strings.ToUpper(strings.TrimSpace(v))]
			if !known {
				return nil, fmt.Errorf("%w: unknown hash %q in Hash header", ErrMalformed, strings.TrimSpace(v))
			}
			cs.hashes = append(cs.hashes, h)
		}
	}
	var canonical, payload bytes.Buffer
	first := true
	for {
		var ok bool
		line, rest, ok = cutLine(rest)
		if !ok {
			return nil, fmt.Errorf("%w: no signature block", ErrMalformed)
		}
		l := trimEOL(line)
		if l == beginSignature {
			break
		}
		if strings.HasPrefix(l, "-") {
			if !strings.HasPrefix(l, "- ") {
				return nil, fmt.Errorf("%w: line %.40q starts with an unescaped dash", ErrMalformed, l)
			}
			l = l[2:]
		}
		l = strings.TrimRight(l, " \t")
		if !first {
			canonical.WriteString("\r\n")
		}
		first = false
		canonical.WriteString(l)
		payload.WriteString(l)
		payload.WriteByte('\n')
	}
	sigStart := len(msg) - len(rest) - len(line)
	end := bytes.Index(rest, []byte("\n"+endSignature))
	if end < 0 {
		return nil, fmt.Errorf("%w: signature block has no end line", ErrMalformed)
	}
	after := rest[end+1+len(endSignature):]
	if len(bytes.Trim(after, " \t\r\n")) != 0 {
		return nil, fmt.Errorf("%w: content after the signature block", ErrMalformed)
	}
	if bytes.Contains(rest[:end], []byte(beginSignature)) || bytes.Contains(rest[:end], []byte(beginSigned)) {
		return nil, fmt.Errorf("%w: nested armor inside the signature block", ErrMalformed)
	}
	cs.canonical = canonical.Bytes()
	cs.payload = payload.Bytes()
	cs.armored = msg[sigStart : len(msg)-len(after)]
	return cs, nil
}

// cutLine returns the first line of b including its LF, and the rest. ok is
// false when b is empty.
func cutLine(b []byte) (line, rest []byte, ok bool) {
	if len(b) == 0 {
		return nil, nil, false
	}
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i+1], b[i+1:], true
	}
	return b, nil, true
}

// trimEOL drops the line ending and trailing blanks (RFC 4880 §7.1 and §6.2
// ignore trailing white space on text and armor lines).
func trimEOL(line []byte) string {
	return string(bytes.TrimRight(line, " \t\r\n"))
}
