package postgres

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/stream"
)

// TestRepairedText: values PostgreSQL text cannot hold (invalid UTF-8, NUL) are loaded
// repaired in typed columns and raw, their batch loads, and the cursor advances.
func TestRepairedText(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, l := setup(t)

	bad := stream.Row{int64(1), "Bad\xff\xfeName\xc3(", nil, nil, []string{"x\xff", "y\x00"}, nil, nil,
		json.RawMessage("{\"id\":1,\"name\":\"Bad\xff\xfeName\xc3(\",\"nul\":\"a\\u0000b\",\"lone\":\"\\ud800\"}")}
	res, err := l.Load(ctx, 0, testDesc, batch(`{"n":1}`, person(2, "ok"), bad, person(3, "ok")))
	require.NoError(t, err)
	require.Equal(t, stream.LoadResult{Inserted: 3, NULsCleaned: 3}, res)

	var name string
	var tags []string
	var raw map[string]any
	require.NoError(t, pool.QueryRow(ctx, "select name, tags, raw from t.people where id = 1").Scan(&name, &tags, &raw))
	require.Equal(t, "Bad\uFFFD\uFFFDName\uFFFD(", name)
	require.Equal(t, []string{"x\uFFFD", "y"}, tags)
	require.Equal(t, map[string]any{"id": 1.0, "name": "Bad\uFFFD\uFFFDName\uFFFD(", "nul": "ab", "lone": "\uFFFD"}, raw)
	var cursor string
	require.NoError(t, pool.QueryRow(ctx, "select cursor::text from sync.state").Scan(&cursor))
	require.JSONEq(t, `{"n":1}`, cursor)

	// Loaded again, the repaired row is unchanged.
	bad = stream.Row{int64(1), "Bad\xff\xfeName\xc3(", nil, nil, []string{"x\xff", "y\x00"}, nil, nil,
		json.RawMessage("{\"id\":1,\"name\":\"Bad\xff\xfeName\xc3(\",\"nul\":\"a\\u0000b\",\"lone\":\"\\ud800\"}")}
	res, err = l.Load(ctx, 0, testDesc, batch(`{"n":2}`, bad))
	require.NoError(t, err)
	require.Equal(t, stream.LoadResult{Unchanged: 1, NULsCleaned: 3}, res)
}

// TestRejectAlwaysWritable: a reject whose payload and reason hold bytes text cannot
// store is written, the original bytes escaped; an oversized payload keeps an excerpt;
// the rest of the batch loads.
func TestRejectAlwaysWritable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, l := setup(t)
	var runID int64
	require.NoError(t, pool.QueryRow(ctx, "insert into sync.runs (source, stream) values ('test', 'people') returning id").Scan(&runID))

	badBytes := "{\"id\": 9, \"name\": \"Bad\xff\xfe\x00Name\xc3(\","
	huge := `{"id":10,"text":"` + strings.Repeat("é", maxRejectPayload) + `"}`
	refused := person(4, "neg")
	refused[2] = int64(-1) // refused by the CHECK constraint, after its raw was repaired
	refused[7] = json.RawMessage("{\"id\":4,\"name\":\"n\xff\"}")
	b := batch(`{"n":1}`, person(1, "ok"), refused)
	b.Rejects = []stream.Reject{
		{Table: "t.people", Reason: "broken JSON in \xff\x00", Payload: []byte(badBytes)},
		{Table: "t.people", Reason: "too large", Payload: []byte(huge)},
	}
	res, err := l.Load(ctx, runID, testDesc, b)
	require.NoError(t, err)
	require.Equal(t, 1, res.Inserted)
	require.Equal(t, 3, res.Rejected)
	requireCount(t, pool, "sync.state", 1)

	got := map[string][2]string{} // first reason word -> reason, payload
	rows, err := pool.Query(ctx, "select reason, payload, coalesce(payload_json::text, '') from sync.rejects order by id")
	require.NoError(t, err)
	for rows.Next() {
		var reason, payload, pj string
		require.NoError(t, rows.Scan(&reason, &payload, &pj))
		got[strings.Fields(reason)[0]] = [2]string{reason, payload}
		if strings.HasPrefix(reason, "too large") {
			require.Empty(t, pj, "an excerpt is not JSON")
		}
	}
	require.NoError(t, rows.Err())

	require.Equal(t, "broken JSON in \uFFFD", got["broken"][0])
	orig, err := strconv.Unquote(got["broken"][1])
	require.NoError(t, err, "payload is a quoted literal")
	require.Equal(t, badBytes, orig, "the original bytes survive")

	require.Contains(t, got["too"][0], "its first 65536 kept")
	require.LessOrEqual(t, len(got["too"][1]), maxRejectPayload)
	require.True(t, strings.HasPrefix(huge, got["too"][1]))

	orig, err = strconv.Unquote(got["rejected"][1])
	require.NoError(t, err)
	require.Equal(t, "{\"id\":4,\"name\":\"n\xff\"}", orig, "a refused row's reject keeps its raw as received")
}
