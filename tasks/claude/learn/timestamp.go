package learn

import (
	"encoding/json"
	"errors"
	"strconv"
	"time"
)

// Timestamp reads the "timestamp" of a learning record: RFC 3339, an ISO
// time without zone (taken as UTC, as Python's isoformat writes it), or
// Unix seconds (milliseconds when it is too large to be seconds).
type Timestamp struct{ time.Time }

var isoLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02"}

// UnmarshalJSON accepts a string or a number.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		for _, l := range isoLayouts {
			if v, err := time.Parse(l, s); err == nil {
				t.Time = v
				return nil
			}
		}
		return errors.New("bad timestamp " + strconv.Quote(s))
	}
	if string(b) == "null" {
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	if f > 1e12 {
		f /= 1000
	}
	sec := int64(f)
	t.Time = time.Unix(sec, int64((f-float64(sec))*1e9)).UTC()
	return nil
}

// MarshalJSON writes RFC 3339.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	return json.Marshal(t.UTC().Format(time.RFC3339))
}
