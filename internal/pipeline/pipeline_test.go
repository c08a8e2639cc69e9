package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
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
	// partCursor holds the cursor committed per "stream id/partition".
	partCursor map[string]json.RawMessage
	loads      int // Load calls that committed (transactions)
	// hook runs for each batch of a Load, in order; an error fails the whole Load.
	hook func(ctx context.Context, desc stream.Desc, b stream.Batch) error
}

// Load commits the batches together, as the real loader does: a hook error or a
// cancelled ctx commits none of them.
func (l *fakeLoader) Load(ctx context.Context, runID int64, desc stream.Desc, bs ...stream.Batch) (stream.LoadResult, error) {
	for _, b := range bs {
		if l.hook != nil {
			if err := l.hook(ctx, desc, b); err != nil {
				return stream.LoadResult{}, err
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return stream.LoadResult{}, err // a real loader rolls back on a cancelled ctx
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.loaded == nil {
		l.loaded, l.cursor, l.partCursor = map[string]int{}, map[string]json.RawMessage{}, map[string]json.RawMessage{}
	}
	l.loads++
	var res stream.LoadResult
	for _, b := range bs {
		l.loaded[desc.ID()] += b.Len()
		l.cursor[desc.ID()] = b.Cursor
		l.partCursor[desc.ID()+"/"+b.Partition] = b.Cursor
		res.Add(stream.LoadResult{Inserted: b.Len(), Rejected: len(b.Rejects)})
	}
	return res, nil
}

func (l *fakeLoader) rows(id string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.loaded[id]
}

type fakeCheckpoints struct {
	stored   stream.State // every stream's cursors (read only)
	asked    atomic.Int64 // cursors handed out
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
	c.asked.Add(int64(len(c.stored)))
	return maps.Clone(c.stored), ctx.Err()
}

func (c *fakeCheckpoints) Cursors(ctx context.Context, source, name string, partitions []string) (stream.State, error) {
	out := stream.State{}
	for _, p := range partitions {
		if cur, ok := c.stored[p]; ok {
			out[p] = cur
		}
	}
	c.asked.Add(int64(len(out)))
	return out, ctx.Err()
}

func (c *fakeCheckpoints) Begin(ctx context.Context, rec stream.RunRecord) (int64, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := rec.Source + "." + rec.Stream
	if c.locked[id] {
		return 0, false, nil
	}
	c.locked[id] = true
	c.nextID++
	c.started[c.nextID] = rec
	return c.nextID, true, nil
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
	if rec.ID != 0 {
		delete(c.locked, rec.Source+"."+rec.Stream)
	}
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

// TestRunCursorsOnDemand: a stream with a cursor per chat gets partition "" in its
// State and reads the others as it asks for them; any other stream gets every cursor.
func TestRunCursorsOnDemand(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.cps.stored = stream.State{"": json.RawMessage(`"listing"`)}
	for i := range 1000 {
		tb.cps.stored[strconv.Itoa(i)] = json.RawMessage(strconv.Itoa(i))
	}
	var got []stream.State
	extract := func(ctx context.Context, req stream.Request, out chan<- stream.Batch) error {
		some, err := req.Lookup(ctx, []string{"7", "999", "none"})
		got = append(got, req.State, some)
		return err
	}
	onDemand := job("chats", extract)
	onDemand.Desc.Partitioned, onDemand.Desc.CursorsOnDemand = true, true
	_, err := Run(context.Background(), tb.plan(onDemand))
	require.NoError(t, err)
	want := stream.State{"7": json.RawMessage("7"), "999": json.RawMessage("999")}
	require.Equal(t, []stream.State{{"": json.RawMessage(`"listing"`)}, want}, got)
	require.EqualValues(t, 3, tb.cps.asked.Load(), "three cursors read, not 1001")

	got = nil
	whole := job("dashboards", extract)
	whole.Desc.Partitioned = true
	_, err = Run(context.Background(), tb.plan(whole))
	require.NoError(t, err)
	require.Len(t, got[0], 1001)
	require.Equal(t, want, got[1])
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
	p := tb.plan(job("a", emit(1<<30, 1)))
	p.Config.GroupBatches = 1 // one batch per load: the error names batch 2
	res, err := Run(context.Background(), p)
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
			out <- stream.Batch{Requests: 1, Cursor: json.RawMessage(`1`)}
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
	// Batch 5 may share its load with the batches that waited for it: the whole group
	// commits, and the stored cursor is exactly the last committed batch's.
	require.GreaterOrEqual(t, r.Batches, 5)
	require.ErrorIs(t, r.Err, context.Canceled)
	require.Equal(t, json.RawMessage(strconv.Itoa(r.Batches)), tb.loader.cursor["src.a"])

	fin := tb.cps.finishedByStream()
	require.Equal(t, stream.RunCancelled, fin["src.a"].Status, "recorded although ctx was cancelled")
	require.Equal(t, r.Batches, fin["src.a"].Loaded.Inserted)
	require.Equal(t, r.Batches, tb.loader.rows("src.a"))
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
			p.Config.GroupBatches = 1
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
	p.Config.GroupBatches = 1 // one progress call per committed load
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

func TestRunGroupCommitsWaitingBatches(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	const partitions, perPartition = 100, 4
	// Every load waits until the extractor has sent everything, so the batches
	// accumulate behind the first loads and must be committed in groups.
	sent := make(chan struct{})
	var mu sync.Mutex
	last := map[string]int{}
	tb.loader.hook = func(ctx context.Context, d stream.Desc, b stream.Batch) error {
		<-sent
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
	extract := func(ctx context.Context, req stream.Request, out chan<- stream.Batch) error {
		defer close(sent)
		for i := 1; i <= perPartition; i++ {
			for p := range partitions {
				b := stream.Batch{Partition: "p" + strconv.Itoa(p), Cursor: json.RawMessage(strconv.Itoa(i)), Requests: 1,
					Rows: map[string][]stream.Row{"src.a": {{p}, {i}}}}
				select {
				case out <- b:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		return nil
	}
	plan := tb.plan(job("a", extract))
	// Room for everything the extractor sends while the loads wait for it to finish.
	plan.Config.QueueRows = 2 * partitions * perPartition
	res, err := Run(context.Background(), plan)
	require.NoError(t, err)
	r := res.Streams[0]
	require.Equal(t, partitions*perPartition, r.Batches)
	require.Equal(t, 2*partitions*perPartition, r.Loaded.Inserted)
	require.Equal(t, partitions*perPartition, r.Requests)
	require.Equal(t, 2*partitions*perPartition, tb.loader.rows("src.a"))
	// One load per worker while the extractor sends, then a few groups: far fewer
	// transactions than batches.
	require.LessOrEqual(t, tb.loader.loads, 4*DefaultLoadWorkers)
	for p := range partitions {
		require.Equal(t, json.RawMessage(strconv.Itoa(perPartition)), tb.loader.partCursor["src.a/p"+strconv.Itoa(p)], "partition p%d", p)
	}
}

func TestRunGroupLimits(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	const batches, groupBatches, groupRows = 60, 7, 10
	var mu sync.Mutex
	var sizes []int // batches per load
	var rowsPerLoad []int
	var current struct{ batches, rows int }
	var held, maxHeld atomic.Int32 // batches sent and not committed
	tb.loader.hook = func(ctx context.Context, d stream.Desc, b stream.Batch) error {
		time.Sleep(100 * time.Microsecond) // a slow load, so batches wait (not asserted)
		mu.Lock()
		defer mu.Unlock()
		current.batches++
		current.rows += b.Len()
		if b.Cursor != nil { // the group's last batch marks its end (see below)
			sizes = append(sizes, current.batches)
			rowsPerLoad = append(rowsPerLoad, current.rows)
			current.batches, current.rows = 0, 0
		}
		return nil
	}
	extract := func(ctx context.Context, req stream.Request, out chan<- stream.Batch) error {
		for i := 1; i <= batches; i++ {
			n := 1 + i%3 // 1 to 3 rows
			b := stream.Batch{Rows: map[string][]stream.Row{"src.a": make([]stream.Row, n)}, Requests: 1}
			select {
			case out <- b:
				h := held.Add(1)
				for m := maxHeld.Load(); h > m && !maxHeld.CompareAndSwap(m, h); m = maxHeld.Load() {
				}
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	p := tb.plan(job("a", extract))
	p.Config.LoadWorkers = 1
	p.Config.GroupBatches = groupBatches
	p.Config.GroupRows = groupRows
	p.Config.QueueBatches = 20
	p.Config.Buffer = 2
	// Mark each Load's last batch so the hook can tell the groups apart.
	loader := &markingLoader{Loader: tb.loader, committed: func(n int) { held.Add(-int32(n)) }}
	p.Loader = loader
	res, err := Run(context.Background(), p)
	require.NoError(t, err)
	require.Equal(t, batches, res.Streams[0].Batches)
	for i := range sizes {
		require.LessOrEqual(t, sizes[i], groupBatches)
		require.True(t, rowsPerLoad[i] <= groupRows || sizes[i] == 1, "load %d: %d rows in %d batches", i, rowsPerLoad[i], sizes[i])
	}
	// Held: at most QueueBatches received by the dispatcher, Buffer in the channel,
	// and the one being sent.
	require.LessOrEqual(t, int(maxHeld.Load()), 20+2+1)
}

// markingLoader sets a cursor on the last batch of each Load (so a hook sees where a
// group ends) and reports committed batches.
type markingLoader struct {
	Loader
	committed func(n int)
}

func (m *markingLoader) Load(ctx context.Context, runID int64, desc stream.Desc, bs ...stream.Batch) (stream.LoadResult, error) {
	bs = slices.Clone(bs)
	bs[len(bs)-1].Cursor = json.RawMessage("1")
	res, err := m.Loader.Load(ctx, runID, desc, bs...)
	if err == nil {
		m.committed(len(bs))
	}
	return res, err
}

func TestDescribeGroup(t *testing.T) {
	t.Parallel()
	one := []numbered{{stream.Batch{Partition: "42"}, 7}}
	require.Equal(t, `load batch 7 (partition "42")`, describeGroup(one))
	var many []numbered
	for i, p := range []string{"1", "2", "1", "3", "4", "5"} {
		many = append(many, numbered{stream.Batch{Partition: p}, 10 + i})
	}
	require.Equal(t, `load batches 10–15 (6 batches, partitions "1", "2", "3", …)`, describeGroup(many))
}

// A load worker holding back a small group (GroupLinger) stops waiting when the
// stream ends, when the queue budget is full and when the run is cancelled: with an
// hour's linger each of these runs still finishes, with every batch committed.
func TestRunGroupLingerEnds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name             string
		batches, perRows int
		queueRows        int
	}{
		{"stream ends", 3, 2, 0},
		{"budget full", 50, 3, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tb := setup(t)
			p := tb.plan(job("a", emit(tc.batches, tc.perRows)))
			p.Config.GroupLinger = time.Hour
			p.Config.QueueRows = tc.queueRows
			p.Config.LoadWorkers = 1
			res, err := Run(context.Background(), p)
			require.NoError(t, err)
			require.Equal(t, tc.batches, res.Streams[0].Batches)
			require.Equal(t, tc.batches*tc.perRows, tb.loader.rows("src.a"))
			require.Equal(t, json.RawMessage(strconv.Itoa(tc.batches)), tb.loader.cursor["src.a"])
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		extract := func(ctx context.Context, req stream.Request, out chan<- stream.Batch) error {
			b := stream.Batch{Rows: map[string][]stream.Row{"src.a": {{1}}}, Cursor: json.RawMessage("1"), Requests: 1}
			select {
			case out <- b:
			case <-ctx.Done():
				return ctx.Err()
			}
			cancel() // the worker may be lingering over batch 1
			<-ctx.Done()
			return ctx.Err()
		}
		p := tb.plan(job("a", extract))
		p.Config.GroupLinger = time.Hour
		res, err := Run(ctx, p)
		require.NoError(t, err)
		require.Equal(t, stream.RunCancelled, res.Streams[0].Status)
	})
}

// A batch that cannot be queued yet stays in the channel or with the extractor: while a
// batch above QueueRows loads, the extractor has sent one more (into the channel's
// Buffer) and waits with the next, rather than the dispatcher holding a third.
func TestRunFullQueueLeavesBatchInChannel(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	release := holdLoads(tb)
	const batches, rows = 5, 10
	var sent atomic.Int32
	p := tb.plan(job("a", countedBatches(batches, rows, &sent)))
	p.Config = Config{QueueRows: rows, Buffer: 1, LoadWorkers: 1}
	type result struct {
		res *Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := Run(context.Background(), p)
		done <- result{res, err}
	}()
	// The first batch loads (and blocks), the second waits in the channel.
	require.Eventually(t, func() bool { return sent.Load() >= 2 }, 10*time.Second, time.Millisecond)
	require.Never(t, func() bool { return sent.Load() > 2 }, 50*time.Millisecond, time.Millisecond)
	close(release)
	r := <-done
	require.NoError(t, r.err)
	require.Equal(t, batches, r.res.Streams[0].Batches)
	require.Equal(t, batches*rows, tb.loader.rows("src.a"))
}

// What a stream's extractor gets to send while its first batch loads (and blocks): large
// batches (two would not fit QueueRows) stop at one, the extractor waiting with the
// second; small ones gather until the next would not fit. Every batch commits.
func TestRunQueueAdmitsByLastBatchSize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name             string
		rows, wantQueued int
	}{
		{"large batches", 6, 1},
		{"small batches", 2, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tb := setup(t)
			release := holdLoads(tb)
			const batches = 8
			var sent atomic.Int32
			p := tb.plan(job("a", countedBatches(batches, tc.rows, &sent)))
			p.Config = Config{QueueRows: 10, LoadWorkers: 1}
			done := make(chan error, 1)
			go func() {
				_, err := Run(context.Background(), p)
				done <- err
			}()
			require.Eventually(t, func() bool { return sent.Load() >= int32(tc.wantQueued) }, 10*time.Second, time.Millisecond)
			require.Never(t, func() bool { return sent.Load() > int32(tc.wantQueued) }, 50*time.Millisecond, time.Millisecond)
			close(release)
			require.NoError(t, <-done)
			require.Equal(t, batches*tc.rows, tb.loader.rows("src.a"))
			require.Equal(t, json.RawMessage(strconv.Itoa(batches)), tb.loader.cursor["src.a"])
		})
	}
}

// While a stream's queue is full, its extractor's next API request waits
// (stream.Request.Room) instead of fetching a page that could only wait in memory: with
// every load held, a stream of pages larger than half the queue has fetched only the
// page that is loading; once loads go on, every page is fetched and committed.
func TestRunHoldsBackRequestsWhileQueueFull(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	release := holdLoads(tb)
	held := tb.loader.hook
	loading := make(chan struct{})
	var once sync.Once
	tb.loader.hook = func(ctx context.Context, d stream.Desc, b stream.Batch) error {
		once.Do(func() { close(loading) })
		return held(ctx, d, b)
	}
	const pages, rows = 5, 6
	var fetched atomic.Int32
	p := tb.plan(job("a", func(ctx context.Context, req stream.Request, out chan<- stream.Batch) error {
		for i := 1; i <= pages; i++ {
			if err := req.Room(ctx); err != nil { // what an API client does first
				return err
			}
			fetched.Add(1)
			b := stream.Batch{Cursor: json.RawMessage(strconv.Itoa(i)), Rows: map[string][]stream.Row{"src.a": make([]stream.Row, rows)}}
			select {
			case out <- b:
			case <-ctx.Done():
				return ctx.Err()
			}
			if i == 1 {
				// The dispatcher counts a batch just after receiving it: wait until it
				// is loading so the next request sees it counted (see budget.waitRoom).
				<-loading
			}
		}
		return nil
	}))
	p.Config = Config{QueueRows: 10, LoadWorkers: 1}
	done := make(chan error, 1)
	go func() {
		_, err := Run(context.Background(), p)
		done <- err
	}()
	require.Eventually(t, func() bool { return fetched.Load() >= 1 }, 10*time.Second, time.Millisecond)
	require.Never(t, func() bool { return fetched.Load() > 1 }, 50*time.Millisecond, time.Millisecond)
	close(release)
	require.NoError(t, <-done)
	require.Equal(t, int32(pages), fetched.Load())
	require.Equal(t, pages*rows, tb.loader.rows("src.a"))
	require.Equal(t, json.RawMessage(strconv.Itoa(pages)), tb.loader.cursor["src.a"])
}

// holdLoads makes every Load wait until the returned channel is closed.
func holdLoads(tb *testBundle) chan struct{} {
	release := make(chan struct{})
	tb.loader.hook = func(ctx context.Context, d stream.Desc, b stream.Batch) error {
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return release
}

// countedBatches sends n batches of rows rows each, cursors 1 to n, counting the sends
// the dispatcher took.
func countedBatches(n, rows int, sent *atomic.Int32) func(ctx context.Context, req stream.Request, out chan<- stream.Batch) error {
	return func(ctx context.Context, req stream.Request, out chan<- stream.Batch) error {
		for i := 1; i <= n; i++ {
			b := stream.Batch{Cursor: json.RawMessage(strconv.Itoa(i)), Rows: map[string][]stream.Row{"src.a": make([]stream.Row, rows)}}
			select {
			case out <- b:
				sent.Add(1)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
}

// Requests an extractor made after its last batch (cut off before the next one) are
// reported in a requests-only batch, which is counted in the run's record and not loaded.
func TestRunCountsRequestsOfCutOffStream(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cutOff := func(ctx context.Context, req stream.Request, out chan<- stream.Batch) error {
		out <- stream.Batch{Rows: map[string][]stream.Row{"src.a": make([]stream.Row, 3)}, Cursor: json.RawMessage(`1`), Requests: 2}
		<-ctx.Done()                     // waiting for the rate limiter when the pass ends
		out <- stream.Batch{Requests: 5} // what no batch carried
		return ctx.Err()
	}
	p := tb.plan(job("a", cutOff))
	p.Config.OnProgress = func(r StreamResult) {
		if r.Batches == 1 {
			cancel() // the pass ends once the first batch has committed
		}
	}
	res, err := Run(ctx, p)
	require.NoError(t, err)
	r := res.Streams[0]
	require.Equal(t, stream.RunCancelled, r.Status)
	require.Equal(t, 7, r.Requests)
	require.Equal(t, 1, r.Batches, "the requests-only batch is not loaded")
	require.Equal(t, 7, tb.cps.finishedByStream()["src.a"].Requests)
}

// TestRunAfterEarlierWaitsForOtherPartitions: a listing cursor (partition "") sent
// after a chat's batch commits only after that chat's batch, though another worker
// loads it; cut off while the chat loads, the listing cursor is not stored at all.
func TestRunAfterEarlierWaitsForOtherPartitions(t *testing.T) {
	t.Parallel()
	chat := "chat1"
	if partitionWorker(chat, 2) == partitionWorker("", 2) {
		chat = "chat2" // the two must load on different workers
	}
	require.NotEqual(t, partitionWorker(chat, 2), partitionWorker("", 2))
	for _, cutOff := range []bool{false, true} {
		t.Run(fmt.Sprintf("cutOff=%v", cutOff), func(t *testing.T) {
			t.Parallel()
			tb := setup(t)
			var chatDone, listingTried atomic.Bool
			release := make(chan struct{})
			tb.loader.hook = func(ctx context.Context, d stream.Desc, b stream.Batch) error {
				switch b.Partition {
				case chat:
					select {
					case <-release:
					case <-ctx.Done():
						return ctx.Err()
					}
					chatDone.Store(true)
				case "":
					listingTried.Store(true)
					if !chatDone.Load() {
						return errors.New("listing cursor loaded before the chat it covers committed")
					}
				}
				return nil
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			extract := func(ctx context.Context, req stream.Request, out chan<- stream.Batch) error {
				for _, b := range []stream.Batch{
					{Partition: chat, Cursor: json.RawMessage(`1`), Rows: map[string][]stream.Row{"src.a": {{1}}}},
					{Partition: "", Cursor: json.RawMessage(`"page1"`), AfterEarlier: true},
				} {
					select {
					case out <- b:
					case <-ctx.Done():
						return ctx.Err()
					}
				}
				// Give a listing load that does not wait its chance to run early.
				for i := 0; i < 20 && !listingTried.Load(); i++ {
					time.Sleep(10 * time.Millisecond)
				}
				if cutOff {
					cancel()
				} else {
					close(release)
				}
				return nil
			}
			p := tb.plan(job("a", extract))
			p.Config.LoadWorkers = 2
			res, _ := Run(ctx, p)
			tb.loader.mu.Lock()
			defer tb.loader.mu.Unlock()
			if cutOff {
				require.Equal(t, stream.RunCancelled, res.Streams[0].Status)
				require.NotContains(t, tb.loader.partCursor, "src.a/", "no listing cursor past an uncommitted chat")
				return
			}
			require.Equal(t, stream.RunSucceeded, res.Streams[0].Status, "%v", res.Streams[0].Err)
			require.Equal(t, json.RawMessage(`"page1"`), tb.loader.partCursor["src.a/"])
		})
	}
}
