package apiclient

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// maxInWindow is the most events any closed window [t, t+per] holds.
func maxInWindow(times []time.Time, per time.Duration) int {
	times = slices.Clone(times)
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	most, j := 0, 0
	for i := range times {
		for times[i].Sub(times[j]) > per {
			j++
		}
		most = max(most, i-j+1)
	}
	return most
}

// hammer calls wait from workers goroutines, n times each, and returns when each call
// was granted.
func hammer(workers, n int, wait func() error) ([]time.Time, error) {
	var (
		mu    sync.Mutex
		times []time.Time
		wg    sync.WaitGroup
		errs  = make(chan error, workers)
	)
	for range workers {
		wg.Go(func() {
			for range n {
				if err := wait(); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				times = append(times, time.Now())
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	return times, <-errs
}

func TestLimiterRollingWindow(t *testing.T) {
	t.Parallel()

	synctest.Test(t, func(t *testing.T) {
		const n, per = 5, 200 * time.Millisecond
		lim := newWindow(Limit{N: n, Per: per})
		start := time.Now()
		times, err := hammer(8, 10, func() error { return lim.wait(context.Background()) })
		require.NoError(t, err)
		require.Len(t, times, 80)
		// At most N in any window of length Per, even stretched by the guard that
		// absorbs network jitter.
		guard := per / (2 * n)
		require.LessOrEqual(t, maxInWindow(times, per+guard-time.Nanosecond), n)
		// And the budget is used: 80 grants take 15 windows after the first N, not more.
		require.Equal(t, 15*(per+guard), time.Since(start))
	})
}

// The real thing: a server counting every rolling window never sees more than N.
func TestClientRateLimitServerSide(t *testing.T) {
	t.Parallel()

	const n, per = 4, 400 * time.Millisecond
	var (
		mu       sync.Mutex
		arrivals []time.Time
	)
	b := setup(t, func(w http.ResponseWriter, r *http.Request, call int) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		mu.Unlock()
		if call%5 == 0 {
			// Retries spend from the same budget.
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Write([]byte(`{}`))
	}, func(c *Config) { c.RateLimit = Limit{N: n, Per: per} })

	_, err := hammer(4, 4, func() error {
		_, err := b.client.GetJSON(context.Background(), nil, "/x", nil, &struct{}{})
		return err
	})
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, arrivals, int(b.client.Stats().Requests))
	require.Greater(t, len(arrivals), 16, "some retries happened")
	// Arrivals are counted in windows a quarter shorter than Per: on a loaded CI machine a
	// goroutine can be descheduled between taking its token and sending, bunching arrivals
	// by more than the limiter's slack. The exact spacing is proven under synctest above.
	require.LessOrEqual(t, maxInWindow(arrivals, per*3/4), n)
}

func TestClientRetryAfterPausesWholeSource(t *testing.T) {
	t.Parallel()

	var (
		mu       sync.Mutex
		arrivals []time.Time // of every request after the 429
	)
	b := setup(t, func(w http.ResponseWriter, r *http.Request, call int) {
		if call == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		mu.Unlock()
		w.Write([]byte(`{}`))
	})

	var wg sync.WaitGroup
	wg.Go(func() {
		_, err := b.client.Get(context.Background(), nil, "/first", nil)
		require.NoError(t, err)
	})
	// Once the client has taken in the 429, other requests of the source must wait too.
	require.Eventually(t, func() bool { return b.client.notBefore.Load() > 0 }, 10*time.Second, time.Millisecond)
	pause := time.Unix(0, b.client.notBefore.Load())
	for range 3 {
		wg.Go(func() {
			_, err := b.client.Get(context.Background(), nil, "/other", nil)
			require.NoError(t, err)
		})
	}
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, arrivals, 4)
	for _, at := range arrivals {
		require.False(t, at.Before(pause), "request arrived %s before the Retry-After pause ended", pause.Sub(at))
	}
	require.Equal(t, Stats{Requests: 5, Retries: 1, Throttled: 1}, b.client.Stats())
}

// A request whose turn comes after ctx's deadline returns once the deadline has
// passed, with ctx's error: the caller sees a cut-off (ctx.Err() set), never a plain
// "would exceed context deadline" error while its context is still live.
func TestRateLimitWaitPastDeadlineIsCutOff(t *testing.T) {
	t.Parallel()

	b := setup(t, func(w http.ResponseWriter, r *http.Request, call int) {
		w.Write([]byte(`{}`))
	}, func(c *Config) { c.RateLimit = Limit{N: 1, Per: time.Hour} })
	_, err := b.client.Get(context.Background(), nil, "/people", nil) // spends the one token
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = b.client.Get(ctx, nil, "/people", nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Error(t, ctx.Err(), "returned before the deadline: the caller would call it a failure")
	require.Equal(t, int64(1), b.calls.Load())
}
