package nixos

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// CopyLog follows `nix copy --log-format internal-json -v`: how many paths
// of how many are copied, how many bytes (NAR bytes) of how many, at which
// rate, which paths are on their way now, and Nix's errors (through a
// BuildLog, which also makes the readable text for the task's log).
//
// Nix announces the copy as an activity "copying N paths" (actCopyPaths)
// and each path as an activity of its own (actCopyPath). Newer Nix
// reports progress on both (paths done of expected; bytes done of the
// path's NAR size); Nix 2.8 reports none, so a path counts as copied, with
// its NAR size from the plan the copy task makes first, when its activity
// stops. It is not safe for concurrent use.
type CopyLog struct {
	// Now is the clock of the rate (time.Now by default).
	Now func() time.Time

	log       *BuildLog
	sizes     map[string]int64 // NAR size by store path, where known
	planPaths int              // paths the plan says are missing there; 0 unknown
	planBytes int64            // their NAR bytes; 0 unknown
	announced int              // N of Nix's "copying N paths"
	copyAct   int64            // that activity's id
	reported  bool             // Nix reported progress on it (newer Nix)
	repDone   int
	repTotal  int
	acts      map[int64]*copying
	order     []int64 // running copies, in start order
	done      int
	doneBytes int64
	began     time.Time // the first path's start
}

// copying is one path on its way.
type copying struct {
	path, name  string
	done, total int64
	start       time.Time
}

// NewCopyLog returns a CopyLog for a copy whose plan found paths missing
// paths of bytes NAR bytes there (0: unknown), sizes their NAR sizes.
func NewCopyLog(sizes map[string]int64, paths int, bytes int64) *CopyLog {
	return &CopyLog{Now: time.Now, log: NewBuildLog(), sizes: sizes, planPaths: paths, planBytes: bytes, copyAct: -1, acts: map[int64]*copying{}}
}

// Line takes one line of Nix's standard error and returns its readable
// text for the log ("" for none).
func (l *CopyLog) Line(line string) string {
	text := l.log.Line(line)
	raw, ok := strings.CutPrefix(line, "@nix ")
	if !ok {
		return text
	}
	var e event
	if json.Unmarshal([]byte(raw), &e) != nil {
		return text
	}
	now := l.Now()
	switch e.Action {
	case "start":
		switch e.Type {
		case actCopyPaths:
			if n, ok := copyingPaths(e.Text); ok {
				l.announced, l.copyAct = n, e.ID
			}
		case actCopyPath:
			if _, dup := l.acts[e.ID]; dup || len(l.acts) >= maxActivities {
				break
			}
			p := fieldString(e.Fields, 0)
			l.acts[e.ID] = &copying{path: p, name: storeName(p), total: l.sizes[p], start: now}
			l.order = append(l.order, e.ID)
			if l.began.IsZero() {
				l.began = now
			}
		}
	case "result":
		if e.Type != resProgress {
			break
		}
		if c := l.acts[e.ID]; c != nil {
			c.done = fieldInt(e.Fields, 0)
			if t := fieldInt(e.Fields, 1); t > 0 {
				c.total = t
			}
		} else if e.ID == l.copyAct {
			l.reported, l.repDone, l.repTotal = true, int(fieldInt(e.Fields, 0)), int(fieldInt(e.Fields, 1))
		}
	case "stop":
		c := l.acts[e.ID]
		if c == nil {
			break
		}
		delete(l.acts, e.ID)
		for i, id := range l.order {
			if id == e.ID {
				l.order = append(l.order[:i], l.order[i+1:]...)
				break
			}
		}
		l.done++
		size := c.total
		if size == 0 {
			size = c.done
		}
		l.doneBytes += size
	}
	return text
}

// copyingPaths reads Nix's "copying 3 paths" (and "copying 1 path").
func copyingPaths(text string) (int, bool) {
	rest, ok := strings.CutPrefix(text, "copying ")
	if !ok {
		return 0, false
	}
	num, unit, ok := strings.Cut(rest, " ")
	if !ok || (unit != "paths" && unit != "path") {
		return 0, false
	}
	n, err := strconv.Atoi(num)
	return n, err == nil
}

// counts are the paths copied and to copy (0: unknown), and the bytes.
func (l *CopyLog) counts() (done, total int, bytes int64) {
	done, total = l.done, l.planPaths
	if l.announced > 0 {
		total = l.announced
	}
	if l.reported {
		done = l.repDone
		if l.repTotal > 0 {
			total = l.repTotal
		}
	}
	bytes = l.doneBytes
	for _, id := range l.order {
		bytes += l.acts[id].done
	}
	return done, total, bytes
}

// rate is the bytes per second since the first path began; 0 before half
// a second has passed.
func (l *CopyLog) rate(bytes int64, now time.Time) float64 {
	if l.began.IsZero() || bytes <= 0 {
		return 0
	}
	secs := now.Sub(l.began).Seconds()
	if secs < 0.5 {
		return 0
	}
	return float64(bytes) / secs
}

// Progress is the copy as the screen and json show it, in the download
// fields of a build's progress: paths (Downloaded of ToDownload), NAR
// bytes (DownloadedBytes of DownloadBytes), and each path on its way.
func (l *CopyLog) Progress() tasks.BuildProgress {
	now := l.Now()
	done, total, bytes := l.counts()
	p := tasks.BuildProgress{Downloaded: done, ToDownload: total, DownloadedBytes: bytes, DownloadBytes: l.planBytes}
	for _, id := range l.order {
		c := l.acts[id]
		d := tasks.Download{Name: c.name, Done: c.done, Total: c.total, Start: c.start}
		if secs := now.Sub(c.start).Seconds(); secs >= 0.1 && c.done > 0 {
			d.Rate = float64(c.done) / secs
		}
		p.Downloads = append(p.Downloads, d)
	}
	return p
}

// Status is the one-line status: "copying 3/12 paths · 4.1/20.0 MiB ·
// 2.0 MiB/s" (the parts that are known).
func (l *CopyLog) Status() string {
	done, total, bytes := l.counts()
	var parts []string
	switch {
	case total > 0:
		parts = append(parts, fmt.Sprintf("copying %d/%d paths", done, total))
	case done > 0 || len(l.order) > 0:
		parts = append(parts, fmt.Sprintf("copying: %d paths copied", done))
	default:
		return "copying: asking the host what it is missing"
	}
	switch {
	case l.planBytes > 0:
		parts = append(parts, bytePair(bytes, l.planBytes))
	case bytes > 0:
		parts = append(parts, humanBytes(bytes))
	}
	if r := l.rate(bytes, l.Now()); r > 0 {
		parts = append(parts, humanBytes(int64(r))+"/s")
	}
	return strings.Join(parts, " · ")
}

// bytePair is "4.1/20.0 MiB": both in the unit of the total.
func bytePair(n, total int64) string {
	t := humanBytes(total)
	i := strings.LastIndexByte(t, ' ')
	unit := t[i+1:]
	div := map[string]float64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}[unit]
	return fmt.Sprintf("%.1f/%s", float64(n)/div, t)
}

// Result is what was copied: paths, NAR bytes, and the rate over the
// whole copy.
func (l *CopyLog) Result() (paths int, bytes int64, rate float64) {
	done, _, b := l.counts()
	return done, b, l.rate(b, l.Now())
}

// ErrorReport is Nix's errors, as BuildLog.ErrorReport.
func (l *CopyLog) ErrorReport() string { return l.log.ErrorReport() }

// Warnings are Nix's warnings.
func (l *CopyLog) Warnings() []string { return l.log.Warnings() }
