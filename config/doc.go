// Package config turns rebuild's configuration layers into one typed,
// validated Config.
//
// Layers, later wins:
//
//	built-in defaults
//	< system file   /etc/rebuild/config.toml      (Options.SystemFile)
//	< user file     $XDG_CONFIG_HOME/rebuild/config.toml, ~/.config/rebuild/config.toml,
//	                or the file named by --config / REBUILD_CONFIG (Options.UserFile)
//	< environment   REBUILD_* variables            (Options.Environ)
//	< flags                                         (Options.Flags)
//
// koanf does the merging; this package checks every layer on its own before
// it is merged, so an error names the file (or "environment", or "flags")
// that holds the bad key or value, the key, the value and what is allowed.
//
// The package owns: the set of configuration keys and their defaults, the
// REBUILD_* variable names, the [task.NAME] table syntax (standard keys
// versus the raw options a built-in task interprets itself), the
// [host.NAME] tables of a many-machine run (their keys, targets, which
// host builds which; whether a host's gates are gate tasks is the
// catalogue's to check), ~ expansion of
// the top-level path keys, the XDG defaults, the effective-config writer and
// the `rebuild config init` template.
//
// It never prints, never reads the process environment, the clock or the
// hostname itself (everything comes in through Options), keeps no mutable
// package state, and imports no other package of this project but leaf
// helpers under internal/ (its errors' exit code, the "did you mean"). It does not
// know the built-in task catalogue: whether a task name, an edge or an
// option is valid for a particular task is checked by the task (the
// catalogue decodes each built-in task's options with tasks.DecodeOptions,
// which uses Task.CheckOptions and the typed getters, before the run) and
// by the graph.
package config
