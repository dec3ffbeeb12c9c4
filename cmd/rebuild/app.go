package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/dag"
	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/catalog"
)

// Main is the real entry point; it returns the exit code so tests can run
// the whole program in-process.
func Main() int { return Run(OSSystem(), os.Args[1:]) }

// Run runs the program with args on sys and returns the exit code.
func Run(sys *System, args []string) int {
	root := newRootCmd(sys)
	root.SetArgs(args)
	root.SetOut(sys.Out)
	root.SetErr(sys.Err)
	err := root.Execute()
	code := exitCode(err)
	var ee *exitError
	if err != nil && !errors.As(err, &ee) {
		fmt.Fprintf(sys.Err, "rebuild: %v\n", err)
		if code == schedule.ExitUsage && isFlagError(err) {
			fmt.Fprintln(sys.Err, "Run 'rebuild --help' for usage.")
		}
	}
	return code
}

func isFlagError(err error) bool {
	var ue *usageError
	return errors.As(err, &ue) && strings.Contains(ue.Error(), "flag")
}

// globalOptions are the flags every command shares.
type globalOptions struct {
	configFile string
	flake      string
	host       string
	elevate    string
	noColor    bool
	noUpdate   bool
	only, skip string
}

// configFlags turns the flags that were set into config keys.
func (g *globalOptions) configFlags(cmd *cobra.Command, jobs int) map[string]any {
	m := map[string]any{}
	f := cmd.Flags()
	if f.Changed("flake") {
		m["flake"] = g.flake
	}
	if f.Changed("host") {
		m["host"] = g.host
	}
	if f.Changed("elevate") {
		m["elevate"] = g.elevate
	}
	if f.Lookup("jobs") != nil && f.Changed("jobs") {
		m["jobs"] = jobs
	}
	// The run flags that set a built-in task's option go through the
	// same layer as the configuration, and are checked with it.
	for flag, key := range taskOptionFlags {
		if fl := f.Lookup(flag); fl != nil && fl.Changed {
			m[key] = fl.Value.String()
		}
	}
	return m
}

// taskOptionFlags are the run flags that set an option of a built-in
// task, by flag name.
var taskOptionFlags = map[string]string{
	"ask":        "task.activate.ask",
	"keep":       "task.generations.keep",
	"keep-since": "task.generations.keep_since",
}

// flagNames names, by config key, the flag that sets it, for errors.
func flagNames() map[string]string {
	m := map[string]string{"flake": "--flake", "host": "--host", "elevate": "--elevate", "jobs": "--jobs"}
	for flag, key := range taskOptionFlags {
		m[key] = "--" + flag
	}
	return m
}

const rootLong = `rebuild rebuilds a NixOS machine and does the housekeeping around it as a
graph of tasks: the critical chain (flake-update → build → activate) stays
serial, and everything that does not depend on it runs beside it, with live
progress. Without a command it runs the graph.

Exit codes: 0 done (warnings allowed), 1 a critical task failed (or any, with
--strict), 2 usage or configuration error, 3 another run holds the lock,
130 interrupted.`

func newRootCmd(sys *System) *cobra.Command {
	g := &globalOptions{}
	ro := &runOptions{}
	root := &cobra.Command{
		Use:           "rebuild",
		Short:         "Rebuild NixOS and do the housekeeping, as a concurrent graph of tasks",
		Long:          rootLong,
		Args:          noArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRun(cmd, sys, g, ro)
		},
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: true},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&g.configFile, "config", "", "configuration file (default $XDG_CONFIG_HOME/rebuild/config.toml)")
	pf.StringVar(&g.flake, "flake", "", "flake directory (config key flake)")
	pf.StringVarP(&g.host, "host", "H", "", "NixOS configuration to build (default: short hostname)")
	pf.StringVar(&g.elevate, "elevate", "", "how to become root: sudo, doas, run0 or none")
	pf.BoolVar(&g.noColor, "no-color", false, "no colour (also NO_COLOR)")
	pf.BoolVar(&g.noUpdate, "no-update", false, "skip flake-update")
	addRunFlags(root, sys, g, ro)

	root.AddCommand(
		newRunCmd(sys, g),
		newGraphCmd(sys, g),
		newListCmd(sys, g),
		newPlanCmd(sys, g),
		newHistoryCmd(sys, g),
		newConfigCmd(sys, g),
		newRollbackCmd(sys, g),
		newDemoCmd(sys, g),
		newVersionCmd(sys),
		newCompletionCmd(sys, root),
		newManCmd(sys, root),
	)
	return root
}

// noArgs rejects stray arguments with a usage error that names them.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		if !cmd.HasParent() {
			return usagef("unknown command %q; commands: %s", args[0], commandNames(cmd))
		}
		return usagef("%s takes no arguments, got %q", cmd.CommandPath(), strings.Join(args, " "))
	}
	return nil
}

func commandNames(root *cobra.Command) string {
	var names []string
	for _, c := range root.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	return strings.Join(names, ", ")
}

func addSelectFlags(cmd *cobra.Command, sys *System, g *globalOptions) {
	f := cmd.Flags()
	f.StringVar(&g.only, "only", "", "run only these: comma list of task names, phase numbers 1–14 or group names")
	f.StringVar(&g.skip, "skip", "", "leave these out (same forms as --only)")
	_ = cmd.RegisterFlagCompletionFunc("only", completeSelector(sys, g))
	_ = cmd.RegisterFlagCompletionFunc("skip", completeSelector(sys, g))
}

// checkSelectFlags refuses an --only or --skip given with nothing in it:
// a typo, not "everything". (Completion calls buildPlan while the flag is
// still being typed, so this is checked by the commands, not there.)
func checkSelectFlags(cmd *cobra.Command) error {
	for _, f := range []string{"only", "skip"} {
		if fl := cmd.Flags().Lookup(f); fl != nil && fl.Changed && strings.TrimSpace(fl.Value.String()) == "" {
			return usagef("--%s is empty: give task names, phase numbers or groups, separated by commas", f)
		}
	}
	return nil
}

// loadConfig loads the layered configuration with the flags that were set.
func loadConfig(cmd *cobra.Command, sys *System, g *globalOptions, jobs int) (*config.Config, error) {
	userFile := g.configFile
	if userFile == "" {
		userFile = sys.Getenv("REBUILD_CONFIG")
	}
	return config.Load(config.Options{
		SystemFile: sys.SystemFile,
		UserFile:   userFile,
		Environ:    sys.Environ,
		Home:       sys.Home,
		Hostname:   sys.Host,
		Flags:      g.configFlags(cmd, jobs),
		FlagNames:  flagNames(),
	})
}

// plan is a loaded configuration and the selected graph of the run.
type plan struct {
	cfg   *config.Config
	full  *dag.Graph
	graph *dag.Graph
	specs map[string]tasks.Spec
}

// buildPlan loads the configuration, assembles the catalogue with it and
// selects --only / --skip.
func buildPlan(cmd *cobra.Command, sys *System, g *globalOptions, jobs int) (*plan, error) {
	cfg, err := loadConfig(cmd, sys, g, jobs)
	if err != nil {
		return nil, err
	}
	specs, err := catalog.Assemble(cfg, catalog.Builtins(), catalog.Options{NoUpdate: g.noUpdate, UserDir: userDir(cfg)})
	if err != nil {
		return nil, err
	}
	full, byName, err := schedule.Graph(specs)
	if err != nil {
		return nil, err
	}
	sel, err := full.Select(g.only, g.skip)
	if err != nil {
		return nil, &usageError{err}
	}
	return &plan{cfg: cfg, full: full, graph: sel, specs: byName}, nil
}

// userDir is where user tasks run: the flake directory when it exists.
func userDir(cfg *config.Config) string {
	if st, err := os.Stat(cfg.Flake); err == nil && st.IsDir() {
		return cfg.Flake
	}
	return ""
}

func defaultJobs(cfg *config.Config) int { return cfg.EffectiveJobs(runtime.NumCPU()) }
