package storage

import (
	"bytes"
	"fmt"
	"slices"
	"syscall"
)

// LookupAndInsert checks a batch of entries against the store and stores
// the keys that are new. results must have the same length as entries, and
// results[i] receives the verdict for entries[i]:
//   - Replay when the key is stored with the entry's own offset;
//   - Duplicate when the key is stored with another offset, or when an
//     earlier entry of the batch carries the same key and the key is not stored;
//   - Unique otherwise, and the key is then stored with the entry's offset.
//
// A key stored Retention or longer ago counts as not stored.
//
// Steps:
//  1. Duplicates inside the batch are resolved in memory: the first entry
//     of a key in batch order stands for the key, later ones are its duplicates.
//  2. One batched RocksDB MultiGet per live bucket looks up every distinct key.
//     Stored records older than Retention count as absent.
//  3. One WriteBatch stores the new keys in the current bucket, creating a
//     new bucket first when the current one's time range has passed.
//
// Entries with Replay or Duplicate verdicts are not written. On error the
// results are undefined, and either all or none of the new keys were stored.
// The batch can be retried because a retry yields Replay for stored keys.
//
// Every 5 seconds by the store's clock, and on each new bucket,
// LookupAndInsert also drops expired buckets and enforces Options.MaxBytes. Errors from that
// maintenance are logged, not returned, so that deduplication goes on.
func (s *Store) LookupAndInsert(entries []Entry, results []Result) error {
	if len(results) != len(entries) {
		return fmt.Errorf("cannot look up batch in dedup store %s: results has length %d, want %d (one per entry)", s.opts.Path, len(results), len(entries))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.closedError("look up batch in")
	}
	if len(entries) == 0 {
		return nil
	}

	nowMs := s.nowMs()
	if nowMs >= s.nextMaintenanceMs {
		s.maintainLocked(nowMs)
	}

	s.scratch.dedupe(entries)
	if err := s.lookupLocked(entries, nowMs); err != nil {
		return err
	}
	s.scratch.resolve(entries, results)
	if len(s.scratch.toStore) == 0 {
		return nil
	}
	return s.storeLocked(entries, nowMs)
}

// lookupLocked looks up each distinct key of the batch in every bucket that
// may hold a live record, and feeds the records to s.scratch. The keys are
// sorted first: RocksDB's batched MultiGet then probes each SST file and
// its filter once for the whole batch.
func (s *Store) lookupLocked(entries []Entry, nowMs int64) error {
	expiredUpToMs := nowMs - s.retentionMs
	s.live = s.live[:0]
	for _, b := range s.buckets {
		if b.endMs-1 > expiredUpToMs { // else every key in b is past retention
			s.live = append(s.live, b)
		}
	}
	if len(s.live) == 0 {
		return nil
	}

	order := s.sortedKeys(entries, s.scratch.distinct)
	if err := s.native.multiGet(s.db, s.rocks.read, s.live, len(order)); err != nil {
		return wrapError("look up keys in dedup store", s.opts.Path, err)
	}
	for c := range s.live {
		for j, i := range order {
			length, v := s.native.value(c, j)
			if length < 0 {
				continue
			}
			r, err := decodeRecord(v, length)
			if err != nil {
				return fmt.Errorf("cannot decode the stored value of key %x in dedup store %s: %w; the store was written by an incompatible version or is damaged, so move the directory aside to start empty",
					entries[i].Key, s.opts.Path, err)
			}
			s.scratch.observe(int(s.scratch.keyOf[i]), r, expiredUpToMs)
		}
	}
	return nil
}

// storeLocked writes the entries listed in s.scratch.toStore to the current
// bucket in one WriteBatch, in key order, which makes the memtable inserts cheaper.
func (s *Store) storeLocked(entries []Entry, nowMs int64) error {
	// Check before a new bucket may be created, which writes too.
	if err := s.checkFreeSpace(); err != nil {
		return err
	}
	cur, err := s.currentBucketLocked(nowMs)
	if err != nil {
		return err
	}

	order := s.sortedKeys(entries, s.scratch.toStore)
	s.native.values = s.native.values[:0]
	for _, i := range order {
		e := &entries[i]
		s.native.values = appendRecord(s.native.values, record{Offset: e.Offset, StoredAtMs: nowMs, EventMs: e.Timestamp, UUIDHash: e.UUIDHash})
	}
	if err := s.native.write(s.db, s.rocks.write, s.writeBatch, cur.handle, len(order)); err != nil {
		return wrapError("store keys in dedup store", s.opts.Path, err)
	}
	return nil
}

// sortedKeys returns the entry indexes of idx sorted by key, in a buffer
// reused by the next call, and lays their keys out back to back in
// s.native.keys. idx is not modified.
func (s *Store) sortedKeys(entries []Entry, idx []int32) []int32 {
	s.order = append(s.order[:0], idx...)
	slices.SortFunc(s.order, func(a, b int32) int {
		return bytes.Compare(entries[a].Key[:], entries[b].Key[:])
	})
	s.native.keys = s.native.keys[:0]
	for _, i := range s.order {
		s.native.keys = append(s.native.keys, entries[i].Key[:]...)
	}
	return s.order
}

// checkFreeSpace fails with ErrDiskFull when the store's file system has
// less than MinFreeBytes free for this process.
func (s *Store) checkFreeSpace() error {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(s.opts.Path, &fs); err != nil {
		return wrapError("check free space for dedup store", s.opts.Path, err)
	}
	free := int64(fs.Bavail) * int64(fs.Bsize)
	if free < s.opts.MinFreeBytes {
		return fmt.Errorf("cannot store keys in dedup store %s: %w: %d bytes free, below the reserve of %d; free space on that disk or lower the retention or max capacity of its stores",
			s.opts.Path, ErrDiskFull, free, s.opts.MinFreeBytes)
	}
	return nil
}
