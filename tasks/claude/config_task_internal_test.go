package claude

import (
	"strings"
	"testing"
)

func TestLineChangesCountsLikeDiff(t *testing.T) {
	for _, tc := range []struct {
		a, b     string
		add, del int
	}{
		{"a\nb\nc\n", "a\nb\nc\n", 0, 0},
		{"a\nb\nc\n", "a\nB\nc\n", 1, 1},
		{"a\nb\nc\n", "a\nb\nc\nd\ne\n", 2, 0},
		{"a\nb\nc\n", "c\n", 0, 2},
		{"", "x\ny\n", 2, 0},
		{"a\nb\nc\nd\n", "b\na\nc\nd\nx\n", 2, 1}, // a moved below b: one out, one in; x new
	} {
		add, del := lineChanges([]byte(tc.a), []byte(tc.b))
		if add != tc.add || del != tc.del {
			t.Errorf("%q → %q: +%d −%d, want +%d −%d", tc.a, tc.b, add, del, tc.add, tc.del)
		}
	}
	// Beyond the exact limit, a multiset count.
	big := strings.Repeat("same\n", maxDiffLines) + "old\n"
	add, del := lineChanges([]byte("x\n"+big), []byte("y\n"+big+"new\n"))
	if add != 2 || del != 1 {
		t.Errorf("big: +%d −%d", add, del)
	}
}

func TestEditJSONDocKeepsOrderAndValues(t *testing.T) {
	in := `{"z": 1, "a": {"keep": [1, 2, {"x": "<&>"}], "mcpServers": {"b": {"command": "b"}, "c": {}}}, "m": null}`
	out, err := editJSONDoc([]byte(in), []string{"a", "mcpServers"}, false, func(o *jsonObject) error {
		o.remove("b")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"z\": 1,\n  \"a\": {\n    \"keep\": [\n      1,\n      2,\n      {\n        \"x\": \"<&>\"\n      }\n    ],\n    \"mcpServers\": {\n      \"c\": {}\n    }\n  },\n  \"m\": null\n}\n"
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	if _, err := editJSONDoc([]byte(in), []string{"nope", "mcpServers"}, false, func(*jsonObject) error { return nil }); err == nil {
		t.Error("a missing path was created")
	}
	for _, bad := range []string{`[1]`, `{"a": 1} {}`, `{"a": `} {
		if _, err := editJSONDoc([]byte(bad), nil, true, func(*jsonObject) error { return nil }); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
