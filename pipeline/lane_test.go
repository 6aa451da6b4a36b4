package pipeline

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/semaphore"

	"kafka-deduplicator/stages"
	"kafka-deduplicator/storage"
)

// fakeFetcher returns queued messages, then blocks until ctx ends.
type fakeFetcher struct {
	msgs chan kafka.Message
}

func (f *fakeFetcher) FetchMessage(ctx context.Context) (kafka.Message, error) {
	select {
	case m := <-f.msgs:
		return m, nil
	case <-ctx.Done():
		return kafka.Message{}, ctx.Err()
	}
}

// fakeStore keeps first offsets in a map, like the real store.
type fakeStore struct {
	mu    sync.Mutex
	first map[[16]byte]int64
	calls int
	fail  error
}

func (s *fakeStore) LookupAndInsert(entries []storage.Entry, results []storage.Result) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.fail != nil {
		return s.fail
	}
	for i, e := range entries {
		first, ok := s.first[e.Key]
		switch {
		case !ok:
			s.first[e.Key] = e.Offset
			results[i] = storage.Result{Verdict: storage.Unique, FirstOffset: e.Offset}
		case first == e.Offset:
			results[i] = storage.Result{Verdict: storage.Replay, FirstOffset: first}
		default:
			results[i] = storage.Result{Verdict: storage.Duplicate, FirstOffset: first}
		}
	}
	return nil
}

// fakeProducer records written messages and fails the first failures calls.
type fakeProducer struct {
	mu       sync.Mutex
	written  []kafka.Message
	failures int
	attempts int
	block    bool // never succeed, wait for ctx
	// hold, when set, makes a write whose first value is "slow" wait for
	// the channel to close.
	hold chan struct{}
}

func (p *fakeProducer) WriteMessages(ctx context.Context, msgs ...kafka.Message) error {
	p.mu.Lock()
	p.attempts++
	if p.block {
		p.mu.Unlock()
		<-ctx.Done()
		return ctx.Err()
	}
	if p.hold != nil && len(msgs) > 0 && string(msgs[0].Value) == "slow" {
		p.mu.Unlock()
		select {
		case <-p.hold:
		case <-ctx.Done():
			return ctx.Err()
		}
		p.mu.Lock()
	}
	if p.failures > 0 {
		p.failures--
		p.mu.Unlock()
		return errors.New("broker unavailable")
	}
	p.written = append(p.written, msgs...)
	p.mu.Unlock()
	return nil
}

func (p *fakeProducer) values() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, len(p.written))
	for i, m := range p.written {
		out[i] = string(m.Value)
	}
	return out
}

type laneFixture struct {
	lane     *lane
	fetcher  *fakeFetcher
	store    *fakeStore
	producer *fakeProducer
	inflight *semaphore.Weighted
}

func newLaneFixture(t *testing.T, start int64) *laneFixture {
	t.Helper()
	decoder, err := stages.NewDecoder(stages.FormatConfig{Format: "raw"})
	if err != nil {
		t.Fatal(err)
	}
	f := &laneFixture{
		fetcher:  &fakeFetcher{msgs: make(chan kafka.Message, 1000)},
		store:    &fakeStore{first: map[[16]byte]int64{}},
		producer: &fakeProducer{},
		inflight: semaphore.NewWeighted(100),
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	metrics := NewMetrics()
	f.lane = &lane{
		topic:          "in",
		partition:      0,
		start:          start,
		fetcher:        f.fetcher,
		decoder:        decoder,
		store:          f.store,
		output:         sink{topic: "out", producer: f.producer},
		undecodable:    UndecodableForward,
		inflight:       f.inflight,
		batchSize:      10,
		writesInFlight: 1, // in-order output; one test raises it
		drainTimeout:   2 * time.Second,
		backoffMax:     20 * time.Millisecond,
		log:            log,
		metrics:        metrics.lane("in", 0),
		stages:         metrics.stages,
		undecodableLog: newRateLimitedLogger(log, time.Second, 1),
		retryLog:       newRateLimitedLogger(log, time.Second, 1),
	}
	f.lane.done.Store(-1)
	return f
}

func (f *laneFixture) send(offset int64, value string) {
	f.fetcher.msgs <- kafka.Message{Topic: "in", Offset: offset, Value: []byte(value)}
}

// runUntilDone runs the lane until its done offset reaches want, then stops
// it and returns its error.
func (f *laneFixture) runUntilDone(t *testing.T, want int64) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- f.lane.run(ctx) }()
	deadline := time.After(5 * time.Second)
	for f.lane.done.Load() < want {
		select {
		case err := <-errc:
			cancel()
			return err
		case <-deadline:
			cancel()
			t.Fatalf("done offset = %d, want %d", f.lane.done.Load(), want)
		case <-time.After(time.Millisecond):
		}
	}
	cancel()
	return <-errc
}

func TestLaneDropsDuplicatesInOrder(t *testing.T) {
	f := newLaneFixture(t, 0)
	for i, v := range []string{"a", "b", "a", "c", "b", "d"} {
		f.send(int64(i), v)
	}
	if err := f.runUntilDone(t, 6); err != nil {
		t.Fatalf("run: %v", err)
	}
	got, want := f.producer.values(), []string{"a", "b", "c", "d"}
	if len(got) != len(want) {
		t.Fatalf("written = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("written[%d] = %q, want %q", i, got[i], want[i])
		}
	}
	if got := f.lane.metrics.duplicatesOtherUUID.Get() + f.lane.metrics.duplicatesSameUUID.Get(); got != 2 {
		t.Errorf("duplicates counted = %d, want 2", got)
	}
}

func TestLaneReturnsInFlightTokens(t *testing.T) {
	f := newLaneFixture(t, 0)
	for i := range 50 {
		f.send(int64(i), string(rune('a'+i%26)))
	}
	if err := f.runUntilDone(t, 50); err != nil {
		t.Fatalf("run: %v", err)
	}
	if !f.inflight.TryAcquire(100) {
		t.Error("in-flight tokens were not all returned after the lane stopped")
	}
	if got := f.lane.held.Load(); got != 0 {
		t.Errorf("held tokens = %d, want 0", got)
	}
}

func TestLaneSkipsRecordsBelowAssignedOffset(t *testing.T) {
	f := newLaneFixture(t, 3)
	for i, v := range []string{"old0", "old1", "old2", "new3", "new4"} {
		f.send(int64(i), v)
	}
	if err := f.runUntilDone(t, 5); err != nil {
		t.Fatalf("run: %v", err)
	}
	got := f.producer.values()
	if len(got) != 2 || got[0] != "new3" || got[1] != "new4" {
		t.Errorf("written = %q, want [new3 new4]", got)
	}
}

func TestLaneRetriesFailedWrites(t *testing.T) {
	f := newLaneFixture(t, 0)
	f.producer.failures = 3
	f.send(0, "a")
	f.send(1, "b")
	if err := f.runUntilDone(t, 2); err != nil {
		t.Fatalf("run: %v", err)
	}
	if got := f.producer.values(); len(got) != 2 {
		t.Errorf("written = %q, want [a b]", got)
	}
	if got := f.lane.metrics.produceRetries.Get(); got != 3 {
		t.Errorf("retries = %d, want 3", got)
	}
}

func TestLaneNeverMarksUnwrittenBatchDone(t *testing.T) {
	f := newLaneFixture(t, 0)
	f.lane.drainTimeout = 100 * time.Millisecond
	f.producer.block = true
	f.send(0, "a")
	f.send(1, "b")

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- f.lane.run(ctx) }()
	// Wait until the batch reached the producer, then end the generation.
	for {
		f.producer.mu.Lock()
		attempts := f.producer.attempts
		f.producer.mu.Unlock()
		if attempts > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("run: %v, want nil after an abandoned drain", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("lane did not stop after the drain timeout")
	}
	if got := f.lane.done.Load(); got != -1 {
		t.Errorf("done offset = %d, want -1: an unwritten batch must not be committed", got)
	}
	if !f.inflight.TryAcquire(100) {
		t.Error("in-flight tokens of the abandoned batch were not returned")
	}
}

func TestLaneStopsOnStoreError(t *testing.T) {
	f := newLaneFixture(t, 0)
	f.store.fail = errors.New("disk full")
	f.send(0, "a")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := f.lane.run(ctx)
	if err == nil || ctx.Err() != nil {
		t.Fatalf("run = %v, want the store error before the timeout", err)
	}
	if got := f.lane.done.Load(); got != -1 {
		t.Errorf("done offset = %d, want -1 after a store failure", got)
	}
}

func TestLaneForwardsUndecodable(t *testing.T) {
	f := newLaneFixture(t, 0)
	f.send(0, "a")
	f.send(1, "") // the raw format rejects an empty value
	f.send(2, "a")
	if err := f.runUntilDone(t, 3); err != nil {
		t.Fatalf("run: %v", err)
	}
	got := f.producer.values()
	if len(got) != 2 || got[0] != "a" || got[1] != "" {
		t.Errorf("written = %q, want [a, empty]", got)
	}
	if n := f.lane.metrics.undecodableForwarded.Get(); n != 1 {
		t.Errorf("undecodable counted = %d, want 1", n)
	}
}

func TestLaneCountOnlyWithoutProducer(t *testing.T) {
	f := newLaneFixture(t, 0)
	f.lane.output.producer = nil
	f.send(0, "a")
	f.send(1, "a")
	if err := f.runUntilDone(t, 2); err != nil {
		t.Fatalf("run: %v", err)
	}
	if got := f.lane.metrics.consumed.Get(); got != 2 {
		t.Errorf("consumed = %d, want 2", got)
	}
}

func TestLaneUndecodablePolicies(t *testing.T) {
	for _, policy := range []string{UndecodableDeadLetter, UndecodableDrop} {
		t.Run(policy, func(t *testing.T) {
			f := newLaneFixture(t, 0)
			deadLetter := &fakeProducer{}
			f.lane.undecodable = policy
			if policy == UndecodableDeadLetter {
				f.lane.deadLetter = sink{topic: "dlq", producer: deadLetter}
			}
			f.send(0, "a")
			f.send(1, "")
			f.send(2, "b")
			if err := f.runUntilDone(t, 3); err != nil {
				t.Fatalf("run: %v", err)
			}
			if got := f.producer.values(); len(got) != 2 || got[0] != "a" || got[1] != "b" {
				t.Errorf("output = %q, want [a b]", got)
			}
			if policy == UndecodableDrop {
				if n := f.lane.metrics.undecodableDropped.Get(); n != 1 {
					t.Errorf("dropped counted = %d, want 1", n)
				}
				return
			}
			if n := f.lane.metrics.undecodableDeadLettered.Get(); n != 1 {
				t.Errorf("dead-lettered counted = %d, want 1", n)
			}
			if len(deadLetter.written) != 1 {
				t.Fatalf("dead-letter writes = %d, want 1", len(deadLetter.written))
			}
			headers := map[string]string{}
			for _, h := range deadLetter.written[0].Headers {
				headers[h.Key] = string(h.Value)
			}
			for key, want := range map[string]string{HeaderSourceTopic: "in", HeaderSourcePartition: "0", HeaderSourceOffset: "1", HeaderReason: "empty_value"} {
				if headers[key] != want {
					t.Errorf("header %s = %q, want %q", key, headers[key], want)
				}
			}
			if headers[HeaderError] == "" {
				t.Errorf("header %s is empty, want the decode error", HeaderError)
			}
		})
	}
}

func TestLaneWritesDuplicatesTopic(t *testing.T) {
	f := newLaneFixture(t, 0)
	dups := &fakeProducer{}
	f.lane.duplicates = sink{topic: "dups", producer: dups}
	f.send(0, "a")
	f.send(1, "b")
	f.send(2, "a")
	if err := f.runUntilDone(t, 3); err != nil {
		t.Fatalf("run: %v", err)
	}
	if len(dups.written) != 1 || string(dups.written[0].Value) != "a" {
		t.Fatalf("duplicates written = %q, want [a]", dups.values())
	}
	headers := map[string]string{}
	for _, h := range dups.written[0].Headers {
		headers[h.Key] = string(h.Value)
	}
	if got := headers[HeaderFirstOffset]; got != "0" {
		t.Errorf("first offset header = %q, want 0", got)
	}
	if got := headers[HeaderSourceOffset]; got != "2" {
		t.Errorf("source offset header = %q, want 2", got)
	}
	if got := headers[HeaderReason]; got != "different_uuid" && got != "same_uuid" {
		t.Errorf("reason header = %q, want same_uuid or different_uuid", got)
	}
}

func TestLaneFailOpenForwardsEverything(t *testing.T) {
	f := newLaneFixture(t, 0)
	f.lane.failOpen = true
	f.lane.store = nil
	for i, v := range []string{"a", "a", ""} {
		f.send(int64(i), v)
	}
	if err := f.runUntilDone(t, 3); err != nil {
		t.Fatalf("run: %v", err)
	}
	if got := f.producer.values(); len(got) != 3 {
		t.Errorf("output = %q, want all 3 messages", got)
	}
}

func TestLaneStallIsReported(t *testing.T) {
	f := newLaneFixture(t, 0)
	f.producer.block = true
	f.send(0, "a")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- f.lane.run(ctx) }()
	for f.lane.held.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	if got := f.lane.stalledFor(time.Now().Add(time.Hour)); got < time.Hour {
		t.Errorf("stalled for = %v, want at least 1h when a batch is stuck", got)
	}
	cancel()
	<-errc
	if got := f.lane.stalledFor(time.Now().Add(time.Hour)); got != 0 {
		t.Errorf("stalled for = %v after the lane stopped, want 0", got)
	}
}

func TestLaneCommitsInOrderWithConcurrentWrites(t *testing.T) {
	f := newLaneFixture(t, 0)
	f.lane.writesInFlight = 3
	f.producer.hold = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- f.lane.run(ctx) }()

	// The first batch's write waits; the second batch's write goes through.
	f.send(0, "slow")
	waitFor(t, func() bool {
		f.producer.mu.Lock()
		defer f.producer.mu.Unlock()
		return f.producer.attempts == 1
	})
	f.send(1, "fast")
	waitFor(t, func() bool { return len(f.producer.values()) == 1 })
	if got := f.producer.values(); got[0] != "fast" {
		t.Fatalf("written = %q, want [fast] while the first write waits", got)
	}
	time.Sleep(50 * time.Millisecond)
	if got := f.lane.done.Load(); got != -1 {
		t.Errorf("done offset = %d while offset 0 is unwritten, want -1", got)
	}

	close(f.producer.hold)
	waitFor(t, func() bool { return f.lane.done.Load() == 2 })
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("run: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestServiceLiveness(t *testing.T) {
	cfg := &Config{Metrics: MetricsConfig{LivenessTimeout: Duration(time.Minute)}}
	runner := &pairRunner{topic: TopicConfig{Source: "in"}}
	service := &Service{cfg: cfg, runners: []*pairRunner{runner}}
	now := time.Now()

	service.connectingSince = now.Add(-2 * time.Minute)
	if err := service.Live(now); err == nil || !strings.Contains(err.Error(), "brokers") {
		t.Errorf("Live while the brokers have not answered for 2m = %v, want an error naming the brokers", err)
	}
	service.connectingSince = time.Time{}

	runner.idleSince = now.Add(-30 * time.Second)
	if err := service.Live(now); err != nil {
		t.Errorf("Live after 30s without lanes = %v, want nil within the timeout", err)
	}
	runner.idleSince = now.Add(-2 * time.Minute)
	if err := service.Live(now); err == nil {
		t.Error("Live after 2m without lanes = nil, want an error")
	}

	f := newLaneFixture(t, 0)
	runner.setLanes([]*lane{f.lane})
	if err := service.Live(now); err != nil {
		t.Errorf("Live with an idle lane = %v, want nil", err)
	}
	f.lane.held.Store(5)
	f.lane.progress.Store(now.Add(-2 * time.Minute).UnixNano())
	err := service.Live(now)
	if err == nil || !strings.Contains(err.Error(), "partition 0") {
		t.Errorf("Live with a stuck lane = %v, want an error naming partition 0", err)
	}
}
