package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"
)

// exportedScrape returns what a VictoriaMetrics set with the given
// histogram observations and counters writes to /metrics.
func exportedScrape(t *testing.T, observations map[string][]float64, counters map[string]uint64) scrape {
	t.Helper()
	set := metrics.NewSet()
	for name, values := range observations {
		h := set.NewHistogram(name)
		for _, v := range values {
			h.Update(v)
		}
	}
	for name, v := range counters {
		set.NewCounter(name).Set(v)
	}
	var buf bytes.Buffer
	set.WritePrometheus(&buf)
	s, err := parseScrape(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestQuantileOfExportedHistogram(t *testing.T) {
	// 1 ms to 1 s in 1 ms steps, split over two label sets that the
	// histogram must sum.
	var a, b []float64
	for i := 1; i <= 1000; i++ {
		if i%2 == 0 {
			a = append(a, float64(i)/1000)
		} else {
			b = append(b, float64(i)/1000)
		}
	}
	s := exportedScrape(t, map[string][]float64{
		metricEndToEnd + `{topic="a"}`: a,
		metricEndToEnd + `{topic="b"}`: b,
	}, nil)
	buckets, err := s.histogram(metricEndToEnd)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.sum(metricEndToEnd + "_count"); got != 1000 {
		t.Errorf("count = %v, want 1000", got)
	}
	for _, tt := range []struct{ q, want float64 }{{0.5, 0.5}, {0.99, 0.99}, {0.1, 0.1}} {
		got := quantile(buckets, tt.q)
		if math.Abs(got-tt.want)/tt.want > 0.13 {
			t.Errorf("quantile(%v) = %v, want %v within 13%%", tt.q, got, tt.want)
		}
	}
}

func TestQuantileWithoutObservations(t *testing.T) {
	if got := quantile(nil, 0.5); got != 0 {
		t.Errorf("quantile of no buckets = %v, want 0", got)
	}
	if got := quantile([]bucket{{lower: 1, upper: 2}}, 0.5); got != 0 {
		t.Errorf("quantile of empty buckets = %v, want 0", got)
	}
}

func TestQuantileInLastOpenBucket(t *testing.T) {
	buckets := []bucket{{lower: 1, upper: 2, count: 1}, {lower: 1e18, upper: math.Inf(1), count: 1}}
	if got := quantile(buckets, 0.99); got != 1e18 {
		t.Errorf("quantile(0.99) = %v, want the open bucket's lower bound 1e18", got)
	}
}

func TestScrapeSumsCounters(t *testing.T) {
	s := exportedScrape(t, nil, map[string]uint64{
		metricConsumed + `{topic="t",partition="0"}`: 5,
		metricConsumed + `{topic="t",partition="1"}`: 7,
		metricProduced + `{topic="t",partition="0"}`: 3,
	})
	if got := s.sum(metricConsumed); got != 12 {
		t.Errorf("consumed = %v, want 12", got)
	}
	if got := s.sum(metricProduced); got != 3 {
		t.Errorf("produced = %v, want 3", got)
	}
	if got := s.sum(metricDropped); got != 0 {
		t.Errorf("dropped = %v, want 0 for a missing metric", got)
	}
}

func TestHistogramRejectsBadRange(t *testing.T) {
	s, err := parseScrape(strings.NewReader(metricEndToEnd + `_bucket{vmrange="1.0e-3"} 4` + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.histogram(metricEndToEnd); err == nil {
		t.Error("histogram with vmrange without '...' = nil error, want an error")
	}
}

func TestParseStatCPU(t *testing.T) {
	fields := "S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0 100"
	tests := []struct {
		name    string
		stat    string
		want    float64
		wantErr bool
	}{
		{"plain name", "123 (kafka-dedup) " + fields, 3, false},
		{"name with spaces and parens", "123 (a) b (c) " + fields, 3, false},
		{"no closing paren", "123 (kafka " + fields, 0, true},
		{"too few fields", "123 (x) S 1 2", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tt.stat), 100)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseStatCPU error = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("parseStatCPU = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestProcReadsOwnProcess(t *testing.T) {
	// Burn a little CPU so the reading cannot be zero at 100 ticks per second.
	x := 0
	for i := range 50_000_000 {
		x += i % 7
	}
	cpu, err := procCPUSeconds(os.Getpid(), clockTicks())
	if err != nil {
		t.Fatal(err)
	}
	if cpu <= 0 || x == 0 {
		t.Errorf("own CPU time = %v s, want more than 0", cpu)
	}
	rss, err := procPeakRSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if rss < 1<<20 {
		t.Errorf("own peak RSS = %d bytes, want at least 1 MiB", rss)
	}
}

func TestParseStatusKB(t *testing.T) {
	status := "Name:\tbench\nVmPeak:\t  2000 kB\nVmHWM:\t    1500 kB\n"
	got, err := parseStatusKB([]byte(status), "VmHWM")
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(1500 * 1024); got != want {
		t.Errorf("VmHWM = %d, want %d", got, want)
	}
	if _, err := parseStatusKB([]byte(status), "VmRSS"); err == nil {
		t.Error("missing VmRSS = nil error, want an error")
	}
}

func TestParseProducerPerf(t *testing.T) {
	out := "7293 records sent, 1456.3 records/sec (3.25 MB/sec), 42.1 ms avg latency, 1763.0 ms max latency.\n" +
		"20000 records sent, 2891.4 records/sec (6.45 MB/sec), 26.80 ms avg latency, 1763.00 ms max latency, 18 ms 50th, 83 ms 95th, 186 ms 99th, 323 ms 99.9th.\n"
	got, err := parseProducerPerf(out)
	if err != nil {
		t.Fatal(err)
	}
	want := producerPerf{Records: 20000, RecordsPerSec: 2891.4, MBPerSec: 6.45, AvgLatencyMs: 26.8, MaxLatencyMs: 1763, P50LatencyMs: 18, P99LatencyMs: 186}
	got.Output = ""
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("parseProducerPerf = %+v, want %+v", *got, want)
	}
	if _, err := parseProducerPerf("7293 records sent, 1456.3 records/sec (3.25 MB/sec), 42.1 ms avg latency, 1763.0 ms max latency.\n"); err == nil {
		t.Error("output without a final summary = nil error, want an error")
	}
}

func TestParseConsumerPerf(t *testing.T) {
	out := "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec\n" +
		"2026-12-04 20:51:45:439, 2026-12-04 20:51:48:628, 46.3553, 14.5360, 20000, 6271.5585, 1258, 1931, 24.0059, 10357.3278\n"
	got, err := parseConsumerPerf(out)
	if err != nil {
		t.Fatal(err)
	}
	if got.Messages != 20000 || got.MessagesPerSec != 6271.5585 || got.FetchMessagesPerSec != 10357.3278 ||
		got.RebalanceMs != 1258 || got.FetchMs != 1931 || got.MB != 46.3553 || got.MBPerSec != 14.536 {
		t.Errorf("parseConsumerPerf = %+v, want the numbers of the values line", *got)
	}
	if _, err := parseConsumerPerf("WARN something\n"); err == nil {
		t.Error("output without a header = nil error, want an error")
	}
	if _, err := parseConsumerPerf(strings.SplitN(out, "\n", 2)[0] + "\n1, 2\n"); err == nil {
		t.Error("values line shorter than the header = nil error, want an error")
	}
}

func TestWithoutConfigEnv(t *testing.T) {
	env := []string{"PATH=/bin", "KAFKA_HOSTS=10.0.0.1:9092", "STORE_PATH=/x", "KAFKA_PORT=49092", "OUTPUT_TOPIC=o"}
	got := withoutConfigEnv(env)
	want := []string{"PATH=/bin", "KAFKA_PORT=49092"}
	if !slices.Equal(got, want) {
		t.Errorf("withoutConfigEnv = %v, want %v", got, want)
	}
	if env[1] != "KAFKA_HOSTS=10.0.0.1:9092" {
		t.Errorf("withoutConfigEnv changed its input: %v", env)
	}
}

func TestHumanCount(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{10_000_000, "10M"}, {1_500_000, "1.5M"}, {1_000_000, "1M"}, {200_000, "200k"}, {999, "999"},
	}
	for _, tt := range tests {
		if got := humanCount(tt.n); got != tt.want {
			t.Errorf("humanCount(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestDiskUsageCountsAllocatedBlocks(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/data", bytes.Repeat([]byte{1}, 100<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	// A sparse file like Kafka's preallocated indexes: 10 MiB long, no data.
	sparse, err := os.Create(dir + "/sparse")
	if err != nil {
		t.Fatal(err)
	}
	if err := sparse.Truncate(10 << 20); err != nil {
		t.Fatal(err)
	}
	sparse.Close()

	got, err := diskUsage(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got < 100<<10 {
		t.Errorf("diskUsage = %d bytes, want at least the 102400 bytes written", got)
	}
	if got > 1<<20 {
		t.Errorf("diskUsage = %d bytes, want less than 1 MiB: a sparse file takes no blocks", got)
	}
}

func TestDiskUsageMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "absent")
	if got, err := diskUsage(dir); err == nil {
		t.Errorf("diskUsage(%s) = %d, nil; want an error for a missing directory", dir, got)
	}
}
