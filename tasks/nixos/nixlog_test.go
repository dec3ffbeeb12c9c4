package nixos

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The recordings under testdata/ are the standard error of real
// `nix build --log-format internal-json -v` runs (Nix 2.8, private store,
// the nixtest host flake): a build of four derivations, a build with
// nothing to do, paths substituted from a file:// binary cache, a failing
// builder, a `throw`, an undefined variable, and a locked path: input whose
// contents changed. The daemon-* ones and build-failure-twice were made
// with testdata/record-daemon (its record.sh says how): a build through a
// nix-daemon with auto-optimise-store, a failed one, and a failed builder
// that Nix reports twice.

func feed(t testing.TB, name string) (*BuildLog, []string, []string) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l := NewBuildLog()
	var text, statuses []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if s := l.Line(sc.Text()); s != "" {
			text = append(text, s)
		}
		if st := l.Status(); len(statuses) == 0 || statuses[len(statuses)-1] != st {
			statuses = append(statuses, st)
		}
	}
	return l, text, statuses
}

func TestBuildLogRecordedBuild(t *testing.T) {
	l, text, statuses := feed(t, "build-internal-json.log")
	p := l.Progress()
	if p.Built != 4 || p.Expected != 4 || p.Failed != 0 || len(p.Building) != 0 || p.Evaluating {
		t.Errorf("progress %+v", p)
	}
	if len(l.Errors()) != 0 {
		t.Errorf("errors %q", l.Errors())
	}
	all := strings.Join(statuses, "\n")
	for _, want := range []string{
		"evaluating",
		"building bar-2.1 · built 0/", // the first build, before all are known
		"building foo-1.2 · built 2/4",
		"building nixos-system-demo · built 3/4",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("statuses lack %q:\n%s", want, all)
		}
	}
	// Once nothing builds, the status says so: the counts alone.
	if got := statuses[len(statuses)-1]; got != "built 4/4" {
		t.Errorf("final status %q, want the counts alone", got)
	}
	log := strings.Join(text, "\n")
	for _, want := range []string{"foo-1.2> building foo-1.2", "nixos-system-demo> assembled nixos-system-demo", "building '/tmp/rec/store/"} {
		if !strings.Contains(log, want) {
			t.Errorf("log text lacks %q", want)
		}
	}
	if strings.Contains(log, "@nix") || strings.Contains(log, "\x1b") {
		t.Errorf("log text has raw JSON or escapes:\n%s", log)
	}
}

func TestBuildLogRecordedNothingToBuild(t *testing.T) {
	l, _, statuses := feed(t, "build-nothing-internal-json.log")
	if p := l.Progress(); p.Expected != 0 || p.Built != 0 {
		t.Errorf("progress %+v", p)
	}
	if w := l.Warnings(); len(w) != 1 || !strings.Contains(w[0], "Git tree '/tmp/rec/flake' is dirty") {
		t.Errorf("warnings %q", w)
	}
	if got := statuses[len(statuses)-1]; got != "nothing to build" {
		t.Errorf("final status %q", got)
	}
}

func TestBuildLogRecordedSubstitution(t *testing.T) {
	l, text, statuses := feed(t, "substitute-internal-json.log")
	p := l.Progress()
	if p.Fetched != 4 || p.ToFetch != 4 || p.Built != 0 || p.FetchedBytes != 165760 /* NAR sizes of the three paths that reported progress */ {
		t.Errorf("progress %+v", p)
	}
	if all := strings.Join(statuses, "\n"); !strings.Contains(all, "downloading bar-2.0 · built 0/1 · downloaded 0/4 (0 B/164 KiB)") ||
		!strings.Contains(all, "downloading nixos-system-demo · built 0/1 · downloaded 3/4 (162 KiB/164 KiB)") {
		t.Errorf("statuses:\n%s", all)
	}
	if !strings.Contains(strings.Join(text, "\n"), "copying path '/tmp/rec/store/1ncxqk88lhl2m7py6yjpfpfavh0iv7mc-foo-1.0' from 'file:///tmp/rec-cache'") {
		t.Error("copy lines missing from the log text")
	}
}

func TestBuildLogRecordedBuildFailure(t *testing.T) {
	l, _, _ := feed(t, "build-failure-internal-json.log")
	report := l.ErrorReport()
	want := `error: builder for '/tmp/rec/store/9h62bwwbylhsa5jjbjh1qh42nm3r5cph-broken-1.0.drv' failed with exit code 1
  last lines of broken-1.0:
    compiling broken
    broken.c:1: this package never builds
error: 1 dependencies of derivation '/tmp/rec/store/gm3v1vp25bv8wcpzks413bgyaiwkf6b3-nixos-system-demo.drv' failed to build`
	if report != want {
		t.Errorf("report:\n%s\nwant:\n%s", report, want)
	}
	if p := l.Progress(); p.Failed != 1 {
		t.Errorf("progress %+v", p)
	}
}

func TestBuildLogRecordedEvalErrors(t *testing.T) {
	for file, want := range map[string][]string{
		"eval-error-internal-json.log":         {"error: the host configuration is broken on purpose"},
		"eval-undefined-internal-json.log":     {"error: undefined variable 'nosuchvariable'", "at /tmp/rec/store/3sif4in9w3vnh2d6dbz4nmcp8vd00hdp-source/flake.nix:10:33:", "10|     slow = builtins.derivation {"},
		"eval-hash-mismatch-internal-json.log": {"error: NAR hash mismatch in input 'path:/tmp/rec/pkgs?", "(use '--show-trace' to show detailed location information)"},
	} {
		l, _, statuses := feed(t, file)
		report := l.ErrorReport()
		for _, w := range want {
			if !strings.Contains(report, w) {
				t.Errorf("%s: report lacks %q:\n%s", file, w, report)
			}
		}
		if !strings.HasPrefix(report, "error: ") {
			t.Errorf("%s: report does not start with Nix's error line: %q", file, report)
		}
		if file != "eval-hash-mismatch-internal-json.log" && statuses[len(statuses)-1] != "evaluating" {
			t.Errorf("%s: status %q", file, statuses[len(statuses)-1])
		}
	}
}

// Through a nix-daemon, the client prints every line of the daemon's own
// log at level 0: a successful build with auto-optimise-store has
// "linking …" lines there. They are the log's text, not errors.
func TestBuildLogRecordedDaemonBuild(t *testing.T) {
	l, text, _ := feed(t, "daemon-build-internal-json.log")
	if errs := l.Errors(); len(errs) != 0 {
		t.Errorf("errors %q", errs)
	}
	if r := l.ErrorReport(); r != "" {
		t.Errorf("report %q", r)
	}
	if w := l.Warnings(); len(w) != 0 {
		t.Errorf("warnings %q", w)
	}
	if p := l.Progress(); p.Built != 3 || p.Expected != 3 || p.Failed != 0 {
		t.Errorf("progress %+v", p)
	}
	if log := strings.Join(text, "\n"); strings.Count(log, "linking '/tmp/recd/store/") != 2 {
		t.Errorf("the daemon's linking lines are not in the log text:\n%s", log)
	}
}

// A failed build through a daemon (--keep-going, the failing derivation
// asked for directly and by another): the builder's failure comes once as
// the daemon's plain text and once as the client's structured error, with
// the daemon's "linking …" line in between. The report has the failure
// once, with its last lines once, and no linking line.
func TestBuildLogRecordedDaemonBuildFailure(t *testing.T) {
	l, _, _ := feed(t, "daemon-build-failure-internal-json.log")
	report := l.ErrorReport()
	want := `error: builder for '/tmp/recd/store/mshg42f8z9lg2s6m3f7v2807vzga0g6j-broken-1.0.drv' failed with exit code 1;
       last 2 log lines:
       > compiling broken
       > broken.c:1: this package never builds
       For full logs, run 'nix log /tmp/recd/store/mshg42f8z9lg2s6m3f7v2807vzga0g6j-broken-1.0.drv'.`
	if report != want {
		t.Errorf("report:\n%s\nwant:\n%s", report, want)
	}
	if n := len(l.Errors()); n != 1 {
		t.Errorf("%d errors: %q", n, l.Errors())
	}
	if p := l.Progress(); p.Failed != 1 || p.Built != 2 {
		t.Errorf("progress %+v", p)
	}
}

// Without a daemon Nix reports the same failed builder twice, both
// structured; the report has it once, with the build's last lines.
func TestBuildLogRecordedBuildFailureReportedTwice(t *testing.T) {
	l, _, _ := feed(t, "build-failure-twice-internal-json.log")
	want := `error: builder for '/tmp/recd/store/mshg42f8z9lg2s6m3f7v2807vzga0g6j-broken-1.0.drv' failed with exit code 1
  last lines of broken-1.0:
    compiling broken
    broken.c:1: this package never builds`
	if report := l.ErrorReport(); report != want {
		t.Errorf("report:\n%s\nwant:\n%s", report, want)
	}
}

// Level 0 without raw_msg is a daemon's plain text: an error only with
// Nix's "error:" prefix, a warning with "warning:", else neither.
func TestBuildLogDaemonPlainMessages(t *testing.T) {
	l := NewBuildLog()
	for _, line := range []string{
		`@nix {"action":"msg","level":0,"msg":"linking '/nix/store/abc-foo/share/doc/LICENSE' to '/nix/store/.links/0b2y'"}`,
		`@nix {"action":"msg","level":0,"msg":"building '/nix/store/abc-foo.drv'..."}`,
		`@nix {"action":"msg","level":0,"msg":"\u001b[35;1mwarning:\u001b[0m ignoring untrusted substituter 'https://x'"}`,
		`@nix {"action":"msg","level":0,"msg":"\u001b[31;1merror:\u001b[0m cannot connect to 'x'"}`,
		`@nix {"action":"msg","level":0,"msg":"\u001b[31;1merror:\u001b[0m cannot connect to 'x'"}`,
	} {
		if got := l.Line(line); got == "" || strings.Contains(got, "\x1b") {
			t.Errorf("log text of %s: %q", line, got)
		}
	}
	if e := l.Errors(); len(e) != 1 || e[0] != "error: cannot connect to 'x'" {
		t.Errorf("errors %q", e)
	}
	if w := l.Warnings(); len(w) != 1 || w[0] != "warning: ignoring untrusted substituter 'https://x'" {
		t.Errorf("warnings %q", w)
	}
}

// Lines that are not internal-json (Nix complaining about its arguments
// before it logs in JSON) pass through, and their errors count.
func TestBuildLogPlainLines(t *testing.T) {
	l := NewBuildLog()
	if got := l.Line("error: unrecognised flag '--bogus'"); got != "error: unrecognised flag '--bogus'" {
		t.Errorf("got %q", got)
	}
	if got := l.Line("@nix {not json"); got != "@nix {not json" {
		t.Errorf("got %q", got)
	}
	if r := l.ErrorReport(); r != "error: unrecognised flag '--bogus'" {
		t.Errorf("report %q", r)
	}
}

func TestBuildLogErrorReportIsCapped(t *testing.T) {
	l := NewBuildLog()
	for i := 0; i < 100; i++ {
		// Distinct messages: the same error twice is reported once.
		l.Line(`@nix {"action":"msg","level":0,"msg":"error: number ` + strconv.Itoa(i) + `"}`)
	}
	if n := strings.Count(l.ErrorReport(), "\n"); n != maxErrorLines {
		t.Errorf("%d lines", n+1)
	}
}

func FuzzBuildLog(f *testing.F) {
	// Phases: the recordings in windows of a few lines (whole recordings
	// make the mutator crawl).
	for _, name := range []string{"build-internal-json.log", "build-failure-internal-json.log", "substitute-internal-json.log", "eval-undefined-internal-json.log",
		"daemon-build-internal-json.log", "daemon-build-failure-internal-json.log", "build-failure-twice-internal-json.log"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		for i := 0; i < len(lines); i += 6 {
			f.Add(strings.Join(lines[i:min(i+6, len(lines))], "\n"))
		}
	}
	f.Add(`@nix {"action":"start","id":1,"type":105,"fields":["/s/x-a\nb.drv"]}` + "\n" + `@nix {"action":"result","id":1,"type":104,"fields":["p\nq"]}`)
	f.Fuzz(func(t *testing.T, input string) {
		l := NewBuildLog()
		for _, line := range strings.Split(input, "\n") {
			l.Line(line)
			if st := l.Status(); st == "" || strings.ContainsAny(st, "\n\r") {
				t.Fatalf("status %q", st)
			}
		}
		if len(l.acts) > maxActivities || len(l.finished) > keptFinished {
			t.Fatalf("%d activities, %d finished", len(l.acts), len(l.finished))
		}
		seen := map[string]bool{}
		for _, e := range l.Errors() {
			if seen[e] {
				t.Fatalf("error %q reported twice", e)
			}
			seen[e] = true
		}
		_ = l.ErrorReport()
	})
}

// BenchmarkBuildLog measures the parser on the recorded build of four
// derivations; ns/op is per line.
func BenchmarkBuildLog(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "build-internal-json.log"))
	if err != nil {
		b.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	b.ReportAllocs()
	b.ResetTimer()
	var l *BuildLog
	for i := 0; i < b.N; i++ {
		if i%len(lines) == 0 {
			l = NewBuildLog()
		}
		l.Line(lines[i%len(lines)])
		_ = l.Status()
	}
}

// A copy that is not a substitution (a remote builder's result coming
// back) is shown as a download of its own, with its bytes; the lines are
// shaped as Nix 2.8 writes them (see build-view-internal-json.timed).
func TestBuildLogCopyOfItsOwn(t *testing.T) {
	l := NewBuildLog()
	for _, line := range []string{
		`@nix {"action":"start","id":1,"level":0,"text":"","type":102}`,
		`@nix {"action":"start","fields":["/nix/store/72anww2pfyk1an22xbdiv30pgfidxb2l-glibc-2.35","ssh-ng://builder","local"],"id":2,"level":3,"text":"copying path","type":100}`,
		`@nix {"action":"result","fields":[4096,8192,0,0],"id":2,"type":105}`,
	} {
		l.Line(line)
	}
	p := l.BuildProgress()
	if len(p.Downloads) != 1 || p.Downloads[0].Name != "glibc-2.35" || p.Downloads[0].Done != 4096 || p.Downloads[0].Total != 8192 {
		t.Errorf("downloads %+v", p.Downloads)
	}
	l.Line(`@nix {"action":"stop","id":2}`)
	if p := l.BuildProgress(); len(p.Downloads) != 0 || p.DownloadedBytes != 8192 {
		t.Errorf("after the copy: %+v", p)
	}
}
