package leeloo

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFlexStringNotDefined(t *testing.T) {
	t.Parallel()
	var r struct {
		A, B, C, D FlexString
	}
	require.NoError(t, decodeItem([]byte(`{"a":"NOT_DEFINED","b":"","c":7}`), &r))
	require.Nil(t, r.A.Value(), "NOT_DEFINED is NULL")
	require.Equal(t, "", r.A.Text())
	require.Equal(t, "", r.B.Value(), `"" stays ""`)
	require.Equal(t, "7", r.C.Value())
	require.Nil(t, r.D.Value(), "missing")
}

func TestDigits(t *testing.T) {
	t.Parallel()
	require.Equal(t, "15551234567", digits("+1 (555) 123-4567"))
	require.Nil(t, digits("NOT_DEFINED"))
	require.Nil(t, digits(nil))
}
