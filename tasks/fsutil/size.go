package fsutil

import (
	"context"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
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
//
// Without a filter, files are counted straight from their stat, without an
// Entry or a visit each: nothing is allocated per file, which is what
// makes sizing a tree of many small files cheaper than du.
func Size(ctx context.Context, root string, opt Options) (Usage, Result, error) {
	t := &tally{links: newLinkSet()}
	visit := func(e *Entry) { t.bytes.Add(t.count(e.IsDir(), e.Nlink, e.Dev, e.Ino, e.Size)) }
	var res Result
	var err error
	if opt.Filter == nil {
		res, err = walk(ctx, root, opt, visit, t)
	} else {
		res, err = Walk(ctx, root, opt, visit)
	}
	return Usage{Bytes: t.bytes.Load(), Files: res.Files, Dirs: res.Dirs}, res, err
}

// tally sums the apparent size of what a walk meets, a file with several
// hard links once.
type tally struct {
	bytes atomic.Int64
	links *linkSet
}

// count is what an entry adds: its size, or 0 for a hard link already
// counted. Directories always count (their links are . and ..).
func (t *tally) count(dir bool, nlink, dev, ino uint64, size int64) int64 {
	if !dir && nlink > 1 && !t.links.first(dev, ino) {
		return 0
	}
	return size
}

// add is count for a non-directory known only by its stat.
func (t *tally) add(st *unix.Stat_t) int64 {
	return t.count(false, uint64(st.Nlink), uint64(st.Dev), uint64(st.Ino), st.Size)
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
