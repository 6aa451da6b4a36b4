package stages

import (
	"crypto/sha256"
	"encoding/json"
	"testing"
)

// fuzzKeyFields are the json format's key fields in FuzzDecode; they reach
// into nested objects and read captured-event members.
var fuzzKeyFields = []string{"event", "properties.token", "distinct_id"}

// dirtyValue is decoded into each Decoded first, so that a result that
// depends on leftovers in the reused buffers shows up as a mismatch.
var dirtyValue = []byte(`{"uuid":"dirty-uuid-0000","distinct_id":"dirty:distinct\\id","token":"dirty-token",` +
	`"data":"{\"event\":\"dirty \\u00e9vent\",\"timestamp\":\"2020-01-01T00:00:00Z\",\"properties\":{\"token\":\"x\"}}"}`)

// FuzzDecode checks that no input panics, that the digest is the hash of the
// key text, and that the hand-written scanner agrees with encoding/json. Each
// input is tried as a whole message value, and also as the content of a
// captured event's data string, which reaches the inner scanner directly.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"uuid":"u1","distinct_id":"d1","token":"t1","data":"{\"event\":\"e\",\"timestamp\":1694769302}"}`))
	f.Add([]byte(`{"event":"e","timestamp":"2023-09-15T09:15:02.325Z","properties":{"token":"t"},"distinct_id":42}`))

	captured := mustDecoder(f, FormatConfig{Format: FormatCapturedEvent})
	jsonFormat := mustDecoder(f, FormatConfig{Format: FormatJSON, KeyFields: fuzzKeyFields})
	raw := mustDecoder(f, FormatConfig{Format: FormatRaw})

	f.Fuzz(func(t *testing.T, value []byte) {
		checkAgainstReference(t, "captured_event", captured, value, referenceCaptured(value))
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
		checkAgainstReference(t, "captured_event, input as data", captured, wrapped, referenceCaptured(wrapped))
	})
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
	sum := sha256.Sum256([]byte(d.KeyText()))
	if digest := d.Digest(); string(digest[:]) != string(sum[:16]) {
		t.Errorf("%s format: Digest() = %x, want the first 16 bytes of SHA-256 of the key text %x", format, digest, sum[:16])
	}
}
