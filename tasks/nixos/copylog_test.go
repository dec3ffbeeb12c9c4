package nixos

import (
	"os"
	"strings"
	"testing"
	"time"
)

// Nix 2.8's nix copy reports no progress: a path counts when its
// activity stops, with its NAR size from the plan; the total paths are
// Nix's "copying 3 paths".
func TestCopyLogNix28(t *testing.T) {
	b, err := os.ReadFile("testdata/copy-internal-json.log")
	if err != nil {
		t.Fatal(err)
	}
	const store = "/tmp/exp/local/store/"
	sizes := map[string]int64{store + "8g1qina5c2n361jnmc6lizmjpf1mbm0p-top": 232,
		store + "qmgpy5xnmjdpgv0dl2zfriwk6xg6d9bn-a-1.0": 1 << 20, store + "bahm13d45g1ch80fgki159bpyhr41v5j-b-2.0": 3 << 20}
	now := time.Unix(1000, 0)
	l := NewCopyLog(sizes, 0, 0) // no plan totals: Nix's count, bytes without a total
	l.Now = func() time.Time { return now }
	if st := l.Status(); st != "copying: asking the host what it is missing" {
		t.Errorf("before: %q", st)
	}
	var statuses []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if txt := l.Line(line); strings.Contains(txt, "@nix") {
			t.Errorf("readable text %q", txt)
		}
		now = now.Add(250 * time.Millisecond)
		if st := l.Status(); len(statuses) == 0 || statuses[len(statuses)-1] != st {
			statuses = append(statuses, st)
		}
	}
	got := strings.Join(statuses, "\n")
	for _, want := range []string{"copying 0/3 paths", "copying 1/3 paths · 3.0 MiB · ", "copying 3/3 paths · 4.0 MiB · "} {
		if !strings.Contains(got, want) {
			t.Errorf("statuses lack %q:\n%s", want, got)
		}
	}
	paths, bytes, rate := l.Result()
	if paths != 3 || bytes != 232+4<<20 || rate <= 0 {
		t.Errorf("result %d paths, %d bytes, %.0f B/s", paths, bytes, rate)
	}
	p := l.Progress()
	if p.Downloaded != 3 || p.ToDownload != 3 || p.DownloadedBytes != 232+4<<20 || len(p.Downloads) != 0 {
		t.Errorf("progress %+v", p)
	}
}

// Newer Nix reports progress on the copy (paths) and on each path
// (bytes): the counts follow it, bytes on their way count, the rate is
// over the copy so far.
func TestCopyLogProgress(t *testing.T) {
	start := time.Unix(1000, 0)
	now := start
	l := NewCopyLog(map[string]int64{"/nix/store/aaa-a-1.0": 4 << 20, "/nix/store/bbb-b-1.0": 4 << 20}, 2, 8<<20)
	l.Now = func() time.Time { return now }
	for _, line := range []string{
		`@nix {"action":"start","id":1,"level":3,"text":"copying 2 paths","type":103}`,
		`@nix {"action":"result","id":1,"type":105,"fields":[0,2,1,0]}`,
		`@nix {"action":"start","id":2,"level":3,"text":"copying path '/nix/store/aaa-a-1.0' to 'ssh-ng://h'","type":100,"fields":["/nix/store/aaa-a-1.0","local","ssh-ng://h"]}`,
	} {
		l.Line(line)
	}
	now = start.Add(time.Second)
	l.Line(`@nix {"action":"result","id":2,"type":105,"fields":[2097152,4194304]}`)
	if st := l.Status(); st != "copying 0/2 paths · 2.0/8.0 MiB · 2.0 MiB/s" {
		t.Errorf("halfway through a: %q", st)
	}
	p := l.Progress()
	if len(p.Downloads) != 1 || p.Downloads[0].Name != "a-1.0" || p.Downloads[0].Done != 2<<20 || p.Downloads[0].Total != 4<<20 || p.DownloadedBytes != 2<<20 {
		t.Errorf("progress %+v", p)
	}
	now = start.Add(2 * time.Second)
	l.Line(`@nix {"action":"result","id":2,"type":105,"fields":[4194304,4194304]}`)
	l.Line(`@nix {"action":"stop","id":2}`)
	l.Line(`@nix {"action":"result","id":1,"type":105,"fields":[1,2,0,0]}`)
	if st := l.Status(); st != "copying 1/2 paths · 4.0/8.0 MiB · 2.0 MiB/s" {
		t.Errorf("a done: %q", st)
	}
	l.Line(`@nix {"action":"msg","level":0,"msg":"error: cannot add path '/nix/store/bbb-b-1.0' because it lacks a valid signature","raw_msg":"cannot add path"}`)
	if r := l.ErrorReport(); !strings.Contains(r, "lacks a valid signature") {
		t.Errorf("error report %q", r)
	}
}

func TestBytePair(t *testing.T) {
	for _, c := range []struct {
		n, total int64
		want     string
	}{{0, 3 << 20, "0.0/3.0 MiB"}, {1536, 2048, "1.5/2.0 KiB"}, {512 << 20, 2 << 30, "0.5/2.0 GiB"}} {
		if got := bytePair(c.n, c.total); got != c.want {
			t.Errorf("bytePair(%d, %d) = %q, want %q", c.n, c.total, got, c.want)
		}
	}
}
