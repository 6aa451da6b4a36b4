// Package kafkatest holds what the integration tests and the demo need around
// a real Kafka broker: topic creation, loading messages, reading a topic back,
// and waiting for a consumer group to commit everything.
package kafkatest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/segmentio/kafka-go"
)

// DefaultBootstrap is where tests/kafka/broker.sh starts the broker.
const DefaultBootstrap = "127.0.0.1:19092"

// Bootstrap returns the broker address from KAFKA_BOOTSTRAP, or
// DefaultBootstrap.
func Bootstrap() string {
	if addr := os.Getenv("KAFKA_BOOTSTRAP"); addr != "" {
		return addr
	}
	return DefaultBootstrap
}

// Cluster talks to one broker with kafka-go's Client, which negotiates API
// versions with the broker.
type Cluster struct {
	Addr   string
	client *kafka.Client
}

// NewCluster returns a Cluster for the broker at addr.
func NewCluster(addr string) *Cluster {
	return &Cluster{Addr: addr, client: &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second}}
}

// Ping returns an error unless a metadata request to the broker succeeds.
func (c *Cluster) Ping(ctx context.Context) error {
	_, err := c.client.Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		return fmt.Errorf("cannot reach the Kafka broker at %s: %w; start it with tests/kafka/broker.sh start", c.Addr, err)
	}
	return nil
}

// CreateTopic creates a topic with the given partition count and replication
// factor 1, and waits until every partition has a leader.
func (c *Cluster) CreateTopic(ctx context.Context, name string, partitions int) error {
	resp, err := c.client.CreateTopics(ctx, &kafka.CreateTopicsRequest{
		Topics: []kafka.TopicConfig{{Topic: name, NumPartitions: partitions, ReplicationFactor: 1}},
	})
	if err != nil {
		return fmt.Errorf("cannot create topic %s: %w", name, err)
	}
	if err := resp.Errors[name]; err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
		return fmt.Errorf("cannot create topic %s: %w", name, err)
	}
	for {
		meta, err := c.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{name}})
		if err == nil && len(meta.Topics) == 1 && meta.Topics[0].Error == nil && len(meta.Topics[0].Partitions) == partitions {
			ready := true
			for _, p := range meta.Topics[0].Partitions {
				if p.Leader.ID < 0 || p.Error != nil {
					ready = false
				}
			}
			// Metadata can name a leader before the leader serves requests;
			// an offset listing proves it does.
			if _, err := c.EndOffsets(ctx, name); ready && err == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topic %s has no leader for every partition: %w", name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Partitions returns the partition count of a topic.
func (c *Cluster) Partitions(ctx context.Context, topic string) (int, error) {
	meta, err := c.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return 0, fmt.Errorf("cannot read metadata of topic %s: %w", topic, err)
	}
	if len(meta.Topics) != 1 || meta.Topics[0].Error != nil {
		return 0, fmt.Errorf("topic %s not found", topic)
	}
	return len(meta.Topics[0].Partitions), nil
}

// EndOffsets returns the log end offset of every partition of a topic.
func (c *Cluster) EndOffsets(ctx context.Context, topic string) (map[int]int64, error) {
	n, err := c.Partitions(ctx, topic)
	if err != nil {
		return nil, err
	}
	requests := make([]kafka.OffsetRequest, n)
	for p := range n {
		requests[p] = kafka.LastOffsetOf(p)
	}
	resp, err := c.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: requests}})
	if err != nil {
		return nil, fmt.Errorf("cannot list offsets of topic %s: %w", topic, err)
	}
	ends := make(map[int]int64, n)
	for _, p := range resp.Topics[topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("cannot list offsets of topic %s partition %d: %w", topic, p.Partition, p.Error)
		}
		ends[p.Partition] = p.LastOffset
	}
	return ends, nil
}

// CommittedOffsets returns the offsets a group committed on a topic; a
// partition without a commit is absent.
func (c *Cluster) CommittedOffsets(ctx context.Context, group, topic string, partitions int) (map[int]int64, error) {
	ids := make([]int, partitions)
	for i := range ids {
		ids[i] = i
	}
	resp, err := c.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: ids}})
	if err != nil {
		return nil, fmt.Errorf("cannot fetch offsets of group %s: %w", group, err)
	}
	if resp.Error != nil {
		return nil, fmt.Errorf("cannot fetch offsets of group %s: %w", group, resp.Error)
	}
	committed := map[int]int64{}
	for _, p := range resp.Topics[topic] {
		if p.Error == nil && p.CommittedOffset >= 0 {
			committed[p.Partition] = p.CommittedOffset
		}
	}
	return committed, nil
}

// WaitCommitted waits until group has committed the end offset of every
// partition of topic, which means every input message was processed and its
// output acknowledged.
func (c *Cluster) WaitCommitted(ctx context.Context, group, topic string) error {
	var last string
	for {
		ends, err := c.EndOffsets(ctx, topic)
		if err == nil {
			var committed map[int]int64
			committed, err = c.CommittedOffsets(ctx, group, topic, len(ends))
			if err == nil {
				done := true
				for p, end := range ends {
					if end > 0 && committed[p] != end {
						done = false
					}
				}
				if done {
					return nil
				}
				last = fmt.Sprintf("end offsets %v, committed %v", ends, committed)
			}
		}
		if err != nil {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("group %s did not commit all of topic %s (%s): %w", group, topic, last, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Produce writes messages in order with acks from all replicas. Messages with
// the same key land on the same partition, in order.
func (c *Cluster) Produce(ctx context.Context, topic string, msgs []kafka.Message) error {
	w := &kafka.Writer{
		Addr:         kafka.TCP(c.Addr),
		Topic:        topic,
		Balancer:     &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll,
		BatchSize:    1000,
		BatchTimeout: 5 * time.Millisecond,
	}
	defer w.Close()
	for start := 0; start < len(msgs); start += 5000 {
		end := min(start+5000, len(msgs))
		if err := w.WriteMessages(ctx, msgs[start:end]...); err != nil {
			var writeErrs kafka.WriteErrors
			if errors.As(err, &writeErrs) {
				return fmt.Errorf("cannot produce %d of %d messages to %s, first error: %w",
					writeErrs.Count(), end-start, topic, firstError(writeErrs))
			}
			return fmt.Errorf("cannot produce %d messages to %s: %w", end-start, topic, err)
		}
	}
	return nil
}

// ReadAll returns every message of every partition of topic, from the first
// offset to the end offset at the time of the call.
func (c *Cluster) ReadAll(ctx context.Context, topic string) ([]kafka.Message, error) {
	ends, err := c.EndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	var all []kafka.Message
	for p, end := range ends {
		if end == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers: []string{c.Addr}, Topic: topic, Partition: p, MaxBytes: 10 << 20,
			// Close waits for the read-ahead fetch, which long-polls up to MaxWait
			// at the end of the partition.
			MaxWait: 200 * time.Millisecond,
		})
		if err := r.SetOffset(kafka.FirstOffset); err != nil {
			r.Close()
			return nil, err
		}
		for {
			msg, err := r.ReadMessage(ctx)
			if err != nil {
				r.Close()
				return nil, fmt.Errorf("cannot read topic %s partition %d: %w", topic, p, err)
			}
			all = append(all, msg)
			if msg.Offset >= end-1 {
				break
			}
		}
		r.Close()
	}
	return all, nil
}

// FreeAddr returns a loopback TCP address that was free a moment ago.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func firstError(errs kafka.WriteErrors) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
