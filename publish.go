package chantal

import (
	"bytes"
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
	"sync"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/chantal-lite/chantal/catalog"
	"github.com/chantal-lite/chantal/config"
	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/internal/pgp"
	"github.com/chantal-lite/chantal/publish"
	"github.com/chantal-lite/chantal/view"
)

// PublishRequest says what to publish. Exactly one of Repo, Snapshot, View
// and ViewSnapshot is set.
type PublishRequest struct {
	// Repo publishes the repository's current state.
	Repo string
	// Snapshot ("REPO/NAME") publishes a snapshot: its frozen items and
	// repo-level files, with the metadata dated by its state time, so it
	// publishes the same bytes whenever it is published.
	Snapshot string
	// View publishes the union of a configured view's members' current
	// states (repos) and snapshots.
	View string
	// ViewSnapshot ("VIEW/NAME") publishes a view snapshot.
	ViewSnapshot string
	// Target overrides the published directory. The defaults, below the
	// published path: <repo>/ (or the repository's publish_path),
	// snapshots/<repo>/<name>/, views/<view>/latest/ (or the view's
	// publish_path/latest) and views/<view>/snapshots/<name>/ (or the
	// view's publish_path/snapshots/<name>).
	Target string
}

// PublishResult reports a Publish.
type PublishResult struct {
	// Kind is "repo", "snapshot", "view" or "view-snapshot"; Name is what
	// was published (REPO, REPO/NAME, VIEW or VIEW/NAME).
	Kind, Name string
	// Repo is the repository of a repo or snapshot publish.
	Repo    string
	Target  string
	Version string
	// State identifies the published content: the state id, or for views
	// the combined key of the members' states.
	State string
	// Unchanged is set when the same state was already published there.
	Unchanged bool
	// Linked, Replaced and Removed count payload files; MetadataFiles the
	// rendered metadata files; Ops the file-system operations, which grow
	// with the change, not with the repository.
	Linked, Replaced, Removed, MetadataFiles, Ops int
	// KeyFile is the armored public key clients trust (signed publishes only).
	KeyFile string
	// Collisions lists the items and files of later view members dropped
	// for earlier ones (views only; see package view).
	Collisions []view.Collision
}

// stateTimeKey records when a repository's state last changed; published
// metadata carries that time, so one state always publishes the same bytes.
const stateTimeKey = "state_time"

// Publish renders and atomically switches in the published tree of a
// repository's current state, a snapshot, a view or a view snapshot.
// Payloads are hard links into the pool, linked before the metadata switch;
// an unchanged state publishes nothing. Every publish is recorded in the
// catalog (see Publications). A publish to a target another publish,
// rollback or unpublish holds fails with ErrBusy.
func (m *Mirror) Publish(ctx context.Context, req PublishRequest) (*PublishResult, error) {
	n := 0
	for _, s := range []string{req.Repo, req.Snapshot, req.View, req.ViewSnapshot} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return nil, errors.New("publish: name exactly one of a repository, snapshot, view or view snapshot")
	}
	var (
		job *pubJob
		err error
	)
	switch {
	case req.Repo != "":
		job, err = m.repoJob(ctx, req.Repo)
	case req.Snapshot != "":
		job, err = m.snapshotJob(ctx, req.Snapshot)
	case req.View != "":
		job, err = m.viewJob(ctx, req.View)
	default:
		job, err = m.viewSnapshotJob(ctx, req.ViewSnapshot)
	}
	if err != nil {
		return nil, err
	}
	if req.Target != "" {
		job.target = req.Target
	}
	return m.runPublish(ctx, job)
}

// A pubJob is one publish, whatever is published.
type pubJob struct {
	kind, name string
	repo       string // repo and snapshot publishes
	rc         *config.Repository
	format     formats.Format
	mode       formats.Mode
	target     string
	items      []formats.Item
	files      []formats.File
	state      catalog.StateID // repo and snapshot publishes
	key        string          // state id, or the view key
	members    []catalog.ViewMember
	now        time.Time
	collisions []view.Collision
	// load, when set, fills items and files; it runs only when the target
	// does not already hold this publish (see unchangedTarget).
	load func(ctx context.Context, j *pubJob) error
	// params are the format's parameters, set before load runs.
	params map[string]string
	// segments, when set by load, are the items to render by pieces (and
	// items then carry only Path and Digest, for linking), with the render
	// cache that keyed them.
	segments []formats.Segment
	cache    *renderCache
}

func (j *pubJob) fail(err error) error {
	if j.repo != "" && j.kind == "repo" {
		return &RepoError{Op: "publish", Repo: j.repo, Err: err}
	}
	return fmt.Errorf("publish %s %s: %w", j.kind, j.name, err)
}

// repoJob loads a repository's current state; its items are read only when
// the target does not already hold it.
func (m *Mirror) repoJob(ctx context.Context, id string) (*pubJob, error) {
	rc, err := m.repoConfig(id)
	if err != nil {
		return nil, err
	}
	j := &pubJob{kind: "repo", name: rc.ID, repo: rc.ID, rc: rc, target: m.repoTarget(rc)}
	if err := m.jobFormat(j, rc.Mode); err != nil {
		return nil, j.fail(err)
	}
	err = m.view(ctx, func(tx *catalog.Tx) error {
		repo, err := tx.Repo(rc.ID)
		if errors.Is(err, catalog.ErrNotFound) {
			return errors.New("nothing to publish: the repository was never synced or uploaded to")
		}
		if err != nil {
			return err
		}
		j.state, j.now = repo.State, m.stateTime(repo)
		j.load = m.stateLoader(repo.State)
		return nil
	})
	if err != nil {
		return nil, j.fail(err)
	}
	j.key = j.state.String()
	return j, nil
}

// jobFormat sets the job's format and mode from a repository's type and mode.
func (m *Mirror) jobFormat(j *pubJob, mode string) error {
	f, err := m.formats.Lookup(j.rc.Type)
	if err != nil {
		return err
	}
	md, err := formats.ParseMode(mode)
	if err != nil {
		return err
	}
	j.format, j.mode = f, md
	return nil
}

// runPublish publishes a loaded job and records it in the catalog.
func (m *Mirror) runPublish(ctx context.Context, j *pubJob) (*PublishResult, error) {
	poolLock, err := m.lockPool(ctx, false, true)
	if err != nil {
		return nil, j.fail(err)
	}
	defer poolLock.Unlock()
	params := formatParams(j.rc)
	j.params = params
	target, err := filepath.Abs(j.target)
	if err != nil {
		return nil, j.fail(err)
	}
	// The state loads while the signing key does (parsing an RSA key takes
	// milliseconds); a target that already holds this publish stops it.
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	loadc := make(chan error, 1)
	if j.load != nil {
		go func() { loadc <- j.load(lctx, j) }()
	} else {
		loadc <- nil
	}
	loaded := sync.OnceValue(func() error { return <-loadc })
	stopLoad := func() {
		cancel()
		loaded()
	}
	defer stopLoad()
	var signer formats.Signer
	var keyFile string
	if j.mode != formats.ModeMirror {
		s, err := m.signer(j.rc)
		if err != nil {
			return nil, j.fail(err)
		}
		// Signatures carry the state time too, so the same state always
		// publishes the same bytes.
		// A signature cannot predate its key, so an older state is signed
		// at the key's creation time (still the same bytes every time).
		now := j.now
		if kt := keyTime(s.PublicKey()); kt.After(now) {
			now = kt
		}
		signer = s.WithClock(func() time.Time { return now })
		if keyFile, err = m.writePublicKey(s.PublicKey()); err != nil {
			return nil, j.fail(err)
		}
	}
	key := publishKey(j.key, j.format.Name(), j.mode, params, signer, j.now)
	res, done := unchangedTarget(target, key)
	if done {
		stopLoad()
	} else {
		if err := loaded(); err != nil {
			return nil, j.fail(err)
		}
		files, links := splitLinks(j.files)
		res, err = publish.Publish(ctx, publish.Request{
			Target: target, Format: j.format, Mode: j.mode, Items: j.items, Files: files, Links: links, Pool: m.pool,
			Render: m.pieceRender(j),
			Params: params, Now: j.now, Signer: signer,
			Key:          key,
			KeepVersions: m.keepVersions(),
		}, &publish.Options{Logger: m.log, NoSync: m.noSync, Pool: m.pool})
	}
	if err != nil {
		if errors.Is(err, publish.ErrBusy) {
			err = fmt.Errorf("%w: %w", ErrBusy, err)
		}
		return nil, j.fail(err)
	}
	if err := m.recordPublish(ctx, j, target, res); err != nil {
		return nil, j.fail(err)
	}
	m.reporter.Report(Event{Kind: PublishDone, Repo: j.repo, Path: target})
	return &PublishResult{
		Kind: j.kind, Name: j.name, Repo: j.repo, Target: target, Version: res.Version, State: j.key, Unchanged: res.Unchanged,
		Linked: res.Linked, Replaced: res.Replaced, Removed: res.Removed, MetadataFiles: res.MetadataFiles, Ops: res.Ops,
		KeyFile: keyFile, Collisions: j.collisions,
	}, nil
}

// keepVersions maps publish.keep_versions (0 keeps none) to the publish
// package's convention (0 means its default, negative none).
func (m *Mirror) keepVersions() int {
	switch k := m.cfg.Publish.KeepVersions; {
	case k > 0:
		return k
	case len(m.cfg.Files) > 0: // a loaded configuration said 0
		return -1
	}
	return 0
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
	if t, ok := sourceDateEpoch(); ok {
		return t
	}
	return repoStateTime(r)
}

// sourceDateEpoch returns $SOURCE_DATE_EPOCH when it is set and valid.
func sourceDateEpoch() (time.Time, bool) {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0).UTC(), true
		}
	}
	return time.Time{}, false
}

func publishKey(state string, format string, mode formats.Mode, params map[string]string, s formats.Signer, now time.Time) string {
	var fp string
	if s != nil {
		sum := sha256.Sum256(s.PublicKey())
		fp = hex.EncodeToString(sum[:8])
	}
	b, _ := json.Marshal([]any{state, format, mode, params, fp, now.Unix()}) // plain values cannot fail
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// loadStateRefs is loadState for a render that reads only the items' Path
// and Digest (formats.MirrorFromFiles): the items are not decoded.
func loadStateRefs(tx *catalog.Tx, id catalog.StateID) ([]formats.Item, []formats.File, error) {
	n, err := tx.StateLen(id)
	if err != nil {
		return nil, nil, err
	}
	items := make([]formats.Item, 0, n)
	if err := tx.WalkState(id, func(r catalog.Ref) error {
		items = append(items, formats.Item{Path: r.Path, Digest: r.Digest})
		return nil
	}); err != nil {
		return nil, nil, err
	}
	fs, err := tx.StateFiles(id)
	if err != nil {
		return nil, nil, err
	}
	return items, stateFiles(fs), nil
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
	return items, stateFiles(st.Files), nil
}

// stateFiles turns a state's files into the files a format renders.
func stateFiles(fs []catalog.File) []formats.File {
	files := make([]formats.File, 0, len(fs))
	for _, f := range fs {
		files = append(files, formats.File{Path: f.Path, Size: f.Size, Digest: f.Digest, Checksums: f.Checksums, Kind: f.Kind})
	}
	return files
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

// keyTime returns the newest creation time of the keys in an armored public
// key (primary and subkeys), or the zero time if it cannot be read.
func keyTime(pub []byte) time.Time {
	es, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(pub))
	if err != nil {
		return time.Time{}
	}
	var t time.Time
	for _, e := range es {
		if e.PrimaryKey != nil && e.PrimaryKey.CreationTime.After(t) {
			t = e.PrimaryKey.CreationTime
		}
		for _, sk := range e.Subkeys {
			if sk.PublicKey != nil && sk.PublicKey.CreationTime.After(t) {
				t = sk.PublicKey.CreationTime
			}
		}
	}
	return t.UTC()
}

// --- Republish short-circuit (rpm budgets: republishing an unchanged state) ---

// stateLoader defers loading a state's items (with their metadata fragments,
// the bulk of a large repository) until a publish needs them.
// For a format that renders by pieces (outside mirror mode) it decodes only
// the items of segments the render cache does not hold.
func (m *Mirror) stateLoader(id catalog.StateID) func(ctx context.Context, j *pubJob) error {
	return func(ctx context.Context, j *pubJob) error {
		return m.view(ctx, func(tx *catalog.Tx) error {
			var err error
			if mf, ok := j.format.(formats.MirrorFromFiles); ok && j.mode == formats.ModeMirror && mf.MirrorFromFiles() {
				// The payloads are only linked: their refs are enough.
				j.items, j.files, err = loadStateRefs(tx, id)
				return err
			}
			pr, ok := j.format.(formats.PieceRenderer)
			if !ok || j.mode == formats.ModeMirror {
				j.items, j.files, err = loadState(tx, id)
				return err
			}
			preq := formats.PieceRequest{Mode: j.mode, Params: j.params, Logger: m.log}
			j.cache = m.renderCache()
			if j.segments, j.items, err = pieceSegments(ctx, tx, id, pr, preq, j.cache, m.view); err != nil {
				return err
			}
			fs, err := tx.StateFiles(id)
			j.files = stateFiles(fs)
			return err
		})
	}
}

// pieceRender returns how publish renders a job of a format that renders
// by pieces outside mirror mode: through the render cache, from the job's
// segments when its loader made them (repositories and snapshots) or from
// its items (views). Other jobs render with Format.Render.
func (m *Mirror) pieceRender(j *pubJob) func(ctx context.Context, req formats.RenderRequest) error {
	pr, ok := j.format.(formats.PieceRenderer)
	if !ok || j.mode == formats.ModeMirror {
		return nil
	}
	return func(ctx context.Context, req formats.RenderRequest) error {
		cache := j.cache
		if cache == nil {
			cache = m.renderCache()
		}
		return formats.RenderPieces(ctx, pr, req, &formats.PieceOptions{Cache: cache, Segments: j.segments})
	}
}

// unchangedTarget reports whether target's current version was published
// with key, without loading anything: publish.Publish would find the same
// and change nothing. A publish racing this check only makes the answer
// stale; nothing is written either way.
func unchangedTarget(target, key string) (publish.Result, bool) {
	vs, err := publish.Versions(target)
	if err != nil || len(vs) == 0 || vs[0].Key != key {
		return publish.Result{}, false
	}
	return publish.Result{Version: vs[0].ID, Unchanged: true}, true
}
