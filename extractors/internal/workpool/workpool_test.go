package workpool

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// forEach runs fn for 0..n-1 on a pool, as the extractors use it.
func forEach(ctx context.Context, n, limit int, fn func(ctx context.Context, i int) error) error {
	p := New(ctx, limit)
	for i := range n {
		p.Go(func(ctx context.Context) error { return fn(ctx, i) })
	}
	return p.Wait()
}

// A pool keeps errgroup's contract: at most limit calls at once, every call made, the
// first error returned and the context cancelled for the calls after it.
func TestPoolLikeErrgroup(t *testing.T) {
	t.Parallel()

	var running, peak, calls, cancelled atomic.Int64
	boom := errors.New("boom")
	err := forEach(context.Background(), 50, 3, func(ctx context.Context, i int) error {
		n := running.Add(1)
		defer running.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		calls.Add(1)
		if ctx.Err() != nil {
			cancelled.Add(1)
		}
		if i == 10 {
			return boom
		}
		return nil
	})
	require.ErrorIs(t, err, boom)
	require.EqualValues(t, 50, calls.Load())
	require.LessOrEqual(t, peak.Load(), int64(3))
	require.Positive(t, cancelled.Load())

	require.NoError(t, forEach(context.Background(), 0, 3, func(context.Context, int) error { return errors.New("never") }))
}
