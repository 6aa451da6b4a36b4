package stages

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"unicode/utf8"
)

// A captured event's data member is usually a JSON string whose content is
// itself a JSON text, here called the embedded text. The functions in this
// file read the embedded text in place, in its escaped form inside the
// message value, so the large parts that the key does not read are skipped
// without being copied or unescaped. In the escaped form the embedded text's
// quotes appear as \", its backslashes as \\, and any character may appear
// as a \u escape; a bare '"' ends the data string.
//
// Positions given to and returned by these functions are offsets into the
// message value. Apart from skipped values, every character is decoded and
// checked: a control character or an invalid escape makes the data string
// invalid (a dataStringError), and the embedded text must be valid JSON.

// endOfString is the result of embeddedChar at the quote that ends the data
// string.
const endOfString rune = -1

// dataStringError reports that the data string is not a valid JSON string,
// which makes the whole message value invalid JSON rather than only its data.
type dataStringError struct {
	err error
}

func (e *dataStringError) Error() string { return "invalid data string: " + e.err.Error() }

func (e *dataStringError) Unwrap() error { return e.err }

// embeddedChar decodes the character of the embedded text at b[i] and
// returns it with the offset just after it. A byte >= 0x80 is returned as
// it is, without decoding the UTF-8 sequence it starts.
func embeddedChar(b []byte, i int) (rune, int, error) {
	if i >= len(b) {
		return 0, i, &dataStringError{&syntaxError{"unexpected end of input in string", i}}
	}
	switch c := b[i]; {
	case c == '"':
		return endOfString, i, nil
	case c == '\\':
		if i+1 < len(b) && b[i+1] == '"' {
			return '"', i + 2, nil
		}
		r, next, err := decodeEscape(b, i)
		if err != nil {
			return 0, i, &dataStringError{err}
		}
		return r, next, nil
	case c < ' ':
		return 0, i, &dataStringError{&syntaxError{fmt.Sprintf("invalid control character %#02x in string", c), i}}
	default:
		return rune(c), i + 1, nil
	}
}

// skipEmbeddedSpace returns the offset of the first character at or after i
// that is not JSON whitespace in the embedded text. Whitespace there is a
// space or an escape: \t, \n, \r or a \u escape of one of the four.
func skipEmbeddedSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ':
			i++
			continue
		case '\\':
			if i+1 < len(b) && b[i+1] == '"' {
				return i
			}
			r, next, err := decodeEscape(b, i)
			if err == nil && (r == ' ' || r == '\t' || r == '\n' || r == '\r') {
				i = next
				continue
			}
		}
		return i
	}
	return i
}

// skipEmbeddedValue skips the embedded JSON value at b[i] (no leading
// whitespace) without validating its content and returns the offset just
// after it. depth is the number of enclosing arrays and objects.
func skipEmbeddedValue(b []byte, i, depth int) (int, error) {
	c, next, err := embeddedChar(b, i)
	if err != nil {
		return 0, err
	}
	switch {
	case c == '"':
		return skipEmbeddedString(b, next)
	case c == '{':
		return skipEmbeddedContainer(b, next, '}', depth+1)
	case c == '[':
		return skipEmbeddedContainer(b, next, ']', depth+1)
	case c == '-' || '0' <= c && c <= '9' || c == 't' || c == 'f' || c == 'n':
		return skipEmbeddedScalar(b, next), nil
	case c == endOfString:
		return 0, &syntaxError{"unexpected end of input, expected a value", i}
	default:
		return 0, &syntaxError{fmt.Sprintf("invalid character %q, expected a value", c), i}
	}
}

// skipEmbeddedString returns the offset just after the closing \" of the
// embedded string whose content starts at b[i].
func skipEmbeddedString(b []byte, i int) (int, error) {
	if end, quotes, ok := embeddedStringEnd(b, i); ok && countQuotes(b[i:end]) == quotes {
		return end, nil
	}
	return skipEmbeddedStringExact(b, i)
}

// embeddedStringEnd finds the end of the embedded string whose content
// starts at b[i] quickly, by jumping from one backslash to the next. It does
// not look for a bare '"' between them, which would end the data string:
// the caller checks that the range holds no quotes besides the returned
// number of quotes that belong to escapes. It returns ok == false for a
// string that ends the data string or b.
func embeddedStringEnd(b []byte, i int) (end, quotes int, ok bool) {
	for i < len(b) {
		j := bytes.IndexByte(b[i:], '\\')
		if j < 0 || i+j+1 >= len(b) {
			return 0, 0, false
		}
		i += j
		switch b[i+1] {
		case '"':
			return i + 2, quotes + 1, true
		case '\\':
			// A backslash of the embedded text, which escapes the next
			// character, itself often an escape of the data string.
			i += 2
			switch {
			case i >= len(b) || b[i] == '"':
				return 0, 0, false
			case b[i] != '\\':
				i++
			case i+1 < len(b) && b[i+1] == 'u':
				i += 6
			default:
				if i+1 < len(b) && b[i+1] == '"' {
					quotes++
				}
				i += 2
			}
		case 'u':
			r, next, err := decodeEscape(b, i)
			switch {
			case err != nil:
				return 0, 0, false
			case r == '"':
				return next, quotes, true
			case r == '\\':
				// Rare enough for the exact loop.
				return 0, 0, false
			}
			i = next
		default:
			i += 2
		}
	}
	return 0, 0, false
}

// countQuotes returns the number of '"' bytes in b.
func countQuotes(b []byte) int {
	return bytes.Count(b, quoteByte)
}

var quoteByte = []byte{'"'}

// skipEmbeddedStringExact is skipEmbeddedString one character at a time.
func skipEmbeddedStringExact(b []byte, i int) (int, error) {
	for {
		if i >= len(b) || b[i] == '"' {
			return 0, &syntaxError{"unexpected end of input in string", i}
		}
		if b[i] != '\\' {
			i++
			continue
		}
		c, next, err := embeddedEscape(b, i, true)
		if err != nil {
			return 0, err
		}
		if c == '"' {
			return next, nil
		}
		i = next
	}
}

// skipEmbeddedScalar returns the offset of the first character at or after
// i that cannot continue a scalar. An escape can encode a character of the
// scalar, such as \u0065 for the e of true.
func skipEmbeddedScalar(b []byte, i int) int {
	for i < len(b) {
		c := b[i]
		if scalarBytes[c] {
			i++
			continue
		}
		if c != '\\' {
			return i
		}
		r, next, err := decodeEscape(b, i)
		if err != nil || r < utf8.RuneSelf && !scalarBytes[r] {
			return i
		}
		i = next
	}
	return i
}

// skipEmbeddedContainer returns the offset just after the bracket that closes
// the embedded array or object whose content starts at b[i]. closer is ']'
// or '}', and depth counts this array or object.
//
// It first runs embeddedContainerEnd, which does not look for a bare '"'
// inside strings, and accepts its result when the skipped bytes hold no
// quote besides those of escapes. Otherwise, or when that quick loop gives
// up, skipEmbeddedContainerExact does the work one character at a time.
func skipEmbeddedContainer(b []byte, i int, closer byte, depth int) (int, error) {
	if end, quotes, ok := embeddedContainerEnd(b, i, closer, depth); ok && countQuotes(b[i:end]) == quotes {
		return end, nil
	}
	return skipEmbeddedContainerExact(b, i, closer, depth)
}

// embeddedContainerEnd is the quick part of skipEmbeddedContainer. It runs
// skipEmbeddedLoop and handles what that loop leaves to it.
func embeddedContainerEnd(b []byte, i int, closer byte, depth int) (end, quotes int, ok bool) {
	// The quick loop keeps the kinds of at most 64 open levels in a word and
	// does not check the nesting limit.
	if depth+64 > maxNestingDepth {
		return 0, 0, false
	}
	state := skipState{i: i, level: 1}
	if closer == ']' {
		state.arrays = 1
	}
	for {
		var status int
		if vectorSkip {
			status = skipEmbeddedLoopAVX2(b, &state)
		} else {
			status = skipEmbeddedLoop(b, &state)
		}
		switch status {
		case loopDone:
			return state.i, state.quotes, true
		case loopEscape:
			// An escape other than \" in a string, at state.i.
			end, n, ok := embeddedStringEnd(b, state.i)
			if !ok {
				return 0, 0, false
			}
			state.i, state.quotes = end, state.quotes+n
		default:
			return 0, 0, false
		}
	}
}

// Classes of the bytes between the strings of a skipped embedded value.
const (
	gapOther = iota
	gapBackslash
	gapQuote
	gapOpen
	gapClose
)

var gapClasses = func() (t [256]uint8) {
	t['\\'] = gapBackslash
	t['"'] = gapQuote
	t['['], t['{'] = gapOpen, gapOpen
	t[']'], t['}'] = gapClose, gapClose
	return t
}()

// skipState is the state of skipEmbeddedLoop between calls.
type skipState struct {
	// i is the offset of the next byte to read, outside strings.
	i int
	// quotes counts the quotes that belong to escapes so far.
	quotes int
	// level is the number of open arrays and objects, and bit k of arrays
	// is set when level k+1 from the top is an array.
	level  int
	arrays uint64
}

// Results of skipEmbeddedLoop.
const (
	loopDone   = iota // the skipped value ended at state.i
	loopEscape        // a string has an escape other than \" at state.i
	loopGiveUp        // anything else unusual: let the exact loop decide
)

// skipEmbeddedLoop skips the common parts of an embedded value: strings
// without escapes other than \", the bytes between them, and arrays and
// objects nested at most 64 levels deep. It calls no functions, so that its
// variables stay in registers.
func skipEmbeddedLoop(b []byte, state *skipState) int {
	i, quotes, level, arrays := state.i, state.quotes, state.level, state.arrays
	for {
		// Bytes between strings: numbers, literals, ',', ':', whitespace.
		for i < len(b) && gapClasses[b[i]] == gapOther {
			i++
		}
		if i >= len(b) {
			return loopGiveUp
		}
		switch gapClasses[b[i]] {
		case gapOpen:
			if level >= 64 {
				return loopGiveUp
			}
			level++
			arrays = arrays<<1 | uint64(b[i]>>5&1^1) // '[' is 0x5b, '{' is 0x7b
			i++
			continue
		case gapClose:
			if arrays&1 != uint64(b[i]>>5&1^1) {
				return loopGiveUp
			}
			level--
			arrays >>= 1
			i++
			if level == 0 {
				state.i, state.quotes = i, quotes
				return loopDone
			}
			continue
		case gapQuote:
			return loopGiveUp
		}

		// A backslash, which must start a string with \".
		if i+1 >= len(b) || b[i+1] != '"' {
			return loopGiveUp
		}
		i += 2
		for {
			// The content ends at the next backslash, usually the \ of the
			// closing \".
			if i+8 > len(b) {
				// Near the end of the value; rare enough for the exact loop.
				return loopGiveUp
			}
			m := byteMask(binary.LittleEndian.Uint64(b[i:i+8]), '\\')
			if m == 0 {
				i += 8
				continue
			}
			j := i + bits.TrailingZeros64(m)>>3
			if j+1 >= len(b) {
				return loopGiveUp
			}
			if b[j+1] != '"' {
				state.i, state.quotes, state.level, state.arrays = j, quotes+1, level, arrays
				return loopEscape
			}
			i = j + 2
			quotes += 2

			// Most often ", " or ": ", or in compact JSON ',' or ':', and the
			// next string follow.
			if i+4 > len(b) {
				break
			}
			next := binary.LittleEndian.Uint32(b[i : i+4])
			if next == commaString || next == colonString {
				i += 4
				continue
			}
			if next&0xffffff != compactCommaString && next&0xffffff != compactColonString {
				break
			}
			i += 3
		}
	}
}

// The bytes ", \"", ": \"", ",\"" and ":\"" as little-endian words.
const (
	commaString        = ',' | ' '<<8 | '\\'<<16 | '"'<<24
	colonString        = ':' | ' '<<8 | '\\'<<16 | '"'<<24
	compactCommaString = ',' | '\\'<<8 | '"'<<16
	compactColonString = ':' | '\\'<<8 | '"'<<16
)

// skipEmbeddedContainerExact is skipEmbeddedContainer one character at a
// time.
func skipEmbeddedContainerExact(b []byte, i int, closer byte, depth int) (int, error) {
	stack := newBracketStack(closer, depth)
	inString := false
	for {
		if i >= len(b) || b[i] == '"' {
			return 0, &syntaxError{"unexpected end of input in array or object", i}
		}
		c, next := b[i], i+1
		if c == '\\' {
			var err error
			if c, next, err = embeddedEscape(b, i, inString); err != nil {
				return 0, err
			}
		}
		switch {
		case c == '"':
			inString = !inString
		case !inString:
			closed, err := stack.bracket(c, i)
			if err != nil {
				return 0, err
			}
			if closed {
				return next, nil
			}
		}
		i = next
	}
}

// embeddedEscape handles the escape of the data string at b[p] == '\\'
// inside a skipped value, other than \". It returns the character that
// matters at this point of the embedded text ('"', a bracket, or 0 for
// any other) and the offset after what it consumed. In a string of the
// embedded text, \\ escapes the next character, which is consumed too.
func embeddedEscape(b []byte, p int, inString bool) (byte, int, error) {
	r, next, err := decodeEscape(b, p)
	if err != nil {
		// Invalid, but inside a skipped value.
		return 0, p + 2, nil
	}
	switch {
	case r == '\\' && inString:
		switch {
		case next >= len(b) || b[next] == '"':
			return 0, 0, &syntaxError{"unexpected end of input in string", next}
		case b[next] == '\\':
			// The escaped character is itself an escape of the data string.
			if _, next, err = decodeEscape(b, next); err != nil {
				next += 2
			}
			return 0, next, nil
		default:
			return 0, next + 1, nil
		}
	case r == '"' || r == '{' || r == '}' || r == '[' || r == ']':
		return byte(r), next, nil
	default:
		return 0, next, nil
	}
}

// readEmbeddedName reads the member name whose content starts at b[i], just
// after its opening \", and returns the index of the name in names (or -1)
// and the offset just after its closing \".
func readEmbeddedName(b []byte, i int, names []string) (int, int, error) {
	// Usually the name has no escapes: it ends at the first \".
	j := skipStringBytes(b, i)
	if j+1 < len(b) && b[j] == '\\' && b[j+1] == '"' {
		return matchName(b[i:j], false, names), j + 2, nil
	}
	return readEmbeddedNameSlow(b, i, names)
}

// readEmbeddedNameSlow is readEmbeddedName for a name with escapes.
func readEmbeddedNameSlow(b []byte, i int, names []string) (int, int, error) {
	// Decode the data string's escapes into the name's embedded JSON text,
	// quotes included, then validate and match that text. A stack buffer
	// avoids an allocation for names of usual length.
	var buf [64]byte
	text := append(buf[:0], '"')
	escaped := false // the last character was a backslash that escapes the next
	for {
		c, next, err := embeddedChar(b, i)
		switch {
		case err != nil:
			return 0, 0, err
		case c == endOfString:
			return 0, 0, &syntaxError{"unexpected end of input in string", i}
		case b[i] == '\\':
			text = utf8.AppendRune(text, c)
		default:
			text = append(text, b[i])
		}
		i = next
		if c == '"' && !escaped {
			break
		}
		escaped = c == '\\' && !escaped
	}
	end, hasEscape, _, err := scanString(text, 0)
	if err != nil {
		return 0, 0, fmt.Errorf("invalid member name: %w", err)
	}
	return matchName(text[1:end-1], hasEscape, names), i, nil
}
