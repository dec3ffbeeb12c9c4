package schedule

// State is where a task is in its life.
type State string

// The states of DESIGN.md's task model.
const (
	Pending        State = "pending"
	Waiting        State = "waiting"
	Running        State = "running"
	Succeeded      State = "succeeded"
	Failed         State = "failed"
	Skipped        State = "skipped"
	Declined       State = "declined"
	UpstreamFailed State = "upstream-failed"
	Canceled       State = "canceled"
)

// Final reports whether the state is an end state.
func (s State) Final() bool {
	switch s {
	case Succeeded, Failed, Skipped, Declined, UpstreamFailed, Canceled:
		return true
	}
	return false
}

// satisfiesNeeds reports whether a needs-dependent may run after a
// prerequisite ended in s: it succeeded or was skipped on purpose.
func (s State) satisfiesNeeds() bool { return s == Succeeded || s == Skipped }
