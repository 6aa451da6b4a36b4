package stages

// Timestamps are normalised to epoch milliseconds, the unit of the key.
// parseTimestampString and parseTimestampNumber list the accepted forms. Any
// other form is not a usable timestamp, so the decoder derives the time from
// offset and sent_at, or else keys the event on its uuid.

// parseTimestampString parses an RFC 3339 date-time into epoch milliseconds:
//
//	YYYY-MM-DD T hh:mm:ss [.fraction] (Z | +hh:mm | -hh:mm)
//
// The fraction may have any number of digits. Digits below the millisecond
// are cut off, not rounded, so the result is the millisecond that contains
// the instant (for instants before 1970 too). The separator may be 'T', 't'
// or a space, and 'z' is accepted for 'Z', as RFC 3339 section 5.6 allows.
// Years run from 0000 to 9999; the day must exist in its month, and leap
// seconds (second 60) are rejected, as Go's time.Parse does.
func parseTimestampString(s []byte) (int64, bool) {
	// Fixed part: "2006-01-02T15:04:05" is 19 bytes.
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':' {
		return 0, false
	}
	switch s[10] {
	case 'T', 't', ' ':
	default:
		return 0, false
	}
	year, ok1 := parseDigits(s[0:4])
	month, ok2 := parseDigits(s[5:7])
	day, ok3 := parseDigits(s[8:10])
	hour, ok4 := parseDigits(s[11:13])
	minute, ok5 := parseDigits(s[14:16])
	second, ok6 := parseDigits(s[17:19])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 {
		return 0, false
	}
	if month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) ||
		hour > 23 || minute > 59 || second > 59 {
		return 0, false
	}

	// Fraction: keep the first three digits, check the rest are digits.
	i := 19
	var millis int64
	if s[i] == '.' {
		i++
		start := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			if i-start < 3 {
				millis = millis*10 + int64(s[i]-'0')
			}
			i++
		}
		n := i - start
		if n == 0 {
			return 0, false
		}
		for ; n < 3; n++ {
			millis *= 10
		}
	}

	// Zone offset.
	if i >= len(s) {
		return 0, false
	}
	var offsetSeconds int64
	switch s[i] {
	case 'Z', 'z':
		i++
	case '+', '-':
		if len(s)-i != 6 || s[i+3] != ':' {
			return 0, false
		}
		oh, okh := parseDigits(s[i+1 : i+3])
		om, okm := parseDigits(s[i+4 : i+6])
		if !okh || !okm || oh > 23 || om > 59 {
			return 0, false
		}
		offsetSeconds = oh*3600 + om*60
		if s[i] == '-' {
			offsetSeconds = -offsetSeconds
		}
		i += 6
	default:
		return 0, false
	}
	if i != len(s) {
		return 0, false
	}

	// Local time minus the offset gives UTC.
	seconds := daysFromCivil(year, month, day)*86400 + hour*3600 + minute*60 + second - offsetSeconds
	return seconds*1000 + millis, true
}

// parseDigits parses a fixed-width run of decimal digits.
func parseDigits(b []byte) (int64, bool) {
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

func isLeapYear(y int64) bool {
	return y%4 == 0 && (y%100 != 0 || y%400 == 0)
}

func daysInMonth(year, month int64) int64 {
	switch month {
	case 2:
		if isLeapYear(year) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	default:
		return 31
	}
}

// daysFromCivil returns the number of days from 1970-01-01 to the given
// proleptic Gregorian date (Howard Hinnant's days_from_civil algorithm).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era-- // floor division for years before 0
	}
	yoe := y - era*400
	mp := (m + 9) % 12 // March is 0
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// parseTimestampNumber converts a JSON number into epoch milliseconds. The
// number of digits before the decimal point selects the unit:
//
//   - 10 digits: seconds (2001-09-09 to 2286-11-20), with an optional
//     fraction whose digits below the millisecond are cut off;
//   - 13 digits: milliseconds (same range), with an optional fraction that
//     is cut off.
//
// Every other form is rejected: negative numbers, exponents and other
// magnitudes. Nine or fewer digits would be seconds before 2001 or a small
// counter. Sixteen or nineteen digits could be microseconds or nanoseconds,
// but no sender in the sample data uses them, so accepting them would be a guess.
func parseTimestampNumber(lit []byte) (int64, bool) {
	i := 0
	for i < len(lit) && '0' <= lit[i] && lit[i] <= '9' {
		i++
	}
	whole, frac := lit[:i], lit[i:]
	if len(frac) > 0 {
		if frac[0] != '.' || len(frac) == 1 {
			return 0, false
		}
		frac = frac[1:]
		for _, c := range frac {
			if c < '0' || c > '9' {
				return 0, false
			}
		}
	}
	switch len(whole) {
	case 10:
		seconds, _ := parseDigits(whole)
		var millis int64
		for k := 0; k < 3; k++ {
			millis *= 10
			if k < len(frac) {
				millis += int64(frac[k] - '0')
			}
		}
		return seconds*1000 + millis, true
	case 13:
		millis, _ := parseDigits(whole)
		return millis, true
	default:
		return 0, false
	}
}

// parseOffset parses the SDK's "offset" field: a JSON integer of at most 15
// digits, the milliseconds between the event and sent_at. A fraction or an
// exponent makes it unusable.
func parseOffset(lit []byte) (int64, bool) {
	digits := lit
	negative := len(lit) > 0 && lit[0] == '-'
	if negative {
		digits = lit[1:]
	}
	if len(digits) == 0 || len(digits) > 15 {
		return 0, false
	}
	v, ok := parseDigits(digits)
	if !ok {
		return 0, false
	}
	if negative {
		v = -v
	}
	return v, true
}
