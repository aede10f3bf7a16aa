package apt

import "errors"

// ErrMalformed is returned (wrapped) for metadata that cannot be parsed: a bad
// Release, an index whose content does not match its name, a .deb that is not
// an ar archive with a control member.
var ErrMalformed = errors.New("apt: malformed metadata")

// ErrTooLarge is returned (wrapped) when an index, a stanza or a control
// archive exceeds its size limit.
var ErrTooLarge = errors.New("apt: metadata exceeds size limit")

// ErrConfig is returned (wrapped) for repository parameters that cannot be
// used: a missing distribution, a component or architecture that is not a
// plain token.
var ErrConfig = errors.New("apt: invalid repository parameters")

// ErrExpired is returned (wrapped) when a Release's Valid-Until is in the past:
// a signature proves origin, not freshness.
var ErrExpired = errors.New("apt: release has expired")

// ErrUnsigned is returned (wrapped) by Verify when upstream offers neither a
// clearsigned InRelease nor a Release.gpg.
var ErrUnsigned = errors.New("apt: release is not signed")
