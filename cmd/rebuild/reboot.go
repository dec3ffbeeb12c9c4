package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/nixos"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// rebootPolicy is what --reboot (task.activate.reboot) asks of the end of
// a run, and the command that reboots (task.activate.reboot_command).
type rebootPolicy struct {
	when    string
	command []string
}

// rebootPolicyOf reads activate's reboot options from cfg, checked, also
// when activate is not selected: --reboot=always reboots after any run.
func rebootPolicyOf(cfg *config.Config) (rebootPolicy, error) {
	t := cfg.Tasks["activate"]
	t.Name = "activate"
	c, err := nixos.Activate{}.Configure(t)
	if err != nil {
		return rebootPolicy{}, err
	}
	o := c.(tasks.Configurable).TaskOptions().(nixos.ActivateOptions)
	return rebootPolicy{when: o.Reboot, command: o.RebootCommand}, nil
}

// why says why this run reboots, or "" when it does not: never after a
// dry run or a run that did not exit 0; with when-needed only when a task
// recorded that the system needs it (tasks.FieldRebootNeeded).
func (rp rebootPolicy) why(sum *schedule.Summary, code int, dryRun bool) string {
	if dryRun || code != 0 {
		return ""
	}
	switch rp.when {
	case nixos.RebootAlways:
		return "--reboot=always"
	case nixos.RebootWhenNeeded:
		for _, name := range sum.Order {
			r := sum.Results[name]
			if r == nil || r.Report.Fields[tasks.FieldRebootNeeded] != true {
				continue
			}
			reason, _ := r.Report.Fields[tasks.FieldRebootReason].(string)
			if strings.HasPrefix(reason, "reboot ") { // "reboot required: …"
				return reason
			}
			return "reboot needed: " + reason
		}
	}
	return ""
}

// reboot runs the reboot command as root, the very last thing of a run:
// after the summary, the history and the metrics are written, so that
// nothing of the run is lost when the machine goes down. Root is asked
// for here when the run needed none before.
func (rp rebootPolicy) reboot(ctx context.Context, o *runOptions, ex *executor, why string) error {
	if ex.runner.Elevate == nil && o.Sys.Euid != 0 {
		if err := ex.acquireRoot(ctx, nil); err != nil {
			return fmt.Errorf("reboot (%s): %w", why, err)
		}
	}
	fmt.Fprintf(o.IO.Err, "rebuild: rebooting (%s): %s\n", why, strings.Join(rp.command, " "))
	err := ex.runner.Run(ctx, proc.Cmd{Args: rp.command, Root: true, Log: o.IO.Err})
	if err != nil {
		return fmt.Errorf("reboot (%s): %w (task.activate.reboot_command)", why, err)
	}
	return nil
}

// rebootAfter ends runLocked: the run's own outcome (err, from
// session.finish), then, if the policy says so, the reboot. A failed
// reboot is the run's failure.
func (rp rebootPolicy) rebootAfter(o *runOptions, ex *executor, sum *schedule.Summary, err error) error {
	code := 0
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	} else if err != nil {
		return err
	}
	why := rp.why(sum, code, o.DryRun)
	if why == "" {
		return err
	}
	if rerr := rp.reboot(context.Background(), o, ex, why); rerr != nil {
		fmt.Fprintf(o.IO.Err, "rebuild: %v\n", rerr)
		return &exitError{1}
	}
	return nil
}
