// Package lifecycle owns the session lifecycle sidecars
// (<id>.jsonl.lifecycle.json beside each Claude session log) that the
// claude family writes as it analyzes and learns, and the cleanup family
// reads to know which sessions may go. It is a leaf: a family may import
// it, it imports no family. Stages only move forward.
package lifecycle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks/fsutil"
	"golang.org/x/sys/unix"
)

// Stage is where a session is in its lifecycle. Stages only move forward:
// raw → analyzed → insights_generated → implemented.
type Stage string

// The stages, in order.
const (
	StageRaw               Stage = "raw"
	StageAnalyzed          Stage = "analyzed"
	StageInsightsGenerated Stage = "insights_generated"
	StageImplemented       Stage = "implemented"
)

// Stages lists the stages in order.
var Stages = []Stage{StageRaw, StageAnalyzed, StageInsightsGenerated, StageImplemented}

// Rank is the stage's position in Stages, or -1 for an unknown stage.
func (s Stage) Rank() int {
	for i, t := range Stages {
		if s == t {
			return i
		}
	}
	return -1
}

// Valid reports whether s is one of Stages.
func (s Stage) Valid() bool { return s.Rank() >= 0 }

// timeKey is the sidecar key holding when stage s was reached.
func (s Stage) timeKey() string {
	if s == StageRaw {
		return "created_at"
	}
	return string(s) + "_at"
}

// SidecarSuffix ends the name of a session log's sidecar:
// <id>.jsonl.lifecycle.json beside <id>.jsonl.
const SidecarSuffix = ".lifecycle.json"

// SidecarPath returns the sidecar of the session log at logPath.
func SidecarPath(logPath string) string { return logPath + SidecarSuffix }

// LogPath returns the session log a sidecar belongs to, and false when
// sidecarPath is not named like a sidecar.
func LogPath(sidecarPath string) (string, bool) {
	if !strings.HasSuffix(sidecarPath, ".jsonl"+SidecarSuffix) {
		return "", false
	}
	return strings.TrimSuffix(sidecarPath, SidecarSuffix), true
}

// Sidecar is the content of a <id>.jsonl.lifecycle.json file:
//
//	{"lifecycle_stage": "analyzed", "created_at": "…", "analyzed_at": "…", …}
//
// Timestamps are kept as written (other tools write Python's isoformat,
// with or without a zone); Sidecar writes RFC 3339. Keys it does not know
// are kept as they were and written back unchanged.
type Sidecar struct {
	Stage Stage
	// CreatedAt, AnalyzedAt, InsightsGeneratedAt and ImplementedAt are
	// the timestamps as written; "" when absent.
	CreatedAt, AnalyzedAt, InsightsGeneratedAt, ImplementedAt string
	// Extra holds every other key, raw.
	Extra map[string]json.RawMessage
}

// sidecarKeys are the keys Sidecar has fields for.
var sidecarKeys = []string{"lifecycle_stage", "created_at", "analyzed_at", "insights_generated_at", "implemented_at"}

func (s *Sidecar) field(key string) *string {
	switch key {
	case "created_at":
		return &s.CreatedAt
	case "analyzed_at":
		return &s.AnalyzedAt
	case "insights_generated_at":
		return &s.InsightsGeneratedAt
	case "implemented_at":
		return &s.ImplementedAt
	}
	return nil
}

// UnmarshalJSON reads a sidecar. A missing (or empty) lifecycle_stage is
// raw; an unknown one is kept as written (Valid reports it) and never
// advanced.
func (s *Sidecar) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	if m == nil {
		return errors.New("not a JSON object")
	}
	*s = Sidecar{Stage: StageRaw}
	for _, k := range sidecarKeys {
		raw, ok := m[k]
		if !ok {
			continue
		}
		delete(m, k)
		if string(raw) == "null" {
			continue
		}
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("%s: not a string", k)
		}
		if k == "lifecycle_stage" {
			if v != "" {
				s.Stage = Stage(v)
			}
		} else {
			*s.field(k) = v
		}
	}
	if len(m) > 0 {
		s.Extra = m
	}
	return nil
}

// MarshalJSON writes the sidecar: the known keys and Extra, indented,
// with no HTML escaping. (json.Marshal compacts and escapes what it
// returns; the sidecar files are written as shown here.)
func (s Sidecar) MarshalJSON() ([]byte, error) { return s.encode() }

func (s Sidecar) encode() ([]byte, error) {
	m := make(map[string]any, len(s.Extra)+len(sidecarKeys))
	for k, v := range s.Extra {
		m[k] = v
	}
	stage := s.Stage
	if stage == "" {
		stage = StageRaw
	}
	m["lifecycle_stage"] = stage
	for _, k := range sidecarKeys[1:] {
		if v := *s.field(k); v != "" {
			m[k] = v
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Reached returns when stage st was reached, if the sidecar says so and
// the timestamp parses.
func (s *Sidecar) Reached(st Stage) (time.Time, bool) {
	p := s.field(st.timeKey())
	if p == nil || *p == "" {
		return time.Time{}, false
	}
	return ParseTime(*p)
}

// ParseTime reads a sidecar timestamp: RFC 3339, or Python's isoformat
// without a zone (taken as UTC).
func ParseTime(v string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// ReadSidecar reads the sidecar of the session log at logPath. A missing
// sidecar is not an error: the session is raw, and exists is false.
func ReadSidecar(logPath string) (sc Sidecar, exists bool, err error) {
	b, err := os.ReadFile(SidecarPath(logPath))
	if errors.Is(err, fs.ErrNotExist) {
		return Sidecar{Stage: StageRaw}, false, nil
	}
	if err != nil {
		return Sidecar{}, false, err
	}
	if err := json.Unmarshal(b, &sc); err != nil {
		return Sidecar{}, true, fmt.Errorf("%s: %w", SidecarPath(logPath), err)
	}
	return sc, true, nil
}

// WriteSidecar writes the sidecar of the session log at logPath
// atomically: a temporary file in the same folder, synced, then renamed
// over the old one, so a reader sees the old or the new sidecar, never
// half of one. Prefer UpdateSidecar, which also keeps concurrent writers
// from undoing each other.
func WriteSidecar(logPath string, sc Sidecar) error {
	b, err := sc.encode()
	if err != nil {
		return err
	}
	return fsutil.WriteAtomic(SidecarPath(logPath), b)
}

// UpdateSidecar reads the sidecar of logPath, lets f change it and writes
// it back if it changed, holding an exclusive lock on the session's folder
// meanwhile, so two tasks (or two runs) updating sidecars in the same
// folder take turns and neither undoes the other's move. A missing sidecar
// starts as raw with created_at set to now (and is written only if f
// changes it). f returning an error writes nothing.
func UpdateSidecar(logPath string, now time.Time, f func(sc *Sidecar) error) error {
	unlock, err := lockDir(filepath.Dir(logPath))
	if err != nil {
		return err
	}
	defer unlock()
	sc, exists, err := ReadSidecar(logPath)
	if err != nil {
		return err
	}
	if !exists {
		sc.CreatedAt = now.UTC().Format(time.RFC3339)
	}
	before, _ := sc.encode()
	if err := f(&sc); err != nil {
		return err
	}
	after, err := sc.encode()
	if err != nil {
		return err
	}
	if bytes.Equal(before, after) {
		return nil
	}
	return fsutil.WriteAtomic(SidecarPath(logPath), after)
}

// Advance moves the session at logPath to stage to, and records when, but
// only forward: a session already at to or beyond it is left alone (the
// original tools reset later stages to analyzed, which is why nothing was
// ever cleaned). A sidecar whose stage is unknown is left alone too.
// It reports whether the stage changed.
func Advance(logPath string, to Stage, now time.Time) (bool, error) {
	if !to.Valid() {
		return false, fmt.Errorf("unknown lifecycle stage %q", to)
	}
	changed := false
	err := UpdateSidecar(logPath, now, func(sc *Sidecar) error {
		if !sc.Stage.Valid() || sc.Stage.Rank() >= to.Rank() {
			return nil
		}
		sc.Stage = to
		*sc.field(to.timeKey()) = now.UTC().Format(time.RFC3339)
		changed = true
		return nil
	})
	return changed, err
}

// lockDir takes an exclusive flock on dir and returns its release.
func lockDir(dir string) (func(), error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	for {
		err = unix.Flock(fd, unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "flock", Path: dir, Err: err}
	}
	return func() { unix.Close(fd) }, nil
}
