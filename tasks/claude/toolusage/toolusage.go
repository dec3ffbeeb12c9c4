// Package toolusage compares the tools installed by the flake's
// packages.nix with the commands actually run, from the fish command log
// (~/.local/share/fish/command-source.jsonl), split between the person and
// the agents that ran commands on their behalf. It produces tool-analytics'
// report, its CLAUDE.md section and its statistic.
//
// The command log is streamed line by line. toolusage never writes and
// never prints.
package toolusage

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks/claude/jsonl"
)

// SectionHeading is the CLAUDE.md section tool-analytics owns.
const SectionHeading = "## 📦 System Tool Usage"

var (
	pkgsAttr   = regexp.MustCompile(`\bpkgs\.([A-Za-z_][A-Za-z0-9_'+.-]*)`)
	commented  = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_'+.-]*)\s+#`)
	bare       = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_'+.-]*)\s*$`)
	scriptBin  = regexp.MustCompile(`write(?:ShellScript|Script)Bin\s+"([^"]+)"`)
	listStart  = regexp.MustCompile(`with\s+pkgs\s*;\s*\[`)
	notPackage = map[string]bool{
		"lib": true, "stdenv": true, "callPackage": true, "writeShellScriptBin": true, "writeScriptBin": true,
		"writeText": true, "writeShellScript": true, "buildEnv": true, "symlinkJoin": true, "runCommand": true,
		"makeWrapper": true, "system": true, "config": true, "with": true, "let": true, "in": true, "inherit": true,
		"rec": true, "if": true, "then": true, "else": true, "pkgs": true, "true": true, "false": true, "null": true,
		"fetchurl": true, "fetchFromGitHub": true, "override": true, "overrideAttrs": true,
	}
)

// ParsePackages returns the package names of a packages.nix, sorted and
// without duplicates: every pkgs.<name>, every "<name>  # description"
// line, every bare name on its own line inside a `with pkgs; [ … ]` list,
// and every writeShellScriptBin "<name>". For an attribute path
// (python3Packages.black) the last part is the name.
func ParsePackages(r io.Reader) ([]string, error) {
	seen := map[string]bool{}
	add := func(attr string) {
		attr = strings.TrimRight(attr, ".")
		parts := strings.Split(attr, ".")
		name := parts[len(parts)-1]
		if len(parts) > 1 && (parts[0] == "lib" || parts[0] == "stdenv") {
			return
		}
		if name == "" || notPackage[name] || notPackage[parts[0]] {
			return
		}
		seen[name] = true
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	depth := 0 // inside `with pkgs; [`: bracket depth
	for sc.Scan() {
		line := sc.Text()
		code, _, _ := strings.Cut(line, "#")
		for _, m := range pkgsAttr.FindAllStringSubmatch(code, -1) {
			add(m[1])
		}
		for _, m := range scriptBin.FindAllStringSubmatch(code, -1) {
			seen[m[1]] = true
		}
		if m := commented.FindStringSubmatch(line); m != nil && (depth > 0 || !strings.Contains(code, "=")) {
			add(m[1])
		} else if m := bare.FindStringSubmatch(code); m != nil && depth > 0 {
			add(m[1])
		}
		if depth == 0 && listStart.MatchString(code) {
			depth = 1
			code = code[listStart.FindStringIndex(code)[1]:]
		}
		if depth > 0 {
			depth += strings.Count(code, "[") - strings.Count(code, "]")
			if depth < 0 {
				depth = 0
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	out := slices.Sorted(maps.Keys(seen))
	return out, nil
}

// Binaries maps package names to the command they are run by, where the
// two differ.
var Binaries = map[string]string{
	"ripgrep": "rg", "neovim": "nvim", "gnumake": "make", "nodejs": "node", "du-dust": "dust",
	"bottom": "btm", "tealdeer": "tldr", "difftastic": "difft", "nix-output-monitor": "nom",
	"yq-go": "yq", "imagemagick": "magick", "p7zip": "7z", "helix": "hx", "github-cli": "gh",
	"gh": "gh", "python3": "python3", "fd": "fd", "delta": "delta", "zoxide": "zoxide",
	"gnused": "sed", "gnugrep": "grep", "gawk": "awk",
}

// CommandOf returns the program a command line runs: the first word after
// variable assignments and wrappers (sudo, env, command, time, …), without
// its directory.
func CommandOf(cmd string) string {
	for _, w := range strings.Fields(cmd) {
		if strings.Contains(w, "=") && !strings.HasPrefix(w, "=") && !strings.HasPrefix(w, "-") {
			continue
		}
		switch w {
		case "sudo", "doas", "env", "command", "builtin", "time", "nohup", "exec", "nice", "(", "begin":
			continue
		}
		if strings.HasPrefix(w, "-") {
			continue // an option of a wrapper
		}
		return path.Base(strings.Trim(w, "()'\";"))
	}
	return ""
}

// Human reports whether a log's src is the person at the keyboard.
func Human(src string) bool {
	switch strings.ToLower(src) {
	case "", "human", "user", "fish", "interactive", "terminal":
		return true
	}
	return false
}

type logLine struct {
	TS  *float64 `json:"ts"`
	Cmd string   `json:"cmd"`
	Src string   `json:"src"`
}

// Count is how often one program was run.
type Count struct {
	Human  int64
	Agents int64
}

// Total is Human + Agents.
func (c Count) Total() int64 { return c.Human + c.Agents }

// Usage is what the command log says about the window.
type Usage struct {
	Commands int64            // commands in the window
	Human    int64            // of them by the person
	BySource map[string]int64 // agent commands by src
	Programs map[string]*Count
	Stats    jsonl.Stats
}

// ReadLog streams the command log at path, keeping the commands at or
// after since. A missing log is an error satisfying errors.Is(err, fs.ErrNotExist).
func ReadLog(ctx context.Context, path string, since time.Time, maxLine int) (*Usage, error) {
	u := &Usage{BySource: map[string]int64{}, Programs: map[string]*Count{}}
	from := float64(since.Unix())
	st, err := jsonl.ReadFile(ctx, path, maxLine, func(l *logLine) error {
		if l.TS == nil || l.Cmd == "" {
			return jsonl.ErrSkip
		}
		ts := *l.TS
		if ts > 1e12 {
			ts /= 1000
		}
		if ts < from {
			return nil
		}
		prog := CommandOf(l.Cmd)
		if prog == "" {
			return nil
		}
		u.Commands++
		c := u.Programs[prog]
		if c == nil {
			c = &Count{}
			u.Programs[prog] = c
		}
		if Human(l.Src) {
			u.Human++
			c.Human++
		} else {
			u.BySource[l.Src]++
			c.Agents++
		}
		return nil
	})
	u.Stats = st
	return u, err
}

// Tool is one installed tool and its use.
type Tool struct {
	Package string
	Command string
	Count
}

// Report joins the installed packages and the usage.
type Report struct {
	Installed []string
	Usage     *Usage
	Days      int
	Now       time.Time
}

// Tools returns every installed tool with its count, most used first.
func (r Report) Tools() []Tool {
	out := make([]Tool, 0, len(r.Installed))
	for _, p := range r.Installed {
		cmd := p
		if b, ok := Binaries[p]; ok {
			cmd = b
		}
		t := Tool{Package: p, Command: cmd}
		if c := r.Usage.Programs[cmd]; c != nil {
			t.Count = *c
		} else if c := r.Usage.Programs[p]; c != nil {
			t.Count = *c
		}
		out = append(out, t)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Total() != out[j].Total() {
			return out[i].Total() > out[j].Total()
		}
		return out[i].Package < out[j].Package
	})
	return out
}

// Counts returns installed, used and the percentage used (rounded).
func (r Report) Counts() (installed, used, pct int) {
	for _, t := range r.Tools() {
		installed++
		if t.Total() > 0 {
			used++
		}
	}
	if installed > 0 {
		pct = (used*100 + installed/2) / installed
	}
	return installed, used, pct
}

// Stat is the summary statistic: "Tools: U/N used | P% adoption".
func (r Report) Stat() string {
	n, u, p := r.Counts()
	return fmt.Sprintf("Tools: %d/%d used | %d%% adoption", u, n, p)
}

func (r Report) headline() string {
	n, u, p := r.Counts()
	return fmt.Sprintf("**Installed**: %d tools | **Used**: %d (%d%%) | **Analysis period**: %d days", n, u, p, r.Days)
}

// Section is the "## 📦 System Tool Usage" section of CLAUDE.md. It has
// no clock in it: unchanged usage leaves CLAUDE.md unchanged.
func (r Report) Section() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\n\n%s\n\n", SectionHeading, r.headline())
	var top, unused []string
	for _, t := range r.Tools() {
		if t.Total() > 0 && len(top) < 10 {
			top = append(top, fmt.Sprintf("%s (%d: %d you, %d agents)", t.Command, t.Total(), t.Human, t.Agents))
		} else if t.Total() == 0 {
			unused = append(unused, t.Package)
		}
	}
	if len(top) > 0 {
		fmt.Fprintf(&b, "- Most used: %s\n", strings.Join(top, ", "))
	}
	if len(unused) > 0 {
		more := ""
		if len(unused) > 20 {
			more = fmt.Sprintf(" and %d more", len(unused)-20)
			unused = unused[:20]
		}
		fmt.Fprintf(&b, "- Not used in %d days: %s%s\n", r.Days, strings.Join(unused, ", "), more)
	}
	b.WriteString("\nDetails: `.claude/tool-analytics.md`\n")
	return b.Bytes()
}

// Markdown is <flake>/.claude/tool-analytics.md.
func (r Report) Markdown() []byte {
	var b bytes.Buffer
	u := r.Usage
	fmt.Fprintf(&b, "# System tool usage\n\nGenerated by `rebuild` (tool-analytics) on %s from the fish command log of the last %d days.\n\n",
		r.Now.Format("2006-01-02 15:04"), r.Days)
	fmt.Fprintf(&b, "%s\n\n", r.headline())
	var agents []string
	for _, src := range slices.Sorted(maps.Keys(u.BySource)) {
		agents = append(agents, fmt.Sprintf("%s %d", src, u.BySource[src]))
	}
	fmt.Fprintf(&b, "- Commands: %d (%d by you, %d by agents", u.Commands, u.Human, u.Commands-u.Human)
	if len(agents) > 0 {
		fmt.Fprintf(&b, ": %s", strings.Join(agents, ", "))
	}
	b.WriteString(")\n")
	if d := u.Stats.Describe("the command log"); d != "" {
		fmt.Fprintf(&b, "- %s\n", strings.ToUpper(d[:1])+d[1:])
	}
	b.WriteString("\n## Installed tools by use\n\n| Tool | Command | Total | You | Agents |\n|---|---|---:|---:|---:|\n")
	for _, t := range r.Tools() {
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %d |\n", t.Package, t.Command, t.Total(), t.Human, t.Agents)
	}
	installed := map[string]bool{}
	for _, t := range r.Tools() {
		installed[t.Command] = true
		installed[t.Package] = true
	}
	type prog struct {
		name string
		c    Count
	}
	var others []prog
	for name, c := range u.Programs {
		if !installed[name] {
			others = append(others, prog{name, *c})
		}
	}
	sort.Slice(others, func(i, j int) bool {
		if others[i].c.Total() != others[j].c.Total() {
			return others[i].c.Total() > others[j].c.Total()
		}
		return others[i].name < others[j].name
	})
	if len(others) > 0 {
		b.WriteString("\n## Most run commands not from packages.nix\n\n| Command | Total | You | Agents |\n|---|---:|---:|---:|\n")
		for i, o := range others {
			if i == 15 {
				break
			}
			fmt.Fprintf(&b, "| %s | %d | %d | %d |\n", o.name, o.c.Total(), o.c.Human, o.c.Agents)
		}
	}
	return b.Bytes()
}

// ReadPackages parses the packages.nix at path.
func ReadPackages(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParsePackages(f)
}
