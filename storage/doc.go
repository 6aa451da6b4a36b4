// Package storage keeps the dedup keys of one Kafka partition in a RocksDB
// database: one Store per partition, in its own directory.
//
// A Store maps 16-byte event digests to the offset, stored time, event
// timestamp and uuid hash of the first event that carried the digest.
// LookupAndInsert checks a batch of events and stores the new digests with
// one batched MultiGet per bucket and one WriteBatch, both called through
// RocksDB's C API once per batch.
//
// Keys expire Retention after they were stored. The retention window is
// split into time buckets, one RocksDB column family each. New keys go to
// the current bucket, and lookups probe every live bucket, where bloom
// filters make a miss cheap. A bucket that takes no more writes is
// compacted in the background into one sorted run, so a lookup checks one
// filter in it. A bucket whose keys have all expired is
// dropped whole, which costs no compaction. When Options.MaxBytes is set
// and the store outgrows it, the oldest buckets are evicted early the same
// way. docs/storage-expiry.md has the benchmark behind this choice.
//
// Durability: writes go to RocksDB's write-ahead log without fsync, so a
// process crash loses no stored key, but a machine crash can lose the last
// writes. A key lost that way is treated as new when its event is consumed
// again.
package storage
