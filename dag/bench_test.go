package dag

import (
	"fmt"
	"testing"
)

// chainTree is n tasks, each after the one at half its number (a binary
// tree, as bench/plan's configuration), with every fourth edge a needs
// edge and a group on every tenth task.
func chainTree(n int) []Node {
	nodes := make([]Node, n)
	for i := range nodes {
		nodes[i].Name = fmt.Sprintf("t%04d", i)
		if i == 0 {
			continue
		}
		p := fmt.Sprintf("t%04d", i/2)
		if i%4 == 0 {
			nodes[i].Needs = []string{p}
		} else {
			nodes[i].After = []string{p}
		}
		if i%10 == 0 {
			nodes[i].Groups = []string{"tens"}
		}
	}
	return nodes
}

// BenchmarkBuild1000 is Build on 1,000 tasks, as `rebuild plan` on a
// 1,000-task configuration does it.
func BenchmarkBuild1000(b *testing.B) {
	nodes := chainTree(1000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(nodes); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSelect1000 selects from 1,000 tasks: all of them (a plain
// `rebuild plan`), all of them named one by one (--only), and half.
func BenchmarkSelect1000(b *testing.B) {
	g := mustBuild(b, chainTree(1000))
	all, half := "", ""
	for i := range 1000 {
		all += fmt.Sprintf(",t%04d", i)
		if i%2 == 0 {
			half += fmt.Sprintf(",t%04d", i)
		}
	}
	for _, c := range []struct{ name, only string }{{"everything", ""}, {"named", all[1:]}, {"half", half[1:]}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := g.Select(c.only, ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
