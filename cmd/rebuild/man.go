package main

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rebuild-nixos/rebuild/config"
)

// manTopKeys are the top-level configuration keys, for ENVIRONMENT (each
// has a REBUILD_<KEY> variable). A test checks them against `config show`.
var manTopKeys = []string{"flake", "host", "profile", "current_system", "booted_system",
	"elevate", "jobs", "state_dir", "keep_logs", "metrics_file", "log_max", "history_max"}

// manOptions are the flags of `rebuild man` (none).
type manOptions struct {
	IO  *IOStreams
	Sys *System
	// Root is the command tree the page describes.
	Root *cobra.Command
}

func newManCmd(f *Factory, root *cobra.Command, runF func(*manOptions) error) *cobra.Command {
	o := &manOptions{IO: f.IO, Sys: f.Sys, Root: root}
	return &cobra.Command{
		Use:   "man",
		Short: "Print the manual page (roff), generated from the command line",
		Long: "Print the manual page rebuild(1) in roff, generated from the commands and flags\n" +
			"of this binary, e.g.\n\n  rebuild man | man -l -\n  rebuild man > rebuild.1",
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(o)
			}
			return writeMan(o.IO.Out, o.Root, manDate(o.Sys))
		},
	}
}

// manDate is SOURCE_DATE_EPOCH when set (reproducible builds: Nix sets
// it), else today.
func manDate(sys *System) time.Time {
	if s := sys.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0).UTC()
		}
	}
	return sys.Now()
}

// writeMan writes one page for the whole command tree: every command with
// its own flags, then exit status, environment and files.
func writeMan(w io.Writer, root *cobra.Command, date time.Time) error {
	m := &manWriter{w: bufio.NewWriter(w)}
	// The date stays unescaped: man(7) readers parse YYYY-MM-DD.
	m.raw(fmt.Sprintf(`.TH "REBUILD" "1" "%s" "rebuild %s" "User Commands"`,
		date.Format("2006-01-02"), strings.ReplaceAll(m.escape(versionString()), `"`, `\(dq`)))
	m.macro("SH", "NAME")
	m.text(root.Name() + " - " + root.Short)

	m.macro("SH", "SYNOPSIS")
	m.raw(`.B rebuild`)
	m.raw(`.RI [ command ]\ [ flags ]`)
	m.macro("SH", "DESCRIPTION")
	m.prose(root.Long)

	m.macro("SH", "OPTIONS")
	m.text("The flags of the run itself; they also apply to \"rebuild run\".")
	m.flags(root.LocalNonPersistentFlags())
	m.macro("SS", "Global options")
	m.text("Every command accepts these.")
	m.flags(root.PersistentFlags())

	m.macro("SH", "COMMANDS")
	for _, c := range root.Commands() {
		m.command(c)
	}

	m.macro("SH", "EXIT STATUS")
	for _, e := range [][2]string{
		{"0", "Done. Non-critical tasks may have failed: they are warnings."},
		{"1", "A critical task failed and the run was aborted (with --strict: any task failed); or, with hosts, a host's critical task failed (the other hosts went on)."},
		{"2", "Usage or configuration error: a bad flag, key, value, task name or a cycle."},
		{"3", "Another rebuild holds the lock of the state directory."},
		{"130", "Interrupted (Ctrl-C)."},
	} {
		m.item(`\fB` + e[0] + `\fR`)
		m.text(e[1])
	}

	m.macro("SH", "ENVIRONMENT")
	m.item(`\fB` + config.EnvConfig + `\fR`)
	m.text("The user configuration file, like --config.")
	for _, k := range manTopKeys {
		m.item(`\fB` + config.EnvName(k) + `\fR`)
		m.text("Sets the configuration key " + k + ".")
	}
	for _, k := range []string{"rollout", "parallel_hosts"} {
		m.item(`\fB` + config.EnvName(k) + `\fR`)
		m.text("Sets the configuration key " + k + " (it counts with [host.NAME] tables).")
	}
	m.item(`\fBREBUILD_TASK__\fINAME\fB__\fIKEY\fR`)
	m.text("Sets key KEY of [task.NAME], with _ for - in NAME, e.g. REBUILD_TASK__FLAKE_UPDATE__TIMEOUT=30m.")
	m.item(`\fBREBUILD_HOST__\fINAME\fB__\fIKEY\fR`)
	m.text("Sets key KEY of [host.NAME], NAME in capitals with _ for -, . and _: the host a file names whose name it spells, " +
		"else a new host, NAME in lower case with - for _; e.g. REBUILD_HOST__WEB1__TARGET=root@web1.example.org. " +
		"Run as root, ssh_options are not taken from the environment.")
	m.item(`\fBNO_COLOR\fR`)
	m.text("When set and not empty, no colour, like --no-color.")
	m.item(`\fBXDG_CONFIG_HOME\fR, \fBXDG_STATE_HOME\fR, \fBHOME\fR`)
	m.text("Where the user configuration and the state directory are (see FILES).")
	m.raw(".PP")
	m.text("Layers, later wins: built-in defaults, /etc/rebuild/config.toml, the user file, REBUILD_* variables, flags.")

	m.macro("SH", "FILES")
	for _, f := range [][2]string{
		{config.DefaultSystemFile, "System-wide configuration (the NixOS module writes it from programs.rebuild.settings)."},
		{"$XDG_CONFIG_HOME/rebuild/config.toml", "User configuration (default ~/.config/rebuild/config.toml); \"rebuild config init\" writes a commented one."},
		{"$XDG_STATE_HOME/rebuild/history.jsonl", "Every run: each task's state, start and duration (default ~/.local/state/rebuild; config key state_dir); past history_max the oldest runs are dropped."},
		{"$XDG_STATE_HOME/rebuild/estimates.json", "Per task, its last durations on each host, kept beside history.jsonl after each run so start-up need not read the history; built again from it when missing or stale."},
		{"$XDG_STATE_HOME/rebuild/claude-sessions.rec", "What mcp-analytics and learn-mcp read from each Claude Code session log so far (a cursor and the lines reduced to what they count, those kept apart in claude-sessions.<n>.lines), so a run reads only what was appended; removing it costs one full read."},
		{"$XDG_STATE_HOME/rebuild/claude-learning/", "Per learning analyzer, the ledger of its file in ~/.claude/learning (a cursor and the records of its window reduced to what it counts), so a run reads only what was appended; removing it costs one full read."},
		{"$XDG_STATE_HOME/rebuild/logs/", "One directory per run: <task>.log for each task that printed something or failed (it starts with the commands the task ran) and run.log with all of them, the command lines of silent tasks too; the last keep_logs runs are kept, and a task's log keeps at most log_max (its first and last half)."},
	} {
		m.item(`\fI` + m.escape(f[0]) + `\fR`)
		m.text(f[1])
	}

	m.macro("SH", "SEE ALSO")
	m.raw(`.BR nix (1),`)
	m.raw(`.BR nixos\-rebuild (8)`)
	return m.w.Flush()
}

// manWriter writes man(7) roff: escapes text, keeps every line free of
// trailing blanks and never starts a text line with a control character.
type manWriter struct{ w *bufio.Writer }

func (m *manWriter) raw(line string) { m.w.WriteString(line + "\n") }

// macro writes a request with quoted arguments.
func (m *manWriter) macro(name string, args ...string) {
	var b strings.Builder
	b.WriteString("." + name)
	for _, a := range args {
		b.WriteString(` "` + strings.ReplaceAll(m.escape(a), `"`, `\(dq`) + `"`)
	}
	m.raw(b.String())
}

// item starts a tagged paragraph whose tag is already roff.
func (m *manWriter) item(tag string) {
	m.raw(".TP")
	m.raw(tag)
}

// text writes escaped running text, one sentence-ish line at a time
// wrapped at 78 bytes (roff fills it again; short source lines keep
// mandoc's style check quiet).
func (m *manWriter) text(s string) {
	const width = 78
	line := ""
	flush := func() {
		if line != "" {
			m.raw(m.guard(line))
			line = ""
		}
	}
	for _, word := range strings.Fields(s) {
		word = m.escape(word)
		if line != "" && len(line)+1+len(word) > width {
			flush()
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	flush()
}

// line escapes one line of text so it cannot be read as a request.
func (m *manWriter) line(s string) string { return m.guard(m.escape(s)) }

// guard keeps an escaped line from being read as a request.
func (m *manWriter) guard(s string) string {
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// escape makes s literal roff: backslashes, minus signs (so options and
// task names copy as typed) and any non-ASCII character as \[uXXXX].
func (m *manWriter) escape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\e`)
		case r == '-':
			b.WriteString(`\-`)
		case r == '\t':
			b.WriteByte(' ')
		case r > 126:
			fmt.Fprintf(&b, `\[u%04X]`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// prose writes a cobra Long text: blank lines separate paragraphs, and a
// paragraph whose lines are all indented is an example, kept as typed.
func (m *manWriter) prose(s string) {
	for i, para := range strings.Split(strings.TrimSpace(s), "\n\n") {
		lines := strings.Split(strings.Trim(para, "\n"), "\n")
		example := true
		for _, l := range lines {
			if !strings.HasPrefix(l, " ") && !strings.HasPrefix(l, "\t") {
				example = false
			}
		}
		if i > 0 || example {
			m.raw(".PP")
		}
		if !example {
			m.text(para)
			continue
		}
		m.raw(".RS 4")
		m.raw(".nf")
		for _, l := range lines {
			m.raw(m.line(strings.TrimRight(strings.TrimLeft(l, " \t"), " \t")))
		}
		m.raw(".fi")
		m.raw(".RE")
	}
}

// flags writes a flag set as tagged paragraphs, skipping hidden flags and
// the help flag every command has.
func (m *manWriter) flags(fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden || f.Name == "help" {
			return
		}
		tag := `\fB\-\-` + m.escape(f.Name) + `\fR`
		if f.Shorthand != "" {
			tag = `\fB\-` + m.escape(f.Shorthand) + `\fR, ` + tag
		}
		varname, usage := pflag.UnquoteUsage(f)
		if varname != "" {
			tag += ` \fI` + m.escape(varname) + `\fR`
		}
		m.item(tag)
		switch {
		case f.DefValue == "" || f.DefValue == "false" || f.DefValue == "0" || f.DefValue == "[]":
		case f.Value.Type() == "string":
			usage += fmt.Sprintf(" (default %q)", f.DefValue)
		default:
			usage += " (default " + f.DefValue + ")"
		}
		m.text(usage)
	})
}

// command writes a command, its own flags and its subcommands.
func (m *manWriter) command(c *cobra.Command) {
	if !c.IsAvailableCommand() {
		return
	}
	use := c.CommandPath()
	if i := strings.IndexByte(c.Use, ' '); i >= 0 {
		use += c.Use[i:]
	}
	if hasFlags(c.LocalNonPersistentFlags()) {
		use += " [flags]"
	}
	m.macro("SS", use)
	m.text(sentence(c.Short))
	if c.Long != "" {
		m.raw(".PP")
		m.prose(c.Long)
	}
	if c.Name() == "run" {
		m.raw(".PP")
		m.text("Takes every flag listed under OPTIONS.")
	} else {
		m.flags(c.LocalNonPersistentFlags())
	}
	for _, sub := range c.Commands() {
		m.command(sub)
	}
}

// hasFlags reports whether fs has a flag the page lists.
func hasFlags(fs *pflag.FlagSet) bool {
	found := false
	fs.VisitAll(func(f *pflag.Flag) { found = found || (!f.Hidden && f.Name != "help") })
	return found
}

// sentence ends s with a full stop unless it ends with punctuation.
func sentence(s string) string {
	if s == "" || strings.ContainsAny(s[len(s)-1:], ".!?") {
		return s
	}
	return s + "."
}
