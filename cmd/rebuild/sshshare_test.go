package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// The run opens one connection per remote host (ssh -M -N on the host's
// socket in a private directory), none for the local host, and ends them
// and removes the directory when it ends.
func TestSSHShareOpensAndEndsOneConnectionPerRemoteHost(t *testing.T) {
	bin := t.TempDir()
	calls := filepath.Join(t.TempDir(), "calls")
	// A stand-in ssh: records its arguments, then waits as a master does.
	writeFile(t, filepath.Join(bin, "ssh"), "#!/bin/sh\necho \"$*\" >> "+calls+"\nexec sleep 60\n")
	if err := os.Chmod(filepath.Join(bin, "ssh"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	s := startSSHShare([]config.Host{
		{Name: "box", Target: "local"},
		{Name: "web1", Target: "root@10.0.0.5:2222", SSHOptions: []string{"-i", "key"}},
		{Name: "web2", Target: "deploy@web2"},
	}, os.Environ(), &proc.Runner{})
	dir := s.Dir()
	if dir == "" || len(s.masters) != 2 {
		t.Fatalf("dir %q, %d connections; want a directory and 2", dir, len(s.masters))
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("socket directory %s: %v, mode %v; want 0700", dir, err, st.Mode().Perm())
	}
	var got []string
	for deadline := time.Now().Add(10 * time.Second); len(got) < 2 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(calls)
		got = strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	joined := strings.Join(got, "\n")
	for _, want := range []string{
		"-M -N -o ControlPersist=no -o ControlPath=" + filepath.Join(dir, "web1.sock") + " -o BatchMode=yes -p 2222 -i key",
		"-M -N -o ControlPersist=no -o ControlPath=" + filepath.Join(dir, "web2.sock") + " -o BatchMode=yes",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("no connection %q in:\n%s", want, joined)
		}
	}
	if strings.Contains(joined, "box") {
		t.Errorf("a connection to the local host:\n%s", joined)
	}
	s.Close()
	for _, m := range s.masters {
		if m.ProcessState == nil {
			t.Errorf("connection %v still running after Close", m.Args)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("socket directory left behind: %v", err)
	}
	if none := startSSHShare([]config.Host{{Name: "box", Target: "local"}}, nil, &proc.Runner{}); none.Dir() != "" {
		t.Errorf("a run without remote hosts made %s", none.Dir())
	}
}
