package stages

import "fmt"

// capturedEventDecoder decodes the events written by the capture service: a
// JSON object whose "data" member is a string (or, leniently, an object)
// that contains the event itself. It builds the key
//
//	timestamp:distinct_id:token:event
//
// with these sources, where "missing" also covers null and "":
//
//   - distinct_id: outer distinct_id, else data.distinct_id. A value that is
//     not a string counts as its JSON text.
//   - token: outer token, else data.token, else data.properties.token, with
//     the same rule as distinct_id.
//   - event: data.event, a non-empty string.
//   - timestamp: data.timestamp (see parseTimestampString and
//     parseTimestampNumber); when that is missing or unusable, outer
//     sent_at (in the same forms) minus data.offset (milliseconds, see
//     parseOffset).
//   - without a usable timestamp the key uses the uuid (outer uuid, else
//     data.uuid) in its place and UUIDFallback is set. The receive time
//     "now" is never used, because a retried event is received at another
//     time.
//
// The uuid is otherwise not in the key: two events that differ only in uuid
// are duplicates. A missing distinct_id or token makes the event undecodable
// (ReasonMissingKey) instead of keying all such events together.
type capturedEventDecoder struct{}

// Members read from the outer object.
const (
	outerUUID = iota
	outerDistinctID
	outerToken
	outerData
	outerSentAt
	outerCount
)

var outerNames = []string{
	outerUUID:       "uuid",
	outerDistinctID: "distinct_id",
	outerToken:      "token",
	outerData:       "data",
	outerSentAt:     "sent_at",
}

// Members read from the "data" object.
const (
	dataEvent = iota
	dataTimestamp
	dataOffset
	dataUUID
	dataDistinctID
	dataToken
	dataProperties
	dataCount
)

var dataNames = []string{
	dataEvent:      "event",
	dataTimestamp:  "timestamp",
	dataOffset:     "offset",
	dataUUID:       "uuid",
	dataDistinctID: "distinct_id",
	dataToken:      "token",
	dataProperties: "properties",
}

var propertiesNames = []string{"token"}

func (capturedEventDecoder) Decode(value []byte, d *Decoded) error {
	d.reset()
	if len(value) == 0 {
		return newDecodeErrorText(ReasonEmptyValue, "the value is empty")
	}

	// 1. Scan the outer object and find its members. Each data member is
	// scanned on the way: its wanted members are validated and, for a data
	// string, unescaped into d.data.
	d.outer = [outerCount]span{}
	d.fields = [dataCount]span{}
	if err := d.scanEnvelope(value); err != nil {
		return newDecodeError(ReasonInvalidJSON, err)
	}

	// 2. The text that the data spans point into.
	inner, err := d.dataText(value, d.outer[outerData])
	if err != nil {
		return err
	}
	fields := &d.fields

	// 3. Event name.
	eventSpan := fields[dataEvent]
	if !eventSpan.found() || inner[eventSpan.start] != '"' || eventSpan.end-eventSpan.start == 2 {
		return newDecodeErrorText(ReasonMissingEvent, "data.event is missing, empty or not a string")
	}
	event := stringValue(inner, eventSpan, &d.scratch)

	// 4. distinct_id and token, preferring the outer object.
	distinctID, ok := nonEmptyText(value, d.outer[outerDistinctID], &d.scratch)
	if !ok {
		distinctID, ok = nonEmptyText(inner, fields[dataDistinctID], &d.scratch)
	}
	if !ok {
		return newDecodeErrorText(ReasonMissingKey, "distinct_id is missing from the event and from data")
	}
	token, ok, err := d.token(value, inner)
	if err != nil {
		return err
	}
	if !ok {
		return newDecodeErrorText(ReasonMissingKey, "token is missing from the event, data and data.properties")
	}

	// 5. uuid, which is hashed even when the key does not use it.
	uuid, hasUUID := nonEmptyText(value, d.outer[outerUUID], &d.scratch)
	if !hasUUID {
		uuid, hasUUID = nonEmptyText(inner, fields[dataUUID], &d.scratch)
	}
	d.UUIDHash = hashUUID(uuid)

	// 6. Timestamp, else the uuid.
	timestamp, ok := d.timestamp(value, d.outer[outerSentAt], inner)
	switch {
	case ok:
		d.Timestamp = timestamp
	case hasUUID:
		d.UUIDFallback = true
	default:
		return newDecodeErrorText(ReasonMissingKey,
			"the event has no usable data.timestamp, no data.offset with sent_at, and no uuid")
	}

	if need := len(uuid) + len(distinctID) + len(token) + len(event) + 32; cap(d.key) < need {
		d.key = make([]byte, 0, need)
	}
	d.key = appendCapturedKey(d.key, d.Timestamp, d.UUIDFallback, uuid, distinctID, token, event)
	return nil
}

// dataText returns the text that the spans in d.fields point into: d.data
// for a data string, or the value itself for a data object.
func (d *Decoded) dataText(value []byte, s span) ([]byte, error) {
	if !s.found() {
		return nil, newDecodeErrorText(ReasonInvalidData, "the event has no data member")
	}
	switch value[s.start] {
	case '"':
		if d.dataErr != nil {
			return nil, newDecodeError(ReasonInvalidData, fmt.Errorf("data is not a JSON object: %w", d.dataErr))
		}
		return d.data, nil
	case '{':
		return value, nil
	default:
		return nil, newDecodeError(ReasonInvalidData,
			fmt.Errorf("data is neither a JSON object nor a string, it starts with %q", value[s.start]))
	}
}

// token returns the first non-empty of outer token, data.token and
// data.properties.token. Only the last needs data.properties, which is
// scanned here: its syntax errors make the value undecodable.
func (d *Decoded) token(value, inner []byte) ([]byte, bool, error) {
	fields := &d.fields
	if token, ok := nonEmptyText(value, d.outer[outerToken], &d.scratch); ok {
		return token, true, nil
	}
	if token, ok := nonEmptyText(inner, fields[dataToken], &d.scratch); ok {
		return token, true, nil
	}
	props := fields[dataProperties]
	if !props.found() {
		return nil, false, nil
	}
	d.unnoteSkipped(props)
	found := &d.nested
	*found = [1]span{}
	s := objectScan{names: propertiesNames, spans: found[:], lazy: -1, data: -1}

	// A data object's properties are in the value; a data string's are in
	// its escaped form, and their token is unescaped into d.data.
	if value[d.outer[outerData].start] == '{' {
		if value[props.start] != '{' {
			return nil, false, nil
		}
		if _, err := d.scanMembers(value, props.start+1, 3, &s); err != nil {
			return nil, false, newDecodeError(ReasonInvalidJSON, fmt.Errorf("invalid data.properties: %w", err))
		}
		text, ok := nonEmptyText(value, found[0], &d.scratch)
		return text, ok, nil
	}
	c, next, err := embeddedChar(value, props.start)
	if err != nil || c != '{' {
		// The value was skipped without errors, so err is nil here.
		return nil, false, nil
	}
	if _, err := d.scanEmbeddedMembers(value, next, 2, &s); err != nil {
		if _, ok := err.(*dataStringError); ok {
			return nil, false, newDecodeError(ReasonInvalidJSON, err)
		}
		return nil, false, newDecodeError(ReasonInvalidData, fmt.Errorf("invalid data.properties: %w", err))
	}
	text, ok := nonEmptyText(d.data, found[0], &d.scratch)
	return text, ok, nil
}

// timestamp returns the event time in epoch milliseconds from data.timestamp,
// else from sent_at minus data.offset.
func (d *Decoded) timestamp(value []byte, sentAt span, inner []byte) (int64, bool) {
	fields := &d.fields
	if ms, ok := d.instant(inner, fields[dataTimestamp]); ok {
		return ms, true
	}
	offset := fields[dataOffset]
	if !offset.found() {
		return 0, false
	}
	offsetMillis, ok := parseOffset(inner[offset.start:offset.end])
	if !ok {
		return 0, false
	}
	sentMillis, ok := d.instant(value, sentAt)
	if !ok {
		return 0, false
	}
	return sentMillis - offsetMillis, true
}

// instant converts a JSON string or number into epoch milliseconds.
func (d *Decoded) instant(b []byte, s span) (int64, bool) {
	if !s.found() {
		return 0, false
	}
	switch c := b[s.start]; {
	case c == '"':
		return parseTimestampString(stringValue(b, s, &d.scratch))
	case '0' <= c && c <= '9':
		return parseTimestampNumber(b[s.start:s.end])
	default:
		return 0, false
	}
}
