package schedule

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// An activation that could not be confirmed after the run fails its host,
// or the run: never exit 0 over a system that is not kept.
func TestUnconfirmedFailsTheRun(t *testing.T) {
	err := errors.New("too late: the confirm timeout has rolled back already\nmore")
	for _, c := range []struct {
		name, host string
		rolledBack bool
		want       State
	}{
		{"activate", "", false, Failed},
		{"activate@web1", "web1", true, RolledBack},
	} {
		s := &Summary{Results: map[string]*Result{
			c.name: {Name: c.name, Host: c.host, State: Succeeded, Critical: true},
			"push": {Name: "push", State: Succeeded},
		}}
		if s.ExitCode(false) != 0 {
			t.Fatal("a clean summary does not exit 0")
		}
		s.Unconfirmed(c.name, err, c.rolledBack)
		s.Unconfirmed(c.name, err, c.rolledBack) // said twice, counted once
		r := s.Results[c.name]
		if r.State != c.want || r.Err != err || !strings.HasPrefix(r.Reason, "not confirmed: too late") || strings.Contains(r.Reason, "more") {
			t.Errorf("%s: %s %q %v", c.name, r.State, r.Reason, r.Err)
		}
		if got := s.ExitCode(false); got != 1 {
			t.Errorf("%s: exit %d, want 1", c.name, got)
		}
		if c.host != "" && !slices.Equal(s.FailedHosts, []string{c.name}) {
			t.Errorf("failed hosts %v", s.FailedHosts)
		}
		if c.host == "" && s.FailedCritical != c.name {
			t.Errorf("failed critical %q", s.FailedCritical)
		}
		s.Unconfirmed("nothing", err, false) // no such task: nothing changes
		if len(s.Results) != 2 {
			t.Errorf("results %v", s.Results)
		}
	}
}
