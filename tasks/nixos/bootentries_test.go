package nixos

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/config"
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

// Regenerating the boot entries is a bootloader install: an interrupt
// (Ctrl-C, a lost session) must not cut it in half. It runs detached, as
// activation's steps do: the task stops following it, it goes on to its
// end, and the next run reports how it ended.
func TestBootEntriesSwitchSurvivesAnInterrupt(t *testing.T) {
	w := worldWithGenerations(t)
	env := w.env("generations", map[string]any{"keep": int64(2), "loader_entries": w.s.BootEntries})
	env.Runner.Environ = append(env.Runner.Environ, "NIXTEST_SWITCH_SLOW=20")
	task, err := Generations{}.Configure(config.Task{Name: "generations", Options: map[string]any{"keep": int64(2), "loader_entries": w.s.BootEntries}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- task.Run(ctx, env) }()
	rec := filepath.Join(env.Config.StateDir, "activation")
	waitFor(t, 30*time.Second, "the boot switch to start", func() bool {
		b, _ := os.ReadFile(filepath.Join(rec, "output.log"))
		return strings.Contains(string(b), "switch-to-configuration boot: step 2")
	})
	cancel()
	err = <-done
	var going *stillRunning
	if !errors.As(err, &going) {
		t.Fatalf("generations interrupted during the boot switch: %v", err)
	}
	waitFor(t, 30*time.Second, "the boot switch to end", func() bool {
		_, ok := record(rec).status()
		return ok
	})
	if b, _ := os.ReadFile(filepath.Join(rec, "output.log")); !strings.Contains(string(b), "switch-to-configuration boot: step 19") {
		t.Errorf("the boot switch was cut short:\n%s", b)
	}
	// The next run reports it.
	next := w.env("generations", map[string]any{"keep": int64(2), "loader_entries": w.s.BootEntries})
	if err := reattach(context.Background(), next); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(next.Report().Warnings, "\n"); !strings.Contains(got, "the earlier activation (switch-to-configuration boot of ") || !strings.Contains(got, "succeeded") {
		t.Errorf("warnings %q", got)
	}
}
