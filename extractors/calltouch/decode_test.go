package calltouch

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A record that does not decode is rejected with a reason naming the field; types that
// wander are read.
func TestMapRecords(t *testing.T) {
	t.Parallel()
	e := &Extractor{cfg: Config{SiteID: 7}}
	row, at, err := e.mapCall(json.RawMessage(`{"callId":"12","date":"01/02/2026 10:00:00","successful":"True","duration":"30","manager":" "}`))
	require.NoError(t, err)
	require.Equal(t, time.Date(2026, 2, 1, 7, 0, 0, 0, time.UTC), at, "cabinet time is UTC+3")
	require.Equal(t, []any{int64(7), int64(12)}, []any(row[:2]))
	require.Len(t, row, len(callsTable.Columns))
	for in, want := range map[string]string{
		`{"callId":"12","date":"01/02/2026 10:00:00","duration":"abc"}`:          `field duration: want an integer, got "abc"`,
		`{"callId":12,"date":"yesterday"}`:                                       `field date: want dd/mm/yyyy hh:mm:ss or a unix time, got "yesterday"`,
		`{"callId":12}`:                                                          `field date: missing`,
		`{"date":"01/02/2026 10:00:00"}`:                                         `field callId: missing or not a number`,
		`{"callId":12,"date":"01/02/2026 10:00:00","callTags":[{"names":[{}]}]}`: `field callTags.names: want an array of strings, got [{}]`,
		`[1]`: `not a JSON object: [1]`,
	} {
		_, _, err := e.mapCall(json.RawMessage(in))
		require.EqualError(t, err, want, in)
	}

	row, at, err = e.mapRequest(json.RawMessage(`{"requestId":5,"date":"soon","dateStr":"01/02/2026 10:00:00","client":{"phones":[{"phoneNumber":"+79991234567"}]}}`))
	require.NoError(t, err, "a date that does not parse falls back to dateStr")
	require.Equal(t, time.Date(2026, 2, 1, 7, 0, 0, 0, time.UTC), at)
	require.Len(t, row, len(requestsTable.Columns))
	for in, want := range map[string]string{
		`{"requestId":5,"date":1769929200000,"client":"x"}`:                `field client: want an object, got "x"`,
		`{"requestId":5,"date":1769929200000,"session":{"sessionId":"a"}}`: `field session.sessionId: want an integer, got "a"`,
		`{"requestId":5}`:                   `field date: missing (and no dateStr)`,
		`{"requestId":5,"dateStr":"never"}`: `field dateStr: want dd/mm/yyyy hh:mm:ss or a unix time, got "never"`,
	} {
		_, _, err := e.mapRequest(json.RawMessage(in))
		require.EqualError(t, err, want, in)
	}
}
