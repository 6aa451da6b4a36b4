package storage

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linxGnu/grocksdb"
)

// This file holds the expiry designs that the benchmarks compare with the
// bucketed Store. Both keep every key in RocksDB's default column family and
// share the Store's table options, record format and batch rules:
//   - singleCFStore with a Go compaction filter that removes records stored
//     more than the retention ago, using the same clock as lookups;
//   - singleCFStore opened with RocksDB's TTL support (DBWithTTL), which
//     appends a write timestamp to each value and removes expired values in
//     compaction with a native filter. Its clock is the system clock and its
//     unit whole seconds, so it cannot honour Options.Now.

// singleCFStore is a one-column-family dedup store for benchmarks only.
type singleCFStore struct {
	db          *grocksdb.DB
	rocks       *rocksResources
	retentionMs int64
	now         func() time.Time
	scratch     batchScratch
	keys        [][]byte
	value       []byte
	writeBatch  *grocksdb.WriteBatch
}

// expiryFilter is a Go compaction filter that removes expired records.
type expiryFilter struct {
	retentionMs int64
	now         func() time.Time // called from RocksDB's compaction threads
	removed     atomic.Int64
}

func (f *expiryFilter) Filter(level int, key, val []byte) (bool, []byte) {
	r, err := decodeRecord(val, int64(len(val)))
	if err != nil {
		return false, nil
	}
	if r.StoredAtMs <= f.now().UnixMilli()-f.retentionMs {
		f.removed.Add(1)
		return true, nil
	}
	return false, nil
}

func (f *expiryFilter) Name() string            { return "dedup-expiry" }
func (f *expiryFilter) SetIgnoreSnapshots(bool) {}
func (f *expiryFilter) Destroy()                {}
func (f *expiryFilter) removedKeys() int64      { return f.removed.Load() }
func (s *singleCFStore) compactAll()            { s.db.CompactRange(grocksdb.Range{}) }
func (s *singleCFStore) keysEstimate() int64 {
	return parseUint(s.db.GetProperty("rocksdb.estimate-num-keys"))
}
func (s *singleCFStore) flush() error { return s.db.Flush(s.rocks.flushWait) }

// openCompactionFilterStore opens a single-column-family store whose keys
// expire through a Go compaction filter that uses the clock now.
func openCompactionFilterStore(dir string, retention time.Duration, now func() time.Time) (*singleCFStore, *expiryFilter, error) {
	o := Options{Path: dir, Retention: retention}.withDefaults()
	s := &singleCFStore{rocks: newRocksResources(o), retentionMs: retention.Milliseconds(), now: now, writeBatch: grocksdb.NewWriteBatch()}
	filter := &expiryFilter{retentionMs: s.retentionMs, now: now}
	s.rocks.opts.SetCompactionFilter(filter)
	db, err := grocksdb.OpenDb(s.rocks.opts, dir)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot open compaction filter store %s: %w", dir, err)
	}
	s.db = db
	return s, filter, nil
}

// openTTLStore opens a single-column-family store with RocksDB's TTL
// support; ttl is rounded down to whole seconds. RocksDB timestamps values
// with the system clock, so the batch rules never treat a record as expired
// (retention of about 146,000 years) and DBWithTTL alone decides expiry.
func openTTLStore(dir string, ttl time.Duration) (*singleCFStore, error) {
	o := Options{Path: dir, Retention: ttl}.withDefaults()
	s := &singleCFStore{rocks: newRocksResources(o), retentionMs: 1 << 62, now: time.Now, writeBatch: grocksdb.NewWriteBatch()}
	db, err := grocksdb.OpenDbWithTTL(s.rocks.opts, dir, int(ttl/time.Second))
	if err != nil {
		return nil, fmt.Errorf("cannot open TTL store %s: %w", dir, err)
	}
	s.db = db
	return s, nil
}

// LookupAndInsert follows the same steps as Store.LookupAndInsert with one
// column family: one MultiGet, in-batch resolution, one WriteBatch.
func (s *singleCFStore) LookupAndInsert(entries []Entry, results []Result) error {
	nowMs := s.now().UnixMilli()
	s.scratch.dedupe(entries)
	s.keys = resize(s.keys, len(s.scratch.distinct))
	for d, i := range s.scratch.distinct {
		s.keys[d] = entries[i].Key[:]
	}
	values, err := s.db.MultiGet(s.rocks.read, s.keys...)
	if err != nil {
		return err
	}
	for d, v := range values {
		if !v.Exists() {
			continue
		}
		r, err := decodeRecord(v.Data(), int64(len(v.Data())))
		if err != nil {
			values.Destroy()
			return err
		}
		s.scratch.observe(d, r, nowMs-s.retentionMs)
	}
	values.Destroy()

	s.scratch.resolve(entries, results)
	if len(s.scratch.toStore) == 0 {
		return nil
	}
	s.writeBatch.Clear()
	for _, i := range s.scratch.toStore {
		e := &entries[i]
		s.value = appendRecord(s.value[:0], record{Offset: e.Offset, StoredAtMs: nowMs, EventMs: e.Timestamp, UUIDHash: e.UUIDHash})
		s.writeBatch.Put(e.Key[:], s.value)
	}
	return s.db.Write(s.rocks.write, s.writeBatch)
}

func (s *singleCFStore) Close() error {
	s.db.Close()
	s.writeBatch.Destroy()
	s.rocks.destroy()
	return nil
}

func parseUint(text string) int64 {
	var n int64
	fmt.Sscan(text, &n)
	return n
}

// The benchmark's alternative designs must give the same verdicts as Store,
// or their numbers compare different work.
func TestAlternativeDesignsVerdicts(t *testing.T) {
	for _, design := range []string{"compaction_filter", "ttl"} {
		t.Run(design, func(t *testing.T) {
			clock := newFakeClock(t0)
			var s *singleCFStore
			var err error
			if design == "ttl" {
				s, err = openTTLStore(t.TempDir(), time.Hour)
			} else {
				s, _, err = openCompactionFilterStore(t.TempDir(), time.Hour, clock.Now)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()

			for _, want := range []Verdict{Unique, Replay} {
				entries := entriesFor(20, 0, 500, 0)
				results := make([]Result, len(entries))
				if err := s.LookupAndInsert(entries, results); err != nil {
					t.Fatal(err)
				}
				requireAll(t, design, results, want)
			}
		})
	}
}

func TestCompactionFilterRemovesExpired(t *testing.T) {
	clock := newFakeClock(t0)
	s, filter, err := openCompactionFilterStore(t.TempDir(), time.Hour, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	entries := entriesFor(21, 0, 300, 0)
	if err := s.LookupAndInsert(entries, make([]Result, len(entries))); err != nil {
		t.Fatal(err)
	}
	clock.Advance(30 * time.Minute)
	entries = entriesFor(21, 300, 500, 0)
	if err := s.LookupAndInsert(entries, make([]Result, len(entries))); err != nil {
		t.Fatal(err)
	}
	if err := s.flush(); err != nil {
		t.Fatal(err)
	}

	clock.Advance(30 * time.Minute)
	s.compactAll()
	if got := filter.removedKeys(); got != 300 {
		t.Errorf("compaction filter removed %d keys, want the 300 stored an hour ago", got)
	}
	if got := s.keysEstimate(); got != 200 {
		t.Errorf("keys after compaction = %d, want 200", got)
	}
}
