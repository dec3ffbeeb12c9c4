package main

// Tests of the packaging for NixOS users: flake.nix and the modules under
// nix/ (parsed and evaluated with nix-instantiate against the stand-in lib
// and pkgs of nix/tests/, since nixpkgs is not reachable offline), the
// vendorHash of nix/package.nix, the bash completion in a real bash, and
// the man page. Each runs when the programs it needs are installed
// (.ci/run installs them).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/tasks/nixos/nixtest"
)

// pkRepo is the repository root (tests run in cmd/rebuild).
func pkRepo(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func pkNeed(t *testing.T, programs ...string) {
	t.Helper()
	for _, p := range programs {
		if !hasProgram(p) {
			t.Skipf("%s not installed (.ci/run installs it)", p)
		}
	}
}

// pkNixEnv is a private, offline Nix environment under t.TempDir(), as
// TESTING.md describes, with inherited NIX_* variables dropped.
func pkNixEnv(t *testing.T) []string {
	t.Helper()
	r := t.TempDir()
	t.Cleanup(func() { // store paths are read-only; let TempDir remove them
		_ = filepath.WalkDir(r, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				_ = os.Chmod(p, 0o755)
			}
			return nil
		})
	})
	conf := filepath.Join(r, "conf")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	nixConf := "experimental-features = nix-command flakes\nsubstituters =\nsandbox = false\nbuild-users-group =\nflake-registry =\n"
	if err := os.WriteFile(filepath.Join(conf, "nix.conf"), []byte(nixConf), 0o644); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NIX_") {
			env = append(env, kv)
		}
	}
	return append(env,
		"NIX_STORE_DIR="+filepath.Join(r, "store"), "NIX_STATE_DIR="+filepath.Join(r, "var"),
		"NIX_LOG_DIR="+filepath.Join(r, "var", "log"), "NIX_CONF_DIR="+conf, "NIX_REMOTE=",
		"XDG_CACHE_HOME="+filepath.Join(r, "cache"), "HOME="+filepath.Join(r, "home"))
}

// pkRun runs a program and returns its stdout; stderr goes in the error.
func pkRun(t *testing.T, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

// pkEval evaluates a file of nix/tests with nix-instantiate --eval
// --strict --json and decodes the result into v.
func pkEval(t *testing.T, file string, v any) {
	t.Helper()
	pkNeed(t, "nix-instantiate")
	root := pkRepo(t)
	out, err := pkRun(t, root, pkNixEnv(t), "nix-instantiate", "--eval", "--strict", "--json", filepath.Join(root, "nix", "tests", file))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("%s: %v\n%s", file, err, out)
	}
}

// pkBuild builds the rebuild binary into a temporary directory.
func pkBuild(t *testing.T) string {
	t.Helper()
	pkNeed(t, "go")
	bin := filepath.Join(t.TempDir(), "rebuild")
	if _, err := pkRun(t, ".", os.Environ(), "go", "build", "-o", bin, "."); err != nil {
		t.Fatal(err)
	}
	return bin
}

// pkHome is a throwaway HOME with the XDG directories in it, for running
// the built binary.
func pkHome(t *testing.T, extra ...string) []string {
	t.Helper()
	home := filepath.Join(t.TempDir(), "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "XDG_STATE_HOME=" + filepath.Join(home, ".local", "state"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"), "NO_COLOR=1"}
	return append(env, extra...)
}

func pkWrite(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPackageSourceHoldsEmbeddedFiles: the package's source is the .go
// files and what nix/package.nix adds, so every file the binary embeds
// (//go:embed) must be in a folder package.nix lists, or Nix cannot
// build the binary.
func TestPackageSourceHoldsEmbeddedFiles(t *testing.T) {
	pkNeed(t, "go")
	root := pkRepo(t)
	out, err := pkRun(t, root, os.Environ(), "go", "list", "-deps", "-f",
		`{{if and .Module .Module.Main}}{{range .EmbedFiles}}{{$.Dir}}/{{.}}{{"\n"}}{{end}}{{end}}`, "./cmd/rebuild")
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := os.ReadFile(filepath.Join(root, "nix", "package.nix"))
	if err != nil {
		t.Fatal(err)
	}
	listed := regexp.MustCompile(`(?m)^\s*\.\./(\S+)$`).FindAllStringSubmatch(string(pkg), -1)
	for _, f := range strings.Fields(out) {
		rel, err := filepath.Rel(root, f)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(listed, func(m []string) bool { return rel == m[1] || strings.HasPrefix(rel, m[1]+"/") }) {
			t.Errorf("the binary embeds %s, which nix/package.nix's source does not hold", rel)
		}
	}
}

// TestPackagingNixFilesParse: flake.nix and every file under nix/ parse.
func TestPackagingNixFilesParse(t *testing.T) {
	pkNeed(t, "nix-instantiate")
	root := pkRepo(t)
	files := []string{filepath.Join(root, "flake.nix")}
	more, _ := filepath.Glob(filepath.Join(root, "nix", "*.nix"))
	tests, _ := filepath.Glob(filepath.Join(root, "nix", "tests", "*.nix"))
	files = append(append(files, more...), tests...)
	for _, want := range []string{"package.nix", "nixos-module.nix", "home-manager-module.nix"} {
		if !slices.Contains(files, filepath.Join(root, "nix", want)) {
			t.Errorf("nix/%s is missing", want)
		}
	}
	env := pkNixEnv(t)
	for _, f := range files {
		if _, err := pkRun(t, root, env, "nix-instantiate", "--parse", f); err != nil {
			t.Errorf("%s does not parse: %v", f, err)
		}
	}
}

type pkPackage struct {
	Pname, Version, VendorHash, PostInstall, MainProgram string
	SubPackages, Ldflags, NativeBuildInputs              []string
	DoCheck                                              bool
}

// TestPackagingFlakeOutputs calls flake.nix's outputs with the stand-in
// nixpkgs and checks what they hand to buildGoModule and the modules.
// (gocyclo counts each output's check; they are independent and flat, one
// per output, so the test stays whole.)
func TestPackagingFlakeOutputs(t *testing.T) {
	var got struct {
		Inputs                                       map[string]map[string]string
		Outputs                                      []string
		Systems                                      map[string][]string
		Package, PackageAarch64                      pkPackage
		DirtyVersion, UnknownVersion                 string
		App                                          struct{ Type, Program string }
		DevShell                                     []string
		Check, Overlay                               string
		NixosModulePackage, HomeManagerModulePackage string
	}
	pkEval(t, "flake-outputs.nix", &got)

	if want := map[string]map[string]string{"nixpkgs": {"url": "github:NixOS/nixpkgs/nixos-unstable"}}; fmt.Sprint(got.Inputs) != fmt.Sprint(want) {
		t.Errorf("inputs = %v, want only %v", got.Inputs, want)
	}
	wantOutputs := []string{"apps", "checks", "devShells", "homeManagerModules", "nixosModules", "overlays", "packages"}
	if !slices.Equal(got.Outputs, wantOutputs) {
		t.Errorf("outputs = %v, want %v", got.Outputs, wantOutputs)
	}
	for out, systems := range got.Systems {
		if !slices.Equal(systems, []string{"aarch64-linux", "x86_64-linux"}) {
			t.Errorf("%s is for %v, want aarch64-linux and x86_64-linux", out, systems)
		}
	}

	p := got.Package
	if p.Pname != "rebuild" || p.Version != "abc1234" || p.MainProgram != "rebuild" {
		t.Errorf("pname %q version %q mainProgram %q, want rebuild, abc1234 (self.shortRev), rebuild", p.Pname, p.Version, p.MainProgram)
	}
	if got.DirtyVersion != "abc1234-dirty" || got.UnknownVersion != "dirty" {
		t.Errorf("version of a dirty tree %q, of no revision %q; want abc1234-dirty and dirty", got.DirtyVersion, got.UnknownVersion)
	}
	if !slices.Equal(p.SubPackages, []string{"cmd/rebuild"}) {
		t.Errorf("subPackages = %v", p.SubPackages)
	}
	if !slices.Contains(p.Ldflags, "-X main.version=abc1234") {
		t.Errorf("ldflags %v do not stamp main.version", p.Ldflags)
	}
	if !slices.Contains(p.NativeBuildInputs, "installShellFiles") {
		t.Errorf("nativeBuildInputs %v lack installShellFiles", p.NativeBuildInputs)
	}
	if p.VendorHash != pkPackageVendorHash(t) {
		t.Errorf("vendorHash %q is not the one in nix/package.nix", p.VendorHash)
	}
	if fmt.Sprint(got.PackageAarch64) != fmt.Sprint(p) {
		t.Errorf("aarch64-linux package %+v differs from x86_64-linux %+v", got.PackageAarch64, p)
	}
	if got.App.Type != "app" || !strings.HasSuffix(got.App.Program, "-rebuild-abc1234/bin/rebuild") {
		t.Errorf("apps.default = %+v", got.App)
	}
	for _, tool := range []string{"go", "gopls", "graphviz", "nix", "tmux"} {
		if !slices.Contains(got.DevShell, tool) {
			t.Errorf("devShells.default lacks %s: %v", tool, got.DevShell)
		}
	}
	for what, name := range map[string]string{"checks.package": got.Check, "overlays.default": got.Overlay,
		"nixosModules.default": got.NixosModulePackage, "homeManagerModules.default": got.HomeManagerModulePackage} {
		if name != "rebuild-abc1234" {
			t.Errorf("%s gives package %q, want the flake's rebuild-abc1234", what, name)
		}
	}
}

// TestPackagingPostInstall runs the package's postInstall with the built
// binary as $out/bin/rebuild and stand-ins for installShellCompletion and
// installManPage that keep what they are given: the completions and the
// man page it installs come out of the binary, whole.
func TestPackagingPostInstall(t *testing.T) {
	pkNeed(t, "bash")
	var got struct{ Package pkPackage }
	pkEval(t, "flake-outputs.nix", &got)
	out := t.TempDir()
	if err := os.MkdirAll(filepath.Join(out, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(pkBuild(t), filepath.Join(out, "bin", "rebuild")); err != nil {
		t.Fatal(err)
	}
	kept := t.TempDir()
	script := `
installShellCompletion() {
	[ "$1" = --cmd ] && [ "$2" = rebuild ] || { echo "installShellCompletion: want --cmd rebuild first, got $*" >&2; exit 1; }
	shift 2
	while [ $# -gt 0 ]; do cat "$2" > "$KEPT/completion$1"; shift 2; done
}
installManPage() { cp "$1" "$KEPT/man"; }
set -e
cd "$(mktemp -d)"
eval "$POST_INSTALL"
`
	env := append(pkHome(t), "out="+out, "KEPT="+kept, "POST_INSTALL="+got.Package.PostInstall)
	if _, err := pkRun(t, ".", env, "bash", "--norc", "--noprofile", "-c", script); err != nil {
		t.Fatal(err)
	}
	for file, head := range map[string]string{
		"completion--bash": "# bash completion V2 for rebuild",
		"completion--zsh":  "#compdef rebuild",
		"completion--fish": "# fish completion for rebuild",
		"man":              `.TH "REBUILD" "1" "2025-11-25"`,
	} {
		data, err := os.ReadFile(filepath.Join(kept, file))
		if err != nil {
			t.Errorf("postInstall did not install %s: %v", file, err)
			continue
		}
		if !strings.HasPrefix(string(data), head) {
			t.Errorf("%s starts %q, want %q", file, pkFirstLine(string(data)), head)
		}
	}
}

func pkFirstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }

type pkSystemd struct {
	Description, After, WantedBy any
	Environment                  map[string]string
	Path                         []string
	ServiceConfig                map[string]any
	TimerConfig                  map[string]any
}

type pkNixOS struct {
	ConfigToml        *string
	SystemPackages    []string
	Service, Timer    *pkSystemd
	Tmpfiles          []string
	NodeExporterFlags []string
}

// TestModuleNixOS evaluates nix/nixos-module.nix (nix/tests/nixos.nix) and
// checks /etc/rebuild/config.toml, the cleanup timer and service, the
// metrics directory, and that rebuild itself accepts the file.
func TestModuleNixOS(t *testing.T) {
	var got struct{ Full, Accepted, CleanDefaults, KeepOne, Disabled pkNixOS }
	pkEval(t, "nixos.nix", &got)

	full := got.Full
	checkNixOSModuleFull(t, full)

	checkNixOSModuleCleanDefaults(t, got.CleanDefaults)

	off := got.Disabled
	if off.ConfigToml != nil || off.Timer != nil || off.Service != nil || len(off.SystemPackages) != 0 || len(off.NodeExporterFlags) != 0 {
		t.Errorf("programs.rebuild.enable = false still configures: %+v", off)
	}

	// rebuild accepts both files, and the service's variables win over the
	// file's policy.
	bin := pkBuild(t)
	accepted := pkWrite(t, "accepted.toml", pkDeref(got.Accepted.ConfigToml))
	out, err := pkRun(t, ".", pkHome(t), bin, "config", "show", "--config", accepted)
	if err != nil {
		t.Fatalf("rebuild config show rejects the module's file:\n%s\n%v", pkDeref(got.Accepted.ConfigToml), err)
	}
	for _, want := range []string{"flake = '/home/alice/nixos-config'", "jobs = 6",
		"metrics_file = '" + metricsDir + "/rebuild.prom'", "[task.lint]", "groups = ['checks']"} {
		if !strings.Contains(out, want) {
			t.Errorf("config show lacks %q:\n%s", want, out)
		}
	}
	fullFile := pkWrite(t, "full.toml", pkDeref(full.ConfigToml))
	out, err = pkRun(t, ".", pkHome(t), bin, "config", "show", "--config", fullFile)
	if err != nil {
		t.Fatalf("rebuild config show rejects the module's file:\n%s\n%v", *full.ConfigToml, err)
	}
	if !strings.Contains(out, "[task.generations]\nkeep = 10\nkeep_since = '14d'") || !strings.Contains(out, "after = ['format']") {
		t.Errorf("config show of the full file:\n%s", out)
	}
	var serviceVars []string
	for k, v := range full.Service.Environment {
		if strings.HasPrefix(k, "REBUILD_") {
			serviceVars = append(serviceVars, k+"="+v)
		}
	}
	out, err = pkRun(t, ".", pkHome(t, serviceVars...), bin, "config", "show", "--config", fullFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "[task.generations]\nkeep = 3\nkeep_since = '30d'") {
		t.Errorf("with the service's variables, config show:\n%s", out)
	}
}

// checkNixOSModuleFull checks what the module makes of every setting:
// /etc/rebuild/config.toml, the package, the cleanup timer and service,
// and the metrics directory.
// checkNixOSModuleCleanDefaults checks clean.enable alone: the timer's
// policy is the --yes default; nothing is written to /etc, so interactive
// runs keep asking.
func checkNixOSModuleCleanDefaults(t *testing.T, cd pkNixOS) {
	t.Helper()
	if cd.ConfigToml != nil {
		t.Errorf("clean.enable alone wrote /etc/rebuild/config.toml:\n%s", *cd.ConfigToml)
	}
	if cd.Timer == nil || cd.Timer.TimerConfig["OnCalendar"] != "weekly" || cd.Service == nil {
		t.Fatalf("clean.enable alone: timer %+v, service %+v; want weekly", cd.Timer, cd.Service)
	}
	if want := map[string]string{"HOME": "/root", "XDG_STATE_HOME": "/var/lib"}; fmt.Sprint(cd.Service.Environment) != fmt.Sprint(want) {
		t.Errorf("clean.enable alone: service environment %v, want %v", cd.Service.Environment, want)
	}
	if len(cd.Tmpfiles) != 0 || len(cd.NodeExporterFlags) != 0 {
		t.Errorf("metrics off, yet tmpfiles %v and node flags %v", cd.Tmpfiles, cd.NodeExporterFlags)
	}
}

func checkNixOSModuleFull(t *testing.T, full pkNixOS) {
	t.Helper()
	if full.ConfigToml == nil || *full.ConfigToml != nixosFullToml {
		t.Errorf("/etc/rebuild/config.toml:\n%v\nwant:\n%s", pkDeref(full.ConfigToml), nixosFullToml)
	}
	if !slices.Equal(full.SystemPackages, []string{"rebuild"}) {
		t.Errorf("systemPackages = %v", full.SystemPackages)
	}
	if full.Timer == nil || full.Service == nil {
		t.Fatalf("clean.enable made no timer (%v) or service (%v)", full.Timer, full.Service)
	}
	if got := full.Timer.TimerConfig; got["OnCalendar"] != "Sun 04:00" || got["Persistent"] != true {
		t.Errorf("timerConfig = %v, want OnCalendar Sun 04:00 and Persistent", got)
	}
	if fmt.Sprint(full.Timer.WantedBy) != "[timers.target]" {
		t.Errorf("timer wantedBy = %v", full.Timer.WantedBy)
	}
	wantExec := fakeStore + "-rebuild/bin/rebuild --only generations --yes --output plain --jobs 1"
	if got := full.Service.ServiceConfig["ExecStart"]; got != wantExec {
		t.Errorf("ExecStart = %v\nwant       %s", got, wantExec)
	}
	if full.Service.ServiceConfig["Type"] != "oneshot" || full.Service.ServiceConfig["StateDirectory"] != "rebuild" {
		t.Errorf("serviceConfig = %v", full.Service.ServiceConfig)
	}
	if !slices.Equal(full.Service.Path, []string{fakeStore + "-nix"}) {
		t.Errorf("service path = %v, want nix (generations runs nix-env and nix-store)", full.Service.Path)
	}
	wantEnv := map[string]string{"HOME": "/root", "XDG_STATE_HOME": "/var/lib",
		"REBUILD_TASK__GENERATIONS__KEEP": "3", "REBUILD_TASK__GENERATIONS__KEEP_SINCE": "30d"}
	if fmt.Sprint(full.Service.Environment) != fmt.Sprint(wantEnv) {
		t.Errorf("service environment = %v\nwant                  %v", full.Service.Environment, wantEnv)
	}
	if !slices.Equal(full.Tmpfiles, []string{"d " + metricsDir + " 2775 root wheel - -"}) {
		t.Errorf("tmpfiles = %v", full.Tmpfiles)
	}
	if !slices.Equal(full.NodeExporterFlags, []string{"--collector.textfile.directory=" + metricsDir}) {
		t.Errorf("node exporter extraFlags = %v", full.NodeExporterFlags)
	}
}

// TestModuleNixOSCleanServiceKeepsCurrentAndBooted runs the cleanup
// service's command line, with its environment (clean.keep = 1), against a
// real profile of five generations in a private Nix store, with no
// terminal, as systemd would: it deletes without asking, keeps the newest
// generation, and never the booted one.
func TestModuleNixOSCleanServiceKeepsCurrentAndBooted(t *testing.T) {
	pkNeed(t, "nix", "git")
	var got struct{ KeepOne pkNixOS }
	pkEval(t, "nixos.nix", &got)
	svc := got.KeepOne.Service
	if svc == nil {
		t.Fatal("no rebuild-clean service")
	}
	execStart, _ := svc.ServiceConfig["ExecStart"].(string)
	args := strings.Fields(execStart)
	if len(args) < 2 || args[0] != fakeStore+"-rebuild/bin/rebuild" || strings.ContainsAny(execStart, `'"`) {
		t.Fatalf("ExecStart %q: want the package's rebuild and plain arguments", execStart)
	}

	ctx := context.Background()
	s, err := nixtest.New(ctx, t.TempDir())
	if s != nil {
		t.Cleanup(func() { _ = s.Cleanup() })
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"1.1", "1.2", "1.3", "1.4"} {
		if _, err := s.AddGeneration(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	before, current, err := s.Generations()
	if err != nil || !slices.Equal(before, []int{1, 2, 3, 4, 5}) || current != 5 {
		t.Fatalf("sandbox generations %v, current %d, err %v; want 1–5, current 5 (booted: 1)", before, current, err)
	}

	// /etc/rebuild/config.toml of that machine: the sandbox's profile and
	// system links.
	cfg := pkWrite(t, "config.toml", fmt.Sprintf("profile = %q\ncurrent_system = %q\nbooted_system = %q\nelevate = \"none\"\nflake = %q\n",
		s.Profile, s.CurrentSystem, s.BootedSystem, s.Flake))
	env := s.Environ(nil)
	for k, v := range svc.Environment {
		if strings.HasPrefix(k, "REBUILD_") {
			env = append(env, k+"="+v)
		}
	}
	env = append(env, "XDG_STATE_HOME="+t.TempDir(), "REBUILD_CONFIG="+cfg, "NO_COLOR=1")
	out, err := pkRun(t, ".", env, pkBuild(t), args[1:]...)
	if err != nil {
		t.Fatalf("the cleanup service failed: %v\n%s", err, out)
	}
	after, current, err := s.Generations()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(after, []int{1, 5}) || current != 5 {
		t.Errorf("generations left %v (current %d), want [1 5]: the newest (current) and the booted one\n%s", after, current, out)
	}
	if !strings.Contains(out, "deleted generations 2, 3, 4") {
		t.Errorf("output does not report the deletion:\n%s", out)
	}
}

// TestModuleHomeManager evaluates nix/home-manager-module.nix.
func TestModuleHomeManager(t *testing.T) {
	type hm struct {
		ConfigToml     *string
		Packages       []string
		Service, Timer map[string]map[string]any
	}
	var got struct{ Full, Bare, Disabled hm }
	pkEval(t, "home-manager.nix", &got)

	full := got.Full
	if pkDeref(full.ConfigToml) != homeManagerToml {
		t.Errorf("~/.config/rebuild/config.toml:\n%s\nwant:\n%s", pkDeref(full.ConfigToml), homeManagerToml)
	}
	wantExec := fakeStore + "-rebuild/bin/rebuild --only caches,backups --yes --output plain"
	if got := full.Service["Service"]["ExecStart"]; got != wantExec {
		t.Errorf("ExecStart = %v\nwant       %s", got, wantExec)
	}
	if full.Timer["Timer"]["OnCalendar"] != "daily" || full.Timer["Timer"]["Persistent"] != true ||
		fmt.Sprint(full.Timer["Install"]["WantedBy"]) != "[timers.target]" {
		t.Errorf("timer = %v", full.Timer)
	}
	if got.Bare.ConfigToml != nil || got.Bare.Timer != nil || !slices.Equal(got.Bare.Packages, []string{"rebuild"}) {
		t.Errorf("enable alone: %+v, want the package and no file, no timer", got.Bare)
	}
	if got.Disabled.ConfigToml != nil || len(got.Disabled.Packages) != 0 {
		t.Errorf("disabled: %+v", got.Disabled)
	}

	file := pkWrite(t, "config.toml", pkDeref(full.ConfigToml))
	env := pkHome(t)
	out, err := pkRun(t, ".", env, pkBuild(t), "config", "show", "--config", file)
	if err != nil {
		t.Fatalf("rebuild config show rejects the module's file: %v", err)
	}
	if !strings.Contains(out, "[task.lint]") || !strings.Contains(out, "/nixos-config'") {
		t.Errorf("config show:\n%s", out)
	}
}

func pkDeref(s *string) string {
	if s == nil {
		return "<none>"
	}
	return *s
}

// pkPackageVendorHash reads vendorHash from nix/package.nix.
func pkPackageVendorHash(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(pkRepo(t), "nix", "package.nix"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*vendorHash = "([^"]+)";`).FindAllSubmatch(data, -1)
	if len(m) != 1 {
		t.Fatalf("nix/package.nix: want exactly one vendorHash = \"…\"; line, found %d", len(m))
	}
	return string(m[0][1])
}

// pkVendorHash computes the vendorHash of the module in dir the way
// buildGoModule does: the NAR hash (SRI sha256) of `go mod vendor`'s output.
func pkVendorHash(t *testing.T, dir string) string {
	t.Helper()
	pkNeed(t, "nix", "go")
	vendor := filepath.Join(t.TempDir(), "vendor")
	if _, err := pkRun(t, dir, os.Environ(), "go", "mod", "vendor", "-o", vendor); err != nil {
		t.Fatal(err)
	}
	out, err := pkRun(t, dir, pkNixEnv(t), "nix", "--extra-experimental-features", "nix-command",
		"hash", "path", "--type", "sha256", "--sri", vendor)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// pkCheckVendorHash is the check both vendor tests apply.
func pkCheckVendorHash(computed, inPackage string) error {
	if computed != inPackage {
		return fmt.Errorf("nix/package.nix has vendorHash = %q, but go.mod, go.sum and the imports give %q: run `make vendor-hash`", inPackage, computed)
	}
	return nil
}

// TestVendorHashMatchesPackage fails while nix/package.nix's vendorHash is
// stale, so a go.mod change without `make vendor-hash` is caught here and
// not by a failed `nix build`.
func TestVendorHashMatchesPackage(t *testing.T) {
	if err := pkCheckVendorHash(pkVendorHash(t, pkRepo(t)), pkPackageVendorHash(t)); err != nil {
		t.Fatal(err)
	}
}

// TestVendorHashCatchesGoModChange copies what vendoring reads (go.mod,
// go.sum and the .go files: the package's source filter) to a temporary
// directory, checks it hashes like the tree, then adds a requirement to
// go.mod and checks that the hash moves and the check fails.
func TestVendorHashCatchesGoModChange(t *testing.T) {
	pkNeed(t, "nix", "go")
	root := pkRepo(t)
	cp := t.TempDir()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !(strings.HasSuffix(p, ".go") || rel == "go.mod" || rel == "go.sum") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(cp, filepath.Dir(rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(cp, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	tree, copied := pkVendorHash(t, root), pkVendorHash(t, cp)
	if tree != copied {
		t.Fatalf("the copy hashes %s, the tree %s: vendoring reads more than go.mod, go.sum and .go files", copied, tree)
	}

	// A new requirement (a local module, so no network and no go.sum line).
	if err := os.MkdirAll(filepath.Join(cp, "extra"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cp, "extra", "go.mod"), []byte("module example.com/extra\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(cp, "go.mod"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString("\nrequire example.com/extra v0.0.0\n\nreplace example.com/extra => ./extra\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	changed := pkVendorHash(t, cp)
	if changed == copied {
		t.Fatalf("adding a requirement to go.mod left the vendor hash at %s", changed)
	}
	err = pkCheckVendorHash(changed, copied)
	if err == nil || !strings.Contains(err.Error(), "make vendor-hash") {
		t.Fatalf("the check passed a stale hash, or its message does not say what to run: %v", err)
	}
}

// TestCompletionBash sources `rebuild completion bash` in a real bash with
// the bash-completion package, sets COMP_WORDS / COMP_CWORD as bash does
// on <Tab>, calls the completion function and reads COMPREPLY.
func TestCompletionBash(t *testing.T) {
	pkNeed(t, "bash")
	const bashCompletion = "/usr/share/bash-completion/bash_completion"
	if _, err := os.Stat(bashCompletion); err != nil {
		t.Skipf("%s missing (Debian: apt-get install bash-completion; .ci/run installs it)", bashCompletion)
	}
	bin := pkBuild(t)
	cfg := pkWrite(t, "config.toml", completionConfig)

	// Each case: the words on the line (the last one is being completed).
	cases := []struct {
		name  string
		words []string
		want  []string
		not   []string
	}{
		{"subcommands", []string{"rebuild", ""},
			[]string{"run", "graph", "list", "plan", "history", "config", "completion", "man", "version"}, []string{"__complete"}},
		{"config subcommands", []string{"rebuild", "config", ""}, []string{"show", "path", "init"}, nil},
		{"--only tasks and groups", []string{"rebuild", "--config", cfg, "--only", ""},
			[]string{"lint", "unit-tests", "push-backup", "checks", "slow", "backup"}, nil},
		{"--only after a comma, bash splitting at =", []string{"rebuild", "--config", cfg, "--only", "=", "lint,"},
			[]string{"lint,unit-tests", "lint,checks", "lint,slow"}, nil},
		{"--skip by prefix", []string{"rebuild", "--config", cfg, "--skip", "s"}, []string{"slow"}, []string{"lint", "checks"}},
		{"plan --only", []string{"rebuild", "plan", "--config", cfg, "--only", "unit"}, []string{"unit-tests"}, []string{"lint"}},
	}
	var script strings.Builder
	fmt.Fprintf(&script, "source %s\nsource <(rebuild completion bash)\n", bashCompletion)
	for _, c := range cases {
		var quoted []string
		for _, w := range c.words {
			quoted = append(quoted, fmt.Sprintf("%q", w))
		}
		line := strings.Join(c.words[:len(c.words)-1], " ") + " " + c.words[len(c.words)-1]
		line = strings.ReplaceAll(line, " = ", "=")
		fmt.Fprintf(&script, "COMP_WORDS=(%s)\nCOMP_CWORD=%d\nCOMP_LINE=%q\nCOMP_POINT=${#COMP_LINE}\nCOMPREPLY=()\n",
			strings.Join(quoted, " "), len(c.words)-1, line)
		fmt.Fprintf(&script, "__start_rebuild\necho '>>> %s'\nprintf '%%s\\n' \"${COMPREPLY[@]}\"\n", c.name)
	}
	env := pkHome(t, "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"))
	out, err := pkRun(t, ".", env, "bash", "--norc", "--noprofile", "-c", script.String())
	if err != nil {
		t.Fatal(err)
	}
	replies := map[string][]string{}
	current := ""
	for _, l := range strings.Split(out, "\n") {
		if name, ok := strings.CutPrefix(l, ">>> "); ok {
			current = name
			continue
		}
		if f := strings.Fields(l); len(f) > 0 { // a description may follow the word
			replies[current] = append(replies[current], f[0])
		}
	}
	for _, c := range cases {
		got := replies[c.name]
		for _, w := range c.want {
			if !slices.Contains(got, w) {
				t.Errorf("%s: %q not offered; COMPREPLY = %q", c.name, w, got)
			}
		}
		for _, w := range c.not {
			if slices.Contains(got, w) {
				t.Errorf("%s: %q offered; COMPREPLY = %q", c.name, w, got)
			}
		}
	}
}

// pkRunMain runs the program in-process and returns stdout, stderr and
// the exit code.
func pkRunMain(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	home := t.TempDir()
	sys := &System{IO: testIO(&out, &errb), Environ: append([]string{"HOME=" + home}, env...), Home: home, Host: "testhost",
		Now: func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) }, Euid: os.Geteuid()}
	code := Run(sys, args)
	return out.String(), errb.String(), code
}

// TestManPagePassesMandocLint: `rebuild man` is clean for mandoc -T lint
// (style remarks are allowed, warnings and errors are not).
func TestManPagePassesMandocLint(t *testing.T) {
	pkNeed(t, "mandoc")
	page, stderr, code := pkRunMain(t, nil, "man")
	if code != 0 {
		t.Fatalf("rebuild man: exit %d: %s", code, stderr)
	}
	cmd := exec.Command("mandoc", "-T", "lint", "-W", "all")
	cmd.Stdin = strings.NewReader(page)
	out, err := cmd.CombinedOutput()
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" && !strings.Contains(l, ": STYLE: ") {
			t.Errorf("mandoc: %s", l)
		}
	}
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() > 1 {
		t.Errorf("mandoc -T lint exited %d", ee.ExitCode())
	} else if err != nil && !ok {
		t.Fatal(err)
	}
}

// TestManPageIsTrueToTheCommandLine: every command and flag of the binary,
// every REBUILD_* variable of the configuration, the files and the exit
// codes are in the page. (gocyclo counts each of its checks; they are one
// flat list, read top to bottom against the page, so it stays whole.)
func TestManPageIsTrueToTheCommandLine(t *testing.T) {
	page, _, code := pkRunMain(t, []string{"SOURCE_DATE_EPOCH=1764072000"}, "man")
	if code != 0 {
		t.Fatal("rebuild man failed")
	}
	if !strings.HasPrefix(page, `.TH "REBUILD" "1" "2025-11-25" "rebuild `) {
		t.Errorf("title line %q: want SOURCE_DATE_EPOCH's date", pkFirstLine(page))
	}
	esc := func(s string) string { return strings.ReplaceAll(s, "-", `\-`) }
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if !c.IsAvailableCommand() && c.HasParent() {
			return
		}
		if c.HasParent() && !strings.Contains(page, `.SS "`+esc(c.CommandPath())) {
			t.Errorf("no section for %q", c.CommandPath())
		}
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Hidden || f.Name == "help" {
				return
			}
			if !strings.Contains(page, `\fB\-\-`+esc(f.Name)+`\fR`) {
				t.Errorf("%s --%s is not in the page", c.CommandPath(), f.Name)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd(&System{IO: testIO(&bytes.Buffer{}, &bytes.Buffer{}), Now: time.Now}))

	// The top-level keys of `config show` each have their variable.
	shown, stderr, code := pkRunMain(t, nil, "config", "show", "--config", pkWrite(t, "empty.toml", ""))
	if code != 0 {
		t.Fatalf("config show: %s", stderr)
	}
	var keys []string
	for _, l := range strings.Split(shown, "\n") {
		if strings.HasPrefix(l, "[") {
			break
		}
		if k, _, ok := strings.Cut(l, " = "); ok && !strings.HasPrefix(k, "#") {
			keys = append(keys, k)
		}
	}
	if !slices.Equal(keys, manTopKeys) {
		t.Errorf("config show has the keys %v, the man page lists %v: update manTopKeys", keys, manTopKeys)
	}
	for _, k := range keys {
		if !strings.Contains(page, `\fB`+config.EnvName(k)+`\fR`) {
			t.Errorf("%s (key %s) is not in ENVIRONMENT", config.EnvName(k), k)
		}
	}
	for _, want := range []string{".SH \"EXIT STATUS\"", `\fB130\fR`, `\fBNO_COLOR\fR`, `\fBREBUILD_CONFIG\fR`,
		`/etc/rebuild/config.toml`, `$XDG_CONFIG_HOME/rebuild/config.toml`, `$XDG_STATE_HOME/rebuild/history.jsonl`,
		`$XDG_STATE_HOME/rebuild/logs/`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
}

const (
	fakeStore  = "/nix/store/00000000000000000000000000000000"
	metricsDir = "/var/lib/prometheus-node-exporter-text-files"
)

// nixosFullToml is /etc/rebuild/config.toml of nix/tests/nixos.nix's full
// system: the settings, the flake option, metrics_file from
// metrics.enable, and the user's keep = 10 over the module's default 5.
const nixosFullToml = `elevate = "none"
flake = "/home/alice/nixos-config"
keep_logs = 30
metrics_file = "/var/lib/prometheus-node-exporter-text-files/rebuild.prom"

[task.format]
groups = ["checks"]
run = "nixfmt --check ."

[task.generations]
keep = 10
keep_since = "14d"

[task.lint]
after = ["format"]
groups = ["checks"]
run = "statix check ."
`

const homeManagerToml = `flake = "~/nixos-config"

[task.lint]
groups = ["checks"]
run = "statix check ."
`

// completionConfig gives the completion task and group names (the
// built-in catalogue is filled in family by family).
const completionConfig = `[task.lint]
run = "true"
groups = ["checks"]

[task.unit-tests]
run = "true"
groups = ["checks", "slow"]

[task.push-backup]
run = "true"
groups = ["backup"]
`
