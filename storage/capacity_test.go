package storage

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestCapacityEvictsOldestBuckets(t *testing.T) {
	const (
		bucketsFilled = 6
		keysPerBucket = 20000
		maxBytes      = 1500 << 10
	)
	var logs logBuffer
	clock := newFakeClock(t0)
	s := openTestStore(t, Options{
		Retention: testRetention, Buckets: testBuckets, MaxBytes: maxBytes,
		Now: clock.Now, Logger: newTestLogger(&logs),
	})

	// Fill one bucket per bucket width. LookupAndInsert enforces the cap
	// itself whenever it starts a new bucket.
	for b := 0; b < bucketsFilled; b++ {
		requireAll(t, "insert", lookup(t, s, entriesFor(12, b*keysPerBucket, (b+1)*keysPerBucket, 0)), Unique)
		clock.Advance(testWidth)
	}
	if _, err := s.EnforceCapacity(); err != nil {
		t.Fatalf("EnforceCapacity: %v", err)
	}

	st := s.Stats()
	if st.EvictedTotal == 0 {
		t.Fatalf("EvictedTotal = 0 with %d keys over a %d-byte cap; Stats %+v", bucketsFilled*keysPerBucket, maxBytes, st)
	}
	if st.EvictedTotal%keysPerBucket != 0 {
		t.Errorf("EvictedTotal = %d, want whole buckets of %d keys", st.EvictedTotal, keysPerBucket)
	}
	if st.SizeBytes > maxBytes {
		t.Errorf("SizeBytes = %d after EnforceCapacity, want at most %d", st.SizeBytes, maxBytes)
		logDir(t, s.Path())
	}
	if st.ExpiredTotal != 0 {
		t.Errorf("ExpiredTotal = %d, want 0: nothing is past retention", st.ExpiredTotal)
	}
	if got, want := st.Keys+st.EvictedTotal, int64(bucketsFilled*keysPerBucket); got != want {
		t.Errorf("Keys %d + EvictedTotal %d = %d, want %d", st.Keys, st.EvictedTotal, got, want)
	}
	for _, want := range []string{"evicted oldest bucket", "store_path=" + s.Path()} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs do not contain %q:\n%s", want, logs.String())
		}
	}

	// The newest keys remain; the oldest were evicted. Check the newest
	// first, because looking up evicted keys stores them again.
	newest := (bucketsFilled - 1) * keysPerBucket
	requireAll(t, "newest bucket", lookup(t, s, entriesFor(12, newest, newest+keysPerBucket, 0)), Replay)
	requireAll(t, "oldest bucket", lookup(t, s, entriesFor(12, 0, keysPerBucket, 0)), Unique)
}

func TestCapacityKeepsCurrentBucket(t *testing.T) {
	var logs logBuffer
	clock := newFakeClock(t0)
	s := openTestStore(t, Options{
		Retention: testRetention, Buckets: testBuckets, MaxBytes: 1,
		Now: clock.Now, Logger: newTestLogger(&logs),
	})
	requireAll(t, "insert", lookup(t, s, entriesFor(13, 0, 100, 0)), Unique)

	for call := 0; call < 3; call++ {
		n, err := s.EnforceCapacity()
		if err != nil || n != 0 {
			t.Fatalf("EnforceCapacity = %d, %v; want 0, nil", n, err)
		}
	}
	const warning = "the current bucket is never evicted"
	if got := strings.Count(logs.String(), warning); got != 1 {
		t.Errorf("%d warnings within a minute, want 1 (rate-limited):\n%s", got, logs.String())
	}

	clock.Advance(capacityWarnInterval + time.Second)
	if _, err := s.EnforceCapacity(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(logs.String(), warning); got != 2 {
		t.Errorf("%d warnings after a minute, want 2:\n%s", got, logs.String())
	}
	requireAll(t, "keys of the current bucket", lookup(t, s, entriesFor(13, 0, 100, 0)), Replay)
}

func TestCapacityUnlimited(t *testing.T) {
	clock := newFakeClock(t0)
	s := openTestStore(t, Options{Retention: testRetention, Buckets: testBuckets, Now: clock.Now})
	for b := 0; b < 3; b++ {
		lookup(t, s, entriesFor(14, b*1000, (b+1)*1000, 0))
		clock.Advance(testWidth)
	}
	n, err := s.EnforceCapacity()
	if err != nil || n != 0 {
		t.Fatalf("EnforceCapacity without MaxBytes = %d, %v; want 0, nil", n, err)
	}
	if got := s.Stats().Buckets; got != 3 {
		t.Errorf("Buckets = %d, want 3", got)
	}
}

// logDir logs the name and size of every file in dir.
func logDir(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		info, _ := e.Info()
		t.Logf("%s %d", e.Name(), info.Size())
	}
}
