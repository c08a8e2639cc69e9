package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/pipeline"
	"github.com/crmsync/crmsync/internal/push"
	"github.com/crmsync/crmsync/internal/stream"
	"github.com/crmsync/crmsync/migrations"
)

// cmdPush is `crmsync push`: run the pushes of schedules.yaml (or the named ones) once.
func cmdPush(ctx context.Context, a *app, args []string) int {
	fs := a.flags("push", "[NAME]... [--config schedules.yaml] [--dry-run] [--retry-unknown] [--log-format text|json] [--no-migrate]",
		"Runs the pushes of the schedules file (or the named ones): each push's query runs in a\n"+
			"read-only transaction, and the rows that are new, changed or due for a retry are sent to\n"+
			"its destination; every row's outcome is recorded in sync.pushes. --dry-run prints what\n"+
			"would be sent and writes nothing, anywhere. Exit codes: 0 every push succeeded (or was\n"+
			"running elsewhere); 1 some push failed or was interrupted (the others still ran); 2 bad\n"+
			"usage or configuration, such as a query missing or mistyping a column.", true)
	var (
		path         = fs.String("config", "schedules.yaml", "schedules file with the pushes: list")
		dryRun       = fs.Bool("dry-run", false, "print what would be sent; send and write nothing")
		retryUnknown = fs.Bool("retry-unknown", false, "send again the rows whose outcome is unknown (Calltouch may then comment twice)")
		logFmt       = fs.String("log-format", "", "text or json (default: text on a terminal, json otherwise)")
		noMigrate    = fs.Bool("no-migrate", false, "do not apply pending migrations first")
	)
	// Names may come before or after the flags.
	names, flagArgs := splitNames(args)
	if code, ok := a.parse(fs, flagArgs); !ok {
		return code
	}
	names = append(names, fs.Args()...)
	all, _ := allExtractors()
	spec, err := config.LoadSchedules(*path, pipeline.Known(all))
	if err != nil {
		return a.usageErr("push", err)
	}
	pushes, err := selectPushes(spec, names, *path)
	if err != nil {
		return a.usageErr("push", err)
	}
	env, code, ok := a.env("push", needDatabase)
	if !ok {
		return code
	}
	format, err := logFormat(*logFmt, env.LogFormat)
	if err != nil {
		return a.usageErr("push", err)
	}
	logger := a.newLogger(format, env.LogLevel, nil)
	targets := &pushTargets{getenv: a.getenv, logger: logger, tune: a.tune}
	defer targets.close()
	writers := make([]push.Writer, len(pushes))
	for i, p := range pushes {
		if writers[i], err = targets.writer(p); err != nil {
			return a.usageErr("push", err)
		}
	}
	secrets := append(env.secrets(), targets.secrets...)

	pool, target, err := openPool(ctx, env.DatabaseURL, 2)
	if err != nil {
		return a.failure("push", err, secrets)
	}
	defer pool.Close()
	// A dry run writes nothing, not even the schema: it needs a migrated database.
	if !*noMigrate && !*dryRun {
		if err := migrations.Up(ctx, pool, logger); err != nil {
			return a.failure("push", fmt.Errorf("migrate database %s: %w", target, err), secrets)
		}
	}

	opt := push.Options{DryRun: *dryRun, RetryUnknown: *retryUnknown}
	results, code := runPushes(ctx, pool, logger, pushes, writers, opt)
	if *dryRun {
		printPlans(a.stdout, results, secrets)
	} else {
		printPushSummary(a.stdout, results, secrets)
	}
	for _, r := range results {
		if r.configErr != nil {
			fmt.Fprintf(a.stderr, "crmsync push: %s\n", scrub(r.configErr.Error(), secrets))
		}
	}
	if ctx.Err() != nil && code == exitOK {
		fmt.Fprintln(a.stderr, "crmsync push: interrupted; the rows not sent are sent next run")
		code = exitFailed
	}
	return code
}

// pushRun is one push's result, or the configuration error that stopped it.
type pushRun struct {
	*push.Result
	configErr error
}

// runPushes runs the pushes one after another and returns the worst exit code: 2 for a
// configuration error, 1 for a failed or cancelled push.
func runPushes(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger, pushes []config.Push, writers []push.Writer, opt push.Options) ([]pushRun, int) {
	code := exitOK
	var out []pushRun
	for i, p := range pushes {
		res, err := push.Run(ctx, push.Config{Push: p, Writer: writers[i], Pool: pool, Logger: logger}, opt)
		r := pushRun{Result: res}
		switch {
		case errors.Is(err, push.ErrConfig):
			r.configErr = err
			code = exitUsage
		case res.Status == stream.RunFailed || res.Status == stream.RunCancelled:
			code = max(code, exitFailed)
		}
		out = append(out, r)
	}
	return out, code
}

// splitNames separates the leading positional push names from the flags.
func splitNames(args []string) (names, rest []string) {
	for i, a := range args {
		if strings.HasPrefix(a, "-") {
			return names, args[i:]
		}
		names = append(names, a)
	}
	return names, nil
}

// selectPushes returns the named pushes (every push when none is named).
func selectPushes(spec *config.Spec, names []string, path string) ([]config.Push, error) {
	if len(spec.Pushes) == 0 {
		return nil, fmt.Errorf("%s: no push defined (add a pushes: list; see README, \"Pushes\")", path)
	}
	if len(names) == 0 {
		return spec.Pushes, nil
	}
	var out []config.Push
	for _, n := range names {
		p, ok := spec.Push(n)
		if !ok {
			defined := make([]string, len(spec.Pushes))
			for i, p := range spec.Pushes {
				defined[i] = p.Name
			}
			return nil, fmt.Errorf("push %q: not in %s; defined: %s", n, path, strings.Join(defined, ", "))
		}
		out = append(out, p)
	}
	return out, nil
}

// printPushSummary writes one line per push and the cause of every failure.
func printPushSummary(w io.Writer, results []pushRun, secrets []string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PUSH\tDESTINATION\tSTATUS\tREAD\tSENT\tFAILED\tUNMATCHED\tUNKNOWN\tSKIPPED\tREQUESTS\tDURATION\t")
	for _, r := range results {
		if r.configErr != nil {
			fmt.Fprintf(tw, "%s\t%s\tbad config\t-\t-\t-\t-\t-\t-\t-\t-\t\n", r.Push, r.Destination)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t\n", r.Push, r.Destination, r.Status,
			r.Read, r.Sent, r.Failed, r.Unmatched, r.Unknown, r.Skipped, r.Requests, roundDuration(r.Duration))
	}
	_ = tw.Flush()
	for _, r := range results {
		if r.configErr == nil && r.Err != nil {
			fmt.Fprintf(w, "%s %s: %s\n", r.Push, r.Status, scrub(r.Err.Error(), secrets))
		}
		if r.Plan != nil {
			// Rows failed without a request (a bad row, a repeated key), named.
			for _, row := range r.Plan.Preview["fail"] {
				fmt.Fprintf(w, "%s: %s: %s\n", r.Push, row.Key, scrub(row.Note, secrets))
			}
			if n := r.Plan.Bad - len(r.Plan.Preview["fail"]); n > 0 {
				fmt.Fprintf(w, "%s: ... and %d more bad rows\n", r.Push, n)
			}
			printNoKey(w, r)
		}
	}
	for _, r := range results {
		if r.Failed+r.Unmatched+r.Unknown > 0 {
			fmt.Fprintln(w, "Per-row outcomes: select key, status, attempts, last_error from sync.pushes where status <> 'sent'")
			return
		}
	}
}

func printNoKey(w io.Writer, r pushRun) {
	for i, m := range r.Plan.NoKey {
		if i == 5 {
			fmt.Fprintf(w, "%s: ... and %d more rows without a key\n", r.Push, len(r.Plan.NoKey)-5)
			break
		}
		fmt.Fprintf(w, "%s: %s (not recorded: no key)\n", r.Push, m)
	}
}

// printPlans writes what each push would do, with the first rows of each kind.
func printPlans(w io.Writer, results []pushRun, secrets []string) {
	for _, r := range results {
		if r.configErr != nil {
			continue
		}
		if r.Plan == nil {
			fmt.Fprintf(w, "push %s (%s): %s", r.Push, r.Destination, r.Status)
			if r.Err != nil {
				fmt.Fprintf(w, ": %s", scrub(r.Err.Error(), secrets))
			}
			fmt.Fprintln(w)
			continue
		}
		p := r.Plan
		fmt.Fprintf(w, "push %s (%s), dry run: %d rows read\n", r.Push, r.Destination, p.Read)
		fmt.Fprintf(w, "  would send %d new, update %d changed", p.New, p.Changed+p.Drift)
		if p.Drift > 0 {
			fmt.Fprintf(w, " (%d changed in the destination since)", p.Drift)
		}
		fmt.Fprintf(w, ", retry %d (%d failed or unmatched, %d unknown)\n", p.Retry+p.RetryUnknown, p.Retry, p.RetryUnknown)
		fmt.Fprintf(w, "  would skip %d: %d unchanged, %d already held by the destination, %d given up, %d unknown (not re-sent without --retry-unknown)\n",
			p.Unchanged+p.Already+p.GivenUp+p.UnknownKept, p.Unchanged, p.Already, p.GivenUp, p.UnknownKept)
		if p.Bad+len(p.NoKey) > 0 {
			fmt.Fprintf(w, "  would record %d bad rows as failed; %d rows have no key\n", p.Bad, len(p.NoKey))
		}
		for _, kind := range []string{"send", "update", "retry", "fail", "skip"} {
			for _, row := range p.Preview[kind] {
				payload := row.Payload
				if r := []rune(payload); len(r) > 160 {
					payload = string(r[:159]) + "…"
				}
				fmt.Fprintf(w, "    %-6s %s  %s  (%s)\n", kind, row.Key, scrub(payload, secrets), row.Note)
			}
		}
		printNoKey(w, r)
	}
}

// pushJob is a scheduled push with its writer.
type pushJob struct {
	config.Push
	writer push.Writer
}

// scheduledPushes builds the writers of the pushes that have a schedule. A push whose
// destination has no credentials is left out with a warning, as a job of a disabled
// source is.
func scheduledPushes(spec *config.Spec, targets *pushTargets, logger *slog.Logger) map[string]pushJob {
	out := map[string]pushJob{}
	for _, p := range spec.Pushes {
		if p.Schedule == "" {
			continue
		}
		w, err := targets.writer(p)
		if err != nil {
			logger.Warn("push "+p.Name+" will not run: "+err.Error(), "push", p.Name)
			continue
		}
		out[p.Name] = pushJob{Push: p, writer: w}
	}
	return out
}

// runScheduledPush runs one scheduled push and records it in the metrics.
func runScheduledPush(ctx context.Context, eng *engine, m interface {
	ObservePush(name, status string, d time.Duration, requests, read, sent, failed, unmatched, unknown, skipped int)
}, pj pushJob) error {
	res, err := push.Run(ctx, push.Config{Push: pj.Push, Writer: pj.writer, Pool: eng.pool, Logger: eng.logger}, push.Options{})
	m.ObservePush(pj.Name, string(res.Status), res.Duration, res.Requests, res.Read, res.Sent, res.Failed, res.Unmatched, res.Unknown, res.Skipped)
	eng.logger.Info("push finished", "job", pj.Name, "status", res.Status, "sent", res.Sent, "failed", res.Failed,
		"unmatched", res.Unmatched, "unknown", res.Unknown, "duration", roundDuration(res.Duration))
	if err != nil {
		return err
	}
	return res.Err
}

// printPushStatus is the push part of `crmsync status`: per push, its last run and its
// rows in sync.pushes by status.
func (a *app) printPushStatus(ctx context.Context, pool *pgxpool.Pool, secrets []string) int {
	sts, err := push.Statuses(ctx, pool)
	if err != nil {
		return a.failure("status", err, secrets)
	}
	if len(sts) == 0 {
		return exitOK
	}
	fmt.Fprintln(a.stdout)
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PUSH\tLAST RUN (UTC)\tSTATUS\tREAD\tSENT\tFAILED\tUNMATCHED\tUNKNOWN\tROWS: SENT\tFAILED\tUNMATCHED\tUNKNOWN")
	var failures []string
	for _, s := range sts {
		st := s.RunStatus
		if st == "" {
			st = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", s.Push, timeOr(s.Started, "never"), st,
			s.Read, s.Sent, s.Failed, s.Unmatched, s.Unknown,
			s.Rows[push.Sent], s.Rows[push.Failed], s.Rows[push.Unmatched], s.Rows[push.Unknown]+s.Rows[push.Sending])
		if s.Error != "" {
			failures = append(failures, "push "+s.Push+" "+s.RunStatus+": "+s.Error)
		}
	}
	_ = tw.Flush()
	for _, f := range failures {
		fmt.Fprintln(a.stdout, scrub(f, secrets))
	}
	return exitOK
}
