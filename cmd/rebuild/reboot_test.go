package main

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// rebootConfig is a configuration whose reboot command is a stand-in that
// records, when called, the remote's head and how many runs the history
// holds, so a test can tell it came after the push and the history.
func rebootConfig(root string) (extra, calls string) {
	calls = filepath.Join(root, "reboot.calls")
	script := `echo "$(git -C ` + filepath.Join(root, "remote.git") + ` rev-parse HEAD) $(wc -l < ` +
		filepath.Join(root, "state", "history.jsonl") + `)" >> ` + calls
	return "metrics_file = " + strconv.Quote(filepath.Join(root, "metrics.prom")) + "\n" +
		"[task.activate]\nreboot_command = [\"sh\", \"-c\", " + strconv.Quote(script) + "]\n", calls
}

// A kernel change: activate says "reboot needed" with both versions, in
// its warnings and its json fields, the metrics file says 1, and with
// --reboot=when-needed the stand-in reboot command runs once, after the
// push and the history. The next run has nothing to activate but still
// runs a kernel it did not boot: it says so again, and after the (stand-in)
// reboot, when the booted system is the new one, nothing needs a reboot.
func TestNixOSRebootWhenNeeded(t *testing.T) {
	n := newNixOS(t, "")
	extra, calls := rebootConfig(n.Root)
	appendFile(t, n.w.cfg, extra)
	if err := n.SetKernel("6.6.8"); err != nil {
		t.Fatal(err)
	}
	evs, errOut, code := n.runJSON(nil, nixosGraph, "--yes", "--reboot=when-needed")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, evs, errOut)
	}
	act := evs.mustFinish(t, "activate")
	if !slices.Contains(act.Warnings, "reboot needed (kernel 6.6.1 → 6.6.8)") {
		t.Errorf("activate's warnings %q", act.Warnings)
	}
	if act.Fields["reboot_needed"] != true || act.Fields["reboot_reason"] != "kernel 6.6.1 → 6.6.8" {
		t.Errorf("activate's fields %v", act.Fields)
	}
	if m, _ := os.ReadFile(filepath.Join(n.Root, "metrics.prom")); !strings.Contains(string(m), "\nrebuild_reboot_needed 1\n") {
		t.Errorf("metrics:\n%s", m)
	}
	head := n.git(n.Flake, "rev-parse", "HEAD")
	if got := readLines(t, calls); !slices.Equal(got, []string{head + " 1"}) {
		t.Errorf("reboot calls %q, want one, after the push of %s and the history's first run", got, head)
	}
	if !strings.Contains(errOut, "rebuild: rebooting (reboot needed: kernel 6.6.1 → 6.6.8): sh -c") {
		t.Errorf("stderr does not announce the reboot:\n%s", errOut)
	}

	evs, errOut, code = n.runJSON(nil, nixosGraph, "--yes")
	if code != 0 || evs.states()["activate"] != "skipped" {
		t.Fatalf("second run: exit %d, activate %s\n%s%s", code, evs.states()["activate"], evs, errOut)
	}
	if f := evs.mustFinish(t, "activate").Fields; f["reboot_reason"] != "kernel 6.6.1 → 6.6.8" {
		t.Errorf("second run, not rebooted yet: activate's fields %v", f)
	}
	if got := readLines(t, calls); len(got) != 1 {
		t.Errorf("reboot calls %q after a run with the default --reboot=never", got)
	}
	// The reboot, as far as rebuild can see it: the booted system is the new one.
	if err := os.Remove(n.BootedSystem); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(resolved(t, n.CurrentSystem), n.BootedSystem); err != nil {
		t.Fatal(err)
	}
	evs, errOut, code = n.runJSON(nil, nixosGraph, "--yes", "--reboot=when-needed")
	if code != 0 || evs.mustFinish(t, "activate").Fields["reboot_needed"] != false {
		t.Fatalf("after the reboot: exit %d, activate's fields %v\n%s%s", code, evs.mustFinish(t, "activate").Fields, evs, errOut)
	}
	if got := readLines(t, calls); len(got) != 1 {
		t.Errorf("reboot calls %q after a run that needed none", got)
	}
}

// Without a kernel change nothing needs a reboot, and the default
// (--reboot=never) never reboots; --reboot=always does, once.
func TestNixOSRebootNeverAndAlways(t *testing.T) {
	n := newNixOS(t, "")
	extra, calls := rebootConfig(n.Root)
	appendFile(t, n.w.cfg, extra)
	if err := n.SetVersion("1.2"); err != nil {
		t.Fatal(err)
	}
	evs, errOut, code := n.runJSON(nil, nixosGraph, "--yes", "--reboot=when-needed")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, evs, errOut)
	}
	if f := evs.mustFinish(t, "activate").Fields; f["reboot_needed"] != false {
		t.Errorf("activate's fields %v", f)
	}
	if m, _ := os.ReadFile(filepath.Join(n.Root, "metrics.prom")); !strings.Contains(string(m), "\nrebuild_reboot_needed 0\n") {
		t.Errorf("metrics:\n%s", m)
	}
	if exists(calls) {
		t.Errorf("rebooted with nothing needing it: %q", readLines(t, calls))
	}
	if _, errOut, code := n.run(nil, "--only=caches", "--reboot=always"); code != 0 || len(readLines(t, calls)) != 1 {
		t.Errorf("--reboot=always: exit %d, calls %q\n%s", code, readLines(t, calls), errOut)
	}
}

// A bad --reboot is a usage error before anything runs.
func TestRebootFlagBadValue(t *testing.T) {
	s := newOptionsSandbox(t)
	s.badOptionRuns(nil, `rebuild: flag --reboot: task.activate.reboot = "sometimes": not a known value; allowed: "never", "when-needed", "always"`, "--reboot", "sometimes")
}

// A new system whose switch inhibitor changed: switch-to-configuration
// test refuses as NixOS's does; the run makes it the boot default (profile
// and boot set, the running system untouched), says "reboot required" in
// the summary (plain) or activate's warnings and fields (json), and in the
// metrics, and exits 0.
func TestNixOSSwitchInhibitor(t *testing.T) {
	for _, output := range []string{"plain", "json"} {
		t.Run(output, func(t *testing.T) {
			metrics := filepath.Join(t.TempDir(), "m.prom")
			n := newNixOS(t, "metrics_file = "+strconv.Quote(metrics))
			running := resolved(t, n.CurrentSystem)
			if err := n.SetInhibitor("256.2"); err != nil {
				t.Fatal(err)
			}
			const reason = "reboot required: systemd 255.1 → 256.2"
			if output == "plain" {
				out, errOut, code := n.run(nil, nixosGraph, "--yes", "--output=plain")
				if code != 0 {
					t.Fatalf("exit %d\n%s%s", code, out, errOut)
				}
				if !strings.Contains(out, reason) {
					t.Errorf("the summary does not say %q:\n%s", reason, out)
				}
			} else {
				evs, errOut, code := n.runJSON(nil, nixosGraph, "--yes")
				if code != 0 {
					t.Fatalf("exit %d\n%s%s", code, evs, errOut)
				}
				act := evs.mustFinish(t, "activate")
				if act.State != "succeeded" || !slices.Contains(act.Warnings, reason) ||
					act.Fields["reboot_needed"] != true || act.Fields["reboot_reason"] != reason {
					t.Errorf("activate: %s, warnings %q, fields %v", act.State, act.Warnings, act.Fields)
				}
				// The old system still runs: nothing to test (accept) or
				// check (the health gate) until the reboot.
				for _, task := range []string{"accept", "health"} {
					if f := evs.mustFinish(t, task); f.State != "skipped" || !strings.HasPrefix(f.Reason, "not switched to ("+reason+")") {
						t.Errorf("%s %s (%s), want skipped: not switched to", task, f.State, f.Reason)
					}
				}
			}
			if calls := n.SwitchCalls(); !slices.Equal(calls, []string{"test", "boot"}) {
				t.Errorf("switch-to-configuration calls %v, want [test boot]", calls)
			}
			gens, cur := n.generations()
			if !slices.Equal(gens, []int{1, 2}) || cur != 2 {
				t.Errorf("generations %v, current %d; want [1 2], current 2", gens, cur)
			}
			if got := resolved(t, n.CurrentSystem); got != running {
				t.Errorf("the running system changed to %s", got)
			}
			if m, _ := os.ReadFile(metrics); !strings.Contains(string(m), "\nrebuild_reboot_needed 1\n") {
				t.Errorf("metrics:\n%s", m)
			}
		})
	}
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("\n" + text); err != nil {
		t.Fatal(err)
	}
}

// readLines is the file's lines; none when it does not exist.
func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}
