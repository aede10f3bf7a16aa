package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/chantal-lite/chantal"
)

func dbCommand(env *appEnv) *cli.Command {
	return &cli.Command{
		Name:  "db",
		Usage: "inspect, check, compact, back up and restore the catalog",
		Subcommands: []*cli.Command{
			{
				Name:   "stats",
				Usage:  "count repositories, items, snapshots and views; show what deduplication saves",
				Action: func(c *cli.Context) error { return dbStats(c, env) },
			},
			{
				Name:  "verify",
				Usage: "check the catalog's consistency and that every referenced blob is in the pool",
				Description: `Checks that every catalog record decodes, that every state's references
are sorted, unique and hash to the state's id, that repositories, snapshots
and view snapshots name existing states and items, that reference counts add
up, and that every blob a state references exists in the pool. --rehash also
re-reads and re-hashes every pool blob in parallel (slow: reads the whole pool).

Exit code 1 when a problem is found.`,
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "rehash", Usage: "also re-hash every pool blob"},
					&cli.IntFlag{Name: "parallel", Usage: "check `N` blobs at once (default: download.parallel)"},
				},
				Action: func(c *cli.Context) error { return dbVerify(c, env) },
			},
			{
				Name:  "vacuum",
				Usage: "compact the catalog file into a new one and swap it in atomically",
				Description: `Rewrites catalog.db without free pages and renames the new file over the
old one. Refuses (exit code 4) while another process holds the catalog or a
sync, upload, publish or gc uses the pool; run it when nothing else runs.`,
				Action: func(c *cli.Context) error { return dbVacuum(c, env) },
			},
			{
				Name:      "export",
				Usage:     "write the whole catalog as versioned JSON Lines (for backups)",
				ArgsUsage: "FILE",
				Description: `Streams every repository, item, state, snapshot, view snapshot, sync run and
publication record from one consistent read transaction into FILE (written
to FILE.tmp and renamed when complete; "-" writes to stdout). Other commands
keep working meanwhile. A backup is this file plus a copy of the pool
directory; see docs/operations.md.`,
				Action: func(c *cli.Context) error { return dbExport(c, env) },
			},
			{
				Name:      "import",
				Usage:     "load a catalog export into an empty data directory",
				ArgsUsage: "FILE",
				Description: `Loads FILE ("-" reads stdin) into the catalog, which must be empty: the
records are checked (order, state ids, references) and written into a new
file that replaces the empty catalog only when everything checked out.
Importing the file the catalog already holds succeeds without changes; any
other non-empty catalog is refused.`,
				Action: func(c *cli.Context) error { return dbImport(c, env) },
			},
		},
	}
}

func dbStats(c *cli.Context, env *appEnv) error {
	if err := noArgs(c); err != nil {
		return err
	}
	m, err := env.open()
	if err != nil {
		return err
	}
	st, err := m.DBStats(c.Context)
	if err != nil {
		return err
	}
	return env.out(map[string]any{
		"repos": st.Repos, "items": st.Items, "snapshots": st.Snapshots, "views": st.Views,
		"view_snapshots": st.ViewSnapshots, "states": st.States, "sync_runs": st.SyncRuns, "advisories": st.Advisories,
		"item_bytes": st.ItemBytes, "referenced_bytes": st.ReferencedBytes, "unique_bytes": st.UniqueBytes,
		"saved_bytes": st.SavedBytes, "catalog_bytes": st.CatalogBytes, "pool_blobs": st.PoolBlobs, "pool_bytes": st.PoolBytes,
	}, func(w io.Writer) {
		fmt.Fprintf(w, "Repositories:    %d\nItems:           %d (%s)\nSnapshots:       %d\nViews:           %d (%d view snapshots)\nStates:          %d\nSync runs:       %d\nAdvisories:      %d\n",
			st.Repos, st.Items, humanBytes(st.ItemBytes), st.Snapshots, st.Views, st.ViewSnapshots, st.States, st.SyncRuns, st.Advisories)
		fmt.Fprintf(w, "Pool:            %d blobs, %s\nReferenced:      %s by repositories and snapshots, %s unique\nSaved by dedup:  %s\nCatalog file:    %s\n",
			st.PoolBlobs, humanBytes(st.PoolBytes), humanBytes(st.ReferencedBytes), humanBytes(st.UniqueBytes), humanBytes(st.SavedBytes), humanBytes(st.CatalogBytes))
	})
}

func dbVerify(c *cli.Context, env *appEnv) error {
	if err := noArgs(c); err != nil {
		return err
	}
	m, err := env.open()
	if err != nil {
		return err
	}
	res, err := m.VerifyDB(c.Context, chantal.VerifyDBRequest{Rehash: c.Bool("rehash"), Parallel: c.Int("parallel")})
	if err != nil {
		return err
	}
	env.progress.finish()
	missing := make([]string, 0, len(res.Missing))
	for _, d := range res.Missing {
		missing = append(missing, d.String())
	}
	cr := res.Catalog
	js := map[string]any{
		"ok": res.OK(), "repos": cr.Repos, "items": cr.Items, "states": cr.States, "chunks": cr.Chunks, "refs": cr.Refs,
		"snapshots": cr.Snapshots, "view_snapshots": cr.ViewSnapshots, "sync_runs": cr.SyncRuns,
		"problems": cr.Problems, "problems_omitted": cr.Omitted, "stale_index_entries": cr.StaleIndex,
		"live_blobs": res.LiveBlobs, "missing_blobs": missing, "missing_count": res.MissingCount,
	}
	if res.Pool != nil {
		corrupt := make([]string, 0, len(res.Pool.Corrupt))
		for _, d := range res.Pool.Corrupt {
			corrupt = append(corrupt, d.String())
		}
		js["rehash"] = map[string]any{"checked": res.Pool.Checked, "bytes": res.Pool.Bytes, "corrupt": corrupt}
	}
	if err := env.out(js, func(w io.Writer) {
		fmt.Fprintf(w, "catalog: %d repos, %d items, %d states (%d refs, %d chunks), %d snapshots, %d view snapshots, %d sync runs: %d problems\n",
			cr.Repos, cr.Items, cr.States, cr.Refs, cr.Chunks, cr.Snapshots, cr.ViewSnapshots, cr.SyncRuns, len(cr.Problems)+cr.Omitted)
		for _, p := range cr.Problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
		if cr.Omitted > 0 {
			fmt.Fprintf(w, "  … and %d more\n", cr.Omitted)
		}
		if cr.StaleIndex > 0 {
			fmt.Fprintf(w, "  %d checksum index entries of items an interrupted sync did not store (harmless; gc removes them)\n", cr.StaleIndex)
		}
		fmt.Fprintf(w, "pool: %d referenced blobs, %d missing\n", res.LiveBlobs, res.MissingCount)
		for _, d := range missing {
			fmt.Fprintf(w, "  missing: %s\n", d)
		}
		if res.Pool != nil {
			fmt.Fprintf(w, "rehash: %d blobs (%s), %d corrupt\n", res.Pool.Checked, humanBytes(res.Pool.Bytes), len(res.Pool.Corrupt))
			for _, d := range res.Pool.Corrupt {
				fmt.Fprintf(w, "  corrupt: %s\n", d)
			}
		}
	}); err != nil {
		return err
	}
	if !res.OK() {
		return errors.New("verification found problems (missing or corrupt blobs come back with a sync of the repositories that use them; catalog problems need a restore from a db export)")
	}
	return nil
}

func dbVacuum(c *cli.Context, env *appEnv) error {
	if err := noArgs(c); err != nil {
		return err
	}
	m, err := env.open()
	if err != nil {
		return err
	}
	res, err := m.Vacuum(c.Context)
	if err != nil {
		return err
	}
	return env.out(map[string]any{"before_bytes": res.Before, "after_bytes": res.After}, func(w io.Writer) {
		fmt.Fprintf(w, "catalog compacted: %s → %s\n", humanBytes(res.Before), humanBytes(res.After))
	})
}

func dbExport(c *cli.Context, env *appEnv) error {
	file, err := oneArg(c, "FILE")
	if err != nil {
		return err
	}
	if file == "-" && env.json {
		return usagef("db export - writes the export to stdout; --json cannot be used with it")
	}
	m, err := env.open()
	if err != nil {
		return err
	}
	var w io.Writer = env.stdout
	var f *os.File
	tmp := file + ".tmp"
	if file != "-" {
		if f, err = os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
			return fmt.Errorf("export catalog: %w", err)
		}
		defer func() {
			if f != nil {
				f.Close()
				os.Remove(tmp)
			}
		}()
		w = f
	}
	n, err := m.ExportCatalog(c.Context, w)
	if err != nil {
		return err
	}
	if f != nil {
		err = f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		f = nil
		if err == nil {
			err = os.Rename(tmp, file)
		}
		if err != nil {
			os.Remove(tmp)
			return fmt.Errorf("export catalog: %w", err)
		}
	}
	summary := func(w io.Writer) {
		fmt.Fprintf(w, "exported %d repos, %d items, %d states (%d refs), %d snapshots, %d view snapshots, %d sync runs, %d publications to %s\n",
			n.Repos, n.Items, n.States, n.Refs, n.Snapshots, n.ViewSnapshots, n.SyncRuns, n.Publications, displayFile(file))
	}
	if file == "-" {
		if !env.quiet {
			summary(env.stderr)
		}
		return nil
	}
	return env.out(map[string]any{"file": file, "counts": n}, summary)
}

func displayFile(f string) string {
	if f == "-" {
		return "stdout"
	}
	return filepath.Clean(f)
}

func dbImport(c *cli.Context, env *appEnv) error {
	file, err := oneArg(c, "FILE")
	if err != nil {
		return err
	}
	m, err := env.open()
	if err != nil {
		return err
	}
	var r io.Reader = os.Stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("import catalog: %w", err)
		}
		defer f.Close()
		r = f
	}
	res, err := m.ImportCatalog(c.Context, r)
	if err != nil {
		return err
	}
	n := res.Counts
	return env.out(map[string]any{"file": file, "unchanged": res.Unchanged, "counts": n}, func(w io.Writer) {
		if res.Unchanged {
			fmt.Fprintf(w, "the catalog already holds exactly this export; nothing changed\n")
			return
		}
		fmt.Fprintf(w, "imported %d repos, %d items, %d states (%d refs), %d snapshots, %d view snapshots, %d sync runs, %d publications\n",
			n.Repos, n.Items, n.States, n.Refs, n.Snapshots, n.ViewSnapshots, n.SyncRuns, n.Publications)
	})
}
