package pipeline

import (
	"fmt"
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
			name:  "negative session timeout",
			text:  "[kafka]\nsession_timeout = \"-5s\"\n",
			wants: []string{"kafka.session_timeout = -5s"},
		},
		{
			name:  "empty hosts list",
			text:  "[kafka]\nhosts = []\n[[topics]]\nsource = \"a\"\noutput = \"b\"\n",
			wants: []string{"invalid kafka.hosts = []", "host:port"},
		},
		{
			name:  "empty topics list",
			text:  "topics = []\n",
			wants: []string{"invalid topics = []", "[[topics]]"},
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

func TestConfigSideTopicsAndPolicies(t *testing.T) {
	tests := []struct {
		name  string
		topic string
		wants []string // empty: valid
	}{
		{name: "defaults", topic: `source = "a"`},
		{name: "dead letter", topic: "source = \"a\"\nundecodable = \"dead-letter\"\ndead_letter_topic = \"a-dlq\"\nduplicates_topic = \"a-dups\""},
		{name: "drop", topic: "source = \"a\"\nundecodable = \"drop\""},
		{name: "unknown policy", topic: "source = \"a\"\nundecodable = \"ignore\"", wants: []string{`topics[0].undecodable = "ignore"`, "dead-letter"}},
		{name: "dead letter without topic", topic: "source = \"a\"\nundecodable = \"dead-letter\"", wants: []string{"missing topics[0].dead_letter_topic"}},
		{name: "dead letter topic unused", topic: "source = \"a\"\ndead_letter_topic = \"x\"", wants: []string{"topics[0].dead_letter_topic", "only used with"}},
		{name: "json without key fields", topic: "source = \"a\"\nformat = \"json\"", wants: []string{`invalid topics[0].format = "json"`, "key fields"}},
		{name: "key fields with captured events", topic: "source = \"a\"\nkey_fields = [\"x\"]", wants: []string{`invalid topics[0].format = "captured_event"`}},
		{name: "unknown format", topic: "source = \"a\"\nformat = \"avro\"", wants: []string{`invalid topics[0].format = "avro": want one of captured_event, json, raw`}},
		{name: "duplicates topic is source", topic: "source = \"a\"\nduplicates_topic = \"a\"", wants: []string{`topics[0].duplicates_topic = "a"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := LoadConfig(writeConfig(t, "[[topics]]\n"+tt.topic+"\n"), envFrom(nil))
			if len(tt.wants) == 0 {
				if err != nil {
					t.Fatalf("LoadConfig: %v", err)
				}
				if cfg.Topics[0].Undecodable == "" {
					t.Error("undecodable policy has no default")
				}
				return
			}
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

func TestConfigSecurity(t *testing.T) {
	dir := t.TempDir()
	passwordFile := filepath.Join(dir, "password")
	if err := os.WriteFile(passwordFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, []byte("not used here"), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("password file", func(t *testing.T) {
		cfg, err := LoadConfig(writeConfig(t, fmt.Sprintf("[kafka.sasl]\nmechanism = \"PLAIN\"\nusername = \"u\"\npassword_file = %q\n", passwordFile)), envFrom(nil))
		if err != nil {
			t.Fatalf("LoadConfig: %v", err)
		}
		got, err := cfg.Kafka.SASL.SASLPassword()
		if err != nil || got != "from-file" {
			t.Errorf("password = %q, %v; want %q", got, err, "from-file")
		}
	})
	t.Run("password env", func(t *testing.T) {
		cfg, err := LoadConfig(writeConfig(t, "[kafka.sasl]\nmechanism = \"SCRAM-SHA-256\"\nusername = \"u\"\npassword_env = \"MY_SECRET\"\n"),
			envFrom(map[string]string{"MY_SECRET": "from-env"}))
		if err != nil {
			t.Fatalf("LoadConfig: %v", err)
		}
		if got := cfg.Kafka.SASL.Password; got != "from-env" {
			t.Errorf("password = %q, want %q", got, "from-env")
		}
		if got := cfg.Redacted().Kafka.SASL.Password; got != "REDACTED" {
			t.Errorf("redacted password = %q, want REDACTED", got)
		}
		if cfg.Kafka.SASL.Password != "from-env" {
			t.Error("Redacted changed the original config")
		}
	})
	t.Run("password env unset", func(t *testing.T) {
		_, err := LoadConfig(writeConfig(t, "[kafka.sasl]\nmechanism = \"PLAIN\"\nusername = \"u\"\npassword_env = \"MY_SECRET\"\n"), envFrom(nil))
		if err == nil || !strings.Contains(err.Error(), "MY_SECRET") {
			t.Errorf("error = %v, want one naming MY_SECRET", err)
		}
	})
	for _, bad := range []struct{ name, text, want string }{
		{"unknown mechanism", "[kafka.sasl]\nmechanism = \"GSSAPI\"\nusername = \"u\"\npassword = \"p\"\n", `kafka.sasl.mechanism = "GSSAPI"`},
		{"no username", "[kafka.sasl]\nmechanism = \"PLAIN\"\npassword = \"p\"\n", "missing kafka.sasl.username"},
		{"no password", "[kafka.sasl]\nmechanism = \"PLAIN\"\nusername = \"u\"\n", "missing SASL password"},
		{"two passwords", fmt.Sprintf("[kafka.sasl]\nmechanism = \"PLAIN\"\nusername = \"u\"\npassword = \"p\"\npassword_file = %q\n", passwordFile), "more than once"},
		{"credentials without mechanism", "[kafka.sasl]\nusername = \"u\"\n", "mechanism is empty"},
		{"tls settings without enabled", fmt.Sprintf("[kafka.tls]\nca_file = %q\n", caFile), "kafka.tls.enabled is false"},
		{"tls missing ca", "[kafka.tls]\nenabled = true\nca_file = \"/no/such/ca.pem\"\n", "kafka.tls.ca_file"},
		{"tls cert without key", fmt.Sprintf("[kafka.tls]\nenabled = true\ncert_file = %q\n", caFile), "set together"},
	} {
		t.Run(bad.name, func(t *testing.T) {
			_, err := LoadConfig(writeConfig(t, bad.text), envFrom(nil))
			if err == nil || !strings.Contains(err.Error(), bad.want) {
				t.Errorf("error = %v, want one containing %q", err, bad.want)
			}
		})
	}
}

func TestConfigOneErrorForBadSessionTimeout(t *testing.T) {
	_, err := LoadConfig(writeConfig(t, "[kafka]\nsession_timeout = \"-5s\"\n[[topics]]\nsource = \"a\"\n"), envFrom(nil))
	if err == nil {
		t.Fatal("LoadConfig accepted a negative session timeout, want an error")
	}
	if strings.Contains(err.Error(), "heartbeat_interval") {
		t.Errorf("error %q also blames kafka.heartbeat_interval, which is valid", err)
	}
}
