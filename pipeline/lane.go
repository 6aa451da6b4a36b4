package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
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

// lane moves one partition's messages through the stages; see the package
// documentation for the stages and their invariants.
type lane struct {
	topic     string
	partition int
	// start is the offset the group assigned; records below it that the client
	// delivers are ignored. Negative when the group had no committed offset.
	start int64

	fetcher   Fetcher
	decoder   stages.Decoder
	store     Deduper
	producer  Producer // nil when the pair has no output topic
	output    string
	inflight  *semaphore.Weighted
	batchSize int
	// drainTimeout bounds how long batches already fetched may take to finish
	// once fetching has stopped.
	drainTimeout time.Duration
	backoffMax   time.Duration

	log     *slog.Logger
	metrics *laneMetrics
	// undecodableLog and retryLog rate-limit the two messages that can repeat
	// for every message of a stream.
	undecodableLog *rateLimitedLogger
	retryLog       *rateLimitedLogger

	// done is the next offset to commit, or -1 while no batch has finished;
	// whoever builds a lane must store -1 before the committer starts.
	// Written by the commit stage, read by the generation's committer.
	done atomic.Int64
	// held counts the in-flight tokens this lane holds. The fetch stage adds,
	// the commit stage subtracts, and run returns what is left when it ends.
	held atomic.Int64
}

// batch is the unit that travels between stages. Each stage owns the batch
// while it holds it; fields are filled in stage order.
type batch struct {
	msgs    []kafka.Message
	decoded []stages.Decoded
	errs    []error // per message: the decode error, nil when decoded

	entries []storage.Entry
	index   []int // entries[i] belongs to msgs[index[i]]
	results []storage.Result

	out []kafka.Message // messages to write to the output
}

func (b *batch) lastOffset() int64 { return b.msgs[len(b.msgs)-1].Offset }

// run runs the lane until ctx ends or a stage fails. When ctx ends, fetching
// stops and fetched batches are finished for up to drainTimeout; run returns
// nil in that case. A stage failure is returned and stops the other stages.
func (l *lane) run(ctx context.Context) error {
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

	messages := make(chan kafka.Message, l.batchSize)
	fetched := make(chan *batch, 1)
	decoded := make(chan *batch, 1)
	keyed := make(chan *batch, 1)
	checked := make(chan *batch, 1)
	written := make(chan *batch, 1)

	g.Go(func() error { return l.fetch(fetchCtx, stageCtx, messages) })
	g.Go(func() error { return l.cutBatches(stageCtx, messages, fetched) })
	g.Go(func() error { return l.stage(stageCtx, fetched, decoded, l.decode) })
	g.Go(func() error { return l.stage(stageCtx, decoded, keyed, l.key) })
	g.Go(func() error { return l.stage(stageCtx, keyed, checked, l.dedup) })
	g.Go(func() error { return l.stage(stageCtx, checked, written, l.produce) })
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
		l.metrics.inflight.Add(1)
		select {
		case out <- msg:
		case <-work.Done():
			return nil
		}
	}
}

// cutBatches groups messages into batches of at most batchSize. It never waits
// to fill a batch: it takes what has arrived, so batches are small when the
// lane keeps up and grow to batchSize when it falls behind.
func (l *lane) cutBatches(work context.Context, in <-chan kafka.Message, out chan<- *batch) error {
	defer close(out)
	for first := range in {
		b := &batch{msgs: make([]kafka.Message, 1, l.batchSize)}
		b.msgs[0] = first
	fill:
		for len(b.msgs) < l.batchSize {
			select {
			case msg, ok := <-in:
				if !ok {
					break fill
				}
				b.msgs = append(b.msgs, msg)
			default:
				break fill
			}
		}
		l.metrics.consumed.Add(len(b.msgs))
		select {
		case out <- b:
		case <-work.Done():
			return nil
		}
	}
	return nil
}

// stage runs step on every batch from in and sends it on to out. It closes
// out when in is closed or work ends. A step error stops the lane.
func (l *lane) stage(work context.Context, in <-chan *batch, out chan<- *batch, step func(context.Context, *batch) error) error {
	defer close(out)
	for b := range in {
		if work.Err() != nil {
			// Abandoned: the batch is never marked done, so it is read again
			// by the next owner of the partition.
			return nil
		}
		if err := step(work, b); err != nil {
			if work.Err() != nil {
				return nil
			}
			return err
		}
		select {
		case out <- b:
		case <-work.Done():
			return nil
		}
	}
	return nil
}

// decode parses every value; a message that cannot be decoded keeps its error
// and is forwarded unchanged later.
func (l *lane) decode(_ context.Context, b *batch) error {
	b.decoded = make([]stages.Decoded, len(b.msgs))
	b.errs = make([]error, len(b.msgs))
	for i := range b.msgs {
		b.errs[i] = l.decoder.Decode(b.msgs[i].Value, &b.decoded[i])
	}
	return nil
}

// key turns every decoded message into a store entry.
func (l *lane) key(_ context.Context, b *batch) error {
	b.entries = make([]storage.Entry, 0, len(b.msgs))
	b.index = make([]int, 0, len(b.msgs))
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
		b.index = append(b.index, i)
		if d.UUIDFallback {
			l.metrics.uuidFallback.Inc()
		}
	}
	return nil
}

// dedup looks up and inserts the batch's keys and picks the messages to write:
// unique and replayed events, and undecodable messages, in offset order.
func (l *lane) dedup(_ context.Context, b *batch) error {
	b.results = make([]storage.Result, len(b.entries))
	if len(b.entries) > 0 {
		if err := l.store.LookupAndInsert(b.entries, b.results); err != nil {
			return fmt.Errorf("cannot look up keys of topic %s partition %d offsets %d-%d in the store: %w",
				l.topic, l.partition, b.msgs[0].Offset, b.lastOffset(), err)
		}
	}

	verdicts := make([]storage.Verdict, len(b.msgs))
	for i, result := range b.results {
		verdicts[b.index[i]] = result.Verdict
		switch result.Verdict {
		case storage.Duplicate:
			if result.SameUUID {
				l.metrics.duplicatesSameUUID.Inc()
			} else {
				l.metrics.duplicatesOtherUUID.Inc()
			}
		case storage.Replay:
			l.metrics.replayed.Inc()
		}
	}

	b.out = make([]kafka.Message, 0, len(b.msgs))
	for i := range b.msgs {
		msg := &b.msgs[i]
		if b.errs[i] != nil {
			l.metrics.undecodable.Inc()
			l.undecodableLog.Warn("forwarding undecodable message unchanged",
				"offset", msg.Offset, "error", b.errs[i])
		} else if verdicts[i] == storage.Duplicate {
			continue
		}
		b.out = append(b.out, kafka.Message{
			Key:     msg.Key,
			Value:   msg.Value,
			Headers: msg.Headers,
			Time:    msg.Time,
		})
	}
	return nil
}

// produce writes the batch's output messages, retrying failed messages with
// backoff until they are acknowledged or work ends.
func (l *lane) produce(work context.Context, b *batch) error {
	if l.producer == nil || len(b.out) == 0 {
		return nil
	}
	pending := b.out
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := l.producer.WriteMessages(work, pending...)
		if err == nil {
			l.metrics.produced.Add(len(b.out))
			return nil
		}
		if work.Err() != nil {
			return work.Err()
		}

		// Retry only the messages that failed when the client says which.
		var writeErrs kafka.WriteErrors
		if errors.As(err, &writeErrs) && len(writeErrs) == len(pending) {
			failed := pending[:0:0]
			for i, e := range writeErrs {
				if e != nil {
					failed = append(failed, pending[i])
				}
			}
			if len(failed) > 0 {
				pending = failed
			}
		}
		l.metrics.produceRetries.Inc()
		l.retryLog.Warn("output write failed, retrying; offsets are not committed past this batch",
			"output_topic", l.output, "offset_first", b.msgs[0].Offset, "offset_last", b.lastOffset(),
			"messages", len(pending), "attempt", attempt, "backoff", backoff, "error", summarizeWriteError(err))

		// Jitter keeps lanes that failed together from retrying together.
		sleep := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-time.After(sleep):
		case <-work.Done():
			return work.Err()
		}
		backoff = min(2*backoff, l.backoffMax)
	}
}

// commit marks every finished batch done and returns its in-flight tokens.
// It drains in until the previous stage closes it, so tokens are returned
// even for batches that arrive while the lane is stopping.
func (l *lane) commit(in <-chan *batch) error {
	for b := range in {
		l.done.Store(b.lastOffset() + 1)
		n := int64(len(b.msgs))
		l.held.Add(-n)
		l.inflight.Release(n)
		l.metrics.inflight.Add(-float64(len(b.msgs)))
	}
	return nil
}

// summarizeWriteError shortens the client's per-message error list to a count
// and the first error, with a remedy for errors that retrying cannot fix.
func summarizeWriteError(err error) string {
	var writeErrs kafka.WriteErrors
	if !errors.As(err, &writeErrs) {
		return err.Error()
	}
	var first error
	for _, e := range writeErrs {
		if e != nil {
			first = e
			break
		}
	}
	text := fmt.Sprintf("%d of %d messages failed, first error: %v", writeErrs.Count(), len(writeErrs), first)
	if errors.Is(first, kafka.MessageSizeTooLarge) {
		text += "; raise max.message.bytes of the output topic, because this batch is retried until it fits"
	}
	return text
}
