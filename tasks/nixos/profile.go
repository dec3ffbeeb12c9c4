package nixos

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
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

// listGenerations lists the profile's generations as `nix-env -p <profile>
// --list-generations` does, by reading the <profile>-N-link links next to
// it (a generation's date is its link's mtime), and resolves each link;
// Booted and Running are set from the configured booted and running system
// links. It does not run nix-env: that takes the profile's lock, which on
// NixOS is root's (/nix/var/nix/profiles/system.lock, NixOS/nix#5144), and
// listing needs no root.
func listGenerations(_ context.Context, env *tasks.Env) ([]generation, error) {
	profile := env.Config.Profile
	gens, err := readGenerations(profile)
	if err != nil {
		return nil, err
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

// readGenerations reads the generation links of profile, oldest first.
func readGenerations(profile string) ([]generation, error) {
	dir, base := filepath.Split(profile)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("listing the generations of %s: %w", profile, err)
	}
	cur := currentGeneration(profile)
	var gens []generation
	for _, e := range entries {
		n, err := parseLinkName(base, e.Name())
		if err != nil || n <= 0 || e.Type()&fs.ModeSymlink == 0 {
			continue
		}
		info, err := os.Lstat(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		gens = append(gens, generation{Number: n, Date: info.ModTime(), Current: n == cur})
	}
	sort.Slice(gens, func(i, j int) bool { return gens[i].Number < gens[j].Number })
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
