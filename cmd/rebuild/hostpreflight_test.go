package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/dag"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// Before the first task, every host reached over ssh whose tasks need
// root is asked, at once, whether root can be had there without a
// password: one that would ask stops the run, named; a host that cannot
// be reached does not (its own tasks fail, naming it); a root@ target, a
// local host and a task of the whole run ask nothing there.
func TestPreflightAsksHostsForRootWithoutAPassword(t *testing.T) {
	bin := t.TempDir()
	calls := filepath.Join(t.TempDir(), "calls")
	ssh := `#!/bin/sh
for last; do :; done
for a; do case $a in *@*) dest=$a ;; esac; done
echo "$dest $last" >> ` + calls + `
case $dest in
deploy@web1) echo "sudo: a password is required" >&2; exit 1 ;;
deploy@web3) echo "ssh: connect to host web3 port 22: No route to host" >&2; exit 255 ;;
esac
exit 0
`
	if err := os.WriteFile(filepath.Join(bin, "ssh"), []byte(ssh), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{Elevate: "sudo", Hosts: map[string]config.Host{
		"web1": {Name: "web1", Target: "deploy@web1"},
		"web2": {Name: "web2", Target: "deploy@web2"},
		"web3": {Name: "web3", Target: "deploy@web3"},
		"r":    {Name: "r", Target: "root@r"},
		"here": {Name: "here", Target: "local"},
	}}
	specs := map[string]tasks.Spec{"commit": {Name: "commit", Root: false}}
	var nodes []dag.Node
	for _, h := range []string{"web1", "web2", "web3", "r", "here"} {
		for _, task := range []string{"activate", "generations", "build"} {
			name := task + "-" + h // the instance's name; its host is what counts
			specs[name] = tasks.Spec{Name: name, Host: h, Root: task != "build"}
			nodes = append(nodes, dag.Node{Name: name})
		}
	}
	nodes = append(nodes, dag.Node{Name: "commit"})
	g, err := dag.Build(nodes)
	if err != nil {
		t.Fatal(err)
	}
	p := &plan{cfg: cfg, graph: g, full: g, specs: specs}
	sys := &System{Environ: append(cleanEnv(), "PATH="+bin+":"+os.Getenv("PATH"))}

	problems := checkHostsElevation(sys, p)
	if len(problems) != 1 || !strings.HasPrefix(problems[0], "host web1: sudo on deploy@web1 needs a password") || !strings.Contains(problems[0], "NOPASSWD") {
		t.Errorf("problems %q", problems)
	}
	b, _ := os.ReadFile(calls)
	got := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(got) != 3 {
		t.Errorf("ssh calls %q, want one each for web1, web2, web3", got)
	}
	for _, c := range got {
		if !strings.HasSuffix(c, " sudo -n -- true") {
			t.Errorf("call %q", c)
		}
	}

	// The local elevation is for the tasks on this machine only.
	for name, want := range map[string]bool{"activate-here": true, "activate-web1": false, "activate-r": false, "commit": true} {
		if got := rootHere(cfg, specs[name]); got != want {
			t.Errorf("rootHere(%s) = %v", name, got)
		}
	}
	if needsRoot(&plan{cfg: cfg, graph: g, specs: map[string]tasks.Spec{"activate-web1": specs["activate-web1"]}}, false) {
		t.Error("a run whose only root task is on a host reached over ssh asks for root here")
	}
}
