package stages

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// This file skips JSON values that the key does not read, without validating
// them. Skipping still finds every string and every bracket, so a member is
// never taken from inside a string or a nested value:
//
//   - a string runs from '"' to the next '"' that no '\' escapes, and its
//     content is not checked (control characters, escapes, UTF-8);
//   - an array or object runs to its matching bracket, nested at most
//     maxNestingDepth deep, and only its strings and brackets are looked at;
//   - a scalar starts with '-', a digit, 't', 'f' or 'n' and runs to the next
//     whitespace or one of , : " [ ] { } \, so "01", "1.2.3" and "nul" pass.
//
// The caller still checks the separator after the value, so a skipped value
// cannot hide a broken member list around it.

// stopBytes marks the bytes that end a run of plain bytes inside a skipped
// array or object: quotes, brackets and the backslash, which starts an escape
// in an embedded JSON text (see decode_embedded.go).
var stopBytes = func() (t [256]bool) {
	for _, c := range []byte("\"\\[]{}") {
		t[c] = true
	}
	return t
}()

// scalarBytes marks the bytes that continue a skipped scalar.
var scalarBytes = func() (t [256]bool) {
	for c := range t {
		t[c] = c > ' '
	}
	for _, c := range []byte(",:\"\\[]{}") {
		t[c] = false
	}
	return t
}()

// indexQuoteOrBackslash returns the offset of the first '"' or '\' at or after
// i in b, or len(b). It tests eight bytes at a time.
func indexQuoteOrBackslash(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q := x ^ (ones * '"')
		s := x ^ (ones * '\\')
		// Each term sets the high bit of its lowest zero byte exactly, so the
		// lowest bit of the union is exact too.
		if m := ((q-ones)&^q | (s-ones)&^s) & highs; m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == '"' || c == '\\' {
			break
		}
	}
	return i
}

// skipValue skips the JSON value at b[i] (no leading whitespace) without
// validating it and returns the offset just after it. depth is the number of
// arrays and objects that enclose the value.
func skipValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return 0, &syntaxError{msg: "unexpected end of input, expected a value", offset: i}
	}
	switch c := b[i]; {
	case c == '"':
		return skipString(b, i+1)
	case c == '{':
		return skipContainer(b, i+1, '}', depth+1)
	case c == '[':
		return skipContainer(b, i+1, ']', depth+1)
	case c == '-' || '0' <= c && c <= '9' || c == 't' || c == 'f' || c == 'n':
		return skipScalar(b, i+1), nil
	default:
		return 0, &syntaxError{msg: fmt.Sprintf("invalid character %q, expected a value", c), offset: i}
	}
}

// skipString returns the offset just after the closing quote of the string
// whose content starts at b[i].
func skipString(b []byte, i int) (int, error) {
	for {
		i = indexQuoteOrBackslash(b, i)
		switch {
		case i >= len(b):
			return 0, &syntaxError{msg: "unexpected end of input in string", offset: len(b)}
		case b[i] == '"':
			return i + 1, nil
		default:
			// Whatever the escape is, its second byte is not the end.
			i += 2
		}
	}
}

// skipScalar returns the offset of the first byte at or after i that cannot
// continue a scalar.
func skipScalar(b []byte, i int) int {
	for i < len(b) && scalarBytes[b[i]] {
		i++
	}
	return i
}

// skipContainer returns the offset just after the bracket that closes the
// array or object whose content starts at b[i]. closer is ']' or '}', and
// depth counts this array or object.
func skipContainer(b []byte, i int, closer byte, depth int) (int, error) {
	if depth > maxNestingDepth {
		return 0, &syntaxError{msg: "nesting deeper than 10000 levels", offset: i}
	}
	for {
		for i < len(b) && !stopBytes[b[i]] {
			i++
		}
		if i >= len(b) {
			return 0, &syntaxError{msg: "unexpected end of input in array or object", offset: i}
		}
		var err error
		switch c := b[i]; c {
		case '"':
			i, err = skipString(b, i+1)
		case '{':
			i, err = skipContainer(b, i+1, '}', depth+1)
		case '[':
			i, err = skipContainer(b, i+1, ']', depth+1)
		case '}', ']':
			if c != closer {
				return 0, &syntaxError{msg: fmt.Sprintf("invalid character %q, expected %q", c, closer), offset: i}
			}
			return i + 1, nil
		default:
			// A backslash outside a string is invalid but inside a skipped value.
			i++
		}
		if err != nil {
			return 0, err
		}
	}
}
