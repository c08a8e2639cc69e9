package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/checkpoint"
	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/extractortest"
	"github.com/crmsync/crmsync/internal/pgtest"
	"github.com/crmsync/crmsync/internal/pipeline"
	"github.com/crmsync/crmsync/internal/simulator"
	"github.com/crmsync/crmsync/internal/stream"
)

// result is one CLI invocation's outcome.
type result struct {
	code           int
	stdout, stderr string
}

// cliRun runs the CLI in-process with env as its whole environment.
func cliRun(ctx context.Context, t testing.TB, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut extractortest.SyncBuffer
	a := &app{
		getenv: func(k string) string { return env[k] },
		stdout: &out, stderr: &errOut,
		tune: clientTuning{minBackoff: time.Millisecond, maxBackoff: 20 * time.Millisecond},
	}
	code := a.main(ctx, args)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// testBundle is a simulator behind httptest plus a fresh migrated database.
type testBundle struct {
	sim   *simulator.Sim
	srv   *httptest.Server
	dbURL string
	pool  *pgxpool.Pool
	env   map[string]string
}

func setup(t testing.TB, opts simulator.Options) *testBundle {
	t.Helper()
	sim := simulator.New(opts)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	dbURL := pgtest.URL(t)
	pool, err := pgxpool.New(context.Background(), dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return &testBundle{sim: sim, srv: srv, dbURL: dbURL, pool: pool, env: map[string]string{
		"DATABASE_URL":           dbURL,
		"LEELOO_BASE_URL":        srv.URL,
		"LEELOO_AUTH_TOKEN":      "demo-leeloo-token",
		"LEELOO_RATE_LIMIT":      "off",
		"TEXTREQUEST_BASE_URL":   srv.URL + "/api/v3",
		"TEXTREQUEST_API_KEY":    "demo-textrequest-key",
		"TEXTREQUEST_RATE_LIMIT": "off",
	}}
}

func (tb *testBundle) count(t testing.TB, table string) int {
	t.Helper()
	var n int
	require.NoError(t, tb.pool.QueryRow(context.Background(), "select count(*) from "+table).Scan(&n))
	return n
}

// requireTruth checks the main tables hold exactly the simulator's records (the
// primary keys make duplicates impossible, so equal counts mean no gap).
func (tb *testBundle) requireTruth(t testing.TB) {
	t.Helper()
	truth := tb.sim.Truth()
	for table, want := range map[string]int{
		"leeloo.people":                 len(truth.Leeloo.People),
		"leeloo.communication_channels": len(truth.Leeloo.Channels),
		"leeloo.messages":               len(truth.Leeloo.Messages),
		"leeloo.orders":                 len(truth.Leeloo.Orders),
		"leeloo.tunnels":                len(truth.Leeloo.Tunnels),
		"leeloo.users":                  len(truth.Leeloo.Users),
		"leeloo.accounts":               len(truth.Leeloo.Accounts),
		"textrequest.dashboards":        len(truth.TextRequest.Dashboards),
		"textrequest.contacts":          len(truth.TextRequest.Contacts),
		"textrequest.conversations":     len(truth.TextRequest.Conversations),
		"textrequest.messages":          len(truth.TextRequest.Messages),
		"textrequest.payments":          len(truth.TextRequest.Payments),
	} {
		require.Equal(t, want, tb.count(t, table), table)
	}
}

func with(env map[string]string, kv ...string) map[string]string {
	out := make(map[string]string, len(env)+len(kv)/2)
	for k, v := range env {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

func TestUsageAndConfigErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	good := map[string]string{
		"DATABASE_URL":      "postgres://postgres@127.0.0.1:1/none?sslmode=disable", // never reached
		"LEELOO_AUTH_TOKEN": "tok-secret-value",
	}
	dir := t.TempDir()
	badCron := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(badCron, []byte("jobs:\n  - name: people\n    schedule: \"* *\"\n    source: leeloo\n"), 0o600))
	badStream := filepath.Join(dir, "badstream.yaml")
	require.NoError(t, os.WriteFile(badStream, []byte("jobs:\n  - name: x\n    schedule: \"@hourly\"\n    source: leeloo\n    streams: [peeple]\n"), 0o600))
	emptyFile := filepath.Join(dir, "empty-token")
	require.NoError(t, os.WriteFile(emptyFile, []byte("  \n"), 0o600))

	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"no command", good, nil, []string{"Usage: crmsync <command>"}},
		{"unknown command", good, []string{"sink"}, []string{`unknown command "sink"`}},
		{"bad flag", good, []string{"run", "--bogus"}, []string{"unknown flag --bogus", "see crmsync run --help"}},
		{"stray argument", good, []string{"run", "people"}, []string{`unexpected argument "people"`}},
		{"unknown stream", good, []string{"run", "--stream", "peeple"}, []string{"--stream peeple: unknown stream (did you mean leeloo.people?); `crmsync streams` lists them"}},
		{"source not enabled", good, []string{"run", "--source", "textrequest"}, []string{"Text Request is not enabled: set TEXTREQUEST_API_KEY"}},
		{"missing DATABASE_URL", with(good, "DATABASE_URL", ""), []string{"run"}, []string{"DATABASE_URL: not set"}},
		{"no source", with(good, "LEELOO_AUTH_TOKEN", ""), []string{"run"}, []string{"no source enabled: set LEELOO_AUTH_TOKEN", "TEXTREQUEST_API_KEY"}},
		{"malformed base URL", with(good, "LEELOO_BASE_URL", "api.leeloo.ai"), []string{"run"}, []string{`LEELOO_BASE_URL: "api.leeloo.ai" is not an absolute http(s) URL`}},
		{"base URL with /api/v2", with(good, "LEELOO_BASE_URL", "https://api.leeloo.ai/api/v2"), []string{"run"}, []string{"LEELOO_BASE_URL", "without /api/v2"}},
		{"bad rate limit", with(good, "LEELOO_RATE_LIMIT", "ten per second"), []string{"run"}, []string{`LEELOO_RATE_LIMIT: "ten per second": want N/duration`}},
		{"bad rate window", with(good, "TEXTREQUEST_API_KEY", "k3y-value", "TEXTREQUEST_RATE_LIMIT", "100/fortnight"), []string{"run"}, []string{"TEXTREQUEST_RATE_LIMIT", `window "1fortnight" is not a positive duration`}},
		{"several problems at once", with(good, "LEELOO_RATE_LIMIT", "x", "CRMSYNC_CONCURRENCY", "0"), []string{"run"}, []string{"LEELOO_RATE_LIMIT", "CRMSYNC_CONCURRENCY: \"0\" is not a whole number between 1 and 64"}},
		{"token and token file", with(good, "LEELOO_AUTH_TOKEN_FILE", "/nonexistent"), []string{"run"}, []string{"both LEELOO_AUTH_TOKEN and LEELOO_AUTH_TOKEN_FILE are set"}},
		{"empty token file", with(good, "LEELOO_AUTH_TOKEN", "", "LEELOO_AUTH_TOKEN_FILE", emptyFile), []string{"run"}, []string{"LEELOO_AUTH_TOKEN_FILE: the file", "is empty"}},
		{"bad start date", with(good, "LEELOO_START_DATE", "yesterday"), []string{"run"}, []string{`LEELOO_START_DATE: "yesterday" is not a date`}},
		{"bad phone region", with(good, "CRMSYNC_PHONE_REGION", "USA"), []string{"run"}, []string{`CRMSYNC_PHONE_REGION: "USA" is not a region libphonenumber knows`}},
		{"bad dashboards", with(good, "TEXTREQUEST_API_KEY", "k3y-value", "TEXTREQUEST_DASHBOARDS", "4101,abc"), []string{"run"}, []string{`TEXTREQUEST_DASHBOARDS: "abc" is not a dashboard id`}},
		{"bad concurrency flag", good, []string{"run", "--concurrency", "0"}, []string{"--concurrency: 0 is not between 1 and 64"}},
		{"bad log format", good, []string{"run", "--log-format", "xml"}, []string{`--log-format: "xml": want text or json`}},
		{"bad cron expression", good, []string{"schedule", "--config", badCron}, []string{"bad.yaml", `job "people"`, "schedule"}},
		{"unknown stream in schedules", good, []string{"schedule", "--config", badStream}, []string{"badstream.yaml", `job "x"`, "peeple"}},
		{"missing schedules file", good, []string{"schedule", "--config", filepath.Join(dir, "nope.yaml")}, []string{"nope.yaml"}},
		{"migrate unknown action", good, []string{"migrate", "sideways"}, []string{`unknown action "sideways"`}},
		{"status without database", with(good, "DATABASE_URL", ""), []string{"status"}, []string{"DATABASE_URL: not set"}},
		{"simulate bad addr", good, []string{"simulate", "--addr", "8900"}, []string{`--addr: "8900" is not HOST:PORT`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := cliRun(ctx, t, tt.env, tt.args...)
			require.Equal(t, exitUsage, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
			for _, w := range tt.want {
				require.Contains(t, r.stderr+r.stdout, w)
			}
			require.NotContains(t, r.stderr+r.stdout, "tok-secret-value")
		})
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, c := range commands {
		if c.name == "demo" {
			continue // the ops helper's command parses its own flags
		}
		r := cliRun(context.Background(), t, nil, c.name, "--help")
		require.Equal(t, exitOK, r.code, c.name)
		require.Contains(t, r.stdout, "Usage: crmsync "+c.name, c.name)
	}
	r := cliRun(context.Background(), t, nil, "run", "--help")
	require.Contains(t, r.stdout, "TEXTREQUEST_RATE_LIMIT")
	require.Contains(t, r.stdout, "LEELOO_LOOKBACK")
}

func TestStreamsCommand(t *testing.T) {
	t.Parallel()
	r := cliRun(context.Background(), t, nil, "streams", "--wide")
	require.Equal(t, exitOK, r.code, r.stderr)
	for _, want := range []string{
		"leeloo.people (id)", "leeloo.messages (channel_id, id)", "textrequest.contacts (dashboard_id, phone_number)",
		"textrequest.contact_tags (dashboard_id, phone_number, tag_id)", "account_messages", "off", "incremental",
	} {
		require.Contains(t, r.stdout, want)
	}
}

// TestRepoSchedulesNamesKnownStreams checks the shipped schedules.yaml against the
// streams the extractors register (internal/config cannot know them).
func TestRepoSchedulesNamesKnownStreams(t *testing.T) {
	t.Parallel()
	exs, err := allExtractors()
	require.NoError(t, err)
	_, err = config.LoadSchedules("../../schedules.yaml", pipeline.Known(exs))
	require.NoError(t, err)
}

func TestRunStatusCheck(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tb := setup(t, simulator.Options{})

	// First run: migrates (the database is migrated already; a no-op) and syncs all.
	r := cliRun(ctx, t, tb.env, "run")
	require.Equal(t, exitOK, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
	require.Contains(t, r.stdout, "total (19 streams)")
	require.Contains(t, r.stdout, "19 ok")
	require.Regexp(t, `leeloo\.people\s+succeeded`, r.stdout)
	require.Contains(t, r.stdout, "leeloo: ")
	require.Contains(t, r.stdout, "textrequest: ")
	require.Contains(t, r.stderr, `"msg":"stream finished"`, "JSON log lines when stderr is not a terminal")
	require.NotContains(t, r.stderr, tb.dbURL)
	tb.requireTruth(t)

	// Incremental run: far fewer requests, nothing rewritten.
	tb.sim.ResetStats()
	r = cliRun(ctx, t, tb.env, "run", "--source", "textrequest", "--no-migrate")
	require.Equal(t, exitOK, r.code, r.stderr)
	require.Regexp(t, `textrequest\.contacts\s+succeeded\s+\d+\s+\d+\s+0\s+0\s+`, r.stdout, "no contact inserted or updated")
	require.Less(t, tb.sim.Stats().Total(), 60)

	// status --wide shows every stream with its checkpoint.
	r = cliRun(ctx, t, tb.env, "status", "--wide")
	require.Equal(t, exitOK, r.code, r.stderr)
	require.Regexp(t, `leeloo\.messages\s+\S+ \S+\s+succeeded`, r.stdout)
	require.Contains(t, r.stdout, "partitions, oldest updated")
	require.Contains(t, r.stdout, `{"v": 1`)

	// check: every target answers; then a wrong key fails (exit 1) without printing it.
	r = cliRun(ctx, t, tb.env, "check")
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	require.Contains(t, r.stdout, "ok    database")
	require.Contains(t, r.stdout, "ok    leeloo")
	require.Contains(t, r.stdout, "ok    textrequest")
	r = cliRun(ctx, t, with(tb.env, "TEXTREQUEST_API_KEY", "wrong-key-123"), "check")
	require.Equal(t, exitFailed, r.code, r.stdout+r.stderr)
	require.Contains(t, r.stdout, "FAIL  textrequest")
	require.Contains(t, r.stdout, "401")
	require.Contains(t, r.stdout, "ok    leeloo")
	require.NotContains(t, r.stdout+r.stderr, "wrong-key-123")

	// migrate status lists the applied migrations.
	r = cliRun(ctx, t, tb.env, "migrate", "status")
	require.Equal(t, exitOK, r.code, r.stderr)
	require.Contains(t, r.stdout, "00001_create_sync.sql")
	require.NotContains(t, r.stdout, "pending")
}

func TestRunFailingStreamExitsOne(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tb := setup(t, simulator.Options{})
	// A wrong Text Request key: its streams fail, Leeloo's still run and commit.
	r := cliRun(ctx, t, with(tb.env, "TEXTREQUEST_API_KEY", "wrong-key-123"), "run", "--stream", "leeloo.orders,textrequest.dashboards")
	require.Equal(t, exitFailed, r.code, r.stdout+r.stderr)
	require.Regexp(t, `leeloo\.orders\s+succeeded`, r.stdout)
	require.Regexp(t, `textrequest\.dashboards\s+failed`, r.stdout)
	require.Contains(t, r.stdout, "textrequest.dashboards failed: ")
	require.Contains(t, r.stdout, "401")
	require.NotContains(t, r.stdout+r.stderr, "wrong-key-123")
	require.Equal(t, len(tb.sim.Truth().Leeloo.Orders), tb.count(t, "leeloo.orders"))

	var status, errText string
	require.NoError(t, tb.pool.QueryRow(ctx, `select status, error from sync.runs where stream = 'dashboards'`).Scan(&status, &errText))
	require.Equal(t, "failed", status)
	require.Contains(t, errText, "401")
}

func TestRunLockedStreamSkipped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tb := setup(t, simulator.Options{})
	other, err := pgxpool.New(ctx, tb.dbURL) // "another process"
	require.NoError(t, err)
	defer other.Close()
	otherStore := checkpoint.New(other)
	otherRun, ok, err := otherStore.Begin(ctx, stream.RunRecord{Source: "leeloo", Stream: "orders"})
	require.NoError(t, err)
	require.True(t, ok)
	defer func() {
		require.NoError(t, otherStore.FinishRun(ctx, stream.RunRecord{ID: otherRun, Status: stream.RunSucceeded}))
	}()

	r := cliRun(ctx, t, tb.env, "run", "--stream", "leeloo.orders,leeloo.users")
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	require.Regexp(t, `leeloo\.orders\s+skipped`, r.stdout)
	require.Regexp(t, `leeloo\.users\s+succeeded`, r.stdout)
	require.Contains(t, r.stderr, "stream leeloo.orders is running in another process; skipped")
	require.Zero(t, tb.count(t, "leeloo.orders"))
}

// TestRunConcurrentWithLatencyAndRateLimit runs every stream at once against a slow,
// rate-limited simulator: the warehouse equals the truth and no client exceeded its
// budget in any window (the simulator counts every rolling window per key).
func TestRunConcurrentWithLatencyAndRateLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const n, window = 240, 2 * time.Second
	tb := setup(t, simulator.Options{Faults: simulator.Faults{
		Latency: 20 * time.Millisecond, TextRequestRateLimit: n, LeelooRateLimit: n, RateWindow: window,
	}})
	// The client's budget is 90% of the server's: the limiter spaces sends evenly, but
	// on a loaded CI machine goroutine and network delays can bunch arrivals; a 2 s
	// window at 120 requests a second leaves 200 ms of slack (a 500 ms window left 50 ms,
	// which a busy 2-core machine exceeded); with real windows (a minute) it is moot.
	limit := fmt.Sprintf("%d/%s", n*9/10, window)
	env := with(tb.env, "LEELOO_RATE_LIMIT", limit, "TEXTREQUEST_RATE_LIMIT", limit,
		"LEELOO_CONCURRENCY", "8", "TEXTREQUEST_CONCURRENCY", "3", "LEELOO_FETCH_AHEAD", "3")

	r := cliRun(ctx, t, env, "run", "--concurrency", "8")
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	tb.requireTruth(t)
	st := tb.sim.Stats()
	require.LessOrEqual(t, st.MaxInWindow[simulator.APILeeloo], n)
	require.LessOrEqual(t, st.MaxInWindow[simulator.APITextRequest], n)
	require.Zero(t, st.RateLimited[simulator.APILeeloo])
	require.Zero(t, st.RateLimited[simulator.APITextRequest])
}

// TestRunCancelledThenResumed stops runs midway, by --max-duration and by the
// process context (SIGTERM), and checks that the next run completes the warehouse
// with no gap and no duplicate.
func TestRunCancelledThenResumed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tb := setup(t, simulator.Options{Faults: simulator.Faults{Latency: 5 * time.Millisecond}})
	env := with(tb.env, "LEELOO_CONCURRENCY", "2")

	// --max-duration: planned, exit 0, streams still running are cancelled.
	r := cliRun(ctx, t, env, "run", "--max-duration", "400ms")
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	require.Contains(t, r.stdout, "cancelled")
	require.Contains(t, r.stdout, "max duration 400ms reached")

	// A signal mid-run: exit 1, the streams cut off are recorded as cancelled.
	sctx, cancel := context.WithCancel(ctx)
	tb.sim.ResetStats() // before the watcher starts: it counts this run's requests only
	go func() {
		for tb.sim.Stats().Total() < 150 && sctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	r = cliRun(sctx, t, with(env, "LEELOO_LOOKBACK", "1h"), "run", "--full-refresh")
	cancel()
	require.Equal(t, exitFailed, r.code, r.stdout+r.stderr)
	require.Contains(t, r.stderr, "interrupted")
	var cancelled int
	require.NoError(t, tb.pool.QueryRow(ctx, `select count(*) from sync.runs where status = 'cancelled'`).Scan(&cancelled))
	require.Positive(t, cancelled)
	var running int
	require.NoError(t, tb.pool.QueryRow(ctx, `select count(*) from sync.runs where status = 'running'`).Scan(&running))
	require.Zero(t, running, "every run got its outcome written")

	// The next run completes: tables equal the truth.
	r = cliRun(ctx, t, env, "run")
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	require.NotContains(t, strings.ToLower(r.stdout), "cancelled")
	tb.requireTruth(t)
}

// TestSchedule runs `crmsync schedule` with an every-second job: the job runs through
// the same engine as `run`, /metrics shows it, and SIGTERM (ctx) stops it with exit 0.
func TestSchedule(t *testing.T) {
	t.Parallel()
	tb := setup(t, simulator.Options{})
	path := filepath.Join(t.TempDir(), "schedules.yaml")
	require.NoError(t, os.WriteFile(path, []byte("jobs:\n  - name: quick\n    schedule: \"@every 1s\"\n    source: leeloo\n    streams: [users]\n"), 0o600))

	sch := startSchedule(t, tb.env, "--config", path, "--http", "127.0.0.1:0")
	sch.waitForMetric(t, `crmsync_stream_runs_total{source="leeloo",status="succeeded",stream="users"}`, 30*time.Second)
	sch.stop(t)
	require.Equal(t, len(tb.sim.Truth().Leeloo.Users), tb.count(t, "leeloo.users"))
}

// TestOpenPoolDescriptionCache: the default mode goes without pgx's statement
// descriptions cache (it never uses it); a DSN that picks the describe mode keeps it,
// and its queries work.
func TestOpenPoolDescriptionCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := pgtest.URL(t)
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	for dsn, want := range map[string]int{
		base: 0,
		base + sep + "default_query_exec_mode=cache_describe": 512,
		base + sep + "description_cache_capacity=64":          64,
	} {
		pool, _, err := openPool(ctx, dsn, 1)
		require.NoError(t, err)
		require.Equal(t, want, pool.Config().ConnConfig.DescriptionCacheCapacity, dsn)
		var n int
		require.NoError(t, pool.QueryRow(ctx, "select $1::int + 1", 41).Scan(&n), dsn)
		require.Equal(t, 42, n)
		pool.Close()
	}
}

// schedule is a `crmsync schedule` running in the test's process.
type schedule struct {
	metricsURL string
	errOut     *extractortest.SyncBuffer
	cancel     context.CancelFunc
	done       chan int
}

// startSchedule starts `crmsync schedule args…` and waits until it serves /metrics (args
// must hold --http 127.0.0.1:0).
func startSchedule(t *testing.T, env map[string]string, args ...string) *schedule {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	addr := make(chan string, 1)
	s := &schedule{errOut: &extractortest.SyncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	a := &app{getenv: func(k string) string { return env[k] }, stdout: io.Discard, stderr: s.errOut,
		ready: func(a string) { addr <- a }}
	go func() { s.done <- a.main(ctx, append([]string{"schedule"}, args...)) }()
	select {
	case a := <-addr:
		s.metricsURL = "http://" + a + "/metrics"
	case code := <-s.done:
		t.Fatalf("schedule exited %d: %s", code, s.errOut.String())
	}
	return s
}

// waitForMetric waits until /metrics shows want.
func (s *schedule) waitForMetric(t *testing.T, want string, within time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool {
		resp, err := http.Get(s.metricsURL)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(body), want)
	}, within, 100*time.Millisecond, s.errOut.String())
}

// stop sends the scheduler its SIGTERM (ctx) and requires exit 0.
func (s *schedule) stop(t *testing.T) {
	t.Helper()
	s.cancel()
	require.Equal(t, exitOK, <-s.done, s.errOut.String())
}
