// Package nixos owns the tasks that change the system: flake-update,
// build, diff, activate, the health gate and generations, and Rollback,
// which `rebuild rollback`, the accept task and a failed gate share
// (RollbackTo and ListGenerations are `rebuild rollback --to` and
// `rebuild generations`).
//
// activate falls back to boot when switch-to-configuration refuses to
// switch live (inhibit.go) and says when a reboot is needed (reboot.go);
// generations regenerates the boot entries after deleting
// (bootentries.go).
//
// Activation runs detached (detach.go) and may arm a confirm timeout
// whose watchdog lives outside rebuild (confirm.go); both keep a record
// under the state directory that the next run reports.
//
// Every external command goes through the Env's proc.Runner; commands that
// need root are marked Root and get the runner's elevation prefix. Values
// handed on between tasks:
//
//	BuiltKey             Built{Out, Changed}: the built system's store path,
//	                     and false when it is the running system ("no changes")
//	tasks.DiffSummary    the diff table (upgraded, downgraded, added, removed;
//	                     closure sizes), for --ask and accept
//	tasks.Activated      tasks.Activation: the store path activated, the
//	                     generation it became, the one before, and Rollback
//
// The package never prints to the terminal: output goes to env.Log, the
// live status to env.Status (the build's progress, as data, to
// env.Progress; the diff's groups to env.SetDiff), questions to
// env.Prompt. The build's estimates per package name live in the state
// directory's build-times.json (buildtimes.go).
package nixos
