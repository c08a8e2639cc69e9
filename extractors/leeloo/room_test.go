package leeloo

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/extractortest"
	"github.com/crmsync/crmsync/internal/simulator"
)

// Every API request of a stream first waits for the room the pipeline gives it
// (stream.Request.Room): the chats of the messages stream, read eight at once, included.
func TestRequestsWaitForRoom(t *testing.T) {
	t.Parallel()
	b := setupSim(t, simulator.Faults{}, Config{Concurrency: 8})
	requests, waits := extractortest.RoomWaits(t, b.ex, StreamMessages, b.sim.Now())
	require.Positive(t, requests)
	require.Equal(t, requests, waits)
}
