package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"kafka-deduplicator/storage"
)

// prefillBatch is how many keys one LookupAndInsert call stores.
const prefillBatch = 10_000

// prefillResult describes stores filled before the warm-store run.
type prefillResult struct {
	Keys      int64   `json:"keys"`
	Seconds   float64 `json:"seconds"`
	KeysPerS  float64 `json:"keys_per_second"`
	SizeBytes int64   `json:"size_bytes"`
	// EstimatedKeys is RocksDB's estimate-num-keys summed over the stores.
	EstimatedKeys int64 `json:"estimated_keys"`
}

// prefill stores keys random 16-byte digests in the stores of topic's
// partitions under root, {root}/{topic}_{partition}, split evenly, with the
// store options the deduplicator uses. Two partitions fill at a time. The
// random digests never match an event's digest (a 2^-128 chance each), so
// the warm run finds every key of its input new, as in a store that holds
// older events.
func prefill(ctx context.Context, root, topic string, partitions int, keys int64, opts storage.Options, seed uint64) (*prefillResult, error) {
	start := time.Now()
	result := &prefillResult{Keys: keys}
	estimates := make([]int64, partitions)
	sizes := make([]int64, partitions)

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(2)
	for p := range partitions {
		share := keys / int64(partitions)
		if int64(p) < keys%int64(partitions) {
			share++
		}
		g.Go(func() error {
			o := opts
			o.Path = filepath.Join(root, fmt.Sprintf("%s_%d", topic, p))
			est, size, err := fillStore(gctx, o, share, seed+uint64(p))
			estimates[p], sizes[p] = est, size
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	result.Seconds = time.Since(start).Seconds()
	result.KeysPerS = float64(keys) / result.Seconds
	for p := range partitions {
		result.EstimatedKeys += estimates[p]
		result.SizeBytes += sizes[p]
	}
	return result, nil
}

// fillStore opens one store, stores n random keys and closes it. It returns
// RocksDB's key estimate and the store's size on disk.
func fillStore(ctx context.Context, opts storage.Options, n int64, seed uint64) (int64, int64, error) {
	store, err := storage.Open(opts)
	if err != nil {
		return 0, 0, err
	}

	rng := rand.New(rand.NewPCG(seed, seed^0xbb67ae8584caa73b))
	entries := make([]storage.Entry, prefillBatch)
	results := make([]storage.Result, prefillBatch)
	nowMs := time.Now().UnixMilli()
	for done := int64(0); done < n; {
		if err := ctx.Err(); err != nil {
			store.Close()
			return 0, 0, err
		}
		batch := int(min(int64(prefillBatch), n-done))
		for i := range batch {
			e := &entries[i]
			for j := 0; j < 16; j += 8 {
				v := rng.Uint64()
				for k := range 8 {
					e.Key[j+k] = byte(v >> (8 * k))
				}
			}
			// Offsets far above any input offset, so a stored record never
			// looks like a replay of an input message.
			e.Offset = 1<<40 + done + int64(i)
			e.Timestamp = nowMs
			e.UUIDHash = rng.Uint64() | 1
		}
		if err := store.LookupAndInsert(entries[:batch], results[:batch]); err != nil {
			store.Close()
			return 0, 0, fmt.Errorf("cannot prefill dedup store %s: %w", opts.Path, err)
		}
		done += int64(batch)
	}

	stats := store.Stats()
	if err := store.Close(); err != nil {
		return 0, 0, fmt.Errorf("cannot close prefilled dedup store %s: %w", opts.Path, err)
	}
	size, err := diskUsage(opts.Path)
	if err != nil {
		return 0, 0, err
	}
	return stats.Keys, size, nil
}
