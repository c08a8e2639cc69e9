// Package extractortest drives extractors end to end in tests: it runs streams one after
// another through the real loader and checkpoint store, like the pipeline does but
// sequentially and with a switch to cancel a run after a number of committed batches, so
// extractor tests can check full syncs, incremental runs and kill-and-resume against the
// simulator and a real PostgreSQL. Only _test.go files import it.
package extractortest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/checkpoint"
	"github.com/crmsync/crmsync/internal/stream"
	"github.com/crmsync/crmsync/loaders/postgres"
)

// Extractor is what the driver needs from an extractor (the pipeline's seam).
type Extractor interface {
	Streams() []stream.Desc
	Extract(ctx context.Context, req stream.Request, out chan<- stream.Batch) error
}

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
}

// Sync runs the selected streams of ex into pool. It returns the first error other than
// the cancellation CancelAfter causes.
func Sync(ctx context.Context, t testing.TB, pool *pgxpool.Pool, ex Extractor, opts Options) (Result, error) {
	t.Helper()
	if opts.Started.IsZero() {
		opts.Started = time.Now()
	}
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	loader := postgres.New(pool, logger)
	store := checkpoint.New(pool)

	var descs []stream.Desc
	all := ex.Streams()
	if len(opts.Streams) == 0 {
		for _, d := range all {
			if !d.DefaultOff {
				descs = append(descs, d)
			}
		}
	} else {
		for _, name := range opts.Streams {
			i := slices.IndexFunc(all, func(d stream.Desc) bool { return d.Name == name })
			if i < 0 {
				return Result{}, fmt.Errorf("stream %q: %w", name, stream.ErrUnknownStream)
			}
			descs = append(descs, all[i])
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	res := Result{PerStream: map[string]stream.LoadResult{}}
	for _, desc := range descs {
		if err := runOne(ctx, store, loader, ex, desc, opts, &res, cancel); err != nil {
			if res.Cancelled && errors.Is(err, context.Canceled) {
				return res, nil
			}
			return res, fmt.Errorf("stream %s: %w", desc.ID(), err)
		}
		if res.Cancelled {
			return res, nil
		}
	}
	return res, nil
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

func runOne(ctx context.Context, store *checkpoint.Store, loader *postgres.Loader, ex Extractor,
	desc stream.Desc, opts Options, res *Result, cancel context.CancelFunc) error {
	state, err := store.State(ctx, desc.Source, desc.Name)
	if err != nil {
		return fmt.Errorf("read state: %w", err)
	}
	rec := stream.RunRecord{Source: desc.Source, Stream: desc.Name, Started: opts.Started, Status: stream.RunRunning}
	runID, ok, err := store.Begin(ctx, rec)
	if err != nil {
		return fmt.Errorf("start run: %w", err)
	}
	if !ok {
		return fmt.Errorf("start run: %s is running elsewhere", desc.ID())
	}
	rec.ID = runID

	batches := make(chan stream.Batch, 2)
	extractErr := make(chan error, 1)
	go func() {
		defer close(batches)
		extractErr <- ex.Extract(ctx, stream.Request{Stream: desc, State: state, FullRefresh: opts.FullRefresh, Started: opts.Started}, batches)
	}()

	var loadErr error
	per := res.PerStream[desc.Name]
	for b := range batches {
		res.Requests += b.Requests
		rec.Requests += b.Requests
		for _, n := range b.Notes {
			if !strings.Contains(rec.Notes, n) {
				rec.Notes = strings.TrimPrefix(rec.Notes+"; "+n, "; ")
			}
		}
		if loadErr != nil || res.Cancelled || b.RequestsOnly() {
			continue // drain so the extractor can finish
		}
		lr, err := loader.Load(ctx, runID, desc, b)
		if err != nil {
			loadErr = fmt.Errorf("load batch: %w", err)
			cancel()
			continue
		}
		res.Batches++
		res.Read += b.Len() + len(b.Rejects)
		rec.Read += b.Len() + len(b.Rejects)
		rec.Loaded.Add(lr)
		res.Loaded.Add(lr)
		per.Add(lr)
		if opts.CancelAfter > 0 && res.Batches >= opts.CancelAfter {
			res.Cancelled = true
			cancel()
		}
	}
	res.PerStream[desc.Name] = per
	err = <-extractErr
	if loadErr != nil {
		err = loadErr
	}
	rec.Finished = time.Now()
	switch {
	case res.Cancelled && (err == nil || errors.Is(err, context.Canceled)):
		// Batches received after the cancel were dropped, so even an extractor that
		// finished in time did not get all its work committed.
		err = nil
		rec.Status = stream.RunCancelled
	case err == nil:
		rec.Status = stream.RunSucceeded
	default:
		rec.Status = stream.RunFailed
		rec.Error = err.Error()
	}
	if ferr := store.FinishRun(context.WithoutCancel(ctx), rec); ferr != nil && err == nil {
		err = fmt.Errorf("finish run: %w", ferr)
	}
	return err
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// RoomWaits runs one stream of ex with a context that carries a room gate
// (stream.WithRoom) counting its calls, and returns the requests the stream's batches
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
	ctx := stream.WithRoom(context.Background(), func(context.Context) error {
		gate.Add(1)
		return nil
	})
	out := make(chan stream.Batch)
	total := make(chan int)
	go func() {
		n := 0
		for b := range out {
			n += b.Requests
		}
		total <- n
	}()
	err := ex.Extract(ctx, stream.Request{Stream: desc, Started: started}, out)
	close(out)
	require.NoError(t, err)
	return <-total, int(gate.Load())
}
