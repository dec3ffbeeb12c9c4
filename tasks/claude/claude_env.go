package claude

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rebuild-nixos/rebuild/internal/safefile"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/fsutil"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// noClaudeReason is the one reason every task of the family gives when
// the user has no ~/.claude: Claude Code was never set up here, and there
// is nothing to configure, analyze or learn from.
const noClaudeReason = "no ~/.claude: Claude Code is not set up for this user"

// requireClaudeDir skips the task when ~/.claude does not exist.
func requireClaudeDir(env *tasks.Env) error {
	if fi, err := os.Stat(filepath.Join(env.Home, ".claude")); err != nil || !fi.IsDir() {
		return tasks.Skip(noClaudeReason)
	}
	return nil
}

// flakeDir is the configured flake directory ("" without a configuration).
func flakeOf(env *tasks.Env) string {
	if env.Config == nil {
		return ""
	}
	return env.Config.Flake
}

// stateDirOf is where the session logs' records are kept ("" without a
// configuration: every log is read whole). A dry run keeps them too: they
// are rebuild's own cache of what it read, like its logs, not a change to
// the machine.
func stateDirOf(env *tasks.Env) string {
	if env.Config == nil {
		return ""
	}
	return env.Config.StateDir
}

// positive refuses n, the value of option key, below 1.
func positive(key string, n int) error {
	if n < 1 {
		return tasks.BadOption(key, n, "not allowed", "a whole number ≥ 1")
	}
	return nil
}

// runner is the task's command runner (a zero Runner in tests that set none).
func taskRunner(env *tasks.Env) *proc.Runner {
	if env.Runner != nil {
		return env.Runner
	}
	return &proc.Runner{}
}

// lookProgram finds program name on the PATH the runner gives its commands
// (its Environ, else ours), by proc.LookPath's rules: never in the working
// directory. A generator that is not installed is a reason to skip, not a
// failure.
func lookProgram(name string, environ []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, isExecutable(name)
	}
	pathVar := os.Getenv("PATH")
	if environ != nil {
		pathVar = ""
		for _, kv := range environ {
			if v, ok := strings.CutPrefix(kv, "PATH="); ok {
				pathVar = v
			}
		}
	}
	p, err := proc.LookPath(name, pathVar)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, fs.ErrNotExist)
	}
	return p, nil
}

func isExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return errors.New(p + ": not an executable file")
	}
	return nil
}

// writeFileAtomic writes data to path atomically (fsutil.WriteAtomic),
// creating the folder first.
func writeFileAtomic(path string, data []byte) error {
	if err := safefile.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return fsutil.WriteAtomic(path, data)
}
