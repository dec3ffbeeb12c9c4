package claude_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// generator is a stand-in for update-all: it leaves each of the five files
// in a different state.
const generator = `#!/bin/sh
set -e
home="$1"
pwd > "$home/generator-ran-in"
printf '# Global\n\n## Style\n\nBe very brief.\nUse lists.\n' > "$home/.claude/CLAUDE.md"
: > "$home/.claude/CLAUDE-USER-POLICIES.md"
cp CLAUDE.md CLAUDE.md.new && mv CLAUDE.md.new CLAUDE.md
mkdir -p .claude && echo '{"permissions": {}}' > .claude/settings.local.json
echo "generated 4 files"
`

func TestClaudeConfigReportsEachFile(t *testing.T) {
	f := newFixture(t)
	gen := f.write(filepath.Join(f.home, "bin", "update-all"), generator)
	os.Chmod(gen, 0o755)
	env := f.mustRun("claude-config", runOpts{options: map[string]any{"command": []any{gen, f.home}}})
	rep := env.Report()
	if got := strings.TrimSpace(f.read(filepath.Join(f.home, "generator-ran-in"))); got != f.flake {
		t.Errorf("generator ran in %s, want the flake", got)
	}
	for _, want := range []string{"~/.claude/CLAUDE.md: 46 B, updated (+2 −1 lines)"} {
		if !hasLine(rep.Actions, want) {
			t.Errorf("actions %q lack %q", rep.Actions, want)
		}
	}
	if !hasLine(rep.Warnings, "~/.claude/CLAUDE-USER-POLICIES.md: EMPTY") {
		t.Errorf("warnings %q", rep.Warnings)
	}
	for _, want := range []string{
		"./CLAUDE.md: ", ", unchanged",
		"./.claude/settings.local.json: 20 B, untracked",
		"./.claude/CLAUDE.local.md: missing",
		"System tools: 122 | Fish abbreviations: 45",
	} {
		if !hasLine(rep.Stats, want) {
			t.Errorf("stats %q lack %q", rep.Stats, want)
		}
	}
	if !strings.Contains(f.logs["claude-config"].String(), "generated 4 files") {
		t.Errorf("the generator's output is not in the log:\n%s", f.logs["claude-config"])
	}
}

func TestClaudeConfigGenerators(t *testing.T) {
	f := newFixture(t)
	bin := filepath.Join(f.home, "fakebin")
	nix := f.write(filepath.Join(bin, "nix"), "#!/bin/sh\necho \"$@\" > \""+f.home+"/nix-args\"\n")
	os.Chmod(nix, 0o755)
	path := []string{"PATH=" + bin + ":/usr/bin:/bin"}

	// Default: the published flake, then the local checkout once it exists.
	f.mustRun("claude-config", runOpts{environ: path})
	if got := f.read(filepath.Join(f.home, "nix-args")); got != "run github:jacopone/claude-nixos-automation#update-all\n" {
		t.Errorf("nix %q", got)
	}
	os.MkdirAll(filepath.Join(f.home, "claude-nixos-automation"), 0o755)
	f.mustRun("claude-config", runOpts{environ: path})
	if got := f.read(filepath.Join(f.home, "nix-args")); got != "run "+f.home+"/claude-nixos-automation#update-all\n" {
		t.Errorf("nix %q", got)
	}

	// No nix: skipped with a reason.
	_, err := f.run("claude-config", runOpts{environ: []string{"PATH=" + filepath.Join(f.home, "empty")}})
	if o, ok := tasks.AsOutcome(err); !ok || o.Reason != "generator nix not found" {
		t.Errorf("%v", err)
	}

	// A string is a shell command line, run in the flake.
	f.mustRun("claude-config", runOpts{options: map[string]any{"command": "echo hi > marker"}})
	if f.read(filepath.Join(f.flake, "marker")) != "hi\n" {
		t.Error("the command line did not run in the flake")
	}

	// A failing generator fails the task with its last output lines.
	_, err = f.run("claude-config", runOpts{options: map[string]any{"command": "echo boom >&2; exit 3"}})
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "boom") {
		t.Errorf("failing generator: %v", err)
	}
	if _, ok := tasks.AsOutcome(err); ok {
		t.Error("a failing generator is a failure, not a skip")
	}
}

// The generator is never taken from the working directory: with an empty
// PATH entry, a `nix` planted in the flake (where the generator runs, and
// where rebuild was started) is passed over for the one on PATH.
func TestClaudeConfigGeneratorNotFromWorkingDirectory(t *testing.T) {
	f := newFixture(t)
	bin := filepath.Join(f.home, "fakebin")
	nix := f.write(filepath.Join(bin, "nix"), "#!/bin/sh\necho real >> \""+f.home+"/ran\"\n")
	os.Chmod(nix, 0o755)
	planted := f.write(filepath.Join(f.flake, "nix"), "#!/bin/sh\necho planted >> \""+f.home+"/ran\"\n")
	os.Chmod(planted, 0o755)
	t.Chdir(f.flake)
	f.mustRun("claude-config", runOpts{environ: []string{"PATH=:" + bin}})
	if got := f.read(filepath.Join(f.home, "ran")); got != "real\n" {
		t.Errorf("ran %q, want only the nix on PATH", got)
	}
}
