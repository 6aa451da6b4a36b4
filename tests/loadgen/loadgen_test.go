package main

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"kafka-deduplicator/stages"
	"kafka-deduplicator/tests/kafkatest"
)

func loadTemplates(t *testing.T) ([][]byte, []*template) {
	t.Helper()
	corpus, err := kafkatest.LoadCorpus(kafkatest.CorpusPath())
	if err != nil {
		t.Fatal(err)
	}
	templates := make([]*template, len(corpus))
	for i, line := range corpus {
		if templates[i], err = newTemplate(i+1, line); err != nil {
			t.Fatal(err)
		}
	}
	return corpus, templates
}

func newDecoder(t *testing.T) stages.Decoder {
	t.Helper()
	d, err := stages.NewDecoder(stages.FormatConfig{Format: stages.FormatCapturedEvent})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func digest(t *testing.T, decoder stages.Decoder, value []byte) stages.Digest {
	t.Helper()
	var d stages.Decoded
	if err := decoder.Decode(value, &d); err != nil {
		t.Fatalf("cannot decode %s: %v", value, err)
	}
	return d.Digest()
}

func TestTemplateRendersCorpusLine(t *testing.T) {
	corpus, templates := loadTemplates(t)
	for i, tmpl := range templates {
		got := tmpl.render(nil, tmpl.original())
		if !bytes.Equal(got, corpus[i]) {
			t.Errorf("line %d: render of the original fields\n got %s\nwant %s", i+1, got, corpus[i])
		}
		var kindsSeen [4]int
		for _, s := range tmpl.segments {
			kindsSeen[s.kind]++
		}
		if kindsSeen[slotDistinctID] == 0 || kindsSeen[slotUUID] == 0 || kindsSeen[slotTime] == 0 {
			t.Errorf("line %d: slots by kind (distinct_id, uuid, time, event) = %v, want at least one of the first three", i+1, kindsSeen)
		}
	}
}

// TestTemplateSubstitutesFields decodes rendered events with encoding/json
// and checks every substituted member.
func TestTemplateSubstitutesFields(t *testing.T) {
	_, templates := loadTemplates(t)
	const newID = "someone-new-1z"
	const newUUID = "01900000-0000-7000-8000-000000000001"
	shift := 400 * 24 * time.Hour
	for _, tmpl := range templates {
		value := tmpl.render(nil, fields{distinctID: []byte(newID), uuid: []byte(newUUID), shift: shift})
		var outer map[string]any
		if err := json.Unmarshal(value, &outer); err != nil {
			t.Fatalf("line %d: rendered event is not JSON: %v", tmpl.line, err)
		}
		var data map[string]any
		if err := json.Unmarshal([]byte(outer["data"].(string)), &data); err != nil {
			t.Fatalf("line %d: rendered data is not JSON: %v", tmpl.line, err)
		}
		if got := outer["distinct_id"]; got != newID {
			t.Errorf("line %d: distinct_id = %v, want %s", tmpl.line, got, newID)
		}
		if got, ok := data["distinct_id"]; ok && got != newID {
			t.Errorf("line %d: data.distinct_id = %v, want %s", tmpl.line, got, newID)
		}
		if got := outer["uuid"]; got != newUUID {
			t.Errorf("line %d: uuid = %v, want %s", tmpl.line, got, newUUID)
		}
		if got := data["uuid"]; got != newUUID {
			t.Errorf("line %d: data.uuid = %v, want %s", tmpl.line, got, newUUID)
		}
		now, err := time.Parse(time.RFC3339Nano, outer["now"].(string))
		if err != nil {
			t.Fatalf("line %d: now: %v", tmpl.line, err)
		}
		if want := tmpl.ref.Add(shift); !now.Equal(want) {
			t.Errorf("line %d: now = %v, want %v", tmpl.line, now, want)
		}
		if ts, ok := data["timestamp"].(string); ok {
			got, err := time.Parse(time.RFC3339Nano, ts)
			if err != nil {
				t.Fatalf("line %d: data.timestamp: %v", tmpl.line, err)
			}
			if got.Before(now.Add(-2*366*24*time.Hour)) || got.After(now) {
				t.Errorf("line %d: data.timestamp %v is not within two years before now %v", tmpl.line, got, now)
			}
		}
	}
}

// TestCopyKinds checks each template's copies against the deduplicator's
// key: a new uuid is a duplicate, a near copy is not.
func TestCopyKinds(t *testing.T) {
	_, templates := loadTemplates(t)
	decoder := newDecoder(t)
	base := fields{distinctID: []byte("d-1"), uuid: []byte("01900000-0000-7000-8000-000000000001"), shift: time.Hour}
	for _, tmpl := range templates {
		want := digest(t, decoder, tmpl.render(nil, base))

		newUUID := base
		newUUID.uuid = []byte("01900000-0000-7000-8000-000000000002")
		if got := digest(t, decoder, tmpl.render(nil, newUUID)); got != want {
			t.Errorf("line %d: a copy with a new uuid has another digest; want the same", tmpl.line)
		}

		nearTime := base
		nearTime.shift += tmpl.nearShift
		if got := digest(t, decoder, tmpl.render(nil, nearTime)); got == want {
			t.Errorf("line %d: a copy %v later has the same digest; want another", tmpl.line, tmpl.nearShift)
		}

		if !tmpl.hasEvent {
			t.Errorf("line %d: data.event not found", tmpl.line)
			continue
		}
		nearEvent := base
		nearEvent.eventVariant = true
		value := tmpl.render(nil, nearEvent)
		if got := digest(t, decoder, value); got == want {
			t.Errorf("line %d: a copy under another event name has the same digest; want another", tmpl.line)
		}
		if !bytes.Contains(value, []byte(eventVariantSuffix)) {
			t.Errorf("line %d: near-event copy lacks %q", tmpl.line, eventVariantSuffix)
		}
	}
}

func generateStream(t *testing.T, templates []*template, n int, opts generatorOptions) []generated {
	t.Helper()
	gen, err := newGenerator(templates, opts)
	if err != nil {
		t.Fatal(err)
	}
	var arena []byte
	stream := make([]generated, n)
	for i := range stream {
		arena, stream[i] = gen.message(arena)
	}
	return stream
}

func TestGeneratorStream(t *testing.T) {
	_, templates := loadTemplates(t)
	opts := generatorOptions{DuplicateRate: 0.2, NearRate: 0.1, Window: 500, Seed: 7, Start: time.UnixMilli(1_700_000_000_000)}
	const n = 20_000
	stream := generateStream(t, templates, n, opts)

	t.Run("reproducible", func(t *testing.T) {
		again := generateStream(t, templates, n, opts)
		for i := range stream {
			if !bytes.Equal(stream[i].value, again[i].value) || !bytes.Equal(stream[i].key, again[i].key) {
				t.Fatalf("message %d differs between two runs with seed %d", i, opts.Seed)
			}
		}
	})

	t.Run("kind shares", func(t *testing.T) {
		byKind := map[kafkatest.Kind]int{}
		for _, m := range stream {
			byKind[m.kind]++
		}
		want := map[kafkatest.Kind]float64{
			kafkatest.KindOriginal:    1 - opts.DuplicateRate - opts.NearRate,
			kafkatest.KindExactRepeat: opts.DuplicateRate / 2,
			kafkatest.KindNewUUID:     opts.DuplicateRate / 2,
			kafkatest.KindNearTime:    opts.NearRate / 2,
			kafkatest.KindNearEvent:   opts.NearRate / 2,
		}
		for kind, share := range want {
			got := float64(byKind[kind]) / n
			if math.Abs(got-share) > 0.01 {
				t.Errorf("%s share = %.4f, want %.4f ± 0.01", kind, got, share)
			}
		}
	})

	t.Run("keys", func(t *testing.T) {
		for i, m := range stream {
			var e struct {
				DistinctID string `json:"distinct_id"`
				Token      string `json:"token"`
			}
			if err := json.Unmarshal(m.value, &e); err != nil {
				t.Fatalf("message %d is not JSON: %v", i, err)
			}
			if want := e.Token + ":" + e.DistinctID; string(m.key) != want {
				t.Fatalf("message %d: key = %q, want %q", i, m.key, want)
			}
		}
	})

	t.Run("exact repeats", func(t *testing.T) {
		values := map[string]bool{}
		for i, m := range stream {
			seen := values[string(m.value)]
			if m.kind == kafkatest.KindExactRepeat && !seen {
				t.Fatalf("message %d is an exact repeat of no earlier message", i)
			}
			if m.kind == kafkatest.KindOriginal && seen && !strings.Contains(string(m.value), `"sent_at":""`) {
				t.Fatalf("message %d is an original equal to an earlier message", i)
			}
			values[string(m.value)] = true
		}
	})

	t.Run("unique count", func(t *testing.T) {
		const partitions = 4
		c, err := newCounter(partitions, n)
		if err != nil {
			t.Fatal(err)
		}
		msgs := make([]kafkatest.Generated, len(stream))
		for i, m := range stream {
			if err := c.add(m); err != nil {
				t.Fatal(err)
			}
			msgs[i] = kafkatest.Generated{Message: kafka.Message{Key: m.key, Value: m.value}, Kind: m.kind}
		}
		want := kafkatest.Expected(msgs, newDecoder(t))
		if got := c.totalUnique(); got != int64(len(want)) {
			t.Errorf("unique = %d, want %d from kafkatest.Expected", got, len(want))
		}
		if got := c.totalEvents(); got != n {
			t.Errorf("events = %d, want %d", got, n)
		}
		duplicates := int64(n) - c.totalUnique()
		copies := c.byKind[kafkatest.KindExactRepeat] + c.byKind[kafkatest.KindNewUUID]
		if duplicates < copies {
			t.Errorf("duplicates = %d, want at least the %d exact repeats and new-uuid copies", duplicates, copies)
		}

		// Each expected message's partition must have counted it.
		perPartition := make([]int64, partitions)
		for _, m := range want {
			perPartition[c.partition(m.Key)]++
		}
		for p := range perPartition {
			if perPartition[p] != c.unique[p] {
				t.Errorf("partition %d: unique = %d, want %d", p, c.unique[p], perPartition[p])
			}
		}
	})
}

func TestNewGeneratorRejectsBadOptions(t *testing.T) {
	_, templates := loadTemplates(t)
	tests := []struct {
		name string
		opts generatorOptions
	}{
		{"negative duplicate rate", generatorOptions{DuplicateRate: -0.1, Window: 1}},
		{"rates sum to one", generatorOptions{DuplicateRate: 0.6, NearRate: 0.4, Window: 1}},
		{"zero window", generatorOptions{DuplicateRate: 0.2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := newGenerator(templates, tt.opts); err == nil {
				t.Errorf("newGenerator(%+v) = nil error, want an error", tt.opts)
			}
		})
	}
}

func TestQuotedOccurrences(t *testing.T) {
	tests := []struct {
		line, text string
		want       []int
	}{
		{`{"a":"id1","b":"id10"}`, "id1", []int{6}},
		{`{"data":"{\"d\": \"id1\"}","x":"id1"}`, "id1", []int{19, 32}},
		{`{"a":"xid1"}`, "id1", nil},
	}
	for _, tt := range tests {
		got := quotedOccurrences([]byte(tt.line), tt.text)
		if len(got) != len(tt.want) {
			t.Errorf("quotedOccurrences(%s, %q) = %v, want %v", tt.line, tt.text, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("quotedOccurrences(%s, %q) = %v, want %v", tt.line, tt.text, got, tt.want)
			}
		}
	}
}

func BenchmarkGenerator(b *testing.B) {
	corpus, err := kafkatest.LoadCorpus(kafkatest.CorpusPath())
	if err != nil {
		b.Fatal(err)
	}
	var templates []*template
	for i, line := range corpus {
		tmpl, err := newTemplate(i+1, line)
		if err != nil {
			b.Fatal(err)
		}
		templates = append(templates, tmpl)
	}
	gen, err := newGenerator(templates, generatorOptions{DuplicateRate: 0.2, NearRate: 0.05, Window: 10_000, Seed: 1, Start: time.Now()})
	if err != nil {
		b.Fatal(err)
	}
	arena := make([]byte, 0, 1<<20)
	b.ReportAllocs()
	for b.Loop() {
		if len(arena) > 1<<19 {
			arena = arena[:0]
		}
		arena, _ = gen.message(arena)
	}
}
