package apiclient

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// TestWindowHoldsBackTheNthAttempt: the first N attempts go at once; the next waits
// until the first is a whole window (Per and the guard, Per/(2N)) behind it. Under
// synctest the clock moves only when every goroutine waits, so the figures are exact.
func TestWindowHoldsBackTheNthAttempt(t *testing.T) {
	t.Parallel()

	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		const per = 200 * time.Millisecond
		w := newWindow(Limit{N: 3, Per: per})
		start := time.Now()
		for range 3 {
			require.NoError(t, w.wait(ctx))
		}
		require.Equal(t, start, time.Now(), "the first N go at once")
		require.NoError(t, w.wait(ctx))
		require.Equal(t, per+per/6, time.Since(start))
	})
}

func TestWindowCancelledAndUnlimited(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	one := newWindow(Limit{N: 1, Per: time.Hour})
	require.NoError(t, one.wait(ctx))
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, one.wait(cctx), context.Canceled, "a cancelled wait returns at once")
	require.Nil(t, newWindow(Limit{}), "no limit, no window")
	require.NoError(t, (*window)(nil).wait(ctx))
	require.ErrorIs(t, (*window)(nil).wait(cctx), context.Canceled)
}
