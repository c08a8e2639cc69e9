package apiclient

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// timeLayouts are tried in order. A layout without a zone parses as UTC; fractional
// seconds after the seconds field are accepted by time.Parse without a layout for them.
var timeLayouts = []string{
	time.RFC3339,                // 2017-11-03T08:34:18.417Z, 2026-07-25T00:00:00+03:00
	"2006-01-02T15:04:05Z0700",  // +0300 without the colon
	"2006-01-02T15:04:05",       // no zone: UTC
	"2006-01-02T15:04Z07:00",    // 2015-04-02T14:20Z
	"2006-01-02T15:04",          // minute precision, no zone
	"2006-01-02 15:04:05Z07:00", // space-separated with zone
	"2006-01-02 15:04:05",       // 2020-02-04 11:46:48
	"2006-01-02 15:04",          // 2020-02-04 11:46
	time.DateOnly,               // 2015-04-02: midnight UTC
}

// ParseTime parses the timestamps the APIs send, leniently: RFC 3339 with or without
// fractional seconds, with "Z", with an offset or with no zone at all (read as UTC);
// minute precision ("2015-04-02T14:20Z"); "YYYY-MM-DD HH:mm[:ss]"; and a bare date
// "YYYY-MM-DD" (midnight UTC). The result is in UTC. An empty string is an error, so
// callers map "" and null to NULL before calling. The error quotes the value, cut to
// 64 characters.
func ParseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("parse time: empty string")
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("parse time %q: unrecognised format", truncate(s, 64))
}

// truncate cuts s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}
