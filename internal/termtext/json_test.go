package termtext

import (
	"encoding/json"
	"strconv"
	"testing"
)

func TestJSON(t *testing.T) {
	in := map[string]string{"m": "csi \u009b2J dcs \u0090 apc \u009f del \x7f esc \x1b é bidi \u202e tag \U000e0041 😀"}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	got := JSON(b)
	if want := `{"m":"csi \u009b2J dcs \u0090 apc \u009f del \u007f esc \u001b é bidi \u202e tag \udb40\udc41 😀"}`; string(got) != want {
		t.Errorf("JSON = %s, want %s", got, want)
	}
	var back map[string]string
	if err := json.Unmarshal(got, &back); err != nil || back["m"] != in["m"] {
		t.Errorf("does not decode to the same text: %q, %v", back["m"], err)
	}
	plain := []byte(`{"m":"nothing to do é"}`)
	if got := JSON(plain); &got[0] != &plain[0] {
		t.Error("copied a line with nothing to rewrite")
	}
}

// FuzzJSON: marshaled and rewritten, any string is valid JSON with no
// raw control character, and decodes to what encoding/json would give.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{"plain", "\u009b2J", "\x7f\x1b]0;x\x07", "\xff\xfe\x9b", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := json.Marshal(s)
		if err != nil {
			t.Skip()
		}
		out := JSON(b)
		if !json.Valid(out) {
			t.Fatalf("invalid JSON %q", out)
		}
		if c, bad := unsafe(string(out), false); bad {
			t.Fatalf("%q lets %q through", out, c)
		}
		for _, r := range string(out) {
			if r >= 0x7f && !strconv.IsPrint(r) {
				t.Fatalf("%q lets %U through", out, r)
			}
		}
		var want, got string
		_ = json.Unmarshal(b, &want)
		if err := json.Unmarshal(out, &got); err != nil || got != want {
			t.Fatalf("decodes to %q (%v), want %q", got, err, want)
		}
	})
}
