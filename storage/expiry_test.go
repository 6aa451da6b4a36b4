package storage

import (
	"testing"
	"time"
)

// t0 is in the middle of a one-hour bucket, so tests see keys stored after
// the start of their bucket.
var t0 = time.Date(2025, 3, 1, 10, 30, 0, 0, time.UTC)

const (
	testRetention = 8 * time.Hour
	testBuckets   = 8
	testWidth     = testRetention / testBuckets
)

func openClockStore(t *testing.T, clock *fakeClock, path string) *Store {
	t.Helper()
	return openTestStore(t, Options{Path: path, Retention: testRetention, Buckets: testBuckets, Now: clock.Now})
}

func TestExpiryAfterRetention(t *testing.T) {
	clock := newFakeClock(t0)
	s := openClockStore(t, clock, "")
	expiring := entriesFor(1, 0, 100, 0)
	renewed := entriesFor(2, 0, 50, 0)
	requireAll(t, "insert expiring at t0", lookup(t, s, expiring), Unique)
	requireAll(t, "insert renewed at t0", lookup(t, s, renewed), Unique)

	// Just before retention ends the keys are still known.
	clock.Set(t0.Add(testRetention - time.Millisecond))
	requireAll(t, "expiring just before retention", lookup(t, s, expiring), Replay)
	requireAll(t, "renewed just before retention", lookup(t, s, entriesFor(2, 0, 50, 1000)), Duplicate)
	if n, err := s.Expire(); err != nil || n != 0 {
		t.Fatalf("Expire just before retention = %d, %v; want 0, nil", n, err)
	}

	// At retention the key is forgotten even though its bucket still
	// exists: the renewed keys are stored again in a new bucket.
	clock.Set(t0.Add(testRetention))
	requireAll(t, "renewed at retention", lookup(t, s, renewed), Unique)
	if got := s.Stats().Buckets; got != 2 {
		t.Errorf("Buckets after renewing = %d, want 2 (t0 and now)", got)
	}

	// One bucket width later the bucket of t0 is dropped whole.
	clock.Set(t0.Add(testRetention + testWidth))
	n, err := s.Expire()
	if err != nil {
		t.Fatalf("Expire: %v", err)
	}
	if n != 150 {
		t.Errorf("Expire dropped %d keys, want 150 (100 expiring + 50 renewed, stored at t0)", n)
	}
	st := s.Stats()
	if st.ExpiredTotal != 150 || st.Buckets != 1 || st.Keys != 50 {
		t.Errorf("Stats after Expire = %+v, want ExpiredTotal 150, Buckets 1, Keys 50", st)
	}
	requireAll(t, "renewed after expiry", lookup(t, s, entriesFor(2, 0, 50, 0)), Replay)
	requireAll(t, "expiring after expiry", lookup(t, s, expiring), Unique)
}

func TestExpiryCountsFromStoredTime(t *testing.T) {
	clock := newFakeClock(t0)
	s := openClockStore(t, clock, "")
	yearOld := t0.AddDate(-1, 0, 0).UnixMilli()
	entry := Entry{Key: testKey(3, 1), Offset: 1, Timestamp: yearOld, UUIDHash: 9}
	requireAll(t, "insert", lookup(t, s, []Entry{entry}), Unique)

	clock.Set(t0.Add(testRetention - time.Minute))
	if n, err := s.Expire(); err != nil || n != 0 {
		t.Fatalf("Expire = %d, %v; want 0, nil", n, err)
	}
	again := Entry{Key: entry.Key, Offset: 2, Timestamp: yearOld, UUIDHash: 9}
	got := lookup(t, s, []Entry{again})
	compareResults(t, "year-old event near retention", got, []Result{{Verdict: Duplicate, FirstOffset: 1, SameUUID: true}})
}

func TestLookupAndInsertExpiresWithoutExpireCalls(t *testing.T) {
	clock := newFakeClock(t0)
	s := openClockStore(t, clock, "")

	// Three retention periods, one batch every 20 minutes, never calling Expire.
	batches := int(3 * testRetention / (20 * time.Minute))
	for b := 0; b < batches; b++ {
		requireAll(t, "insert", lookup(t, s, entriesFor(4, b*10, b*10+10, 0)), Unique)
		if got := s.Stats().Buckets; got > testBuckets+1 {
			t.Fatalf("after batch %d: %d buckets, want at most %d", b, got, testBuckets+1)
		}
		clock.Advance(20 * time.Minute)
	}

	st := s.Stats()
	if st.ExpiredTotal == 0 {
		t.Errorf("ExpiredTotal = 0 after three retention periods, want > 0")
	}
	if st.ExpiredTotal+st.Keys != int64(batches*10) {
		t.Errorf("ExpiredTotal %d + Keys %d = %d, want all %d inserted keys", st.ExpiredTotal, st.Keys, st.ExpiredTotal+st.Keys, batches*10)
	}
	requireAll(t, "first batch", lookup(t, s, entriesFor(4, 0, 10, 0)), Unique)
	last := batches - 1
	requireAll(t, "last batch", lookup(t, s, entriesFor(4, last*10, last*10+10, 0)), Replay)
}

func TestBucketsSurviveReopen(t *testing.T) {
	clock := newFakeClock(t0)
	dir := t.TempDir()
	s, err := Open(Options{Path: dir, Retention: testRetention, Buckets: testBuckets, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	requireAll(t, "insert old", lookup(t, s, entriesFor(5, 0, 100, 0)), Unique)
	clock.Advance(3 * testWidth)
	requireAll(t, "insert new", lookup(t, s, entriesFor(6, 0, 70, 0)), Unique)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openClockStore(t, clock, dir)
	if got := s.Stats().Buckets; got != 2 {
		t.Fatalf("Buckets after reopen = %d, want 2", got)
	}

	// Past the retention of the first bucket only: its 100 keys go, the 70 stay.
	clock.Set(t0.Add(testRetention + testWidth))
	n, err := s.Expire()
	if err != nil || n != 100 {
		t.Fatalf("Expire = %d, %v; want 100, nil", n, err)
	}
	requireAll(t, "old keys", lookup(t, s, entriesFor(5, 0, 100, 0)), Unique)
	requireAll(t, "new keys", lookup(t, s, entriesFor(6, 0, 70, 0)), Replay)
}

func TestOpenDropsBucketsExpiredWhileClosed(t *testing.T) {
	clock := newFakeClock(t0)
	dir := t.TempDir()
	s, err := Open(Options{Path: dir, Retention: testRetention, Buckets: testBuckets, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	lookup(t, s, entriesFor(7, 0, 40, 0))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	clock.Set(t0.Add(10 * testRetention))
	s = openClockStore(t, clock, dir)
	st := s.Stats()
	if st.Buckets != 0 || st.ExpiredTotal != 40 {
		t.Errorf("Stats after reopen = %+v, want Buckets 0 and ExpiredTotal 40", st)
	}
}

func TestClockGoingBackKeepsCurrentBucket(t *testing.T) {
	clock := newFakeClock(t0.Add(2 * testWidth))
	s := openClockStore(t, clock, "")
	lookup(t, s, entriesFor(8, 0, 10, 0))

	clock.Set(t0)
	requireAll(t, "insert after clock went back", lookup(t, s, entriesFor(8, 10, 20, 0)), Unique)
	if got := s.Stats().Buckets; got != 1 {
		t.Errorf("Buckets = %d, want 1: keys stored while the clock is behind go to the newest bucket", got)
	}
	requireAll(t, "both sets", lookup(t, s, entriesFor(8, 0, 20, 0)), Replay)
}
