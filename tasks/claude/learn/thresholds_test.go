package learn

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestThresholdsKeepUnknownKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "thresholds.json")
	os.WriteFile(path, []byte(`{"confidence": 0.8, "extra": [1, 2], "analyzers": {"learn-mcp": {"days": 7, "mine": true}}}`), 0o644)
	tf, err := LoadThresholds(path)
	if err != nil {
		t.Fatal(err)
	}
	if g := tf.Global; g.Confidence != 0.8 || g.MinOccurrences != 3 || g.Days != 30 {
		t.Errorf("global %+v", g)
	}
	if m := tf.For("learn-mcp"); m.Days != 7 || m.Confidence != 0.8 {
		t.Errorf("learn-mcp %+v", m)
	}
	tf.Set("learn-context", Thresholds{MinOccurrences: 4, Confidence: 0.75, Days: 30})
	b, err := tf.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	an := back["analyzers"].(map[string]any)
	if back["extra"] == nil || an["learn-mcp"].(map[string]any)["mine"] != true ||
		an["learn-context"].(map[string]any)["min_occurrences"] != 4.0 {
		t.Errorf("marshalled:\n%s", b)
	}

	os.WriteFile(path, []byte(`{not json`), 0o644)
	if tf, err := LoadThresholds(path); err == nil || tf.For("x") != DefaultThresholds {
		t.Errorf("bad file: %v %+v", err, tf)
	}
	if tf, err := LoadThresholds(filepath.Join(t.TempDir(), "none")); err != nil || tf.For("x") != DefaultThresholds {
		t.Errorf("missing file: %v", err)
	}
}

func TestTimestampForms(t *testing.T) {
	for _, in := range []string{`"2025-03-01T12:00:00Z"`, `"2025-03-01T12:00:00"`, `"2025-03-01 12:00:00.000"`, `1740830400`, `1740830400000`} {
		var ts Timestamp
		if err := json.Unmarshal([]byte(in), &ts); err != nil || ts.Unix() != 1740830400 {
			t.Errorf("%s: %v %v", in, ts, err)
		}
	}
	var ts Timestamp
	if err := json.Unmarshal([]byte(`"soon"`), &ts); err == nil {
		t.Error("a bad timestamp was accepted")
	}
}
