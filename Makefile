# Build, test and demo commands. `make test` and `make demo` do all set-up on
# a fresh Debian machine: librocksdb-dev from apt, Kafka jars from Maven
# Central (cached in ~/.cache/kafka-deduplicator), and a local broker on
# 127.0.0.1 that is stopped again when they finish.

GO          ?= go
BROKER      := tests/kafka/broker.sh
export KAFKA_PORT      ?= 19092
export KAFKA_BOOTSTRAP ?= 127.0.0.1:$(KAFKA_PORT)
KDD_CACHE   ?= $(HOME)/.cache/kafka-deduplicator
# Written by `KAFKA_SECURE=1 broker.sh start`: the SASL_SSL listener's address,
# certificates and credentials, read by the TLS and SASL tests.
export KAFKA_SECURE_ENV      ?= $(KDD_CACHE)/broker-$(KAFKA_PORT)/secure.env
export KAFKA_BROKER_PID_FILE ?= $(KDD_CACHE)/broker-$(KAFKA_PORT)/broker.pid
VERSION     ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
# Go 1.26's simd/archsimd package, behind this experiment, lets the decoder
# skip unread JSON 64 bytes at a time with AVX2. Builds without it work the
# same, with a slower 8-byte loop; the tests run the stages package both ways.
export GOEXPERIMENT ?= simd
FUZZTIME    ?= 10s

.PHONY: all build deps test unit integration fuzz demo broker-start broker-stop clean

all: build

deps:
	tests/deps.sh

build: deps
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/kafka-deduplicator .

# Unit tests, a short fuzz run, then integration tests against a real broker
# that is stopped even when a test fails.
test: deps
	$(GO) vet ./...
	$(GO) test -count=1 ./pipeline/... ./stages/... ./storage/...
	GOEXPERIMENT= $(GO) test -count=1 ./stages/...
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./stages
	$(GO) test -run '^$$' -fuzz '^FuzzSkipContainer$$' -fuzztime $(FUZZTIME) ./stages
	KAFKA_SECURE=1 $(BROKER) start
	status=0; $(GO) test -count=1 -p 1 -timeout 20m -v ./tests/... || status=1; $(BROKER) stop; exit $$status

unit: deps
	$(GO) test -count=1 ./pipeline/... ./stages/... ./storage/...
	GOEXPERIMENT= $(GO) test -count=1 ./stages/...

integration: deps
	KAFKA_SECURE=1 $(BROKER) start
	status=0; $(GO) test -count=1 -p 1 -timeout 20m -v ./tests/... || status=1; $(BROKER) stop; exit $$status

fuzz: deps
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 5m ./stages
	$(GO) test -run '^$$' -fuzz '^FuzzSkipContainer$$' -fuzztime 5m ./stages

# The main job: load the real events with duplicates mixed in, deduplicate
# them with config.toml on a real broker, and print what happened.
demo: build
	$(BROKER) start
	status=0; $(GO) run ./tests/demo -binary bin/kafka-deduplicator -config config.toml || status=1; $(BROKER) stop; exit $$status

# Throughput of pass-through and deduplication side by side on one broker
# and one input, with Kafka's own perf tools as the broker's ceiling;
# tests/bench/doc.go defines every number. Results go to $(BENCH_OUT). The
# broker is stopped also when the bench fails or is interrupted.
BENCH_EVENTS         ?= 1000000
BENCH_PARTITIONS     ?= 8
BENCH_PREFILL        ?= 10000000
BENCH_DUPLICATE_RATE ?= 0.2
BENCH_OUT            ?= /tmp/kafka-deduplicator-bench
BENCH_FLAGS          ?=

.PHONY: bench
bench: build
	$(GO) build -o bin/loadgen ./tests/loadgen
	$(GO) build -o bin/bench ./tests/bench
	$(BROKER) start
	trap '$(BROKER) stop' EXIT; trap 'exit 130' INT TERM; \
		bin/bench -binary bin/kafka-deduplicator -loadgen bin/loadgen -config config.toml \
		-events $(BENCH_EVENTS) -partitions $(BENCH_PARTITIONS) -prefill $(BENCH_PREFILL) \
		-duplicate-rate $(BENCH_DUPLICATE_RATE) -out $(BENCH_OUT) $(BENCH_FLAGS)

broker-start:
	$(BROKER) start

broker-stop:
	$(BROKER) stop

clean:
	rm -rf bin
