// Package demo is `crmsync demo` (and so `make demo`): on a fresh machine, with no
// credentials, it shows crmsync doing its job end to end in under two minutes.
//
// Steps, each announced on the output:
//
//  1. serve the simulated Leeloo and Text Request APIs on a random 127.0.0.1 port,
//     without the real APIs' rate limits;
//  2. find a database (see [OpenDatabase]): DATABASE_URL, else the local server on
//     127.0.0.1:5432 (database crmsync_demo, recreated), else a private PostgreSQL
//     started from the installed server binaries;
//  3. run the real CLI as a subprocess — `crmsync migrate up`, then `crmsync run` —
//     so the demo exercises exactly what users run, and print its summary;
//  4. change data in the simulators (new people, messages, orders, contacts,
//     payments; edited orders, archived conversations);
//  5. `crmsync run` again: the incremental sync, with far fewer requests;
//  6. a few analyst queries with their results, and `crmsync status`.
//
// The package does not import the simulator (only internal/cli may): the CLI passes
// the simulator's http.Handler and a function that applies the changes.
package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Config is what the demo needs from the CLI.
type Config struct {
	// Stdout receives the demo's narrative and results; Stderr its warnings.
	Stdout, Stderr io.Writer
	// Executable is the crmsync binary to run as a subprocess (os.Executable()).
	Executable string
	// API serves both simulated APIs: Leeloo under /api/v1 and /api/v2, Text Request
	// under /api/v3.
	API http.Handler
	// LeelooToken and TextRequestKey are the credentials the simulator accepts.
	LeelooToken, TextRequestKey string
	// MoreSources, when set, returns the variables that point crmsync at further
	// simulated sources (TWIN) served by API at base, and a line naming each.
	MoreSources func(base string) (env map[string]string, lines []string)
	// Mutate changes the simulated data between the two syncs and returns one line
	// per kind of change, for the output.
	Mutate func() []string
	// DatabaseURL is the user's DATABASE_URL ("" when unset).
	DatabaseURL string
	// DB overrides database discovery options (tests).
	DB DBOptions
	// Environ is the environment the subprocess starts from, before the demo drops the
	// user's crmsync variables and sets its own (default os.Environ()).
	Environ []string
}

// Run runs the demo. It returns an error when a step cannot go on; a sync in which
// some stream failed is reported and the demo continues.
func Run(ctx context.Context, cfg Config) error {
	out := &printer{w: cfg.Stdout}
	started := time.Now()
	out.title("crmsync demo")
	out.line("crmsync keeps a PostgreSQL warehouse in step with the Leeloo.ai, Text Request, TWIN and Calltouch APIs.")
	out.line("This demo syncs from local simulators of the APIs, so it needs no credentials.")

	// 1. The simulators.
	out.step(1, "Start the simulated APIs")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen for the simulator: %w", err)
	}
	srv := &http.Server{Handler: cfg.API, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	base := "http://" + ln.Addr().String()
	out.line("Leeloo       %s/api/v2 (and /api/v1)", base)
	out.line("Text Request %s/api/v3", base)
	var moreEnv map[string]string
	if cfg.MoreSources != nil {
		var lines []string
		moreEnv, lines = cfg.MoreSources(base)
		for _, l := range lines {
			out.line("%s", l)
		}
	}
	out.line("Note: the simulators run without the real APIs' rate limits (Text Request allows")
	out.line("100 requests a minute), so this demo is much faster than a first sync of a real account.")

	// 2. The database.
	out.step(2, "Find a PostgreSQL database")
	dbOpts := cfg.DB
	if dbOpts.DatabaseURL == "" {
		dbOpts.DatabaseURL = cfg.DatabaseURL
	}
	dbOpts.Logf = func(format string, args ...any) { out.line(format, args...) }
	db, err := OpenDatabase(ctx, dbOpts)
	if err != nil {
		return err
	}
	defer func() {
		if err := db.Close(ctx); err != nil {
			fmt.Fprintf(cfg.Stderr, "demo: stop the private PostgreSQL: %v\n", err)
		}
	}()
	out.line("Using %s.", db.Where)

	environ := cfg.Environ
	if environ == nil {
		environ = os.Environ()
	}
	env := map[string]string{
		"DATABASE_URL":           db.URL,
		"LEELOO_BASE_URL":        base,
		"LEELOO_AUTH_TOKEN":      cfg.LeelooToken,
		"LEELOO_RATE_LIMIT":      "off",
		"TEXTREQUEST_BASE_URL":   base + "/api/v3",
		"TEXTREQUEST_API_KEY":    cfg.TextRequestKey,
		"TEXTREQUEST_RATE_LIMIT": "off",
	}
	maps.Copy(env, moreEnv)
	cli := &runner{exe: cfg.Executable, env: demoEnv(environ, env), out: out, stderr: cfg.Stderr}

	// 3. Migrate and the full sync.
	out.step(3, "Create the warehouse schema and run the first (full) sync")
	if _, err := cli.run(ctx, "migrate", "up"); err != nil {
		return err
	}
	out.line("The schemas are in place. Now every stream reads everything:")
	pool, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		return fmt.Errorf("connect to the demo database: %w", err)
	}
	defer pool.Close(context.WithoutCancel(ctx))
	full, err := cli.sync(ctx, pool)
	if err != nil {
		return err
	}

	// 4. Change the data.
	out.step(4, "Change data in the simulators")
	if cfg.Mutate != nil {
		for _, l := range cfg.Mutate() {
			out.line("- %s", l)
		}
	}

	// 5. The incremental sync.
	out.step(5, "Run the sync again: incremental, from the stored checkpoints")
	incr, err := cli.sync(ctx, pool)
	if err != nil {
		return err
	}
	out.blank()
	out.line("Full sync:        %s", full)
	out.line("Incremental sync: %s", incr)
	for _, l := range compare(full, incr) {
		out.line("%s", l)
	}

	// 6. What analysts see.
	out.step(6, "Ask the warehouse some questions (plain SQL; Metabase reads the same tables)")
	for _, q := range Queries {
		out.blank()
		out.line("-- %s", q.Title)
		out.sql(q.SQL)
		if err := printQuery(ctx, pool, out, q.SQL); err != nil {
			return fmt.Errorf("query %q: %w", q.Title, err)
		}
	}

	out.step(7, "crmsync status: per stream, the last run and how far behind it is")
	if _, err := cli.run(ctx, "status"); err != nil {
		return err
	}

	out.blank()
	out.line("Done in %s.", time.Since(started).Round(100*time.Millisecond))
	switch {
	case db.close != nil: // the private server is about to be removed
	case db.URL == dbOpts.DatabaseURL: // the user's DSN may hold a password: never print it
		out.line("Explore the data: psql \"$DATABASE_URL\"")
	default:
		out.line("Explore the data: psql '%s'", db.URL)
	}
	out.line("Next: README.md shows how to point crmsync at the real APIs (`crmsync run`, `crmsync schedule`).")
	return nil
}

// passTotals sums the sync.runs rows of one `crmsync run`.
type passTotals struct {
	streams, failed                              int
	requests, read, inserted, updated, unchanged int64
	duration                                     time.Duration
	// perStream holds each stream's requests ("source.stream").
	perStream map[string]int64
}

// compare explains the incremental pass against the full one. Streams whose API has a
// change filter read a fraction of what they read the first time; the others (no
// filter: orders, v1 accounts, reference data) re-read everything and only compare.
func compare(full, incr passTotals) []string {
	var lines []string
	var filtered, rereads []string
	var fFull, fIncr, rFull, rIncr int64
	for name, n := range incr.perStream {
		was := full.perStream[name]
		if was > 0 && 2*n < was {
			filtered = append(filtered, name)
			fFull, fIncr = fFull+was, fIncr+n
		} else {
			rereads = append(rereads, name)
			rFull, rIncr = rFull+was, rIncr+n
		}
	}
	slices.Sort(filtered)
	slices.Sort(rereads)
	if len(filtered) > 0 {
		lines = append(lines, fmt.Sprintf("%s read only what changed: %d requests instead of %d (%s).",
			plural(len(filtered), "stream"), fIncr, fFull, strings.Join(filtered, ", ")))
	}
	if len(rereads) > 0 {
		lines = append(lines, fmt.Sprintf("%s read about as much as before: %d requests instead of %d — full-refresh streams (their API has no change filter) and lists short enough to re-read whole (%s).",
			plural(len(rereads), "stream"), rIncr, rFull, strings.Join(rereads, ", ")))
	}
	lines = append(lines, fmt.Sprintf("Rows written: %d inserted and %d updated; %d unchanged rows were compared, not rewritten.",
		incr.inserted, incr.updated, incr.unchanged))
	return lines
}

func (t passTotals) String() string {
	s := fmt.Sprintf("%d streams, %d requests, %d records read, %d rows inserted, %d updated, %d unchanged, in %s",
		t.streams, t.requests, t.read, t.inserted, t.updated, t.unchanged, t.duration.Round(10*time.Millisecond))
	if t.failed > 0 {
		s += fmt.Sprintf(" (%d streams failed)", t.failed)
	}
	return s
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// runner runs the crmsync binary as the demo's subprocess.
type runner struct {
	exe    string
	env    []string
	out    *printer
	stderr io.Writer
}

// run runs `crmsync args…`, copying its standard output to the demo's and keeping its
// logs (standard error) to show only when it fails. It returns the exit code; an
// error when the command could not run or exited with 2 (bad usage or configuration).
func (r *runner) run(ctx context.Context, args ...string) (int, error) {
	r.out.cmd("crmsync " + strings.Join(args, " "))
	var logs bytes.Buffer
	cmd := exec.CommandContext(ctx, r.exe, args...)
	cmd.Env = r.env
	cmd.Stdout = r.out.w
	cmd.Stderr = &logs
	// On Ctrl-C, let the sync stop cleanly (it commits or rolls back the batch in
	// flight) rather than killing it.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		fmt.Fprintf(r.stderr, "demo: crmsync %s: some streams failed; its log:\n%s\n", args[0], tail(logs.String(), 4000))
		return 1, nil
	case ctx.Err() != nil:
		return -1, ctx.Err()
	default:
		return -1, fmt.Errorf("crmsync %s: %w\n%s", strings.Join(args, " "), err, tail(logs.String(), 4000))
	}
}

// sync runs `crmsync run` and reads what it did from sync.runs.
func (r *runner) sync(ctx context.Context, conn *pgx.Conn) (passTotals, error) {
	var before int64
	if err := conn.QueryRow(ctx, "SELECT coalesce(max(id), 0) FROM sync.runs").Scan(&before); err != nil {
		return passTotals{}, fmt.Errorf("read sync.runs: %w", err)
	}
	start := time.Now()
	if _, err := r.run(ctx, "run"); err != nil {
		return passTotals{}, err
	}
	t := passTotals{duration: time.Since(start)}
	err := conn.QueryRow(ctx, `
		SELECT count(*), count(*) FILTER (WHERE status = 'failed'),
		       coalesce(sum(requests), 0), coalesce(sum(rows_read), 0), coalesce(sum(rows_inserted), 0),
		       coalesce(sum(rows_updated), 0), coalesce(sum(rows_unchanged), 0)
		FROM sync.runs WHERE id > $1`, before).
		Scan(&t.streams, &t.failed, &t.requests, &t.read, &t.inserted, &t.updated, &t.unchanged)
	if err != nil {
		return passTotals{}, fmt.Errorf("read sync.runs: %w", err)
	}
	rows, err := conn.Query(ctx, `
		SELECT source || '.' || stream, sum(requests) FROM sync.runs WHERE id > $1 GROUP BY 1`, before)
	if err != nil {
		return passTotals{}, fmt.Errorf("read sync.runs: %w", err)
	}
	t.perStream = map[string]int64{}
	var name string
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&name, &n}, func() error { t.perStream[name] = n; return nil }); err != nil {
		return passTotals{}, fmt.Errorf("read sync.runs: %w", err)
	}
	return t, nil
}

// demoEnv is the subprocess environment: the demo's own variables, and none of the
// user's crmsync settings (a real token in LEELOO_AUTH_TOKEN_FILE, a lookback…) so
// the demo never touches a real account.
func demoEnv(environ []string, set map[string]string) []string {
	out := make([]string, 0, len(environ)+len(set))
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "LEELOO_") || strings.HasPrefix(k, "TEXTREQUEST_") || strings.HasPrefix(k, "CALLTOUCH_") || strings.HasPrefix(k, "TWIN_") ||
			strings.HasPrefix(k, "CRMSYNC_") || k == "DATABASE_URL" {
			continue
		}
		out = append(out, kv)
	}
	for k, v := range set {
		out = append(out, k+"="+v)
	}
	return out
}
