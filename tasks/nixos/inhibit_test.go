package nixos

import (
	"slices"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/nixos/nixtest"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// A new system whose switch inhibitor differs from the running one's:
// its switch-to-configuration test refuses as NixOS's does, and activate
// makes it the boot default instead (profile set, boot run, by the new
// system), leaves the running system alone, and says a reboot is
// required — a success, not a failure.
func TestActivateInhibitorBootsInstead(t *testing.T) {
	w := newWorld(t)
	running, _ := nixtest.Resolve(w.s.CurrentSystem)
	if err := w.s.SetInhibitor("256.2"); err != nil {
		t.Fatal(err)
	}
	out := w.build()
	env := w.mustRun(Activate{}, w.env("activate", nil))

	if calls := w.s.SwitchSystems(); !slices.Equal(calls, []string{"test " + out, "boot " + out}) {
		t.Errorf("switch-to-configuration calls %q, want test then boot of %s", calls, out)
	}
	gens, cur, _ := w.s.Generations()
	if p, _ := nixtest.Resolve(w.s.Profile); p != out || cur != 2 || !slices.Equal(gens, []int{1, 2}) {
		t.Errorf("profile → %s (generation %d of %v), want %s as 2", p, cur, gens, out)
	}
	if now, _ := nixtest.Resolve(w.s.CurrentSystem); now != running {
		t.Errorf("the running system changed to %s", now)
	}
	r := env.Report()
	if want := "reboot required: systemd 255.1 → 256.2"; !slices.Contains(r.Warnings, want) {
		t.Errorf("warnings %q lack %q", r.Warnings, want)
	}
	if r.Fields[tasks.FieldRebootNeeded] != true || !strings.Contains(r.Fields[tasks.FieldRebootReason].(string), "systemd 255.1 → 256.2") {
		t.Errorf("fields %v", r.Fields)
	}
	if act, ok := tasks.Activated.Get(env); !ok || act.Generation != 2 || act.Previous != 1 || act.Path != out {
		t.Errorf("handed on %+v", act)
	}
}

// When boot fails after the refusal, the profile is put back, as after
// any failed boot; a test that fails otherwise (exit 1 without NixOS's
// message) stays a failure and changes nothing.
func TestActivateInhibitorFailures(t *testing.T) {
	w := newWorld(t)
	if err := w.s.SetInhibitor("256.2"); err != nil {
		t.Fatal(err)
	}
	w.build()
	env := w.env("activate", nil)
	env.Runner.Environ = append(env.Runner.Environ, "NIXTEST_SWITCH_FAIL=boot")
	err := w.run(Activate{}, env)
	if err == nil || !strings.Contains(err.Error(), "the profile was put back to generation 1") {
		t.Errorf("boot failing after the refusal: %v", err)
	}
	if _, cur, _ := w.s.Generations(); cur != 1 {
		t.Errorf("profile at generation %d, want 1", cur)
	}

	w = newWorld(t)
	if err := w.s.SetVersion("1.2"); err != nil {
		t.Fatal(err)
	}
	w.build()
	env = w.env("activate", nil)
	env.Runner.Environ = append(env.Runner.Environ, "NIXTEST_SWITCH_FAIL=test", "NIXTEST_SWITCH_CODE=1")
	err = w.run(Activate{}, env)
	if err == nil || !strings.Contains(err.Error(), "switch-to-configuration test failed") {
		t.Errorf("an ordinary exit 1: %v", err)
	}
	if calls := w.s.SwitchCalls(); !slices.Equal(calls, []string{"test"}) {
		t.Errorf("calls %q", calls)
	}
}

// The refusals are told apart from failures by exit code and message,
// as switch-to-configuration-ng prints them.
func TestRefusalReason(t *testing.T) {
	inhibitor := []string{"Checking switch inhibitors...", "There are changes to critical components of the system:", "",
		"dbus-implementation : dbus -> broker", "systemd : 255 -> 256", "", "Switching into this system is not recommended.",
		"Pre-switch check 'switchInhibitors' failed", "Pre-switch checks failed"}
	other := []string{"Pre-switch check 'hostname' failed", "Pre-switch checks failed"}
	initChange := []string{"Warning: the new NixOS configuration has an ‘init’ that is", "incompatible with the current configuration.  The new configuration",
		"won't take effect until you reboot the system."}
	for _, tc := range []struct {
		lines []string
		code  int
		want  string
		ok    bool
	}{
		{inhibitor, 1, "dbus-implementation dbus → broker, systemd 255 → 256", true},
		{other, 1, "pre-switch check hostname failed", true},
		{[]string{"Pre-switch checks failed"}, 1, "pre-switch checks failed", true},
		{initChange, 100, "the new init is incompatible with the running one", true},
		{inhibitor, 4, "", false},
		{initChange, 1, "", false},
		{[]string{"Failed to start foo.service"}, 1, "", false},
	} {
		var r refusal
		for _, l := range tc.lines {
			r.line(l)
		}
		got, ok := r.reason(&proc.Error{Cmd: "switch-to-configuration test", Code: tc.code})
		if got != tc.want || ok != tc.ok {
			t.Errorf("%q exit %d: %q %v, want %q %v", tc.lines, tc.code, got, ok, tc.want, tc.ok)
		}
	}
}
