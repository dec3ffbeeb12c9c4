package nixtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A remote host's sshd: its own port on 127.0.0.1, host key, authorized
// key and pid file, public-key login as root only, and the host shell as
// ForceCommand. Started by the test (-D, a child it waits for) or, after a
// configuration that locked the host out is rolled back, by the stand-in
// switch-to-configuration (daemonized, through the start script). Either
// way it is stopped by its pid file, never by name.

// sshdPath is where Debian's openssh-server puts sshd.
const sshdPath = "/usr/sbin/sshd"

// privsepDir is the privilege separation directory Debian's sshd
// requires (normally made by its systemd unit).
const privsepDir = "/run/sshd"

func (r *Remote) sshdConfig() string { return filepath.Join(r.Dir, "ssh", "sshd_config") }
func (r *Remote) pidFile() string    { return filepath.Join(r.Dir, "ssh", "sshd.pid") }
func (r *Remote) sshdLog() string    { return filepath.Join(r.Dir, "ssh", "sshd.log") }

// writeSSHDConfig writes the sshd configuration for r.Port.
func (r *Remote) writeSSHDConfig() error {
	lines := []string{
		"# sshd of nixtest remote host " + r.Name + " (tasks/nixos/nixtest/sshd.go)",
		"Port " + strconv.Itoa(r.Port),
		"ListenAddress " + remoteAddr,
		"HostKey " + r.hostKey(),
		"PidFile " + r.pidFile(),
		"AuthorizedKeysFile " + r.authorizedKeys(),
		"PermitRootLogin prohibit-password",
		"PubkeyAuthentication yes",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"StrictModes no", // the sandbox's directories are not root's 0700
		"UsePAM no",
		"UseDNS no",
		"PrintMotd no",
		"PrintLastLog no",
		"MaxStartups 100",
		"MaxSessions 100",
		"ForceCommand " + r.hostShell(),
	}
	return os.WriteFile(r.sshdConfig(), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

// listen picks a free port, writes the host's sshd configuration and host
// shell, and starts sshd; another port when the one picked was taken in
// between.
func (r *Remote) listen(ctx context.Context) error {
	if err := os.MkdirAll(privsepDir, 0o755); err != nil {
		return fmt.Errorf("remote host %s: sshd's privilege separation directory: %w", r.Name, err)
	}
	var err error
	for range 3 {
		if r.Port, err = freePort(); err != nil {
			return err
		}
		if err = r.writeSSHDConfig(); err != nil {
			return err
		}
		if err = r.writeHostShell(); err != nil {
			return err
		}
		if err = r.Start(ctx); err == nil {
			return nil
		}
	}
	return err
}

// freePort is a TCP port on 127.0.0.1 nothing listens on just now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", remoteAddr+":0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start starts the host's sshd unless it is running, and waits until it
// accepts connections (it gives up after ten seconds or when ctx ends).
func (r *Remote) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.listening() {
		return nil
	}
	_ = os.Remove(r.pidFile()) // left by an sshd that was killed
	cmd := exec.Command(sshdPath, "-D", "-f", r.sshdConfig(), "-E", r.sshdLog())
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "NIXTEST_HOST_DIR=" + r.Dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("remote host %s: %w", r.Name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	r.sshd, r.done = cmd, done
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for !r.listening() {
		select {
		case <-done:
			return fmt.Errorf("remote host %s: sshd -f %s exited: %s", r.Name, r.sshdConfig(), r.logTail())
		case <-ctx.Done():
			return fmt.Errorf("remote host %s: sshd on port %d not answering: %w; %s", r.Name, r.Port, ctx.Err(), r.logTail())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// listening reports whether an sshd answers on the host's port: it
// greets with its version, as only an sshd that is up does.
func (r *Remote) listening() bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort(remoteAddr, strconv.Itoa(r.Port)), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	b := make([]byte, 4)
	n, _ := c.Read(b)
	return string(b[:n]) == "SSH-"
}

// Stop stops the host's listening sshd (by its pid file), as a broken
// configuration would: new connections fail; connections already open
// live on. It waits until the port is closed.
func (r *Remote) Stop() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if b, err := os.ReadFile(r.pidFile()); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
			_ = syscall.Kill(pid, syscall.SIGTERM)
		}
		_ = os.Remove(r.pidFile()) // sshd leaves it behind
	}
	if r.done != nil {
		select {
		case <-r.done:
		case <-time.After(5 * time.Second):
			_ = r.sshd.Process.Kill()
			<-r.done
		}
		r.sshd, r.done = nil, nil
	}
	for deadline := time.Now().Add(5 * time.Second); r.listening(); {
		if time.Now().After(deadline) {
			return fmt.Errorf("remote host %s: sshd still answers on port %d after stopping it", r.Name, r.Port)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// logTail is the end of sshd's log, for errors.
func (r *Remote) logTail() string {
	b, _ := os.ReadFile(r.sshdLog())
	b = bytes.TrimSpace(b)
	if len(b) > 600 {
		b = b[len(b)-600:]
	}
	if len(b) == 0 {
		return "sshd logged nothing"
	}
	return "sshd: " + string(b)
}

// killHost kills every process that carries dir's NIXTEST_HOST_DIR mark:
// what the host's commands left running (a detached switch, a watchdog)
// and its sshd's connections. It waits a second for them to end on
// SIGTERM, then kills what is left.
func killHost(dir string) {
	mark := []byte("NIXTEST_HOST_DIR=" + dir + "\x00")
	find := func() []int {
		var pids []int
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
			if err != nil {
				continue
			}
			if bytes.HasPrefix(env, mark) || bytes.Contains(env, append([]byte{0}, mark...)) {
				pids = append(pids, pid)
			}
		}
		return pids
	}
	pids := find()
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGTERM)
	}
	for deadline := time.Now().Add(time.Second); len(pids) > 0 && time.Now().Before(deadline); pids = find() {
		time.Sleep(20 * time.Millisecond)
	}
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
}

// makeWritable makes the directories under dir writable again (a store's
// are read-only), so dir can be removed.
func makeWritable(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return os.Chmod(p, 0o755)
		}
		return nil
	})
}
