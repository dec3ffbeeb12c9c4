package main

import (
	"context"
	"slices"
	"testing"

	"github.com/rebuild-nixos/rebuild/dag"
	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// At the end of a run in which accept did not confirm them, every armed
// activation is confirmed: each host's (activate@HOST) as this machine's,
// except one whose gate rolled it back.
func TestConfirmAtEndConfirmsEveryHost(t *testing.T) {
	g, err := dag.Build(nil)
	if err != nil {
		t.Fatal(err)
	}
	v := tasks.NewValues()
	r, err := schedule.New(g, map[string]tasks.Spec{}, schedule.Options{Values: v})
	if err != nil {
		t.Fatal(err)
	}
	var confirmed []string
	for _, h := range []string{"web1", "web2", "db"} {
		tasks.Activated.On(h).Put(v, tasks.Activation{Path: "/nix/store/" + h, Confirm: func(_ context.Context, env *tasks.Env) error {
			confirmed = append(confirmed, h)
			env.Action("confirmed %s", h)
			return nil
		}})
	}
	sum := &schedule.Summary{Results: map[string]*schedule.Result{
		"activate@web1": {Name: "activate@web1", State: schedule.Succeeded},
		"activate@web2": {Name: "activate@web2", State: schedule.Succeeded},
		"activate@db":   {Name: "activate@db", State: schedule.RolledBack},
		"build@web1":    {Name: "build@web1", State: schedule.Succeeded},
	}}
	confirmAtEnd(r, sum, nil, nil)
	if !slices.Equal(confirmed, []string{"web1", "web2"}) {
		t.Errorf("confirmed %q, want web1 and web2 (db was rolled back)", confirmed)
	}
	if a := sum.Results["activate@web2"].Report.Actions; !slices.Equal(a, []string{"confirmed web2"}) {
		t.Errorf("activate@web2's actions %q", a)
	}
}
