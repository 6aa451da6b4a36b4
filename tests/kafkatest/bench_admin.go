package kafkatest

import (
	"context"
	"errors"
	"fmt"

	"github.com/segmentio/kafka-go"
)

// DeleteTopics deletes topics; a topic that does not exist is not an error.
// The broker removes the log files in the background, after its
// file.delete.delay.ms (60 s by default).
func (c *Cluster) DeleteTopics(ctx context.Context, topics ...string) error {
	if len(topics) == 0 {
		return nil
	}
	resp, err := c.client.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: topics})
	if err != nil {
		return fmt.Errorf("cannot delete topics %v: %w", topics, err)
	}
	var errs []error
	for topic, err := range resp.Errors {
		if err != nil && !errors.Is(err, kafka.UnknownTopicOrPartition) {
			errs = append(errs, fmt.Errorf("cannot delete topic %s: %w", topic, err))
		}
	}
	return errors.Join(errs...)
}
