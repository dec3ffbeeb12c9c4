package learn

import (
	"os"
	"path/filepath"
)

// claudeMDs are the files whose sections learn-context and
// learn-instructions look for, in order: the flake's CLAUDE.md, then the
// user's.
func (in Input) claudeMDs() []string {
	var out []string
	if in.Flake != "" {
		out = append(out, filepath.Join(in.Flake, "CLAUDE.md"))
	}
	if in.Home != "" {
		out = append(out, filepath.Join(in.Home, ".claude", "CLAUDE.md"))
	}
	return out
}

// instructionDocs are the instruction files an analyzer looks in, in the
// order it searches them, with the text of each that could be read. A file
// that is missing or unreadable is simply not searched: the analyzer then
// counts what it looked for as not written anywhere.
type instructionDocs struct {
	files []string
	text  map[string][]byte
}

func readDocs(files []string) instructionDocs {
	d := instructionDocs{files: files, text: map[string][]byte{}}
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			d.text[f] = b
		}
	}
	return d
}

// findInDocs returns the first file, in search order, in which match finds
// something, and what it found.
func findInDocs[T any](d instructionDocs, match func(doc []byte) (T, bool)) (string, T, bool) {
	for _, f := range d.files {
		doc, ok := d.text[f]
		if !ok {
			continue
		}
		if v, ok := match(doc); ok {
			return f, v, true
		}
	}
	var zero T
	return "", zero, false
}
