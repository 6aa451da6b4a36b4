package pipeline

import (
	"bytes"
	"strings"
	"testing"
)

func TestMetricsExportDocumentedNames(t *testing.T) {
	m := NewMetrics()
	m.lane("events", 3)
	m.group("events")
	var out bytes.Buffer
	m.Set.WritePrometheus(&out)
	text := out.String()

	for _, name := range []string{
		`messages_consumed_total{topic="events",partition="3"}`,
		`messages_produced_total{topic="events",partition="3"}`,
		`duplicates_dropped_total{topic="events",partition="3",reason="same_uuid"}`,
		`duplicates_dropped_total{topic="events",partition="3",reason="different_uuid"}`,
		`duplicates_written_total{`,
		`replayed_messages_total{`,
		`undecodable_messages_total{topic="events",partition="3",outcome="forwarded"}`,
		`undecodable_messages_total{topic="events",partition="3",outcome="dead_lettered"}`,
		`undecodable_messages_total{topic="events",partition="3",outcome="dropped"}`,
		`uuid_fallback_keys_total{`,
		`produce_retries_total{`,
		`keys_expired_total{`,
		`keys_evicted_total{`,
		`store_size_bytes{`,
		`store_keys{`,
		`committed_offset{`,
		`lag_messages{`,
		`inflight_messages{`,
		`rebalances_total{topic="events"}`,
		`partitions_assigned_total{`,
		`partitions_revoked_total{`,
		`group_join_errors_total{`,
		`commit_errors_total{`,
		`fail_open `,
		`suppressed_log_messages_total `,
	} {
		if !strings.Contains(text, metricPrefix+name) {
			t.Errorf("metrics lack %s%s", metricPrefix, name)
		}
	}

	// Histograms appear once they have an observation.
	m.stages.decode.Update(0.001)
	m.stages.endToEnd.Update(0.5)
	out.Reset()
	m.Set.WritePrometheus(&out)
	for _, name := range []string{`stage_duration_seconds_bucket{stage="decode",vmrange=`, `end_to_end_latency_seconds_count `} {
		if !strings.Contains(out.String(), metricPrefix+name) {
			t.Errorf("metrics lack %s%s", metricPrefix, name)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if !strings.HasPrefix(line, metricPrefix) {
			t.Errorf("metric %q lacks the prefix %s", line, metricPrefix)
		}
	}
}
