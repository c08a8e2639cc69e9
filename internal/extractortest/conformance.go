package extractortest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/extractors/platform"
	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/pgtest"
	"github.com/crmsync/crmsync/internal/simulator"
	"github.com/crmsync/crmsync/internal/stream"
)

// Subject is an extractor under the conformance suite: its platform declaration, how
// to point it at a simulator, and what the warehouse must hold afterwards. The suite
// builds the extractor through the declaration (Configure, then Source.Build), as
// `crmsync run` does.
type Subject struct {
	// Platform is the platform's declaration (leeloo.Platform).
	Platform platform.Platform
	// APIs are the simulator's names (Stats) of the APIs the platform calls (default
	// Platform.Name); requests are summed over them, and each must keep to the budget.
	APIs []string
	// Env returns the environment that points the platform at the simulator served at
	// base: its credentials and base URL(s), and any tuning the tests want (a small
	// page size makes more pages). The suite adds RateVar.
	Env func(base string) map[string]string
	// RateVar is the platform's rate-limit variable (LEELOO_RATE_LIMIT): "off", or the
	// budget of the rate test.
	RateVar string
	// Sim builds a simulator serving the platform with the credentials Env gives and
	// the given faults.
	Sim func(f simulator.Faults) *simulator.Sim
	// Limit sets the simulator's request budget for this platform's API to n per
	// window per (Faults.RateWindow is set by the suite).
	Limit func(f *simulator.Faults, n int, per time.Duration)
	// Faults are the platform's own odd answers to add to the fault test (drift,
	// unknown fields, NUL characters…); the suite adds 5xx answers, truncated bodies and
	// 429s. It then switches those and OffsetDrift off (records inserted during a scan
	// are for the next run to read), runs again and checks the truth.
	Faults simulator.Faults
	// Streams are the streams a full sync runs, in order (default: every default
	// stream). Truth and Warehouse cover their tables.
	Streams []string
	// RateStreams are the streams of the rate test (default Streams); a few cheap ones
	// keep the test short, since it runs at the budget's pace.
	RateStreams []string
	// Truth renders, table by table, the rows the warehouse must hold after a complete
	// sync started at started; Warehouse renders the tables' rows the same way. Each
	// row is a string of the fields a user checks; order does not matter.
	Truth     func(t testing.TB, sim *simulator.Sim, started time.Time) map[string][]string
	Warehouse func(t testing.TB, pool *pgxpool.Pool, started time.Time) map[string][]string
}

// Conformance runs the suite every extractor passes against its simulator, through
// pipeline.Run, the real loader and a real PostgreSQL.
func Conformance(t *testing.T, s Subject) {
	t.Run("RateBudgetObeyed", func(t *testing.T) { rateBudget(t, s) }) // alone: timing
	t.Run("FullSyncEqualsTruth", func(t *testing.T) { t.Parallel(); fullSync(t, s) })
	t.Run("ResumeAfterCutOffs", func(t *testing.T) { t.Parallel(); cutOffs(t, s) })
	t.Run("Faults", func(t *testing.T) { t.Parallel(); faults(t, s) })
	t.Run("Cancellation", func(t *testing.T) { t.Parallel(); cancellation(t, s) })
}

// rig is one simulator, one database and one extractor built from the environment.
type rig struct {
	s       Subject
	sim     *simulator.Sim
	pool    *pgxpool.Pool
	ex      Extractor
	secrets []string
	logs    *SyncBuffer
	logger  *slog.Logger
}

func newRig(t *testing.T, s Subject, f simulator.Faults, env map[string]string) *rig {
	t.Helper()
	sim := s.Sim(f)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	vars := s.Env(srv.URL)
	vars[s.RateVar] = "off"
	maps.Copy(vars, env)
	r := config.NewEnvReader(func(k string) string { return vars[k] })
	src := s.Platform.Configure(r)
	require.NoError(t, r.Err())
	require.NotNil(t, src, "the environment enables %s", s.Platform.Name)
	logs := &SyncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	client, ex, err := src.Build(s.Platform.Name, logger, func(c apiclient.Config) apiclient.Config {
		c.MinBackoff, c.MaxBackoff, c.MaxAttempts = time.Millisecond, 50*time.Millisecond, 12
		return c
	})
	require.NoError(t, err)
	t.Cleanup(client.Close)
	return &rig{s: s, sim: sim, pool: pgtest.NewDB(t), ex: ex, secrets: src.Secrets, logs: logs, logger: logger}
}

func (r *rig) sync(t *testing.T, opts Options) Result {
	t.Helper()
	if opts.Streams == nil {
		opts.Streams = r.s.Streams
	}
	if opts.Started.IsZero() {
		opts.Started = r.sim.Now()
	}
	opts.Logger = r.logger
	res, err := Sync(t.Context(), t, r.pool, r.ex, opts)
	require.NoError(t, err)
	return res
}

// requireTruth compares every table with the simulator's truth.
func (r *rig) requireTruth(t *testing.T, started time.Time) {
	t.Helper()
	want, got := r.s.Truth(t, r.sim, started), r.s.Warehouse(t, r.pool, started)
	require.ElementsMatch(t, slices.Collect(maps.Keys(want)), slices.Collect(maps.Keys(got)), "tables compared")
	for _, table := range slices.Sorted(maps.Keys(want)) {
		require.NotEmpty(t, want[table], "the truth has rows for %s", table)
		require.Equal(t, sorted(want[table]), sorted(got[table]), "table %s", table)
	}
}

// requireNoSecrets checks the logs (every level), sync.runs, sync.state, sync.rejects
// and every column of every table of the streams for the platform's secrets.
func (r *rig) requireNoSecrets(t *testing.T) {
	t.Helper()
	tables := []string{"sync.runs", "sync.state", "sync.rejects"}
	for _, d := range r.ex.Streams() {
		for _, tb := range d.Tables {
			tables = append(tables, tb.Name)
		}
	}
	logs := r.logs.String()
	require.NotEmpty(t, logs, "the run logged")
	for _, secret := range r.secrets {
		require.NotContains(t, logs, secret, "a secret in the logs")
		for _, table := range slices.Compact(slices.Sorted(slices.Values(tables))) {
			var n int
			require.NoError(t, r.pool.QueryRow(t.Context(),
				fmt.Sprintf(`SELECT count(*) FROM %s x WHERE strpos(x::text, $1) > 0`, table), secret).Scan(&n))
			require.Zero(t, n, "rows of %s holding a secret", table)
		}
	}
}

// stats sums the simulator's counts over the subject's APIs; maxInWindow is the
// largest of any one API.
func (r *rig) stats() (requests, status5xx, throttled, maxInWindow int, truncated int) {
	st := r.sim.Stats()
	for _, api := range cmpOr(r.s.APIs, []string{r.s.Platform.Name}) {
		for code, n := range st.Status[api] {
			if code >= 500 {
				status5xx += n
			}
		}
		requests += st.Requests[api]
		throttled += st.RateLimited[api]
		maxInWindow = max(maxInWindow, st.MaxInWindow[api])
	}
	return requests, status5xx, throttled, maxInWindow, st.Truncated
}

// fullSync: a first sync equals the truth, every request is charged to a batch, and
// runs that find nothing new (incremental and full refresh) rewrite no row; no secret
// is logged or stored.
func fullSync(t *testing.T, s Subject) {
	r := newRig(t, s, simulator.Faults{}, nil)
	started := r.sim.Now()
	res := r.sync(t, Options{Started: started})
	r.requireTruth(t, started)
	require.Zero(t, res.Loaded.Rejected, "rejects")
	requests, _, _, _, _ := r.stats()
	require.Equal(t, requests, res.Requests, "every request the API served is charged to a batch")
	t.Logf("full sync: %d requests, %d batches, %d records", res.Requests, res.Batches, res.Read)

	for _, full := range []bool{false, true} {
		again := r.sync(t, Options{Started: started, FullRefresh: full})
		require.Zero(t, again.Loaded.Inserted+again.Loaded.Updated+again.Loaded.Deleted,
			"nothing changed, nothing written (full refresh %v): %+v", full, again.Loaded)
		r.requireTruth(t, started)
	}
	r.requireNoSecrets(t)
}

// cutOffs cuts runs off after a growing number of committed batches until one
// completes: every cut-off run is recorded as cancelled, not failed, and the warehouse
// then equals the truth.
func cutOffs(t *testing.T, s Subject) {
	for _, first := range []int{1, 7} {
		t.Run(fmt.Sprintf("from_batch_%d", first), func(t *testing.T) {
			t.Parallel()
			r := newRig(t, s, simulator.Faults{}, nil)
			started := r.sim.Now()
			cut := 0
			for k := first; ; k = k*3/2 + 1 {
				res := r.sync(t, Options{Started: started, CancelAfter: k})
				if !res.Cancelled {
					break
				}
				cut++
				for name, st := range res.Status {
					require.NotEqual(t, stream.RunFailed, st, "stream %s failed when cut off", name)
				}
			}
			require.Positive(t, cut, "some run was cut off")
			var failed int
			require.NoError(t, r.pool.QueryRow(t.Context(), `SELECT count(*) FROM sync.runs WHERE status = 'failed'`).Scan(&failed))
			require.Zero(t, failed, "runs recorded as failed")
			r.sync(t, Options{Started: started})
			r.requireTruth(t, started)
		})
	}
}

// cancellation: a run whose context ends (--max-duration, SIGTERM) while requests are
// under way stops promptly with the context's error, every stream recorded as
// cancelled (or done), none as failed.
func cancellation(t *testing.T, s Subject) {
	r := newRig(t, s, simulator.Faults{Latency: 100 * time.Millisecond}, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := Sync(ctx, t, r.pool, r.ex, Options{Streams: s.Streams, Started: r.sim.Now(), Logger: r.logger})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 10*time.Second, "the run stopped promptly")
	statuses := slices.Collect(maps.Values(res.Status))
	require.Contains(t, statuses, stream.RunCancelled, "a stream was cut off")
	require.NotContains(t, statuses, stream.RunFailed)
	var failed int
	require.NoError(t, r.pool.QueryRow(t.Context(), `SELECT count(*) FROM sync.runs WHERE status = 'failed'`).Scan(&failed))
	require.Zero(t, failed, "runs recorded as failed")
}

// faults: with 5xx answers, truncated bodies, 429s (the client's budget off) and the
// platform's own odd answers, the sync completes; once the transient ones stop, the
// next run brings the warehouse to the truth.
func faults(t *testing.T, s Subject) {
	// 429s first, on the cheap streams: each costs the client a Retry-After of a second.
	throttled := simulator.Faults{}
	s.Limit(&throttled, 1, 100*time.Millisecond)
	r := newRig(t, s, throttled, nil)
	r.sync(t, Options{Streams: cmpOr(s.RateStreams, s.Streams)})
	_, _, n429, _, _ := r.stats()
	require.Positive(t, n429, "429s were sent")

	f := s.Faults
	f.ErrorRate, f.TruncateRate = 0.05, 0.05
	r.sim.SetFaults(f)
	// A platform of few requests may draw no fault in one pass: full passes until both
	// kinds were sent.
	for pass := 0; ; pass++ {
		r.sync(t, Options{FullRefresh: pass > 0})
		if _, errs, _, _, truncated := r.stats(); errs > 0 && truncated > 0 {
			break
		}
		require.Less(t, pass, 8, "no 5xx answer or no truncated body in %d passes", pass+1)
	}

	calm := s.Faults
	calm.OffsetDrift = false
	r.sim.SetFaults(calm)
	started := r.sim.Now()
	r.sync(t, Options{Started: started})
	r.requireTruth(t, started)
	r.requireNoSecrets(t)
}

// rateBudget: with the simulator enforcing n requests a second and the client's
// budget one below it, no request is refused and no window sees more than n.
func rateBudget(t *testing.T, s Subject) {
	free := newRig(t, s, simulator.Faults{}, nil)
	streams := cmpOr(s.RateStreams, s.Streams)
	want := free.sync(t, Options{Streams: streams}).Requests

	// One below the server's budget: the client's spacing keeps half an interval of
	// slack, and on a loaded machine a delayed goroutine can bunch arrivals by more.
	const n, per = 10, time.Second
	f := simulator.Faults{RateWindow: per}
	s.Limit(&f, n, per)
	r := newRig(t, s, f, map[string]string{s.RateVar: fmt.Sprintf("%d/%s", n-1, per)})
	res := r.sync(t, Options{Streams: streams})
	requests, errs, throttled, maxInWindow, _ := r.stats()
	require.Zero(t, throttled, "no 429")
	require.Zero(t, errs, "no 5xx")
	require.LessOrEqual(t, maxInWindow, n, "requests in one window")
	require.Equal(t, want, requests, "no request more than without a budget")
	require.Equal(t, requests, res.Requests)
}

func cmpOr(a, b []string) []string {
	if len(a) > 0 {
		return a
	}
	return b
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// SyncBuffer is a log sink written by many goroutines (every extractor test logs
// into one while its streams run concurrently).
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Rows renders each row of query as its columns' text joined by "|" (NULL as ∅): a
// helper for Subject.Warehouse.
func Rows(t testing.TB, pool *pgxpool.Pool, query string) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), query)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		require.NoError(t, err)
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = "∅"
			if v != nil {
				parts[i] = fmt.Sprint(v)
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	require.NoError(t, rows.Err())
	return out
}
