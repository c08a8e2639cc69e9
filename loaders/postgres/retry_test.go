package postgres

import (
	"context"
	"testing"
	"time"

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

	kills := failOn(t, pool)

	res, err := l.Load(ctx, 0, testDesc, batch(`{"n":1}`, person(1, "a"), person(2, "kill twice")))
	require.NoError(t, err)
	require.Equal(t, 2, res.Inserted)
	require.EqualValues(t, 2, kills(), "two terminated tries, then the one that committed")
	requireCount(t, pool, "t.people", 2)
	var cursor string
	require.NoError(t, pool.QueryRow(ctx, "select cursor::text from sync.state").Scan(&cursor))
	require.JSONEq(t, `{"n":1}`, cursor)

	// Not transient: one try, the cause named, nothing written.
	_, err = l.Load(ctx, 0, testDesc, batch(`{"n":2}`, person(3, "c"), person(9, "boom")))
	require.ErrorContains(t, err, "injected failure")
	require.NotContains(t, err.Error(), "tries")
	requireCount(t, pool, "t.people", 2)

	// Transient every time: bounded, and the error says so.
	_, err = l.Load(ctx, 0, testDesc, batch(`{"n":3}`, person(4, "kill always")))
	require.ErrorContains(t, err, "gave up after 5 tries")
	require.True(t, dbretry.Transient(err))
	require.EqualValues(t, 7, kills())
	requireCount(t, pool, "t.people", 2)
}
