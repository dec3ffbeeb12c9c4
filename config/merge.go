package config

import (
	"errors"

	"github.com/knadh/koanf/maps"
	"github.com/knadh/koanf/v2"
)

// The layers' trees are merged by one koanf instance for the whole load.
//
// koanf copies a tree through reflection (copystructure) whenever one
// crosses its API as a map: confmap.Provider copies the map it is given;
// Raw, Get of a table, All, Cut and Copy each return a deep copy; Merge of
// one instance into another takes the other's Raw. Loading each layer
// into an instance of its own and merging those cost four such copies of
// a 1,000-task configuration per load, some 260 allocations per task.
//
// Each layer's tree here is built fresh by the load, checked, and used by
// nothing after it is merged, so it is handed to koanf as it is
// (treeProvider). The merged tree is not read back with Raw: the last
// layer is loaded with a merge function (koanf's own maps.Merge, the one
// Load uses by default), which koanf hands a copy of everything merged
// before it to merge into, and that is the result. When the last layer
// is the file, as it is unless REBUILD_* variables or flags are set, that
// copy is of the defaults alone.

// layer is one layer's tree, in normal form, and where it came from.
type layer struct {
	source string
	tree   map[string]any
}

// mergeLayers merges the layers' trees, later wins: a table merges key by
// key into the table before it, any other value replaces what was there.
// The result shares maps with the trees (which are used by nothing
// else), none with koanf's.
func mergeLayers(layers []layer) (map[string]any, error) {
	var nonEmpty []layer
	for _, l := range layers {
		// A layer that sets nothing changes nothing; koanf would still
		// flatten the whole tree again.
		if len(l.tree) > 0 {
			nonEmpty = append(nonEmpty, l)
		}
	}
	k := koanf.New(".")
	merged := map[string]any{}
	for i, l := range nonEmpty {
		var opts []koanf.Option
		if i == len(nonEmpty)-1 {
			opts = append(opts, koanf.WithMergeFunc(func(src, dest map[string]any) error {
				maps.Merge(src, dest)
				merged = dest
				return nil
			}))
		}
		if err := k.Load(treeProvider(l.tree), nil, opts...); err != nil {
			return nil, &Error{File: l.source, Msg: err.Error(), Err: err}
		}
	}
	return merged, nil
}

// treeProvider is a koanf.Provider of a tree already parsed: Read
// returns it as it is, where confmap.Provider would copy it first.
type treeProvider map[string]any

func (p treeProvider) Read() (map[string]any, error) { return p, nil }

// ReadBytes is not used: Load passes no parser with a treeProvider.
func (p treeProvider) ReadBytes() ([]byte, error) {
	return nil, errors.New("config: a parsed tree has no bytes to read")
}
