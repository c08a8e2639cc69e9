package e164

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		raw, region string
		want        any
	}{
		// Text Request writes US numbers with or without the 1, with any punctuation.
		{"+1(555)-123-4567", "US", "+15551234567"},
		{"5551234567", "US", "+15551234567"},
		{"15551234567", "US", "+15551234567"},
		{"(423) 205-6522", "US", "+14232056522"},
		// A country code wins over the region.
		{"+7 999 000-00-01", "US", "+79990000001"},
		{"+380960000001", "", "+380960000001"},
		// Russian numbers written nationally, with the trunk 8 or the country's 7.
		{"8 (999) 000-00-01", "RU", "+79990000001"},
		{"79990000001", "RU", "+79990000001"},
		// Without a region, a number without a country code cannot be read.
		{"5551234567", "", nil},
		{"NOT_DEFINED", "", nil},
		{"NOT_DEFINED", "US", nil},
		{"", "US", nil},
		{"   ", "US", nil},
		{"call me", "US", nil},
		{"12", "US", nil},              // too short for a US number
		{"+1555123456789012", "", nil}, // too long
	} {
		require.Equal(t, c.want, Format(c.raw, c.region), "%q in %q", c.raw, c.region)
	}
}

func TestRegion(t *testing.T) {
	for in, want := range map[string]string{"US": "US", " ru ": "RU", "": ""} {
		got, err := Region(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got)
	}
	_, err := Region("USA")
	require.ErrorContains(t, err, `"USA" is not a region`)
}
