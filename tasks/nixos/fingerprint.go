package nixos

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/rebuild-nixos/rebuild/internal/safefile"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// A fingerprint stands for everything a pure evaluation of the host's
// toplevel reads: every file of the flake's repository that git does not
// ignore (tracked, dirty or untracked: content, mode and name, so a file
// the flake imports counts whether or not it was added), or every file of
// a flake folder outside git; the flake reference and the host; the build
// options (impure, env); and Nix itself (its executable, resolved, with
// its size and time: an upgrade changes it). With impure = true it also
// takes the whole environment Nix is given. When the fingerprint of this
// run is the one stored with the last successful build, and that build's
// store path is still there and is both the running system and the
// profile's, build says "no changes (fingerprint)" without calling Nix.
//
// What no fingerprint sees, and why `--rebuild` (task.build.fingerprint =
// false) exists: with impure = true, files read by absolute path or
// through <nixpkgs> and NIX_PATH, and the network (builtins.fetchurl
// without a hash); and a registry or a flake input given as a local path
// outside the repository (`path:/elsewhere` in flake.nix) — its lock entry
// pins a hash, but an unlocked one is read anew by every evaluation.

// fingerprintFile is where the fingerprints live, by host, in the state
// directory.
const fingerprintFile = "build-fingerprint.json"

// fingerprintRecord is what is stored per host.
type fingerprintRecord struct {
	Fingerprint string `json:"fingerprint"`
	Out         string `json:"out"`
}

// fingerprint computes this run's fingerprint; "" with a reason when it
// cannot (a flake that is not a local folder, a file that cannot be
// read): then build evaluates.
func fingerprint(ctx context.Context, env *tasks.Env, o BuildOptions) (string, string) {
	ref, dir, err := env.Flake()
	if err != nil || dir == "" {
		return "", "the flake is not a local folder"
	}
	h := sha256.New()
	field := func(k, v string) { fmt.Fprintf(h, "%s\x00%d\x00%s\x00", k, len(v), v) }
	field("ref", ref)
	field("host", env.Config.Host)
	field("impure", fmt.Sprint(o.Impure))
	for _, kv := range o.Env {
		field("env", kv)
	}
	environ := nixEnviron(env.Runner, o.Env)
	nix, err := lookPathIn(environ)("nix")
	if err != nil {
		return "", "nix is not on PATH"
	}
	real, err := filepath.EvalSymlinks(nix)
	if err != nil {
		return "", "cannot resolve " + nix
	}
	st, err := os.Stat(real)
	if err != nil {
		return "", err.Error()
	}
	field("nix", fmt.Sprintf("%s %d %d", real, st.Size(), st.ModTime().UnixNano()))
	if o.Impure {
		sorted := slices.Clone(environ)
		slices.Sort(sorted)
		for _, kv := range sorted {
			field("environ", kv)
		}
	}
	files, root, err := flakeFiles(ctx, env, dir)
	if err != nil {
		return "", err.Error()
	}
	for _, f := range files {
		if err := hashFile(h, root, f); err != nil {
			return "", err.Error()
		}
	}
	return hex.EncodeToString(h.Sum(nil)), ""
}

// flakeFiles lists, relative to root, the files an evaluation may read:
// in a git work tree (the flake's folder or one above it) every file git
// does not ignore, from the top of the work tree (Nix copies the whole
// repository); elsewhere every file under dir.
func flakeFiles(ctx context.Context, env *tasks.Env, dir string) (files []string, root string, err error) {
	top, err := gitOutput(ctx, env, dir, "rev-parse", "--show-toplevel")
	if err == nil {
		root = strings.TrimSpace(string(top))
		out, err := gitOutput(ctx, env, root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
		if err != nil {
			return nil, "", err
		}
		for _, f := range strings.Split(string(out), "\x00") {
			if f != "" {
				files = append(files, f)
			}
		}
		slices.Sort(files)
		return slices.Compact(files), root, nil
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, rel)
		}
		return nil
	})
	slices.Sort(files)
	return files, dir, err
}

// gitOutput runs git in dir with the task's runner and returns its
// standard output.
func gitOutput(ctx context.Context, env *tasks.Env, dir string, args ...string) ([]byte, error) {
	var out bytes.Buffer
	err := env.Runner.Run(ctx, proc.Cmd{Args: append([]string{"git", "-C", dir}, args...), Stdout: &out, Log: io.Discard})
	return out.Bytes(), err
}

// hashFile adds the file rel under root to h: its name, its type and
// mode, and its content (a link's target, never followed). A file listed
// but gone (deleted, not yet staged) counts as gone.
func hashFile(h io.Writer, root, rel string) error {
	p := filepath.Join(root, rel)
	fmt.Fprintf(h, "file\x00%s\x00", rel)
	fi, err := os.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		fmt.Fprint(h, "gone\x00")
		return nil
	case err != nil:
		return err
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "link\x00%s\x00", target)
		return nil
	case fi.IsDir():
		// A submodule or a nested repository: its own commit is read by
		// Nix through git; its HEAD stands for it.
		head, _ := os.ReadFile(filepath.Join(p, ".git", "HEAD"))
		fmt.Fprintf(h, "dir\x00%s\x00", head)
		return nil
	case !fi.Mode().IsRegular():
		fmt.Fprintf(h, "other\x00%s\x00", fi.Mode())
		return nil
	}
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(h, "%o\x00%d\x00", fi.Mode().Perm()&0o111, fi.Size())
	_, err = io.Copy(h, f)
	return err
}

// loadFingerprint returns the record stored for host; ok is false when
// there is none (or the file cannot be read: then build evaluates).
func loadFingerprint(stateDir, host string) (fingerprintRecord, bool) {
	if stateDir == "" {
		return fingerprintRecord{}, false
	}
	d, err := safefile.OpenDir(stateDir)
	if err != nil {
		return fingerprintRecord{}, false
	}
	defer d.Close()
	f, err := d.OpenFile(fingerprintFile, os.O_RDONLY, 0)
	if err != nil {
		return fingerprintRecord{}, false
	}
	defer f.Close()
	var all map[string]fingerprintRecord
	if err := json.NewDecoder(io.LimitReader(f, 1<<20)).Decode(&all); err != nil {
		return fingerprintRecord{}, false
	}
	r, ok := all[host]
	return r, ok && r.Fingerprint != "" && r.Out != ""
}

// storeFingerprint records rec for host (replacing the file atomically);
// rec zero forgets host's.
func storeFingerprint(stateDir, host string, rec fingerprintRecord) error {
	d, err := safefile.OpenDirAll(stateDir, 0o755)
	if err != nil {
		return err
	}
	defer d.Close()
	all := map[string]fingerprintRecord{}
	if f, err := d.OpenFile(fingerprintFile, os.O_RDONLY, 0); err == nil {
		_ = json.NewDecoder(io.LimitReader(f, 1<<20)).Decode(&all)
		f.Close()
	}
	if rec == (fingerprintRecord{}) {
		delete(all, host)
	} else {
		all[host] = rec
	}
	b, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return err
	}
	tmp := fingerprintFile + ".tmp"
	f, err := d.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return d.Rename(tmp, fingerprintFile)
}

// unchanged reports whether build may skip the evaluation: the stored
// fingerprint is this one, and its store path is still in the store and
// is both the running system and the profile's.
func unchanged(env *tasks.Env, fp string) (string, bool) {
	if fp == "" {
		return "", false
	}
	rec, ok := loadFingerprint(env.Config.StateDir, env.Config.Host)
	if !ok || rec.Fingerprint != fp {
		return "", false
	}
	if _, err := os.Lstat(rec.Out); err != nil {
		return "", false
	}
	out := resolve(rec.Out)
	if out == "" || resolve(env.Config.CurrentSystem) != out || resolve(env.Config.Profile) != out {
		return "", false
	}
	return rec.Out, true
}

// nixEnviron is the environment Nix is run with: the runner's (the
// process's when it sets none), then the build's env.
func nixEnviron(r *proc.Runner, extra []string) []string {
	var base []string
	if r != nil && r.Environ != nil {
		base = r.Environ
	} else {
		base = os.Environ()
	}
	return append(slices.Clone(base), extra...)
}

// lookPathIn finds name on environ's PATH (the last PATH= wins, as for
// the command).
func lookPathIn(environ []string) func(string) (string, error) {
	path := ""
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	return func(name string) (string, error) { return proc.LookPath(name, path) }
}

// BuiltBefore reports whether the last successful build of env's host
// had the fingerprint this one would have with options o: then nothing
// the evaluation reads has changed since Nix last evaluated that host,
// and the host is known to be in the flake (the run's check before
// starting need not ask Nix again). False when o turns the fingerprint
// off, or on any doubt.
func BuiltBefore(ctx context.Context, env *tasks.Env, o BuildOptions) bool {
	if !o.Fingerprint || env.Config == nil || env.Runner == nil {
		return false
	}
	fp, _ := fingerprint(ctx, env, o)
	rec, ok := loadFingerprint(env.Config.StateDir, env.Config.Host)
	return fp != "" && ok && rec.Fingerprint == fp
}
