package storage

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/linxGnu/grocksdb"
)

// bucket is one column family that holds the keys stored during
// [startMs, endMs), both Unix milliseconds of the store's clock.
//
// The range is encoded in the column family name, which RocksDB records in
// its MANIFEST together with the column family itself, so the bucket layout
// survives reopen and crashes without separate metadata to keep in sync.
type bucket struct {
	name    string
	startMs int64
	endMs   int64
	handle  *grocksdb.ColumnFamilyHandle

	compactionState
}

const bucketPrefix = "bucket_"

// bucketName returns the column family name for [startMs, endMs).
func bucketName(startMs, endMs int64) string {
	return bucketPrefix + strconv.FormatInt(startMs, 10) + "_" + strconv.FormatInt(endMs, 10)
}

// parseBucketName is the inverse of bucketName.
func parseBucketName(name string) (startMs, endMs int64, err error) {
	rest, ok := strings.CutPrefix(name, bucketPrefix)
	if !ok {
		return 0, 0, fmt.Errorf("column family %q does not start with %q", name, bucketPrefix)
	}
	startText, endText, ok := strings.Cut(rest, "_")
	if !ok {
		return 0, 0, fmt.Errorf("column family %q is not of the form %s<start ms>_<end ms>", name, bucketPrefix)
	}
	startMs, err = strconv.ParseInt(startText, 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("column family %q has an invalid start: %w", name, err)
	}
	endMs, err = strconv.ParseInt(endText, 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("column family %q has an invalid end: %w", name, err)
	}
	if endMs <= startMs {
		return 0, 0, fmt.Errorf("column family %q ends before it starts", name)
	}
	return startMs, endMs, nil
}

// logValue describes the bucket for logs.
func (b *bucket) logValue() string {
	return fmt.Sprintf("%s [%s, %s)", b.name,
		time.UnixMilli(b.startMs).UTC().Format(time.RFC3339), time.UnixMilli(b.endMs).UTC().Format(time.RFC3339))
}

// nextBucketRange returns the range of the bucket that a key stored at nowMs
// goes to when no existing bucket covers nowMs. Ranges are aligned to
// multiples of widthMs since the Unix epoch, and never overlap prevEndMs
// (the end of the newest existing bucket, or math.MinInt64 if none), which
// can happen when the width changed between two opens.
func nextBucketRange(nowMs, widthMs, prevEndMs int64) (startMs, endMs int64) {
	startMs = nowMs - mod(nowMs, widthMs)
	endMs = startMs + widthMs
	if startMs < prevEndMs {
		startMs = prevEndMs
	}
	return startMs, endMs
}

// mod returns a modulo b in [0, b), also for negative a.
func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}
