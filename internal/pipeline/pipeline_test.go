package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/stream"
)

// The fakes below stand in for our own seams (not for a database): the end-to-end
// tests with the real parts live in internal/cli.

type fakeExtractor struct {
	descs   []stream.Desc
	extract func(ctx context.Context, req stream.Request, out chan<- stream.Batch) error
}

func (f *fakeExtractor) Streams() []stream.Desc { return f.descs }
func (f *fakeExtractor) Extract(ctx context.Context, req stream.Request, out chan<- stream.Batch) error {
	return f.extract(ctx, req, out)
}

// emit sends n batches of rows rows each (cursor = batch number), watching ctx.
func emit(n, rows int) func(ctx context.Context, req stream.Request, out chan<- stream.Batch) error {
	return func(ctx context.Context, req stream.Request, out chan<- stream.Batch) error {
		for i := 1; i <= n; i++ {
			b := stream.Batch{
				Rows:     map[string][]stream.Row{req.Stream.Source + "." + req.Stream.Name: make([]stream.Row, rows)},
				Cursor:   json.RawMessage(strconv.Itoa(i)),
				Requests: 1,
			}
			select {
			case out <- b:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
}

type fakeLoader struct {
	mu     sync.Mutex
	loaded map[string]int // stream id → rows loaded
	cursor map[string]json.RawMessage
	hook   func(ctx context.Context, desc stream.Desc, b stream.Batch) error
}

func (l *fakeLoader) Load(ctx context.Context, runID int64, desc stream.Desc, b stream.Batch) (stream.LoadResult, error) {
	if l.hook != nil {
		if err := l.hook(ctx, desc, b); err != nil {
			return stream.LoadResult{}, err
		}
	}
	if err := ctx.Err(); err != nil {
		return stream.LoadResult{}, err // a real loader rolls back on a cancelled ctx
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.loaded == nil {
		l.loaded, l.cursor = map[string]int{}, map[string]json.RawMessage{}
	}
	l.loaded[desc.ID()] += b.Len()
	l.cursor[desc.ID()] = b.Cursor
	return stream.LoadResult{Inserted: b.Len(), Rejected: len(b.Rejects)}, nil
}

func (l *fakeLoader) rows(id string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.loaded[id]
}

type fakeCheckpoints struct {
	mu       sync.Mutex
	nextID   int64
	locked   map[string]bool
	started  map[int64]stream.RunRecord
	finished map[int64]stream.RunRecord
	finishFn func(ctx context.Context) error
}

func newFakeCheckpoints() *fakeCheckpoints {
	return &fakeCheckpoints{locked: map[string]bool{}, started: map[int64]stream.RunRecord{}, finished: map[int64]stream.RunRecord{}}
}

func (c *fakeCheckpoints) State(ctx context.Context, source, name string) (stream.State, error) {
	return stream.State{}, ctx.Err()
}

func (c *fakeCheckpoints) TryLock(ctx context.Context, source, name string) (func(), bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := source + "." + name
	if c.locked[id] {
		return nil, false, nil
	}
	c.locked[id] = true
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.locked, id)
	}, true, nil
}

func (c *fakeCheckpoints) StartRun(ctx context.Context, rec stream.RunRecord) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextID++
	c.started[c.nextID] = rec
	return c.nextID, nil
}

func (c *fakeCheckpoints) FinishRun(ctx context.Context, rec stream.RunRecord) error {
	if c.finishFn != nil {
		if err := c.finishFn(ctx); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.finished[rec.ID] = rec
	return nil
}

func (c *fakeCheckpoints) finishedByStream() map[string]stream.RunRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]stream.RunRecord{}
	for _, r := range c.finished {
		out[r.Source+"."+r.Stream] = r
	}
	return out
}

var (
	_ Extractor   = (*fakeExtractor)(nil)
	_ Loader      = (*fakeLoader)(nil)
	_ Checkpoints = (*fakeCheckpoints)(nil)
)

func desc(source, name string) stream.Desc {
	return stream.Desc{Source: source, Name: name, Mode: stream.ModeFullRefresh,
		Tables: []stream.Table{{Name: source + "." + name, Key: []string{"id"}}}}
}

type testBundle struct {
	loader *fakeLoader
	cps    *fakeCheckpoints
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	return &testBundle{loader: &fakeLoader{}, cps: newFakeCheckpoints()}
}

func (tb *testBundle) plan(jobs ...Job) Plan {
	return Plan{Jobs: jobs, Loader: tb.loader, Checkpoints: tb.cps}
}

func job(name string, extract func(context.Context, stream.Request, chan<- stream.Batch) error) Job {
	d := desc("src", name)
	return Job{Extractor: &fakeExtractor{descs: []stream.Desc{d}, extract: extract}, Desc: d}
}

func TestRunAllSucceed(t *testing.T) {
	t.Parallel()
	tb := setup(t)

	res, err := Run(context.Background(), tb.plan(job("a", emit(3, 10)), job("b", emit(5, 2))))
	require.NoError(t, err)
	require.Len(t, res.Streams, 2)
	a, b := res.Streams[0], res.Streams[1]
	require.Equal(t, "src.a", a.ID())
	require.Equal(t, stream.RunSucceeded, a.Status)
	require.Equal(t, 3, a.Batches)
	require.Equal(t, 3, a.Requests)
	require.Equal(t, 30, a.Read)
	require.Equal(t, 30, a.Loaded.Inserted)
	require.Equal(t, stream.RunSucceeded, b.Status)
	require.Equal(t, 10, b.Loaded.Inserted)
	require.Equal(t, 2, res.Count(stream.RunSucceeded))

	fin := tb.cps.finishedByStream()
	require.Equal(t, stream.RunSucceeded, fin["src.a"].Status)
	require.Equal(t, 30, fin["src.a"].Loaded.Inserted)
	require.Equal(t, 3, fin["src.a"].Requests)
	require.Empty(t, fin["src.a"].Error)
	require.Equal(t, json.RawMessage("3"), tb.loader.cursor["src.a"], "batches load in order")
	require.Empty(t, tb.cps.locked, "every lock released")
}

func TestRunOneStreamFailsOthersRun(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	errAPI := errors.New("api exploded")

	failing := func(ctx context.Context, req stream.Request, out chan<- stream.Batch) error {
		if err := emit(2, 1)(ctx, req, out); err != nil {
			return err
		}
		return errAPI
	}
	res, err := Run(context.Background(), tb.plan(job("a", emit(3, 1)), job("bad", failing), job("c", emit(4, 1))))
	var pe *PartialError
	require.ErrorAs(t, err, &pe)
	require.ErrorIs(t, err, errAPI)
	require.Len(t, pe.Failed, 1)
	require.Contains(t, err.Error(), "1 of 3 streams failed: stream src.bad: extract: api exploded")

	require.Equal(t, stream.RunSucceeded, res.Streams[0].Status)
	require.Equal(t, stream.RunFailed, res.Streams[1].Status)
	require.Equal(t, stream.RunSucceeded, res.Streams[2].Status)
	require.Equal(t, 2, res.Streams[1].Loaded.Inserted, "the failed stream's committed batches stay committed")
	require.Equal(t, 4, tb.loader.rows("src.c"))

	fin := tb.cps.finishedByStream()
	require.Equal(t, stream.RunFailed, fin["src.bad"].Status)
	require.Contains(t, fin["src.bad"].Error, "api exploded")
}

func TestRunLoaderFailureStopsExtractor(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.loader.hook = func(ctx context.Context, d stream.Desc, b stream.Batch) error {
		if string(b.Cursor) == "2" {
			return errors.New("disk full")
		}
		return nil
	}
	// An endless extractor: only the loader's failure can stop it.
	res, err := Run(context.Background(), tb.plan(job("a", emit(1<<30, 1))))
	require.ErrorContains(t, err, "load batch 2")
	require.ErrorContains(t, err, "disk full")
	require.Equal(t, stream.RunFailed, res.Streams[0].Status)
	require.Equal(t, 1, res.Streams[0].Batches)
}

func TestRunExtractorIgnoringContextDoesNotHang(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.loader.hook = func(ctx context.Context, d stream.Desc, b stream.Batch) error {
		return errors.New("bad batch")
	}
	// Sends without a select on ctx: after the loader fails nobody would receive.
	careless := func(ctx context.Context, req stream.Request, out chan<- stream.Batch) error {
		for i := 0; i < 20; i++ {
			out <- stream.Batch{Requests: 1}
		}
		return nil
	}
	res, err := Run(context.Background(), tb.plan(job("a", careless)))
	require.ErrorContains(t, err, "bad batch")
	require.Equal(t, 20, res.Streams[0].Requests, "requests of drained batches are still counted")
}

func TestRunLockedStreamSkipped(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.cps.locked["src.a"] = true // another process runs it

	res, err := Run(context.Background(), tb.plan(job("a", emit(1, 1)), job("b", emit(1, 1))))
	require.NoError(t, err, "a skipped stream is not a failure")
	require.Equal(t, stream.RunSkipped, res.Streams[0].Status)
	require.Zero(t, res.Streams[0].RunID)
	require.Equal(t, stream.RunSucceeded, res.Streams[1].Status)
	require.Zero(t, tb.loader.rows("src.a"))
	require.Len(t, tb.cps.started, 1, "no run record for the skipped stream")
}

func TestRunCancelled(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var loads atomic.Int32
	tb.loader.hook = func(ctx context.Context, d stream.Desc, b stream.Batch) error {
		if loads.Add(1) == 5 {
			cancel() // a SIGTERM arrives while batch 5 loads: batch 5 still commits
		}
		return nil
	}

	res, err := Run(ctx, tb.plan(job("a", emit(1<<30, 1))))
	require.NoError(t, err, "a cancelled stream is not a failure")
	r := res.Streams[0]
	require.Equal(t, stream.RunCancelled, r.Status)
	require.Equal(t, 5, r.Batches)
	require.ErrorIs(t, r.Err, context.Canceled)
	require.Equal(t, json.RawMessage("5"), tb.loader.cursor["src.a"])

	fin := tb.cps.finishedByStream()
	require.Equal(t, stream.RunCancelled, fin["src.a"].Status, "recorded although ctx was cancelled")
	require.Equal(t, 5, fin["src.a"].Loaded.Inserted)
}

func TestRunDeadlineCancelsEveryStream(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	ctx, cancel := context.WithCancelCause(context.Background())
	var started atomic.Int32
	blockUntilDone := func(ctx context.Context, req stream.Request, out chan<- stream.Batch) error {
		if started.Add(1) == 2 {
			cancel(errors.New("--max-duration 1m reached"))
		}
		<-ctx.Done()
		return fmt.Errorf("fetch page: %w", ctx.Err())
	}
	p := tb.plan(job("a", blockUntilDone), job("b", blockUntilDone), job("c", emit(1, 1)))
	p.Config.Concurrency = 2
	res, err := Run(ctx, p)
	require.NoError(t, err)
	for _, r := range res.Streams {
		require.Equal(t, stream.RunCancelled, r.Status, r.ID())
		require.ErrorContains(t, r.Err, "--max-duration 1m reached")
	}
	require.Zero(t, res.Streams[2].RunID, "c never started: it waited for a slot until the deadline")
}

func TestRunLoadGrace(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name      string
		grace     time.Duration
		committed int
	}{
		{"batch in progress commits", time.Minute, 1},
		{"no grace rolls it back", -1, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tb := setup(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			tb.loader.hook = func(lctx context.Context, d stream.Desc, b stream.Batch) error {
				cancel()
				if tt.grace < 0 {
					<-lctx.Done() // cancelled at once, without grace
				}
				return nil
			}
			p := tb.plan(job("a", emit(3, 1)))
			p.Config.LoadGrace = tt.grace
			res, err := Run(ctx, p)
			require.NoError(t, err)
			require.Equal(t, stream.RunCancelled, res.Streams[0].Status)
			require.Equal(t, tt.committed, res.Streams[0].Batches)
			require.Equal(t, tt.committed, tb.loader.rows("src.a"))
		})
	}
}

func TestRunConcurrencyBounded(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	var active, maxActive atomic.Int32
	busy := func(ctx context.Context, req stream.Request, out chan<- stream.Batch) error {
		n := active.Add(1)
		defer active.Add(-1)
		for {
			m := maxActive.Load()
			if n <= m || maxActive.CompareAndSwap(m, n) {
				break
			}
		}
		for i := 0; i < 50; i++ {
			runtime.Gosched()
		}
		return emit(2, 1)(ctx, req, out)
	}
	var jobs []Job
	for i := range 12 {
		jobs = append(jobs, job("s"+strconv.Itoa(i), busy))
	}
	p := tb.plan(jobs...)
	p.Config.Concurrency = 3
	res, err := Run(context.Background(), p)
	require.NoError(t, err)
	require.Equal(t, 12, res.Count(stream.RunSucceeded))
	require.LessOrEqual(t, maxActive.Load(), int32(3))
}

func TestRunPanicBecomesFailure(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	boom := func(ctx context.Context, req stream.Request, out chan<- stream.Batch) error {
		var m map[string]int
		m["x"] = 1 // nil map write
		return nil
	}
	res, err := Run(context.Background(), tb.plan(job("boom", boom), job("ok", emit(1, 1))))
	require.ErrorContains(t, err, "extractor panicked")
	require.Equal(t, stream.RunFailed, res.Streams[0].Status)
	require.Equal(t, stream.RunSucceeded, res.Streams[1].Status)
}

func TestRunFinishRunAfterCancelUsesLiveContext(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	tb.loader.hook = func(context.Context, stream.Desc, stream.Batch) error { cancel(); return nil }
	var sawLive atomic.Bool
	tb.cps.finishFn = func(fctx context.Context) error {
		sawLive.Store(fctx.Err() == nil)
		return nil
	}
	_, err := Run(ctx, tb.plan(job("a", emit(5, 1))))
	require.NoError(t, err)
	require.True(t, sawLive.Load())
}

func TestRunProgress(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	var mu sync.Mutex
	var seen []StreamResult
	p := tb.plan(job("a", emit(3, 2)))
	p.Config.OnProgress = func(r StreamResult) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r)
	}
	_, err := Run(context.Background(), p)
	require.NoError(t, err)
	require.Len(t, seen, 5, "start, one per batch, end")
	require.Equal(t, stream.RunRunning, seen[0].Status)
	require.Equal(t, 4, seen[2].Loaded.Inserted)
	require.Equal(t, stream.RunSucceeded, seen[4].Status)
}

func TestRunInvalidPlan(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	_, err := Run(context.Background(), Plan{Checkpoints: tb.cps})
	require.ErrorContains(t, err, "Loader is nil")
	_, err = Run(context.Background(), tb.plan(job("a", emit(1, 1)), job("a", emit(1, 1))))
	require.ErrorContains(t, err, "stream src.a listed twice")
}

func TestRunPartitionsLoadInParallelInOrder(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	const partitions, perPartition, workers = 10, 20, 3
	var active, maxActive atomic.Int32
	var mu sync.Mutex
	last := map[string]int{}
	tb.loader.hook = func(ctx context.Context, d stream.Desc, b stream.Batch) error {
		n := active.Add(1)
		defer active.Add(-1)
		for {
			m := maxActive.Load()
			if n <= m || maxActive.CompareAndSwap(m, n) {
				break
			}
		}
		runtime.Gosched()
		c, err := strconv.Atoi(string(b.Cursor))
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		if c <= last[b.Partition] {
			return fmt.Errorf("partition %s: cursor %d committed after %d", b.Partition, c, last[b.Partition])
		}
		last[b.Partition] = c
		return nil
	}
	interleaved := func(ctx context.Context, req stream.Request, out chan<- stream.Batch) error {
		for i := 1; i <= perPartition; i++ {
			for p := range partitions {
				b := stream.Batch{Partition: "p" + strconv.Itoa(p), Cursor: json.RawMessage(strconv.Itoa(i)), Requests: 1,
					Rows: map[string][]stream.Row{"src.a": {{1}}}}
				select {
				case out <- b:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		return nil
	}
	p := tb.plan(job("a", interleaved))
	p.Config.LoadWorkers = workers
	res, err := Run(context.Background(), p)
	require.NoError(t, err)
	require.Equal(t, partitions*perPartition, res.Streams[0].Batches)
	require.LessOrEqual(t, maxActive.Load(), int32(workers))
	for p := range partitions {
		require.Equal(t, perPartition, last["p"+strconv.Itoa(p)])
	}
}
