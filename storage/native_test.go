package storage

import (
	"bytes"
	"slices"
	"testing"
)

// TestNativeMatchesGrocksdb checks the direct C calls against grocksdb's own
// wrappers on one database: values written by nativeBatch.write read back
// through grocksdb, and values written through grocksdb read back through
// nativeBatch.multiGet, across two column families. It fails if grocksdb's
// wrapper layout no longer matches what handle assumes.
func TestNativeMatchesGrocksdb(t *testing.T) {
	s := openTestStore(t, Options{})
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.currentBucketLocked(s.nowMs())
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.db.CreateColumnFamily(s.rocks.opts, "native_test")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Destroy()

	// Keys 0..3 go in through the C path, to the current bucket.
	written := entriesFor(1, 0, 4, 100)
	idx := []int32{3, 1, 0, 2}
	order := s.sortedKeys(written, idx)
	for j := 1; j < len(order); j++ {
		if bytes.Compare(written[order[j-1]].Key[:], written[order[j]].Key[:]) >= 0 {
			t.Fatalf("sortedKeys returned %v, not in key order", order)
		}
	}
	if want := []int32{3, 1, 0, 2}; !slices.Equal(idx, want) {
		t.Fatalf("sortedKeys changed its input to %v, want %v", idx, want)
	}
	s.native.values = s.native.values[:0]
	for _, i := range order {
		s.native.values = appendRecord(s.native.values, record{Offset: written[i].Offset})
	}
	if err := s.native.write(s.db, s.rocks.write, s.writeBatch, cur.handle, len(order)); err != nil {
		t.Fatal(err)
	}
	for _, e := range written {
		v, err := s.db.GetCF(s.rocks.read, cur.handle, e.Key[:])
		if err != nil {
			t.Fatal(err)
		}
		r, err := decodeRecord(v.Data(), int64(v.Size()))
		v.Free()
		if err != nil {
			t.Fatalf("key %x written by the C path: %v", e.Key, err)
		}
		if r.Offset != e.Offset {
			t.Errorf("key %x: grocksdb read offset %d, want %d", e.Key, r.Offset, e.Offset)
		}
	}

	// Key 10 goes in through grocksdb with a value longer than a record.
	long := bytes.Repeat([]byte{recordVersion}, recordSize+7)
	longKey := testKey(1, 10)
	if err := s.db.PutCF(s.rocks.write, other, longKey[:], long); err != nil {
		t.Fatal(err)
	}

	lookup := append(entriesFor(1, 0, 4, 100), Entry{Key: testKey(1, 10)}, Entry{Key: testKey(1, 11)})
	all := []int32{0, 1, 2, 3, 4, 5}
	order = s.sortedKeys(lookup, all)
	s.live = append(s.live[:0], cur, &bucket{name: "native_test", handle: other})
	if err := s.native.multiGet(s.db, s.rocks.read, s.live, len(order)); err != nil {
		t.Fatal(err)
	}
	for c := range s.live {
		for j, i := range order {
			length, v := s.native.value(c, j)
			e := lookup[i]
			switch {
			case c == 0 && i < 4:
				r, err := decodeRecord(v, length)
				if err != nil || r.Offset != e.Offset {
					t.Errorf("bucket %d, key %x: got record %+v, error %v; want offset %d", c, e.Key, r, err, e.Offset)
				}
			case c == 1 && i == 4:
				if length != int64(len(long)) || len(v) != recordSize {
					t.Errorf("bucket %d, key %x: got length %d and %d bytes, want length %d and %d bytes", c, e.Key, length, len(v), len(long), recordSize)
				}
				if _, err := decodeRecord(v, length); err == nil {
					t.Errorf("decoding a value of %d bytes succeeded, want an error", length)
				}
			default:
				if length != -1 {
					t.Errorf("bucket %d, key %x: found a value of %d bytes, want none", c, e.Key, length)
				}
			}
		}
	}
}
