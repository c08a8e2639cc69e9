package phones

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDigits(t *testing.T) {
	for in, want := range map[string]any{
		"+1(555)-123-4567": "15551234567",
		"321-654-7890":     "3216547890",
		"14232056522":      "14232056522",
		"+7 999 ١٢٣":       "7999", // only ASCII digits count
		"NOT_DEFINED":      nil,
		"":                 nil,
	} {
		require.Equal(t, want, Digits(in), in)
	}
}
