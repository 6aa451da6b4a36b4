package storage

import (
	"fmt"
	"sync"
	"time"

	"github.com/linxGnu/grocksdb"
)

// Buckets that take no more writes are compacted, one at a time in the
// background, into a single sorted run. A lookup then checks one filter per
// closed bucket, instead of one per L0 file and per level. With 10 million
// keys spread over the buckets, the extra filter checks made up most of the
// CPU time of a lookup.

// compactor runs the background compactions of one store.
type compactor struct {
	queue chan *bucket
	// pending counts the buckets queued and not yet compacted or skipped.
	pending sync.WaitGroup
	done    chan struct{} // closed when the worker returns

	mu sync.Mutex
	// stopped is set by Close. The bucket fields compacting and dropped
	// are protected by mu too.
	stopped bool
}

// compactionState is the part of a bucket that the compactor uses.
type compactionState struct {
	// compacting is set once the worker starts on the bucket, and finished
	// is closed when it is done.
	compacting bool
	dropped    bool
	finished   chan struct{}
}

func (s *Store) startCompactor() {
	s.compactor = &compactor{queue: make(chan *bucket, MaxBuckets+1), done: make(chan struct{})}
	opts := grocksdb.NewCompactRangeOptions()
	// Let flushes and automatic compactions of the current bucket go on.
	opts.SetExclusiveManualCompaction(false)
	go func() {
		defer close(s.compactor.done)
		defer opts.Destroy()
		for b := range s.compactor.queue {
			s.compactBucket(b, opts)
			s.compactor.pending.Done()
		}
	}()
}

// compactBucket compacts b unless the store was closed or b was dropped
// since b was queued.
func (s *Store) compactBucket(b *bucket, opts *grocksdb.CompactRangeOptions) {
	c := s.compactor
	c.mu.Lock()
	skip := c.stopped || b.dropped
	b.compacting = !skip
	c.mu.Unlock()
	if skip {
		return
	}
	defer close(b.finished)

	start := time.Now()
	s.db.CompactRangeCFOpt(b.handle, grocksdb.Range{}, opts)
	c.mu.Lock()
	canceled := c.stopped
	c.mu.Unlock()
	if canceled {
		s.log.Info("compaction of closed bucket canceled because the store is closing", "bucket", b.name)
		return
	}
	s.log.Info("compacted closed bucket", "bucket", b.logValue(),
		"sorted_runs", sortedRuns(s.db, b.handle), "duration", time.Since(start).Round(time.Millisecond))
}

// queueCompactionLocked queues b for compaction when it holds more than one
// sorted run. A full queue skips b: compaction only makes lookups cheaper.
func (s *Store) queueCompactionLocked(b *bucket) {
	if b.finished != nil || sortedRuns(s.db, b.handle) <= 1 {
		return
	}
	b.finished = make(chan struct{})
	s.compactor.pending.Add(1)
	select {
	case s.compactor.queue <- b:
	default:
		s.compactor.pending.Done()
		b.finished = nil
		s.log.Debug("compaction queue full; bucket stays as it is", "bucket", b.name)
	}
}

// forgetCompactionLocked makes sure no compaction uses b, which is about
// to be dropped: a queued compaction is skipped, and a running one is
// awaited.
func (s *Store) forgetCompactionLocked(b *bucket) {
	c := s.compactor
	c.mu.Lock()
	b.dropped = true
	running := b.compacting
	c.mu.Unlock()
	if running {
		<-b.finished
	}
}

// stopCompactor cancels a running compaction, skips the queued ones and
// waits for the worker to return.
func (s *Store) stopCompactor() {
	c := s.compactor
	c.mu.Lock()
	c.stopped = true
	c.mu.Unlock()
	s.db.DisableManualCompaction()
	close(c.queue)
	<-c.done
}

// waitCompactions waits until every queued compaction is done. Tests and
// benchmarks use it to measure a store that is not compacting.
func (s *Store) waitCompactions() {
	s.compactor.pending.Wait()
}

// sortedRuns returns how many sorted runs a lookup in cf may check: each
// L0 file, plus each other level that holds files.
func sortedRuns(db *grocksdb.DB, cf *grocksdb.ColumnFamilyHandle) int {
	runs := int(uintProperty(db, cf, "rocksdb.num-files-at-level0"))
	for level := 1; level < numLevels; level++ {
		if uintProperty(db, cf, fmt.Sprintf("rocksdb.num-files-at-level%d", level)) > 0 {
			runs++
		}
	}
	return runs
}
