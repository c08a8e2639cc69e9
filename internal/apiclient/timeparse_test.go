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

// ParseTimeLiteral, where it applies, gives exactly what ParseTime of the unquoted
// literal gives.
func TestParseTimeLiteral(t *testing.T) {
	t.Parallel()

	applies := 0
	for _, in := range []string{
		`"2017-11-03T08:34:18.417Z"`, `"2026-07-25T00:00:00+03:00"`, `"2026-07-25T00:00:00-11:30"`,
		`"2026-07-25T00:00:00.123456789123Z"`, `"2024-02-29T23:59:59Z"`, `"2023-02-29T00:00:00Z"`,
		`"2026-07-25T00:00:60Z"`, `"2026-07-25T24:00:00Z"`, `"2026-07-25T00:00:00+24:00"`,
		`"2026-07-25T00:00:00,5Z"`, `"2026-07-25t00:00:00z"`, `" 2026-07-25T00:00:00Z"`,
		`"2026-07-25T00:00:00Z "`, `"\u0032026-07-25T00:00:00Z"`, `"2026-07-25T00:00:00\u005a"`,
		`"2026-07-25T00:00:00"`, `"2026-07-25T00:00:00+0300"`, `"2015-04-02T14:20Z"`,
		`"2020-02-04 11:46:48"`, `"2015-04-02"`, `""`, `"x"`, `"0000-01-01T00:00:00Z"`,
		`"9999-12-31T23:59:59.999999999-23:59"`, `"2026-7-25T00:00:00Z"`, `"2026-07-25T0:00:00Z"`,
		`2026`, `null`, `"`, `"2026-07-25T00:00:00Z`,
	} {
		got, ok := ParseTimeLiteral([]byte(in))
		if !ok {
			continue
		}
		applies++
		s, err := Unquote([]byte(in))
		require.NoError(t, err, in)
		want, err := ParseTime(strings.TrimSpace(s))
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	require.Greater(t, applies, 5)
}
