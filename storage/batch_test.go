package storage

import (
	"testing"
)

func TestBatchResolve(t *testing.T) {
	a, b := testKey(9, 1), testKey(9, 2)
	stored := record{Offset: 3, StoredAtMs: 1000, UUIDHash: 77}

	tests := []struct {
		name    string
		entries []Entry
		// stored records per distinct key in order of first appearance; nil for none
		stored  []*record
		want    []Result
		toStore []int32
	}{
		{
			name:    "new keys are unique",
			entries: []Entry{{Key: a, Offset: 1, UUIDHash: 5}, {Key: b, Offset: 2, UUIDHash: 6}},
			stored:  []*record{nil, nil},
			want:    []Result{{Verdict: Unique, FirstOffset: 1}, {Verdict: Unique, FirstOffset: 2}},
			toStore: []int32{0, 1},
		},
		{
			name:    "first in batch wins",
			entries: []Entry{{Key: a, Offset: 1, UUIDHash: 5}, {Key: a, Offset: 2, UUIDHash: 5}, {Key: a, Offset: 4, UUIDHash: 8}},
			stored:  []*record{nil},
			want: []Result{
				{Verdict: Unique, FirstOffset: 1},
				{Verdict: Duplicate, FirstOffset: 1, SameUUID: true},
				{Verdict: Duplicate, FirstOffset: 1, SameUUID: false},
			},
			toStore: []int32{0},
		},
		{
			name:    "stored key compared by offset",
			entries: []Entry{{Key: a, Offset: 3, UUIDHash: 77}, {Key: a, Offset: 9, UUIDHash: 1}},
			stored:  []*record{&stored},
			want: []Result{
				{Verdict: Replay, FirstOffset: 3, SameUUID: true},
				{Verdict: Duplicate, FirstOffset: 3, SameUUID: false},
			},
		},
		{
			name:    "same offset twice in batch",
			entries: []Entry{{Key: b, Offset: 7, UUIDHash: 1}, {Key: b, Offset: 7, UUIDHash: 1}},
			stored:  []*record{nil},
			want:    []Result{{Verdict: Unique, FirstOffset: 7}, {Verdict: Duplicate, FirstOffset: 7, SameUUID: true}},
			toStore: []int32{0},
		},
	}
	var s batchScratch
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.dedupe(tt.entries)
			if len(s.distinct) != len(tt.stored) {
				t.Fatalf("%d distinct keys, want %d", len(s.distinct), len(tt.stored))
			}
			for d, r := range tt.stored {
				if r != nil {
					s.observe(d, *r, 0)
				}
			}
			results := make([]Result, len(tt.entries))
			s.resolve(tt.entries, results)
			compareResults(t, tt.name, results, tt.want)
			if len(s.toStore) != len(tt.toStore) {
				t.Fatalf("toStore = %v, want %v", s.toStore, tt.toStore)
			}
			for i := range tt.toStore {
				if s.toStore[i] != tt.toStore[i] {
					t.Errorf("toStore = %v, want %v", s.toStore, tt.toStore)
				}
			}
		})
	}
}

func TestBatchObserveIgnoresExpired(t *testing.T) {
	var s batchScratch
	s.dedupe([]Entry{{Key: testKey(9, 3)}})

	s.observe(0, record{Offset: 1, StoredAtMs: 100}, 100)
	if s.hit[0] {
		t.Fatalf("record stored at the expiry bound was kept, want it ignored")
	}
	s.observe(0, record{Offset: 2, StoredAtMs: 101}, 100)
	s.observe(0, record{Offset: 3, StoredAtMs: 500}, 100)
	s.observe(0, record{Offset: 4, StoredAtMs: 300}, 100)
	if !s.hit[0] || s.found[0].Offset != 3 {
		t.Errorf("found %+v (hit %v), want the newest record, offset 3", s.found[0], s.hit[0])
	}
}

func TestRecordRoundTrip(t *testing.T) {
	want := record{Offset: -1, StoredAtMs: 1733000000123, EventMs: 0, UUIDHash: ^uint64(0)}
	buf := appendRecord(nil, want)
	if len(buf) != recordSize {
		t.Fatalf("encoded length %d, want %d", len(buf), recordSize)
	}
	got, err := decodeRecord(buf, int64(len(buf)))
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("decoded %+v, want %+v", got, want)
	}
	if _, err := decodeRecord(buf[:10], 10); err == nil {
		t.Errorf("decoding a truncated value succeeded, want an error")
	}
	buf[0] = 2
	if _, err := decodeRecord(buf, int64(len(buf))); err == nil {
		t.Errorf("decoding version 2 succeeded, want an error")
	}
}

func TestBucketName(t *testing.T) {
	name := bucketName(-5, 1733000000000)
	start, end, err := parseBucketName(name)
	if err != nil || start != -5 || end != 1733000000000 {
		t.Errorf("parseBucketName(%q) = %d, %d, %v; want -5, 1733000000000, nil", name, start, end, err)
	}
	for _, bad := range []string{"default", "bucket_1", "bucket_x_2", "bucket_1_y", "bucket_5_5"} {
		if _, _, err := parseBucketName(bad); err == nil {
			t.Errorf("parseBucketName(%q) succeeded, want an error", bad)
		}
	}
}

func TestNextBucketRange(t *testing.T) {
	tests := []struct {
		now, width, prevEnd int64
		start, end          int64
	}{
		{now: 1050, width: 100, prevEnd: -1 << 63, start: 1000, end: 1100},
		{now: 1000, width: 100, prevEnd: 900, start: 1000, end: 1100},
		{now: 1050, width: 100, prevEnd: 1020, start: 1020, end: 1100}, // width changed between opens
		{now: -50, width: 100, prevEnd: -1 << 63, start: -100, end: 0},
	}
	for _, tt := range tests {
		start, end := nextBucketRange(tt.now, tt.width, tt.prevEnd)
		if start != tt.start || end != tt.end {
			t.Errorf("nextBucketRange(%d, %d, %d) = [%d, %d), want [%d, %d)", tt.now, tt.width, tt.prevEnd, start, end, tt.start, tt.end)
		}
	}
}
