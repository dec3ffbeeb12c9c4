package main

import (
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

// loadOptions say how a command loads the configuration: the global flags
// as they were given. They are filled once the command's flags are parsed
// (Factory.loadOptions), so a command's run function needs no cobra.
type loadOptions struct {
	// File is --config; "" means REBUILD_CONFIG, else the default path.
	File string
	// Set are the configuration keys given as flags (config's flag layer).
	Set map[string]any
	// NoUpdate is --no-update: flake-update is left out of the catalogue.
	NoUpdate bool
}

// loadOptions reads the global flags, and --jobs when the command has it.
func (f *Factory) loadOptions(cmd *cobra.Command, jobs int) loadOptions {
	return loadOptions{File: f.Global.configFile, Set: f.Global.configFlags(cmd, jobs), NoUpdate: f.Global.noUpdate}
}

// userFile is the user configuration file a command was pointed at:
// --config, else REBUILD_CONFIG ("" for the default path).
func (l loadOptions) userFile(sys *System) string {
	if l.File != "" {
		return l.File
	}
	return sys.Getenv("REBUILD_CONFIG")
}

// loadConfig loads the layered configuration with the flags that were set.
func loadConfig(sys *System, l loadOptions) (*config.Config, error) {
	return config.Load(loadConfigOptions(sys, l))
}

func loadConfigOptions(sys *System, l loadOptions) config.Options {
	return config.Options{
		SystemFile: sys.SystemFile,
		UserFile:   l.userFile(sys),
		Environ:    sys.Environ,
		Home:       sys.Home,
		Hostname:   sys.Host,
		Flags:      l.Set,
		FlagNames:  flagNames(),
		Root:       sys.Euid == 0,
	}
}

// plan is a loaded configuration and the selected graph of the run.
type plan struct {
	cfg   *config.Config
	full  *dag.Graph
	graph *dag.Graph
	specs map[string]tasks.Spec
	// flake is where the flake was looked for; cfg.Flake is the one
	// found. Only a run that needs it fails without one (preflight).
	flake flakeLookup
	// hosts are the hosts of the run, in order (--on's, else by name);
	// nil without [host.NAME] tables: the one machine.
	hosts []config.Host
}

// buildPlan loads the configuration, assembles the catalogue with it
// over the hosts sel's --on picks, and selects sel's --only / --skip.
func buildPlan(sys *System, l loadOptions, sel selectOptions) (*plan, error) {
	cfg, err := loadConfig(sys, l)
	if err != nil {
		return nil, err
	}
	hosts, err := selectHosts(cfg, sel.On)
	if err != nil {
		return nil, err
	}
	fl := lookupFlake(sys, cfg, config.UserPath(loadConfigOptions(sys, l)))
	if fl.Ref != "" {
		cfg.Flake = fl.Ref
	}
	specs, err := catalog.Assemble(cfg, catalog.Builtins(), catalog.Options{NoUpdate: l.NoUpdate, UserDir: userDir(cfg),
		Hosts: hosts, Rollout: cfg.Rollout})
	if err != nil {
		return nil, err
	}
	full, byName, err := schedule.Graph(specs)
	if err != nil {
		return nil, err
	}
	graph, err := full.Select(sel.Only, sel.Skip)
	if err != nil {
		return nil, &usageError{err}
	}
	return &plan{cfg: cfg, full: full, graph: graph, specs: byName, flake: fl, hosts: hosts}, nil
}

// userDir is where user tasks run: the flake directory when it exists.
func userDir(cfg *config.Config) string {
	if st, err := os.Stat(cfg.Flake); err == nil && st.IsDir() {
		return cfg.Flake
	}
	return ""
}

func defaultJobs(cfg *config.Config) int { return cfg.EffectiveJobs(runtime.NumCPU()) }

// selectOptions are --only, --skip and --on.
type selectOptions struct {
	Only, Skip string
	// On picks hosts: host names and @tags (hosts.go); "" is every host.
	On string
}

// emptyError is the usage error of a run whose selection leaves nothing
// to run, naming the flags that emptied it: a run of nothing that exits 0
// and records an empty run would hide the mistake. (plan and graph show
// the empty selection instead: that is their answer.)
func (sel selectOptions) emptyError() error {
	switch {
	case sel.Only != "" && sel.Skip != "":
		return usagef("--only=%s with --skip=%s selects no task: --skip takes out everything --only selects", sel.Only, sel.Skip)
	case sel.Skip != "":
		return usagef("--skip=%s leaves no task to run", sel.Skip)
	default:
		return usagef("--only=%s selects no task", sel.Only)
	}
}

func addSelectFlags(cmd *cobra.Command, f *Factory, o *selectOptions) {
	fl := cmd.Flags()
	fl.StringVar(&o.Only, "only", "", "run only these: comma list of task names, phase numbers 1–14 or group names")
	fl.StringVar(&o.Skip, "skip", "", "leave these out (same forms as --only)")
	_ = cmd.RegisterFlagCompletionFunc("only", completeSelector(f))
	_ = cmd.RegisterFlagCompletionFunc("skip", completeSelector(f))
	fl.StringVar(&o.On, "on", "", "act on these hosts only: comma list of host names and @tags ([host.NAME] tables)")
	_ = cmd.RegisterFlagCompletionFunc("on", completeHosts(f))
	// Read through the configuration's flag layer (configFlags): the
	// rollout decides edges of the graph.
	fl.String("rollout", "", "with hosts: activate all at once, one-by-one, or canary (the first host, its gates, then the rest) (config key rollout)")
	_ = cmd.RegisterFlagCompletionFunc("rollout", cobra.FixedCompletions(
		[]string{config.RolloutAll, config.RolloutOne, config.RolloutCanary}, cobra.ShellCompDirectiveNoFileComp))
}

// checkSelectFlags refuses an --only, --skip or --on given with nothing
// in it: a typo, not "everything". (Completion calls buildPlan while the
// flag is still being typed, so this is checked by the commands, not there.)
func checkSelectFlags(cmd *cobra.Command) error {
	for _, f := range []string{"only", "skip"} {
		if fl := cmd.Flags().Lookup(f); fl != nil && fl.Changed && strings.TrimSpace(fl.Value.String()) == "" {
			return usagef("--%s is empty: give task names, phase numbers or groups, separated by commas", f)
		}
	}
	if fl := cmd.Flags().Lookup("on"); fl != nil && fl.Changed && strings.TrimSpace(fl.Value.String()) == "" {
		return usagef("--on is empty: give host names or @tags, separated by commas")
	}
	return nil
}
