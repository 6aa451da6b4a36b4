package storage

import (
	"math"
	"strings"
)

// Expire drops every bucket whose keys are all past Retention and returns
// RocksDB's estimate of the keys dropped. A bucket covering [start, end) is
// dropped once end-1ms+Retention has passed, so a key lives at least
// Retention and at most Retention plus one bucket width after it was stored.
//
// LookupAndInsert does the same every 5 seconds by the store's clock and
// whenever it starts a new bucket, so callers need not call Expire to keep
// the store bounded.
func (s *Store) Expire() (expired int64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, s.closedError("expire keys in")
	}
	return s.expireLocked(s.nowMs())
}

// EnforceCapacity evicts the oldest buckets, before their retention ends,
// while the store's size on disk exceeds Options.MaxBytes, and returns
// RocksDB's estimate of the keys evicted. The current (newest) bucket is
// never evicted: if it alone exceeds the cap, a warning is logged at most
// once a minute and its keys stay until they expire. With MaxBytes zero it
// does nothing.
//
// LookupAndInsert does the same every 5 seconds by the store's clock and
// whenever it starts a new bucket.
func (s *Store) EnforceCapacity() (evicted int64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, s.closedError("enforce max bytes of")
	}
	return s.enforceCapacityLocked(s.nowMs())
}

// maintainLocked drops expired buckets and enforces MaxBytes, logging errors.
func (s *Store) maintainLocked(nowMs int64) {
	s.nextMaintenanceMs = nowMs + maintenanceInterval.Milliseconds()
	if _, err := s.expireLocked(nowMs); err != nil {
		s.log.Error("cannot drop expired buckets; retrying later", "error", err)
	}
	if _, err := s.enforceCapacityLocked(nowMs); err != nil {
		s.log.Error("cannot enforce max bytes; retrying later", "error", err)
	}
}

func (s *Store) expireLocked(nowMs int64) (int64, error) {
	expiredUpToMs := nowMs - s.retentionMs
	var expired int64
	for len(s.buckets) > 0 && s.buckets[0].endMs-1 <= expiredUpToMs {
		b := s.buckets[0]
		keys := s.bucketKeys(b)
		if err := s.dropOldestBucketLocked(); err != nil {
			return expired, err
		}
		expired += keys
		s.expiredTotal += keys
		s.log.Info("dropped expired bucket", "bucket", b.logValue(), "keys_estimate", keys)
	}
	return expired, nil
}

func (s *Store) enforceCapacityLocked(nowMs int64) (int64, error) {
	if s.opts.MaxBytes == 0 {
		return 0, nil
	}
	size, err := s.liveSizeLocked()
	if err != nil {
		return 0, err
	}

	// Drop the oldest buckets until the size, less the SST files of the
	// dropped buckets, fits. Keys of a dropped bucket that are still in a
	// memtable free no disk space until their WAL file is deleted.
	var evicted int64
	for len(s.buckets) > 1 && size > s.opts.MaxBytes {
		b := s.buckets[0]
		keys := s.bucketKeys(b)
		sstBytes := uintProperty(s.db, b.handle, "rocksdb.total-sst-files-size")
		if err := s.dropOldestBucketLocked(); err != nil {
			return evicted, err
		}
		size -= sstBytes
		evicted += keys
		s.evictedTotal += keys
		s.log.Warn("evicted oldest bucket before its retention ended because the store exceeds max bytes",
			"bucket", b.logValue(), "keys_estimate", keys, "bucket_sst_bytes", sstBytes,
			"size_bytes", size, "max_bytes", s.opts.MaxBytes)
	}

	if size > s.opts.MaxBytes {
		s.warnCurrentBucketTooLargeLocked(nowMs, size)
	}
	return evicted, nil
}

// liveSizeLocked returns the bytes on disk that the store would occupy
// with no obsolete file left: the SST files of live buckets, as RocksDB
// accounts them, plus every other file in the directory (WAL, MANIFEST,
// OPTIONS, LOG). RocksDB deletes the SST files of a dropped column family
// only once no background job uses them, so a directory listing can still
// show them after the drop and would make the store evict more than needed.
func (s *Store) liveSizeLocked() (int64, error) {
	others, err := diskUsage(s.opts.Path, func(name string) bool { return !strings.HasSuffix(name, ".sst") })
	if err != nil {
		return 0, wrapError("measure size of dedup store", s.opts.Path, err)
	}
	size := others
	for _, b := range s.buckets {
		size += uintProperty(s.db, b.handle, "rocksdb.total-sst-files-size")
	}
	return size, nil
}

// warnCurrentBucketTooLargeLocked logs that only the current bucket is left
// and the store still exceeds MaxBytes, at most once per capacityWarnInterval.
func (s *Store) warnCurrentBucketTooLargeLocked(nowMs, size int64) {
	if s.lastCapacityWarnMs != 0 && nowMs-s.lastCapacityWarnMs < capacityWarnInterval.Milliseconds() {
		s.capacityWarnsMuted++
		return
	}
	s.log.Warn("dedup store exceeds max bytes, but the current bucket is never evicted; keeping its keys until they expire, so raise max bytes or lower retention",
		"size_bytes", size, "max_bytes", s.opts.MaxBytes, "warnings_suppressed", s.capacityWarnsMuted)
	s.lastCapacityWarnMs = nowMs
	s.capacityWarnsMuted = 0
}

// dropOldestBucketLocked drops the oldest bucket's column family. RocksDB
// deletes its files once the handle is destroyed.
func (s *Store) dropOldestBucketLocked() error {
	b := s.buckets[0]
	s.forgetCompactionLocked(b)
	if err := s.db.DropColumnFamily(b.handle); err != nil {
		return wrapError("drop bucket "+b.name+" of dedup store", s.opts.Path, err)
	}
	b.handle.Destroy()
	s.buckets[0] = nil
	s.buckets = s.buckets[1:]
	return nil
}

// currentBucketLocked returns the bucket that keys stored at nowMs go to.
// That is the newest bucket while nowMs is before its end, also when the
// clock went back. Otherwise it creates a bucket, flushes the previous one
// and runs maintenance.
func (s *Store) currentBucketLocked(nowMs int64) (*bucket, error) {
	var prev *bucket
	prevEndMs := int64(math.MinInt64)
	if n := len(s.buckets); n > 0 {
		prev = s.buckets[n-1]
		if nowMs < prev.endMs {
			return prev, nil
		}
		prevEndMs = prev.endMs
	}

	startMs, endMs := nextBucketRange(nowMs, s.widthMs, prevEndMs)
	name := bucketName(startMs, endMs)
	handle, err := s.db.CreateColumnFamily(s.rocks.opts, name)
	if err != nil {
		return nil, wrapError("create bucket "+name+" in dedup store", s.opts.Path, err)
	}
	cur := &bucket{name: name, startMs: startMs, endMs: endMs, handle: handle}
	s.buckets = append(s.buckets, cur)
	s.log.Debug("created bucket", "bucket", cur.logValue())

	// Flush the previous bucket and wait, so that its WAL files are deleted
	// now and a later eviction of the bucket frees its disk space at once.
	// This blocks the batch for at most one memtable flush per bucket width.
	if prev != nil {
		if err := s.db.FlushCF(prev.handle, s.rocks.flushWait); err != nil {
			s.log.Warn("cannot flush previous bucket; RocksDB flushes it later", "bucket", prev.name, "error", err)
		}
		s.queueCompactionLocked(prev)
	}
	s.maintainLocked(nowMs)
	return cur, nil
}
