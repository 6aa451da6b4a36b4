// Package tests holds the integration tests: they run the deduplicator
// binary against the real Kafka broker started by tests/kafka/broker.sh
// (KAFKA_BOOTSTRAP, default 127.0.0.1:19092) with real RocksDB stores.
package tests

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"kafka-deduplicator/stages"
	"kafka-deduplicator/tests/kafkatest"
)

const partitions = 4

// runID keeps topic and group names of one test run apart from earlier runs
// on the same broker.
var runID = fmt.Sprintf("%d", time.Now().UnixNano()%1_000_000_000)

// setup holds the topics, group and config of one scenario.
type setup struct {
	cluster *kafkatest.Cluster
	source  string
	output  string
	group   string
	store   string
	// hosts and kafkaTables, when set, make the deduplicator connect to
	// another listener: kafkaTables holds [kafka.tls] and [kafka.sasl].
	hosts       string
	kafkaTables string
}

func newSetup(t *testing.T, name string) *setup {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cluster := kafkatest.NewCluster(kafkatest.Bootstrap())
	if err := cluster.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	s := &setup{
		cluster: cluster,
		source:  fmt.Sprintf("%s-%s-in", name, runID),
		output:  fmt.Sprintf("%s-%s-out", name, runID),
		store:   t.TempDir(),
	}
	s.group = "dedup-" + s.source
	for _, topic := range []string{s.source, s.output} {
		if err := cluster.CreateTopic(ctx, topic, partitions); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// config returns config text for one pair; extra is appended to the pair's
// [[topics]] table.
func (s *setup) config(extra string) string {
	hosts := s.hosts
	if hosts == "" {
		hosts = s.cluster.Addr
	}
	return fmt.Sprintf(`
[kafka]
hosts = [%q]
consumer_group = "dedup"
session_timeout = "10s"
heartbeat_interval = "1s"
rebalance_timeout = "20s"
%s
[store]
path = %q

[pipeline]
max_in_flight_messages = 1000
batch_size = 200
commit_interval = "200ms"
shutdown_timeout = "10s"

[[topics]]
source = %q
output = %q
%s`, hosts, s.kafkaTables, s.store, s.source, s.output, extra)
}

func loadCorpus(t *testing.T) [][]byte {
	t.Helper()
	corpus, err := kafkatest.LoadCorpus(kafkatest.CorpusPath())
	if err != nil {
		t.Fatal(err)
	}
	return corpus
}

func generate(t *testing.T, opts kafkatest.Options) []kafkatest.Generated {
	t.Helper()
	stream, err := kafkatest.Generate(loadCorpus(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	return stream
}

func expected(t *testing.T, stream []kafkatest.Generated) []kafka.Message {
	t.Helper()
	decoder, err := stages.NewDecoder(stages.FormatConfig{Format: "captured_event"})
	if err != nil {
		t.Fatal(err)
	}
	return kafkatest.Expected(stream, decoder)
}

// produceAll writes the stream and fails the test on error.
func (s *setup) produceAll(ctx context.Context, t *testing.T, stream []kafkatest.Generated) {
	t.Helper()
	if err := s.cluster.Produce(ctx, s.source, kafkatest.Messages(stream)); err != nil {
		t.Fatal(err)
	}
}

// produceSlowly writes the stream in chunks spread over about the given
// duration, so the deduplicator can be disturbed mid-stream. It returns a
// channel that receives the producer's error (nil on success) and a counter
// of messages written so far.
func (s *setup) produceSlowly(ctx context.Context, stream []kafkatest.Generated, over time.Duration) (<-chan error, *atomic.Int64) {
	const chunks = 40
	msgs := kafkatest.Messages(stream)
	chunk := (len(msgs) + chunks - 1) / chunks
	written := &atomic.Int64{}
	done := make(chan error, 1)
	go func() {
		for start := 0; start < len(msgs); start += chunk {
			end := min(start+chunk, len(msgs))
			if err := s.cluster.Produce(ctx, s.source, msgs[start:end]); err != nil {
				done <- err
				return
			}
			written.Store(int64(end))
			select {
			case <-time.After(over / chunks):
			case <-ctx.Done():
				done <- ctx.Err()
				return
			}
		}
		done <- nil
	}()
	return done, written
}

// waitWritten waits until the producer has written at least n messages.
func waitWritten(ctx context.Context, t *testing.T, written *atomic.Int64, n int) {
	t.Helper()
	for written.Load() < int64(n) {
		select {
		case <-ctx.Done():
			t.Fatalf("producer wrote %d messages, want %d", written.Load(), n)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitProcessed waits until the group committed every input offset.
func (s *setup) waitProcessed(ctx context.Context, t *testing.T) {
	t.Helper()
	if err := s.cluster.WaitCommitted(ctx, s.group, s.source); err != nil {
		t.Fatal(err)
	}
}

// uncommitted returns how many input messages lie above the group's
// committed offsets: an upper bound on what a killed process can replay.
func (s *setup) uncommitted(ctx context.Context, t *testing.T) int64 {
	t.Helper()
	ends, err := s.cluster.EndOffsets(ctx, s.source)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := s.cluster.CommittedOffsets(ctx, s.group, s.source, len(ends))
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for p, end := range ends {
		total += end - committed[p] // an absent commit counts from 0
	}
	return total
}

// checkOutput reads the output topic and compares it with want. It fails on
// any missing message and returns the extra ones.
func (s *setup) checkOutput(ctx context.Context, t *testing.T, want []kafka.Message) []kafka.Message {
	t.Helper()
	got, err := s.cluster.ReadAll(ctx, s.output)
	if err != nil {
		t.Fatal(err)
	}
	diff := kafkatest.Compare(want, got)
	if len(diff.Missing) > 0 {
		t.Errorf("output lost %d of %d expected messages:\n%s", len(diff.Missing), len(want), kafkatest.Describe(diff.Missing, 5))
	}
	t.Logf("output: %d messages, %d expected, %d missing, %d extra", len(got), len(want), len(diff.Missing), len(diff.Extra))
	return diff.Extra
}

func TestCorpusHasKnownUniqueKeys(t *testing.T) {
	// The real corpus has 88 events, 82 distinct uuids and 76 distinct keys
	// once timestamps are derived from sent_at and offset.
	stream := generate(t, kafkatest.Options{Rounds: 1, Run: "corpus"})
	if got, want := len(stream), 88; got != want {
		t.Fatalf("corpus events = %d, want %d", got, want)
	}
	if got, want := len(expected(t, stream)), 76; got != want {
		t.Errorf("unique events in the corpus = %d, want %d", got, want)
	}
}

func TestDeduplicateRealEvents(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := newSetup(t, "real")
	stream := generate(t, kafkatest.Options{Rounds: 3, DuplicateRate: 0.6, Seed: 1, Run: runID})
	want := expected(t, stream)
	kinds := map[kafkatest.Kind]int{}
	for _, g := range stream {
		kinds[g.Kind]++
	}
	for _, kind := range []kafkatest.Kind{kafkatest.KindExactRepeat, kafkatest.KindNewUUID, kafkatest.KindNearTime, kafkatest.KindNearEvent} {
		if kinds[kind] == 0 {
			t.Fatalf("generated stream has no %s messages; change the seed or rate", kind)
		}
	}
	t.Logf("input: %d messages %v, %d expected unique", len(stream), kinds, len(want))

	s.produceAll(ctx, t, stream)
	p := startProcess(t, "deduplicator", s.config(""))
	s.waitProcessed(ctx, t)
	p.stop(30 * time.Second)

	if extra := s.checkOutput(ctx, t, want); len(extra) > 0 {
		t.Errorf("output has %d unexpected messages:\n%s", len(extra), kafkatest.Describe(extra, 5))
	}
}

func TestTwoPairsWithoutCrosstalk(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a := newSetup(t, "pair-a")
	b := newSetup(t, "pair-b")
	b.store = a.store
	b.group = "dedup-" + b.source

	// The same events go to both sources: each pair must deduplicate on its
	// own, so each output holds every unique event once.
	streamA := generate(t, kafkatest.Options{Rounds: 2, DuplicateRate: 0.5, Seed: 2, Run: runID + "-a"})
	streamB := generate(t, kafkatest.Options{Rounds: 2, DuplicateRate: 0.5, Seed: 2, Run: runID + "-b"})
	a.produceAll(ctx, t, streamA)
	b.produceAll(ctx, t, streamB)

	config := a.config(fmt.Sprintf("\n[[topics]]\nsource = %q\noutput = %q\n", b.source, b.output))
	p := startProcess(t, "deduplicator", config)
	a.waitProcessed(ctx, t)
	b.waitProcessed(ctx, t)
	p.stop(30 * time.Second)

	for _, pair := range []struct {
		s      *setup
		stream []kafkatest.Generated
	}{{a, streamA}, {b, streamB}} {
		if extra := pair.s.checkOutput(ctx, t, expected(t, pair.stream)); len(extra) > 0 {
			t.Errorf("output %s has %d unexpected messages:\n%s", pair.s.output, len(extra), kafkatest.Describe(extra, 5))
		}
	}
}

func TestGracefulRestartMidStream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := newSetup(t, "restart")
	stream := generate(t, kafkatest.Options{Rounds: 100, DuplicateRate: 0.3, Seed: 3, Run: runID})
	want := expected(t, stream)

	producerDone, written := s.produceSlowly(ctx, stream, 8*time.Second)
	first := startProcess(t, "first run", s.config(""))
	waitWritten(ctx, t, written, len(stream)/3)
	first.stop(30 * time.Second)

	second := startProcess(t, "second run", s.config(""))
	s.drainAndStop(ctx, t, producerDone, second)

	if extra := s.checkOutput(ctx, t, want); len(extra) > 0 {
		t.Errorf("a graceful restart duplicated %d messages:\n%s", len(extra), kafkatest.Describe(extra, 5))
	}
}

func TestKillMidStream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := newSetup(t, "kill")
	stream := generate(t, kafkatest.Options{Rounds: 100, DuplicateRate: 0.3, Seed: 4, Run: runID})
	want := expected(t, stream)

	producerDone, written := s.produceSlowly(ctx, stream, 8*time.Second)
	first := startProcess(t, "killed run", s.config(""))
	waitWritten(ctx, t, written, len(stream)/3)
	first.kill()
	// Everything above the committed offsets may have been written already
	// and is replayed; only those messages may come out twice.
	inflight := s.uncommitted(ctx, t)

	second := startProcess(t, "run after kill", s.config(""))
	s.drainAndStop(ctx, t, producerDone, second)

	extra := s.checkOutput(ctx, t, want)
	t.Logf("after kill -9: %d duplicates in the output, %d messages were uncommitted at the kill", len(extra), inflight)
	if int64(len(extra)) > inflight {
		t.Errorf("output has %d extra messages, more than the %d uncommitted at the kill", len(extra), inflight)
	}
	assertOnlyRepeats(t, extra, want)
}

func TestSecondInstanceJoinsAndLeaves(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := newSetup(t, "join")
	stream := generate(t, kafkatest.Options{Rounds: 100, DuplicateRate: 0.3, Seed: 5, Run: runID})
	want := expected(t, stream)

	// Both instances run on this host with the same store path, as a second
	// instance on one machine would: partitions move with their stores.
	producerDone, written := s.produceSlowly(ctx, stream, 10*time.Second)
	first := startProcess(t, "first instance", s.config(""))
	waitWritten(ctx, t, written, len(stream)/4)
	second := startProcess(t, "second instance", s.config(""))
	second.waitReady(ctx)
	waitWritten(ctx, t, written, len(stream)*2/3)
	second.stop(40 * time.Second)
	s.drainAndStop(ctx, t, producerDone, first)

	extra := s.checkOutput(ctx, t, want)
	t.Logf("second instance joined and left: %d duplicates in the output", len(extra))
	assertOnlyRepeats(t, extra, want)
}

func TestUndecodableMessagesForwarded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := newSetup(t, "undecodable")
	const undecodable = 25
	stream := generate(t, kafkatest.Options{Rounds: 2, DuplicateRate: 0.3, Undecodable: undecodable, Seed: 6, Run: runID})
	want := expected(t, stream)

	s.produceAll(ctx, t, stream)
	p := startProcess(t, "deduplicator", s.config(""))
	s.waitProcessed(ctx, t)
	count, err := p.metricSum(`kafka_deduplicator_undecodable_messages_total{topic="` + s.source + `"`)
	if err != nil {
		t.Fatal(err)
	}
	p.stop(30 * time.Second)

	if count != undecodable {
		t.Errorf("undecodable messages counted = %v, want %d", count, undecodable)
	}
	if extra := s.checkOutput(ctx, t, want); len(extra) > 0 {
		t.Errorf("output has %d unexpected messages:\n%s", len(extra), kafkatest.Describe(extra, 5))
	}
}

// drainAndStop waits until the slow producer has written everything and
// the group has committed all of it, then stops p.
func (s *setup) drainAndStop(ctx context.Context, t *testing.T, producerDone <-chan error, p *process) {
	t.Helper()
	if err := <-producerDone; err != nil {
		t.Fatal(err)
	}
	s.waitProcessed(ctx, t)
	p.stop(30 * time.Second)
}

// assertOnlyRepeats fails when an extra output message is not a copy of an
// expected one: duplicates from a replay are tolerated, strangers are not.
func assertOnlyRepeats(t *testing.T, extra, want []kafka.Message) {
	t.Helper()
	known := map[string]bool{}
	for _, m := range want {
		known[kafkatest.Fingerprint(m)] = true
	}
	for _, m := range extra {
		if !known[kafkatest.Fingerprint(m)] {
			t.Errorf("output has a message that is no expected event:\n%s", kafkatest.Describe([]kafka.Message{m}, 1))
		}
	}
}
