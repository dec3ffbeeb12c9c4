// Package nixos owns the tasks that change the system: flake-update,
// build, diff, activate and generations, and Rollback, which `rebuild
// rollback` and the accept task share.
//
// Every external command goes through the Env's proc.Runner; commands that
// need root are marked Root and get the runner's elevation prefix. Values
// handed on between tasks:
//
//	build.out      string  the built system's store path
//	build.changed  bool    false when it is the running system ("no changes")
//	diff.summary   string  the compact diff (version changes, size), for --ask
//	activate.activated string the store path that was activated
//	activate.generation int   the profile generation it became
//
// The package never prints to the terminal: output goes to env.Log, the
// live status to env.Status, questions to env.Prompt.
package nixos
