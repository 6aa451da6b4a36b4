package pipeline

import (
	"fmt"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// metricPrefix starts the name of every metric the service exports.
const metricPrefix = "kafka_deduplicator_"

// Metrics holds every metric of one service instance in its own set, so
// tests can run several instances in one process. README.md lists them.
type Metrics struct {
	Set *metrics.Set

	stages            *stageMetrics
	failOpen          *metrics.Gauge
	suppressedLogs    *metrics.Counter
	storeOpenSeconds  *metrics.Histogram
	storeCloseSeconds *metrics.Histogram

	mu     sync.Mutex
	lanes  map[string]*laneMetrics  // by "topic/partition"; guarded by mu
	groups map[string]*groupMetrics // by source topic; guarded by mu
}

// NewMetrics returns the service's metrics, all at zero.
func NewMetrics() *Metrics {
	set := metrics.NewSet()
	m := &Metrics{
		Set:               set,
		failOpen:          set.NewGauge(metricPrefix+"fail_open", nil),
		suppressedLogs:    set.NewCounter(metricPrefix + "suppressed_log_messages_total"),
		storeOpenSeconds:  set.NewHistogram(metricPrefix + "store_open_duration_seconds"),
		storeCloseSeconds: set.NewHistogram(metricPrefix + "store_close_duration_seconds"),
		lanes:             map[string]*laneMetrics{},
		groups:            map[string]*groupMetrics{},
	}
	stage := func(name string) *metrics.Histogram {
		return set.NewHistogram(fmt.Sprintf(`%sstage_duration_seconds{stage=%q}`, metricPrefix, name))
	}
	m.stages = &stageMetrics{
		fetch:    stage("fetch"),
		decode:   stage("decode"),
		key:      stage("key"),
		store:    stage("store"),
		produce:  stage("produce"),
		commit:   stage("commit"),
		endToEnd: set.NewHistogram(metricPrefix + "end_to_end_latency_seconds"),
	}
	return m
}

// stageTimer records how long one stage took for one batch.
type stageTimer interface {
	UpdateDuration(start time.Time)
}

// stageMetrics are histograms of batch time per stage, shared by all lanes,
// and of the time from an input record's timestamp to the acknowledgement of
// its output write.
type stageMetrics struct {
	fetch, decode, key, store, produce, commit *metrics.Histogram
	endToEnd                                   *metrics.Histogram
}

// laneMetrics are the per topic and partition metrics. They outlive
// generations: a partition that comes back to this process keeps counting.
type laneMetrics struct {
	consumed                *metrics.Counter
	produced                *metrics.Counter
	duplicatesSameUUID      *metrics.Counter
	duplicatesOtherUUID     *metrics.Counter
	duplicatesWritten       *metrics.Counter
	replayed                *metrics.Counter
	undecodableForwarded    *metrics.Counter
	undecodableDeadLettered *metrics.Counter
	undecodableDropped      *metrics.Counter
	uuidFallback            *metrics.Counter
	produceRetries          *metrics.Counter
	keysExpired             *metrics.Counter
	keysEvicted             *metrics.Counter
	committedOffset         *metrics.Gauge
	lag                     *metrics.Gauge
	storeSize               *metrics.Gauge
	storeKeys               *metrics.Gauge
	inflight                *metrics.Gauge
}

func (m *Metrics) lane(topic string, partition int) *laneMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := fmt.Sprintf("%s/%d", topic, partition)
	if lm, ok := m.lanes[id]; ok {
		return lm
	}
	labels := fmt.Sprintf(`topic=%q,partition="%d"`, topic, partition)
	name := func(base, extra string) string {
		if extra != "" {
			extra = "," + extra
		}
		return metricPrefix + base + "{" + labels + extra + "}"
	}
	counter := func(base, extra string) *metrics.Counter { return m.Set.NewCounter(name(base, extra)) }
	gauge := func(base string) *metrics.Gauge { return m.Set.NewGauge(name(base, ""), nil) }
	lm := &laneMetrics{
		consumed:                counter("messages_consumed_total", ""),
		produced:                counter("messages_produced_total", ""),
		duplicatesSameUUID:      counter("duplicates_dropped_total", `reason="same_uuid"`),
		duplicatesOtherUUID:     counter("duplicates_dropped_total", `reason="different_uuid"`),
		duplicatesWritten:       counter("duplicates_written_total", ""),
		replayed:                counter("replayed_messages_total", ""),
		undecodableForwarded:    counter("undecodable_messages_total", `outcome="forwarded"`),
		undecodableDeadLettered: counter("undecodable_messages_total", `outcome="dead_lettered"`),
		undecodableDropped:      counter("undecodable_messages_total", `outcome="dropped"`),
		uuidFallback:            counter("uuid_fallback_keys_total", ""),
		produceRetries:          counter("produce_retries_total", ""),
		keysExpired:             counter("keys_expired_total", ""),
		keysEvicted:             counter("keys_evicted_total", ""),
		committedOffset:         gauge("committed_offset"),
		lag:                     gauge("lag_messages"),
		storeSize:               gauge("store_size_bytes"),
		storeKeys:               gauge("store_keys"),
		inflight:                gauge("inflight_messages"),
	}
	m.lanes[id] = lm
	return lm
}

// groupMetrics are the per topic pair metrics of consumer group membership.
type groupMetrics struct {
	rebalances         *metrics.Counter
	rebalanceSeconds   *metrics.Histogram
	partitionsAssigned *metrics.Counter
	partitionsRevoked  *metrics.Counter
	joinErrors         *metrics.Counter
	commitErrors       *metrics.Counter
}

func (m *Metrics) group(topic string) *groupMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	if gm, ok := m.groups[topic]; ok {
		return gm
	}
	name := func(base string) string { return fmt.Sprintf(`%s%s{topic=%q}`, metricPrefix, base, topic) }
	gm := &groupMetrics{
		rebalances:         m.Set.NewCounter(name("rebalances_total")),
		rebalanceSeconds:   m.Set.NewHistogram(name("rebalance_duration_seconds")),
		partitionsAssigned: m.Set.NewCounter(name("partitions_assigned_total")),
		partitionsRevoked:  m.Set.NewCounter(name("partitions_revoked_total")),
		joinErrors:         m.Set.NewCounter(name("group_join_errors_total")),
		commitErrors:       m.Set.NewCounter(name("commit_errors_total")),
	}
	m.groups[topic] = gm
	return gm
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
		t.Undecodable += lm.undecodableForwarded.Get() + lm.undecodableDeadLettered.Get() + lm.undecodableDropped.Get()
		t.Replayed += lm.replayed.Get()
		t.UUIDFallback += lm.uuidFallback.Get()
	}
	return t
}
