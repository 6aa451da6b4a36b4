// Command kafka-deduplicator consumes events from Kafka topics, drops
// duplicates using one RocksDB store per partition, and writes the unique
// events to output topics.
//
// Usage:
//
//	kafka-deduplicator -config config.toml
//	kafka-deduplicator -config config.toml -check-config
//	kafka-deduplicator -version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"

	"kafka-deduplicator/pipeline"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process exit, so it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("kafka-deduplicator", flag.ContinueOnError)
	flags.SetOutput(stderr)
	configPath := flags.String("config", "", "path of the TOML configuration file (optional: without it, defaults and environment variables apply)")
	checkConfig := flags.Bool("check-config", false, "validate the configuration, print the effective configuration and exit")
	showVersion := flags.Bool("version", false, "print the version and exit")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected arguments %q; run with -h for usage\n", flags.Args())
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, "kafka-deduplicator", version)
		return 0
	}

	cfg, err := pipeline.LoadConfig(*configPath, os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "kafka-deduplicator: invalid configuration:\n%v\n", err)
		return 2
	}
	if *checkConfig {
		if err := toml.NewEncoder(stdout).Encode(cfg.Redacted()); err != nil {
			fmt.Fprintf(stderr, "cannot print configuration: %v\n", err)
			return 1
		}
		return 0
	}

	log := newLogger(cfg.Log, stderr)
	log.Info("starting", "version", version, "config", cfg.Redacted())

	metrics := pipeline.NewMetrics()
	service, err := pipeline.NewService(cfg, log, metrics)
	if err != nil {
		log.Error("cannot start", "error", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, func() { log.Info("shutdown requested: stopping fetch, draining and committing") })

	started := time.Now()
	err = service.Run(ctx)
	totals := metrics.Totals()
	log.Info("stopped",
		"uptime", time.Since(started).Round(time.Millisecond),
		"consumed", totals.Consumed, "produced", totals.Produced, "duplicates", totals.Duplicates,
		"undecodable", totals.Undecodable, "replayed", totals.Replayed, "uuid_fallback", totals.UUIDFallback)
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Error("stopped with an error", "error", err)
		return 1
	}
	return 0
}

func newLogger(cfg pipeline.LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	// Validate has already checked the level name.
	_ = level.UnmarshalText([]byte(cfg.Level))
	options := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, options))
	}
	return slog.New(slog.NewTextHandler(w, options))
}
