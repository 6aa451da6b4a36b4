package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Default values that Open uses for zero fields of Options.
const (
	DefaultRetention       = 7 * 24 * time.Hour
	DefaultBuckets         = 8
	DefaultBlockCacheBytes = 32 << 20
	DefaultMinFreeBytes    = 64 << 20

	// MaxBuckets bounds Options.Buckets. Every live bucket is a column family
	// with its own memtable and is consulted on every lookup.
	MaxBuckets = 64
)

// Options configures one store. A zero field takes the default named on it.
type Options struct {
	// Path is the store directory, for example "{store.path}/{topic}_{partition}".
	// Open creates it, and missing parents, with mode 0o755. Required.
	Path string

	// Retention is how long a key is remembered, counted from the time it
	// was stored (not from the event timestamp). A key is reported as a
	// duplicate for at least Retention and is removed from disk at most one
	// bucket width (Retention/Buckets) later. Default DefaultRetention (7 days).
	Retention time.Duration

	// Buckets is the number of time buckets the retention window is split
	// into. Each bucket is a RocksDB column family that is dropped whole once
	// all of its keys are past Retention. More buckets remove expired keys
	// sooner but add one bloom-filter probe per key per bucket to every
	// lookup. Default DefaultBuckets (8); at most MaxBuckets.
	Buckets int

	// MaxBytes caps the size on disk of this store in bytes (SST, WAL and
	// RocksDB's own metadata files). When the store grows past it, the oldest
	// buckets are evicted before their retention ends. Zero means unlimited.
	MaxBytes int64

	// MinFreeBytes is the free space that must remain on the store's file
	// system: a batch that would be written with less free space fails with
	// ErrDiskFull instead, and nothing of it is stored. RocksDB needs the
	// headroom for flushes and compactions, and Debian's RocksDB 7.8 build
	// aborts the process on a write after a failed WAL write, so a full disk
	// must never be reached through RocksDB. Default DefaultMinFreeBytes.
	MinFreeBytes int64

	// BlockCacheBytes is the size of this store's RocksDB block cache in
	// bytes. Each store has its own cache, so a process with many partitions
	// uses this many bytes per partition. Default DefaultBlockCacheBytes (32 MiB).
	BlockCacheBytes int64

	// Now returns the current time. It decides which bucket new keys go to
	// and when keys expire. Default time.Now; tests inject a fake clock.
	Now func() time.Time

	// Logger receives lifecycle, expiry and eviction logs. Default: a logger
	// that discards everything.
	Logger *slog.Logger
}

// withDefaults returns a copy of o with every zero field set to its default.
// Negative values are kept so that validate can reject them.
func (o Options) withDefaults() Options {
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.Buckets == 0 {
		o.Buckets = DefaultBuckets
	}
	if o.BlockCacheBytes == 0 {
		o.BlockCacheBytes = DefaultBlockCacheBytes
	}
	if o.MinFreeBytes == 0 {
		o.MinFreeBytes = DefaultMinFreeBytes
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// validate reports every invalid field of o at once. It expects o to have
// passed through withDefaults.
func (o Options) validate() error {
	var errs []error
	if o.Path == "" {
		errs = append(errs, errors.New("path is empty; set it to the store directory, for example {store.path}/{topic}_{partition}"))
	}
	if o.Retention < 0 {
		errs = append(errs, fmt.Errorf("retention %v is negative; use a positive duration, or zero for the default %v", o.Retention, DefaultRetention))
	}
	if o.Buckets < 0 || o.Buckets > MaxBuckets {
		errs = append(errs, fmt.Errorf("buckets %d is out of range; use 1 to %d, or zero for the default %d", o.Buckets, MaxBuckets, DefaultBuckets))
	}
	if o.Retention > 0 && o.Buckets > 0 && o.Retention/time.Duration(o.Buckets) < time.Millisecond {
		errs = append(errs, fmt.Errorf("retention %v split into %d buckets gives buckets shorter than 1ms; use a longer retention or fewer buckets", o.Retention, o.Buckets))
	}
	if o.MinFreeBytes < 0 {
		errs = append(errs, fmt.Errorf("min free bytes %d is negative; use a positive size", o.MinFreeBytes))
	}
	if o.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("max bytes %d is negative; use a positive size, or zero for unlimited", o.MaxBytes))
	}
	if o.BlockCacheBytes < 0 {
		errs = append(errs, fmt.Errorf("block cache bytes %d is negative; use a positive size, or zero for the default %d", o.BlockCacheBytes, DefaultBlockCacheBytes))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("invalid store options: %w", errors.Join(errs...))
}

// bucketWidthMs returns the time span of one bucket in milliseconds.
func (o Options) bucketWidthMs() int64 {
	return (o.Retention / time.Duration(o.Buckets)).Milliseconds()
}
