package housekeeping

import (
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/taskstest"
)

// run runs task with a fresh Env on home, the given options (as if from
// a config file, over the task's defaults) and prompter.
func run(t *testing.T, task tasks.Task, name, home string, opts map[string]any, p *taskstest.Prompter, setup ...func(*tasks.Env)) taskstest.Result {
	t.Helper()
	return taskstest.Run(t, task, name, home, time.Time{}, opts, p, setup...)
}
