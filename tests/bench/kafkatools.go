package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Main classes of Kafka's performance tools in kafka-tools 4.1.1.
const (
	producerPerformanceClass = "org.apache.kafka.tools.ProducerPerformance"
	consumerPerformanceClass = "org.apache.kafka.tools.ConsumerPerformance"
)

// producerPerfProps are the producer settings of the broker-ceiling run.
// acks=all matches the deduplicator's writer. batch.size is raised from the
// tool's 16 KiB default to 1 MiB, close to the batches of the load generator
// and the deduplicator (kafka-go's 1 MiB BatchBytes); linger.ms=5 and no
// compression are the Java producer's defaults, stated here for the record.
var producerPerfProps = []string{"acks=all", "batch.size=1048576", "linger.ms=5", "compression.type=none"}

// producerPerf is the result of ProducerPerformance.
type producerPerf struct {
	Records       int64    `json:"records"`
	RecordBytes   int      `json:"record_bytes"`
	RecordsPerSec float64  `json:"records_per_second"`
	MBPerSec      float64  `json:"mb_per_second"`
	AvgLatencyMs  float64  `json:"avg_latency_ms"`
	MaxLatencyMs  float64  `json:"max_latency_ms"`
	P50LatencyMs  float64  `json:"p50_latency_ms"`
	P99LatencyMs  float64  `json:"p99_latency_ms"`
	Props         []string `json:"producer_props"`
	WallSeconds   float64  `json:"wall_seconds"`
	CPUSeconds    float64  `json:"cpu_seconds"`
	// BrokerCPUSeconds is the broker's CPU time during the tool's run.
	BrokerCPUSeconds float64 `json:"broker_cpu_seconds"`
	Output           string  `json:"output"`
}

// consumerPerf is the result of ConsumerPerformance.
type consumerPerf struct {
	Messages int64   `json:"messages"`
	MB       float64 `json:"mb"`
	// MessagesPerSec counts from the tool's start, including the group join;
	// FetchMessagesPerSec excludes the join (the tool's rebalance.time.ms).
	MessagesPerSec      float64 `json:"messages_per_second"`
	FetchMessagesPerSec float64 `json:"fetch_messages_per_second"`
	MBPerSec            float64 `json:"mb_per_second"`
	RebalanceMs         float64 `json:"rebalance_ms"`
	FetchMs             float64 `json:"fetch_ms"`
	WallSeconds         float64 `json:"wall_seconds"`
	CPUSeconds          float64 `json:"cpu_seconds"`
	BrokerCPUSeconds    float64 `json:"broker_cpu_seconds"`
	Output              string  `json:"output"`
}

// javaTool runs a Kafka tool class from the jars in libs and returns its
// standard output, wall time and CPU time. Standard error goes to logPath.
func (b *bench) javaTool(ctx context.Context, logPath, class string, args ...string) (string, float64, float64, error) {
	javaArgs := []string{"-Xmx512m", "-cp", filepath.Join(b.opts.kafkaLibs, "*")}
	if log4j := filepath.Join(filepath.Dir(b.opts.kafkaLibs), "tools-log4j2.properties"); fileExists(log4j) {
		javaArgs = append(javaArgs, "-Dlog4j2.configurationFile="+log4j)
	}
	javaArgs = append(javaArgs, class)
	javaArgs = append(javaArgs, args...)

	logFile, err := os.Create(logPath)
	if err != nil {
		return "", 0, 0, fmt.Errorf("cannot create the log of %s: %w", class, err)
	}
	defer logFile.Close()
	var stdout bytes.Buffer
	cmd := exec.CommandContext(ctx, "java", javaArgs...)
	cmd.Stdout = &stdout
	cmd.Stderr = logFile
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start).Seconds()
	fmt.Fprintf(logFile, "\n--- standard output ---\n%s", stdout.String())
	if err != nil {
		return stdout.String(), wall, 0, fmt.Errorf("%s failed: %w; its output is in %s", class, err, logPath)
	}
	cpu := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	return stdout.String(), wall, cpu, nil
}

// runProducerPerf writes records of recordBytes random bytes to topic with
// ProducerPerformance, unthrottled.
func (b *bench) runProducerPerf(ctx context.Context, topic string, records int64, recordBytes int) (*producerPerf, error) {
	props := append([]string{"bootstrap.servers=" + b.opts.bootstrap}, producerPerfProps...)
	args := []string{
		"--topic", topic,
		"--num-records", strconv.FormatInt(records, 10),
		"--record-size", strconv.Itoa(recordBytes),
		"--throughput", "-1",
		"--producer-props",
	}
	args = append(args, props...)
	brokerBefore := b.brokerCPU()
	out, wall, cpu, err := b.javaTool(ctx, filepath.Join(b.opts.outDir, "producer-perf.log"), producerPerformanceClass, args...)
	if err != nil {
		return nil, err
	}
	p, err := parseProducerPerf(out)
	if err != nil {
		return nil, err
	}
	p.RecordBytes, p.Props, p.WallSeconds, p.CPUSeconds = recordBytes, producerPerfProps, wall, cpu
	p.BrokerCPUSeconds = b.brokerCPU() - brokerBefore
	if p.Records != records {
		return nil, fmt.Errorf("ProducerPerformance sent %d records, want %d; see %s", p.Records, records, filepath.Join(b.opts.outDir, "producer-perf.log"))
	}
	return p, nil
}

// producerSummary matches the last line of ProducerPerformance, for example
// "1000 records sent, 4830.9 records/sec (9.22 MB/sec), 43.84 ms avg latency,
// 181.00 ms max latency, 41 ms 50th, 97 ms 95th, 181 ms 99th, 181 ms 99.9th."
var producerSummary = regexp.MustCompile(`(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th`)

func parseProducerPerf(out string) (*producerPerf, error) {
	m := producerSummary.FindAllStringSubmatch(out, -1)
	if len(m) == 0 {
		return nil, fmt.Errorf("cannot find the summary line of ProducerPerformance in its output:\n%s", out)
	}
	last := m[len(m)-1]
	n := make([]float64, len(last))
	for i := 1; i < len(last); i++ {
		var err error
		if n[i], err = strconv.ParseFloat(last[i], 64); err != nil {
			return nil, fmt.Errorf("invalid number %q in the ProducerPerformance summary %q", last[i], last[0])
		}
	}
	return &producerPerf{
		Records: int64(n[1]), RecordsPerSec: n[2], MBPerSec: n[3],
		AvgLatencyMs: n[4], MaxLatencyMs: n[5], P50LatencyMs: n[6], P99LatencyMs: n[8],
		Output: strings.TrimSpace(last[0]),
	}, nil
}

// runConsumerPerf reads messages from topic with ConsumerPerformance in a
// new consumer group.
func (b *bench) runConsumerPerf(ctx context.Context, topic, group string, messages int64) (*consumerPerf, error) {
	args := []string{
		"--bootstrap-server", b.opts.bootstrap,
		"--topic", topic,
		"--group", group,
		"--messages", strconv.FormatInt(messages, 10),
		"--timeout", "60000",
	}
	brokerBefore := b.brokerCPU()
	out, wall, cpu, err := b.javaTool(ctx, filepath.Join(b.opts.outDir, "consumer-perf.log"), consumerPerformanceClass, args...)
	if err != nil {
		return nil, err
	}
	c, err := parseConsumerPerf(out)
	if err != nil {
		return nil, err
	}
	c.WallSeconds, c.CPUSeconds = wall, cpu
	c.BrokerCPUSeconds = b.brokerCPU() - brokerBefore
	if c.Messages < messages {
		return nil, fmt.Errorf("ConsumerPerformance read %d messages, want %d; see %s", c.Messages, messages, filepath.Join(b.opts.outDir, "consumer-perf.log"))
	}
	return c, nil
}

// parseConsumerPerf reads the CSV output of ConsumerPerformance: a header
// line that starts with "start.time" and one line of values.
func parseConsumerPerf(out string) (*consumerPerf, error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	header := -1
	for i, line := range lines {
		if strings.HasPrefix(strings.TrimSpace(line), "start.time") {
			header = i
		}
	}
	if header < 0 || header+1 >= len(lines) {
		return nil, fmt.Errorf("cannot find the header and values of ConsumerPerformance in its output:\n%s", out)
	}
	names := splitCSV(lines[header])
	values := splitCSV(lines[header+1])
	if len(names) != len(values) {
		return nil, fmt.Errorf("ConsumerPerformance printed %d names and %d values:\n%s", len(names), len(values), out)
	}
	field := map[string]float64{}
	for i, name := range names {
		if v, err := strconv.ParseFloat(values[i], 64); err == nil {
			field[name] = v
		}
	}
	for _, name := range []string{"data.consumed.in.MB", "MB.sec", "data.consumed.in.nMsg", "nMsg.sec", "rebalance.time.ms", "fetch.time.ms", "fetch.nMsg.sec"} {
		if _, ok := field[name]; !ok {
			return nil, fmt.Errorf("ConsumerPerformance printed no numeric %s:\n%s", name, out)
		}
	}
	return &consumerPerf{
		Messages: int64(field["data.consumed.in.nMsg"]), MB: field["data.consumed.in.MB"],
		MessagesPerSec: field["nMsg.sec"], FetchMessagesPerSec: field["fetch.nMsg.sec"], MBPerSec: field["MB.sec"],
		RebalanceMs: field["rebalance.time.ms"], FetchMs: field["fetch.time.ms"],
		Output: lines[header] + "\n" + lines[header+1],
	}, nil
}

func splitCSV(line string) []string {
	parts := strings.Split(line, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
