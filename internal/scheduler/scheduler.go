// Package scheduler runs named jobs on cron schedules for `crmsync schedule`.
//
// It is a thin wrapper around robfig/cron v3 that adds what a sync daemon needs:
//
//   - every entry is wrapped with cron.SkipIfStillRunning, so a job whose previous run
//     has not finished is skipped (logged and counted), never stacked; and, inside it,
//     with cron.Recover, so a panic in one run is logged with its stack and the job
//     still runs at its next time;
//   - cron's logging goes to log/slog, with the job's name on every line;
//   - Stop is graceful in two steps, after River's SoftStopTimeout: stop scheduling,
//     give running jobs SoftStopTimeout to finish on their own, then cancel their
//     context (a sync commits or rolls back the batch in flight and records the run as
//     cancelled) and wait for them to return.
//
// SkipIfStillRunning only protects one process. Two schedulers (two replicas, or a
// scheduler plus a Kubernetes CronJob) are kept from running the same stream twice by
// the pipeline's PostgreSQL advisory locks: the second one finds the stream locked and
// records it as skipped.
//
// The package knows nothing about streams or configuration: a job is a name and a
// schedule, and Config.Run is called with the name.
package scheduler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"
)

// DefaultSoftStopTimeout is how long Stop lets running jobs finish before cancelling
// them, when Config.SoftStopTimeout is zero. It is below Kubernetes' default 30 s
// termination grace period so a cancelled run still has time to record its outcome.
const DefaultSoftStopTimeout = 20 * time.Second

// Job is one scheduled job.
type Job struct {
	// Name identifies the job; it is passed to Config.Run and appears in logs.
	Name string
	// Schedule is a robfig/cron standard spec (5 fields), a descriptor (@hourly,
	// @every 15m), optionally prefixed with CRON_TZ=Area/City.
	Schedule string
}

// Config configures a Scheduler.
type Config struct {
	// Jobs are the jobs to schedule; names must be unique.
	Jobs []Job
	// Run runs one job to completion. ctx is cancelled when Stop's soft timeout
	// passes. The returned error is logged; it does not stop the scheduler.
	Run func(ctx context.Context, jobName string) error
	// Logger receives one line per job start, finish, skip and panic (default: discard).
	Logger *slog.Logger
	// Location is where schedules without CRON_TZ are read (default time.Local).
	Location *time.Location
	// SoftStopTimeout is how long Stop waits for running jobs before cancelling them
	// (default DefaultSoftStopTimeout).
	SoftStopTimeout time.Duration
	// OnSkip, if set, is called when a run is skipped because the previous one is
	// still running (for metrics).
	OnSkip func(jobName string)
	// OnPanic, if set, is called after a panic in a run was recovered (for metrics).
	OnPanic func(jobName string)
}

// Scheduler runs Config.Jobs on their schedules. Create it with New, then Start and
// Stop it once each.
type Scheduler struct {
	cfg     Config
	cron    *cron.Cron
	ids     map[string]cron.EntryID
	logger  *slog.Logger
	stats   map[string]*jobStats
	ctx     context.Context // parent of every run; cancelled by the hard stop
	cancel  context.CancelFunc
	running atomic.Int64
	stopped sync.Once
	stopErr error
	// halt is closed when Stop begins, so RunNow starts no further job; now tracks
	// RunNow's goroutine, which Stop waits for like cron's own runs.
	halt chan struct{}
	now  sync.WaitGroup
}

type jobStats struct {
	runs, skips, panics atomic.Int64
}

// parser reads the same syntax as cron.ParseStandard (which internal/config validates
// with): five fields or a descriptor, with an optional CRON_TZ= prefix.
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// New validates cfg and registers every job. It fails on a missing Run, an empty or
// duplicate job name, or a schedule cron cannot parse, naming the job.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Run == nil {
		return nil, errors.New("scheduler: Run is required")
	}
	cfg.Logger = cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))
	if cfg.Location == nil {
		cfg.Location = time.Local
	}
	cfg.SoftStopTimeout = cmp.Or(cfg.SoftStopTimeout, DefaultSoftStopTimeout)

	ctx, cancel := context.WithCancel(context.Background())
	s := &Scheduler{
		cfg:    cfg,
		ids:    make(map[string]cron.EntryID, len(cfg.Jobs)),
		logger: cfg.Logger,
		stats:  make(map[string]*jobStats, len(cfg.Jobs)),
		ctx:    ctx,
		cancel: cancel,
		halt:   make(chan struct{}),
	}
	s.cron = cron.New(
		cron.WithLocation(cfg.Location),
		cron.WithParser(parser),
		cron.WithLogger(cronLogger{logger: cfg.Logger}),
	)
	for _, j := range cfg.Jobs {
		if j.Name == "" {
			cancel()
			return nil, fmt.Errorf("scheduler: job with schedule %q: name is required", j.Schedule)
		}
		if _, dup := s.ids[j.Name]; dup {
			cancel()
			return nil, fmt.Errorf("scheduler: job %q: defined twice", j.Name)
		}
		st := &jobStats{}
		s.stats[j.Name] = st
		// One logger per job, so cron's "skip" and "panic" lines (which carry no job
		// name of their own) say which job they are about, and are counted.
		jl := jobLogger{logger: cfg.Logger.With("job", j.Name), job: j.Name, stats: st, onSkip: cfg.OnSkip, onPanic: cfg.OnPanic}
		// Order matters: Recover must sit INSIDE SkipIfStillRunning. cron v3.0.1's
		// SkipIfStillRunning returns its token only when the job returns normally, so a
		// panic passing through it would leave the job skipped forever after.
		wrapped := cron.NewChain(cron.SkipIfStillRunning(jl), cron.Recover(jl)).Then(s.job(j.Name, st))
		id, err := s.cron.AddJob(j.Schedule, wrapped)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("scheduler: job %q: schedule %q: %w", j.Name, j.Schedule, err)
		}
		s.ids[j.Name] = id
	}
	return s, nil
}

// job is the body of one run: call Config.Run with the scheduler's run context and
// log the outcome.
func (s *Scheduler) job(name string, st *jobStats) cron.Job {
	return cron.FuncJob(func() {
		st.runs.Add(1)
		s.running.Add(1)
		defer s.running.Add(-1)
		logger := s.logger.With("job", name)
		started := time.Now()
		logger.Info("job started")
		err := s.cfg.Run(s.ctx, name)
		d := time.Since(started).Round(time.Millisecond)
		switch {
		case err == nil:
			// Debug: the caller logs each run's outcome with its figures (the CLI's
			// "job finished" line); failures below stay visible.
			logger.Debug("job finished", "duration", d)
		case errors.Is(err, context.Canceled) && s.ctx.Err() != nil:
			logger.Warn("job cancelled by shutdown", "duration", d)
		default:
			logger.Error("job failed", "duration", d, "err", err)
		}
	})
}

// Start begins scheduling in a background goroutine. Jobs first run at their next
// scheduled time, not immediately.
func (s *Scheduler) Start() {
	s.cron.Start()
	for _, e := range s.Entries() {
		s.logger.Info("job scheduled", "job", e.Name, "schedule", e.Schedule, "next", e.Next)
	}
}

// RunNow runs the named jobs once each, one after another in the given order, in a
// background goroutine, without waiting for their schedules: a new deployment fills
// its tables at once instead of waiting up to a day for a daily job. A job whose
// scheduled run is still going is skipped as usual. Call it after Start.
func (s *Scheduler) RunNow(names []string) {
	s.now.Add(1)
	go func() {
		defer s.now.Done()
		for _, name := range names {
			id, ok := s.ids[name]
			if !ok {
				continue
			}
			select {
			case <-s.halt:
				return
			default:
			}
			s.logger.Info("running job now (--run-now)", "job", name)
			s.cron.Entry(id).WrappedJob.Run()
		}
	}()
}

// Stop stops scheduling and waits for running jobs: up to SoftStopTimeout for them to
// finish, then it cancels their context and waits for them to return. It returns
// ctx's error if ctx ends first (the jobs are then cancelled but not awaited).
// Calling Stop again returns the first call's result.
func (s *Scheduler) Stop(ctx context.Context) error {
	s.stopped.Do(func() { s.stopErr = s.stop(ctx) })
	return s.stopErr
}

func (s *Scheduler) stop(ctx context.Context) error {
	close(s.halt)
	cronDone := s.cron.Stop() // no new runs from here on; cronDone closes when running jobs return
	done, allDone := context.WithCancel(context.Background())
	go func() {
		<-cronDone.Done()
		s.now.Wait()
		allDone()
	}()
	defer s.cancel()
	if n := s.running.Load(); n > 0 {
		s.logger.Info("scheduler stopping: waiting for running jobs", "running", n, "soft_timeout", s.cfg.SoftStopTimeout)
	}
	soft := time.NewTimer(s.cfg.SoftStopTimeout)
	defer soft.Stop()
	select {
	case <-done.Done():
		return nil
	case <-ctx.Done():
		s.cancel()
		return fmt.Errorf("stop scheduler: %w", ctx.Err())
	case <-soft.C:
	}
	s.logger.Warn("scheduler stopping: soft timeout passed; cancelling running jobs", "running", s.running.Load(), "soft_timeout", s.cfg.SoftStopTimeout)
	s.cancel()
	select {
	case <-done.Done():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop scheduler: %w", ctx.Err())
	}
}

// Running is the number of jobs running right now.
func (s *Scheduler) Running() int { return int(s.running.Load()) }

// EntryInfo describes one scheduled job.
type EntryInfo struct {
	Name     string
	Schedule string
	// Next is the next run time (zero before Start).
	Next time.Time
	// Prev is the last time the job was triggered (zero if never).
	Prev time.Time
	// Runs, Skips and Panics count runs started, runs skipped because the previous one
	// was still running, and runs that panicked.
	Runs, Skips, Panics int64
}

// Entries describes every job, in Config.Jobs order.
func (s *Scheduler) Entries() []EntryInfo {
	out := make([]EntryInfo, 0, len(s.cfg.Jobs))
	for _, j := range s.cfg.Jobs {
		e := s.cron.Entry(s.ids[j.Name])
		st := s.stats[j.Name]
		out = append(out, EntryInfo{
			Name: j.Name, Schedule: j.Schedule, Next: e.Next, Prev: e.Prev,
			Runs: st.runs.Load(), Skips: st.skips.Load(), Panics: st.panics.Load(),
		})
	}
	return out
}

// cronLogger adapts slog to cron.Logger for cron's own bookkeeping lines (start, wake,
// run), which are routine and go to debug.
type cronLogger struct{ logger *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) {
	l.logger.Debug("cron: "+msg, kvAttrs(kv)...)
}

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.logger.Error("cron: "+msg, append(kvAttrs(kv), "err", err)...)
}

// jobLogger is the cron.Logger given to one job's SkipIfStillRunning and Recover
// wrappers: it names the job and counts skips and panics.
type jobLogger struct {
	logger  *slog.Logger
	job     string
	stats   *jobStats
	onSkip  func(string)
	onPanic func(string)
}

func (l jobLogger) Info(msg string, kv ...any) {
	if msg == "skip" { // the only Info line of SkipIfStillRunning
		l.stats.skips.Add(1)
		l.logger.Warn("job skipped: the previous run is still running", kvAttrs(kv)...)
		if l.onSkip != nil {
			l.onSkip(l.job)
		}
		return
	}
	l.logger.Info("cron: "+msg, kvAttrs(kv)...)
}

func (l jobLogger) Error(err error, msg string, kv ...any) {
	if msg == "panic" { // the only Error line of Recover
		l.stats.panics.Add(1)
		l.logger.Error("job panicked; recovered", append(kvAttrs(kv), "err", err)...)
		if l.onPanic != nil {
			l.onPanic(l.job)
		}
		return
	}
	l.logger.Error("cron: "+msg, append(kvAttrs(kv), "err", err)...)
}

// kvAttrs turns cron's alternating key/value list into slog arguments, keeping an odd
// trailing value instead of dropping it.
func kvAttrs(kv []any) []any {
	out := make([]any, 0, len(kv))
	for i := 0; i < len(kv); i += 2 {
		key, ok := kv[i].(string)
		if !ok {
			key = fmt.Sprint(kv[i])
		}
		if i+1 < len(kv) {
			out = append(out, slog.Any(key, kv[i+1]))
		} else {
			out = append(out, slog.Any("extra", kv[i]))
		}
	}
	return out
}
