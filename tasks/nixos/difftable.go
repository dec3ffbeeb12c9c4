package nixos

import (
	"strings"

	"github.com/mattn/go-runewidth"

	"github.com/rebuild-nixos/rebuild/internal/text"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// diffTable lays out a closure difference as the questions of --ask and
// accept show it: the packages grouped into upgraded, downgraded, added
// and removed, each with its versions and size change, then the packages
// whose size alone changed, then closure (the closure sizes line). At
// most maxRows packages are listed (0: all), the rest counted.
//
//	upgraded (1)
//	  foo 1.0 → 1.2          +64.0 KiB
//	downgraded (1)
//	  bar 2.7790 → 2.1232    -16.0 KiB
//	added (1)
//	  baz 2.0                +48.0 KiB
//	removed (1)
//	  qux 1.0                -32.0 KiB
//	closure 164.3 KiB → 228.3 KiB (+64.0 KiB)
func diffTable(d tasks.ClosureDiff, closure string, maxRows int) string {
	type row struct{ what, size string }
	type group struct {
		title string
		rows  []row
	}
	var groups []group
	add := func(title string, pcs []tasks.PackageChange, versions func(tasks.PackageChange) string) {
		if len(pcs) == 0 {
			return
		}
		g := group{title: title + " (" + text.Plural(len(pcs), "package", "packages") + ")"}
		for _, pc := range pcs {
			g.rows = append(g.rows, row{pc.Name + " " + versions(pc), sizeChange(pc.SizeDelta)})
		}
		groups = append(groups, g)
	}
	change := func(pc tasks.PackageChange) string { return showVersions(pc.Before) + " → " + showVersions(pc.After) }
	add("upgraded", d.Upgraded, change)
	add("downgraded", d.Downgraded, change)
	add("added", d.Added, func(pc tasks.PackageChange) string { return showVersions(pc.After) })
	add("removed", d.Removed, func(pc tasks.PackageChange) string { return showVersions(pc.Before) })
	var changed []tasks.PackageChange
	for _, pc := range d.Changed {
		if len(pc.Before) > 0 { // same version, other build: a change of its own
			changed = append(changed, pc)
		}
	}
	add("rebuilt, same version", changed, change)

	width := 0
	for _, g := range groups {
		for _, r := range g.rows {
			width = max(width, runewidth.StringWidth(r.what))
		}
	}
	var lines []string
	listed, hidden := 0, 0
	for _, g := range groups {
		if maxRows > 0 && listed >= maxRows {
			hidden += len(g.rows)
			continue
		}
		lines = append(lines, g.title)
		for _, r := range g.rows {
			if maxRows > 0 && listed >= maxRows {
				hidden++
				continue
			}
			listed++
			line := "  " + r.what
			if r.size != "" {
				line = "  " + runewidth.FillRight(r.what, width) + "  " + r.size
			}
			lines = append(lines, line)
		}
	}
	if hidden > 0 {
		lines = append(lines, "… "+text.Plural(hidden, "more package", "more packages")+" (all in the log)")
	}
	var sizeOnly int64
	n := 0
	for _, pc := range d.Changed {
		if len(pc.Before) == 0 {
			sizeOnly += pc.SizeDelta
			n++
		}
	}
	if n > 0 {
		lines = append(lines, text.Plural(n, "package", "packages")+" changed in size only ("+signedBytes(sizeOnly)+")")
	}
	if len(groups) == 0 && n == 0 {
		lines = append(lines, "no version changes")
	}
	if closure != "" {
		lines = append(lines, closure)
	}
	return strings.Join(lines, "\n")
}

// showVersions writes versions as diff-closures does: ε for the empty one.
func showVersions(vs []string) string {
	out := make([]string, len(vs))
	for i, v := range vs {
		if v == "" {
			v = "ε"
		}
		out[i] = v
	}
	return strings.Join(out, ", ")
}

// sizeChange is a package's size change, "" under diff-closures' 8 KiB
// threshold (it reports none).
func sizeChange(n int64) string {
	if n == 0 {
		return ""
	}
	return signedBytes(n)
}
