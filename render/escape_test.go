package render

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// hostile is what a file name, or a command's output, can carry to the
// terminal: an OSC that sets the window title, a clear-screen CSI, the
// 8-bit C1 forms of CSI, DCS, SOS, PM and APC (raw bytes, invalid UTF-8),
// the same C1 controls as valid UTF-8 (U+009B …), DEL, and a bidi
// override that reorders what follows it.
const hostile = "x\x1b]0;PWNED\x07\x1b[2J" + "\x9b2J\x90q\x1b\\\x98s\x9ep\x9fa" + "\u009b2J\u0090\u009f\x7f" + "\u202eevil\xff"

// rawControl returns the first control character (below 0x20 but tab,
// DEL, a C1 control), invalid byte or bidi control in line, if any.
func rawControl(line string) (string, bool) {
	for i, r := range line {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(line[i:], "\uFFFD"):
			return line[i : i+1], true
		case r < 0x20 && r != '\t', r >= 0x7f && r <= 0x9f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
			return string(r), true
		}
	}
	return "", false
}

func assertNoRawControl(t *testing.T, what, out string) {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if c, bad := rawControl(l); bad {
			t.Errorf("%s: %q reaches the terminal raw in line %q", what, c, l)
		}
	}
}

// hostileRun is a run where a hostile name is in every text a task
// hands the renderer: its status, its reason, its warnings, actions and
// stats, and the last lines of its log.
func hostileRun(c *clock) ([]schedule.Event, *schedule.Summary) {
	evs, sum := nameRun(c, hostile)
	sum.Results["build"].Tail = []string{"line " + hostile, "only C1 and invalid UTF-8: \x9b2J \xfe"}
	return evs, sum
}

// nameRun is a run with hostile in every text a task hands the renderer.
func nameRun(c *clock, hostile string) ([]schedule.Event, *schedule.Summary) {
	evs := []schedule.Event{
		{Time: c.Now(), Task: "build", Kind: schedule.Start, State: schedule.Running},
		{Time: c.Add(time.Second), Task: "build", Kind: schedule.Status, State: schedule.Running, Status: "reading " + hostile},
		{Time: c.Add(time.Second), Task: "build", Kind: schedule.Notice, Status: "about " + hostile},
		{Time: c.Add(time.Second), Task: "build", Kind: schedule.Finish, State: schedule.Failed, Critical: true,
			Reason: "cannot read " + hostile, Duration: time.Second,
			Warnings: []string{"warned " + hostile}, Actions: []string{"did " + hostile}, Stats: []string{"saw " + hostile}},
	}
	res := &schedule.Result{Name: "build", State: schedule.Failed, Critical: true, Reason: "cannot read " + hostile,
		Tail: []string{"line " + hostile, hostile}, LogPath: "/logs/build.log",
		Report: tasks.Report{Warnings: []string{"warned " + hostile}, Actions: []string{"did " + hostile}, Stats: []string{"saw " + hostile}}}
	return evs, &schedule.Summary{Order: []string{"build"}, Results: map[string]*schedule.Result{"build": res},
		Start: c.Now(), FailedCritical: "build"}
}

// render runs the events and the summary through a renderer of mode
// and returns what it wrote to Out and to Err.
func renderRun(t testing.TB, mode string, evs []schedule.Event, sum *schedule.Summary, println string) (string, string) {
	c := newClock()
	var out, errw syncBuf
	r, err := New(mode, Options{Out: &out, Err: &errw, Now: c.Now, Verbose: true, Tasks: []TaskInfo{{Name: "build", Critical: true}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		r.Emit(e)
	}
	r.Println(println)
	r.Summary(sum, "/logs")
	_ = r.Close()
	return out.String(), errw.String()
}

// jsonLinesValid checks every line of json mode's output.
func jsonLinesValid(t testing.TB, out string) {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !utf8.ValidString(l) || !json.Valid([]byte(l)) {
			t.Errorf("not valid JSON in UTF-8: %q", l)
		}
	}
}

// Plain, quiet and json never let a control character from a task's
// text through; plain and quiet show it escaped, json carries it as a
// JSON escape and stays valid.
func TestHostileTextIsEscapedInEveryMode(t *testing.T) {
	for _, mode := range []string{ModePlain, ModeQuiet, ModeJSON} {
		t.Run(mode, func(t *testing.T) {
			evs, sum := hostileRun(newClock())
			out, errw := renderRun(t, mode, evs, sum, "[build] "+hostile)
			assertNoRawControl(t, mode, out)
			assertNoRawControl(t, mode+" (stderr)", errw)
			if mode == ModeJSON {
				jsonLinesValid(t, out)
				if !strings.Contains(out, `\u001b]0;PWNED\u0007`) || !strings.Contains(out, `\u009b2J`) {
					t.Errorf("json does not carry the text faithfully as JSON escapes:\n%s", out)
				}
				return
			}
			if !strings.Contains(out, `\x9b2J`) {
				t.Errorf("%s: the C1 CSI is not shown escaped:\n%s", mode, out)
			}
		})
	}
}

// What a task shows (a table, a list) and asks is escaped before it
// reaches the terminal; the lines of a table stay lines. The display's
// own sequences (cursor moves, clearing, hiding the cursor, synchronized
// frames) are the only escape codes written.
func TestPrompterEscapesWhatItShowsAndAsks(t *testing.T) {
	a := newAsking(t, 200, 40)
	p := a.c.Prompter(Asker{Label: "backups"})
	p.Println("backup  size\n" + hostile + "  1 KiB\n")
	go func() {
		a.waitFrame(t, "Delete")
		a.typeLine(t, "y\r")
	}()
	if _, err := p.Confirm(context.Background(), tasks.Question[bool]{Text: "Delete " + hostile + "?"}); err != nil {
		t.Fatal(err)
	}
	go func() {
		a.waitFrame(t, "Which")
		a.typeLine(t, "a\r")
	}()
	if _, err := p.Choose(context.Background(), tasks.Question[rune]{Text: "Which?"}, []tasks.Choice{{Key: 'a', Label: "all of " + hostile}}); err != nil {
		t.Fatal(err)
	}
	a.flushOutput(t)
	got := displaySequences.ReplaceAllString(a.out.String(), "")
	assertNoRawControl(t, "prompter", got)
	if !strings.Contains(got, "  backup  size\n") || !strings.Contains(got, "  1 KiB\n") {
		t.Errorf("the table's lines are not kept:\n%s", got)
	}
	want := `x\x1b]0;PWNED\a\x1b[2J`
	for _, where := range []string{"\n  " + want, "? Delete " + want, "a=all of " + want} {
		if !strings.Contains(got, where) {
			t.Errorf("the name is not shown escaped as %q in %q:\n%s", want, where, got)
		}
	}
}

// displaySequences are the escape codes the live display writes itself.
var displaySequences = regexp.MustCompile(`\x1b\[\?(2026|25)[hl]|\x1b\[\d*A|\x1b\[J|\r`)

// FuzzFileNamesOnTheTerminal: whatever a file name holds, shown in a
// table (what the Prompter prints), in a status line, a reason, a
// warning, an action, a statistic or the failure tail, no byte below 0x20
// but tab and none of 0x7f–0x9f reaches the terminal unescaped in plain
// and quiet mode, and every json line is valid JSON in valid UTF-8 with
// no raw control either. The tty mode shows the same texts through the
// same clean and cleanText, checked here directly.
func FuzzFileNamesOnTheTerminal(f *testing.F) {
	f.Add("CLAUDE.md.backup-20250101-000000")
	f.Add(hostile)
	f.Fuzz(func(t *testing.T, name string) {
		table := "backup  size\n" + name + "  1 KiB\n"
		shown := cleanText(table)
		assertNoRawControl(t, "cleanText", shown)
		if strings.Count(shown, "\n") != strings.Count(table, "\n") {
			t.Fatalf("cleanText(%q) = %q: lines added or lost", table, shown)
		}
		if l := clean(name); strings.ContainsAny(l, "\n\t") {
			t.Fatalf("clean(%q) = %q is not one line", name, l)
		}
		assertNoRawControl(t, "clean", clean(name))
		for _, mode := range []string{ModePlain, ModeQuiet, ModeJSON} {
			evs, sum := nameRun(newClock(), name)
			out, errw := renderRun(t, mode, evs, sum, "[build] "+name)
			assertNoRawControl(t, mode, out)
			assertNoRawControl(t, mode+" (stderr)", errw)
			if mode == ModeJSON {
				jsonLinesValid(t, out)
			}
		}
	})
}
