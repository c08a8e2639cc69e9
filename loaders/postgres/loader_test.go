package postgres

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/checkpoint"
	"github.com/crmsync/crmsync/internal/pgtest"
	"github.com/crmsync/crmsync/internal/pipeline"
	"github.com/crmsync/crmsync/internal/stream"
)

var _ pipeline.Loader = (*Loader)(nil)

// testDesc is a stream with a main table and a child table, created by setup.
var testDesc = stream.Desc{
	Source: "test", Name: "people", Mode: stream.ModeIncremental,
	Tables: []stream.Table{
		{
			Name: "t.people", Key: []string{"id"},
			Columns: []stream.Column{
				{Name: "id", Type: "bigint"},
				{Name: "name", Type: "text"},
				{Name: "score", Type: "integer"},
				{Name: "amount", Type: "numeric(12,2)"},
				{Name: "tags", Type: "text[]"},
				{Name: "nums", Type: "bigint[]"},
				{Name: "seen_at", Type: "timestamptz"},
				{Name: "raw", Type: "jsonb"},
			},
		},
		{
			Name: "t.person_tags", Key: []string{"person_id", "tag"}, ParentKey: []string{"person_id"},
			Columns: []stream.Column{
				{Name: "person_id", Type: "bigint"},
				{Name: "tag", Type: "text"},
				{Name: "note", Type: "text"},
			},
		},
	},
}

// setup creates the test tables in a database of its own.
func setup(t *testing.T) (*pgxpool.Pool, *Loader) {
	t.Helper()
	pool := pgtest.NewDB(t)
	_, err := pool.Exec(context.Background(), `
		create schema t;
		create table t.people (
			id bigint primary key, name text, score integer check (score is null or score >= 0),
			amount numeric(12,2), tags text[], nums bigint[], seen_at timestamptz, raw jsonb,
			synced_at timestamptz);
		create table t.person_tags (
			person_id bigint not null, tag text not null, note text, synced_at timestamptz,
			primary key (person_id, tag));`)
	require.NoError(t, err)
	return pool, New(pool, nil)
}

var seen = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func person(id int64, name string) stream.Row {
	return stream.Row{id, name, int64(7), "12.50", []string{"a", "b"}, []int64{1, 2}, seen,
		json.RawMessage(`{"id":` + jsonInt(id) + `,"name":"` + name + `"}`)}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func batch(cursor string, people ...stream.Row) stream.Batch {
	b := stream.Batch{Rows: map[string][]stream.Row{"t.people": people}}
	if cursor != "" {
		b.Cursor = json.RawMessage(cursor)
	}
	return b
}

type rowVersion struct {
	xmin     string
	syncedAt time.Time
}

func version(t *testing.T, pool *pgxpool.Pool, table, where string, args ...any) rowVersion {
	t.Helper()
	var v rowVersion
	require.NoError(t, pool.QueryRow(context.Background(),
		"select xmin::text, synced_at from "+table+" where "+where, args...).Scan(&v.xmin, &v.syncedAt))
	return v
}

func TestInsertUpdateUnchanged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, l := setup(t)

	res, err := l.Load(ctx, 0, testDesc, batch(`{"n":1}`, person(1, "ann"), person(2, "bob"), person(3, "cy")))
	require.NoError(t, err)
	require.Equal(t, stream.LoadResult{Inserted: 3}, res)
	before1 := version(t, pool, "t.people", "id = 1")
	before2 := version(t, pool, "t.people", "id = 2")

	res, err = l.Load(ctx, 0, testDesc, batch(`{"n":2}`, person(1, "ann"), person(2, "bobby"), person(3, "cy"), person(4, "dee")))
	require.NoError(t, err)
	require.Equal(t, stream.LoadResult{Inserted: 1, Updated: 1, Unchanged: 2}, res)

	require.Equal(t, before1, version(t, pool, "t.people", "id = 1"), "unchanged row keeps xmin and synced_at")
	after2 := version(t, pool, "t.people", "id = 2")
	require.NotEqual(t, before2.xmin, after2.xmin)
	require.True(t, after2.syncedAt.After(before2.syncedAt))

	var name string
	var tags []string
	var nums []int64
	var amount string
	var at time.Time
	var raw map[string]any
	require.NoError(t, pool.QueryRow(ctx, "select name, tags, nums, amount::text, seen_at, raw from t.people where id = 2").
		Scan(&name, &tags, &nums, &amount, &at, &raw))
	require.Equal(t, "bobby", name)
	require.Equal(t, []string{"a", "b"}, tags)
	require.Equal(t, []int64{1, 2}, nums)
	require.Equal(t, "12.50", amount)
	require.True(t, seen.Equal(at))
	require.Equal(t, "bobby", raw["name"])

	st, err := checkpoint.New(pool).State(ctx, "test", "people")
	require.NoError(t, err)
	require.JSONEq(t, `{"n":2}`, string(st[""]))
}

// TestSameBatchLoadedTwice: the loader converts a batch's rows in place; loading the
// very same batch again (already converted values: a numeric, a truncated time, JSON
// whose NULs were removed) finds every row unchanged.
func TestSameBatchLoadedTwice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, l := setup(t)
	p := person(1, "ann")
	p[6] = seen.Add(1500 * time.Nanosecond)
	p[7] = json.RawMessage(`{"id":1,"name":"a\u0000nn"}`)
	b := batch(`{"n":1}`, p, person(2, "bob"))

	res, err := l.Load(ctx, 0, testDesc, b)
	require.NoError(t, err)
	require.Equal(t, stream.LoadResult{Inserted: 2, NULsCleaned: 1}, res)
	res, err = l.Load(ctx, 0, testDesc, b)
	require.NoError(t, err)
	require.Equal(t, stream.LoadResult{Unchanged: 2}, res)
}

func TestValueKinds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, l := setup(t)
	rows := []stream.Row{
		{int64(1), "x", int32(3), 12.5, nil, nil, nil, []byte(`{"a":1}`)},
		{int(2), nil, 4.0, int64(7), []string{}, []int64{}, seen, `[1,2]`},
	}
	res, err := l.Load(ctx, 0, testDesc, stream.Batch{Rows: map[string][]stream.Row{"t.people": rows}})
	require.NoError(t, err)
	require.Equal(t, 2, res.Inserted)
	var amount string
	var raw string
	require.NoError(t, pool.QueryRow(ctx, "select amount::text, raw::text from t.people where id = 2").Scan(&amount, &raw))
	require.Equal(t, "7.00", amount)
	require.Equal(t, "[1, 2]", raw)
}

// failOn adds a trigger to t.people that makes PostgreSQL fail the merge for a row
// named name: "boom" fails it with an error that is not transient, "kill twice"
// terminates the backend the first two times and "kill always" every time (SQLSTATE
// 57P01, transient). kills counts the terminations.
func failOn(t *testing.T, pool *pgxpool.Pool) (kills func() int64) {
	t.Helper()
	ctx := context.Background()
	_, err := pool.Exec(ctx, `
		create sequence t.kills;
		create function t.fail() returns trigger language plpgsql as $$
		begin
			if new.name = 'boom' then
				raise exception 'injected failure';
			elsif new.name = 'kill always' or (new.name = 'kill twice' and (select last_value < 2 or not is_called from t.kills)) then
				perform nextval('t.kills');
				perform pg_terminate_backend(pg_backend_pid());
			end if;
			return new;
		end $$;
		create trigger fail before insert or update on t.people for each row execute function t.fail();`)
	require.NoError(t, err)
	return func() int64 {
		var n int64
		require.NoError(t, pool.QueryRow(ctx, "select case when is_called then last_value else 0 end from t.kills").Scan(&n))
		return n
	}
}

// TestRowsAndCursorCommitTogether: a Load that fails in the merge, after its rows were
// staged, changes neither rows nor cursor, and re-running the batch stores each row
// exactly once.
func TestRowsAndCursorCommitTogether(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, l := setup(t)
	failOn(t, pool)

	_, err := l.Load(ctx, 0, testDesc, batch(`{"n":1}`, person(1, "ann"), person(2, "bob"), person(9, "boom")))
	require.ErrorContains(t, err, "injected failure")
	requireCount(t, pool, "t.people", 0)
	requireCount(t, pool, "sync.state", 0)

	_, err = l.Load(ctx, 0, testDesc, batch(`{"n":1}`, person(1, "ann"), person(2, "bob")))
	require.NoError(t, err)

	// Now with existing rows, which the merge updates.
	_, err = l.Load(ctx, 0, testDesc, batch(`{"n":2}`, person(1, "ann2"), person(2, "bob2"), person(3, "cy"), person(9, "boom")))
	require.ErrorContains(t, err, "injected failure")
	requireCount(t, pool, "t.people", 2)
	var n int
	require.NoError(t, pool.QueryRow(ctx, "select count(*) from t.people where name in ('ann', 'bob')").Scan(&n))
	require.Equal(t, 2, n)
	st, err := checkpoint.New(pool).State(ctx, "test", "people")
	require.NoError(t, err)
	require.JSONEq(t, `{"n":1}`, string(st[""]))

	second := batch(`{"n":2}`, person(1, "ann2"), person(2, "bob2"), person(3, "cy"))
	for _, want := range []stream.LoadResult{{Inserted: 1, Updated: 2}, {Unchanged: 3}} { // re-running the batch is harmless
		res, err := l.Load(ctx, 0, testDesc, second)
		require.NoError(t, err)
		require.Equal(t, want, res)
	}
	requireCount(t, pool, "t.people", 3)
	st, err = checkpoint.New(pool).State(ctx, "test", "people")
	require.NoError(t, err)
	require.JSONEq(t, `{"n":2}`, string(st[""]))
}

func TestCancelledContextRollsBack(t *testing.T) {
	t.Parallel()
	pool, l := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := l.Load(ctx, 0, testDesc, batch(`{"n":1}`, person(1, "ann")))
	require.ErrorIs(t, err, context.Canceled)
	requireCount(t, pool, "t.people", 0)
	requireCount(t, pool, "sync.state", 0)
}

func TestDuplicateKeysLastWins(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, l := setup(t)
	res, err := l.Load(ctx, 0, testDesc, batch("", person(1, "old"), person(2, "bob"), person(1, "new")))
	require.NoError(t, err)
	require.Equal(t, 2, res.Inserted)
	requireCount(t, pool, "t.people", 2)
	var name string
	require.NoError(t, pool.QueryRow(ctx, "select name from t.people where id = 1").Scan(&name))
	require.Equal(t, "new", name)

	// The same in the merge path.
	res, err = l.Load(ctx, 0, testDesc, batch("", person(1, "newer"), person(1, "newest")))
	require.NoError(t, err)
	require.Equal(t, 1, res.Updated)
	require.NoError(t, pool.QueryRow(ctx, "select name from t.people where id = 1").Scan(&name))
	require.Equal(t, "newest", name)
}

func TestNULsCleaned(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, l := setup(t)
	row := stream.Row{int64(1), "a\x00b", nil, nil, []string{"x\x00", "y"}, nil, nil,
		json.RawMessage("{\"a\":\"b\\u0000c\",\"d\":\"\\\\u0000\",\"e\":\"f\x00\"}")}
	res, err := l.Load(ctx, 0, testDesc, batch("", row))
	require.NoError(t, err)
	require.Equal(t, stream.LoadResult{Inserted: 1, NULsCleaned: 3}, res)

	var name string
	var tags []string
	var raw map[string]string
	require.NoError(t, pool.QueryRow(ctx, "select name, tags, raw from t.people where id = 1").Scan(&name, &tags, &raw))
	require.Equal(t, "ab", name)
	require.Equal(t, []string{"x", "y"}, tags)
	require.Equal(t, map[string]string{"a": "bc", "d": `\u0000`, "e": "f"}, raw)
}

// TestBadRowsRejected: rows refused in Go (type, range) and by PostgreSQL (a CHECK
// constraint) go to sync.rejects; the rest of the batch loads.
func TestBadRowsRejected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, l := setup(t)
	var runID int64
	require.NoError(t, pool.QueryRow(ctx, "insert into sync.runs (source, stream) values ('test', 'people') returning id").Scan(&runID))

	tooBig := person(2, "big")
	tooBig[2] = int64(3_000_000_000) // integer column
	notANumber := person(3, "str")
	notANumber[0] = "three" // bigint key
	notANumber[7] = nil     // no raw: payload is the row as JSON
	money := person(4, "money")
	money[3] = "12345678901.5" // numeric(12,2) holds 10 integer digits
	negative := person(5, "neg")
	negative[2] = int64(-1) // passes Go, refused by the CHECK constraint
	brokenJSON := person(7, "json")
	brokenJSON[7] = json.RawMessage(`{"id": 7,`) // refused by PostgreSQL as it is staged
	b := batch(`{"n":1}`, person(1, "ok"), tooBig, notANumber, money, negative, brokenJSON, person(6, "ok2"))
	b.Rejects = []stream.Reject{{Table: "t.people", Reason: "broken JSON at item 9", Payload: []byte(`{"id": 9,`)}}

	res, err := l.Load(ctx, runID, testDesc, b)
	require.NoError(t, err)
	require.Equal(t, 2, res.Inserted)
	require.Equal(t, 6, res.Rejected)
	requireCount(t, pool, "t.people", 2)

	rows, err := pool.Query(ctx, `select run_id, table_name, reason, payload, payload_json is not null
		from sync.rejects order by id`)
	require.NoError(t, err)
	type rej struct {
		RunID   *int64
		Table   string
		Reason  string
		Payload string
		IsJSON  bool
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[rej])
	require.NoError(t, err)
	require.Len(t, got, 6)
	byPayload := map[string]rej{}
	for _, r := range got {
		require.Equal(t, runID, *r.RunID)
		require.Equal(t, "t.people", r.Table)
		byPayload[r.Payload] = r
	}
	require.Contains(t, byPayload[`{"id": 9,`].Reason, "broken JSON")
	require.False(t, byPayload[`{"id": 9,`].IsJSON)
	require.Contains(t, byPayload[`{"id":2,"name":"big"}`].Reason, "column score")
	require.Contains(t, byPayload[`{"id":2,"name":"big"}`].Reason, "out of range")
	require.Contains(t, byPayload[`{"id":4,"name":"money"}`].Reason, "numeric(12,2)")
	require.Contains(t, byPayload[`{"id": 7,`].Reason, "rejected by PostgreSQL: invalid input syntax for type json")
	require.Contains(t, byPayload[`{"id":5,"name":"neg"}`].Reason, "check constraint")
	var strRow *rej
	for p, r := range byPayload {
		if strings.Contains(p, `"id":"three"`) {
			strRow = &r
		}
	}
	require.NotNil(t, strRow, "row without raw column is rejected with the row as JSON")
	require.True(t, strRow.IsJSON)
	require.Contains(t, strRow.Reason, "column id")

	// The cursor still advanced with the loaded rows.
	requireCount(t, pool, "sync.state", 1)

	// In the merge path too: an update PostgreSQL refuses is rejected, others apply.
	negUpdate := person(1, "ok-but-negative")
	negUpdate[2] = int64(-5)
	res, err = l.Load(ctx, runID, testDesc, batch("", negUpdate, person(6, "ok2-renamed")))
	require.NoError(t, err)
	require.Equal(t, stream.LoadResult{Updated: 1, Rejected: 1}, res)
	var name string
	require.NoError(t, pool.QueryRow(ctx, "select name from t.people where id = 1").Scan(&name))
	require.Equal(t, "ok", name)
}

func TestChildTablesReplacedPerParent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, l := setup(t)
	tag := func(person int64, tag, note string) stream.Row { return stream.Row{person, tag, note} }

	res, err := l.Load(ctx, 0, testDesc, stream.Batch{Rows: map[string][]stream.Row{
		"t.people":      {person(1, "ann"), person(2, "bob")},
		"t.person_tags": {tag(1, "a", "n"), tag(1, "b", "n"), tag(2, "c", "n")},
	}})
	require.NoError(t, err)
	require.Equal(t, stream.LoadResult{Inserted: 5}, res)
	tagA := version(t, pool, "t.person_tags", "person_id = 1 and tag = 'a'")
	tagC := version(t, pool, "t.person_tags", "person_id = 2 and tag = 'c'")

	// Person 1 now lists only tag a (unchanged) and a new tag d; person 2 is not in
	// the batch, so its tags stay.
	res, err = l.Load(ctx, 0, testDesc, stream.Batch{Rows: map[string][]stream.Row{
		"t.people":      {person(1, "ann")},
		"t.person_tags": {tag(1, "a", "n"), tag(1, "d", "n")},
	}})
	require.NoError(t, err)
	require.Equal(t, stream.LoadResult{Inserted: 1, Unchanged: 2, Deleted: 1}, res)

	var tags []string
	require.NoError(t, pool.QueryRow(ctx, "select array_agg(person_id || tag order by person_id, tag) from t.person_tags").Scan(&tags))
	require.Equal(t, []string{"1a", "1d", "2c"}, tags)
	require.Equal(t, tagA, version(t, pool, "t.person_tags", "person_id = 1 and tag = 'a'"))
	require.Equal(t, tagC, version(t, pool, "t.person_tags", "person_id = 2 and tag = 'c'"))

	// A parent listed with no children loses them all.
	res, err = l.Load(ctx, 0, testDesc, stream.Batch{Rows: map[string][]stream.Row{
		"t.people": {person(2, "bob")},
	}})
	require.NoError(t, err)
	require.Equal(t, stream.LoadResult{Unchanged: 1, Deleted: 1}, res)
	requireCount(t, pool, "t.person_tags", 2)
}

func requireCount(t *testing.T, pool *pgxpool.Pool, table string, want int) {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), "select count(*) from "+table).Scan(&n))
	require.Equal(t, want, n, "rows in %s", table)
}

// TestCompositeTimeKey covers a snapshot-style key (id, captured_at) with nanosecond
// times, which PostgreSQL stores to the microsecond.
func TestCompositeTimeKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, l := setup(t)
	_, err := pool.Exec(ctx, `create table t.stats (tunnel_id bigint, captured_at timestamptz, n integer,
		synced_at timestamptz, primary key (tunnel_id, captured_at))`)
	require.NoError(t, err)
	desc := stream.Desc{Source: "test", Name: "stats", Tables: []stream.Table{{
		Name: "t.stats", Key: []string{"tunnel_id", "captured_at"},
		Columns: []stream.Column{{Name: "tunnel_id", Type: "bigint"}, {Name: "captured_at", Type: "timestamptz"}, {Name: "n", Type: "integer"}},
	}}}
	at := time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.UTC)
	rows := []stream.Row{{int64(1), at, int64(5)}, {int64(1), at.Add(1), int64(6)}, {int64(2), at, int64(7)}}
	load := func() stream.LoadResult {
		res, err := l.Load(ctx, 0, desc, stream.Batch{Rows: map[string][]stream.Row{"t.stats": rows}})
		require.NoError(t, err)
		return res
	}
	require.Equal(t, stream.LoadResult{Inserted: 2}, load(), "times equal to the microsecond are one key")
	require.Equal(t, stream.LoadResult{Unchanged: 2}, load())
	rows[2][2] = int64(8)
	require.Equal(t, stream.LoadResult{Updated: 1, Unchanged: 1}, load())
	var n int
	require.NoError(t, pool.QueryRow(ctx, "select n from t.stats where tunnel_id = 1").Scan(&n))
	require.Equal(t, 6, n)
}

// TestSyncedAtDefault: on a table whose synced_at defaults to now() (as in our
// migrations), inserted rows get the transaction's time.
func TestSyncedAtDefault(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, l := setup(t)
	_, err := pool.Exec(ctx, `create table t.items (id bigint primary key, name text,
		synced_at timestamptz not null default now())`)
	require.NoError(t, err)
	desc := stream.Desc{Source: "test", Name: "items", Tables: []stream.Table{{
		Name: "t.items", Key: []string{"id"},
		Columns: []stream.Column{{Name: "id", Type: "bigint"}, {Name: "name", Type: "text"}},
	}}}
	load := func(rows ...stream.Row) stream.LoadResult {
		res, err := l.Load(ctx, 0, desc, stream.Batch{Rows: map[string][]stream.Row{"t.items": rows}})
		require.NoError(t, err)
		return res
	}
	before := time.Now().Add(-time.Second)
	require.Equal(t, stream.LoadResult{Inserted: 2}, load(stream.Row{int64(1), "a"}, stream.Row{int64(2), "b"}))
	require.Equal(t, stream.LoadResult{Inserted: 1}, load(stream.Row{int64(3), "c"}))
	var n int
	require.NoError(t, pool.QueryRow(ctx, "select count(*) from t.items where synced_at between $1 and now()", before).Scan(&n))
	require.Equal(t, 3, n)
}

// TestSameValuesInAnotherForm: JSON sent with its keys reordered is the same jsonb: the
// row is unchanged and keeps its version.
func TestSameValuesInAnotherForm(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, l := setup(t)
	_, err := l.Load(ctx, 0, testDesc, batch("", person(1, "ann")))
	require.NoError(t, err)
	before := version(t, pool, "t.people", "id = 1")

	reordered := person(1, "ann")
	reordered[7] = json.RawMessage(`{"name": "ann", "id": 1}`)
	res, err := l.Load(ctx, 0, testDesc, batch("", reordered))
	require.NoError(t, err)
	require.Equal(t, stream.LoadResult{Unchanged: 1}, res)
	require.Equal(t, before, version(t, pool, "t.people", "id = 1"))
}

// TestTypesFromCatalog: the loader converts and stages by the table's column types in
// the catalog; the types a stream declares in Go do not enter into it.
func TestTypesFromCatalog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, l := setup(t)
	desc := testDesc
	desc.Tables = slices.Clone(testDesc.Tables)
	desc.Tables[0].Columns = slices.Clone(testDesc.Tables[0].Columns)
	for i := range desc.Tables[0].Columns {
		desc.Tables[0].Columns[i].Type = "" // not declared
	}
	desc.Tables[0].Columns[2].Type = "text" // declared wrongly: score is an integer
	tooBig := person(2, "big")
	tooBig[2] = int64(3_000_000_000)
	res, err := l.Load(ctx, 0, desc, batch("", person(1, "ann"), tooBig))
	require.NoError(t, err)
	require.Equal(t, stream.LoadResult{Inserted: 1, Rejected: 1}, res)
	var reason string
	require.NoError(t, pool.QueryRow(ctx, "select reason from sync.rejects").Scan(&reason))
	require.Contains(t, reason, "out of range [-2147483648, 2147483647]")

	desc.Tables[0].Columns = append(desc.Tables[0].Columns, stream.Column{Name: "missing", Type: "text"})
	_, err = l.Load(ctx, 0, desc, batch("", append(person(3, "cy"), "x")))
	require.ErrorContains(t, err, "table t.people has no column missing")
}

// TestLoadInATransaction: a Loader on a transaction runs each Load as a savepoint of
// it, so a test can load into a database and roll everything back.
func TestLoadInATransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := setup(t)
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	l := New(tx, nil)

	res, err := l.Load(ctx, 0, testDesc, batch(`{"n":1}`, person(1, "ann"), person(2, "bob")))
	require.NoError(t, err)
	require.Equal(t, stream.LoadResult{Inserted: 2}, res)
	res, err = l.Load(ctx, 0, testDesc, batch(`{"n":2}`, person(1, "ann"), person(2, "bobby")))
	require.NoError(t, err)
	require.Equal(t, stream.LoadResult{Updated: 1, Unchanged: 1}, res)
	var n int
	require.NoError(t, tx.QueryRow(ctx, "select count(*) from t.people").Scan(&n))
	require.Equal(t, 2, n)

	require.NoError(t, tx.Rollback(ctx))
	requireCount(t, pool, "t.people", 0)
	requireCount(t, pool, "sync.state", 0)
}
