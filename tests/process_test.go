package tests

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"kafka-deduplicator/tests/kafkatest"
)

// binary is the deduplicator built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kafka-deduplicator-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "kafka-deduplicator")
	build := exec.Command("go", "build", "-o", binary, "..")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "cannot build the deduplicator:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// process is one running deduplicator.
type process struct {
	t       *testing.T
	name    string
	cmd     *exec.Cmd
	logPath string
	metrics string // host:port of its metrics server
	exited  chan struct{}
	err     error // exit status; set before exited is closed
}

// startProcess runs the deduplicator with the given config text (the metrics
// listen address is appended). Its log goes to a file that is printed when
// the test fails.
func startProcess(t *testing.T, name, configText string) *process {
	t.Helper()
	dir := t.TempDir()
	metricsAddr, err := kafkatest.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	configText += fmt.Sprintf("\n[metrics]\nlisten = %q\n", metricsAddr)
	configPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(configPath, []byte(configText), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "deduplicator.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(binary, "-config", configPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = cleanEnv()
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start the deduplicator: %v", err)
	}
	p := &process{t: t, name: name, cmd: cmd, logPath: logPath, metrics: metricsAddr, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			p.dumpLog()
		}
	})
	return p
}

// cleanEnv drops the variables that would override the test's config file.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "KAFKA_HOSTS", "KAFKA_CONSUMER_GROUP", "KAFKA_CONSUMER_TOPIC", "OUTPUT_TOPIC",
			"MAX_IN_FLIGHT_MESSAGES", "STORE_PATH", "MAX_STORE_CAPACITY":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// requireRunning fails the test if the process has exited. when names the
// condition it ran under, as in "on a full disk".
func (p *process) requireRunning(when string) {
	p.t.Helper()
	select {
	case <-p.exited:
		p.t.Fatalf("%s exited %s, want it to stay up and retry: %v", p.name, when, p.err)
	default:
	}
}

func (p *process) dumpLog() {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	// A crash prints a goroutine dump that hides its cause: keep the cause.
	for i, line := range lines {
		if strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ") || strings.HasPrefix(line, "SIG") {
			p.t.Logf("%s crashed:\n%s", p.name, strings.Join(lines[max(i-5, 0):min(i+15, len(lines))], "\n"))
			break
		}
	}
	if len(lines) > 80 {
		lines = append([]string{fmt.Sprintf("... %d earlier lines", len(lines)-80)}, lines[len(lines)-80:]...)
	}
	p.t.Logf("log of %s:\n%s", p.name, strings.Join(lines, "\n"))
}

// stop sends SIGTERM and requires exit status 0 within the timeout.
func (p *process) stop(timeout time.Duration) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("cannot signal %s: %v", p.name, err)
	}
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.t.Fatalf("%s did not exit within %v of SIGTERM", p.name, timeout)
	}
	if p.err != nil {
		p.t.Fatalf("%s exited with %v after SIGTERM, want status 0", p.name, p.err)
	}
}

// kill sends SIGKILL and waits for the process to end.
func (p *process) kill() {
	p.t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		p.t.Fatalf("cannot kill %s: %v", p.name, err)
	}
	<-p.exited
}

// waitReady waits until the readiness check passes.
func (p *process) waitReady(ctx context.Context) {
	p.t.Helper()
	for {
		resp, err := http.Get("http://" + p.metrics + "/_readiness")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-p.exited:
			p.t.Fatalf("%s exited before it was ready: %v", p.name, p.err)
		case <-ctx.Done():
			p.t.Fatalf("%s was not ready in time", p.name)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// metricSum scrapes /metrics and sums every sample whose name and labels
// start with prefix.
func (p *process) metricSum(prefix string) (float64, error) {
	resp, err := http.Get("http://" + p.metrics + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return sumSamples(resp.Body, prefix)
}

func sumSamples(r io.Reader, prefix string) (float64, error) {
	var sum float64
	scanner := bufio.NewScanner(r)
	for scanner.Scan() {
		line := scanner.Text()
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		fields := strings.Fields(line)
		value, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("cannot parse metric line %q: %w", line, err)
		}
		sum += value
	}
	return sum, scanner.Err()
}
