package schedule

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/dag"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// The walk on indices (the walker's queue, its measured critical path)
// must give exactly what the walk by names gave: these are the by-name
// versions it replaced, kept as references.

// beforeByName is the queue's order as container/heap's Less had it.
func beforeByName(a, b *task) bool {
	if a.prio != b.prio {
		return a.prio > b.prio
	}
	if sa, sb := phaseRank(a.spec.Phase), phaseRank(b.spec.Phase); sa != sb {
		return sa < sb
	}
	return a.index < b.index
}

// measuredPathByName is the run's critical path as it happened, not as it was
// estimated: the chain of tasks that set the wall time. It starts at the
// task that finished last among those that did something, and walks back
// along the edges, each step to the prerequisite that finished last: the
// one the task really waited for. Tasks that did nothing (never started,
// or skipped: they decided there was nothing to do) are never named; the
// walk looks through them to their own prerequisites. ran reports whether
// a task was started. Ties go to the later task in topological order.
// O(V+E) per step.
func measuredPathByName(g *dag.Graph, sum *Summary, ran func(string) bool) []string {
	index := make(map[string]int, len(sum.Order))
	for i, n := range sum.Order {
		index[n] = i
	}
	counts := func(n string) bool {
		r := sum.Results[n]
		return r != nil && ran(n) && r.State != Skipped && r.State != UpstreamFailed
	}
	end := func(n string) time.Time { r := sum.Results[n]; return r.Start.Add(r.Duration) }
	later := func(a, b string) bool { // a ended after b (b may be "")
		if b == "" {
			return true
		}
		if ea, eb := end(a), end(b); !ea.Equal(eb) {
			return ea.After(eb)
		}
		return index[a] > index[b]
	}

	last := ""
	for _, n := range sum.Order {
		if counts(n) && later(n, last) {
			last = n
		}
	}
	if last == "" {
		return nil
	}
	path := []string{last}
	for cur := last; ; {
		prev := ""
		seen := map[string]bool{}
		var look func(n string)
		look = func(n string) {
			for _, e := range g.Prereqs(n) {
				p := e.From
				if seen[p] {
					continue
				}
				seen[p] = true
				if !counts(p) {
					look(p)
				} else if later(p, prev) {
					prev = p
				}
			}
		}
		look(cur)
		if prev == "" {
			break
		}
		path = append(path, prev)
		cur = prev
	}
	for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
		path[i], path[j] = path[j], path[i]
	}
	return path
}

// randomRun is a random graph of n tasks in random phases and its walker,
// each task given a random end: started or not, a random state, random
// start and duration drawn from few values, so that ties are common.
func randomRun(t *testing.T, rng *rand.Rand, n int) (*dag.Graph, *walker) {
	t.Helper()
	specs := make([]tasks.Spec, n)
	est := map[string]time.Duration{}
	for i := range specs {
		specs[i] = tasks.Spec{Name: fmt.Sprintf("t%03d", i), Phase: rng.IntN(16) - 1, Task: ok()}
		if specs[i].Phase < 0 {
			specs[i].Phase = 0
		}
		est[specs[i].Name] = time.Duration(rng.IntN(4)) * time.Second
		for k := rng.IntN(4); k > 0 && i > 0; k-- {
			p := fmt.Sprintf("t%03d", rng.IntN(i))
			if rng.IntN(2) == 0 {
				specs[i].Needs = append(specs[i].Needs, p)
			} else {
				specs[i].After = append(specs[i].After, p)
			}
		}
	}
	g, byName, err := Graph(specs)
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(g, byName, Options{Estimate: func(n string) time.Duration { return est[n] }})
	if err != nil {
		t.Fatal(err)
	}
	w := r.newWalker()
	base := time.Unix(1764090000, 0)
	states := []State{Succeeded, Failed, Skipped, UpstreamFailed, Canceled, Declined, RolledBack}
	for i := range w.tasks {
		tk := &w.tasks[i]
		if rng.IntN(8) == 0 {
			continue // never final: no Result
		}
		tk.started = rng.IntN(4) != 0
		res := &Result{Name: tk.name, State: states[rng.IntN(len(states))],
			Start: base.Add(time.Duration(rng.IntN(5)) * time.Second), Duration: time.Duration(rng.IntN(3)) * time.Second}
		tk.res = res
		w.sum.Results[tk.name] = res
	}
	return g, w
}

func TestMeasuredPathOnIndicesIsTheOneByName(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 15))
	nonEmpty := 0
	for round := range 300 {
		g, w := randomRun(t, rng, 1+rng.IntN(60))
		want := measuredPathByName(g, w.sum, func(n string) bool { return w.find(n).started })
		got := w.measuredPath()
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: path %q, by name %q", round, got, want)
		}
		if len(want) > 1 {
			nonEmpty++
		}
	}
	if nonEmpty < 100 {
		t.Errorf("only %d of 300 random runs had a path of two tasks or more", nonEmpty)
	}
}

// The queue pops runnable tasks in the order container/heap did with
// beforeByName, whatever order they were pushed in and however pushes and
// pops interleave.
func TestQueueOrderIsTheOneByName(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for round := range 200 {
		_, w := randomRun(t, rng, 1+rng.IntN(80))
		var q queue
		var ref []*task // kept sorted by beforeByName
		in := rng.Perm(len(w.tasks))
		for len(in) > 0 || q.Len() > 0 {
			if len(in) > 0 && (q.Len() == 0 || rng.IntN(3) != 0) {
				tk := &w.tasks[in[0]]
				in = in[1:]
				q.push(tk)
				i, _ := slices.BinarySearchFunc(ref, tk, func(a, b *task) int {
					if beforeByName(a, b) {
						return -1
					}
					return 1
				})
				ref = slices.Insert(ref, i, tk)
				continue
			}
			got := &w.tasks[q.pop()]
			if got != ref[0] {
				t.Fatalf("round %d: popped %s (prio %v, phase %d), by name %s (prio %v, phase %d)", round,
					got.name, got.prio, got.spec.Phase, ref[0].name, ref[0].prio, ref[0].spec.Phase)
			}
			ref = ref[1:]
		}
	}
}
