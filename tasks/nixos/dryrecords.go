package nixos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// A dry run touches nothing, the records an earlier run left included:
// where a real run waits for an activation or a watchdog that still
// runs, reports how it ended and clears its record (reattach,
// settleWatchdog, remote settle), a dry run only says what it found and
// what a real run would do with it. It takes no target lock either.

// peekRecords reports, as dry-run warnings, the records an earlier run
// left in this machine's state directory.
func peekRecords(ctx context.Context, env *tasks.Env) {
	base, err := stateDir(env)
	if err != nil {
		return
	}
	act := record(filepath.Join(base, "activation"))
	if _, err := os.Stat(act.file("what")); err == nil {
		code, ended := act.status()
		warnEarlierActivation(env, "", act.describe(), act.running(ctx, env), code, ended)
	}
	conf := record(filepath.Join(base, "confirm"))
	if _, err := os.Stat(conf.file("what")); err == nil {
		warnEarlierWatchdog(env, "", conf.read("what"), conf.running(ctx, env), conf.read("fired"))
	}
}

// dryPeekScript prints, without waiting or removing anything, the lines
// settleScript would print for activation record $1 and confirm record
// $2, each with a last field "running" while its command still runs:
//
//	activation<TAB><status or ""><TAB><started><TAB><what><TAB><"running" or "">
//	confirm<TAB><"gen rc" when it fired, else ""><TAB><what><TAB><"running" or "">
const dryPeekScript = `act=$1 conf=$2
alive() { [ -s "$1/pid" ] && [ -d "/proc/$(cat "$1/pid")" ]; }
running() { [ -e "$1/what" ] && [ ! -e "$1/status" ] && [ ! -e "$1/ended" ] && alive "$1" && echo running; }
if [ -e "$act/what" ] && [ ! -e "$act/seen" ]; then
  printf 'activation\t%s\t%s\t%s\t%s\n' "$(cat "$act/status" 2>/dev/null)" "$(cat "$act/started" 2>/dev/null)" "$(cat "$act/what")" "$(running "$act")"
fi
if [ -e "$conf/what" ]; then
  printf 'confirm\t%s\t%s\t%s\n' "$(cat "$conf/fired" 2>/dev/null)" "$(cat "$conf/what")" "$(running "$conf")"
fi
`

// peek is peekRecords for a target: one ssh command that only reads.
func (r *remote) peek(ctx context.Context, env *tasks.Env, recs remoteRecords) error {
	out, err := r.output(ctx, env, remoteCmd{script: dryPeekScript, argv: []string{recs.activation, recs.confirm}, root: true,
		what: "read the records of an earlier run in " + recs.activation + " and " + recs.confirm})
	if err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		f := strings.Split(line, "\t")
		switch {
		case f[0] == "activation" && len(f) == 5:
			what := f[3]
			if f[2] != "" {
				what += ", started " + f[2]
			}
			var code int
			_, scanErr := fmt.Sscan(f[1], &code)
			warnEarlierActivation(env, r.host.Name+": ", what, f[4] == "running", code, f[1] != "" && scanErr == nil)
		case f[0] == "confirm" && len(f) == 4:
			warnEarlierWatchdog(env, r.host.Name+": ", f[2], f[3] == "running", f[1])
		}
	}
	return nil
}

func warnEarlierActivation(env *tasks.Env, prefix, what string, running bool, code int, ended bool) {
	switch {
	case running:
		env.Warn("%sdry run: an earlier activation still runs (%s); a real run waits for it to end, reports how it ended and clears its record", prefix, what)
	case !ended:
		env.Warn("%sdry run: an earlier activation (%s) ended without an exit status (cut short); a real run reports it and clears its record", prefix, what)
	default:
		env.Warn("%sdry run: an earlier activation (%s), whose run was interrupted, ended with exit status %d; a real run reports it and clears its record", prefix, what, code)
	}
}

func warnEarlierWatchdog(env *tasks.Env, prefix, what string, running bool, fired string) {
	switch {
	case running:
		env.Warn("%sdry run: an earlier run's confirm watchdog is armed (%s); a real run waits for it to end first", prefix, what)
	case fired != "":
		var gen, rc int
		fmt.Sscan(fired, &gen, &rc)
		if rc == 0 {
			env.Warn("%sdry run: an earlier run was not confirmed in time and its confirm watchdog rolled back to generation %d; a real run reports it and clears its record", prefix, gen)
		} else {
			env.Warn("%sdry run: an earlier run was not confirmed in time and its watchdog's rollback to generation %d failed (exit status %d); a real run reports it and clears its record", prefix, gen, rc)
		}
	}
}

// SettleEarlier deals with what an earlier, interrupted run left on this
// machine before `rebuild rollback` switches: a detached activation still
// running is waited for (a rollback in the middle of it would leave the
// machine half-switched), an armed confirm watchdog too (it would later
// roll back on its own, over what the person chose), and both are
// reported and cleared. A dry run only says what it found. Not for use
// inside a run, whose own watchdog it would wait for.
func SettleEarlier(ctx context.Context, env *tasks.Env) error {
	if env.Config == nil {
		return errNoConfig
	}
	if env.DryRun {
		peekRecords(ctx, env)
		return nil
	}
	if err := reattach(ctx, env); err != nil {
		return err
	}
	return settleWatchdog(ctx, env)
}
