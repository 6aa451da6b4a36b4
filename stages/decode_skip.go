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

// Masks of one word of eight bytes, for the skip loops. Each sets the high
// bit of the bytes it finds. byteMask can also flag a byte one above the
// searched value when it directly follows a match (the borrow of the
// subtraction), so callers either check the byte or rely on a pattern that
// such a byte breaks.
const low7 = 0x7f7f7f7f7f7f7f7f

func byteMask(x uint64, c byte) uint64 {
	v := x ^ ones*uint64(c)
	return (v - ones) &^ v & highs
}

// exactByteMask is byteMask without the wrongly flagged bytes.
func exactByteMask(x uint64, c byte) uint64 {
	v := x ^ ones*uint64(c)
	return ^((v&low7 + low7) | v) & highs
}

// bracketMask finds '[', ']', '{' and '}', and also '\\' and '|'. OR-ing 0x20
// turns '[', '\\' and ']' into '{', '|' and '}', so one range test finds
// all six. Adding to the low seven bits never carries into the next byte,
// so the range test is exact.
func bracketMask(x uint64) uint64 {
	y := x | ones*0x20
	low := y & low7
	return (low + ones*(0x80-'{')) &^ (low + ones*(0x80-'}'-1)) &^ y & highs
}

// prefixXOR sets the high bit of byte k when the high bits of bytes 0 to k
// of m have odd parity.
func prefixXOR(m uint64) uint64 {
	m ^= m << 8
	m ^= m << 16
	return m ^ m<<32
}

// bracketStack tracks the arrays and objects open inside a skipped value.
type bracketStack struct {
	// level is the number of open arrays and objects; the skipped one is
	// level 1. depth is the nesting depth of level 1 in the document.
	level, depth int
	// Bit k of arrays is set when level k+1 from the top is an array. deep
	// keeps the bits of levels below the 64 that arrays holds.
	arrays uint64
	deep   []byte
}

func newBracketStack(closer byte, depth int) bracketStack {
	s := bracketStack{level: 1, depth: depth}
	if closer == ']' {
		s.arrays = 1
	}
	return s
}

// push opens the array or object that c, '[' or '{', starts at offset p.
func (s *bracketStack) push(c byte, p int) error {
	if s.depth+s.level > maxNestingDepth {
		return &syntaxError{msg: "nesting deeper than 10000 levels", offset: p}
	}
	if s.level >= 64 {
		s.deep = append(s.deep, byte(s.arrays>>63))
	}
	s.level++
	s.arrays = s.arrays<<1 | uint64(c>>5&1^1) // '[' is 0x5b, '{' is 0x7b
	return nil
}

// pop closes the innermost array or object with c, ']' or '}', at offset p,
// and reports whether that closed the skipped value.
func (s *bracketStack) pop(c byte, p int) (bool, error) {
	if isArray := s.arrays&1 == 1; isArray != (c == ']') {
		closer := byte('}')
		if isArray {
			closer = ']'
		}
		return false, &syntaxError{msg: fmt.Sprintf("invalid character %q, expected %q", c, closer), offset: p}
	}
	s.level--
	s.arrays >>= 1
	if s.level >= 64 {
		last := len(s.deep) - 1
		s.arrays |= uint64(s.deep[last]) << 63
		s.deep = s.deep[:last]
	}
	return s.level == 0, nil
}

// bracket applies c at offset p to the stack when c is a bracket, and
// reports whether it closed the skipped value.
func (s *bracketStack) bracket(c byte, p int) (bool, error) {
	switch c {
	case '{', '[':
		return false, s.push(c, p)
	case '}', ']':
		return s.pop(c, p)
	}
	return false, nil
}

// indexQuoteOrBackslash returns the offset of the first '"' or '\' at or after
// i in b, or len(b). It tests eight bytes at a time.
func indexQuoteOrBackslash(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i : i+8])
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
	stack := newBracketStack(closer, depth)
	var inString uint64 // all ones inside a string
	for {
		// Common case: eight bytes without a backslash. Quotes start and end
		// strings, and only brackets outside strings count.
		if i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i : i+8])
			if byteMask(x, '\\') == 0 {
				inside := prefixXOR(exactByteMask(x, '"')) ^ inString
				for m := bracketMask(x) &^ inside; m != 0; m &= m - 1 {
					p := i + bits.TrailingZeros64(m)>>3
					closed, err := stack.bracket(b[p], p)
					if err != nil {
						return 0, err
					}
					if closed {
						return p + 1, nil
					}
				}
				inString = -(inside >> 63)
				i += 8
				continue
			}
		}

		// Otherwise go byte by byte to the end of these eight bytes.
		if i >= len(b) {
			return 0, &syntaxError{msg: "unexpected end of input in array or object", offset: len(b)}
		}
		for stop := i + 8; i < stop && i < len(b); {
			c := b[i]
			switch {
			case c == '"':
				inString = ^inString
			case c == '\\' && inString != 0:
				i++
			case inString == 0:
				closed, err := stack.bracket(c, i)
				if err != nil {
					return 0, err
				}
				if closed {
					return i + 1, nil
				}
			}
			i++
		}
	}
}
