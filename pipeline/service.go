package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"kafka-deduplicator/stages"
)

// Service runs every configured topic pair in one process.
type Service struct {
	cfg     *Config
	log     *slog.Logger
	metrics *Metrics

	mu     sync.Mutex
	joined map[string]bool // by source topic: the pair's lanes are running; guarded by mu
	// stopping is set once shutdown begins, so readiness fails first.
	stopping bool // guarded by mu
}

// NewService checks that every pair's format can be built and returns a
// service ready to Run.
func NewService(cfg *Config, log *slog.Logger, metrics *Metrics) (*Service, error) {
	for _, t := range cfg.Topics {
		if _, err := newDecoder(t); err != nil {
			return nil, err
		}
	}
	return &Service{cfg: cfg, log: log, metrics: metrics, joined: map[string]bool{}}, nil
}

func newDecoder(t TopicConfig) (stages.Decoder, error) {
	d, err := stages.NewDecoder(stages.FormatConfig{Format: t.Format, KeyFields: t.KeyFields})
	if err != nil {
		return nil, fmt.Errorf("invalid format of topic pair with source %q: %w", t.Source, err)
	}
	return d, nil
}

// Run consumes until ctx ends, then drains, commits, closes the stores and
// returns nil. It returns an error when a pair cannot run at all or the
// metrics listener cannot start.
func (s *Service) Run(ctx context.Context) error {
	dialer := &kafka.Dialer{
		ClientID:  s.cfg.Kafka.ClientID,
		Timeout:   time.Duration(s.cfg.Kafka.DialTimeout),
		DualStack: true,
	}
	transport := &kafka.Transport{
		ClientID:    s.cfg.Kafka.ClientID,
		DialTimeout: time.Duration(s.cfg.Kafka.DialTimeout),
	}
	inflight := semaphore.NewWeighted(int64(s.cfg.Pipeline.MaxInFlightMessages))

	g, ctx := errgroup.WithContext(ctx)
	if s.cfg.Metrics.Listen != "off" {
		listener, err := net.Listen("tcp", s.cfg.Metrics.Listen)
		if err != nil {
			return fmt.Errorf("cannot listen on metrics.listen %q: %w; pick a free address or \"off\"", s.cfg.Metrics.Listen, err)
		}
		s.log.Info("serving metrics and health checks", "address", listener.Addr().String())
		server := &http.Server{Handler: s.httpHandler(), ReadHeaderTimeout: 5 * time.Second}
		g.Go(func() error {
			if err := server.Serve(listener); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("metrics server on %s stopped: %w", listener.Addr(), err)
			}
			return nil
		})
		context.AfterFunc(ctx, func() {
			s.setStopping()
			shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			server.Shutdown(shutdownCtx)
		})
	}

	for _, t := range s.cfg.Topics {
		decoder, err := newDecoder(t)
		if err != nil {
			return err
		}
		runner := &pairRunner{
			cfg:      s.cfg,
			topic:    t,
			decoder:  decoder,
			dialer:   dialer,
			inflight: inflight,
			metrics:  s.metrics,
			log:      s.log.With("source_topic", t.Source),
			ready:    func(joined bool) { s.setJoined(t.Source, joined) },
		}
		if t.Output != "" {
			runner.writer = &kafka.Writer{
				Addr:         kafka.TCP(s.cfg.Kafka.Hosts...),
				Topic:        t.Output,
				Balancer:     &kafka.Murmur2Balancer{},
				RequiredAcks: kafka.RequireAll,
				// Each lane writes a whole batch in one call; a short timeout
				// flushes the last partial client batch without waiting.
				BatchSize:    s.cfg.Pipeline.BatchSize,
				BatchTimeout: time.Millisecond,
				MaxAttempts:  3,
				Transport:    transport,
				ErrorLogger:  kafkaLogger(newRateLimitedLogger(s.log.With("output_topic", t.Output), 10*time.Second, 3)),
			}
		}
		g.Go(func() error {
			defer func() {
				if runner.writer != nil {
					if err := runner.writer.Close(); err != nil {
						runner.log.Error("cannot close output writer", "output_topic", t.Output, "error", err)
					}
				}
			}()
			return runner.run(ctx)
		})
	}
	return g.Wait()
}

func (s *Service) setJoined(source string, joined bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.joined[source] = joined
}

func (s *Service) setStopping() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopping = true
}

// Ready reports whether every pair has joined its group and opened its
// stores, and shutdown has not begun.
func (s *Service) Ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return false
	}
	for _, t := range s.cfg.Topics {
		if !s.joined[t.Source] {
			return false
		}
	}
	return true
}

func (s *Service) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		s.metrics.Set.WritePrometheus(w)
	})
	mux.HandleFunc("/_readiness", func(w http.ResponseWriter, _ *http.Request) {
		if !s.Ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	// NOTE: liveness only says the process serves HTTP; it does not yet
	// detect a lane that stopped making progress.
	mux.HandleFunc("/_liveness", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	return mux
}
