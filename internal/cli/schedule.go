package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/metrics"
	"github.com/crmsync/crmsync/internal/pipeline"
	"github.com/crmsync/crmsync/internal/scheduler"
)

// cmdSchedule is `crmsync schedule`: the long-running scheduler with /healthz and
// /metrics. Every job runs through the same engine.sync as `crmsync run`.
func cmdSchedule(ctx context.Context, a *app, args []string) int {
	fs := a.flags("schedule", "[--config schedules.yaml] [--http 127.0.0.1:9108] [--run-now]",
		"Runs the jobs of the schedules file on their cron schedules until SIGINT/SIGTERM, serving\n"+
			"/healthz and /metrics on --http. A job still running at its next time is skipped, and\n"+
			"leases in sync.runs keep two processes from running one stream at once. On SIGTERM it stops\n"+
			"scheduling, lets running jobs finish for --soft-stop, then cancels them (their streams\n"+
			"resume from their checkpoints).", true)
	var (
		path        = fs.String("config", "schedules.yaml", "schedules file")
		httpAddr    = fs.String("http", "127.0.0.1:9108", "address of /healthz and /metrics (empty: off)")
		concurrency = fs.Int("concurrency", 0, "streams run at once across all jobs (default CRMSYNC_CONCURRENCY, else 4)")
		logFmt      = fs.String("log-format", "", "text or json (default: text on a terminal, json otherwise)")
		noMigrate   = fs.Bool("no-migrate", false, "do not apply pending migrations at start")
		softStop    = fs.Duration("soft-stop", scheduler.DefaultSoftStopTimeout, "how long running jobs may finish after SIGTERM before they are cancelled")
		runNow      = fs.Bool("run-now", false, "at start, run every job once (one after another; full_refresh jobs excepted) instead of waiting for their first cron time")
	)
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	if err := noArgs(fs); err != nil {
		return a.usageErr("schedule", err)
	}
	all, err := allExtractors()
	if err != nil {
		return a.failure("schedule", err, nil)
	}
	spec, err := config.LoadSchedules(*path, pipeline.Known(all))
	if err != nil {
		return a.usageErr("schedule", err)
	}
	env, code, ok := a.env("schedule", needDatabase|needSource)
	if !ok {
		return code
	}
	format, err := logFormat(*logFmt, env.LogFormat)
	if err != nil {
		return a.usageErr("schedule", err)
	}
	conc := env.Concurrency
	if isSet(fs, "concurrency") {
		if *concurrency < 1 || *concurrency > config.MaxConcurrency {
			return a.usageErr("schedule", fmt.Errorf("--concurrency: %d is not between 1 and %d", *concurrency, config.MaxConcurrency))
		}
		conc = *concurrency
	}
	if *httpAddr != "" {
		if _, _, err := net.SplitHostPort(*httpAddr); err != nil {
			return a.usageErr("schedule", fmt.Errorf("--http: %q is not HOST:PORT", *httpAddr))
		}
	}
	logger := a.newLogger(format, env.LogLevel, nil)
	sources, err := buildSources(env, logger, a.tune)
	if err != nil {
		return a.usageErr("schedule", err)
	}
	// Scheduled pushes are jobs too; their writers share the sources' clients.
	targets := &pushTargets{getenv: a.getenv, logger: logger, tune: a.tune, sources: sources}
	defer targets.close()
	plan, err := planSchedule(spec, *path, sources, targets, logger)
	if err != nil {
		return a.usageErr("schedule", err)
	}

	eng, err := openEngine(ctx, env, logger, sources, conc, *noMigrate)
	if err != nil {
		return a.failure("schedule", err, env.secrets())
	}
	defer eng.close()

	m := metrics.New()
	obs := &clientObserver{m: m, last: clientStats(sources)}
	runJob := func(ctx context.Context, name string) error {
		err := plan.run(ctx, name, eng, m, logger)
		obs.observe(sources)
		return err
	}
	sched, err := scheduler.New(scheduler.Config{
		Jobs: plan.jobs, Run: runJob, Logger: logger, Location: spec.Location(), SoftStopTimeout: *softStop,
		OnSkip: m.ObserveSkip, OnPanic: m.ObservePanic,
	})
	if err != nil {
		return a.usageErr("schedule", fmt.Errorf("%s: %w", *path, err))
	}

	srv, served, err := a.serveMetrics(*httpAddr, m, logger)
	if err != nil {
		return a.failure("schedule", err, nil)
	}

	sched.Start()
	if *runNow {
		sched.RunNow(plan.runNow)
	}
	m.SetUp(true)
	logger.Info("scheduler started", "jobs", len(plan.jobs), "config", *path, "timezone", spec.Location().String(), "database", eng.target)
	code = exitOK
	select {
	case <-ctx.Done():
		logger.Info("stopping: no new runs; running jobs get the soft-stop timeout", "soft_stop", softStop.String())
	case err := <-served:
		logger.Error("metrics server stopped", "err", err)
		code = exitFailed
	}
	m.SetUp(false)
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), *softStop+30*time.Second)
	defer cancel()
	if err := sched.Stop(stopCtx); err != nil {
		logger.Error("stop scheduler", "err", err)
		code = exitFailed
	}
	if srv != nil {
		_ = srv.Shutdown(stopCtx)
	}
	logger.Info("scheduler stopped")
	return code
}

// schedulePlan is the schedules file resolved against the enabled sources, once, at start.
type schedulePlan struct {
	jobs   []scheduler.Job
	syncs  map[string]jobPlan
	pushes map[string]pushJob
	// runNow is what --run-now starts: every job but the full-refresh ones (a first
	// pass reads everything anyway, so they would only read it all a second time).
	runNow []string
}

func planSchedule(spec *config.Spec, path string, sources []*source, targets *pushTargets, logger *slog.Logger) (*schedulePlan, error) {
	p := &schedulePlan{syncs: map[string]jobPlan{}}
	for _, j := range spec.Jobs {
		sel, ok := enabledSelection(j, sources)
		if !ok {
			logger.Warn("job "+j.Name+" has no stream of an enabled source; it will not run", "job", j.Name, "source", j.Source)
			continue
		}
		js, err := pipeline.Select(extractorsOf(sources), sel)
		if err != nil {
			return nil, fmt.Errorf("%s: job %q: %w", path, j.Name, err)
		}
		p.syncs[j.Name] = jobPlan{jobs: js, fullRefresh: j.FullRefresh, maxDuration: j.MaxDuration.Std()}
		p.jobs = append(p.jobs, scheduler.Job{Name: j.Name, Schedule: j.Schedule})
		if !j.FullRefresh {
			p.runNow = append(p.runNow, j.Name)
		}
	}
	p.pushes = scheduledPushes(spec, targets, logger)
	for _, push := range spec.Pushes {
		if _, ok := p.pushes[push.Name]; ok {
			p.jobs = append(p.jobs, scheduler.Job{Name: push.Name, Schedule: push.Schedule})
			p.runNow = append(p.runNow, push.Name)
		}
	}
	if len(p.jobs) == 0 {
		return nil, fmt.Errorf("%s: no job runs a stream of an enabled source", path)
	}
	return p, nil
}

// run runs one scheduled job, a sync or a push, through the engine.
func (p *schedulePlan) run(ctx context.Context, name string, eng *engine, m *metrics.Metrics, logger *slog.Logger) error {
	if pj, ok := p.pushes[name]; ok {
		return runScheduledPush(ctx, eng, m, pj)
	}
	j := p.syncs[name]
	res, err := eng.sync(ctx, syncOptions{jobs: j.jobs, fullRefresh: j.fullRefresh, maxDuration: j.maxDuration})
	if res != nil {
		for _, r := range res.Streams {
			m.ObserveRun(r.Source, r.Stream, string(r.Status), r.Duration, r.Requests, r.Read,
				r.Loaded.Inserted, r.Loaded.Updated, r.Loaded.Unchanged, r.Loaded.Rejected)
			m.ObserveDeletions(r.Source, r.Stream, r.Loaded.MarkedDeleted, r.Loaded.Restored, r.Loaded.PassesHeld)
		}
		logger.Info("job finished", "job", name, "streams", len(res.Streams), "outcome", outcomeCounts(res),
			"duration", roundDuration(res.Duration))
	}
	return err
}

// serveMetrics serves /healthz and /metrics on addr (nothing when addr is empty); served
// receives the server's error should it stop.
func (a *app) serveMetrics(addr string, m *metrics.Metrics, logger *slog.Logger) (*http.Server, <-chan error, error) {
	served := make(chan error, 1)
	if addr == "" {
		if a.ready != nil {
			a.ready("")
		}
		return nil, served, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("--http: listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { served <- srv.Serve(ln) }()
	logger.Info("serving /healthz and /metrics", "addr", ln.Addr().String())
	if a.ready != nil {
		a.ready(ln.Addr().String())
	}
	return srv, served, nil
}

// jobPlan is a scheduled job resolved against the enabled sources.
type jobPlan struct {
	jobs        []pipeline.Job
	fullRefresh bool
	maxDuration time.Duration
}

// enabledSelection narrows a job to the enabled sources; ok is false when nothing of
// it is enabled (a Text Request job on a deployment with only a Leeloo token).
func enabledSelection(j config.Job, sources []*source) (pipeline.Selection, bool) {
	enabled := map[string]bool{}
	for _, s := range sources {
		enabled[s.name] = true
	}
	if j.Source != "" {
		return pipeline.Selection{Source: j.Source, Streams: j.Streams}, enabled[j.Source]
	}
	if len(j.Streams) == 0 {
		return pipeline.Selection{}, true
	}
	var names []string
	for _, n := range j.Streams {
		src, _, qualified := strings.Cut(n, ".")
		if !qualified || enabled[src] {
			names = append(names, n)
		}
	}
	return pipeline.Selection{Streams: names}, len(names) > 0
}

// clientObserver feeds the API clients' counters to the metrics as increments.
type clientObserver struct {
	m    *metrics.Metrics
	mu   sync.Mutex
	last map[string]apiclient.Stats
}

func (o *clientObserver) observe(sources []*source) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, s := range sources {
		now, prev := s.client.Stats(), o.last[s.name]
		o.m.ObserveClient(s.name, now.Requests-prev.Requests, now.Retries-prev.Retries, now.Throttled-prev.Throttled)
		o.last[s.name] = now
	}
}
