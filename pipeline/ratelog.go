package pipeline

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// rateLimitedLogger writes at most burst records per interval and counts the
// rest; the next record written reports how many were suppressed. It is safe
// for concurrent use.
type rateLimitedLogger struct {
	log      *slog.Logger
	interval time.Duration
	burst    int
	// dropped counts the records not written; nil means uncounted.
	dropped *metrics.Counter

	mu          sync.Mutex
	windowStart time.Time // guarded by mu
	written     int       // records written in the current window; guarded by mu
	suppressed  int       // records dropped since the last one written; guarded by mu
}

func newRateLimitedLogger(log *slog.Logger, interval time.Duration, burst int) *rateLimitedLogger {
	return &rateLimitedLogger{log: log, interval: interval, burst: burst}
}

// limitedLogger returns a logger that writes at most burst records per
// interval and counts the rest in the suppressed-log metric.
func (m *Metrics) limitedLogger(log *slog.Logger, interval time.Duration, burst int) *rateLimitedLogger {
	r := newRateLimitedLogger(log, interval, burst)
	r.dropped = m.suppressedLogs
	return r
}

// Warn logs at warn level unless the limit is reached.
func (r *rateLimitedLogger) Warn(msg string, args ...any) { r.write(slog.LevelWarn, msg, args) }

// Error logs at error level unless the limit is reached.
func (r *rateLimitedLogger) Error(msg string, args ...any) { r.write(slog.LevelError, msg, args) }

func (r *rateLimitedLogger) write(level slog.Level, msg string, args []any) {
	r.mu.Lock()
	now := time.Now()
	if now.Sub(r.windowStart) >= r.interval {
		r.windowStart = now
		r.written = 0
	}
	if r.written >= r.burst {
		r.suppressed++
		r.mu.Unlock()
		if r.dropped != nil {
			r.dropped.Inc()
		}
		return
	}
	r.written++
	suppressed := r.suppressed
	r.suppressed = 0
	r.mu.Unlock()

	if suppressed > 0 {
		args = append(args, "suppressed_since_last", suppressed)
	}
	r.log.Log(context.Background(), level, msg, args...)
}
