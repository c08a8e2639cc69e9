package checkpoint_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
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

var _ pipeline.Checkpoints = (*checkpoint.Store)(nil)

func TestSaveAndState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	store := checkpoint.New(pool)

	st, err := store.State(ctx, "textrequest", "messages")
	require.NoError(t, err)
	require.Empty(t, st)

	require.NoError(t, checkpoint.Save(ctx, pool, "textrequest", "messages", "12", json.RawMessage(`{"page":3}`)))
	require.NoError(t, checkpoint.Save(ctx, pool, "textrequest", "messages", "34", json.RawMessage(`{"page":1}`)))
	require.NoError(t, checkpoint.Save(ctx, pool, "textrequest", "messages", "12", json.RawMessage(`{"page":4}`)))
	require.NoError(t, checkpoint.Save(ctx, pool, "textrequest", "contacts", "", json.RawMessage(`"2024-01-01T00:00:00Z"`)))
	require.Error(t, checkpoint.Save(ctx, pool, "textrequest", "contacts", "", json.RawMessage(`{broken`)))

	st, err = store.State(ctx, "textrequest", "messages")
	require.NoError(t, err)
	require.Len(t, st, 2)
	require.JSONEq(t, `{"page":4}`, string(st["12"]))
	require.JSONEq(t, `{"page":1}`, string(st["34"]))
}

// TestSaveAll: one call stores many partitions' cursors and moves the ones stored
// before; a broken cursor fails the call naming its partition and stores none.
func TestSaveAll(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	store := checkpoint.New(pool)

	require.NoError(t, checkpoint.Save(ctx, pool, "leeloo", "messages", "c1", json.RawMessage(`{"wm":1}`)))
	parts := make([]string, 200)
	cursors := make([]json.RawMessage, 200)
	for i := range parts {
		parts[i] = fmt.Sprintf("c%d", i)
		cursors[i] = json.RawMessage(fmt.Sprintf(`{"wm":%d}`, 1000+i))
	}
	require.NoError(t, checkpoint.SaveAll(ctx, pool, "leeloo", "messages", parts, cursors))
	st, err := store.State(ctx, "leeloo", "messages")
	require.NoError(t, err)
	require.Len(t, st, 200)
	require.JSONEq(t, `{"wm":1001}`, string(st["c1"]))
	require.JSONEq(t, `{"wm":1199}`, string(st["c199"]))

	err = checkpoint.SaveAll(ctx, pool, "leeloo", "messages", []string{"c1", "c2"},
		[]json.RawMessage{json.RawMessage(`{"wm":5}`), json.RawMessage(`{broken`)})
	require.ErrorContains(t, err, `partition "c2": cursor is not valid JSON`)
	require.ErrorContains(t, checkpoint.SaveAll(ctx, pool, "leeloo", "messages", []string{"c1"}, nil), "1 partitions for 0 cursors")
	st, err = store.State(ctx, "leeloo", "messages")
	require.NoError(t, err)
	require.JSONEq(t, `{"wm":1001}`, string(st["c1"]))
}

// TestCursors: a stream with a cursor per chat reads the cursors of the partitions it
// asks for, and only those; partitions with none are left out.
func TestCursors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	store := checkpoint.New(pool)

	parts := make([]string, 300)
	cursors := make([]json.RawMessage, 300)
	for i := range parts {
		parts[i] = fmt.Sprintf("chat-%d", i)
		cursors[i] = json.RawMessage(fmt.Sprintf(`{"wm":%d}`, i))
	}
	require.NoError(t, checkpoint.SaveAll(ctx, pool, "leeloo", "messages", parts, cursors))
	require.NoError(t, checkpoint.Save(ctx, pool, "leeloo", "messages", "", json.RawMessage(`{"window":1}`)))
	require.NoError(t, checkpoint.Save(ctx, pool, "leeloo", "account_messages", "chat-1", json.RawMessage(`{"other":1}`)))

	st, err := store.Cursors(ctx, "leeloo", "messages", []string{"chat-1", "chat-299", "chat-none"})
	require.NoError(t, err)
	require.Len(t, st, 2)
	require.JSONEq(t, `{"wm":1}`, string(st["chat-1"]))
	require.JSONEq(t, `{"wm":299}`, string(st["chat-299"]))

	st, err = store.Cursors(ctx, "leeloo", "messages", []string{""})
	require.NoError(t, err)
	require.Equal(t, stream.State{"": json.RawMessage(`{"window": 1}`)}, st)

	st, err = store.Cursors(ctx, "leeloo", "messages", nil)
	require.NoError(t, err)
	require.Empty(t, st)
}

func TestSaveRollsBackWithTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewDB(t)

	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, checkpoint.Save(ctx, tx, "leeloo", "people", "", json.RawMessage(`1`)))
	require.NoError(t, tx.Rollback(ctx))

	st, err := checkpoint.New(pool).State(ctx, "leeloo", "people")
	require.NoError(t, err)
	require.Empty(t, st)
}

// TestOneLockHolder runs one stream from two processes (two pools, two Stores): exactly
// one gets the lock and writes; once it releases, the other can run.
func TestOneLockHolder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.URL(t)
	pools := make([]*pgxpool.Pool, 2)
	stores := make([]*checkpoint.Store, 2)
	for i := range stores {
		pool, err := pgxpool.New(ctx, url)
		require.NoError(t, err)
		t.Cleanup(pool.Close)
		pools[i], stores[i] = pool, checkpoint.New(pool)
	}

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		winners  []int
		releases []func()
		errs     = make([]error, 2)
	)
	for i, s := range stores {
		wg.Go(func() {
			release, ok, err := s.TryLock(ctx, "leeloo", "messages")
			if err != nil || !ok {
				errs[i] = err
				return
			}
			// Only the holder writes.
			errs[i] = checkpoint.Save(ctx, pools[i], "leeloo", "messages", "", json.RawMessage(fmt.Sprintf(`{"by":%d}`, i)))
			mu.Lock()
			winners = append(winners, i)
			releases = append(releases, release)
			mu.Unlock()
		})
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	require.Len(t, winners, 1, "exactly one store holds the lock")

	st, err := stores[0].State(ctx, "leeloo", "messages")
	require.NoError(t, err)
	require.JSONEq(t, fmt.Sprintf(`{"by":%d}`, winners[0]), string(st[""]))

	// While held, the other store is refused; another stream is independent.
	other := stores[1-winners[0]]
	_, ok, err := other.TryLock(ctx, "leeloo", "messages")
	require.NoError(t, err)
	require.False(t, ok)
	relPeople, ok, err := other.TryLock(ctx, "leeloo", "people")
	require.NoError(t, err)
	require.True(t, ok)
	relPeople()

	releases[0]()
	releases[0]() // a second release is harmless
	release, ok, err := other.TryLock(ctx, "leeloo", "messages")
	require.NoError(t, err)
	require.True(t, ok, "lock is free after release")
	release()
}

func TestRunsAndStatus(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	store := checkpoint.New(pool)

	start := time.Now().Add(-time.Hour).Truncate(time.Microsecond)
	id1, ok, err := store.Begin(ctx, stream.RunRecord{Source: "leeloo", Stream: "people", Started: start})
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, store.FinishRun(ctx, stream.RunRecord{
		ID: id1, Source: "leeloo", Stream: "people", Started: start,
		Finished: start.Add(time.Minute), Status: stream.RunSucceeded, Requests: 7, Read: 100,
		Loaded: stream.LoadResult{Inserted: 90, Updated: 5, Unchanged: 5, Rejected: 1, NULsCleaned: 2},
	}))
	require.NoError(t, checkpoint.Save(ctx, pool, "leeloo", "people", "", json.RawMessage(`{"since":"x"}`)))

	// The second run fails, and its outcome is written even though ctx is cancelled.
	id2, ok, err := store.Begin(ctx, stream.RunRecord{Source: "leeloo", Stream: "people"})
	require.NoError(t, err)
	require.True(t, ok)
	require.Greater(t, id2, id1)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	require.NoError(t, store.FinishRun(cancelled, stream.RunRecord{
		ID: id2, Source: "leeloo", Stream: "people", Status: stream.RunFailed, Error: "list people page 2: 500",
	}))
	require.ErrorIs(t, store.FinishRun(ctx, stream.RunRecord{ID: 999999, Status: stream.RunFailed}), checkpoint.ErrNoRun)

	// A partitioned stream with state only.
	require.NoError(t, checkpoint.Save(ctx, pool, "textrequest", "messages", "1", json.RawMessage(`1`)))
	require.NoError(t, checkpoint.Save(ctx, pool, "textrequest", "messages", "2", json.RawMessage(`2`)))

	all, err := store.Status(ctx)
	require.NoError(t, err)
	require.Len(t, all, 2)

	people := all[0]
	require.Equal(t, "leeloo", people.Source)
	require.Equal(t, "people", people.Stream)
	require.NotNil(t, people.LastRun)
	require.Equal(t, id2, people.LastRun.ID)
	require.Equal(t, stream.RunFailed, people.LastRun.Status)
	require.Equal(t, "list people page 2: 500", people.LastRun.Error)
	require.False(t, people.LastRun.Finished.IsZero())
	require.WithinDuration(t, start.Add(time.Minute), people.LastSuccess, time.Millisecond)
	require.InDelta(t, 59*time.Minute, people.Behind, float64(time.Minute))
	require.Equal(t, 1, people.Partitions)
	require.JSONEq(t, `{"since":"x"}`, string(people.Cursor))

	msgs := all[1]
	require.Equal(t, "textrequest", msgs.Source)
	require.Nil(t, msgs.LastRun)
	require.True(t, msgs.LastSuccess.IsZero())
	require.Equal(t, 2, msgs.Partitions)
	require.Nil(t, msgs.Cursor)
	require.False(t, msgs.OldestUpdate.IsZero())

	// The first run's counts made it to the row.
	var ins, rej, nuls int
	var status string
	require.NoError(t, pool.QueryRow(ctx, `select status, rows_inserted, rows_rejected, nuls_cleaned from sync.runs where id = $1`, id1).
		Scan(&status, &ins, &rej, &nuls))
	require.Equal(t, []any{"succeeded", 90, 1, 2}, []any{status, ins, rej, nuls})
}

var _ checkpoint.DBTX = pgx.Tx(nil)
