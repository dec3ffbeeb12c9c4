package config

import (
	"errors"

	"github.com/knadh/koanf/v2"
)

// The layers' trees are merged by one koanf instance for the whole load.
//
// koanf copies a tree through reflection (copystructure) whenever one
// crosses its API as a map: confmap.Provider copies the map it is given,
// Raw, Get of a table, All, Cut and Copy each return a deep copy, and
// Merge of one instance into another takes the other's Raw. Loading each
// layer into an instance of its own and merging those cost four such
// copies of a 1,000-task configuration per load, some 260 allocations per
// task. Each layer's tree here is built fresh by the load, checked, and
// used by nothing after it is merged, so it is handed to koanf as it is
// (treeProvider), and the merged tree is read once at the end.

// merger merges the layers' trees, later wins: a table merges key by key
// into the table before it, any other value replaces what was there.
type merger interface {
	// merge merges tree, a layer in normal form, into what came before.
	// It may keep tree, and change it when a later layer is merged.
	merge(tree map[string]any) error
	// merged returns the tree of every layer merged, shared with no
	// layer's tree.
	merged() map[string]any
}

// koanfMerger is the merger of Load.
type koanfMerger struct{ k *koanf.Koanf }

func newKoanfMerger() koanfMerger { return koanfMerger{k: koanf.New(".")} }

func (m koanfMerger) merge(tree map[string]any) error {
	if len(tree) == 0 {
		// Nothing to merge; koanf would still flatten the whole tree
		// again.
		return nil
	}
	return m.k.Load(treeProvider(tree), nil)
}

// merged is koanf's Raw: the one deep copy of the load, which keeps the
// Config apart from the layers' trees koanf merged into (and from
// anything a caller passed in Options.Flags).
func (m koanfMerger) merged() map[string]any { return m.k.Raw() }

// treeProvider is a koanf.Provider of a tree already parsed: Read
// returns it as it is, where confmap.Provider would copy it first.
type treeProvider map[string]any

func (p treeProvider) Read() (map[string]any, error) { return p, nil }

// ReadBytes is not used: Load passes no parser with a treeProvider.
func (p treeProvider) ReadBytes() ([]byte, error) {
	return nil, errors.New("config: a parsed tree has no bytes to read")
}
