package publish

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
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
	// Items are the payloads, sorted by path.
	Items []manifestItem
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
	for _, it := range m.Items {
		n += len("item  \n") + 2*len(it.Digest) + len(it.Path)
	}
	b := make([]byte, 0, n+len(m.ID)+len(m.Key)*2+len(created))
	b = fmt.Appendf(b, "%s\nid %s\nkey %s\ncreated %s\n", manifestMagic, m.ID, strconv.Quote(m.Key), created)
	for _, e := range m.Entries {
		b = append(b, "entry "...)
		b = append(b, e...)
		b = append(b, '\n')
	}
	for _, it := range m.Items {
		b = append(b, "item "...)
		b = hex.AppendEncode(b, it.Digest[:])
		b = append(b, ' ')
		b = append(b, it.Path...)
		b = append(b, '\n')
	}
	return b, nil
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
