package render

import (
	"io"
	"sync"

	"github.com/rebuild-nixos/rebuild/schedule"
)

// quiet prints nothing while the run goes on; its summary shows only
// failures, with their last log lines, and warnings.
type quiet struct {
	o  Options
	mu sync.Mutex
}

func (r *quiet) Emit(schedule.Event)      {}
func (r *quiet) Println(string)           {}
func (r *quiet) VerboseWriter() io.Writer { return nil }
func (r *quiet) Pause()                   {}
func (r *quiet) Resume()                  {}
func (r *quiet) Close() error             { return nil }

func (r *quiet) Summary(s *schedule.Summary, _ string) {
	text := quietText(palette{on: r.o.Color}, s)
	if text == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	_, _ = io.WriteString(r.o.Out, text)
}
