package main

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// The display learns each task's host and prerequisites from the plan:
// its lanes and each host's time left come from them.
func TestRenderOptionsCarryHostsAndNeeds(t *testing.T) {
	noop := tasks.Func(func(context.Context, *tasks.Env) error { return nil })
	// Names without '@' only because this branch's dag does not take it;
	// the host comes from Spec.Host.
	specs := []tasks.Spec{
		{Name: "flake-update", Task: noop},
		{Name: "build-web1", Host: "web1", PerHost: true, Needs: []string{"flake-update"}, Task: noop},
		{Name: "copy-web1", Host: "web1", PerHost: true, Needs: []string{"build-web1"}, Task: noop},
	}
	g, byName, err := schedule.Graph(specs)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	o := &runOptions{IO: testIO(&out, &out), Sys: &System{Now: time.Now}}
	ro := renderOptions(o, &plan{graph: g, specs: byName}, func(string) time.Duration { return time.Second }, false)
	got := map[string][2]any{}
	for _, ti := range ro.Tasks {
		got[ti.Name] = [2]any{ti.Host, ti.Needs}
	}
	if h := got["copy-web1"]; h[0] != "web1" || !slices.Equal(h[1].([]string), []string{"build-web1"}) {
		t.Errorf("copy-web1: %v", h)
	}
	if h := got["flake-update"]; h[0] != "" || len(h[1].([]string)) != 0 {
		t.Errorf("flake-update: %v", h)
	}
}

// Each host's activation's generations reach its activate's result, where
// the summary's table reads them; a run without hosts is left as it was.
func TestRecordActivationsPerHost(t *testing.T) {
	vals := tasks.NewValues()
	tasks.Activated.Put(tasks.NewEnv("activate@web1", nil, vals), tasks.Activation{Path: "/nix/store/a", Generation: 42, Previous: 41})
	tasks.Activated.Put(tasks.NewEnv("activate@web2", nil, vals), tasks.Activation{Path: "/nix/store/b", Generation: 7})
	sum := &schedule.Summary{Order: []string{"activate@web1", "activate@web2", "activate@db1"}, Results: map[string]*schedule.Result{
		"activate@web1": {Name: "activate@web1", Host: "web1", State: schedule.Succeeded,
			Report: tasks.Report{Fields: map[string]any{tasks.FieldRebootNeeded: false}}},
		"activate@web2": {Name: "activate@web2", Host: "web2", State: schedule.Succeeded},
		"activate@db1":  {Name: "activate@db1", Host: "db1", State: schedule.Skipped, Reason: "no changes"},
	}}
	recordActivations(vals, sum)
	f := sum.Results["activate@web1"].Report.Fields
	if f[tasks.FieldGeneration] != 42 || f[tasks.FieldPreviousGeneration] != 41 || f[tasks.FieldRebootNeeded] != false {
		t.Errorf("web1's fields %v", f)
	}
	if f := sum.Results["activate@web2"].Report.Fields; f[tasks.FieldGeneration] != 7 || f[tasks.FieldPreviousGeneration] != nil {
		t.Errorf("web2's fields %v", f)
	}
	if f := sum.Results["activate@db1"].Report.Fields; f != nil {
		t.Errorf("db1, not activated, got fields %v", f)
	}

	single := tasks.NewValues()
	tasks.Activated.Put(tasks.NewEnv("activate", nil, single), tasks.Activation{Path: "/nix/store/a", Generation: 42, Previous: 41})
	one := &schedule.Summary{Order: []string{"activate"}, Results: map[string]*schedule.Result{
		"activate": {Name: "activate", State: schedule.Succeeded}}}
	recordActivations(single, one)
	if f := one.Results["activate"].Report.Fields; f != nil {
		t.Errorf("a run without hosts got fields %v", f)
	}
}

// `rebuild history --task build` in a history of runs with hosts: a row
// per host and run, and each host's ETA; build@web1 is one host's alone;
// a task without hosts is shown as it always was.
func TestHistoryTaskPerHost(t *testing.T) {
	at := time.Date(2026, 11, 25, 17, 0, 0, 0, time.Local)
	run := func(id string, web1, db1 int64) schedule.RunRecord {
		return schedule.RunRecord{RunID: id, Start: at, Tasks: map[string]schedule.TaskRecord{
			"flake-update": {State: schedule.Succeeded, DurationMS: 1000},
			"build@web1":   {State: schedule.Succeeded, DurationMS: web1, Host: "web1"},
			"build@db1":    {State: schedule.Failed, DurationMS: db1, Host: "db1", Reason: "nix build: exit status 1"},
		}}
	}
	runs := []schedule.RunRecord{run("r1", 60000, 5000), run("r2", 80000, 6000)}
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	writeTaskRuns(tw, runs, "build")
	tw.Flush()
	want := "" +
		"RUN  STARTED           HOST  STATE      DURATION  REASON\n" +
		"r1   2026-11-25 17:00  db1   failed     5s        nix build: exit status 1\n" +
		"r1   2026-11-25 17:00  web1  succeeded  1m0s      \n" +
		"r2   2026-11-25 17:00  db1   failed     6s        nix build: exit status 1\n" +
		"r2   2026-11-25 17:00  web1  succeeded  1m20s     \n" +
		"\n" +
		"ETA per host (median of the last 10 successes there, time waiting for answers left out):\n" +
		"  web1  1m10s\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	if got := instances(runs[0], "build@web1"); !slices.Equal(got, []string{"build@web1"}) {
		t.Errorf("build@web1 matches %v", got)
	}
	if got := instances(runs[0], "flake-update"); !slices.Equal(got, []string{"flake-update"}) {
		t.Errorf("flake-update matches %v", got)
	}
	if got := instances(runs[0], "copy"); len(got) != 0 {
		t.Errorf("copy matches %v", got)
	}

	b.Reset()
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	writeTaskRuns(tw, runs, "flake-update")
	tw.Flush()
	if want := "RUN  STARTED           STATE      DURATION  REASON\n" +
		"r1   2026-11-25 17:00  succeeded  1s        \n" +
		"r2   2026-11-25 17:00  succeeded  1s        \n" +
		"\nETA (median of the last 10 successes): 1s, time waiting for answers left out\n"; b.String() != want {
		t.Errorf("a task of the whole run:\n%s\nwant\n%s", b.String(), want)
	}
}
