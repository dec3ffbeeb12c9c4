package main

import (
	"context"
	"io"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// confirmAtEnd confirms an activation whose confirm timeout is still
// armed once the run is over: accept did not run (not selected), the
// gates passed (no rollback), and rebuild is alive to say so. An
// interrupted run confirms nothing: the watchdog rolls back, as it would
// had rebuild been killed. What it did goes into activate's result, so
// the summary shows it.
func confirmAtEnd(r *schedule.Run, sum *schedule.Summary, runner *proc.Runner, cfg *config.Config) {
	act, ok := tasks.Activated.Get(r.Values())
	res := sum.Results["activate"]
	if !ok || act.Confirm == nil || res == nil || sum.RolledBack != nil {
		return
	}
	if sum.Interrupted {
		res.Report.Warnings = append(res.Report.Warnings, "interrupted before the new system was confirmed: the confirm timeout rolls it back")
		return
	}
	env := tasks.NewEnv("activate", nil, r.Values())
	env.Config, env.Runner, env.Log = cfg, runner, io.Discard
	if err := act.Confirm(context.Background(), env); err != nil {
		res.Report.Warnings = append(res.Report.Warnings, err.Error())
	}
	rep := env.Report()
	res.Report.Actions = append(res.Report.Actions, rep.Actions...)
}
