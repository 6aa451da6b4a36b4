package stages

import (
	"bytes"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
)

// realEventsPath is the capture service's recorded test output: 88 events,
// one per line. It lives beside the repository, not inside it.
const realEventsPath = "../../shared/data/posthog_captured_events.jsonl"

func readRealEvents(t testing.TB) [][]byte {
	t.Helper()
	content, err := os.ReadFile(realEventsPath)
	if err != nil {
		t.Fatalf("cannot read the real events: %v", err)
	}
	lines := bytes.Split(bytes.TrimRight(content, "\n"), []byte("\n"))
	if len(lines) != 88 {
		t.Fatalf("got %d real events, want 88", len(lines))
	}
	return lines
}

// realEvent is a real event parsed with encoding/json, to build variants.
type realEvent struct {
	outer map[string]json.RawMessage
	data  map[string]json.RawMessage
}

func parseRealEvent(t *testing.T, value []byte) realEvent {
	t.Helper()
	var e realEvent
	var dataText string
	if err := json.Unmarshal(value, &e.outer); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(e.outer["data"], &dataText); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(dataText), &e.data); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e realEvent) text(t *testing.T, name string) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(e.outer[name], &s); err != nil {
		t.Fatalf("outer %s: %v", name, err)
	}
	return s
}

// marshal returns the event as a message value, data as a string again.
func (e realEvent) marshal(t *testing.T) []byte {
	t.Helper()
	dataText, err := json.Marshal(e.data)
	if err != nil {
		t.Fatal(err)
	}
	outer := make(map[string]json.RawMessage, len(e.outer))
	for k, v := range e.outer {
		outer[k] = v
	}
	if outer["data"], err = json.Marshal(string(dataText)); err != nil {
		t.Fatal(err)
	}
	value, err := json.Marshal(outer)
	if err != nil {
		t.Fatal(err)
	}
	return value
}

func (e realEvent) clone() realEvent {
	c := realEvent{outer: map[string]json.RawMessage{}, data: map[string]json.RawMessage{}}
	for k, v := range e.outer {
		c.outer[k] = v
	}
	for k, v := range e.data {
		c.data[k] = v
	}
	return c
}

func TestRealEventsKeyAndUUIDCounts(t *testing.T) {
	dec := mustDecoder(t, FormatConfig{Format: FormatCapturedEvent})
	digests := map[Digest]bool{}
	uuids := map[string]bool{}
	uuidHashes := map[uint64]bool{}
	derived := 0
	var d Decoded
	for i, value := range readRealEvents(t) {
		if err := dec.Decode(value, &d); err != nil {
			t.Fatalf("line %d: Decode error: %v", i+1, err)
		}
		if d.UUIDFallback {
			t.Errorf("line %d: got the uuid fallback, want a timestamp", i+1)
		}
		digests[d.Digest()] = true
		uuidHashes[d.UUIDHash] = true

		e := parseRealEvent(t, value)
		uuids[e.text(t, "uuid")] = true
		if e.data["timestamp"] == nil {
			derived++
		}
	}
	if len(digests) != 76 {
		t.Errorf("got %d distinct keys over the real events, want 76", len(digests))
	}
	if len(uuids) != 82 {
		t.Errorf("got %d distinct uuids over the real events, want 82", len(uuids))
	}
	if len(uuidHashes) != len(uuids) {
		t.Errorf("got %d distinct uuid hashes, want one per distinct uuid (%d)", len(uuidHashes), len(uuids))
	}
	if derived != 78 {
		t.Errorf("got %d events whose timestamp comes from sent_at and offset, want 78", derived)
	}
}

func TestRealEventsMatchReference(t *testing.T) {
	dec := mustDecoder(t, FormatConfig{Format: FormatCapturedEvent})
	for i, value := range readRealEvents(t) {
		var d Decoded
		err := dec.Decode(value, &d)
		if got, want := resultOf(&d, err), referenceCaptured(value); got != want {
			t.Errorf("line %d:\n got %+v\nwant %+v (encoding/json reference)", i+1, got, want)
		}
	}
}

// splitKey splits a key text at the separators that are not escaped.
func splitKey(key string) []string {
	var parts []string
	var part strings.Builder
	for i := 0; i < len(key); i++ {
		switch c := key[i]; {
		case c == '\\' && i+1 < len(key):
			i++
			part.WriteByte(key[i])
		case c == ':':
			parts = append(parts, part.String())
			part.Reset()
		default:
			part.WriteByte(c)
		}
	}
	return append(parts, part.String())
}

func TestRealEventsKeyParts(t *testing.T) {
	dec := mustDecoder(t, FormatConfig{Format: FormatCapturedEvent})
	for i, value := range readRealEvents(t) {
		var d Decoded
		if err := dec.Decode(value, &d); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		e := parseRealEvent(t, value)
		var event string
		if err := json.Unmarshal(e.data["event"], &event); err != nil {
			t.Fatal(err)
		}
		want := []string{strconv.FormatInt(d.Timestamp, 10), e.text(t, "distinct_id"), e.text(t, "token"), event}
		got := splitKey(d.KeyText())
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Errorf("line %d: key %q has parts %q, want %q", i+1, d.KeyText(), got, want)
		}
		if d.Timestamp < 1600000000000 || d.Timestamp > 1800000000000 {
			t.Errorf("line %d: timestamp %d is not in 2020-2027", i+1, d.Timestamp)
		}
	}
}

func TestRealEventOffsetTimestamp(t *testing.T) {
	// Line 4: sent_at 2023-09-15T09:15:05.355000+00:00, offset 3026.
	const want = 1694769305355 - 3026
	var d Decoded
	if err := mustDecoder(t, FormatConfig{Format: FormatCapturedEvent}).Decode(readRealEvents(t)[3], &d); err != nil {
		t.Fatal(err)
	}
	if d.Timestamp != want {
		t.Errorf("got timestamp %d, want %d", d.Timestamp, want)
	}
}

func TestRealEventsNearCopies(t *testing.T) {
	dec := mustDecoder(t, FormatConfig{Format: FormatCapturedEvent})
	decode := func(t *testing.T, value []byte) Decoded {
		t.Helper()
		var d Decoded
		if err := dec.Decode(value, &d); err != nil {
			t.Fatalf("Decode: %v", err)
		}
		return d
	}
	for i, value := range readRealEvents(t) {
		t.Run("line "+strconv.Itoa(i+1), func(t *testing.T) {
			original := decode(t, value)
			e := parseRealEvent(t, value)

			// Re-encoding alone keeps the key.
			if d := decode(t, e.marshal(t)); d.Digest() != original.Digest() {
				t.Errorf("re-encoded event: key %q, want %q", d.KeyText(), original.KeyText())
			}

			// One millisecond later: the offset shrinks or the timestamp grows.
			later := e.clone()
			if later.data["timestamp"] != nil {
				later.data["timestamp"] = jsonString(t, msToRFC3339(original.Timestamp+1))
			} else {
				var offset int64
				if err := json.Unmarshal(later.data["offset"], &offset); err != nil {
					t.Fatal(err)
				}
				later.data["offset"] = json.RawMessage(strconv.FormatInt(offset-1, 10))
			}
			if d := decode(t, later.marshal(t)); d.Digest() == original.Digest() || d.Timestamp != original.Timestamp+1 {
				t.Errorf("event 1 ms later: key %q, timestamp %d; want a new key with timestamp %d",
					d.KeyText(), d.Timestamp, original.Timestamp+1)
			}

			// Another event name.
			renamed := e.clone()
			renamed.data["event"] = jsonString(t, "other event")
			if d := decode(t, renamed.marshal(t)); d.Digest() == original.Digest() {
				t.Errorf("renamed event: got the original key %q", d.KeyText())
			}

			// A new uuid is the same event sent again: same key, new uuid hash.
			resent := e.clone()
			resent.outer["uuid"] = jsonString(t, "00000000-0000-4000-8000-000000000001")
			resent.data["uuid"] = resent.outer["uuid"]
			d := decode(t, resent.marshal(t))
			if d.Digest() != original.Digest() {
				t.Errorf("event with a new uuid: key %q, want the original %q", d.KeyText(), original.KeyText())
			}
			if d.UUIDHash == original.UUIDHash {
				t.Errorf("event with a new uuid: got the original uuid hash %#x", d.UUIDHash)
			}
		})
	}
}

func jsonString(t *testing.T, s string) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
