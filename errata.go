package chantal

// Errata: advisories as data (issue 7).
//
// Where advisories come from:
//   - A synced repository's updateinfo (rpm yields it as a File of Kind
//     "updateinfo"): each sync that changes it parses it into advisory
//     records of source "updateinfo:<repo>" and names their set in the new
//     state as a File of Kind catalog.FileKindAdvisories, so snapshots
//     freeze which advisories a state carried.
//   - errata_sources (OSV JSON files, directories, zips, URLs): SyncErrata
//     reads one into records of source "osv:<id>" and keeps it as a catalog
//     repository record of format "errata" whose state holds only the
//     advisory-set File; its sync runs are its history (repo history ID).
//
// Which advisories concern a repository, snapshot or view: those of its
// states' advisory sets, plus the current set of every errata source whose
// applies_to names one of its repositories (OSV data is knowledge about
// versions, so the newest is used for old snapshots too), narrowed to the
// format's ecosystem (rpm → "rpm", apt → "deb").
//
// Version order always comes from the format's formats.Comparer through
// the registry.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/chantal-lite/chantal/catalog"
	"github.com/chantal-lite/chantal/config"
	"github.com/chantal-lite/chantal/errata"
	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/internal/compress"
	"github.com/chantal-lite/chantal/internal/fetch"
	"github.com/chantal-lite/chantal/pool"
	"github.com/chantal-lite/chantal/snapshot"
	"github.com/chantal-lite/chantal/view"
)

// advisoriesPath is the path of a state's advisory-set File. It is state
// bookkeeping: never rendered or published.
const advisoriesPath = ".chantal/advisories"

// FormatErrata is the catalog format of an errata source's repository
// record.
const FormatErrata = "errata"

// maxUpdateinfoBytes bounds a decompressed updateinfo document.
const maxUpdateinfoBytes = 2 << 30

// ecosystemOf maps a format to the errata ecosystem of its packages.
func ecosystemOf(format string) string {
	switch format {
	case "apt":
		return "deb"
	}
	return format
}

// advisoryRecord turns an advisory into its catalog record.
func advisoryRecord(a *errata.Advisory) (catalog.AdvisoryRecord, error) {
	data, err := errata.Marshal(a)
	if err != nil {
		return catalog.AdvisoryRecord{}, err
	}
	return catalog.AdvisoryRecord{
		ID: a.ID, Source: a.Source, Type: string(a.Type), Severity: a.Severity.String(),
		Issued: a.Issued, Updated: a.Updated, CVEs: a.CVEs(), Data: data,
	}, nil
}

// mergeDuplicates folds advisories with one ID (real updateinfo files list
// an advisory once per collection) into the first, packages appended.
func mergeDuplicates(advs []errata.Advisory) []errata.Advisory {
	at := make(map[string]int, len(advs))
	out := advs[:0]
	for _, a := range advs {
		if i, ok := at[a.ID]; ok {
			out[i].Packages = append(out[i].Packages, a.Packages...)
			continue
		}
		at[a.ID] = len(out)
		out = append(out, a)
	}
	return out
}

// pendingAdvisories are advisory records and their set, to commit with a
// new state.
type pendingAdvisories struct {
	records []catalog.AdvisoryRecord
	keys    []catalog.AdvisoryKey
}

// commit stores the records and the set.
func (p *pendingAdvisories) commit(tx *catalog.Tx) error {
	if p == nil {
		return nil
	}
	if err := tx.PutAdvisories(p.records); err != nil {
		return err
	}
	_, err := tx.PutAdvisorySet(p.keys)
	return err
}

// advisorySetFile stores the canonical encoding of the advisories' key set
// in the pool and describes it as a state File.
func (m *Mirror) advisorySetFile(ctx context.Context, advs []errata.Advisory) (catalog.File, *pendingAdvisories, error) {
	p := &pendingAdvisories{}
	for i := range advs {
		r, err := advisoryRecord(&advs[i])
		if err != nil {
			return catalog.File{}, nil, err
		}
		p.records = append(p.records, r)
		p.keys = append(p.keys, r.Key())
	}
	id, data, err := catalog.EncodeAdvisorySet(p.keys)
	if err != nil {
		return catalog.File{}, nil, err
	}
	info, err := m.pool.Put(ctx, bytes.NewReader(data), pool.PutRequest{Digest: id.Digest(), Size: int64(len(data))})
	if err != nil {
		return catalog.File{}, nil, fmt.Errorf("storing advisory set: %w", err)
	}
	return catalog.File{Path: advisoriesPath, Digest: info.Digest, Size: info.Size, Kind: catalog.FileKindAdvisories,
		Checksums: map[string]string{"sha256": info.Digest.String()}}, p, nil
}

// advisories adds the advisory-set File of the repository's updateinfo to
// files (the new state's). An updateinfo the old state already had keeps
// the old set without parsing; one that cannot be read is logged and the
// state gets no advisories, the sync goes on.
func (rs *repoSync) advisories(ctx context.Context, old *catalog.State, files []catalog.File) ([]catalog.File, *pendingAdvisories, error) {
	files = slices.DeleteFunc(files, func(f catalog.File) bool { return f.Kind == catalog.FileKindAdvisories })
	var ui *catalog.File
	for i := range files {
		if files[i].Kind == "updateinfo" {
			ui = &files[i]
			break
		}
	}
	if ui == nil {
		return files, nil, nil
	}
	var oldUI, oldSet *catalog.File
	for i := range old.Files {
		switch f := &old.Files[i]; f.Kind {
		case "updateinfo":
			oldUI = f
		case catalog.FileKindAdvisories:
			oldSet = f
		}
	}
	if oldUI != nil && oldSet != nil && oldUI.Digest == ui.Digest {
		return append(files, *oldSet), nil, nil
	}
	advs, err := rs.m.readUpdateinfo(ctx, *ui, "updateinfo:"+rs.rc.ID)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		rs.m.log.Warn("updateinfo not read; the state records no advisories", "repo", rs.rc.ID, "path", ui.Path, "err", err)
		return files, nil, nil
	}
	f, p, err := rs.m.advisorySetFile(ctx, advs)
	if err != nil {
		return nil, nil, err
	}
	return append(files, f), p, nil
}

// readUpdateinfo parses an updateinfo blob of the pool (compressed as its
// path says).
func (m *Mirror) readUpdateinfo(ctx context.Context, f catalog.File, source string) ([]errata.Advisory, error) {
	rc, err := m.pool.Open(f.Digest)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	dec, err := compress.NewReader(rc, f.Path, maxUpdateinfoBytes, compress.Errors{TooLarge: errata.ErrTooLarge, Malformed: errata.ErrMalformed})
	if err != nil {
		return nil, err
	}
	defer dec.Close()
	advs, err := errata.ReadUpdateinfo(ctx, dec, &errata.Options{Source: source, OnSkip: func(e *errata.SkipError) {
		m.log.Warn("advisory skipped", "source", source, "err", e)
	}})
	if err != nil {
		return nil, err
	}
	return mergeDuplicates(advs), nil
}

// --- errata sources -------------------------------------------------------

// ErrataSyncRequest selects the errata sources to sync.
type ErrataSyncRequest struct {
	Sources []string
	All     bool
}

// ErrataSyncResult reports a SyncErrata, one entry per source.
type ErrataSyncResult struct {
	Sources []ErrataSourceResult `json:"sources"`
}

// Err joins the sources' errors.
func (r *ErrataSyncResult) Err() error {
	var errs []error
	for _, s := range r.Sources {
		if s.Err != nil {
			errs = append(errs, s.Err)
		}
	}
	return errors.Join(errs...)
}

// ErrataSourceResult reports one errata source's sync.
type ErrataSourceResult struct {
	Source string `json:"source"`
	// Advisories is how many the source holds now; Added and Removed how
	// many its set gained and lost; Skipped how many records were unusable.
	Advisories int    `json:"advisories"`
	Added      int    `json:"added"`
	Removed    int    `json:"removed"`
	Skipped    int    `json:"skipped"`
	Unchanged  bool   `json:"unchanged"`
	State      string `json:"state,omitempty"`
	Err        error  `json:"-"`
	Error      string `json:"error,omitempty"`
}

// SyncErrata reads each requested errata source (errata_sources in the
// configuration) and records its advisories and their set as the source's
// new state, with a sync run in its history. A failing source does not
// stop the others; the returned error is non-nil only for a bad request.
func (m *Mirror) SyncErrata(ctx context.Context, req ErrataSyncRequest) (*ErrataSyncResult, error) {
	var ids []string
	switch {
	case req.All && len(req.Sources) > 0:
		return nil, errors.New("name errata sources or use all, not both")
	case req.All:
		for _, s := range m.cfg.ErrataSources {
			ids = append(ids, s.ID)
		}
	case len(req.Sources) == 0:
		return nil, errors.New("no errata source named (use all to sync every one)")
	default:
		for _, id := range req.Sources {
			if _, ok := m.cfg.ErrataSource(id); !ok {
				return nil, fmt.Errorf("errata source %q: %w", id, ErrUnknownErrataSource)
			}
		}
		ids = req.Sources
	}
	res := &ErrataSyncResult{}
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		sr := m.syncErrataSource(ctx, id)
		if sr.Err != nil {
			sr.Error = sr.Err.Error()
		}
		res.Sources = append(res.Sources, sr)
	}
	return res, nil
}

// ErrUnknownErrataSource is returned for an errata source the
// configuration does not name.
var ErrUnknownErrataSource = errors.New("unknown errata source")

func (m *Mirror) syncErrataSource(ctx context.Context, id string) (sr ErrataSourceResult) {
	sr.Source = id
	sc, _ := m.cfg.ErrataSource(id)
	l, err := m.lockRepo(ctx, id, true)
	if err != nil {
		sr.Err = err
		return sr
	}
	defer l.Unlock()
	pl, err := m.lockPool(ctx, false, true)
	if err != nil {
		sr.Err = err
		return sr
	}
	defer pl.Unlock()
	started := m.now().UTC()
	advs, skipped, err := m.readErrataSource(ctx, sc)
	sr.Skipped = skipped
	if err != nil {
		sr.Err = fmt.Errorf("errata source %s: %w", id, err)
		m.recordErrataRun(ctx, id, sc, started, "failed", &sr)
		return sr
	}
	f, pending, err := m.advisorySetFile(ctx, advs)
	if err != nil {
		sr.Err = fmt.Errorf("errata source %s: %w", id, err)
		return sr
	}
	sr.Advisories = len(advs)
	err = m.update(ctx, func(tx *catalog.Tx) error {
		now := m.now().UTC()
		r, err := tx.Repo(id)
		switch {
		case errors.Is(err, catalog.ErrNotFound):
			r = catalog.Repo{ID: id, Created: now}
		case err != nil:
			return err
		case r.Format != FormatErrata:
			return fmt.Errorf("the catalog holds a %s repository %q", r.Format, id)
		}
		var oldKeys []catalog.AdvisoryKey
		if !r.State.IsZero() {
			if oldKeys, err = stateAdvisoryKeys(tx, r.State); err != nil {
				return err
			}
		}
		r.Format, r.Mode, r.Feed, r.Updated = FormatErrata, sc.Type, errataFeed(sc), now
		if err := tx.PutRepo(r); err != nil {
			return err
		}
		if err := pending.commit(tx); err != nil {
			return err
		}
		sid, err := tx.SetRepoState(id, &catalog.State{Files: []catalog.File{f}})
		if err != nil {
			return err
		}
		sr.Unchanged = sid == r.State
		if !sr.Unchanged || r.Meta[stateTimeKey] == "" {
			if r.Meta == nil {
				r.Meta = map[string]string{}
			}
			r.Meta[stateTimeKey] = now.Truncate(time.Second).Format(time.RFC3339)
			if err := tx.PutRepo(r); err != nil {
				return err
			}
		}
		sr.State = sid.String()
		sr.Added, sr.Removed = keyDiff(oldKeys, pending.keys)
		return nil
	})
	if err != nil {
		sr.Err = fmt.Errorf("errata source %s: %w", id, err)
		return sr
	}
	status := "success"
	if sr.Unchanged {
		status = "unchanged"
	}
	m.recordErrataRun(ctx, id, sc, started, status, &sr)
	return sr
}

// keyDiff counts keys only b has (added) and only a has (removed).
func keyDiff(a, b []catalog.AdvisoryKey) (added, removed int) {
	in := make(map[catalog.AdvisoryKey]bool, len(a))
	for _, k := range a {
		in[k] = true
	}
	for _, k := range b {
		if in[k] {
			delete(in, k)
		} else {
			added++
		}
	}
	return added, len(in)
}

func errataFeed(sc *config.ErrataSource) string {
	if sc.URL != "" {
		return sc.URL
	}
	return sc.Path
}

// recordErrataRun adds a sync run to the source's history (the source's
// record must exist; a first sync that failed has none and records none).
func (m *Mirror) recordErrataRun(ctx context.Context, id string, sc *config.ErrataSource, started time.Time, status string, sr *ErrataSourceResult) {
	run := &catalog.SyncRun{Repo: id, Started: started, Finished: m.now().UTC(), Status: status, Added: sr.Added, Removed: sr.Removed}
	if sr.Err != nil {
		run.Errors = []string{sr.Err.Error()}
	}
	err := m.update(context.WithoutCancel(ctx), func(tx *catalog.Tx) error {
		if _, err := tx.Repo(id); err != nil {
			return err
		}
		return tx.PutSyncRun(run)
	})
	if err != nil && !errors.Is(err, catalog.ErrNotFound) {
		m.log.Warn("recording errata sync run", "source", id, "err", err)
	}
}

// readErrataSource reads an OSV source, narrowed to its ecosystem.
func (m *Mirror) readErrataSource(ctx context.Context, sc *config.ErrataSource) ([]errata.Advisory, int, error) {
	skipped := 0
	opts := &errata.Options{Source: "osv:" + sc.ID, OnSkip: func(e *errata.SkipError) {
		skipped++
		m.log.Warn("advisory skipped", "source", sc.ID, "err", e)
	}}
	p := sc.Path
	if sc.URL != "" {
		tmp, err := m.fetchErrata(ctx, sc)
		if err != nil {
			return nil, 0, err
		}
		defer os.Remove(tmp)
		p = tmp
	}
	var advs []errata.Advisory
	fi, err := os.Stat(p)
	if err != nil {
		return nil, 0, err
	}
	switch {
	case fi.IsDir():
		advs, err = errata.ReadOSVDir(ctx, os.DirFS(p), opts)
	default:
		f, ferr := os.Open(p)
		if ferr != nil {
			return nil, 0, ferr
		}
		defer f.Close()
		var magic [4]byte
		n, _ := io.ReadFull(f, magic[:])
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, 0, err
		}
		if n == 4 && string(magic[:]) == "PK\x03\x04" {
			advs, err = errata.ReadOSVZip(ctx, f, fi.Size(), opts)
		} else {
			advs, err = errata.ReadOSV(ctx, f, opts)
		}
	}
	if err != nil {
		return nil, skipped, err
	}
	if sc.Ecosystem != "" {
		eco, _, rel := errata.NormalizeEcosystem(sc.Ecosystem)
		out := advs[:0]
		for i := range advs {
			if a := advs[i].ForEcosystem(eco, rel); len(a.Packages) > 0 {
				out = append(out, a)
			}
		}
		advs = out
	}
	return mergeDuplicates(advs), skipped, nil
}

// fetchErrata downloads a source URL into a temporary file under the data
// directory, bounded by errata.DefaultMaxTotalBytes.
func (m *Mirror) fetchErrata(ctx context.Context, sc *config.ErrataSource) (string, error) {
	u, err := url.Parse(sc.URL)
	if err != nil {
		return "", err
	}
	base := *u
	dir, file := path.Split(u.Path)
	if file == "" {
		return "", fmt.Errorf("url %s names no file", fetchRedact(u))
	}
	base.Path, base.RawPath = dir, ""
	dl := m.cfg.Download
	src, err := fetch.New(base.String(), &fetch.Options{
		Retries: dl.Retries, Timeout: dl.Timeout.Duration, RateLimit: dl.RateLimit, UserAgent: dl.UserAgent,
		Logger: m.log.With("errata_source", sc.ID), Transport: m.transport,
	})
	if err != nil {
		return "", err
	}
	rc, err := src.Open(ctx, file)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	tmpDir := filepath.Join(m.dir, "tmp")
	if err := os.MkdirAll(tmpDir, 0o755); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(tmpDir, "errata-*")
	if err != nil {
		return "", err
	}
	n, err := io.Copy(f, io.LimitReader(rc, errata.DefaultMaxTotalBytes+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > errata.DefaultMaxTotalBytes {
		err = fmt.Errorf("fetching %s: more than %d bytes: %w", file, int64(errata.DefaultMaxTotalBytes), errata.ErrTooLarge)
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

func fetchRedact(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}

// --- reading advisories of states -------------------------------------------

// stateAdvisoryKeys returns the keys of the advisory sets a state names.
func stateAdvisoryKeys(tx *catalog.Tx, id catalog.StateID) ([]catalog.AdvisoryKey, error) {
	files, err := tx.StateFiles(id)
	if err != nil {
		return nil, err
	}
	var out []catalog.AdvisoryKey
	for _, f := range files {
		if f.Kind != catalog.FileKindAdvisories {
			continue
		}
		keys, err := tx.AdvisorySet(catalog.AdvisorySetID(f.Digest))
		if err != nil {
			return nil, err
		}
		out = append(out, keys...)
	}
	return out, nil
}

// pkgVer is one package of a state; source is its source package's name
// when the format records another one (apt), which advisories of
// distributions such as Debian name.
type pkgVer struct{ name, version, arch, path, source string }

// errataReader answers advisory questions within one read transaction,
// caching decoded advisories, item identities and per-state package
// indexes, so that queries over many snapshots of one repository read each
// shared item once.
type errataReader struct {
	m      *Mirror
	tx     *catalog.Tx
	advs   map[catalog.AdvisoryKey]*errata.Advisory
	items  map[pool.Digest]pkgVer
	states map[catalog.StateID][]pkgVer
}

func (m *Mirror) newErrataReader(tx *catalog.Tx) *errataReader {
	return &errataReader{m: m, tx: tx, advs: map[catalog.AdvisoryKey]*errata.Advisory{},
		items: map[pool.Digest]pkgVer{}, states: map[catalog.StateID][]pkgVer{}}
}

// advisory decodes one record (nil when it is gone).
func (er *errataReader) advisory(k catalog.AdvisoryKey) (*errata.Advisory, error) {
	if a, ok := er.advs[k]; ok {
		return a, nil
	}
	r, err := er.tx.Advisory(k.Source, k.ID)
	if errors.Is(err, catalog.ErrNotFound) {
		er.advs[k] = nil
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	a, err := errata.Unmarshal(r.Data)
	if err != nil {
		return nil, fmt.Errorf("advisory %s/%s: %w", k.Source, k.ID, err)
	}
	a.Source = r.Source
	er.advs[k] = &a
	return &a, nil
}

// packages returns a state's packages (cached per state).
func (er *errataReader) packages(id catalog.StateID) ([]pkgVer, error) {
	if ps, ok := er.states[id]; ok {
		return ps, nil
	}
	var out []pkgVer
	if err := er.walkPackages(id, func(p pkgVer) { out = append(out, p) }); err != nil {
		return nil, err
	}
	er.states[id] = out
	return out, nil
}

// walkPackages calls fn for each package of a state, reading each item
// once per errataReader.
func (er *errataReader) walkPackages(id catalog.StateID, fn func(pkgVer)) error {
	return er.tx.WalkState(id, func(r catalog.Ref) error {
		p, ok := er.items[r.Digest]
		if !ok {
			it, err := er.tx.Item(r.Digest)
			switch {
			case errors.Is(err, catalog.ErrNotFound):
				p = pkgVer{}
			case err != nil:
				return err
			default:
				p = pkgVer{name: it.Name, version: it.Version, arch: it.Arch}
				if src := it.Fields["source"]; src != it.Name {
					p.source = src
				}
			}
			er.items[r.Digest] = p
		}
		if p.name != "" {
			p.path = r.Path
			fn(p)
		}
		return nil
	})
}

// An errataTarget is what an advisory question is asked about: a
// repository's current state, a snapshot, a view or a view snapshot.
type errataTarget struct {
	Kind   string // KindRepo, KindSnapshot, KindView, KindViewSnapshot
	Name   string
	Format string
	repos  []string          // the repositories whose errata sources apply
	states []catalog.StateID // whose packages and advisory sets count
	// filter is set for an errata-filtered view: its packages are the
	// filter's selection, not the union of its members.
	filter *config.ErrataFilter
	view   *config.View
}

// resolveTarget resolves a reference: "REPO", "REPO/SNAPSHOT", "VIEW",
// "view:VIEW" or "view:VIEW/SNAPSHOT". A bare name is a repository when
// one has it, else a view.
func (m *Mirror) resolveTarget(tx *catalog.Tx, ref string) (*errataTarget, error) {
	if v, ok := strings.CutPrefix(ref, "view:"); ok {
		if vname, sname, ok := strings.Cut(v, "/"); ok {
			return m.viewSnapshotTarget(tx, vname, sname)
		}
		return m.viewTarget(tx, v)
	}
	if strings.Contains(ref, "/") {
		return m.errataSnapshotTarget(tx, ref)
	}
	if _, ok := m.cfg.Repository(ref); ok {
		return m.errataRepoTarget(tx, ref)
	}
	if _, ok := m.cfg.View(ref); ok {
		return m.viewTarget(tx, ref)
	}
	return nil, fmt.Errorf("%q names no repository or view: %w", ref, ErrUnknownRepo)
}

func (m *Mirror) repoTargetOf(r catalog.Repo) *errataTarget {
	return &errataTarget{Kind: KindRepo, Name: r.ID, Format: r.Format, repos: []string{r.ID}, states: []catalog.StateID{r.State}}
}

func (m *Mirror) errataRepoTarget(tx *catalog.Tx, id string) (*errataTarget, error) {
	if _, err := m.repoConfig(id); err != nil {
		return nil, err
	}
	r, err := tx.Repo(id)
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", id, err)
	}
	return m.repoTargetOf(r), nil
}

func (m *Mirror) errataSnapshotTarget(tx *catalog.Tx, ref string) (*errataTarget, error) {
	repo, name, err := splitRef("snapshot", ref)
	if err != nil {
		return nil, err
	}
	s, err := tx.Snapshot(repo, name)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", ref, err)
	}
	r, err := tx.Repo(repo)
	if err != nil {
		return nil, err
	}
	return &errataTarget{Kind: KindSnapshot, Name: ref, Format: r.Format, repos: []string{repo}, states: []catalog.StateID{s.State}}, nil
}

func (m *Mirror) membersTarget(tx *catalog.Tx, t *errataTarget, members []catalog.ViewMember) (*errataTarget, error) {
	for _, vm := range members {
		r, err := tx.Repo(vm.Repo)
		if err != nil {
			return nil, err
		}
		if t.Format == "" {
			t.Format = r.Format
		}
		if !slices.Contains(t.repos, vm.Repo) {
			t.repos = append(t.repos, vm.Repo)
		}
		t.states = append(t.states, vm.State)
	}
	return t, nil
}

func (m *Mirror) viewTarget(tx *catalog.Tx, name string) (*errataTarget, error) {
	vc, err := m.viewConfig(name)
	if err != nil {
		return nil, err
	}
	members, err := viewMembers(tx, vc)
	if err != nil {
		return nil, fmt.Errorf("view %s: %w", name, err)
	}
	return m.membersTarget(tx, &errataTarget{Kind: KindView, Name: name, filter: vc.ErrataFilter, view: vc}, members)
}

func (m *Mirror) viewSnapshotTarget(tx *catalog.Tx, vname, sname string) (*errataTarget, error) {
	vs, err := tx.ViewSnapshot(vname, sname)
	if err != nil {
		return nil, fmt.Errorf("view snapshot %s/%s: %w", vname, sname, err)
	}
	t := &errataTarget{Kind: KindViewSnapshot, Name: vname + "/" + sname}
	if vc, ok := m.cfg.View(vname); ok {
		t.filter, t.view = vc.ErrataFilter, vc
	}
	return m.membersTarget(tx, t, vs.Members)
}

// comparer returns the version order of a format (byte order if it has none).
func (m *Mirror) comparer(format string) func(a, b string) int {
	if f, err := m.formats.Lookup(format); err == nil {
		if c, ok := f.(formats.Comparer); ok {
			return c.Compare
		}
	}
	return strings.Compare
}

// sourceApplies reports whether the errata source applies to one of repos.
func sourceApplies(sc *config.ErrataSource, repos []string) bool {
	if len(sc.AppliesTo) == 0 {
		return true
	}
	for _, r := range repos {
		if slices.Contains(sc.AppliesTo, r) {
			return true
		}
	}
	return false
}

// advisoryKeys returns the keys of the advisories that concern t: its
// states' sets and the current sets of the errata sources that apply.
func (er *errataReader) advisoryKeys(t *errataTarget) ([]catalog.AdvisoryKey, error) {
	var keys []catalog.AdvisoryKey
	states := t.states
	if t.filter != nil {
		if bs, err := er.baseState(t.filter); err == nil {
			states = append(slices.Clone(states), bs)
		}
	}
	for _, id := range states {
		ks, err := stateAdvisoryKeys(er.tx, id)
		if err != nil {
			return nil, err
		}
		keys = append(keys, ks...)
	}
	for i := range er.m.cfg.ErrataSources {
		sc := &er.m.cfg.ErrataSources[i]
		if !sourceApplies(sc, t.repos) {
			continue
		}
		r, err := er.tx.Repo(sc.ID)
		if errors.Is(err, catalog.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		ks, err := stateAdvisoryKeys(er.tx, r.State)
		if err != nil {
			return nil, err
		}
		keys = append(keys, ks...)
	}
	slices.SortFunc(keys, compareKeys)
	return slices.Compact(keys), nil
}

func compareKeys(a, b catalog.AdvisoryKey) int {
	if c := strings.Compare(a.Source, b.Source); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// advisoriesOf returns the advisories that concern t, narrowed to its
// format's ecosystem, sorted by (source, id).
func (er *errataReader) advisoriesOf(t *errataTarget) ([]errata.Advisory, error) {
	keys, err := er.advisoryKeys(t)
	if err != nil {
		return nil, err
	}
	eco := ecosystemOf(t.Format)
	out := make([]errata.Advisory, 0, len(keys))
	for _, k := range keys {
		a, err := er.advisory(k)
		if err != nil {
			return nil, err
		}
		if a != nil {
			out = append(out, a.ForEcosystem(eco, ""))
		}
	}
	return out, nil
}

func (er *errataReader) baseState(f *config.ErrataFilter) (catalog.StateID, error) {
	repo, name, err := splitRef("snapshot", f.Base)
	if err != nil {
		return catalog.StateID{}, err
	}
	s, err := er.tx.Snapshot(repo, name)
	if err != nil {
		return catalog.StateID{}, fmt.Errorf("errata_filter base %s: %w", f.Base, err)
	}
	return s.State, nil
}

// packagesOf returns the packages t holds (for an errata-filtered view, the
// ones it publishes), grouped by name and by source name. With names set,
// only packages of those (source) names are returned.
func (er *errataReader) packagesOf(t *errataTarget, names map[string]bool) (map[string][]pkgVer, error) {
	var all []pkgVer
	if names != nil && t.filter == nil {
		for _, id := range t.states {
			err := er.walkPackages(id, func(p pkgVer) {
				if names[p.name] || p.source != "" && names[p.source] {
					all = append(all, p)
				}
			})
			if err != nil {
				return nil, err
			}
		}
	} else if t.filter != nil {
		items, err := er.filteredItems(t)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			p := pkgVer{name: it.Name, version: it.Version, arch: it.Arch, path: it.Path}
			if src := it.Fields["source"]; src != it.Name {
				p.source = src
			}
			all = append(all, p)
		}
	} else {
		for _, id := range t.states {
			ps, err := er.packages(id)
			if err != nil {
				return nil, err
			}
			all = append(all, ps...)
		}
	}
	idx := make(map[string][]pkgVer, len(all))
	for _, p := range all {
		idx[p.name] = append(idx[p.name], p)
		if p.source != "" {
			idx[p.source] = append(idx[p.source], p)
		}
	}
	return idx, nil
}

// lightItems turns a state's packages into items without fragments.
func lightItems(ps []pkgVer) []formats.Item {
	out := make([]formats.Item, len(ps))
	for i, p := range ps {
		out[i] = formats.Item{Path: p.path, Name: p.name, Version: p.version, Arch: p.arch}
		if p.source != "" {
			out[i].Fields = map[string]string{"source": p.source}
		}
	}
	return out
}

// filteredItems computes what an errata-filtered view publishes, without
// fragments.
func (er *errataReader) filteredItems(t *errataTarget) ([]formats.Item, error) {
	bs, err := er.baseState(t.filter)
	if err != nil {
		return nil, err
	}
	base, err := er.packages(bs)
	if err != nil {
		return nil, err
	}
	var members []view.Member
	for _, id := range t.states {
		ps, err := er.packages(id)
		if err != nil {
			return nil, err
		}
		members = append(members, view.Member{Items: lightItems(ps)})
	}
	sel, err := er.selected(t)
	if err != nil {
		return nil, err
	}
	merged := view.ErrataFilter(view.ErrataRequest{
		Base: view.Member{Name: t.filter.Base, Items: lightItems(base)}, Members: members,
		Advisories: sel, Compare: er.m.comparer(t.Format),
	})
	return merged.Items, nil
}

// criteria turns an errata_filter into errata criteria.
func filterCriteria(f *config.ErrataFilter) errata.Criteria {
	c := errata.Criteria{CVEs: f.CVEs, IDs: f.IDs}
	for _, s := range f.Types {
		c.Types = append(c.Types, errata.Type(s))
	}
	c.MinSeverity, _ = errata.ParseSeverity(f.Severity)
	c.IssuedBefore, _ = f.IssuedBeforeTime() // validated by config
	return c
}

// selected returns the advisories an errata-filtered target selects.
func (er *errataReader) selected(t *errataTarget) ([]errata.Advisory, error) {
	advs, err := er.advisoriesOf(t)
	if err != nil {
		return nil, err
	}
	return errata.Filter(advs, filterCriteria(t.filter)), nil
}

// PackageStatus is one (name, arch) of a state an advisory names.
type PackageStatus struct {
	Name    string `json:"name"`
	Arch    string `json:"arch"`
	Version string `json:"version"` // the newest version the state holds
	// Fixed is the version that fixes it, as the advisory says ("" when
	// it gives ranges only).
	Fixed  string `json:"fixed,omitempty"`
	Status string `json:"status"` // "fixed" or "affected"
}

// Advisory statuses in a state.
const (
	StatusFixed    = "fixed"
	StatusAffected = "affected"
)

// evaluate says whether a state (its packages by name) is fixed for a: it
// holds a version at or above the fix for every (name, arch) the advisory
// lists that it has at all; affected when one is lower; "" when it holds
// none of them.
func evaluate(a *errata.Advisory, idx map[string][]pkgVer, cmp func(a, b string) int) (string, []PackageStatus) {
	type pair struct{ name, arch string }
	newest := map[pair]string{}
	fixed := map[pair]string{}
	ok := map[pair]bool{}
	var order []pair
	for pi := range a.Packages {
		p := &a.Packages[pi]
		names := []string{p.Name}
		for _, b := range p.Binaries {
			names = append(names, b.Name)
		}
		fvs := p.FixedVersions()
		for _, n := range names {
			for _, v := range idx[n] {
				if !errata.ArchMatches(p.Arch, v.arch) {
					continue
				}
				k := pair{n, v.arch}
				cur, seen := newest[k]
				if !seen {
					order = append(order, k)
				}
				if !seen || cmp(v.version, cur) > 0 {
					newest[k] = v.version
				}
				if _, has := fixed[k]; !has && len(fvs) > 0 {
					fixed[k] = fvs[0]
				}
			}
		}
	}
	if len(order) == 0 {
		return "", nil
	}
	status := StatusFixed
	var out []PackageStatus
	for _, k := range order {
		if !ok[k] {
			ok[k] = a.Fixes(k.name, newest[k], k.arch, cmp)
		}
		ps := PackageStatus{Name: k.name, Arch: k.arch, Version: newest[k], Fixed: fixed[k], Status: StatusFixed}
		if !ok[k] {
			ps.Status, status = StatusAffected, StatusAffected
		}
		out = append(out, ps)
	}
	slices.SortFunc(out, func(x, y PackageStatus) int {
		if c := strings.Compare(x.Name, y.Name); c != 0 {
			return c
		}
		return strings.Compare(x.Arch, y.Arch)
	})
	return status, out
}

// --- queries --------------------------------------------------------------

// AdvisoryInfo summarises one advisory.
type AdvisoryInfo struct {
	ID       string    `json:"id"`
	Source   string    `json:"source"`
	Type     string    `json:"type"`
	Severity string    `json:"severity"`
	Issued   time.Time `json:"issued,omitzero"`
	Updated  time.Time `json:"updated,omitzero"`
	Title    string    `json:"title,omitempty"`
	CVEs     []string  `json:"cves,omitempty"`
	// Status is "fixed" or "affected" in the queried repository, snapshot
	// or view ("" when it holds none of the advisory's packages).
	Status   string          `json:"status,omitempty"`
	Packages []PackageStatus `json:"packages,omitempty"`
}

func advisoryInfo(a *errata.Advisory) AdvisoryInfo {
	title := a.Title
	if title == "" {
		title = a.Summary
	}
	return AdvisoryInfo{ID: a.ID, Source: a.Source, Type: string(a.Type), Severity: a.Severity.String(),
		Issued: a.Issued, Updated: a.Updated, Title: title, CVEs: a.CVEs()}
}

// ErrataQuery selects advisories. At most one of Repo, Snapshot and View
// names the target; with none, every advisory in the catalog is listed.
type ErrataQuery struct {
	Repo     string // a repository's current state
	Snapshot string // REPO/NAME
	View     string // a view (its members' current states) or VIEW/NAME, a view snapshot
	// Types keeps advisories of these types; Severity those at least this
	// severe; CVE those naming it; Since those issued at or after it.
	Types    []string
	Severity string
	CVE      string
	Since    time.Time
}

// Errata lists advisories matching q, sorted by issue date (newest first),
// then source and id. With a target, each carries its status there.
func (m *Mirror) Errata(ctx context.Context, q ErrataQuery) ([]AdvisoryInfo, error) {
	n := 0
	for _, s := range []string{q.Repo, q.Snapshot, q.View} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		return nil, errors.New("errata list: name at most one of a repository, snapshot or view")
	}
	c := errata.Criteria{IssuedSince: q.Since}
	for _, t := range q.Types {
		c.Types = append(c.Types, errata.ParseType(t))
	}
	if q.Severity != "" {
		sev, ok := errata.ParseSeverity(q.Severity)
		if !ok {
			return nil, fmt.Errorf("errata list: unknown severity %q (want low, moderate, important or critical)", q.Severity)
		}
		c.MinSeverity = sev
	}
	if q.CVE != "" {
		c.CVEs = []string{q.CVE}
	}
	var out []AdvisoryInfo
	err := m.view(ctx, func(tx *catalog.Tx) error {
		er := m.newErrataReader(tx)
		if n == 0 {
			return tx.WalkAdvisories(func(r catalog.AdvisoryRecord) error {
				a, err := er.advisory(r.Key())
				if err != nil || a == nil || !c.Match(a) {
					return err
				}
				out = append(out, advisoryInfo(a))
				return nil
			})
		}
		var t *errataTarget
		var err error
		switch {
		case q.Repo != "":
			t, err = m.errataRepoTarget(tx, q.Repo)
		case q.Snapshot != "":
			t, err = m.errataSnapshotTarget(tx, q.Snapshot)
		default:
			t, err = m.resolveTarget(tx, "view:"+strings.TrimPrefix(q.View, "view:"))
		}
		if err != nil {
			return err
		}
		advs, err := er.advisoriesOf(t)
		if err != nil {
			return err
		}
		idx, err := er.packagesOf(t, nil)
		if err != nil {
			return err
		}
		cmp := m.comparer(t.Format)
		for i := range advs {
			a := &advs[i]
			if !c.Match(a) {
				continue
			}
			info := advisoryInfo(a)
			info.Status, info.Packages = evaluate(a, idx, cmp)
			out = append(out, info)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("errata list: %w", err)
	}
	sortInfos(out)
	return out, nil
}

func sortInfos(out []AdvisoryInfo) {
	slices.SortStableFunc(out, func(a, b AdvisoryInfo) int {
		if c := b.Issued.Compare(a.Issued); c != 0 {
			return c
		}
		if c := strings.Compare(a.Source, b.Source); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// ShowErratum returns every stored advisory with this id (one per source
// that has it), sorted by source. It fails with catalog.ErrNotFound when
// there is none.
func (m *Mirror) ShowErratum(ctx context.Context, id string) ([]errata.Advisory, error) {
	var out []errata.Advisory
	err := m.view(ctx, func(tx *catalog.Tx) error {
		var sources []string
		for i := range m.cfg.Repositories {
			sources = append(sources, "updateinfo:"+m.cfg.Repositories[i].ID)
		}
		for i := range m.cfg.ErrataSources {
			sources = append(sources, "osv:"+m.cfg.ErrataSources[i].ID)
		}
		er := m.newErrataReader(tx)
		for _, s := range sources {
			a, err := er.advisory(catalog.AdvisoryKey{Source: s, ID: id})
			if err != nil {
				return err
			}
			if a != nil {
				out = append(out, *a)
			}
		}
		if len(out) == 0 {
			// Sources no longer configured: look at every record.
			err := tx.WalkAdvisories(func(r catalog.AdvisoryRecord) error {
				if r.ID != id {
					return nil
				}
				a, err := er.advisory(r.Key())
				if a != nil {
					out = append(out, *a)
				}
				return err
			})
			if err != nil {
				return err
			}
		}
		if len(out) == 0 {
			return fmt.Errorf("advisory %s: %w", id, catalog.ErrNotFound)
		}
		return nil
	})
	return out, err
}

// ErrataDiffResult lists the advisories whose fixes B has and A lacks.
type ErrataDiffResult struct {
	A     string         `json:"a"`
	B     string         `json:"b"`
	Fixed []AdvisoryInfo `json:"fixed"` // fixed in B, not in A; Packages as in B
}

// ErrataDiff answers "which advisories does B fix over A": those fixed in
// B (see AdvisoryInfo.Status) that are not fixed in A, because A holds
// older versions or none of the advisory's packages. A and B are "REPO",
// "REPO/SNAPSHOT", "VIEW", "view:VIEW" or "view:VIEW/SNAPSHOT", of one
// format.
func (m *Mirror) ErrataDiff(ctx context.Context, a, b string) (*ErrataDiffResult, error) {
	res := &ErrataDiffResult{A: a, B: b, Fixed: []AdvisoryInfo{}}
	err := m.view(ctx, func(tx *catalog.Tx) error {
		er := m.newErrataReader(tx)
		ta, err := m.resolveTarget(tx, a)
		if err != nil {
			return err
		}
		tb, err := m.resolveTarget(tx, b)
		if err != nil {
			return err
		}
		if ta.Format != tb.Format {
			return fmt.Errorf("%s is %s and %s is %s: compare one format", a, ta.Format, b, tb.Format)
		}
		advA, err := er.advisoriesOf(ta)
		if err != nil {
			return err
		}
		advB, err := er.advisoriesOf(tb)
		if err != nil {
			return err
		}
		idxA, err := er.packagesOf(ta, nil)
		if err != nil {
			return err
		}
		idxB, err := er.packagesOf(tb, nil)
		if err != nil {
			return err
		}
		cmp := m.comparer(ta.Format)
		seen := map[catalog.AdvisoryKey]bool{}
		for _, list := range [][]errata.Advisory{advB, advA} {
			for i := range list {
				adv := &list[i]
				k := catalog.AdvisoryKey{Source: adv.Source, ID: adv.ID}
				if seen[k] {
					continue
				}
				seen[k] = true
				sb, pkgs := evaluate(adv, idxB, cmp)
				if sb != StatusFixed {
					continue
				}
				if sa, _ := evaluate(adv, idxA, cmp); sa == StatusFixed {
					continue
				}
				info := advisoryInfo(adv)
				info.Status, info.Packages = sb, pkgs
				res.Fixed = append(res.Fixed, info)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("errata diff %s %s: %w", a, b, err)
	}
	sortInfos(res.Fixed)
	return res, nil
}

// CVEReport answers "which repositories, snapshots and views are fixed for
// a CVE, and which are still affected".
type CVEReport struct {
	CVE        string         `json:"cve"`
	Advisories []AdvisoryInfo `json:"advisories"`
	Fixed      []CVEState     `json:"fixed"`
	Affected   []CVEState     `json:"affected"`
}

// CVEState is one repository, snapshot, view or view snapshot and the
// advisories of the CVE that concern it.
type CVEState struct {
	Kind       string          `json:"kind"` // repo, snapshot, view, view-snapshot
	Name       string          `json:"name"`
	Advisories []string        `json:"advisories"`
	Packages   []PackageStatus `json:"packages"`
}

// ErrataCVE evaluates every advisory naming cve against every repository's
// current state, every snapshot, every configured view and every view
// snapshot of the advisory's ecosystem (errata sources only against the
// repositories they apply to): a state is fixed when every advisory that
// concerns it is fixed there, affected when one is not. States holding
// none of the packages are not listed.
func (m *Mirror) ErrataCVE(ctx context.Context, cve string) (*CVEReport, error) {
	cve = strings.ToUpper(strings.TrimSpace(cve))
	if !errata.IsCVE(cve) {
		return nil, fmt.Errorf("errata cve: %q is not a CVE id (CVE-YYYY-NNNN)", cve)
	}
	rep := &CVEReport{CVE: cve, Advisories: []AdvisoryInfo{}, Fixed: []CVEState{}, Affected: []CVEState{}}
	err := m.view(ctx, func(tx *catalog.Tx) error {
		recs, err := tx.AdvisoriesByCVE(cve)
		if err != nil || len(recs) == 0 {
			return err
		}
		er := m.newErrataReader(tx)
		var advs []*errata.Advisory
		for _, r := range recs {
			a, err := er.advisory(r.Key())
			if err != nil {
				return err
			}
			if a != nil {
				advs = append(advs, a)
				rep.Advisories = append(rep.Advisories, advisoryInfo(a))
			}
		}
		sortInfos(rep.Advisories)
		names := map[string]bool{}
		for _, a := range advs {
			for _, p := range a.Packages {
				names[p.Name] = true
				for _, b := range p.Binaries {
					names[b.Name] = true
				}
			}
		}
		targets, err := m.allTargets(tx)
		if err != nil {
			return err
		}
		for _, t := range targets {
			if err := ctx.Err(); err != nil {
				return err
			}
			var idx map[string][]pkgVer
			st := CVEState{Kind: t.Kind, Name: t.Name}
			status := ""
			eco := ecosystemOf(t.Format)
			for _, a := range advs {
				if !m.advisoryConcerns(a, t) {
					continue
				}
				na := a.ForEcosystem(eco, "")
				if len(na.Packages) == 0 {
					continue
				}
				if idx == nil {
					if idx, err = er.packagesOf(t, names); err != nil {
						return err
					}
				}
				s, pkgs := evaluate(&na, idx, m.comparer(t.Format))
				if s == "" {
					continue
				}
				st.Advisories = append(st.Advisories, a.ID)
				st.Packages = append(st.Packages, pkgs...)
				if status != StatusAffected {
					status = s
				}
			}
			switch status {
			case StatusFixed:
				rep.Fixed = append(rep.Fixed, st)
			case StatusAffected:
				rep.Affected = append(rep.Affected, st)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("errata cve %s: %w", cve, err)
	}
	return rep, nil
}

// advisoryConcerns reports whether an advisory's source may speak about t:
// an errata source only about the repositories it applies to.
func (m *Mirror) advisoryConcerns(a *errata.Advisory, t *errataTarget) bool {
	id, ok := strings.CutPrefix(a.Source, "osv:")
	if !ok {
		return true
	}
	sc, ok := m.cfg.ErrataSource(id)
	return ok && sourceApplies(sc, t.repos)
}

// allTargets lists every repository (with a state), snapshot, configured
// view and view snapshot, in that order.
func (m *Mirror) allTargets(tx *catalog.Tx) ([]*errataTarget, error) {
	var out []*errataTarget
	for i := range m.cfg.Repositories {
		r, err := tx.Repo(m.cfg.Repositories[i].ID)
		if errors.Is(err, catalog.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, m.repoTargetOf(r))
	}
	snaps, err := tx.Snapshots("")
	if err != nil {
		return nil, err
	}
	formatOf := map[string]string{}
	for _, s := range snaps {
		f, ok := formatOf[s.Repo]
		if !ok {
			r, err := tx.Repo(s.Repo)
			if err != nil {
				return nil, err
			}
			f, formatOf[s.Repo] = r.Format, r.Format
		}
		if f == FormatErrata {
			continue
		}
		out = append(out, &errataTarget{Kind: KindSnapshot, Name: s.Repo + "/" + s.Name, Format: f, repos: []string{s.Repo}, states: []catalog.StateID{s.State}})
	}
	for i := range m.cfg.Views {
		t, err := m.viewTarget(tx, m.cfg.Views[i].Name)
		if err != nil {
			continue // a view with a member never synced has no state yet
		}
		out = append(out, t)
	}
	vss, err := tx.ViewSnapshots("")
	if err != nil {
		return nil, err
	}
	for _, vs := range vss {
		t, err := m.viewSnapshotTarget(tx, vs.View, vs.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// --- snapshot diff --------------------------------------------------------

// UpgradeErrata lists the advisories an upgrade of one (name, arch)
// applies: those with a fixed version above the old version and at or
// below the new one.
type UpgradeErrata struct {
	Name       string         `json:"name"`
	Arch       string         `json:"arch"`
	Old        string         `json:"old"`
	New        string         `json:"new"`
	Advisories []AdvisoryInfo `json:"advisories"`
}

// diffErrata fills the advisories of a diff's upgraded groups, from the
// advisories that concern either state.
func (m *Mirror) diffErrata(tx *catalog.Tx, ra, rb catalog.Repo, sa, sb catalog.StateID, res *DiffResult) error {
	if len(res.Upgraded)+len(res.Added) == 0 {
		return nil
	}
	er := m.newErrataReader(tx)
	ta := &errataTarget{Kind: KindSnapshot, Format: ra.Format, repos: []string{ra.ID}, states: []catalog.StateID{sa}}
	tb := &errataTarget{Kind: KindSnapshot, Format: rb.Format, repos: []string{rb.ID}, states: []catalog.StateID{sb}}
	keysA, err := er.advisoryKeys(ta)
	if err != nil {
		return err
	}
	keysB, err := er.advisoryKeys(tb)
	if err != nil {
		return err
	}
	keys := append(keysB, keysA...)
	slices.SortFunc(keys, compareKeys)
	keys = slices.Compact(keys)
	eco := ecosystemOf(rb.Format)
	byName := map[string][]*errata.Advisory{}
	for _, k := range keys {
		a, err := er.advisory(k)
		if err != nil {
			return err
		}
		if a == nil {
			continue
		}
		na := a.ForEcosystem(eco, "")
		for _, p := range na.Packages {
			names := []string{p.Name}
			for _, b := range p.Binaries {
				names = append(names, b.Name)
			}
			for _, n := range names {
				if l := byName[n]; len(l) == 0 || l[len(l)-1] != a {
					byName[n] = append(byName[n], a)
				}
			}
		}
	}
	if len(byName) == 0 {
		return nil // nothing to report: the diff stays proportional to the change
	}
	cmp := m.comparer(rb.Format)
	// Source names (apt) and the old state's versions are read only when
	// advisories could apply; both walk a whole state.
	sourceOf := map[string]string{}
	if eco == "deb" {
		pb, err := er.packages(sb)
		if err != nil {
			return err
		}
		for _, p := range pb {
			if p.source != "" {
				sourceOf[p.name] = p.source
			}
		}
	}
	type pair struct{ name, arch string }
	oldNewest := map[pair]string{}
	if slices.ContainsFunc(res.Added, func(g snapshot.Group) bool {
		return len(byName[g.Name]) > 0 || len(byName[sourceOf[g.Name]]) > 0
	}) {
		pa, err := er.packages(sa)
		if err != nil {
			return err
		}
		for _, p := range pa {
			k := pair{p.name, p.arch}
			if cur, ok := oldNewest[k]; !ok || cmp(p.version, cur) > 0 {
				oldNewest[k] = p.version
			}
		}
	}
	// Upgraded groups, and added versions of a (name, arch) the old state
	// holds at a lower version (its unchanged refs are not in the diff).
	groups := slices.Clone(res.Upgraded)
	for _, g := range res.Added {
		if _, ok := oldNewest[pair{g.Name, g.Arch}]; ok {
			groups = append(groups, g)
		}
	}
	for _, g := range groups {
		oldV, newV := oldNewest[pair{g.Name, g.Arch}], g.New[len(g.New)-1]
		if len(g.Old) > 0 {
			oldV = g.Old[len(g.Old)-1]
		}
		if cmp(newV, oldV) <= 0 {
			continue
		}
		ue := UpgradeErrata{Name: g.Name, Arch: g.Arch, Old: oldV, New: newV}
		for _, n := range []string{g.Name, sourceOf[g.Name]} {
			for _, a := range byName[n] {
				if n != "" && appliesUpgrade(a, n, g.Arch, oldV, newV, cmp) && !slices.ContainsFunc(ue.Advisories, func(x AdvisoryInfo) bool { return x.ID == a.ID && x.Source == a.Source }) {
					ue.Advisories = append(ue.Advisories, advisoryInfo(a))
				}
			}
		}
		if len(ue.Advisories) > 0 {
			res.Errata = append(res.Errata, ue)
		}
	}
	slices.SortFunc(res.Errata, func(x, y UpgradeErrata) int {
		if c := strings.Compare(x.Name, y.Name); c != 0 {
			return c
		}
		return strings.Compare(x.Arch, y.Arch)
	})
	return nil
}

// appliesUpgrade reports whether moving name.arch from old to new applies
// the advisory: new ≥ one of its fixed versions > old.
func appliesUpgrade(a *errata.Advisory, name, arch, old, new string, cmp func(a, b string) int) bool {
	for _, p := range a.Packages {
		if !errata.ArchMatches(p.Arch, arch) {
			continue
		}
		var fvs []string
		if p.Name == name {
			fvs = p.FixedVersions()
		}
		for _, b := range p.Binaries {
			if b.Name == name && b.Version != "" {
				fvs = append(fvs, b.Version)
			}
		}
		for _, fv := range fvs {
			if cmp(new, fv) >= 0 && cmp(fv, old) > 0 {
				return true
			}
		}
	}
	return false
}

// --- errata-filtered views ------------------------------------------------

// applyErrataFilter turns a loaded view job into its errata-filtered form
// when the view has an errata_filter: the base snapshot's items and files
// plus the selected advisories' packages from the members, with an
// updateinfo (rpm) of exactly the selected advisories.
func (m *Mirror) applyErrataFilter(ctx context.Context, tx *catalog.Tx, j *pubJob, vc *config.View) error {
	f := vc.ErrataFilter
	if f == nil {
		return nil
	}
	er := m.newErrataReader(tx)
	t := &errataTarget{Kind: KindView, Name: vc.Name, Format: j.format.Name(), filter: f, view: vc}
	if _, err := m.membersTarget(tx, t, j.members); err != nil {
		return err
	}
	bs, err := er.baseState(f)
	if err != nil {
		return err
	}
	baseItems, baseFiles, err := loadState(tx, bs)
	if err != nil {
		return fmt.Errorf("errata_filter base %s: %w", f.Base, err)
	}
	sel, err := er.selected(t)
	if err != nil {
		return err
	}
	merged := view.ErrataFilter(view.ErrataRequest{
		Base:       view.Member{Name: f.Base, Items: baseItems, Files: baseFiles},
		Members:    []view.Member{{Name: vc.Name, Items: j.items}},
		Advisories: sel, Compare: m.comparer(t.Format),
	})
	files := slices.DeleteFunc(merged.Files, func(fl formats.File) bool {
		return fl.Kind == "updateinfo" || fl.Kind == catalog.FileKindAdvisories
	})
	var keys []catalog.AdvisoryKey
	for _, a := range sel {
		keys = append(keys, catalog.AdvisoryKey{Source: a.Source, ID: a.ID})
	}
	setID, _, err := catalog.EncodeAdvisorySet(keys)
	if err != nil {
		return err
	}
	if t.Format == "rpm" && len(sel) > 0 {
		var buf bytes.Buffer
		if err := errata.WriteUpdateinfo(&buf, sel); err != nil {
			return err
		}
		data := buf.Bytes()
		info, err := m.pool.Put(ctx, bytes.NewReader(data), pool.PutRequest{Digest: pool.Sum(data), Size: int64(len(data))})
		if err != nil {
			return fmt.Errorf("storing updateinfo: %w", err)
		}
		files = append(files, formats.File{Path: "repodata/updateinfo.xml", Size: info.Size, Digest: info.Digest, Kind: "updateinfo",
			Checksums: formats.Checksums{"sha256": info.Digest.String()}})
		slices.SortFunc(files, func(a, b formats.File) int { return strings.Compare(a.Path, b.Path) })
	}
	fb, _ := json.Marshal(f) // plain config values cannot fail
	sum := sha256.Sum256(fb)
	j.items, j.files = merged.Items, files
	j.collisions = append(j.collisions, merged.Collisions...)
	j.key = view.Key([]string{j.key, "base=" + bs.String(), "filter=" + hex.EncodeToString(sum[:]), "errata=" + setID.String()})
	return nil
}
