package nixos

import (
	"context"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// GenerationInfo is one generation of the system profile, as `rebuild
// generations` lists it.
type GenerationInfo struct {
	Number  int
	Date    time.Time // when its link was made
	Path    string    // the store path its link points at; "" when it does not resolve
	Current bool      // the profile points at it: the boot default
	Booted  bool      // it is the booted system
	Running bool      // it is the running system
	// ClosureBytes is its closure's size; 0 when unknown.
	ClosureBytes int64
}

// Marks are its marks: "current", "booted", "running", comma-separated.
func (g GenerationInfo) Marks() string {
	return generation{Current: g.Current, Booted: g.Booted, Running: g.Running}.marksAll()
}

// ListGenerations lists the profile's generations, oldest first, with
// their closure sizes (one `nix path-info`, which needs no root; when it
// fails the sizes stay 0 and the log says why). It reads the profile's
// links as the generations task does, without nix-env's lock.
func ListGenerations(ctx context.Context, env *tasks.Env) ([]GenerationInfo, error) {
	if env.Config == nil {
		return nil, errNoConfig
	}
	gens, err := listGenerations(ctx, env)
	if err != nil {
		return nil, err
	}
	addSizes(ctx, env, gens)
	out := make([]GenerationInfo, len(gens))
	for i, g := range gens {
		out[i] = GenerationInfo{Number: g.Number, Date: g.Date, Path: g.Path, Current: g.Current,
			Booted: g.Booted, Running: g.Running, ClosureBytes: g.Size}
	}
	return out, nil
}

// marksAll is every mark, running too when it is also current (marks
// leaves that out: in the cleanup plan "current" says enough).
func (g generation) marksAll() string {
	m := g.marks()
	if g.Running && g.Current {
		m += ", running"
	}
	return m
}
