package nixos

import (
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/tasks/nixos/nixtest"
)

// After deleting generations, switch-to-configuration boot of the
// profile's current generation runs once, before garbage collection, and
// the entries of the deleted generations are gone (the stand-in rewrites
// them as systemd-boot's builder does); the statistics say how many.
func TestGenerationsRegenerateBootEntries(t *testing.T) {
	w := worldWithGenerations(t)
	current, _ := nixtest.Resolve(w.s.Profile)
	if got := bootEntries(t, w.s.BootEntries); !slices.Equal(got, []string{"1", "2", "3", "4", "5"}) {
		t.Fatalf("sandbox boot entries %v", got)
	}
	env := w.env("generations", map[string]any{"keep": int64(2), "loader_entries": w.s.BootEntries})
	w.mustRun(Generations{}, env)

	if calls := w.s.SwitchSystems(); !slices.Equal(calls, []string{"boot " + current}) {
		t.Errorf("switch-to-configuration calls %q, want one boot of %s", calls, current)
	}
	if got := bootEntries(t, w.s.BootEntries); !slices.Equal(got, []string{"1", "4", "5"}) {
		t.Errorf("boot entries %v, want 1 4 5", got)
	}
	if st := env.Report().Stats; len(st) == 0 || st[len(st)-1] != "boot entries regenerated: 2 entries removed" {
		t.Errorf("stats %q", st)
	}
}

// When boot fails, the deleted generations' store paths are not
// collected: their entries are still in the menu and must still boot.
func TestGenerationsBootEntriesFailureKeepsGarbage(t *testing.T) {
	w := worldWithGenerations(t)
	sizeBefore, _ := w.s.StoreSize()
	env := w.env("generations", map[string]any{"keep": int64(2), "loader_entries": w.s.BootEntries})
	env.Runner.Environ = append(env.Runner.Environ, "NIXTEST_SWITCH_FAIL=boot")
	err := w.run(Generations{}, env)
	if err == nil || !strings.Contains(err.Error(), "regenerating the boot entries failed, so garbage was not collected") {
		t.Errorf("err = %v", err)
	}
	if after, _ := w.s.StoreSize(); after != sizeBefore {
		t.Errorf("store size %d → %d: garbage was collected", sizeBefore, after)
	}
}

// bootEntries lists the generation numbers with an entry in dir.
func bootEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		n := strings.TrimSuffix(strings.TrimPrefix(e.Name(), "nixos-generation-"), ".conf")
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
