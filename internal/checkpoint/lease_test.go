package checkpoint_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/checkpoint"
	"github.com/crmsync/crmsync/internal/pgtest"
	"github.com/crmsync/crmsync/internal/stream"
)

// holds reports whether run id holds its stream, checked as a writing transaction does.
func holds(t *testing.T, pool *pgxpool.Pool, id int64) error {
	t.Helper()
	var err error
	require.NoError(t, pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		err = checkpoint.HoldsLease(context.Background(), tx, id)
		return nil
	}))
	return err
}

// TestLeaseSkipAbandonTakeover: a live run keeps a second process out; a run whose
// process died (lease expired) is closed as abandoned by the next run, which takes the
// stream over; the old run can then write nothing.
func TestLeaseSkipAbandonTakeover(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	a, b := checkpoint.NewWithLease(pool, time.Hour), checkpoint.NewWithLease(pool, time.Hour)
	rec := stream.RunRecord{Source: "leeloo", Stream: "messages"}

	idA, ok, err := a.Begin(ctx, rec)
	require.NoError(t, err)
	require.True(t, ok)
	_, ok, err = b.Begin(ctx, rec)
	require.NoError(t, err)
	require.False(t, ok, "a live run holds the stream")
	other, ok, err := b.Begin(ctx, stream.RunRecord{Source: "leeloo", Stream: "people"})
	require.NoError(t, err)
	require.True(t, ok, "another stream is independent")
	require.NoError(t, b.FinishRun(ctx, stream.RunRecord{ID: other, Status: stream.RunSucceeded}))
	require.NoError(t, holds(t, pool, idA))

	// A's process dies: no heartbeat, its lease runs out.
	_, err = pool.Exec(ctx, "update sync.runs set lease_until = now() - interval '1 second' where id = $1", idA)
	require.NoError(t, err)
	idB, ok, err := b.Begin(ctx, rec)
	require.NoError(t, err)
	require.True(t, ok)
	var status, errText string
	var finished *time.Time
	require.NoError(t, pool.QueryRow(ctx, "select status, error, finished_at from sync.runs where id = $1", idA).Scan(&status, &errText, &finished))
	require.Equal(t, "abandoned", status)
	require.Contains(t, errText, "stopped without finishing it")
	require.NotNil(t, finished)
	require.ErrorIs(t, holds(t, pool, idA), checkpoint.ErrLeaseLost, "the old run can write nothing")
	require.NoError(t, holds(t, pool, idB))

	// A takeover waits for a transaction writing for the run it closes.
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, checkpoint.HoldsLease(ctx, tx, idB))
	_, err = pool.Exec(ctx, "update sync.runs set lease_until = now() - interval '1 second' where id = $1", idB)
	require.NoError(t, err, "the heartbeat is not blocked by a writing transaction")
	type begun struct {
		id  int64
		ok  bool
		err error
	}
	done := make(chan begun, 1)
	go func() {
		id, ok, err := checkpoint.NewWithLease(pool, time.Hour).Begin(ctx, rec)
		done <- begun{id, ok, err}
	}()
	select {
	case <-done:
		t.Fatal("took the stream over while a transaction of the old run was writing")
	case <-time.After(300 * time.Millisecond):
	}
	require.NoError(t, tx.Commit(ctx))
	got := <-done
	require.NoError(t, got.err)
	require.True(t, got.ok)
	require.ErrorIs(t, holds(t, pool, idB), checkpoint.ErrLeaseLost)
}

// TestHeartbeatAndFinish: the heartbeat keeps a run's lease alive past its length;
// finishing survives a dead connection; a stream that failed before it began gets its
// row.
func TestHeartbeatAndFinish(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	store := checkpoint.NewWithLease(pool, 2*time.Second)
	id, ok, err := store.Begin(ctx, stream.RunRecord{Source: "textrequest", Stream: "contacts"})
	require.NoError(t, err)
	require.True(t, ok)

	var first time.Time
	require.NoError(t, pool.QueryRow(ctx, "select heartbeat_at from sync.runs where id = $1", id).Scan(&first))
	require.Eventually(t, func() bool {
		var later time.Time
		require.NoError(t, pool.QueryRow(ctx, "select heartbeat_at from sync.runs where id = $1", id).Scan(&later))
		return later.After(first)
	}, time.Minute, 50*time.Millisecond, "the heartbeat renews the lease")

	// Every connection of the pool is terminated: finishing still works (fresh one).
	var dbName string
	require.NoError(t, pool.QueryRow(ctx, "select current_database()").Scan(&dbName))
	killer, err := pgxpool.New(ctx, pool.Config().ConnString())
	require.NoError(t, err)
	defer killer.Close()
	_, err = killer.Exec(ctx, `select pg_terminate_backend(pid) from pg_stat_activity
		where datname = $1 and pid <> pg_backend_pid()`, dbName)
	require.NoError(t, err)
	require.NoError(t, store.FinishRun(ctx, stream.RunRecord{ID: id, Status: stream.RunSucceeded, Read: 5}))
	var status string
	var lease *time.Time
	require.NoError(t, pool.QueryRow(ctx, "select status, lease_until from sync.runs where id = $1", id).Scan(&status, &lease))
	require.Equal(t, "succeeded", status)
	require.Nil(t, lease)

	// A stream that could not begin is recorded all the same.
	require.NoError(t, store.FinishRun(ctx, stream.RunRecord{Source: "textrequest", Stream: "messages",
		Status: stream.RunFailed, Error: "start run: connection refused"}))
	var errText string
	require.NoError(t, pool.QueryRow(ctx, "select status, error from sync.runs where stream = 'messages'").Scan(&status, &errText))
	require.Equal(t, "failed", status)
	require.Equal(t, "start run: connection refused", errText)
}
