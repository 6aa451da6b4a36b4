package stages

import (
	"fmt"
)

// This file finds the members of a captured event. The outer object and the
// data object are scanned member by member with their syntax checked: names,
// colons, commas and brackets. The values of the wanted members are
// validated as strictly as encoding/json would; all other values, including
// data.properties, are only skipped (see decode_skip.go).

// objectScan lists the members to find in one object.
type objectScan struct {
	// names are the wanted member names; spans[k] receives the value of the
	// last member named names[k], as encoding/json keeps the last duplicate.
	names []string
	spans []span
	// lazy is the index of a wanted member whose value is only skipped, to
	// be read later if needed, or -1.
	lazy int
	// data is the index of the captured event's data member, whose value is
	// scanned by scanData, or -1.
	data int
}

// scanEnvelope scans the message value, which must be one JSON object, into
// d.outer and, through scanData, into d.fields and d.data.
func (d *Decoded) scanEnvelope(value []byte) error {
	i := skipSpace(value, 0)
	if i >= len(value) {
		return &syntaxError{"unexpected end of input, expected a JSON object", i}
	}
	if value[i] != '{' {
		// Check the syntax first, so that a broken value reports it.
		if _, err := skipValue(value, i, 0); err != nil {
			return err
		}
		return &syntaxError{"the JSON value is not an object", i}
	}
	s := objectScan{names: outerNames, spans: d.outer[:], lazy: -1, data: outerData}
	end, err := d.scanMembers(value, i+1, 1, &s)
	if err != nil {
		return err
	}
	if end = skipSpace(value, end); end < len(value) {
		return &syntaxError{fmt.Sprintf("invalid character %q after the top-level value", value[end]), end}
	}
	return nil
}

// scanMembers scans the members of the object whose content starts at b[i],
// just after its '{', and returns the offset just after its '}'. depth
// counts this object. The spans it records are offsets into b.
func (d *Decoded) scanMembers(b []byte, i, depth int, s *objectScan) (int, error) {
	if depth > maxNestingDepth {
		return 0, &syntaxError{"nesting deeper than 10000 levels", i}
	}
	i = skipSpace(b, i)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		nameEnd, escaped, next, err := scanMemberName(b, i)
		if err != nil {
			return 0, err
		}
		k := matchName(b[i+1:nameEnd-1], escaped, s.names)
		i = next

		// Member value.
		start := i
		plain := false
		switch {
		case k < 0 || k == s.lazy:
			i, err = skipValue(b, i, depth)
			d.noteSkipped(start, i)
		case k == s.data:
			i, err = d.scanData(b, i, depth)
		default:
			i, plain, err = scanKeyValue(b, i, depth)
		}
		if err != nil {
			return 0, err
		}
		if k >= 0 {
			s.spans[k] = span{start, i, plain}
		}

		var closed bool
		if i, closed, err = scanMemberEnd(b, i); err != nil || closed {
			return i, err
		}
	}
}

// scanData scans the value of a data member at value[i] and returns the
// offset just after it. Each data member replaces what an earlier one
// recorded. A data string whose content is not a JSON object leaves its
// error in d.dataErr, because it matters only if no later data member
// replaces it and the rest of the value is valid.
func (d *Decoded) scanData(value []byte, i, depth int) (int, error) {
	d.fields = [dataCount]span{}
	d.data = d.data[:0]
	d.dataErr = nil
	if i >= len(value) {
		return skipValue(value, i, depth)
	}
	switch value[i] {
	case '"':
		return d.scanDataString(value, i)
	case '{':
		s := objectScan{names: dataNames, spans: d.fields[:], lazy: dataProperties, data: -1}
		return d.scanMembers(value, i+1, depth+1, &s)
	default:
		// Decode reports a data member that is neither string nor object.
		return skipValue(value, i, depth)
	}
}

// scanDataString scans the data string that starts at value[i] == '"' as an
// embedded JSON text and returns the offset just after its closing quote.
func (d *Decoded) scanDataString(value []byte, i int) (int, error) {
	// One allocation for a zero Decoded. The wanted values of the real
	// events in the tests take at most 119 bytes. unescapeRun, which only
	// values with escapes need, also requires 8 bytes of slack.
	if cap(d.data) == 0 {
		d.data = make([]byte, 0, 256)
	}
	end, err := d.scanEmbeddedDocument(value, i+1)
	if err == nil {
		return end, nil
	}
	if _, ok := err.(*dataStringError); ok {
		return 0, err
	}

	// The content is not a JSON object. Find the end of the string from its
	// start, so that the scan of the outer object can go on.
	d.dataErr = err
	end, err = skipString(value, i+1)
	if err != nil {
		return 0, err
	}
	d.noteSkipped(i+1, end-1)
	return end, nil
}

// scanEmbeddedDocument scans the embedded text that starts at value[i],
// which must be one JSON object, into d.fields and d.data, and returns the
// offset just after the data string's closing quote.
func (d *Decoded) scanEmbeddedDocument(value []byte, i int) (int, error) {
	i = skipEmbeddedSpace(value, i)
	c, next, err := embeddedChar(value, i)
	switch {
	case err != nil:
		return 0, err
	case c == endOfString:
		return 0, &syntaxError{"unexpected end of input, expected a JSON object", i}
	case c != '{':
		// Check the syntax first, so that a broken text reports it.
		if _, err := skipEmbeddedValue(value, i, 0); err != nil {
			return 0, err
		}
		return 0, &syntaxError{"the JSON value is not an object", i}
	}

	s := objectScan{names: dataNames, spans: d.fields[:], lazy: dataProperties, data: -1}
	end, err := d.scanEmbeddedMembers(value, next, 1, &s)
	if err != nil {
		return 0, err
	}
	end = skipEmbeddedSpace(value, end)
	if c, _, err = embeddedChar(value, end); err != nil {
		return 0, err
	}
	if c != endOfString {
		return 0, &syntaxError{fmt.Sprintf("invalid character %q after the top-level value", c), end}
	}
	return end + 1, nil
}

// scanEmbeddedMembers is scanMembers for an object of the embedded text. The
// values of the wanted members are unescaped into d.data, where their spans
// point; a lazy member's span points into b.
func (d *Decoded) scanEmbeddedMembers(b []byte, i, depth int, s *objectScan) (int, error) {
	if depth > maxNestingDepth {
		return 0, &syntaxError{"nesting deeper than 10000 levels", i}
	}
	i = skipEmbeddedSpace(b, i)
	c, next, err := embeddedChar(b, i)
	if err != nil {
		return 0, err
	}
	if c == '}' {
		return next, nil
	}
	for {
		// Member name.
		if c != '"' {
			return 0, &syntaxError{"expected a string for an object member name", i}
		}
		var k int
		if k, i, err = readEmbeddedName(b, next, s.names); err != nil {
			return 0, err
		}
		i = skipEmbeddedSpace(b, i)
		if c, next, err = embeddedChar(b, i); err != nil {
			return 0, err
		}
		if c != ':' {
			return 0, &syntaxError{"expected ':' after object member name", i}
		}
		i = skipEmbeddedSpace(b, next)

		// Member value.
		start := i
		if i, err = skipEmbeddedValue(b, i, depth); err != nil {
			return 0, err
		}
		switch {
		case k < 0 || k == s.lazy:
			d.noteSkipped(start, i)
			if k >= 0 {
				s.spans[k] = span{start: start, end: i}
			}
		default:
			if s.spans[k], err = d.unescapeEmbeddedValue(b, start, i, depth); err != nil {
				return 0, err
			}
		}

		// Separator.
		i = skipEmbeddedSpace(b, i)
		if c, next, err = embeddedChar(b, i); err != nil {
			return 0, err
		}
		switch c {
		case ',':
			i = skipEmbeddedSpace(b, next)
			if c, next, err = embeddedChar(b, i); err != nil {
				return 0, err
			}
		case '}':
			return next, nil
		case endOfString:
			return 0, &syntaxError{"unexpected end of input in object", i}
		default:
			return 0, &syntaxError{fmt.Sprintf("invalid character %q after object member", c), i}
		}
	}
}

// unescapeEmbeddedValue appends the embedded JSON value b[start:end], with
// the data string's escapes decoded, to d.data, validates it as strictly as
// encoding/json would, and returns its span in d.data.
func (d *Decoded) unescapeEmbeddedValue(b []byte, start, end, depth int) (span, error) {
	first := len(d.data)

	// Usually the value is a string \"...\" whose content needs no decoding,
	// or a number without escapes.
	if raw := b[start:end]; len(raw) >= 4 && raw[0] == '\\' && raw[1] == '"' && raw[len(raw)-2] == '\\' && raw[len(raw)-1] == '"' {
		content := raw[2 : len(raw)-2]
		if n := skipStringBytesUntil(content, 0, highs); n == len(content) {
			d.data = append(d.data, '"')
			d.data = append(d.data, content...)
			d.data = append(d.data, '"')
			return span{first, len(d.data), true}, nil
		}
	}

	var quote int
	var err error
	d.data, quote, err = unescapeRun(d.data, b[start:end], 0)
	if err != nil {
		return span{}, &dataStringError{fmt.Errorf("in the value at byte offset %d: %w", start, err)}
	}
	if quote != end-start {
		panic(fmt.Sprintf("BUG: the skipped embedded value %q contains the end of the data string", b[start:end]))
	}
	text := d.data[first:]
	n, plain, err := scanKeyValue(text, 0, depth)
	if err == nil && n < len(text) {
		err = &syntaxError{fmt.Sprintf("invalid character %q after a value", text[n]), n}
	}
	if err != nil {
		return span{}, fmt.Errorf("invalid value %q at byte offset %d of the message value: %w", text, start, err)
	}
	return span{first, len(d.data), plain}, nil
}

// noteSkipped records b[start:end] as a value that was skipped unvalidated,
// when the tests asked for it.
func (d *Decoded) noteSkipped(start, end int) {
	if d.recordSkipped && end > start {
		d.skipped = append(d.skipped, span{start: start, end: end})
	}
}

// unnoteSkipped removes a recorded skipped value that was read after all.
func (d *Decoded) unnoteSkipped(s span) {
	for k, recorded := range d.skipped {
		if recorded == s {
			d.skipped = append(d.skipped[:k], d.skipped[k+1:]...)
			return
		}
	}
}
