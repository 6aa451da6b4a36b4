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

	// 1. Validate the outer object and find its members. A data string is
	// decoded into d.data during the same pass.
	outer := &d.outer
	*outer = [outerCount]span{}
	outerFinder := memberFinder{names: outerNames, spans: outer[:], decodeIndex: outerData, decoded: d.data}
	err := scanDocument(value, &outerFinder)
	d.data = outerFinder.decoded
	if err != nil {
		return newDecodeError(ReasonInvalidJSON, err)
	}

	// 2. Find the data object: the decoded string, or an object in place.
	inner, err := d.dataObject(value, outer[outerData])
	if err != nil {
		return err
	}
	fields := &d.fields
	*fields = [dataCount]span{}
	innerFinder := memberFinder{names: dataNames, spans: fields[:], decodeIndex: -1}
	if err := scanDocument(inner, &innerFinder); err != nil {
		return newDecodeError(ReasonInvalidData, fmt.Errorf("data is not a JSON object: %w", err))
	}

	// 3. Event name.
	eventSpan := fields[dataEvent]
	if !eventSpan.found() || inner[eventSpan.start] != '"' || eventSpan.end-eventSpan.start == 2 {
		return newDecodeErrorText(ReasonMissingEvent, "data.event is missing, empty or not a string")
	}
	event := stringText(inner[eventSpan.start:eventSpan.end], &d.scratch)

	// 4. distinct_id and token, preferring the outer object.
	distinctID, ok := nonEmptyText(value, outer[outerDistinctID], &d.scratch)
	if !ok {
		distinctID, ok = nonEmptyText(inner, fields[dataDistinctID], &d.scratch)
	}
	if !ok {
		return newDecodeErrorText(ReasonMissingKey, "distinct_id is missing from the event and from data")
	}
	token, ok := d.token(value, outer[outerToken], inner)
	if !ok {
		return newDecodeErrorText(ReasonMissingKey, "token is missing from the event, data and data.properties")
	}

	// 5. uuid, which is hashed even when the key does not use it.
	uuid, hasUUID := nonEmptyText(value, outer[outerUUID], &d.scratch)
	if !hasUUID {
		uuid, hasUUID = nonEmptyText(inner, fields[dataUUID], &d.scratch)
	}
	d.UUIDHash = hashUUID(uuid)

	// 6. Timestamp, else the uuid.
	timestamp, ok := d.timestamp(value, outer[outerSentAt], inner)
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

// dataObject returns the JSON text of the event's data object.
func (d *Decoded) dataObject(value []byte, s span) ([]byte, error) {
	if !s.found() {
		return nil, newDecodeErrorText(ReasonInvalidData, "the event has no data member")
	}
	raw := value[s.start:s.end]
	switch raw[0] {
	case '"':
		// The outer scan decoded the last data member into d.data.
		return d.data, nil
	case '{':
		return raw, nil
	default:
		return nil, newDecodeError(ReasonInvalidData,
			fmt.Errorf("data is neither a JSON object nor a string, it starts with %q", raw[0]))
	}
}

// token returns the first non-empty of outer token, data.token and
// data.properties.token.
func (d *Decoded) token(value []byte, outerToken span, inner []byte) ([]byte, bool) {
	fields := &d.fields
	if token, ok := nonEmptyText(value, outerToken, &d.scratch); ok {
		return token, true
	}
	if token, ok := nonEmptyText(inner, fields[dataToken], &d.scratch); ok {
		return token, true
	}
	props := fields[dataProperties]
	if !props.found() || inner[props.start] != '{' {
		return nil, false
	}
	found := &d.nested
	*found = [1]span{}
	finder := memberFinder{names: propertiesNames, spans: found[:], decodeIndex: -1}
	if _, err := scanObject(inner, props.start, 1, &finder); err != nil {
		// The whole data object was validated before, so this is a bug.
		panic(fmt.Sprintf("BUG: data.properties failed a second scan: %v", err))
	}
	return nonEmptyText(inner, found[0], &d.scratch)
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
	raw := b[s.start:s.end]
	switch c := raw[0]; {
	case c == '"':
		return parseTimestampString(stringText(raw, &d.scratch))
	case '0' <= c && c <= '9':
		return parseTimestampNumber(raw)
	default:
		return 0, false
	}
}
