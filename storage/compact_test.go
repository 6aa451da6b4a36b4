package storage

import (
	"strings"
	"testing"
	"time"
)

// fillRuns stores keys testKey(series, 0..runs*100-1) in s, flushing after
// each 100 so that the current bucket holds one L0 file per 100 keys.
func fillRuns(t *testing.T, s *Store, series byte, runs int) {
	t.Helper()
	for r := 0; r < runs; r++ {
		requireAll(t, "new keys", lookup(t, s, entriesFor(series, r*100, (r+1)*100, 0)), Unique)
		s.mu.Lock()
		cur := s.buckets[len(s.buckets)-1]
		err := s.db.FlushCF(cur.handle, s.rocks.flushWait)
		s.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestClosedBucketCompactedToOneRun(t *testing.T) {
	clock := newFakeClock(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC))
	var logs logBuffer
	s := openTestStore(t, Options{Retention: 8 * time.Hour, Now: clock.Now, Logger: newTestLogger(&logs)})
	fillRuns(t, s, 1, 3)
	s.mu.Lock()
	first := s.buckets[0]
	before := sortedRuns(s.db, first.handle)
	s.mu.Unlock()
	if before != 3 {
		t.Fatalf("bucket holds %d sorted runs before it closes, want 3", before)
	}

	// The next key goes to a new bucket, which closes the first one.
	clock.Advance(time.Hour)
	requireAll(t, "key in the new bucket", lookup(t, s, entriesFor(2, 0, 1, 0)), Unique)
	s.waitCompactions()

	s.mu.Lock()
	after := sortedRuns(s.db, first.handle)
	buckets := len(s.buckets)
	s.mu.Unlock()
	if buckets != 2 {
		t.Fatalf("store has %d buckets, want 2", buckets)
	}
	if after != 1 {
		t.Errorf("closed bucket holds %d sorted runs after compaction, want 1", after)
	}
	requireAll(t, "keys of the compacted bucket", lookup(t, s, entriesFor(1, 0, 300, 1000)), Duplicate)
	if !strings.Contains(logs.String(), "compacted closed bucket") {
		t.Errorf("no compaction logged; logs:\n%s", logs.String())
	}
}

func TestOpenCompactsClosedBuckets(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC))
	s, err := Open(Options{Path: dir, Retention: 8 * time.Hour, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	fillRuns(t, s, 1, 3)
	// Closed before the second bucket exists, so nothing was compacted yet.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	clock.Advance(time.Hour)
	s = openTestStore(t, Options{Path: dir, Retention: 8 * time.Hour, Now: clock.Now})
	requireAll(t, "key in a new bucket", lookup(t, s, entriesFor(2, 0, 1, 0)), Unique)
	s.waitCompactions()
	s.mu.Lock()
	runs := sortedRuns(s.db, s.buckets[0].handle)
	s.mu.Unlock()
	if runs != 1 {
		t.Errorf("closed bucket holds %d sorted runs after reopen and compaction, want 1", runs)
	}
	requireAll(t, "keys stored before reopen", lookup(t, s, entriesFor(1, 0, 300, 1000)), Duplicate)
}

func TestDropDuringCompaction(t *testing.T) {
	clock := newFakeClock(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC))
	s := openTestStore(t, Options{Retention: 2 * time.Hour, Buckets: 2, Now: clock.Now})
	fillRuns(t, s, 1, 3)
	// Close the first bucket and, without waiting for its compaction,
	// expire it: the drop must wait for or skip the compaction.
	clock.Advance(time.Hour)
	requireAll(t, "key in the second bucket", lookup(t, s, entriesFor(2, 0, 1, 0)), Unique)
	clock.Advance(3 * time.Hour)
	expired, err := s.Expire()
	if err != nil {
		t.Fatal(err)
	}
	if expired == 0 {
		t.Errorf("Expire dropped no keys, want the first bucket's")
	}
	s.waitCompactions()
	requireAll(t, "expired keys", lookup(t, s, entriesFor(1, 0, 300, 2000)), Unique)
}
