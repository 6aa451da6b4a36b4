package kafkatest

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// LoadSummary is what tests/loadgen wrote to a topic, as it writes it to
// its -summary file for tests/bench.
type LoadSummary struct {
	Topic      string `json:"topic"`
	Partitions int    `json:"partitions"`
	// Events is the number of messages written.
	Events int64 `json:"events"`
	// Unique is the number of messages a correct deduplicator outputs: the
	// distinct dedup digests plus the messages that cannot be decoded.
	Unique      int64 `json:"unique"`
	Undecodable int64 `json:"undecodable"`
	// ByKind counts messages by Kind.
	ByKind             map[Kind]int64 `json:"by_kind"`
	EventsPerPartition []int64        `json:"events_per_partition"`
	UniquePerPartition []int64        `json:"unique_per_partition"`

	ValueBytes    int64   `json:"value_bytes"`
	AvgValueBytes float64 `json:"avg_value_bytes"`
	MinValueBytes int     `json:"min_value_bytes"`
	MaxValueBytes int     `json:"max_value_bytes"`

	Seed          uint64  `json:"seed"`
	DuplicateRate float64 `json:"duplicate_rate"`
	NearRate      float64 `json:"near_rate"`
	// Retried counts the messages written again after a failed write.
	Retried int64 `json:"retried"`
	// Rate is the paced rate in events per second, or 0 for as fast as possible.
	Rate float64 `json:"rate"`

	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Seconds is Finished minus Started: generation, counting and writing
	// with acknowledgements from all in-sync replicas.
	Seconds         float64 `json:"seconds"`
	EventsPerSecond float64 `json:"events_per_second"`
}

// ReadLoadSummary reads a summary file written by tests/loadgen -summary.
func ReadLoadSummary(path string) (*LoadSummary, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the load summary: %w", err)
	}
	var s LoadSummary
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("cannot decode the load summary %s: %w", path, err)
	}
	return &s, nil
}

// WriteFile writes the summary as indented JSON.
func (s *LoadSummary) WriteFile(path string) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("cannot encode the load summary: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("cannot write the load summary: %w", err)
	}
	return nil
}
