package chantal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/chantal-lite/chantal/catalog"
	"github.com/chantal-lite/chantal/config"
	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/internal/pgp"
	"github.com/chantal-lite/chantal/publish"
)

// PublishRequest says what to publish.
type PublishRequest struct {
	// Repo publishes the repository's current state.
	Repo string
	// Target overrides the published directory (default: the repository's
	// publish_path, or <published_path>/<repo>).
	Target string
}

// PublishResult reports a Publish.
type PublishResult struct {
	Repo    string
	Target  string
	Version string
	// Unchanged is set when the same state was already published there.
	Unchanged bool
	// Linked, Replaced and Removed count payload files; MetadataFiles the
	// rendered metadata files.
	Linked, Replaced, Removed, MetadataFiles int
	// KeyFile is the armored public key clients trust (signed publishes only).
	KeyFile string
}

// stateTimeKey records when a repository's state last changed; published
// metadata carries that time, so one state always publishes the same bytes.
const stateTimeKey = "state_time"

// Publish renders and atomically switches in the published tree of a
// repository's current state. Payloads are hard links into the pool, linked
// before the metadata switch; an unchanged state publishes nothing.
func (m *Mirror) Publish(ctx context.Context, req PublishRequest) (*PublishResult, error) {
	rc, err := m.repoConfig(req.Repo)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*PublishResult, error) {
		return nil, &RepoError{Op: "publish", Repo: rc.ID, Err: err}
	}
	f, err := m.formats.Lookup(rc.Type)
	if err != nil {
		return fail(err)
	}
	mode, err := formats.ParseMode(rc.Mode)
	if err != nil {
		return fail(err)
	}
	poolLock, err := m.lockPool(ctx, false, true)
	if err != nil {
		return fail(err)
	}
	defer poolLock.Unlock()

	var (
		repo  catalog.Repo
		items []formats.Item
		files []formats.File
	)
	err = m.view(ctx, func(tx *catalog.Tx) error {
		var err error
		repo, err = tx.Repo(rc.ID)
		if errors.Is(err, catalog.ErrNotFound) {
			return errors.New("nothing to publish: the repository was never synced or uploaded to")
		}
		if err != nil {
			return err
		}
		items, files, err = loadState(tx, repo.State)
		return err
	})
	if err != nil {
		return fail(err)
	}
	target := req.Target
	if target == "" {
		target = m.repoTarget(rc)
	}
	var signer formats.Signer
	var keyFile string
	if mode != formats.ModeMirror {
		s, err := m.signer(rc)
		if err != nil {
			return fail(err)
		}
		signer = s
		if keyFile, err = m.writePublicKey(s.PublicKey()); err != nil {
			return fail(err)
		}
	}
	params := formatParams(rc)
	now := m.stateTime(repo)
	res, err := publish.Publish(ctx, publish.Request{
		Target: target, Format: f, Mode: mode, Items: items, Files: files, Pool: m.pool,
		Params: params, Now: now, Signer: signer,
		Key:          publishKey(repo.State, f.Name(), mode, params, signer, now),
		KeepVersions: m.cfg.Publish.KeepVersions,
	}, &publish.Options{Logger: m.log, NoSync: m.noSync, Pool: m.pool})
	if err != nil {
		if errors.Is(err, publish.ErrBusy) {
			err = fmt.Errorf("%w: %w", ErrBusy, err)
		}
		return fail(err)
	}
	m.reporter.Report(Event{Kind: PublishDone, Repo: rc.ID, Path: target})
	return &PublishResult{
		Repo: rc.ID, Target: target, Version: res.Version, Unchanged: res.Unchanged,
		Linked: res.Linked, Replaced: res.Replaced, Removed: res.Removed, MetadataFiles: res.MetadataFiles,
		KeyFile: keyFile,
	}, nil
}

// repoTarget is where a repository's latest state is published.
func (m *Mirror) repoTarget(rc *config.Repository) string {
	if rc.PublishPath != "" {
		if filepath.IsAbs(rc.PublishPath) {
			return rc.PublishPath
		}
		return filepath.Join(m.published, rc.PublishPath)
	}
	return filepath.Join(m.published, rc.ID)
}

// PublishedPath returns the root of published trees.
func (m *Mirror) PublishedPath() string { return m.published }

// stateTime is the timestamp written into a state's published metadata:
// $SOURCE_DATE_EPOCH when set, else when the state last changed.
func (m *Mirror) stateTime(r catalog.Repo) time.Time {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0).UTC()
		}
	}
	if t, err := time.Parse(time.RFC3339, r.Meta[stateTimeKey]); err == nil {
		return t.UTC()
	}
	return r.Updated.UTC().Truncate(time.Second)
}

func publishKey(state catalog.StateID, format string, mode formats.Mode, params map[string]string, s formats.Signer, now time.Time) string {
	var fp string
	if s != nil {
		sum := sha256.Sum256(s.PublicKey())
		fp = hex.EncodeToString(sum[:8])
	}
	b, _ := json.Marshal([]any{state.String(), format, mode, params, fp, now.Unix()}) // plain values cannot fail
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// loadState turns a catalog state into the items and files a format renders.
func loadState(tx *catalog.Tx, id catalog.StateID) ([]formats.Item, []formats.File, error) {
	st, err := tx.State(id)
	if err != nil {
		return nil, nil, err
	}
	items := make([]formats.Item, 0, len(st.Refs))
	for _, r := range st.Refs {
		it, err := tx.Item(r.Digest)
		if err != nil {
			return nil, nil, fmt.Errorf("loading item %s: %w", r.Path, err)
		}
		items = append(items, formats.Item{
			Path: r.Path, Size: it.Size, Digest: it.Digest, Checksums: it.Checksums,
			Name: it.Name, Version: it.Version, Arch: it.Arch, Fields: it.Fields, Fragments: it.Fragments,
		})
	}
	files := make([]formats.File, 0, len(st.Files))
	for _, f := range st.Files {
		files = append(files, formats.File{Path: f.Path, Size: f.Size, Digest: f.Digest, Checksums: f.Checksums, Kind: f.Kind})
	}
	return items, files, nil
}

// signer returns the key that signs a repository's regenerated metadata: the
// repository's gpg.key_file, else the configuration's, else a key generated once
// and kept under <base>/keys.
func (m *Mirror) signer(rc *config.Repository) (*pgp.Signer, error) {
	g := rc.GPG
	if g.KeyFile == "" {
		g = m.cfg.GPG
	}
	if g.KeyFile != "" {
		pass := []byte(g.Passphrase)
		if g.PassphraseFile != "" {
			b, err := os.ReadFile(g.PassphraseFile)
			if err != nil {
				return nil, fmt.Errorf("reading passphrase file: %w", err)
			}
			pass = []byte(strings.SplitN(string(b), "\n", 2)[0])
		}
		s, err := pgp.LoadSigner(g.KeyFile, pass)
		if err != nil {
			return nil, fmt.Errorf("loading signing key: %w", err)
		}
		return s, nil
	}
	s, err := pgp.LoadOrGenerate(filepath.Join(m.dir, "keys"), pgp.GenerateRequest{Name: "chantal-lite repository signing key"})
	if err != nil {
		return nil, fmt.Errorf("loading signing key: %w", err)
	}
	return s, nil
}

// writePublicKey keeps <published root>/key.asc equal to the signing key's
// public half (apt's signed-by= and dnf's gpgkey= point there).
func (m *Mirror) writePublicKey(pub []byte) (string, error) {
	p := filepath.Join(m.published, "key.asc")
	if old, err := os.ReadFile(p); err == nil && string(old) == string(pub) {
		return p, nil
	}
	if err := os.MkdirAll(m.published, 0o755); err != nil {
		return "", fmt.Errorf("creating published root: %w", err)
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, pub, 0o644); err != nil {
		return "", fmt.Errorf("writing key.asc: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return "", fmt.Errorf("writing key.asc: %w", err)
	}
	return p, nil
}
