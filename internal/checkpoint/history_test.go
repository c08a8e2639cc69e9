package checkpoint_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/checkpoint"
	"github.com/crmsync/crmsync/internal/pgtest"
	"github.com/crmsync/crmsync/internal/stream"
)

func TestHistory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := checkpoint.New(pgtest.NewDB(t))
	start := time.Now().Add(-time.Hour).Truncate(time.Microsecond)
	run := func(name string, at time.Duration, status stream.RunStatus, requests int) {
		rec := stream.RunRecord{Source: "leeloo", Stream: name, Started: start.Add(at)}
		id, ok, err := store.Begin(ctx, rec)
		require.NoError(t, err)
		require.True(t, ok)
		if status == stream.RunRunning {
			return // died: never finished
		}
		rec.ID, rec.Status, rec.Requests, rec.Finished = id, status, requests, rec.Started.Add(time.Second)
		require.NoError(t, store.FinishRun(ctx, rec))
	}
	run("people", 0, stream.RunSucceeded, 40)
	run("people", time.Minute, stream.RunCancelled, 7)
	run("people", 2*time.Minute, stream.RunRunning, 0)
	run("messages", 0, stream.RunCancelled, 900)

	descs := []stream.Desc{{Source: "leeloo", Name: "people"}, {Source: "leeloo", Name: "messages"}, {Source: "leeloo", Name: "tags"}}
	h, err := store.History(ctx, descs)
	require.NoError(t, err)
	require.Equal(t, map[string]stream.History{
		"leeloo.people":   {LastStatus: stream.RunCancelled, LastRequests: 7, LastStarted: start.Add(time.Minute).UTC(), Synced: true},
		"leeloo.messages": {LastStatus: stream.RunCancelled, LastRequests: 900, LastStarted: start.UTC()},
	}, normalize(h))
}

// normalize puts every time in UTC, as require.Equal compares locations too.
func normalize(h map[string]stream.History) map[string]stream.History {
	for k, v := range h {
		v.LastStarted = v.LastStarted.UTC()
		h[k] = v
	}
	return h
}
