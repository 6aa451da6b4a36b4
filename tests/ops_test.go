package tests

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"kafka-deduplicator/pipeline"
	"kafka-deduplicator/tests/kafkatest"
)

func headerMap(m kafka.Message) map[string]string {
	headers := map[string]string{}
	for _, h := range m.Headers {
		headers[h.Key] = string(h.Value)
	}
	return headers
}

func TestSideTopicsAndDeadLetter(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := newSetup(t, "side")
	dups, dlq := s.source+"-dups", s.source+"-dlq"
	for _, topic := range []string{dups, dlq} {
		if err := s.cluster.CreateTopic(ctx, topic, partitions); err != nil {
			t.Fatal(err)
		}
	}
	const undecodable = 12
	stream := generate(t, kafkatest.Options{Rounds: 2, DuplicateRate: 0.5, Undecodable: undecodable, Seed: 7, Run: runID})
	var wantOut, wantDead []kafka.Message
	for _, m := range expected(t, stream) {
		if isUndecodable(stream, m) {
			wantDead = append(wantDead, m)
		} else {
			wantOut = append(wantOut, m)
		}
	}
	wantDups := len(stream) - len(wantOut) - len(wantDead)

	s.produceAll(ctx, t, stream)
	p := startProcess(t, "deduplicator", s.config(fmt.Sprintf(
		"duplicates_topic = %q\nundecodable = \"dead-letter\"\ndead_letter_topic = %q\n", dups, dlq)))
	s.waitProcessed(ctx, t)
	p.stop(30 * time.Second)

	if extra := s.checkOutput(ctx, t, wantOut); len(extra) > 0 {
		t.Errorf("output has %d unexpected messages:\n%s", len(extra), kafkatest.Describe(extra, 5))
	}

	gotDead, err := s.cluster.ReadAll(ctx, dlq)
	if err != nil {
		t.Fatal(err)
	}
	if len(gotDead) != undecodable {
		t.Errorf("dead-letter topic holds %d messages, want %d", len(gotDead), undecodable)
	}
	for _, m := range gotDead {
		h := headerMap(m)
		if h[pipeline.HeaderSourceTopic] != s.source || h[pipeline.HeaderSourceOffset] == "" || h[pipeline.HeaderError] == "" || h[pipeline.HeaderReason] == "" {
			t.Errorf("dead-letter message lacks source or error headers: %v", h)
		}
	}

	gotDups, err := s.cluster.ReadAll(ctx, dups)
	if err != nil {
		t.Fatal(err)
	}
	if len(gotDups) != wantDups {
		t.Errorf("duplicates topic holds %d messages, want %d", len(gotDups), wantDups)
	}
	for _, m := range gotDups {
		h := headerMap(m)
		first, err1 := strconv.ParseInt(h[pipeline.HeaderFirstOffset], 10, 64)
		offset, err2 := strconv.ParseInt(h[pipeline.HeaderSourceOffset], 10, 64)
		if err1 != nil || err2 != nil || first >= offset {
			t.Errorf("duplicate headers %v: want a first offset below the duplicate's own offset", h)
		}
		if r := h[pipeline.HeaderReason]; r != "same_uuid" && r != "different_uuid" {
			t.Errorf("duplicate reason = %q, want same_uuid or different_uuid", r)
		}
	}
}

// isUndecodable reports whether m is one of the stream's undecodable messages.
func isUndecodable(stream []kafkatest.Generated, m kafka.Message) bool {
	print := kafkatest.Fingerprint(m)
	for _, g := range stream {
		if g.Kind == kafkatest.KindUndecodable && kafkatest.Fingerprint(g.Message) == print {
			return true
		}
	}
	return false
}

func TestFailOpenForwardsEverything(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := newSetup(t, "failopen")
	stream := generate(t, kafkatest.Options{Rounds: 2, DuplicateRate: 0.5, Undecodable: 3, Seed: 8, Run: runID})

	s.produceAll(ctx, t, stream)
	p := startProcess(t, "deduplicator", strings.Replace(s.config(""), "[pipeline]", "[pipeline]\nfail_open = true", 1))
	s.waitProcessed(ctx, t)
	flag, err := p.metricSum("kafka_deduplicator_fail_open")
	if err != nil {
		t.Fatal(err)
	}
	p.stop(30 * time.Second)

	if flag != 1 {
		t.Errorf("fail_open metric = %v, want 1", flag)
	}
	if extra := s.checkOutput(ctx, t, kafkatest.Messages(stream)); len(extra) > 0 {
		t.Errorf("output has %d unexpected messages", len(extra))
	}
	entries, err := os.ReadDir(s.store)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("store path has %d entries in fail-open mode, want none: no store may be opened", len(entries))
	}
}

// secureEnv reads the file that `KAFKA_SECURE=1 tests/kafka/broker.sh start`
// writes; KAFKA_SECURE_ENV names it.
func secureEnv(t *testing.T) map[string]string {
	t.Helper()
	path := os.Getenv("KAFKA_SECURE_ENV")
	if path == "" {
		t.Skip("KAFKA_SECURE_ENV is not set: start the broker with KAFKA_SECURE=1 (make test does) to run the TLS and SASL tests")
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("cannot read the secure broker settings: %v", err)
	}
	defer f.Close()
	env := map[string]string{}
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		if key, value, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			env[key] = value
		}
	}
	return env
}

func TestSecureConnection(t *testing.T) {
	secure := secureEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	passwordFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(passwordFile, []byte(secure["KAFKA_SASL_PASSWORD"]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, mechanism := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mechanism, func(t *testing.T) {
			s := newSetup(t, "secure-"+strings.ToLower(mechanism))
			stream := generate(t, kafkatest.Options{Rounds: 1, DuplicateRate: 0.5, Seed: 9, Run: runID})
			s.produceAll(ctx, t, stream)

			s.hosts = secure["KAFKA_SASL_SSL_BOOTSTRAP"]
			s.kafkaTables = fmt.Sprintf(`
[kafka.tls]
enabled = true
ca_file = %q
cert_file = %q
key_file = %q
[kafka.sasl]
mechanism = %q
username = %q
password_file = %q
`, secure["KAFKA_TLS_CA_FILE"], secure["KAFKA_TLS_CERT_FILE"], secure["KAFKA_TLS_KEY_FILE"],
				mechanism, secure["KAFKA_SASL_USER"], passwordFile)
			config := s.config("")

			p := startProcess(t, "deduplicator", config)
			s.waitProcessed(ctx, t)
			p.stop(30 * time.Second)
			if extra := s.checkOutput(ctx, t, expected(t, stream)); len(extra) > 0 {
				t.Errorf("output has %d unexpected messages", len(extra))
			}
		})
	}

	t.Run("wrong password", func(t *testing.T) {
		s := newSetup(t, "secure-wrong")
		config := fmt.Sprintf(`
[kafka]
hosts = [%q]
[kafka.tls]
enabled = true
ca_file = %q
[kafka.sasl]
mechanism = "SCRAM-SHA-512"
username = %q
password = "not-the-password"
[store]
path = %q
[[topics]]
source = %q
output = %q
`, secure["KAFKA_SASL_SSL_BOOTSTRAP"], secure["KAFKA_TLS_CA_FILE"], secure["KAFKA_SASL_USER"], s.store, s.source, s.output)
		started := time.Now()
		p := startProcess(t, "deduplicator with a wrong password", config)
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			t.Fatal("the deduplicator kept running with a wrong password, want a fast exit")
		}
		t.Logf("exited after %v with %v", time.Since(started).Round(time.Millisecond), p.err)
		if p.err == nil {
			t.Error("exit status 0 with a wrong password, want a failure")
		}
		log := p.log()
		if !strings.Contains(log, "SASL Authentication failed") || !strings.Contains(log, "kafka.sasl") {
			t.Errorf("log does not explain the authentication failure:\n%s", log)
		}
		if n := strings.Count(log, "SASL Authentication failed"); n > 2 {
			t.Errorf("the failure was logged %d times, want one attempt and no retries", n)
		}
	})
}

func TestShutdownUnderLoad(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := newSetup(t, "shutdown")
	stream := generate(t, kafkatest.Options{Rounds: 300, DuplicateRate: 0.2, Seed: 10, Run: runID})
	want := expected(t, stream)
	s.produceAll(ctx, t, stream)

	const shutdownTimeout = 10 * time.Second // pipeline.shutdown_timeout in s.config
	p := startProcess(t, "loaded run", s.config(""))
	waitMetric(ctx, t, p, "kafka_deduplicator_messages_consumed_total", 2000)

	signaled := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Readiness must fail while the process drains, before it exits.
	sawNotReady := false
	for exited := false; !exited; {
		resp, err := http.Get("http://" + p.metrics + "/_readiness")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable {
				sawNotReady = true
			}
		}
		select {
		case <-p.exited:
			exited = true
		case <-time.After(5 * time.Millisecond):
			if time.Since(signaled) > shutdownTimeout+15*time.Second {
				t.Fatalf("no exit within %v of SIGTERM", shutdownTimeout+15*time.Second)
			}
		}
	}
	if !sawNotReady {
		t.Error("readiness never answered 503 between SIGTERM and exit")
	}
	t.Logf("exited %v after SIGTERM with %v", time.Since(signaled).Round(time.Millisecond), p.err)
	if p.err != nil {
		t.Fatalf("exit status %v after SIGTERM, want 0", p.err)
	}

	second := startProcess(t, "run after shutdown", s.config(""))
	s.waitProcessed(ctx, t)
	second.stop(30 * time.Second)
	if extra := s.checkOutput(ctx, t, want); len(extra) > 0 {
		t.Errorf("a graceful shutdown under load duplicated %d messages", len(extra))
	}
}

// brokerPID reads the pid file that tests/kafka/broker.sh writes.
func brokerPID(t *testing.T) int {
	t.Helper()
	path := os.Getenv("KAFKA_BROKER_PID_FILE")
	if path == "" {
		home, _ := os.UserHomeDir()
		port := strings.TrimPrefix(kafkatest.Bootstrap(), "127.0.0.1:")
		path = filepath.Join(home, ".cache", "kafka-deduplicator", "broker-"+port, "broker.pid")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("cannot read the broker's pid file (set KAFKA_BROKER_PID_FILE): %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("invalid broker pid file %s: %v", path, err)
	}
	return pid
}

func TestBrokerPauseAndResume(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s := newSetup(t, "pause")
	stream := generate(t, kafkatest.Options{Rounds: 100, DuplicateRate: 0.3, Seed: 11, Run: runID})
	want := expected(t, stream)
	pid := brokerPID(t)

	producerDone, written := s.produceSlowly(ctx, stream, 6*time.Second)
	p := startProcess(t, "deduplicator", s.config(""))
	waitWritten(ctx, t, written, len(stream)/3)

	// Freeze the broker for longer than the session timeout (10s): clients
	// time out, the group expires the member, and everything must recover.
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("cannot pause the broker: %v", err)
	}
	resumed := false
	defer func() {
		if !resumed {
			syscall.Kill(pid, syscall.SIGCONT)
		}
	}()
	time.Sleep(15 * time.Second)
	p.requireRunning("while the broker was away")
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatalf("cannot resume the broker: %v", err)
	}
	resumed = true
	s.drainAndStop(ctx, t, producerDone, p)

	extra := s.checkOutput(ctx, t, want)
	t.Logf("broker paused 15s: %d duplicates in the output", len(extra))
	assertOnlyRepeats(t, extra, want)
}

func TestUnwritableStoreDirectory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := newSetup(t, "badstore")
	// A regular file where the store directory should be: no user, root
	// included, can create directories below it.
	blocker := filepath.Join(s.store, "not-a-directory")
	if err := os.WriteFile(blocker, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.store = filepath.Join(blocker, "stores")
	stream := generate(t, kafkatest.Options{Rounds: 1, Seed: 12, Run: runID})
	s.produceAll(ctx, t, stream)

	p := startProcess(t, "deduplicator", s.config(""))
	time.Sleep(12 * time.Second)
	p.requireRunning("on a store error")
	if !strings.Contains(p.log(), "cannot create store directory "+s.store) {
		t.Errorf("log does not name the store directory error:\n%s", p.log())
	}
	committed, err := s.cluster.CommittedOffsets(ctx, s.group, s.source, partitions)
	if err != nil {
		t.Fatal(err)
	}
	if len(committed) != 0 {
		t.Errorf("committed offsets %v without a store, want none", committed)
	}
	resp, err := http.Get("http://" + p.metrics + "/_readiness")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Error("readiness passed without stores, want 503")
	}
	p.stop(30 * time.Second)
}

// waitMetric waits until the sum of a metric reaches at least min.
func waitMetric(ctx context.Context, t *testing.T, p *process, prefix string, min float64) {
	t.Helper()
	for {
		if v, err := p.metricSum(prefix); err == nil && v >= min {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s did not reach %v", prefix, min)
		case <-p.exited:
			t.Fatalf("%s exited: %v", p.name, p.err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// log returns what the process has written so far.
func (p *process) log() string {
	data, _ := os.ReadFile(p.logPath)
	return string(data)
}

func TestFullStoreDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs for the store needs root")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := newSetup(t, "fullstore")
	// A 512 KiB file system is below the default free-space reserve of
	// 64 MiB, so no batch may be stored there.
	mountPoint := filepath.Join(s.store, "small")
	if err := os.Mkdir(mountPoint, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", mountPoint).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mountPoint).Run() })
	s.store = filepath.Join(mountPoint, "stores")
	stream := generate(t, kafkatest.Options{Rounds: 100, Seed: 13, Run: runID})
	s.produceAll(ctx, t, stream)

	p := startProcess(t, "deduplicator", s.config(""))
	time.Sleep(15 * time.Second)
	p.requireRunning("on a full disk")
	if log := p.log(); !strings.Contains(log, "not enough free disk space") || !strings.Contains(log, s.store) {
		t.Errorf("log does not say that the store's disk is full:\n%s", log)
	}
	// Batches stored before the disk filled may be committed, the rest not.
	if left := s.uncommitted(ctx, t); left == 0 {
		t.Error("every offset was committed although the store's disk is full")
	} else {
		t.Logf("%d of %d messages left uncommitted on a full disk", left, len(stream))
	}
	p.stop(30 * time.Second)
}
