package stages

import (
	"bufio"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// timestampCase is one line of testdata/timestamps.txt.
type timestampCase struct {
	line    int
	raw     string // JSON value of data.timestamp
	want    int64
	usable  bool
	comment string
}

func readTimestampCases(t *testing.T) []timestampCase {
	t.Helper()
	f, err := os.Open("testdata/timestamps.txt")
	if err != nil {
		t.Fatalf("cannot open the timestamp table: %v", err)
	}
	defer f.Close()

	var cases []timestampCase
	scanner := bufio.NewScanner(f)
	for line := 1; scanner.Scan(); line++ {
		text := scanner.Text()
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Split(text, "\t")
		if len(fields) != 3 {
			t.Fatalf("timestamps.txt:%d: got %d tab-separated fields, want 3", line, len(fields))
		}
		c := timestampCase{line: line, raw: fields[1], comment: fields[2]}
		if fields[0] != "unusable" {
			if c.want, err = strconv.ParseInt(fields[0], 10, 64); err != nil {
				t.Fatalf("timestamps.txt:%d: %v", line, err)
			}
			c.usable = true
		}
		cases = append(cases, c)
	}
	if err := scanner.Err(); err != nil {
		t.Fatalf("cannot read the timestamp table: %v", err)
	}
	if len(cases) < 50 {
		t.Fatalf("got %d timestamp cases, want the whole table", len(cases))
	}
	return cases
}

// eventWithRawTimestamp returns a captured event whose data string contains
// the given JSON text as data.timestamp.
func eventWithRawTimestamp(t *testing.T, rawTimestamp string) []byte {
	t.Helper()
	data := `{"event":"$pageview","timestamp":` + rawTimestamp + `}`
	value, err := json.Marshal(map[string]any{
		"uuid":        "018a981f-4b2f-791a-9eb1-67ae5b9ecf84",
		"distinct_id": "user-1",
		"token":       "phc_test",
		"data":        data,
		"now":         "2023-09-15T09:15:02.322717+00:00",
	})
	if err != nil {
		t.Fatal(err)
	}
	return value
}

func TestTimestampTable(t *testing.T) {
	dec := mustDecoder(t, FormatConfig{Format: FormatCapturedEvent})
	for _, c := range readTimestampCases(t) {
		t.Run(strconv.Itoa(c.line)+" "+c.comment, func(t *testing.T) {
			var d Decoded
			if err := dec.Decode(eventWithRawTimestamp(t, c.raw), &d); err != nil {
				t.Fatalf("Decode(timestamp %s) error: %v", c.raw, err)
			}
			if !c.usable {
				if !d.UUIDFallback {
					t.Errorf("timestamp %s: got usable timestamp %d, want the uuid fallback", c.raw, d.Timestamp)
				}
				if d.Timestamp != 0 {
					t.Errorf("timestamp %s: got Timestamp %d with the uuid fallback, want 0", c.raw, d.Timestamp)
				}
				return
			}
			if d.UUIDFallback {
				t.Fatalf("timestamp %s: got the uuid fallback, want %d", c.raw, c.want)
			}
			if d.Timestamp != c.want {
				t.Errorf("timestamp %s: got %d, want %d", c.raw, d.Timestamp, c.want)
			}
			wantPrefix := strconv.FormatInt(c.want, 10) + ":"
			if key := d.KeyText(); !strings.HasPrefix(key, wantPrefix) {
				t.Errorf("timestamp %s: key %q does not start with %q", c.raw, key, wantPrefix)
			}
		})
	}
}

// TestTimestampStringAgreesWithTimePackage checks every string form of the
// table against time.Parse, which implements RFC 3339 independently.
func TestTimestampStringAgreesWithTimePackage(t *testing.T) {
	// time.Parse (Go 1.26) accepts these, but RFC 3339 section 5.6 allows
	// only offsets up to 23:59 and '.' before the fraction.
	goOnly := map[string]bool{
		"2023-09-15T09:15:02.325+24:00": true,
		"2023-09-15T09:15:02.325+02:60": true,
		"2023-09-15T09:15:02,325Z":      true,
	}
	for _, c := range readTimestampCases(t) {
		var s string
		if json.Unmarshal([]byte(c.raw), &s) != nil {
			continue // not a string
		}
		got, ok := parseTimestampString([]byte(s))

		// time.Parse takes only an upper-case 'T' separator and 'Z'.
		normalised := strings.ToUpper(s)
		if len(normalised) > 10 && normalised[10] == ' ' {
			normalised = normalised[:10] + "T" + normalised[11:]
		}
		parsed, err := time.Parse(time.RFC3339Nano, normalised)
		if goOnly[s] {
			if err != nil || ok {
				t.Errorf("%q: got ok=%v and time.Parse error %v, want only time.Parse to accept it", s, ok, err)
			}
			continue
		}
		if (err == nil) != ok {
			t.Errorf("parseTimestampString(%q): got ok=%v, time.Parse(%q) error: %v", s, ok, normalised, err)
			continue
		}
		if ok && got != floorMillis(parsed) {
			t.Errorf("parseTimestampString(%q) = %d, time.Parse gives %d", s, got, floorMillis(parsed))
		}
	}
}

// floorMillis returns the millisecond that contains tm.
func floorMillis(tm time.Time) int64 {
	return tm.Unix()*1000 + int64(tm.Nanosecond()/1e6)
}

func TestParseTimestampStringMatchesTimeParse(t *testing.T) {
	// Every day boundary of a few years, in several zones, against time.Parse.
	zones := []string{"Z", "+02:00", "-05:30", "+14:00", "-12:00"}
	for _, year := range []int{1, 1600, 1899, 1969, 1970, 2000, 2023, 2024, 2100, 9999} {
		for day := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC); day.Year() == year; day = day.AddDate(0, 0, 13) {
			for _, zone := range zones {
				s := day.Format("2006-01-02") + "T23:59:58.123456" + zone
				parsed, err := time.Parse(time.RFC3339Nano, s)
				if err != nil {
					t.Fatalf("time.Parse(%q): %v", s, err)
				}
				got, ok := parseTimestampString([]byte(s))
				if !ok || got != floorMillis(parsed) {
					t.Fatalf("parseTimestampString(%q) = %d, %v; want %d, true", s, got, ok, floorMillis(parsed))
				}
			}
		}
	}
}

func TestParseOffset(t *testing.T) {
	tests := []struct {
		lit  string
		want int64
		ok   bool
	}{
		{"3026", 3026, true},
		{"0", 0, true},
		{"-5", -5, true},
		{"999999999999999", 999999999999999, true},
		{"1000000000000000", 0, false},
		{"30.5", 0, false},
		{"3e3", 0, false},
		{"-", 0, false},
		{"", 0, false},
		{`"3026"`, 0, false},
	}
	for _, tt := range tests {
		got, ok := parseOffset([]byte(tt.lit))
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseOffset(%q) = %d, %v; want %d, %v", tt.lit, got, ok, tt.want, tt.ok)
		}
	}
}
