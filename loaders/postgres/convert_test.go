package postgres

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/stream"
)

func TestRepairJSON(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"{\"a\":\"Bad\xff\xfeName\xc3(\"}": "{\"a\":\"Bad\uFFFD\uFFFDName\uFFFD(\"}",
		`{"a":"\ud83d\ude00"}`:             `{"a":"\ud83d\ude00"}`, // a surrogate pair is fine
		`{"a":"\ud83d x"}`:                 `{"a":"\ufffd x"}`,
		`{"a":"\ude00\ud83d"}`:             `{"a":"\ufffd\ufffd"}`,
		`{"a":"\\ud800"}`:                  `{"a":"\\ud800"}`, // an escaped backslash
		`{"a":"\u12"}`:                     `{"a":"\u12"}`,
		"{\"a\":\"é\"}":                    "{\"a\":\"é\"}",
		`{"a":"b"}`:                        `{"a":"b"}`,
		`{"a":"b\u0000c"}`:                 `{"a":"bc"}`,
		"{\"a\":\"b\x00c\"}":               `{"a":"bc"}`,
		`{"a":"\\u0000"}`:                  `{"a":"\\u0000"}`, // an escaped backslash, not a NUL
		`{"a":"\\\u0000"}`:                 `{"a":"\\"}`,
		`["\u0000\u0000", "\u0001"]`:       `["", "\u0001"]`,
	} {
		got, _ := repairJSON([]byte(in))
		require.Equal(t, want, string(got), in)
	}
}

func TestConvertRejects(t *testing.T) {
	t.Parallel()
	cases := []struct {
		typ  string
		v    any
		fail bool
	}{
		{"integer", int64(math.MaxInt32), false},
		{"integer", int64(math.MaxInt32 + 1), true},
		{"smallint", int64(-40000), true},
		{"bigint", "12", true},
		{"bigint", 12.0, false},
		{"bigint", 12.5, true},
		{"numeric(5,2)", "999.99", false},
		{"numeric(5,2)", "1000", true},
		{"numeric(5,2)", "abc", true},
		{"numeric", 1e300, false},
		{"numeric", math.NaN(), true},
		{"boolean", "true", true},
		{"text", "ok", false},
		{"text", "\xff", false}, // repaired, see TestRepairedText
		{"text[]", []string{"a"}, false},
		{"text[]", "a", true},
		{"timestamptz", "2024-01-01", true},
		{"jsonb", 12, true},
	}
	for _, c := range cases {
		_, _, err := parseType(c.typ).convert(c.v)
		require.Equal(t, c.fail, err != nil, "%s %#v: %v", c.typ, c.v, err)
	}
}

// declaredInfo is the catalog's view of t as its Go declaration spells it, for tests
// that prepare rows without a database.
func declaredInfo(t stream.Table) *tableInfo {
	ti := &tableInfo{types: map[string]string{}}
	for _, c := range t.Columns {
		ti.types[c.Name] = c.Type
	}
	return ti
}
