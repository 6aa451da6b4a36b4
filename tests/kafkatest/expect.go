package kafkatest

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/segmentio/kafka-go"

	"kafka-deduplicator/stages"
)

// Expected returns the messages a correct deduplicator writes for a stream:
// the first copy of every dedup key in stream order, and every message that
// cannot be decoded. All copies of an event share a Kafka key and so a
// partition, so stream order is the order in which the deduplicator reads them.
func Expected(stream []Generated, decoder stages.Decoder) []kafka.Message {
	seen := map[stages.Digest]bool{}
	var out []kafka.Message
	for _, g := range stream {
		var d stages.Decoded
		if err := decoder.Decode(g.Message.Value, &d); err != nil {
			out = append(out, g.Message)
			continue
		}
		digest := d.Digest()
		if seen[digest] {
			continue
		}
		seen[digest] = true
		out = append(out, g.Message)
	}
	return out
}

// Fingerprint identifies a message by its key, value and headers, the parts
// the deduplicator must copy unchanged.
func Fingerprint(m kafka.Message) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%q|%q", m.Key, m.Value)
	for _, h := range m.Headers {
		fmt.Fprintf(&b, "|%q=%q", h.Key, h.Value)
	}
	return b.String()
}

// Diff compares the output of a run against the expected messages. Missing
// are expected messages absent from the output (lost events); extra are
// output messages beyond the expected ones (duplicates or strangers).
type Diff struct {
	Missing []kafka.Message
	Extra   []kafka.Message
}

// Compare returns the multiset difference of expected and got by Fingerprint.
func Compare(expected, got []kafka.Message) Diff {
	counts := map[string]int{}
	byPrint := map[string]kafka.Message{}
	for _, m := range expected {
		p := Fingerprint(m)
		counts[p]++
		byPrint[p] = m
	}
	var diff Diff
	for _, m := range got {
		p := Fingerprint(m)
		if counts[p] > 0 {
			counts[p]--
			continue
		}
		diff.Extra = append(diff.Extra, m)
	}
	keys := make([]string, 0, len(counts))
	for p := range counts {
		keys = append(keys, p)
	}
	sort.Strings(keys)
	for _, p := range keys {
		for range counts[p] {
			diff.Missing = append(diff.Missing, byPrint[p])
		}
	}
	return diff
}

// Describe renders up to limit messages for a failure message.
func Describe(msgs []kafka.Message, limit int) string {
	var b bytes.Buffer
	for i, m := range msgs {
		if i == limit {
			fmt.Fprintf(&b, "  ... and %d more\n", len(msgs)-limit)
			break
		}
		value := m.Value
		if len(value) > 160 {
			value = append(value[:160:160], "..."...)
		}
		fmt.Fprintf(&b, "  key=%q headers=%v value=%s\n", m.Key, m.Headers, value)
	}
	return b.String()
}
