package fsutil

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// benchTree is built once per test binary: 40 folders × 25 subfolders ×
// 20 files = 20,000 files. bench/walk does the same at 200,000 files and
// prints the comparison with du in one run.
var benchTree struct {
	once    sync.Once
	root    string
	cleanup func()
}

func benchRoot(b *testing.B) string {
	benchTree.once.Do(func() {
		root, err := makeBenchTree(40, 25, 20)
		if err != nil {
			b.Fatal(err)
		}
		benchTree.root = root
	})
	return benchTree.root
}

// makeBenchTree builds top folders of sub folders of files sparse files
// each, in a new temporary folder that TestMain removes after the run.
func makeBenchTree(top, sub, files int) (string, error) {
	root, err := os.MkdirTemp("", "fsutil-bench-")
	if err != nil {
		return "", err
	}
	benchTree.cleanup = func() { os.RemoveAll(root) }
	for i := range top {
		for j := range sub {
			dir := filepath.Join(root, fmt.Sprintf("d%03d", i), fmt.Sprintf("s%03d", j))
			for k := range files {
				if err := touch(filepath.Join(dir, fmt.Sprintf("file-%05d.dat", k)), int64(k*37)); err != nil {
					return "", err
				}
			}
		}
	}
	return root, nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchTree.cleanup != nil {
		benchTree.cleanup()
	}
	os.Exit(code)
}

// BenchmarkSize compares the walker's total size with du -sb on the same
// 20,000-file tree: go test -bench Size -run ^$ ./tasks/fsutil/
func BenchmarkSize(b *testing.B) {
	root := benchRoot(b)
	want := duBytes(b, root)
	for _, workers := range []int{1, 0} {
		name := "walker/workers=default"
		if workers == 1 {
			name = "walker/workers=1"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				u, _, err := Size(context.Background(), root, Options{Workers: workers})
				if err != nil || u.Bytes != want {
					b.Fatalf("Size = %d, %v; du -sb = %d", u.Bytes, err, want)
				}
			}
		})
	}
	b.Run("du -sb", func(b *testing.B) {
		for b.Loop() {
			if err := exec.Command("du", "-sb", root).Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkWalkFiltered is the disk task's kind of walk: every folder is
// read, only names matching *.log would be stat'ed.
func BenchmarkWalkFiltered(b *testing.B) {
	root := benchRoot(b)
	opt := Options{Filter: func(e *Entry) bool { return e.IsDir() || filepath.Ext(e.Name) == ".log" }}
	for b.Loop() {
		if _, err := Walk(context.Background(), root, opt, func(*Entry) {}); err != nil {
			b.Fatal(err)
		}
	}
}
