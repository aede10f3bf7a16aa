package publish

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chantal-lite/chantal/pool"
)

const (
	stateFile = versionsDir + "/state.json"
	lockFile  = versionsDir + "/.lock"
)

// state is <target>/.versions/state.json: the kept versions, newest first;
// Versions[0] is the current one. Pending names a version whose switch began
// and did not finish; the next operation on the target switches back to
// Versions[0] and, if Pending is not kept, removes it.
type state struct {
	Versions []stateVersion `json:"versions"`
	Pending  string         `json:"pending,omitempty"`
	// Retired are versions a Rollback switched away from. Their payloads
	// stay until the next Publish drops them, so a client that read their
	// index just before the rollback can still fetch what it names.
	Retired []stateVersion `json:"retired,omitempty"`
}

type stateVersion struct {
	ID      string    `json:"id"`
	Key     string    `json:"key"`
	Created time.Time `json:"created"`
}

// manifest is <target>/.versions/<id>.manifest: what one version publishes.
type manifest struct {
	ID      string
	Key     string
	Created time.Time
	// Entries are the top-level names the version rendered, sorted.
	Entries []string
	// Items are the payloads, sorted by path; nil when read by
	// readManifestLines, which leaves them undecoded in lines.
	Items []manifestItem
	// lines are the item lines as written ("item <hex> <path>\n" each):
	// read by readManifestLines instead of Items, or encoded once by
	// itemLines for a manifest being written.
	lines string
}

// itemLines returns m's item lines, encoding them from Items once.
func (m *manifest) itemLines() string {
	if m.lines == "" && len(m.Items) > 0 {
		m.lines = encodeItems(m.Items)
	}
	return m.lines
}

// encodeItems returns the manifest lines of items.
func encodeItems(items []manifestItem) string {
	n := 0
	for _, it := range items {
		n += len("item  \n") + 2*len(it.Digest) + len(it.Path)
	}
	var b strings.Builder
	b.Grow(n)
	var h [2 * len(pool.Digest{})]byte
	for _, it := range items {
		hex.Encode(h[:], it.Digest[:])
		b.WriteString("item ")
		b.Write(h[:])
		b.WriteByte(' ')
		b.WriteString(it.Path)
		b.WriteByte('\n')
	}
	return b.String()
}

type manifestItem struct {
	Path   string
	Digest pool.Digest
}

func versionPath(id string) string  { return versionsDir + "/" + id }
func manifestPath(id string) string { return versionsDir + "/" + id + ".manifest" }

// readState reads the target's state; a missing state file gives an error
// wrapping ErrNotPublished.
func readState(target string) (state, error) {
	var st state
	b, err := os.ReadFile(filepath.Join(target, filepath.FromSlash(stateFile)))
	if errors.Is(err, fs.ErrNotExist) {
		return st, ErrNotPublished
	}
	if err != nil {
		return st, fmt.Errorf("reading state: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("reading state: %w", err)
	}
	for _, v := range st.Versions {
		if err := checkID(v.ID); err != nil {
			return st, fmt.Errorf("reading state: %w", err)
		}
	}
	if st.Pending != "" {
		if err := checkID(st.Pending); err != nil {
			return st, fmt.Errorf("reading state: %w", err)
		}
	}
	return st, nil
}

func (t *tree) writeState(st state) error {
	b, err := json.MarshalIndent(st, "", "\t")
	if err != nil {
		return fmt.Errorf("encoding state: %w", err)
	}
	return t.writeFile(stateFile, append(b, '\n'))
}

// The manifest is a line-based text file, because it is read and written on
// every publish and holds one line per payload:
//
//	chantal-publish-manifest 1
//	id <id>
//	key <Go-quoted key>
//	created <RFC 3339 time>
//	entry <top-level name>        one per entry
//	item <sha256 hex> <path>      one per payload, sorted by path
const manifestMagic = "chantal-publish-manifest 1"

// readManifest reads and checks the manifest of version id.
func readManifest(target, id string) (*manifest, error) {
	b, err := os.ReadFile(filepath.Join(target, filepath.FromSlash(manifestPath(id))))
	if err != nil {
		return nil, fmt.Errorf("reading manifest of %s: %w", id, err)
	}
	m, err := parseManifest(b)
	if err != nil {
		return nil, fmt.Errorf("reading manifest of %s: %w", id, err)
	}
	if m.ID != id {
		return nil, fmt.Errorf("reading manifest of %s: it names version %q", id, m.ID)
	}
	return m, nil
}

// readManifestLines reads the manifest of version id like readManifest but
// leaves its item lines undecoded in m.lines, checked only for their shape
// and order, for compareItems: a publish compares the current version's
// and a dropped version's lines (one per payload) with its own items and
// decodes only the lines that differ.
func readManifestLines(target, id string) (*manifest, error) {
	all, err := readString(filepath.Join(target, filepath.FromSlash(manifestPath(id))))
	if err != nil {
		return nil, fmt.Errorf("reading manifest of %s: %w", id, err)
	}
	head, lines := all, ""
	if i := strings.Index(all, "\nitem "); i >= 0 {
		head, lines = all[:i+1], all[i+1:]
	}
	m, err := parseManifest([]byte(head))
	if err == nil {
		err = checkItemLines(lines)
	}
	if err != nil {
		return nil, fmt.Errorf("reading manifest of %s: %w", id, err)
	}
	if m.ID != id {
		return nil, fmt.Errorf("reading manifest of %s: it names version %q", id, m.ID)
	}
	m.Items, m.lines = nil, lines
	return m, nil
}

// readString reads a file into a string without a second copy of it.
func readString(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close() // read-only
	var b strings.Builder
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 && fi.Size() < 1<<40 {
		b.Grow(int(fi.Size()) + 1)
	}
	if _, err := io.Copy(&b, f); err != nil {
		return "", err
	}
	return b.String(), nil
}

// itemLine splits a manifest's item line "item <64 hex> <path>".
func itemLine(line string) (hexDigest, path string, ok bool) {
	const pre = len("item ")
	const n = pre + 2*len(pool.Digest{})
	if len(line) < n+2 || line[:pre] != "item " || line[n] != ' ' {
		return "", "", false
	}
	return line[pre:n], line[n+1:], true
}

// checkItemLines checks that lines are item lines, each ending in a
// newline, with paths in strictly increasing order.
func checkItemLines(lines string) error {
	prev := ""
	for rest := lines; rest != ""; {
		line, r, ok := strings.Cut(rest, "\n")
		if !ok {
			return errors.New("last line not terminated")
		}
		_, p, ok := itemLine(line)
		if !ok {
			return fmt.Errorf("bad item line %q", line)
		}
		if prev != "" && p <= prev {
			return fmt.Errorf("item %q out of order", p)
		}
		prev, rest = p, r
	}
	return nil
}

// compareItems merges the item lines of old (read by readManifestLines)
// with those of cur, both sorted by path. It calls changed(i, existed) for
// every item of cur that old lacks (existed: old has its path, with other
// bytes) and gone(p) for every path of old that cur lacks; either may be
// nil. Equal lines are compared as bytes, not decoded; a path passed to
// gone is checked first (a bad one is an error).
func compareItems(old, cur *manifest, changed func(i int, existed bool) error, gone func(p string) error) error {
	rest, next, i := old.lines, cur.itemLines(), 0
	for rest != "" || i < len(cur.Items) {
		var line, after string
		if rest != "" {
			line, after, _ = strings.Cut(rest, "\n")
		}
		var nline, nafter string
		if i < len(cur.Items) {
			nline, nafter, _ = strings.Cut(next, "\n")
			if line == nline {
				rest, next, i = after, nafter, i+1
				continue
			}
		}
		_, p, ok := itemLine(line)
		if rest != "" && !ok {
			return fmt.Errorf("bad item line %q", line) // checked when read
		}
		switch {
		case rest != "" && i < len(cur.Items) && p == cur.Items[i].Path:
			if changed != nil {
				if err := changed(i, true); err != nil {
					return err
				}
			}
			rest, next, i = after, nafter, i+1
		case rest != "" && (i == len(cur.Items) || p < cur.Items[i].Path):
			if gone != nil {
				if err := checkPath(p); err != nil {
					return err
				}
				if err := gone(p); err != nil {
					return err
				}
			}
			rest = after
		default:
			if changed != nil {
				if err := changed(i, false); err != nil {
					return err
				}
			}
			next, i = nafter, i+1
		}
	}
	return nil
}

func parseManifest(b []byte) (*manifest, error) {
	m := &manifest{Items: make([]manifestItem, 0, bytes.Count(b, []byte("\nitem ")))}
	// Paths are cut from one string of the whole file, not allocated
	// one by one.
	all := string(b)
	first := true
	for len(b) > 0 {
		var line []byte
		start := len(all) - len(b)
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		if first {
			if string(line) != manifestMagic {
				return nil, errors.New("not a manifest")
			}
			first = false
			continue
		}
		kw, rest, _ := bytes.Cut(line, []byte{' '})
		switch string(kw) {
		case "item":
			h, p, ok := bytes.Cut(rest, []byte{' '})
			var d pool.Digest
			if !ok || hex.DecodedLen(len(h)) != len(d) {
				return nil, fmt.Errorf("bad item line %q", line)
			}
			if _, err := hex.Decode(d[:], h); err != nil {
				return nil, fmt.Errorf("bad item line %q", line)
			}
			ps := all[start+len(line)-len(p) : start+len(line)]
			if err := checkPath(ps); err != nil {
				return nil, err
			}
			m.Items = append(m.Items, manifestItem{Path: ps, Digest: d})
		case "entry":
			e := string(rest)
			if err := checkPath(e); err != nil || topName(e) != e {
				return nil, fmt.Errorf("bad entry %q", e)
			}
			m.Entries = append(m.Entries, e)
		case "id":
			m.ID = string(rest)
		case "key":
			k, err := strconv.Unquote(string(rest))
			if err != nil {
				return nil, fmt.Errorf("bad key line %q", line)
			}
			m.Key = k
		case "created":
			if err := m.Created.UnmarshalText(rest); err != nil {
				return nil, fmt.Errorf("bad created line %q", line)
			}
		case "":
		default:
			return nil, fmt.Errorf("unknown line %q", line)
		}
	}
	if first {
		return nil, errors.New("empty manifest")
	}
	// Written sorted; readers merge and search by path.
	byPath := func(a, b manifestItem) int { return strings.Compare(a.Path, b.Path) }
	if !slices.IsSortedFunc(m.Items, byPath) {
		slices.SortFunc(m.Items, byPath)
	}
	return m, nil
}

func (t *tree) writeManifest(m *manifest) error {
	b, err := encodeManifest(m)
	if err != nil {
		return err
	}
	return t.writeFile(manifestPath(m.ID), b)
}

func encodeManifest(m *manifest) ([]byte, error) {
	created, err := m.Created.MarshalText()
	if err != nil {
		return nil, fmt.Errorf("encoding manifest: %w", err)
	}
	n := 64
	for _, e := range m.Entries {
		n += len("entry \n") + len(e)
	}
	lines := m.itemLines()
	n += len(lines)
	b := make([]byte, 0, n+len(m.ID)+len(m.Key)*2+len(created))
	b = fmt.Appendf(b, "%s\nid %s\nkey %s\ncreated %s\n", manifestMagic, m.ID, strconv.Quote(m.Key), created)
	for _, e := range m.Entries {
		b = append(b, "entry "...)
		b = append(b, e...)
		b = append(b, '\n')
	}
	return append(b, lines...), nil
}

// checkID accepts the version ids publish makes: [0-9A-Za-z-] only.
func checkID(id string) error {
	if id == "" {
		return errors.New("empty version id")
	}
	for _, r := range id {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-') {
			return fmt.Errorf("bad version id %q", id)
		}
	}
	return nil
}
