package fetch

import (
	"fmt"

	"github.com/chantal-lite/chantal/internal/relpath"
)

// cleanPath confines an upstream-relative path (relpath.Clean); a refused one
// is an error wrapping ErrPath.
func cleanPath(p string) (string, error) {
	c, err := relpath.Clean(p)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrPath, err)
	}
	return c, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
