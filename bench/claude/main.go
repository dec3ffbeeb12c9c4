// Command claude measures the seven learning analyzers on a generated data
// set of realistic size, run at once as the scheduler runs them, side by
// side in one run: every log read whole (no state directory), a first run
// with an empty state directory (records and ledgers written), and a
// second run after 1 MB was appended to the session logs and 100 records
// to each learning file (only those read). Wall and CPU time (the
// process's, user and system) are reported for each, and for each
// analyzer run alone: on a machine shared with other work the wall time
// says how busy the machine was as much as what the analyzers cost.
//
//	go run ./bench/claude                    # 500 sessions, ~200 MB of logs
//	go run ./bench/claude -sessions 100 -mb 40 -rounds 5 -keep /tmp/claude-data
//	go run ./bench/claude -profile-first first.prof -profile second.prof
//
// The runs are in this one process, its heap grown by the runs before
// them: a rebuild starting afresh also pays for the memory it touches.
//
// The data set: ~/.claude/projects/<20 projects>/<session>.jsonl in Claude
// Code's shape (assistant messages calling MCP tools, tool results of a few
// kilobytes, sizes spread from a tenth to three times the mean), a
// ~/.claude.json with user and project servers, and the six learning files
// with tens of thousands of records each.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rebuild-nixos/rebuild/bench/internal/stats"
	"github.com/rebuild-nixos/rebuild/tasks/claude/learn"
	"github.com/rebuild-nixos/rebuild/tasks/claude/logcursor"
)

func main() {
	sessions := flag.Int("sessions", 500, "session logs")
	mb := flag.Int("mb", 200, "total size of the session logs, MB")
	rounds := flag.Int("rounds", 3, "measured rounds of each mode (the median is reported)")
	keep := flag.String("keep", "", "generate into this folder and keep it (default: a temporary folder, removed)")
	profile := flag.String("profile", "", "write a CPU profile of the second runs (at once) to this file")
	profileFirst := flag.String("profile-first", "", "write a CPU profile of the first runs (at once) to this file")
	flag.Parse()

	root := *keep
	if root == "" {
		d, err := os.MkdirTemp("", "bench-claude-")
		check(err)
		defer os.RemoveAll(d)
		root = d
	}
	home := filepath.Join(root, "home")
	now := time.Now()
	start := time.Now()
	size, lines := generate(home, *sessions, int64(*mb)<<20, now)
	fmt.Printf("data set: %d sessions, %.0f MB of session logs, %d learning records (generated in %v)\n",
		*sessions, float64(size)/(1<<20), lines, time.Since(start).Round(time.Millisecond))
	// Logs of past sessions have not been written to for a while: let
	// these settle (see logcursor.Cursor), as they would have.
	time.Sleep(logcursor.SettleTime)
	fmt.Printf("GOMAXPROCS %d, %d CPUs\n\n", runtime.GOMAXPROCS(0), runtime.NumCPU())

	in := learn.Input{
		Home: home, Flake: filepath.Join(home, "nixos-config"), LearningDir: filepath.Join(home, ".claude", "learning"),
		ClaudeJSON: filepath.Join(home, ".claude.json"), ProjectsDir: filepath.Join(home, ".claude", "projects"),
		Now: now, Days: 30, Thresholds: learn.DefaultThresholds, DryRun: true,
	}
	analyzers := learn.Analyzers()
	ctx := context.Background()

	perAnalyzer := map[string]int{}
	var perMu sync.Mutex
	runOne := func(a learn.Analyzer, in learn.Input) (time.Duration, int) {
		t := time.Now()
		res, err := a.Run(ctx, in)
		if _, nd := learn.IsNoData(err); err != nil && !nd {
			check(err)
		}
		perMu.Lock()
		perAnalyzer[a.Name] = len(res.Suggestions)
		perMu.Unlock()
		return time.Since(t), len(res.Suggestions)
	}
	// all runs the seven at once, as the scheduler does, and returns the
	// wall time and each one's own time.
	all := func(in learn.Input) (time.Duration, map[string]time.Duration) {
		runtime.GC() // no collection owed by the last mode
		t := time.Now()
		var wg sync.WaitGroup
		var mu sync.Mutex
		each := map[string]time.Duration{}
		for _, a := range analyzers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d, _ := runOne(a, in)
				mu.Lock()
				each[a.Name] = d
				mu.Unlock()
			}()
		}
		wg.Wait()
		return time.Since(t), each
	}

	// seq runs the seven one after another and returns each one's time,
	// and the process's CPU time while it ran (its own and its garbage's).
	seq := func(in learn.Input) (wall, cpu map[string]time.Duration) {
		wall, cpu = map[string]time.Duration{}, map[string]time.Duration{}
		for _, a := range analyzers {
			c := cpuTime()
			d, _ := runOne(a, in)
			wall[a.Name], cpu[a.Name] = d, cpuTime()-c
		}
		return wall, cpu
	}
	sum := func(each map[string]time.Duration) (t time.Duration) {
		for _, d := range each {
			t += d
		}
		return t
	}
	fresh := func() learn.Input {
		state, err := os.MkdirTemp(root, "state-")
		check(err)
		withState := in
		withState.StateDir = state
		return withState
	}

	// Warm the page cache so no mode pays for the first read.
	_, _ = seq(in)
	type mode struct {
		name  string
		each  map[string][]time.Duration
		eachC map[string][]time.Duration // CPU time
		total []time.Duration            // one after another
		conc  []time.Duration            // at once
		cpu   []time.Duration            // at once, the process's CPU time
	}
	modes := []*mode{{name: "whole"}, {name: "first"}, {name: "second"}}
	for _, m := range modes {
		m.each, m.eachC = map[string][]time.Duration{}, map[string][]time.Duration{}
	}
	note := func(m *mode, in learn.Input) {
		each, cpu := seq(in)
		for k, v := range each {
			m.each[k] = append(m.each[k], v)
			m.eachC[k] = append(m.eachC[k], cpu[k])
		}
		m.total = append(m.total, sum(each))
	}
	for r := range *rounds {
		// One after another: each analyzer's own time. Every log read
		// whole (no records); a first run with an empty state directory;
		// a second one after 1 MB was appended to the session logs.
		note(modes[0], in)
		st := fresh()
		note(modes[1], st)
		appendSessions(home, 1<<20, now, 2*r)
		note(modes[2], st)
		// At once, as the scheduler runs them.
		atOnce := func(m *mode, in learn.Input) {
			c := cpuTime()
			d, _ := all(in)
			m.conc = append(m.conc, d)
			m.cpu = append(m.cpu, cpuTime()-c)
		}
		atOnce(modes[0], in)
		st = fresh()
		if *profileFirst != "" {
			f, err := os.Create(*profileFirst)
			check(err)
			check(pprof.StartCPUProfile(f))
			atOnce(modes[1], st)
			pprof.StopCPUProfile()
			check(f.Close())
		} else {
			atOnce(modes[1], st)
		}
		appendSessions(home, 1<<20, now, 2*r+1)
		if *profile != "" {
			f, err := os.Create(*profile)
			check(err)
			check(pprof.StartCPUProfile(f))
			atOnce(modes[2], st)
			pprof.StopCPUProfile()
			check(f.Close())
		} else {
			atOnce(modes[2], st)
		}
	}
	fmt.Printf("each alone, medians of %d rounds, wall (CPU):\n", *rounds)
	fmt.Printf("%-22s %22s %22s %22s %12s\n", "analyzer", "whole read", "first run", "second run", "suggestions")
	cell := func(m *mode, name string) string {
		return fmt.Sprintf("%v (%v)", stats.Median(m.each[name]).Round(time.Microsecond*100), stats.Median(m.eachC[name]).Round(time.Microsecond*100))
	}
	for _, a := range analyzers {
		fmt.Printf("%-22s %22s %22s %22s %12d\n", a.Name, cell(modes[0], a.Name), cell(modes[1], a.Name), cell(modes[2], a.Name), perAnalyzer[a.Name])
	}
	// median (min) of each mode
	row := func(name string, d func(m *mode) []time.Duration) {
		fmt.Printf("%-22s", name)
		for _, m := range modes {
			fmt.Printf(" %22s", fmt.Sprintf("%v (%v)", stats.Median(d(m)).Round(time.Millisecond), minimum(d(m)).Round(time.Millisecond)))
		}
		fmt.Println()
	}
	fmt.Printf("\nmedian (min) of %d rounds:\n", *rounds)
	row("one after another", func(m *mode) []time.Duration { return m.total })
	row("all seven at once", func(m *mode) []time.Duration { return m.conc })
	row("  their CPU time", func(m *mode) []time.Duration { return m.cpu })
	w, f, sc := stats.Median(modes[0].total), stats.Median(modes[1].total), stats.Median(modes[2].total)
	fmt.Printf("\nfirst run ÷ whole read = %.2f; second run (1 MB appended) ÷ first run = %.3f\n", float64(f)/float64(w), float64(sc)/float64(f))
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	check(syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// appendSessions appends about n bytes of new messages to the newest
// sessions, as Claude Code does while they go on, and 100 records to each
// learning file, as its hooks do.
func appendSessions(home string, n int64, now time.Time, round int) {
	appendLearning(home, 100, now, round)
	logs, err := filepath.Glob(filepath.Join(home, ".claude", "projects", "*", "*.jsonl"))
	check(err)
	sort.Strings(logs)
	result := strings.Repeat("r", 1024)
	var written int64
	for i := 0; written < n; i++ {
		p := logs[i%5]
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
		check(err)
		w := bufio.NewWriter(f)
		for k := 0; k < 50 && written < n; k++ {
			ts := now.Add(-time.Duration(k) * time.Second).UTC().Format(time.RFC3339Nano)
			m := fmt.Sprintf("r%d_%d_%d", round, i, k)
			line := fmt.Sprintf(`{"parentUuid":null,"cwd":"/x","type":"assistant","timestamp":%q,"message":{"id":"msg_%s","role":"assistant","content":[{"type":"tool_use","id":"toolu_%s","name":"mcp__github__call","input":{}}],"usage":{"input_tokens":10,"output_tokens":2}}}`+"\n", ts, m, m) +
				fmt.Sprintf(`{"parentUuid":null,"cwd":"/x","type":"user","timestamp":%q,"message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_%s","content":%q}]}}`+"\n", ts, m, result)
			k, err := w.WriteString(line)
			check(err)
			written += int64(k)
		}
		check(w.Flush())
		check(f.Close())
	}
}

// appendLearning appends n records of the day to each learning file.
func appendLearning(home string, n int, now time.Time, round int) {
	rng := rand.New(rand.NewPCG(uint64(round), 3))
	ts := now.Add(-time.Duration(rng.IntN(3600)) * time.Second).UTC().Format(time.RFC3339)
	sess := fmt.Sprintf("r%d", round)
	records := map[string]func(i int) obj{
		"permission_approvals.jsonl": func(i int) obj {
			return obj{"timestamp": ts, "permission": "Bash(git status)", "session_id": sess, "project_path": filepath.Join(home, "projects", "p00")}
		},
		"context_usage.jsonl": func(i int) obj {
			return obj{"timestamp": ts, "section_name": "Git Workflow", "tokens_in_section": 900, "relevance_score": 0.9, "session_id": sess}
		},
		"workflow_commands.jsonl": func(i int) obj {
			return obj{"timestamp": ts, "command": []string{"/test", "/lint", "/commit"}[i%3], "session_id": fmt.Sprintf("%s-%d", sess, i/3), "success": true, "duration_ms": 1000}
		},
		"policy_violations.jsonl": func(i int) obj {
			return obj{"timestamp": ts, "policy": "Use fd instead of find", "violated": i%2 == 0, "session_id": sess}
		},
		"project_patterns.jsonl": func(i int) obj {
			return obj{"timestamp": ts, "project_path": filepath.Join(home, "projects", "p01"), "project_type": "python",
				"pattern_type": "permission", "pattern": "Bash(make:*)", "session_id": sess}
		},
		"meta_metrics.jsonl": func(i int) obj {
			return obj{"timestamp": ts, "component": "learn-context", "suggestion_type": "x", "accepted": i%3 == 0, "confidence": 0.8}
		},
	}
	for name, rec := range records {
		f, err := os.OpenFile(filepath.Join(home, ".claude", "learning", name), os.O_WRONLY|os.O_APPEND, 0)
		check(err)
		w := bufio.NewWriter(f)
		enc := json.NewEncoder(w)
		for i := range n {
			check(enc.Encode(rec(i)))
		}
		check(w.Flush())
		check(f.Close())
	}
}

func minimum(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return slices.Min(d)
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/claude:", err)
		os.Exit(1)
	}
}

type obj = map[string]any

var servers = []string{"github", "playwright", "context7", "sqlite", "filesystem", "brave-search", "memory", "nixos"}

// generate writes the data set and returns the bytes of session logs and
// the number of learning records.
func generate(home string, sessions int, total int64, now time.Time) (int64, int) {
	rng := rand.New(rand.NewPCG(1, 2))
	var projects []string
	for i := range 20 {
		p := filepath.Join(home, "projects", fmt.Sprintf("p%02d", i))
		check(os.MkdirAll(filepath.Join(p, ".claude"), 0o755))
		projects = append(projects, p)
		writeJSON(filepath.Join(p, ".claude", "mcp.json"), obj{"mcpServers": obj{servers[i%len(servers)]: obj{"command": "x"}, "unused-" + fmt.Sprint(i): obj{"command": "y"}}})
	}
	flake := filepath.Join(home, "nixos-config")
	check(os.MkdirAll(flake, 0o755))
	check(os.WriteFile(filepath.Join(flake, "CLAUDE.md"), []byte("# Config\n\n## Git Workflow\n\nx\n\n## Old Notes\n\ny\n"), 0o644))
	projectServers := obj{}
	for _, p := range projects[:5] {
		projectServers[p] = obj{"mcpServers": obj{"github": obj{"command": "gh-mcp"}}}
	}
	writeJSON(filepath.Join(home, ".claude.json"), obj{"mcpServers": obj{"github": obj{"command": "gh-mcp"}, "memory": obj{"command": "m"}}, "projects": projectServers})

	mean := total / int64(sessions)
	var written int64
	result := strings.Repeat("r", 2048)
	for s := range sessions {
		p := projects[s%len(projects)]
		dir := filepath.Join(home, ".claude", "projects", strings.ReplaceAll(p, "/", "-"))
		check(os.MkdirAll(dir, 0o755))
		target := int64(float64(mean) * (0.1 + 2.9*rng.Float64()*rng.Float64()*1.3))
		id := fmt.Sprintf("%08x-0000-4000-8000-%012x", s, s)
		f, err := os.Create(filepath.Join(dir, id+".jsonl"))
		check(err)
		w := bufio.NewWriterSize(f, 1<<20)
		var n int64
		age := time.Duration(rng.IntN(29*24)) * time.Hour
		for m := 0; n < target; m++ {
			ts := now.Add(-age + time.Duration(m)*time.Second).UTC().Format(time.RFC3339Nano)
			server := servers[rng.IntN(len(servers))]
			u := fmt.Sprintf(`"usage":{"input_tokens":%d,"output_tokens":%d,"cache_read_input_tokens":%d,"cache_creation_input_tokens":%d}`,
				rng.IntN(5000), rng.IntN(2000), rng.IntN(50000), rng.IntN(5000))
			block := fmt.Sprintf(`{"parentUuid":null,"sessionId":%q,"cwd":%q,"type":"assistant","timestamp":%q,"message":{"id":"msg_%d","role":"assistant","model":"claude-sonnet-4","content":[{"type":"text","text":"Let me check that for you."}],%s}}`+"\n", id, p, ts, m, u) +
				fmt.Sprintf(`{"parentUuid":null,"sessionId":%q,"cwd":%q,"type":"assistant","timestamp":%q,"message":{"id":"msg_%d","role":"assistant","model":"claude-sonnet-4","content":[{"type":"tool_use","id":"toolu_%d","name":"mcp__%s__call","input":{"query":"something to look up"}}],%s}}`+"\n", id, p, ts, m, m, server, u) +
				fmt.Sprintf(`{"parentUuid":null,"sessionId":%q,"cwd":%q,"type":"user","timestamp":%q,"message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_%d","content":%q}]}}`+"\n", id, p, ts, m, result[:512+rng.IntN(1536)])
			k, err := w.WriteString(block)
			check(err)
			n += int64(k)
		}
		check(w.Flush())
		check(f.Close())
		written += n
	}

	learning := filepath.Join(home, ".claude", "learning")
	check(os.MkdirAll(learning, 0o755))
	records := 0
	ts := func() string { return now.Add(-time.Duration(rng.IntN(40*24)) * time.Hour).UTC().Format(time.RFC3339) }
	sess := func() string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", rng.IntN(sessions), 0) }
	write := func(name string, n int, rec func(i int) obj) {
		f, err := os.Create(filepath.Join(learning, name))
		check(err)
		w := bufio.NewWriter(f)
		enc := json.NewEncoder(w)
		for i := range n {
			check(enc.Encode(rec(i)))
		}
		check(w.Flush())
		check(f.Close())
		records += n
	}
	cmds := []string{"git status", "git diff", "npm test", "cargo build", "rg TODO", "ls -la", "make", "nix build", "go test ./...", "pytest -x"}
	write("permission_approvals.jsonl", 20000, func(int) obj {
		return obj{"timestamp": ts(), "permission": "Bash(" + cmds[rng.IntN(len(cmds))] + ")", "session_id": sess(), "project_path": projects[rng.IntN(len(projects))]}
	})
	sections := []string{"Git Workflow", "Old Notes", "Coding Style", "Testing", "Architecture", "Tools", "Policies", "Deploy"}
	write("context_usage.jsonl", 50000, func(int) obj {
		sec := rng.IntN(len(sections))
		return obj{"timestamp": ts(), "section_name": sections[sec], "tokens_in_section": 800 + rng.IntN(2000),
			"relevance_score": float64(sec) / float64(len(sections)), "session_id": sess()}
	})
	slash := []string{"/test", "/lint", "/commit", "/review", "/pr", "/deploy", "/fmt", "/build"}
	write("workflow_commands.jsonl", 30000, func(i int) obj {
		return obj{"timestamp": now.Add(-time.Duration(30000-i) * time.Minute).UTC().Format(time.RFC3339),
			"command": slash[(i+rng.IntN(2))%len(slash)], "session_id": fmt.Sprintf("w%d", i/6), "success": rng.IntN(10) > 0, "duration_ms": 1000}
	})
	policies := []string{"Always run tests before committing", "Use fd instead of find", "Never push to main", "Prefer rg over grep"}
	write("policy_violations.jsonl", 5000, func(int) obj {
		return obj{"timestamp": ts(), "policy": policies[rng.IntN(len(policies))], "violated": rng.IntN(3) > 0, "session_id": sess()}
	})
	write("project_patterns.jsonl", 5000, func(int) obj {
		i := rng.IntN(len(projects))
		return obj{"timestamp": ts(), "project_path": projects[i], "project_type": []string{"node", "python", "rust"}[i%3],
			"pattern_type": "permission", "pattern": "Bash(" + strings.Fields(cmds[rng.IntN(len(cmds))])[0] + ":*)", "session_id": sess()}
	})
	comps := []string{"learn-permissions", "learn-mcp", "learn-context", "learn-workflows", "learn-instructions", "learn-cross-project"}
	write("meta_metrics.jsonl", 2000, func(int) obj {
		return obj{"timestamp": ts(), "component": comps[rng.IntN(len(comps))], "suggestion_type": "x", "accepted": rng.IntN(2) == 0, "confidence": 0.8}
	})
	return written, records
}

func writeJSON(path string, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	check(err)
	check(os.WriteFile(path, b, 0o644))
}
