// Package hostname is the one rule for the name of a host of a
// many-machine run ([host.NAME] in the configuration, the HOST of a task
// named build@HOST, an --on item): a nixosConfigurations attribute name
// restricted to what is safe in a task name, a log file's name and a
// command line. config, dag and cmd/rebuild all check names by it, so a
// name one of them accepts every other accepts too. It is a leaf: it
// imports nothing of ours.
package hostname

import "fmt"

// MaxLen is the longest host name, in bytes: a task's log is
// NAME@HOST.log, and a file name holds at most 255 bytes.
const MaxLen = 64

// Allowed says what a host name may be, for error messages.
const Allowed = "a letter or a digit, then letters, digits, '-', '_' and '.' (no '@', no spaces)"

// Problem says what is wrong with a host's name, "" if nothing. A host
// name starts with a letter or a digit (so it is never "." or "..", nor
// read as a command-line option), then letters, digits, '-', '_' and
// '.', at most MaxLen bytes.
func Problem(s string) string {
	if s == "" {
		return "is empty"
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case i > 0 && (r == '-' || r == '_' || r == '.'):
		default:
			return fmt.Sprintf("has %q: a host name is %s", r, Allowed)
		}
	}
	if len(s) > MaxLen {
		return fmt.Sprintf("is %d characters long; the most is %d", len(s), MaxLen)
	}
	return ""
}
