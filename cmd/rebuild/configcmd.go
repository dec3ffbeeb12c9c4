package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/tasks/catalog"
)

func newConfigCmd(sys *System, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show, locate or create the configuration",
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown config subcommand %q: show, path or init", args[0])
			}
			return usagef("config needs a subcommand: show, path or init")
		},
	}
	show := &cobra.Command{
		Use:   "show",
		Short: "Print the effective configuration (all layers merged) as TOML",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, sys, g, 0)
			if err != nil {
				return err
			}
			// Validate the task tables and options against the catalogue
			// too, so a mistake shows here and not only at run time.
			builtins := catalog.Builtins()
			if _, err := catalog.Assemble(cfg, builtins, catalog.Options{}); err != nil {
				return err
			}
			return cfg.WriteTOML(sys.Out, catalog.OptionDocs(builtins)...)
		},
	}
	path := &cobra.Command{
		Use:   "path",
		Short: "Print the path of the user configuration file",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(sys.Out, userConfigPath(sys, g))
			return nil
		},
	}
	var force bool
	initCmd := &cobra.Command{
		Use:   "init",
		Short: "Write a commented configuration file to the user configuration path",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p := userConfigPath(sys, g)
			if _, err := os.Stat(p); err == nil && !force {
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
			fmt.Fprintf(sys.Out, "wrote %s\n", p)
			return nil
		},
	}
	initCmd.Flags().BoolVar(&force, "force", false, "overwrite an existing file")
	cmd.AddCommand(show, path, initCmd)
	return cmd
}

func userConfigPath(sys *System, g *globalOptions) string {
	file := g.configFile
	if file == "" {
		file = sys.Getenv("REBUILD_CONFIG")
	}
	return config.UserPath(config.Options{UserFile: file, Environ: sys.Environ, Home: sys.Home})
}
