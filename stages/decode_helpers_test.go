package stages

import (
	"testing"
	"time"
)

func mustDecoder(t testing.TB, cfg FormatConfig) Decoder {
	t.Helper()
	dec, err := NewDecoder(cfg)
	if err != nil {
		t.Fatalf("NewDecoder(%+v): %v", cfg, err)
	}
	return dec
}

// msToRFC3339 formats epoch milliseconds as an RFC 3339 UTC time.
func msToRFC3339(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}
