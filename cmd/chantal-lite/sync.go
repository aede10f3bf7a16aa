package main

import (
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/chantal-lite/chantal"
	"github.com/chantal-lite/chantal/internal/gctune"
)

func syncCommand(env *appEnv) *cli.Command {
	return &cli.Command{
		Name:      "sync",
		Usage:     "fetch upstream metadata and missing packages, reconcile the repository state",
		ArgsUsage: "[REPO...]",
		Description: `Fetches each repository's top-level metadata once (verifying its signature
when verify.keys is set), applies filters, downloads missing payloads in
parallel into the pool and commits the new state in one transaction. What
upstream dropped, or a filter now excludes, leaves the repository's state
(snapshots keep theirs). An unchanged upstream costs one conditional request.

Exit code 3 means some items failed and the rest were synced.`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Usage: "sync every enabled repository"},
			&cli.BoolFlag{Name: "dry-run", Usage: "show what would change; download no payloads, change nothing"},
			&cli.BoolFlag{Name: "wait", Usage: "wait for another process syncing the same repository instead of failing"},
		},
		Action: func(c *cli.Context) error {
			if c.Bool("all") == (c.NArg() > 0) {
				return usagef("name repositories or use --all")
			}
			gctune.ForSync()
			m, err := env.open()
			if err != nil {
				return err
			}
			res, err := m.Sync(c.Context, chantal.SyncRequest{Repos: c.Args().Slice(), All: c.Bool("all"), DryRun: c.Bool("dry-run"), Wait: c.Bool("wait")})
			if err != nil {
				return err
			}
			env.progress.finish()
			if err := env.out(syncJSON(res), func(w io.Writer) { printSync(w, res, env.verbose) }); err != nil {
				return err
			}
			return res.Err()
		},
	}
}

func checkUpdatesCommand(env *appEnv) *cli.Command {
	return &cli.Command{
		Name:      "check-updates",
		Usage:     "show what a sync would add, remove and update, without downloading packages",
		ArgsUsage: "[REPO...]",
		Flags:     []cli.Flag{&cli.BoolFlag{Name: "all", Usage: "check every enabled repository"}},
		Action: func(c *cli.Context) error {
			if c.Bool("all") == (c.NArg() > 0) {
				return usagef("name repositories or use --all")
			}
			m, err := env.open()
			if err != nil {
				return err
			}
			res, err := m.Sync(c.Context, chantal.SyncRequest{Repos: c.Args().Slice(), All: c.Bool("all"), DryRun: true})
			if err != nil {
				return err
			}
			env.progress.finish()
			if err := env.out(syncJSON(res), func(w io.Writer) { printSync(w, res, true) }); err != nil {
				return err
			}
			return res.Err()
		},
	}
}

type changeJSON struct {
	Name string `json:"name"`
	Arch string `json:"arch,omitempty"`
	Old  string `json:"old,omitempty"`
	New  string `json:"new,omitempty"`
	Path string `json:"path"`
}

type repoSyncJSON struct {
	Repo       string       `json:"repo"`
	Status     string       `json:"status"`
	DryRun     bool         `json:"dry_run,omitempty"`
	Wanted     int          `json:"wanted"`
	Added      []changeJSON `json:"added"`
	Removed    []changeJSON `json:"removed"`
	Updated    []changeJSON `json:"updated"`
	Downloaded int          `json:"downloaded"`
	Bytes      int64        `json:"bytes"`
	Failed     []itemJSON   `json:"failed,omitempty"`
	State      string       `json:"state,omitempty"`
	Seconds    float64      `json:"seconds"`
	Error      string       `json:"error,omitempty"`
}

type itemJSON struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

func changes(cs []chantal.Change) []changeJSON {
	out := make([]changeJSON, 0, len(cs))
	for _, c := range cs {
		out = append(out, changeJSON{Name: c.Name, Arch: c.Arch, Old: c.Old, New: c.New, Path: c.Path})
	}
	return out
}

func status(r *chantal.RepoSyncResult) string {
	switch {
	case r.Err != nil:
		return "failed"
	case r.Unchanged:
		return "unchanged"
	case len(r.Failed) > 0:
		return "partial"
	}
	return "ok"
}

func syncJSON(res *chantal.SyncResult) any {
	out := struct {
		Repos []repoSyncJSON `json:"repos"`
	}{Repos: []repoSyncJSON{}}
	for i := range res.Repos {
		r := &res.Repos[i]
		j := repoSyncJSON{
			Repo: r.Repo, Status: status(r), DryRun: r.DryRun, Wanted: r.Wanted,
			Added: changes(r.Added), Removed: changes(r.Removed), Updated: changes(r.Updated),
			Downloaded: r.Downloaded, Bytes: r.Bytes, State: r.State,
			Seconds: r.Finished.Sub(r.Started).Seconds(),
		}
		for _, f := range r.Failed {
			j.Failed = append(j.Failed, itemJSON{Path: f.Path, Error: f.Err.Error()})
		}
		if r.Err != nil {
			j.Error = r.Err.Error()
		}
		out.Repos = append(out.Repos, j)
	}
	return out
}

func printSync(w io.Writer, res *chantal.SyncResult, detail bool) {
	for i := range res.Repos {
		r := &res.Repos[i]
		took := r.Finished.Sub(r.Started).Round(time.Millisecond)
		switch {
		case r.Err != nil:
			fmt.Fprintf(w, "%s: failed: %v\n", r.Repo, r.Err)
			continue
		case r.Unchanged:
			fmt.Fprintf(w, "%s: unchanged (%v)\n", r.Repo, took)
			continue
		}
		verb := "synced"
		if r.DryRun {
			verb = "would sync"
		}
		fmt.Fprintf(w, "%s: %s %d items: %d added, %d updated, %d removed; %d downloads, %s (%v)\n",
			r.Repo, verb, r.Wanted, len(r.Added), len(r.Updated), len(r.Removed), r.Downloaded, humanBytes(r.Bytes), took)
		if detail {
			for _, c := range r.Added {
				fmt.Fprintf(w, "  + %s %s %s\n", c.Name, c.New, c.Arch)
			}
			for _, c := range r.Updated {
				fmt.Fprintf(w, "  ~ %s %s -> %s %s\n", c.Name, c.Old, c.New, c.Arch)
			}
			for _, c := range r.Removed {
				fmt.Fprintf(w, "  - %s %s %s\n", c.Name, c.Old, c.Arch)
			}
		}
		for _, f := range r.Failed {
			fmt.Fprintf(w, "  ! %s: %v\n", f.Path, f.Err)
		}
	}
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
