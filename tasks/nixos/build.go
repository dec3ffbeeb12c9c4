package nixos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/internal/text"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// Build is the build task:
//
//	nix build --no-link --json <flake>#nixosConfigurations.<host>.config.system.build.toplevel \
//	    --log-format internal-json -v
//
// The JSON on standard output gives the store path (Nix 2.8 has no
// --print-out-paths); the internal-json log on standard error becomes the
// live status and a readable task log. The path is handed on as a Built
// (BuiltKey), whose Changed is false when it is the running system.
type Build struct{ Options BuildOptions }

// BuildOptions are the options of [task.build]: the seed's
// `NIXPKGS_ALLOW_UNFREE=1 nix build --impure` is impure = true and
// env = ["NIXPKGS_ALLOW_UNFREE=1"].
type BuildOptions struct {
	Impure bool     `option:"impure" doc:"build with --impure"`
	Env    []string `option:"env" doc:"variables for Nix, each KEY=VALUE, e.g. [\"NIXPKGS_ALLOW_UNFREE=1\"]"`
	// Fingerprint: skip the evaluation when nothing it reads changed
	// since the last build (see fingerprint.go); --rebuild sets it false.
	Fingerprint bool `option:"fingerprint" doc:"skip evaluating when nothing the evaluation reads changed since the last build (false: always evaluate; --rebuild)"`
}

func defaultBuildOptions() BuildOptions { return BuildOptions{Env: []string{}, Fingerprint: true} }

// Check refuses a variable that is not KEY=VALUE.
func (o BuildOptions) Check() error {
	for _, kv := range o.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return tasks.BadOption("env", kv, "not KEY=VALUE", `a list of KEY=VALUE, e.g. ["NIXPKGS_ALLOW_UNFREE=1"]`)
		}
	}
	return nil
}

// Configure implements tasks.Configurable.
func (b Build) Configure(t config.Task) (tasks.Task, error) {
	b.Options = defaultBuildOptions()
	err := tasks.DecodeOptions(t, &b.Options)
	return b, err
}

// TaskOptions implements tasks.Configurable.
func (b Build) TaskOptions() any { return b.Options }

// Run builds the system. It evaluates the configuration once; activation
// uses what it built.
func (b Build) Run(ctx context.Context, env *tasks.Env) error {
	impure, extraEnv := b.Options.Impure, b.Options.Env
	attr, err := toplevel(env)
	if err != nil {
		return err
	}
	if env.Runner == nil {
		return errors.New("no command runner")
	}
	r, err := remoteOf(env)
	if err != nil {
		return err
	}
	where, err := buildPlace(env, r)
	if err != nil {
		return err
	}
	if env.DryRun {
		_, dir, _ := env.Flake()
		return b.dryRun(ctx, env, attr, dir, r, where)
	}
	args := []string{"nix", "build", "--no-link", "--json", attr, "--log-format", "internal-json", "-v"}
	if impure {
		args = append(args, "--impure")
	}
	args = append(args, where.args...)
	extraEnv = slices.Concat(extraEnv, where.env)
	_, dir, _ := env.Flake()
	fp := ""
	if b.Options.Fingerprint {
		env.Status("fingerprinting %s", env.Config.Host)
		var why string
		fp, why = fingerprint(ctx, env, b.Options)
		out, ok := "", false
		if r == nil {
			out, ok = unchanged(env, fp)
		} else {
			out, ok = unchangedOn(ctx, env, r, fp)
		}
		if ok {
			BuiltKey.Put(env, Built{Out: out, Changed: false})
			env.Stat("no changes (fingerprint)")
			fmt.Fprintf(env.Log, "fingerprint %s: nothing the evaluation reads changed since %s was built; it is the running system and the profile's (--rebuild evaluates anyway)\n", fp, out)
			return nil
		}
		if why != "" {
			fmt.Fprintf(env.Log, "no fingerprint (%s): evaluating\n", why)
		}
	}
	times := loadBuildTimes(env.Config.StateDir)
	log := NewBuildLog()
	log.Now, log.Estimate = env.Now, times.estimate
	env.Progress("evaluating "+env.Config.Host, tasks.BuildProgress{
		Evaluating: true, EvalStart: env.Now(), EvalETA: times.estimate(evalKey(env.Config.Host))})

	nl := newNixLogWriter(env, log)
	var stdout bytes.Buffer
	err = env.Runner.Run(ctx, proc.Cmd{Args: args, Dir: dir, Env: extraEnv, Stdout: &stdout, Log: nl})
	nl.flush()
	if err != nil {
		return buildError(ctx, err, nl.log)
	}
	out, err := parseBuildJSON(stdout.Bytes())
	if err != nil {
		return err
	}
	// Only a build that succeeded teaches estimates: when one derivation
	// fails, Nix stops the others halfway.
	if d := log.EvalTime(); d > 0 {
		times.add(evalKey(env.Config.Host), d)
	}
	for name, ds := range log.Durations() {
		times.add(name, ds...)
	}
	if err := times.save(env.Config.StateDir); err != nil {
		fmt.Fprintf(env.Log, "build times not saved: %v\n", err)
	}
	p := nl.log.Progress()
	switch {
	case p.Built == 0 && p.Fetched == 0:
		env.Stat("nothing to build: already in the store")
	case p.Fetched == 0:
		env.Stat("built %s", text.Plural(p.Built, "derivation", "derivations"))
	default:
		env.Stat("built %s, downloaded %s (%s)", text.Plural(p.Built, "derivation", "derivations"), text.Plural(p.Fetched, "path", "paths"), humanBytes(p.FetchedBytes))
	}
	for _, w := range nl.log.Warnings() {
		if !strings.Contains(w, "is dirty") {
			env.Warn("nix: %s", firstLine(w))
		}
	}
	rememberBuild(env, fp, out)
	if where.desc != "" {
		env.Stat("built %s", where.desc)
	}
	if r != nil {
		return handOnRemote(ctx, env, r, out, where.onTarget)
	}
	if current := resolve(env.Config.CurrentSystem); current != "" && current == resolve(out) {
		// Running it is not enough: after a failed `boot` the new system
		// runs while the profile was put back, and only activating again
		// sets the profile and the boot default.
		if profile := resolve(env.Config.Profile); profile == current {
			BuiltKey.Put(env, Built{Out: out, Changed: false})
			env.Stat("no changes")
			fmt.Fprintf(env.Log, "%s is the running system (%s) and the profile's\n", out, env.Config.CurrentSystem)
			return nil
		}
		env.Stat("already running, but the profile points elsewhere: activating to set the profile and boot default")
	}
	BuiltKey.Put(env, Built{Out: out, Changed: true, Running: resolve(env.Config.CurrentSystem)})
	env.Action("built %s", out)
	return nil
}

// rememberBuild stores fp with out for the next run; a run without a
// fingerprint forgets the stored one (what it stood for may be stale).
func rememberBuild(env *tasks.Env, fp, out string) {
	if env.DryRun || env.Config.StateDir == "" {
		return
	}
	rec := fingerprintRecord{Fingerprint: fp, Out: out}
	if fp == "" {
		rec = fingerprintRecord{}
	}
	if err := storeFingerprint(env.Config.StateDir, env.Config.Host, rec); err != nil {
		env.Warn("build: could not store the fingerprint: %v", err)
	}
}

// buildError makes Nix's own error lines the error's message, with the
// failed derivation's last lines and the command line below them.
func buildError(ctx context.Context, err error, l *BuildLog) error {
	if ctx.Err() != nil {
		return err
	}
	report := l.ErrorReport()
	if report == "" {
		return err
	}
	var pe *proc.Error
	if errors.As(err, &pe) {
		code := fmt.Sprintf("exit status %d", pe.Code)
		if pe.Signal != "" {
			code = "killed by signal " + pe.Signal
		}
		return &nixError{report: report, cmd: pe.Cmd + ": " + code, err: err}
	}
	return &nixError{report: report, err: err}
}

// nixError is a failed Nix command: Nix's error report first (what the
// user needs to read), then the command.
type nixError struct {
	report, cmd string
	err         error
}

func (e *nixError) Error() string {
	if e.cmd == "" {
		return e.report
	}
	return e.report + "\n(" + e.cmd + ")"
}

func (e *nixError) Unwrap() error { return e.err }

func parseBuildJSON(b []byte) (string, error) {
	var res []struct {
		DrvPath string            `json:"drvPath"`
		Outputs map[string]string `json:"outputs"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return "", fmt.Errorf("nix build --json: unexpected output %q: %w", truncate(string(b), 200), err)
	}
	if len(res) != 1 || res[0].Outputs["out"] == "" {
		return "", fmt.Errorf("nix build --json: expected one output path, got %q", truncate(string(b), 200))
	}
	return res[0].Outputs["out"], nil
}

// nixLogWriter receives Nix's standard error from the runner: it feeds the
// BuildLog, writes the readable text to the task log and updates the
// live status when it changes.
type nixLogWriter struct {
	jsonLogWriter
	log    *BuildLog
	status string
	shape  string    // what the screen shows but the bytes; see line
	sent   time.Time // when the last progress went out
}

func newNixLogWriter(env *tasks.Env, log *BuildLog) *nixLogWriter {
	w := &nixLogWriter{log: log}
	w.jsonLogWriter = jsonLogWriter{env: env, parse: log.Line, progress: w.progress}
	return w
}

// progressEvery is how often a download's bytes alone update the
// progress: Nix reports every few kilobytes.
const progressEvery = 100 * time.Millisecond

// progress sends the build's progress when it changed; bytes alone at
// most every progressEvery, unless final (the end of the log).
func (w *nixLogWriter) progress(final bool) {
	// Until Nix realises anything, "evaluating <host>" (set by Run) says more.
	st := w.log.Status()
	if st == "evaluating" {
		return
	}
	p := w.log.BuildProgress()
	shape := progressShape(p)
	now := w.env.Now()
	if st == w.status && shape == w.shape {
		return
	}
	if !final && shape == w.shape && now.Sub(w.sent) < progressEvery {
		return // the next line, or the end, sends the newest
	}
	w.status, w.shape, w.sent = st, shape, now
	w.env.Progress(st, p)
}

// progressShape is what the progress shows but its bytes and times: a
// change of it goes out at once, a change of bytes at most every
// progressEvery.
func progressShape(p tasks.BuildProgress) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v %d %d %d %d %d|", p.Evaluating, p.Built, p.ToBuild, p.Failed, p.Downloaded, p.ToDownload)
	for _, r := range p.Builds {
		b.WriteString(r.Name + " " + r.Phase + "|")
	}
	for _, d := range p.Downloads {
		b.WriteString(d.Name + "|")
	}
	for _, f := range p.Failures {
		b.WriteString(f.Name + " " + strings.Join(f.Tail, " ") + "|")
	}
	return b.String()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// humanBytes formats n as Nix does: KiB, MiB, GiB with one decimal,
// never bytes ("0.5 KiB"). It is not fsutil.FormatBytes (du's "512 B",
// "150 MiB") on purpose: sizes of store paths and closures are shown as
// nix and nvd print them, so the two can be compared.
func humanBytes(n int64) string {
	sign := ""
	if n < 0 {
		sign, n = "-", -n
	}
	f := float64(n)
	for _, unit := range []string{"KiB", "MiB", "GiB", "TiB"} {
		f /= 1024
		if f < 1024 || unit == "TiB" {
			return fmt.Sprintf("%s%.1f %s", sign, f, unit)
		}
	}
	return ""
}
