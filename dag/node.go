package dag

import "strconv"

// EdgeKind says what a prerequisite's outcome means to the task that waits
// for it. The two kinds are borrowed from systemd.
type EdgeKind int

const (
	// Needs: run after the prerequisite, and only if it succeeded (or was
	// skipped on purpose); otherwise the waiting task is upstream-failed.
	Needs EdgeKind = iota
	// After: run after the prerequisite, whatever its outcome.
	After
)

// String returns "needs" or "after", the words used in configuration files.
func (k EdgeKind) String() string {
	switch k {
	case Needs:
		return "needs"
	case After:
		return "after"
	}
	return "EdgeKind(" + strconv.Itoa(int(k)) + ")"
}

// Node is one task as the graph sees it: a name and its edges, plus the few
// attributes that drawing and listing show. Build copies the Node, so the
// caller's slices are never retained.
type Node struct {
	// Name is kebab-case (a-z, 0-9 and '-'); a per-host task's instance
	// adds '@' and its host's name: build@web1 (see SplitHost).
	Name   string
	Phase  int      // phase number 1..14, 0 = none
	Groups []string // group names, kebab-case
	Needs  []string // run after these, only if they succeeded
	After  []string // run after these, whatever the outcome
	// Critical and Interactive are carried for drawing and listing only;
	// the graph gives them no meaning.
	Critical, Interactive bool
}

// Edge is one ordering constraint: From must finish before To starts.
type Edge struct {
	From, To string
	Kind     EdgeKind
}

// clone returns n with its own copies of every slice.
func (n Node) clone() Node {
	n.Groups = cloneStrings(n.Groups)
	n.Needs = cloneStrings(n.Needs)
	n.After = cloneStrings(n.After)
	return n
}

// cloneStrings copies s; nil and empty both stay nil-or-empty as given.
func cloneStrings(s []string) []string {
	if s == nil {
		return nil
	}
	return append(make([]string, 0, len(s)), s...)
}
