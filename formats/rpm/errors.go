package rpm

import (
	"errors"
	"fmt"
)

// ErrTooLarge is returned (wrapped) by Scan when a metadata file decompresses to
// more than Options.MaxMetadataSize bytes, or when the verbatim XML it must hold
// at once (one package element, or elements parked while matching unsorted
// filelists/other) exceeds Options.MaxHeldSize.
var ErrTooLarge = errors.New("rpm: metadata exceeds size limit")

// ErrMalformed is returned (wrapped) by Scan and ParseRepomd for metadata that is
// not what createrepo_c would write: bad XML, a missing primary, an unknown
// compression, a missing required field.
var ErrMalformed = errors.New("rpm: malformed metadata")

// ErrNotImplemented is returned by Render for modes this package cannot render yet.
var ErrNotImplemented = errors.New("rpm: not implemented")

// A LocationError reports an upstream location that cannot be served from the
// repository root: an absolute path, a URL, a ".." segment, or an xml:base that
// points elsewhere. Scan returns it for repomd data entries in every mode and
// for packages in mirror mode (whose published metadata would keep pointing
// there); in the other modes such packages are skipped with a warning, because
// the regenerated metadata does not name them. Callers can suggest filtered
// mode when they see it.
type LocationError struct {
	// File is the metadata file that declared the location ("repodata/repomd.xml").
	File string
	// Href is the location as declared, Base its xml:base ("" when none).
	Href, Base string
	// Reason says what is wrong ("absolute path", "parent directory" …).
	Reason string
	// Mirror is set when Scan refused a package location in mirror mode; the
	// message then suggests filtered mode, which republishes such packages.
	Mirror bool
}

// mirrorHint ends the message of a LocationError that only mirror mode trips on.
const mirrorHint = "; mirror mode cannot serve this repository verbatim; use mode: filtered"

func (e *LocationError) Error() string {
	hint := ""
	if e.Mirror {
		hint = mirrorHint
	}
	if e.Base != "" {
		return fmt.Sprintf("rpm: %s: location %q with xml:base %q: %s%s", e.File, clip(e.Href), clip(e.Base), e.Reason, hint)
	}
	return fmt.Sprintf("rpm: %s: location %q: %s%s", e.File, clip(e.Href), e.Reason, hint)
}

func clip(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}
