package postgres

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/checkpoint"
	"github.com/crmsync/crmsync/internal/stream"
)

// TestLoadGroupEqualsOneByOne: several batches in one Load end as if loaded one after
// another: a key's latest row wins, every partition stores its last cursor, and a parent
// listed again keeps only its later batch's children.
func TestLoadGroupEqualsOneByOne(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, l := setup(t)
	tag := func(person int64, tag string) stream.Row { return stream.Row{person, tag, "n"} }
	part := func(partition, cursor string, people []stream.Row, tags ...stream.Row) stream.Batch {
		b := stream.Batch{Partition: partition, Rows: map[string][]stream.Row{"t.people": people}}
		if len(tags) > 0 {
			b.Rows["t.person_tags"] = tags
		}
		if cursor != "" {
			b.Cursor = json.RawMessage(cursor)
		}
		return b
	}

	// Stored before: person 3 with tags x and y.
	_, err := l.Load(ctx, 0, testDesc, part("c", `{"n":0}`, []stream.Row{person(3, "cy")}, tag(3, "x"), tag(3, "y")))
	require.NoError(t, err)

	res, err := l.Load(ctx, 0, testDesc,
		part("a", `{"n":1}`, []stream.Row{person(1, "ann"), person(2, "bob")}, tag(1, "a"), tag(1, "b"), tag(2, "c")),
		part("b", `{"n":2}`, []stream.Row{person(3, "cy")}, tag(3, "x")),
		part("a", `{"n":3}`, []stream.Row{person(1, "anna")}, tag(1, "d")),
		part("b", "", nil), // no cursor: b keeps {"n":2}
		stream.Batch{Partition: "a", Rejects: []stream.Reject{{Table: "t.people", Reason: "no id", Payload: []byte(`{}`)}}},
	)
	require.NoError(t, err)
	// People 1 and 2 new (1 written once, as "anna"); 3 unchanged. Tags: 1d and 2c new,
	// 3x unchanged; 1a and 1b were listed by an earlier batch than person 1's last, so
	// they are not written; 3y is deleted.
	require.Equal(t, stream.LoadResult{Inserted: 4, Unchanged: 2, Deleted: 1, Rejected: 1}, res)

	var names, tags []string
	require.NoError(t, pool.QueryRow(ctx, "select array_agg(name order by id) from t.people").Scan(&names))
	require.Equal(t, []string{"anna", "bob", "cy"}, names)
	require.NoError(t, pool.QueryRow(ctx, "select array_agg(person_id || tag order by person_id, tag) from t.person_tags").Scan(&tags))
	require.Equal(t, []string{"1d", "2c", "3x"}, tags)

	st, err := checkpoint.New(pool).State(ctx, "test", "people")
	require.NoError(t, err)
	require.JSONEq(t, `{"n":3}`, string(st["a"]))
	require.JSONEq(t, `{"n":2}`, string(st["b"]))
	require.JSONEq(t, `{"n":0}`, string(st["c"]))
	requireCount(t, pool, "sync.rejects", 1)
}

// TestLoadGroupAllOrNothing: a group with one bad cursor commits none of its batches.
func TestLoadGroupAllOrNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, l := setup(t)

	_, err := l.Load(ctx, 0, testDesc,
		stream.Batch{Partition: "a", Rows: map[string][]stream.Row{"t.people": {person(1, "ann")}}, Cursor: json.RawMessage(`{"n":1}`)},
		stream.Batch{Partition: "b", Rows: map[string][]stream.Row{"t.people": {person(2, "bob")}}, Cursor: json.RawMessage(`{"n":`)},
	)
	require.ErrorContains(t, err, "load test.people: 2 batches of 2 rows")
	require.ErrorContains(t, err, "not valid JSON")
	requireCount(t, pool, "t.people", 0)
	st, err := checkpoint.New(pool).State(ctx, "test", "people")
	require.NoError(t, err)
	require.Empty(t, st)

	res, err := l.Load(ctx, 0, testDesc)
	require.NoError(t, err, "no batches: nothing to do")
	require.Zero(t, res)
}
