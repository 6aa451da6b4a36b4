package stages

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"unicode/utf8"
)

// This file contains a small validating JSON scanner. It accepts exactly the
// documents that encoding/json accepts (RFC 8259 syntax, any bytes >= 0x20
// inside strings, at most maxNestingDepth nested arrays and objects) and
// decodes strings the way encoding/json does (invalid UTF-8 and lone UTF-16
// surrogates become U+FFFD). It only records where the requested object
// members are, so skipping the rest of a document allocates nothing.
//
// The json format validates whole values with it. The captured_event format
// uses it for member names and for the values its key reads, and skips all
// other values without validating them (decode_skip.go, decode_embedded.go).

// maxNestingDepth is the deepest nesting of arrays and objects that
// encoding/json accepts (10000 in Go 1.26); deeper documents are invalid here too.
const maxNestingDepth = 10000

// span marks one JSON value as buf[start:end], without surrounding whitespace.
// The zero span means the member was not found.
type span struct {
	start, end int
	// plain is set for a validated string without escapes whose bytes are
	// all ASCII: its content is its text, with nothing to decode or check.
	plain bool
}

func (s span) found() bool { return s.end > s.start }

// syntaxError describes invalid JSON: what was wrong and at which byte offset.
type syntaxError struct {
	msg    string
	offset int
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("%s at byte offset %d", e.msg, e.offset)
}

// byteClass values for the lookup table used by the string loops.
const (
	classPlain   = iota // printable ASCII other than '"' and '\\'
	classQuote          // '"'
	classEscape         // '\\'
	classControl        // 0x00-0x1f, invalid inside a JSON string
	classHigh           // 0x80-0xff, part of a multi-byte UTF-8 sequence (or invalid)
)

var byteClasses = func() (t [256]uint8) {
	for c := range t {
		switch {
		case c < 0x20:
			t[c] = classControl
		case c == '"':
			t[c] = classQuote
		case c == '\\':
			t[c] = classEscape
		case c >= utf8.RuneSelf:
			t[c] = classHigh
		default:
			t[c] = classPlain
		}
	}
	return t
}()

func skipSpace(b []byte, i int) int {
	// Every JSON whitespace byte is <= ' ', so one comparison ends the
	// common case.
	for i < len(b) && b[i] <= ' ' {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// Masks for finding special bytes eight at a time (SWAR). For a word x,
// hasByteBelow(x, n) sets the high bit of the lowest byte that is below n
// (n <= 0x80), and bits above it may be set too; hasByte(x, c) does the
// same for bytes equal to c. Only the lowest set bit is used, which is exact
// because borrows propagate upward from a true match only.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

func hasByteBelow(x uint64, n uint8) uint64 {
	return (x - ones*uint64(n)) & ^x & highs
}

func hasByte(x uint64, c uint8) uint64 {
	return hasByteBelow(x^(ones*uint64(c)), 1)
}

// skipStringBytes returns the first offset at or after i of a '"', '\\' or
// control character in b, or len(b).
func skipStringBytes(b []byte, i int) int {
	return skipStringBytesUntil(b, i, 0)
}

// skipStringBytesUntil is skipStringBytes that also stops at bytes >= 0x80
// when stopHigh is highs; stopHigh 0 lets them pass.
func skipStringBytesUntil(b []byte, i int, stopHigh uint64) int {
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i : i+8])
		if m := hasByteBelow(x, 0x20) | hasByte(x, '"') | hasByte(x, '\\') | x&stopHigh; m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < len(b); i++ {
		if class := byteClasses[b[i]]; class != classPlain && (class != classHigh || stopHigh != 0) {
			break
		}
	}
	return i
}

// scanString validates the JSON string that starts at b[i] == '"' and returns
// the offset just after its closing quote, whether it contains escapes and
// whether all its bytes are ASCII.
func scanString(b []byte, i int) (end int, escaped, ascii bool, err error) {
	j := i + 1
	stopHigh := uint64(highs)
	for {
		j = skipStringBytesUntil(b, j, stopHigh)
		if j >= len(b) {
			return 0, false, false, &syntaxError{"unexpected end of input in string", len(b)}
		}
		switch c := b[j]; {
		case c == '"':
			return j + 1, escaped, stopHigh != 0, nil
		case c >= utf8.RuneSelf:
			// From here on the loop lets such bytes pass.
			stopHigh = 0
			j++
		case c == '\\':
			escaped = true
			if j+1 >= len(b) {
				return 0, false, false, &syntaxError{"unexpected end of input in string escape", j}
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(b) {
					return 0, false, false, &syntaxError{"unexpected end of input in \\u escape", j}
				}
				if decodeHex4(b[j+2:j+6]) < 0 {
					return 0, false, false, &syntaxError{"invalid \\u escape in string", j}
				}
				j += 6
			default:
				return 0, false, false, &syntaxError{fmt.Sprintf("invalid escape %q in string", b[j:j+2]), j}
			}
		default:
			return 0, false, false, &syntaxError{fmt.Sprintf("invalid control character %#02x in string", c), j}
		}
	}
}

// scanKeyValue is scanValue for a value that the key may read. It also
// reports whether the value is a plain string: one without escapes whose
// bytes are all ASCII, so that its content is its text.
func scanKeyValue(b []byte, i, depth int) (end int, plain bool, err error) {
	if i < len(b) && b[i] == '"' {
		end, escaped, ascii, err := scanString(b, i)
		return end, !escaped && ascii, err
	}
	end, err = scanValue(b, i, depth)
	return end, false, err
}

// decodeHex4 returns the value of four hex digits, or -1.
func decodeHex4(h []byte) rune {
	var r rune
	for _, c := range h[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// scanNumber validates the JSON number that starts at b[i] and returns the
// offset just after it. The grammar is -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func scanNumber(b []byte, i int) (int, error) {
	j := i
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j >= len(b):
		return 0, &syntaxError{"unexpected end of input in number", j}
	case b[j] == '0':
		j++
	case '1' <= b[j] && b[j] <= '9':
		j = skipDigits(b, j+1)
	default:
		return 0, &syntaxError{"invalid character in number", j}
	}
	if j < len(b) && b[j] == '.' {
		k := skipDigits(b, j+1)
		if k == j+1 {
			return 0, &syntaxError{"missing digits after decimal point", k}
		}
		j = k
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		k := skipDigits(b, j)
		if k == j {
			return 0, &syntaxError{"missing digits in exponent", k}
		}
		j = k
	}
	return j, nil
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

// scanLiteral validates one of true, false and null at b[i].
func scanLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
		return i + len(lit), nil
	}
	return 0, &syntaxError{"invalid literal, expected " + lit, i}
}

// scanValue validates the JSON value at b[i] (no leading whitespace) and
// returns the offset just after it. depth is the number of arrays and
// objects that enclose the value.
func scanValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return 0, &syntaxError{"unexpected end of input, expected a value", i}
	}
	switch c := b[i]; {
	case c == '"':
		end, _, _, err := scanString(b, i)
		return end, err
	case c == '{':
		return scanObject(b, i, depth+1, nil)
	case c == '[':
		return scanArray(b, i, depth+1)
	case c == '-' || '0' <= c && c <= '9':
		return scanNumber(b, i)
	case c == 't':
		return scanLiteral(b, i, "true")
	case c == 'f':
		return scanLiteral(b, i, "false")
	case c == 'n':
		return scanLiteral(b, i, "null")
	default:
		return 0, &syntaxError{fmt.Sprintf("invalid character %q, expected a value", c), i}
	}
}

func scanArray(b []byte, i, depth int) (int, error) {
	if depth > maxNestingDepth {
		return 0, &syntaxError{"nesting deeper than 10000 levels", i}
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = scanValue(b, i, depth); err != nil {
			return 0, err
		}
		i = skipSpace(b, i)
		switch {
		case i >= len(b):
			return 0, &syntaxError{"unexpected end of input in array", i}
		case b[i] == ',':
			i = skipSpace(b, i+1)
		case b[i] == ']':
			return i + 1, nil
		default:
			return 0, &syntaxError{fmt.Sprintf("invalid character %q after array element", b[i]), i}
		}
	}
}

// memberFinder records where the wanted members of one object are.
type memberFinder struct {
	// names are the wanted member names; spans[k] receives the value of the
	// last member named names[k], as encoding/json keeps the last duplicate.
	names []string
	spans []span
}

// scanObject validates the object at b[i] == '{' and returns the offset just
// after it. A non-nil f records the wanted members. depth counts this object.
func scanObject(b []byte, i, depth int, f *memberFinder) (int, error) {
	if depth > maxNestingDepth {
		return 0, &syntaxError{"nesting deeper than 10000 levels", i}
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		nameEnd, escaped, next, err := scanMemberName(b, i)
		if err != nil {
			return 0, err
		}
		k := -1
		if f != nil {
			k = matchName(b[i+1:nameEnd-1], escaped, f.names)
		}
		i = next

		// Member value.
		start := i
		if i, err = scanValue(b, i, depth); err != nil {
			return 0, err
		}
		if k >= 0 {
			f.spans[k] = span{start: start, end: i}
		}

		var closed bool
		if i, closed, err = scanMemberEnd(b, i); err != nil || closed {
			return i, err
		}
	}
}

// scanMemberName reads the object member name at b[i] and the ':' after
// it. It returns the offset just after the name's closing quote, whether
// the name has escapes, and the offset of the member's value.
func scanMemberName(b []byte, i int) (nameEnd int, escaped bool, value int, err error) {
	if i >= len(b) || b[i] != '"' {
		return 0, false, 0, &syntaxError{"expected a string for an object member name", i}
	}
	if nameEnd, escaped, _, err = scanString(b, i); err != nil {
		return 0, false, 0, err
	}
	i = skipSpace(b, nameEnd)
	if i >= len(b) || b[i] != ':' {
		return 0, false, 0, &syntaxError{"expected ':' after object member name", i}
	}
	return nameEnd, escaped, skipSpace(b, i+1), nil
}

// scanMemberEnd reads what follows a member value at b[i]: a ',' and the
// whitespace after it, or the '}' that closes the object. It returns the
// offset of the next member name, or with closed set the offset just after
// the '}'.
func scanMemberEnd(b []byte, i int) (next int, closed bool, err error) {
	i = skipSpace(b, i)
	switch {
	case i >= len(b):
		return 0, false, &syntaxError{"unexpected end of input in object", i}
	case b[i] == ',':
		return skipSpace(b, i+1), false, nil
	case b[i] == '}':
		return i + 1, true, nil
	default:
		return 0, false, &syntaxError{fmt.Sprintf("invalid character %q after object member", b[i]), i}
	}
}

// matchName returns the index of the raw member name in names, or -1. An
// escaped name is compared after decoding, so "\u0064ata" matches "data".
func matchName(raw []byte, escaped bool, names []string) int {
	name := raw
	if escaped {
		// A stack buffer avoids an allocation for names of usual length.
		var buf [64]byte
		name = appendUnescaped(buf[:0], raw)
	}
	for k, n := range names {
		if string(name) == n {
			return k
		}
	}
	return -1
}

// scanDocument validates a whole JSON text that must be an object, with only
// whitespace around it, and records the wanted members in f.
func scanDocument(b []byte, f *memberFinder) error {
	i := skipSpace(b, 0)
	if i >= len(b) {
		return &syntaxError{"unexpected end of input, expected a JSON object", i}
	}
	if b[i] != '{' {
		// Validate first, so that a broken document reports its syntax error.
		if _, err := scanValue(b, i, 0); err != nil {
			return err
		}
		return &syntaxError{"the JSON value is not an object", i}
	}
	end, err := scanObject(b, i, 1, f)
	if err != nil {
		return err
	}
	if end = skipSpace(b, end); end < len(b) {
		return &syntaxError{fmt.Sprintf("invalid character %q after the top-level value", b[end]), end}
	}
	return nil
}
