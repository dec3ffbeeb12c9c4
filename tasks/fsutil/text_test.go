package fsutil

import (
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTilde(t *testing.T) {
	for _, c := range [][3]string{
		{"/home/u", "/home/u", "~"},
		{"/home/u/", "/home/u/.cache/uv", "~/.cache/uv"},
		{"/home/u", "/home/user2/x", "/home/user2/x"},
		{"/home/u", "/etc", "/etc"},
		{"", "/x", "/x"},
	} {
		if got := Tilde(c[0], c[1]); got != c[2] {
			t.Errorf("Tilde(%q, %q) = %q, want %q", c[0], c[1], got, c[2])
		}
	}
}

func TestTable(t *testing.T) {
	got := Table([][]string{
		{"cache", "size", "how"},
		{"~/.cache/uv", "1.2 GiB", "uv cache clean"},
		{"~/.npm", "300 MiB", "remove contents"},
		{"total", "1.5 GiB"},
	})
	want := "" +
		"cache           size  how\n" +
		"~/.cache/uv  1.2 GiB  uv cache clean\n" +
		"~/.npm       300 MiB  remove contents\n" +
		"total        1.5 GiB\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// FuzzTableNames: whatever a file name holds, the table it is shown in
// (as a cell and as a ~ path) lets no control character reach the
// terminal — nothing below 0x20 but tab, nothing in 0x7f–0x9f, no invalid
// UTF-8 — and has exactly one line per row.
func FuzzTableNames(f *testing.F) {
	f.Add("CLAUDE.md.backup-20250101-000000")
	f.Add("x\x1b]0;PWNED\x07\x1b[2J")
	f.Fuzz(func(t *testing.T, name string) {
		home := "/home/u"
		table := Table([][]string{
			{"backup", "size", "goes with"},
			{Tilde(home, home+"/.claude/.backups/"+name), "1 KiB", "a o"},
			{name, "12", name},
			{"total", "1 KiB"},
		})
		lines := strings.Split(strings.TrimSuffix(table, "\n"), "\n")
		if len(lines) != 4 {
			t.Fatalf("%d lines, want 4:\n%q", len(lines), table)
		}
		for _, l := range lines {
			if i, c, bad := rawControl(l); bad {
				t.Fatalf("byte %#x at %d reaches the terminal raw in %q", c, i, l)
			}
		}
	})
}

// rawControl finds a byte that must not reach a terminal raw in line: an
// ASCII control but tab, DEL, a C1 control in UTF-8 (C2 80–C2 9F), or a
// byte that is not part of valid UTF-8 (0x80–0x9F among them).
func rawControl(line string) (int, byte, bool) {
	for i := 0; i < len(line); {
		c := line[i]
		if c < 0x80 {
			if (c < 0x20 && c != '\t') || c == 0x7f {
				return i, c, true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(line[i:])
		if r == utf8.RuneError && size == 1 {
			return i, c, true
		}
		if r >= 0x80 && r <= 0x9f {
			return i, line[i+1], true
		}
		i += size
	}
	return 0, 0, false
}

// Warnings name paths with ~ and without the operation, and say how
// many more problems the log holds than the line shows.
func TestTildeErrorsAndFirstErrors(t *testing.T) {
	errs := TildeErrors("/home/u", []error{
		&fs.PathError{Op: "open", Path: "/home/u/a", Err: fs.ErrPermission},
		errors.New("plain"),
		&fs.PathError{Op: "lstat", Path: "/etc/x\x1b[2J", Err: fs.ErrNotExist},
	})
	if got, want := FirstErrors(errs, 5, 2), "~/a: permission denied; plain; and 3 more (see the log)"; got != want {
		t.Errorf("FirstErrors = %q, want %q", got, want)
	}
	if got := errs[2].Error(); strings.ContainsRune(got, 0x1b) {
		t.Errorf("an error's path reaches the terminal unescaped: %q", got)
	}
	if got, want := FirstErrors(errs[:1], 1, 3), "~/a: permission denied"; got != want {
		t.Errorf("FirstErrors = %q, want %q", got, want)
	}
	if got := TildeAll("/home/u", []string{"/home/u", "/home/u/b", "/x"}); !slices.Equal(got, []string{"~", "~/b", "/x"}) {
		t.Errorf("TildeAll = %q", got)
	}
}
