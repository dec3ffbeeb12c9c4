package nixos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/internal/text"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// Copy is the copy task of a host reached over ssh, between its build
// and its activation:
//
//	nix copy --to ssh-ng://<user@addr> --no-check-sigs <system> --log-format internal-json -v
//
// with NIX_SSHOPTS carrying the port and the ssh_options. First it asks
// what the host is missing of the system's closure (the NAR sizes here,
// `nix-store --check-validity --print-invalid` there), so that the live
// status and the json status events show paths and bytes of a known
// total: "copying 3/12 paths · 4.1/20.0 MiB · 2.0 MiB/s" (CopyLog).
// --no-check-sigs is what nixos-rebuild's nix-copy-closure does: the
// host's Nix still accepts unsigned paths only from a trusted user.
//
// A local host, a system built on the target itself and no changes
// finish at once, saying why.
type Copy struct{ Options CopyOptions }

// CopyOptions are the options of [task.copy].
type CopyOptions struct {
	SubstituteOnDestination bool `option:"substitute_on_destination" doc:"let each host download what it can from its own binary caches (nix copy --substitute-on-destination) rather than receive everything from this machine"`
}

// Configure implements tasks.Configurable.
func (c Copy) Configure(t config.Task) (tasks.Task, error) {
	c.Options = CopyOptions{}
	err := tasks.DecodeOptions(t, &c.Options)
	return c, err
}

// TaskOptions implements tasks.Configurable.
func (c Copy) TaskOptions() any { return c.Options }

// Run copies the built system to the host.
func (c Copy) Run(ctx context.Context, env *tasks.Env) error {
	if env.Config == nil {
		return errNoConfig
	}
	h := env.Target()
	if h.IsLocal() {
		return tasks.Skip("local host: nothing to copy")
	}
	built, ok := BuiltKey.Get(env)
	if !ok || built.Out == "" {
		return tasks.Skip("nothing built in this run")
	}
	if built.OnTarget {
		return tasks.Skip("built on %s: the system is there already", h.Name)
	}
	if !built.Changed {
		return tasks.Skip("no changes: %s runs it already", h.Name)
	}
	r, err := remoteOf(env)
	if err != nil {
		return err
	}
	opts, err := r.ssh.NixSSHOpts()
	if err != nil {
		return fmt.Errorf("host %s: %w", h.Name, err)
	}
	out := built.Out
	env.Status("asking %s what it is missing", h.Name)
	plan, err := r.missing(ctx, env, out)
	if err != nil {
		// Only the totals are lost: nix copy finds out itself.
		fmt.Fprintf(env.Log, "what %s is missing is not known (the progress has no totals): %v\n", h.Name, err)
	} else if len(plan.paths) == 0 {
		env.Stat("nothing to copy: %s has the whole closure already", h.Name)
		return nil
	}
	args := []string{"nix", "copy", "--to", r.ssh.StoreURI(), "--no-check-sigs"}
	if c.Options.SubstituteOnDestination {
		args = append(args, "--substitute-on-destination")
	}
	args = append(args, out, "--log-format", "internal-json", "-v")
	cl := NewCopyLog(plan.sizes, len(plan.paths), plan.bytes)
	cl.Now = env.Now
	w := &copyLogWriter{log: cl}
	w.jsonLogWriter = jsonLogWriter{env: env, parse: cl.Line, progress: w.progress}
	w.progress(true)
	err = env.Runner.Run(ctx, proc.Cmd{Args: args, Env: []string{"NIX_SSHOPTS=" + opts}, Log: w})
	w.flush()
	if err != nil {
		if report := cl.ErrorReport(); report != "" && ctx.Err() == nil {
			var pe *proc.Error
			cmd := ""
			if errors.As(err, &pe) {
				cmd = fmt.Sprintf("%s: exit status %d", pe.Cmd, pe.Code)
			}
			return &nixError{report: "copying to " + r.String() + ": " + report, cmd: cmd, err: err}
		}
		return fmt.Errorf("copying to %s: %w", r, err)
	}
	paths, n, rate := cl.Result()
	stat := fmt.Sprintf("copied %s (%s) to %s", text.Plural(paths, "path", "paths"), humanBytes(n), h.Name)
	if rate > 0 {
		stat += " at " + humanBytes(int64(rate)) + "/s"
	}
	env.Stat("%s", stat)
	for _, w := range cl.Warnings() {
		env.Warn("nix: %s", firstLine(w))
	}
	env.Action("copied %s to %s", out, h.Name)
	return nil
}

// copyPlan is what a host is missing of a closure.
type copyPlan struct {
	paths []string
	sizes map[string]int64 // NAR size by path, of the whole closure
	bytes int64            // NAR bytes of the missing paths
}

// missingScript prints which of the store paths on its standard input
// (one a line) are not valid on the host.
const missingScript = `set --
while IFS= read -r p; do set -- "$@" "$p"; done
[ $# -eq 0 ] || exec nix-store --check-validity --print-invalid "$@"`

// missing works out what the host is missing of out's closure: the
// closure and its NAR sizes here, and which paths of it are not valid
// there.
func (r *remote) missing(ctx context.Context, env *tasks.Env, out string) (copyPlan, error) {
	var stdout bytes.Buffer
	var log strings.Builder
	err := env.Runner.Run(ctx, proc.Cmd{Args: []string{"nix", "path-info", "-r", "--json", out}, Stdout: &stdout, Log: &log})
	if err != nil {
		return copyPlan{}, err
	}
	sizes, err := parseNarSizes(stdout.String())
	if err != nil {
		return copyPlan{}, err
	}
	var list strings.Builder
	for p := range sizes {
		list.WriteString(p + "\n")
	}
	invalid, err := r.output(ctx, env, remoteCmd{script: missingScript, stdin: strings.NewReader(list.String()),
		what: fmt.Sprintf("nix-store --check-validity --print-invalid (%d paths)", len(sizes))})
	if err != nil {
		return copyPlan{}, err
	}
	plan := copyPlan{sizes: sizes}
	for _, p := range strings.Fields(invalid) {
		if n, ok := sizes[p]; ok {
			plan.paths = append(plan.paths, p)
			plan.bytes += n
		}
	}
	return plan, nil
}

// parseNarSizes reads `nix path-info --json`: NAR size by path.
func parseNarSizes(out string) (map[string]int64, error) {
	return parsePathInfo(out, func(in pathInfo) int64 { return in.NarSize })
}

// copyLogWriter receives nix copy's standard error: readable text to the
// task's log, the progress to the screen when it changes (bytes alone at
// most every progressEvery).
type copyLogWriter struct {
	jsonLogWriter
	log    *CopyLog
	status string
	sent   time.Time
}

// progress sends the copy's progress when its status changed: paths at
// once, bytes and rate at most every progressEvery, unless final.
func (w *copyLogWriter) progress(final bool) {
	st := w.log.Status()
	now := w.env.Now()
	if st == w.status {
		return
	}
	if !final && w.status != "" && samePaths(st, w.status) && now.Sub(w.sent) < progressEvery {
		return
	}
	w.status, w.sent = st, now
	w.env.Progress(st, w.log.Progress())
}

// samePaths reports whether two statuses count the same paths (they
// differ in bytes or rate only).
func samePaths(a, b string) bool {
	pa, _, _ := strings.Cut(a, " · ")
	pb, _, _ := strings.Cut(b, " · ")
	return pa == pb
}
