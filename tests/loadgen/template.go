package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// slotKind names what a template slot is filled with.
type slotKind uint8

const (
	// slotDistinctID is every quoted occurrence of the event's distinct_id:
	// the outer member, data.distinct_id and the properties that repeat it.
	slotDistinctID slotKind = iota
	// slotUUID is every quoted occurrence of the event's uuid (outer and data).
	slotUUID
	// slotTime is one of the time texts: outer sent_at and now, data.timestamp.
	slotTime
	// slotEvent is the value of data.event.
	slotEvent
)

// segment is literal bytes followed by one slot.
type segment struct {
	literal []byte
	kind    slotKind
	// timeIndex selects the entry of template.times for a slotTime.
	timeIndex int
}

// timeField is one RFC 3339 time text of a corpus event and the layout that
// reproduces it byte for byte, so that shifted times keep the original
// precision and zone notation.
type timeField struct {
	orig   time.Time
	layout string
	loc    *time.Location
}

// template is one corpus event cut into literal bytes and slots. Rendering
// writes the literals unchanged and fills the slots, so a new event costs a
// few appends instead of a JSON decode and encode.
type template struct {
	// line is the corpus line number, for messages.
	line     int
	segments []segment
	tail     []byte

	distinctID string
	uuid       string
	token      string
	event      string
	times      []timeField
	// ref is the event's receive time ("now"); rendering moves it to the
	// instance's time and every other time field by the same amount.
	ref time.Time
	// nearShift is how much later a near-time copy is: 1 ms, or 1 s when the
	// time text that feeds the dedup key has no milliseconds.
	nearShift time.Duration
	// hasEvent reports that data.event was found, so near-event copies can
	// rename it.
	hasEvent bool
}

// eventVariantSuffix is appended to the event name of a near-event copy.
const eventVariantSuffix = " (variant)"

// fields are the values of one rendered event. A zero shift and the
// template's own distinct id and uuid reproduce the corpus line.
type fields struct {
	distinctID []byte
	uuid       []byte
	// shift moves every time field.
	shift time.Duration
	// eventVariant renames data.event by appending eventVariantSuffix.
	eventVariant bool
}

// render appends the event described by f to dst.
func (t *template) render(dst []byte, f fields) []byte {
	for i := range t.segments {
		s := &t.segments[i]
		dst = append(dst, s.literal...)
		switch s.kind {
		case slotDistinctID:
			dst = append(dst, f.distinctID...)
		case slotUUID:
			dst = append(dst, f.uuid...)
		case slotTime:
			tf := &t.times[s.timeIndex]
			dst = tf.orig.Add(f.shift).In(tf.loc).AppendFormat(dst, tf.layout)
		case slotEvent:
			dst = append(dst, t.event...)
			if f.eventVariant {
				dst = append(dst, eventVariantSuffix...)
			}
		default:
			panic(fmt.Sprintf("BUG: unknown slot kind %d", s.kind))
		}
	}
	return append(dst, t.tail...)
}

// original returns the fields that reproduce the corpus line.
func (t *template) original() fields {
	return fields{distinctID: []byte(t.distinctID), uuid: []byte(t.uuid)}
}

// slot is a located occurrence of a slot in the corpus line.
type slot struct {
	start, end int
	kind       slotKind
	timeIndex  int
}

// capturedEvent holds the members of a corpus line that the template needs.
type capturedEvent struct {
	UUID       string `json:"uuid"`
	DistinctID string `json:"distinct_id"`
	Token      string `json:"token"`
	SentAt     string `json:"sent_at"`
	Now        string `json:"now"`
	Data       string `json:"data"`
}

type capturedData struct {
	Event     string `json:"event"`
	Timestamp any    `json:"timestamp"`
}

// newTemplate cuts a corpus line into a template. It fails when the line is
// not a captured event with string uuid, distinct_id, token, now and data.
// It also fails when one of those texts needs JSON escaping, because the
// template writes the same bytes in the outer object and inside the data
// string.
func newTemplate(lineNumber int, line []byte) (*template, error) {
	var e capturedEvent
	if err := json.Unmarshal(line, &e); err != nil {
		return nil, fmt.Errorf("cannot decode corpus line %d as a captured event: %w", lineNumber, err)
	}
	var d capturedData
	if err := json.Unmarshal([]byte(e.Data), &d); err != nil {
		return nil, fmt.Errorf("cannot decode the data string of corpus line %d: %w", lineNumber, err)
	}
	t := &template{line: lineNumber, distinctID: e.DistinctID, uuid: e.UUID, token: e.Token, event: d.Event}
	for name, value := range map[string]string{"distinct_id": e.DistinctID, "uuid": e.UUID, "token": e.Token, "now": e.Now} {
		if value == "" {
			return nil, fmt.Errorf("corpus line %d has no string %s; the load generator needs uuid, distinct_id, token and now in the outer object", lineNumber, name)
		}
		if needsEscape(value) {
			return nil, fmt.Errorf("corpus line %d: %s %q contains a quote, backslash or control character, which the load generator cannot substitute", lineNumber, name, value)
		}
	}

	// 1. Locate the identifiers.
	var slots []slot
	for _, s := range quotedOccurrences(line, e.DistinctID) {
		slots = append(slots, slot{start: s, end: s + len(e.DistinctID), kind: slotDistinctID})
	}
	for _, s := range quotedOccurrences(line, e.UUID) {
		slots = append(slots, slot{start: s, end: s + len(e.UUID), kind: slotUUID})
	}

	// 2. Locate the time texts. The key uses data.timestamp when it is a
	// string, else sent_at; a near-time copy must change that text.
	keyTime := e.SentAt
	if ts, ok := d.Timestamp.(string); ok && ts != "" {
		keyTime = ts
	}
	timeTexts := []string{e.Now, e.SentAt}
	if ts, ok := d.Timestamp.(string); ok {
		timeTexts = append(timeTexts, ts)
	}
	t.nearShift = time.Millisecond
	for _, text := range timeTexts {
		if text == "" || needsEscape(text) || slices.ContainsFunc(t.times, func(f timeField) bool { return f.orig.Format(f.layout) == text }) {
			continue
		}
		tf, err := parseTimeField(text)
		if err != nil {
			if text == e.Now {
				return nil, fmt.Errorf("corpus line %d: %w", lineNumber, err)
			}
			continue // a time the load generator cannot shift stays as it is
		}
		if text == e.Now {
			t.ref = tf.orig
		}
		if text == keyTime && !strings.Contains(tf.layout, ".000") {
			t.nearShift = time.Second
		}
		t.times = append(t.times, tf)
		for _, s := range quotedOccurrences(line, text) {
			slots = append(slots, slot{start: s, end: s + len(text), kind: slotTime, timeIndex: len(t.times) - 1})
		}
	}

	// 3. Locate data.event: the first "event" member inside the data string
	// whose value is the event name.
	if d.Event != "" && !needsEscape(d.Event) {
		if s, ok := eventValueStart(line, d.Event); ok {
			slots = append(slots, slot{start: s, end: s + len(d.Event), kind: slotEvent})
			t.hasEvent = true
		}
	}

	// 4. Cut the line at the slots.
	slices.SortFunc(slots, func(a, b slot) int { return a.start - b.start })
	pos := 0
	for _, s := range slots {
		if s.start < pos {
			return nil, fmt.Errorf("corpus line %d: two substituted values overlap at byte %d; the load generator cannot use this event", lineNumber, s.start)
		}
		t.segments = append(t.segments, segment{literal: line[pos:s.start], kind: s.kind, timeIndex: s.timeIndex})
		pos = s.end
	}
	t.tail = line[pos:]

	// 5. Rendering the original fields must give the line back.
	if got := t.render(nil, t.original()); !bytes.Equal(got, line) {
		return nil, fmt.Errorf("BUG: the template of corpus line %d does not reproduce the line:\n got %s\nwant %s", lineNumber, got, line)
	}
	return t, nil
}

// parseTimeField parses an RFC 3339 text and derives the layout that formats
// its time back into the same text.
func parseTimeField(text string) (timeField, error) {
	tm, err := time.Parse(time.RFC3339Nano, text)
	if err != nil {
		return timeField{}, fmt.Errorf("time %q is not RFC 3339: %w", text, err)
	}
	layout := "2006-01-02T15:04:05"
	if dot := strings.IndexByte(text, '.'); dot >= 0 {
		digits := 0
		for _, c := range text[dot+1:] {
			if c < '0' || c > '9' {
				break
			}
			digits++
		}
		layout += "." + strings.Repeat("0", digits)
	}
	if strings.HasSuffix(text, "Z") {
		layout += "Z07:00"
	} else {
		layout += "-07:00"
	}
	tf := timeField{orig: tm, layout: layout, loc: tm.Location()}
	if got := tm.In(tf.loc).Format(layout); got != text {
		return timeField{}, fmt.Errorf("time %q formats back as %q with layout %q", text, got, layout)
	}
	return tf, nil
}

// quotedOccurrences returns the start of every occurrence of text in line
// that is a whole JSON string value: a quote before it, and a quote or an
// escaped quote after it. Occurrences inside longer strings are skipped.
func quotedOccurrences(line []byte, text string) []int {
	var starts []int
	for from := 0; ; {
		i := bytes.Index(line[from:], []byte(text))
		if i < 0 {
			return starts
		}
		start := from + i
		end := start + len(text)
		if start > 0 && line[start-1] == '"' && end < len(line) &&
			(line[end] == '"' || (line[end] == '\\' && end+1 < len(line) && line[end+1] == '"')) {
			starts = append(starts, start)
		}
		from = start + 1
	}
}

// eventValueStart finds the value of the "event" member inside the data
// string, where quotes are escaped: \"event\": \"NAME\" with or without the
// space after the colon.
func eventValueStart(line []byte, name string) (int, bool) {
	for _, sep := range []string{`: `, `:`} {
		pattern := []byte(`\"event\"` + sep + `\"` + name + `\"`)
		if i := bytes.Index(line, pattern); i >= 0 {
			return i + len(pattern) - len(name) - len(`\"`), true
		}
	}
	return 0, false
}

// needsEscape reports whether s contains a byte that JSON escapes, so that
// its text inside the data string differs from its text outside.
func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' || c < 0x20 {
			return true
		}
	}
	return false
}
