package stages

import (
	"encoding/json"
	"strings"
)

// This file contains reference decoders built on encoding/json. They follow the
// documented rules step by step and share only the timestamp parsers and the
// key layout with the real decoders, so comparing the two checks the
// hand-written JSON scanner.

// referenceResult is what a decoder produced for one value.
type referenceResult struct {
	reason       string // "" when the value was decoded
	key          string
	timestamp    int64
	uuidFallback bool
	uuidHash     uint64
}

func resultOf(d *Decoded, err error) referenceResult {
	if err != nil {
		return referenceResult{reason: reasonOf(err)}
	}
	return referenceResult{key: d.KeyText(), timestamp: d.Timestamp, uuidFallback: d.UUIDFallback, uuidHash: d.UUIDHash}
}

func reasonOf(err error) string {
	de, ok := err.(*DecodeError)
	if !ok {
		return "not a *DecodeError: " + err.Error()
	}
	return de.Reason
}

// referenceObject parses a JSON object; ok is false for anything else.
func referenceObject(b []byte) (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, false
	}
	return m, true
}

// referenceWellFormed reports whether encoding/json accepts the value and,
// when it is an object whose last data member is a string, the content of
// that string.
func referenceWellFormed(value []byte) bool {
	if !json.Valid(value) {
		return false
	}
	outer, isObject := referenceObject(value)
	if !isObject {
		return true
	}
	if raw := outer["data"]; raw != nil && raw[0] == '"' {
		content, _ := referenceText(raw)
		return json.Valid([]byte(content))
	}
	return true
}

// referenceText applies the key part rule: a string gives its content, null
// or absence gives false, anything else its JSON text.
func referenceText(raw json.RawMessage) (string, bool) {
	if raw == nil || string(raw) == "null" {
		return "", false
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			panic("reference: " + err.Error())
		}
		return s, true
	}
	return string(raw), true
}

func referenceNonEmpty(raw json.RawMessage) (string, bool) {
	s, ok := referenceText(raw)
	return s, ok && s != ""
}

func referenceInstant(raw json.RawMessage) (int64, bool) {
	if raw == nil {
		return 0, false
	}
	switch c := raw[0]; {
	case c == '"':
		s, _ := referenceText(raw)
		return parseTimestampString([]byte(s))
	case '0' <= c && c <= '9':
		return parseTimestampNumber(raw)
	}
	return 0, false
}

func referenceCaptured(value []byte) referenceResult {
	if len(value) == 0 {
		return referenceResult{reason: ReasonEmptyValue}
	}
	outer, ok := referenceObject(value)
	if !ok {
		return referenceResult{reason: ReasonInvalidJSON}
	}

	var data map[string]json.RawMessage
	switch raw := outer["data"]; {
	case raw == nil:
		return referenceResult{reason: ReasonInvalidData}
	case raw[0] == '"':
		s, _ := referenceText(raw)
		if data, ok = referenceObject([]byte(s)); !ok {
			return referenceResult{reason: ReasonInvalidData}
		}
	case raw[0] == '{':
		data, _ = referenceObject(raw)
	default:
		return referenceResult{reason: ReasonInvalidData}
	}

	eventRaw := data["event"]
	if eventRaw == nil || eventRaw[0] != '"' {
		return referenceResult{reason: ReasonMissingEvent}
	}
	event, _ := referenceText(eventRaw)
	if event == "" {
		return referenceResult{reason: ReasonMissingEvent}
	}

	distinctID, ok := referenceNonEmpty(outer["distinct_id"])
	if !ok {
		distinctID, ok = referenceNonEmpty(data["distinct_id"])
	}
	if !ok {
		return referenceResult{reason: ReasonMissingKey}
	}
	token, ok := referenceNonEmpty(outer["token"])
	if !ok {
		token, ok = referenceNonEmpty(data["token"])
	}
	if !ok {
		if props, isObject := referenceObject(data["properties"]); isObject {
			token, ok = referenceNonEmpty(props["token"])
		}
	}
	if !ok {
		return referenceResult{reason: ReasonMissingKey}
	}

	uuid, hasUUID := referenceNonEmpty(outer["uuid"])
	if !hasUUID {
		uuid, hasUUID = referenceNonEmpty(data["uuid"])
	}

	timestamp, ok := referenceInstant(data["timestamp"])
	if !ok && data["offset"] != nil {
		offset, okOffset := parseOffset(data["offset"])
		sentAt, okSentAt := referenceInstant(outer["sent_at"])
		if okOffset && okSentAt {
			timestamp, ok = sentAt-offset, true
		}
	}
	if !ok && !hasUUID {
		return referenceResult{reason: ReasonMissingKey}
	}
	if !ok {
		timestamp = 0
	}
	key := appendCapturedKey(nil, timestamp, !ok, []byte(uuid), []byte(distinctID), []byte(token), []byte(event))
	return referenceResult{key: string(key), timestamp: timestamp, uuidFallback: !ok, uuidHash: hashUUID([]byte(uuid))}
}

// referenceJSON is the json format with the given dot-separated paths.
func referenceJSON(value []byte, fields []string) referenceResult {
	if len(value) == 0 {
		return referenceResult{reason: ReasonEmptyValue}
	}
	top, ok := referenceObject(value)
	if !ok {
		return referenceResult{reason: ReasonInvalidJSON}
	}
	var key []byte
	for k, field := range fields {
		segments := strings.Split(field, ".")
		raw := top[segments[0]]
		for _, segment := range segments[1:] {
			nested, isObject := referenceObject(raw)
			if raw == nil || raw[0] != '{' || !isObject {
				raw = nil
				break
			}
			raw = nested[segment]
		}
		text, ok := referenceText(raw)
		if !ok {
			return referenceResult{reason: ReasonMissingKey}
		}
		if k > 0 {
			key = append(key, ':')
		}
		key = appendKeyPart(key, []byte(text))
	}
	return referenceResult{key: string(key)}
}
