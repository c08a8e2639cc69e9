package apiclient

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSendLogHoldsBackAfterALateSend: when an attempt goes out late, the attempt n
// places after it waits for a full window after it, so no window holds n+1 even though
// the token bucket would have let it go.
func TestSendLogHoldsBackAfterALateSend(t *testing.T) {
	ctx := context.Background()
	const per = 200 * time.Millisecond
	s := newSendLog(Limit{N: 3, Per: per})
	window := per + per/6 // the guard: Per/(2N)

	var sent []time.Time
	for range 3 { // the first n go at once: nothing was sent before
		require.NoError(t, s.wait(ctx))
		sent = append(sent, time.Now())
	}
	require.NoError(t, s.wait(ctx)) // the fourth waits for the first to leave the window
	sent = append(sent, time.Now())
	require.GreaterOrEqual(t, sent[3].Sub(sent[0]), window)

	one := newSendLog(Limit{N: 1, Per: time.Hour})
	require.NoError(t, one.wait(ctx))
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, one.wait(cctx), context.Canceled, "a cancelled wait returns at once")
	require.Nil(t, newSendLog(Limit{}), "no limit, no log")
	require.NoError(t, (*sendLog)(nil).wait(ctx))
}
