package mcpusage

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks/claude/jsonl"
	"github.com/rebuild-nixos/rebuild/tasks/claude/logcursor"
)

// Usage is a token count by kind.
type Usage struct {
	Input      int64 `json:"input_tokens"`
	Output     int64 `json:"output_tokens"`
	CacheRead  int64 `json:"cache_read_input_tokens"`
	CacheWrite int64 `json:"cache_creation_input_tokens"`
}

// Prices in dollars per million tokens (Claude Sonnet list prices).
const (
	PriceInput      = 3.00
	PriceOutput     = 15.00
	PriceCacheRead  = 0.30
	PriceCacheWrite = 3.75
)

// Cost is the estimated price of u in dollars.
func (u Usage) Cost() float64 {
	return (float64(u.Input)*PriceInput + float64(u.Output)*PriceOutput +
		float64(u.CacheRead)*PriceCacheRead + float64(u.CacheWrite)*PriceCacheWrite) / 1e6
}

// Total is the sum of all four counts.
func (u Usage) Total() int64 { return u.Input + u.Output + u.CacheRead + u.CacheWrite }

func (u *Usage) add(o Usage) {
	u.Input += o.Input
	u.Output += o.Output
	u.CacheRead += o.CacheRead
	u.CacheWrite += o.CacheWrite
}

func (u Usage) div(n int64) Usage {
	return Usage{u.Input / n, u.Output / n, u.CacheRead / n, u.CacheWrite / n}
}

func maxUsage(a, b Usage) Usage {
	return Usage{max(a.Input, b.Input), max(a.Output, b.Output), max(a.CacheRead, b.CacheRead), max(a.CacheWrite, b.CacheWrite)}
}

// ServerUse is how one server was used in the window.
type ServerUse struct {
	Invocations int64
	Sessions    int
	// Usage is the tokens of the messages that called the server; a
	// message calling several servers is split evenly between them.
	Usage Usage
}

// Session is one session log with at least one line in the window.
type Session struct {
	ID      string // the log's file name without .jsonl
	Path    string // the log file
	Project string // the working directory recorded in the log ("" if none)
	Lines   int64  // lines in the window
	// Servers maps a server name to its invocations in this session.
	Servers map[string]int64
}

// Scan is the result of reading the session logs.
type Scan struct {
	Since time.Time
	Files int // logs opened (modified within the window)
	// Read is the bytes of session logs read by this scan: all of them,
	// or with Options.StateDir only those appended since the last scan.
	Read     int64
	Sessions []Session
	Servers  map[string]*ServerUse
	Stats    jsonl.Stats
	// Errors are logs that could not be read; the scan went on without them.
	Errors []error
}

// Options tune ScanDir.
type Options struct {
	// Since: lines older than this are ignored, logs not modified since
	// are not opened.
	Since time.Time
	// Workers read that many logs at once (default min(4, GOMAXPROCS)).
	Workers int
	// MaxLine is the longest line decoded (jsonl.DefaultMaxLine when 0).
	MaxLine int
	// Progress, when set, is called after each log with the number done
	// and the total.
	Progress func(done, total int)
	// StateDir, when set, keeps a record of each log read there (see
	// readRecord): a later scan reads only the bytes appended since.
	// Empty: every log is read whole.
	StateDir string
}

// Logs lists the session logs under dir (dir/<project>/<id>.jsonl), sorted.
// A missing dir is returned as an error satisfying errors.Is(err, fs.ErrNotExist).
func Logs(dir string) ([]string, error) {
	projects, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range projects {
		if !p.IsDir() {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(dir, p.Name()))
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".jsonl") {
				out = append(out, filepath.Join(dir, p.Name(), e.Name()))
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// ScanDir reads every session log under dir modified since o.Since. A
// missing dir is an error satisfying errors.Is(err, fs.ErrNotExist).
func ScanDir(ctx context.Context, dir string, o Options) (*Scan, error) {
	logs, err := Logs(dir)
	if err != nil {
		return nil, err
	}
	var recent []string
	var stats []cursor // of each recent log, as listed
	for _, p := range logs {
		if fi, err := os.Stat(p); err == nil && !fi.ModTime().Before(o.Since) {
			recent = append(recent, p)
			stats = append(stats, logcursor.Of(fi))
		}
	}
	st, err := openStore(ctx, o.StateDir)
	if err != nil {
		return nil, err
	}
	defer st.close()
	sc, err := scanFiles(ctx, st, recent, stats, o)
	if err == nil && st != nil {
		st.prune(logs)
		if err := st.save(); err != nil {
			sc.Errors = append(sc.Errors, err)
		}
	}
	return sc, err
}

// ScanFiles reads the given session logs, several at once.
func ScanFiles(ctx context.Context, paths []string, o Options) (*Scan, error) {
	st, err := openStore(ctx, o.StateDir)
	if err != nil {
		return nil, err
	}
	defer st.close()
	sc, err := scanFiles(ctx, st, paths, make([]cursor, len(paths)), o)
	if err == nil && st != nil {
		if err := st.save(); err != nil {
			sc.Errors = append(sc.Errors, err)
		}
	}
	return sc, err
}

// scanFiles reads the logs, with the records of st (nil: none), and puts
// their new records in st. stats are the logs as listed (zero: not
// looked at).
func scanFiles(ctx context.Context, st *store, paths []string, stats []cursor, o Options) (*Scan, error) {
	workers := o.Workers
	if workers <= 0 {
		workers = min(4, runtime.GOMAXPROCS(0))
	}
	type result struct {
		s     Session
		use   map[string]*ServerUse
		stats jsonl.Stats
		read  int64
		rec   *logRecord
		err   error
	}
	results := make([]result, len(paths))
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for range min(workers, max(1, len(paths))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				var r result
				r.s, r.use, r.stats, r.read, r.rec, r.err = scanLog(ctx, st.get(paths[i]), paths[i], stats[i], st.now(), o)
				results[i] = r
				if o.Progress != nil {
					mu.Lock()
					done++
					o.Progress(done, len(paths))
					mu.Unlock()
				}
			}
		}()
	}
feed:
	for i := range paths {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	sc := &Scan{Since: o.Since, Files: len(paths), Servers: map[string]*ServerUse{}}
	for i, r := range results {
		if r.err == nil {
			st.keep(paths[i], r.rec) // nil: the log is gone
		}
		sc.Stats = sc.Stats.Add(r.stats)
		sc.Read += r.read
		if r.err != nil {
			sc.Errors = append(sc.Errors, r.err)
			continue
		}
		if r.s.Lines == 0 {
			continue
		}
		sc.Sessions = append(sc.Sessions, r.s)
		for name, u := range r.use {
			su := sc.Servers[name]
			if su == nil {
				su = &ServerUse{}
				sc.Servers[name] = su
			}
			su.Invocations += u.Invocations
			su.Sessions++
			su.Usage.add(u.Usage)
		}
	}
	return sc, nil
}

// ServerOf returns the server of a tool name mcp__<server>__<tool>.
func ServerOf(tool string) (string, bool) {
	server, ok := serverOf([]byte(tool))
	return string(server), ok
}

// serverOf is ServerOf on the bytes of a line.
func serverOf(tool []byte) ([]byte, bool) {
	rest, ok := bytes.CutPrefix(tool, []byte("mcp__"))
	if !ok {
		return nil, false
	}
	server, _, ok := bytes.Cut(rest, []byte("__"))
	if !ok || len(server) == 0 {
		return nil, false
	}
	return server, true
}

// message gathers the lines of one API message: Claude Code writes one
// line per content block, each repeating the message's id and usage, and
// the lines of one message need not be adjacent (a tool_result, or a
// subagent's message, can come between them).
type message struct {
	usage Usage
	// servers it called and the tool uses counted, each once: a message
	// holds a few, so a list beats a map.
	servers []string
	tools   []string
}

// maxOpenMessages is how many messages of one log are held before those
// that called no server are let go: only those that did are counted, and
// a line of a let-go message arriving later starts it afresh with the
// usage it repeats.
const maxOpenMessages = 1 << 12

func scanLog(ctx context.Context, kept *logRecord, path string, stat cursor, now int64, o Options) (Session, map[string]*ServerUse, jsonl.Stats, int64, *logRecord, error) {
	l := newLogScan(path, o.Since)
	rec, tail, read, err := readRecord(ctx, kept, path, stat, now, o)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return l.session, l.use, jsonl.Stats{}, 0, nil, nil
		}
		return l.session, nil, jsonl.Stats{}, read, nil, err
	}
	stats := rec.Stats.Add(tail.Stats)
	if len(tail.Lines) == 0 && !rec.First.before(o.Since) {
		// The window holds every line: what they count was kept.
		l.session.Lines, l.session.Project = rec.Sum.Lines, rec.Sum.Project
		maps.Copy(l.session.Servers, rec.Sum.Servers)
		for name, u := range rec.Sum.Use {
			l.use[name] = &ServerUse{Invocations: u.Invocations, Usage: u.Usage}
		}
		return l.session, l.use, stats, read, rec, nil
	}
	lines, err := rec.lines()
	if err != nil { // a damaged record: read the log again
		more := int64(0)
		if rec, tail, more, err = readRecord(ctx, nil, path, stat, now, o); err != nil {
			return l.session, nil, jsonl.Stats{}, read, nil, err
		}
		read += more
		stats = rec.Stats.Add(tail.Stats)
		lines = rec.Lines
	}
	for i := range lines {
		l.replay(&lines[i])
	}
	for i := range tail.Lines {
		l.replay(&tail.Lines[i])
	}
	for _, m := range l.open {
		l.settle(m)
	}
	return l.session, l.use, stats, read, rec, nil
}

func newLogScan(path string, since time.Time) *logScan {
	return &logScan{
		since:   since,
		session: Session{ID: strings.TrimSuffix(filepath.Base(path), ".jsonl"), Path: path, Servers: map[string]int64{}},
		use:     map[string]*ServerUse{},
		open:    map[string]*message{},
		limit:   maxOpenMessages,
	}
}

// summarize is what all the (decoded) lines of rec count, whatever the
// window.
func summarize(rec *logRecord) logSum {
	l := newLogScan(rec.Path, time.Time{})
	l.all = true
	for i := range rec.Lines {
		l.replay(&rec.Lines[i])
	}
	return l.summary()
}

// summary settles the messages still open and returns what the lines
// replayed count.
func (l *logScan) summary() logSum {
	for _, m := range l.open {
		l.settle(m)
	}
	return logSum{Lines: l.session.Lines, Project: l.session.Project, Servers: l.session.Servers, Use: l.use}
}

// logScan is the state of reading one session log.
type logScan struct {
	since   time.Time
	session Session
	use     map[string]*ServerUse
	// open are the messages by id, counted once when the log has been
	// read (settle); limit is how many may be open before those that
	// called no server are let go.
	open  map[string]*message
	limit int
	slab  []message // where open messages are allocated, many at once
	all   bool      // every line counts, whatever its time
}

// settle adds a message's usage to the servers it called, shared evenly.
func (l *logScan) settle(m *message) {
	if len(m.servers) > 0 {
		share := m.usage.div(int64(len(m.servers)))
		for _, name := range m.servers {
			l.use[name].Usage.add(share)
		}
	}
}

// messageOf returns the open message of that id, or opens it. A line
// without an id is a message of its own, not kept open.
func (l *logScan) messageOf(id string) *message {
	if id == "" {
		return &message{}
	}
	if cur := l.open[id]; cur != nil {
		return cur
	}
	if len(l.open) >= l.limit {
		for k, m := range l.open {
			if len(m.servers) == 0 {
				delete(l.open, k)
			}
		}
		l.limit = max(maxOpenMessages, 2*len(l.open))
	}
	if len(l.slab) == cap(l.slab) {
		l.slab = make([]message, 0, 256)
	}
	l.slab = append(l.slab, message{})
	cur := &l.slab[len(l.slab)-1]
	l.open[id] = cur
	return cur
}

// replay counts one recorded line: lines before the window count for
// nothing.
func (l *logScan) replay(line *lineRec) {
	if !l.all && line.before(l.since) {
		return
	}
	l.session.Lines += line.Count
	if l.session.Project == "" && line.Cwd != "" {
		l.session.Project = line.Cwd
	}
	if !line.Msg {
		return
	}
	cur := l.messageOf(line.MsgID)
	if line.HasUsage {
		cur.usage = maxUsage(cur.usage, line.Usage)
	}
	for _, c := range line.Calls {
		l.countCall(cur, c)
	}
	if line.MsgID == "" {
		l.settle(cur)
	}
}

// countCall counts a call of an MCP server once per tool-use id, however
// many lines of the message repeat it.
func (l *logScan) countCall(cur *message, it call) {
	server := it.Server
	if it.ToolID != "" {
		if slices.Contains(cur.tools, it.ToolID) {
			return
		}
		cur.tools = append(cur.tools, it.ToolID)
	}
	if !slices.Contains(cur.servers, server) {
		cur.servers = append(cur.servers, server)
	}
	l.session.Servers[server]++
	u := l.use[server]
	if u == nil {
		u = &ServerUse{}
		l.use[server] = u
	}
	u.Invocations++
}
