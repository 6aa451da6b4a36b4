package stages

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// fields is a JSON object under construction.
type fields map[string]any

// capturedValue returns a captured event whose data member is the JSON text
// of data, as a string, like the capture service writes it.
func capturedValue(t *testing.T, outer, data fields) []byte {
	t.Helper()
	all := fields{}
	for k, v := range outer {
		all[k] = v
	}
	if data != nil {
		text, err := json.Marshal(data)
		if err != nil {
			t.Fatal(err)
		}
		all["data"] = string(text)
	}
	value, err := json.Marshal(all)
	if err != nil {
		t.Fatal(err)
	}
	return value
}

const (
	testUUID  = "018a981f-4b2f-791a-9eb1-67ae5b9ecf84"
	testToken = "phc_qgUFp5wz2BjC4RsFjMGpQ3PGDrsi6Q0CG0CP4NAac0I"
	testTime  = "2023-09-15T09:15:02.319Z"
	testMs    = "1694769302319"
)

func baseOuter() fields {
	return fields{
		"uuid":        testUUID,
		"distinct_id": "user-1",
		"token":       testToken,
		"ip":          "127.0.0.1",
		"now":         "2023-09-15T09:15:02.322717+00:00",
		"sent_at":     "2023-09-15T09:15:02.319000+00:00",
	}
}

func baseData() fields {
	return fields{"uuid": testUUID, "event": "$pageview", "timestamp": testTime,
		"properties": fields{"token": testToken, "$lib": "web"}}
}

// with returns a copy of f with the given members set; a nil value deletes.
func (f fields) with(kv ...any) fields {
	c := fields{}
	for k, v := range f {
		c[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(c, kv[i].(string))
		} else {
			c[kv[i].(string)] = kv[i+1]
		}
	}
	return c
}

// jsonNull is a member value that marshals to null (a nil in with deletes).
var jsonNull = json.RawMessage("null")

func TestCapturedEventKeys(t *testing.T) {
	tests := []struct {
		name         string
		value        []byte
		wantKey      string
		wantFallback bool
		wantUUID     string // uuid whose hash UUIDHash must be
	}{
		{
			name:    "all parts from the outer object",
			value:   capturedValue(t, baseOuter(), baseData()),
			wantKey: testMs + ":user-1:" + testToken + ":$pageview", wantUUID: testUUID,
		},
		{
			name:    "distinct_id from data when missing outside",
			value:   capturedValue(t, baseOuter().with("distinct_id", nil), baseData().with("distinct_id", "inner")),
			wantKey: testMs + ":inner:" + testToken + ":$pageview", wantUUID: testUUID,
		},
		{
			name:    "distinct_id from data when empty outside",
			value:   capturedValue(t, baseOuter().with("distinct_id", ""), baseData().with("distinct_id", "inner")),
			wantKey: testMs + ":inner:" + testToken + ":$pageview", wantUUID: testUUID,
		},
		{
			name:    "distinct_id from data when null outside",
			value:   capturedValue(t, baseOuter().with("distinct_id", jsonNull), baseData().with("distinct_id", "inner")),
			wantKey: testMs + ":inner:" + testToken + ":$pageview", wantUUID: testUUID,
		},
		{
			name:    "outer distinct_id wins over data",
			value:   capturedValue(t, baseOuter(), baseData().with("distinct_id", "inner")),
			wantKey: testMs + ":user-1:" + testToken + ":$pageview", wantUUID: testUUID,
		},
		{
			name:    "numeric distinct_id is its JSON text",
			value:   capturedValue(t, baseOuter().with("distinct_id", 42), baseData()),
			wantKey: testMs + ":42:" + testToken + ":$pageview", wantUUID: testUUID,
		},
		{
			name:    "string distinct_id 42",
			value:   capturedValue(t, baseOuter().with("distinct_id", "42"), baseData()),
			wantKey: testMs + ":42:" + testToken + ":$pageview", wantUUID: testUUID,
		},
		{
			name:    "numeric distinct_id in data",
			value:   capturedValue(t, baseOuter().with("distinct_id", nil), baseData().with("distinct_id", 42)),
			wantKey: testMs + ":42:" + testToken + ":$pageview", wantUUID: testUUID,
		},
		{
			name:    "token from data.properties",
			value:   capturedValue(t, baseOuter().with("token", nil), baseData()),
			wantKey: testMs + ":user-1:" + testToken + ":$pageview", wantUUID: testUUID,
		},
		{
			name:    "token from data before data.properties",
			value:   capturedValue(t, baseOuter().with("token", ""), baseData().with("token", "phc_data")),
			wantKey: testMs + ":user-1:phc_data:$pageview", wantUUID: testUUID,
		},
		{
			name:    "outer token wins",
			value:   capturedValue(t, baseOuter(), baseData().with("token", "phc_data")),
			wantKey: testMs + ":user-1:" + testToken + ":$pageview", wantUUID: testUUID,
		},
		{
			name: "timestamp from sent_at minus offset",
			value: capturedValue(t, baseOuter().with("sent_at", "2023-09-15T09:15:05.355000+00:00"),
				baseData().with("timestamp", nil, "offset", 3026)),
			wantKey: "1694769302329:user-1:" + testToken + ":$pageview", wantUUID: testUUID,
		},
		{
			name: "offset with a zoned sent_at",
			value: capturedValue(t, baseOuter().with("sent_at", "2023-09-15T11:15:05.355+02:00"),
				baseData().with("timestamp", nil, "offset", 0)),
			wantKey: "1694769305355:user-1:" + testToken + ":$pageview", wantUUID: testUUID,
		},
		{
			name: "unusable timestamp falls back to the offset",
			value: capturedValue(t, baseOuter().with("sent_at", "2023-09-15T09:15:05.355Z"),
				baseData().with("timestamp", "soon", "offset", 1000)),
			wantKey: "1694769304355:user-1:" + testToken + ":$pageview", wantUUID: testUUID,
		},
		{
			name: "timestamp wins over the offset",
			value: capturedValue(t, baseOuter().with("sent_at", "2023-09-15T09:15:05.355Z"),
				baseData().with("offset", 1000)),
			wantKey: testMs + ":user-1:" + testToken + ":$pageview", wantUUID: testUUID,
		},
		{
			name:    "offset without sent_at: uuid fallback",
			value:   capturedValue(t, baseOuter().with("sent_at", nil), baseData().with("timestamp", nil, "offset", 5)),
			wantKey: "uuid=" + testUUID + ":user-1:" + testToken + ":$pageview", wantFallback: true, wantUUID: testUUID,
		},
		{
			name:    "offset with an empty sent_at: uuid fallback",
			value:   capturedValue(t, baseOuter().with("sent_at", ""), baseData().with("timestamp", nil, "offset", 5)),
			wantKey: "uuid=" + testUUID + ":user-1:" + testToken + ":$pageview", wantFallback: true, wantUUID: testUUID,
		},
		{
			name:    "fractional offset: uuid fallback",
			value:   capturedValue(t, baseOuter(), baseData().with("timestamp", nil, "offset", 5.5)),
			wantKey: "uuid=" + testUUID + ":user-1:" + testToken + ":$pageview", wantFallback: true, wantUUID: testUUID,
		},
		{
			name:    "no timestamp: uuid fallback, never now",
			value:   capturedValue(t, baseOuter(), baseData().with("timestamp", nil)),
			wantKey: "uuid=" + testUUID + ":user-1:" + testToken + ":$pageview", wantFallback: true, wantUUID: testUUID,
		},
		{
			name:    "uuid fallback with data.uuid only",
			value:   capturedValue(t, baseOuter().with("uuid", nil), baseData().with("timestamp", nil, "uuid", "inner-uuid")),
			wantKey: "uuid=inner-uuid:user-1:" + testToken + ":$pageview", wantFallback: true, wantUUID: "inner-uuid",
		},
		{
			name:    "outer uuid wins over data.uuid",
			value:   capturedValue(t, baseOuter(), baseData().with("timestamp", nil, "uuid", "inner-uuid")),
			wantKey: "uuid=" + testUUID + ":user-1:" + testToken + ":$pageview", wantFallback: true, wantUUID: testUUID,
		},
		{
			name:    "no uuid but a timestamp",
			value:   capturedValue(t, baseOuter().with("uuid", nil), baseData().with("uuid", nil)),
			wantKey: testMs + ":user-1:" + testToken + ":$pageview", wantUUID: "",
		},
		{
			name:    "separator and backslash in parts are escaped",
			value:   capturedValue(t, baseOuter().with("distinct_id", `a:b\c`), baseData().with("event", "x:y")),
			wantKey: testMs + `:a\:b\\c:` + testToken + `:x\:y`, wantUUID: testUUID,
		},
		{
			name:    "uuid with a separator in the fallback key",
			value:   capturedValue(t, baseOuter().with("uuid", "u:1"), baseData().with("timestamp", nil)),
			wantKey: `uuid=u\:1:user-1:` + testToken + ":$pageview", wantFallback: true, wantUUID: "u:1",
		},
		{
			name:    "data as an object",
			value:   capturedValue(t, baseOuter().with("data", baseData()), nil),
			wantKey: testMs + ":user-1:" + testToken + ":$pageview", wantUUID: testUUID,
		},
		{
			name: "escapes in names and values",
			value: []byte(`{"distinct_\u0069d":"\u0075ser-1","token":"t\/1","uuid":"u\u00e9",` +
				`"data":"{\"\\u0065vent\":\"caf\\u00e9 \\ud83d\\ude00\",\"timestamp\":\"2023-09-15T09:15:02.319\\u005a\"}"}`),
			wantKey: testMs + ":user-1:t/1:café 😀", wantUUID: "ué",
		},
		{
			name: "duplicate members: the last one counts",
			value: []byte(`{"distinct_id":"first","distinct_id":"last","token":"t","uuid":"u",` +
				`"data":"{\"event\":\"a\",\"event\":\"b\",\"timestamp\":1,\"timestamp\":1694769302319}"}`),
			wantKey: testMs + ":last:t:b", wantUUID: "u",
		},
		{
			name: "duplicate data: a later object replaces a string",
			value: []byte(`{"distinct_id":"d","token":"t","data":"{\"event\":\"first\",\"timestamp\":1}",` +
				`"data":{"event":"e","timestamp":1694769302319}}`),
			wantKey: testMs + ":d:t:e", wantUUID: "",
		},
		{
			name: "duplicate data: a later string replaces a string",
			value: []byte(`{"distinct_id":"d","token":"t","data":"{\"event\":\"a long first event name\",\"timestamp\":1}",` +
				`"data":"{\"event\":\"e\",\"timestamp\":1694769302319}"}`),
			wantKey: testMs + ":d:t:e", wantUUID: "",
		},
		{
			name: "whitespace everywhere",
			value: []byte(" \r\n\t{ \"distinct_id\" : \"d\" ,\n \"token\" :\"t\", \"data\" : " +
				`" {\n \"event\" : \"e\" , \"timestamp\" : 1694769302.319 } " } ` + "\n"),
			wantKey: testMs + ":d:t:e", wantUUID: "",
		},
		{
			name: "nested values are skipped, not searched",
			value: []byte(`{"x":{"distinct_id":"nested","token":["t"]},"distinct_id":"d","token":"t",` +
				`"data":"{\"properties\":{\"event\":\"nested\",\"timestamp\":1},\"event\":\"e\",\"timestamp\":1694769302319}"}`),
			wantKey: testMs + ":d:t:e", wantUUID: "",
		},
		{
			name: "member text, escapes and brackets in skipped strings",
			value: capturedValue(t, baseOuter().with("x", `"distinct_id":"x\" [{`), baseData().with("properties", fields{
				"note":  `","event":"fake","timestamp":1,"x":"\"}]` + "\n\t\u00e9\U0001F600",
				"list":  []any{"]", "}", `\`, `"`, fields{"event": "nested"}},
				"token": testToken,
			})),
			wantKey: testMs + ":user-1:" + testToken + ":$pageview", wantUUID: testUUID,
		},
		{
			name: "data string escapes inside skipped values",
			value: []byte(`{"distinct_id":"d","token":"t","data":"{\"properties\":{\u0022a\u0022:\u0022}\u005c\u0022]\u0022,` +
				`\"b\":\u005b1,\"\\\"\\\\\"\u005d,\"c\":\"\/\\n\"},\"event\":\"e\",\"timestamp\":1694769302319}"}`),
			wantKey: testMs + ":d:t:e", wantUUID: "",
		},
		{
			name: "invalid UTF-8 becomes U+FFFD",
			value: []byte("{\"distinct_id\":\"a\xffb\",\"token\":\"t\"," +
				"\"data\":\"{\\\"event\\\":\\\"e\xc3\\\",\\\"timestamp\\\":1694769302319}\"}"),
			wantKey: testMs + ":a\uFFFDb:t:e\uFFFD", wantUUID: "",
		},
	}
	dec := mustDecoder(t, FormatConfig{Format: FormatCapturedEvent})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d Decoded
			if err := dec.Decode(tt.value, &d); err != nil {
				t.Fatalf("Decode(%s) error: %v", tt.value, err)
			}
			if got := d.KeyText(); got != tt.wantKey {
				t.Errorf("key: got %q, want %q", got, tt.wantKey)
			}
			if d.UUIDFallback != tt.wantFallback {
				t.Errorf("UUIDFallback: got %v, want %v", d.UUIDFallback, tt.wantFallback)
			}
			if tt.wantFallback && d.Timestamp != 0 {
				t.Errorf("Timestamp with the uuid fallback: got %d, want 0", d.Timestamp)
			}
			if want := hashUUID([]byte(tt.wantUUID)); d.UUIDHash != want {
				t.Errorf("UUIDHash: got %#x, want %#x (hash of %q)", d.UUIDHash, want, tt.wantUUID)
			}
			if got, want := resultOf(&d, nil), referenceCaptured(tt.value); got != want {
				t.Errorf("encoding/json reference disagrees:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestCapturedEventUndecodable(t *testing.T) {
	tests := []struct {
		name       string
		value      []byte
		wantReason string
		wantText   string // part of the error message
	}{
		{"empty value", []byte{}, ReasonEmptyValue, "empty"},
		{"nil value", nil, ReasonEmptyValue, "empty"},
		{"only whitespace", []byte(" \n"), ReasonInvalidJSON, "unexpected end"},
		{"not JSON", []byte("hello"), ReasonInvalidJSON, "invalid character"},
		{"truncated", capturedValue(t, baseOuter(), baseData())[:100], ReasonInvalidJSON, "unexpected end"},
		{"array", []byte(`[{"data":"{}"}]`), ReasonInvalidJSON, "not an object"},
		{"null", []byte(`null`), ReasonInvalidJSON, "not an object"},
		{"string", []byte(`"{}"`), ReasonInvalidJSON, "not an object"},
		{"trailing garbage", append(capturedValue(t, baseOuter(), baseData()), 'x'), ReasonInvalidJSON, "after the top-level value"},
		{"two objects", []byte(`{} {}`), ReasonInvalidJSON, "after the top-level value"},
		{"trailing comma", []byte(`{"a":1,}`), ReasonInvalidJSON, "member name"},
		{"single quotes", []byte(`{'a':1}`), ReasonInvalidJSON, "member name"},
		{"control character in distinct_id", []byte("{\"distinct_id\":\"x\ty\"}"), ReasonInvalidJSON, "control character"},
		{"bad escape in token", []byte(`{"token":"\x41"}`), ReasonInvalidJSON, "invalid escape"},
		{"control character 0x1f at the end of uuid", []byte("{\"uuid\":\"\x1f\"}"), ReasonInvalidJSON, "control character"},
		{"control character 0x1f inside a long sent_at", []byte("{\"sent_at\":\"123\x1f5678901234567\"}"), ReasonInvalidJSON, "control character"},
		{"control character in a member name", []byte("{\"a\x01\":1}"), ReasonInvalidJSON, "control character"},
		{"unterminated skipped string", []byte(`{"a":"x}`), ReasonInvalidJSON, "unexpected end"},
		{"unbalanced skipped array", []byte(`{"a":[1,2}`), ReasonInvalidJSON, "expected ']'"},
		{"unbalanced skipped object", []byte(`{"a":{"b":[1]`), ReasonInvalidJSON, "unexpected end"},
		{"skipped value that is no value", []byte(`{"a":x}`), ReasonInvalidJSON, "invalid character 'x'"},
		{"skipped scalar followed by a string", []byte(`{"a":1"b":2}`), ReasonInvalidJSON, "after object member"},
		{"raw newline in the data string", []byte("{\"data\":\"{\n}\"}"), ReasonInvalidJSON, "control character"},
		{"raw 0x1f at the end of the data string", []byte("{\"data\":\"{}\x1f\"}"), ReasonInvalidJSON, "control character"},
		{"raw 0x1f inside a long data string", []byte("{\"data\":\"{}\x1f34567890123456\"}"), ReasonInvalidJSON, "control character"},
		{"escaped control character inside a data string value", []byte(`{"data":"{\"event\":\"a\u001fb\"}"}`), ReasonInvalidData, "control character"},
		{"bad unicode escape in distinct_id", []byte(`{"distinct_id":"\u12G4"}`), ReasonInvalidJSON, `\u escape`},
		{"leading zero in sent_at", []byte(`{"sent_at":01}`), ReasonInvalidJSON, "after object member"},
		{"bare minus in token", []byte(`{"token":-}`), ReasonInvalidJSON, "number"},
		{"bad literal in uuid", []byte(`{"uuid":nul}`), ReasonInvalidJSON, "literal"},
		{"bad literal in data.offset", []byte(`{"data":"{\"offset\":nul}"}`), ReasonInvalidData, "literal"},
		{"number with two points in data.timestamp", []byte(`{"data":"{\"timestamp\":1.2.3}"}`), ReasonInvalidData, "after a value"},
		{"bad escape in data.event", []byte(`{"data":"{\"event\":\"\\x\"}"}`), ReasonInvalidData, "invalid escape"},
		{"bad escape of the data string in data.event", []byte(`{"data":"{\"event\":\"\x\"}"}`), ReasonInvalidJSON, "invalid escape"},
		{"control character of the data string in data.uuid", []byte("{\"data\":\"{\\\"uuid\\\":\\\"a\tb\\\"}\"}"), ReasonInvalidJSON, "control character"},
		{"unbalanced data.properties", []byte(`{"data":"{\"properties\":{\"a\":[}}"}`), ReasonInvalidData, "expected ']'"},
		{"data string ends inside data.properties", []byte(`{"data":"{\"properties\":{\"a\":\"b"}`), ReasonInvalidData, "unexpected end"},
		{"data.properties without a colon when token is needed", []byte(`{"distinct_id":"d","data":"{\"event\":\"e\",\"properties\":{\"token\" 1}}"}`), ReasonInvalidData, "expected ':'"},
		{"no data", capturedValue(t, baseOuter(), nil), ReasonInvalidData, "no data"},
		{"data null", capturedValue(t, baseOuter().with("data", jsonNull), nil), ReasonInvalidData, "neither"},
		{"data number", capturedValue(t, baseOuter().with("data", 7), nil), ReasonInvalidData, "neither"},
		{"data array", capturedValue(t, baseOuter().with("data", []any{baseData()}), nil), ReasonInvalidData, "neither"},
		{"data string not JSON", capturedValue(t, baseOuter().with("data", "not json"), nil), ReasonInvalidData, "not a JSON object"},
		{"data string empty", capturedValue(t, baseOuter().with("data", ""), nil), ReasonInvalidData, "not a JSON object"},
		{"data string with an array", capturedValue(t, baseOuter().with("data", "[1]"), nil), ReasonInvalidData, "not an object"},
		{"data string truncated", capturedValue(t, baseOuter().with("data", `{"event":"e"`), nil), ReasonInvalidData, "unexpected end"},
		{"data string with trailing text", capturedValue(t, baseOuter().with("data", `{"event":"e"} x`), nil), ReasonInvalidData, "after the top-level value"},
		{"duplicate data: the last is a number", []byte(`{"data":"{\"event\":\"e\"}","data":5}`), ReasonInvalidData, "neither"},
		{"duplicate data: the first is broken", []byte(`{"data":"{\"event\":\u\"}","data":{}}`), ReasonInvalidJSON, `\u escape`},
		{"no event", capturedValue(t, baseOuter(), baseData().with("event", nil)), ReasonMissingEvent, "data.event"},
		{"empty event", capturedValue(t, baseOuter(), baseData().with("event", "")), ReasonMissingEvent, "data.event"},
		{"null event", capturedValue(t, baseOuter(), baseData().with("event", jsonNull)), ReasonMissingEvent, "data.event"},
		{"numeric event", capturedValue(t, baseOuter(), baseData().with("event", 42)), ReasonMissingEvent, "data.event"},
		{"event only outside", capturedValue(t, baseOuter().with("event", "$pageview"), baseData().with("event", nil)), ReasonMissingEvent, "data.event"},
		{"no distinct_id", capturedValue(t, baseOuter().with("distinct_id", nil), baseData()), ReasonMissingKey, "distinct_id"},
		{"empty distinct_id everywhere", capturedValue(t, baseOuter().with("distinct_id", ""), baseData().with("distinct_id", "")), ReasonMissingKey, "distinct_id"},
		{"no token", capturedValue(t, baseOuter().with("token", nil), baseData().with("properties", fields{})), ReasonMissingKey, "token"},
		{"properties not an object", capturedValue(t, baseOuter().with("token", nil), baseData().with("properties", "token")), ReasonMissingKey, "token"},
		{"no timestamp and no uuid", capturedValue(t, baseOuter().with("uuid", nil), baseData().with("timestamp", nil, "uuid", nil)), ReasonMissingKey, "uuid"},
		{"unusable timestamp and empty uuids", capturedValue(t, baseOuter().with("uuid", ""), baseData().with("timestamp", "later", "uuid", "")), ReasonMissingKey, "uuid"},
		{"only now as a time", capturedValue(t, baseOuter().with("uuid", nil, "sent_at", nil), baseData().with("timestamp", nil, "uuid", nil)), ReasonMissingKey, "uuid"},
	}
	dec := mustDecoder(t, FormatConfig{Format: FormatCapturedEvent})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d Decoded
			err := dec.Decode(tt.value, &d)
			var decodeErr *DecodeError
			if !errors.As(err, &decodeErr) {
				t.Fatalf("Decode(%q): got error %v, want a *DecodeError", tt.value, err)
			}
			if decodeErr.Reason != tt.wantReason {
				t.Errorf("Reason: got %q, want %q (error: %v)", decodeErr.Reason, tt.wantReason, err)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("Error(): got %q, want it to contain %q", err.Error(), tt.wantText)
			}
			if !strings.Contains(err.Error(), tt.wantReason) {
				t.Errorf("Error(): got %q, want it to name the reason %q", err.Error(), tt.wantReason)
			}
			// Where encoding/json rejects the value, the reference reports
			// only which of the two JSON texts is malformed.
			want := referenceCaptured(tt.value).reason
			switch {
			case len(tt.value) == 0 || referenceWellFormed(tt.value):
				if want != tt.wantReason {
					t.Errorf("encoding/json reference gives reason %q, want %q", want, tt.wantReason)
				}
			case want != ReasonInvalidJSON && want != ReasonInvalidData:
				t.Errorf("encoding/json reference gives reason %q for a malformed value", want)
			}
		})
	}
}

func TestCapturedEventUUIDNotInKey(t *testing.T) {
	dec := mustDecoder(t, FormatConfig{Format: FormatCapturedEvent})
	var first, second Decoded
	if err := dec.Decode(capturedValue(t, baseOuter(), baseData()), &first); err != nil {
		t.Fatal(err)
	}
	other := "11111111-2222-4333-8444-555555555555"
	if err := dec.Decode(capturedValue(t, baseOuter().with("uuid", other), baseData().with("uuid", other)), &second); err != nil {
		t.Fatal(err)
	}
	if first.Digest() != second.Digest() {
		t.Errorf("events that differ only in uuid: keys %q and %q, want the same", first.KeyText(), second.KeyText())
	}
	if first.UUIDHash == second.UUIDHash {
		t.Errorf("events with different uuids: both have uuid hash %#x", first.UUIDHash)
	}
}

func TestNestingLimit(t *testing.T) {
	// encoding/json accepts 10000 nested arrays and objects and rejects 10001.
	dec := mustDecoder(t, FormatConfig{Format: FormatCapturedEvent})
	for _, depth := range []int{maxNestingDepth, maxNestingDepth + 1} {
		inner := strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1)
		value := []byte(`{"x":` + inner + `,"distinct_id":"d","token":"t","data":{"event":"e","timestamp":1694769302}}`)
		var d Decoded
		err := dec.Decode(value, &d)
		want := referenceCaptured(value)
		if got := resultOf(&d, err); got != want {
			t.Errorf("depth %d: got %+v, want %+v", depth, got, want)
		}
		if (err == nil) != (depth <= maxNestingDepth) {
			t.Errorf("depth %d: got error %v", depth, err)
		}
	}
}

// TestCapturedEventMalformedSkippedValues checks the trade-off of skipping
// unread values without validating them. JSON that is malformed only inside
// such a value gets the key of the same event without it. The same text in a
// member that the key reads makes the value undecodable.
func TestCapturedEventMalformedSkippedValues(t *testing.T) {
	malformed := []struct{ name, value string }{
		{"control character in a string", "\"a\tb\""},
		{"invalid escape", `"\x41"`},
		{"invalid unicode escape", `"\u12G4"`},
		{"leading zero", `01`},
		{"bare minus", `-`},
		{"short literal", `nul`},
		{"number with two points", `1.2.3`},
		{"missing array element", `[1,,2]`},
		{"member without a colon", `{"a" 1}`},
		{"trailing comma", `{"a":1,}`},
	}
	dec := mustDecoder(t, FormatConfig{Format: FormatCapturedEvent})
	decode := func(t *testing.T, value []byte) (Decoded, error) {
		t.Helper()
		var d Decoded
		err := dec.Decode(value, &d)
		return d, err
	}
	clean, err := decode(t, capturedValue(t, baseOuter(), baseData()))
	if err != nil {
		t.Fatal(err)
	}
	dataPrefix := `{"uuid":"` + testUUID + `","event":"$pageview","timestamp":"` + testTime + `","properties":{"x":`
	dataSuffix := `,"token":"` + testToken + `"}}`

	for _, m := range malformed {
		t.Run(m.name, func(t *testing.T) {
			dataString, err := json.Marshal(dataPrefix + m.value + dataSuffix)
			if err != nil {
				t.Fatal(err)
			}
			keyed := map[string][]byte{
				"unknown outer member": withRawMember(t, capturedValue(t, baseOuter(), baseData()), "x", m.value),
				"member of data.properties in a data string": withRawMember(t,
					capturedValue(t, baseOuter(), nil), "data", string(dataString)),
				"member of data.properties in a data object": withRawMember(t,
					capturedValue(t, baseOuter(), nil), "data", dataPrefix+m.value+dataSuffix),
			}
			for place, value := range keyed {
				if referenceWellFormed(value) {
					t.Fatalf("%s: encoding/json accepts %q, want a malformed value", place, value)
				}
				d, err := decode(t, value)
				if err != nil {
					t.Errorf("%s: Decode(%q) error: %v, want the key of the clean event", place, value, err)
					continue
				}
				if d.KeyText() != clean.KeyText() || d.UUIDHash != clean.UUIDHash {
					t.Errorf("%s: got key %q, want %q", place, d.KeyText(), clean.KeyText())
				}
			}

			eventString, err := json.Marshal(`{"event":` + m.value + `,"timestamp":"` + testTime + `"}`)
			if err != nil {
				t.Fatal(err)
			}
			tokenString, err := json.Marshal(`{"event":"e","timestamp":"` + testTime + `","properties":{"x":1,"token":` + m.value + `}}`)
			if err != nil {
				t.Fatal(err)
			}
			rejected := map[string][]byte{
				"distinct_id": withRawMember(t, capturedValue(t, baseOuter().with("distinct_id", nil), baseData()),
					"distinct_id", m.value),
				"data.event": withRawMember(t, capturedValue(t, baseOuter(), nil), "data", string(eventString)),
				"data.properties.token": withRawMember(t, capturedValue(t, baseOuter().with("token", nil), nil),
					"data", string(tokenString)),
			}
			for place, value := range rejected {
				if _, err := decode(t, value); err == nil {
					t.Errorf("%s: Decode(%q) gave a key, want an error because the key reads %s", place, value, place)
				} else if reason := reasonOf(err); reason != ReasonInvalidJSON && reason != ReasonInvalidData {
					t.Errorf("%s: got reason %q, want %q or %q", place, reason, ReasonInvalidJSON, ReasonInvalidData)
				}
			}
		})
	}
}

// withRawMember returns the JSON object value with the member name: raw
// added first, where raw is any text, valid JSON or not.
func withRawMember(t *testing.T, value []byte, name, raw string) []byte {
	t.Helper()
	if len(value) < 2 || value[0] != '{' {
		t.Fatalf("withRawMember: %q is not a JSON object", value)
	}
	separator := ","
	if value[1] == '}' {
		separator = ""
	}
	return []byte(`{"` + name + `":` + raw + separator + string(value[1:]))
}
