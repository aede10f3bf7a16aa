package apt

import (
	"path"
	"strings"

	"github.com/chantal-lite/chantal/formats"
)

// PublishPath implements formats.Layouter: pool/<component>/<prefix>/<source>/<file>,
// where prefix is the source's first letter, or "lib" and the next letter for
// lib* sources, as in Debian's archive. Names are reduced to safe characters,
// so no upstream value can leave pool/.
func (f *Format) PublishPath(it formats.Item) string {
	comp := it.Fields["component"]
	if !ValidToken(comp) {
		comp = "main"
	}
	src := safeName(it.Fields["source"])
	if src == "_" {
		src = safeName(it.Name)
	}
	prefix := src[:1]
	if strings.HasPrefix(src, "lib") && len(src) > 3 {
		prefix = src[:4]
	}
	return "pool/" + comp + "/" + prefix + "/" + src + "/" + safeName(path.Base(it.Path))
}

// safeName keeps letters, digits and ".+-_~" (a file or package name), turning
// anything else into "_"; a name starting with "." gets a "_" in front.
func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '+' || c == '-' || c == '_' || c == '~') {
			b[i] = '_'
		}
	}
	if len(b) == 0 || b[0] == '.' {
		b = append([]byte{'_'}, b...)
	}
	return string(b)
}
