package storage

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/linxGnu/grocksdb"
)

// maintenanceInterval is the period, by the store's clock, at which
// LookupAndInsert drops expired buckets and checks the size on disk. Both
// also run when a new bucket is created.
const maintenanceInterval = 5 * time.Second

// capacityWarnInterval rate-limits the warning logged when the current
// bucket alone exceeds Options.MaxBytes.
const capacityWarnInterval = time.Minute

// Store is the dedup store of one Kafka partition: a RocksDB database whose
// keys are split into time buckets, one column family each.
//
// A Store is safe for concurrent use. Every method takes one internal mutex,
// so concurrent LookupAndInsert calls run one after another, and Stats waits
// for a batch in progress.
type Store struct {
	opts        Options // with defaults filled in; read-only after Open
	retentionMs int64
	widthMs     int64
	log         *slog.Logger

	mu sync.Mutex
	// All fields below are protected by mu.
	closed  bool
	db      *grocksdb.DB
	rocks   *rocksResources
	cfs     []*grocksdb.ColumnFamilyHandle // handles that Close must destroy, other than buckets
	buckets []*bucket                      // sorted by startMs; the last one is the current bucket

	scratch    batchScratch
	live       []*bucket // buckets consulted by the current batch
	order      []int32   // entry indexes sorted by key
	native     nativeBatch
	writeBatch *grocksdb.WriteBatch
	compactor  *compactor

	nextMaintenanceMs  int64
	lastCapacityWarnMs int64
	capacityWarnsMuted int64
	expiredTotal       int64
	evictedTotal       int64
}

// Stats is a snapshot of a store's size and counters.
type Stats struct {
	// Keys is RocksDB's estimate of the keys in all buckets, including keys
	// past retention whose bucket has not been dropped yet.
	Keys int64
	// Buckets is the number of live buckets.
	Buckets int
	// SizeBytes is the size of the files in the store directory, or -1 if
	// the directory could not be read.
	SizeBytes int64
	// ExpiredTotal estimates the keys dropped by expiry since Open.
	ExpiredTotal int64
	// EvictedTotal estimates the keys evicted by the MaxBytes cap since Open.
	EvictedTotal int64
}

// Open opens the store in opts.Path, creating the directory and an empty
// store if missing. A store left open by a crashed process opens again:
// RocksDB replays its write-ahead log. Open drops buckets that expired while
// the store was closed.
func Open(opts Options) (*Store, error) {
	start := time.Now()
	o := opts.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Path, 0o755); err != nil {
		return nil, wrapError("create dedup store directory", o.Path, err)
	}

	s := &Store{
		opts:        o,
		retentionMs: o.Retention.Milliseconds(),
		widthMs:     o.bucketWidthMs(),
		log:         o.Logger.With("store_path", o.Path),
		rocks:       newRocksResources(o),
		writeBatch:  grocksdb.NewWriteBatch(),
	}
	if err := s.openDB(); err != nil {
		s.writeBatch.Destroy()
		s.rocks.destroy()
		return nil, err
	}

	s.startCompactor()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maintainLocked(s.nowMs())
	for i := 0; i+1 < len(s.buckets); i++ {
		s.queueCompactionLocked(s.buckets[i])
	}
	s.log.Info("dedup store opened", "buckets", len(s.buckets), "keys_estimate", s.keysLocked(),
		"duration", time.Since(start).Round(time.Millisecond))
	return s, nil
}

// openDB opens the database with all of its column families and fills s.buckets.
func (s *Store) openDB() error {
	path := s.opts.Path

	// RocksDB must open every existing column family. A directory without
	// a CURRENT file holds no database yet.
	names := []string{"default"}
	if _, err := os.Stat(filepath.Join(path, "CURRENT")); err == nil {
		names, err = grocksdb.ListColumnFamilies(s.rocks.opts, path)
		if err != nil {
			return openError(path, err)
		}
	}

	type bucketRange struct{ startMs, endMs int64 }
	ranges := make([]bucketRange, len(names))
	for i, name := range names {
		if name == "default" {
			continue
		}
		startMs, endMs, err := parseBucketName(name)
		if err != nil {
			return fmt.Errorf("cannot open dedup store %s: %w; the directory holds a RocksDB database that is not a dedup store, so give the store another path", path, err)
		}
		ranges[i] = bucketRange{startMs, endMs}
	}

	cfOpts := make([]*grocksdb.Options, len(names))
	for i := range cfOpts {
		cfOpts[i] = s.rocks.opts
	}
	db, handles, err := grocksdb.OpenDbColumnFamilies(s.rocks.opts, path, names, cfOpts)
	if err != nil {
		return openError(path, err)
	}

	s.db = db
	for i, name := range names {
		if name == "default" {
			s.cfs = append(s.cfs, handles[i])
			continue
		}
		s.buckets = append(s.buckets, &bucket{name: name, startMs: ranges[i].startMs, endMs: ranges[i].endMs, handle: handles[i]})
	}
	slices.SortFunc(s.buckets, func(a, b *bucket) int { return cmp.Compare(a.startMs, b.startMs) })
	return nil
}

// Path returns the store directory.
func (s *Store) Path() string {
	return s.opts.Path
}

// Close flushes all memtables to SST files and closes the database, so the
// next Open does not replay the write-ahead log. Calling Close again returns
// nil. The store is closed even when the flush fails; the error is returned.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	start := time.Now()
	s.stopCompactor()

	var errs []error
	for _, b := range s.buckets {
		if err := s.db.FlushCF(b.handle, s.rocks.flushWait); err != nil {
			errs = append(errs, fmt.Errorf("cannot flush bucket %s: %w", b.name, err))
		}
	}
	for _, b := range s.buckets {
		b.handle.Destroy()
	}
	for _, h := range s.cfs {
		h.Destroy()
	}
	s.db.Close()
	s.writeBatch.Destroy()
	s.rocks.destroy()
	s.buckets, s.cfs, s.db = nil, nil, nil

	if len(errs) > 0 {
		err := wrapError("close dedup store", s.opts.Path, errors.Join(errs...))
		s.log.Error("dedup store closed after a failed flush; the next open replays its write-ahead log", "error", err)
		return err
	}
	s.log.Info("dedup store closed", "expired_total", s.expiredTotal, "evicted_total", s.evictedTotal,
		"duration", time.Since(start).Round(time.Millisecond))
	return nil
}

// Stats returns the store's current size and counters. After Close only the
// counters are set.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{ExpiredTotal: s.expiredTotal, EvictedTotal: s.evictedTotal}
	if s.closed {
		return st
	}
	st.Keys = s.keysLocked()
	st.Buckets = len(s.buckets)
	size, err := diskUsage(s.opts.Path, nil)
	if err != nil {
		s.log.Warn("cannot measure dedup store size", "error", err)
		size = -1
	}
	st.SizeBytes = size
	return st
}

// keysLocked returns RocksDB's estimate of the keys in all buckets.
func (s *Store) keysLocked() int64 {
	var n int64
	for _, b := range s.buckets {
		n += s.bucketKeys(b)
	}
	return n
}

// bucketKeys returns RocksDB's estimate of the keys in b (the
// estimate-num-keys property). A bucket receives only puts of distinct keys,
// with no overwrites or deletions to miscount, so the estimate is close to exact.
func (s *Store) bucketKeys(b *bucket) int64 {
	return uintProperty(s.db, b.handle, "rocksdb.estimate-num-keys")
}

func (s *Store) nowMs() int64 {
	return s.opts.Now().UnixMilli()
}

// closedError returns the error for a call to action after Close.
func (s *Store) closedError(action string) error {
	return fmt.Errorf("cannot %s dedup store %s: %w", action, s.opts.Path, ErrClosed)
}

// diskUsage returns the total size of the regular files in dir whose name
// passes include (all files if include is nil). RocksDB keeps all files of a
// store directly in its directory.
func diskUsage(dir string, include func(name string) bool) (int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, e := range entries {
		if !e.Type().IsRegular() || (include != nil && !include(e.Name())) {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted by RocksDB since ReadDir
		}
		if err != nil {
			return 0, err
		}
		total += info.Size()
	}
	return total, nil
}
