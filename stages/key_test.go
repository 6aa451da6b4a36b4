package stages

import (
	"crypto/md5"
	"crypto/sha256"
	"hash/fnv"
	"testing"
)

func TestAppendKeyPartEscapes(t *testing.T) {
	tests := []struct{ part, want string }{
		{"", ""},
		{"plain", "plain"},
		{"a:b", `a\:b`},
		{`a\b`, `a\\b`},
		{`:\:`, `\:\\\:`},
		{"$pageview", "$pageview"},
	}
	for _, tt := range tests {
		if got := string(appendKeyPart([]byte("x"), []byte(tt.part))); got != "x"+tt.want {
			t.Errorf("appendKeyPart(%q) = %q, want %q", tt.part, got, "x"+tt.want)
		}
	}
}

func TestCapturedKeyIsInjective(t *testing.T) {
	// Part lists that a plain ':' join would merge into one text.
	lists := [][4]string{
		{"a:b", "c", "e", ""},
		{"a", "b:c", "e", ""},
		{`a\`, "b", "e", ""},
		{`a\:b`, "c", "e", ""},
		{"a", `\:b`, "e", ""},
	}
	seen := map[string][4]string{}
	for _, parts := range lists {
		key := string(appendCapturedKey(nil, 1, false, nil, []byte(parts[0]), []byte(parts[1]), []byte(parts[2])))
		if other, dup := seen[key]; dup {
			t.Errorf("parts %q and %q give the same key %q", parts, other, key)
		}
		seen[key] = parts
	}

	// A uuid key never equals a timestamp key.
	byUUID := string(appendCapturedKey(nil, 0, true, []byte("1"), []byte("d"), []byte("t"), []byte("e")))
	byTime := string(appendCapturedKey(nil, 1, false, nil, []byte("d"), []byte("t"), []byte("e")))
	if byUUID == byTime {
		t.Errorf("uuid key and timestamp key are both %q", byUUID)
	}
	if want := "uuid=1:d:t:e"; byUUID != want {
		t.Errorf("uuid key: got %q, want %q", byUUID, want)
	}
	if negative := string(appendCapturedKey(nil, -5, false, nil, []byte("d"), []byte("t"), []byte("e"))); negative != "-5:d:t:e" {
		t.Errorf("negative timestamp key: got %q, want %q", negative, "-5:d:t:e")
	}
}

func TestDigestIsTruncatedSHA256(t *testing.T) {
	d := Decoded{key: []byte("1694769302319:user-1:phc_token:$pageview")}
	// Fixed value: the digest is stored on disk and must never change.
	const want = "96cbac5d3d25d9d1c48ee672d9021e26" // computed with Python hashlib
	sum := sha256.Sum256(d.key)
	digest := d.Digest()
	if string(digest[:]) != string(sum[:16]) {
		t.Errorf("Digest() = %x, want the first 16 bytes of SHA-256 %x", digest, sum[:16])
	}
	if got := hexString(digest[:]); got != want {
		t.Errorf("Digest() = %s, want %s", got, want)
	}
}

func TestHashUUID(t *testing.T) {
	if got := hashUUID(nil); got != 0 {
		t.Errorf("hashUUID(empty) = %#x, want 0", got)
	}
	uuid := []byte("018a981f-4b2f-791a-9eb1-67ae5b9ecf84")
	h := fnv.New64a()
	h.Write(uuid)
	if got, want := hashUUID(uuid), h.Sum64(); got != want {
		t.Errorf("hashUUID(%q) = %#x, want FNV-1a %#x", uuid, got, want)
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// BenchmarkDigestHash compares 128-bit hashes from the standard library on a
// key of the real events' typical length (about 100 bytes).
func BenchmarkDigestHash(b *testing.B) {
	key := []byte("1694769302319:pWAkITyQ3CN7332UqQxnH6p3FV8VJd7pY647EdNkxWc:phc_qgUFp5wz2BjC4RsFjMGpQ3PGDrsi6Q0CG0CP4NAac0I:$autocapture")
	var sink [16]byte
	b.Run("sha256", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(key)))
		for b.Loop() {
			sum := sha256.Sum256(key)
			copy(sink[:], sum[:16])
		}
	})
	b.Run("md5", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(key)))
		for b.Loop() {
			sink = md5.Sum(key)
		}
	})
	b.Run("fnv128a", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(key)))
		h := fnv.New128a()
		for b.Loop() {
			h.Reset()
			h.Write(key)
			h.Sum(sink[:0])
		}
	})
	b.Run("fnv64a+fnv64", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(key)))
		h1, h2 := fnv.New64a(), fnv.New64()
		for b.Loop() {
			h1.Reset()
			h2.Reset()
			h1.Write(key)
			h2.Write(key)
			h2.Sum(h1.Sum(sink[:0]))
		}
	})
	_ = sink
}
