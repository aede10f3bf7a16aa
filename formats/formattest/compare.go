package formattest

import (
	"fmt"
	"sort"

	"github.com/chantal-lite/chantal/formats"
)

func sortItems(items []formats.Item) {
	sort.SliceStable(items, func(i, j int) bool { return items[i].Path < items[j].Path })
}

// identity is what must survive a render-then-scan round trip.
func identity(it formats.Item) string {
	sums := make([]string, 0, len(it.Checksums))
	for a, v := range it.Checksums {
		sums = append(sums, a+"="+v)
	}
	sort.Strings(sums)
	return fmt.Sprintf("%s %s %s %s size=%d digest=%s sums=%v", it.Path, it.Name, it.Version, it.Arch, it.Size, it.Digest, sums)
}

func diffItems(want, got []formats.Item) string {
	w := map[string]bool{}
	for _, it := range want {
		w[identity(it)] = true
	}
	g := map[string]bool{}
	for _, it := range got {
		g[identity(it)] = true
	}
	var missing, extra []string
	for k := range w {
		if !g[k] {
			missing = append(missing, k)
		}
	}
	for k := range g {
		if !w[k] {
			extra = append(extra, k)
		}
	}
	if len(missing) == 0 && len(extra) == 0 {
		return ""
	}
	sort.Strings(missing)
	sort.Strings(extra)
	return fmt.Sprintf("missing %v; unexpected %v", missing, extra)
}

func diffEntries(a, b []formats.Entry) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d entries vs %d", len(a), len(b))
	}
	for i := range a {
		if ka, kb := entryKey(a[i]), entryKey(b[i]); ka != kb {
			return fmt.Sprintf("entry %d: %s vs %s", i, ka, kb)
		}
	}
	return ""
}

func entryKey(e formats.Entry) string {
	if e.Item != nil {
		frag := make([]string, 0, len(e.Item.Fragments))
		for k, v := range e.Item.Fragments {
			frag = append(frag, fmt.Sprintf("%s:%x", k, v))
		}
		sort.Strings(frag)
		return "item " + identity(*e.Item) + fmt.Sprint(frag)
	}
	if e.File != nil {
		return fmt.Sprintf("file %s %s %d %s", e.File.Path, e.File.Kind, e.File.Size, e.File.Digest)
	}
	return "empty"
}
