package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/crmsync/crmsync/internal/stream"
)

// Defaults for Config's zero fields.
const (
	DefaultConcurrency  = 4
	DefaultBuffer       = 0
	DefaultLoadWorkers  = 2
	DefaultLoadGrace    = 10 * time.Second
	DefaultGroupRows    = 500
	DefaultGroupBatches = 500
	DefaultQueueRows    = DefaultGroupRows
	DefaultQueueBatches = 2 * DefaultGroupBatches
	DefaultGroupLinger  = 10 * time.Millisecond
	// finishTimeout bounds the final sync.runs write, which runs detached from the
	// (possibly cancelled) run context so a cancelled run is still recorded.
	finishTimeout = 10 * time.Second
)

// Config tunes a Run. The zero value is usable.
type Config struct {
	// Concurrency is the number of streams run at once (default 4). Each running
	// stream uses a database connection per load worker while it loads, so the pool
	// needs about LoadWorkers×Concurrency connections.
	Concurrency int
	// Buffer is the number of batches that may wait in the channel between a stream's
	// extractor and the dispatcher that hands them to the load workers (default 0: the
	// extractor hands each batch over directly; the queue behind the dispatcher already
	// lets it run ahead of the loads, and a buffered batch is one more page in memory).
	Buffer int
	// QueueRows and QueueBatches bound what a stream has received but not committed
	// yet (waiting for a load worker or being loaded): a batch is received only while
	// one the size of the last still fits in QueueRows and fewer than QueueBatches are
	// held, or when nothing is (defaults GroupRows rows, i.e. 500, and 1,000 batches).
	// The extractor's API requests wait for the same room (stream.Request.Room), so a
	// stream holds about QueueRows rows, Buffer batches in the channel and what the
	// requests under way when the room ran out bring. A batch above QueueRows is
	// admitted alone, so a stream of large pages fetches its next page once the one
	// loading has committed; a stream of small batches (one per chat) still gathers
	// dozens of them while a group loads, which is what group commit needs.
	QueueRows, QueueBatches int
	// GroupRows and GroupBatches bound one group commit: a load worker commits every
	// batch waiting for it in one Load, up to GroupRows rows (at least one batch) and
	// GroupBatches batches (defaults 500 and 500). Small batches (one per chat, ~7
	// rows) then share a transaction instead of paying one each, and a batch above
	// GroupRows is loaded alone. Larger groups only cost memory: a group's rows and the
	// loader's working data for them are held until it commits, and the queue admits
	// as many rows as a group holds (BenchmarkPeakMemory and BenchmarkFullSync weigh
	// the two). GroupBatches 1 commits each batch on its own.
	GroupRows, GroupBatches int
	// GroupLinger is how long a load worker holds back a group below GroupRows and
	// GroupBatches while the stream may still send more (default 10ms; negative: never).
	// It ends early when the group fills, the stream ends, the queue budget is full
	// (nothing more can come until a commit) or the run stops. Without it a stream of
	// one small batch per chat commits what arrived during the previous load, a few
	// dozen rows, in a transaction of its own.
	GroupLinger time.Duration
	// LoadGrace is how long the batch being loaded when the run is cancelled may keep
	// going so it can commit rather than be thrown away (default 10s). Past it the
	// load's context is cancelled and its transaction rolls back. A negative value
	// means no grace.
	LoadGrace time.Duration
	// Logger receives one line per stream run (default: discard).
	Logger *slog.Logger
	// OnProgress, if set, is called with a stream's running totals when it starts,
	// after each committed batch, and once with its final result. It is called from
	// the streams' goroutines, concurrently for different streams; it must be quick.
	OnProgress func(StreamResult)
	// LoadWorkers is the number of a stream's loads run at once (default 2), each on
	// its own connection. Batches of one partition always go to the same worker, in
	// order; an unpartitioned stream has one load at a time. Since a worker commits
	// every batch waiting for it at once, more workers mostly mean more, smaller
	// transactions (BenchmarkFullSync compares the counts); 2 keeps one partition's
	// large batch from holding up every other partition.
	LoadWorkers int
	// Now returns the current time (default time.Now); tests pin it.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	c.Buffer = max(c.Buffer, DefaultBuffer)
	if c.LoadWorkers <= 0 {
		c.LoadWorkers = DefaultLoadWorkers
	}
	c.GroupRows = cmp.Or(max(c.GroupRows, 0), DefaultGroupRows)
	c.GroupBatches = cmp.Or(max(c.GroupBatches, 0), DefaultGroupBatches)
	c.QueueRows = cmp.Or(max(c.QueueRows, 0), max(DefaultQueueRows, c.GroupRows))
	c.QueueBatches = cmp.Or(max(c.QueueBatches, 0), max(DefaultQueueBatches, 2*c.GroupBatches))
	if c.GroupLinger == 0 {
		c.GroupLinger = DefaultGroupLinger
	} else if c.GroupLinger < 0 {
		c.GroupLinger = 0
	}
	if c.LoadGrace == 0 {
		c.LoadGrace = DefaultLoadGrace
	} else if c.LoadGrace < 0 {
		c.LoadGrace = 0
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Job is one stream to run and the extractor that runs it.
type Job struct {
	Extractor Extractor
	Desc      stream.Desc
}

// Plan is one sync: the streams to run and the parts that run them.
type Plan struct {
	// Jobs are the streams, each at most once (see Select).
	Jobs []Job
	// Loader commits each batch with its cursor.
	Loader Loader
	// Checkpoints provides cursors, run records and locks.
	Checkpoints Checkpoints
	// FullRefresh asks every stream for a full read, ignoring stored cursors.
	FullRefresh bool
	// Config tunes concurrency, buffering and logging.
	Config Config
}

func (p Plan) validate() error {
	if p.Loader == nil {
		return errors.New("plan: Loader is nil")
	}
	if p.Checkpoints == nil {
		return errors.New("plan: Checkpoints is nil")
	}
	seen := make(map[string]bool, len(p.Jobs))
	for i, j := range p.Jobs {
		if j.Extractor == nil {
			return fmt.Errorf("plan: Jobs[%d] (%s): Extractor is nil", i, j.Desc.ID())
		}
		if j.Desc.Source == "" || j.Desc.Name == "" {
			return fmt.Errorf("plan: Jobs[%d]: stream has no source or name", i)
		}
		if seen[j.Desc.ID()] {
			return fmt.Errorf("plan: stream %s listed twice", j.Desc.ID())
		}
		seen[j.Desc.ID()] = true
	}
	return nil
}

// StreamResult is what one stream's run did.
type StreamResult struct {
	Source string
	Stream string
	// RunID is the sync.runs row (0 when the stream never started: skipped, or
	// cancelled before its turn).
	RunID  int64
	Status stream.RunStatus
	// Requests is the API requests reported by the extractor's batches.
	Requests int
	// Read is the rows handed to the loader (every table) plus the extractor's rejects.
	Read int
	// Batches is the number of batches committed.
	Batches int
	// Commits is the number of transactions that committed them (a load worker commits
	// the batches waiting for it together; see Config.GroupRows).
	Commits int
	// Loaded sums the committed loads.
	Loaded   stream.LoadResult
	Started  time.Time
	Duration time.Duration
	// Err is the cause of a failure (status failed) or of a cancellation.
	Err error
	// Notes are the distinct notes of the extractor's batches, in arrival order.
	Notes []string
}

// ID is "source.stream".
func (r StreamResult) ID() string { return r.Source + "." + r.Stream }

// Result is the outcome of a Run: one StreamResult per job, in Plan.Jobs order.
type Result struct {
	Started  time.Time
	Duration time.Duration
	Streams  []StreamResult
}

// Count returns how many streams ended with status s.
func (r *Result) Count(s stream.RunStatus) int {
	n := 0
	for _, sr := range r.Streams {
		if sr.Status == s {
			n++
		}
	}
	return n
}

// Failed returns the streams whose status is failed.
func (r *Result) Failed() []StreamResult {
	var out []StreamResult
	for _, sr := range r.Streams {
		if sr.Status == stream.RunFailed {
			out = append(out, sr)
		}
	}
	return out
}

// PartialError reports that some streams of a Run failed while the others ran. It
// unwraps to each failed stream's error (errors.Is / errors.As see every cause).
type PartialError struct {
	// Failed are the failed streams' results.
	Failed []StreamResult
	// Total is the number of streams in the run.
	Total int
}

func (e *PartialError) Error() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(len(e.Failed)) + " of " + strconv.Itoa(e.Total) + " streams failed")
	for i, f := range e.Failed {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Err.Error())
	}
	return b.String()
}

// Unwrap returns the failed streams' errors.
func (e *PartialError) Unwrap() []error {
	errs := make([]error, 0, len(e.Failed))
	for _, f := range e.Failed {
		errs = append(errs, f.Err)
	}
	return errs
}

// Run runs every job of the plan, up to Config.Concurrency at once: each source's
// streams in the order startOrder gives (synced streams first, then new ones, then
// backfills in progress), a free slot going to the source with the fewest streams
// running (see dispatch). It returns each stream's outcome in plan order. The error is
// a *PartialError when some streams failed (their results are still in the Result), or
// a plan error (nil Result) when the plan is invalid. Cancelled and skipped streams are not failures: a cancelled stream resumes
// from its last committed cursor on the next run.
func Run(ctx context.Context, p Plan) (*Result, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	cfg := p.Config.withDefaults()
	res := &Result{Started: cfg.Now(), Streams: make([]StreamResult, len(p.Jobs))}

	var hist map[string]stream.History
	if h, ok := p.Checkpoints.(historian); ok && len(p.Jobs) > 1 {
		descs := make([]stream.Desc, len(p.Jobs))
		for i, j := range p.Jobs {
			descs[i] = j.Desc
		}
		var err error
		if hist, err = h.History(ctx, descs); err != nil {
			cfg.Logger.Warn("run history unreadable; streams start in plan order by mode", "err", err)
		}
	}
	// One stream failing does not stop the others: each records its own outcome.
	dispatch(p.Jobs, startOrder(p.Jobs, hist), cfg.Concurrency, func(i int) {
		res.Streams[i] = runStream(ctx, p, cfg, p.Jobs[i])
	})
	res.Duration = cfg.Now().Sub(res.Started)

	if failed := res.Failed(); len(failed) > 0 {
		return res, &PartialError{Failed: failed, Total: len(res.Streams)}
	}
	return res, nil
}

// runStream runs one stream: lock, run record, state, extract→load, run outcome.
func runStream(ctx context.Context, p Plan, cfg Config, job Job) StreamResult {
	desc := job.Desc
	r := StreamResult{Source: desc.Source, Stream: desc.Name, Started: cfg.Now(), Status: stream.RunRunning}
	log := cfg.Logger.With("stream", desc.ID())

	// The stream may have waited for a concurrency slot while the run was cancelled.
	if err := ctx.Err(); err != nil {
		r.Status, r.Err = stream.RunCancelled, fmt.Errorf("stream %s: not started: %w", desc.ID(), context.Cause(ctx))
		return r
	}

	// Detached from ctx: a cancellation arriving while the row is inserted must not
	// leave a row that says "running" (inserted, but its id never returned). pump then
	// sees the cancelled ctx and the run is finished as cancelled.
	sctx, cancelStart := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	var ok bool
	var err error
	r.RunID, ok, err = p.Checkpoints.Begin(sctx, stream.RunRecord{
		Source: desc.Source, Stream: desc.Name, Started: r.Started, Status: stream.RunRunning,
	})
	cancelStart()
	if err != nil {
		return finishEarly(ctx, p, cfg, log, r, fmt.Errorf("stream %s: start run: %w", desc.ID(), err))
	}
	if !ok {
		r.Status = stream.RunSkipped
		r.Duration = cfg.Now().Sub(r.Started)
		log.Info("stream " + desc.ID() + " is running in another process; skipped")
		progress(cfg, r)
		return r
	}
	progress(cfg, r)

	err = pump(ctx, p, cfg, job, &r)
	r.Duration = cfg.Now().Sub(r.Started)
	switch {
	case err == nil:
		r.Status = stream.RunSucceeded
	case ctx.Err() != nil:
		// The run was stopped from outside (signal, --max-duration): whatever the
		// parts returned while unwinding, this is a cancellation, not a failure.
		r.Status = stream.RunCancelled
		r.Err = fmt.Errorf("stream %s: cancelled: %w", desc.ID(), context.Cause(ctx))
	default:
		r.Status = stream.RunFailed
		r.Err = fmt.Errorf("stream %s: %w", desc.ID(), err)
	}

	rec := stream.RunRecord{
		ID: r.RunID, Source: r.Source, Stream: r.Stream, Started: r.Started,
		Finished: r.Started.Add(r.Duration), Status: r.Status,
		Requests: r.Requests, Read: r.Read, Loaded: r.Loaded, Notes: strings.Join(r.Notes, "; "),
	}
	if r.Err != nil {
		rec.Error = r.Err.Error()
	}
	// Detached from ctx: a cancelled run must still be recorded as cancelled.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if ferr := p.Checkpoints.FinishRun(fctx, rec); ferr != nil {
		ferr = fmt.Errorf("stream %s: finish run %d: %w", desc.ID(), r.RunID, ferr)
		if r.Status == stream.RunSucceeded {
			r.Status, r.Err = stream.RunFailed, ferr
		} else {
			r.Err = errors.Join(r.Err, ferr)
		}
	}
	logResult(log, r)
	progress(cfg, r)
	return r
}

// finishEarly ends a stream that failed before its run record existed, and records it
// (a run row of its own) so that sync.runs shows the failure.
func finishEarly(ctx context.Context, p Plan, cfg Config, log *slog.Logger, r StreamResult, err error) StreamResult {
	r.Duration = cfg.Now().Sub(r.Started)
	r.Err = err
	r.Status = stream.RunFailed
	if ctx.Err() != nil {
		r.Status = stream.RunCancelled
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	rec := stream.RunRecord{Source: r.Source, Stream: r.Stream, Started: r.Started,
		Finished: r.Started.Add(r.Duration), Status: r.Status, Error: err.Error()}
	if ferr := p.Checkpoints.FinishRun(fctx, rec); ferr != nil {
		r.Err = errors.Join(r.Err, fmt.Errorf("record the failed start: %w", ferr))
	}
	logResult(log, r)
	progress(cfg, r)
	return r
}

// pump reads the state, then runs the extractor (producer) and the loads (consumer)
// concurrently. A load failure cancels the extractor; an extractor failure lets the
// batches it already produced commit (they are complete, and each carries its cursor)
// and is then returned. A cancellation of ctx stops both at once (the loads in
// progress keep their grace period). It updates r's counters as batches commit.
//
// Loads of different partitions run in parallel on up to Config.LoadWorkers workers:
// a partition always goes to the same worker, so its batches commit in the order the
// extractor sent them (its cursor only moves forward), while a stream of many small
// partitions (one chat per partition) is not held to one transaction at a time.
func pump(ctx context.Context, p Plan, cfg Config, job Job, r *StreamResult) error {
	desc := job.Desc
	req := stream.Request{Stream: desc, FullRefresh: p.FullRefresh, Started: r.Started}
	var err error
	if desc.CursorsOnDemand {
		// One cursor per chat would grow with the account: the extractor reads them as
		// it reaches the chats.
		req.State, err = p.Checkpoints.Cursors(ctx, desc.Source, desc.Name, []string{""})
		req.Cursors = func(ctx context.Context, partitions []string) (stream.State, error) {
			return p.Checkpoints.Cursors(ctx, desc.Source, desc.Name, partitions)
		}
	} else {
		req.State, err = p.Checkpoints.State(ctx, desc.Source, desc.Name)
	}
	if err != nil {
		return fmt.Errorf("read state: %w", err)
	}

	xctx, stopExtract := context.WithCancelCause(ctx)
	defer stopExtract(nil)
	// lctx stops the dispatch of further batches after a load failed.
	lctx, stopLoads := context.WithCancelCause(ctx)
	defer stopLoads(nil)
	batches := make(chan stream.Batch, cfg.Buffer)
	var (
		mu         sync.Mutex // guards r's counters and loadErr
		extractErr error
		loadErr    error
		g          errgroup.Group
	)
	fail := func(err error) {
		mu.Lock()
		if loadErr == nil {
			loadErr = err
		}
		mu.Unlock()
		stopLoads(err)
		stopExtract(err)
	}

	// The budget bounds what waits or loads; while it is full the dispatcher, and the
	// extractor's next API request, wait.
	held := newBudget(cfg.QueueRows, cfg.QueueBatches)
	req.Room = held.waitRoom
	g.Go(func() (err error) {
		defer func() { extractErr = err }()
		defer close(batches) // the extractor never closes out; its owner does.
		defer recoverInto(&err, "extractor")
		if err := job.Extractor.Extract(xctx, req, batches); err != nil {
			return fmt.Errorf("extract: %w", err)
		}
		return nil
	})

	// Load workers: each takes every batch waiting in its queue (up to a group's
	// limits) and commits them in one Load, so a stream of many small batches (one per
	// chat) pays one transaction per group, not one per batch.
	queues := make([]*loadQueue, cfg.LoadWorkers)
	for i := range queues {
		q := newLoadQueue()
		queues[i] = q
		g.Go(func() (err error) {
			defer func() {
				if err != nil {
					fail(err)
				}
				// After a stop: give back what will never load until the dispatcher closes
				// the queue, so it is never left waiting for room.
				q.discard(held)
			}()
			defer recoverInto(&err, "loader")
			for {
				group, rows, ok := q.take(cfg.GroupRows, cfg.GroupBatches, cfg.GroupLinger, held, lctx.Done())
				if !ok {
					return nil
				}
				if lctx.Err() != nil {
					held.release(rows, len(group))
					return nil // stopped: a cancellation or another worker's failure
				}
				bs := make([]stream.Batch, len(group))
				for i, b := range group {
					bs[i] = b.Batch
				}
				lr, err := load(ctx, p.Loader, cfg.LoadGrace, r.RunID, desc, bs)
				held.release(rows, len(group))
				if err != nil {
					return fmt.Errorf("%s: %w", describeGroup(group), err)
				}
				mu.Lock()
				r.Batches += len(group)
				r.Commits++
				for _, b := range bs {
					r.Read += b.Records(desc.Tables[0].Name)
				}
				r.Loaded.Add(lr)
				r.Duration = cfg.Now().Sub(r.Started)
				snapshot := *r
				mu.Unlock()
				progress(cfg, snapshot)
			}
		})
	}

	// The dispatcher: hands each batch to its partition's worker. After a stop it
	// drains the extractor's channel: an extractor that sends without watching ctx
	// would otherwise block forever once nobody receives.
	g.Go(func() (err error) {
		defer func() {
			for _, q := range queues {
				q.close()
			}
			for b := range batches {
				mu.Lock()
				r.Requests += b.Requests
				mu.Unlock()
			}
		}()
		for seq := 1; ; seq++ {
			// Wait for room before receiving, so a batch that cannot be queued yet is
			// not held here besides the channel's and the extractor's.
			if err := held.waitRoom(lctx); err != nil {
				return nil // stopped while waiting for room
			}
			var b stream.Batch
			var ok bool
			select {
			case <-lctx.Done():
				return nil
			case b, ok = <-batches:
			}
			if !ok {
				return nil
			}
			mu.Lock()
			r.Requests += b.Requests
			for _, n := range b.Notes {
				if !slices.Contains(r.Notes, n) {
					r.Notes = append(r.Notes, n)
				}
			}
			snapshot := *r
			mu.Unlock()
			if b.RequestsOnly() {
				progress(cfg, snapshot)
				continue // nothing to commit
			}
			if b.AfterEarlier {
				if err := held.waitEmpty(lctx); err != nil {
					return nil // stopped: the batch is dropped, its predecessors may not have committed
				}
			}
			// Both cases of the select may have been ready; never queue a load after a stop.
			if lctx.Err() != nil {
				return nil
			}
			held.take(b.Len())
			queues[partitionWorker(b.Partition, len(queues))].push(numbered{b, seq})
			if cfg.GroupLinger > 0 && held.full() {
				// Nothing more comes until a commit: a worker holding back a small
				// group for more (GroupLinger) should load it now.
				for _, q := range queues {
					q.signal()
				}
			}
		}
	})
	_ = g.Wait()
	// The loader's error is the root cause when both failed: it stopped the extractor.
	if loadErr != nil {
		return loadErr
	}
	if extractErr != nil {
		return extractErr
	}
	return context.Cause(ctx) // nil unless cancelled (then batches may have been dropped)
}

// partitionWorker maps a partition to a load worker (FNV-1a), the same one every time.
func partitionWorker(partition string, n int) int {
	if n <= 1 {
		return 0
	}
	h := uint32(2166136261)
	for i := 0; i < len(partition); i++ {
		h ^= uint32(partition[i])
		h *= 16777619
	}
	return int(h % uint32(n))
}

// describeGroup names a group of batches in an error: "load batch 7 (partition
// "42")", or "load batches 7–19 (13 batches, partitions "42", "43", …)".
func describeGroup(group []numbered) string {
	if len(group) == 1 {
		return fmt.Sprintf("load batch %d (partition %q)", group[0].seq, group[0].Partition)
	}
	var parts []string
	seen := map[string]bool{}
	for _, b := range group {
		if seen[b.Partition] {
			continue
		}
		seen[b.Partition] = true
		if len(parts) == 3 {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, strconv.Quote(b.Partition))
	}
	return fmt.Sprintf("load batches %d–%d (%d batches, partitions %s)",
		group[0].seq, group[len(group)-1].seq, len(group), strings.Join(parts, ", "))
}

// load runs one Load under a context that outlives a cancellation of ctx by grace, so
// the batches in progress can commit instead of being rolled back and re-read next run.
func load(ctx context.Context, l Loader, grace time.Duration, runID int64, desc stream.Desc, bs []stream.Batch) (stream.LoadResult, error) {
	lctx, cancel := graceContext(ctx, grace)
	defer cancel()
	return l.Load(lctx, runID, desc, bs...)
}

// errGraceElapsed is the cause of a load's cancellation when its grace period ran out.
var errGraceElapsed = errors.New("grace period for the batch in progress elapsed")

// graceContext returns a context with ctx's values that is cancelled grace after ctx
// is (or when the returned cancel is called).
func graceContext(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	gctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	var (
		mu    sync.Mutex
		timer *time.Timer
		done  bool
	)
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if done {
			return
		}
		timer = time.AfterFunc(grace, func() {
			cancel(fmt.Errorf("%w (%s): %w", errGraceElapsed, grace, context.Cause(ctx)))
		})
	})
	return gctx, func() {
		stop()
		mu.Lock()
		done = true
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
		cancel(context.Canceled)
	}
}

// recoverInto turns a panic in an extractor or loader into the stream's error, so one
// broken stream cannot take the other streams (and the process) down with it.
func recoverInto(err *error, part string) {
	if v := recover(); v != nil {
		*err = fmt.Errorf("%s panicked: %v\n%s", part, v, debug.Stack())
	}
}

func progress(cfg Config, r StreamResult) {
	if cfg.OnProgress != nil {
		cfg.OnProgress(r)
	}
}

// logResult writes the one line per stream run.
func logResult(log *slog.Logger, r StreamResult) {
	attrs := []any{
		"status", string(r.Status), "run_id", r.RunID, "requests", r.Requests, "rows_read", r.Read,
		"inserted", r.Loaded.Inserted, "updated", r.Loaded.Updated, "unchanged", r.Loaded.Unchanged,
		"deleted", r.Loaded.Deleted, "rejected", r.Loaded.Rejected, "duration", r.Duration.Round(time.Millisecond),
	}
	switch r.Status {
	case stream.RunFailed:
		log.Error("stream failed", append(attrs, "err", r.Err)...)
	case stream.RunCancelled:
		log.Warn("stream cancelled; the next run continues from its last committed batch", append(attrs, "err", r.Err)...)
	default:
		log.Info("stream finished", attrs...)
	}
}
