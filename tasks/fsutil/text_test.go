package fsutil

import "testing"

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
