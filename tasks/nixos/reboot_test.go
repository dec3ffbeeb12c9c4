package nixos

import (
	"slices"
	"testing"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// The booted system keeps kernel 6.6.1: a new system with the same kernel
// needs no reboot; one with 6.6.8 does, and says both versions.
func TestActivateRebootNeeded(t *testing.T) {
	w := newWorld(t)
	if err := w.s.SetVersion("1.2"); err != nil {
		t.Fatal(err)
	}
	w.build()
	env := w.mustRun(Activate{}, w.env("activate", nil))
	if r := env.Report(); r.Fields[tasks.FieldRebootNeeded] != false || len(r.Warnings) != 0 {
		t.Errorf("same kernel: fields %v, warnings %q", r.Fields, r.Warnings)
	}

	if err := w.s.SetKernel("6.6.8"); err != nil {
		t.Fatal(err)
	}
	w.build()
	env = w.mustRun(Activate{}, w.env("activate", nil))
	r := env.Report()
	if want := "reboot needed (kernel 6.6.1 → 6.6.8)"; !slices.Contains(r.Warnings, want) {
		t.Errorf("warnings %q lack %q", r.Warnings, want)
	}
	if r.Fields[tasks.FieldRebootNeeded] != true || r.Fields[tasks.FieldRebootReason] != "kernel 6.6.1 → 6.6.8" {
		t.Errorf("fields %v", r.Fields)
	}

	// Only the links configured decide.
	env = w.env("activate", map[string]any{"reboot_links": []any{"nixos-version"}})
	tasks.Activated.Put(env, tasks.Activation{})
	if err := w.s.SetVersion("1.3"); err != nil {
		t.Fatal(err)
	}
	w.build()
	w.mustRun(Activate{}, env)
	if r := env.Report(); r.Fields[tasks.FieldRebootNeeded] != true || r.Fields[tasks.FieldRebootReason] != "nixos-version changed" {
		t.Errorf("reboot_links = [nixos-version]: fields %v", r.Fields)
	}
}

func TestStoreVersion(t *testing.T) {
	h := "0c5pyb5d4w3l1w1pqy3q3gxkq6cf0zcx"
	for p, want := range map[string]string{
		"/nix/store/" + h + "-linux-6.6.8/bzImage":         "6.6.8",
		"/nix/store/" + h + "-initrd-linux-6.6.8/initrd":   "6.6.8",
		"/nix/store/" + h + "-linux-6.6.8-modules":         "6.6.8",
		"/nix/store/" + h + "-linux-6.12.1-rc2-bzImage":    "6.12.1",
		"/tmp/x/store/" + h + "-linux-6.1.0-1-modules/lib": "6.1.0-1",
		"/nix/store/" + h + "-firmware":                    "",
		"/nix/store/notastorepath-linux-6.6.8":             "",
	} {
		if got := storeVersion(p); got != want {
			t.Errorf("storeVersion(%q) = %q, want %q", p, got, want)
		}
	}
}
