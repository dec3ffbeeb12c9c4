package lifecycle

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var lifecycleT0 = time.Date(2025, 1, 24, 10, 0, 0, 0, time.UTC)

func TestSidecarKeepsUnknownFieldsAndTimestamps(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "abc.jsonl")
	orig := `{"lifecycle_stage":"raw","created_at":"2025-01-20T08:00:00.123456","session_id":"abc","tags":["x",1],"nested":{"k":null}}`
	if err := os.WriteFile(SidecarPath(log), []byte(orig), 0o600); err != nil {
		t.Fatal(err)
	}
	changed, err := Advance(log, StageAnalyzed, lifecycleT0)
	if err != nil || !changed {
		t.Fatalf("Advance: %v, %v", changed, err)
	}
	b, _ := os.ReadFile(SidecarPath(log))
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"lifecycle_stage": "analyzed", "created_at": "2025-01-20T08:00:00.123456", "analyzed_at": "2025-01-24T10:00:00Z",
		"session_id": "abc", "tags": []any{"x", 1.0}, "nested": map[string]any{"k": nil},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("sidecar now\n%v\nwant\n%v", got, want)
	}
	if fi, _ := os.Stat(SidecarPath(log)); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want the old file's 0600", fi.Mode().Perm())
	}
	sc, exists, err := ReadSidecar(log)
	if err != nil || !exists {
		t.Fatal(err)
	}
	if at, ok := sc.Reached(StageRaw); !ok || !at.Equal(time.Date(2025, 1, 20, 8, 0, 0, 123456000, time.UTC)) {
		t.Errorf("created_at read as %v, %v", at, ok)
	}
	if _, ok := sc.Reached(StageImplemented); ok {
		t.Error("implemented_at reported but never set")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestStagesOnlyMoveForward(t *testing.T) {
	log := filepath.Join(t.TempDir(), "s.jsonl")
	steps := []struct {
		to      Stage
		changed bool
		stage   Stage
	}{
		{StageAnalyzed, true, StageAnalyzed},
		{StageRaw, false, StageAnalyzed},
		{StageImplemented, true, StageImplemented},
		{StageAnalyzed, false, StageImplemented}, // what the original tools did, and must not
		{StageInsightsGenerated, false, StageImplemented},
	}
	for i, s := range steps {
		changed, err := Advance(log, s.to, lifecycleT0.Add(time.Duration(i)*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		sc, _, _ := ReadSidecar(log)
		if changed != s.changed || sc.Stage != s.stage {
			t.Errorf("step %d → %s: changed=%v stage=%s; want %v, %s", i, s.to, changed, sc.Stage, s.changed, s.stage)
		}
	}
	sc, _, _ := ReadSidecar(log)
	if sc.CreatedAt != "2025-01-24T10:00:00Z" || sc.AnalyzedAt != "2025-01-24T10:00:00Z" || sc.ImplementedAt != "2025-01-24T12:00:00Z" || sc.InsightsGeneratedAt != "" {
		t.Errorf("timestamps %+v", sc)
	}
	if _, err := Advance(log, "done", lifecycleT0); err == nil {
		t.Error("advanced to an unknown stage")
	}
}

func TestAdvanceLeavesStrangeSidecarsAlone(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"broken.jsonl":  `{"lifecycle_stage": "raw",`,
		"array.jsonl":   `[1,2]`,
		"unknown.jsonl": `{"lifecycle_stage": "archived"}`,
		"number.jsonl":  `{"lifecycle_stage": 3}`,
	} {
		log := filepath.Join(dir, name)
		if err := os.WriteFile(SidecarPath(log), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		changed, err := Advance(log, StageImplemented, lifecycleT0)
		if changed {
			t.Errorf("%s: advanced", name)
		}
		if b, _ := os.ReadFile(SidecarPath(log)); string(b) != content {
			t.Errorf("%s: rewritten to %s (err %v)", name, b, err)
		}
		if name == "unknown.jsonl" && err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if name != "unknown.jsonl" && err == nil {
			t.Errorf("%s: no error for a sidecar that does not parse", name)
		}
	}
}

func TestConcurrentAdvancesNeverGoBack(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "s.jsonl")
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			to := Stages[1+i%3]
			if _, err := Advance(log, to, lifecycleT0); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	sc, _, err := ReadSidecar(log)
	if err != nil || sc.Stage != StageImplemented {
		t.Errorf("after concurrent advances: %s, %v; want implemented", sc.Stage, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files left: %v", entries)
	}
}

func TestLogPath(t *testing.T) {
	if l, ok := LogPath("/p/abc.jsonl.lifecycle.json"); !ok || l != "/p/abc.jsonl" {
		t.Errorf("got %q, %v", l, ok)
	}
	if _, ok := LogPath("/p/abc.json.lifecycle.json"); ok {
		t.Error("accepted a sidecar of a non-jsonl file")
	}
	if !strings.HasSuffix(SidecarPath("x.jsonl"), ".jsonl.lifecycle.json") {
		t.Error(SidecarPath("x.jsonl"))
	}
}

// FuzzSidecarRoundTrip: whatever a sidecar holds, reading and writing it
// back keeps every key it does not know, byte for byte in meaning, and
// the stage and timestamps it does.
func FuzzSidecarRoundTrip(f *testing.F) {
	f.Add(`{"lifecycle_stage":"analyzed","created_at":"2025-01-01T00:00:00","x":[1,{"y":null}]}`)
	f.Add(`{"lifecycle_stage":"weird","implemented_at":null}`)
	f.Add(`{}`)
	f.Fuzz(func(t *testing.T, in string) {
		var sc Sidecar
		if err := json.Unmarshal([]byte(in), &sc); err != nil {
			return
		}
		out, err := sc.encode()
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		var again Sidecar
		if err := json.Unmarshal(out, &again); err != nil {
			t.Fatalf("re-read %s: %v", out, err)
		}
		if again.Stage != sc.Stage || again.CreatedAt != sc.CreatedAt || again.AnalyzedAt != sc.AnalyzedAt ||
			again.InsightsGeneratedAt != sc.InsightsGeneratedAt || again.ImplementedAt != sc.ImplementedAt || len(again.Extra) != len(sc.Extra) {
			t.Fatalf("round trip changed %+v into %+v", sc, again)
		}
		var orig, back map[string]json.RawMessage
		_ = json.Unmarshal([]byte(in), &orig)
		_ = json.Unmarshal(out, &back)
		for k, v := range orig {
			if slices.Contains(sidecarKeys, k) {
				continue
			}
			var a, b any
			_ = json.Unmarshal(v, &a)
			_ = json.Unmarshal(back[k], &b)
			if fmt.Sprint(a) != fmt.Sprint(b) {
				t.Fatalf("key %q: %s became %s", k, v, back[k])
			}
		}
	})
}
