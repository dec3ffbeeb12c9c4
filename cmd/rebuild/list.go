package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rebuild-nixos/rebuild/internal/table"
	"github.com/rebuild-nixos/rebuild/internal/termtext"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// listOptions are the flags of `rebuild list` (the global ones only).
type listOptions struct {
	IO   *IOStreams
	Sys  *System
	Load loadOptions
}

func newListCmd(f *Factory, runF func(*listOptions) error) *cobra.Command {
	o := &listOptions{IO: f.IO, Sys: f.Sys}
	return &cobra.Command{
		Use:   "list",
		Short: "List every task: number, name, groups, edges, flags, enabled",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Load = f.loadOptions(cmd, 0)
			if runF != nil {
				return runF(o)
			}
			return listRun(o)
		},
	}
}

func listRun(o *listOptions) error {
	p, err := buildPlan(o.Sys, o.Load, selectOptions{})
	if err != nil {
		return err
	}
	type task struct {
		num, name, groups, flags, enabled string
		needs, after                      []string
	}
	var ts []task
	for _, n := range p.full.Nodes() {
		s := p.specs[n.Name]
		num := "·"
		if s.Phase > 0 {
			num = fmt.Sprint(s.Phase)
		}
		ts = append(ts, task{num, n.Name, dash(n.Groups), dash(specFlags(s)), enabled(s), n.Needs, n.After})
	}
	rows := [][]string{{"#", "TASK", "GROUPS", "NEEDS", "AFTER", "FLAGS", "ENABLED"}}
	for _, t := range ts {
		rows = append(rows, []string{t.num, t.name, t.groups, dash(t.needs), dash(t.after), t.flags, t.enabled})
	}
	width := listWidth(o.IO)
	text := table.Layout(rows, table.Options{})
	if width > 0 && maxLineWidth(text) > width {
		// Too wide for the terminal: the edges go under each task, their
		// lists wrapped, and the other columns wrap in what is left.
		rows = [][]string{{"#", "TASK", "GROUPS", "FLAGS", "ENABLED"}}
		for _, t := range ts {
			rows = append(rows, []string{t.num, t.name, t.groups, t.flags, t.enabled})
		}
		text = table.Layout(rows, table.Options{Width: width, Wrap: true, Keep: []int{0, 1}, Under: func(i int) []string {
			t := ts[i-1]
			return append(edgeLines("needs", t.needs, width), edgeLines("after", t.after, width)...)
		}})
	}
	_, err = io.WriteString(o.IO.Out, text)
	return err
}

// edgeLines are a task's edges of one kind under its row in the narrow
// list: "    after a, b, c", wrapped at the commas to width, the names
// lined up.
func edgeLines(kind string, names []string, width int) []string {
	if len(names) == 0 {
		return nil
	}
	head := "    " + kind + " "
	indent := strings.Repeat(" ", len(head))
	var lines []string
	line := head
	for i, n := range names {
		item := termtext.Escape(n)
		if i < len(names)-1 {
			item += ","
		}
		if line != head && line != indent && len(line)+1+len(item) > width {
			lines = append(lines, line)
			line = indent
		}
		if line != head && line != indent {
			line += " "
		}
		line += item
	}
	return append(lines, line)
}

func maxLineWidth(text string) int {
	n := 0
	for _, l := range strings.Split(text, "\n") {
		n = max(n, table.Width(l))
	}
	return n
}

// listWidth is the width list's table wraps its long cells (edge lists,
// reasons) at: the terminal's less its last column, so the terminal never
// wraps a line; 0 (no wrapping) when stdout is not a terminal, so a
// script reads one task per line.
func listWidth(s *IOStreams) int {
	if !s.IsStdoutTTY() {
		return 0
	}
	return s.TerminalWidth() - 1
}

// specFlags names the flags a task has, as list shows them.
func specFlags(s tasks.Spec) []string {
	var flags []string
	for _, f := range []struct {
		on   bool
		name string
	}{{s.Critical, "critical"}, {s.Interactive, "interactive"}, {s.Gate, "gate"}, {s.Root, "root"}, {s.DryRun, "dry-run"}, {s.User, "user"}} {
		if f.on {
			flags = append(flags, f.name)
		}
	}
	return flags
}

// enabled is list's ENABLED column: yes, or no with the reason.
func enabled(s tasks.Spec) string {
	if !s.Disabled {
		return "yes"
	}
	if s.DisabledReason != "" {
		return "no (" + s.DisabledReason + ")"
	}
	return "no"
}

func dash(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ",")
}
