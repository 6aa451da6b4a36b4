package storage

import (
	"encoding/binary"
	"fmt"
)

// Entry is one event to check against the store.
type Entry struct {
	// Key is the event's dedup digest.
	Key [16]byte
	// Offset is the Kafka offset of the event in this store's partition.
	Offset int64
	// Timestamp is the event time in Unix milliseconds, or 0 if the event has none.
	// It is stored for diagnosis only; expiry counts from the time the key was stored.
	Timestamp int64
	// UUIDHash is a hash of the event's uuid, compared to tell a resent event
	// (same uuid) from a different event with the same content.
	UUIDHash uint64
}

// Verdict is the outcome of looking up one Entry.
type Verdict uint8

const (
	// Unique means the key was not in the store (or had expired) and has now been stored.
	Unique Verdict = iota + 1
	// Duplicate means the key was stored earlier by an event at another
	// offset, or appears earlier in the same batch.
	Duplicate
	// Replay means the key is stored with this entry's own offset: the
	// original event is being consumed again, typically after a crash before
	// its offset was committed. Callers treat it like Unique and forward the
	// event again. Nothing is rewritten.
	Replay
)

// String returns the verdict's name in lower case.
func (v Verdict) String() string {
	switch v {
	case Unique:
		return "unique"
	case Duplicate:
		return "duplicate"
	case Replay:
		return "replay"
	default:
		return fmt.Sprintf("verdict(%d)", uint8(v))
	}
}

// Result is the outcome for one Entry of a batch.
type Result struct {
	Verdict Verdict
	// FirstOffset is the offset of the event that first carried the key.
	// For Unique it is the entry's own offset.
	FirstOffset int64
	// SameUUID reports whether the entry's UUIDHash equals that of the first
	// copy. It is false for Unique.
	SameUUID bool
}

// record is the value stored under a key. It is encoded as recordSize bytes:
// a format version byte, then offset, stored time (Unix ms), event timestamp
// (Unix ms) and uuid hash, each 8 bytes little-endian.
type record struct {
	Offset     int64
	StoredAtMs int64
	EventMs    int64
	UUIDHash   uint64
}

const (
	keyLen        = len(Entry{}.Key)
	recordVersion = 1
	recordSize    = 1 + 4*8
)

// appendRecord appends the encoding of r to dst.
func appendRecord(dst []byte, r record) []byte {
	dst = append(dst, recordVersion)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(r.Offset))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(r.StoredAtMs))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(r.EventMs))
	dst = binary.LittleEndian.AppendUint64(dst, r.UUIDHash)
	return dst
}

// decodeRecord parses a value of length bytes written by appendRecord, of
// which b holds the first ones, up to recordSize.
func decodeRecord(b []byte, length int64) (record, error) {
	if length != recordSize || len(b) != recordSize || b[0] != recordVersion {
		return record{}, fmt.Errorf("value has %d bytes and version %d, want %d bytes and version %d", length, firstByte(b), recordSize, recordVersion)
	}
	return record{
		Offset:     int64(binary.LittleEndian.Uint64(b[1:9])),
		StoredAtMs: int64(binary.LittleEndian.Uint64(b[9:17])),
		EventMs:    int64(binary.LittleEndian.Uint64(b[17:25])),
		UUIDHash:   binary.LittleEndian.Uint64(b[25:33]),
	}, nil
}

func firstByte(b []byte) int {
	if len(b) == 0 {
		return -1
	}
	return int(b[0])
}
