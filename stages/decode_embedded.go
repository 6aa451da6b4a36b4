package stages

import (
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
	for {
		i = indexQuoteOrBackslash(b, i)
		if i >= len(b) || b[i] == '"' {
			return 0, &syntaxError{"unexpected end of input in string", i}
		}
		if i+1 >= len(b) {
			return 0, &syntaxError{"unexpected end of input in string", len(b)}
		}

		// b[i] starts an escape of the data string.
		var c rune
		switch b[i+1] {
		case '"':
			return i + 2, nil
		case '\\':
			c, i = '\\', i+2
		case 'u':
			r, next, err := decodeEscape(b, i)
			if err != nil {
				// Invalid, but inside a skipped string.
				i += 2
				continue
			}
			if r == '"' {
				return next, nil
			}
			c, i = r, next
		default:
			i += 2
		}

		// A backslash of the embedded text escapes the next character,
		// which may itself be an escape of the data string.
		if c == '\\' {
			switch {
			case i >= len(b) || b[i] == '"':
				return 0, &syntaxError{"unexpected end of input in string", i}
			case b[i] == '\\' && i+1 < len(b) && b[i+1] == 'u':
				i += 6
			case b[i] == '\\':
				i += 2
			default:
				i++
			}
		}
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
func skipEmbeddedContainer(b []byte, i int, closer rune, depth int) (int, error) {
	if depth > maxNestingDepth {
		return 0, &syntaxError{"nesting deeper than 10000 levels", i}
	}
	for {
		for i < len(b) && !stopBytes[b[i]] {
			i++
		}
		if i >= len(b) || b[i] == '"' {
			return 0, &syntaxError{"unexpected end of input in array or object", i}
		}

		// Brackets and quotes are plain bytes or, rarely, \u escapes.
		c, next := rune(b[i]), i+1
		if c == '\\' {
			var err error
			if c, next, err = decodeEscape(b, i); err != nil {
				// Invalid, but inside a skipped value.
				c, next = 0, i+2
			}
		}
		var err error
		switch c {
		case '"':
			i, err = skipEmbeddedString(b, next)
		case '{':
			i, err = skipEmbeddedContainer(b, next, '}', depth+1)
		case '[':
			i, err = skipEmbeddedContainer(b, next, ']', depth+1)
		case '}', ']':
			if c != closer {
				return 0, &syntaxError{fmt.Sprintf("invalid character %q, expected %q", c, closer), i}
			}
			return next, nil
		default:
			i = next
		}
		if err != nil {
			return 0, err
		}
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
