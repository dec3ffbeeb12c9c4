package learn

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/rebuild-nixos/rebuild/internal/text"
)

type workflowCommand struct {
	Timestamp Timestamp `json:"timestamp"`
	Command   string    `json:"command"`
	SessionID string    `json:"session_id"`
	Success   *bool     `json:"success"`
	Duration  int64     `json:"duration_ms"`
	Project   string    `json:"project_path"`
}

// Sequence lengths learn-workflows looks for, and the longest pause
// between two commands of one sequence.
const (
	MinSequence = 2
	MaxSequence = 5
	MaxGap      = 30 * time.Minute
)

// CommandFile is where a slash command of project lives.
func CommandFile(project, name string) string {
	return filepath.Join(project, ".claude", "commands", name+".md")
}

// Workflows is learn-workflows: within each session (in time order), runs
// of 2–5 consecutive successful commands, at most MaxGap apart; a run that recurs at least
// MinOccurrences times, in at least two sessions, becomes a slash command
// file <project>/.claude/commands/<name>.md (project_path of the records,
// else the flake). A run that only ever occurs inside a longer recurring
// run is not proposed on its own. Confidence 0.5 + 0.1 per session, + 0.05
// per command beyond two. An existing command file is never proposed.
func Workflows(ctx context.Context, in Input) (Result, error) {
	var res Result
	type step struct {
		at      time.Time
		cmd     string
		ok      bool
		project string
	}
	sessions := map[string][]step{}
	var total int
	st, err := readLearning(ctx, in, "workflow_commands.jsonl",
		func(w *workflowCommand) time.Time { return w.Timestamp.Time },
		func(w *workflowCommand) {
			cmd := strings.TrimSpace(w.Command)
			if cmd == "" || w.SessionID == "" {
				return
			}
			total++
			project := w.Project
			if project == "" {
				project = in.Flake
			}
			sessions[w.SessionID] = append(sessions[w.SessionID], step{w.Timestamp.Time, cmd, w.Success == nil || *w.Success, project})
		})
	if err != nil {
		return res, err
	}
	res.stat("%s in %s %s", text.Plural(total, "command", "commands"), text.Plural(len(sessions), "session", "sessions"), inDays(in.Days))
	res.skipped(st, "workflow_commands.jsonl")

	type seqKey struct {
		project string
		seq     string // commands joined by \x00
	}
	type agg struct {
		count    int
		sessions map[string]bool
	}
	seqs := map[seqKey]*agg{}
	for id, steps := range sessions {
		sort.SliceStable(steps, func(i, j int) bool { return steps[i].at.Before(steps[j].at) })
		for i := range steps {
			for n := MinSequence; n <= MaxSequence && i+n <= len(steps); n++ {
				run := steps[i : i+n]
				if !usable(run, func(s step) (string, bool, string) { return s.cmd, s.ok, s.project }) ||
					run[n-1].at.Sub(run[n-2].at) > MaxGap {
					break // a longer run from i contains the same flaw
				}
				cmds := make([]string, n)
				for j, s := range run {
					cmds[j] = s.cmd
				}
				k := seqKey{run[0].project, strings.Join(cmds, "\x00")}
				a := seqs[k]
				if a == nil {
					a = &agg{sessions: map[string]bool{}}
					seqs[k] = a
				}
				a.count++
				a.sessions[id] = true
			}
		}
	}

	type cand struct {
		k    seqKey
		cmds []string
		a    *agg
	}
	var cands []cand
	for k, a := range seqs {
		if a.count >= in.Thresholds.MinOccurrences && len(a.sessions) >= 2 {
			cands = append(cands, cand{k, strings.Split(k.seq, "\x00"), a})
		}
	}
	// Longest first, so a run inside a kept longer one can be dropped.
	sort.Slice(cands, func(i, j int) bool {
		if len(cands[i].cmds) != len(cands[j].cmds) {
			return len(cands[i].cmds) > len(cands[j].cmds)
		}
		if cands[i].a.count != cands[j].a.count {
			return cands[i].a.count > cands[j].a.count
		}
		return cands[i].k.project+cands[i].k.seq < cands[j].k.project+cands[j].k.seq
	})
	var kept []cand
	names := map[string]bool{}
	for _, c := range cands {
		inside := false
		for _, k := range kept {
			if k.k.project == c.k.project && k.a.count >= c.a.count && containsRun(k.cmds, c.cmds) {
				inside = true
				break
			}
		}
		if inside {
			continue
		}
		kept = append(kept, c)
		conf := round2(0.5 + 0.1*float64(len(c.a.sessions)) + 0.05*float64(len(c.cmds)-MinSequence))
		if !meets(conf, in.Thresholds.Confidence) {
			continue
		}
		name := commandName(c.cmds)
		file := CommandFile(c.k.project, name)
		if names[file] {
			continue
		}
		names[file] = true
		if _, err := os.Stat(file); err == nil {
			continue
		}
		ev := fmt.Sprintf("run %s in %s", text.Plural(c.a.count, "time", "times"), text.Plural(len(c.a.sessions), "session", "sessions"))
		res.Suggestions = append(res.Suggestions, Suggestion{
			ID:         makeID("learn-workflows", string(NewCommand), file, c.k.seq),
			Analyzer:   "learn-workflows",
			Kind:       NewCommand,
			Text:       fmt.Sprintf("add the slash command /%s for %s in %s (%s)", name, strings.Join(c.cmds, " → "), in.tilde(c.k.project), ev),
			Confidence: conf,
			Apply:      fmt.Sprintf("creates %s", in.tilde(file)),
			Undo:       fmt.Sprintf("delete %s", in.tilde(file)),
			Target:     file,
			Sessions:   sessionList(c.a.sessions),
			Evidence:   ev,
			Content:    commandContent(c.cmds, ev),
		})
	}
	return res, nil
}

// usable reports whether a run of commands may become a slash command:
// all succeeded, all in one project, no command twice in a row.
func usable[S any](run []S, get func(S) (cmd string, ok bool, project string)) bool {
	for i, s := range run {
		cmd, ok, project := get(s)
		if !ok {
			return false
		}
		if i > 0 {
			prev, _, prevProject := get(run[i-1])
			if prev == cmd || prevProject != project {
				return false
			}
		}
	}
	return true
}

func containsRun(long, short []string) bool {
	for i := 0; i+len(short) <= len(long); i++ {
		match := true
		for j := range short {
			if long[i+j] != short[j] {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

// commandName derives a file name from the commands: /test, /commit →
// test-commit.
func commandName(cmds []string) string {
	var parts []string
	for _, c := range cmds {
		word := strings.Fields(c)[0]
		word = strings.TrimLeft(word, "/")
		var b strings.Builder
		for _, r := range strings.ToLower(word) {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
				b.WriteRune(r)
			case r == '-' || r == '_' || r == ':' || r == '.':
				b.WriteByte('-')
			}
		}
		if s := strings.Trim(b.String(), "-"); s != "" {
			parts = append(parts, s)
		}
	}
	name := strings.Join(parts, "-")
	if len(name) > 48 {
		name = strings.TrimRight(name[:48], "-")
	}
	if name == "" {
		name = "workflow"
	}
	return name
}

func commandContent(cmds []string, evidence string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "---\ndescription: %s (a sequence %s)\n---\n\n", strings.Join(cmds, ", then "), evidence)
	b.WriteString("Run these steps in order. Stop at the first one that fails and report why.\n\n")
	for i, c := range cmds {
		fmt.Fprintf(&b, "%d. %s\n", i+1, c)
	}
	return b.String()
}
