package cli

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/simulator"
)

// TestTwoProcessesNeverOverlap runs the same streams from two engines at once on a
// database that closes idle sessions after 200ms, while every session of the database
// is terminated again and again: no stream ever has two running runs, no two runs of a
// stream overlap in sync.runs, no run is left running, and a run afterwards makes the
// tables exact.
func TestTwoProcessesNeverOverlap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tb := setup(t, simulator.Options{Faults: simulator.Faults{Latency: 3 * time.Millisecond}})
	u, err := url.Parse(tb.dbURL)
	require.NoError(t, err)
	db := strings.TrimPrefix(u.Path, "/")
	_, err = tb.pool.Exec(ctx, `alter database "`+db+`" set idle_session_timeout = '200ms'`)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = tb.pool.Exec(context.Background(), `alter database "`+db+`" reset idle_session_timeout`)
	})

	stop := make(chan struct{})
	var watchers sync.WaitGroup
	var doubled []string
	watchers.Go(func() { // terminates every other session of the database
		for {
			select {
			case <-stop:
				return
			case <-time.After(700 * time.Millisecond):
			}
			_, _ = tb.pool.Exec(ctx, `select pg_terminate_backend(pid) from pg_stat_activity
				where datname = current_database() and pid <> pg_backend_pid()`)
		}
	})
	watchers.Go(func() { // never two running runs of a stream
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			var s string
			err := tb.pool.QueryRow(ctx, `select source || '.' || stream from sync.runs where status = 'running'
				group by 1 having count(*) > 1 limit 1`).Scan(&s)
			if err == nil {
				doubled = append(doubled, s)
			}
		}
	})
	streams := "leeloo.orders,leeloo.people,leeloo.tunnels,textrequest.contacts,textrequest.payments"
	var runs sync.WaitGroup
	results := make([]result, 2)
	for i := range results {
		runs.Go(func() { results[i] = cliRun(ctx, t, tb.env, "run", "--stream", streams) })
	}
	runs.Wait()
	close(stop)
	watchers.Wait()
	// The checks below must not meet the 200ms timeout themselves: a pooled connection
	// left idle through the last run would be gone (57P05) when they use it.
	for range 3 { // the first try may itself draw a connection the timeout closed
		if _, err = tb.pool.Exec(ctx, `alter database "`+db+`" reset idle_session_timeout`); err == nil {
			break
		}
	}
	require.NoError(t, err)
	tb.pool.Reset()
	for _, r := range results {
		require.NotContains(t, r.stdout+r.stderr, "panic")
	}
	require.Empty(t, doubled, "two running runs of one stream")

	var running, overlaps, rows int
	require.NoError(t, tb.pool.QueryRow(ctx, `select count(*) filter (where status = 'running'), count(*) from sync.runs`).Scan(&running, &rows))
	require.Zero(t, running, "every run got its outcome written")
	require.Positive(t, rows)
	// started_at is when a run asked for its lease, which under these terminations may
	// take a few retries (at most about 3s); the watcher above checked the exact
	// invariant all along.
	require.NoError(t, tb.pool.QueryRow(ctx, `select count(*) from sync.runs a join sync.runs b
		on a.source = b.source and a.stream = b.stream and a.id < b.id
		where a.status <> 'skipped' and b.status <> 'skipped'
		and a.started_at < b.finished_at - interval '3 seconds'
		and b.started_at < a.finished_at - interval '3 seconds'`).Scan(&overlaps))
	if overlaps > 0 { // what ran when, to see why
		rs, err := tb.pool.Query(ctx, "select id, stream, status, started_at::time, finished_at::time, error from sync.runs order by stream, id")
		require.NoError(t, err)
		for rs.Next() {
			v, _ := rs.Values()
			t.Log(v...)
		}
		rs.Close()
	}
	require.Zero(t, overlaps, "runs of one stream overlapped")

	r := cliRun(ctx, t, tb.env, "run", "--stream", streams)
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	truth := tb.sim.Truth()
	require.Equal(t, len(truth.Leeloo.Orders), tb.count(t, "leeloo.orders"))
	require.Equal(t, len(truth.Leeloo.People), tb.count(t, "leeloo.people"))
	require.Equal(t, len(truth.Leeloo.Tunnels), tb.count(t, "leeloo.tunnels"))
	require.Equal(t, len(truth.TextRequest.Contacts), tb.count(t, "textrequest.contacts"))
	require.Equal(t, len(truth.TextRequest.Payments), tb.count(t, "textrequest.payments"))
}
