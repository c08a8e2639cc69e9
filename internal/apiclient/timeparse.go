package apiclient

import "time"

// ParseTime parses the timestamps the APIs send, leniently: RFC 3339 with or without
// fractional seconds, with "Z", with an offset or with no zone at all (read as UTC);
// minute precision ("2015-04-02T14:20Z"); "YYYY-MM-DD HH:mm[:ss]"; and a bare date
// "YYYY-MM-DD" (midnight UTC). The result is in UTC. An empty string is an error, so
// callers map "" and null to NULL before calling.
func ParseTime(s string) (time.Time, error) {
	panic("apiclient: not implemented yet")
}
