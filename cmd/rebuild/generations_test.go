package main

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/internal/exitcode"
)

// The flags of generations and rollback --to, parsed apart from what the
// commands do; a --to that is no generation number is a usage error
// before anything runs.
func TestGenerationsAndRollbackToParse(t *testing.T) {
	var out, errw bytes.Buffer
	f := newFactory(testSystem(t, &out, &errw))
	var g *generationsOptions
	if err := execute(f, newGenerationsCmd(f, func(o *generationsOptions) error { g = o; return nil }), "--json"); err != nil || !g.JSON {
		t.Errorf("generations --json: %v %+v", err, g)
	}
	var r *rollbackOptions
	if err := execute(f, newRollbackCmd(f, func(o *rollbackOptions) error { r = o; return nil }), "--to", "3", "-n"); err != nil || r.To != 3 || !r.DryRun {
		t.Errorf("rollback --to 3 -n: %v %+v", err, r)
	}
	var ro *runOptions
	if err := execute(f, newRunCmd(f, func(o *runOptions) error { ro = o; return nil }), "--reboot", "when-needed"); err != nil ||
		ro.Load.Set["task.activate.reboot"] != "when-needed" {
		t.Errorf("--reboot when-needed: %v, config keys from flags %v", err, ro.Load.Set)
	}
	for _, bad := range []string{"0", "-2"} {
		ran := false
		err := execute(f, newRollbackCmd(f, func(*rollbackOptions) error { ran = true; return nil }), "--to", bad)
		if ran || err == nil || !strings.Contains(err.Error(), "--to must be a generation number") || exitCode(err) != exitcode.Usage {
			t.Errorf("--to %s: ran %v, err %v", bad, ran, err)
		}
	}
}

// rebuild generations lists the sandbox's generations newest first with
// their marks, sizes and, for the one a run built and committed, the
// commit; --json says the same. rollback --to goes to a chosen one (not
// the previous), refuses one that does not exist and the one already
// current and running.
func TestNixOSGenerationsAndRollbackTo(t *testing.T) {
	n := newNixOS(t, "", "1.1", "1.2")
	if err := n.SetVersion("1.3"); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := n.run(nil, nixosGraph, "--yes"); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, errOut)
	}
	head := n.git(n.Flake, "rev-parse", "--short", "HEAD")

	out, errOut, code := n.run(nil, "generations")
	if code != 0 {
		t.Fatalf("generations: exit %d\n%s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "GEN") {
		t.Fatalf("generations:\n%s", out)
	}
	for i, want := range [][]string{{"4 ", head, "current, running"}, {"3 ", " - "}, {"2 ", " - "}, {"1 ", " - ", "booted"}} {
		for _, w := range want {
			if !strings.Contains(lines[i+1], w) {
				t.Errorf("line %q lacks %q\n%s", lines[i+1], w, out)
			}
		}
		if strings.Contains(lines[i+1], "?") {
			t.Errorf("no closure size: %q", lines[i+1])
		}
	}

	out, _, code = n.run(nil, "generations", "--json")
	var got []generationJSON
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var g generationJSON
		if err := json.Unmarshal([]byte(l), &g); err != nil {
			t.Fatalf("%v: %q", err, l)
		}
		got = append(got, g)
	}
	if code != 0 || len(got) != 4 || got[0].Number != 4 || !got[0].Current || !got[0].Running || got[0].Commit != head ||
		!got[3].Booted || got[3].Commit != "" || got[0].ClosureBytes <= 0 || got[0].Path != n.genPath(4) {
		t.Errorf("generations --json: %+v", got)
	}

	out, errOut, code = n.run(nil, "rollback", "--to", "2")
	if code != 0 || !strings.Contains(out, "rolled back from generation 4 to 2") {
		t.Errorf("rollback --to 2: exit %d\n%s%s", code, out, errOut)
	}
	if calls := n.SwitchSystems(); len(calls) == 0 || calls[len(calls)-1] != "switch "+n.genPath(2) {
		t.Errorf("switch calls %q, want the last to be generation 2's switch", calls)
	}
	if g, c := n.generations(); c != 2 || !slices.Equal(g, []int{1, 2, 3, 4}) || resolved(t, n.CurrentSystem) != n.genPath(2) {
		t.Errorf("generations %v, current %d, running %s", g, c, resolved(t, n.CurrentSystem))
	}
	before := len(n.SwitchCalls())
	for _, c := range []struct{ to, want string }{
		{"9", "there is no generation 9 of " + n.Profile + " (there are 1, 2, 3, 4)"},
		{"2", "generation 2 is already the current and the running system"},
	} {
		if _, errOut, code := n.run(nil, "rollback", "--to", c.to); code != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("rollback --to %s: exit %d, want 1 and %q\n%s", c.to, code, c.want, errOut)
		}
	}
	if len(n.SwitchCalls()) != before {
		t.Errorf("a refused rollback switched: %q", n.SwitchCalls())
	}
}
