package pipeline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func envFrom(vars map[string]string) func(string) string {
	return func(key string) string { return vars[key] }
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigDefaultsWithoutFile(t *testing.T) {
	cfg, err := LoadConfig("", envFrom(nil))
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if got, want := strings.Join(cfg.Kafka.Hosts, ","), "localhost:9092"; got != want {
		t.Errorf("hosts = %q, want %q", got, want)
	}
	if got, want := cfg.Pipeline.MaxInFlightMessages, 1000; got != want {
		t.Errorf("max in flight = %d, want %d", got, want)
	}
	if got, want := cfg.Store.Path, "/tmp/deduplication-store"; got != want {
		t.Errorf("store path = %q, want %q", got, want)
	}
	if got := cfg.Store.MaxCapacity; got != 0 {
		t.Errorf("max capacity = %d, want 0 (unlimited)", got)
	}
	if got, want := time.Duration(cfg.Store.Retention), 7*24*time.Hour; got != want {
		t.Errorf("retention = %v, want %v", got, want)
	}
	if len(cfg.Topics) != 1 {
		t.Fatalf("topics = %+v, want one pair", cfg.Topics)
	}
	pair := cfg.Topics[0]
	if pair.Source != "events" || pair.Output != "" || pair.Group != "kafka-deduplicator" || pair.Format != "captured_event" {
		t.Errorf("pair = %+v, want source events, no output, group kafka-deduplicator, format captured_event", pair)
	}
}

func TestConfigEnvironmentOverrides(t *testing.T) {
	path := writeConfig(t, `
[kafka]
hosts = ["file:1"]
consumer_group = "from-file"
[store]
path = "/file/store"
max_capacity = "1GiB"
`)
	cfg, err := LoadConfig(path, envFrom(map[string]string{
		EnvHosts:               "a:1, b:2",
		EnvConsumerGroup:       "from-env",
		EnvSourceTopic:         "in",
		EnvOutputTopic:         "out",
		EnvMaxInFlightMessages: "64",
		EnvStorePath:           "/env/store",
		EnvMaxStoreCapacity:    "10GiB",
	}))
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if got, want := strings.Join(cfg.Kafka.Hosts, ","), "a:1,b:2"; got != want {
		t.Errorf("hosts = %q, want %q", got, want)
	}
	if got, want := cfg.Store.Path, "/env/store"; got != want {
		t.Errorf("store path = %q, want %q", got, want)
	}
	if got, want := int64(cfg.Store.MaxCapacity), int64(10<<30); got != want {
		t.Errorf("max capacity = %d, want %d", got, want)
	}
	if got, want := cfg.Pipeline.MaxInFlightMessages, 64; got != want {
		t.Errorf("max in flight = %d, want %d", got, want)
	}
	if got, want := cfg.Pipeline.BatchSize, 64; got != want {
		t.Errorf("default batch size = %d, want it capped at max in flight %d", got, want)
	}
	want := TopicConfig{Source: "in", Output: "out", Group: "from-env", Format: "captured_event"}
	if len(cfg.Topics) != 1 || cfg.Topics[0].Source != want.Source || cfg.Topics[0].Output != want.Output ||
		cfg.Topics[0].Group != want.Group || cfg.Topics[0].Format != want.Format {
		t.Errorf("topics = %+v, want [%+v]", cfg.Topics, want)
	}
}

func TestConfigTopicPairsDeriveGroups(t *testing.T) {
	path := writeConfig(t, `
[kafka]
consumer_group = "dedup"
[[topics]]
source = "a"
output = "a_out"
[[topics]]
source = "b"
group = "custom"
format = "json"
key_fields = ["id"]
`)
	cfg, err := LoadConfig(path, envFrom(nil))
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if got, want := cfg.Topics[0].Group, "dedup-a"; got != want {
		t.Errorf("group of a = %q, want %q", got, want)
	}
	if got, want := cfg.Topics[1].Group, "custom"; got != want {
		t.Errorf("group of b = %q, want %q", got, want)
	}
	if got := cfg.Topics[1].Output; got != "" {
		t.Errorf("output of b = %q, want empty (count only)", got)
	}
}

func TestConfigRejectsBadValues(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		env   map[string]string
		wants []string // each must appear in the error
	}{
		{
			name:  "unknown key",
			text:  "[store]\npaht = \"/x\"\n",
			wants: []string{"unknown keys", "store.paht"},
		},
		{
			name:  "missing source",
			text:  "[[topics]]\noutput = \"x\"\n",
			wants: []string{"missing topics[0].source"},
		},
		{
			name:  "same source twice",
			text:  "[[topics]]\nsource = \"a\"\n[[topics]]\nsource = \"a\"\n",
			wants: []string{`topics[1].source = "a"`, "already the source of topics[0]"},
		},
		{
			name:  "source equals output",
			text:  "[[topics]]\nsource = \"a\"\noutput = \"a\"\n",
			wants: []string{`topics[0].output = "a"`, "other than its source"},
		},
		{
			name:  "negative size",
			text:  "[store]\nmax_capacity = -5\n",
			wants: []string{"store.max_capacity = -5", "positive size"},
		},
		{
			name:  "negative size string",
			text:  "[store]\nmax_capacity = \"-1GiB\"\n",
			wants: []string{"store.max_capacity", "positive size"},
		},
		{
			name:  "unparsable duration",
			text:  "[store]\nretention = \"7 days\"\n",
			wants: []string{`invalid duration "7 days"`, "168h"},
		},
		{
			name:  "negative duration",
			text:  "[pipeline]\ncommit_interval = \"-1s\"\n",
			wants: []string{"pipeline.commit_interval = -1s"},
		},
		{
			name:  "bad size unit",
			text:  "[store]\nmax_capacity = \"10 parsecs\"\n",
			wants: []string{`invalid size "10 parsecs"`, "gib"},
		},
		{
			name:  "env size",
			env:   map[string]string{EnvMaxStoreCapacity: "lots"},
			wants: []string{EnvMaxStoreCapacity, `invalid size "lots"`},
		},
		{
			name:  "env in flight",
			env:   map[string]string{EnvMaxInFlightMessages: "many"},
			wants: []string{EnvMaxInFlightMessages, `"many"`},
		},
		{
			name:  "env topic with file topics",
			text:  "[[topics]]\nsource = \"a\"\n",
			env:   map[string]string{EnvSourceTopic: "b"},
			wants: []string{EnvSourceTopic, "defines [[topics]]"},
		},
		{
			name:  "batch larger than in flight",
			text:  "[pipeline]\nmax_in_flight_messages = 10\nbatch_size = 20\n",
			wants: []string{"pipeline.batch_size = 20", "no larger than pipeline.max_in_flight_messages (10)"},
		},
		{
			name:  "bad host and start offset",
			text:  "[kafka]\nhosts = [\"nohostport\"]\nstart_offset = \"middle\"\n",
			wants: []string{`kafka.hosts[0] = "nohostport"`, `kafka.start_offset = "middle"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.text != "" {
				path = writeConfig(t, tt.text)
			}
			_, err := LoadConfig(path, envFrom(tt.env))
			if err == nil {
				t.Fatalf("LoadConfig accepted the config, want an error containing %q", tt.wants)
			}
			for _, want := range tt.wants {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestConfigReportsEveryViolation(t *testing.T) {
	path := writeConfig(t, `
[pipeline]
max_in_flight_messages = -1
[log]
level = "loud"
[[topics]]
source = "a"
output = "a"
`)
	_, err := LoadConfig(path, envFrom(nil))
	if err == nil {
		t.Fatal("LoadConfig accepted the config, want an error")
	}
	for _, want := range []string{"pipeline.max_in_flight_messages = -1", `log.level = "loud"`, `topics[0].output = "a"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestConfigMissingFile(t *testing.T) {
	_, err := LoadConfig(filepath.Join(t.TempDir(), "absent.toml"), envFrom(nil))
	if err == nil || !strings.Contains(err.Error(), "cannot read config file") {
		t.Fatalf("error = %v, want one that says the file cannot be read", err)
	}
}

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
	}{
		{"0", 0},
		{"1048576", 1 << 20},
		{"10GiB", 10 << 30},
		{"10gib", 10 << 30},
		{"512MB", 512e6},
		{"1.5 KiB", 1536},
		{"2TB", 2e12},
		{"7b", 7},
	}
	for _, tt := range tests {
		got, err := ParseByteSize(tt.in)
		if err != nil {
			t.Errorf("ParseByteSize(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseByteSize(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{"", "GiB", "ten", "1.2.3MB", "5 XB"} {
		if _, err := ParseByteSize(bad); err == nil {
			t.Errorf("ParseByteSize(%q) succeeded, want an error", bad)
		}
	}
}
