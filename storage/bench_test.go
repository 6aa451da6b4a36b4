package storage

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Benchmarks that choose the expiry design; docs/storage-expiry.md has the
// command and the results. Every measured key is new (random 16 bytes), the
// common case for a dedup store, so each batch is one MultiGet of misses
// and one WriteBatch of all its keys.

var benchPresent = flag.String("storage.present", "0,1000000",
	"comma-separated numbers of keys stored before BenchmarkLookupAndInsert measures, and the store size for BenchmarkExpire (its largest value)")

var benchBatchSizes = []int{100, 1000, 5000}

// benchDesign opens one expiry design in dir with its clock at now.
type benchDesign struct {
	name string
	open func(b *testing.B, dir string, clock *fakeClock) benchStore
}

type benchStore interface {
	LookupAndInsert(entries []Entry, results []Result) error
	Close() error
}

// benchRetention is long enough that nothing expires while measuring.
const benchRetention = 7 * 24 * time.Hour

var benchNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

var benchDesigns = []benchDesign{
	{"buckets", func(b *testing.B, dir string, clock *fakeClock) benchStore {
		s, err := Open(Options{Path: dir, Retention: benchRetention, Now: clock.Now})
		if err != nil {
			b.Fatal(err)
		}
		return s
	}},
	{"buckets_4", func(b *testing.B, dir string, clock *fakeClock) benchStore {
		s, err := Open(Options{Path: dir, Retention: benchRetention, Buckets: 4, Now: clock.Now})
		if err != nil {
			b.Fatal(err)
		}
		return s
	}},
	{"compaction_filter", func(b *testing.B, dir string, clock *fakeClock) benchStore {
		s, _, err := openCompactionFilterStore(dir, benchRetention, clock.Now)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}},
	{"ttl", func(b *testing.B, dir string, clock *fakeClock) benchStore {
		s, err := openTTLStore(dir, benchRetention)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}},
}

func BenchmarkLookupAndInsert(b *testing.B) {
	for _, design := range benchDesigns {
		for _, present := range parsePresent(b) {
			b.Run(fmt.Sprintf("design=%s/present=%d", design.name, present), func(b *testing.B) {
				clock := newFakeClock(benchNow)
				s := design.open(b, b.TempDir(), clock)
				defer s.Close()
				rng := rand.New(rand.NewPCG(uint64(present), 1))
				start := time.Now()
				prefill(b, s, clock, rng, present)
				b.Logf("stored %d keys in %v", present, time.Since(start).Round(time.Millisecond))

				for _, size := range benchBatchSizes {
					b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
						entries := make([]Entry, size)
						results := make([]Result, size)
						b.ReportAllocs()
						cpuStart := processCPUTime(b)
						b.ResetTimer()
						for i := 0; i < b.N; i++ {
							fillRandom(rng, entries, int64(i*size))
							if err := s.LookupAndInsert(entries, results); err != nil {
								b.Fatal(err)
							}
						}
						b.StopTimer()
						keys := float64(b.N * size)
						b.ReportMetric(keys/b.Elapsed().Seconds(), "keys/s")
						b.ReportMetric(float64(processCPUTime(b)-cpuStart)/keys, "cpu-ns/key")
					})
				}
			})
		}
	}
}

// prefill stores n random keys in batches of 5000, with store times spread
// evenly over the retention window that ends at benchNow, leaves the clock
// at benchNow and waits for the compactions of closed buckets. A bucketed
// store then has all of its buckets filled, and lookups probe them plus a
// new current one, as in a store that has run for a whole retention period.
func prefill(b *testing.B, s benchStore, clock *fakeClock, rng *rand.Rand, n int) {
	b.Helper()
	const batch = 5000
	entries := make([]Entry, batch)
	results := make([]Result, batch)
	oldest := benchNow.Add(-benchRetention + time.Minute)
	for done := 0; done < n; done += batch {
		clock.Set(oldest.Add(time.Duration(float64(benchRetention-time.Minute) * float64(done) / float64(n))))
		k := min(batch, n-done)
		fillRandom(rng, entries[:k], int64(done))
		if err := s.LookupAndInsert(entries[:k], results[:k]); err != nil {
			b.Fatal(err)
		}
	}
	clock.Set(benchNow)
	// Measure a store in its steady state, not the compactions of the
	// buckets that the prefill closed.
	if s, ok := s.(*Store); ok {
		s.waitCompactions()
	}
}

// processCPUTime returns the user and system CPU time of this process, all
// threads included, so that it counts RocksDB's background flushes and
// compactions. Unlike wall time it is not inflated when other processes
// compete for the CPU.
func processCPUTime(b *testing.B) time.Duration {
	b.Helper()
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		b.Fatal(err)
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

func fillRandom(rng *rand.Rand, entries []Entry, baseOffset int64) {
	for i := range entries {
		e := &entries[i]
		for j := 0; j < 16; j += 8 {
			v := rng.Uint64()
			for k := 0; k < 8; k++ {
				e.Key[j+k] = byte(v >> (8 * k))
			}
		}
		e.Offset = baseOffset + int64(i)
		e.Timestamp = benchNow.UnixMilli()
		e.UUIDHash = rng.Uint64()
	}
}

func parsePresent(b *testing.B) []int {
	b.Helper()
	var counts []int
	for _, field := range strings.Split(*benchPresent, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil || n < 0 {
			b.Fatalf("invalid -storage.present value %q: want comma-separated key counts", field)
		}
		counts = append(counts, n)
	}
	return counts
}

// BenchmarkExpire measures one expiry pass over a store holding the largest
// -storage.present count of keys, for each design. Building the store takes
// far longer than expiring it, so run it with -benchtime=1x.
//
//   - buckets: Store.Expire dropping the oldest of DefaultBuckets buckets;
//   - compaction_filter: a full manual compaction with the Go filter
//     removing the same share of keys;
//   - compaction_filter_none_expired: the same compaction with nothing to
//     remove, the cost of each periodic pass;
//   - ttl: a full manual compaction of the TTL store with nothing to
//     remove, the same work for RocksDB's native TTL filter.
func BenchmarkExpire(b *testing.B) {
	if b.N > 1 {
		b.Fatalf("run BenchmarkExpire with -benchtime=1x: each iteration builds a store of %s keys", *benchPresent)
	}
	present := parsePresent(b)
	n := present[len(present)-1]
	// Past the retention of the oldest prefilled bucket only.
	expireAt := benchNow.Add(benchRetention / DefaultBuckets)

	b.Run("design=buckets", func(b *testing.B) {
		clock := newFakeClock(benchNow)
		s := benchDesigns[0].open(b, b.TempDir(), clock).(*Store)
		defer s.Close()
		prefill(b, s, clock, rand.New(rand.NewPCG(1, 2)), n)
		clock.Set(expireAt)
		cpuStart := processCPUTime(b)
		b.ResetTimer()
		expired, err := s.Expire()
		b.StopTimer()
		b.ReportMetric(float64(processCPUTime(b)-cpuStart)/1e6, "cpu-ms")
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(expired), "keys_expired")
	})

	for _, expiring := range []bool{true, false} {
		name := "design=compaction_filter"
		if !expiring {
			name += "_none_expired"
		}
		b.Run(name, func(b *testing.B) {
			clock := newFakeClock(benchNow)
			s, filter, err := openCompactionFilterStore(b.TempDir(), benchRetention, clock.Now)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			prefill(b, s, clock, rand.New(rand.NewPCG(1, 2)), n)
			if err := s.flush(); err != nil {
				b.Fatal(err)
			}
			if expiring {
				clock.Set(expireAt)
			}
			keysBefore := s.keysEstimate()
			cpuStart := processCPUTime(b)
			b.ResetTimer()
			s.compactAll()
			b.StopTimer()
			b.ReportMetric(float64(processCPUTime(b)-cpuStart)/1e6, "cpu-ms")
			b.ReportMetric(float64(filter.removedKeys()), "keys_expired")
			b.ReportMetric(float64(keysBefore), "keys_before")
		})
	}

	b.Run("design=ttl_none_expired", func(b *testing.B) {
		clock := newFakeClock(benchNow)
		s, err := openTTLStore(b.TempDir(), benchRetention)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		prefill(b, s, clock, rand.New(rand.NewPCG(1, 2)), n)
		if err := s.flush(); err != nil {
			b.Fatal(err)
		}
		keysBefore := s.keysEstimate()
		cpuStart := processCPUTime(b)
		b.ResetTimer()
		s.compactAll()
		b.StopTimer()
		b.ReportMetric(float64(processCPUTime(b)-cpuStart)/1e6, "cpu-ms")
		b.ReportMetric(float64(keysBefore), "keys_before")
	})
}

// BenchmarkFill stores the largest -storage.present count of random keys
// in one bucket, in batches of 5000 as a busy lane would. For every 500,000
// keys it logs the CPU time per key, all threads included so that flushes
// and compactions count, and the wall time per key. It shows how the cost
// of a key grows with the bucket it goes to. Run it with -benchtime=1x -v.
func BenchmarkFill(b *testing.B) {
	if b.N > 1 {
		b.Fatalf("run BenchmarkFill with -benchtime=1x: each iteration fills a store with %s keys", *benchPresent)
	}
	present := parsePresent(b)
	n := present[len(present)-1]
	clock := newFakeClock(benchNow)
	s := benchDesigns[0].open(b, b.TempDir(), clock)
	defer s.Close()

	const batch, step = 5000, 500000
	rng := rand.New(rand.NewPCG(1, 3))
	entries := make([]Entry, batch)
	results := make([]Result, batch)
	b.ResetTimer()
	cpuStart, wallStart := processCPUTime(b), time.Now()
	stepCPU, stepWall, stepFrom := cpuStart, wallStart, 0
	for done := 0; done < n; done += batch {
		k := min(batch, n-done)
		fillRandom(rng, entries[:k], int64(done))
		if err := s.LookupAndInsert(entries[:k], results[:k]); err != nil {
			b.Fatal(err)
		}
		if stored := done + k; stored%step == 0 || stored == n {
			cpu, keys := processCPUTime(b), float64(stored-stepFrom)
			b.Logf("%9d keys stored: %5.1f µs CPU and %5.1f µs wall per key over the last %.0f",
				stored, float64(cpu-stepCPU)/keys/1e3, float64(time.Since(stepWall))/keys/1e3, keys)
			stepCPU, stepWall, stepFrom = cpu, time.Now(), stored
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(processCPUTime(b)-cpuStart)/float64(n), "cpu-ns/key")
	b.ReportMetric(float64(n)/time.Since(wallStart).Seconds(), "keys/s")
}
