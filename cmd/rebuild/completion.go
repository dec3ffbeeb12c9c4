package main

import (
	"strings"

	"github.com/spf13/cobra"
)

func newCompletionCmd(sys *System, root *cobra.Command) *cobra.Command {
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
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(sys.Out, true)
			case "zsh":
				return root.GenZshCompletion(sys.Out)
			case "fish":
				return root.GenFishCompletion(sys.Out, true)
			}
			return usagef("unknown shell %q: allowed: bash, zsh, fish", args[0])
		},
	}
}

// completeSelector completes --only / --skip with task names and groups,
// after the last comma of what was typed.
func completeSelector(sys *System, g *globalOptions) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, _ []string, typed string) ([]string, cobra.ShellCompDirective) {
		saveOnly, saveSkip := g.only, g.skip
		g.only, g.skip = "", ""
		p, err := buildPlan(cmd, sys, g, 0)
		g.only, g.skip = saveOnly, saveSkip
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		prefix := ""
		if i := strings.LastIndexByte(typed, ','); i >= 0 {
			prefix = typed[:i+1]
		}
		var out []string
		for _, n := range p.full.Order() {
			out = append(out, prefix+n)
		}
		for _, grp := range p.full.Groups() {
			out = append(out, prefix+grp)
		}
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
}
