package postgres

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/stream"
)

// TestRowHashEncoding: the hash is stable (a changed encoding must change
// rowHashVersion) and tells apart values that a naive concatenation would not.
func TestRowHashEncoding(t *testing.T) {
	t.Parallel()
	tbl := stream.Table{Name: "x", Key: []string{"a"}, Columns: []stream.Column{
		{Name: "a", Type: "text"}, {Name: "b", Type: "text[]"}, {Name: "c", Type: "timestamptz"}}}
	hash := func(r stream.Row) int64 {
		p, err := prepare(tbl, []stream.Row{r})
		require.NoError(t, err)
		require.Len(t, p.rows, 1)
		return p.rowHashes()[0]
	}
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	base := hash(stream.Row{"k", []string{"ab", "c"}, at})
	require.Equal(t, int64(2317880045819224021), base, "same row, same hash in every process (bump rowHashVersion when the encoding changes)")
	require.Equal(t, base, hash(stream.Row{"k", []string{"ab", "c"}, at.Add(time.Nanosecond)}), "stored to the microsecond")
	for name, r := range map[string]stream.Row{
		"array boundary":               {"k", []string{"a", "bc"}, at},
		"empty array":                  {"k", []string{}, at},
		"null array":                   {"k", nil, at},
		"empty string":                 {"k", []string{""}, at},
		"same instant in another zone": {"k", []string{"ab", "c"}, at.In(time.FixedZone("x", 3600))},
	} {
		require.NotEqual(t, base, hash(r), name)
	}
	require.NotEqual(t, hash(stream.Row{"k", []string{}, nil}), hash(stream.Row{"k", nil, nil}))

	// The column list is part of the hash: a renamed column re-checks every row.
	renamed := tbl
	renamed.Columns = []stream.Column{{Name: "a", Type: "text"}, {Name: "tags", Type: "text[]"}, {Name: "c", Type: "timestamptz"}}
	p, err := prepare(renamed, []stream.Row{{"k", []string{"ab", "c"}, at}})
	require.NoError(t, err)
	require.NotEqual(t, base, p.rowHashes()[0])
}

// storedHashes returns t.people's _row_hash by id.
func storedHashes(t *testing.T, pool *pgxpool.Pool) map[int64]*int64 {
	t.Helper()
	rows, err := pool.Query(context.Background(), "select id, _row_hash from t.people")
	require.NoError(t, err)
	out := map[int64]*int64{}
	var id int64
	var h *int64
	_, err = pgx.ForEachRow(rows, []any{&id, &h}, func() error { out[id] = h; return nil })
	require.NoError(t, err)
	return out
}

// TestRowHashSkipsUnchanged: rows stored with their hash are skipped without being
// sent, while a changed row among them is updated and a new one inserted; the stored
// hash is the hash of the stored values.
func TestRowHashSkipsUnchanged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, l := setup(t)
	var rows []stream.Row
	for i := range int64(100) {
		rows = append(rows, person(i, "p"))
	}
	res, err := l.Load(ctx, 0, testDesc, batch("", rows...))
	require.NoError(t, err)
	require.Equal(t, stream.LoadResult{Inserted: 100}, res)
	before := version(t, pool, "t.people", "id = 7")

	rows[50] = person(50, "changed")
	rows = append(rows, person(100, "new"))
	res, err = l.Load(ctx, 0, testDesc, batch("", rows...))
	require.NoError(t, err)
	require.Equal(t, stream.LoadResult{Inserted: 1, Updated: 1, Unchanged: 99}, res)
	require.Equal(t, before, version(t, pool, "t.people", "id = 7"), "unchanged row keeps xmin and synced_at")
	var name string
	require.NoError(t, pool.QueryRow(ctx, "select name from t.people where id = 50").Scan(&name))
	require.Equal(t, "changed", name)

	p, err := prepare(testDesc.Tables[0], rows)
	require.NoError(t, err)
	stored := storedHashes(t, pool)
	require.Len(t, stored, 101)
	for i, r := range p.rows {
		require.NotNil(t, stored[r[0].(int64)])
		require.Equal(t, p.rowHashes()[i], *stored[r[0].(int64)], "hash of row %d", r[0])
	}

	res, err = l.Load(ctx, 0, testDesc, batch("", rows...))
	require.NoError(t, err)
	require.Equal(t, stream.LoadResult{Unchanged: 101}, res)
}

// TestRowHashFallsBackToCompare: a row stored without a hash (written before the
// column existed, or cleared by hand) is compared in SQL: equal, it keeps synced_at and
// gains its hash; different, it is updated. A hand edit that leaves the hash in place is
// not noticed (documented); clearing the hash makes the next load restore the row.
func TestRowHashFallsBackToCompare(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, l := setup(t)
	rows := []stream.Row{person(1, "ann"), person(2, "bob"), person(3, "cy")}
	_, err := l.Load(ctx, 0, testDesc, batch("", rows...))
	require.NoError(t, err)
	hashes := storedHashes(t, pool)
	before1 := version(t, pool, "t.people", "id = 1")

	// As if written before the migration: no hashes; and row 2 differs.
	_, err = pool.Exec(ctx, "update t.people set _row_hash = null; update t.people set name = 'old bob' where id = 2")
	require.NoError(t, err)
	res, err := l.Load(ctx, 0, testDesc, batch("", rows...))
	require.NoError(t, err)
	require.Equal(t, stream.LoadResult{Updated: 1, Unchanged: 2}, res)
	require.Equal(t, before1.syncedAt, version(t, pool, "t.people", "id = 1").syncedAt, "equal row keeps synced_at")
	require.Equal(t, hashes, storedHashes(t, pool), "hashes filled in")
	var name string
	require.NoError(t, pool.QueryRow(ctx, "select name from t.people where id = 2").Scan(&name))
	require.Equal(t, "bob", name)

	// A hand edit keeping the hash is skipped as unchanged...
	_, err = pool.Exec(ctx, "update t.people set name = 'edited' where id = 3")
	require.NoError(t, err)
	res, err = l.Load(ctx, 0, testDesc, batch("", rows...))
	require.NoError(t, err)
	require.Equal(t, stream.LoadResult{Unchanged: 3}, res)
	require.NoError(t, pool.QueryRow(ctx, "select name from t.people where id = 3").Scan(&name))
	require.Equal(t, "edited", name)
	// ...until its hash is cleared.
	_, err = pool.Exec(ctx, "update t.people set _row_hash = null where id = 3")
	require.NoError(t, err)
	res, err = l.Load(ctx, 0, testDesc, batch("", rows...))
	require.NoError(t, err)
	require.Equal(t, stream.LoadResult{Updated: 1, Unchanged: 2}, res)
	require.NoError(t, pool.QueryRow(ctx, "select name from t.people where id = 3").Scan(&name))
	require.Equal(t, "cy", name)
	require.Equal(t, hashes, storedHashes(t, pool))
}

// TestRowHashNotStoredForRefusedRow: a changed row PostgreSQL refuses is rejected and
// its hash is not stored (the hash always describes the stored values), even when the
// same batch refreshes the hashes of equal rows; sent again, it is rejected again.
func TestRowHashNotStoredForRefusedRow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, l := setup(t)
	_, err := l.Load(ctx, 0, testDesc, batch("", person(1, "ann"), person(2, "bob")))
	require.NoError(t, err)
	hashes := storedHashes(t, pool)
	_, err = pool.Exec(ctx, "update t.people set _row_hash = null where id = 1")
	require.NoError(t, err)

	neg := person(2, "bob")
	neg[2] = int64(-1) // refused by the CHECK constraint
	for range 2 {
		res, err := l.Load(ctx, 0, testDesc, batch("", person(1, "ann"), neg))
		require.NoError(t, err)
		require.Equal(t, stream.LoadResult{Unchanged: 1, Rejected: 1}, res)
		require.Equal(t, hashes, storedHashes(t, pool))
	}
}

// TestRowHashChildTables: child rows are skipped by hash too; a changed child is
// updated, a removed one deleted, and the parent's other children left untouched.
func TestRowHashChildTables(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, l := setup(t)
	tag := func(tag, note string) stream.Row { return stream.Row{int64(1), tag, note} }
	load := func(tags ...stream.Row) stream.LoadResult {
		res, err := l.Load(ctx, 0, testDesc, stream.Batch{Rows: map[string][]stream.Row{
			"t.people": {person(1, "ann")}, "t.person_tags": tags}})
		require.NoError(t, err)
		return res
	}
	require.Equal(t, stream.LoadResult{Inserted: 4}, load(tag("a", "n"), tag("b", "n"), tag("c", "n")))
	tagA := version(t, pool, "t.person_tags", "tag = 'a'")
	require.Equal(t, stream.LoadResult{Updated: 1, Unchanged: 2, Deleted: 1}, load(tag("a", "n"), tag("b", "changed")))
	require.Equal(t, tagA, version(t, pool, "t.person_tags", "tag = 'a'"))
	var notes []string
	require.NoError(t, pool.QueryRow(ctx, "select array_agg(tag || note order by tag) from t.person_tags").Scan(&notes))
	require.Equal(t, []string{"an", "bchanged"}, notes)
	var missing int
	require.NoError(t, pool.QueryRow(ctx, "select count(*) from t.person_tags where _row_hash is null").Scan(&missing))
	require.Zero(t, missing)
}

// TestRowHashColumnNeedsBigint: a _row_hash column of another type is not ours; the
// table is loaded by comparing in SQL and the column is left alone.
func TestRowHashColumnNeedsBigint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, l := setupLayout(t, false)
	_, err := pool.Exec(ctx, "alter table t.people add column _row_hash text")
	require.NoError(t, err)
	for _, want := range []stream.LoadResult{{Inserted: 1}, {Unchanged: 1}} {
		res, err := l.Load(ctx, 0, testDesc, batch("", stream.Row{int64(1), "a", nil, nil, nil, nil, nil, json.RawMessage(`{}`)}))
		require.NoError(t, err)
		require.Equal(t, want, res)
	}
	var h *string
	require.NoError(t, pool.QueryRow(ctx, "select _row_hash from t.people").Scan(&h))
	require.Nil(t, h)
}

// TestRowHashSameValuesInAnotherForm: JSON sent with its keys reordered hashes
// differently but stores the same jsonb: the row is counted unchanged, keeps synced_at,
// and its stored hash becomes the new one, so the next batch skips it.
func TestRowHashSameValuesInAnotherForm(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, l := setup(t)
	row := person(1, "ann")
	_, err := l.Load(ctx, 0, testDesc, batch("", row))
	require.NoError(t, err)
	before := version(t, pool, "t.people", "id = 1")

	reordered := person(1, "ann")
	reordered[7] = json.RawMessage(`{"name": "ann", "id": 1}`)
	for range 2 {
		res, err := l.Load(ctx, 0, testDesc, batch("", reordered))
		require.NoError(t, err)
		require.Equal(t, stream.LoadResult{Unchanged: 1}, res)
		require.Equal(t, before.syncedAt, version(t, pool, "t.people", "id = 1").syncedAt)
	}
	p, err := prepare(testDesc.Tables[0], []stream.Row{reordered})
	require.NoError(t, err)
	require.Equal(t, p.rowHashes()[0], *storedHashes(t, pool)[1])
}
