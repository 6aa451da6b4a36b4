package storage

import (
	"strconv"

	"github.com/linxGnu/grocksdb"
)

// RocksDB tuning shared by all stores. Memtable sizes bound the memory of
// one store to about dbWriteBufferBytes plus Options.BlockCacheBytes, plus
// the bloom filters and indexes of open SST files, which are not charged
// to the block cache.
const (
	writeBufferBytes   = 16 << 20
	dbWriteBufferBytes = 64 << 20
	maxTotalWALBytes   = 64 << 20
	bloomBitsPerKey    = 10
	memtableBloomRatio = 0.05
	metadataBlockBytes = 4 << 10
	numLevels          = 7
	infoLogFiles       = 4
	infoLogFileBytes   = 8 << 20
)

// rocksResources owns the RocksDB option objects of one store. They must
// outlive the database, so Close destroys them after closing it.
type rocksResources struct {
	opts      *grocksdb.Options
	table     *grocksdb.BlockBasedTableOptions
	cache     *grocksdb.Cache
	read      *grocksdb.ReadOptions
	write     *grocksdb.WriteOptions
	flushWait *grocksdb.FlushOptions
}

// newRocksResources builds the options used for the database and every
// column family of a store.
func newRocksResources(o Options) *rocksResources {
	r := &rocksResources{}

	// Point lookups of random 16-byte keys: a full bloom filter per SST file
	// lets a lookup skip every bucket that does not hold the key, which is
	// the common case because most keys are new.
	r.cache = grocksdb.NewLRUCache(uint64(o.BlockCacheBytes))
	r.table = grocksdb.NewDefaultBlockBasedTableOptions()
	r.table.SetBlockCache(r.cache)
	r.table.SetFilterPolicy(grocksdb.NewBloomFilterFull(bloomBitsPerKey))
	// Keep bloom filters and index blocks in the block cache, so the memory
	// they take is bounded by BlockCacheBytes instead of growing with the
	// keys stored. High priority keeps them cached ahead of data blocks.
	//
	// Filters and indexes are partitioned into blocks of about
	// metadataBlockBytes, with a small top-level index per SST file that
	// stays pinned. Without partitions, the filter of a large SST file is a
	// single block of megabytes, more than one shard of the block cache
	// takes. CPU profiles showed every lookup reading and checksumming such
	// filters again, and the CPU per key grew from about 8 µs with half a
	// million keys stored to about 100 µs with 10 million.
	r.table.SetCacheIndexAndFilterBlocks(true)
	r.table.SetCacheIndexAndFilterBlocksWithHighPriority(true)
	r.table.SetPinL0FilterAndIndexBlocksInCache(true)
	r.table.SetIndexType(grocksdb.KTwoLevelIndexSearchIndexType)
	r.table.SetPartitionFilters(true)
	r.table.SetMetadataBlockSize(metadataBlockBytes)
	r.table.SetPinTopLevelIndexAndFilter(true)

	r.opts = grocksdb.NewDefaultOptions()
	r.opts.SetCreateIfMissing(true)
	r.opts.SetBlockBasedTableFactory(r.table)
	r.opts.SetLevelCompactionDynamicLevelBytes(true)
	r.opts.SetNumLevels(numLevels)

	// Only the newest bucket takes writes. The shared write buffer limit and
	// the WAL limit make RocksDB flush memtables of older buckets, so their
	// WAL files can be deleted.
	r.opts.SetWriteBufferSize(writeBufferBytes)
	r.opts.SetDbWriteBufferSize(dbWriteBufferBytes)
	r.opts.SetMaxTotalWalSize(maxTotalWALBytes)

	// A bloom filter of the whole keys in each memtable lets a lookup skip
	// the memtables of every bucket that does not hold the key, instead of
	// searching each skiplist.
	r.opts.SetMemTablePrefixBloomSizeRatio(memtableBloomRatio)
	r.opts.SetMemtableWholeKeyFiltering(true)

	// Bound RocksDB's own LOG files, which count towards Options.MaxBytes.
	r.opts.SetKeepLogFileNum(infoLogFiles)
	r.opts.SetMaxLogFileSize(infoLogFileBytes)

	r.read = grocksdb.NewDefaultReadOptions()
	// Writes go to the WAL without fsync: a process crash loses nothing,
	// a machine crash can lose the last writes.
	r.write = grocksdb.NewDefaultWriteOptions()
	r.flushWait = grocksdb.NewDefaultFlushOptions()
	r.flushWait.SetWait(true)
	return r
}

// destroy frees the option objects. The database must be closed already.
func (r *rocksResources) destroy() {
	r.flushWait.Destroy()
	r.write.Destroy()
	r.read.Destroy()
	r.opts.Destroy()
	r.table.Destroy()
	r.cache.Destroy()
}

// uintProperty returns a numeric RocksDB property of a column family, or 0
// when RocksDB does not report it.
func uintProperty(db *grocksdb.DB, cf *grocksdb.ColumnFamilyHandle, name string) int64 {
	v, err := strconv.ParseUint(db.GetPropertyCF(name, cf), 10, 63)
	if err != nil {
		return 0
	}
	return int64(v)
}
