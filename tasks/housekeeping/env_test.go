package housekeeping

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// prompter is a scripted tasks.Prompter: it records every question and
// every text shown, and answers from a script (a rune for Choose, a bool
// for Confirm). Without a terminal it answers each question's
// NonInteractive value, like the real one; a question past the script
// fails the test.
type prompter struct {
	t           *testing.T
	interactive bool
	answers     []any
	mu          sync.Mutex
	asked       []string
	shown       []string
}

func (p *prompter) Interactive() bool { return p.interactive }

func (p *prompter) next(q string) (any, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, q)
	if !p.interactive {
		return nil, false
	}
	if len(p.answers) == 0 {
		p.t.Errorf("unexpected question %q", q)
		return nil, false
	}
	a := p.answers[0]
	p.answers = p.answers[1:]
	return a, true
}

func (p *prompter) Confirm(_ context.Context, q tasks.Question[bool]) (bool, error) {
	a, ok := p.next(q.Text)
	if !ok {
		return q.NonInteractive, nil
	}
	return a.(bool), nil
}

func (p *prompter) Choose(_ context.Context, q tasks.Question[rune], choices []tasks.Choice) (rune, error) {
	a, ok := p.next(q.Text)
	if !ok {
		return q.NonInteractive, nil
	}
	r := a.(rune)
	if !slices.ContainsFunc(choices, func(c tasks.Choice) bool { return c.Key == r }) {
		p.t.Errorf("answer %c is not among the choices of %q", r, q.Text)
	}
	return r, nil
}

func (p *prompter) MultiSelect(_ context.Context, q tasks.Question[[]int], _ []string) ([]int, error) {
	a, ok := p.next(q.Text)
	if !ok {
		return q.NonInteractive, nil
	}
	return a.([]int), nil
}

func (p *prompter) Input(_ context.Context, q tasks.Question[string]) (string, error) {
	a, ok := p.next(q.Text)
	if !ok {
		return q.NonInteractive, nil
	}
	return a.(string), nil
}

func (p *prompter) Println(text string) {
	p.mu.Lock()
	p.shown = append(p.shown, text)
	p.mu.Unlock()
}

// lockedBuffer is a log that tolerates concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// result is how a task run ended: its error, its report and its log.
type result struct {
	err error
	rep tasks.Report
	log string
}

// all is every summary line and the log, for "does it mention" checks.
func (r result) all() string {
	return strings.Join(r.rep.Actions, "\n") + "\n" + strings.Join(r.rep.Stats, "\n") + "\n" + strings.Join(r.rep.Warnings, "\n") + "\n" + r.log
}

// run runs task with a fresh Env on home, the given options (as if from
// a config file) and prompter.
func run(t *testing.T, task tasks.Task, name, home string, opts map[string]any, p *prompter, setup ...func(*tasks.Env)) result {
	t.Helper()
	env := tasks.NewEnv(name, nil, nil)
	env.Home = home
	env.Options = config.Task{Name: name, Options: opts, File: "/test/config.toml"}
	env.Config = &config.Config{Flake: filepath.Join(home, "nixos-config"), Tasks: map[string]config.Task{}}
	if p != nil {
		p.t = t
		env.Prompt = p
	}
	log := &lockedBuffer{}
	env.Log = log
	for _, s := range setup {
		s(env)
	}
	err := task.Run(context.Background(), env)
	return result{err, env.Report(), log.String()}
}

func file(t testing.TB, path string, size int64) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func symlink(t testing.TB, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// listing returns every path below root, relative, sorted: directories end
// in /, links show their target, files their size.
func listing(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case d.IsDir():
			rel += "/"
		case d.Type()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			rel += " -> " + target
		default:
			fi, _ := d.Info()
			rel += fmt.Sprintf(" (%d)", fi.Size())
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func diff(got, want []string) string {
	var b strings.Builder
	for _, g := range got {
		if !slices.Contains(want, g) {
			fmt.Fprintf(&b, "+ %s\n", g)
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			fmt.Fprintf(&b, "- %s\n", w)
		}
	}
	return b.String()
}

func outcome(err error) string {
	if o, ok := tasks.AsOutcome(err); ok {
		return o.Error()
	}
	if err != nil {
		return "failed: " + err.Error()
	}
	return "succeeded"
}

// asNobody makes dir unreadable and runs f as a user the permission
// applies to: root reads a mode-000 folder anyway, so as root the whole
// process takes nobody's effective uid while f runs, and every folder
// from dir up to / is opened to group and others first (nobody keeps
// root's group).
func asNobody(t *testing.T, dir string, f func()) {
	t.Helper()
	if os.Geteuid() == 0 {
		for d := filepath.Dir(dir); d != "/" && d != "."; d = filepath.Dir(d) {
			fi, err := os.Stat(d)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(d, fi.Mode().Perm()|0o055); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.Chmod(dir, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })
	if os.Geteuid() != 0 {
		f()
		return
	}
	if err := syscall.Seteuid(65534); err != nil {
		t.Skipf("running as root and cannot drop to nobody to make a folder unreadable: %v", err)
	}
	defer func() {
		if err := syscall.Seteuid(0); err != nil {
			panic("cannot get root back: " + err.Error())
		}
	}()
	f()
}
