package relpath_test

import (
	"errors"
	"testing"

	"github.com/chantal-lite/chantal/internal/relpath"
)

func TestClean(t *testing.T) {
	for in, want := range map[string]string{"a/b": "a/b", "a//b/": "a/b", "a/./b": "a/b", "pool/main/h/hello_1.0_all.deb": "pool/main/h/hello_1.0_all.deb"} {
		if got, err := relpath.Clean(in); err != nil || got != want {
			t.Errorf("Clean(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "/etc/passwd", "a/../b", "..", "a\\b", "a\x00b", "a\nb", ".", "./"} {
		_, err := relpath.Clean(in)
		var e *relpath.Error
		if !errors.As(err, &e) {
			t.Errorf("Clean(%q) = %v, want a *relpath.Error", in, err)
		}
	}
}
