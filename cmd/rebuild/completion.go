package main

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// completionOptions are the arguments of `rebuild completion`.
type completionOptions struct {
	IO *IOStreams
	// Root is the command tree the script completes.
	Root  *cobra.Command
	Shell string
}

func newCompletionCmd(f *Factory, root *cobra.Command, runF func(*completionOptions) error) *cobra.Command {
	o := &completionOptions{IO: f.IO, Root: root}
	return &cobra.Command{
		Use:       "completion bash|zsh|fish",
		Short:     "Print the shell completion script",
		Long:      "Print the completion script for bash, zsh or fish, e.g.\n\n  source <(rebuild completion bash)",
		ValidArgs: []string{"bash", "zsh", "fish"},
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("completion needs one shell: bash, zsh or fish")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Shell = args[0]
			if runF != nil {
				return runF(o)
			}
			return completionRun(o)
		},
	}
}

func completionRun(o *completionOptions) error {
	switch o.Shell {
	case "bash":
		return o.Root.GenBashCompletionV2(o.IO.Out, true)
	case "zsh":
		return o.Root.GenZshCompletion(o.IO.Out)
	case "fish":
		return o.Root.GenFishCompletion(o.IO.Out, true)
	}
	return usagef("unknown shell %q: allowed: bash, zsh, fish", o.Shell)
}

// completeSelector completes --only / --skip with task names and groups,
// after the last comma of what was typed: with hosts, a per-host task's
// name and each of its instances (build, build@web1, …).
func completeSelector(f *Factory) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, _ []string, typed string) ([]string, cobra.ShellCompDirective) {
		p, err := buildPlan(f.Sys, f.loadOptions(cmd, 0), selectOptions{})
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		prefix := ""
		if i := strings.LastIndexByte(typed, ','); i >= 0 {
			prefix = typed[:i+1]
		}
		var out []string
		for _, n := range p.full.Order() {
			// A per-host task by its name (every host's instance), then
			// each instance.
			if base, host := tasks.SplitHost(n); host != "" && !slices.Contains(out, prefix+base) {
				out = append(out, prefix+base)
			}
			out = append(out, prefix+n)
		}
		for _, grp := range p.full.Groups() {
			out = append(out, prefix+grp)
		}
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
}
