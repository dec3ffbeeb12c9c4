package render

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// The fields DESIGN.md documents, per event.
var (
	common      = []string{"time", "task", "event", "state", "duration_ms", "reason", "error"}
	finishExtra = []string{"actions", "stats", "warnings", "log"}
	summaryKeys = []string{"time", "event", "wall_ms", "critical_path", "tasks", "log_dir"}
)

func TestJSONLinesHaveExactlyTheDocumentedFields(t *testing.T) {
	c := newClock()
	var out, errw syncBuf
	r, err := New(ModeJSON, Options{Out: &out, Err: &errw, Now: c.Now, Verbose: true, Tasks: testTasks})
	if err != nil {
		t.Fatal(err)
	}
	evs := runEvents(c)
	for _, e := range evs {
		r.Emit(e)
	}
	r.VerboseWriter().Write([]byte("[build] a log line\n"))
	r.Summary(summaryFixture(), "/logs/run")
	_ = r.Close()

	if got := errw.String(); got != "[build] a log line\n" {
		t.Errorf("verbose lines go to Err, got %q", got)
	}
	ls := lines(out.String())
	if want := len(evs); len(ls) != want { // one release dropped, one summary added
		t.Fatalf("%d lines, want %d:\n%s", len(ls), want, out.String())
	}
	seen := map[string]int{}
	for i, l := range ls {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", i+1, err, l)
		}
		ev, _ := m["event"].(string)
		seen[ev]++
		if _, ok := m["time"].(string); !ok {
			t.Errorf("line %d has no time: %s", i+1, l)
		}
		allowed := append([]string(nil), common...)
		switch ev {
		case "start", "prompt":
		case "status", "notice":
			allowed = append(allowed, "message")
			if m["message"] == nil {
				t.Errorf("line %d: %s without message: %s", i+1, ev, l)
			}
		case "finish":
			allowed = append(allowed, finishExtra...)
		case "summary":
			allowed = summaryKeys
		default:
			t.Errorf("line %d: unexpected event %q", i+1, ev)
		}
		for k := range m {
			if !contains(allowed, k) {
				t.Errorf("line %d: field %q is not documented for %s: %s", i+1, k, ev, l)
			}
		}
		for k, v := range m {
			if v == "" || v == nil {
				t.Errorf("line %d: empty field %q kept: %s", i+1, k, l)
			}
		}
	}
	want := map[string]int{"start": 3, "status": 2, "finish": 5, "prompt": 1, "notice": 1, "summary": 1}
	for k, n := range want {
		if seen[k] != n {
			t.Errorf("%d %s lines, want %d", seen[k], k, n)
		}
	}

	var fin struct {
		Task       string   `json:"task"`
		State      string   `json:"state"`
		DurationMS int64    `json:"duration_ms"`
		Error      string   `json:"error"`
		Warnings   []string `json:"warnings"`
		Log        string   `json:"log"`
	}
	for _, l := range ls {
		if strings.Contains(l, `"task":"learn-meta","event":"finish"`) {
			if err := json.Unmarshal([]byte(l), &fin); err != nil {
				t.Fatal(err)
			}
		}
	}
	if fin.State != "failed" || fin.DurationMS != 20000 || fin.Log != "/logs/learn-meta.log" ||
		len(fin.Warnings) != 1 || !strings.HasPrefix(fin.Error, "claude exited 1\n") {
		t.Errorf("learn-meta finish = %+v", fin)
	}

	var sum struct {
		Event        string            `json:"event"`
		WallMS       int64             `json:"wall_ms"`
		CriticalPath []string          `json:"critical_path"`
		Tasks        map[string]string `json:"tasks"`
		LogDir       string            `json:"log_dir"`
	}
	if err := json.Unmarshal([]byte(ls[len(ls)-1]), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Event != "summary" || sum.WallMS != 62000 || sum.LogDir != "/logs/run" ||
		strings.Join(sum.CriticalPath, ",") != "flake-update,build,activate" || sum.Tasks["build"] != "failed" {
		t.Errorf("summary = %+v", sum)
	}
	keys := make([]string, 0, len(sum.Tasks))
	for k := range sum.Tasks {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) != len(summaryFixture().Results) {
		t.Errorf("summary tasks = %v", keys)
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// A build's status events carry its counters; the diff's finish event
// its closure difference, the data of the question's table.
func TestJSONProgressAndDiff(t *testing.T) {
	c := newClock()
	var out syncBuf
	r, err := New(ModeJSON, Options{Out: &out, Now: c.Now, Tasks: testTasks})
	if err != nil {
		t.Fatal(err)
	}
	r.Emit(schedule.Event{Task: "build", Kind: schedule.Status, Status: "building foo-1.2 · built 1/2",
		Progress: &tasks.BuildProgress{Built: 1, ToBuild: 2, Downloaded: 3, ToDownload: 3, DownloadedBytes: 4096, DownloadBytes: 4096,
			Builds: []tasks.RunningBuild{{Name: "foo-1.2", Phase: "buildPhase"}}}})
	r.Emit(schedule.Event{Task: "diff", Kind: schedule.Finish, State: schedule.Succeeded,
		Diff: &tasks.ClosureDiff{Downgraded: []tasks.PackageChange{{Name: "bar", Before: []string{"2.7790"}, After: []string{"2.1232"}, SizeDelta: -16384}}}})
	_ = r.Close()
	ls := lines(out.String())
	want := []string{
		`"progress":{"built":1,"to_build":2,"failed":0,"downloaded":3,"to_download":3,"downloaded_bytes":4096,"download_bytes":4096,"building":["foo-1.2"]}`,
		`"diff":{"upgraded":null,"downgraded":[{"name":"bar","before":["2.7790"],"after":["2.1232"],"size_delta":-16384}],"added":null,"removed":null}`,
	}
	for i, w := range want {
		if !strings.Contains(ls[i], w) {
			t.Errorf("line %d lacks %s:\n%s", i, w, ls[i])
		}
	}
}
