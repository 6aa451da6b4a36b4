package stages

import (
	"errors"
	"unicode/utf8"
)

// Decoder extracts the deduplication key of one message value.
//
// Implementations keep no state between calls, so one Decoder may be used
// by many goroutines at once, each with its own Decoded.
type Decoder interface {
	// Decode parses value and fills d. It returns a *DecodeError when the
	// value cannot be decoded; d is then unusable until the next successful
	// call. d does not keep a reference to value after Decode returns.
	Decode(value []byte, d *Decoded) error
}

// Decoded is the result of Decode. Its buffers are reused by later calls, so
// reusing one Decoded per goroutine avoids allocations in steady state. The
// zero value is ready to use.
type Decoded struct {
	// Timestamp is the event time in epoch milliseconds, or 0 when the event
	// has none (then UUIDFallback is set, or the format has no timestamp).
	Timestamp int64
	// UUIDFallback reports that the event had no usable timestamp and is
	// keyed on its uuid instead.
	UUIDFallback bool
	// UUIDHash is the 64-bit FNV-1a hash of the event's uuid text, or 0 when
	// the event has no uuid. It is set whether or not the uuid is in the key,
	// so the store can tell a repeat of the same event (same uuid) from a
	// different event with the same key.
	UUIDHash uint64

	// key is the key text; Digest hashes it.
	key []byte
	// data contains the values of the wanted members of a captured event's
	// data string, with the string's escapes decoded; d.fields points here.
	data []byte
	// dataErr is the reason why the last data string scanned is not a JSON
	// object, or nil.
	dataErr error
	// scratch contains the decoded texts of key parts that had escapes.
	scratch []byte
	// Member positions found by the scanner. They are fields rather than
	// local arrays because the escape analysis moves arrays that a
	// memberFinder points to onto the heap, one allocation per call.
	outer     [outerCount]span
	fields    [dataCount]span
	nested    [1]span
	jsonSpans []span

	// recordSkipped, set only by tests, makes Decode record in skipped
	// every value that it skipped without validating, as offsets into the
	// message value.
	recordSkipped bool
	skipped       []span
}

func (d *Decoded) reset() {
	d.Timestamp = 0
	d.UUIDFallback = false
	d.UUIDHash = 0
	d.key = d.key[:0]
	d.data = d.data[:0]
	d.dataErr = nil
	d.skipped = d.skipped[:0]
	d.scratch = d.scratch[:0]
}

// Reasons for which a message value cannot be decoded, for DecodeError.Reason
// and for metric labels.
const (
	// ReasonEmptyValue: the value has no bytes.
	ReasonEmptyValue = "empty_value"
	// ReasonInvalidJSON: the value is not a JSON object.
	ReasonInvalidJSON = "invalid_json"
	// ReasonInvalidData: a captured event's "data" is missing, or is neither
	// a JSON object nor a string that contains one.
	ReasonInvalidData = "invalid_data"
	// ReasonMissingEvent: a captured event has no non-empty string "event".
	ReasonMissingEvent = "missing_event"
	// ReasonMissingKey: a part of the key is missing (a key field of the
	// json format, a captured event's distinct_id or token, or both its
	// timestamp and its uuid).
	ReasonMissingKey = "missing_key"
)

// DecodeError reports a message value that cannot be decoded. The pipeline
// forwards such messages unchanged and counts them by Reason.
type DecodeError struct {
	// Reason is one of the Reason constants.
	Reason string
	// Err describes what is wrong with the value.
	Err error
}

func (e *DecodeError) Error() string {
	return "cannot decode message value (" + e.Reason + "): " + e.Err.Error()
}

func (e *DecodeError) Unwrap() error { return e.Err }

func newDecodeError(reason string, err error) *DecodeError {
	return &DecodeError{Reason: reason, Err: err}
}

func newDecodeErrorText(reason, text string) *DecodeError {
	return &DecodeError{Reason: reason, Err: errors.New(text)}
}

// valueText returns the text of the JSON value b[s.start:s.end] as a key part:
// a string gives its decoded content, null gives ok == false, and any other
// value gives its JSON text, so 42 and "42" give the same part. A string that
// needs decoding is appended to *scratch; the result may point into b or
// into *scratch.
func valueText(b []byte, s span, scratch *[]byte) (text []byte, ok bool) {
	if !s.found() {
		return nil, false
	}
	raw := b[s.start:s.end]
	switch raw[0] {
	case 'n':
		return nil, false
	case '"':
		return stringValue(b, s, scratch), true
	default:
		return raw, true
	}
}

// stringValue returns the decoded content of the validated JSON string at s
// in b, like stringText.
func stringValue(b []byte, s span, scratch *[]byte) []byte {
	if s.plain {
		return b[s.start+1 : s.end-1]
	}
	return stringText(b[s.start:s.end], scratch)
}

// stringText decodes the validated JSON string raw (with its quotes).
func stringText(raw []byte, scratch *[]byte) []byte {
	content := raw[1 : len(raw)-1]
	if !hasEscape(content) && utf8.Valid(content) {
		return content
	}
	start := len(*scratch)
	*scratch = appendUnescaped(*scratch, content)
	return (*scratch)[start:]
}

func hasEscape(b []byte) bool {
	for _, c := range b {
		if c == '\\' {
			return true
		}
	}
	return false
}

// nonEmptyText is valueText where an empty string also counts as missing.
func nonEmptyText(b []byte, s span, scratch *[]byte) ([]byte, bool) {
	text, ok := valueText(b, s, scratch)
	if !ok || len(text) == 0 {
		return nil, false
	}
	return text, true
}
