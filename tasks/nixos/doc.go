// Package nixos owns the tasks that change the system: flake-update,
// build, copy, diff, activate, the health gate and generations, and
// Rollback, which `rebuild rollback`, the accept task and a failed gate
// share (RollbackTo and ListGenerations are `rebuild rollback --to` and
// `rebuild generations`).
//
// Each task acts on env.Target(). A host reached over ssh (its target is
// user@addr[:port]) is worked on there (remote.go): build sends the build
// where build_on says with Nix's own distribution (buildplace.go), copy
// puts the system in the host's store (copy.go, copylog.go), diff, health
// and generations run their commands on the host (remotehealth.go,
// remotegenerations.go), and activate switches it detached on the host
// (remotedetach.go, remoteactivate.go) under a watchdog that lives there
// (remoteconfirm.go). CheckHostElevation is the check before a run that
// root can be had on a host without a password. A local target takes the
// code paths it always took.
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
