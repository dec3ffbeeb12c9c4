package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rebuild-nixos/rebuild/internal/exitcode"
	"github.com/rebuild-nixos/rebuild/internal/suggest"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// Main is the real entry point; it returns the exit code so tests can run
// the whole program in-process. What it sets up belongs to the process:
// a closed pipe is an error, not death (signals.go), and orphans of the
// commands come back to rebuild (tasks/proc/reap.go).
func Main() int {
	catchBrokenPipe()
	sys := OSSystem()
	sys.Subreaper = proc.BecomeSubreaper() == nil
	return Run(sys, os.Args[1:])
}

// Run runs the program with args on sys and returns the exit code.
func Run(sys *System, args []string) int {
	root := newRootCmd(sys)
	root.SetArgs(args)
	root.SetOut(sys.IO.Out)
	root.SetErr(sys.IO.Err)
	err := root.Execute()
	code := exitCode(err)
	var ee *exitError
	if err != nil && !errors.As(err, &ee) {
		fmt.Fprintf(sys.IO.Err, "rebuild: %v\n", err)
		if code == exitcode.Usage && isFlagError(err) {
			fmt.Fprintln(sys.IO.Err, "Run 'rebuild --help' for usage.")
		}
	}
	return code
}

func isFlagError(err error) bool {
	var ue *usageError
	return errors.As(err, &ue) && strings.Contains(ue.Error(), "flag")
}

// Factory is what every command is built from, as in cli/cli: the machine
// it runs on, its streams, and the flags all commands share (bound to the
// root command's persistent flags, read once a command's flags are parsed).
type Factory struct {
	Sys    *System
	IO     *IOStreams
	Global *globalOptions
}

func newFactory(sys *System) *Factory {
	return &Factory{Sys: sys, IO: sys.IO, Global: &globalOptions{}}
}

// globalOptions are the flags every command shares.
type globalOptions struct {
	configFile string
	flake      string
	host       string
	elevate    string
	noColor    bool
	noUpdate   bool
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
	for flag, key := range map[string]string{"rollout": "rollout", "parallel-hosts": "parallel_hosts"} {
		if fl := f.Lookup(flag); fl != nil && fl.Changed {
			m[key] = fl.Value.String()
		}
	}
	// The run flags that set a built-in task's option go through the
	// same layer as the configuration, and are checked with it.
	for flag, key := range taskOptionFlags {
		if fl := f.Lookup(flag); fl != nil && fl.Changed {
			m[key] = fl.Value.String()
		}
	}
	// --rebuild is the fingerprint turned off.
	if fl := f.Lookup("rebuild"); fl != nil && fl.Changed {
		m["task.build.fingerprint"] = fl.Value.String() != "true"
	}
	return m
}

// taskOptionFlags are the run flags that set an option of a built-in
// task, by flag name.
var taskOptionFlags = map[string]string{
	"ask":             "task.activate.ask",
	"confirm-timeout": "task.activate.confirm_timeout",
	"reboot":          "task.activate.reboot",
	"keep":            "task.generations.keep",
	"keep-since":      "task.generations.keep_since",
}

// flagNames names, by config key, the flag that sets it, for errors.
func flagNames() map[string]string {
	m := map[string]string{"flake": "--flake", "host": "--host", "elevate": "--elevate", "jobs": "--jobs", "task.build.fingerprint": "--rebuild",
		"rollout": "--rollout", "parallel_hosts": "--parallel-hosts"}
	for flag, key := range taskOptionFlags {
		m[key] = "--" + flag
	}
	return m
}

const rootLong = `rebuild rebuilds a NixOS machine and does the housekeeping around it as a
graph of tasks: the critical chain (flake-update → build → activate) stays
serial, and everything that does not depend on it runs beside it, with live
progress. Without a command it runs the graph.

Run as root, it reads /etc/rebuild/config.toml and root's own user file
($XDG_CONFIG_HOME/rebuild/config.toml, ~/.config/rebuild/config.toml, or the
file of --config / REBUILD_CONFIG) only when root owns the file and its
directory and neither is writable by group or others (sudo -E would pass on
a user's), and takes no task command (REBUILD_TASK__<NAME>__RUN) from the
environment; anything else exits 2. Configuration files must be regular
files of at most 1 MiB.

The flake is the one --flake names, else the configuration's flake (a file
or REBUILD_FLAKE), else NH_OS_FLAKE, else NH_FLAKE, else /etc/nixos when it
holds a flake.nix, else ~/nixos-config when it holds one. Before its first
task a run checks that the flake is there and has the host (every host
--on selects, with [host.NAME] tables; only when a selected task needs
them: --only=caches needs neither), that the state
directory can be written, and that the elevation program is installed when
a task needs root; if not, it says so in one message and exits 2, having
started nothing.

Many machines: each [host.NAME] table of the configuration is a host,
nixosConfigurations.NAME of the flake, with a chain of its own (build@NAME,
diff@NAME, activate@NAME, its gates, accept@NAME, generations@NAME); the
rest runs once. --on NAME,@TAG picks hosts, --rollout orders their
activations, --parallel-hosts bounds how many are at work at once;
rebuild hosts lists them.

Exit codes: 0 done (warnings allowed), 1 a critical task failed (or any, with
--strict), 2 usage or configuration error, 3 another run holds the lock,
130 interrupted.`

func newRootCmd(sys *System) *cobra.Command { return newRoot(newFactory(sys), nil) }

// newRoot is the command tree; runF, for tests, replaces the run of
// rebuild without a command.
func newRoot(f *Factory, runF func(*runOptions) error) *cobra.Command {
	root := &cobra.Command{
		Use:               "rebuild",
		Short:             "Rebuild NixOS and do the housekeeping, as a concurrent graph of tasks",
		Long:              rootLong,
		Args:              noArgs,
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: true},
		// --version says what `rebuild version` says.
		Version: versionLine(),
	}
	root.SetVersionTemplate("rebuild {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	addGlobalFlags(root, f)
	bindRun(root, f, runF)

	root.AddCommand(
		newRunCmd(f, nil),
		newGraphCmd(f, nil),
		newListCmd(f, nil),
		newPlanCmd(f, nil),
		newHistoryCmd(f, nil),
		newConfigCmd(f),
		newRollbackCmd(f, nil),
		newGenerationsCmd(f, nil),
		newHostsCmd(f, nil),
		newDemoCmd(f, nil),
		newVersionCmd(f, nil),
		newCompletionCmd(f, root, nil),
		newManCmd(f, root, nil),
	)
	return root
}

// addGlobalFlags gives root the flags every command shares, and makes the
// colour decision once, before any command reads it: NO_COLOR was read by
// NewIOStreams, --no-color is parsed by then.
func addGlobalFlags(root *cobra.Command, f *Factory) {
	g := f.Global
	pf := root.PersistentFlags()
	pf.StringVar(&g.configFile, "config", "", "configuration file (default $XDG_CONFIG_HOME/rebuild/config.toml)")
	pf.StringVar(&g.flake, "flake", "", "the flake (config key flake; else NH_OS_FLAKE, NH_FLAKE, /etc/nixos, ~/nixos-config)")
	pf.StringVarP(&g.host, "host", "H", "", "NixOS configuration to build (default: short hostname)")
	pf.StringVar(&g.elevate, "elevate", "", "how to become root: sudo, doas, run0 or none")
	_ = root.RegisterFlagCompletionFunc("elevate", cobra.FixedCompletions([]string{"sudo", "doas", "run0", "none"}, cobra.ShellCompDirectiveNoFileComp))
	pf.BoolVar(&g.noColor, "no-color", false, "no colour (also NO_COLOR)")
	pf.BoolVar(&g.noUpdate, "no-update", false, "skip flake-update")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if g.noColor {
			f.IO.SetColorEnabled(false)
		}
		return nil
	}
}

// noArgs rejects stray arguments with a usage error that names them.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		if !cmd.HasParent() {
			names := commandNames(cmd)
			if s := suggestCommand(args[0], names); s != "" {
				return usagef("unknown command %q (did you mean %q?); commands: %s", args[0], s, strings.Join(names, ", "))
			}
			return usagef("unknown command %q; commands: %s", args[0], strings.Join(names, ", "))
		}
		return usagef("%s takes no arguments, got %q", cmd.CommandPath(), strings.Join(args, " "))
	}
	return nil
}

// suggestCommand is the command a mistyped word meant: the one
// command the word begins, as cobra's suggestions have it ("hist" for
// history, not the typo "list"), else a typo by the one rule of
// internal/suggest.
func suggestCommand(word string, names []string) string {
	var prefixed []string
	for _, n := range names {
		if len(word) >= 2 && n != word && strings.HasPrefix(n, strings.ToLower(word)) {
			prefixed = append(prefixed, n)
		}
	}
	if len(prefixed) == 1 {
		return prefixed[0]
	}
	return suggest.Closest(word, names)
}

// commandNames are the commands root offers, as help lists them.
func commandNames(root *cobra.Command) []string {
	var names []string
	for _, c := range root.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	return names
}
