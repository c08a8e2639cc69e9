package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/checkpoint"
	"github.com/crmsync/crmsync/internal/pgtest"
	"github.com/crmsync/crmsync/internal/stream"
)

// delDesc is a stream with a main table scoped by dashboard and a child table.
var delDesc = stream.Desc{
	Source: "test", Name: "contacts", Mode: stream.ModeFullRefresh, Partitioned: true,
	Tables: []stream.Table{
		{
			Name: "t.contacts", Key: []string{"dashboard_id", "phone"},
			Columns: []stream.Column{{Name: "dashboard_id", Type: "bigint"}, {Name: "phone", Type: "text"}, {Name: "name", Type: "text"}},
		},
		{
			Name: "t.contact_tags", Key: []string{"dashboard_id", "phone", "tag"}, ParentKey: []string{"dashboard_id", "phone"},
			Columns: []stream.Column{{Name: "dashboard_id", Type: "bigint"}, {Name: "phone", Type: "text"}, {Name: "tag", Type: "text"}},
		},
	},
}

func setupDeletions(t *testing.T) (*pgxpool.Pool, *Loader) {
	t.Helper()
	pool := pgtest.NewDB(t)
	_, err := pool.Exec(context.Background(), `
		create schema t;
		create table t.contacts (dashboard_id bigint, phone text, name text, synced_at timestamptz default now(),
			deleted_at timestamptz, primary key (dashboard_id, phone));
		create table t.contact_tags (dashboard_id bigint, phone text, tag text, synced_at timestamptz default now(),
			deleted_at timestamptz, primary key (dashboard_id, phone, tag));`)
	require.NoError(t, err)
	return pool, New(pool, nil)
}

// page is one batch of a pass over dashboard's contacts: each phone with one tag.
func page(dashboard int64, pass stream.Pass, phones ...string) stream.Batch {
	b := stream.Batch{Partition: fmt.Sprint(dashboard), Rows: map[string][]stream.Row{}, Cursor: []byte(`{"page":1}`)}
	for _, p := range phones {
		b.Rows["t.contacts"] = append(b.Rows["t.contacts"], stream.Row{dashboard, p, "name " + p})
		b.Rows["t.contact_tags"] = append(b.Rows["t.contact_tags"], stream.Row{dashboard, p, "vip"})
	}
	pass.Table = "t.contacts"
	pass.Scope = stream.Scope{"dashboard_id": fmt.Sprint(dashboard)}
	b.Passes = []stream.Pass{pass}
	return b
}

// deleted returns the phones of dashboard whose rows in table are marked deleted.
func deleted(t *testing.T, pool *pgxpool.Pool, table string, dashboard int64) []string {
	t.Helper()
	var phones []string
	require.NoError(t, pool.QueryRow(context.Background(), fmt.Sprintf(`select coalesce(array_agg(phone order by phone), '{}')
		from %s where dashboard_id = $1 and deleted_at is not null`, table), dashboard).Scan(&phones))
	return phones
}

func phones(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%02d", prefix, i)
	}
	return out
}

func TestPassMarksWhatItDidNotSee(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, l := setupDeletions(t)
	all := phones("p", 10)
	_, err := l.Load(ctx, 0, delDesc, page(1, stream.Pass{Start: true, Done: true}, all...), page(2, stream.Pass{Start: true, Done: true}, all...))
	require.NoError(t, err)

	var xmin string
	require.NoError(t, pool.QueryRow(ctx, `select xmin::text from t.contacts where dashboard_id = 1 and phone = 'p00'`).Scan(&xmin))

	// A pass over dashboard 1 in three transactions, p03 and p07 gone: the first two
	// mark nothing; the last (rows and Done) marks exactly those two and their tags.
	res, err := l.Load(ctx, 0, delDesc, page(1, stream.Pass{Start: true}, "p00", "p01", "p02"))
	require.NoError(t, err)
	require.Zero(t, res.MarkedDeleted)
	_, err = l.Load(ctx, 0, delDesc, page(1, stream.Pass{}, "p04", "p05", "p06"))
	require.NoError(t, err)
	require.Empty(t, deleted(t, pool, "t.contacts", 1), "a pass not yet complete marks nothing")
	res, err = l.Load(ctx, 0, delDesc, page(1, stream.Pass{Done: true}, "p08", "p09"))
	require.NoError(t, err)
	require.Equal(t, 4, res.MarkedDeleted, "two contacts and their two tags")
	require.Equal(t, 1, res.PassesDone)
	require.Equal(t, []string{"p03", "p07"}, deleted(t, pool, "t.contacts", 1))
	require.Equal(t, []string{"p03", "p07"}, deleted(t, pool, "t.contact_tags", 1))
	require.Empty(t, deleted(t, pool, "t.contacts", 2), "another dashboard's rows are another list")

	var after string
	require.NoError(t, pool.QueryRow(ctx, `select xmin::text from t.contacts where dashboard_id = 1 and phone = 'p00'`).Scan(&after))
	require.Equal(t, xmin, after, "an unchanged row seen by the pass is not rewritten")
	var left int
	require.NoError(t, pool.QueryRow(ctx, `select count(*) from sync.seen`).Scan(&left))
	require.Zero(t, left, "a completed pass forgets its keys")

	// p03 comes back in a load that is no pass (an incremental page): restored with
	// its tag; p07 stays marked.
	res, err = l.Load(ctx, 0, delDesc, stream.Batch{Partition: "1", Rows: page(1, stream.Pass{}, "p03").Rows})
	require.NoError(t, err)
	require.Equal(t, 2, res.Restored)
	require.Equal(t, []string{"p07"}, deleted(t, pool, "t.contacts", 1))
	require.Equal(t, []string{"p07"}, deleted(t, pool, "t.contact_tags", 1))

	// A pass cut off midway (no Done) marks nothing; the next pass starts afresh and
	// forgets what the cut-off one saw.
	_, err = l.Load(ctx, 0, delDesc, page(1, stream.Pass{Start: true}, "p00"))
	require.NoError(t, err)
	require.Equal(t, []string{"p07"}, deleted(t, pool, "t.contacts", 1))
	res, err = l.Load(ctx, 0, delDesc, page(1, stream.Pass{Start: true}, all[1:]...), page(1, stream.Pass{Done: true}))
	require.NoError(t, err, "a group commit of a pass's pages")
	require.Equal(t, 2, res.MarkedDeleted, "p00 (only the cut-off pass saw it) and its tag")
	require.Equal(t, 2, res.Restored, "p07 and its tag are back")
	require.Equal(t, []string{"p00"}, deleted(t, pool, "t.contacts", 1))
}

func TestDeleteGuard(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, l := setupDeletions(t)
	store := checkpoint.New(pool)
	all := phones("p", 10)
	_, err := l.Load(ctx, 0, delDesc, page(1, stream.Pass{Start: true, Done: true}, all...))
	require.NoError(t, err)

	// An empty list at the default guard (0.5): nothing marked, the run says why.
	runID, ok, err := store.Begin(ctx, stream.RunRecord{Source: "test", Stream: "contacts"})
	require.NoError(t, err)
	require.True(t, ok)
	res, err := l.Load(ctx, runID, delDesc, page(1, stream.Pass{Start: true, Done: true}))
	require.NoError(t, err)
	require.Zero(t, res.MarkedDeleted)
	require.Equal(t, 1, res.PassesHeld)
	require.Empty(t, deleted(t, pool, "t.contacts", 1))
	var held string
	var passes, marked int
	require.NoError(t, pool.QueryRow(ctx, `select passes_completed, rows_marked_deleted, deletions_held from sync.runs where id = $1`, runID).
		Scan(&passes, &marked, &held))
	require.Equal(t, 1, passes)
	require.Zero(t, marked)
	require.Equal(t, "t.contacts (dashboard_id=1): 10 of 10 live rows not seen, more than the guard's 0.5; none marked", held)

	// Half of the rows gone: at most the share, marked.
	res, err = l.Load(ctx, runID, delDesc, page(1, stream.Pass{Start: true, Done: true}, all[:5]...))
	require.NoError(t, err)
	require.Equal(t, 10, res.MarkedDeleted, "5 contacts and their tags")
	require.NoError(t, pool.QueryRow(ctx, `select passes_completed, rows_marked_deleted from sync.runs where id = $1`, runID).Scan(&passes, &marked))
	require.Equal(t, 2, passes)
	require.Equal(t, 10, marked)

	// 0 turns marking off; 1 turns the guard off (an empty list marks everything).
	l.SetDeleteGuard(0)
	res, err = l.Load(ctx, 0, delDesc, page(1, stream.Pass{Start: true, Done: true}, all[:1]...))
	require.NoError(t, err)
	require.Zero(t, res.MarkedDeleted)
	require.Zero(t, res.PassesHeld)
	l.SetDeleteGuard(1)
	_, err = l.Load(ctx, 0, delDesc, page(1, stream.Pass{Start: true, Done: true}))
	require.NoError(t, err)
	require.Equal(t, all, deleted(t, pool, "t.contacts", 1))
}

// TestHugeKeyIsRejected: a record whose key is too long for an index entry (100 kB that
// do not compress) goes to sync.rejects; the rest of its batch, the pass and the cursor
// load.
func TestHugeKeyIsRejected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, l := setupDeletions(t)
	rnd := rand.New(rand.NewPCG(1, 2))
	var hb strings.Builder
	for hb.Len() < 100<<10 {
		fmt.Fprintf(&hb, "%016x", rnd.Uint64())
	}
	huge := hb.String()
	res, err := l.Load(ctx, 0, delDesc, page(1, stream.Pass{Start: true, Done: true}, "p00", huge, "p01"))
	require.NoError(t, err)
	require.Equal(t, 4, res.Inserted, "two contacts and their two tags")
	require.Equal(t, 2, res.Rejected, "the contact and its tag")
	var reason string
	require.NoError(t, pool.QueryRow(ctx, `select reason from sync.rejects limit 1`).Scan(&reason))
	require.Contains(t, reason, "more than the 2000 an index entry can hold")
	var cursors int
	require.NoError(t, pool.QueryRow(ctx, `select count(*) from sync.state`).Scan(&cursors))
	require.Equal(t, 1, cursors)
}
