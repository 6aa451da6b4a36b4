package pipeline

import (
	"fmt"
	"sync"

	"github.com/VictoriaMetrics/metrics"
)

// metricPrefix starts the name of every metric the service exports.
const metricPrefix = "kafka_deduplicator_"

// Metrics holds every metric of one service instance in its own set, so
// tests can run several instances in one process.
type Metrics struct {
	Set *metrics.Set

	mu    sync.Mutex
	lanes map[string]*laneMetrics // by "topic/partition"; guarded by mu
}

// NewMetrics returns an empty metric set.
func NewMetrics() *Metrics {
	return &Metrics{Set: metrics.NewSet(), lanes: map[string]*laneMetrics{}}
}

// laneMetrics are the per topic and partition metrics. They outlive
// generations: a partition that comes back to this process keeps counting.
type laneMetrics struct {
	consumed            *metrics.Counter
	produced            *metrics.Counter
	duplicatesSameUUID  *metrics.Counter
	duplicatesOtherUUID *metrics.Counter
	replayed            *metrics.Counter
	undecodable         *metrics.Counter
	uuidFallback        *metrics.Counter
	produceRetries      *metrics.Counter
	committedOffset     *metrics.Gauge
	inflight            *metrics.Gauge
}

func (m *Metrics) lane(topic string, partition int) *laneMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := fmt.Sprintf("%s/%d", topic, partition)
	if lm, ok := m.lanes[id]; ok {
		return lm
	}
	labels := fmt.Sprintf(`topic=%q,partition="%d"`, topic, partition)
	counter := func(name, extra string) *metrics.Counter {
		if extra != "" {
			extra = "," + extra
		}
		return m.Set.GetOrCreateCounter(metricPrefix + name + "{" + labels + extra + "}")
	}
	lm := &laneMetrics{
		consumed:            counter("messages_consumed_total", ""),
		produced:            counter("messages_produced_total", ""),
		duplicatesSameUUID:  counter("duplicates_dropped_total", `reason="same_uuid"`),
		duplicatesOtherUUID: counter("duplicates_dropped_total", `reason="different_uuid"`),
		replayed:            counter("replayed_messages_total", ""),
		undecodable:         counter("undecodable_messages_total", `outcome="forwarded"`),
		uuidFallback:        counter("uuid_fallback_keys_total", ""),
		produceRetries:      counter("produce_retries_total", ""),
		committedOffset:     m.Set.GetOrCreateGauge(metricPrefix+"committed_offset{"+labels+"}", nil),
		inflight:            m.Set.GetOrCreateGauge(metricPrefix+"inflight_messages{"+labels+"}", nil),
	}
	m.lanes[id] = lm
	return lm
}

// Totals are counts summed over every topic and partition.
type Totals struct {
	Consumed, Produced, Duplicates, Undecodable, Replayed, UUIDFallback uint64
}

// Totals sums the per-partition counters.
func (m *Metrics) Totals() Totals {
	m.mu.Lock()
	defer m.mu.Unlock()
	var t Totals
	for _, lm := range m.lanes {
		t.Consumed += lm.consumed.Get()
		t.Produced += lm.produced.Get()
		t.Duplicates += lm.duplicatesSameUUID.Get() + lm.duplicatesOtherUUID.Get()
		t.Undecodable += lm.undecodable.Get()
		t.Replayed += lm.replayed.Get()
		t.UUIDFallback += lm.uuidFallback.Get()
	}
	return t
}
