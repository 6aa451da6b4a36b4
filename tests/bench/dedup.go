package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"

	"kafka-deduplicator/pipeline"
	"kafka-deduplicator/tests/kafkatest"
)

// Intervals of the measurement loop. The start of the measured window is
// known to within scrapeInterval, its end to within commitPollInterval plus
// the deduplicator's commit_interval.
const (
	scrapeInterval     = 50 * time.Millisecond
	commitPollInterval = 100 * time.Millisecond
)

// runSpec describes one deduplicator run.
type runSpec struct {
	id   string // short name for topics, groups and files
	name string // name in the table
	// source is the input topic; events is how many messages it holds (or
	// will hold, for a paced run).
	source string
	events int64
	// expected is the output the run must produce, per partition.
	expected []int64
	failOpen bool
	storeDir string
	// feed, when set, is started once the deduplicator is ready and writes
	// the input while it runs. Its summary's unique count per partition
	// replaces expected. The run ends only after feed returns.
	feed func(ctx context.Context) (*kafkatest.LoadSummary, error)
}

// runResult is what one deduplicator run measured.
type runResult struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Source      string `json:"source_topic"`
	Output      string `json:"output_topic"`
	Group       string `json:"group"`
	StorePath   string `json:"store_path,omitempty"`
	ConfigPath  string `json:"config_path"`
	LogPath     string `json:"log_path"`
	FailOpen    bool   `json:"fail_open"`
	Events      int64  `json:"events"`
	WantOutput  int64  `json:"expected_output"`
	GotOutput   int64  `json:"output"`
	OutputCheck string `json:"output_check"`

	// StartupSeconds is from the process start to the first consumed message.
	StartupSeconds float64 `json:"startup_seconds"`
	// Seconds is the measured window: from the first scrape that shows a
	// consumed message to the first poll that finds every input offset
	// committed. EventsPerSecond is Events divided by it.
	Seconds         float64 `json:"seconds"`
	EventsPerSecond float64 `json:"events_per_second"`
	// AckSeconds ends instead at the first scrape that shows every output
	// message acknowledged, which leaves out the wait for the next commit.
	AckSeconds           float64 `json:"ack_seconds"`
	EventsPerSecondToAck float64 `json:"events_per_second_to_ack"`
	RatioToPassThrough   float64 `json:"ratio_to_pass_through,omitempty"`

	// CPUSeconds is the deduplicator's user plus system time in the window;
	// CPUSecondsTotal runs from the process start to the window's end.
	CPUSeconds           float64 `json:"cpu_seconds"`
	CPUSecondsTotal      float64 `json:"cpu_seconds_total"`
	CPUSecondsPerMillion float64 `json:"cpu_seconds_per_million_events"`
	PeakRSSBytes         int64   `json:"peak_rss_bytes"`
	// BrokerCPUSeconds is the broker's CPU time in the window.
	BrokerCPUSeconds float64 `json:"broker_cpu_seconds"`

	// Latency quantiles of kafka_deduplicator_end_to_end_latency_seconds,
	// in seconds, over LatencyCount output messages.
	LatencyP50   float64 `json:"latency_p50_seconds"`
	LatencyP99   float64 `json:"latency_p99_seconds"`
	LatencyCount float64 `json:"latency_count"`
	// BacklogAgeSeconds is how old the input's newest record was when the
	// first message was consumed; zero for a paced run.
	BacklogAgeSeconds float64 `json:"backlog_age_seconds"`
	// FeedRate is the rate the load generator reached in a paced run, and
	// BehindSeconds how long after its last write the last output write was
	// acknowledged. More than a second or so means the deduplicator fell
	// behind, and the latency includes queueing.
	FeedRate      float64 `json:"feed_rate,omitempty"`
	BehindSeconds float64 `json:"behind_seconds,omitempty"`

	Consumed         float64 `json:"metric_consumed"`
	Produced         float64 `json:"metric_produced"`
	Dropped          float64 `json:"metric_duplicates_dropped"`
	Undecodable      float64 `json:"metric_undecodable"`
	UUIDFallbacks    float64 `json:"metric_uuid_fallbacks"`
	ProduceRetries   float64 `json:"metric_produce_retries"`
	Rebalances       float64 `json:"metric_rebalances"`
	StoreOpenSeconds float64 `json:"store_open_seconds_sum"`
	StoreBytesAfter  int64   `json:"store_bytes_after,omitempty"`
	ExitCode         int     `json:"exit_code"`
}

// runDeduplicator runs the deduplicator binary on spec.source into a fresh
// output topic with a fresh consumer group, measures it until every input
// offset is committed, stops it with SIGTERM and checks the output count
// per partition.
func (b *bench) runDeduplicator(ctx context.Context, spec runSpec) (*runResult, error) {
	r := &runResult{
		ID: spec.id, Name: spec.name, Source: spec.source, FailOpen: spec.failOpen, Events: spec.events,
		Output:     b.topic(spec.id + "-out"),
		Group:      b.topic(spec.id + "-group"),
		ConfigPath: filepath.Join(b.opts.outDir, spec.id+".toml"),
		LogPath:    filepath.Join(b.opts.outDir, spec.id+".log"),
	}
	if !spec.failOpen {
		r.StorePath = spec.storeDir
	}
	for _, n := range spec.expected {
		r.WantOutput += n
	}
	if spec.feed != nil && spec.events == 0 {
		panic("BUG: a paced run must state how many events its feed writes")
	}

	// 1. A fresh output topic and the deduplicator's config.
	b.topics = append(b.topics, r.Output)
	if err := b.cluster.CreateTopic(ctx, r.Output, b.opts.partitions); err != nil {
		return nil, err
	}
	metricsAddr, err := kafkatest.FreeAddr()
	if err != nil {
		return nil, err
	}
	if err := b.writeConfig(r.ConfigPath, spec, r, metricsAddr); err != nil {
		return nil, err
	}

	// 2. Start it and wait until it has joined the group and opened the stores.
	logFile, err := os.Create(r.LogPath)
	if err != nil {
		return nil, fmt.Errorf("cannot create the deduplicator log: %w", err)
	}
	defer logFile.Close()
	cmd := exec.Command(b.opts.binary, "-config", r.ConfigPath)
	cmd.Env = withoutConfigEnv(os.Environ())
	cmd.Stdout, cmd.Stderr = logFile, logFile
	started := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start the deduplicator %s: %w; build it with make build", b.opts.binary, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	stopped := false
	defer func() {
		if !stopped {
			cmd.Process.Kill()
			<-exited
		}
	}()
	fmt.Printf("  %s: deduplicator pid %d, log %s\n", spec.id, cmd.Process.Pid, r.LogPath)
	if err := waitReady(ctx, metricsAddr, exited, r.LogPath); err != nil {
		return nil, err
	}

	// 3. Start the feed of a paced run. Returning from this function cancels
	// the feed and waits for it, so no load generator outlives its run.
	feedDone := make(chan feedResult, 1)
	if spec.feed != nil {
		feedCtx, cancelFeed := context.WithCancel(ctx)
		feedExited := make(chan struct{})
		defer func() {
			cancelFeed()
			<-feedExited
		}()
		go func() {
			defer close(feedExited)
			load, err := spec.feed(feedCtx)
			feedDone <- feedResult{load, err}
		}()
	} else {
		feedDone <- feedResult{}
	}

	// 4. Measure until every input offset is committed.
	if err := b.measure(ctx, &spec, r, cmd.Process.Pid, started, metricsAddr, exited, feedDone); err != nil {
		return nil, err
	}

	// 5. Stop it and wait for a clean exit.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return nil, fmt.Errorf("cannot stop the deduplicator (pid %d): %w", cmd.Process.Pid, err)
	}
	select {
	case <-exited:
	case <-time.After(90 * time.Second):
		return nil, fmt.Errorf("the deduplicator (pid %d) did not exit within 90s of SIGTERM; see %s", cmd.Process.Pid, r.LogPath)
	}
	stopped = true
	r.ExitCode = cmd.ProcessState.ExitCode()
	if r.ExitCode != 0 {
		return r, fmt.Errorf("the deduplicator exited with code %d; see %s", r.ExitCode, r.LogPath)
	}

	// 6. Check the output count, partition by partition.
	if r.StorePath != "" {
		if r.StoreBytesAfter, err = diskUsage(r.StorePath); err != nil {
			return nil, err
		}
	}
	return r, b.checkOutput(ctx, &spec, r)
}

// writeConfig writes the deduplicator's config: the base config file with
// the bench's broker, topic pair, group, store path, metrics address and
// fail_open. Everything else, the pipeline sizing included, stays as in the
// base file.
func (b *bench) writeConfig(path string, spec runSpec, r *runResult, metricsAddr string) error {
	cfg := b.baseConfig
	cfg.Kafka.Hosts = []string{b.opts.bootstrap}
	cfg.Topics = []pipeline.TopicConfig{{Source: spec.source, Output: r.Output, Group: r.Group, Format: "captured_event"}}
	cfg.Store.Path = spec.storeDir
	if spec.failOpen {
		cfg.Store.Path = filepath.Join(b.opts.outDir, "unused-store")
	}
	cfg.Pipeline.FailOpen = spec.failOpen
	cfg.Metrics.Listen = metricsAddr
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("cannot write the deduplicator config: %w", err)
	}
	defer f.Close()
	if err := toml.NewEncoder(f).Encode(cfg); err != nil {
		return fmt.Errorf("cannot write the deduplicator config %s: %w", path, err)
	}
	return f.Close()
}

// withoutConfigEnv drops the environment variables that override the config
// file, so the bench's config alone applies.
func withoutConfigEnv(env []string) []string {
	overrides := []string{
		pipeline.EnvHosts, pipeline.EnvConsumerGroup, pipeline.EnvSourceTopic, pipeline.EnvOutputTopic,
		pipeline.EnvMaxInFlightMessages, pipeline.EnvStorePath, pipeline.EnvMaxStoreCapacity,
	}
	out := env[:0:0]
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		keep := true
		for _, o := range overrides {
			if name == o {
				keep = false
			}
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}

// waitReady waits until /_readiness returns 200.
func waitReady(ctx context.Context, addr string, exited <-chan struct{}, logPath string) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		resp, err := client.Get("http://" + addr + "/_readiness")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the deduplicator did not become ready on %s within 3 minutes; see %s", addr, logPath)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-exited:
			return fmt.Errorf("the deduplicator exited before it became ready; see %s", logPath)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// measure polls the deduplicator's metrics and the group's committed
// offsets until every input offset is committed, and fills r.
func (b *bench) measure(ctx context.Context, spec *runSpec, r *runResult, pid int, started time.Time, metricsAddr string, exited <-chan struct{}, feedDone <-chan feedResult) error {
	client := &http.Client{Timeout: 5 * time.Second}
	timeout := 10*time.Minute + time.Duration(spec.events/500)*time.Second
	deadline := time.Now().Add(timeout)
	var first, acked time.Time
	var cpuFirst, brokerFirst float64
	var ends map[int]int64
	var feed *kafkatest.LoadSummary
	fed := false
	lastCommitPoll := time.Time{}
	scrapeErrors := 0

	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-exited:
			return fmt.Errorf("the deduplicator exited during the run; see %s", r.LogPath)
		case f := <-feedDone:
			if f.err != nil {
				return fmt.Errorf("cannot write the paced input: %w", f.err)
			}
			if f.load != nil {
				feed = f.load
				spec.expected = f.load.UniquePerPartition
				r.WantOutput = f.load.Unique
				r.FeedRate = f.load.EventsPerSecond
			}
			fed = true
			feedDone = nil
		case <-time.After(scrapeInterval):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the run did not finish within %v: %s consumed %.0f of %d messages; see %s", timeout, spec.id, r.Consumed, spec.events, r.LogPath)
		}

		// Progress from the metrics.
		s, err := fetchScrape(ctx, client, metricsAddr)
		now := time.Now()
		if err != nil {
			if scrapeErrors++; scrapeErrors > 20 {
				return err
			}
			continue
		}
		scrapeErrors = 0
		r.Consumed, r.Produced = s.sum(metricConsumed), s.sum(metricProduced)
		if first.IsZero() && r.Consumed > 0 {
			first = now
			if cpuFirst, err = procCPUSeconds(pid, b.ticks); err != nil {
				return err
			}
			brokerFirst = b.brokerCPU()
		}
		if acked.IsZero() && fed && r.Consumed >= float64(spec.events) && r.Produced >= float64(r.WantOutput) {
			acked = now
		}
		if first.IsZero() || !fed || now.Sub(lastCommitPoll) < commitPollInterval {
			continue
		}

		// The end: every input offset committed.
		lastCommitPoll = now
		if ends == nil {
			if ends, err = b.cluster.EndOffsets(ctx, spec.source); err != nil {
				return err
			}
		}
		committed, err := b.cluster.CommittedOffsets(ctx, r.Group, spec.source, len(ends))
		if err != nil {
			return err
		}
		done := true
		for p, end := range ends {
			if end > 0 && committed[p] != end {
				done = false
			}
		}
		if !done {
			continue
		}
		end := time.Now()
		cpuEnd, err := procCPUSeconds(pid, b.ticks)
		if err != nil {
			return err
		}
		brokerEnd := b.brokerCPU()
		if r.PeakRSSBytes, err = procPeakRSS(pid); err != nil {
			return err
		}
		final, err := fetchScrape(ctx, client, metricsAddr)
		if err != nil {
			return err
		}
		if acked.IsZero() {
			acked = end // the output count check below reports the shortfall
		}
		if feed != nil {
			r.BehindSeconds = acked.Sub(feed.Finished).Seconds()
		}
		return b.summarize(spec, r, final, started, first, acked, end, cpuFirst, cpuEnd, brokerEnd-brokerFirst)
	}
}

// feedResult is what a run's feed returned.
type feedResult struct {
	load *kafkatest.LoadSummary
	err  error
}

// summarize fills r from the timestamps, CPU readings and final scrape.
func (b *bench) summarize(spec *runSpec, r *runResult, final scrape, started, first, acked, end time.Time, cpuFirst, cpuEnd, brokerCPU float64) error {
	r.StartupSeconds = first.Sub(started).Seconds()
	r.Seconds = end.Sub(first).Seconds()
	r.AckSeconds = acked.Sub(first).Seconds()
	r.EventsPerSecond = float64(spec.events) / r.Seconds
	r.EventsPerSecondToAck = float64(spec.events) / r.AckSeconds
	r.CPUSeconds = cpuEnd - cpuFirst
	r.CPUSecondsTotal = cpuEnd
	r.CPUSecondsPerMillion = r.CPUSeconds / float64(spec.events) * 1e6
	r.BrokerCPUSeconds = brokerCPU
	if spec.feed == nil && b.load != nil {
		r.BacklogAgeSeconds = first.Sub(b.load.Finished).Seconds()
	}

	r.Consumed, r.Produced = final.sum(metricConsumed), final.sum(metricProduced)
	r.Dropped = final.sum(metricDropped)
	r.Undecodable = final.sum(metricUndecodable)
	r.UUIDFallbacks = final.sum(metricUUIDFallbacks)
	r.ProduceRetries = final.sum(metricProduceRetry)
	r.Rebalances = final.sum(metricRebalances)
	r.StoreOpenSeconds = final.sum(metricStoreOpen + "_sum")
	buckets, err := final.histogram(metricEndToEnd)
	if err != nil {
		return err
	}
	r.LatencyCount = final.sum(metricEndToEnd + "_count")
	r.LatencyP50 = quantile(buckets, 0.50)
	r.LatencyP99 = quantile(buckets, 0.99)
	return nil
}

// checkOutput compares the output topic's message count per partition with
// the expected count, and the produced metric with the total.
func (b *bench) checkOutput(ctx context.Context, spec *runSpec, r *runResult) error {
	ends, err := b.cluster.EndOffsets(ctx, r.Output)
	if err != nil {
		return err
	}
	var problems []string
	for p, want := range spec.expected {
		r.GotOutput += ends[p]
		if ends[p] != want {
			problems = append(problems, fmt.Sprintf("partition %d holds %d messages, want %d", p, ends[p], want))
		}
	}
	if r.Consumed != float64(spec.events) {
		problems = append(problems, fmt.Sprintf("the consumed metric is %.0f, want %d", r.Consumed, spec.events))
	}
	if r.Produced != float64(r.WantOutput) {
		problems = append(problems, fmt.Sprintf("the produced metric is %.0f, want %d", r.Produced, r.WantOutput))
	}
	if len(problems) == 0 {
		r.OutputCheck = fmt.Sprintf("ok: %d messages out, as expected", r.GotOutput)
		return nil
	}
	r.OutputCheck = "FAILED: " + strings.Join(problems, "; ")
	return fmt.Errorf("wrong output of run %s into topic %s: %d messages, want %d (%s); see %s",
		spec.id, r.Output, r.GotOutput, r.WantOutput, strings.Join(problems, "; "), r.LogPath)
}

// ratio returns a/b, or 0 when b is zero.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
