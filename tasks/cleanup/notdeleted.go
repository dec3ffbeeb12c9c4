package cleanup

import (
	"errors"
	"fmt"

	"github.com/rebuild-nixos/rebuild/internal/text"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/fsutil"
)

// notDeleted warns about what a removal left behind, the entries that
// changed since the table was shown apart from real failures: those were
// kept on purpose, and the person should know which and why. Each one is
// in the log.
func notDeleted(env *tasks.Env, task string, errs []error) {
	var changed, failed []error
	for i, e := range fsutil.TildeErrors(env.Home, errs) {
		fmt.Fprintf(env.Log, "not deleted: %v\n", e)
		if errors.Is(errs[i], fsutil.ErrChanged) {
			changed = append(changed, e)
		} else {
			failed = append(failed, e)
		}
	}
	if len(changed) > 0 {
		env.Warn("%s: %s left alone: %s", task, text.Plural(len(changed), "entry", "entries"), fsutil.FirstErrors(changed, len(changed), 1))
	}
	if len(failed) > 0 {
		env.Warn("%s: could not delete %s: %s", task, text.Plural(len(failed), "entry", "entries"), fsutil.FirstErrors(failed, len(failed), 1))
	}
}
