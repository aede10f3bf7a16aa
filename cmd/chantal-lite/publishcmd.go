package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/chantal-lite/chantal"
)

func publishCommand(env *appEnv) *cli.Command {
	return &cli.Command{
		Name:  "publish",
		Usage: "publish repositories as static trees that stock clients consume",
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
				Flags: []cli.Flag{&cli.StringFlag{Name: "target", Usage: "publish into `DIR` instead of the default location"}},
				Action: func(c *cli.Context) error {
					id, err := oneArg(c, "REPO")
					if err != nil {
						return err
					}
					m, err := env.open()
					if err != nil {
						return err
					}
					res, err := m.Publish(c.Context, chantal.PublishRequest{Repo: id, Target: c.String("target")})
					if err != nil {
						return err
					}
					return env.out(map[string]any{
						"repo": res.Repo, "target": res.Target, "version": res.Version, "unchanged": res.Unchanged,
						"linked": res.Linked, "replaced": res.Replaced, "removed": res.Removed,
						"metadata_files": res.MetadataFiles, "key_file": res.KeyFile,
					}, func(w io.Writer) {
						if res.Unchanged {
							fmt.Fprintf(w, "%s: unchanged at %s\n", res.Repo, res.Target)
							return
						}
						fmt.Fprintf(w, "%s: published version %s at %s (%d linked, %d replaced, %d removed, %d metadata files)\n",
							res.Repo, res.Version, res.Target, res.Linked, res.Replaced, res.Removed, res.MetadataFiles)
					})
				},
			},
		},
	}
}
