package taskstest

import (
	"bytes"
	"sync"
)

// Buffer is a log that tolerates concurrent writers: a task's commands
// and goroutines write to it while the test may read it. The zero value
// is ready to use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
