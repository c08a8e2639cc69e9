package textrequest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/extractortest"
	"github.com/crmsync/crmsync/internal/simulator"
)

// Every API request of a stream first waits for the room the pipeline gives it
// (stream.Request.Room): the contacts of the messages stream, read several at once, included.
func TestRequestsWaitForRoom(t *testing.T) {
	t.Parallel()
	b := setupSim(t, simulator.Faults{}, apiclient.Limit{}, nil)
	requests, waits := extractortest.RoomWaits(t, b.ex, StreamMessages, time.Now())
	require.Positive(t, requests)
	require.Equal(t, requests, waits)
}
