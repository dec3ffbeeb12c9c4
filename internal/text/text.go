// Package text holds the few wording helpers every part of rebuild
// shares when it writes a sentence for the person: a counted noun ("3
// caches"), a size in binary units ("1.2 KiB") and a capital first
// letter. It is a leaf: anyone may import it, it imports nothing of ours.
// Paths shown with ~ are fsutil.Tilde's (they are escaped for the
// terminal there).
package text

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Plural counts n of a noun: "1 cache", "0 caches", "3 caches". one and
// many are given whole, as English plurals are not one rule ("entry",
// "entries").
func Plural[N ~int | ~int64](n N, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// UpperFirst writes s with its first letter in upper case, to begin a
// sentence with a word that is lower case elsewhere.
func UpperFirst(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return s
	}
	return string(unicode.ToUpper(r)) + s[size:]
}

// Quoted writes each of words in double quotes, joined with ", ": a list
// of the values an option allows.
func Quoted(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = fmt.Sprintf("%q", w)
	}
	return strings.Join(q, ", ")
}
