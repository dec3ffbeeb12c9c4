// Package ansi removes terminal escape sequences from text a child
// process or a task wrote, so that it can be kept in a tail, shown as a
// status or parsed. It is a leaf: it imports nothing of this project, and
// anyone may import it (tasks/proc, render, the task families).
//
// It only strips; making other control bytes visible or safe for a table
// is the caller's business.
package ansi

import (
	"regexp"
	"strings"
)

// escapes matches CSI sequences (colours, cursor moves), OSC sequences
// (hyperlinks, titles) ended by BEL or ST, and carriage returns (a
// progress bar redrawing its line).
var escapes = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\r`)

// Strip removes terminal escape sequences and carriage returns.
func Strip(s string) string {
	// Most lines have neither: skip the regexp.
	if strings.IndexByte(s, 0x1b) < 0 && strings.IndexByte(s, '\r') < 0 {
		return s
	}
	return escapes.ReplaceAllString(s, "")
}
