package helm

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/Masterminds/semver/v3"
	"go.yaml.in/yaml/v3"
)

// ErrIndex is wrapped by errors about index.yaml as a whole (not a YAML
// mapping, no entries mapping). Errors about single entries are EntryErrors,
// and never fail a scan.
var ErrIndex = errors.New("helm: invalid index.yaml")

// EntryError describes an index entry that was skipped.
type EntryError struct {
	// Name is the entries key; Index the position in its list.
	Name  string
	Index int
	// Version, when it could be read.
	Version string
	Reason  string
}

func (e *EntryError) Error() string {
	return fmt.Sprintf("helm: index entry %s[%d] (version %q) skipped: %s", clip(e.Name), e.Index, clip(e.Version), e.Reason)
}

// Index is a parsed index.yaml.
type Index struct {
	// Root is the document's top-level mapping (mirror mode keeps every key
	// but entries verbatim); its "entries" value lists at least the valid
	// entries.
	Root *yaml.Node
	// Entries are the valid chart versions, by name (sorted) then upstream order.
	Entries []Entry
	// Skipped are the entries that were not valid.
	Skipped []EntryError
}

// Entry is one chart version of an index.
type Entry struct {
	Name, Version string
	// Digest is the declared SHA-256 in lower-case hex, "" when absent, not a
	// string, or malformed (DigestNote says which).
	Digest     string
	DigestNote string
	// URLs as declared; at least one.
	URLs       []string
	Deprecated bool
	// Node is the entry's mapping node (anchors removed).
	Node *yaml.Node

	prerelease bool
}

// ParseIndex parses index.yaml data with strict typing: a document that is not
// a mapping with an "entries" mapping is an error wrapping ErrIndex; an entry
// with a bad name, version or urls is skipped and listed in Skipped; a digest
// that is not a 64-hex string (with or without "sha256:") counts as absent.
// Scan reads the same way, one chart name at a time.
func ParseIndex(data []byte) (*Index, error) {
	r, err := openIndex(data)
	if err != nil {
		return nil, err
	}
	ix := &Index{Root: r.root}
	for i := 0; i < r.len(); i++ {
		ix.Entries, ix.Skipped = groupEntries(r.group(i), ix.Entries, ix.Skipped)
	}
	if r.blocks != nil {
		// Give Root its entries mapping back, from the decoded groups.
		entries := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for i := range ix.Entries {
			e := &ix.Entries[i]
			n := len(entries.Content)
			if n == 0 || entries.Content[n-2].Value != e.Name {
				entries.Content = append(entries.Content, scalar(e.Name), &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"})
				n += 2
			}
			entries.Content[n-1].Content = append(entries.Content[n-1].Content, e.Node)
		}
		setKey(r.root, "entries", entries)
	}
	return ix, nil
}

// groupEntries appends the valid entries of one chart group to entries and
// the invalid ones to skipped.
func groupEntries(g chartGroup, entries []Entry, skipped []EntryError) ([]Entry, []EntryError) {
	k := g.key
	switch {
	case g.err != "":
		return entries, append(skipped, EntryError{Name: k.Value, Index: -1, Reason: g.err})
	case k.Kind != yaml.ScalarNode || k.Tag != "!!str" && k.Tag != "":
		return entries, append(skipped, EntryError{Name: k.Value, Reason: "chart name is not a string"})
	case !validToken(k.Value):
		return entries, append(skipped, EntryError{Name: k.Value, Reason: "invalid chart name"})
	case g.list.Kind != yaml.SequenceNode:
		return entries, append(skipped, EntryError{Name: k.Value, Reason: "versions are not a list"})
	}
	for j, n := range g.list.Content {
		e, reason := parseEntry(k.Value, n)
		if reason != "" {
			skipped = append(skipped, EntryError{Name: k.Value, Index: j, Version: e.Version, Reason: reason})
			continue
		}
		entries = append(entries, e)
	}
	return entries, skipped
}

// parseEntry checks one entry mapping; a non-empty reason means skip it.
func parseEntry(key string, n *yaml.Node) (Entry, string) {
	e := Entry{Node: n}
	if n.Kind != yaml.MappingNode {
		return e, "not a mapping"
	}
	if !clean(n) {
		return e, "uses YAML aliases or merge keys"
	}
	var haveURLs bool
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return e, "non-scalar key"
		}
		switch k.Value {
		case "name":
			s, ok := str(v)
			if !ok {
				return e, "name is not a string"
			}
			e.Name = s
		case "version":
			s, ok := str(v)
			if !ok {
				return e, "version is not a string"
			}
			e.Version = s
		case "digest":
			s, ok := str(v)
			switch {
			case !ok:
				e.DigestNote = "digest is not a string"
			default:
				h := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(s), "sha256:"))
				if isHex64(h) {
					e.Digest = h
				} else {
					e.DigestNote = "digest is not a SHA-256"
				}
			}
		case "urls":
			if v.Kind != yaml.SequenceNode {
				return e, "urls is not a list"
			}
			for _, u := range v.Content {
				s, ok := str(u)
				if !ok || s == "" {
					return e, "a url is not a string"
				}
				e.URLs = append(e.URLs, s)
			}
			haveURLs = true
		case "deprecated":
			e.Deprecated = v.Kind == yaml.ScalarNode && v.Tag == "!!bool" && (v.Value == "true" || v.Value == "True" || v.Value == "TRUE")
		}
	}
	switch {
	case e.Name == "":
		e.Name = key
	case e.Name != key:
		return e, fmt.Sprintf("name %q differs from its entries key", clip(e.Name))
	}
	if e.Version == "" {
		return e, "no version"
	}
	if !validToken(e.Version) {
		return e, "version has characters a path cannot hold"
	}
	v, err := semver.NewVersion(e.Version)
	if err != nil {
		return e, "version is not SemVer"
	}
	e.prerelease = v.Prerelease() != ""
	if !haveURLs || len(e.URLs) == 0 {
		return e, "no urls"
	}
	if e.DigestNote == "" && e.Digest == "" {
		e.DigestNote = "no digest"
	}
	return e, ""
}

// clean removes anchors and reports whether the tree is free of aliases and
// merge keys (which a re-emitted fragment could not carry).
func clean(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode || n.Tag == "!!merge" {
		return false
	}
	n.Anchor = ""
	for _, c := range n.Content {
		if !clean(c) {
			return false
		}
	}
	return true
}

// str returns a scalar's value when YAML types it as a string.
func str(n *yaml.Node) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		return "", false
	}
	return n.Value, true
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// URL kinds of a chart URL.
const (
	urlRelative = iota // confined path relative to the repository root
	urlForeign         // absolute http(s), a relative path leaving the root, or another scheme
	urlOCI             // oci:// reference
	urlBad             // unusable
)

// classify tells how a chart URL is fetched, and the clean repository-relative
// path for urlRelative.
func classify(raw string) (kind int, rel string) {
	if strings.ContainsFunc(raw, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return urlBad, ""
	}
	if strings.HasPrefix(strings.ToLower(raw), "oci://") {
		return urlOCI, ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return urlBad, ""
	}
	if u.Scheme != "" || u.Host != "" {
		switch strings.ToLower(u.Scheme) {
		case "http", "https":
			return urlForeign, ""
		}
		return urlBad, ""
	}
	p := u.Path
	if p == "" || strings.HasPrefix(p, "/") || strings.ContainsRune(p, '\\') {
		return urlForeign, ""
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == ".." {
			return urlForeign, ""
		}
	}
	c := path.Clean(p)
	if c == "." || strings.HasPrefix(c, ".") || c == IndexPath || strings.HasSuffix(c, ".prov") {
		return urlForeign, ""
	}
	if u.RawQuery != "" || u.Fragment != "" {
		// The published file cannot carry a query; fetch it as a foreign URL.
		return urlForeign, c
	}
	return urlRelative, c
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

func clipErr(err error) string { return clip(err.Error()) }
