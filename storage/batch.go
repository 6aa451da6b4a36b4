package storage

// batchScratch holds the per-batch working state of LookupAndInsert. It is
// reused across batches to avoid allocations and is independent of RocksDB,
// so the resolution rules can be exercised without a database.
//
// Use: dedupe, then observe the stored records of each distinct key, then resolve.
type batchScratch struct {
	// keyIndex maps a key to its index in distinct.
	keyIndex map[[16]byte]int32
	// distinct lists, for every distinct key in batch order, the index of its first entry.
	distinct []int32
	// keyOf[i] is the index in distinct of entries[i].Key.
	keyOf []int32
	// found[d] and hit[d] hold the live stored record of distinct key d, if any.
	found []record
	hit   []bool
	// toStore lists the entries that resolve made Unique and that must be written.
	toStore []int32
}

// dedupe resolves duplicates inside the batch: it fills distinct and keyOf
// and sizes found and hit (cleared) to len(distinct).
func (s *batchScratch) dedupe(entries []Entry) {
	if s.keyIndex == nil {
		s.keyIndex = make(map[[16]byte]int32, len(entries))
	}
	clear(s.keyIndex)
	s.distinct = s.distinct[:0]
	s.keyOf = s.keyOf[:0]
	for i := range entries {
		d, seen := s.keyIndex[entries[i].Key]
		if !seen {
			d = int32(len(s.distinct))
			s.keyIndex[entries[i].Key] = d
			s.distinct = append(s.distinct, int32(i))
		}
		s.keyOf = append(s.keyOf, d)
	}

	n := len(s.distinct)
	s.found = resize(s.found, n)
	s.hit = resize(s.hit, n)
	clear(s.found)
	clear(s.hit)
}

// observe offers a stored record for distinct key d. Records stored at or
// before expiredUpToMs are past retention and ignored. Of the others the
// most recently stored one wins. A key is stored twice only when it expired
// and was stored again before its old bucket was dropped.
func (s *batchScratch) observe(d int, r record, expiredUpToMs int64) {
	if r.StoredAtMs <= expiredUpToMs {
		return
	}
	if !s.hit[d] || r.StoredAtMs > s.found[d].StoredAtMs {
		s.found[d] = r
		s.hit[d] = true
	}
}

// resolve fills results and lists in toStore the entries to write. Per entry:
//   - If its key has a live stored record, the entry is compared with it:
//     Replay when the offsets are equal, Duplicate otherwise.
//   - Otherwise the first entry of the key in the batch is Unique, and every
//     later entry of the key is a Duplicate of that first one.
func (s *batchScratch) resolve(entries []Entry, results []Result) {
	if len(results) != len(entries) || len(s.keyOf) != len(entries) {
		panic("BUG: resolve called with results, entries and dedupe state of different lengths")
	}

	s.toStore = s.toStore[:0]
	for i := range entries {
		e := &entries[i]
		d := s.keyOf[i]
		first := int(s.distinct[d])
		switch {
		case s.hit[d]:
			results[i] = compareStored(e, s.found[d])
		case first == i:
			results[i] = Result{Verdict: Unique, FirstOffset: e.Offset}
			s.toStore = append(s.toStore, int32(i))
		default:
			f := &entries[first]
			results[i] = Result{Verdict: Duplicate, FirstOffset: f.Offset, SameUUID: e.UUIDHash == f.UUIDHash}
		}
	}
}

// compareStored returns the result for an entry whose key is stored as r.
func compareStored(e *Entry, r record) Result {
	verdict := Duplicate
	if r.Offset == e.Offset {
		verdict = Replay
	}
	return Result{Verdict: verdict, FirstOffset: r.Offset, SameUUID: r.UUIDHash == e.UUIDHash}
}

// resize returns s with length n, reallocating only when its capacity is too small.
func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
