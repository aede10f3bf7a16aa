package chantal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/chantal-lite/chantal/catalog"
	"github.com/chantal-lite/chantal/config"
	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/pool"
)

// UploadRequest adds local payload files to a hosted repository.
type UploadRequest struct {
	Repo  string
	Files []string
	// Component places APT packages (default: the repository's first component).
	Component string
	// Force replaces a package with the same name, version and architecture but
	// different bytes; without it such an upload is refused.
	Force bool
}

// UploadResult reports an Upload.
type UploadResult struct {
	Repo string
	// Added are new packages, Replaced ones whose bytes changed (with Force),
	// Unchanged ones already present with the same bytes.
	Added, Replaced, Unchanged []Change
	State                      string
}

// ErrConflict is returned by Upload for a package whose name, version and
// architecture are already in the repository with different bytes.
var ErrConflict = errors.New("package exists with different content")

// Upload reads each file's own metadata (the format's Inspector: rpm header,
// deb control, Chart.yaml), stores the file in the pool and adds it to the
// hosted repository's state in one catalog transaction. Nothing is added when
// any file fails.
func (m *Mirror) Upload(ctx context.Context, req UploadRequest) (*UploadResult, error) {
	rc, err := m.repoConfig(req.Repo)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*UploadResult, error) {
		return nil, &RepoError{Op: "upload", Repo: rc.ID, Err: err}
	}
	if rc.Mode != config.ModeHosted {
		return fail(fmt.Errorf("repository mode is %q: uploads go to hosted repositories (mode: hosted)", rc.Mode))
	}
	if len(req.Files) == 0 {
		return fail(errors.New("no files to upload"))
	}
	f, err := m.formats.Lookup(rc.Type)
	if err != nil {
		return fail(err)
	}
	insp, ok := f.(formats.Inspector)
	if !ok {
		return fail(fmt.Errorf("format %s cannot read uploaded packages", f.Name()))
	}
	lay, _ := f.(formats.Layouter)
	component := req.Component
	if component == "" && len(rc.APT.Components) > 0 {
		component = rc.APT.Components[0]
	}
	if err := checkComponent(component, rc.APT.Components); err != nil {
		return fail(err)
	}
	repoLock, err := m.lockRepo(ctx, rc.ID, true)
	if err != nil {
		return fail(err)
	}
	defer repoLock.Unlock()
	poolLock, err := m.lockPool(ctx, false, true)
	if err != nil {
		return fail(err)
	}
	defer poolLock.Unlock()

	items := make([]formats.Item, 0, len(req.Files))
	var companions []catalog.File
	for _, name := range req.Files {
		it, err := m.inspectAndStore(ctx, insp, name)
		if err != nil {
			return fail(fmt.Errorf("%s: %w", filepath.Base(name), err))
		}
		if component != "" {
			if it.Fields == nil {
				it.Fields = map[string]string{}
			}
			it.Fields["component"] = component
		}
		if lay != nil {
			it.Path = lay.PublishPath(it)
		}
		if it.Path == "" {
			it.Path = filepath.Base(name)
		}
		items = append(items, it)
		cf, err := m.uploadCompanions(ctx, f, it, name)
		if err != nil {
			return fail(fmt.Errorf("%s: %w", filepath.Base(name), err))
		}
		companions = append(companions, cf...)
	}

	res := &UploadResult{Repo: rc.ID}
	now := m.now().UTC()
	err = m.update(ctx, func(tx *catalog.Tx) error {
		r, err := tx.Repo(rc.ID)
		exists := err == nil
		if errors.Is(err, catalog.ErrNotFound) {
			r = catalog.Repo{ID: rc.ID, Format: f.Name(), Mode: string(formats.ModeHosted), Created: now}
		} else if err != nil {
			return err
		}
		st := &catalog.State{}
		if exists {
			if st, err = tx.State(r.State); err != nil {
				return err
			}
		}
		type nva struct{ name, version, arch string }
		byNVA := map[nva]int{}
		byPath := map[string]int{}
		for i, ref := range st.Refs {
			byPath[ref.Path] = i
			it, err := tx.ItemHead(ref.Digest)
			if err != nil {
				return fmt.Errorf("loading %s: %w", ref.Path, err)
			}
			byNVA[nva{it.Name, it.Version, it.Arch}] = i
		}
		drop := map[int]bool{}
		var added []catalog.Ref
		for _, it := range items {
			c := Change{Name: it.Name, Arch: it.Arch, New: it.Version, Path: it.Path}
			i, dup := byNVA[nva{it.Name, it.Version, it.Arch}]
			if !dup {
				i, dup = byPath[it.Path]
			}
			switch {
			case dup && st.Refs[i].Digest == it.Digest:
				res.Unchanged = append(res.Unchanged, c)
				continue
			case dup && !req.Force:
				return fmt.Errorf("%w: %s %s %s (use --force to replace it)", ErrConflict, it.Name, it.Version, it.Arch)
			case dup:
				drop[i] = true
				c.Old = it.Version
				res.Replaced = append(res.Replaced, c)
			default:
				res.Added = append(res.Added, c)
			}
			if err := tx.PutItem(catalog.Item{
				Digest: it.Digest, Size: it.Size, Format: f.Name(), Name: it.Name, Version: it.Version, Arch: it.Arch,
				Checksums: it.Checksums, Fields: it.Fields, Fragments: it.Fragments,
			}); err != nil {
				return err
			}
			added = append(added, catalog.Ref{Path: it.Path, Digest: it.Digest})
		}
		files := st.Files
		for i, ref := range st.Refs {
			if drop[i] {
				// A replaced payload's companions (its .prov) go with it.
				files = slices.DeleteFunc(slices.Clone(files), func(f catalog.File) bool {
					return strings.HasPrefix(f.Kind, linkKind) && strings.HasPrefix(f.Path, ref.Path+".")
				})
			}
		}
		next := &catalog.State{Files: mergeCatalogFiles(files, companions)}
		for i, ref := range st.Refs {
			if !drop[i] {
				next.Refs = append(next.Refs, ref)
			}
		}
		next.Refs = append(next.Refs, added...)
		next.Sort()
		if err := checkUniquePaths(next); err != nil {
			return err
		}
		if !exists {
			if err := tx.PutRepo(r); err != nil {
				return err
			}
		}
		sid, err := tx.SetRepoState(rc.ID, next)
		if err != nil {
			return err
		}
		if r.Meta == nil {
			r.Meta = map[string]string{}
		}
		if sid != r.State || r.Meta[stateTimeKey] == "" {
			r.Meta[stateTimeKey] = now.Truncate(time.Second).Format(time.RFC3339)
		}
		r.Updated = now
		if err := tx.PutRepo(r); err != nil {
			return err
		}
		res.State = sid.String()
		return tx.PutSyncRun(&catalog.SyncRun{
			Repo: rc.ID, Started: now, Finished: m.now().UTC(), Status: "upload",
			Added: len(res.Added), Updated: len(res.Replaced),
		})
	})
	if err != nil {
		return fail(err)
	}
	for _, cs := range [][]Change{res.Added, res.Replaced, res.Unchanged} {
		sortChanges(cs)
	}
	return res, nil
}

func checkUniquePaths(st *catalog.State) error {
	for i := 1; i < len(st.Refs); i++ {
		if st.Refs[i].Path == st.Refs[i-1].Path {
			return fmt.Errorf("%w: two packages would be published at %s", ErrConflict, st.Refs[i].Path)
		}
	}
	return nil
}

// inspectAndStore reads a local file's metadata and puts its bytes in the pool.
func (m *Mirror) inspectAndStore(ctx context.Context, insp formats.Inspector, name string) (formats.Item, error) {
	fh, err := os.Open(name)
	if err != nil {
		return formats.Item{}, err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return formats.Item{}, err
	}
	if !fi.Mode().IsRegular() {
		return formats.Item{}, errors.New("not a regular file")
	}
	it, err := insp.Inspect(ctx, fh, fi.Size())
	if err != nil {
		return formats.Item{}, fmt.Errorf("reading package metadata: %w", err)
	}
	if _, err := fh.Seek(0, 0); err != nil {
		return formats.Item{}, err
	}
	info, err := m.pool.Put(ctx, fh, pool.PutRequest{Digest: it.Digest, Size: fi.Size()})
	if err != nil {
		return formats.Item{}, fmt.Errorf("storing: %w", err)
	}
	it.Digest, it.Size = info.Digest, info.Size
	if it.Checksums == nil {
		it.Checksums = formats.Checksums{}
	}
	it.Checksums["sha256"] = info.Digest.String()
	if it.Name == "" {
		return formats.Item{}, errors.New("package has no name")
	}
	return it, nil
}

// PackageQuery selects packages of one repository.
type PackageQuery struct {
	Repo string
	// Name, when set, is a regular expression the package name must match.
	Name string
	// Arch, when set, is the exact architecture.
	Arch string
}

// Package is one package of a repository's current state.
type Package struct {
	Name, Version, Arch string
	Path                string
	Size                int64
	Digest              pool.Digest
	Checksums           map[string]string
	Fields              map[string]string
}

// Packages lists the packages of a repository's current state that match q,
// sorted by name, architecture and path.
func (m *Mirror) Packages(ctx context.Context, q PackageQuery) ([]Package, error) {
	if _, err := m.repoConfig(q.Repo); err != nil {
		return nil, err
	}
	var re interface{ MatchString(string) bool }
	if q.Name != "" {
		res, err := compileAll([]string{q.Name})
		if err != nil {
			return nil, err
		}
		re = res[0]
	}
	var out []Package
	err := m.view(ctx, func(tx *catalog.Tx) error {
		r, err := tx.Repo(q.Repo)
		if errors.Is(err, catalog.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return tx.WalkState(r.State, func(ref catalog.Ref) error {
			it, err := tx.Item(ref.Digest)
			if err != nil {
				return fmt.Errorf("loading %s: %w", ref.Path, err)
			}
			if re != nil && !re.MatchString(it.Name) || q.Arch != "" && it.Arch != q.Arch {
				return nil
			}
			out = append(out, Package{Name: it.Name, Version: it.Version, Arch: it.Arch, Path: ref.Path, Size: it.Size,
				Digest: it.Digest, Checksums: it.Checksums, Fields: it.Fields})
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Arch != b.Arch {
			return a.Arch < b.Arch
		}
		return a.Path < b.Path
	})
	return out, err
}

// checkComponent refuses a component that is not a plain token or, when the
// repository names its components, not one of them.
func checkComponent(c string, allowed []string) error {
	if c == "" {
		return nil
	}
	for _, r := range c {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("component %q: want letters, digits, '.', '_' or '-'", c)
		}
	}
	if c == "." || c == ".." {
		return fmt.Errorf("component %q is not a name", c)
	}
	if len(allowed) > 0 && !slices.Contains(allowed, c) {
		return fmt.Errorf("component %q is not one of the repository's components %v", c, allowed)
	}
	return nil
}

// uploadCompanions stores the companion files found beside an uploaded
// payload (chart.tgz.prov beside chart.tgz), checked against it, as files
// published beside the payload.
func (m *Mirror) uploadCompanions(ctx context.Context, f formats.Format, it formats.Item, local string) ([]catalog.File, error) {
	cp, ok := f.(formats.Companioner)
	if !ok {
		return nil, nil
	}
	var out []catalog.File
	for _, c := range cp.Companions(it, filepath.Base(local)) {
		p := filepath.Join(filepath.Dir(local), filepath.FromSlash(c.From))
		max := c.MaxSize
		if max <= 0 {
			max = 1 << 20
		}
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !fi.Mode().IsRegular() || fi.Size() > max {
			return nil, fmt.Errorf("%s: not a regular file of at most %d bytes", filepath.Base(p), max)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if c.Check != nil {
			if err := c.Check(data); err != nil {
				return nil, fmt.Errorf("%s: %w", filepath.Base(p), err)
			}
		}
		info, err := m.pool.Put(ctx, bytes.NewReader(data), pool.PutRequest{Digest: pool.Sum(data), Size: int64(len(data))})
		if err != nil {
			return nil, err
		}
		out = append(out, catalog.File{Path: c.Path, Digest: info.Digest, Size: info.Size, Kind: linkKind + c.Kind,
			Checksums: map[string]string{"sha256": info.Digest.String()}})
	}
	return out, nil
}

// mergeCatalogFiles returns old with add's files replacing those at the same path.
func mergeCatalogFiles(old, add []catalog.File) []catalog.File {
	if len(add) == 0 {
		return old
	}
	byPath := map[string]bool{}
	for _, f := range add {
		byPath[f.Path] = true
	}
	out := make([]catalog.File, 0, len(old)+len(add))
	for _, f := range old {
		if !byPath[f.Path] {
			out = append(out, f)
		}
	}
	out = append(out, add...)
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}
