package tasks

// ClosureDiff is the difference between the running system's closure and
// the new one, as plain data: the diff task fills it from
// `nix store diff-closures`, the json renderer writes it on the diff's
// finish event, and the table of the questions is made from it.
type ClosureDiff struct {
	Upgraded   []PackageChange `json:"upgraded"`
	Downgraded []PackageChange `json:"downgraded"`
	Added      []PackageChange `json:"added"`
	Removed    []PackageChange `json:"removed"`
	// Changed are packages whose size changed but not their version.
	Changed []PackageChange `json:"changed,omitempty"`
	// ClosureBefore and ClosureAfter are the closures' sizes in bytes
	// (0 when nix path-info could not tell).
	ClosureBefore int64 `json:"closure_before,omitempty"`
	ClosureAfter  int64 `json:"closure_after,omitempty"`
}

// PackageChange is one package of a ClosureDiff.
type PackageChange struct {
	Name   string   `json:"name"`
	Before []string `json:"before,omitempty"` // its versions in the old closure
	After  []string `json:"after,omitempty"`  // and in the new one
	// SizeDelta is the change of its size in bytes (as diff-closures
	// reports it, to a tenth of a KiB).
	SizeDelta int64 `json:"size_delta"`
}

// SetDiff records the task's closure difference for the report (the
// json finish event, where an empty group is [], not null).
func (e *Env) SetDiff(d ClosureDiff) {
	for _, g := range []*[]PackageChange{&d.Upgraded, &d.Downgraded, &d.Added, &d.Removed} {
		if *g == nil {
			*g = []PackageChange{}
		}
	}
	e.mu.Lock()
	e.diff = &d
	e.mu.Unlock()
}
