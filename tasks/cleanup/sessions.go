package cleanup

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
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/internal/safefile"
	"github.com/rebuild-nixos/rebuild/internal/text"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/fsutil"
	"github.com/rebuild-nixos/rebuild/tasks/lifecycle"
)

// SessionsOptions are the options of [task.sessions].
//
// Only sessions whose sidecar says "implemented" go, each log with its
// sidecar; a sidecar marked implemented whose log is gone goes alone. A
// log without a sidecar is raw and stays; a sidecar that cannot be read,
// has an unknown stage, or has lost its log at an earlier stage stays
// and is reported. Without a terminal and without --yes, with policy
// "ask", nothing is deleted and the task is skipped. --yes deletes the
// implemented sessions (archives them first with archive = true).
// --dry-run lists exactly the files that would go and deletes nothing.
type SessionsOptions struct {
	Projects   string `option:"projects" doc:"where the session logs are: <projects>/<project>/<id>.jsonl, each with its sidecar <id>.jsonl.lifecycle.json; only the two levels below it are looked at"`
	Policy     string `option:"policy" doc:"\"ask\": list the implemented sessions and ask (without a terminal: keep them); \"clean\": delete (or archive) them without asking; \"skip\": keep them"`
	Archive    bool   `option:"archive" doc:"pack the implemented sessions, logs and sidecars, into <archive_dir>/sessions-YYYYMMDD-HHMMSS.tar.gz, check the archive, and only then delete them"`
	ArchiveDir string `option:"archive_dir" doc:"where archives go"`
	// Given: a projects folder configured explicitly may be outside the
	// home directory.
	Given tasks.Given
}

// DefaultSessionsOptions are sessions' defaults.
func DefaultSessionsOptions() SessionsOptions {
	return SessionsOptions{Projects: "~/.claude/projects", Policy: "ask", ArchiveDir: "~/.claude/archives"}
}

// Check refuses an unknown policy.
func (o SessionsOptions) Check() error {
	return tasks.OneOf("policy", o.Policy, "ask", "clean", "skip")
}

// Sessions is the sessions task.
type Sessions struct{ Options SessionsOptions }

// Configure implements tasks.Configurable.
func (s *Sessions) Configure(t config.Task) (tasks.Task, error) {
	c := *s
	c.Options = DefaultSessionsOptions()
	err := tasks.DecodeOptions(t, &c.Options)
	return &c, err
}

// TaskOptions implements tasks.Configurable.
func (s *Sessions) TaskOptions() any { return s.Options }

// session is one session log and its sidecar, as found.
type session struct {
	log      string // the log's path (it may be missing)
	hasLog   bool
	sidecar  bool // the sidecar exists
	sc       lifecycle.Sidecar
	bad      error // the sidecar could not be read
	logSize  int64
	sideSize int64
	// logNode and sideNode are the files as listed: what may be deleted
	// is what the table showed, not what is at those paths later.
	logNode, sideNode fsutil.Listed
}

func (s *session) stage() lifecycle.Stage {
	if !s.sidecar {
		return lifecycle.StageRaw
	}
	return s.sc.Stage
}

// files are the session's files that exist, as listed: the log, then
// the sidecar.
func (s *session) files() []fsutil.Listed {
	var out []fsutil.Listed
	if s.hasLog {
		out = append(out, s.logNode)
	}
	if s.sidecar {
		out = append(out, s.sideNode)
	}
	return out
}

// Run finds the sessions, reports how many are at each stage, lists the
// implemented ones and deletes (or archives) them when agreed. See
// SessionsOptions.
func (s *Sessions) Run(ctx context.Context, env *tasks.Env) error {
	o := s.Options
	projectsOpt, explicit := o.Projects, o.Given.Has("projects")
	policy, archive := o.Policy, o.Archive
	archiveDir := env.Expand(o.ArchiveDir)
	projects := env.Expand(projectsOpt)
	if policy != "ask" || env.Yes || env.DryRun || !env.Interactive() {
		// No question: the cleanup plan does not wait for this task.
		env.Cleanup.Withdraw(env.Name)
	}
	if policy == "skip" {
		return tasks.Skip("policy = \"skip\": sessions kept")
	}

	root, err := fsutil.Guard{Home: env.Home}.Open(projects, explicit)
	if errors.Is(err, fs.ErrNotExist) {
		return tasks.Skip("no sessions: %s does not exist", fsutil.Tilde(env.Home, projects))
	}
	if err != nil {
		return fmt.Errorf("%s: task.sessions.projects = %q: %v; allowed: a folder inside the home directory, or one configured explicitly",
			o.Given.Source("projects"), projectsOpt, err)
	}
	all, walkErrs, err := findSessions(ctx, root.Path)
	if err != nil {
		return err
	}
	if len(walkErrs) > 0 {
		env.Warn("sessions: could not read %s: %v", text.Plural(len(walkErrs), "path", "paths"), walkErrs[0])
	}
	goes := reportSessions(env, all)
	if len(goes) == 0 {
		return tasks.Skip("no implemented sessions to clean")
	}
	batch := newSessionBatch(goes)
	verb := "delete"
	if archive {
		verb = "archive into " + fsutil.Tilde(env.Home, archiveDir) + " and delete"
	}

	if env.DryRun {
		return dryRunSessions(ctx, env, root, batch, verb)
	}
	if policy == "ask" && !env.Interactive() && !env.Yes {
		return tasks.Skip("no terminal: kept %s (--yes or [task.sessions] policy = \"clean\" cleans without asking)", batch.what)
	}
	switch {
	case policy == "clean":
		env.Show(sessionTable(env, root.Path, batch.goes))
		fmt.Fprintf(env.Log, "policy = \"clean\": %s %s\n", verb, batch.what)
	case env.Yes:
		env.Show(sessionTable(env, root.Path, batch.goes))
		fmt.Fprintf(env.Log, "--yes: %s %s\n", verb, batch.what)
	default:
		// The person sees the sessions in the one cleanup plan.
		fmt.Fprintln(env.Log, sessionTable(env, root.Path, batch.goes))
		batch, err = askSessions(ctx, env, root, all, batch, verb)
		if err != nil {
			return err
		}
	}
	return removeSessions(ctx, env, root, batch, archive, archiveDir)
}

// PlanCleanup implements tasks.CleanupPlanner: the sessions implemented
// before this run, so the plan can be answered while the system builds.
// Sessions that learn-review marks implemented in this run were not in
// that plan: they stay until the next run's.
func (s *Sessions) PlanCleanup(ctx context.Context, env *tasks.Env) (tasks.CleanupPlan, error) {
	o := s.Options
	if o.Policy != "ask" {
		return tasks.CleanupPlan{}, tasks.Skip("policy = %q: nothing to ask", o.Policy)
	}
	root, err := fsutil.Guard{Home: env.Home}.Open(env.Expand(o.Projects), o.Given.Has("projects"))
	if err != nil {
		return tasks.CleanupPlan{}, err
	}
	all, _, err := findSessions(ctx, root.Path)
	if err != nil {
		return tasks.CleanupPlan{}, err
	}
	goes := reportSessions(env, all)
	if len(goes) == 0 {
		return tasks.CleanupPlan{}, tasks.Skip("no implemented sessions to clean")
	}
	verb := "delete"
	if o.Archive {
		verb = "archive into " + fsutil.Tilde(env.Home, env.Expand(o.ArchiveDir)) + " and delete"
	}
	fmt.Fprintln(env.Log, sessionTable(env, root.Path, goes))
	return sessionPlan(env, root.Path, all, goes, verb), nil
}

// sessionBatch is the sessions that go, their files, and what they are
// as the person is told: "3 implemented sessions (12 MB)".
type sessionBatch struct {
	goes  []*session
	paths []fsutil.Listed
	bytes int64
	what  string
}

func newSessionBatch(goes []*session) sessionBatch {
	b := sessionBatch{goes: goes}
	for _, s := range goes {
		b.bytes += s.logSize + s.sideSize
		b.paths = append(b.paths, s.files()...)
	}
	b.what = fmt.Sprintf("%s (%s)", text.Plural(len(goes), "implemented session", "implemented sessions"), fsutil.FormatBytes(b.bytes))
	return b
}

// dryRunSessions shows the sessions and the files that would be deleted,
// deleting nothing.
func dryRunSessions(ctx context.Context, env *tasks.Env, root *fsutil.Root, batch sessionBatch, verb string) error {
	env.Show(sessionTable(env, root.Path, batch.goes))
	out, err := root.RemoveListed(ctx, batch.paths, true)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, r := range out.Removed {
		fmt.Fprintf(&b, "would delete %s (%s)\n", fsutil.Tilde(env.Home, r.Path), fsutil.FormatBytes(r.Bytes))
	}
	for _, e := range out.Errors {
		fmt.Fprintf(&b, "would fail: %v\n", e)
	}
	env.Show(b.String())
	env.Stat("dry run: would %s %s", verb, batch.what)
	return nil
}

// askSessions submits the sessions to the run's cleanup plan and returns
// the batch the person lets go (none: declined).
func askSessions(ctx context.Context, env *tasks.Env, root *fsutil.Root, all []*session, batch sessionBatch, verb string) (sessionBatch, error) {
	picked, err := env.Cleanup.Submit(ctx, env, sessionPlan(env, root.Path, all, batch.goes, verb))
	if err != nil {
		return sessionBatch{}, err
	}
	var approved []*session
	for _, i := range picked {
		if i >= 0 && i < len(batch.goes) {
			approved = append(approved, batch.goes[i])
		}
	}
	if len(approved) == 0 {
		return sessionBatch{}, tasks.Decline("kept %s", batch.what)
	}
	if len(approved) < len(batch.goes) {
		batch = newSessionBatch(approved)
	}
	return batch, nil
}

// removeSessions archives the batch's files first when asked to (a failed
// archive deletes nothing), then deletes them.
func removeSessions(ctx context.Context, env *tasks.Env, root *fsutil.Root, batch sessionBatch, archive bool, archiveDir string) error {
	if archive {
		name, packed, err := archiveSessions(env, root.Path, archiveDir, batch.paths)
		if err != nil {
			return fmt.Errorf("archiving the sessions (nothing was deleted): %w", err)
		}
		env.Action("archived %s into %s (%s)", batch.what, fsutil.Tilde(env.Home, name), fsutil.FormatBytes(packed))
	}
	out, err := root.RemoveListed(ctx, batch.paths, false)
	if err != nil {
		return err
	}
	for _, r := range out.Removed {
		fmt.Fprintf(env.Log, "deleted %s (%s)\n", fsutil.Tilde(env.Home, r.Path), fsutil.FormatBytes(r.Bytes))
	}
	notDeleted(env, "sessions", out.Errors)
	env.Action("deleted %s, %s (%s)", text.Plural(len(batch.goes), "implemented session", "implemented sessions"),
		text.Plural(len(out.Removed), "file", "files"), fsutil.FormatBytes(out.Bytes))
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
			return e.Depth == 2 && e.IsRegular() && (strings.HasSuffix(e.Name, ".jsonl") || strings.HasSuffix(e.Name, ".jsonl"+lifecycle.SidecarSuffix))
		},
	}
	res, err := fsutil.Walk(ctx, root, opt, func(e *fsutil.Entry) {
		if e.IsDir() {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if log, ok := lifecycle.LogPath(e.Path); ok {
			s := get(log)
			s.sidecar, s.sideSize, s.sideNode = true, e.Size, e.Listed()
			return
		}
		s := get(e.Path)
		s.hasLog, s.logSize, s.logNode = true, e.Size, e.Listed()
	})
	if err != nil {
		return nil, nil, err
	}
	out := make([]*session, 0, len(byLog))
	for _, s := range byLog {
		if s.sidecar {
			sc, _, err := lifecycle.ReadSidecar(s.log)
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
	counts := map[lifecycle.Stage]int{}
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
		case s.stage() == lifecycle.StageImplemented:
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
	for _, st := range lifecycle.Stages {
		parts = append(parts, fmt.Sprintf("%d %s", counts[st], st))
	}
	env.Stat("sessions: %s (%s of logs)", strings.Join(parts, " · "), fsutil.FormatBytes(size))
	if n := len(goes) - countLogs(goes); n > 0 {
		fmt.Fprintf(env.Log, "%s marked implemented whose log is gone: the sidecar goes alone\n", text.Plural(n, "sidecar", "sidecars"))
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
		env.Warn("sessions: %s: %s", text.Plural(len(group.list), group.one, group.many), firstSidecars(env, group.list))
		for _, s := range group.list {
			line := fsutil.Tilde(env.Home, lifecycle.SidecarPath(s.log))
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
		name := fsutil.Tilde(env.Home, lifecycle.SidecarPath(s.log))
		if s.bad != nil {
			name += " (" + s.bad.Error() + ")"
		}
		names = append(names, name)
	}
	return strings.Join(names, ", ")
}

// sessionPlan is the cleanup plan's part for the sessions: one line per
// implemented session (line i is goes[i]), proposed to go; then, staying
// whatever the answer, the others by stage.
func sessionPlan(env *tasks.Env, root string, all, goes []*session, verb string) tasks.CleanupPlan {
	plan := tasks.CleanupPlan{Title: "Claude sessions"}
	for _, s := range goes {
		rel, _ := filepath.Rel(root, s.log)
		reason := "implemented"
		if t, ok := s.sc.Reached(lifecycle.StageImplemented); ok {
			reason += " " + t.Local().Format("2006-01-02")
		}
		if !s.hasLog {
			reason += "; the log is gone, the sidecar goes"
		}
		reason += ": " + verb
		plan.Lines = append(plan.Lines, tasks.CleanupLine{Label: strings.TrimSuffix(rel, ".jsonl"), Bytes: s.logSize + s.sideSize, Goes: true, Reason: reason, Key: s.log})
	}
	counts, sizes := map[lifecycle.Stage]int{}, map[lifecycle.Stage]int64{}
	for _, s := range all {
		if s.hasLog && s.bad == nil && s.stage().Valid() && s.stage() != lifecycle.StageImplemented {
			counts[s.stage()]++
			sizes[s.stage()] += s.logSize + s.sideSize
		}
	}
	for _, st := range lifecycle.Stages {
		if counts[st] > 0 {
			plan.Lines = append(plan.Lines, tasks.CleanupLine{Label: text.Plural(counts[st], "session", "sessions") + " " + string(st),
				Bytes: sizes[st], Fixed: true, Reason: "not implemented yet"})
		}
	}
	return plan
}

func sessionTable(env *tasks.Env, root string, goes []*session) string {
	rows := [][]string{{"project", "session", "implemented", "size", "goes"}}
	for _, s := range goes {
		rel, _ := filepath.Rel(root, s.log)
		project, id := filepath.Split(rel)
		when := "-"
		if t, ok := s.sc.Reached(lifecycle.StageImplemented); ok {
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

// archiveSessions packs files (relative to root inside the archive) into
// a new tar.gz under dir, written to a temporary file, synced, read back
// and checked, then renamed into place. It returns the archive's path and
// size. Files are opened without following links, and each must still be
// the file listed.
func archiveSessions(env *tasks.Env, root, dir string, files []fsutil.Listed) (string, int64, error) {
	if err := safefile.MkdirAll(dir, 0o700); err != nil {
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
	if err := safefile.GiveLike(tmp, nil, dir); err != nil {
		return "", 0, err
	}
	want := map[string]int64{}
	zw := gzip.NewWriter(tmp)
	tw := tar.NewWriter(zw)
	for _, f := range files {
		rel, err := filepath.Rel(root, f.Path)
		if err != nil {
			return "", 0, err
		}
		n, err := archiveAddFile(tw, f, rel)
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

func archiveAddFile(tw *tar.Writer, listed fsutil.Listed, rel string) (int64, error) {
	path := listed.Path
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
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
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || uint64(st.Dev) != listed.Dev || uint64(st.Ino) != listed.Ino {
		return 0, &fs.PathError{Op: "archive", Path: path, Err: fsutil.ErrChanged}
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
		return fmt.Errorf("%s in the archive, %d expected", text.Plural(len(got), "file", "files"), len(want))
	}
	return nil
}
