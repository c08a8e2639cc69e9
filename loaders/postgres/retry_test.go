package postgres

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/dbretry"
)

// TestLoadRetriesTransientErrors: a load whose backend is terminated mid-transaction
// (57P01) runs again on a fresh connection and commits its rows and cursor once; an
// error that is not transient fails the load at once, naming the cause.
func TestLoadRetriesTransientErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, l := setup(t)
	l.retryPolicy = dbretry.Policy{Min: time.Millisecond, Max: 10 * time.Millisecond}

	var calls atomic.Int32
	l.hookFunc = func(ctx context.Context, tx pgx.Tx, step string) error {
		if step != "copied" || calls.Add(1) > 2 {
			return nil
		}
		// The backend of this very transaction is terminated, twice.
		_, err := tx.Exec(ctx, "select pg_terminate_backend(pg_backend_pid())")
		return err
	}
	res, err := l.Load(ctx, 0, testDesc, batch(`{"n":1}`, person(1, "a"), person(2, "b")))
	require.NoError(t, err)
	require.Equal(t, 2, res.Inserted)
	require.EqualValues(t, 3, calls.Load(), "two terminated tries, then the one that committed")
	requireCount(t, pool, "t.people", 2)
	var cursor string
	require.NoError(t, pool.QueryRow(ctx, "select cursor::text from sync.state").Scan(&cursor))
	require.JSONEq(t, `{"n":1}`, cursor)

	// Not transient: one try, the cause named, nothing written.
	calls.Store(0)
	l.hookFunc = func(ctx context.Context, tx pgx.Tx, step string) error {
		calls.Add(1)
		_, err := tx.Exec(ctx, "select * from no_such_table")
		return err
	}
	_, err = l.Load(ctx, 0, testDesc, batch(`{"n":2}`, person(3, "c")))
	require.ErrorContains(t, err, `relation "no_such_table" does not exist`)
	require.EqualValues(t, 1, calls.Load())
	requireCount(t, pool, "t.people", 2)

	// Transient every time: bounded, and the error says so.
	l.hookFunc = func(ctx context.Context, tx pgx.Tx, step string) error {
		_, err := tx.Exec(ctx, "select pg_terminate_backend(pg_backend_pid())")
		return err
	}
	_, err = l.Load(ctx, 0, testDesc, batch(`{"n":3}`, person(4, "d")))
	require.ErrorContains(t, err, "gave up after 5 tries")
	require.True(t, dbretry.Transient(err))
	requireCount(t, pool, "t.people", 2)
}
