package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"kafka-deduplicator/stages"
	"kafka-deduplicator/storage"
)

// Fetcher reads the messages of one partition in offset order.
// *kafka.Reader satisfies it.
type Fetcher interface {
	FetchMessage(ctx context.Context) (kafka.Message, error)
}

// Deduper looks up and inserts the keys of a batch in one call.
// *storage.Store satisfies it.
type Deduper interface {
	LookupAndInsert(entries []storage.Entry, results []storage.Result) error
}

// Producer writes messages and returns once the broker acknowledged them or
// the write failed. *kafka.Writer satisfies it.
type Producer interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// sink is one destination topic of a lane.
type sink struct {
	topic    string
	producer Producer
}

// lane moves one partition's messages through the stages; see the package
// documentation for the stages and their invariants.
type lane struct {
	topic     string
	partition int
	// start is the offset the group assigned; records below it that the client
	// delivers are ignored. Negative when the group had no committed offset.
	start int64

	fetcher Fetcher
	decoder stages.Decoder
	store   Deduper // nil in fail-open mode
	// output receives unique events; its producer is nil when the pair only
	// counts. duplicates and deadLetter are the optional side topics.
	output      sink
	duplicates  sink
	deadLetter  sink
	undecodable string // one of the Undecodable* policies
	failOpen    bool

	inflight  *semaphore.Weighted
	batchSize int
	// writesInFlight bounds the batches whose output writes run at once.
	writesInFlight int
	// drainTimeout bounds how long batches already fetched may take to finish
	// once fetching has stopped.
	drainTimeout time.Duration
	backoffMax   time.Duration

	log     *slog.Logger
	metrics *laneMetrics
	stages  *stageMetrics
	// undecodableLog and retryLog rate-limit the two messages that can repeat
	// for every message of a stream.
	undecodableLog *rateLimitedLogger
	retryLog       *rateLimitedLogger

	// done is the next offset to commit, or -1 while no batch has finished.
	// The code that builds a lane must store -1 before the committer starts.
	// Written by the commit stage, read by the generation's committer.
	done atomic.Int64
	// highWater is the partition's high-water mark seen with the latest
	// finished batch, for the lag metric. Written by the commit stage.
	highWater atomic.Int64
	// held counts the in-flight tokens this lane holds. The fetch stage adds,
	// the commit stage subtracts, and run returns what is left when it ends.
	held atomic.Int64
	// progress is the Unix time in nanoseconds of the lane's start or of its
	// latest finished batch, whichever is later; the liveness check reads it.
	progress atomic.Int64

	// expiredSeen and evictedSeen are the store totals already added to the
	// metrics. Used only by the generation's committer, one call at a time.
	expiredSeen, evictedSeen int64

	pool sync.Pool // of *batch, recycled by the commit stage
}

// batch is the unit that travels between stages. Each stage owns the batch
// while it holds it; fields are filled in stage order. Batches are recycled,
// so every slice is reset before it is filled.
type batch struct {
	msgs    []kafka.Message
	decoded []stages.Decoded
	errs    []error // per message: the decode error, nil when decoded

	entries []storage.Entry // one per decoded message, in message order
	results []storage.Result

	out  []kafka.Message // to the output topic
	dups []kafka.Message // to the duplicates topic
	dead []kafka.Message // to the dead-letter topic
}

func (b *batch) lastOffset() int64 { return b.msgs[len(b.msgs)-1].Offset }

func (l *lane) newBatch() *batch {
	if b, ok := l.pool.Get().(*batch); ok {
		b.msgs = b.msgs[:0]
		return b
	}
	return &batch{msgs: make([]kafka.Message, 0, l.batchSize)}
}

// stalledFor returns how long the lane has held fetched messages without
// finishing a batch, or 0 when it holds none.
func (l *lane) stalledFor(now time.Time) time.Duration {
	if l.held.Load() == 0 {
		return 0
	}
	return now.Sub(time.Unix(0, l.progress.Load()))
}

// run runs the lane until ctx ends or a stage fails. When ctx ends, fetching
// stops and fetched batches are finished for up to drainTimeout; run returns
// nil in that case. A stage failure is returned and stops the other stages.
func (l *lane) run(ctx context.Context) error {
	l.progress.Store(time.Now().UnixNano())
	defer func() {
		if n := l.held.Swap(0); n > 0 {
			l.inflight.Release(n)
		}
		l.metrics.inflight.Set(0)
	}()

	// The work context outlives ctx by up to drainTimeout, so stages after
	// fetch can finish what was already fetched.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	stopDrain := context.AfterFunc(ctx, func() {
		timer := time.AfterFunc(l.drainTimeout, cancelWork)
		context.AfterFunc(work, func() { timer.Stop() })
	})
	defer stopDrain()

	g, stageCtx := errgroup.WithContext(work)
	// Fetching stops when ctx ends or when any stage fails.
	fetchCtx, stopFetch := context.WithCancel(ctx)
	defer stopFetch()
	context.AfterFunc(stageCtx, stopFetch)

	// The batch channels are unbuffered: a batch moves on only when the next
	// stage is ready for it, so fetched messages wait in the batch being cut,
	// which grows, instead of in many small batches.
	messages := make(chan kafka.Message, l.batchSize)
	fetched := make(chan *batch)
	decoded := make(chan *batch)
	keyed := make(chan *batch)
	checked := make(chan *batch)
	// Up to writesInFlight batches may be written at once; their results
	// reach the commit stage in batch order.
	written := make(chan *pendingWrite, l.writesInFlight)

	g.Go(func() error { return l.fetch(fetchCtx, stageCtx, messages) })
	g.Go(func() error { return l.cutBatches(stageCtx, messages, fetched) })
	g.Go(func() error { return l.stage(stageCtx, fetched, decoded, l.stages.decode, l.decode) })
	g.Go(func() error { return l.stage(stageCtx, decoded, keyed, l.stages.key, l.key) })
	g.Go(func() error { return l.stage(stageCtx, keyed, checked, l.stages.store, l.dedup) })
	g.Go(func() error { return l.startWrites(stageCtx, checked, written) })
	g.Go(func() error { return l.commit(written) })
	return g.Wait()
}

// fetch reads messages until ctx ends and sends them to out, taking one
// in-flight token for each. It closes out when it returns.
func (l *lane) fetch(ctx, work context.Context, out chan<- kafka.Message) error {
	defer close(out)
	for {
		msg, err := l.fetcher.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil || work.Err() != nil {
				return nil
			}
			return fmt.Errorf("cannot fetch from topic %s partition %d: %w", l.topic, l.partition, err)
		}
		if msg.Offset < l.start {
			// A record below the assigned offset was already committed by an
			// earlier owner; writing it again would duplicate it.
			l.log.Debug("skipping record below the assigned offset",
				"offset", msg.Offset, "assigned_offset", l.start)
			continue
		}
		if err := l.inflight.Acquire(ctx, 1); err != nil {
			return nil
		}
		l.held.Add(1)
		l.metrics.inflight.Inc()
		select {
		case out <- msg:
		case <-work.Done():
			return nil
		}
	}
}

// cutBatches groups messages into batches of at most batchSize. It hands a
// batch on as soon as the next stage takes it and keeps adding messages until
// then, so batches are small when the lane keeps up and grow towards
// batchSize while later stages are busy.
func (l *lane) cutBatches(work context.Context, in <-chan kafka.Message, out chan<- *batch) error {
	defer close(out)
	var (
		b       *batch
		started time.Time
	)
	// recordCut counts the batch's messages and the time spent cutting it.
	recordCut := func() {
		l.metrics.consumed.Add(len(b.msgs))
		l.stages.fetch.UpdateDuration(started)
	}
	send := func() bool {
		recordCut()
		select {
		case out <- b:
			b = nil
			return true
		case <-work.Done():
			return false
		}
	}
	for {
		if b == nil {
			first, ok := <-in
			if !ok {
				return nil
			}
			b, started = l.newBatch(), time.Now()
			b.msgs = append(b.msgs, first)
		}
		if len(b.msgs) >= l.batchSize {
			if !send() {
				return nil
			}
			continue
		}
		select {
		case msg, ok := <-in:
			if !ok {
				send()
				return nil
			}
			b.msgs = append(b.msgs, msg)
		case out <- b:
			recordCut()
			b = nil
		case <-work.Done():
			return nil
		}
	}
}

// stage runs step on every batch from in, records its duration and sends the
// batch on to out. It closes out when in is closed or work ends. A step error
// stops the lane.
func (l *lane) stage(work context.Context, in <-chan *batch, out chan<- *batch, timing stageTimer, step func(context.Context, *batch) error) error {
	defer close(out)
	for b := range in {
		if work.Err() != nil {
			// Abandoned: the batch is never marked done, so it is read again
			// by the next owner of the partition.
			return nil
		}
		started := time.Now()
		if err := step(work, b); err != nil {
			if work.Err() != nil {
				return nil
			}
			return err
		}
		timing.UpdateDuration(started)
		select {
		case out <- b:
		case <-work.Done():
			return nil
		}
	}
	return nil
}

// decode parses every value; a message that cannot be decoded keeps its error.
func (l *lane) decode(_ context.Context, b *batch) error {
	if l.failOpen {
		return nil
	}
	b.decoded = resize(b.decoded, len(b.msgs))
	b.errs = resize(b.errs, len(b.msgs))
	for i := range b.msgs {
		b.errs[i] = l.decoder.Decode(b.msgs[i].Value, &b.decoded[i])
	}
	return nil
}

// key turns every decoded message into a store entry.
func (l *lane) key(_ context.Context, b *batch) error {
	b.entries = b.entries[:0]
	if l.failOpen {
		return nil
	}
	for i := range b.msgs {
		if b.errs[i] != nil {
			continue
		}
		d := &b.decoded[i]
		b.entries = append(b.entries, storage.Entry{
			Key:       d.Digest(),
			Offset:    b.msgs[i].Offset,
			Timestamp: d.Timestamp,
			UUIDHash:  d.UUIDHash,
		})
		if d.UUIDFallback {
			l.metrics.uuidFallback.Inc()
		}
	}
	return nil
}

// dedup looks up and inserts the batch's keys and sorts every message into
// the output, the duplicates topic, the dead-letter topic or nowhere, keeping
// offset order within each.
func (l *lane) dedup(_ context.Context, b *batch) error {
	b.out, b.dups, b.dead = b.out[:0], b.dups[:0], b.dead[:0]
	if l.failOpen {
		for i := range b.msgs {
			b.out = append(b.out, outputMessage(&b.msgs[i], nil))
		}
		return nil
	}

	b.results = resize(b.results, len(b.entries))
	if len(b.entries) > 0 {
		if err := l.store.LookupAndInsert(b.entries, b.results); err != nil {
			return fmt.Errorf("cannot look up keys of topic %s partition %d offsets %d-%d in the store: %w",
				l.topic, l.partition, b.msgs[0].Offset, b.lastOffset(), err)
		}
	}

	next := 0 // the next entry, in message order
	for i := range b.msgs {
		msg := &b.msgs[i]
		if b.errs[i] != nil {
			l.routeUndecodable(b, msg, b.errs[i])
			continue
		}
		result := b.results[next]
		next++
		switch result.Verdict {
		case storage.Duplicate:
			reason := "different_uuid"
			if result.SameUUID {
				reason = "same_uuid"
				l.metrics.duplicatesSameUUID.Inc()
			} else {
				l.metrics.duplicatesOtherUUID.Inc()
			}
			if l.duplicates.producer != nil {
				b.dups = append(b.dups, outputMessage(msg, l.sideHeaders(msg,
					kafka.Header{Key: HeaderReason, Value: []byte(reason)},
					kafka.Header{Key: HeaderFirstOffset, Value: strconv.AppendInt(nil, result.FirstOffset, 10)})))
			}
			continue
		case storage.Replay:
			l.metrics.replayed.Inc()
		}
		b.out = append(b.out, outputMessage(msg, nil))
	}
	return nil
}

// routeUndecodable applies the pair's policy to a message that cannot be
// decoded or keyed.
func (l *lane) routeUndecodable(b *batch, msg *kafka.Message, err error) {
	reason := "unknown"
	if de, ok := err.(*stages.DecodeError); ok {
		reason = de.Reason
	}
	switch l.undecodable {
	case UndecodableDeadLetter:
		l.metrics.undecodableDeadLettered.Inc()
		b.dead = append(b.dead, outputMessage(msg, l.sideHeaders(msg,
			kafka.Header{Key: HeaderReason, Value: []byte(reason)},
			kafka.Header{Key: HeaderError, Value: []byte(err.Error())})))
	case UndecodableDrop:
		l.metrics.undecodableDropped.Inc()
	default:
		l.metrics.undecodableForwarded.Inc()
		b.out = append(b.out, outputMessage(msg, nil))
	}
	l.undecodableLog.Warn("undecodable message", "offset", msg.Offset, "policy", l.undecodable, "error", err)
}

// Headers added to messages written to the duplicates and dead-letter topics.
const (
	HeaderReason          = "dedup-reason"           // reason the message was set aside
	HeaderFirstOffset     = "dedup-first-offset"     // offset of the first copy of a duplicate
	HeaderError           = "dedup-error"            // decode error of an undecodable message
	HeaderSourceTopic     = "dedup-source-topic"     // source topic of the message
	HeaderSourcePartition = "dedup-source-partition" // source partition of the message
	HeaderSourceOffset    = "dedup-source-offset"    // source offset of the message
)

// sideHeaders returns the message's headers followed by the source
// coordinates and extra.
func (l *lane) sideHeaders(msg *kafka.Message, extra ...kafka.Header) []kafka.Header {
	headers := make([]kafka.Header, 0, len(msg.Headers)+3+len(extra))
	headers = append(headers, msg.Headers...)
	headers = append(headers,
		kafka.Header{Key: HeaderSourceTopic, Value: []byte(l.topic)},
		kafka.Header{Key: HeaderSourcePartition, Value: strconv.AppendInt(nil, int64(l.partition), 10)},
		kafka.Header{Key: HeaderSourceOffset, Value: strconv.AppendInt(nil, msg.Offset, 10)},
	)
	return append(headers, extra...)
}

// outputMessage copies what the output must keep of an input message: key,
// value, headers and timestamp. headers replaces the input headers when set.
func outputMessage(msg *kafka.Message, headers []kafka.Header) kafka.Message {
	if headers == nil {
		headers = msg.Headers
	}
	return kafka.Message{Key: msg.Key, Value: msg.Value, Headers: headers, Time: msg.Time}
}

// produce writes the batch's messages to their topics. Each write is retried
// until acknowledged or work ends; the batch is done only when all are.
func (l *lane) produce(work context.Context, b *batch) error {
	if l.output.producer != nil {
		if err := l.write(work, l.output, b, b.out); err != nil {
			return err
		}
		l.metrics.produced.Add(len(b.out))
		now := time.Now()
		for i := range b.out {
			if t := b.out[i].Time; !t.IsZero() {
				l.stages.endToEnd.Update(now.Sub(t).Seconds())
			}
		}
	}
	if err := l.write(work, l.duplicates, b, b.dups); err != nil {
		return err
	}
	l.metrics.duplicatesWritten.Add(len(b.dups))
	return l.write(work, l.deadLetter, b, b.dead)
}

// pendingWrite is a batch whose writes run in the background; done receives
// nil once every write is acknowledged, or the error that ended them.
type pendingWrite struct {
	b    *batch
	done chan error
}

// startWrites starts the writes of each batch from in without waiting for
// the previous ones, at most writesInFlight at a time, and passes them on in
// batch order. It waits for every write it started before it returns.
func (l *lane) startWrites(work context.Context, in <-chan *batch, out chan<- *pendingWrite) error {
	defer close(out)
	var running sync.WaitGroup
	defer running.Wait()
	slots := make(chan struct{}, l.writesInFlight)
	for b := range in {
		select {
		case slots <- struct{}{}:
		case <-work.Done():
			return nil
		}
		w := &pendingWrite{b: b, done: make(chan error, 1)}
		started := time.Now()
		running.Add(1)
		go func() {
			defer running.Done()
			err := l.produce(work, b)
			if err == nil {
				l.stages.produce.UpdateDuration(started)
			}
			<-slots
			w.done <- err
		}()
		select {
		case out <- w:
		case <-work.Done():
			return nil
		}
	}
	return nil
}

// commit marks every batch done whose writes were acknowledged, in batch
// order, returns its in-flight tokens and recycles it. After a batch whose
// writes failed, no later batch is marked done. It drains in until the
// previous stage closes it, so every write is waited for.
func (l *lane) commit(in <-chan *pendingWrite) error {
	failed := false
	for w := range in {
		if err := <-w.done; err != nil || failed {
			// Abandoned: neither this batch nor any later one may be
			// committed. run returns the tokens when it ends.
			failed = true
			continue
		}
		b := w.b
		started := time.Now()
		l.done.Store(b.lastOffset() + 1)
		l.highWater.Store(b.msgs[len(b.msgs)-1].HighWaterMark)
		l.progress.Store(started.UnixNano())
		n := int64(len(b.msgs))
		l.held.Add(-n)
		l.inflight.Release(n)
		l.metrics.inflight.Add(-float64(n))
		l.recycle(b)
		l.stages.commit.UpdateDuration(started)
	}
	return nil
}

// recycle clears the references a batch holds into message buffers and puts
// it back in the pool. Decoded values keep their own buffers for reuse.
func (l *lane) recycle(b *batch) {
	clear(b.msgs)
	clear(b.out)
	clear(b.dups)
	clear(b.dead)
	clear(b.errs)
	l.pool.Put(b)
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
