package claude

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rebuild-nixos/rebuild/internal/safefile"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/claude/learn"
	"github.com/rebuild-nixos/rebuild/tasks/claude/mdsection"
	"github.com/rebuild-nixos/rebuild/tasks/fsutil"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// applier applies accepted suggestions, one file change at a time, each
// atomic (a temporary file renamed over the old one).
type applier struct {
	env *tasks.Env
	// clean are files found without uncommitted changes earlier in this
	// review: our own change must not lock out the next suggestion.
	clean map[string]bool
	// backedUp are files whose original is saved already: a second edit
	// of the same file must not replace that backup with its first edit.
	backedUp map[string]bool
}

// errDirty is a file with uncommitted changes: never touched.
type errDirty struct {
	file, status string
}

func (e *errDirty) Error() string {
	return fmt.Sprintf("%s has uncommitted changes (git status: %s); commit or stash them first", e.file, e.status)
}

// apply makes the change s describes and returns the line for the summary.
func (a *applier) apply(ctx context.Context, s learn.Suggestion) error {
	if s.Target == "" || !filepath.IsAbs(s.Target) {
		return fmt.Errorf("no absolute target file")
	}
	if err := a.refuseDirty(ctx, s.Target); err != nil {
		return err
	}
	var err error
	switch s.Kind {
	case learn.AllowPermission:
		err = a.editJSON(s.Target, []string{"permissions"}, true, func(o *jsonObject) error {
			var allow []string
			if raw, ok := o.get("allow"); ok {
				if err := json.Unmarshal(raw, &allow); err != nil {
					return fmt.Errorf("permissions.allow is not a list of strings")
				}
			}
			for _, p := range allow {
				if p == s.Pattern {
					return errNothingToDo
				}
			}
			b, err := marshalNoEscape(append(allow, s.Pattern))
			if err != nil {
				return err
			}
			o.set("allow", b)
			return nil
		})
	case learn.RemoveMCPServer:
		err = a.editJSON(s.Target, s.JSONPath, false, func(o *jsonObject) error {
			if !o.remove(s.Server) {
				return fmt.Errorf("no server %q there any more", s.Server)
			}
			return nil
		})
	case learn.NewCommand:
		err = createExclusive(s.Target, []byte(s.Content))
	case learn.RemoveSection, learn.MoveSectionUp, learn.RewordLine:
		err = a.editMarkdown(s)
	default:
		err = fmt.Errorf("unknown kind of change %q", s.Kind)
	}
	if errors.Is(err, errNothingToDo) {
		return nil
	}
	if err == nil {
		a.clean[s.Target] = true
	}
	return err
}

var errNothingToDo = errors.New("already done")

// editJSON rewrites a JSON file through editJSONDoc. A missing file is an
// empty object when create is set.
func (a *applier) editJSON(path string, at []string, create bool, edit func(o *jsonObject) error) error {
	doc, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && create {
		doc = nil
	} else if err != nil {
		return err
	}
	out, err := editJSONDoc(doc, at, create, edit)
	if err != nil {
		return fmt.Errorf("%s: %w", fsutil.Tilde(a.env.Home, path), err)
	}
	return writeFileAtomic(path, out)
}

// editMarkdown changes a CLAUDE.md after keeping a copy of it in
// <dir>/.backups/<name>.backup-YYYYMMDD-HHMMSS (the generator's naming,
// which the backups task cleans).
func (a *applier) editMarkdown(s learn.Suggestion) error {
	doc, err := os.ReadFile(s.Target)
	if err != nil {
		return err
	}
	var out []byte
	switch s.Kind {
	case learn.RewordLine:
		out, err = replaceLine(doc, s.Line, s.NewLine)
	default:
		h, ok := mdsection.Find(doc, 0, s.Section)
		if !ok {
			return fmt.Errorf("no section %q in %s any more", s.Section, fsutil.Tilde(a.env.Home, s.Target))
		}
		if s.Kind == learn.RemoveSection {
			out = mdsection.Remove(doc, h)
		} else if out, ok = mdsection.MoveUp(doc, h); !ok {
			return errNothingToDo
		}
	}
	if err != nil {
		return err
	}
	if !a.backedUp[s.Target] {
		backup := filepath.Join(filepath.Dir(s.Target), ".backups",
			filepath.Base(s.Target)+".backup-"+a.env.Now().Format("20060102-150405"))
		if err := writeFileAtomic(backup, doc); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		a.backedUp[s.Target] = true
	}
	return fsutil.WriteAtomic(s.Target, out)
}

// replaceLine replaces the first line equal to old (line end aside).
func replaceLine(doc []byte, old, repl string) ([]byte, error) {
	for off := 0; off < len(doc); {
		end := bytes.IndexByte(doc[off:], '\n')
		next := len(doc)
		if end >= 0 {
			next = off + end
		}
		line := doc[off:next]
		cr := bytes.HasSuffix(line, []byte("\r"))
		if string(bytes.TrimSuffix(line, []byte("\r"))) == old {
			var out []byte
			out = append(out, doc[:off]...)
			out = append(out, repl...)
			if cr {
				out = append(out, '\r')
			}
			return append(out, doc[next:]...), nil
		}
		off = next + 1
	}
	return nil, fmt.Errorf("the line %q is not there any more", old)
}

// createExclusive writes a new file atomically and never replaces an
// existing one: the content goes to a temporary file that is then
// hard-linked to the name, which fails if the name exists.
func createExclusive(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := safefile.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := safefile.GiveLike(tmp, nil, dir); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s exists already; left as it is", path)
		}
		return err
	}
	return nil
}

// refuseDirty returns an *errDirty when path has uncommitted changes in
// its git repository, staged or not (`git status --porcelain -- <file>`,
// run through the task's runner). A file outside any repository, a new
// file, an untracked or an ignored one is fine.
func (a *applier) refuseDirty(ctx context.Context, path string) error {
	if a.clean[path] {
		return nil
	}
	dir := filepath.Dir(path)
	for {
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
	rel, err := filepath.Rel(dir, path)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	var log bytes.Buffer
	err = taskRunner(a.env).Run(ctx, proc.Cmd{
		Args:   []string{"git", "-C", dir, "status", "--porcelain", "--", rel},
		Stdout: &out, Log: &log, Env: []string{"GIT_OPTIONAL_LOCKS=0", "LC_ALL=C"},
	})
	fmt.Fprint(a.env.Log, log.String())
	if err != nil {
		var pe *proc.Error
		if errors.As(err, &pe) {
			if pe.Code == 128 && strings.Contains(log.String(), "not a git repository") {
				return nil
			}
			if pe.Code == -1 && errors.Is(pe.Err, fs.ErrNotExist) {
				return nil // no git: nothing can be uncommitted
			}
		}
		return fmt.Errorf("cannot tell whether %s has uncommitted changes: %w", fsutil.Tilde(a.env.Home, path), err)
	}
	// An untracked file ("??") has no committed version for a change to be
	// mixed into; git itself lists those apart from changes.
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.TrimSpace(l) != "" && !strings.HasPrefix(l, "??") {
			return &errDirty{file: fsutil.Tilde(a.env.Home, path), status: strings.TrimSpace(l)}
		}
	}
	a.clean[path] = true
	return nil
}
