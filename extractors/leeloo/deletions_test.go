package leeloo

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/extractortest"
	"github.com/crmsync/crmsync/internal/simulator"
)

// markedRows counts, per table, the rows marked deleted.
func markedRows(t *testing.T, b *simBundle) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, tbl := range []string{tabPeople, tabPersonChannels, tabChannels, tabOrders, tabTags, tabAccounts, tabSubscriptions, tabUsers, tabConnections, tabTunnels, tabCategories} {
		var n int
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM `+tbl+` WHERE deleted_at IS NOT NULL`).Scan(&n))
		if n > 0 {
			out[tbl] = n
		}
	}
	return out
}

// TestSweepMarksDeletedRecords: people, channels, orders and tags deleted in Leeloo are
// marked by the next complete pass of their stream (orders and tags: every run; people,
// channels and v1 accounts: the sweep), and no other row is; the live rows are the
// truth again. Records that come back are restored by the next pass.
func TestSweepMarksDeletedRecords(t *testing.T) {
	t.Parallel()
	b := setupSim(t, simulator.Faults{}, Config{FullSweepEvery: 12 * time.Hour})
	started := b.sim.Now()
	b.sync(t, extractortest.Options{Started: started})
	require.Empty(t, markedRows(t, b))

	b.sim.Mutate(simulator.Mutation{NewMessages: 5, DeletedPeople: 4, DeletedChannels: 3, DeletedOrders: 5, DeletedTags: 1})
	at := b.sim.Now()

	// An incremental run: orders and tags are complete lists every run; people and
	// channels wait for their sweep.
	b.sync(t, extractortest.Options{Started: at})
	got := markedRows(t, b)
	require.Equal(t, 5, got[tabOrders])
	require.Equal(t, 1, got[tabTags])
	require.Zero(t, got[tabPeople]+got[tabChannels], "no sweep yet")

	// The sweep marks exactly the deleted people (with their channel links), channels
	// and v1 accounts.
	b.sync(t, extractortest.Options{Started: at.Add(13 * time.Hour)})
	requireTruth(t, b, at.Add(13*time.Hour))
	got = markedRows(t, b)
	require.Equal(t, 4, got[tabPeople])
	require.Equal(t, 3, got[tabChannels])
	require.Equal(t, 3, got[tabAccounts])
	require.Positive(t, got[tabPersonChannels], "a deleted person's channel links follow it")
	require.Zero(t, got[tabUsers]+got[tabConnections]+got[tabTunnels]+got[tabCategories], "nothing else is marked")

	var passes, rows int
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT passes_completed, rows_marked_deleted FROM sync.runs
		WHERE stream = 'people' ORDER BY id DESC LIMIT 1`).Scan(&passes, &rows))
	require.Equal(t, 1, passes)
	require.Equal(t, got[tabPeople]+got[tabPersonChannels], rows)

	// They come back: every mark is cleared by the next complete passes.
	b.sim.Mutate(simulator.Mutation{Restored: 100})
	b.sync(t, extractortest.Options{Started: at.Add(26 * time.Hour)})
	requireTruth(t, b, at.Add(26*time.Hour))
	require.Empty(t, markedRows(t, b))
}

// TestSweepSeesRecordsThatMovedPastItsEnd: channels and people that get a new message
// while a sweep is under way move past the pass's end (their last message is newer than
// the run's start). The sweep reads a tail window before it completes, so none of them
// is marked deleted.
func TestSweepSeesRecordsThatMovedPastItsEnd(t *testing.T) {
	t.Parallel()
	b := setupSim(t, simulator.Faults{}, Config{FullSweepEvery: 12 * time.Hour})
	s0 := b.sim.Now()
	b.sync(t, extractortest.Options{Started: s0})

	sweep := s0.Add(13 * time.Hour)
	streams := []string{StreamPeople, StreamChannels}
	res := b.sync(t, extractortest.Options{Started: sweep, Streams: streams, CancelAfter: 2})
	require.True(t, res.Cancelled, "the sweep was cut off")
	b.sim.Mutate(simulator.Mutation{NewMessages: 60, At: sweep.Add(time.Hour)})
	res = b.sync(t, extractortest.Options{Started: sweep, Streams: streams})
	require.False(t, res.Cancelled, "the sweep finished")
	require.Positive(t, res.Loaded.PassesDone)
	require.Empty(t, markedRows(t, b), "nothing was deleted, so nothing is marked")
}
