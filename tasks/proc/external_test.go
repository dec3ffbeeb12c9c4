package proc

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A command started with StartExternal that has ended before its caller
// waits for it is not taken by the reaping of orphans: its exit status is
// still there for WaitExternal. (Started with os/exec alone, the reaping
// took it, and Wait failed: "waitid: no child processes".)
func TestReapingLeavesExternalCommands(t *testing.T) {
	r := &Runner{Subreaper: true}
	cmd := exec.Command("sh", "-c", "exit 3")
	if err := r.StartExternal(cmd); err != nil {
		t.Fatal(err)
	}
	stat := "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/stat"
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(stat)
		if err == nil {
			if f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:])); len(f) > 0 && f[0] == "Z" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not become a zombie: %s %v", stat, b, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.kids.reapOrphans()
	err := r.WaitExternal(cmd)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("WaitExternal: %v, want exit status 3", err)
	}
	if r.kids.has(cmd.Process.Pid) {
		t.Errorf("pid %d still known after WaitExternal", cmd.Process.Pid)
	}
}
