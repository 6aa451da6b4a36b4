// Package pipeline runs the deduplicator: one consumer group per configured
// topic pair and, inside each group generation, one lane per assigned
// partition.
//
// A lane is a chain of goroutines joined by bounded channels that carry
// batches of messages:
//
//		fetch → decode → key → dedup (RocksDB) → produce → commit
//
//	  - fetch reads the partition in offset order, takes one in-flight token per
//	    message from the process-wide limit, and cuts batches of at most
//	    pipeline.batch_size from whatever has arrived, without waiting to fill
//	    them.
//	  - decode parses each value with the pair's format; key turns the decoded
//	    fields into a 128-bit digest.
//	  - dedup sends all digests of the batch to the partition's store in one
//	    lookup-and-insert (a batched MultiGet per bucket, one WriteBatch).
//	  - produce writes the unique events, and the undecodable ones, to the
//	    output topic with acks from all in-sync replicas, retrying with backoff.
//	  - commit records the batch's end as the lane's done offset and returns the
//	    in-flight tokens. A committer per generation sends the done offsets to
//	    the group coordinator every pipeline.commit_interval, and once more when
//	    the generation ends.
//
// Invariants that the code below keeps:
//
//  1. Order: within a partition, batches pass every stage up to produce in
//     offset order, one stage goroutine each, and the commit stage takes
//     them in that order too. Output writes of up to
//     pipeline.writes_in_flight batches run at once, so output order follows
//     input order within a batch, while consecutive batches (and retried
//     messages) can interleave.
//  2. A message's key is in the store before its offset can be committed,
//     because the dedup stage runs before produce and commit.
//  3. An offset is committed only after every write (output and side topics)
//     of the messages below it was acknowledged. A batch that cannot be
//     written is never marked done, and nothing after it in the lane is
//     either.
//  4. Committed offsets only move forward within a generation: the done offset
//     of a lane is the end of its latest finished batch.
//  5. A replayed message (same key, same offset as the stored first copy) is
//     unique, not a duplicate, so a crash between the store write and the
//     commit never loses an event. It may be written to the output twice.
//  6. No lane of an ended generation touches a store or commits: every lane,
//     the committer and the store closes finish before the function passed to
//     the generation returns, and the client starts the next generation only
//     after that.
//
// When a generation ends (rebalance or shutdown), fetching stops at once and
// the batches already fetched are finished within pipeline.shutdown_timeout.
// Batches still unfinished then are abandoned without commit; the next owner
// of the partition reads them again. Messages that the Kafka client had read
// ahead but not yet handed to the lane are deliberately not drained: they are
// above the done offset and are read again too.
package pipeline
