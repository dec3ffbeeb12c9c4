package demo

import (
	_ "embed" // the sandbox's files
	"strings"
)

// The sandbox's files, written into it as they are here (@NAME@ marks
// what is filled in).
var (
	//go:embed files/nix.conf
	nixConf string
	//go:embed files/pkgs-flake.nix
	pkgsFlake string
	//go:embed files/host-flake.nix
	hostFlake string
	//go:embed files/toplevel.nix
	toplevelNixFile string
	//go:embed files/toplevel.sh
	toplevelSh string
	//go:embed files/switch-to-configuration
	switchSh string
	//go:embed files/claude-generator.sh
	claudeGenerator string
)

// toplevelNix is the host's toplevel derivation, an expression spliced
// into hostFlake (the file's final newline is not part of it).
var toplevelNix = strings.TrimSuffix(toplevelNixFile, "\n")
