package learn

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
)

// SettingsLocal is a project's personal settings file, where allow-list
// patterns are added.
func SettingsLocal(project string) string {
	return filepath.Join(project, ".claude", "settings.local.json")
}

// allowed returns the patterns already allowed for project: its
// settings.local.json and settings.json, and the user's ~/.claude/settings.json.
func allowed(home, project string) map[string]bool {
	out := map[string]bool{}
	files := []string{SettingsLocal(project), filepath.Join(project, ".claude", "settings.json")}
	if home != "" {
		files = append(files, filepath.Join(home, ".claude", "settings.json"))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var s struct {
			Permissions struct {
				Allow []string `json:"allow"`
			} `json:"permissions"`
		}
		if json.Unmarshal(b, &s) != nil {
			continue
		}
		for _, p := range s.Permissions.Allow {
			out[p] = true
		}
	}
	return out
}

// destructive are commands never put on an allow-list, whatever the
// evidence: an approval of one of these is a decision each time.
var destructive = map[string]bool{
	"rm": true, "rmdir": true, "sudo": true, "doas": true, "su": true, "run0": true, "dd": true,
	"mkfs": true, "shred": true, "chmod": true, "chown": true, "reboot": true, "shutdown": true,
	"poweroff": true, "kill": true, "pkill": true, "killall": true, "eval": true, "exec": true,
	"sh": true, "bash": true, "zsh": true, "fish": true, "curl": true, "wget": true, "mv": true,
	"nix-collect-garbage": true, "nixos-rebuild": true, "systemctl": true,
}

// destructiveSub are subcommands never allowed wholesale.
var destructiveSub = map[string]bool{
	"git push": true, "git reset": true, "git clean": true, "git rebase": true, "git checkout": true,
	"git restore": true, "git rm": true, "nix-env": true, "docker rm": true, "docker rmi": true,
}

// Generalize turns an approved permission into the pattern to allow:
// Bash(git status --short) → Bash(git status:*), Bash(ls -la) → Bash(ls:*).
// Patterns that already end in :* and other tools' permissions are kept.
// ok is false for a permission that must never be allowed wholesale
// (destructive commands, Bash(*) and the like).
func Generalize(permission string) (pattern string, ok bool) {
	permission = strings.TrimSpace(permission)
	tool, arg, hasArg := strings.Cut(permission, "(")
	if tool != "Bash" {
		// Another tool: kept as approved, unless it opens everything
		// (Edit(**), Read(/**)).
		if permission == "" || (hasArg && strings.Trim(strings.TrimSuffix(arg, ")"), "*/") == "") {
			return "", false
		}
		return permission, true
	}
	if !hasArg || !strings.HasSuffix(arg, ")") {
		return "", false // bare Bash: everything
	}
	arg = strings.TrimSuffix(arg, ")")
	arg = strings.TrimSuffix(arg, ":*")
	words := strings.Fields(arg)
	if len(words) == 0 || strings.ContainsAny(words[0], "*?;|&$`=") {
		return "", false
	}
	prefix := words[0]
	if len(words) > 1 && withSubcommands[filepath.Base(words[0])] && isSubcommand(words[1]) {
		prefix += " " + words[1]
	}
	if destructive[filepath.Base(words[0])] || destructiveSub[prefix] || destructiveSub[words[0]] {
		return "", false
	}
	for _, w := range words {
		if strings.ContainsAny(w, ";|&`$>") {
			return "", false // a pipeline or redirection: not a prefix of anything
		}
	}
	return "Bash(" + prefix + ":*)", true
}

// withSubcommands are programs whose second word is a subcommand, kept in
// the pattern (git status, npm run); for any other program the second word
// is an argument (rg foo → rg).
var withSubcommands = map[string]bool{
	"git": true, "npm": true, "pnpm": true, "yarn": true, "bun": true, "deno": true, "cargo": true,
	"go": true, "nix": true, "docker": true, "podman": true, "kubectl": true, "gh": true, "uv": true,
	"pip": true, "poetry": true, "just": true, "make": true, "systemctl": true, "journalctl": true,
	"home-manager": true, "terraform": true, "dotnet": true, "mvn": true, "gradle": true, "rustup": true,
	"devenv": true, "direnv": true, "jj": true, "hg": true, "brew": true, "apt": true,
}

func isSubcommand(w string) bool {
	if w == "" || w[0] == '-' {
		return false
	}
	for _, r := range w {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
