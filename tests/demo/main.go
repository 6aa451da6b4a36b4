// Command demo shows the deduplicator at work on a real broker. It loads the
// real captured events, scaled up with fresh distinct ids and with
// duplicates and near copies mixed in. Then it runs the deduplicator binary
// with the given config file until every input offset is committed, and
// prints what went in and what came out.
//
// It expects a broker at KAFKA_BOOTSTRAP (default 127.0.0.1:19092), as
// started by `make demo`. The config file's first [[topics]] pair names the
// topics; they are created when missing. The stores go to a fresh temporary
// directory so that earlier runs do not count as duplicates.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/segmentio/kafka-go"

	"kafka-deduplicator/pipeline"
	"kafka-deduplicator/stages"
	"kafka-deduplicator/tests/kafkatest"
)

func main() {
	binary := flag.String("binary", "bin/kafka-deduplicator", "path of the deduplicator binary")
	configPath := flag.String("config", "config.toml", "config file passed to the deduplicator")
	rounds := flag.Int("rounds", 250, "how many times the corpus is emitted, each round with new distinct ids")
	rate := flag.Float64("duplicate-rate", 0.25, "chance of a duplicate or near copy after each event")
	partitions := flag.Int("partitions", 4, "partitions of the source and output topics when they are created")
	flag.Parse()

	if err := run(*binary, *configPath, *rounds, *rate, *partitions); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

func run(binary, configPath string, rounds int, rate float64, partitions int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	// Read the pair and group from the same config the deduplicator gets.
	bootstrap := kafkatest.Bootstrap()
	storeDir, err := os.MkdirTemp("", "kafka-deduplicator-demo-store-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(storeDir)
	env := map[string]string{pipeline.EnvHosts: bootstrap, pipeline.EnvStorePath: storeDir}
	cfg, err := pipeline.LoadConfig(configPath, func(k string) string { return env[k] })
	if err != nil {
		return err
	}
	pair := cfg.Topics[0]
	if pair.Output == "" {
		return fmt.Errorf("the first [[topics]] pair of %s has no output topic; the demo reads the output back", configPath)
	}

	// Build the input and what a correct run must output.
	corpus, err := kafkatest.LoadCorpus(kafkatest.CorpusPath())
	if err != nil {
		return err
	}
	stream, err := kafkatest.Generate(corpus, kafkatest.Options{
		Rounds: rounds, DuplicateRate: rate, Seed: uint64(time.Now().UnixNano()), Run: "demo",
	})
	if err != nil {
		return err
	}
	decoder, err := stages.NewDecoder(stages.FormatConfig{Format: pair.Format, KeyFields: pair.KeyFields})
	if err != nil {
		return err
	}
	want := kafkatest.Expected(stream, decoder)

	// Create the topics and load the input.
	cluster := kafkatest.NewCluster(bootstrap)
	if err := cluster.Ping(ctx); err != nil {
		return err
	}
	for _, topic := range []string{pair.Source, pair.Output} {
		if err := cluster.CreateTopic(ctx, topic, partitions); err != nil {
			return err
		}
	}
	before, err := cluster.ReadAll(ctx, pair.Output)
	if err != nil {
		return err
	}
	fmt.Printf("loading %d events (%d corpus events x %d rounds, duplicates and near copies mixed in) into %s\n",
		len(stream), len(corpus), rounds, pair.Source)
	if err := cluster.Produce(ctx, pair.Source, kafkatest.Messages(stream)); err != nil {
		return err
	}

	// Run the deduplicator until every input offset is committed.
	metricsAddr, err := kafkatest.FreeAddr()
	if err != nil {
		return err
	}
	cmd := exec.Command(binary, "-config", configPath)
	cmd.Env = append(os.Environ(),
		pipeline.EnvHosts+"="+bootstrap,
		pipeline.EnvStorePath+"="+storeDir,
	)
	logFile, err := os.CreateTemp("", "kafka-deduplicator-demo-*.log")
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The config's metrics address may be taken on this machine; use a free one.
	overrideConfig, err := withMetricsListen(configPath, metricsAddr)
	if err != nil {
		return err
	}
	defer os.Remove(overrideConfig)
	cmd.Args[2] = overrideConfig
	fmt.Printf("running %s -config %s (log: %s)\n", binary, configPath, logFile.Name())
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cannot start %s: %w; build it with make build", binary, err)
	}
	defer cmd.Process.Kill()

	if err := waitReady(ctx, metricsAddr); err != nil {
		return err
	}
	started := time.Now()
	if err := cluster.WaitCommitted(ctx, pair.Group, pair.Source); err != nil {
		return err
	}
	elapsed := time.Since(started)

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("deduplicator exited with %v; see %s", err, logFile.Name())
	}

	// Compare the output with the expected unique events.
	after, err := cluster.ReadAll(ctx, pair.Output)
	if err != nil {
		return err
	}
	got := newMessages(before, after)
	diff := kafkatest.Compare(want, got)
	fmt.Printf("\nevents in:            %d\n", len(stream))
	fmt.Printf("unique out:           %d (expected %d)\n", len(got), len(want))
	fmt.Printf("duplicates dropped:   %d\n", len(stream)-len(got))
	fmt.Printf("processing time:      %v (from group join to last commit)\n", elapsed.Round(time.Millisecond))
	fmt.Printf("events per second:    %.0f\n", float64(len(stream))/elapsed.Seconds())
	if len(diff.Missing) > 0 || len(diff.Extra) > 0 {
		return fmt.Errorf("output differs from the expected unique events: %d missing, %d extra", len(diff.Missing), len(diff.Extra))
	}
	fmt.Println("check:                output matches the expected unique events byte for byte")
	return nil
}

// withMetricsListen writes a copy of the config file with [metrics] listen
// set to addr and returns its path.
func withMetricsListen(path, addr string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var cfg pipeline.Config
	if err := pipeline.DecodeConfig(string(data), &cfg); err != nil {
		return "", err
	}
	cfg.Metrics.Listen = addr
	f, err := os.CreateTemp("", "kafka-deduplicator-demo-*.toml")
	if err != nil {
		return "", err
	}
	defer f.Close()
	if err := toml.NewEncoder(f).Encode(cfg); err != nil {
		return "", err
	}
	return f.Name(), nil
}

func waitReady(ctx context.Context, addr string) error {
	for {
		resp, err := http.Get("http://" + addr + "/_readiness")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the deduplicator did not become ready: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// newMessages returns the messages of after that were not in before, for an
// output topic that already held messages of an earlier run.
func newMessages(before, after []kafka.Message) []kafka.Message {
	seen := map[string]int{}
	for _, m := range before {
		seen[kafkatest.Fingerprint(m)]++
	}
	var fresh []kafka.Message
	for _, m := range after {
		if p := kafkatest.Fingerprint(m); seen[p] > 0 {
			seen[p]--
			continue
		}
		fresh = append(fresh, m)
	}
	return fresh
}
