package errata

import (
	"encoding/json"
	"fmt"
)

// Marshal encodes a for storage, for example as the Data of a catalog
// advisory record. The encoding is JSON with the field names of Advisory;
// Unmarshal reads it back.
func Marshal(a *Advisory) ([]byte, error) {
	b, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("encode advisory %s: %w", a.ID, err)
	}
	return b, nil
}

// Unmarshal decodes what Marshal produced.
func Unmarshal(b []byte) (Advisory, error) {
	var a Advisory
	if err := json.Unmarshal(b, &a); err != nil {
		return Advisory{}, fmt.Errorf("decode advisory: %w: %v", ErrMalformed, err)
	}
	return a, nil
}
