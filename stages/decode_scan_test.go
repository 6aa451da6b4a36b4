package stages

import (
	"math/rand/v2"
	"testing"
)

// TestSkipStringBytesMatchesByteLoop compares the eight-bytes-at-a-time
// search with a plain byte loop on random strings rich in special bytes.
func TestSkipStringBytesMatchesByteLoop(t *testing.T) {
	alphabet := []byte{'a', 'Z', ' ', '"', '\\', 0x00, 0x1f, 0x20, 0x7f, 0x80, 0x9f, 0xa0, 0xc3, 0xff, '!', '#'}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 20000; round++ {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			// Mostly plain bytes, so special ones land at every position.
			if rng.IntN(6) == 0 {
				b[i] = alphabet[rng.IntN(len(alphabet))]
			} else {
				b[i] = 'a' + byte(rng.IntN(26))
			}
		}
		start := 0
		if len(b) > 0 {
			start = rng.IntN(len(b))
		}

		want := start
		for want < len(b) && b[want] >= 0x20 && b[want] != '"' && b[want] != '\\' {
			want++
		}
		if got := skipStringBytes(b, start); got != want {
			t.Fatalf("skipStringBytes(%q, %d) = %d, want %d", b, start, got, want)
		}

		// Stopping at bytes >= 0x80 too.
		want = start
		for want < len(b) && b[want] >= 0x20 && b[want] < 0x80 && b[want] != '"' && b[want] != '\\' {
			want++
		}
		if got := skipStringBytesUntil(b, start, highs); got != want {
			t.Fatalf("skipStringBytesUntil(%q, %d, highs) = %d, want %d", b, start, got, want)
		}
	}
}
