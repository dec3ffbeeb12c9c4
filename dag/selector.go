package dag

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/rebuild-nixos/rebuild/internal/hostname"
)

// ParseSelector splits the value of --only or --skip into its tokens: a
// comma-separated list, spaces around each item trimmed, duplicates dropped
// (first one kept). A blank value gives nil. An empty item ("a,,b", "a,")
// or an item with a character outside a-z, 0-9 and '-' (uppercase
// included: names are lowercase) is a *SelectorError. O(len(s)).
func ParseSelector(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var tokens []string
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, &SelectorError{Input: s, Msg: "empty item"}
		}
		// A per-host task's instance is selected by its whole name,
		// build@web1; its host's name has a syntax of its own.
		base, host, perHost := strings.Cut(item, HostSep)
		for _, r := range base {
			if isNameRune(r) {
				continue
			}
			msg := fmt.Sprintf("invalid character %q (use a-z, 0-9 and '-')", r)
			if unicode.IsUpper(r) {
				msg = fmt.Sprintf("uppercase letter %q (names are lowercase)", r)
			}
			return nil, &SelectorError{Input: s, Item: item, Msg: msg}
		}
		if perHost {
			if base == "" {
				return nil, &SelectorError{Input: s, Item: item, Msg: "no task before '@' (a task on one host is NAME@HOST, e.g. build@web1)"}
			}
			if msg := hostname.Problem(host); msg != "" {
				return nil, &SelectorError{Input: s, Item: item, Msg: fmt.Sprintf("host %q %s", host, msg)}
			}
		}
		if !slices.Contains(tokens, item) {
			tokens = append(tokens, item)
		}
	}
	return tokens, nil
}

// Resolve maps selector tokens to the set of task names they mean. A token
// is, in this order of precedence: an exact task name; the name of a
// per-host task (every host's instance: build is build@web1, build@web2); a phase number
// 1–14 written in decimal without leading zeros (every task with that
// Phase; a number no task has is unknown); a group name (every task in it).
// The first token that is none of these gives an *UnknownSelectorError that
// lists what would have been valid. No tokens give an empty set.
// O(len(tokens)·V) at most.
func (g *Graph) Resolve(tokens []string) (map[string]bool, error) {
	set := map[string]bool{}
	for _, tok := range tokens {
		if _, ok := g.nodes[tok]; ok {
			set[tok] = true
			continue
		}
		if instances, ok := g.byBase[tok]; ok {
			for _, name := range instances {
				set[name] = true
			}
			continue
		}
		if n, err := strconv.Atoi(tok); err == nil && strconv.Itoa(n) == tok && len(g.byPhase[n]) > 0 {
			for _, name := range g.byPhase[n] {
				set[name] = true
			}
			continue
		}
		if members, ok := g.byGroup[tok]; ok {
			for _, name := range members {
				set[name] = true
			}
			continue
		}
		return nil, g.unknownSelector(tok)
	}
	return set, nil
}

func (g *Graph) unknownSelector(tok string) *UnknownSelectorError {
	e := &UnknownSelectorError{Token: tok, Tasks: g.selectableTasks(), Groups: g.Groups(), Hosts: g.Hosts()}
	for phase := range g.byPhase {
		e.Phases = append(e.Phases, phase)
	}
	slices.Sort(e.Phases)
	return e
}

// selectableTasks are the task names a selector offers, in Order: a
// per-host task once, by its own name, where its first instance is (its
// instances are also valid one by one, which the error says).
func (g *Graph) selectableTasks() []string {
	out := make([]string, 0, len(g.order))
	seen := map[string]bool{}
	for _, name := range g.order {
		base, host := SplitHost(name)
		if host == "" {
			out = append(out, name)
			continue
		}
		if !seen[base] {
			seen[base] = true
			out = append(out, base)
		}
	}
	return out
}
