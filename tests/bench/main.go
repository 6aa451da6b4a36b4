package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"kafka-deduplicator/pipeline"
	"kafka-deduplicator/storage"
	"kafka-deduplicator/tests/kafkatest"
)

// options holds the command-line flags.
type options struct {
	binary         string
	loadgen        string
	configPath     string
	bootstrap      string
	events         int64
	partitions     int
	duplicateRate  float64
	seed           uint64
	prefill        int64
	outRoot        string
	outDir         string // outRoot/{stamp}, set by run
	kafkaLibs      string
	brokerPIDFile  string
	skipCeiling    bool
	latencyRate    float64
	latencySeconds float64
	keep           bool
	repeat         bool
	warmupEvents   int64
}

func main() {
	var o options
	flag.StringVar(&o.binary, "binary", "bin/kafka-deduplicator", "deduplicator binary to run")
	flag.StringVar(&o.loadgen, "loadgen", "bin/loadgen", "load generator binary (go build -o bin/loadgen ./tests/loadgen)")
	flag.StringVar(&o.configPath, "config", "config.toml", "base config of the deduplicator; the bench replaces its hosts, topics, store path, metrics address and fail_open")
	flag.StringVar(&o.bootstrap, "bootstrap", kafkatest.Bootstrap(), "broker address, host:port (default from KAFKA_BOOTSTRAP)")
	flag.Int64Var(&o.events, "events", 1_000_000, "events the load generator writes to the input topic")
	flag.IntVar(&o.partitions, "partitions", 8, "partitions of every topic the bench creates")
	flag.Float64Var(&o.duplicateRate, "duplicate-rate", 0.2, "share of input events that are duplicates (passed to loadgen)")
	flag.Uint64Var(&o.seed, "seed", 1, "random seed of the input stream and the prefilled keys")
	flag.Int64Var(&o.prefill, "prefill", 10_000_000, "keys stored in the stores before the warm-store run, split across the partitions")
	flag.StringVar(&o.outRoot, "out", filepath.Join(os.TempDir(), "kafka-deduplicator-bench"), "directory for a subdirectory per bench with configs, logs, stores and results")
	flag.StringVar(&o.kafkaLibs, "kafka-libs", defaultKafkaLibs(), "directory of the Kafka jars, for the broker-ceiling tools")
	flag.StringVar(&o.brokerPIDFile, "broker-pid-file", defaultBrokerPIDFile(), "pid file of the broker, for its CPU time; empty skips it")
	flag.BoolVar(&o.skipCeiling, "skip-ceiling", false, "skip Kafka's ProducerPerformance and ConsumerPerformance runs")
	flag.Float64Var(&o.latencyRate, "latency-rate", 0, "events per second of the paced latency run; 0 means a quarter of the empty-store dedup rate")
	flag.Float64Var(&o.latencySeconds, "latency-seconds", 30, "length of the paced latency run in seconds; 0 skips it")
	flag.BoolVar(&o.keep, "keep", false, "keep the stores and topics after the runs")
	flag.BoolVar(&o.repeat, "repeat-pass-through", true, "run the pass-through again after the warm-store run, to show drift")
	flag.Int64Var(&o.warmupEvents, "warmup-events", 100_000, "events of the warm-up pass-through before b, on a topic of their own; 0 skips it")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench failed:", err)
		os.Exit(1)
	}
}

// defaultKafkaLibs mirrors tests/kafka/broker.sh: $KDD_CACHE/kafka-$KAFKA_VERSION/libs.
func defaultKafkaLibs() string {
	return filepath.Join(kddCache(), "kafka-"+envOr("KAFKA_VERSION", "4.1.1"), "libs")
}

// defaultBrokerPIDFile mirrors tests/kafka/broker.sh: broker.pid in
// $KAFKA_DATA_DIR, which defaults to $KDD_CACHE/broker-$KAFKA_PORT.
func defaultBrokerPIDFile() string {
	dir := os.Getenv("KAFKA_DATA_DIR")
	if dir == "" {
		dir = filepath.Join(kddCache(), "broker-"+envOr("KAFKA_PORT", "19092"))
	}
	return filepath.Join(dir, "broker.pid")
}

func kddCache() string {
	if dir := os.Getenv("KDD_CACHE"); dir != "" {
		return dir
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "kafka-deduplicator")
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func (o options) validate() error {
	var errs []error
	if o.events < 1 {
		errs = append(errs, fmt.Errorf("invalid -events %d: use 1 or more", o.events))
	}
	if o.partitions < 1 {
		errs = append(errs, fmt.Errorf("invalid -partitions %d: use 1 or more", o.partitions))
	}
	if o.warmupEvents < 0 {
		errs = append(errs, fmt.Errorf("invalid -warmup-events %d: use 0 (no warm-up) or more", o.warmupEvents))
	}
	if o.prefill < 0 {
		errs = append(errs, fmt.Errorf("invalid -prefill %d: use 0 or more keys", o.prefill))
	}
	if o.latencyRate < 0 || o.latencySeconds < 0 {
		errs = append(errs, fmt.Errorf("invalid -latency-rate %v or -latency-seconds %v: use 0 or more", o.latencyRate, o.latencySeconds))
	}
	for _, path := range []string{o.binary, o.loadgen, o.configPath} {
		if _, err := os.Stat(path); err != nil {
			errs = append(errs, fmt.Errorf("cannot find %s: %w; run make build and build the load generator first (make bench does both)", path, err))
		}
	}
	return errors.Join(errs...)
}

// bench holds what the runs share.
type bench struct {
	opts       options
	cluster    *kafkatest.Cluster
	baseConfig pipeline.Config
	ticks      float64
	brokerPID  int
	// stamp keeps the topic and group names of this bench apart from
	// earlier benches on the same broker.
	stamp string
	load  *kafkatest.LoadSummary
	// topics lists the topics created, for deletion at the end.
	topics []string
}

// topic returns the name of a topic or group of this bench.
func (b *bench) topic(suffix string) string {
	return "bench-" + b.stamp + "-" + suffix
}

// brokerCPU returns the broker's CPU seconds so far, or 0 when the broker's
// pid is unknown.
func (b *bench) brokerCPU() float64 {
	if b.brokerPID == 0 {
		return 0
	}
	cpu, err := procCPUSeconds(b.brokerPID, b.ticks)
	if err != nil {
		return 0
	}
	return cpu
}

// results is everything a bench measured; it is written to results.json.
type results struct {
	Machine      machine                 `json:"machine"`
	Binary       string                  `json:"binary_version"`
	Options      map[string]string       `json:"options"`
	Pipeline     pipeline.PipelineConfig `json:"pipeline_config"`
	Load         *kafkatest.LoadSummary  `json:"load"`
	ProducerPerf *producerPerf           `json:"producer_perf,omitempty"`
	ConsumerPerf *consumerPerf           `json:"consumer_perf,omitempty"`
	Prefill      *prefillResult          `json:"prefill,omitempty"`
	Runs         []*runResult            `json:"runs"`
	Started      time.Time               `json:"started"`
	WallSeconds  float64                 `json:"wall_seconds"`
	Error        string                  `json:"error,omitempty"`
	BrokerPID    int                     `json:"broker_pid"`
	ResultsDir   string                  `json:"results_dir"`
	// BrokerDataBytes is the size of the broker's data directory (the
	// directory of its pid file) at the end, deleted topics included.
	BrokerDataBytes int64 `json:"broker_data_bytes"`
}

func run(ctx context.Context, o options) error {
	if err := o.validate(); err != nil {
		return err
	}
	started := time.Now()
	b := &bench{opts: o, cluster: kafkatest.NewCluster(o.bootstrap), ticks: clockTicks(), stamp: started.Format("20060102-150405")}
	b.opts.outDir = filepath.Join(o.outRoot, b.stamp)
	if err := os.MkdirAll(b.opts.outDir, 0o755); err != nil {
		return fmt.Errorf("cannot create the results directory: %w", err)
	}
	res := &results{Machine: describeMachine(), Started: started, ResultsDir: b.opts.outDir, Options: optionMap(b.opts)}
	fmt.Printf("bench: results in %s\n", b.opts.outDir)
	fmt.Printf("bench: %d CPUs (%s), load average %s\n", res.Machine.CPUs, res.Machine.Model, res.Machine.LoadBefore)

	err := b.runAll(ctx, res)
	res.Machine.LoadAfter = loadAverage()
	res.WallSeconds = time.Since(started).Seconds()
	if err != nil {
		res.Error = err.Error()
	}
	if !o.keep {
		b.cleanup()
	}
	if o.brokerPIDFile != "" {
		size, sizeErr := diskUsage(filepath.Dir(o.brokerPIDFile))
		if sizeErr != nil {
			fmt.Fprintf(os.Stderr, "bench: %v; the broker's data directory size is not reported\n", sizeErr)
		}
		res.BrokerDataBytes = size
	}
	printReport(os.Stdout, res)
	if writeErr := writeResults(res); writeErr != nil {
		return errors.Join(err, writeErr)
	}
	return err
}

// runAll runs the steps in order and stops at the first failure; res keeps
// what was measured until then.
func (b *bench) runAll(ctx context.Context, res *results) error {
	// 1. The broker, the binary and the base config.
	if err := b.cluster.Ping(ctx); err != nil {
		return err
	}
	if pid, err := readPID(b.opts.brokerPIDFile); err == nil {
		b.brokerPID, res.BrokerPID = pid, pid
	} else if b.opts.brokerPIDFile != "" {
		fmt.Fprintf(os.Stderr, "bench: warning: broker CPU not measured: %v\n", err)
	}
	if out, err := exec.Command(b.opts.binary, "-version").Output(); err == nil {
		res.Binary = strings.TrimSpace(string(out))
	}
	text, err := os.ReadFile(b.opts.configPath)
	if err != nil {
		return fmt.Errorf("cannot read the base config: %w", err)
	}
	if err := pipeline.DecodeConfig(string(text), &b.baseConfig); err != nil {
		return err
	}
	effective := b.baseConfig
	effective.FillDefaults()
	res.Pipeline = effective.Pipeline

	// 2. The input, generated once.
	input := b.topic("input")
	b.topics = append(b.topics, input)
	fmt.Printf("\n== input: %d events into %s\n", b.opts.events, input)
	if b.load, err = b.runLoadgen(ctx, input, b.opts.events, 0, "load"); err != nil {
		return err
	}
	res.Load = b.load

	// 3. The broker's ceiling with Kafka's own tools.
	if !b.opts.skipCeiling {
		if err := b.runCeiling(ctx, res, input); err != nil {
			return err
		}
	}

	// 4. A warm-up on its own small topic. Without it, the first run of a
	// short bench was the slowest (see doc.go). A likely cause is the new
	// broker's JIT, which has not yet compiled the paths of the fetch and
	// produce requests that kafka-go sends.
	if b.opts.warmupEvents > 0 {
		warmup, err := b.runWarmup(ctx)
		if err := addRun(res, warmup, err); err != nil {
			return err
		}
	}

	// 5. Pass-through, dedup on empty stores, dedup on warm stores.
	fmt.Printf("\n== b: pass-through (fail_open = true)\n")
	pass, err := b.runDeduplicator(ctx, runSpec{
		id: "passthrough", name: "b. pass-through (fail_open)", source: input, events: b.load.Events,
		expected: b.load.EventsPerPartition, failOpen: true,
	})
	if err := addRun(res, pass, err); err != nil {
		return err
	}

	fmt.Printf("\n== c: deduplication, empty stores\n")
	empty, err := b.runDeduplicator(ctx, runSpec{
		id: "dedup-empty", name: "c. dedup, empty stores", source: input, events: b.load.Events,
		expected: b.load.UniquePerPartition, storeDir: filepath.Join(b.opts.outDir, "stores-empty"),
	})
	if err := addRun(res, empty, err); err != nil {
		return err
	}

	fmt.Printf("\n== d: deduplication, stores prefilled with %d keys\n", b.opts.prefill)
	warmDir := filepath.Join(b.opts.outDir, "stores-warm")
	storeOpts := storage.Options{
		Retention:       time.Duration(effective.Store.Retention),
		MaxBytes:        int64(effective.Store.MaxCapacity),
		BlockCacheBytes: int64(effective.Store.BlockCache),
	}
	if res.Prefill, err = prefill(ctx, warmDir, input, b.opts.partitions, b.opts.prefill, storeOpts, b.opts.seed); err != nil {
		return err
	}
	fmt.Printf("  prefill: %d keys in %.1fs (%.0f keys/s), %.0f MiB on disk, RocksDB estimates %d keys\n",
		res.Prefill.Keys, res.Prefill.Seconds, res.Prefill.KeysPerS, float64(res.Prefill.SizeBytes)/(1<<20), res.Prefill.EstimatedKeys)
	warm, err := b.runDeduplicator(ctx, runSpec{
		id: "dedup-warm", name: fmt.Sprintf("d. dedup, %s keys stored", humanCount(b.opts.prefill)), source: input, events: b.load.Events,
		expected: b.load.UniquePerPartition, storeDir: warmDir,
	})
	if err := addRun(res, warm, err); err != nil {
		return err
	}

	// The pass-through once more, to show how much the machine drifted
	// between the first and the last run on the same input.
	if b.opts.repeat {
		fmt.Printf("\n== b2: pass-through again, after d\n")
		again, err := b.runDeduplicator(ctx, runSpec{
			id: "passthrough-again", name: "b2. pass-through, after d", source: input, events: b.load.Events,
			expected: b.load.EventsPerPartition, failOpen: true,
		})
		if err := addRun(res, again, err); err != nil {
			return err
		}
	}
	for _, r := range res.Runs {
		if r.ID != warmupID {
			r.RatioToPassThrough = ratio(r.EventsPerSecond, pass.EventsPerSecond)
		}
	}

	// 6. Latency at a paced rate below capacity.
	if b.opts.latencySeconds > 0 {
		paced, err := b.runPaced(ctx, empty.EventsPerSecond)
		if err := addRun(res, paced, err); err != nil {
			return err
		}
	}
	return nil
}

// addRun appends r to res.Runs when it is set, which it also is after a
// failed output check, and returns err.
func addRun(res *results, r *runResult, err error) error {
	if r != nil {
		res.Runs = append(res.Runs, r)
	}
	return err
}

// warmupID is the id of the warm-up run, which is not compared with b.
const warmupID = "warmup"

// runWarmup writes -warmup-events events to a topic of their own and copies
// them with the deduplicator in pass-through mode. The run is reported but
// not compared.
func (b *bench) runWarmup(ctx context.Context) (*runResult, error) {
	source := b.topic("warmup-input")
	b.topics = append(b.topics, source)
	fmt.Printf("\n== w: warm-up, pass-through of %d events on a topic of their own\n", b.opts.warmupEvents)
	load, err := b.runLoadgen(ctx, source, b.opts.warmupEvents, 0, "warmup-load")
	if err != nil {
		return nil, err
	}
	return b.runDeduplicator(ctx, runSpec{
		id: warmupID, name: "w. warm-up pass-through, own topic", source: source, events: load.Events,
		expected: load.EventsPerPartition, failOpen: true,
	})
}

// runCeiling measures the broker alone: ProducerPerformance writes as many
// records as the input holds, of the input's average value size, into a
// scratch topic; ConsumerPerformance reads the input topic.
func (b *bench) runCeiling(ctx context.Context, res *results, input string) error {
	perfTopic := b.topic("producer-perf")
	b.topics = append(b.topics, perfTopic)
	if err := b.cluster.CreateTopic(ctx, perfTopic, b.opts.partitions); err != nil {
		return err
	}
	recordBytes := int(b.load.AvgValueBytes + 0.5)
	fmt.Printf("\n== a: broker ceiling: ProducerPerformance, %d records of %d bytes\n", b.load.Events, recordBytes)
	var err error
	if res.ProducerPerf, err = b.runProducerPerf(ctx, perfTopic, b.load.Events, recordBytes); err != nil {
		return err
	}
	fmt.Printf("  %s\n", res.ProducerPerf.Output)

	fmt.Printf("== a: broker ceiling: ConsumerPerformance on %s\n", input)
	if res.ConsumerPerf, err = b.runConsumerPerf(ctx, input, b.topic("consumer-perf"), b.load.Events); err != nil {
		return err
	}
	fmt.Printf("  %.0f messages/s (%.0f excluding the group join of %.0f ms), %.1f MB/s\n",
		res.ConsumerPerf.MessagesPerSec, res.ConsumerPerf.FetchMessagesPerSec, res.ConsumerPerf.RebalanceMs, res.ConsumerPerf.MBPerSec)
	return nil
}

// runPaced runs the deduplicator on empty stores while the load generator
// writes a new topic at a fixed rate, so the end-to-end latency shows the
// processing delay rather than the age of a backlog.
func (b *bench) runPaced(ctx context.Context, emptyRate float64) (*runResult, error) {
	rate := b.opts.latencyRate
	if rate == 0 {
		// The load generator now shares the machine too, so the
		// deduplicator keeps up only well below the rate of c.
		rate = float64(int(emptyRate/4/100) * 100)
		rate = max(rate, 100)
	}
	events := int64(rate * b.opts.latencySeconds)
	source := b.topic("paced-input")
	b.topics = append(b.topics, source)
	if err := b.cluster.CreateTopic(ctx, source, b.opts.partitions); err != nil {
		return nil, err
	}
	fmt.Printf("\n== e: deduplication at a paced %.0f events/s for %.0fs (latency)\n", rate, b.opts.latencySeconds)
	spec := &runSpec{
		id: "dedup-paced", name: fmt.Sprintf("e. dedup, paced at %.0f/s", rate), source: source, events: events,
		storeDir: filepath.Join(b.opts.outDir, "stores-paced"),
	}
	spec.feed = func(ctx context.Context) (*kafkatest.LoadSummary, error) {
		return b.runLoadgen(ctx, source, events, rate, "paced-load")
	}
	return b.runDeduplicator(ctx, *spec)
}

// runLoadgen runs the load generator binary and returns its summary.
func (b *bench) runLoadgen(ctx context.Context, topic string, events int64, rate float64, name string) (*kafkatest.LoadSummary, error) {
	summaryPath := filepath.Join(b.opts.outDir, name+".json")
	args := []string{
		"-brokers", b.opts.bootstrap, "-topic", topic,
		"-partitions", strconv.Itoa(b.opts.partitions),
		"-n", strconv.FormatInt(events, 10),
		"-duplicate-rate", strconv.FormatFloat(b.opts.duplicateRate, 'g', -1, 64),
		"-seed", strconv.FormatUint(b.opts.seed, 10),
		"-rate", strconv.FormatFloat(rate, 'g', -1, 64),
		"-summary", summaryPath,
	}
	cmd := exec.CommandContext(ctx, b.opts.loadgen, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("the load generator failed: %w (%s %s)", err, b.opts.loadgen, strings.Join(args, " "))
	}
	return kafkatest.ReadLoadSummary(summaryPath)
}

// cleanup deletes the bench's topics and stores. It runs only after the last
// run: the broker removes a deleted topic's files file.delete.delay.ms (60 s
// by default) later, and that work would otherwise land in a measured run.
// A broker stopped before then keeps the files in its data directory until
// its next start, which wipes it.
func (b *bench) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := b.cluster.DeleteTopics(ctx, b.topics...); err != nil {
		fmt.Fprintln(os.Stderr, "bench: warning:", err)
	}
	stores, _ := filepath.Glob(filepath.Join(b.opts.outDir, "stores-*"))
	for _, dir := range stores {
		if err := os.RemoveAll(dir); err != nil {
			fmt.Fprintln(os.Stderr, "bench: warning: cannot remove the stores:", err)
		}
	}
}

// readPID reads a pid file.
func readPID(path string) (int, error) {
	if path == "" {
		return 0, errors.New("no broker pid file")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("cannot read the broker pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 0, fmt.Errorf("invalid broker pid file %s: %w", path, err)
	}
	return pid, nil
}

func optionMap(o options) map[string]string {
	return map[string]string{
		"binary": o.binary, "loadgen": o.loadgen, "config": o.configPath, "bootstrap": o.bootstrap,
		"events": strconv.FormatInt(o.events, 10), "partitions": strconv.Itoa(o.partitions),
		"duplicate_rate": strconv.FormatFloat(o.duplicateRate, 'g', -1, 64), "seed": strconv.FormatUint(o.seed, 10),
		"prefill": strconv.FormatInt(o.prefill, 10), "latency_rate": strconv.FormatFloat(o.latencyRate, 'g', -1, 64),
		"latency_seconds": strconv.FormatFloat(o.latencySeconds, 'g', -1, 64), "skip_ceiling": strconv.FormatBool(o.skipCeiling),
		"repeat_pass_through": strconv.FormatBool(o.repeat),
		"broker_pid_file":     o.brokerPIDFile,
		"warmup_events":       strconv.FormatInt(o.warmupEvents, 10),
	}
}
