package mdsection

import (
	"strings"
	"testing"
)

const doc = "# Title\r\n\nIntro.\n\n## Alpha\n\nA text.\n### Alpha sub\nsub text\n\n```sh\n## not a heading\n```\n\n## 🔌 MCP Servers\n\nold\nlines\n\n## Omega\nlast\n"

func TestHeadingsSkipFencesAndNest(t *testing.T) {
	var got []string
	for _, h := range Headings([]byte(doc)) {
		got = append(got, strings.Repeat("#", h.Level)+" "+h.Title+" | "+strings.ReplaceAll(doc[h.Start:h.End], "\n", "⏎"))
	}
	want := []string{
		"# Title | " + strings.ReplaceAll(doc, "\n", "⏎"),
		"## Alpha | ## Alpha⏎⏎A text.⏎### Alpha sub⏎sub text⏎⏎```sh⏎## not a heading⏎```⏎⏎",
		"### Alpha sub | ### Alpha sub⏎sub text⏎⏎```sh⏎## not a heading⏎```⏎⏎",
		"## 🔌 MCP Servers | ## 🔌 MCP Servers⏎⏎old⏎lines⏎⏎",
		"## Omega | ## Omega⏎last⏎",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestReplaceKeepsTheRestByteForByte(t *testing.T) {
	out := string(Replace([]byte(doc), []byte("## 🔌 MCP Servers\n\nnew\n")))
	want := strings.Replace(doc, "## 🔌 MCP Servers\n\nold\nlines\n\n", "## 🔌 MCP Servers\n\nnew\n\n", 1)
	if out != want {
		t.Errorf("got %q\nwant %q", out, want)
	}
	// Idempotent: the same section again changes nothing.
	if again := string(Replace([]byte(out), []byte("## 🔌 MCP Servers\n\nnew\n"))); again != out {
		t.Errorf("second replace changed the document:\n%q", again)
	}
	// The last section, no trailing newline in the document.
	out = string(Replace([]byte("a\n\n## Omega\nlast"), []byte("## Omega\nnew\n")))
	if out != "a\n\n## Omega\nnew\n" {
		t.Errorf("last section: %q", out)
	}
}

func TestReplaceAppendsAMissingSection(t *testing.T) {
	for in, want := range map[string]string{
		"":             "## X\nbody\n",
		"text":         "text\n\n## X\nbody\n",
		"text\n":       "text\n\n## X\nbody\n",
		"text\n\n":     "text\n\n## X\nbody\n",
		"## Y\ny\n":    "## Y\ny\n\n## X\nbody\n",
		"### X\nsub\n": "### X\nsub\n\n## X\nbody\n", // another level is another section
	} {
		if got := string(Replace([]byte(in), []byte("## X\nbody"))); got != want {
			t.Errorf("Replace(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRemoveAndMoveUp(t *testing.T) {
	d := []byte("# T\n\n## A\na\n\n## B\nb\n\n## C\nc\n")
	h, ok := Find(d, 0, "c")
	if !ok {
		t.Fatal("C not found")
	}
	if got := string(Remove(d, h)); got != "# T\n\n## A\na\n\n## B\nb\n\n" {
		t.Errorf("Remove = %q", got)
	}
	got, ok := MoveUp(d, h)
	if !ok || string(got) != "# T\n\n## C\nc\n\n## A\na\n\n## B\nb\n" {
		t.Errorf("MoveUp last = %q %v", got, ok)
	}
	h, _ = Find(d, 2, "B")
	got, ok = MoveUp(d, h)
	if !ok || string(got) != "# T\n\n## B\nb\n\n## A\na\n\n## C\nc\n" {
		t.Errorf("MoveUp middle = %q %v", got, ok)
	}
	h, _ = Find(d, 2, "A")
	if _, ok := MoveUp(d, h); ok {
		t.Error("the first section moved up")
	}
	if Normalize("  🔌  MCP   Servers ") != "mcp servers" {
		t.Errorf("Normalize = %q", Normalize("  🔌  MCP   Servers "))
	}
}
