package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/segmentio/kafka-go"
)

// write sends msgs to one sink and retries the failed messages with
// exponential backoff and jitter until all are acknowledged or work ends.
// Every failure is retried, including ones that cannot heal by themselves
// (a message over the topic's size limit): skipping a message would lose
// it, so the lane stalls instead, logs the cause and fails /_liveness.
func (l *lane) write(work context.Context, to sink, b *batch, msgs []kafka.Message) error {
	if to.producer == nil || len(msgs) == 0 {
		return nil
	}
	pending := msgs
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := to.producer.WriteMessages(work, pending...)
		if err == nil {
			return nil
		}
		if work.Err() != nil {
			return work.Err()
		}

		// Retry only the messages that failed when the client says which.
		var writeErrs kafka.WriteErrors
		if errors.As(err, &writeErrs) && len(writeErrs) == len(pending) {
			failed := make([]kafka.Message, 0, writeErrs.Count())
			for i, e := range writeErrs {
				if e != nil {
					failed = append(failed, pending[i])
				}
			}
			if len(failed) > 0 {
				pending = failed
			}
		}
		l.metrics.produceRetries.Inc()
		l.retryLog.Warn("write failed, retrying; offsets are not committed past this batch",
			"to_topic", to.topic, "offset_first", b.msgs[0].Offset, "offset_last", b.lastOffset(),
			"messages", len(pending), "attempt", attempt, "backoff", backoff, "error", summarizeWriteError(err))

		// Jitter keeps lanes that failed together from retrying together.
		sleep := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-time.After(sleep):
		case <-work.Done():
			return work.Err()
		}
		backoff = min(2*backoff, l.backoffMax)
	}
}

// summarizeWriteError shortens the client's per-message error list to a count
// and the first error, with a remedy for errors that retrying cannot fix.
func summarizeWriteError(err error) string {
	var writeErrs kafka.WriteErrors
	if !errors.As(err, &writeErrs) {
		return err.Error()
	}
	var first error
	for _, e := range writeErrs {
		if e != nil {
			first = e
			break
		}
	}
	text := fmt.Sprintf("%d of %d messages failed, first error: %v", writeErrs.Count(), len(writeErrs), first)
	switch {
	case errors.Is(first, kafka.MessageSizeTooLarge):
		text += "; raise max.message.bytes of the topic, because this batch is retried until it fits"
	case errors.Is(first, kafka.UnknownTopicOrPartition):
		text += "; create the topic, because this batch is retried until it exists"
	case errors.Is(first, kafka.TopicAuthorizationFailed):
		text += "; grant this client write access to the topic"
	}
	return text
}
