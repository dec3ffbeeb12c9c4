package learn

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rebuild-nixos/rebuild/internal/text"
)

// workflowShape is workflow_commands.jsonl: the strings kept are the
// command (0, trimmed), the session (1) and the project (2); success is
// the *bool. A record without a command or a session counts for nothing.
var workflowShape = shape{file: "workflow_commands.jsonl", fields: []field{
	{"timestamp", kTime, 0}, {"command", kString, 0}, {"session_id", kString, 1}, {"success", kBoolPtr, 0},
	{"duration_ms", kInt, 0}, {"project_path", kString, 2},
}, keep: func(v *values) bool {
	v.s[0] = bytes.TrimSpace(v.s[0])
	v.i = 0 // the duration is checked, not kept
	return len(v.s[0]) > 0 && len(v.s[1]) > 0
}}

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
	l, err := readAnalyzerLedger(ctx, in, "learn-workflows", &workflowShape, &res)
	if err != nil {
		return res, err
	}
	// A record without a project is the flake's: its index stands for it.
	flake := l.index(in.Flake)
	steps := make([]workflowStep, 0, l.nStored+len(l.recs)+len(l.tail))
	l.each(in.Since(), func(r *record) {
		project := r.S[2]
		if project == 0 {
			project = flake
		}
		steps = append(steps, workflowStep{r.Sec, r.Nsec, r.S[0], r.Bits&hasB == 0 || r.Bits&valB != 0, project, r.S[1]})
	})
	sessions := bySession(steps, len(l.strs)+1)
	res.stat("%s in %s %s", text.Plural(len(steps), "command", "commands"), text.Plural(len(sessions), "session", "sessions"), inDays(in.Days))
	res.skipped(l.allStats(), workflowShape.file)

	project := func(id uint32) string {
		if id == 0 {
			return in.Flake
		}
		return l.str(id)
	}
	var kept []seqCand
	names := map[string]bool{} // command files already proposed
	for _, c := range recurringRuns(countRuns(sessions), in.Thresholds.MinOccurrences, l.str, project) {
		if insideKept(kept, c) {
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
		res.Suggestions = append(res.Suggestions, workflowSuggestion(in, c, name, file, conf, l.sorted(c.a.sessions)))
	}
	return res, nil
}

// workflowStep is one command of a session: its time, and the command,
// the project and the session by their index in the ledger (no pointer:
// tens of thousands of them, a run).
type workflowStep struct {
	sec     int64
	nsec    int32
	cmd     uint32
	ok      bool
	project uint32
	session uint32
}

func (s *workflowStep) at() time.Time { return time.Unix(s.sec, int64(s.nsec)) }

// compare orders steps by time.
func (s *workflowStep) compare(o *workflowStep) int {
	switch {
	case s.sec != o.sec:
		return cmp.Compare(s.sec, o.sec)
	default:
		return cmp.Compare(s.nsec, o.nsec)
	}
}

// bySession groups steps (in file order) by session, each session's in
// time order (file order among steps of the same time); ids bounds the
// sessions' indexes.
func bySession(steps []workflowStep, ids int) [][]workflowStep {
	start := make([]int, ids+1)
	for _, s := range steps {
		start[s.session+1]++
	}
	for i := 1; i < len(start); i++ {
		start[i] += start[i-1]
	}
	grouped := make([]workflowStep, len(steps))
	next := slices.Clone(start[:ids])
	for _, s := range steps {
		grouped[next[s.session]] = s
		next[s.session]++
	}
	var out [][]workflowStep
	for id := range ids {
		if g := grouped[start[id]:start[id+1]]; len(g) > 0 {
			slices.SortStableFunc(g, func(a, b workflowStep) int { return a.compare(&b) })
			out = append(out, g)
		}
	}
	return out
}

// seqKey is one run of commands in one project, by their indexes.
type seqKey struct {
	project uint32
	n       int
	cmds    [MaxSequence]uint32
}

// seqUse counts a run's occurrences and the sessions it occurred in.
type seqUse struct {
	count    int
	sessions []uint32
}

// seqName is one run of commands in one project, by name.
type seqName struct {
	project string
	seq     string // commands joined by \x00
}

// seqCand is a run that recurs often enough to be proposed.
type seqCand struct {
	k    seqName
	cmds []string
	a    *seqUse
}

// countRuns counts, in each session (its steps in time order), every run
// of MinSequence to MaxSequence usable commands at most MaxGap apart.
func countRuns(sessions [][]workflowStep) map[seqKey]*seqUse {
	seqs := map[seqKey]*seqUse{}
	for _, steps := range sessions {
		id := steps[0].session
		for i := range steps {
			for n := MinSequence; n <= MaxSequence && i+n <= len(steps); n++ {
				run := steps[i : i+n]
				if !usable(run, func(s workflowStep) (uint32, bool, uint32) { return s.cmd, s.ok, s.project }) ||
					run[n-1].at().Sub(run[n-2].at()) > MaxGap {
					break // a longer run from i contains the same flaw
				}
				k := seqKey{project: run[0].project, n: n}
				for j, s := range run {
					k.cmds[j] = s.cmd
				}
				a := seqs[k]
				if a == nil {
					a = &seqUse{}
					seqs[k] = a
				}
				a.count++
				// A session's runs are all counted before the next
				// session's: it is the last listed, if listed.
				if n := len(a.sessions); n == 0 || a.sessions[n-1] != id {
					a.sessions = append(a.sessions, id)
				}
			}
		}
	}
	return seqs
}

// recurringRuns keeps the runs seen at least minOccurrences times in at
// least two sessions, longest first (then most frequent, then by project
// and commands), so a run inside a kept longer one can be dropped. str
// and project name the indexes of commands and projects.
func recurringRuns(seqs map[seqKey]*seqUse, minOccurrences int, str, project func(uint32) string) []seqCand {
	var cands []seqCand
	for k, a := range seqs {
		if a.count >= minOccurrences && len(a.sessions) >= 2 {
			cmds := make([]string, k.n)
			for j := range cmds {
				cmds[j] = str(k.cmds[j])
			}
			cands = append(cands, seqCand{seqName{project(k.project), strings.Join(cmds, "\x00")}, cmds, a})
		}
	}
	sort.Slice(cands, func(i, j int) bool {
		if len(cands[i].cmds) != len(cands[j].cmds) {
			return len(cands[i].cmds) > len(cands[j].cmds)
		}
		if cands[i].a.count != cands[j].a.count {
			return cands[i].a.count > cands[j].a.count
		}
		return cands[i].k.project+cands[i].k.seq < cands[j].k.project+cands[j].k.seq
	})
	return cands
}

// insideKept reports whether c only ever occurs inside a longer run kept
// already: same project, at least as frequent, containing c's commands.
func insideKept(kept []seqCand, c seqCand) bool {
	for _, k := range kept {
		if k.k.project == c.k.project && k.a.count >= c.a.count && containsRun(k.cmds, c.cmds) {
			return true
		}
	}
	return false
}

func workflowSuggestion(in Input, c seqCand, name, file string, conf float64, sessions []string) Suggestion {
	ev := fmt.Sprintf("run %s in %s", text.Plural(c.a.count, "time", "times"), text.Plural(len(c.a.sessions), "session", "sessions"))
	return Suggestion{
		ID:         makeID("learn-workflows", string(NewCommand), file, c.k.seq),
		Analyzer:   "learn-workflows",
		Kind:       NewCommand,
		Text:       fmt.Sprintf("add the slash command /%s for %s in %s (%s)", name, strings.Join(c.cmds, " → "), in.tilde(c.k.project), ev),
		Confidence: conf,
		Apply:      fmt.Sprintf("creates %s", in.tilde(file)),
		Undo:       fmt.Sprintf("delete %s", in.tilde(file)),
		Target:     file,
		Sessions:   sessions,
		Evidence:   ev,
		Content:    commandContent(c.cmds, ev),
	}
}

// usable reports whether a run of commands may become a slash command:
// all succeeded, all in one project, no command twice in a row.
func usable[S any, C comparable](run []S, get func(S) (cmd C, ok bool, project C)) bool {
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
