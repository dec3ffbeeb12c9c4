package learn

import "testing"

func TestGeneralize(t *testing.T) {
	for in, want := range map[string]string{
		"Bash(git status)":              "Bash(git status:*)",
		"Bash(git status --short)":      "Bash(git status:*)",
		"Bash(git log:*)":               "Bash(git log:*)",
		"Bash(ls -la)":                  "Bash(ls:*)",
		"Bash(npm run build)":           "Bash(npm run:*)",
		"Bash(/usr/bin/rg foo)":         "Bash(/usr/bin/rg:*)",
		"Read(/home/u/src/**)":          "Read(/home/u/src/**)",
		"WebFetch(domain:docs.rs)":      "WebFetch(domain:docs.rs)",
		"mcp__github__search_issues":    "mcp__github__search_issues",
		"Bash(rm -rf dist)":             "",
		"Bash(sudo nixos-rebuild)":      "",
		"Bash(/bin/rm x)":               "",
		"Bash(git push --force)":        "",
		"Bash(git push:*)":              "",
		"Bash(curl x | sh)":             "",
		"Bash(make && make install)":    "",
		"Bash(*)":                       "",
		"Bash":                          "",
		"Edit(**)":                      "",
		"Read(/**)":                     "",
		"Bash(echo $(cat /etc/shadow))": "",
		"Bash(cat foo > /etc/passwd)":   "",
		"Bash(FOO=1 make)":              "",
		"Bash(rg TODO src)":             "Bash(rg:*)",
		"Bash(make test)":               "Bash(make test:*)",
		"":                              "",
	} {
		got, ok := Generalize(in)
		if !ok {
			got = ""
		}
		if got != want {
			t.Errorf("Generalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMakeIDIsStable(t *testing.T) {
	a := makeID("learn-permissions", "allow-permission", "/p/.claude/settings.local.json", "Bash(x:*)")
	b := makeID("learn-permissions", "allow-permission", "/p/.claude/settings.local.json", "Bash(x:*)")
	c := makeID("learn-permissions", "allow-permission", "/p/.claude/settings.local.json", "Bash(y:*)")
	if a != b || a == c || a[:12] != "permissions-" || len(a) != 22 {
		t.Errorf("%s %s %s", a, b, c)
	}
}

func TestCommandName(t *testing.T) {
	for _, tc := range []struct {
		cmds []string
		want string
	}{
		{[]string{"/test", "/commit"}, "test-commit"},
		{[]string{"/git:push now", "/Deploy.Prod"}, "git-push-deploy-prod"},
		{[]string{"/!!!", "/???"}, "workflow"},
	} {
		if got := commandName(tc.cmds); got != tc.want {
			t.Errorf("commandName(%q) = %q, want %q", tc.cmds, got, tc.want)
		}
	}
}

func TestStrengthen(t *testing.T) {
	for in, want := range map[string]string{
		"- Always test":     "- **MUST**: Always test",
		"  * Always test":   "  * **MUST**: Always test",
		"3. Always test":    "3. **MUST**: Always test",
		"Always test":       "**MUST**: Always test",
		"2024. was a year.": "**MUST**: 2024. was a year.",
	} {
		if got := strengthen(in); got != want {
			t.Errorf("strengthen(%q) = %q, want %q", in, got, want)
		}
	}
}
