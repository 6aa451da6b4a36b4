package storage

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"
)

// fakeClock is a manually advanced clock for Options.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock(t0 time.Time) *fakeClock { return &fakeClock{now: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testKey returns a distinct digest for each (series, i).
func testKey(series byte, i int) [16]byte {
	var k [16]byte
	k[0] = series
	binary.BigEndian.PutUint64(k[8:], uint64(i))
	return k
}

// entriesFor returns entries for keys testKey(series, from..to-1), with
// offset = baseOffset+i and uuid hash = i.
func entriesFor(series byte, from, to int, baseOffset int64) []Entry {
	entries := make([]Entry, 0, to-from)
	for i := from; i < to; i++ {
		entries = append(entries, Entry{Key: testKey(series, i), Offset: baseOffset + int64(i), UUIDHash: uint64(i)})
	}
	return entries
}

// openTestStore opens a store in a fresh temporary directory and closes it
// when the test ends.
func openTestStore(t *testing.T, opts Options) *Store {
	t.Helper()
	if opts.Path == "" {
		opts.Path = t.TempDir()
	}
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", opts.Path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// lookup runs LookupAndInsert and fails the test on error.
func lookup(t *testing.T, s *Store, entries []Entry) []Result {
	t.Helper()
	results := make([]Result, len(entries))
	if err := s.LookupAndInsert(entries, results); err != nil {
		t.Fatalf("LookupAndInsert of %d entries: %v", len(entries), err)
	}
	return results
}

// countVerdicts returns how many results have each verdict.
func countVerdicts(results []Result) map[Verdict]int {
	counts := map[Verdict]int{}
	for _, r := range results {
		counts[r.Verdict]++
	}
	return counts
}

// requireAll fails the test unless every result has verdict want.
func requireAll(t *testing.T, what string, results []Result, want Verdict) {
	t.Helper()
	if got := countVerdicts(results); got[want] != len(results) {
		t.Fatalf("%s: verdict counts %v, want all %d %v", what, got, len(results), want)
	}
}

// logBuffer is a concurrency-safe buffer for a text slog handler.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newTestLogger(buf *logBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func writeFile(path string) error {
	return os.WriteFile(path, []byte("not a directory"), 0o644)
}
