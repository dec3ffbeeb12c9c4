package nixos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// generation is one generation of the system profile.
type generation struct {
	Number  int
	Date    time.Time
	Path    string // the store path its link points at
	Current bool   // the profile points at it
	Booted  bool   // it is the booted system
	Running bool   // it is the running system
	Size    int64  // closure size in bytes; 0 when unknown
}

// protected: never offered, never deleted.
func (g generation) protected() bool { return g.Current || g.Booted || g.Running }

func (g generation) marks() string {
	var m []string
	if g.Current {
		m = append(m, "current")
	}
	if g.Booted {
		m = append(m, "booted")
	}
	if g.Running && !g.Current {
		m = append(m, "running")
	}
	return strings.Join(m, ", ")
}

// link is the path of generation n's link next to profile.
func link(profile string, n int) string { return profile + "-" + strconv.Itoa(n) + "-link" }

// currentGeneration reads the profile's link: 0 when there is none.
func currentGeneration(profile string) int {
	target, err := os.Readlink(profile)
	if err != nil {
		return 0
	}
	n, err := parseLinkName(filepath.Base(profile), filepath.Base(target))
	if err != nil {
		return 0
	}
	return n
}

func parseLinkName(base, name string) (int, error) {
	s, ok := strings.CutPrefix(name, base+"-")
	if ok {
		s, ok = strings.CutSuffix(s, "-link")
	}
	if !ok {
		return 0, fmt.Errorf("%q is not a generation link of %s", name, base)
	}
	return strconv.Atoi(s)
}

// listGenerations runs `nix-env -p <profile> --list-generations` and
// resolves each generation's link; Booted and Running are set from the
// configured booted and running system links.
func listGenerations(ctx context.Context, env *tasks.Env) ([]generation, error) {
	profile := env.Config.Profile
	out, err := output(ctx, env, proc.Cmd{Args: []string{"nix-env", "-p", profile, "--list-generations"}})
	if err != nil {
		return nil, err
	}
	gens, err := parseGenerations(out, time.Local)
	if err != nil {
		return nil, fmt.Errorf("nix-env --list-generations: %w", err)
	}
	booted, running := resolve(env.Config.BootedSystem), resolve(env.Config.CurrentSystem)
	for i := range gens {
		g := &gens[i]
		g.Path = resolve(link(profile, g.Number))
		g.Booted = g.Path != "" && g.Path == booted
		g.Running = g.Path != "" && g.Path == running
	}
	return gens, nil
}

// parseGenerations reads nix-env's listing:
//
//	1   2026-11-25 17:29:26
//	2   2026-11-25 17:29:45   (current)
func parseGenerations(text string, loc *time.Location) ([]generation, error) {
	var gens []generation
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 3 {
			return nil, fmt.Errorf("unexpected line %q", line)
		}
		n, err := strconv.Atoi(f[0])
		if err != nil {
			return nil, fmt.Errorf("unexpected line %q", line)
		}
		date, err := time.ParseInLocation("2006-01-02 15:04:05", f[1]+" "+f[2], loc)
		if err != nil {
			return nil, fmt.Errorf("unexpected date in %q", line)
		}
		gens = append(gens, generation{Number: n, Date: date, Current: len(f) > 3 && f[3] == "(current)"})
	}
	return gens, nil
}
