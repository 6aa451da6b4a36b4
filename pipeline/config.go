package pipeline

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"kafka-deduplicator/stages"
)

// Config is the whole service configuration, read from config.toml and then
// overridden by environment variables (see ApplyEnv). Zero values mean
// "use the default"; FillDefaults sets them in one place and Validate reports
// every violation at once.
type Config struct {
	Kafka    KafkaConfig    `toml:"kafka"`
	Store    StoreConfig    `toml:"store"`
	Pipeline PipelineConfig `toml:"pipeline"`
	Metrics  MetricsConfig  `toml:"metrics"`
	Log      LogConfig      `toml:"log"`
	Topics   []TopicConfig  `toml:"topics"`
}

// KafkaConfig holds the broker connection and consumer group settings shared
// by every topic pair.
type KafkaConfig struct {
	// Hosts are the bootstrap brokers, "host:port". Env KAFKA_HOSTS
	// (comma-separated). Default ["localhost:9092"].
	Hosts []string `toml:"hosts"`
	// ConsumerGroup is the base consumer group id. Env KAFKA_CONSUMER_GROUP.
	// Default "kafka-deduplicator". Each [[topics]] pair derives its own group
	// from it; see TopicConfig.Group.
	ConsumerGroup string `toml:"consumer_group"`
	// ClientID is sent to the brokers with every request. Default
	// "kafka-deduplicator".
	ClientID string `toml:"client_id"`
	// StartOffset is the position a group with no committed offset starts
	// reading a partition from: "earliest" (default) or "latest".
	StartOffset string `toml:"start_offset"`
	// SessionTimeout is how long the group coordinator waits for a heartbeat
	// before it evicts this member. Default 30s.
	SessionTimeout Duration `toml:"session_timeout"`
	// RebalanceTimeout is how long the coordinator waits for members to
	// rejoin during a rebalance, which bounds how long lanes may take to
	// drain. Default 30s.
	RebalanceTimeout Duration `toml:"rebalance_timeout"`
	// HeartbeatInterval is how often this member sends heartbeats. Default 3s.
	HeartbeatInterval Duration `toml:"heartbeat_interval"`
	// DialTimeout bounds each connection attempt to a broker. Default 10s.
	DialTimeout Duration `toml:"dial_timeout"`
	// TLS encrypts broker connections when enabled.
	TLS TLSConfig `toml:"tls"`
	// SASL authenticates to the brokers when a mechanism is set.
	SASL SASLConfig `toml:"sasl"`
}

// TLSConfig holds the TLS settings of broker connections.
type TLSConfig struct {
	// Enabled turns TLS on. Default false.
	Enabled bool `toml:"enabled"`
	// CAFile is a PEM file of the certificate authorities that sign the
	// brokers' certificates. Default: the system's roots.
	CAFile string `toml:"ca_file"`
	// CertFile and KeyFile are the PEM client certificate and its key, for
	// brokers that require client authentication. Set both or neither.
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
	// ServerName is the name checked against the brokers' certificates.
	// Default: the host part of each broker address.
	ServerName string `toml:"server_name"`
}

// SASLConfig holds the SASL settings of broker connections. The password
// can come from config.toml, an environment variable or a file of its own.
// Exactly one source may be set.
type SASLConfig struct {
	// Mechanism is "" (no SASL, default), "PLAIN", "SCRAM-SHA-256" or
	// "SCRAM-SHA-512".
	Mechanism string `toml:"mechanism"`
	// Username is the SASL user. Env KAFKA_SASL_USERNAME.
	Username string `toml:"username"`
	// Password is the SASL password written in the file. Env
	// KAFKA_SASL_PASSWORD.
	Password string `toml:"password"`
	// PasswordEnv names an environment variable that holds the password.
	PasswordEnv string `toml:"password_env"`
	// PasswordFile is a file whose content (trailing newline removed) is the
	// password.
	PasswordFile string `toml:"password_file"`
}

// StoreConfig holds the settings of the per-partition RocksDB stores.
type StoreConfig struct {
	// Path is the parent directory of all stores; each partition's store is
	// {path}/{topic}_{partition}. Env STORE_PATH. Default
	// "/tmp/deduplication-store".
	Path string `toml:"path"`
	// Retention is how long a key is remembered, counted from when it was
	// stored. Default 168h (7 days).
	Retention Duration `toml:"retention"`
	// MaxCapacity caps the size on disk of each partition's store, in bytes
	// or as "10GiB"; 0 means unlimited. Env MAX_STORE_CAPACITY. When it is
	// exceeded the oldest keys are evicted first.
	MaxCapacity ByteSize `toml:"max_capacity"`
	// BlockCache is the RocksDB block cache size of each store. Default 32MiB.
	BlockCache ByteSize `toml:"block_cache"`
	// MinFreeDisk is the free space that must remain on the stores' file
	// system. A batch that would be stored with less fails and is not
	// committed; its lane retries after a delay. Default 64MiB.
	MinFreeDisk ByteSize `toml:"min_free_disk"`
}

// PipelineConfig holds the sizing and timing of the partition lanes.
type PipelineConfig struct {
	// MaxInFlightMessages bounds the messages fetched but not yet committed,
	// summed over every lane of the process. Env MAX_IN_FLIGHT_MESSAGES.
	// Default 1000.
	MaxInFlightMessages int `toml:"max_in_flight_messages"`
	// BatchSize is the most messages one lane moves through its stages at
	// once. Default 500, or MaxInFlightMessages when that is smaller.
	BatchSize int `toml:"batch_size"`
	// WritesInFlight bounds the batches of one lane whose output writes run
	// at once. Default 4. With more than 1, a batch can reach an output
	// partition before the batch read just before it; offsets are still
	// committed in order.
	WritesInFlight int `toml:"writes_in_flight"`
	// CommitInterval is how often done offsets are committed. Default 1s.
	// Offsets are also committed when a generation ends and on shutdown.
	CommitInterval Duration `toml:"commit_interval"`
	// ShutdownTimeout bounds how long lanes may take to finish in-flight
	// batches after SIGINT/SIGTERM or a rebalance. Work not finished by then
	// is abandoned uncommitted and is read again by the next owner.
	// Default 20s.
	ShutdownTimeout Duration `toml:"shutdown_timeout"`
	// ProduceBackoffMax caps the wait between retries of a failed output
	// write. Default 5s.
	ProduceBackoffMax Duration `toml:"produce_backoff_max"`
	// FailOpen forwards every message to the output without decoding it or
	// touching the stores, for store outages. Nothing is deduplicated while
	// it is on. Default false.
	FailOpen bool `toml:"fail_open"`
}

// MetricsConfig holds the HTTP server that exports metrics.
type MetricsConfig struct {
	// Listen is the HTTP listen address of /metrics, /_readiness and
	// /_liveness. Default ":8000"; "off" disables the server.
	Listen string `toml:"listen"`
	// LivenessTimeout is how long a lane may hold fetched messages without
	// finishing a batch before /_liveness fails. Default 2m.
	LivenessTimeout Duration `toml:"liveness_timeout"`
	// Pprof serves Go's profiler under /debug/pprof/ on the same address.
	// Default false: profiles expose internals, so enable it only where the
	// address is not reachable from outside.
	Pprof bool `toml:"pprof"`
}

// LogConfig holds the log output settings.
type LogConfig struct {
	// Level is one of "debug", "info" (default), "warn", "error".
	Level string `toml:"level"`
	// Format is "text" (default) or "json".
	Format string `toml:"format"`
}

// TopicConfig is one source/output topic pair.
type TopicConfig struct {
	// Source is the topic to read. Required.
	Source string `toml:"source"`
	// Output is the topic that receives unique events. Empty means
	// "deduplicate and count only": nothing is produced.
	Output string `toml:"output"`
	// Group is the consumer group id of this pair. Default
	// "{kafka.consumer_group}-{source}", so a rebalance of one pair does not
	// stall the others.
	Group string `toml:"group"`
	// Format is the event format: "captured_event" (default), "json" or "raw".
	Format string `toml:"format"`
	// KeyFields are the dot-separated field paths that make the key of the
	// "json" format.
	KeyFields []string `toml:"key_fields"`
	// DuplicatesTopic, when set, receives every dropped duplicate with
	// headers naming the reason and the first copy's offset, for audits.
	DuplicatesTopic string `toml:"duplicates_topic"`
	// Undecodable is the policy for messages that cannot be decoded or
	// keyed: "forward" (default) writes it to the output unchanged,
	// "dead-letter" writes it to DeadLetterTopic with headers naming the
	// error, "drop" only counts it.
	Undecodable string `toml:"undecodable"`
	// DeadLetterTopic receives undecodable messages under the "dead-letter"
	// policy.
	DeadLetterTopic string `toml:"dead_letter_topic"`
}

// Policies for undecodable messages.
const (
	UndecodableForward    = "forward"
	UndecodableDeadLetter = "dead-letter"
	UndecodableDrop       = "drop"
)

// Defaults of the settings that the environment can also set.
const (
	DefaultHosts               = "localhost:9092"
	DefaultConsumerGroup       = "kafka-deduplicator"
	DefaultSourceTopic         = "events"
	DefaultMaxInFlightMessages = 1000
	DefaultStorePath           = "/tmp/deduplication-store"
	DefaultFormat              = "captured_event"
)

// Environment variables that override config.toml.
const (
	EnvHosts               = "KAFKA_HOSTS"
	EnvConsumerGroup       = "KAFKA_CONSUMER_GROUP"
	EnvSourceTopic         = "KAFKA_CONSUMER_TOPIC"
	EnvOutputTopic         = "OUTPUT_TOPIC"
	EnvMaxInFlightMessages = "MAX_IN_FLIGHT_MESSAGES"
	EnvStorePath           = "STORE_PATH"
	EnvMaxStoreCapacity    = "MAX_STORE_CAPACITY"
	EnvSASLUsername        = "KAFKA_SASL_USERNAME"
	EnvSASLPassword        = "KAFKA_SASL_PASSWORD"
)

// LoadConfig reads the TOML file at path (no file when path is empty),
// applies the environment from getenv, fills defaults and validates. The
// returned error lists every problem found.
func LoadConfig(path string, getenv func(string) string) (*Config, error) {
	var cfg Config
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("cannot read config file: %w; pass an existing file with -config", err)
		}
		if err := DecodeConfig(string(data), &cfg); err != nil {
			return nil, fmt.Errorf("invalid config file %s: %w", path, err)
		}
	}
	if err := cfg.ApplyEnv(getenv); err != nil {
		return nil, err
	}
	cfg.FillDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// DecodeConfig parses TOML text into cfg and rejects keys that no field
// takes, so a misspelt setting does not silently keep its default.
func DecodeConfig(text string, cfg *Config) error {
	meta, err := toml.Decode(text, cfg)
	if err != nil {
		return err
	}
	var errs []error
	if undecoded := meta.Undecoded(); len(undecoded) > 0 {
		keys := make([]string, len(undecoded))
		for i, key := range undecoded {
			keys[i] = key.String()
		}
		errs = append(errs, fmt.Errorf("unknown keys %s; check the spelling against the configuration reference in README.md",
			strings.Join(keys, ", ")))
	}
	// A missing key takes its default, but an empty list written out is
	// more likely a mistake than a request for the default.
	if meta.IsDefined("kafka", "hosts") && len(cfg.Kafka.Hosts) == 0 {
		errs = append(errs, errors.New(`invalid kafka.hosts = []: list at least one broker as "host:port", or remove the key for the default `+DefaultHosts))
	}
	if meta.IsDefined("topics") && len(cfg.Topics) == 0 {
		errs = append(errs, errors.New("invalid topics = []: add a [[topics]] section with a source and an output topic"))
	}
	return errors.Join(errs...)
}

// ApplyEnv overrides the file's values with the environment variables that
// are set (non-empty). KAFKA_CONSUMER_TOPIC and OUTPUT_TOPIC describe the one
// topic pair used when the file has no [[topics]]; setting them together
// with [[topics]] is rejected as ambiguous.
func (c *Config) ApplyEnv(getenv func(string) string) error {
	var errs []error
	if v := getenv(EnvHosts); v != "" {
		c.Kafka.Hosts = splitList(v)
	}
	if v := getenv(EnvConsumerGroup); v != "" {
		c.Kafka.ConsumerGroup = v
	}
	if v := getenv(EnvStorePath); v != "" {
		c.Store.Path = v
	}
	if v := getenv(EnvMaxInFlightMessages); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("invalid %s %q: want a positive integer", EnvMaxInFlightMessages, v))
		} else {
			c.Pipeline.MaxInFlightMessages = n
		}
	}
	if v := getenv(EnvMaxStoreCapacity); v != "" {
		size, err := ParseByteSize(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("invalid %s: %w", EnvMaxStoreCapacity, err))
		} else {
			c.Store.MaxCapacity = size
		}
	}

	if v := getenv(EnvSASLUsername); v != "" {
		c.Kafka.SASL.Username = v
	}
	if v := getenv(EnvSASLPassword); v != "" {
		c.Kafka.SASL.Password = v
	}
	if name := c.Kafka.SASL.PasswordEnv; name != "" {
		v := getenv(name)
		if v == "" {
			errs = append(errs, fmt.Errorf("kafka.sasl.password_env names %s, which is not set or empty; export it or use another password source", name))
		}
		c.Kafka.SASL.Password = v
	}

	source, output := getenv(EnvSourceTopic), getenv(EnvOutputTopic)
	switch {
	case len(c.Topics) > 0 && (source != "" || output != ""):
		errs = append(errs, fmt.Errorf("%s/%s are set but the config file defines [[topics]]; "+
			"unset the variables or remove [[topics]]", EnvSourceTopic, EnvOutputTopic))
	case len(c.Topics) == 0:
		if source == "" {
			source = DefaultSourceTopic
		}
		// The single pair from the environment keeps the base group id as is,
		// so KAFKA_CONSUMER_GROUP names the group that commits its offsets.
		c.Topics = []TopicConfig{{Source: source, Output: output, Group: c.Kafka.ConsumerGroup}}
		if c.Topics[0].Group == "" {
			c.Topics[0].Group = DefaultConsumerGroup
		}
	}
	return errors.Join(errs...)
}

// FillDefaults sets every unset field to its documented default.
func (c *Config) FillDefaults() {
	setDefault(&c.Kafka.ConsumerGroup, DefaultConsumerGroup)
	setDefault(&c.Kafka.ClientID, "kafka-deduplicator")
	setDefault(&c.Kafka.StartOffset, "earliest")
	if len(c.Kafka.Hosts) == 0 {
		c.Kafka.Hosts = []string{DefaultHosts}
	}
	setDefault(&c.Kafka.SessionTimeout, Duration(30*time.Second))
	setDefault(&c.Kafka.RebalanceTimeout, Duration(30*time.Second))
	setDefault(&c.Kafka.HeartbeatInterval, Duration(3*time.Second))
	setDefault(&c.Kafka.DialTimeout, Duration(10*time.Second))

	setDefault(&c.Store.Path, DefaultStorePath)
	setDefault(&c.Store.Retention, Duration(7*24*time.Hour))
	setDefault(&c.Store.BlockCache, ByteSize(32<<20))
	setDefault(&c.Store.MinFreeDisk, ByteSize(64<<20))

	setDefault(&c.Pipeline.MaxInFlightMessages, DefaultMaxInFlightMessages)
	if c.Pipeline.BatchSize == 0 {
		c.Pipeline.BatchSize = min(500, max(c.Pipeline.MaxInFlightMessages, 1))
	}
	setDefault(&c.Pipeline.WritesInFlight, 4)
	setDefault(&c.Pipeline.CommitInterval, Duration(time.Second))
	setDefault(&c.Pipeline.ShutdownTimeout, Duration(20*time.Second))
	setDefault(&c.Pipeline.ProduceBackoffMax, Duration(5*time.Second))

	setDefault(&c.Metrics.Listen, ":8000")
	setDefault(&c.Metrics.LivenessTimeout, Duration(2*time.Minute))
	setDefault(&c.Log.Level, "info")
	setDefault(&c.Log.Format, "text")

	for i := range c.Topics {
		t := &c.Topics[i]
		setDefault(&t.Group, c.Kafka.ConsumerGroup+"-"+t.Source)
		setDefault(&t.Format, DefaultFormat)
		setDefault(&t.Undecodable, UndecodableForward)
	}
}

func setDefault[T comparable](field *T, value T) {
	var zero T
	if *field == zero {
		*field = value
	}
}

// Validate checks every setting and returns one error that lists each
// violation with the key, the value and what is allowed.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key string, value any, allowed string) {
		errs = append(errs, fmt.Errorf("invalid %s = %v: %s", key, value, allowed))
	}

	for i, host := range c.Kafka.Hosts {
		if _, port, ok := strings.Cut(host, ":"); !ok || port == "" {
			bad(fmt.Sprintf("kafka.hosts[%d]", i), strconv.Quote(host), `want "host:port"`)
		}
	}
	if c.Kafka.StartOffset != "earliest" && c.Kafka.StartOffset != "latest" {
		bad("kafka.start_offset", strconv.Quote(c.Kafka.StartOffset), `want "earliest" or "latest"`)
	}
	for key, d := range map[string]Duration{
		"kafka.session_timeout":        c.Kafka.SessionTimeout,
		"kafka.rebalance_timeout":      c.Kafka.RebalanceTimeout,
		"kafka.heartbeat_interval":     c.Kafka.HeartbeatInterval,
		"kafka.dial_timeout":           c.Kafka.DialTimeout,
		"store.retention":              c.Store.Retention,
		"pipeline.commit_interval":     c.Pipeline.CommitInterval,
		"pipeline.shutdown_timeout":    c.Pipeline.ShutdownTimeout,
		"pipeline.produce_backoff_max": c.Pipeline.ProduceBackoffMax,
		"metrics.liveness_timeout":     c.Metrics.LivenessTimeout,
	} {
		if d < 0 {
			bad(key, d, "want a positive duration such as \"30s\"")
		}
	}
	// Compared only when both are valid, so that one bad value gives one error.
	if c.Kafka.HeartbeatInterval >= 0 && c.Kafka.SessionTimeout > 0 && c.Kafka.HeartbeatInterval >= c.Kafka.SessionTimeout {
		bad("kafka.heartbeat_interval", c.Kafka.HeartbeatInterval,
			fmt.Sprintf("want less than kafka.session_timeout (%v)", c.Kafka.SessionTimeout))
	}
	if c.Store.MaxCapacity < 0 {
		bad("store.max_capacity", int64(c.Store.MaxCapacity), "want 0 (unlimited) or a positive size such as \"10GiB\"")
	}
	if c.Store.MinFreeDisk < 0 {
		bad("store.min_free_disk", int64(c.Store.MinFreeDisk), "want a positive size such as \"64MiB\"")
	}
	if c.Store.BlockCache < 0 {
		bad("store.block_cache", int64(c.Store.BlockCache), "want a positive size such as \"32MiB\"")
	}
	if c.Pipeline.MaxInFlightMessages <= 0 {
		bad("pipeline.max_in_flight_messages", c.Pipeline.MaxInFlightMessages, "want a positive integer")
	}
	if c.Pipeline.BatchSize <= 0 || c.Pipeline.BatchSize > c.Pipeline.MaxInFlightMessages {
		bad("pipeline.batch_size", c.Pipeline.BatchSize,
			fmt.Sprintf("want a positive integer no larger than pipeline.max_in_flight_messages (%d)", c.Pipeline.MaxInFlightMessages))
	}
	if c.Pipeline.WritesInFlight <= 0 {
		bad("pipeline.writes_in_flight", c.Pipeline.WritesInFlight, "want a positive integer")
	}
	if c.Metrics.Listen != "off" {
		if _, port, ok := strings.Cut(c.Metrics.Listen, ":"); !ok || port == "" {
			bad("metrics.listen", strconv.Quote(c.Metrics.Listen), `want "host:port", ":port" or "off"`)
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", strconv.Quote(c.Log.Level), `want "debug", "info", "warn" or "error"`)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format", strconv.Quote(c.Log.Format), `want "text" or "json"`)
	}

	errs = append(errs, c.Kafka.TLS.validate()...)
	errs = append(errs, c.Kafka.SASL.validate()...)

	if len(c.Topics) == 0 {
		errs = append(errs, errors.New("no topic pairs: add a [[topics]] section or set "+EnvSourceTopic))
	}
	sources := map[string]int{}
	for i, t := range c.Topics {
		key := fmt.Sprintf("topics[%d]", i)
		switch {
		case t.Source == "":
			errs = append(errs, fmt.Errorf("missing %s.source: every [[topics]] pair needs a source topic", key))
		case t.Source == t.Output:
			bad(key+".output", strconv.Quote(t.Output), "want a topic other than its source, or empty for count-only")
		}
		if first, seen := sources[t.Source]; seen && t.Source != "" {
			bad(key+".source", strconv.Quote(t.Source), fmt.Sprintf("already the source of topics[%d]; each source topic may appear once", first))
		} else {
			sources[t.Source] = i
		}
		if strings.ContainsAny(t.Source, `/\`) {
			bad(key+".source", strconv.Quote(t.Source), "want a Kafka topic name without path separators")
		}
		switch t.Undecodable {
		case UndecodableForward, UndecodableDrop:
			if t.DeadLetterTopic != "" {
				bad(key+".dead_letter_topic", strconv.Quote(t.DeadLetterTopic),
					fmt.Sprintf("only used with undecodable = %q; remove it or change the policy", UndecodableDeadLetter))
			}
		case UndecodableDeadLetter:
			if t.DeadLetterTopic == "" {
				errs = append(errs, fmt.Errorf("missing %s.dead_letter_topic: the %q policy needs a topic", key, UndecodableDeadLetter))
			}
		default:
			bad(key+".undecodable", strconv.Quote(t.Undecodable), `want "forward", "dead-letter" or "drop"`)
		}
		switch _, err := stages.NewDecoder(stages.FormatConfig{Format: t.Format, KeyFields: t.KeyFields}); {
		case err == nil:
		case !slices.Contains(stages.Formats, t.Format):
			bad(key+".format", strconv.Quote(t.Format), "want one of "+strings.Join(stages.Formats, ", "))
		default:
			errs = append(errs, fmt.Errorf("invalid %s.format = %q: %w", key, t.Format, err))
		}
		for name, side := range map[string]string{"duplicates_topic": t.DuplicatesTopic, "dead_letter_topic": t.DeadLetterTopic} {
			if side != "" && (side == t.Source || side == t.Output) {
				bad(key+"."+name, strconv.Quote(side), "want a topic other than the pair's source and output")
			}
		}
		if t.DuplicatesTopic != "" && t.DuplicatesTopic == t.DeadLetterTopic {
			bad(key+".dead_letter_topic", strconv.Quote(t.DeadLetterTopic), "want a topic other than duplicates_topic")
		}
	}
	return errors.Join(errs...)
}

// Redacted returns a copy that is safe to log: the SASL password is
// replaced by a marker when set.
func (c *Config) Redacted() Config {
	redacted := *c
	if redacted.Kafka.SASL.Password != "" {
		redacted.Kafka.SASL.Password = "REDACTED"
	}
	redacted.Topics = slices.Clone(c.Topics)
	return redacted
}

func (t TLSConfig) validate() []error {
	var errs []error
	if !t.Enabled {
		if t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != "" {
			errs = append(errs, errors.New("kafka.tls settings are set but kafka.tls.enabled is false; set enabled = true or remove them"))
		}
		return errs
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		errs = append(errs, errors.New("kafka.tls.cert_file and kafka.tls.key_file must be set together"))
	}
	for key, path := range map[string]string{"kafka.tls.ca_file": t.CAFile, "kafka.tls.cert_file": t.CertFile, "kafka.tls.key_file": t.KeyFile} {
		if path == "" {
			continue
		}
		if _, err := os.Stat(path); err != nil {
			errs = append(errs, fmt.Errorf("invalid %s = %q: %w", key, path, err))
		}
	}
	return errs
}

func (s SASLConfig) validate() []error {
	var errs []error
	switch s.Mechanism {
	case "":
		if s.Username != "" || s.Password != "" || s.PasswordFile != "" {
			errs = append(errs, errors.New("kafka.sasl credentials are set but kafka.sasl.mechanism is empty; "+
				`set mechanism to "PLAIN", "SCRAM-SHA-256" or "SCRAM-SHA-512"`))
		}
		return errs
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
	default:
		return append(errs, fmt.Errorf("invalid kafka.sasl.mechanism = %q: want \"PLAIN\", \"SCRAM-SHA-256\" or \"SCRAM-SHA-512\"", s.Mechanism))
	}
	if s.Username == "" {
		errs = append(errs, fmt.Errorf("missing kafka.sasl.username (or %s) for mechanism %s", EnvSASLUsername, s.Mechanism))
	}
	sources := 0
	if s.Password != "" {
		sources++
	}
	if s.PasswordFile != "" {
		sources++
	}
	switch {
	case sources == 0 && s.PasswordEnv == "":
		errs = append(errs, fmt.Errorf("missing SASL password: set kafka.sasl.password_file, kafka.sasl.password_env or %s", EnvSASLPassword))
	case sources > 1:
		errs = append(errs, errors.New("the SASL password is set more than once: keep one of kafka.sasl.password, password_env, password_file and "+EnvSASLPassword))
	}
	return errs
}

// SASLPassword returns the SASL password from whichever source is set.
func (s SASLConfig) SASLPassword() (string, error) {
	if s.PasswordFile == "" {
		return s.Password, nil
	}
	data, err := os.ReadFile(s.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("cannot read kafka.sasl.password_file: %w", err)
	}
	return strings.TrimRight(string(data), "\r\n"), nil
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// Duration is a time.Duration written in TOML as a string such as "30s" or
// "168h".
type Duration time.Duration

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(text []byte) error {
	parsed, err := time.ParseDuration(string(text))
	if err != nil {
		return fmt.Errorf("invalid duration %q: want a number with a unit such as \"500ms\", \"30s\" or \"168h\"", text)
	}
	*d = Duration(parsed)
	return nil
}

// MarshalText formats the duration as Go does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

func (d Duration) String() string { return time.Duration(d).String() }

// ByteSize is a size in bytes, written in TOML as an integer or as a string
// with a unit: "512MB", "10GiB", "1.5TB".
type ByteSize int64

// UnmarshalText parses a size string; see ParseByteSize.
func (b *ByteSize) UnmarshalText(text []byte) error {
	size, err := ParseByteSize(string(text))
	if err != nil {
		return err
	}
	*b = size
	return nil
}

// UnmarshalTOML accepts both a bare integer and a size string.
func (b *ByteSize) UnmarshalTOML(value any) error {
	switch v := value.(type) {
	case int64:
		*b = ByteSize(v)
		return nil
	case string:
		return b.UnmarshalText([]byte(v))
	default:
		return fmt.Errorf("invalid size %v: want an integer number of bytes or a string such as \"10GiB\"", value)
	}
}

var byteUnits = map[string]float64{
	"": 1, "b": 1,
	"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
}

// ParseByteSize parses "1048576", "512MB", "10GiB" or "1.5 TB" into bytes.
// Units are case-insensitive; KB/MB/GB/TB are powers of 1000 and
// KiB/MiB/GiB/TiB powers of 1024. Negative sizes are returned as they are
// so that Validate can name the key.
func ParseByteSize(s string) (ByteSize, error) {
	text := strings.TrimSpace(s)
	split := len(text)
	for split > 0 && (text[split-1] < '0' || text[split-1] > '9') {
		split--
	}
	number, unit := strings.TrimSpace(text[:split]), strings.ToLower(strings.TrimSpace(text[split:]))
	factor, ok := byteUnits[unit]
	value, err := strconv.ParseFloat(number, 64)
	if !ok || err != nil || number == "" {
		units := make([]string, 0, len(byteUnits))
		for u := range byteUnits {
			if u != "" {
				units = append(units, u)
			}
		}
		sort.Strings(units)
		return 0, fmt.Errorf("invalid size %q: want a number of bytes or a number with a unit (%s)", s, strings.Join(units, ", "))
	}
	return ByteSize(value * factor), nil
}
