package claude

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/fsutil"
)

// Specs returns the family's cleanup tasks, sessions (seed 12) and
// backups (seed 13), with DESIGN.md's names, groups and edges.
func Specs() []tasks.Spec {
	return []tasks.Spec{
		{
			Name:        "sessions",
			Seed:        12,
			Description: "delete or archive the Claude sessions whose insights are implemented",
			Groups:      []string{"claude", "cleanup"},
			After:       []string{"mcp-analytics", "learn-review"},
			Interactive: true,
			Options:     SessionsOptions,
			DryRun:      true,
			Estimate:    2 * time.Second,
			Task:        &Sessions{},
		},
		{
			Name:        "backups",
			Seed:        13,
			Description: "delete old *.backup-* files of the Claude configuration",
			Groups:      []string{"claude", "cleanup"},
			After:       []string{"claude-config"},
			Interactive: true,
			Options:     BackupsOptions,
			DryRun:      true,
			Estimate:    time.Second,
			Task:        &Backups{},
		},
	}
}

// SessionsOptions are the keys `sessions` accepts in [task.sessions]:
//
//	projects = "~/.claude/projects"
//	    where the session logs are: <projects>/<project>/<id>.jsonl, each
//	    with its sidecar <id>.jsonl.lifecycle.json (no sidecar: raw).
//	    Only the two levels below it are looked at.
//	policy = "ask"
//	    "ask": list the implemented sessions and ask (without a terminal:
//	    keep them); "clean": delete (or archive) them without asking;
//	    "skip": keep them.
//	archive = false
//	    true: pack the implemented sessions, logs and sidecars, into
//	    <archive_dir>/sessions-YYYYMMDD-HHMMSS.tar.gz, check the archive,
//	    and only then delete them.
//	archive_dir = "~/.claude/archives"
//
// Only sessions whose sidecar says "implemented" go, each log with its
// sidecar; a sidecar marked implemented whose log is gone goes alone. A
// log without a sidecar is raw and stays; a sidecar that cannot be read,
// has an unknown stage, or has lost its log at an earlier stage stays
// and is reported. Without a terminal and without --yes, with policy
// "ask", nothing is deleted and the task is skipped. --yes deletes the
// implemented sessions (archives them first with archive = true).
// --dry-run lists exactly the files that would go and deletes nothing.
var SessionsOptions = []string{"projects", "policy", "archive", "archive_dir"}

// Sessions is the sessions task.
type Sessions struct{}

// session is one session log and its sidecar, as found.
type session struct {
	log      string // the log's path (it may be missing)
	hasLog   bool
	sidecar  bool // the sidecar exists
	sc       Sidecar
	bad      error // the sidecar could not be read
	logSize  int64
	sideSize int64
}

func (s *session) stage() Stage {
	if !s.sidecar {
		return StageRaw
	}
	return s.sc.Stage
}

// files are the session's files that exist: the log, then the sidecar.
func (s *session) files() []string {
	var out []string
	if s.hasLog {
		out = append(out, s.log)
	}
	if s.sidecar {
		out = append(out, SidecarPath(s.log))
	}
	return out
}

// Run finds the sessions, reports how many are at each stage, lists the
// implemented ones and deletes (or archives) them when agreed. See
// SessionsOptions.
func (s *Sessions) Run(ctx context.Context, env *tasks.Env) error {
	projectsOpt, err := env.Options.String("projects", "~/.claude/projects")
	if err != nil {
		return err
	}
	_, explicit := env.Options.Options["projects"]
	policy, err := cleanupChoice(env, "policy", "ask", "ask", "clean", "skip")
	if err != nil {
		return err
	}
	archive, err := env.Options.Bool("archive", false)
	if err != nil {
		return err
	}
	archiveDir, err := env.Options.String("archive_dir", "~/.claude/archives")
	if err != nil {
		return err
	}
	archiveDir = env.Expand(archiveDir)
	projects := env.Expand(projectsOpt)
	if policy == "skip" {
		return tasks.Skip("policy = \"skip\": sessions kept")
	}

	root, err := fsutil.Guard{Home: env.Home}.Open(projects, explicit)
	if errors.Is(err, fs.ErrNotExist) {
		return tasks.Skip("no sessions: %s does not exist", cleanupTilde(env, projects))
	}
	if err != nil {
		return env.Options.OptionError("projects", projectsOpt, err.Error(), "a folder inside the home directory, or one configured explicitly")
	}
	all, walkErrs, err := findSessions(ctx, root.Path)
	if err != nil {
		return err
	}
	if len(walkErrs) > 0 {
		env.Warn("sessions: could not read %s: %v", cleanupPlural(len(walkErrs), "path", "paths"), walkErrs[0])
	}
	goes := reportSessions(env, all)
	if len(goes) == 0 {
		return tasks.Skip("no implemented sessions to clean")
	}
	var bytes int64
	var paths []string
	for _, s := range goes {
		bytes += s.logSize + s.sideSize
		paths = append(paths, s.files()...)
	}
	what := fmt.Sprintf("%s (%s)", cleanupPlural(len(goes), "implemented session", "implemented sessions"), fsutil.FormatBytes(bytes))
	verb := "delete"
	if archive {
		verb = "archive into " + cleanupTilde(env, archiveDir) + " and delete"
	}

	if env.DryRun {
		env.Show(sessionTable(env, root.Path, goes))
		out, err := root.Remove(ctx, paths, true)
		if err != nil {
			return err
		}
		var b strings.Builder
		for _, r := range out.Removed {
			fmt.Fprintf(&b, "would delete %s (%s)\n", cleanupTilde(env, r.Path), fsutil.FormatBytes(r.Bytes))
		}
		for _, e := range out.Errors {
			fmt.Fprintf(&b, "would fail: %v\n", e)
		}
		env.Show(b.String())
		env.Stat("dry run: would %s %s", verb, what)
		return nil
	}
	if policy == "ask" && !env.Interactive() && !env.Yes {
		return tasks.Skip("no terminal: kept %s (--yes or [task.sessions] policy = \"clean\" cleans without asking)", what)
	}
	env.Show(sessionTable(env, root.Path, goes))
	switch {
	case policy == "clean":
		fmt.Fprintf(env.Log, "policy = \"clean\": %s %s\n", verb, what)
	case env.Yes:
		fmt.Fprintf(env.Log, "--yes: %s %s\n", verb, what)
	default:
		q := tasks.Question[bool]{Text: fmt.Sprintf("%s the %s listed?", cleanupUpperFirst(verb), what)}
		yes, err := env.Prompt.Confirm(ctx, q)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Log, "%s %v\n", q.Text, yes)
		if !yes {
			return tasks.Decline("kept %s", what)
		}
	}

	if archive {
		name, packed, err := archiveSessions(env, root.Path, archiveDir, paths)
		if err != nil {
			return fmt.Errorf("archiving the sessions (nothing was deleted): %w", err)
		}
		env.Action("archived %s into %s (%s)", what, cleanupTilde(env, name), fsutil.FormatBytes(packed))
	}
	out, err := root.Remove(ctx, paths, false)
	if err != nil {
		return err
	}
	for _, r := range out.Removed {
		fmt.Fprintf(env.Log, "deleted %s (%s)\n", cleanupTilde(env, r.Path), fsutil.FormatBytes(r.Bytes))
	}
	if len(out.Errors) > 0 {
		env.Warn("sessions: could not delete %s: %v", cleanupPlural(len(out.Errors), "file", "files"), out.Errors[0])
	}
	env.Action("deleted %s, %s (%s)", cleanupPlural(len(goes), "implemented session", "implemented sessions"),
		cleanupPlural(len(out.Removed), "file", "files"), fsutil.FormatBytes(out.Bytes))
	return nil
}

// findSessions lists <root>/<project>/<id>.jsonl and their sidecars and
// reads the sidecars. Only regular files count; nothing is followed.
func findSessions(ctx context.Context, root string) ([]*session, []error, error) {
	var mu sync.Mutex
	byLog := map[string]*session{}
	get := func(log string) *session {
		s, ok := byLog[log]
		if !ok {
			s = &session{log: log}
			byLog[log] = s
		}
		return s
	}
	opt := fsutil.Options{
		MaxDepth: 2,
		Filter: func(e *fsutil.Entry) bool {
			if e.IsDir() {
				return e.Depth == 1
			}
			return e.Depth == 2 && e.IsRegular() && (strings.HasSuffix(e.Name, ".jsonl") || strings.HasSuffix(e.Name, ".jsonl"+SidecarSuffix))
		},
	}
	res, err := fsutil.Walk(ctx, root, opt, func(e *fsutil.Entry) {
		if e.IsDir() {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if log, ok := LogPath(e.Path); ok {
			s := get(log)
			s.sidecar, s.sideSize = true, e.Size
			return
		}
		s := get(e.Path)
		s.hasLog, s.logSize = true, e.Size
	})
	if err != nil {
		return nil, nil, err
	}
	out := make([]*session, 0, len(byLog))
	for _, s := range byLog {
		if s.sidecar {
			sc, _, err := ReadSidecar(s.log)
			s.sc, s.bad = sc, bareError(err)
			if !s.hasLog && err == nil {
				// The log's name exists but is no regular file (a link,
				// a folder): not a session this task manages.
				if _, lerr := os.Lstat(s.log); lerr == nil {
					s.bad = errors.New("its log is not a regular file")
				}
			}
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *session) int { return strings.Compare(a.log, b.log) })
	return out, res.Errors, nil
}

// reportSessions records the counts per stage and the sidecars left alone,
// and returns the sessions that may go: implemented ones.
func reportSessions(env *tasks.Env, all []*session) []*session {
	counts := map[Stage]int{}
	var size int64
	var goes, orphans, bad, unknown []*session
	for _, s := range all {
		switch {
		case s.bad != nil:
			bad = append(bad, s)
			continue
		case !s.stage().Valid():
			unknown = append(unknown, s)
			continue
		case s.stage() == StageImplemented:
			goes = append(goes, s)
		case !s.hasLog:
			orphans = append(orphans, s)
			continue
		}
		if s.hasLog {
			counts[s.stage()]++
			size += s.logSize
		}
	}
	var parts []string
	for _, st := range Stages {
		parts = append(parts, fmt.Sprintf("%d %s", counts[st], st))
	}
	env.Stat("sessions: %s (%s of logs)", strings.Join(parts, " · "), fsutil.FormatBytes(size))
	if n := len(goes) - countLogs(goes); n > 0 {
		fmt.Fprintf(env.Log, "%s marked implemented whose log is gone: the sidecar goes alone\n", cleanupPlural(n, "sidecar", "sidecars"))
	}
	for _, group := range []struct {
		list      []*session
		one, many string
	}{
		{bad, "sidecar left alone", "sidecars left alone"},
		{unknown, "sidecar has an unknown lifecycle_stage", "sidecars have an unknown lifecycle_stage"},
		{orphans, "sidecar has lost its session log (not implemented, so kept)", "sidecars have lost their session logs (not implemented, so kept)"},
	} {
		if len(group.list) == 0 {
			continue
		}
		env.Warn("sessions: %s: %s", cleanupPlural(len(group.list), group.one, group.many), firstSidecars(env, group.list))
		for _, s := range group.list {
			line := cleanupTilde(env, SidecarPath(s.log))
			if s.bad != nil {
				line += ": " + s.bad.Error()
			}
			fmt.Fprintf(env.Log, "  kept %s\n", line)
		}
	}
	return goes
}

// bareError drops the path from a sidecar error: the path is shown
// beside it.
func bareError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}

func countLogs(list []*session) int {
	n := 0
	for _, s := range list {
		if s.hasLog {
			n++
		}
	}
	return n
}

func firstSidecars(env *tasks.Env, list []*session) string {
	var names []string
	for i, s := range list {
		if i == 3 {
			names = append(names, fmt.Sprintf("and %d more (see the log)", len(list)-3))
			break
		}
		name := cleanupTilde(env, SidecarPath(s.log))
		if s.bad != nil {
			name += " (" + s.bad.Error() + ")"
		}
		names = append(names, name)
	}
	return strings.Join(names, ", ")
}

func sessionTable(env *tasks.Env, root string, goes []*session) string {
	rows := [][]string{{"project", "session", "implemented", "size", "goes"}}
	for _, s := range goes {
		rel, _ := filepath.Rel(root, s.log)
		project, id := filepath.Split(rel)
		when := "-"
		if t, ok := s.sc.Reached(StageImplemented); ok {
			when = t.Local().Format("2006-01-02")
		}
		what := "log + sidecar"
		if !s.hasLog {
			what = "sidecar (log is gone)"
		}
		rows = append(rows, []string{strings.TrimSuffix(project, "/"), strings.TrimSuffix(id, ".jsonl"), when, fsutil.FormatBytes(s.logSize + s.sideSize), what})
	}
	return fsutil.Table(rows)
}

// archiveSessions packs paths (relative to root inside the archive) into
// a new tar.gz under dir, written to a temporary file, synced, read back
// and checked, then renamed into place. It returns the archive's path and
// size. Files are opened without following links.
func archiveSessions(env *tasks.Env, root, dir string, paths []string) (string, int64, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", 0, err
	}
	name := filepath.Join(dir, "sessions-"+env.Now().Format("20060102-150405")+".tar.gz")
	for i := 2; ; i++ {
		if _, err := os.Lstat(name); errors.Is(err, fs.ErrNotExist) {
			break
		}
		name = filepath.Join(dir, fmt.Sprintf("sessions-%s-%d.tar.gz", env.Now().Format("20060102-150405"), i))
	}
	tmp, err := os.CreateTemp(dir, ".sessions-*.tar.gz.tmp")
	if err != nil {
		return "", 0, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	want := map[string]int64{}
	zw := gzip.NewWriter(tmp)
	tw := tar.NewWriter(zw)
	for _, p := range paths {
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return "", 0, err
		}
		n, err := archiveAddFile(tw, p, rel)
		if err != nil {
			return "", 0, err
		}
		want[rel] = n
	}
	if err := tw.Close(); err != nil {
		return "", 0, err
	}
	if err := zw.Close(); err != nil {
		return "", 0, err
	}
	if err := tmp.Sync(); err != nil {
		return "", 0, err
	}
	if err := archiveCheck(tmp.Name(), want); err != nil {
		return "", 0, fmt.Errorf("the archive does not read back: %w", err)
	}
	fi, err := tmp.Stat()
	if err != nil {
		return "", 0, err
	}
	if err := tmp.Close(); err != nil {
		return "", 0, err
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return "", 0, err
	}
	return name, fi.Size(), nil
}

func archiveAddFile(tw *tar.Writer, path, rel string) (int64, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("%s is not a regular file", path)
	}
	hdr, err := tar.FileInfoHeader(fi, "")
	if err != nil {
		return 0, err
	}
	hdr.Name = filepath.ToSlash(rel)
	if err := tw.WriteHeader(hdr); err != nil {
		return 0, err
	}
	n, err := io.Copy(tw, io.LimitReader(f, fi.Size()))
	if err != nil {
		return 0, err
	}
	if n != fi.Size() {
		return 0, fmt.Errorf("%s changed while it was archived", path)
	}
	return n, nil
}

// checkArchive reads the archive back and compares names and sizes.
func archiveCheck(path string, want map[string]int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	got := map[string]int64{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		n, err := io.Copy(io.Discard, tr)
		if err != nil {
			return err
		}
		got[hdr.Name] = n
	}
	for name, size := range want {
		if got[filepath.ToSlash(name)] != size {
			return fmt.Errorf("%s: %d bytes in the archive, %d on disk", name, got[filepath.ToSlash(name)], size)
		}
	}
	if len(got) != len(want) {
		return fmt.Errorf("%s in the archive, %d expected", cleanupPlural(len(got), "file", "files"), len(want))
	}
	return nil
}

// The helpers below are shared by sessions and backups; their names start
// with cleanup so the other tasks of this package keep their own.

// cleanupChoice reads a string option that must be one of allowed.
func cleanupChoice(env *tasks.Env, key, def string, allowed ...string) (string, error) {
	v, err := env.Options.String(key, def)
	if err != nil {
		return "", err
	}
	if !slices.Contains(allowed, v) {
		q := make([]string, len(allowed))
		for i, a := range allowed {
			q[i] = fmt.Sprintf("%q", a)
		}
		return "", env.Options.OptionError(key, v, "not a known value", strings.Join(q, ", "))
	}
	return v, nil
}

func cleanupTilde(env *tasks.Env, p string) string { return fsutil.Tilde(env.Home, p) }

func cleanupPlural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func cleanupUpperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
