package apiclient

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// jsonCorpus mixes valid and malformed inputs, truncations of a real-shaped page included.
var jsonCorpus = []string{
	`[]`, ` [ ] `, `{}`, `{"a":1}`, `[1,2,3]`, `{"a":[1,{"b":null}],"c":"x"}`,
	`"s"`, `1`, `-0.5e+3`, `true`, `null`, ``, ` `, `[`, `]`, `{`, `{"a"}`, `{"a":}`,
	`{"a":1,}`, `[1,]`, `[,1]`, `{a:1}`, `{"a":1 "b":2}`, `[1 2]`, `01`, `-`, `1.`, `1e`,
	`.5`, `+1`, `1.5e+`, `tru`, `nul`, `falsey`, `[true false]`, `"\u00e9\n\t\"\\\/"`,
	`"\x"`, `"\u12"`, `"\u12G4"`, "\"a\x01b\"", "\"a\x00\"", "\"\xff\xfe\"", `"é"`,
	`{"a":"\ud83d\ude00"}`, `[1]x`, `[1] `, `{"a":1}{"b":2}`, `[[[[]]]]`, `[[[[]]]`,
	`{"data":[{"id":"1","name":"A\"B"},{"id":2,"tags":["x",null]}],"meta":{"totalCount":2}}`,
}

func TestScanAgreesWithEncodingJSON(t *testing.T) {
	t.Parallel()

	page := `{"status":1,"data":[{"id":"6966","text":"héllo \"world\"\n","createdAt":"2026-01-01T00:00:00Z","n":-12.5e3,"ok":true,"x":null,"arr":[1,[2,{}]]}],"meta":{"totalCount":1}}`
	inputs := append([]string{}, jsonCorpus...)
	for n := range len(page) {
		inputs = append(inputs, page[:n])
	}
	for _, in := range inputs {
		b := []byte(in)
		valid := json.Valid(b)
		var firstByte byte
		if i := skipSpace(b, 0); i < len(b) {
			firstByte = b[i]
		}

		err := EachElement(b, func([]byte) error { return nil })
		if firstByte == '[' || !valid {
			require.Equal(t, valid, err == nil, "EachElement(%q): %v", in, err)
		}
		if err != nil && !valid {
			require.ErrorIs(t, err, ErrMalformed, in)
		}
		err = EachMember(b, func(_, _ []byte) error { return nil })
		if firstByte == '{' || !valid {
			require.Equal(t, valid, err == nil, "EachMember(%q): %v", in, err)
		}
		if valid && firstByte != '{' {
			require.Error(t, err, in)
			require.NotErrorIs(t, err, ErrMalformed, "a well-formed non-object is not a truncation: %q", in)
		}
	}
}

func TestSplitArray(t *testing.T) {
	t.Parallel()

	items, err := SplitArray([]byte(` [ {"a": [1, 2]} , "x" ,null,{"b":"]"}] `))
	require.NoError(t, err)
	require.Equal(t, []json.RawMessage{[]byte(`{"a": [1, 2]}`), []byte(`"x"`), []byte(`null`), []byte(`{"b":"]"}`)}, items)

	items, err = SplitArray([]byte(`[]`))
	require.NoError(t, err)
	require.NotNil(t, items)
	require.Empty(t, items)

	_, err = SplitArray([]byte(`[{"a":1},{"b":`))
	require.ErrorIs(t, err, ErrMalformed)
}

func TestEachMember(t *testing.T) {
	t.Parallel()

	var keys, vals []string
	err := EachMember([]byte(`{"data": [1,{"x":"}"}], "m\u0065ta" : {"totalCount":3},"s":"v"}`), func(k, v []byte) error {
		keys, vals = append(keys, string(k)), append(vals, string(v))
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, []string{`"data"`, `"m\u0065ta"`, `"s"`}, keys)
	require.Equal(t, []string{`[1,{"x":"}"}]`, `{"totalCount":3}`, `"v"`}, vals)
	require.True(t, KeyEquals([]byte(`"m\u0065ta"`), "meta"))
	require.True(t, KeyEquals([]byte(`"data"`), "data"))
	require.False(t, KeyEquals([]byte(`"Data"`), "data"))

	stop := errors.New("stop")
	err = EachMember([]byte(`{"a":1,"b":2}`), func(k, _ []byte) error { return stop })
	require.ErrorIs(t, err, stop)
}

func TestUnquoteMatchesEncodingJSON(t *testing.T) {
	t.Parallel()

	for _, lit := range []string{`""`, `"plain"`, `"é ü"`, `"a\"b"`, `"\u0000x"`, `"\ud83d\ude00"`, `"\ud83d"`, "\"\xff\"", `"tab\there"`} {
		var want string
		require.NoError(t, json.Unmarshal([]byte(lit), &want), lit)
		got, err := Unquote([]byte(lit))
		require.NoError(t, err, lit)
		require.Equal(t, want, got, lit)
		got, err = UnquoteShared([]byte(lit))
		require.NoError(t, err, lit)
		require.Equal(t, want, got, lit)
	}
	_, err := Unquote([]byte(`"open`))
	require.Error(t, err)
	_, err = UnquoteShared([]byte(`"open`))
	require.Error(t, err)
}

// TestUnquoteSharedSharesPlainStrings: a plain string is the literal's own bytes, one
// that needed decoding is not.
func TestUnquoteSharedSharesPlainStrings(t *testing.T) {
	t.Parallel()
	body := []byte(`{"a":"plain text","b":"esc\"aped"}`)
	s, err := UnquoteShared(body[5:17])
	require.NoError(t, err)
	require.Equal(t, "plain text", s)
	require.Equal(t, &body[6], unsafe.StringData(s))
	s, err = UnquoteShared(body[22:33])
	require.NoError(t, err)
	require.Equal(t, `esc"aped`, s)
	require.False(t, unsafe.StringData(s) == &body[23], "a decoded string is a copy")
}

func TestGetDecodeRetriesMalformedBodies(t *testing.T) {
	t.Parallel()

	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Write([]byte(`{"data":[{"id":1},{"id`)) // cut short
			return
		}
		w.Write([]byte(`{"data":[{"id":1},{"id":2}]}`))
	}))
	t.Cleanup(srv.Close)
	c, err := New(Config{Source: "testapi", BaseURL: srv.URL, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
	require.NoError(t, err)

	var items []json.RawMessage
	_, err = c.GetDecode(context.Background(), nil, "/people", nil, func(r *Response) error {
		items = nil
		return EachMember(r.Body, func(k, v []byte) error {
			if KeyEquals(k, "data") {
				var err error
				items, err = SplitArray(v)
				return err
			}
			return nil
		})
	})
	require.NoError(t, err)
	require.Equal(t, int32(2), calls.Load())
	require.Equal(t, []json.RawMessage{[]byte(`{"id":1}`), []byte(`{"id":2}`)}, items)

	// Any other decode error ends the request at once.
	calls.Store(1)
	_, err = c.GetDecode(context.Background(), nil, "/people", nil, func(r *Response) error {
		return errors.New("status 0")
	})
	require.EqualError(t, err, "testapi GET /people: decode body: status 0")
	require.Equal(t, int32(2), calls.Load())
}

func FuzzEachElement(f *testing.F) {
	for _, s := range jsonCorpus {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := EachElement(b, func([]byte) error { return nil })
		i := skipSpace(b, 0)
		isArray := i < len(b) && b[i] == '['
		if valid := json.Valid(b); isArray || !valid {
			if valid != (err == nil) {
				t.Fatalf("EachElement(%q) = %v, json.Valid = %v", b, err, valid)
			}
		}
	})
}

func BenchmarkSplitPage(b *testing.B) {
	item := `{"id":"69660055fb13db648fc58797","name":"Jane Doe","phone":"+15551234567","email":"jane@example.com","tags":["vip","lead"],"createdAt":"2026-01-01T00:00:00.000Z","custom_fields":{"a":1,"b":"two"}}`
	body := []byte(`{"status":1,"data":[` + item)
	for range 49 {
		body = append(body, ","+item...)
	}
	body = append(body, `],"meta":{"totalCount":50}}`...)
	b.SetBytes(int64(len(body)))
	b.Run("scan", func(b *testing.B) {
		for b.Loop() {
			_ = EachMember(body, func(k, v []byte) error {
				if KeyEquals(k, "data") {
					_, err := SplitArray(v)
					return err
				}
				return nil
			})
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			var env struct {
				Data []json.RawMessage `json:"data"`
			}
			_ = json.Unmarshal(body, &env)
		}
	})
}
