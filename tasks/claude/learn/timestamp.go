package learn

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/rebuild-nixos/rebuild/tasks/claude/jsonscan"
)

// Timestamp reads the "timestamp" of a learning record: RFC 3339, an ISO
// time without zone (taken as UTC, as Python's isoformat writes it), or
// Unix seconds (milliseconds when it is too large to be seconds).
type Timestamp struct{ time.Time }

var isoLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02"}

// UnmarshalJSON accepts a string or a number.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	v, set, err := parseTimestamp(b)
	if set {
		t.Time = v
	}
	return err
}

// parseTimestamp is what UnmarshalJSON makes of the JSON value b: set is
// false for null, which leaves a Timestamp as it was.
func parseTimestamp(b []byte) (v time.Time, set bool, err error) {
	if len(b) > 0 && b[0] == '"' {
		if len(b) >= 2 && b[len(b)-1] == '"' {
			if v, ok := jsonscan.Time(b[1 : len(b)-1]); ok { // what isoLayouts[0] reads, without a string of it
				return v, true, nil
			}
		}
		var s string
		if len(b) >= 2 && b[len(b)-1] == '"' && bytes.IndexByte(b[1:len(b)-1], '\\') < 0 && utf8.Valid(b[1:len(b)-1]) {
			s = string(b[1 : len(b)-1]) // what json.Unmarshal makes of a valid string without escapes
		} else if err := json.Unmarshal(b, &s); err != nil {
			return time.Time{}, false, err
		}
		for _, l := range isoLayouts {
			if v, err := time.Parse(l, s); err == nil {
				return v, true, nil
			}
		}
		return time.Time{}, false, errors.New("bad timestamp " + strconv.Quote(s))
	}
	if string(b) == "null" {
		return time.Time{}, false, nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return time.Time{}, false, err
	}
	if f > 1e12 {
		f /= 1000
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), true, nil
}

// MarshalJSON writes RFC 3339.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	return json.Marshal(t.UTC().Format(time.RFC3339))
}
