package main

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/chantal-lite/chantal"
)

func packageCommand(env *appEnv) *cli.Command {
	repoFlag := &cli.StringFlag{Name: "repo", Aliases: []string{"r"}, Usage: "repository `ID`", Required: true}
	list := func(c *cli.Context, name string) error {
		m, err := env.open()
		if err != nil {
			return err
		}
		pkgs, err := m.Packages(c.Context, chantal.PackageQuery{Repo: c.String("repo"), Name: name, Arch: c.String("arch")})
		if err != nil {
			return err
		}
		js := make([]packageJSON, 0, len(pkgs))
		for _, p := range pkgs {
			js = append(js, toPackageJSON(p, false))
		}
		return env.out(map[string]any{"repo": c.String("repo"), "packages": js}, func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVERSION\tARCH\tSIZE")
			for _, p := range pkgs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Name, p.Version, p.Arch, humanBytes(p.Size))
			}
			tw.Flush()
		})
	}
	return &cli.Command{
		Name:  "package",
		Usage: "list, search, show and upload packages",
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list the packages of a repository's current state",
				Flags: []cli.Flag{repoFlag, &cli.StringFlag{Name: "arch", Usage: "only architecture `ARCH`"}},
				Action: func(c *cli.Context) error {
					if err := noArgs(c); err != nil {
						return err
					}
					return list(c, "")
				},
			},
			{
				Name:      "search",
				Usage:     "list packages whose name matches a regular expression",
				ArgsUsage: "PATTERN",
				Flags:     []cli.Flag{repoFlag, &cli.StringFlag{Name: "arch", Usage: "only architecture `ARCH`"}},
				Action: func(c *cli.Context) error {
					pat, err := oneArg(c, "PATTERN")
					if err != nil {
						return err
					}
					return list(c, pat)
				},
			},
			{
				Name:      "show",
				Usage:     "show every version of a package with its checksums and fields",
				ArgsUsage: "NAME",
				Flags:     []cli.Flag{repoFlag},
				Action: func(c *cli.Context) error {
					name, err := oneArg(c, "NAME")
					if err != nil {
						return err
					}
					m, err := env.open()
					if err != nil {
						return err
					}
					all, err := m.Packages(c.Context, chantal.PackageQuery{Repo: c.String("repo")})
					if err != nil {
						return err
					}
					var js []packageJSON
					for _, p := range all {
						if p.Name == name {
							js = append(js, toPackageJSON(p, true))
						}
					}
					if len(js) == 0 {
						return fmt.Errorf("no package %q in %s", name, c.String("repo"))
					}
					return env.out(map[string]any{"repo": c.String("repo"), "packages": js}, func(w io.Writer) {
						for i, p := range js {
							if i > 0 {
								fmt.Fprintln(w)
							}
							fmt.Fprintf(w, "Name:     %s\nVersion:  %s\nArch:     %s\nPath:     %s\nSize:     %d\nSHA256:   %s\n", p.Name, p.Version, p.Arch, p.Path, p.Size, p.Digest)
							for _, k := range sortedKeys(p.Checksums) {
								if k != "sha256" {
									fmt.Fprintf(w, "%-9s %s\n", k+":", p.Checksums[k])
								}
							}
							for _, k := range sortedKeys(p.Fields) {
								fmt.Fprintf(w, "%-9s %s\n", k+":", p.Fields[k])
							}
						}
					})
				},
			},
			{
				Name:      "upload",
				Usage:     "add local package files to a hosted repository",
				ArgsUsage: "FILE...",
				Description: `Reads each file's own metadata (rpm header, deb control, Chart.yaml), stores
it in the pool and adds it to the repository in one transaction; nothing is
added when any file fails. A package whose name, version and architecture are
already present with different bytes is refused unless --force. A companion
file beside a package (a Helm chart's .prov) is taken along, checked against
the package, and published beside it.`,
				Flags: []cli.Flag{
					repoFlag,
					&cli.StringFlag{Name: "component", Usage: "APT component `NAME` (default: the repository's first)"},
					&cli.BoolFlag{Name: "force", Usage: "replace packages that exist with different bytes"},
				},
				Action: func(c *cli.Context) error {
					if c.NArg() == 0 {
						return usagef("package upload needs at least one FILE")
					}
					m, err := env.open()
					if err != nil {
						return err
					}
					res, err := m.Upload(c.Context, chantal.UploadRequest{Repo: c.String("repo"), Files: c.Args().Slice(), Component: c.String("component"), Force: c.Bool("force")})
					if err != nil {
						return err
					}
					return env.out(map[string]any{"repo": res.Repo, "state": res.State, "added": changes(res.Added), "replaced": changes(res.Replaced), "unchanged": changes(res.Unchanged)}, func(w io.Writer) {
						fmt.Fprintf(w, "%s: %d added, %d replaced, %d already present\n", res.Repo, len(res.Added), len(res.Replaced), len(res.Unchanged))
						for _, ch := range res.Added {
							fmt.Fprintf(w, "  + %s %s %s\n", ch.Name, ch.New, ch.Arch)
						}
						for _, ch := range res.Replaced {
							fmt.Fprintf(w, "  ~ %s %s %s (new bytes)\n", ch.Name, ch.New, ch.Arch)
						}
					})
				},
			},
		},
	}
}

type packageJSON struct {
	Name      string            `json:"name"`
	Version   string            `json:"version"`
	Arch      string            `json:"arch"`
	Path      string            `json:"path"`
	Size      int64             `json:"size"`
	Digest    string            `json:"sha256"`
	Checksums map[string]string `json:"checksums,omitempty"`
	Fields    map[string]string `json:"fields,omitempty"`
}

func toPackageJSON(p chantal.Package, detail bool) packageJSON {
	j := packageJSON{Name: p.Name, Version: p.Version, Arch: p.Arch, Path: p.Path, Size: p.Size, Digest: p.Digest.String()}
	if detail {
		j.Checksums, j.Fields = p.Checksums, p.Fields
	}
	return j
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
