// Command loadgen writes a stream of captured events to a Kafka topic for
// benchmarks, and prints exactly how many of them a correct deduplicator
// outputs.
//
// The stream is built from the real events of the corpus
// (kafkatest.CorpusPath). Each corpus event becomes a template once: its
// distinct_id, uuid, time texts and event name are located, and the rest
// is kept as literal bytes. A new event is rendered by filling those slots,
// without decoding or encoding JSON: BenchmarkGenerator measured 2.6 µs per
// event on a 2-core AMD EPYC, so writing to the broker is what limits it.
//
// Originals walk through the corpus round after round. Each round gives the
// distinct ids the suffix "-{round in base 36}", draws fresh uuids, and
// moves the event's times so that its receive time ("now") is the start time
// plus round milliseconds. The corpus's own duplicates, events with the
// same key but different uuids, therefore repeat in every round. Mixed in,
// drawn from the latest -window originals:
//
//   - exact repeats and copies with a new uuid (-duplicate-rate, duplicates);
//   - copies 1 ms later (1 s for times without milliseconds) and copies
//     under another event name (-near-rate, unique).
//
// Kafka keys are "token:distinct_id", so all copies of an event land on one
// partition. The unique count comes from the deduplicator's own
// captured_event decoder: the distinct digests, plus any event it cannot
// decode (the deduplicator forwards those). A near copy can happen to match
// another corpus event of its round, which makes it a duplicate after all.
// So the kinds count what was generated, and the unique count is what it
// amounts to.
//
// Usage:
//
//	loadgen -brokers 127.0.0.1:19092 -topic bench-input -partitions 8 -n 1000000 -summary load.json
package main
