package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
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

	mu      sync.Mutex
	runners []*pairRunner // guarded by mu
	// connectingSince is when Run started to reach the brokers, or zero once
	// a metadata request succeeded. Guarded by mu.
	connectingSince time.Time
	joined          map[string]bool // by source topic: the pair's lanes are running; guarded by mu
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
// returns nil. It returns an error when the brokers reject the credentials
// or certificates, a pair cannot run at all, or the metrics listener cannot
// start.
func (s *Service) Run(ctx context.Context) error {
	conn, err := newConnection(s.cfg.Kafka)
	if err != nil {
		return err
	}
	inflight := semaphore.NewWeighted(int64(s.cfg.Pipeline.MaxInFlightMessages))
	if s.cfg.Pipeline.FailOpen {
		s.metrics.failOpen.Set(1)
		s.log.Warn("FAIL-OPEN MODE: every message is forwarded without deduplication and the stores are not opened; " +
			"set pipeline.fail_open = false once the stores are healthy")
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if s.cfg.Metrics.Listen != "off" {
		listener, err := net.Listen("tcp", s.cfg.Metrics.Listen)
		if err != nil {
			return fmt.Errorf("cannot listen on metrics.listen %q: %w; pick a free address or \"off\"", s.cfg.Metrics.Listen, err)
		}
		s.log.Info("serving metrics and health checks", "address", listener.Addr().String())
		server := &http.Server{Handler: s.httpHandler(), ReadHeaderTimeout: 5 * time.Second}
		served := make(chan struct{})
		go func() {
			defer close(served)
			if err := server.Serve(listener); !errors.Is(err, http.ErrServerClosed) {
				cancel(fmt.Errorf("metrics server on %s stopped: %w", listener.Addr(), err))
			}
		}()
		// Readiness fails as soon as shutdown begins; the server itself
		// stays up until every pair has drained.
		context.AfterFunc(ctx, s.setStopping)
		defer func() {
			shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancelShutdown()
			server.Shutdown(shutdownCtx)
			<-served
		}()
	}

	// Fail fast on credentials and certificates before joining any group.
	s.mu.Lock()
	s.connectingSince = time.Now()
	s.mu.Unlock()
	if err := checkBrokers(ctx, s.cfg.Kafka, conn, s.metrics.limitedLogger(s.log, 10*time.Second, 3)); err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return err
	}

	s.mu.Lock()
	s.connectingSince = time.Time{}
	s.mu.Unlock()

	g, ctx := errgroup.WithContext(ctx)

	for _, t := range s.cfg.Topics {
		decoder, err := newDecoder(t)
		if err != nil {
			return err
		}
		if t.Output == "" {
			s.log.Warn("COUNT-ONLY PAIR: events are deduplicated and counted and their offsets committed, but nothing is written; "+
				"set the pair's output topic (or OUTPUT_TOPIC) to forward them", "source_topic", t.Source, "group", t.Group)
		}
		runner := &pairRunner{
			cfg:        s.cfg,
			topic:      t,
			decoder:    decoder,
			conn:       conn,
			inflight:   inflight,
			metrics:    s.metrics,
			group:      s.metrics.group(t.Source),
			log:        s.log.With("source_topic", t.Source),
			output:     s.newSink(t.Output, conn),
			duplicates: s.newSink(t.DuplicatesTopic, conn),
			deadLetter: s.newSink(t.DeadLetterTopic, conn),
			ready:      func(joined bool) { s.setJoined(t.Source, joined) },
			idleSince:  time.Now(),
		}
		s.mu.Lock()
		s.runners = append(s.runners, runner)
		s.mu.Unlock()
		g.Go(func() error {
			defer runner.closeSinks()
			return runner.run(ctx)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return nil
}

// newSink returns a sink that writes to topic, or one with a nil producer
// when topic is empty.
func (s *Service) newSink(topic string, conn *connection) sink {
	if topic == "" {
		return sink{}
	}
	return sink{topic: topic, producer: &kafka.Writer{
		Addr:         kafka.TCP(s.cfg.Kafka.Hosts...),
		Topic:        topic,
		Balancer:     &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll,
		// Each lane writes a whole batch in one call; a short timeout
		// flushes the last partial client batch without waiting.
		BatchSize:    s.cfg.Pipeline.BatchSize,
		BatchTimeout: time.Millisecond,
		MaxAttempts:  3,
		Transport:    conn.transport,
		ErrorLogger:  kafkaLogger(s.metrics.limitedLogger(s.log.With("to_topic", topic), 10*time.Second, 3)),
	}}
}

func (p *pairRunner) closeSinks() {
	for _, sk := range []sink{p.output, p.duplicates, p.deadLetter} {
		if w, ok := sk.producer.(*kafka.Writer); ok {
			if err := w.Close(); err != nil {
				p.log.Error("cannot close writer", "to_topic", sk.topic, "error", err)
			}
		}
	}
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
	if s.cfg.Metrics.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("/_liveness", func(w http.ResponseWriter, _ *http.Request) {
		if err := s.Live(time.Now()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}

// Live returns an error naming what is stuck when the service has stopped
// making progress for longer than metrics.liveness_timeout:
//   - a lane has held fetched messages without finishing a batch (a produce
//     that never succeeds, a store call that never returns), or
//   - a topic pair has had no running lanes (it cannot join its group, or
//     cannot open its stores), or
//   - no metadata request to the brokers has succeeded since the start.
//
// An idle lane, with nothing fetched, is live, and so is a member that the
// group assigned no partitions.
func (s *Service) Live(now time.Time) error {
	s.mu.Lock()
	runners := slices.Clone(s.runners)
	connectingSince := s.connectingSince
	s.mu.Unlock()
	limit := time.Duration(s.cfg.Metrics.LivenessTimeout)
	if !connectingSince.IsZero() && now.Sub(connectingSince) > limit {
		return fmt.Errorf("no metadata request to the brokers %v has succeeded for %v", s.cfg.Kafka.Hosts, now.Sub(connectingSince).Round(time.Second))
	}
	for _, r := range runners {
		if l, stalled := r.stalledLane(now); l != nil && stalled > limit {
			return fmt.Errorf("topic %s partition %d has made no progress for %v with %d messages in flight",
				l.topic, l.partition, stalled.Round(time.Second), l.held.Load())
		}
		if idle := r.idleFor(now); idle > limit {
			return fmt.Errorf("topic %s has had no running lanes for %v: see the log for group join and store errors",
				r.topic.Source, idle.Round(time.Second))
		}
	}
	return nil
}
