package cleanup

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/fsutil"
	"github.com/rebuild-nixos/rebuild/tasks/taskstest"
)

// cacheHome is a home with three caches (uv, npm, chromium), a file
// beside them that must survive, and a folder outside the home that two
// symlinks inside chromium's cache point at.
type cacheHome struct {
	base, home, outside string
}

func newCacheHome(t *testing.T) cacheHome {
	base := t.TempDir()
	h := cacheHome{base: base, home: filepath.Join(base, "home"), outside: filepath.Join(base, "outside")}
	taskstest.File(t, filepath.Join(h.home, ".cache/uv/wheels/a.whl"), 3000)
	taskstest.File(t, filepath.Join(h.home, ".cache/uv/wheels/b.whl"), 4000)
	taskstest.File(t, filepath.Join(h.home, ".npm/_cacache/index/x"), 500)
	taskstest.File(t, filepath.Join(h.home, ".npm/_logs/debug.log"), 200)
	taskstest.File(t, filepath.Join(h.home, ".cache/chromium/Default/Cache/data_1"), 9000)
	taskstest.File(t, filepath.Join(h.home, ".cache/keep-me/important"), 100)
	taskstest.File(t, filepath.Join(h.home, "notes.txt"), 100)
	taskstest.File(t, filepath.Join(h.outside, "precious.txt"), 100)
	taskstest.File(t, filepath.Join(h.outside, "dir/precious-too.txt"), 100)
	taskstest.Symlink(t, filepath.Join(h.outside, "precious.txt"), filepath.Join(h.home, ".cache/chromium/to-file"))
	taskstest.Symlink(t, filepath.Join(h.outside, "dir"), filepath.Join(h.home, ".cache/chromium/Default/to-dir"))
	return h
}

// afterCleaning is the listing of base once the named caches' contents
// are gone (their folders stay).
func (h cacheHome) afterCleaning(t *testing.T, before []string, caches ...string) []string {
	var out []string
	for _, l := range before {
		gone := false
		for _, c := range caches {
			if strings.HasPrefix(l, "home/"+c+"/") && l != "home/"+c+"/" {
				gone = true
			}
		}
		if !gone {
			out = append(out, l)
		}
	}
	return out
}

// noTools makes every cache cleaned by removing its contents.
var noTools = &Caches{LookPath: func(string) (string, error) { return "", exec.ErrNotFound }}

func TestCachesYesCleansExactlyTheListedCaches(t *testing.T) {
	h := newCacheHome(t)
	before := taskstest.Listing(t, h.base)
	var contents int64 // what must be freed: each cache's size without its own folder
	for _, c := range []string{".cache/uv", ".npm", ".cache/chromium"} {
		u, _, err := fsutil.Size(context.Background(), filepath.Join(h.home, c), fsutil.Options{})
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Lstat(filepath.Join(h.home, c))
		contents += u.Bytes - fi.Size()
	}
	p := &taskstest.Prompter{Terminal: true, Answers: []any{'y'}}
	r := run(t, noTools, "caches", h.home, nil, p)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	want := h.afterCleaning(t, before, ".cache/uv", ".npm", ".cache/chromium")
	if got := taskstest.Listing(t, h.base); !slices.Equal(got, want) {
		t.Fatalf("after cleaning:\n%s", taskstest.Diff(got, want))
	}
	if len(p.Asked()) != 1 || !strings.HasPrefix(p.Asked()[0], "Clean 3 caches (") {
		t.Errorf("asked %q", p.Asked())
	}
	if len(p.Printed()) == 0 || !strings.Contains(p.Printed()[0], "~/.cache/chromium") || !strings.Contains(p.Printed()[0], "total") {
		t.Errorf("the table was not shown before asking: %q", p.Printed())
	}
	// Freed: the contents' apparent sizes, links counted as links.
	if len(r.Rep.Actions) != 1 || !strings.HasPrefix(r.Rep.Actions[0], "freed "+fsutil.FormatBytes(contents)+" ") || !strings.Contains(r.Rep.Actions[0], "from 3 caches (~/.cache/uv, ~/.cache/chromium, ~/.npm)") {
		t.Errorf("actions %q", r.Rep.Actions)
	}
}

func TestCachesNoDeletesNothing(t *testing.T) {
	h := newCacheHome(t)
	before := taskstest.Listing(t, h.base)
	r := run(t, noTools, "caches", h.home, nil, &taskstest.Prompter{Terminal: true, Answers: []any{'n'}})
	if o, ok := tasks.AsOutcome(r.Err); !ok || o.Kind != tasks.Declined {
		t.Fatalf("%s, want declined", r.Outcome())
	}
	if got := taskstest.Listing(t, h.base); !slices.Equal(got, before) {
		t.Fatalf("answering no changed:\n%s", taskstest.Diff(got, before))
	}
}

func TestCachesPerCacheQuestions(t *testing.T) {
	h := newCacheHome(t)
	before := taskstest.Listing(t, h.base)
	// Order of the table: as configured (uv, chromium, npm by the default list).
	p := &taskstest.Prompter{Terminal: true, Answers: []any{'d', true, false, true}}
	r := run(t, noTools, "caches", h.home, nil, p)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if len(p.Asked()) != 4 || !strings.HasPrefix(p.Asked()[1], "Clean ~/.cache/uv (") || !strings.HasPrefix(p.Asked()[2], "Clean ~/.cache/chromium (") || !strings.HasPrefix(p.Asked()[3], "Clean ~/.npm (") {
		t.Fatalf("asked %q", p.Asked())
	}
	want := h.afterCleaning(t, before, ".cache/uv", ".npm")
	if got := taskstest.Listing(t, h.base); !slices.Equal(got, want) {
		t.Fatalf("after cleaning uv and npm:\n%s", taskstest.Diff(got, want))
	}
}

func TestCachesWithoutTerminal(t *testing.T) {
	t.Run("skips at once and deletes nothing", func(t *testing.T) {
		h := newCacheHome(t)
		before := taskstest.Listing(t, h.base)
		p := &taskstest.Prompter{}
		r := run(t, noTools, "caches", h.home, nil, p)
		if o, ok := tasks.AsOutcome(r.Err); !ok || o.Kind != tasks.Skipped || !strings.HasPrefix(o.Reason, "no terminal") {
			t.Fatalf("%s, want skipped: no terminal", r.Outcome())
		}
		if len(p.Asked()) != 0 {
			t.Errorf("asked %q", p.Asked())
		}
		if got := taskstest.Listing(t, h.base); !slices.Equal(got, before) {
			t.Fatalf("changed:\n%s", taskstest.Diff(got, before))
		}
	})
	t.Run("nil prompter is no terminal", func(t *testing.T) {
		h := newCacheHome(t)
		r := run(t, noTools, "caches", h.home, nil, nil)
		if !strings.HasPrefix(r.Outcome(), "skipped: no terminal") {
			t.Fatal(r.Outcome())
		}
	})
	for name, setup := range map[string]struct {
		opts map[string]any
		yes  bool
	}{
		"--yes cleans every listed cache": {nil, true},
		"policy clean":                    {map[string]any{"policy": "clean"}, false},
	} {
		t.Run(name, func(t *testing.T) {
			h := newCacheHome(t)
			before := taskstest.Listing(t, h.base)
			p := &taskstest.Prompter{}
			r := run(t, noTools, "caches", h.home, setup.opts, p, func(e *tasks.Env) { e.Yes = setup.yes })
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			if len(p.Asked()) != 0 {
				t.Errorf("asked %q", p.Asked())
			}
			want := h.afterCleaning(t, before, ".cache/uv", ".npm", ".cache/chromium")
			if got := taskstest.Listing(t, h.base); !slices.Equal(got, want) {
				t.Fatalf("after cleaning:\n%s", taskstest.Diff(got, want))
			}
		})
	}
	t.Run("policy skip", func(t *testing.T) {
		h := newCacheHome(t)
		before := taskstest.Listing(t, h.base)
		r := run(t, noTools, "caches", h.home, map[string]any{"policy": "skip"}, &taskstest.Prompter{Terminal: true}, func(e *tasks.Env) { e.Yes = true })
		if !strings.HasPrefix(r.Outcome(), "skipped: policy") {
			t.Fatal(r.Outcome())
		}
		if got := taskstest.Listing(t, h.base); !slices.Equal(got, before) {
			t.Fatalf("changed:\n%s", taskstest.Diff(got, before))
		}
	})
}

func TestCachesRefusesDangerousPaths(t *testing.T) {
	for name, c := range map[string]struct {
		paths   func(h cacheHome) []any
		outside bool
		says    string
	}{
		"home itself":          {func(h cacheHome) []any { return []any{"~/.cache/uv", "~"} }, false, "is the home directory itself"},
		"home with a slash":    {func(h cacheHome) []any { return []any{"~/"} }, false, "is the home directory itself"},
		"root":                 {func(h cacheHome) []any { return []any{"/"} }, false, "is the root of the file system"},
		"outside home":         {func(h cacheHome) []any { return []any{h.outside} }, false, "is outside the home directory"},
		"a link out of home":   {func(h cacheHome) []any { return []any{"~/.cache/chromium/Default/to-dir"} }, false, "is outside the home directory"},
		"parent of home":       {func(h cacheHome) []any { return []any{h.base} }, false, "contains the home directory"},
		"home even if allowed": {func(h cacheHome) []any { return []any{"~"} }, true, "is the home directory itself"},
		"root even if allowed": {func(h cacheHome) []any { return []any{"/"} }, true, "is the root of the file system"},
	} {
		t.Run(name, func(t *testing.T) {
			h := newCacheHome(t)
			before := taskstest.Listing(t, h.base)
			paths := c.paths(h)
			opts := map[string]any{"paths": paths}
			if c.outside {
				opts["allow_outside_home"] = paths
			}
			r := run(t, noTools, "caches", h.home, opts, &taskstest.Prompter{Terminal: true, Answers: []any{'y'}}, func(e *tasks.Env) { e.Yes = true })
			if r.Err == nil || tasks.Skip("") == r.Err {
				t.Fatalf("%s, want a failure", r.Outcome())
			}
			msg := r.Err.Error()
			for _, want := range []string{"/test/config.toml", "task.caches.paths", c.says, "nothing was deleted"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q lacks %q", msg, want)
				}
			}
			if got := taskstest.Listing(t, h.base); !slices.Equal(got, before) {
				t.Fatalf("something was deleted:\n%s", taskstest.Diff(got, before))
			}
		})
	}
}

func TestCachesOutsideHomeWhenAllowed(t *testing.T) {
	h := newCacheHome(t)
	before := taskstest.Listing(t, h.base)
	opts := map[string]any{"paths": []any{h.outside + "/dir"}, "allow_outside_home": []any{h.outside + "/dir"}}
	r := run(t, noTools, "caches", h.home, opts, &taskstest.Prompter{}, func(e *tasks.Env) { e.Yes = true })
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	want := taskstest.Without(before, "outside/dir/precious-too.txt (100)")
	if got := taskstest.Listing(t, h.base); !slices.Equal(got, want) {
		t.Fatalf("after cleaning:\n%s", taskstest.Diff(got, want))
	}
}

func TestCachesDryRunListsExactlyWhatTheRunDeletes(t *testing.T) {
	h := newCacheHome(t)
	before := taskstest.Listing(t, h.base)
	dry := run(t, noTools, "caches", h.home, nil, &taskstest.Prompter{}, func(e *tasks.Env) { e.DryRun = true })
	if dry.Err != nil {
		t.Fatal(dry.Err)
	}
	if got := taskstest.Listing(t, h.base); !slices.Equal(got, before) {
		t.Fatalf("the dry run deleted:\n%s", taskstest.Diff(got, before))
	}
	real := run(t, noTools, "caches", h.home, nil, &taskstest.Prompter{}, func(e *tasks.Env) { e.Yes = true })
	if real.Err != nil {
		t.Fatal(real.Err)
	}
	would := regexp.MustCompile(`(?m)^  (~\S+)  \(`).FindAllStringSubmatch(dry.Log, -1)
	did := regexp.MustCompile(`(?m)^deleted (~\S+) \(`).FindAllStringSubmatch(real.Log, -1)
	if len(would) == 0 || len(would) != len(did) {
		t.Fatalf("dry run listed %d, real run deleted %d:\n%s\n---\n%s", len(would), len(did), dry.Log, real.Log)
	}
	for i := range would {
		if would[i][1] != did[i][1] {
			t.Errorf("dry run listed %s, real run deleted %s", would[i][1], did[i][1])
		}
	}
	// And what was deleted is what the listing says is gone.
	var gone []string
	for _, d := range did {
		gone = append(gone, "home/"+strings.TrimPrefix(d[1], "~/"))
	}
	if got, want := taskstest.Listing(t, h.base), taskstest.Without(before, gone...); !slices.Equal(got, want) {
		t.Errorf("after the run:\n%s", taskstest.Diff(got, want))
	}
}

func TestCachesNothingToClean(t *testing.T) {
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".cache/uv"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := run(t, noTools, "caches", home, nil, &taskstest.Prompter{Terminal: true})
	if !strings.HasPrefix(r.Outcome(), "skipped: nothing to clean") {
		t.Errorf("empty cache: %s", r.Outcome())
	}
	r = run(t, noTools, "caches", t.TempDir(), nil, &taskstest.Prompter{Terminal: true})
	if !strings.HasPrefix(r.Outcome(), "skipped: no cache folder found") {
		t.Errorf("no caches: %s", r.Outcome())
	}
}

func TestCachesUsesTheToolWithTheListedFolder(t *testing.T) {
	h := newCacheHome(t)
	// A stand-in uv that records its arguments and empties the folder
	// it was given, the way uv cache clean does.
	bin := t.TempDir()
	record := filepath.Join(bin, "args")
	uv := filepath.Join(bin, "uv")
	script := "#!/bin/sh\necho \"$@\" > " + record + "\nfor last; do :; done\nrm -rf \"$last\"/*\n"
	if err := os.WriteFile(uv, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	look := func(name string) (string, error) {
		if name == "uv" {
			return uv, nil
		}
		if name == "npm" {
			return exec.LookPath("npm")
		}
		return "", exec.ErrNotFound
	}
	p := &taskstest.Prompter{Terminal: true, Answers: []any{'y'}}
	r := run(t, &Caches{LookPath: look}, "caches", h.home, nil, p)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	args, _ := os.ReadFile(record)
	if want := "cache clean --cache-dir " + filepath.Join(h.home, ".cache/uv") + "\n"; string(args) != want {
		t.Errorf("uv ran with %q, want %q", args, want)
	}
	if !strings.Contains(p.Printed()[0], "uv cache clean --cache-dir") {
		t.Errorf("the table does not say how uv's cache is cleaned:\n%s", p.Printed()[0])
	}
	if entries, _ := os.ReadDir(filepath.Join(h.home, ".cache/uv")); len(entries) != 0 {
		t.Errorf("uv's cache still holds %v", entries)
	}
	if _, err := exec.LookPath("npm"); err == nil {
		// Real npm, offline: it removes _cacache from the folder it is given.
		if _, err := os.Stat(filepath.Join(h.home, ".npm/_cacache")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("npm cache clean left _cacache: %v\n%s", err, r.Log)
		}
		if _, err := os.Stat(filepath.Join(h.home, ".npm/_logs/debug.log")); err != nil {
			t.Errorf("npm's logs should stay (npm cache clean removes only _cacache): %v", err)
		}
	}
	if !strings.Contains(r.Rep.Actions[0], "from 3 caches") {
		t.Errorf("actions %q", r.Rep.Actions)
	}
}

func TestCachesToolFailureFallsBackToRemovingContents(t *testing.T) {
	h := newCacheHome(t)
	bin := t.TempDir()
	uv := filepath.Join(bin, "uv")
	if err := os.WriteFile(uv, []byte("#!/bin/sh\necho 'error: cache is locked' >&2\nexit 2\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	look := func(name string) (string, error) {
		if name == "uv" {
			return uv, nil
		}
		return "", exec.ErrNotFound
	}
	r := run(t, &Caches{LookPath: look}, "caches", h.home, map[string]any{"paths": []any{"~/.cache/uv"}}, &taskstest.Prompter{}, func(e *tasks.Env) { e.Yes = true })
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if entries, _ := os.ReadDir(filepath.Join(h.home, ".cache/uv")); len(entries) != 0 {
		t.Errorf("uv's cache still holds %v", entries)
	}
	if w := strings.Join(r.Rep.Warnings, "\n"); !strings.Contains(w, "cache is locked") {
		t.Errorf("warnings %q lack the tool's error", w)
	}
}

func TestCachesBadOptions(t *testing.T) {
	home := t.TempDir()
	for key, bad := range map[string]any{"policy": "sometimes", "paths": "~/.cache", "tools": "yes"} {
		r := run(t, noTools, "caches", home, map[string]any{key: bad}, &taskstest.Prompter{Terminal: true})
		if r.Err == nil || !strings.Contains(r.Err.Error(), "task.caches."+key) {
			t.Errorf("%s = %v: %v", key, bad, r.Err)
		}
	}
}

// An entry of a cache replaced between the table and the answer is not
// what was listed: it stays, with a warning; the rest goes.
func TestCachesDeleteOnlyWhatIsStillWhatWasListed(t *testing.T) {
	h := newCacheHome(t)
	wheels := filepath.Join(h.home, ".cache/uv/wheels")
	var before []string
	p := &taskstest.Prompter{Terminal: true, Answers: []any{'y'}, BeforeAnswer: func(string) {
		// A new folder of the same name, made before the old one goes.
		taskstest.File(t, wheels+".new/not-listed.whl", 10)
		if err := os.RemoveAll(wheels); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(wheels+".new", wheels); err != nil {
			t.Fatal(err)
		}
		before = taskstest.Listing(t, h.base)
	}}
	r := run(t, noTools, "caches", h.home, map[string]any{"paths": []any{"~/.cache/uv", "~/.npm"}}, p)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	want := h.afterCleaning(t, before, ".npm")
	if got := taskstest.Listing(t, h.base); !slices.Equal(got, want) {
		t.Fatalf("after cleaning:\n%s", taskstest.Diff(got, want))
	}
	if w := strings.Join(r.Rep.Warnings, "\n"); !strings.Contains(w, "changed since it was listed") {
		t.Errorf("warnings %q do not say why wheels stayed", w)
	}
}

// A cache cleaned by its tool is checked again just before the tool runs:
// replaced by a link to another folder after the table, it is not handed
// to the tool (which would clean the link's target), and not emptied.
func TestCachesToolIsNotHandedAReplacedFolder(t *testing.T) {
	h := newCacheHome(t)
	bin := t.TempDir()
	record := filepath.Join(bin, "args")
	uv := filepath.Join(bin, "uv")
	script := "#!/bin/sh\necho \"$@\" > " + record + "\nfor last; do :; done\nrm -rf \"$last\"/*\n"
	if err := os.WriteFile(uv, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	look := func(name string) (string, error) {
		if name == "uv" {
			return uv, nil
		}
		return "", exec.ErrNotFound
	}
	cache := filepath.Join(h.home, ".cache/uv")
	var before []string
	p := &taskstest.Prompter{Terminal: true, Answers: []any{'y'}, BeforeAnswer: func(string) {
		if err := os.Rename(cache, cache+".moved"); err != nil {
			t.Fatal(err)
		}
		taskstest.Symlink(t, h.outside, cache)
		before = taskstest.Listing(t, h.base)
	}}
	r := run(t, &Caches{LookPath: look}, "caches", h.home, map[string]any{"paths": []any{"~/.cache/uv"}}, p)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if args, err := os.ReadFile(record); err == nil {
		t.Errorf("uv ran with %q", args)
	}
	if got := taskstest.Listing(t, h.base); !slices.Equal(got, before) {
		t.Fatalf("files changed:\n%s", taskstest.Diff(got, before))
	}
	if w := strings.Join(r.Rep.Warnings, "\n"); !strings.Contains(w, "~/.cache/uv") || !strings.Contains(w, "not cleaned") {
		t.Errorf("warnings %q do not say the cache was not cleaned", w)
	}
}
