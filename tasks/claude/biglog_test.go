package claude_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// bigLogSize is the session log of the flat-memory test: 100 MB, or 1 GB
// with REBUILD_BIG_TESTS=1 outside -short.
func bigLogSize() int64 {
	if !testing.Short() && os.Getenv("REBUILD_BIG_TESTS") == "1" {
		return 1 << 30
	}
	return 100 << 20
}

// writeBigLog writes a session log of about size bytes in Claude Code's
// shape: assistant messages calling mcp__github__search (two lines each,
// as Claude Code writes them) and tool results of 4 KB; among them one
// line of 6 MB (accepted), one of 12 MB (over the limit: skipped, counted)
// and one malformed line. It returns the number of github calls.
func writeBigLog(t *testing.T, path, cwd string, size int64) int {
	t.Helper()
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(fh, 1<<20)
	stamp := ts(1)
	result := strings.Repeat("x", 4096)
	var written int64
	calls := 0
	for i := 0; written < size; i++ {
		var block string
		switch i {
		case 100:
			block = fmt.Sprintf(`{"type":"user","timestamp":%q,"cwd":%q,"message":{"role":"user","content":[{"type":"tool_result","content":%q}]}}`+"\n",
				stamp, cwd, strings.Repeat("b", 6<<20))
		case 200:
			block = `{"type":"user","message":{"content":"` + strings.Repeat("c", 12<<20) + "\"}}\n"
		case 300:
			block = "{\"type\":\"assistant\",\"message\":{\"id\":\n"
		default:
			calls++
			u := `"usage":{"input_tokens":1000,"output_tokens":100,"cache_read_input_tokens":0,"cache_creation_input_tokens":0}`
			block = fmt.Sprintf(`{"type":"assistant","timestamp":%q,"cwd":%q,"message":{"id":"msg_%d","content":[{"type":"text","text":"Searching."}],%s}}`+"\n", stamp, cwd, i, u) +
				fmt.Sprintf(`{"type":"assistant","timestamp":%q,"cwd":%q,"message":{"id":"msg_%d","content":[{"type":"tool_use","id":"toolu_%d","name":"mcp__github__search","input":{"q":"x"}}],%s}}`+"\n", stamp, cwd, i, i, u) +
				fmt.Sprintf(`{"type":"user","timestamp":%q,"cwd":%q,"message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_%d","content":%q}]}}`+"\n", stamp, cwd, i, result)
		}
		n, err := w.WriteString(block)
		if err != nil {
			t.Fatal(err)
		}
		written += int64(n)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
	return calls
}

// peakHeap samples runtime.MemStats.HeapAlloc until stop is called and
// returns the highest value seen.
func peakHeap() (stop func() uint64) {
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}

func TestBigSessionLogIsReadWithFlatMemory(t *testing.T) {
	f := newFixture(t)
	size := bigLogSize()
	path := f.sessionPath(f.webapp, "big")
	calls := writeBigLog(t, path, f.webapp, size)
	fi, _ := os.Stat(path)

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	stop := peakHeap()
	start := time.Now()
	env := f.mustRun("mcp-analytics", runOpts{})
	took := time.Since(start)
	peak := stop()

	rep := env.Report()
	if !hasLine(rep.Stats, "2 malformed lines and 1 over-long line skipped in the session logs") {
		t.Errorf("stats %q", rep.Stats)
	}
	report := f.read(filepath.Join(f.flake, ".claude", "mcp-analytics.md"))
	row := fmt.Sprintf("| github | user (~/.claude.json) | %d | 7 |", calls+6)
	if !strings.Contains(report, row) {
		t.Errorf("report lacks %q:\n%s", row, report)
	}
	grown := int64(peak) - int64(base.HeapAlloc)
	t.Logf("session log of %d MiB (%d github calls) read in %v; peak heap %.1f MiB (%.1f MiB above the %.1f MiB before)",
		fi.Size()>>20, calls, took.Round(time.Millisecond), float64(peak)/(1<<20), float64(grown)/(1<<20), float64(base.HeapAlloc)/(1<<20))
	// Flat: the longest accepted line (6 MB) and a few buffers, whatever
	// the size of the file.
	if grown > 48<<20 {
		t.Errorf("peak heap grew by %d MiB reading a %d MiB log", grown>>20, fi.Size()>>20)
	}
}
