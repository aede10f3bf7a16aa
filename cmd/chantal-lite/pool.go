package main

import (
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/chantal-lite/chantal"
)

func poolCommand(env *appEnv) *cli.Command {
	return &cli.Command{
		Name:  "pool",
		Usage: "inspect and maintain the content-addressed pool",
		Subcommands: []*cli.Command{
			{
				Name:  "stats",
				Usage: "count blobs and bytes in the pool and records in the catalog",
				Action: func(c *cli.Context) error {
					if err := noArgs(c); err != nil {
						return err
					}
					m, err := env.open()
					if err != nil {
						return err
					}
					st, err := m.Stats(c.Context)
					if err != nil {
						return err
					}
					return env.out(map[string]any{
						"blobs": st.Pool.Blobs, "bytes": st.Pool.Bytes,
						"repos": st.Catalog.Repos, "items": st.Catalog.Items, "snapshots": st.Catalog.Snapshots,
						"states": st.Catalog.States, "item_bytes": st.Catalog.ItemBytes, "catalog_bytes": st.Catalog.FileSize,
					}, func(w io.Writer) {
						fmt.Fprintf(w, "Pool:    %d blobs, %s\nCatalog: %d repos, %d items (%s), %d snapshots, %d states, file %s\n",
							st.Pool.Blobs, humanBytes(st.Pool.Bytes), st.Catalog.Repos, st.Catalog.Items, humanBytes(st.Catalog.ItemBytes),
							st.Catalog.Snapshots, st.Catalog.States, humanBytes(st.Catalog.FileSize))
					})
				},
			},
			{
				Name:  "verify",
				Usage: "re-hash every blob in parallel and report corrupt ones",
				Flags: []cli.Flag{&cli.IntFlag{Name: "parallel", Usage: "hash `N` blobs at once (default: download.parallel)"}},
				Action: func(c *cli.Context) error {
					if err := noArgs(c); err != nil {
						return err
					}
					m, err := env.open()
					if err != nil {
						return err
					}
					res, err := m.VerifyPool(c.Context, chantal.VerifyPoolRequest{Parallel: c.Int("parallel")})
					if err != nil {
						return err
					}
					env.progress.finish()
					corrupt := make([]string, 0, len(res.Corrupt))
					for _, d := range res.Corrupt {
						corrupt = append(corrupt, d.String())
					}
					if err := env.out(map[string]any{"checked": res.Checked, "bytes": res.Bytes, "corrupt": corrupt}, func(w io.Writer) {
						fmt.Fprintf(w, "checked %d blobs (%s): %d corrupt\n", res.Checked, humanBytes(res.Bytes), len(corrupt))
						for _, d := range corrupt {
							fmt.Fprintf(w, "  corrupt: %s\n", d)
						}
					}); err != nil {
						return err
					}
					if len(corrupt) > 0 {
						return fmt.Errorf("%d corrupt blobs in the pool (sync the repositories that use them again)", len(corrupt))
					}
					return nil
				},
			},
			{
				Name:  "gc",
				Usage: "remove blobs no repository or snapshot references",
				Description: `Removes pool blobs that no repository, snapshot or view state references
and that are older than the grace window (storage.gc_grace, default 1h). It
refuses to run while a sync or publish uses the pool (exit code 4).`,
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "dry-run", Usage: "report what would be removed; remove nothing"},
					&cli.DurationFlag{Name: "grace", Usage: "override storage.gc_grace (e.g. 30m; 0s removes regardless of age)"},
				},
				Action: func(c *cli.Context) error {
					if err := noArgs(c); err != nil {
						return err
					}
					m, err := env.open()
					if err != nil {
						return err
					}
					grace := time.Duration(0)
					if c.IsSet("grace") {
						grace = c.Duration("grace")
						if grace < 0 {
							return usagef("--grace must not be negative")
						}
						if grace == 0 {
							grace = -1
						}
					}
					res, err := m.GC(c.Context, chantal.GCRequest{DryRun: c.Bool("dry-run"), Grace: grace})
					if err != nil {
						return err
					}
					return env.out(map[string]any{
						"dry_run": res.DryRun, "blobs": res.Blobs, "live": res.Live, "removed": res.Removed,
						"removed_bytes": res.RemovedBytes, "young": res.Young, "pruned_items": res.PrunedItems, "temp_removed": res.TempRemoved,
						"cache_removed": res.CacheRemoved,
					}, func(w io.Writer) {
						verb := "removed"
						if res.DryRun {
							verb = "would remove"
						}
						fmt.Fprintf(w, "%s %d of %d blobs (%s); %d referenced, %d unreferenced but younger than the grace window\n",
							verb, res.Removed, res.Blobs, humanBytes(res.RemovedBytes), res.Live, res.Young)
					})
				},
			},
		},
	}
}
