package stages

import (
	"bytes"
	"fmt"
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

// endOfString is what embeddedChar returns at the quote that ends the data
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
	for {
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
func skipEmbeddedContainer(b []byte, i int, closer byte, depth int) (int, error) {
	if end, quotes, ok := embeddedContainerEnd(b, i, closer, depth); ok && countQuotes(b[i:end]) == quotes {
		return end, nil
	}
	return skipEmbeddedContainerExact(b, i, closer, depth)
}

// embeddedClass sorts the bytes that matter between the strings of a
// skipped embedded value.
var embeddedClass = func() (t [256]uint8) {
	t['\\'] = 1
	t['"'] = 2
	t['['], t['{'] = 3, 3
	t[']'], t['}'] = 4, 4
	return t
}()

// embeddedContainerEnd is the quick part of skipEmbeddedContainer. Like
// embeddedStringEnd, it returns the number of quotes that belong to escapes
// for the caller's check, and ok == false for anything unusual: a bare '"',
// an escape outside strings other than \", or invalid nesting.
func embeddedContainerEnd(b []byte, i int, closer byte, depth int) (end, quotes int, ok bool) {
	stack := newBracketStack(closer, depth)
	for i < len(b) {
		switch embeddedClass[b[i]] {
		case 0:
			i++
		case 1:
			if i+1 >= len(b) || b[i+1] != '"' {
				return 0, 0, false
			}
			end, n, ok := embeddedStringEnd(b, i+2)
			if !ok {
				return 0, 0, false
			}
			i, quotes = end, quotes+1+n
		case 2:
			return 0, 0, false
		case 3:
			if stack.push(b[i], i) != nil {
				return 0, 0, false
			}
			i++
		case 4:
			closed, err := stack.pop(b[i], i)
			if err != nil {
				return 0, 0, false
			}
			i++
			if closed {
				return i, quotes, true
			}
		}
	}
	return 0, 0, false
}

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
			if closed, err := stack.bracket(c, i); closed || err != nil {
				return next, err
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
	end, hasEscape, err := scanString(text, 0)
	if err != nil {
		return 0, 0, fmt.Errorf("invalid member name: %w", err)
	}
	return matchName(text[1:end-1], hasEscape, names), i, nil
}
