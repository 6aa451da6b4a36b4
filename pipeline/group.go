package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"kafka-deduplicator/stages"
	"kafka-deduplicator/storage"
)

// generationRetryDelay is how long a generation whose lanes could not start or
// failed waits before it ends, so a persistent fault (a store that cannot
// open) does not turn into a tight rejoin loop.
const generationRetryDelay = 5 * time.Second

// storeStatsInterval is how often the committer refreshes the store metrics,
// which walk the store directory.
const storeStatsInterval = 5 * time.Second

// pairRunner consumes one source topic in its own consumer group and writes
// to its output and side topics.
type pairRunner struct {
	cfg      *Config
	topic    TopicConfig
	decoder  stages.Decoder
	conn     *connection
	inflight *semaphore.Weighted
	metrics  *Metrics
	group    *groupMetrics
	log      *slog.Logger
	// output, duplicates and deadLetter have a nil producer when the topic is
	// not configured.
	output, duplicates, deadLetter sink
	ready                          func(joined bool)

	mu    sync.Mutex
	lanes []*lane // lanes of the running generation, for the liveness check; guarded by mu
	// idleSince is when the pair last had no running lanes: from the start
	// until the first lanes run, and from the end of each generation until
	// the next one's lanes run. Zero while lanes run. Guarded by mu.
	idleSince time.Time
}

// run joins the group and runs one generation after another until ctx ends.
// It returns after the last generation has committed, closed its stores and
// left the group.
func (p *pairRunner) run(ctx context.Context) error {
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                p.topic.Group,
		Brokers:           p.cfg.Kafka.Hosts,
		Dialer:            p.conn.dialer,
		Topics:            []string{p.topic.Source},
		HeartbeatInterval: time.Duration(p.cfg.Kafka.HeartbeatInterval),
		SessionTimeout:    time.Duration(p.cfg.Kafka.SessionTimeout),
		RebalanceTimeout:  time.Duration(p.cfg.Kafka.RebalanceTimeout),
		JoinGroupBackoff:  time.Second,
		StartOffset:       p.startOffset(),
		// NOTE: kafka-go's WatchPartitionChanges is off because it ends and
		// rejoins the generation in a tight loop while the source topic does
		// not exist (kafka-go v0.4.51), so partitions added after the start
		// are consumed only after a restart or another rebalance.
		Timeout:     time.Duration(p.cfg.Kafka.DialTimeout),
		ErrorLogger: kafkaLogger(p.metrics.limitedLogger(p.log, 10*time.Second, 5)),
	})
	if err != nil {
		return fmt.Errorf("cannot create consumer group %q for topic %q: %w", p.topic.Group, p.topic.Source, err)
	}

	// Closing the group ends the running generation, whose lanes then drain
	// and commit, and makes the member leave the group.
	stopClosing := context.AfterFunc(ctx, func() { group.Close() })
	defer stopClosing()
	defer group.Close()

	errorLog := p.metrics.limitedLogger(p.log, 10*time.Second, 3)
	var previous []int // partitions of the previous generation
	waitingSince := time.Now()
	for {
		gen, err := group.Next(ctx)
		if ctx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
			return nil
		}
		if err != nil {
			// The client retries joining by itself with a backoff.
			p.group.joinErrors.Inc()
			errorLog.Warn("cannot join consumer group, retrying", "group", p.topic.Group, "error", err)
			continue
		}

		finished := make(chan struct{})
		gen.Start(func(genCtx context.Context) {
			defer close(finished)
			previous = p.runGeneration(genCtx, gen, previous, waitingSince)
		})
		<-finished
		p.ready(false)
		waitingSince = time.Now()
	}
}

func (p *pairRunner) startOffset() int64 {
	if p.cfg.Kafka.StartOffset == "latest" {
		return kafka.LastOffset
	}
	return kafka.FirstOffset
}

// runGeneration opens a store and starts a lane for every assigned
// partition, commits done offsets while they run, and after they stop makes
// a final commit and closes the stores. It returns when ctx ends (the
// generation is over) or a lane fails, with the partitions it owned.
func (p *pairRunner) runGeneration(ctx context.Context, gen *kafka.Generation, previous []int, waitingSince time.Time) []int {
	assigned := gen.Assignments[p.topic.Source]
	slices.SortFunc(assigned, func(a, b kafka.PartitionAssignment) int { return a.ID - b.ID })
	partitions := make([]int, len(assigned))
	for i, a := range assigned {
		partitions[i] = a.ID
	}
	log := p.log.With("group", p.topic.Group, "generation", gen.ID)
	p.countRebalance(log, gen, previous, partitions)

	// Open every store before any lane fetches.
	lanes, stores, closeAll, err := p.openLanes(ctx, log, assigned)
	if err != nil {
		log.Error("cannot start lanes; leaving this generation after a delay", "error", err,
			"retry_in", generationRetryDelay)
		closeAll()
		sleepCtx(ctx, generationRetryDelay)
		return partitions
	}
	p.setLanes(lanes)
	defer p.setLanes(nil)
	p.ready(true)
	if len(lanes) == 0 {
		// A member with no partitions has nothing to do, which is not idle.
		log.Warn("no partitions assigned; the source topic may not exist yet, or the group has more members than partitions",
			"topic", p.topic.Source)
		<-ctx.Done()
		return partitions
	}
	p.group.rebalanceSeconds.UpdateDuration(waitingSince)
	log.Info("lanes started", "partitions", partitions, "since_previous_generation", time.Since(waitingSince).Round(time.Millisecond))

	// Run the lanes and a committer until the generation ends or a lane fails.
	started := time.Now()
	g, laneCtx := errgroup.WithContext(ctx)
	for _, l := range lanes {
		g.Go(func() error { return l.run(laneCtx) })
	}
	committerDone := make(chan struct{})
	lanesDone := make(chan struct{})
	go func() {
		defer close(committerDone)
		p.commitPeriodically(lanesDone, gen, lanes, stores, log)
	}()
	laneErr := g.Wait()
	close(lanesDone)
	<-committerDone

	// Final commit, then close, both before the generation may end.
	if err := p.commit(gen, lanes); err != nil {
		p.group.commitErrors.Inc()
		log.Error("final commit failed; uncommitted messages will be read again by the next owner", "error", err)
	} else {
		log.Info("final commit done", "offsets", doneOffsets(lanes))
	}
	p.updateStoreMetrics(lanes, stores)
	closeAll()
	log.Info("generation ended", "partitions", partitions, "duration", time.Since(started).Round(time.Millisecond))

	if laneErr != nil && ctx.Err() == nil {
		log.Error("lane failed; leaving this generation after a delay", "error", laneErr,
			"retry_in", generationRetryDelay)
		sleepCtx(ctx, generationRetryDelay)
	}
	return partitions
}

// countRebalance logs and counts a new generation and the partitions it
// assigned and revoked compared with the previous one.
func (p *pairRunner) countRebalance(log *slog.Logger, gen *kafka.Generation, previous, current []int) {
	var added, revoked []int
	for _, id := range current {
		if !slices.Contains(previous, id) {
			added = append(added, id)
		}
	}
	for _, id := range previous {
		if !slices.Contains(current, id) {
			revoked = append(revoked, id)
		}
	}
	p.group.rebalances.Inc()
	p.group.partitionsAssigned.Add(len(added))
	p.group.partitionsRevoked.Add(len(revoked))
	log.Info("joined group generation", "member", gen.MemberID, "partitions", current,
		"newly_assigned", added, "revoked", revoked)
}

func (p *pairRunner) setLanes(lanes []*lane) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lanes = lanes
	if lanes == nil {
		p.idleSince = time.Now()
	} else {
		p.idleSince = time.Time{}
	}
}

// idleFor returns how long the pair has had no running lanes: not joined
// to its group, or joined but unable to open its stores.
func (p *pairRunner) idleFor(now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.idleSince.IsZero() {
		return 0
	}
	return now.Sub(p.idleSince)
}

// stalledLane returns the lane that has held fetched messages without
// progress for longest, and for how long.
func (p *pairRunner) stalledLane(now time.Time) (*lane, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var worst *lane
	var longest time.Duration
	for _, l := range p.lanes {
		if d := l.stalledFor(now); d > longest {
			worst, longest = l, d
		}
	}
	return worst, longest
}

// openLanes opens the store and the reader of every assigned partition. The
// returned close function closes everything that was opened, in any case.
// In fail-open mode no store is opened.
func (p *pairRunner) openLanes(ctx context.Context, log *slog.Logger, assigned []kafka.PartitionAssignment) ([]*lane, []*storage.Store, func(), error) {
	var closers []func()
	closeAll := func() {
		for _, c := range closers {
			c()
		}
		closers = nil
	}

	lanes := make([]*lane, 0, len(assigned))
	stores := make([]*storage.Store, 0, len(assigned))
	for _, a := range assigned {
		laneLog := log.With("topic", p.topic.Source, "partition", a.ID)
		var store *storage.Store
		if !p.cfg.Pipeline.FailOpen {
			path := filepath.Join(p.cfg.Store.Path, fmt.Sprintf("%s_%d", p.topic.Source, a.ID))
			openStart := time.Now()
			var err error
			store, err = p.openStore(ctx, path, laneLog)
			if err != nil {
				return nil, nil, closeAll, err
			}
			// The store logs its own open and close, with their durations.
			p.metrics.storeOpenSeconds.UpdateDuration(openStart)
			closers = append(closers, func() {
				closeStart := time.Now()
				if err := store.Close(); err != nil {
					laneLog.Error("cannot close store", "path", path, "error", err)
					return
				}
				p.metrics.storeCloseSeconds.UpdateDuration(closeStart)
			})
		}

		reader := kafka.NewReader(kafka.ReaderConfig{
			Brokers:   p.cfg.Kafka.Hosts,
			Topic:     p.topic.Source,
			Partition: a.ID,
			Dialer:    p.conn.dialer,
			// The client reads ahead up to QueueCapacity messages beyond the
			// in-flight limit; keep that small.
			QueueCapacity: min(p.cfg.Pipeline.BatchSize, 100),
			MinBytes:      1,
			MaxBytes:      10 << 20,
			MaxWait:       500 * time.Millisecond,
			ErrorLogger:   kafkaLogger(p.metrics.limitedLogger(laneLog, 10*time.Second, 3)),
		})
		if err := reader.SetOffset(a.Offset); err != nil {
			reader.Close()
			return nil, nil, closeAll, fmt.Errorf("cannot set offset %d on topic %s partition %d: %w", a.Offset, p.topic.Source, a.ID, err)
		}
		closers = append(closers, func() { reader.Close() })

		l := &lane{
			topic:          p.topic.Source,
			partition:      a.ID,
			start:          a.Offset,
			fetcher:        reader,
			decoder:        p.decoder,
			output:         p.output,
			duplicates:     p.duplicates,
			deadLetter:     p.deadLetter,
			undecodable:    p.topic.Undecodable,
			failOpen:       p.cfg.Pipeline.FailOpen,
			inflight:       p.inflight,
			batchSize:      p.cfg.Pipeline.BatchSize,
			writesInFlight: p.cfg.Pipeline.WritesInFlight,
			drainTimeout:   time.Duration(p.cfg.Pipeline.ShutdownTimeout),
			backoffMax:     time.Duration(p.cfg.Pipeline.ProduceBackoffMax),
			log:            laneLog,
			metrics:        p.metrics.lane(p.topic.Source, a.ID),
			stages:         p.metrics.stages,
			undecodableLog: p.metrics.limitedLogger(laneLog, 10*time.Second, 5),
			retryLog:       p.metrics.limitedLogger(laneLog, 10*time.Second, 5),
		}
		// A nil *storage.Store must stay a nil interface.
		if store != nil {
			l.store = store
		}
		l.done.Store(-1)
		lanes = append(lanes, l)
		stores = append(stores, store)
	}
	return lanes, stores, closeAll, nil
}

// openStore opens a partition's store, retrying for a while when another
// process still holds it: during a rebalance on one host, the previous owner
// may not have closed it yet.
func (p *pairRunner) openStore(ctx context.Context, path string, log *slog.Logger) (*storage.Store, error) {
	if err := os.MkdirAll(p.cfg.Store.Path, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create store directory %s: %w; check store.path and its permissions", p.cfg.Store.Path, err)
	}
	deadline := time.Now().Add(time.Duration(p.cfg.Kafka.RebalanceTimeout))
	for {
		store, err := storage.Open(storage.Options{
			Path:            path,
			Retention:       time.Duration(p.cfg.Store.Retention),
			MaxBytes:        int64(p.cfg.Store.MaxCapacity),
			BlockCacheBytes: int64(p.cfg.Store.BlockCache),
			MinFreeBytes:    int64(p.cfg.Store.MinFreeDisk),
			Logger:          log,
		})
		if err == nil {
			return store, nil
		}
		if !errors.Is(err, storage.ErrLocked) || time.Now().After(deadline) || ctx.Err() != nil {
			return nil, err
		}
		log.Warn("store is locked by another process, retrying", "path", path, "error", err)
		sleepCtx(ctx, time.Second)
	}
}

// commitPeriodically commits the lanes' done offsets every commit interval
// and refreshes the store metrics, until stop is closed.
func (p *pairRunner) commitPeriodically(stop <-chan struct{}, gen *kafka.Generation, lanes []*lane, stores []*storage.Store, log *slog.Logger) {
	ticker := time.NewTicker(time.Duration(p.cfg.Pipeline.CommitInterval))
	defer ticker.Stop()
	errorLog := p.metrics.limitedLogger(log, 10*time.Second, 3)
	lastStats := time.Now()
	for {
		select {
		case <-stop:
			return
		case <-ticker.C:
			if err := p.commit(gen, lanes); err != nil {
				p.group.commitErrors.Inc()
				errorLog.Warn("commit failed; it is retried at the next interval", "error", err)
			}
			if time.Since(lastStats) >= storeStatsInterval {
				p.updateStoreMetrics(lanes, stores)
				lastStats = time.Now()
			}
		}
	}
}

// commit sends the done offset of every lane that has one. Committing the same
// offset again is harmless, so no state is kept between calls.
func (p *pairRunner) commit(gen *kafka.Generation, lanes []*lane) error {
	offsets := doneOffsets(lanes)
	if len(offsets) == 0 {
		return nil
	}
	if err := gen.CommitOffsets(map[string]map[int]int64{p.topic.Source: offsets}); err != nil {
		return fmt.Errorf("cannot commit offsets %v of topic %s for group %s: %w", offsets, p.topic.Source, p.topic.Group, err)
	}
	for _, l := range lanes {
		if off, ok := offsets[l.partition]; ok {
			l.metrics.committedOffset.Set(float64(off))
			l.metrics.lag.Set(float64(max(l.highWater.Load()-off, 0)))
		}
	}
	return nil
}

// updateStoreMetrics copies each store's size and key count to the metrics
// and adds the keys expired and evicted since the last call.
func (p *pairRunner) updateStoreMetrics(lanes []*lane, stores []*storage.Store) {
	for i, store := range stores {
		if store == nil {
			continue
		}
		stats := store.Stats()
		lm := lanes[i].metrics
		lm.storeSize.Set(float64(stats.SizeBytes))
		lm.storeKeys.Set(float64(stats.Keys))
		// The store's totals start at zero on every open, and a lane lives
		// for one open, so the lane remembers what it already counted.
		l := lanes[i]
		if stats.ExpiredTotal > l.expiredSeen {
			lm.keysExpired.AddInt64(stats.ExpiredTotal - l.expiredSeen)
			l.expiredSeen = stats.ExpiredTotal
		}
		if stats.EvictedTotal > l.evictedSeen {
			lm.keysEvicted.AddInt64(stats.EvictedTotal - l.evictedSeen)
			l.evictedSeen = stats.EvictedTotal
		}
	}
}

func doneOffsets(lanes []*lane) map[int]int64 {
	offsets := make(map[int]int64, len(lanes))
	for _, l := range lanes {
		if off := l.done.Load(); off >= 0 {
			offsets[l.partition] = off
		}
	}
	return offsets
}

func sleepCtx(ctx context.Context, d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}

// kafkaLogger adapts the client's printf-style error logger to slog.
func kafkaLogger(r *rateLimitedLogger) kafka.LoggerFunc {
	return func(format string, args ...any) {
		r.Warn("kafka client: " + fmt.Sprintf(format, args...))
	}
}
