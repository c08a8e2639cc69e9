package leeloo

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFlexFields(t *testing.T) {
	t.Parallel()
	type rec struct {
		S  FlexString  `json:"s"`
		T  FlexTime    `json:"t"`
		N  FlexNumber  `json:"n"`
		I  FlexInt     `json:"i"`
		B  FlexBool    `json:"b"`
		SS FlexStrings `json:"ss"`
	}
	for _, tc := range []struct {
		in      string
		bad     string // the field named in the error, "" when it decodes
		s, n    any
		tm      any
		i, b    any
		strings any
	}{
		{in: `{}`},
		{in: `{"s":null,"t":null,"n":null,"i":null,"b":null,"ss":null}`},
		{in: `{"s":"NOT_DEFINED","t":"NOT_DEFINED","n":"NOT_DEFINED","b":"NOT_DEFINED"}`},
		{in: `{"s":"","t":"","n":""}`, s: ""},
		{in: `{"s":42.5,"n":"1499.99","i":"120","b":"true","ss":["a",null,7]}`, s: "42.5", n: "1499.99", i: int64(120), b: true, strings: []string{"a", "7"}},
		{in: `{"n":1e3,"i":120.0,"b":0,"ss":"one"}`, n: "1e3", i: int64(120), b: false, strings: []string{"one"}},
		{in: `{"t":"2015-04-02T14:20Z"}`, tm: time.Date(2015, 4, 2, 14, 20, 0, 0, time.UTC)},
		{in: `{"t":"2020-02-04 11:46"}`, tm: time.Date(2020, 2, 4, 11, 46, 0, 0, time.UTC)},
		{in: `{"t":1510000000000}`, tm: time.UnixMilli(1510000000000).UTC()},
		{in: `{"t":1510000000}`, tm: time.Unix(1510000000, 0).UTC()},
		{in: `{"s":{"a":1}}`, bad: "s"},
		{in: `{"t":"yesterday"}`, bad: "t"},
		{in: `{"t":true}`, bad: "t"},
		{in: `{"n":"a lot"}`, bad: "n"},
		{in: `{"n":"0x10"}`, bad: "n"},
		{in: `{"n":"Infinity"}`, bad: "n"},
		{in: `{"i":1.5}`, bad: "i"},
		{in: `{"b":"yes"}`, bad: "b"},
		{in: `{"ss":[{"x":1}]}`, bad: "ss"},
	} {
		var r rec
		err := decodeItem([]byte(tc.in), &r)
		if tc.bad != "" {
			require.EqualError(t, err, "field "+tc.bad+": value of an unexpected type", tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.s, r.S.Value(), tc.in)
		require.Equal(t, tc.n, r.N.Value(), tc.in)
		require.Equal(t, tc.tm, r.T.Value(), tc.in)
		require.Equal(t, tc.i, r.I.Value(), tc.in)
		require.Equal(t, tc.b, r.B.Value(), tc.in)
		if tc.strings == nil {
			require.Nil(t, r.SS.Value(), tc.in)
		} else {
			require.Equal(t, tc.strings, r.SS.Value(), tc.in)
		}
	}
}

func TestDigits(t *testing.T) {
	t.Parallel()
	require.Equal(t, "15551234567", digits("+1 (555) 123-4567"))
	require.Nil(t, digits("NOT_DEFINED"))
	require.Nil(t, digits(nil))
}
