package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"kafka-deduplicator/tests/kafkatest"
)

// config holds the command-line flags.
type config struct {
	brokers       []string
	topic         string
	partitions    int
	events        int
	duplicateRate float64
	nearRate      float64
	window        int
	seed          uint64
	rate          float64
	corpus        string
	summary       string
}

func main() {
	var cfg config
	brokers := flag.String("brokers", kafkatest.Bootstrap(), "comma-separated bootstrap brokers, host:port (default from KAFKA_BOOTSTRAP)")
	flag.StringVar(&cfg.topic, "topic", "events", "topic to write; created with -partitions partitions when missing, and it must be empty")
	flag.IntVar(&cfg.partitions, "partitions", 8, "partitions of the topic")
	flag.IntVar(&cfg.events, "n", 100_000, "number of events to write")
	flag.Float64Var(&cfg.duplicateRate, "duplicate-rate", 0.2, "share of events that are duplicates of a recent event: half exact repeats, half copies with a new uuid")
	flag.Float64Var(&cfg.nearRate, "near-rate", 0.05, "share of events that are near copies of a recent event, which are unique: half 1 ms later, half under another event name")
	flag.IntVar(&cfg.window, "window", 10_000, "number of latest original events that copies are drawn from")
	flag.Uint64Var(&cfg.seed, "seed", 1, "random seed of the stream")
	flag.Float64Var(&cfg.rate, "rate", 0, "events per second to pace the writes at; 0 writes as fast as the broker accepts")
	flag.StringVar(&cfg.corpus, "corpus", kafkatest.CorpusPath(), "JSON-lines file of captured events to build the stream from (default from CORPUS_PATH)")
	flag.StringVar(&cfg.summary, "summary", "", "also write the summary as JSON to this file")
	flag.Parse()
	cfg.brokers = strings.Split(*brokers, ",")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func (c config) validate() error {
	var errs []error
	if c.topic == "" {
		errs = append(errs, errors.New("-topic is empty; name the topic to write"))
	}
	if c.partitions < 1 {
		errs = append(errs, fmt.Errorf("invalid -partitions %d: use 1 or more", c.partitions))
	}
	if c.events < 1 {
		errs = append(errs, fmt.Errorf("invalid -n %d: use 1 or more", c.events))
	}
	if c.rate < 0 {
		errs = append(errs, fmt.Errorf("invalid -rate %v: use 0 (unpaced) or a positive number of events per second", c.rate))
	}
	return errors.Join(errs...)
}

// chunkSize is how many messages move through the pipeline together; with
// events of about 2.3 KB it is about 2.3 MB.
const chunkSize = 1000

// chunk is a run of messages whose keys and values share one arena.
type chunk struct {
	msgs  []generated
	arena []byte
}

// run generates the stream, counts what a correct deduplicator outputs and
// writes the stream, all three at once: one goroutine each, joined by
// channels of chunks.
func run(ctx context.Context, cfg config, out, stderr io.Writer) error {
	if err := cfg.validate(); err != nil {
		return err
	}

	// 1. Build the templates and the generator.
	corpus, err := kafkatest.LoadCorpus(cfg.corpus)
	if err != nil {
		return err
	}
	templates := make([]*template, 0, len(corpus))
	for i, line := range corpus {
		t, err := newTemplate(i+1, line)
		if err != nil {
			return err
		}
		templates = append(templates, t)
	}
	count, err := newCounter(cfg.partitions, cfg.events)
	if err != nil {
		return err
	}

	// 2. Make sure the topic exists, has the wanted partitions and is empty,
	// so that the unique count describes all of it.
	cluster := kafkatest.NewCluster(cfg.brokers[0])
	if err := prepareTopic(ctx, cluster, cfg.topic, cfg.partitions); err != nil {
		return err
	}
	started := time.Now()
	gen, err := newGenerator(templates, generatorOptions{
		DuplicateRate: cfg.duplicateRate, NearRate: cfg.nearRate, Window: cfg.window,
		Seed: cfg.seed, Start: started.Truncate(time.Millisecond),
	})
	if err != nil {
		return err
	}

	// 3. Generate, count and write.
	writer := &kafka.Writer{
		Addr:         kafka.TCP(cfg.brokers...),
		Topic:        cfg.topic,
		Balancer:     &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll,
		BatchSize:    chunkSize,
		BatchTimeout: 2 * time.Millisecond,
	}
	defer writer.Close()
	var retried int64
	toCount := make(chan *chunk, 2*writeChunks)
	toWrite := make(chan *chunk, 2*writeChunks)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(toCount)
		defer close(toWrite)
		return generate(gctx, gen, cfg, toCount, toWrite)
	})
	g.Go(func() error {
		for c := range toCount {
			for _, m := range c.msgs {
				if err := count.add(m); err != nil {
					return err
				}
			}
		}
		return nil
	})
	g.Go(func() error {
		return write(gctx, writer, toWrite, &retried, stderr)
	})
	if err := g.Wait(); err != nil {
		return err
	}
	if err := writer.Close(); err != nil {
		return fmt.Errorf("cannot close the writer of topic %s: %w", cfg.topic, err)
	}
	finished := time.Now()

	// 4. The topic must contain exactly the counted messages.
	if err := checkTopic(ctx, cluster, cfg.topic, count.events, retried); err != nil {
		return err
	}

	// 5. Report.
	summary := &kafkatest.LoadSummary{
		Topic: cfg.topic, Partitions: cfg.partitions,
		Events: count.totalEvents(), Unique: count.totalUnique(), Undecodable: count.undecodable,
		ByKind: count.byKind, EventsPerPartition: count.events, UniquePerPartition: count.unique,
		ValueBytes:    count.valueBytes,
		AvgValueBytes: float64(count.valueBytes) / float64(count.totalEvents()),
		MinValueBytes: count.minValue, MaxValueBytes: count.maxValue,
		Seed: cfg.seed, DuplicateRate: cfg.duplicateRate, NearRate: cfg.nearRate, Rate: cfg.rate, Retried: retried,
		Started: started, Finished: finished, Seconds: finished.Sub(started).Seconds(),
	}
	summary.EventsPerSecond = float64(summary.Events) / summary.Seconds
	printSummary(out, summary)
	if cfg.summary != "" {
		return summary.WriteFile(cfg.summary)
	}
	return nil
}

// prepareTopic creates topic when it is missing and fails unless it has the
// wanted partition count and no messages.
func prepareTopic(ctx context.Context, cluster *kafkatest.Cluster, topic string, partitions int) error {
	if err := cluster.Ping(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if n, err := cluster.Partitions(ctx, topic); err == nil && n != partitions {
		return fmt.Errorf("topic %s exists with %d partitions, not %d; use another -topic or -partitions %d", topic, n, partitions, n)
	}
	if err := cluster.CreateTopic(ctx, topic, partitions); err != nil {
		return err
	}
	ends, err := cluster.EndOffsets(ctx, topic)
	if err != nil {
		return err
	}
	var existing int64
	for _, end := range ends {
		existing += end
	}
	if existing > 0 {
		return fmt.Errorf("topic %s already contains %d messages, so the unique count would not describe it; use a new -topic", topic, existing)
	}
	return nil
}

// checkTopic fails unless every partition of topic contains as many
// messages as were counted for it.
func checkTopic(ctx context.Context, cluster *kafkatest.Cluster, topic string, counted []int64, retried int64) error {
	ends, err := cluster.EndOffsets(ctx, topic)
	if err != nil {
		return err
	}
	var problems []string
	for p, want := range counted {
		if ends[p] != want {
			problems = append(problems, fmt.Sprintf("partition %d contains %d, want %d", p, ends[p], want))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("topic %s does not contain the generated messages (%s); %d messages were written again after failed writes, and some of them may be stored twice",
			topic, strings.Join(problems, "; "), retried)
	}
	return nil
}

// generate fills chunks and hands each to both the counter and the writer.
// With cfg.rate set, it releases chunks on a schedule that averages that rate.
func generate(ctx context.Context, gen *generator, cfg config, toCount, toWrite chan<- *chunk) error {
	size := chunkSize
	if cfg.rate > 0 {
		// About 100 chunks per second, so pacing adds at most ~10 ms of delay.
		size = max(1, min(chunkSize, int(cfg.rate/100)))
	}
	start := time.Now()
	for done := 0; done < cfg.events; {
		n := min(size, cfg.events-done)
		c := &chunk{msgs: make([]generated, 0, n), arena: make([]byte, 0, n*2600)}
		for range n {
			var m generated
			c.arena, m = gen.message(c.arena)
			c.msgs = append(c.msgs, m)
		}
		if cfg.rate > 0 {
			due := start.Add(time.Duration(float64(done) / cfg.rate * float64(time.Second)))
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Until(due)):
			}
		}
		for _, ch := range []chan<- *chunk{toCount, toWrite} {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case ch <- c:
			}
		}
		done += n
	}
	return nil
}

// writeChunks is the most chunks one WriteMessages call takes. Larger calls
// give kafka-go fuller batches per partition (up to BatchBytes) and keep
// every partition's batch queue busy.
const writeChunks = 8

// write writes the chunks with acknowledgements from all in-sync replicas,
// taking up to writeChunks chunks per call when they are ready. The record
// timestamp is the time of the call, which is what the deduplicator's
// end-to-end latency counts from. It adds the messages written again to
// *retried.
func write(ctx context.Context, writer *kafka.Writer, in <-chan *chunk, retried *int64, stderr io.Writer) error {
	msgs := make([]kafka.Message, 0, writeChunks*chunkSize)
	for c := range in {
		chunks := []*chunk{c}
	gather:
		for len(chunks) < writeChunks {
			select {
			case more, ok := <-in:
				if !ok {
					break gather
				}
				chunks = append(chunks, more)
			default:
				break gather
			}
		}

		now := time.Now()
		msgs = msgs[:0]
		for _, c := range chunks {
			for _, m := range c.msgs {
				msgs = append(msgs, kafka.Message{Key: m.key, Value: m.value, Time: now})
			}
		}
		n, err := writeRetrying(ctx, writer, msgs, stderr)
		*retried += n
		if err != nil {
			return err
		}
	}
	return nil
}

// writeAttempts is how many times loadgen writes a message before it gives up.
const writeAttempts = 5

// writeRetrying writes msgs, then writes again the messages whose write
// failed, up to writeAttempts times with a growing pause, and returns how
// many messages it wrote again. kafka-go retries only the errors it deems
// temporary; this also covers others, such as a partition without a leader
// while the broker is overloaded. A message whose write was stored but not
// acknowledged is stored twice, which run detects by comparing the topic's
// end offsets with the count.
func writeRetrying(ctx context.Context, writer *kafka.Writer, msgs []kafka.Message, stderr io.Writer) (int64, error) {
	var retried int64
	pending := msgs
	for attempt := 1; ; attempt++ {
		err := writer.WriteMessages(ctx, pending...)
		if err == nil {
			return retried, nil
		}
		var writeErrs kafka.WriteErrors
		if !errors.As(err, &writeErrs) || len(writeErrs) != len(pending) {
			return retried, fmt.Errorf("cannot write %d messages to topic %s: %w", len(pending), writer.Topic, err)
		}

		// Keep only the messages that failed.
		var failed []kafka.Message
		var firstErr error
		for i, e := range writeErrs {
			if e != nil {
				failed = append(failed, pending[i])
				firstErr = cmp.Or(firstErr, e)
			}
		}
		if attempt == writeAttempts {
			return retried, fmt.Errorf("cannot write %d of %d messages to topic %s after %d attempts, first error: %w",
				len(failed), len(pending), writer.Topic, attempt, firstErr)
		}
		pause := time.Duration(attempt) * time.Second
		fmt.Fprintf(stderr, "loadgen: writing %d of %d messages to topic %s failed (%v); writing them again in %v\n",
			len(failed), len(pending), writer.Topic, firstErr, pause)
		select {
		case <-ctx.Done():
			return retried, ctx.Err()
		case <-time.After(pause):
		}
		retried += int64(len(failed))
		pending = failed
	}
}

func printSummary(out io.Writer, s *kafkatest.LoadSummary) {
	fmt.Fprintf(out, "loadgen: wrote %d events to topic %s (%d partitions) in %.1fs: %.0f events/s, %.1f MB/s\n",
		s.Events, s.Topic, s.Partitions, s.Seconds, s.EventsPerSecond, float64(s.ValueBytes)/1e6/s.Seconds)
	for _, k := range kinds {
		fmt.Fprintf(out, "  %-14s %d\n", k, s.ByKind[k])
	}
	fmt.Fprintf(out, "  value size     %.0f bytes on average (min %d, max %d), %.2f GB in all\n",
		s.AvgValueBytes, s.MinValueBytes, s.MaxValueBytes, float64(s.ValueBytes)/1e9)
	fmt.Fprintf(out, "  undecodable    %d\n", s.Undecodable)
	fmt.Fprintf(out, "  written again  %d (after failed writes)\n", s.Retried)
	fmt.Fprintf(out, "  unique         %d (distinct dedup keys plus undecodable events: what a correct deduplicator outputs)\n", s.Unique)
	fmt.Fprintf(out, "  per partition  events %v\n", s.EventsPerPartition)
	fmt.Fprintf(out, "                 unique %v\n", s.UniquePerPartition)
}
