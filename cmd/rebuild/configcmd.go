package main

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/catalog"
)

func newConfigCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show, locate or create the configuration",
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				if s := suggestCommand(args[0], commandNames(cmd)); s != "" {
					return usagef("unknown config subcommand %q (did you mean %q?): show, path or init", args[0], s)
				}
				return usagef("unknown config subcommand %q: show, path or init", args[0])
			}
			return usagef("config needs a subcommand: show, path or init")
		},
	}
	cmd.AddCommand(newConfigShowCmd(f, nil), newConfigPathCmd(f, nil), newConfigInitCmd(f, nil))
	return cmd
}

// configOptions are the flags of `rebuild config show|path|init`.
type configOptions struct {
	IO   *IOStreams
	Sys  *System
	Load loadOptions
	// Force is init's --force.
	Force bool
}

// configSubcommand makes a `config` subcommand running run (or runF).
func configSubcommand(f *Factory, c *cobra.Command, run, runF func(*configOptions) error) (*cobra.Command, *configOptions) {
	o := &configOptions{IO: f.IO, Sys: f.Sys}
	c.Args = noArgs
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		o.Load = f.loadOptions(cmd, 0)
		if runF != nil {
			return runF(o)
		}
		return run(o)
	}
	return c, o
}

func newConfigShowCmd(f *Factory, runF func(*configOptions) error) *cobra.Command {
	cmd, _ := configSubcommand(f, &cobra.Command{
		Use:   "show",
		Short: "Print the effective configuration (all layers merged) as TOML",
	}, configShowRun, runF)
	return cmd
}

func configShowRun(o *configOptions) error {
	cfg, err := loadConfig(o.Sys, o.Load)
	if err != nil {
		return err
	}
	// Validate the task tables and options against the catalogue too, so
	// a mistake shows here and not only at run time.
	builtins := catalog.Builtins()
	hosts, err := selectHosts(cfg, "")
	if err != nil {
		return err
	}
	if _, err := catalog.Assemble(cfg, builtins, catalog.Options{Hosts: hosts, Rollout: cfg.Rollout}); err != nil {
		return err
	}
	// Options as they are decoded, not as the environment spelled them.
	for _, sp := range builtins {
		c, ok := sp.Task.(tasks.Configurable)
		t, set := cfg.Tasks[sp.Name]
		if !ok || !set || len(t.Options) == 0 {
			continue
		}
		typed, err := tasks.TypedOptions(c, t)
		if err != nil {
			return err
		}
		opts := maps.Clone(t.Options)
		maps.Copy(opts, typed)
		t.Options = opts
		cfg.Tasks[sp.Name] = t
	}
	return cfg.WriteTOML(o.IO.Out, catalog.OptionDocs(builtins)...)
}

func newConfigPathCmd(f *Factory, runF func(*configOptions) error) *cobra.Command {
	cmd, _ := configSubcommand(f, &cobra.Command{
		Use:   "path",
		Short: "Print the path of the user configuration file",
	}, configPathRun, runF)
	return cmd
}

func configPathRun(o *configOptions) error {
	fmt.Fprintln(o.IO.Out, userConfigPath(o.Sys, o.Load))
	return nil
}

func newConfigInitCmd(f *Factory, runF func(*configOptions) error) *cobra.Command {
	cmd, o := configSubcommand(f, &cobra.Command{
		Use:   "init",
		Short: "Write a commented configuration file to the user configuration path",
	}, configInitRun, runF)
	cmd.Flags().BoolVar(&o.Force, "force", false, "overwrite an existing file")
	return cmd
}

func configInitRun(o *configOptions) error {
	p := userConfigPath(o.Sys, o.Load)
	if _, err := os.Stat(p); err == nil && !o.Force {
		return usagef("%s exists; not overwriting it (use --force)", p)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(p, []byte(config.InitTemplate(catalog.OptionDocs(catalog.Builtins())...)), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(o.IO.Out, "wrote %s\n", p)
	return nil
}

func userConfigPath(sys *System, l loadOptions) string {
	return config.UserPath(config.Options{UserFile: l.userFile(sys), Environ: sys.Environ, Home: sys.Home})
}
