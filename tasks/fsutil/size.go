package fsutil

import (
	"context"
	"sync"
	"sync/atomic"
)

// Usage is the apparent size of a tree.
type Usage struct {
	// Bytes is the sum of st_size over every entry — the root, folders,
	// files and symlinks themselves — with a file that has several hard
	// links inside the tree counted once: what `du -sb` prints.
	Bytes int64
	// Files counts everything that is not a directory; Dirs counts the
	// directories, the root included.
	Files, Dirs int64
}

// Size measures the tree at root with Walk (opt.Filter and opt.MaxDepth
// apply, so a caller may size part of a tree). A missing root is an error
// satisfying errors.Is(err, fs.ErrNotExist).
func Size(ctx context.Context, root string, opt Options) (Usage, Result, error) {
	var bytes atomic.Int64
	links := newLinkSet()
	res, err := Walk(ctx, root, opt, func(e *Entry) {
		if !e.IsDir() && e.Nlink > 1 && !links.first(e.Dev, e.Ino) {
			return
		}
		bytes.Add(e.Size)
	})
	return Usage{Bytes: bytes.Load(), Files: res.Files, Dirs: res.Dirs}, res, err
}

// linkSet remembers the nodes with several hard links already counted.
type linkSet struct {
	mu   sync.Mutex
	seen map[[2]uint64]struct{}
}

func newLinkSet() *linkSet { return &linkSet{seen: map[[2]uint64]struct{}{}} }

// first reports whether (dev, ino) is met for the first time.
func (s *linkSet) first(dev, ino uint64) bool {
	k := [2]uint64{dev, ino}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.seen[k]; ok {
		return false
	}
	s.seen[k] = struct{}{}
	return true
}

// has reports whether (dev, ino) was met before.
func (s *linkSet) has(dev, ino uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.seen[[2]uint64{dev, ino}]
	return ok
}
