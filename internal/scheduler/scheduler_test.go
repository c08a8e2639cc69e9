package scheduler

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// All timing tests run inside synctest bubbles: cron's timers use the bubble's fake
// clock, so "@every 1s" fires instantly in real time and nothing sleeps for real.

// syncBuffer is a log sink safe for the concurrent writes of jobs and cron.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type testBundle struct {
	logs *syncBuffer
}

func setup(t *testing.T, cfg Config) (*Scheduler, *testBundle) {
	t.Helper()
	logs := &syncBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	s, err := New(cfg)
	require.NoError(t, err)
	// Inside a bubble, cleanups run before the bubble exits: stopping here keeps a
	// failed assertion from also reporting cron's goroutine as leaked.
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	return s, &testBundle{logs: logs}
}

func TestRunsOnSchedule(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var runs atomic.Int64
		var names sync.Map
		s, _ := setup(t, Config{
			Jobs: []Job{{Name: "every-second", Schedule: "@every 1s"}},
			Run: func(ctx context.Context, job string) error {
				names.Store(job, true)
				runs.Add(1)
				return nil
			},
		})
		s.Start()
		time.Sleep(3500 * time.Millisecond) // fake time: fires at 1 s, 2 s, 3 s
		synctest.Wait()
		require.EqualValues(t, 3, runs.Load())
		_, ok := names.Load("every-second")
		require.True(t, ok, "Run receives the job's name")
		e := s.Entries()[0]
		require.EqualValues(t, 3, e.Runs)
		require.Equal(t, "every-second", e.Name)
		require.True(t, e.Next.After(time.Now()))
		require.NoError(t, s.Stop(context.Background()))
		time.Sleep(5 * time.Second)
		require.EqualValues(t, 3, runs.Load(), "no run after Stop")
	})
}

func TestSkipsOverlappingRun(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var running, maxRunning, runs atomic.Int64
		var skipped []string
		var mu sync.Mutex
		s, b := setup(t, Config{
			Jobs: []Job{{Name: "slow", Schedule: "@every 1s"}},
			Run: func(ctx context.Context, job string) error {
				runs.Add(1)
				n := running.Add(1)
				defer running.Add(-1)
				for {
					m := maxRunning.Load()
					if n <= m || maxRunning.CompareAndSwap(m, n) {
						break
					}
				}
				time.Sleep(2500 * time.Millisecond) // longer than the interval
				return nil
			},
			OnSkip: func(job string) {
				mu.Lock()
				defer mu.Unlock()
				skipped = append(skipped, job)
			},
		})
		s.Start()
		// Run 1 from 1 s to 3.5 s; the ticks at 2 s and 3 s are skipped; run 2 at 4 s.
		time.Sleep(4500 * time.Millisecond)
		synctest.Wait()
		require.EqualValues(t, 1, maxRunning.Load(), "never two runs of one job at once")
		require.EqualValues(t, 2, runs.Load())
		e := s.Entries()[0]
		require.EqualValues(t, 2, e.Skips)
		mu.Lock()
		require.Equal(t, []string{"slow", "slow"}, skipped)
		mu.Unlock()
		require.Contains(t, b.logs.String(), `msg="job skipped: the previous run is still running" job=slow`)
		require.NoError(t, s.Stop(context.Background()))
	})
}

func TestRecoversPanic(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var runs atomic.Int64
		var panicked atomic.Int64
		s, b := setup(t, Config{
			Jobs: []Job{{Name: "boom", Schedule: "@every 1s"}},
			Run: func(ctx context.Context, job string) error {
				if runs.Add(1) == 1 {
					panic("kaboom")
				}
				return nil
			},
			OnPanic: func(string) { panicked.Add(1) },
		})
		s.Start()
		time.Sleep(2500 * time.Millisecond)
		synctest.Wait()
		require.EqualValues(t, 2, runs.Load(), "the scheduler survives a panic and runs the job again")
		require.EqualValues(t, 1, panicked.Load())
		require.EqualValues(t, 1, s.Entries()[0].Panics)
		require.Equal(t, 0, s.Running(), "a panicked run is no longer counted as running")
		logs := b.logs.String()
		require.Contains(t, logs, `msg="job panicked; recovered" job=boom`)
		require.Contains(t, logs, "kaboom")
		require.NoError(t, s.Stop(context.Background()))
	})
}

func TestJobErrorIsLoggedAndSchedulingGoesOn(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var runs atomic.Int64
		s, b := setup(t, Config{
			Jobs: []Job{{Name: "failing", Schedule: "@every 1s"}},
			Run: func(ctx context.Context, job string) error {
				runs.Add(1)
				return errors.New("stream leeloo.people failed")
			},
		})
		s.Start()
		time.Sleep(2500 * time.Millisecond)
		synctest.Wait()
		require.EqualValues(t, 2, runs.Load())
		require.Contains(t, b.logs.String(), `msg="job failed" job=failing`)
		require.Contains(t, b.logs.String(), "stream leeloo.people failed")
		require.NoError(t, s.Stop(context.Background()))
	})
}

func TestStopWaitsForRunningJob(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var completed atomic.Bool
		s, _ := setup(t, Config{
			Jobs:            []Job{{Name: "work", Schedule: "@every 1s"}},
			SoftStopTimeout: 10 * time.Second,
			Run: func(ctx context.Context, job string) error {
				select {
				case <-time.After(2 * time.Second):
					completed.Store(true)
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			},
		})
		s.Start()
		time.Sleep(1500 * time.Millisecond) // the run started at 1 s and ends at 3 s
		synctest.Wait()
		require.Equal(t, 1, s.Running())
		start := time.Now()
		require.NoError(t, s.Stop(context.Background()))
		require.True(t, completed.Load(), "the run in progress completed instead of being cancelled")
		require.Equal(t, 1500*time.Millisecond, time.Since(start))
		require.Equal(t, 0, s.Running())
	})
}

func TestStopCancelsAfterSoftTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var cancelled atomic.Bool
		s, b := setup(t, Config{
			Jobs:            []Job{{Name: "long", Schedule: "@every 1s"}},
			SoftStopTimeout: 2 * time.Second,
			Run: func(ctx context.Context, job string) error {
				select {
				case <-time.After(time.Hour):
					return nil
				case <-ctx.Done():
					cancelled.Store(true)
					return ctx.Err()
				}
			},
		})
		s.Start()
		time.Sleep(1500 * time.Millisecond)
		start := time.Now()
		require.NoError(t, s.Stop(context.Background()))
		require.True(t, cancelled.Load(), "past the soft timeout the run's context is cancelled")
		require.Equal(t, 2*time.Second, time.Since(start), "Stop returns once the cancelled run has returned")
		require.Contains(t, b.logs.String(), "soft timeout passed; cancelling running jobs")
		require.Contains(t, b.logs.String(), `msg="job cancelled by shutdown" job=long`)
	})
}

func TestStopGivesUpWhenItsContextEnds(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		s, _ := setup(t, Config{
			Jobs:            []Job{{Name: "stubborn", Schedule: "@every 1s"}},
			SoftStopTimeout: time.Second,
			Run: func(ctx context.Context, job string) error {
				<-release // ignores cancellation
				return nil
			},
		})
		s.Start()
		time.Sleep(1500 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		err := s.Stop(ctx)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.ErrorContains(t, err, "stop scheduler")
		require.Equal(t, err, s.Stop(context.Background()), "Stop is idempotent")
		close(release)
	})
}

func TestLocationAndCronTZ(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		kyiv, err := time.LoadLocation("Europe/Kyiv")
		require.NoError(t, err)
		s, _ := setup(t, Config{
			Location: kyiv,
			Jobs: []Job{
				{Name: "local", Schedule: "0 3 * * *"},
				{Name: "ny", Schedule: "CRON_TZ=America/New_York 0 3 * * *"},
			},
			Run: func(context.Context, string) error { return nil },
		})
		s.Start()
		synctest.Wait()
		// The bubble's clock starts at 2000-01-01 00:00 UTC (02:00 in Kyiv, 19:00 the
		// day before in New York).
		e := s.Entries()
		require.Equal(t, time.Date(2000, 1, 1, 1, 0, 0, 0, time.UTC), e[0].Next.UTC())
		require.Equal(t, time.Date(2000, 1, 1, 8, 0, 0, 0, time.UTC), e[1].Next.UTC())
		require.NoError(t, s.Stop(context.Background()))
	})
}

func TestNewErrors(t *testing.T) {
	t.Parallel()

	run := func(context.Context, string) error { return nil }
	_, err := New(Config{Jobs: []Job{{Name: "a", Schedule: "* *"}}, Run: run})
	require.ErrorContains(t, err, `job "a": schedule "* *": expected exactly 5 fields`)
	_, err = New(Config{Jobs: []Job{{Name: "a", Schedule: "@hourly"}, {Name: "a", Schedule: "@daily"}}, Run: run})
	require.ErrorContains(t, err, `job "a": defined twice`)
	_, err = New(Config{Jobs: []Job{{Schedule: "@hourly"}}, Run: run})
	require.ErrorContains(t, err, "name is required")
	_, err = New(Config{Jobs: []Job{{Name: "a", Schedule: "@hourly"}}})
	require.ErrorContains(t, err, "Run is required")
}

// RunNow runs the named jobs at once, one after another in the given order, and Stop
// waits for them like for scheduled runs.
func TestRunNow(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var (
			mu    sync.Mutex
			order []string
		)
		s, _ := setup(t, Config{
			Jobs: []Job{{Name: "daily", Schedule: "@daily"}, {Name: "hourly", Schedule: "@hourly"}, {Name: "weekly", Schedule: "@weekly"}},
			Run: func(ctx context.Context, name string) error {
				time.Sleep(time.Second) // a run takes a while
				mu.Lock()
				order = append(order, name)
				mu.Unlock()
				return nil
			},
		})
		s.Start()
		s.RunNow([]string{"hourly", "daily"})
		time.Sleep(10 * time.Second)
		synctest.Wait()
		require.NoError(t, s.Stop(context.Background()))
		mu.Lock()
		defer mu.Unlock()
		require.Equal(t, []string{"hourly", "daily"}, order, "run at once, in order, not waiting for their schedules")
	})
}
