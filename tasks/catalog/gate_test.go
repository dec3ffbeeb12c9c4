package catalog

import (
	"slices"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// What needs the task a gate checks waits for the gate (accept after
// health and a user's gate), the gate itself and what it waits for do
// not; a gate that needs nothing is an error naming its table.
func TestGateEdges(t *testing.T) {
	specs := []tasks.Spec{
		{Name: "build"},
		{Name: "activate", Needs: []string{"build"}},
		{Name: "health", Needs: []string{"activate"}, Gate: true},
		{Name: "smoke", Needs: []string{"activate", "build"}, Gate: true},
		{Name: "accept", Needs: []string{"activate"}},
		{Name: "other", Needs: []string{"build"}, After: []string{"activate"}},
	}
	if err := gateEdges(specs); err != nil {
		t.Fatal(err)
	}
	needs := map[string][]string{}
	for _, s := range specs {
		needs[s.Name] = s.Needs
	}
	if want := []string{"activate", "health", "smoke"}; !slices.Equal(needs["accept"], want) {
		t.Errorf("accept needs %v, want %v", needs["accept"], want)
	}
	if !slices.Equal(needs["activate"], []string{"build"}) || !slices.Equal(needs["health"], []string{"activate"}) {
		t.Errorf("activate needs %v, health needs %v: a gate's prerequisites and gates get no edge", needs["activate"], needs["health"])
	}
	// other needs build, which smoke needs too: it waits for smoke (it
	// is no prerequisite of smoke).
	if !slices.Contains(needs["other"], "smoke") {
		t.Errorf("other needs %v", needs["other"])
	}

	err := gateEdges([]tasks.Spec{{Name: "lonely", Gate: true, Source: "config.toml"}})
	if err == nil || !strings.Contains(err.Error(), "task.lonely.gate") || !strings.Contains(err.Error(), "config.toml") {
		t.Errorf("gate without needs: %v", err)
	}
}
