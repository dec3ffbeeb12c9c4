package cleanup

import (
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/taskstest"
)

// testNow is the tests' clock.
var testNow = time.Date(2025, 2, 1, 12, 0, 0, 0, time.UTC)

// run runs task on home with options (as if from a config file), the
// flake at <home>/nixos-config and the clock at testNow.
func run(t *testing.T, task tasks.Task, name, home string, opts map[string]any, p *taskstest.Prompter, setup ...func(*tasks.Env)) taskstest.Result {
	t.Helper()
	return taskstest.Run(t, task, name, home, testNow, opts, p, setup...)
}
