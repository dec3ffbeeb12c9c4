package nixtest

import (
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// RemoteAvailable skips the test, saying why, unless remote hosts
// (AddRemote) can run here: nix, nix-daemon, ssh, ssh-keygen, unshare and
// mount on PATH, sshd at /usr/sbin/sshd (Debian: openssh-server), root,
// and a private mount namespace allowed (a container may refuse it).
// CI has all of it (.ci/run installs openssh-server).
func RemoteAvailable(t testing.TB) {
	t.Helper()
	if why := remoteCheck(); why != "" {
		t.Skip("remote hosts cannot run here: " + why)
	}
}

var remoteCheck = sync.OnceValue(func() string {
	var missing []string
	for _, prog := range []string{"nix", "nix-daemon", "ssh", "ssh-keygen", "unshare", "mount"} {
		if _, err := exec.LookPath(prog); err != nil {
			missing = append(missing, prog)
		}
	}
	if _, err := os.Stat(sshdPath); err != nil {
		missing = append(missing, sshdPath+" (apt-get install openssh-server)")
	}
	if len(missing) > 0 {
		return "missing " + strings.Join(missing, ", ")
	}
	if os.Geteuid() != 0 {
		return "not root (unshare -m and mount --bind need it)"
	}
	if out, err := exec.Command("unshare", "-m", "mount", "--make-rprivate", "/").CombinedOutput(); err != nil {
		return "unshare -m fails: " + strings.TrimSpace(string(out))
	}
	return ""
})
