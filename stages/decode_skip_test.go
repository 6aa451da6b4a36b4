package stages

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
)

// FuzzSkipContainer compares the skip loops, which take shortcuts, with
// versions that go one byte or character at a time: skipContainer with
// skipContainerByBytes below, and skipEmbeddedContainer with
// skipEmbeddedContainerExact. The input is the content of an array or an
// object, from just after its opening bracket. Both must return the same end
// offset, or both an error.
func FuzzSkipContainer(f *testing.F) {
	f.Add([]byte(`"a": [1, {"b": "}]\"\\"}], "c": null} tail`))
	f.Add([]byte(`\"a\": [1, {\"b\": \"}]\\\"\\\\\"}], \"c\": null} tail`))
	f.Add([]byte(`\"a\": \u005b\u0022]\u0022\u005d, \"b\": \"\u005c\"\"} tail`))
	f.Add([]byte(`\"long string over sixteen bytes\", \"x\": \"y\"], \"z\": 1}"`))
	f.Add([]byte(`"a\"b", "c\\", [[[[]]]]] tail`))
	f.Add([]byte(`\"a\":\"bcdefghijklmnopq\",\"c\":[\"d\",\"e\"]}"`))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, closer := range []byte{'}', ']'} {
			gotEnd, gotErr := skipContainer(b, 0, closer, 1)
			wantEnd, wantErr := skipContainerByBytes(b, closer)
			if gotEnd != wantEnd || (gotErr == nil) != (wantErr == nil) {
				t.Fatalf("skipContainer(%q, %q) = %d, %v; want %d, %v", b, closer, gotEnd, gotErr, wantEnd, wantErr)
			}

			// The vector loop reads 32 bytes at a time, so the input is
			// also tried after members that move it across block
			// boundaries, and repeated.
			for _, prefix := range embeddedPrefixes {
				in := append([]byte(prefix), b...)
				in = append(in, b...)
				gotEnd, gotErr = skipEmbeddedContainer(in, 0, closer, 1)
				wantEnd, wantErr = skipEmbeddedContainerExact(in, 0, closer, 1)
				if gotEnd != wantEnd || (gotErr == nil) != (wantErr == nil) {
					t.Fatalf("skipEmbeddedContainer(%q, %q) = %d, %v; want %d, %v", in, closer, gotEnd, gotErr, wantEnd, wantErr)
				}
			}
		}
	})
}

// embeddedPrefixes are placed before the fuzz input in the embedded case.
// Their lengths, 0, 18, 25, 34 and 93 bytes, put the input at several
// offsets of a 32-byte block, and the longest one spans blocks.
var embeddedPrefixes = []string{
	``,
	`\"k\": [1, 2, 3], `,
	`\"key\": \"some value\", `,
	`\"key\": {\"a\": [\"]\", \"{\"]}, `,
	`\"a\": \"abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\", \"bb\": [{}, []], `,
}

// skipContainerByBytes is skipContainer written plainly, without the nesting
// limit.
func skipContainerByBytes(b []byte, closer byte) (int, error) {
	closers := []byte{closer}
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{':
			closers = append(closers, '}')
		case c == '[':
			closers = append(closers, ']')
		case c == '}' || c == ']':
			if c != closers[len(closers)-1] {
				return 0, errors.New("mismatched bracket")
			}
			closers = closers[:len(closers)-1]
			if len(closers) == 0 {
				return i + 1, nil
			}
		}
	}
	return 0, errors.New("unexpected end")
}

// TestWordMasksMatchByteLoops checks the masks of eight bytes against byte
// comparisons on random words rich in the bytes they look for.
func TestWordMasksMatchByteLoops(t *testing.T) {
	alphabet := []byte{'"', '#', '\\', ']', '[', '{', '}', '|', 'z', 'Z', 0x00, 0x01, 0x7f, 0x80, 0xdb, 0xfb, 0xff, ' '}
	rng := rand.New(rand.NewPCG(3, 4))
	var word [8]byte
	for round := 0; round < 100000; round++ {
		for k := range word {
			word[k] = alphabet[rng.IntN(len(alphabet))]
		}
		x := binary.LittleEndian.Uint64(word[:])
		var quotes, brackets uint64
		lowestBackslash := -1
		for k, c := range word {
			if c == '"' {
				quotes |= 0x80 << (8 * k)
			}
			switch c {
			case '[', ']', '{', '}', '\\', '|':
				brackets |= 0x80 << (8 * k)
			}
			if c == '\\' && lowestBackslash < 0 {
				lowestBackslash = k
			}
		}
		if got := exactByteMask(x, '"'); got != quotes {
			t.Fatalf("exactByteMask(%q, '\"') = %#x, want %#x", word, got, quotes)
		}
		if got := bracketMask(x); got != brackets {
			t.Fatalf("bracketMask(%q) = %#x, want %#x", word, got, brackets)
		}
		got := byteMask(x, '\\')
		if lowestBackslash < 0 && got != 0 || lowestBackslash >= 0 && got&-got != 0x80<<(8*lowestBackslash) {
			t.Fatalf("byteMask(%q, '\\\\') = %#x, want the lowest flagged byte %d", word, got, lowestBackslash)
		}
	}
}

func TestPrefixXOR(t *testing.T) {
	tests := []struct{ in, want uint64 }{
		{0, 0},
		{0x80, 0x8080808080808080},
		{0x8000_0000_0080_0000, 0x0080_8080_8080_0000},
		{0x8080, 0x80},
	}
	for _, tt := range tests {
		if got := prefixXOR(tt.in); got&highs != tt.want {
			t.Errorf("prefixXOR(%#x) = %#x, want %#x", tt.in, got&highs, tt.want)
		}
	}
}
