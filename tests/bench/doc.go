// Command bench measures the deduplicator's throughput on a real broker,
// with every run in one process on the same broker and the same input, and
// prints a table. `make bench` starts the broker, builds the binaries, runs
// this command and stops the broker.
//
// Steps:
//
//  1. tests/loadgen writes -events captured events to a new input topic,
//     once, and reports how many of them are unique.
//  2. a. Broker ceiling: Kafka's ProducerPerformance writes as many records
//     of the input's average value size to a scratch topic, and
//     ConsumerPerformance reads the input topic.
//  3. w. Warm-up: -warmup-events events on a topic of their own, copied in
//     pass-through mode and not compared. Without it, the first run of a
//     short bench on the new broker was the slowest: at 100,000 events a
//     pass-through run after d was 1.7 times as fast as the same run first.
//  4. b. Pass-through: the deduplicator with pipeline.fail_open = true copies
//     the input to a fresh output topic without decoding or stores.
//  5. c. Deduplication into a fresh output topic with a fresh group and empty
//     stores.
//  6. d. The same after -prefill random keys were stored in the partitions'
//     stores with the storage package.
//  7. b2. The pass-through again on the same input (-repeat-pass-through),
//     which shows how much the machine drifted between the first and the
//     last run.
//  8. e. Latency: deduplication of a new topic that the load generator
//     writes at a fixed rate, by default a quarter of the rate of c, for
//     -latency-seconds. The report marks a run in which the deduplicator
//     fell behind the paced input.
//
// Definitions, per deduplicator run:
//
//   - events/s: input events divided by the measured window. The window
//     starts at the first scrape of /metrics (every 50 ms) that shows a
//     consumed message. It ends at the first poll (every 100 ms) that finds
//     the group's committed offsets equal to the input's end offsets, which
//     is up to one pipeline.commit_interval after the last output write was
//     acknowledged. results.json also has the rate up to that write.
//   - CPU s / 1M events: the user plus system time of the deduplicator
//     process in the window, from /proc/PID/stat, per million input events.
//   - peak RSS: VmHWM from /proc/PID/status at the end of the window.
//   - p50 and p99 e2e: quantiles of kafka_deduplicator_end_to_end_latency_seconds
//     scraped at the end, interpolated inside its buckets. The latency counts
//     from the input record's timestamp, which the load generator sets when
//     it writes, so in runs b to d it includes the time the record waited in
//     the topic before the run started. Only run e measures the processing
//     delay.
//   - output: the output topic's message count, checked per partition
//     against the load generator's count (every event for b, the unique
//     events for c to e). A mismatch fails the bench.
//
// Configs, logs, stores and results.json go to a new directory under -out.
// The topics and stores are deleted after the last run unless -keep is set.
// The broker removes a deleted topic's files 60 s later (its default
// file.delete.delay.ms), and make bench stops it sooner. So its data
// directory keeps them, about 14 GB at the default size, until the next
// start of a broker on that port, which wipes the directory.
package main
