package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rebuild-nixos/rebuild/internal/text"
	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/nixos"
)

// generationsOptions are the flags of `rebuild generations`.
type generationsOptions struct {
	IO   *IOStreams
	Sys  *System
	Load loadOptions
	JSON bool
}

func newGenerationsCmd(f *Factory, runF func(*generationsOptions) error) *cobra.Command {
	o := &generationsOptions{IO: f.IO, Sys: f.Sys}
	cmd := &cobra.Command{
		Use:   "generations",
		Short: "List the system generations: number, date, marks, closure size, commit",
		Long: `List the system profile's generations, newest first: number, date, whether
it is the current (boot default), booted or running one, its closure size,
and the commit of the flake it was built from when rebuild's history knows
it (a run that built it and committed). Needs no root.
rebuild rollback --to N goes to one of them.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Load = f.loadOptions(cmd, 0)
			if runF != nil {
				return runF(o)
			}
			return generationsRun(o)
		},
	}
	cmd.Flags().BoolVar(&o.JSON, "json", false, "one JSON object per generation")
	return cmd
}

// generationJSON is one line of `rebuild generations --json`.
type generationJSON struct {
	Number       int    `json:"number"`
	Date         string `json:"date"`
	Path         string `json:"path"`
	Current      bool   `json:"current"`
	Booted       bool   `json:"booted"`
	Running      bool   `json:"running"`
	ClosureBytes int64  `json:"closure_bytes,omitempty"`
	Commit       string `json:"commit,omitempty"`
}

func generationsRun(o *generationsOptions) error {
	cfg, err := loadConfig(o.Sys, o.Load)
	if err != nil {
		return err
	}
	ex := newExecutor(o.Sys, cfg.Elevate, nil)
	defer ex.Close()
	env := tasks.NewEnv("generations", nil, nil)
	env.Now = o.Sys.Now
	env.Config = cfg
	env.Home = o.Sys.Home
	env.Runner = ex.runner
	gens, err := nixos.ListGenerations(context.Background(), env)
	if err != nil {
		return err
	}
	commits, err := commitsByPath(filepath.Join(cfg.StateDir, "history.jsonl"))
	if err != nil {
		return err
	}
	if o.JSON {
		return writeGenerationsJSON(o.IO.Out, gens, commits)
	}
	if len(gens) == 0 {
		fmt.Fprintf(o.IO.Out, "the profile %s has no generations\n", cfg.Profile)
		return nil
	}
	return writeGenerations(o.IO.Out, gens, commits)
}

// writeGenerations is the table, newest first.
func writeGenerations(w io.Writer, gens []nixos.GenerationInfo, commits map[string]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GEN\tDATE\tSIZE\tCOMMIT\t")
	for i := len(gens) - 1; i >= 0; i-- {
		g := gens[i]
		size, commit := "?", commits[g.Path]
		if g.ClosureBytes > 0 {
			size = text.FormatBytes(g.ClosureBytes)
		}
		if commit == "" {
			commit = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", g.Number, g.Date.Local().Format("2006-01-02 15:04"), size, commit, g.Marks())
	}
	return tw.Flush()
}

func writeGenerationsJSON(w io.Writer, gens []nixos.GenerationInfo, commits map[string]string) error {
	enc := json.NewEncoder(w)
	for i := len(gens) - 1; i >= 0; i-- {
		g := gens[i]
		err := enc.Encode(generationJSON{Number: g.Number, Date: g.Date.Format(time.RFC3339), Path: g.Path, Current: g.Current,
			Booted: g.Booted, Running: g.Running, ClosureBytes: g.ClosureBytes, Commit: commits[g.Path]})
		if err != nil {
			return err
		}
	}
	return nil
}

// commitsByPath maps a built system's store path to the commit of the
// run that built it (its build.out and commit.id values), the newest run
// winning. No history yet is no commits, not an error.
func commitsByPath(path string) (map[string]string, error) {
	m := map[string]string{}
	_, err := schedule.ReadHistoryBackward(path, func(r schedule.RunRecord) bool {
		out, id := r.Values["build.out"], r.Values["commit.id"]
		if out != "" && id != "" && m[out] == "" {
			m[out] = id
		}
		return true
	})
	return m, err
}
