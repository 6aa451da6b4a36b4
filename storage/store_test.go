package storage

import (
	"errors"
	"strings"
	"sync"
	"testing"
)

func TestLookupAndInsertVerdicts(t *testing.T) {
	s := openTestStore(t, Options{})
	keyA, keyB, keyC := testKey(1, 1), testKey(1, 2), testKey(1, 3)

	// First batch: A and B are new. The second A in the batch (same uuid)
	// and the third (other uuid) are duplicates of the first A.
	first := []Entry{
		{Key: keyA, Offset: 10, Timestamp: 1700000000000, UUIDHash: 100},
		{Key: keyB, Offset: 11, UUIDHash: 200},
		{Key: keyA, Offset: 12, UUIDHash: 100},
		{Key: keyA, Offset: 13, UUIDHash: 999},
	}
	got := lookup(t, s, first)
	want := []Result{
		{Verdict: Unique, FirstOffset: 10},
		{Verdict: Unique, FirstOffset: 11},
		{Verdict: Duplicate, FirstOffset: 10, SameUUID: true},
		{Verdict: Duplicate, FirstOffset: 10, SameUUID: false},
	}
	compareResults(t, "first batch", got, want)

	// Second batch: A again from a later offset with the same and another
	// uuid, B replayed at its own offset, C new.
	second := []Entry{
		{Key: keyA, Offset: 20, UUIDHash: 100},
		{Key: keyA, Offset: 21, UUIDHash: 555},
		{Key: keyB, Offset: 11, UUIDHash: 200},
		{Key: keyC, Offset: 22, UUIDHash: 300},
	}
	got = lookup(t, s, second)
	want = []Result{
		{Verdict: Duplicate, FirstOffset: 10, SameUUID: true},
		{Verdict: Duplicate, FirstOffset: 10, SameUUID: false},
		{Verdict: Replay, FirstOffset: 11, SameUUID: true},
		{Verdict: Unique, FirstOffset: 22},
	}
	compareResults(t, "second batch", got, want)
}

func TestReplayKeepsFirstRecord(t *testing.T) {
	s := openTestStore(t, Options{})
	key := testKey(2, 7)
	lookup(t, s, []Entry{{Key: key, Offset: 5, UUIDHash: 1}})

	// A replay must not overwrite the stored record: a later duplicate
	// still points at offset 5.
	for round := 0; round < 2; round++ {
		got := lookup(t, s, []Entry{{Key: key, Offset: 5, UUIDHash: 1}})
		compareResults(t, "replay", got, []Result{{Verdict: Replay, FirstOffset: 5, SameUUID: true}})
	}
	got := lookup(t, s, []Entry{{Key: key, Offset: 6, UUIDHash: 1}})
	compareResults(t, "different offset", got, []Result{{Verdict: Duplicate, FirstOffset: 5, SameUUID: true}})
}

func TestReopenKeepsKeys(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	requireAll(t, "insert", lookup(t, s, entriesFor(3, 0, 1000, 0)), Unique)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = openTestStore(t, Options{Path: dir})
	requireAll(t, "same offsets after reopen", lookup(t, s, entriesFor(3, 0, 1000, 0)), Replay)
	requireAll(t, "other offsets after reopen", lookup(t, s, entriesFor(3, 0, 1000, 5000)), Duplicate)
	if got := s.Stats().Keys; got != 1000 {
		t.Errorf("Stats().Keys = %d, want 1000", got)
	}
}

func TestOpenLockedPath(t *testing.T) {
	s := openTestStore(t, Options{})

	second, err := Open(Options{Path: s.Path()})
	if err == nil {
		second.Close()
		t.Fatal("second Open of the same path succeeded, want a lock error")
	}
	if !errors.Is(err, ErrLocked) {
		t.Errorf("errors.Is(err, ErrLocked) = false for %v", err)
	}
	for _, want := range []string{s.Path(), "another instance may be using the same store path"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestOpenForeignDatabase(t *testing.T) {
	s := openTestStore(t, Options{})
	dir := s.Path()
	handle, err := s.db.CreateColumnFamily(s.rocks.opts, "not_a_bucket")
	if err != nil {
		t.Fatal(err)
	}
	handle.Destroy()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	_, err = Open(Options{Path: dir})
	if err == nil || !strings.Contains(err.Error(), `"not_a_bucket"`) {
		t.Fatalf("Open of a database with a foreign column family: error %v, want one naming \"not_a_bucket\"", err)
	}
}

func TestCloseIdempotent(t *testing.T) {
	s, err := Open(Options{Path: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	lookup(t, s, entriesFor(4, 0, 10, 0))
	if err := s.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	err = s.LookupAndInsert(entriesFor(4, 0, 1, 0), make([]Result, 1))
	if !errors.Is(err, ErrClosed) {
		t.Errorf("LookupAndInsert after Close: error %v, want ErrClosed", err)
	}
	if _, err := s.Expire(); !errors.Is(err, ErrClosed) {
		t.Errorf("Expire after Close: error %v, want ErrClosed", err)
	}
	if _, err := s.EnforceCapacity(); !errors.Is(err, ErrClosed) {
		t.Errorf("EnforceCapacity after Close: error %v, want ErrClosed", err)
	}
	if got := s.Stats(); got.Keys != 0 || got.Buckets != 0 {
		t.Errorf("Stats after Close = %+v, want zero keys and buckets", got)
	}
}

func TestLookupAndInsertResultsLength(t *testing.T) {
	s := openTestStore(t, Options{})
	err := s.LookupAndInsert(entriesFor(5, 0, 3, 0), make([]Result, 2))
	if err == nil || !strings.Contains(err.Error(), "results has length 2, want 3") {
		t.Fatalf("error %v, want one about the results length", err)
	}
	requireAll(t, "keys of the rejected batch", lookup(t, s, entriesFor(5, 0, 3, 0)), Unique)
}

func TestStatsCountsKeysAndSize(t *testing.T) {
	s := openTestStore(t, Options{})
	lookup(t, s, entriesFor(6, 0, 2500, 0))
	lookup(t, s, entriesFor(6, 0, 2500, 0)) // replays add nothing

	st := s.Stats()
	if st.Keys != 2500 {
		t.Errorf("Keys = %d, want 2500", st.Keys)
	}
	if st.Buckets != 1 {
		t.Errorf("Buckets = %d, want 1", st.Buckets)
	}
	if st.SizeBytes <= 0 {
		t.Errorf("SizeBytes = %d, want > 0", st.SizeBytes)
	}
}

func TestConcurrentLookupsSerialized(t *testing.T) {
	s := openTestStore(t, Options{})
	const goroutines, keys = 4, 2000

	// Every goroutine offers the same keys at its own offsets. Exactly one
	// of them may see each key as Unique.
	results := make([][]Result, goroutines)
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			entries := entriesFor(15, 0, keys, int64(g)*keys)
			results[g] = make([]Result, keys)
			for from := 0; from < keys; from += 100 {
				if err := s.LookupAndInsert(entries[from:from+100], results[g][from:from+100]); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()

	for k := 0; k < keys; k++ {
		unique := 0
		for g := 0; g < goroutines; g++ {
			if results[g][k].Verdict == Unique {
				unique++
			}
		}
		if unique != 1 {
			t.Fatalf("key %d is Unique for %d goroutines, want exactly 1", k, unique)
		}
	}
}

// compareResults fails the test if got and want differ, naming each index.
func compareResults(t *testing.T, what string, got, want []Result) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d results, want %d", what, len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s: result %d = %+v, want %+v", what, i, got[i], want[i])
		}
	}
}

func TestLookupAndInsertRejectsLowDiskSpace(t *testing.T) {
	dir := t.TempDir()
	// No file system has an exabyte free, so every write must be refused.
	store, err := Open(Options{Path: dir, MinFreeBytes: 1 << 60})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer store.Close()
	entries := []Entry{{Key: [16]byte{1}, Offset: 7}}
	results := make([]Result, 1)
	err = store.LookupAndInsert(entries, results)
	if !errors.Is(err, ErrDiskFull) {
		t.Fatalf("LookupAndInsert = %v, want ErrDiskFull", err)
	}
	if !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q does not name the store path", err)
	}
}
