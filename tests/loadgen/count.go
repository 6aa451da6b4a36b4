package main

import (
	"errors"
	"fmt"

	"github.com/segmentio/kafka-go"

	"kafka-deduplicator/stages"
	"kafka-deduplicator/tests/kafkatest"
)

// counter counts what a correct deduplicator outputs for a stream: the
// distinct dedup digests, computed with the deduplicator's own captured_event
// decoder, plus every message that cannot be decoded, which the deduplicator
// forwards unchanged. All copies of an event share a Kafka key and therefore
// a partition, so counting globally and attributing each new digest to the
// partition of its first message gives the per-partition counts too.
// A counter is not safe for concurrent use.
type counter struct {
	decoder    stages.Decoder
	decoded    stages.Decoded
	balancer   kafka.Murmur2Balancer
	partitions []int
	seen       map[stages.Digest]struct{}

	byKind      map[kafkatest.Kind]int64
	events      []int64 // per partition
	unique      []int64 // per partition: distinct digests plus undecodable messages
	undecodable int64
	valueBytes  int64
	minValue    int
	maxValue    int
}

func newCounter(partitions int, expectedEvents int) (*counter, error) {
	decoder, err := stages.NewDecoder(stages.FormatConfig{Format: stages.FormatCapturedEvent})
	if err != nil {
		return nil, err
	}
	ids := make([]int, partitions)
	for i := range ids {
		ids[i] = i
	}
	return &counter{
		decoder:    decoder,
		partitions: ids,
		seen:       make(map[stages.Digest]struct{}, expectedEvents),
		byKind:     map[kafkatest.Kind]int64{},
		events:     make([]int64, partitions),
		unique:     make([]int64, partitions),
	}, nil
}

// partition returns the partition that kafka-go's Murmur2Balancer, which
// the load generator and the deduplicator both write with, picks for key.
func (c *counter) partition(key []byte) int {
	return c.balancer.Balance(kafka.Message{Key: key}, c.partitions...)
}

// add counts one message.
func (c *counter) add(m generated) error {
	p := c.partition(m.key)
	c.byKind[m.kind]++
	c.events[p]++
	n := len(m.value)
	c.valueBytes += int64(n)
	if c.minValue == 0 || n < c.minValue {
		c.minValue = n
	}
	c.maxValue = max(c.maxValue, n)

	if err := c.decoder.Decode(m.value, &c.decoded); err != nil {
		var decodeErr *stages.DecodeError
		if !errors.As(err, &decodeErr) {
			return fmt.Errorf("cannot decode a generated event: %w", err)
		}
		c.undecodable++
		c.unique[p]++
		return nil
	}
	digest := c.decoded.Digest()
	if _, ok := c.seen[digest]; ok {
		return nil
	}
	c.seen[digest] = struct{}{}
	c.unique[p]++
	return nil
}

func (c *counter) totalEvents() int64 { return sum(c.events) }
func (c *counter) totalUnique() int64 { return sum(c.unique) }

func sum(values []int64) int64 {
	var total int64
	for _, v := range values {
		total += v
	}
	return total
}
