package stages

import (
	"errors"
	"strings"
	"testing"
)

func TestNewDecoderErrors(t *testing.T) {
	tests := []struct {
		name      string
		cfg       FormatConfig
		wantParts []string // each must appear in the error message
	}{
		{"unknown format", FormatConfig{Format: "xml"}, []string{`"xml"`, "captured_event, json, raw"}},
		{"empty format", FormatConfig{}, []string{`""`, "captured_event, json, raw"}},
		{"format in upper case", FormatConfig{Format: "JSON"}, []string{`"JSON"`, "captured_event, json, raw"}},
		{"json without key fields", FormatConfig{Format: FormatJSON}, []string{`"json"`, "no key fields"}},
		{"json with an empty field", FormatConfig{Format: FormatJSON, KeyFields: []string{"a", ""}}, []string{`""`, "empty path segment"}},
		{"json with a double dot", FormatConfig{Format: FormatJSON, KeyFields: []string{"user..id"}}, []string{`"user..id"`, "empty path segment"}},
		{"json with a trailing dot", FormatConfig{Format: FormatJSON, KeyFields: []string{"user."}}, []string{`"user."`, "empty path segment"}},
		{"key fields for captured_event", FormatConfig{Format: FormatCapturedEvent, KeyFields: []string{"a"}}, []string{`"captured_event"`, `["a"]`, "remove them"}},
		{"key fields for raw", FormatConfig{Format: FormatRaw, KeyFields: []string{"a"}}, []string{`"raw"`, `["a"]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dec, err := NewDecoder(tt.cfg)
			if err == nil {
				t.Fatalf("NewDecoder(%+v) = %T, want an error", tt.cfg, dec)
			}
			for _, part := range tt.wantParts {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not contain %q", err.Error(), part)
				}
			}
		})
	}
}

func TestNewDecoderFormats(t *testing.T) {
	for _, cfg := range []FormatConfig{
		{Format: FormatCapturedEvent},
		{Format: FormatRaw},
		{Format: FormatJSON, KeyFields: []string{"a.b", "c"}},
	} {
		if _, err := NewDecoder(cfg); err != nil {
			t.Errorf("NewDecoder(%+v): %v", cfg, err)
		}
	}
}

func TestJSONFormat(t *testing.T) {
	fields := []string{"user.id", "event", "ts"}
	tests := []struct {
		name       string
		value      string
		wantKey    string
		wantReason string
	}{
		{"strings", `{"user":{"id":"u1"},"event":"click","ts":"2024-01-01"}`, "u1:click:2024-01-01", ""},
		{"numbers and booleans as JSON text", `{"user":{"id":42},"event":true,"ts":1.50}`, "42:true:1.50", ""},
		{"object value as JSON text", `{"user":{"id":{"a": [1, 2]}},"event":"e","ts":0}`, `{"a"\: [1, 2]}:e:0`, ""},
		{"empty string is a part", `{"user":{"id":""},"event":"e","ts":1}`, ":e:1", ""},
		{"separator escaped", `{"user":{"id":"a:b"},"event":"e\\f","ts":1}`, `a\:b:e\\f:1`, ""},
		{"escaped member names", `{"\u0075ser":{"i\u0064":"u"},"event":"e","ts":1}`, "u:e:1", ""},
		{"last duplicate counts", `{"user":{"id":"a"},"user":{"id":"b"},"event":"e","ts":1}`, "b:e:1", ""},
		{"deep objects skipped", `{"x":{"user":{"id":"no"}},"user":{"z":[{"id":1}],"id":"u"},"event":"e","ts":1}`, "u:e:1", ""},
		{"missing nested member", `{"user":{},"event":"e","ts":1}`, "", ReasonMissingKey},
		{"missing top member", `{"user":{"id":"u"},"ts":1}`, "", ReasonMissingKey},
		{"null member", `{"user":{"id":"u"},"event":null,"ts":1}`, "", ReasonMissingKey},
		{"parent is not an object", `{"user":"u1","event":"e","ts":1}`, "", ReasonMissingKey},
		{"parent is an array", `{"user":[{"id":"u1"}],"event":"e","ts":1}`, "", ReasonMissingKey},
		{"not JSON", `user=u1`, "", ReasonInvalidJSON},
		{"array", `[{"user":{"id":"u1"}}]`, "", ReasonInvalidJSON},
		{"broken deep inside", `{"user":{"id":"u","x":[1,]},"event":"e","ts":1}`, "", ReasonInvalidJSON},
		{"empty", ``, "", ReasonEmptyValue},
	}
	dec := mustDecoder(t, FormatConfig{Format: FormatJSON, KeyFields: fields})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d Decoded
			err := dec.Decode([]byte(tt.value), &d)
			if tt.wantReason != "" {
				var decodeErr *DecodeError
				if !errors.As(err, &decodeErr) || decodeErr.Reason != tt.wantReason {
					t.Fatalf("Decode(%s): got error %v, want reason %s", tt.value, err, tt.wantReason)
				}
				if tt.wantReason == ReasonMissingKey && !strings.Contains(err.Error(), "key field") {
					t.Errorf("error %q does not name the key field", err.Error())
				}
			} else {
				if err != nil {
					t.Fatalf("Decode(%s) error: %v", tt.value, err)
				}
				if got := d.KeyText(); got != tt.wantKey {
					t.Errorf("key: got %q, want %q", got, tt.wantKey)
				}
				if d.Timestamp != 0 || d.UUIDFallback || d.UUIDHash != 0 {
					t.Errorf("json format set Timestamp %d, UUIDFallback %v, UUIDHash %#x; want zero values",
						d.Timestamp, d.UUIDFallback, d.UUIDHash)
				}
			}
			if got, want := resultOf(&d, err), referenceJSON([]byte(tt.value), fields); got != want {
				t.Errorf("encoding/json reference disagrees:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestJSONFormatSharedPrefix(t *testing.T) {
	// Two paths under one top-level member, and the same path twice.
	dec := mustDecoder(t, FormatConfig{Format: FormatJSON, KeyFields: []string{"a.x", "a.y", "b", "a.x"}})
	var d Decoded
	if err := dec.Decode([]byte(`{"a":{"y":2,"x":1},"b":3}`), &d); err != nil {
		t.Fatal(err)
	}
	if got, want := d.KeyText(), "1:2:3:1"; got != want {
		t.Errorf("key: got %q, want %q", got, want)
	}
}

func TestRawFormat(t *testing.T) {
	dec := mustDecoder(t, FormatConfig{Format: FormatRaw})
	var d Decoded
	for _, value := range []string{"a:b\\c", "not json at all", `{"a":1}`, "\x00\xff"} {
		if err := dec.Decode([]byte(value), &d); err != nil {
			t.Fatalf("Decode(%q): %v", value, err)
		}
		if got := d.KeyText(); got != value {
			t.Errorf("key: got %q, want the value %q", got, value)
		}
	}

	// Two values that differ only in one byte have different digests.
	var other Decoded
	_ = dec.Decode([]byte("value-1"), &d)
	_ = dec.Decode([]byte("value-2"), &other)
	if d.Digest() == other.Digest() {
		t.Errorf("values %q and %q have the same digest", d.KeyText(), other.KeyText())
	}

	err := dec.Decode(nil, &d)
	var decodeErr *DecodeError
	if !errors.As(err, &decodeErr) || decodeErr.Reason != ReasonEmptyValue {
		t.Errorf("Decode(empty): got error %v, want reason %s", err, ReasonEmptyValue)
	}
}
