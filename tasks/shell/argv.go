package shell

import "strings"

// Most user commands are a program and plain words (`make check`,
// `/bin/true`). Running those through `sh -c` costs a shell and, with
// dash, a second fork: like make, they are executed directly. Anything a
// shell would interpret differently from a plain split goes to the shell.

// shellChars make a command line need the shell: expansions, pipes and
// lists, redirections, globs, subshells and groups, comments, negation,
// escapes and line breaks.
const shellChars = "$`|&;<>()*?[]~\n\\#{}!^"

// shellWords are reserved words and builtins: as the first word they need
// the shell, either because no program of that name exists (cd, exit,
// export) or because the program behaves differently from the builtin
// (echo, printf, test, kill, pwd).
var shellWords = map[string]bool{
	".": true, ":": true, "alias": true, "bg": true, "break": true, "case": true, "cd": true,
	"command": true, "continue": true, "do": true, "done": true, "echo": true, "elif": true,
	"else": true, "esac": true, "eval": true, "exec": true, "exit": true, "export": true,
	"fc": true, "fg": true, "fi": true, "for": true, "getopts": true, "hash": true,
	"if": true, "in": true, "jobs": true, "kill": true, "local": true, "printf": true, "pwd": true,
	"read": true, "readonly": true, "return": true, "set": true, "shift": true, "source": true,
	"test": true, "then": true, "times": true, "trap": true, "type": true, "ulimit": true,
	"umask": true, "unalias": true, "unset": true, "until": true, "wait": true, "while": true,
}

// directArgv returns the argv of a command line that a shell would run as
// one program with these words, splitting on blanks and honouring single
// and double quotes; ok is false when the line needs the shell.
func directArgv(line string) (argv []string, ok bool) {
	if strings.ContainsAny(line, shellChars) {
		return nil, false
	}
	var (
		word    strings.Builder
		inWord  bool
		quote   byte // the open quote, or 0
		hasWord bool
	)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				word.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == ' ' || c == '\t':
			if inWord {
				argv = append(argv, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteByte(c)
			inWord = true
		}
		hasWord = hasWord || inWord
	}
	if quote != 0 || !hasWord {
		return nil, false // an unterminated quote is the shell's error to report
	}
	if inWord {
		argv = append(argv, word.String())
	}
	// An assignment (FOO=bar cmd) or a builtin as the first word is the
	// shell's business; a quoted first word is neither, but a shell would
	// still look it up as a builtin, so it is not told apart here.
	if strings.Contains(argv[0], "=") || shellWords[argv[0]] {
		return nil, false
	}
	return argv, true
}

// execLine returns the line for `sh -c`, with `exec` in front when the line
// is one simple command: the shell then becomes the program instead of
// forking it and waiting. Lists, pipes, groups, assignments in front and
// builtins are left as they are.
func execLine(line string) string {
	if strings.ContainsAny(line, ";&|\n(){}#!`\\") {
		return line
	}
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return line
	}
	first := fields[0]
	if strings.ContainsAny(first, "=<>") || shellWords[strings.Trim(first, `'"`)] {
		return line
	}
	return "exec " + line
}
