package lenient_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/extractors/internal/lenient"
	"github.com/crmsync/crmsync/internal/apiclient"
)

type inner struct {
	S lenient.String `json:"s"`
}

type rec struct {
	S   lenient.String                      `json:"s"`
	T   lenient.Time                        `json:"t"`
	N   lenient.Number                      `json:"n"`
	I   lenient.Int                         `json:"i"`
	I32 lenient.Int32                       `json:"i32"`
	B   lenient.Bool                        `json:"b"`
	SS  lenient.Strings                     `json:"ss"`
	IS  lenient.Ints                        `json:"is"`
	O   lenient.Object[inner]               `json:"o"`
	L   lenient.List[lenient.Object[inner]] `json:"l"`
	P   []inner                             `json:"p"`
}

func TestDecode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		err  string // the error, "" when it decodes
		want func(t *testing.T, r *rec)
	}{
		{in: `{}`, want: func(t *testing.T, r *rec) {
			require.Equal(t, rec{}, *r)
		}},
		{in: `{"s":null,"t":null,"n":null,"i":null,"b":null,"ss":null,"is":null,"o":null,"l":null}`, want: func(t *testing.T, r *rec) {
			require.Equal(t, rec{}, *r)
		}},
		{in: `{"t":"NOT_DEFINED","n":"NOT_DEFINED","i":"NOT_DEFINED","b":"NOT_DEFINED"}`, want: func(t *testing.T, r *rec) {
			require.Equal(t, rec{T: lenient.Time{Raw: "NOT_DEFINED"}}, *r, "absent, the time's text kept")
		}},
		{in: `{"s":"NOT_DEFINED"}`, want: func(t *testing.T, r *rec) {
			require.Equal(t, "NOT_DEFINED", r.S.Value(), "text keeps the sentinel")
		}},
		{in: `{"s":"","t":" ","n":"","i":"","b":""}`, want: func(t *testing.T, r *rec) {
			require.Equal(t, "", r.S.Value())
			require.Nil(t, r.T.Value())
			require.Equal(t, " ", r.T.Raw)
			require.Nil(t, r.N.Value())
			require.Nil(t, r.I.Value())
			require.Nil(t, r.B.Value())
		}},
		{in: `{"s":42.5,"n":"1499.99","i":"120","b":"true","ss":["a",null,7],"is":[1,"2",null,3.0]}`, want: func(t *testing.T, r *rec) {
			require.Equal(t, "42.5", r.S.Value())
			require.Equal(t, "1499.99", r.N.Value())
			require.Equal(t, int64(120), r.I.Value())
			require.Equal(t, true, r.B.Value())
			require.Equal(t, []string{"a", "7"}, r.SS.Value())
			require.Equal(t, []int64{1, 2, 3}, r.IS.Value())
		}},
		{in: `{"s":true,"n":1e3,"i":120.0,"b":0,"ss":"one"}`, want: func(t *testing.T, r *rec) {
			require.Equal(t, "true", r.S.Value())
			require.Equal(t, "1e3", r.N.Value())
			require.Equal(t, int64(120), r.I.Value())
			require.Equal(t, false, r.B.Value())
			require.Equal(t, []string{"one"}, r.SS.Value())
		}},
		{in: `{"b":"False","ss":[],"is":[]}`, want: func(t *testing.T, r *rec) {
			require.Equal(t, false, r.B.Value())
			require.Equal(t, []string{}, r.SS.Value(), "an empty list is not NULL")
			require.Equal(t, []int64{}, r.IS.Value())
		}},
		{in: `{"b":"yes"}`, want: func(t *testing.T, r *rec) { require.Equal(t, true, r.B.Value()) }},
		{in: `{"t":"2015-04-02T14:20Z"}`, want: func(t *testing.T, r *rec) {
			require.Equal(t, time.Date(2015, 4, 2, 14, 20, 0, 0, time.UTC), r.T.Value())
			require.Equal(t, "2015-04-02T14:20Z", r.T.Raw)
		}},
		{in: `{"t":"2020-02-04 11:46"}`, want: func(t *testing.T, r *rec) {
			require.Equal(t, time.Date(2020, 2, 4, 11, 46, 0, 0, time.UTC), r.T.Value())
		}},
		{in: `{"t":"2026-10-02T11:00:00+03:00"}`, want: func(t *testing.T, r *rec) {
			require.Equal(t, time.Date(2026, 10, 2, 8, 0, 0, 0, time.UTC), r.T.Value())
		}},
		{in: `{"t":1510000000000}`, want: func(t *testing.T, r *rec) { require.Equal(t, time.UnixMilli(1510000000000).UTC(), r.T.Value()) }},
		{in: `{"t":1510000000}`, want: func(t *testing.T, r *rec) { require.Equal(t, time.Unix(1510000000, 0).UTC(), r.T.Value()) }},
		{in: `{"o":{"s":"x","other":1},"l":[{"s":1},null]}`, want: func(t *testing.T, r *rec) {
			require.True(t, r.O.Valid)
			require.Equal(t, "x", r.O.V.S.Value())
			require.Len(t, r.L.V, 2)
			require.Equal(t, "1", r.L.V[0].V.S.Value())
			require.False(t, r.L.V[1].Valid)
		}},
		{in: `{"I32":"7"}`, want: func(t *testing.T, r *rec) { require.Equal(t, int64(7), r.I32.Value(), "keys match ignoring case") }},

		{in: `{"s":{"a":1}}`, err: `field s: want a string, got {"a":1}`},
		{in: `{"t":"yesterday"}`, err: `field t: want a timestamp, got "yesterday"`},
		{in: `{"t":true}`, err: `field t: want a timestamp, got true`},
		{in: `{"n":"a lot"}`, err: `field n: want a number, got "a lot"`},
		{in: `{"n":"0x10"}`, err: `field n: want a number, got "0x10"`},
		{in: `{"n":"Infinity"}`, err: `field n: want a number, got "Infinity"`},
		{in: `{"i":1.5}`, err: `field i: want an integer, got 1.5`},
		{in: `{"i":"abc"}`, err: `field i: want an integer, got "abc"`},
		{in: `{"i32":2147483648}`, err: `field i32: want a 32-bit integer, got 2147483648`},
		{in: `{"b":"maybe"}`, err: `field b: want a boolean, got "maybe"`},
		{in: `{"ss":[{"x":1}]}`, err: `field ss: want an array of strings, got [{"x":1}]`},
		{in: `{"is":[1.5]}`, err: `field is: want an array of integers, got [1.5]`},
		{in: `{"is":"1"}`, err: `field is: want an array of integers, got "1"`},
		{in: `{"o":"oops"}`, err: `field o: want an object, got "oops"`},
		{in: `{"o":{"s":[]}}`, err: `field o.s: want a string, got []`},
		{in: `{"l":{}}`, err: `field l: want an array, got {}`},
		{in: `{"l":[1]}`, err: `field l: want an object, got 1`},
		{in: `{"l":[{"s":{}}]}`, err: `field l.s: want a string, got {}`},
		{in: `{"p":"x"}`, err: `field p: want an array, got string`},
		{in: `"not an object"`, err: `not a JSON object: "not an object"`},
		{in: `null`, err: `not a JSON object: null`},
	} {
		var r rec
		err := lenient.Decode([]byte(tc.in), &r)
		if tc.err != "" {
			require.EqualError(t, err, tc.err, tc.in)
			var fe *lenient.FieldError
			require.ErrorAs(t, err, &fe, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		tc.want(t, &r)
	}
}

func TestBody(t *testing.T) {
	t.Parallel()
	var v struct{ Items []json.RawMessage }
	require.NoError(t, lenient.Body([]byte(`{"items":[{"a":1}, 2]}`), &v))
	require.Equal(t, []json.RawMessage{json.RawMessage(`{"a":1}`), json.RawMessage(`2`)}, v.Items, "items as received")
	err := lenient.Body([]byte(`{"items":[{"a":1}`), &v)
	require.True(t, errors.Is(err, apiclient.ErrMalformed), "a body cut short is malformed: %v", err)
	err = lenient.Body([]byte(`{"items":{}}`), &v)
	require.Error(t, err)
	require.False(t, errors.Is(err, apiclient.ErrMalformed), "a well-formed body of another shape is not")
}

// TestExcerpt: the first 60 characters of a value, however long and whatever its
// encoding.
func TestExcerpt(t *testing.T) {
	t.Parallel()
	require.Equal(t, `"short"`, lenient.Excerpt([]byte(`  "short" `)))
	long := `"` + strings.Repeat("я", 1<<20)
	require.Equal(t, `"`+strings.Repeat("я", 59)+"…", lenient.Excerpt([]byte(long)))
	bad := strings.Repeat("\xff", 300)
	require.Equal(t, strings.Repeat("\uFFFD", 60)+"…", lenient.Excerpt([]byte(bad)))
	exact := strings.Repeat("€", 60)
	require.Equal(t, exact, lenient.Excerpt([]byte(exact)))
}
