package jsonscan

import (
	"testing"
	"time"
)

var timeSeeds = []string{
	"2026-12-01T23:05:12Z", "2026-12-01T23:05:12.5Z", "2026-12-01T23:05:12.123456789Z", "2026-12-01T23:05:12.1234567891Z",
	"2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z",
	"2026-12-00T00:00:00Z", "2026-12-01T24:00:00Z", "2026-12-01T23:60:00Z", "2026-12-01T23:59:60Z", "0000-01-01T00:00:00Z",
	"9999-12-31T23:59:59.999999999Z", "2026-12-01T23:05:12.Z", "2026-12-01T23:05:12,5Z", "2026-12-01T23:05:12z",
	"2026-12-01t23:05:12Z", "2026-12-01T23:05:12+00:00", "2026-12-01T23:05:12.5+01:00", "2026-12-01 23:05:12Z",
	"+026-12-01T23:05:12Z", "2026-1a-01T23:05:12Z", "2026-12-01T23:05:1Z", "2026-12-01T23:05:12.-5Z", "2026-12-01T23:05:12", "",
	"1900-02-29T00:00:00Z", "2000-02-29T00:00:00Z", "2026-12-01T23:05:12.000000000Z", "2026-12-01T23:05:12.0000000001Z",
}

// agreeTime fails t when Time accepts a text time.Parse does not, or
// reads another time from it.
func agreeTime(t *testing.T, s string) {
	t.Helper()
	got, ok := Time([]byte(s))
	if !ok {
		return
	}
	want, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || !got.Equal(want) || got.Unix() != want.Unix() || got.Nanosecond() != want.Nanosecond() {
		t.Fatalf("%q: Time %v, time.Parse %v %v", s, got, want, err)
	}
}

func TestTimeAgreesWithTimeParse(t *testing.T) {
	accepted := 0
	for _, s := range timeSeeds {
		agreeTime(t, s)
		if _, ok := Time([]byte(s)); ok {
			accepted++
		}
	}
	// The forms written in practice are read here, not handed back.
	for _, s := range []string{"2026-12-01T23:05:12Z", "2026-12-01T23:05:12.123Z", "2024-02-29T00:00:00.5Z"} {
		if _, ok := Time([]byte(s)); !ok {
			t.Errorf("%q: not read", s)
		}
	}
	if accepted < 8 {
		t.Errorf("only %d seeds read", accepted)
	}
}

func FuzzTime(f *testing.F) {
	for _, s := range timeSeeds {
		f.Add(s)
	}
	f.Fuzz(agreeTime)
}
