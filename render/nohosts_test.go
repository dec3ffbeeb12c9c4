package render

import (
	"path/filepath"
	"testing"
	"time"
)

// A run without hosts is drawn byte for byte as it was before hosts
// existed: the goldens under testdata/nohosts were written by the
// renderers of the commit before the hosts' lanes (8fbad24), from the
// same events, every escape sequence included. A lane, a host column or
// a host field that leaked into such a run would change them.
func TestOutputWithoutHostsUnchanged(t *testing.T) {
	for _, mode := range []string{ModeTTY, ModePlain, ModeJSON, ModeQuiet} {
		for _, color := range []bool{false, true} {
			if color && mode != ModeTTY {
				continue
			}
			c := newClock()
			var out, errw syncBuf
			tk := &manualTicker{}
			r, err := New(mode, Options{Out: &out, Err: &errw, Now: c.Now, Color: color, Tasks: testTasks,
				Width: func() int { return 60 }, Height: func() int { return 24 }, Ticker: tk.Ticker,
				RemainingETA: CriticalRemaining(testTasks, map[string][]string{"build": {"flake-update"}, "accept": {"build", "learn-meta"}, "push": {"accept"}})})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range runEvents(c) {
				// The renderer's clock follows the events, ticking between them.
				if d := e.Time.Sub(c.Now()); d > 0 {
					c.Add(d)
				}
				r.Emit(e)
				c.Add(100 * time.Millisecond)
				tk.Tick()
			}
			c.Add(time.Second)
			tk.Tick()
			r.Summary(summaryFixture(), "/logs")
			_ = r.Close()
			name := mode
			if color {
				name += "-color"
			}
			golden(t, filepath.Join("nohosts", name+".golden"), out.String()+"--- err\n"+errw.String())
		}
	}
}
