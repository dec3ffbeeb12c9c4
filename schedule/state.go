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
	// RolledBack: activate, after a gate failed and the system was
	// rolled back to the generation it replaced.
	RolledBack State = "rolled-back"
)

// Final reports whether the state is an end state.
func (s State) Final() bool {
	switch s {
	case Succeeded, Failed, Skipped, Declined, UpstreamFailed, Canceled, RolledBack:
		return true
	}
	return false
}

// satisfiesNeeds reports whether a needs-dependent may run after a
// prerequisite ended in s: it succeeded or was skipped on purpose.
func (s State) satisfiesNeeds() bool { return s == Succeeded || s == Skipped }
