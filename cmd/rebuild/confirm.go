package main

import (
	"context"
	"errors"
	"io"
	"slices"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/nixos"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// confirmAtEnd confirms every activation whose confirm timeout is still
// armed once the run is over — this machine's, and each host's
// (activate@HOST) — when its gates passed (no rollback) and rebuild is
// alive to say so; one accept confirmed already is confirmed (a no-op),
// and one whose confirmation failed there says so again. An interrupted
// run confirms nothing: the watchdog rolls back, as it would had rebuild
// been killed. What it did goes into that activation's result, so the
// summary shows it. A host's Confirm reaches it over ssh on its own.
//
// An activation that cannot be confirmed is not kept — its watchdog has
// rolled it back or will — so it fails its host, or the run
// (Summary.Unconfirmed): exit 1, never a warning under a success.
func confirmAtEnd(r *schedule.Run, sum *schedule.Summary, runner *proc.Runner, cfg *config.Config) {
	var names []string
	for name := range sum.Results {
		if task, _ := tasks.SplitHost(name); task == "activate" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		_, host := tasks.SplitHost(name)
		act, ok := tasks.Activated.On(host).Get(r.Values())
		res := sum.Results[name]
		rolledBack := res.State == schedule.RolledBack || sum.RolledBack != nil && (host == "" || sum.RolledBack.Task == name)
		if !ok || act.Confirm == nil || rolledBack {
			continue
		}
		if sum.Interrupted {
			res.Report.Warnings = append(res.Report.Warnings, "interrupted before the new system was confirmed: the confirm timeout rolls it back")
			continue
		}
		env := tasks.NewEnv(name, nil, r.Values())
		env.Config, env.Runner, env.Log = cfg, runner, io.Discard
		err := act.Confirm(context.Background(), env)
		rep := env.Report()
		res.Report.Actions = append(res.Report.Actions, rep.Actions...)
		switch {
		case err == nil, errors.Is(err, nixos.ErrNotKept):
			// Kept; or rejected and rolled back, which accept reported.
		default:
			sum.Unconfirmed(name, err, errors.Is(err, nixos.ErrFired))
		}
	}
}
