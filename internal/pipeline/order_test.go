package pipeline

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/stream"
)

func TestStartOrder(t *testing.T) {
	t.Parallel()
	mk := func(source, name string, mode stream.Mode) Job {
		return Job{Desc: stream.Desc{Source: source, Name: name, Mode: mode}}
	}
	jobs := []Job{
		mk("a", "backfill", stream.ModeIncremental), // 0: cut off last pass
		mk("a", "big", stream.ModeIncremental),      // 1: synced, 900 requests last time
		mk("a", "tags", stream.ModeFullRefresh),     // 2: synced, 1 request
		mk("a", "newinc", stream.ModeIncremental),   // 3: never ran
		mk("a", "newlist", stream.ModeFullRefresh),  // 4: never ran
		mk("b", "backfill", stream.ModeIncremental), // 5: cut off earlier than a.backfill
		mk("b", "users", stream.ModeFullRefresh),    // 6: synced, 3 requests
		mk("b", "newlist", stream.ModeFullRefresh),  // 7: never ran
		mk("b", "failing", stream.ModeIncremental),  // 8: synced once, failed last time
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	hist := map[string]stream.History{
		"a.backfill": {LastStatus: stream.RunCancelled, LastRequests: 5000, LastStarted: t0.Add(time.Hour)},
		"a.big":      {LastStatus: stream.RunSucceeded, LastRequests: 900, Synced: true},
		"a.tags":     {LastStatus: stream.RunSucceeded, LastRequests: 1, Synced: true},
		"b.backfill": {LastStatus: stream.RunCancelled, LastRequests: 5000, LastStarted: t0},
		"b.users":    {LastStatus: stream.RunSucceeded, LastRequests: 3, Synced: true},
		"b.failing":  {LastStatus: stream.RunFailed, LastRequests: 2, LastStarted: t0.Add(2 * time.Hour), Synced: true},
	}
	require.Equal(t, []int{2, 6, 1, 4, 7, 3, 5, 0, 8}, startOrder(jobs, hist))

	// Without history (a first pass): lists before incremental streams, sources alternating.
	require.Equal(t, []int{2, 6, 4, 7, 0, 5, 1, 8, 3}, startOrder(jobs, nil))
}

// TestDispatchSharesSlotsBySource: a free slot goes to the source with the fewest
// streams running, so a source whose jobs come late in the order still starts at once
// and, when its quick streams end, reaches its next job while the other source's
// streams still hold their slots.
func TestDispatchSharesSlotsBySource(t *testing.T) {
	t.Parallel()
	mk := func(source string) Job { return Job{Desc: stream.Desc{Source: source, Name: "x"}} }
	jobs := []Job{mk("a"), mk("a"), mk("a"), mk("b"), mk("b"), mk("b")}
	started := make(chan int)
	release := make([]chan struct{}, len(jobs))
	for i := range release {
		release[i] = make(chan struct{})
	}
	finished := make(chan struct{})
	go func() {
		dispatch(jobs, []int{0, 1, 2, 3, 4, 5}, 2, func(i int) {
			started <- i
			<-release[i]
		})
		close(finished)
	}()
	next := func() int {
		select {
		case i := <-started:
			return i
		case <-time.After(10 * time.Second):
			t.Fatal("no job started")
			return -1
		}
	}
	// One slot each; in plan order a's second job would have taken the second slot.
	require.ElementsMatch(t, []int{0, 3}, []int{next(), next()})
	// b's quick job ends: b (none running) goes before a (one running).
	close(release[3])
	require.Equal(t, 4, next())
	close(release[4])
	require.Equal(t, 5, next())
	// a's job ends while b still runs one: a's next job.
	close(release[0])
	require.Equal(t, 1, next())
	close(release[5])
	require.Equal(t, 2, next())
	close(release[1])
	close(release[2])
	select {
	case <-finished:
	case <-time.After(10 * time.Second):
		t.Fatal("dispatch did not return after every job ended")
	}
}
