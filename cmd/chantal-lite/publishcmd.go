package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/chantal-lite/chantal"
	"github.com/chantal-lite/chantal/internal/gctune"
)

func publishCommand(env *appEnv) *cli.Command {
	target := &cli.StringFlag{Name: "target", Usage: "publish into `DIR` instead of the default location"}
	one := func(kind, what string, req func(arg string) chantal.PublishRequest) cli.ActionFunc {
		return func(c *cli.Context) error {
			arg, err := oneArg(c, what)
			if err != nil {
				return err
			}
			gctune.ForPublish()
			m, err := env.open()
			if err != nil {
				return err
			}
			r := req(arg)
			r.Target = c.String("target")
			res, err := m.Publish(c.Context, r)
			if err != nil {
				return err
			}
			return printPublish(env, res)
		}
	}
	return &cli.Command{
		Name:  "publish",
		Usage: "publish repositories, snapshots and views as static trees that stock clients consume",
		Subcommands: []*cli.Command{
			{
				Name:      "repo",
				Usage:     "publish a repository's current state",
				ArgsUsage: "REPO",
				Description: `Renders the repository's metadata (signed with the configured or generated
key unless in mirror mode) into a staging directory, links new payloads from
the pool, and switches the metadata in atomically. An unchanged state
publishes nothing. The default target is <published_path>/<repo>; the public
key is at <published_path>/key.asc.`,
				Flags:  []cli.Flag{target},
				Action: one("repo", "REPO", func(a string) chantal.PublishRequest { return chantal.PublishRequest{Repo: a} }),
			},
			{
				Name:        "snapshot",
				Usage:       "publish a snapshot (same bytes whenever it is published)",
				ArgsUsage:   "REPO/NAME",
				Description: "The default target is <published_path>/snapshots/<repo>/<name>.",
				Flags:       []cli.Flag{target},
				Action:      one("snapshot", "REPO/NAME", func(a string) chantal.PublishRequest { return chantal.PublishRequest{Snapshot: a} }),
			},
			{
				Name:        "view",
				Usage:       "publish a view's members' current states as one repository",
				ArgsUsage:   "VIEW",
				Description: "The default target is <published_path>/views/<view>/latest.",
				Flags:       []cli.Flag{target},
				Action:      one("view", "VIEW", func(a string) chantal.PublishRequest { return chantal.PublishRequest{View: a} }),
			},
			{
				Name:        "view-snapshot",
				Usage:       "publish a view snapshot",
				ArgsUsage:   "VIEW/NAME",
				Description: "The default target is <published_path>/views/<view>/snapshots/<name>.",
				Flags:       []cli.Flag{target},
				Action:      one("view-snapshot", "VIEW/NAME", func(a string) chantal.PublishRequest { return chantal.PublishRequest{ViewSnapshot: a} }),
			},
			{
				Name:  "list",
				Usage: "list published targets",
				Action: func(c *cli.Context) error {
					if err := noArgs(c); err != nil {
						return err
					}
					m, err := env.open()
					if err != nil {
						return err
					}
					ps, err := m.Publications(c.Context)
					if err != nil {
						return err
					}
					if ps == nil {
						ps = []chantal.PublicationInfo{}
					}
					return env.out(ps, func(w io.Writer) {
						tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
						fmt.Fprintln(tw, "TARGET	KIND	NAME	VERSION	KEPT	PUBLISHED")
						for _, p := range ps {
							fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", p.Target, p.Kind, p.Name, p.Version, p.Versions, p.Published.Local().Format("2006-01-02 15:04"))
						}
						tw.Flush()
					})
				},
			},
			{
				Name:      "unpublish",
				Usage:     "remove a published tree (PATH absolute or relative to the published path)",
				ArgsUsage: "PATH",
				Action: func(c *cli.Context) error {
					p, err := oneArg(c, "PATH")
					if err != nil {
						return err
					}
					m, err := env.open()
					if err != nil {
						return err
					}
					if err := m.Unpublish(c.Context, p); err != nil {
						return err
					}
					return env.out(map[string]any{"unpublished": p}, func(w io.Writer) { fmt.Fprintf(w, "unpublished %s\n", p) })
				},
			},
			{
				Name:      "rollback",
				Usage:     "switch a published tree back to its previous version, atomically",
				ArgsUsage: "PATH",
				Action: func(c *cli.Context) error {
					p, err := oneArg(c, "PATH")
					if err != nil {
						return err
					}
					m, err := env.open()
					if err != nil {
						return err
					}
					res, err := m.Rollback(c.Context, p)
					if err != nil {
						return err
					}
					return env.out(res, func(w io.Writer) { fmt.Fprintf(w, "%s: rolled back to version %s\n", res.Target, res.Version) })
				},
			},
		},
	}
}

func printPublish(env *appEnv, res *chantal.PublishResult) error {
	return env.out(map[string]any{
		"kind": res.Kind, "name": res.Name, "repo": res.Repo, "target": res.Target, "version": res.Version,
		"state": res.State, "unchanged": res.Unchanged,
		"linked": res.Linked, "replaced": res.Replaced, "removed": res.Removed,
		"metadata_files": res.MetadataFiles, "ops": res.Ops, "key_file": res.KeyFile, "collisions": res.Collisions,
	}, func(w io.Writer) {
		for _, c := range res.Collisions {
			fmt.Fprintf(w, "collision (%s): %s from %s dropped, %s kept\n", c.Reason, c.Path, c.Dropped, c.Kept)
		}
		if res.Unchanged {
			fmt.Fprintf(w, "%s: unchanged at %s\n", res.Name, res.Target)
			return
		}
		fmt.Fprintf(w, "%s: published version %s at %s (%d linked, %d replaced, %d removed, %d metadata files)\n",
			res.Name, res.Version, res.Target, res.Linked, res.Replaced, res.Removed, res.MetadataFiles)
	})
}
