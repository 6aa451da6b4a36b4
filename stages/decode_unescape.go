package stages

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
	"unicode/utf16"
	"unicode/utf8"
)

// unescapeRun decodes JSON string content from b[i:] and appends it to dst,
// validating it on the way. It stops at the first unescaped '"' and returns
// that quote's offset, or len(b) when there is none. Like encoding/json, it
// turns invalid UTF-8 and unpaired UTF-16 surrogates into U+FFFD. It returns
// a *syntaxError for a control character or an invalid or cut-off escape.
func unescapeRun(dst, b []byte, i int) ([]byte, int, error) {
	// Output is never longer than input plus 8 bytes of slack for the word
	// copies below, except where U+FFFD (3 bytes) replaces one invalid byte.
	w := len(dst)
	dst = slices.Grow(dst, len(b)-i+8)
	buf := dst[:cap(dst)]

	for i < len(b) {
		// Copy plain ASCII eight bytes at a time. The whole word is written
		// first; bytes from the first special one on are overwritten later.
		if len(b)-i >= 8 && len(buf)-w >= 8 {
			x := binary.LittleEndian.Uint64(b[i : i+8])
			binary.LittleEndian.PutUint64(buf[w:w+8], x)
			special := hasByteBelow(x, 0x20) | hasByte(x, '"') | hasByte(x, '\\') | x&highs
			if special == 0 {
				i += 8
				w += 8
				continue
			}
			n := bits.TrailingZeros64(special) >> 3
			i += n
			w += n
		} else if byteClasses[b[i]] == classPlain {
			if w == len(buf) {
				buf = growBuffer(buf, w, 1)
			}
			buf[w] = b[i]
			i++
			w++
			continue
		}

		// b[i] is a quote, an escape, a control character or a non-ASCII byte.
		// The escaped quote is by far the most common in a data string.
		if b[i] == '\\' && i+1 < len(b) && b[i+1] == '"' && w < len(buf) {
			buf[w] = '"'
			w++
			i += 2
			continue
		}
		if len(buf)-w < utf8.UTFMax {
			buf = growBuffer(buf, w, utf8.UTFMax)
		}
		switch c := b[i]; {
		case c == '"':
			return buf[:w], i, nil
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				w += utf8.EncodeRune(buf[w:], utf8.RuneError)
			} else {
				w += copy(buf[w:], b[i:i+size])
			}
			i += size
		case c == '\\':
			var err error
			if w, i, err = unescapeOne(buf, w, b, i); err != nil {
				return buf[:w], i, err
			}
		default:
			return buf[:w], i, &syntaxError{fmt.Sprintf("invalid control character %#02x in string", c), i}
		}
	}
	return buf[:w], i, nil
}

// unescapeOne decodes the escape at b[i] == '\\' into buf[w:], which has
// room for utf8.UTFMax bytes, and returns the new w and i.
func unescapeOne(buf []byte, w int, b []byte, i int) (int, int, error) {
	r, next, err := decodeEscape(b, i)
	if err != nil {
		return w, i, err
	}
	if r < utf8.RuneSelf {
		buf[w] = byte(r)
		return w + 1, next, nil
	}
	return w + utf8.EncodeRune(buf[w:], r), next, nil
}

// decodeEscape decodes the escape sequence at b[i] == '\\' and returns its
// character and the offset just after it. A \u escape of a UTF-16 surrogate
// takes the next \u escape too when the two form a pair. A lone surrogate
// gives U+FFFD and leaves the next escape alone, as in encoding/json.
func decodeEscape(b []byte, i int) (rune, int, error) {
	if i+1 >= len(b) {
		return 0, i, &syntaxError{"unexpected end of input in string escape", i}
	}
	switch b[i+1] {
	case '"', '\\', '/':
		return rune(b[i+1]), i + 2, nil
	case 'b':
		return '\b', i + 2, nil
	case 'f':
		return '\f', i + 2, nil
	case 'n':
		return '\n', i + 2, nil
	case 'r':
		return '\r', i + 2, nil
	case 't':
		return '\t', i + 2, nil
	case 'u':
		if i+6 > len(b) {
			return 0, i, &syntaxError{"unexpected end of input in \\u escape", i}
		}
		r := decodeHex4(b[i+2 : i+6])
		if r < 0 {
			return 0, i, &syntaxError{"invalid \\u escape in string", i}
		}
		i += 6
		if !utf16.IsSurrogate(r) {
			return r, i, nil
		}
		r2 := rune(-1)
		if len(b)-i >= 6 && b[i] == '\\' && b[i+1] == 'u' {
			r2 = decodeHex4(b[i+2 : i+6])
		}
		if pair := utf16.DecodeRune(r, r2); pair != utf8.RuneError {
			return pair, i + 6, nil
		}
		return utf8.RuneError, i, nil
	default:
		return 0, i, &syntaxError{fmt.Sprintf("invalid escape %q in string", b[i:i+2]), i}
	}
}

// growBuffer returns a longer copy of buf[:w] with at least n free bytes.
func growBuffer(buf []byte, w, n int) []byte {
	grown := make([]byte, 2*len(buf)+n)
	copy(grown, buf[:w])
	return grown
}

// appendUnescaped appends the decoded content of a validated JSON string
// (raw is the text between the quotes) to dst.
func appendUnescaped(dst, raw []byte) []byte {
	dst, end, err := unescapeRun(dst, raw, 0)
	if err != nil || end != len(raw) {
		panic(fmt.Sprintf("BUG: appendUnescaped got an unvalidated string %q: %v", raw, err))
	}
	return dst
}
