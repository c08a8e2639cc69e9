package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/pipeline"
)

// cmdRun is `crmsync run`: migrate, one pass of the selected streams, a summary.
func cmdRun(ctx context.Context, a *app, args []string) int {
	fs := a.flags("run", "[--source S] [--stream NAME]... [--full-refresh] [--max-duration D] [--concurrency N] [--log-format text|json] [--no-migrate]",
		"Migrates the database, runs every enabled stream (or the named ones) once, prints a summary\n"+
			"table and exits: 0 when every stream succeeded, was skipped (running elsewhere) or was cut\n"+
			"off by --max-duration; 1 when some stream failed (the others still ran and committed) or\n"+
			"the run was interrupted; 2 on bad usage or configuration.", true)
	var (
		sourceName  = fs.String("source", "", "run only this source's streams ("+platformNames()+")")
		streams     stringList
		fullRefresh = fs.Bool("full-refresh", false, "ignore stored cursors and re-read everything (cursors are still written)")
		maxDuration = fs.Duration("max-duration", 0, "stop after this long; streams cut off resume from their checkpoint next run (0 = no limit)")
		concurrency = fs.Int("concurrency", 0, "streams run at once (default CRMSYNC_CONCURRENCY, else 4)")
		logFmt      = fs.String("log-format", "", "text or json (default: text on a terminal, json otherwise)")
		noMigrate   = fs.Bool("no-migrate", false, "do not apply pending migrations first")
	)
	fs.Var(&streams, "stream", "run this stream (source.name or name; repeatable or comma-separated)")
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	if err := noArgs(fs); err != nil {
		return a.usageErr("run", err)
	}
	env, code, ok := a.env("run", needDatabase|needSource)
	if !ok {
		return code
	}
	format, err := logFormat(*logFmt, env.LogFormat)
	if err != nil {
		return a.usageErr("run", err)
	}
	if *maxDuration < 0 {
		return a.usageErr("run", errors.New("--max-duration: must not be negative"))
	}
	conc := env.Concurrency
	if isSet(fs, "concurrency") {
		if *concurrency < 1 || *concurrency > config.MaxConcurrency {
			return a.usageErr("run", fmt.Errorf("--concurrency: %d is not between 1 and %d", *concurrency, config.MaxConcurrency))
		}
		conc = *concurrency
	}

	view := newProgressView(a.stderr, a.stderrTTY)
	logger := a.newLogger(format, env.LogLevel, view)
	view.logger = logger
	sources, err := buildSources(env, logger, a.tune)
	if err != nil {
		return a.usageErr("run", err)
	}
	jobs, err := pipeline.Select(extractorsOf(sources), pipeline.Selection{Source: *sourceName, Streams: streams})
	if err != nil {
		return a.usageErr("run", selectionHint(err, pipeline.Selection{Source: *sourceName, Streams: streams}, env))
	}
	if len(jobs) == 0 {
		return a.usageErr("run", errors.New("no stream selected"))
	}

	eng, err := openEngine(ctx, env, logger, sources, conc, *noMigrate)
	if err != nil {
		return a.failure("run", err, env.secrets())
	}
	defer eng.close()
	logger.Info("sync starting", "streams", len(jobs), "concurrency", conc, "full_refresh", *fullRefresh, "database", eng.target)

	before := clientStats(sources)
	view.start(ctx, len(jobs))
	res, err := eng.sync(ctx, syncOptions{jobs: jobs, fullRefresh: *fullRefresh, maxDuration: *maxDuration, onProgress: view.update})
	view.stop()
	if res == nil {
		return a.failure("run", err, env.secrets())
	}
	printSummary(a.stdout, res, sourceLines(sources, before), env.secrets())

	switch {
	case len(res.Failed()) > 0:
		return exitFailed
	case ctx.Err() != nil:
		// Interrupted (SIGINT/SIGTERM): what committed stays committed, but the pass
		// did not complete. A --max-duration cut-off is planned and exits 0.
		fmt.Fprintln(a.stderr, "crmsync run: interrupted; the cancelled streams resume from their checkpoints next run")
		return exitFailed
	}
	return exitOK
}

// clientStats snapshots each source's client counters.
func clientStats(sources []*source) map[string]apiclient.Stats {
	m := make(map[string]apiclient.Stats, len(sources))
	for _, s := range sources {
		m[s.name] = s.client.Stats()
	}
	return m
}

// sourceLines describes each source's HTTP traffic since before.
func sourceLines(sources []*source, before map[string]apiclient.Stats) []string {
	var lines []string
	for _, s := range sources {
		now, b := s.client.Stats(), before[s.name]
		lines = append(lines, fmt.Sprintf("%s: %d HTTP requests (%d retries, %d answered 429, %d failed after retries)",
			s.name, now.Requests-b.Requests, now.Retries-b.Retries, now.Throttled-b.Throttled, now.Failures-b.Failures))
	}
	return lines
}

// roundDuration keeps summaries readable.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	default:
		return d.Round(time.Millisecond)
	}
}
