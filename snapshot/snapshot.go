// Package snapshot freezes, copies, deletes and compares repository states
// held in the catalog.
//
// A snapshot is a name for a catalog state: creating one takes a reference
// on the repository's current state (its item references and its repo-level
// files), so it costs the same for ten items as for a million. Diff merges
// two sorted reference lists and decodes only the chunks that differ, so it
// costs in proportion to the change; equal states answer from their ids.
//
// Every function takes an open catalog transaction; the caller decides how
// long it lasts and what else happens in it.
package snapshot

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chantal-lite/chantal/catalog"
)

// ErrInUse is wrapped by an *InUseError when Delete refuses a snapshot that
// is published or frozen in a view snapshot.
var ErrInUse = errors.New("snapshot is in use")

// ErrNoState is returned by Create for a repository that was never synced
// or uploaded to.
var ErrNoState = errors.New("repository has no state yet (sync or upload first)")

// An InUseError says what still uses a snapshot Delete was asked to delete.
type InUseError struct {
	Repo, Name string
	// Published lists the targets it is published at.
	Published []string
	// ViewSnapshots lists the view snapshots (VIEW/NAME) that froze it.
	ViewSnapshots []string
}

func (e *InUseError) Error() string {
	var what []string
	if len(e.Published) > 0 {
		what = append(what, "published at "+strings.Join(e.Published, ", "))
	}
	if len(e.ViewSnapshots) > 0 {
		what = append(what, "frozen in view snapshot "+strings.Join(e.ViewSnapshots, ", "))
	}
	return fmt.Sprintf("snapshot %s/%s is %s (unpublish it, or force)", e.Repo, e.Name, strings.Join(what, " and "))
}

// Unwrap returns ErrInUse.
func (e *InUseError) Unwrap() error { return ErrInUse }

// CreateRequest says which snapshot Create makes.
type CreateRequest struct {
	Repo, Name  string
	Description string
	// Created is recorded as the snapshot's creation time.
	Created time.Time
	// StateTime is when the repository's state last changed; publishing
	// the snapshot writes it into the metadata.
	StateTime time.Time
}

// Create freezes the current state of req.Repo as snapshot req.Name. It
// fails with catalog.ErrExists when the name is taken, catalog.ErrNotFound
// for an unknown repository, ErrNoState for one that holds no state yet and
// catalog.ErrInvalid for a name that is not a token.
func Create(tx *catalog.Tx, req CreateRequest) (catalog.Snapshot, error) {
	if err := CheckName(req.Name); err != nil {
		return catalog.Snapshot{}, err
	}
	r, err := tx.Repo(req.Repo)
	if err != nil {
		return catalog.Snapshot{}, err
	}
	if r.State.IsZero() {
		return catalog.Snapshot{}, fmt.Errorf("snapshot %s/%s: %w", req.Repo, req.Name, ErrNoState)
	}
	s := catalog.Snapshot{
		Repo: req.Repo, Name: req.Name, State: r.State, Created: req.Created.UTC(),
		Description: req.Description, StateTime: req.StateTime.UTC(),
	}
	if err := tx.PutSnapshot(s); err != nil {
		return catalog.Snapshot{}, err
	}
	return s, nil
}

// CopyRequest copies snapshot FromRepo/From to ToRepo/To (promotion). The
// copy shares the state: it costs one record.
type CopyRequest struct {
	FromRepo, From string
	ToRepo, To     string
	Description    string
	Created        time.Time
}

// Copy makes ToRepo/To hold the state of FromRepo/From, keeping its state
// time so both publish the same bytes. Both repositories must exist and be
// of the same format.
func Copy(tx *catalog.Tx, req CopyRequest) (catalog.Snapshot, error) {
	if err := CheckName(req.To); err != nil {
		return catalog.Snapshot{}, err
	}
	src, err := tx.Snapshot(req.FromRepo, req.From)
	if err != nil {
		return catalog.Snapshot{}, err
	}
	from, err := tx.Repo(req.FromRepo)
	if err != nil {
		return catalog.Snapshot{}, err
	}
	to, err := tx.Repo(req.ToRepo)
	if err != nil {
		return catalog.Snapshot{}, err
	}
	if from.Format != to.Format {
		return catalog.Snapshot{}, fmt.Errorf("copy snapshot %s/%s to %s/%s: %s is %s, %s is %s: %w",
			req.FromRepo, req.From, req.ToRepo, req.To, from.ID, from.Format, to.ID, to.Format, catalog.ErrInvalid)
	}
	desc := req.Description
	if desc == "" {
		desc = src.Description
	}
	s := catalog.Snapshot{Repo: req.ToRepo, Name: req.To, State: src.State, Created: req.Created.UTC(), Description: desc, StateTime: src.StateTime}
	if err := tx.PutSnapshot(s); err != nil {
		return catalog.Snapshot{}, err
	}
	return s, nil
}

// DeleteRequest says which snapshot Delete deletes.
type DeleteRequest struct {
	Repo, Name string
	// Force deletes a snapshot that is published or frozen in a view
	// snapshot. View snapshots hold their own reference on the state, so
	// they stay complete; the caller unpublishes the published trees.
	Force bool
}

// Delete deletes a snapshot and releases its state (the items stay until
// catalog.Tx.PruneItems, the blobs until pool GC). Unless req.Force is set
// it fails with an *InUseError (ErrInUse) while a publication or a view
// snapshot uses the snapshot. It returns what used it either way.
func Delete(tx *catalog.Tx, req DeleteRequest) (*InUseError, error) {
	if _, err := tx.Snapshot(req.Repo, req.Name); err != nil {
		return nil, err
	}
	use, err := Uses(tx, req.Repo, req.Name)
	if err != nil {
		return nil, err
	}
	if use != nil && !req.Force {
		return use, use
	}
	return use, tx.DeleteSnapshot(req.Repo, req.Name)
}

// Uses reports what uses snapshot repo/name: its publications and the view
// snapshots that froze it; nil when nothing does.
func Uses(tx *catalog.Tx, repo, name string) (*InUseError, error) {
	use := &InUseError{Repo: repo, Name: name}
	pubs, err := tx.Publications()
	if err != nil {
		return nil, err
	}
	for _, p := range pubs {
		if p.Kind == "snapshot" && p.Name == repo+"/"+name {
			use.Published = append(use.Published, p.Target)
		}
	}
	vss, err := tx.ViewSnapshots("")
	if err != nil {
		return nil, err
	}
	for _, vs := range vss {
		for _, m := range vs.Members {
			if m.Repo == repo && m.Snapshot == name {
				use.ViewSnapshots = append(use.ViewSnapshots, vs.View+"/"+vs.Name)
				break
			}
		}
	}
	if len(use.Published) == 0 && len(use.ViewSnapshots) == 0 {
		return nil, nil
	}
	return use, nil
}

// CheckName checks that s is a token usable as a snapshot name and as one
// directory of a published path: letters, digits, '.', '_' and '-', not "."
// or "..". It wraps catalog.ErrInvalid.
func CheckName(s string) error {
	ok := s != "" && s != "." && s != ".." && len(s) <= 200
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
	}
	if !ok {
		return fmt.Errorf("name %q: want letters, digits, '.', '_' or '-' (not \".\" or \"..\"): %w", s, catalog.ErrInvalid)
	}
	return nil
}

// ExpandName expands the placeholders of a name template: {date}
// (YYYY-MM-DD), {datetime} (YYYYMMDDTHHMMSSZ), both of now in UTC, and any
// key of vars such as {repo} or {view}. An unknown placeholder or a result
// that is not a valid name is an error wrapping catalog.ErrInvalid.
func ExpandName(tmpl string, now time.Time, vars map[string]string) (string, error) {
	var b strings.Builder
	rest := tmpl
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			b.WriteString(rest)
			break
		}
		b.WriteString(rest[:i])
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("name template %q: unclosed '{': %w", tmpl, catalog.ErrInvalid)
		}
		key := rest[i+1 : i+j]
		switch v, ok := vars[key]; {
		case ok:
			b.WriteString(v)
		case key == "date":
			b.WriteString(now.UTC().Format("2006-01-02"))
		case key == "datetime":
			b.WriteString(now.UTC().Format("20060102T150405Z"))
		default:
			return "", fmt.Errorf("name template %q: unknown placeholder {%s}: %w", tmpl, key, catalog.ErrInvalid)
		}
		rest = rest[i+j+1:]
	}
	name := b.String()
	if err := CheckName(name); err != nil {
		return "", fmt.Errorf("name template %q: %w", tmpl, err)
	}
	return name, nil
}
