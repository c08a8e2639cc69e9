// Package extractortest drives extractors end to end in tests, through pipeline.Run,
// the real loader and checkpoint store on a real PostgreSQL, against a simulator: Sync
// runs streams one after another (with a switch to cut a run off after a number of
// committed batches), and Conformance is the suite every extractor passes (full sync
// equals the truth, resume after cut-offs, faults, rate budget, cancellation, no
// rewrites, no secrets). Only _test.go files import it.
package extractortest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/checkpoint"
	"github.com/crmsync/crmsync/internal/pipeline"
	"github.com/crmsync/crmsync/internal/stream"
	"github.com/crmsync/crmsync/loaders/postgres"
)

// Extractor is what the driver needs from an extractor (the pipeline's seam).
type Extractor = pipeline.Extractor

// Options selects what a Sync runs.
type Options struct {
	// Streams names the streams to run, in order; empty runs every stream that is on by
	// default.
	Streams []string
	// FullRefresh ignores the stored cursors.
	FullRefresh bool
	// Started is the run's "now" (default time.Now()).
	Started time.Time
	// CancelAfter cancels the run once this many batches have been committed (counted
	// over all streams), to simulate a kill; 0 never cancels.
	CancelAfter int
	// Logger receives the pipeline's and the loader's lines (default: the test log,
	// warnings and up).
	Logger *slog.Logger
}

// Result sums up a Sync.
type Result struct {
	Batches   int
	Requests  int
	Read      int
	Loaded    stream.LoadResult
	PerStream map[string]stream.LoadResult
	// Cancelled is true when CancelAfter stopped the run.
	Cancelled bool
	// Status is each stream's outcome, by stream name.
	Status map[string]stream.RunStatus
}

// Sync runs the selected streams of ex into pool through pipeline.Run, one stream at a
// time and one batch per transaction, so CancelAfter cuts at a known batch. It returns
// the pipeline's error (a *pipeline.PartialError when a stream failed), or ctx's cause
// when the caller cancelled the run.
func Sync(ctx context.Context, t testing.TB, pool *pgxpool.Pool, ex Extractor, opts Options) (Result, error) {
	t.Helper()
	if opts.Started.IsZero() {
		opts.Started = time.Now()
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	jobs, err := jobsOf(ex, opts.Streams)
	if err != nil {
		return Result{}, err
	}

	outer := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	loader := &cuttingLoader{Loader: postgres.New(pool, logger), after: opts.CancelAfter, cancel: cancel}
	started := opts.Started
	pres, err := pipeline.Run(ctx, pipeline.Plan{
		Jobs:        jobs,
		Loader:      loader,
		Checkpoints: checkpoint.New(pool),
		FullRefresh: opts.FullRefresh,
		Config: pipeline.Config{
			Concurrency: 1, LoadWorkers: 1, GroupBatches: 1, GroupLinger: -1,
			Logger: logger, Now: func() time.Time { return started },
		},
	})
	res := Result{PerStream: map[string]stream.LoadResult{}, Status: map[string]stream.RunStatus{}, Cancelled: loader.cut.Load()}
	if err == nil && outer.Err() != nil {
		err = context.Cause(outer) // cancelled by the caller, not by CancelAfter
	}
	if pres == nil {
		return res, err
	}
	for _, r := range pres.Streams {
		res.Batches += r.Batches
		res.Requests += r.Requests
		res.Read += r.Read
		res.Loaded.Add(r.Loaded)
		res.PerStream[r.Stream] = r.Loaded
		res.Status[r.Stream] = r.Status
	}
	return res, err
}

// MustSync is Sync that fails the test on error.
func MustSync(ctx context.Context, t testing.TB, pool *pgxpool.Pool, ex Extractor, opts Options) Result {
	t.Helper()
	res, err := Sync(ctx, t, pool, ex, opts)
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	return res
}

// jobsOf picks the named streams of ex, in order (every default one when names is
// empty).
func jobsOf(ex Extractor, names []string) ([]pipeline.Job, error) {
	var jobs []pipeline.Job
	all := ex.Streams()
	if len(names) == 0 {
		for _, d := range all {
			if !d.DefaultOff {
				jobs = append(jobs, pipeline.Job{Extractor: ex, Desc: d})
			}
		}
		return jobs, nil
	}
	for _, name := range names {
		i := slices.IndexFunc(all, func(d stream.Desc) bool { return d.Name == name })
		if i < 0 {
			return nil, fmt.Errorf("stream %q: %w", name, stream.ErrUnknownStream)
		}
		jobs = append(jobs, pipeline.Job{Extractor: ex, Desc: all[i]})
	}
	return jobs, nil
}

// cuttingLoader is the real loader that cancels the run once after batches have
// committed and refuses every load after that, as a process killed at that moment.
type cuttingLoader struct {
	pipeline.Loader
	after  int
	cancel context.CancelFunc
	loaded atomic.Int64
	cut    atomic.Bool
}

func (l *cuttingLoader) Load(ctx context.Context, runID int64, desc stream.Desc, bs ...stream.Batch) (stream.LoadResult, error) {
	if l.cut.Load() {
		return stream.LoadResult{}, errors.New("the run was cut off")
	}
	res, err := l.Loader.Load(ctx, runID, desc, bs...)
	if err == nil && l.after > 0 && l.loaded.Add(int64(len(bs))) >= int64(l.after) {
		l.cut.Store(true)
		l.cancel()
	}
	return res, err
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// RoomWaits runs one stream of ex with a room gate (stream.Request.Room) counting its
// calls, and returns the requests the stream's batches
// report and the gate's calls: equal when every API request waited for room first.
func RoomWaits(t testing.TB, ex Extractor, name string, started time.Time) (requests, waits int) {
	t.Helper()
	var desc stream.Desc
	for _, d := range ex.Streams() {
		if d.Name == name {
			desc = d
		}
	}
	require.NotEmpty(t, desc.Name, "no stream %s", name)
	var gate atomic.Int64
	room := func(context.Context) error {
		gate.Add(1)
		return nil
	}
	out := make(chan stream.Batch)
	total := make(chan int)
	go func() {
		n := 0
		for b := range out {
			n += b.Requests
		}
		total <- n
	}()
	err := ex.Extract(context.Background(), stream.Request{Stream: desc, Started: started, Room: room}, out)
	close(out)
	require.NoError(t, err)
	return <-total, int(gate.Load())
}
