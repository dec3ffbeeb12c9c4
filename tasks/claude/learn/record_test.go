package learn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks/claude/jsonscan"
)

// The oracles: each analyzer's record as it was decoded with
// encoding/json before the ledger, a line that failed (or had no time)
// being malformed.
type (
	refApproval struct {
		Timestamp  Timestamp `json:"timestamp"`
		Permission string    `json:"permission"`
		SessionID  string    `json:"session_id"`
		Project    string    `json:"project_path"`
	}
	refContext struct {
		Timestamp Timestamp `json:"timestamp"`
		Section   string    `json:"section_name"`
		Tokens    int64     `json:"tokens_in_section"`
		Relevance *float64  `json:"relevance_score"`
		SessionID string    `json:"session_id"`
	}
	refWorkflow struct {
		Timestamp Timestamp `json:"timestamp"`
		Command   string    `json:"command"`
		SessionID string    `json:"session_id"`
		Success   *bool     `json:"success"`
		Duration  int64     `json:"duration_ms"`
		Project   string    `json:"project_path"`
	}
	refPolicy struct {
		Timestamp Timestamp `json:"timestamp"`
		Policy    string    `json:"policy"`
		Violated  *bool     `json:"violated"`
		SessionID string    `json:"session_id"`
	}
	refPattern struct {
		Timestamp   Timestamp `json:"timestamp"`
		Project     string    `json:"project_path"`
		ProjectType string    `json:"project_type"`
		PatternType string    `json:"pattern_type"`
		Pattern     string    `json:"pattern"`
		SessionID   string    `json:"session_id"`
	}
	refMeta struct {
		Timestamp      Timestamp `json:"timestamp"`
		Component      string    `json:"component"`
		SuggestionType string    `json:"suggestion_type"`
		Accepted       *bool     `json:"accepted"`
		Confidence     float64   `json:"confidence"`
	}
)

// oracle decodes line with encoding/json into the analyzer's old struct
// and returns what shape.decode must make of it (before keep).
func oracle(sh *shape, line []byte) (values, error) {
	var v values
	str := func(s string) []byte {
		if s == "" {
			return nil
		}
		return []byte(s)
	}
	var err error
	switch sh.file {
	case permissionShape.file:
		var r refApproval
		err = json.Unmarshal(line, &r)
		v.t, v.s = r.Timestamp.Time, [maxStrings][]byte{str(r.Permission), str(r.SessionID), str(r.Project)}
	case contextShape.file:
		var r refContext
		err = json.Unmarshal(line, &r)
		v.t, v.s, v.i = r.Timestamp.Time, [maxStrings][]byte{str(r.Section), str(r.SessionID)}, r.Tokens
		if r.Relevance != nil {
			v.f, v.fset = *r.Relevance, true
		}
	case workflowShape.file:
		var r refWorkflow
		err = json.Unmarshal(line, &r)
		v.t, v.s, v.i = r.Timestamp.Time, [maxStrings][]byte{str(r.Command), str(r.SessionID), str(r.Project)}, r.Duration
		if r.Success != nil {
			v.b, v.bset = *r.Success, true
		}
	case policyShape.file:
		var r refPolicy
		err = json.Unmarshal(line, &r)
		v.t, v.s = r.Timestamp.Time, [maxStrings][]byte{str(r.Policy), str(r.SessionID)}
		if r.Violated != nil {
			v.b, v.bset = *r.Violated, true
		}
	case patternShape.file:
		var r refPattern
		err = json.Unmarshal(line, &r)
		v.t, v.s = r.Timestamp.Time, [maxStrings][]byte{str(r.Project), str(r.ProjectType), str(r.PatternType), str(r.Pattern), str(r.SessionID)}
	case metaShape.file:
		var r refMeta
		err = json.Unmarshal(line, &r)
		v.t, v.s, v.f = r.Timestamp.Time, [maxStrings][]byte{str(r.Component), str(r.SuggestionType)}, r.Confidence
		if r.Accepted != nil {
			v.b, v.bset = *r.Accepted, true
		}
	}
	if err == nil && v.t.IsZero() {
		err = jsonscan.ErrSyntax
	}
	return v, err
}

var shapes = []*shape{&permissionShape, &contextShape, &workflowShape, &policyShape, &patternShape, &metaShape}

// agree fails t when shape.decode and encoding/json differ on line.
func agree(t *testing.T, sh *shape, line []byte) {
	t.Helper()
	want, werr := oracle(sh, line)
	var got values
	var p jsonscan.Parser
	gerr := sh.decode(&p, line, &got)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%s: %q: encoding/json error %v, decode error %v", sh.file, line, werr, gerr)
	}
	if werr != nil {
		return
	}
	// A *float64 left nil, or set then cleared, keeps no number.
	if !want.fset {
		got.f, want.f = 0, 0
	}
	if !want.bset {
		got.b, want.b = false, false
	}
	for i := range got.s {
		if len(got.s[i]) == 0 {
			got.s[i] = nil
		}
	}
	if !got.t.Equal(want.t) {
		t.Fatalf("%s: %q: time %v, want %v", sh.file, line, got.t, want.t)
	}
	got.t = want.t
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: %q:\ndecoded %+v\nwant    %+v", sh.file, line, got, want)
	}
}

// recordSeeds are lines of every analyzer's files, well and badly formed.
var recordSeeds = []string{
	`{"timestamp":"2025-03-01T12:00:00Z","permission":"Bash(git status)","session_id":"s1","project_path":"/p"}`,
	`{"timestamp":"2025-03-01T12:00:00","section_name":"Git","tokens_in_section":1200,"relevance_score":0.9,"session_id":"s"}`,
	`{"timestamp":"2025-03-01 12:00:00.5","command":" /test ","session_id":"w1","success":true,"duration_ms":1000,"project_path":"/p"}`,
	`{"timestamp":1740830400,"policy":"Use fd","violated":false,"session_id":"s5"}`,
	`{"timestamp":1740830400123,"project_path":"/p","project_type":"node","pattern_type":"permission","pattern":"Bash(npm:*)","session_id":"s"}`,
	`{"timestamp":"2025-03-01","component":"learn-mcp","suggestion_type":"x","accepted":true,"confidence":0.8}`,
	`{"timestamp":null}`, `{"timestamp":"0001-01-01T00:00:00Z"}`, `{"timestamp":"yesterday"}`, `{"timestamp":true}`,
	`{"timestamp":{"a":1}}`, `{"timestamp":[1]}`, `{"timestamp":"2025-03-01T12:00:00Z","timestamp":null}`,
	`{"timestamp":null,"timestamp":"2025-03-01T12:00:00Z"}`, `{"timestamp":"2025\u002d03-01"}`, `{"timestamp":1e300}`,
	`{"timestamp":-5}`, `{"timestamp":0}`, `{"timestamp":1.5}`, `{"TIMESTAMP":"2025-03-01","Section_Name":"A"}`,
	`{"timestamp":"2025-03-01","relevance_score":null}`, `{"timestamp":"2025-03-01","relevance_score":"0.5"}`,
	`{"timestamp":"2025-03-01","relevance_score":1e400}`, `{"timestamp":"2025-03-01","relevance_score":0.5,"relevance_score":null}`,
	`{"timestamp":"2025-03-01","relevance_score":-0.0}`, `{"timestamp":"2025-03-01","tokens_in_section":1.5}`,
	`{"timestamp":"2025-03-01","tokens_in_section":"12"}`, `{"timestamp":"2025-03-01","duration_ms":null}`,
	`{"timestamp":"2025-03-01","success":"yes"}`, `{"timestamp":"2025-03-01","success":null,"violated":1}`,
	`{"timestamp":"2025-03-01","accepted":true,"accepted":null}`, `{"timestamp":"2025-03-01","confidence":"high"}`,
	`{"timestamp":"2025-03-01","confidence":null,"suggestion_type":5}`, `{"timestamp":"2025-03-01","permission":["x"]}`,
	`{"timestamp":"2025-03-01","session_id":"\u00e9\ud800","project_path":"a\"b"}`, "{\"timestamp\":\"2025-03-01\",\"pattern\":\"\xff\"}",
	`{"timestamp":"2025-03-01","x":{"y":[1,2,{"z":null}]}}`, `{"timestamp":"2025-03-01","x":[1,]}`, `{"timestamp":"2025-03-01"}x`,
	`null`, `[]`, `5`, `"s"`, `{}`, ` { "timestamp" : "2025-03-01" } `, `{"timeſtamp":"2025-03-01"}`, `{"timestamp":"2025-03-01",}`,
}

func TestRecordDecodeAgreesWithEncodingJSON(t *testing.T) {
	for _, sh := range shapes {
		for _, s := range recordSeeds {
			agree(t, sh, []byte(s))
		}
	}
}

func FuzzRecordDecode(f *testing.F) {
	for i, s := range recordSeeds {
		f.Add(uint8(i), []byte(s))
	}
	f.Fuzz(func(t *testing.T, which uint8, line []byte) {
		if bytes.IndexByte(line, '\n') >= 0 {
			return // one line at a time
		}
		agree(t, shapes[int(which)%len(shapes)], line)
	})
}

// A ledger survives encoding whole, and a cut one is refused.
func TestLedgerRoundTrip(t *testing.T) {
	l := newLedger("/h/.claude/learning/x.jsonl", 1<<20, timeAt(-3))
	l.cursor.Dev, l.cursor.Ino, l.cursor.Size, l.cursor.Offset, l.cursor.Sample = 3, 99, 1<<40, 12345, [32]byte{1, 2}
	l.stats.Lines, l.stats.Malformed, l.stats.TooLong = 10, 2, 1
	for i, s := range []string{"a", "bb", "", "a"} {
		r := record{Sec: -62135596800 + int64(i)*1e11, Nsec: int32(i), Bits: uint8(i), I: int64(i) - 2, F: float64(i) / 3}
		r.S[i%maxStrings] = l.intern([]byte(s))
		l.recs = append(l.recs, r)
	}
	l.recs = append(l.recs, record{Sec: 253402300799, Nsec: 999999999, S: [maxStrings]uint32{1, 2, 1, 2, 1}, F: negZero()})
	b := l.encode()
	got, err := decodeLedger([][]byte{b})
	if err != nil {
		t.Fatal(err)
	}
	got.buildIndex()
	l.changed = false
	if !got.horizon.Equal(l.horizon) {
		t.Fatalf("horizon %v, want %v", got.horizon, l.horizon)
	}
	got.horizon = l.horizon
	// The records come back as they went, kept encoded.
	all := func(l *ledger) (rs []record) {
		l.each(time.Time{}, func(r *record) { rs = append(rs, *r) })
		return rs
	}
	want := all(l)
	if g := all(got); fmt.Sprintf("%+v", g) != fmt.Sprintf("%+v", want) {
		t.Fatalf("records %+v\nwant    %+v", g, want)
	}
	if !got.journal || got.saved != len(l.strs) || got.frames != 1 || got.baseBytes != len(b) {
		t.Fatalf("journal %v, %d strings saved, %d frames of %d bytes", got.journal, got.saved, got.frames, got.baseBytes)
	}
	got.stored, got.nStored, got.lastSec, got.recs, l.recs = nil, 0, 0, nil, nil
	got.journal, got.saved, got.frames, got.baseBytes = false, 0, 0, 0
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", l) {
		t.Fatalf("decoded %+v\nwant    %+v", got, l)
	}
	// Read with more records after those: both come back, in order.
	again, _ := decodeLedger([][]byte{b})
	more := record{Sec: 5, Nsec: 6, S: [maxStrings]uint32{2}, I: 7}
	again.recs = append(again.recs, more)
	back, err := decodeLedger([][]byte{again.encode()})
	if err != nil {
		t.Fatal(err)
	}
	if g := all(back); fmt.Sprintf("%+v", g) != fmt.Sprintf("%+v", append(want, more)) {
		t.Fatalf("with one more: %+v", g)
	}
	for i := len(ledgerMagic); i < len(b); i++ {
		if _, err := decodeLedger([][]byte{b[:i]}); err == nil {
			t.Fatalf("a ledger cut at %d of %d bytes decoded", i, len(b))
		}
	}
}

// What a run read after a kept ledger is appended to it as a frame of
// its own: read back after it, the ledger is the one written whole.
func TestLedgerJournalEqualsTheWholeLedger(t *testing.T) {
	l := newLedger("/h/.claude/learning/x.jsonl", 1<<20, timeAt(-3))
	l.cursor.Offset = 100
	for i, s := range []string{"a", "bb", "a"} {
		r := record{Sec: 1e9 + int64(i), S: [maxStrings]uint32{l.intern([]byte(s))}, F: float64(i)}
		l.recs = append(l.recs, r)
	}
	frames := [][]byte{l.encode()}
	whole := l
	// Three runs, each reading a few records (one with none), the
	// second new strings and a time before the last one's.
	for run, strs := range [][]string{{"bb", "c"}, {"d", "a", "e"}, nil} {
		kept, err := decodeLedger(frames)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		kept.cursor.Offset += 100
		kept.stats.Lines += int64(len(strs))
		for i, s := range strs {
			r := record{Sec: 1e9 - int64(run*10+i), Nsec: int32(run), S: [maxStrings]uint32{0, kept.intern([]byte(s))}, I: int64(i), Bits: hasB}
			kept.recs = append(kept.recs, r)
			wr := r
			wr.S[1] = whole.intern([]byte(s))
			whole.recs = append(whole.recs, wr)
		}
		whole.cursor, whole.stats = kept.cursor, kept.stats
		frames = append(frames, kept.encodeDelta())
	}
	got, err := decodeLedger(frames)
	if err != nil {
		t.Fatal(err)
	}
	if got.frames != 4 || got.journalBytes == 0 || got.saved != len(whole.strs) {
		t.Fatalf("%d frames, %d bytes of journal, %d strings", got.frames, got.journalBytes, got.saved)
	}
	if a, b := got.encode(), whole.encode(); !bytes.Equal(a, b) {
		t.Fatalf("the journal read back differs from the ledger written whole:\n%q\n%q", a, b)
	}
	// A damaged frame of it is refused: the file is read again.
	last := frames[len(frames)-2]
	for i := len(ledgerDelta); i < len(last); i++ {
		cut := append(slices.Clone(frames[:len(frames)-2]), last[:i])
		if _, err := decodeLedger(cut); err == nil {
			t.Fatalf("a delta cut at %d of %d bytes decoded", i, len(last))
		}
	}
	if _, err := decodeLedger([][]byte{frames[0], []byte("ledger delta 0\n")}); err == nil {
		t.Fatal("a frame of another kind decoded")
	}
}

// testNow is the clock of the ledger tests.
var testNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// timeAt is d days after testNow (before it when d < 0).
func timeAt(d float64) time.Time { return testNow.Add(time.Duration(d * float64(24*time.Hour))) }

func negZero() float64 { return math.Copysign(0, -1) }
