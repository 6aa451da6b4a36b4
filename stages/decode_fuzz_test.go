package stages

import (
	"crypto/sha256"
	"encoding/json"
	"slices"
	"testing"
)

// fuzzKeyFields are the json format's key fields in FuzzDecode; they reach
// into nested objects and read captured-event members.
var fuzzKeyFields = []string{"event", "properties.token", "distinct_id"}

// dirtyValue is decoded into each Decoded first, so that a result that
// depends on leftovers in the reused buffers shows up as a mismatch.
var dirtyValue = []byte(`{"uuid":"dirty-uuid-0000","distinct_id":"dirty:distinct\\id","token":"dirty-token",` +
	`"data":"{\"event\":\"dirty \\u00e9vent\",\"timestamp\":\"2020-01-01T00:00:00Z\",\"properties\":{\"token\":\"x\"}}"}`)

// FuzzDecode compares the decoders with their encoding/json references
// (decode_reference_test.go). Each input is tried as a whole message value,
// and also as the content of a captured event's data string, which reaches
// the embedded scanner directly. For every input it checks that nothing
// panics and that the digest is the truncated SHA-256 of the key text, and:
//
//   - raw and json formats: the result equals the reference's.
//   - captured_event, when the value is empty or encoding/json accepts it and
//     the content of its last data member if that is a string: the result
//     (key, timestamp, uuid fallback, uuid hash, or error reason) equals the
//     reference's.
//   - captured_event, for other values: an invalid_json or invalid_data error
//     is accepted as it is. Any other result, a key or another error, must
//     come from JSON that is malformed only inside skipped values. So the
//     test replaces every value that the decoder skipped without validating
//     by 0, and encoding/json must accept the result, for which the reference
//     must return the same result as the decoder did for the input.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"uuid":"u1","distinct_id":"d1","token":"t1","data":"{\"event\":\"e\",\"timestamp\":1694769302}"}`))
	f.Add([]byte(`{"event":"e","timestamp":"2023-09-15T09:15:02.325Z","properties":{"token":"t"},"distinct_id":42}`))
	f.Add([]byte(`{"uuid":"u1","distinct_id":"d1","ip":01,"data":"{\"event\":\"e\",\"properties\":{\"a\":[1,,{\"b\" 2}]},\"offset\":5}","sent_at":1694769302}`))

	captured := mustDecoder(f, FormatConfig{Format: FormatCapturedEvent})
	jsonFormat := mustDecoder(f, FormatConfig{Format: FormatJSON, KeyFields: fuzzKeyFields})
	raw := mustDecoder(f, FormatConfig{Format: FormatRaw})

	f.Fuzz(func(t *testing.T, value []byte) {
		checkCapturedAgainstReference(t, captured, value)
		checkAgainstReference(t, "json", jsonFormat, value, referenceJSON(value, fuzzKeyFields))

		var d Decoded
		err := raw.Decode(value, &d)
		switch {
		case len(value) == 0 && (err == nil || reasonOf(err) != ReasonEmptyValue):
			t.Errorf("raw format, empty value: got error %v, want reason %s", err, ReasonEmptyValue)
		case len(value) > 0 && (err != nil || d.KeyText() != string(value)):
			t.Errorf("raw format: got key %q and error %v, want the value and no error", d.KeyText(), err)
		}

		// The same bytes as the content of the data string.
		dataString, err := json.Marshal(string(value))
		if err != nil {
			t.Fatal(err)
		}
		wrapped := []byte(`{"uuid":"u-1","distinct_id":"","token":"","sent_at":"2023-09-15T09:15:05.355Z","data":` +
			string(dataString) + `}`)
		checkCapturedAgainstReference(t, captured, wrapped)
	})
}

// checkCapturedAgainstReference applies the captured_event checks that
// FuzzDecode describes to one value.
func checkCapturedAgainstReference(t *testing.T, dec Decoder, value []byte) {
	t.Helper()
	if len(value) == 0 || referenceWellFormed(value) {
		checkAgainstReference(t, "captured_event", dec, value, referenceCaptured(value))
		return
	}

	var d Decoded
	_ = dec.Decode(dirtyValue, &d)
	d.recordSkipped = true
	err := dec.Decode(value, &d)
	if err != nil {
		if reason := reasonOf(err); reason == ReasonInvalidJSON || reason == ReasonInvalidData {
			return
		}
	}
	got := resultOf(&d, err)
	sanitized := replaceSpans(t, value, d.skipped, "0")
	if !referenceWellFormed(sanitized) {
		t.Fatalf("captured_event format, malformed value %q:\ngot %+v (error %v), but encoding/json rejects it even with the skipped values replaced: %q",
			value, got, err, sanitized)
	}
	if want := referenceCaptured(sanitized); got != want {
		t.Fatalf("captured_event format, malformed value %q:\n got %+v (error %v)\nwant %+v (encoding/json reference with the skipped values replaced: %q)",
			value, got, err, want, sanitized)
	}
	if err == nil {
		checkDigest(t, "captured_event", &d)
	}
}

// replaceSpans returns a copy of b with each span replaced by text.
func replaceSpans(t *testing.T, b []byte, spans []span, text string) []byte {
	t.Helper()
	sorted := slices.Clone(spans)
	slices.SortFunc(sorted, func(x, y span) int { return y.start - x.start })
	out := slices.Clone(b)
	for k, s := range sorted {
		if k > 0 && s.end > sorted[k-1].start {
			t.Fatalf("value %q: skipped values %v overlap", b, spans)
		}
		out = slices.Concat(out[:s.start], []byte(text), out[s.end:])
	}
	return out
}

func checkAgainstReference(t *testing.T, format string, dec Decoder, value []byte, want referenceResult) {
	t.Helper()
	var d Decoded
	_ = dec.Decode(dirtyValue, &d)
	err := dec.Decode(value, &d)
	got := resultOf(&d, err)
	if got != want {
		t.Fatalf("%s format, value %q:\n got %+v\nwant %+v (encoding/json reference)\nerror: %v", format, value, got, want, err)
	}
	if err != nil {
		if err.Error() == "" {
			t.Errorf("%s format: the error for %q has no message", format, value)
		}
		return
	}
	checkDigest(t, format, &d)
}

func checkDigest(t *testing.T, format string, d *Decoded) {
	t.Helper()
	sum := sha256.Sum256([]byte(d.KeyText()))
	if digest := d.Digest(); string(digest[:]) != string(sum[:16]) {
		t.Errorf("%s format: Digest() = %x, want the first 16 bytes of SHA-256 of the key text %x", format, digest, sum[:16])
	}
}
