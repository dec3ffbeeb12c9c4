package nixos

import "strconv"

// compareVersions orders two version strings the way Nix does
// (builtins.compareVersions, libstore's names.cc): -1, 0 or 1. Versions
// are split into components at dots and dashes and where digits meet
// other characters; numbers compare as numbers, "pre" comes before
// anything else, a missing component before a number, a word before a
// number ("2.3a" < "2.3.1"), and words compare as strings. So 2.7790 is
// newer than 2.1232, and 1.10 newer than 1.9.
func compareVersions(v1, v2 string) int {
	for p1, p2 := 0, 0; p1 < len(v1) || p2 < len(v2); {
		var c1, c2 string
		c1, p1 = versionComponent(v1, p1)
		c2, p2 = versionComponent(v2, p2)
		switch {
		case componentLess(c1, c2):
			return -1
		case componentLess(c2, c1):
			return 1
		}
	}
	return 0
}

// versionComponent returns the component of v at i and where the next
// one is looked for: separators are skipped, then the longest run of
// digits, or of characters that are neither digits nor separators.
func versionComponent(v string, i int) (string, int) {
	for i < len(v) && (v[i] == '.' || v[i] == '-') {
		i++
	}
	start := i
	if i < len(v) && isDigit(v[i]) {
		for i < len(v) && isDigit(v[i]) {
			i++
		}
	} else {
		for i < len(v) && !isDigit(v[i]) && v[i] != '.' && v[i] != '-' {
			i++
		}
	}
	return v[start:i], i
}

func componentLess(c1, c2 string) bool {
	n1, err1 := strconv.ParseInt(c1, 10, 64)
	n2, err2 := strconv.ParseInt(c2, 10, 64)
	num1, num2 := err1 == nil, err2 == nil
	switch {
	case num1 && num2:
		return n1 < n2
	case c1 == "" && num2:
		return true
	case c1 == "pre" && c2 != "pre":
		return true
	case c2 == "pre":
		return false
	case num2:
		return true
	case num1:
		return false
	}
	return c1 < c2
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
