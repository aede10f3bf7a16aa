package publish

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
}

type stateVersion struct {
	ID      string    `json:"id"`
	Key     string    `json:"key"`
	Created time.Time `json:"created"`
}

// manifest is <target>/.versions/<id>.manifest: what one version publishes.
type manifest struct {
	ID      string    `json:"id"`
	Key     string    `json:"key"`
	Created time.Time `json:"created"`
	// Entries are the top-level names the version rendered, sorted.
	Entries []string `json:"entries"`
	// Items are the payloads, sorted by path.
	Items []manifestItem `json:"items"`
}

type manifestItem struct {
	Path   string      `json:"path"`
	Digest pool.Digest `json:"digest"`
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

// readManifest reads and checks the manifest of version id.
func readManifest(target, id string) (*manifest, error) {
	b, err := os.ReadFile(filepath.Join(target, filepath.FromSlash(manifestPath(id))))
	if err != nil {
		return nil, fmt.Errorf("reading manifest of %s: %w", id, err)
	}
	m := new(manifest)
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("reading manifest of %s: %w", id, err)
	}
	for _, e := range m.Entries {
		if err := checkPath(e); err != nil || topName(e) != e {
			return nil, fmt.Errorf("reading manifest of %s: bad entry %q", id, e)
		}
	}
	for _, it := range m.Items {
		if err := checkPath(it.Path); err != nil {
			return nil, fmt.Errorf("reading manifest of %s: %w", id, err)
		}
	}
	return m, nil
}

func (t *tree) writeManifest(m *manifest) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encoding manifest: %w", err)
	}
	return t.writeFile(manifestPath(m.ID), append(b, '\n'))
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
