package apiclient

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseTime(t *testing.T) {
	t.Parallel()

	utc := func(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
		return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
	}
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"2017-11-03T08:34:18.417Z", utc(2017, 11, 3, 8, 34, 18, 417_000_000)},
		{"2015-04-02T14:20Z", utc(2015, 4, 2, 14, 20, 0, 0)},
		{"2026-07-25T00:00:00Z", utc(2026, 7, 25, 0, 0, 0, 0)},
		{"2026-07-25T00:00:00", utc(2026, 7, 25, 0, 0, 0, 0)},
		{"2026-07-25T00:00:00.1234567", utc(2026, 7, 25, 0, 0, 0, 123_456_700)},
		{"2026-07-25T00:00:00+03:00", utc(2026, 7, 24, 21, 0, 0, 0)},
		{"2026-07-25T00:00:00+0300", utc(2026, 7, 24, 21, 0, 0, 0)},
		{"2015-04-02T14:20", utc(2015, 4, 2, 14, 20, 0, 0)},
		{"2020-02-04 11:46", utc(2020, 2, 4, 11, 46, 0, 0)},
		{"2020-02-04 11:46:48", utc(2020, 2, 4, 11, 46, 48, 0)},
		{"2015-04-02", utc(2015, 4, 2, 0, 0, 0, 0)},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseTime(tc.in)
			require.NoError(t, err)
			require.True(t, tc.want.Equal(got), "got %s, want %s", got, tc.want)
			require.Equal(t, time.UTC, got.Location())
		})
	}
}

func TestParseTimeErrors(t *testing.T) {
	t.Parallel()

	_, err := ParseTime("")
	require.EqualError(t, err, "parse time: empty string")

	_, err = ParseTime("yesterday")
	require.EqualError(t, err, `parse time "yesterday": unrecognised format`)

	long := strings.Repeat("x", 200)
	_, err = ParseTime(long)
	require.ErrorContains(t, err, strings.Repeat("x", 64)+"…")
	require.NotContains(t, err.Error(), strings.Repeat("x", 65))

	_, err = ParseTime("2020-13-45")
	require.ErrorContains(t, err, `"2020-13-45"`)
}
