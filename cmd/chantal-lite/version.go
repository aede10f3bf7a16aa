package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3"; without
// it the module version from the build info is used.
var version = ""

func chantalVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

func versionCommand(env *appEnv) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version",
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			v := chantalVersion()
			return env.out(map[string]string{"version": v, "go": runtime.Version()}, func(w io.Writer) {
				fmt.Fprintf(w, "chantal-lite %s (%s)\n", v, runtime.Version())
			})
		},
	}
}
