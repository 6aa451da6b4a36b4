//go:build goexperiment.simd && amd64

package stages

import (
	"math/bits"
	"simd/archsimd"
)

// vectorSkip reports whether embeddedContainerEnd runs skipEmbeddedLoopAVX2,
// which scans 64 bytes at a time, instead of skipEmbeddedLoop, which scans
// 8. The Makefile builds with GOEXPERIMENT=simd; without it, or on a CPU
// without AVX2, skipEmbeddedLoop does the same work.
var vectorSkip = archsimd.X86.AVX2()

// skipEmbeddedLoopAVX2 is skipEmbeddedLoop with the same contract. It reads
// 64 bytes at a time, as two 32-byte vectors, and finds the backslashes,
// the \" pairs and the brackets with vector comparisons. In most blocks
// every backslash belongs to a \" pair, and the strings of the embedded
// text run between the pairs. A prefix XOR of the pairs then marks the bytes
// inside strings, and only the brackets outside strings are looked at one
// by one. A block with other escapes is handled one event at a time.
//
// Like skipEmbeddedLoop, it does not look for a bare '"'; the caller counts
// the quotes of the skipped bytes against state.quotes.
func skipEmbeddedLoopAVX2(b []byte, state *skipState) int {
	i, quotes, level, arrays := state.i, state.quotes, state.level, state.arrays
	var inString uint64 // all ones inside a string

	lower := archsimd.BroadcastUint8x32(0x20)
	opens := archsimd.BroadcastUint8x32('{')
	closes := archsimd.BroadcastUint8x32('}')
	backslashes := archsimd.BroadcastUint8x32('\\')
	quoteBytes := archsimd.BroadcastUint8x32('"')

	// masks returns, for the 32 bytes at b[at:], the bits of the brackets,
	// of the backslashes, and of the bytes that a quote follows.
	masks := func(at int) (brackets, slashes, quotesAfter uint64) {
		x := archsimd.LoadUint8x32Slice(b[at : at+32])
		next := archsimd.LoadUint8x32Slice(b[at+1 : at+33])
		// OR-ing 0x20 turns '[' and ']' into '{' and '}'.
		y := x.Or(lower)
		return uint64(y.Equal(opens).Or(y.Equal(closes)).ToBits()),
			uint64(x.Equal(backslashes).ToBits()),
			uint64(next.Equal(quoteBytes).ToBits())
	}

	// Each block also needs the byte after it, to pair a backslash at its
	// end with a quote.
	base := i
	for ; base+65 <= len(b); base += 64 {
		brackets, slashes, quotesAfter := masks(base)
		brackets2, slashes2, quotesAfter2 := masks(base + 32)
		brackets |= brackets2 << 32
		slashes |= slashes2 << 32
		pairs := slashes & (quotesAfter | quotesAfter2<<32)

		if slashes == pairs {
			// Bit k of inside is set when byte k is inside a string. Each
			// pair's backslash switches the state, so an opening \" counts
			// as inside and a closing backslash as outside. Neither is a
			// bracket, so this does not matter.
			inside := prefixXOR64(pairs) ^ inString
			for m := brackets &^ inside; m != 0; m &= m - 1 {
				k := bits.TrailingZeros64(m)
				c := b[base+k]
				if c == '[' || c == '{' {
					if level >= 64 {
						return loopGiveUp
					}
					level++
					arrays = arrays<<1 | uint64(c>>5&1^1) // '[' is 0x5b, '{' is 0x7b
					continue
				}
				if arrays&1 != uint64(c>>5&1^1) {
					return loopGiveUp
				}
				level--
				arrays >>= 1
				if level == 0 {
					before := uint64(1)<<k - 1
					state.i, state.quotes = base+k+1, quotes+bits.OnesCount64(pairs&before)
					return loopDone
				}
			}
			quotes += bits.OnesCount64(pairs)
			inString = uint64(int64(inside) >> 63)
			continue
		}

		// Other escapes: one event at a time, for the backslashes and the
		// brackets. The quote of a \" pair is not an event, so every event
		// starts a new piece of text.
		for m := slashes | brackets; m != 0; m &= m - 1 {
			p := base + bits.TrailingZeros64(m)
			c := b[p]
			switch {
			case c == '\\':
				if b[p+1] == '"' {
					inString = ^inString
					quotes++
					i = p + 2
					continue
				}
				if inString == 0 {
					return loopGiveUp
				}
				state.i, state.quotes, state.level, state.arrays = p, quotes, level, arrays
				return loopEscape
			case inString != 0:
			case c == '[' || c == '{':
				if level >= 64 {
					return loopGiveUp
				}
				level++
				arrays = arrays<<1 | uint64(c>>5&1^1)
			default: // ']' or '}'
				if arrays&1 != uint64(c>>5&1^1) {
					return loopGiveUp
				}
				level--
				arrays >>= 1
				if level == 0 {
					state.i, state.quotes = p+1, quotes
					return loopDone
				}
			}
		}
	}

	// Fewer than 65 bytes are left. Inside a string, the caller finds its
	// end as it does after an escape; outside, the word loop goes on.
	state.i, state.quotes, state.level, state.arrays = max(i, base), quotes, level, arrays
	if inString != 0 {
		return loopEscape
	}
	return skipEmbeddedLoop(b, state)
}

// prefixXOR64 sets bit k when bits 0 to k of m have odd parity.
func prefixXOR64(m uint64) uint64 {
	m ^= m << 1
	m ^= m << 2
	m ^= m << 4
	m ^= m << 8
	m ^= m << 16
	return m ^ m<<32
}
