package stages

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// BenchmarkDecodeKey decodes the 88 real events and computes their digests,
// reporting events per second. "reused" keeps one Decoded, as a long-lived
// worker should, and "fresh" starts each event with a zero Decoded.
func BenchmarkDecodeKey(b *testing.B) {
	events := readRealEvents(b)
	var totalBytes int64
	for _, value := range events {
		totalBytes += int64(len(value))
	}
	dec := mustDecoder(b, FormatConfig{Format: FormatCapturedEvent})

	run := func(b *testing.B, decodeOne func(value []byte) (Digest, error)) {
		b.ReportAllocs()
		b.SetBytes(totalBytes / int64(len(events)))
		n := 0
		var sink Digest
		for b.Loop() {
			digest, err := decodeOne(events[n%len(events)])
			if err != nil {
				b.Fatal(err)
			}
			sink[0] ^= digest[0]
			n++
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
		_ = sink
	}

	b.Run("reused", func(b *testing.B) {
		var d Decoded
		run(b, func(value []byte) (Digest, error) {
			err := dec.Decode(value, &d)
			return d.Digest(), err
		})
	})
	// Baseline for comparing machines: json.Valid only validates the outer
	// object and does not look into the data string.
	b.Run("json.Valid", func(b *testing.B) {
		run(b, func(value []byte) (Digest, error) {
			if !json.Valid(value) {
				return Digest{}, errors.New("invalid JSON")
			}
			return Digest{}, nil
		})
	})
	b.Run("fresh", func(b *testing.B) {
		// Like a pipeline that makes a new []Decoded for every batch.
		var batch []Decoded
		run(b, func(value []byte) (Digest, error) {
			if len(batch) == 0 {
				batch = make([]Decoded, len(events))
			}
			d := &batch[0]
			batch = batch[1:]
			err := dec.Decode(value, d)
			return d.Digest(), err
		})
	})
}

func TestDecodeAllocations(t *testing.T) {
	events := readRealEvents(t)
	dec := mustDecoder(t, FormatConfig{Format: FormatCapturedEvent})

	// A reused Decoded allocates nothing once its buffers have grown.
	var reused Decoded
	for _, value := range events {
		_ = dec.Decode(value, &reused)
	}
	n := 0
	if allocs := testing.AllocsPerRun(len(events), func() {
		_ = dec.Decode(events[n%len(events)], &reused)
		_ = reused.Digest()
		n++
	}); allocs != 0 {
		t.Errorf("reused Decoded: got %.1f allocations per event, want 0", allocs)
	}

	// A zero Decoded, as in a freshly made slice, costs at most two: the
	// decoded data string and the key.
	fresh := make([]Decoded, (len(events)+1)*2)
	n = 0
	if allocs := testing.AllocsPerRun(len(events), func() {
		_ = dec.Decode(events[n%len(events)], &fresh[n])
		_ = fresh[n].Digest()
		n++
	}); allocs > 2 {
		t.Errorf("zero Decoded: got %.1f allocations per event, want at most 2", allocs)
	}
}

// BenchmarkSkipProperties skips data.properties of the real events, in its
// escaped form inside the data string, which is most of the decode time.
func BenchmarkSkipProperties(b *testing.B) {
	var values [][]byte
	var starts []int
	for _, value := range readRealEvents(b) {
		name := bytes.Index(value, []byte(`\"properties\":`))
		if name < 0 {
			b.Fatalf("a real event has no data.properties: %q", value)
		}
		open := bytes.IndexByte(value[name:], '{')
		values = append(values, value)
		starts = append(starts, name+open+1)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		k := n % len(values)
		if _, err := skipEmbeddedContainer(values[k], starts[k], '}', 2); err != nil {
			b.Fatal(err)
		}
		n++
	}
}
