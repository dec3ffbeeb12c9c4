package config

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/v2"
)

// mergeLayerCopies is the merge Load did before mergeLayers: every layer
// loaded into a koanf instance of its own through confmap (a deep copy),
// merged into the first with Merge (a deep copy of its Raw), every layer
// merged even when it sets nothing, and the result read with Raw. It is
// kept here to compare the two.
func mergeLayerCopies(layers []layer) (map[string]any, error) {
	var k *koanf.Koanf
	for _, l := range layers {
		lk := koanf.New(".")
		if err := lk.Load(confmap.Provider(l.tree, ""), nil); err != nil {
			return nil, err
		}
		if k == nil {
			k = lk
			continue
		}
		if err := k.Merge(lk); err != nil {
			return nil, err
		}
	}
	return k.Raw(), nil
}

// manyLayers is a configuration of n tasks set through every layer: two
// files that both set some of the tasks, options that are tables merged
// key by key (and one replaced by a string), an empty table in a later
// file, variables and flags that set task keys, options and top-level
// keys, and [host.NAME] tables from files, variables and flags.
func manyLayers(t *testing.T, n int) Options {
	e := newEnv(t)
	var sys, usr strings.Builder
	sys.WriteString("jobs = 1\nelevate = \"doas\"\nkeep_logs = 5\nflake = \"~/sys-flake\"\n")
	usr.WriteString("jobs = 2\nlog_max = \"10MiB\"\nrollout = \"one-by-one\"\n")
	for i := range n {
		name := fmt.Sprintf("t%04d", i)
		switch {
		case i%10 == 9:
			// A built-in task's table: options, no run.
			fmt.Fprintf(&sys, "[task.%s]\ntimeout = \"1h\"\nkeep = %d\nnested = {a = 1, b = {c = 2, d = 3}}\nreplaced = {a = 1}\npaths = [\"/s/%d\"]\n", name, i, i)
			fmt.Fprintf(&usr, "[task.%s]\nnested = {b = {d = 4, e = 5}}\nreplaced = \"now a string\"\npaths = [\"/u/%d\"]\nempty = {}\nnone = []\nwhen = 2024-01-02T03:04:05Z\n", name, i)
		case i%7 == 3:
			fmt.Fprintf(&sys, "[task.%s]\nrun = \"echo %d\"\ngroups = [\"g%d\"]\n", name, i, i%3)
			// An empty table in the later file: the task's keys stay
			// the system file's.
			fmt.Fprintf(&usr, "[task.%s]\n", name)
		case i < n/2:
			fmt.Fprintf(&sys, "[task.%s]\nrun = \"true\"\n", name)
			if i > 0 {
				fmt.Fprintf(&sys, "after = [\"t%04d\"]\n", i/2)
			}
			if i%3 == 0 {
				fmt.Fprintf(&usr, "[task.%s]\ntimeout = \"%dm\"\ncritical = %t\n", name, i%50+1, i%2 == 0)
			}
		default:
			fmt.Fprintf(&usr, "[task.%s]\nrun = \"sh -c 'exit 0' %d\"\nneeds = [\"t%04d\"]\nenabled = %t\n", name, i, i/3, i%4 != 0)
			if i%5 == 0 {
				// Set to none: an empty list, not an unset one.
				usr.WriteString("after = []\n")
			}
		}
	}
	sys.WriteString("[host.web-1]\ntarget = \"root@web1\"\ntags = [\"web\"]\nkeep = 2\n[host.\"db.example\"]\ntarget = \"root@db\"\n[host.box]\n")
	usr.WriteString("[host.web-1]\nbuild_on = \"target\"\nkeep_since = \"7d\"\n[host.canary]\ntarget = \"me@canary:2222\"\nbuild_on = \"web-1\"\n")

	o := e.opts()
	o.SystemFile = e.system(sys.String())
	e.user(usr.String())
	o.Environ = append(o.Environ,
		"REBUILD_JOBS=3",
		"REBUILD_KEEP_LOGS=9",
		"REBUILD_TASK__T0009__KEEP=11",
		"REBUILD_TASK__T0019__NESTED=from-env",
		"REBUILD_TASK__T0006__TIMEOUT=5m",
		"REBUILD_TASK__T0012__AFTER=t0001,t0002",
		"REBUILD_TASK__T0040__RUN=date",
		"REBUILD_TASK__NEW_ONE__RUN=uptime",
		"REBUILD_HOST__WEB_1__KEEP=4",
		"REBUILD_HOST__DB_EXAMPLE__SSH_OPTIONS=-p,2200",
		"REBUILD_HOST__EXTRA__TARGET=root@extra",
		"REBUILD_TASK__T0015__CRITICAL=", // empty: unset
	)
	o.Flags = map[string]any{
		"jobs":                  6,
		"state_dir":             "~/state",
		"task.t0012.critical":   true,
		"task.t0029.paths":      []string{"/flag/a", "/flag/b"},
		"task.t0039.keep_since": "2d",
		"task.t0048.timeout":    "90s",
		"host.web-1.tags":       []string{"edge", "web"},
		"host.canary.elevate":   "run0",
		"host.db.example.keep":  8,
	}
	o.FlagNames = map[string]string{"task.t0039.keep_since": "--keep-since", "jobs": "--jobs"}
	return o
}

// Load through one koanf instance gives what the merge it replaced gave:
// the same Config (the keys' sources included), the same effective
// configuration written, and the same errors found after the merge;
// whichever layer comes last (it is merged differently, see merge.go).
func TestLoadSameAsLayerCopies(t *testing.T) {
	o := manyLayers(t, 400)
	got := sameAsLayerCopies(t, "every layer", o)
	if len(got.Tasks) != 401 || len(got.Hosts) != 5 {
		t.Fatalf("%d tasks and %d hosts, want 401 and 5: the fixture is not what it says", len(got.Tasks), len(got.Hosts))
	}

	files := o
	files.Environ = []string{"HOME=" + o.Home}
	files.Flags, files.FlagNames = nil, nil
	if c := sameAsLayerCopies(t, "the user file last", files); c.Tasks["t0205"].After == nil || len(c.Tasks["t0205"].After) != 0 {
		t.Errorf("the user file last: t0205 after = %#v, want set to none", c.Tasks["t0205"].After)
	}
	system := files
	system.UserFile = writeFile(t, t.TempDir(), "empty.toml", "")
	if c := sameAsLayerCopies(t, "the system file last", system); len(c.Tasks) != 246 {
		t.Errorf("the system file last: %d tasks, want the 246 of the system file", len(c.Tasks))
	}
	env := files
	env.Environ = o.Environ
	sameAsLayerCopies(t, "the environment last", env)
	// A few values pinned, so a fixture that stopped exercising the
	// layers would show.
	b := got.Tasks["t0009"]
	checks := []struct {
		name      string
		got, want any
	}{
		{"jobs from a flag", got.Jobs, 6},
		{"keep_logs from a variable", got.KeepLogs, 9},
		{"a table option merged key by key", b.Options["nested"], map[string]any{"a": int64(1), "b": map[string]any{"c": int64(2), "d": int64(4), "e": int64(5)}}},
		{"a table option replaced by a string", b.Options["replaced"], "now a string"},
		{"an option from a variable", b.Options["keep"], "11"},
		{"its source", b.Source("keep"), SourceEnvironment},
		{"an option from a flag", got.Tasks["t0029"].Options["paths"], []any{"/flag/a", "/flag/b"}},
		{"a named flag", got.Tasks["t0039"].Source("keep_since"), "flag --keep-since"},
		{"an empty later table keeps the file", got.Tasks["t0003"].File, o.SystemFile},
		{"a key from the system file", b.Source("timeout"), o.SystemFile},
		{"a key from the user file", b.Source("nested"), got.Sources[1]},
		{"a key from an unnamed flag", got.Tasks["t0012"].Source("critical"), SourceFlags},
		{"a key from a variable beside one from a flag", got.Tasks["t0012"].Source("after"), SourceEnvironment},
		{"a task named by a variable only", got.Tasks["new-one"].File, SourceEnvironment},
		{"a host key from a variable", *got.Hosts["web-1"].Keep, 4},
		{"a host key from a flag", got.Hosts["db.example"].Keep, ptr(8)},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %#v, want %#v", c.name, c.got, c.want)
		}
	}

	// The errors only the merged tree shows, from each layer.
	for _, tc := range []struct {
		name  string
		edit  func(o *Options)
		wants string
	}{
		{"an option of a user task, from a variable", func(o *Options) {
			o.Environ = append(o.Environ, "REBUILD_TASK__T0002__KEEP=3")
		}, "REBUILD_TASK__T0002__KEEP"},
		{"an option of a user task, from a flag", func(o *Options) {
			o.Flags["task.t0034.keep"] = 3
		}, "task.t0034.keep"},
		{"run given to a task with options", func(o *Options) {
			o.Flags["task.t0019.run"] = "true"
		}, "task.t0019"},
		{"build_on names no host", func(o *Options) {
			o.Flags["host.web-1.build_on"] = "nowhere"
		}, "nowhere"},
	} {
		o := manyLayers(t, 60)
		tc.edit(&o)
		_, gotErr := load(o, mergeLayers)
		_, wantErr := load(o, mergeLayerCopies)
		if gotErr == nil || wantErr == nil || !strings.Contains(wantErr.Error(), tc.wants) {
			t.Errorf("%s: errors %v and %v, want both naming %s", tc.name, gotErr, wantErr, tc.wants)
			continue
		}
		if !reflect.DeepEqual(gotErr, wantErr) {
			t.Errorf("%s: error\n %#v\nwant\n %#v", tc.name, gotErr, wantErr)
		}
	}
}

// A Config shares nothing with another load's. The merged tree is made
// of the layers' trees, not of a copy of them (merge.go), so this holds
// only while every load builds its trees afresh: defaults and all.
func TestLoadsShareNothing(t *testing.T) {
	o := manyLayers(t, 40)
	a := mustLoad(t, o)
	a.Tasks["t0009"].Options["nested"].(map[string]any)["a"] = int64(99)
	a.Tasks["t0009"].Options["paths"].([]any)[0] = "changed"
	b := mustLoad(t, o)
	if got := b.Tasks["t0009"].Options["nested"].(map[string]any)["a"]; got != int64(1) {
		t.Errorf("a second load sees %v, want 1", got)
	}
	if got := b.Tasks["t0009"].Options["paths"].([]any)[0]; got != "/u/9" {
		t.Errorf("a second load sees %v, want /u/9", got)
	}
}

// koanf's deep copies cost some 260 allocations per task of a 1,000-task
// configuration. The file alone (the last layer, merged with no copy)
// now takes about 30; with a variable and a flag after it, one copy of
// the tree and koanf's flattening of it on each merge bring that to
// about 100. The bounds leave room for a different Go or koanf, not for
// another copy.
func TestLoadAllocationsPerTask(t *testing.T) {
	const n = 1000
	e := newEnv(t)
	e.user(manyTasks(n))
	for _, tc := range []struct {
		name    string
		environ []string
		flags   map[string]any
		most    float64
	}{
		{"the file alone", nil, nil, 50},
		{"a variable and a flag", []string{"REBUILD_JOBS=2"}, map[string]any{"task.t0001.timeout": "1m"}, 160},
	} {
		o := e.opts()
		o.Environ = append(o.Environ, tc.environ...)
		o.Flags = tc.flags
		allocs := testing.AllocsPerRun(3, func() {
			if _, err := Load(o); err != nil {
				t.Fatal(err)
			}
		})
		if perTask := allocs / n; perTask > tc.most {
			t.Errorf("%s: Load allocates %.0f times per task of a %d-task configuration, want at most %.0f", tc.name, perTask, n, tc.most)
		}
	}
}

// sameAsLayerCopies loads o with mergeLayers and with mergeLayerCopies
// and fails unless the two Configs and their effective configurations
// are the same.
func sameAsLayerCopies(t *testing.T, what string, o Options) *Config {
	t.Helper()
	got, err := load(o, mergeLayers)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	want, err := load(o, mergeLayerCopies)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !reflect.DeepEqual(got, want) {
		for _, name := range want.TaskNames() {
			if !reflect.DeepEqual(got.Tasks[name], want.Tasks[name]) {
				t.Errorf("%s: task %s:\n got %#v\nwant %#v", what, name, got.Tasks[name], want.Tasks[name])
			}
		}
		g, w := *got, *want
		g.Tasks, w.Tasks = nil, nil
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s: config:\n got %#v\nwant %#v", what, g, w)
		}
	}
	var gw, ww bytes.Buffer
	if err := got.WriteTOML(&gw); err != nil {
		t.Fatal(err)
	}
	if err := want.WriteTOML(&ww); err != nil {
		t.Fatal(err)
	}
	if gw.String() != ww.String() {
		t.Errorf("%s: effective configuration differs:\n%s\nwant\n%s", what, gw.String(), ww.String())
	}
	return got
}
