package calltouch

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/extractors/internal/phones"
	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/extractortest"
	"github.com/crmsync/crmsync/internal/pgtest"
	"github.com/crmsync/crmsync/internal/pipeline"
	"github.com/crmsync/crmsync/internal/simulator"
	"github.com/crmsync/crmsync/internal/stream"
)

var _ pipeline.Extractor = (*Extractor)(nil)

// testToken has characters that URL-escaping changes, so a test can look for every
// form of it.
const testToken = "ct tok+en/ü=1&x"

type testBundle struct {
	sim  *simulator.Sim
	srv  *httptest.Server
	pool *pgxpool.Pool
	ex   *Extractor
	logs *extractortest.SyncBuffer
}

type setupOpts struct {
	faults  simulator.Faults
	limit   apiclient.Limit
	wrap    func(http.Handler) http.Handler
	cfg     func(*Config)
	attempt int
}

// setup starts a simulator (the present 2026-11-01), a database and an extractor
// reading from 200 days before the present.
func setup(t *testing.T, o setupOpts) *testBundle {
	t.Helper()
	sim := simulator.New(simulator.Options{Seed: 3, CalltouchToken: testToken, Faults: o.faults})
	var h http.Handler = sim.Handler()
	if o.wrap != nil {
		h = o.wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	logs := &extractortest.SyncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	client, err := apiclient.New(apiclient.Config{
		Source: Source, BaseURL: srv.URL, Auth: QueryAuth(testToken), Secrets: []string{testToken},
		RateLimit: o.limit, ErrorCode: ErrorCode, Logger: logger,
		MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond, MaxAttempts: max(o.attempt, 10),
	})
	require.NoError(t, err)
	t.Cleanup(client.Close)
	cfg := Config{Client: client, SiteID: sim.CalltouchSiteID(), Token: testToken, Logger: logger,
		StartDate: sim.Now().AddDate(0, 0, -200)}
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	ex, err := New(cfg)
	require.NoError(t, err)
	return &testBundle{sim: sim, srv: srv, pool: pgtest.NewDB(t), ex: ex, logs: logs}
}

func (b *testBundle) sync(t *testing.T, opts extractortest.Options) extractortest.Result {
	t.Helper()
	if opts.Started.IsZero() {
		opts.Started = b.sim.Now()
	}
	return extractortest.MustSync(t.Context(), t, b.pool, b.ex, opts)
}

func (b *testBundle) requests() int { return b.sim.Stats().Requests[simulator.APICalltouch] }

// warehouse renders the live rows of both tables as comparable strings.
func warehouse(t testing.TB, pool *pgxpool.Pool) (calls, reqs []string) {
	t.Helper()
	ctx := context.Background()
	rows, err := pool.Query(ctx, `select site_id, call_id, called_at, coalesce(duration, -1), coalesce(caller_number, ''),
		coalesce(phone_e164, ''), target_call, unique_call, coalesce(manager, ''), coalesce(utm_campaign, ''),
		coalesce(tags, '{}'), coalesce(comments, '{}'), coalesce(order_numbers, '{}'), call_date::text
		from calltouch.calls where deleted_at is null order by call_id`)
	require.NoError(t, err)
	for rows.Next() {
		var site, id int64
		var at time.Time
		var dur int
		var caller, e164, manager, campaign, date string
		var target, unique bool
		var tags, comments, orders []string
		require.NoError(t, rows.Scan(&site, &id, &at, &dur, &caller, &e164, &target, &unique, &manager, &campaign, &tags, &comments, &orders, &date))
		calls = append(calls, fmt.Sprint(site, id, at.UTC().Format(time.RFC3339), dur, caller, e164, target, unique, manager, campaign, tags, comments, orders, date))
	}
	require.NoError(t, rows.Err())
	rows, err = pool.Query(ctx, `select request_id, created_at, coalesce(subject, ''), coalesce(client_name, ''),
		coalesce(phones, '{}'), coalesce(phone_e164, ''), coalesce(emails, '{}'), target_request, coalesce(manager, ''),
		coalesce(source, ''), coalesce(tags, '{}'), coalesce(comments, '{}')
		from calltouch.requests where deleted_at is null order by request_id`)
	require.NoError(t, err)
	for rows.Next() {
		var id int64
		var at time.Time
		var subject, name, e164, manager, source string
		var ph, emails, tags, comments []string
		var target bool
		require.NoError(t, rows.Scan(&id, &at, &subject, &name, &ph, &e164, &emails, &target, &manager, &source, &tags, &comments))
		reqs = append(reqs, fmt.Sprint(id, at.UTC().Format(time.RFC3339), subject, name, ph, e164, emails, target, manager, source, tags, comments))
	}
	require.NoError(t, rows.Err())
	return calls, reqs
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return strings.ReplaceAll(*p, "\x00", "")
}

func e164(p string) string {
	if v, ok := phones.E164(p, "RU").(string); ok {
		return v
	}
	return ""
}

// truth renders the simulator's records of the synced period like warehouse.
func truth(sim *simulator.Sim, from time.Time) (calls, reqs []string) {
	tr := sim.CalltouchTruth()
	start := dayOfTime(from)
	for _, c := range tr.Calls {
		if dayOfTime(c.Date).before(start) {
			continue
		}
		dur := c.Duration
		tags := []string{}
		for _, tg := range c.Tags {
			tags = append(tags, tg.Names...)
		}
		comments := []string{}
		for _, cm := range c.Comments {
			comments = append(comments, cm.Comment)
		}
		orders := []string{}
		for _, o := range c.Orders {
			orders = append(orders, o.OrderNumber)
		}
		calls = append(calls, fmt.Sprint(tr.SiteID, c.CallID, c.Date.UTC().Format(time.RFC3339), dur, c.CallerNumber, e164(c.CallerNumber),
			c.TargetCall, c.UniqueCall, str(c.Manager), str(c.UTMCampaign), tags, comments, orders, dayOfTime(c.Date).String()))
	}
	for _, q := range tr.Requests {
		if dayOfTime(q.Date).before(start) {
			continue
		}
		ph := []string{}
		for _, p := range q.Phones {
			ph = append(ph, p.PhoneNumber)
		}
		tags := []string{}
		for _, tg := range q.Tags {
			tags = append(tags, tg.Names...)
		}
		comments := []string{}
		for _, cm := range q.Comments {
			comments = append(comments, cm.Comment)
		}
		reqs = append(reqs, fmt.Sprint(q.RequestID, q.Date.UTC().Format(time.RFC3339), q.Subject, q.FIO, ph, e164(q.Phones[0].PhoneNumber),
			q.Emails, q.TargetRequest, str(q.Manager), q.Session.Source, tags, comments))
	}
	slices.Sort(calls)
	slices.Sort(reqs)
	return calls, reqs
}

func (b *testBundle) requireTruth(t *testing.T) {
	t.Helper()
	gotCalls, gotReqs := warehouse(t, b.pool)
	slices.Sort(gotCalls)
	slices.Sort(gotReqs)
	wantCalls, wantReqs := truth(b.sim, b.ex.cfg.StartDate)
	require.Greater(t, len(wantCalls), 100)
	require.Equal(t, wantCalls, gotCalls)
	require.Equal(t, wantReqs, gotReqs)
}

// ctStart is the first day the conformance suite's syncs read: 200 days before the
// simulator's present.
var ctStart = time.Date(2026, 4, 15, 0, 0, 0, 0, time.UTC)

// conformance runs Calltouch through the shared suite; pages capped at 150 calls make
// a 90-day window take several pages.
var conformance = extractortest.Subject{
	Platform: Platform,
	Env: func(base string) map[string]string {
		return map[string]string{"CALLTOUCH_API_TOKEN": testToken, "CALLTOUCH_SITE_ID": "51234",
			"CALLTOUCH_BASE_URL": base, "CALLTOUCH_START_DATE": ctStart.Format(time.DateOnly)}
	},
	RateVar: "CALLTOUCH_RATE_LIMIT",
	Sim: func(f simulator.Faults) *simulator.Sim {
		f.CalltouchPageCap = 150
		return simulator.New(simulator.Options{Seed: 3, CalltouchToken: testToken, CalltouchSiteID: 51234, Faults: f})
	},
	// Calltouch limits requests per second; the suite's budgets are per second.
	Limit:  func(f *simulator.Faults, n int, _ time.Duration) { f.CalltouchRateLimit = n },
	Faults: simulator.Faults{CalltouchPageCap: 150, UnknownFields: true, NULCharacters: true},
	Truth: func(_ testing.TB, sim *simulator.Sim, _ time.Time) map[string][]string {
		calls, reqs := truth(sim, ctStart)
		return map[string][]string{"calls": calls, "requests": reqs}
	},
	Warehouse: func(t testing.TB, pool *pgxpool.Pool, _ time.Time) map[string][]string {
		calls, reqs := warehouse(t, pool)
		return map[string][]string{"calls": calls, "requests": reqs}
	},
}

func TestConformance(t *testing.T) {
	t.Parallel()
	extractortest.Conformance(t, conformance)
}

// TestWanderingTypes: values that came with other JSON types ("True", numbers as
// strings) decode, unknown fields are kept in raw, and phone_e164 joins the RU formats.
func TestWanderingTypes(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{faults: simulator.Faults{UnknownFields: true}})
	b.sync(t, extractortest.Options{})
	var n int
	require.NoError(t, b.pool.QueryRow(t.Context(), `select count(*) from calltouch.calls
		where jsonb_typeof(raw->'uniqueCall') = 'string' and unique_call is not null`).Scan(&n))
	require.Positive(t, n)
	require.NoError(t, b.pool.QueryRow(t.Context(), `select count(*) from calltouch.calls where raw ? 'x_sim_unknown'`).Scan(&n))
	require.Positive(t, n)
	require.NoError(t, b.pool.QueryRow(t.Context(), `select count(distinct caller_number) from calltouch.calls
		where phone_e164 = (select phone_e164 from calltouch.calls where caller_number like '8 (%' limit 1)`).Scan(&n))
	require.GreaterOrEqual(t, n, 1)
}

// TestIncrementalCatchesLateEdits: after changes, a run reads only the lookback, a small
// share of the first sync's requests, and the warehouse equals the truth again: new
// calls and requests, late tags/comments/deals, deleted calls marked.
func TestIncrementalCatchesLateEdits(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{faults: simulator.Faults{CalltouchPageCap: 50}})
	first := b.sync(t, extractortest.Options{})
	b.requireTruth(t)

	b.sim.Mutate(simulator.Mutation{NewCalls: 5, EditedCalls: 8, DeletedCalls: 3, NewRequests: 3, EditedRequests: 4})
	before := b.requests()
	inc := b.sync(t, extractortest.Options{})
	spent := b.requests() - before
	require.Equal(t, spent, inc.Requests)
	require.Less(t, spent*4, first.Requests, "incremental %d requests against a first sync's %d", spent, first.Requests)
	b.requireTruth(t)

	deleted := b.sim.CalltouchTruth().DeletedCalls
	require.Len(t, deleted, 3)
	var marked []int64
	rows, err := b.pool.Query(t.Context(), `select call_id from calltouch.calls where deleted_at is not null order by call_id`)
	require.NoError(t, err)
	for rows.Next() {
		var id int64
		require.NoError(t, rows.Scan(&id))
		marked = append(marked, id)
	}
	slices.Sort(deleted)
	require.Equal(t, deleted, marked)

	// A run with nothing new costs the same few requests and changes nothing.
	again := b.sync(t, extractortest.Options{})
	require.Zero(t, again.Loaded.Inserted+again.Loaded.Updated)
}

// TestResumeIncrementalAfterCutoffs: an incremental run marks deletions with a batch
// per day of a page, its cursor moving at the page's end; cut off again and again after
// more batches than a page's days, it resumes and ends equal to the truth with the
// deleted calls marked.
func TestResumeIncrementalAfterCutoffs(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{faults: simulator.Faults{CalltouchPageCap: 100}, cfg: func(c *Config) {
		c.WindowDays = 30
		c.Lookback = 40 * 24 * time.Hour
	}})
	b.sync(t, extractortest.Options{})
	b.requireTruth(t)
	b.sim.Mutate(simulator.Mutation{NewCalls: 4, EditedCalls: 6, DeletedCalls: 2, NewRequests: 2, EditedRequests: 2})
	// Each stream on its own: a stream that re-reads its lookback on every run would
	// otherwise spend every cut-off before the next stream starts.
	cuts := 0
	for _, name := range []string{StreamCalls, StreamRequests} {
		for i := 0; ; i++ {
			require.Less(t, i, 300, "no progress")
			if !b.sync(t, extractortest.Options{Streams: []string{name}, CancelAfter: 10}).Cancelled {
				break
			}
			cuts++
		}
	}
	require.Positive(t, cuts, "some run was cut off")
	b.requireTruth(t)
	var marked int
	require.NoError(t, b.pool.QueryRow(t.Context(), `select count(*) from calltouch.calls where deleted_at is not null`).Scan(&marked))
	require.Equal(t, 2, marked)
}

// TestTokenNeverLeaks: the token travels in the URL; it must not appear in logs,
// errors, sync.* or raw, in any of its forms, even when the API echoes it in records
// and in an error body.
func TestTokenNeverLeaks(t *testing.T) {
	t.Parallel()
	forms := []string{testToken, url.QueryEscape(testToken), url.PathEscape(testToken), jsonEscaped(testToken)}
	failOnce := sync.Once{}
	b := setup(t, setupOpts{attempt: 2, wrap: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The requests journal fails once with the URL (token included) in its body;
			// calls records echo it in a field.
			if strings.Contains(r.URL.Path, "/requests") {
				failed := false
				failOnce.Do(func() { failed = true })
				if failed {
					w.WriteHeader(http.StatusBadRequest)
					fmt.Fprintf(w, `{"message":"bad request %s (%s)"}`, r.URL.String(), testToken)
					return
				}
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			body := strings.ReplaceAll(rec.Body.String(), `"hostname":"`, `"hostname":"`+jsonEscaped(testToken)+" "+url.QueryEscape(testToken)+" ")
			for k, v := range rec.Header() {
				if k != "Content-Length" {
					w.Header()[k] = v
				}
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write([]byte(body))
		})
	}})
	_, err := extractortest.Sync(t.Context(), t, b.pool, b.ex, extractortest.Options{Started: b.sim.Now(), Streams: []string{StreamRequests}})
	require.Error(t, err)
	_ = b.sync(t, extractortest.Options{})

	var texts []string
	texts = append(texts, err.Error(), b.logs.String())
	for _, q := range []string{
		`select coalesce(string_agg(raw::text || coalesce(hostname, ''), ''), '') from calltouch.calls`,
		`select coalesce(string_agg(raw::text, ''), '') from calltouch.requests`,
		`select coalesce(string_agg(coalesce(error, '') || coalesce(deletions_held, ''), ''), '') from sync.runs`,
		`select coalesce(string_agg(reason || payload, ''), '') from sync.rejects`,
		`select coalesce(string_agg(cursor::text, ''), '') from sync.state`,
	} {
		var s string
		require.NoError(t, b.pool.QueryRow(t.Context(), q).Scan(&s), q)
		texts = append(texts, s)
	}
	require.Contains(t, texts[0], "HTTP 400", "the error is reported")
	require.Contains(t, texts[2], "[REDACTED]", "the echoed token was in raw")
	for i, s := range texts {
		for _, f := range forms {
			require.NotContains(t, s, f, "text %d holds the token as %q", i, f)
		}
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	client, err := apiclient.New(apiclient.Config{Source: Source, BaseURL: "http://127.0.0.1:1"})
	require.NoError(t, err)
	_, err = New(Config{Client: client})
	require.ErrorContains(t, err, "CALLTOUCH_SITE_ID")
	_, err = New(Config{Client: client, SiteID: 1, WindowDays: 100})
	require.ErrorContains(t, err, "WindowDays")
}

func TestStreamsDescribeDeletions(t *testing.T) {
	t.Parallel()
	for _, d := range descs() {
		require.Equal(t, stream.DeletionsEveryRun, d.Deletions)
	}
}

// TestFirstSyncRequests measures a first sync of 90 days (the README's figures): the
// requests both journals cost at scales 1 and 10.
func TestFirstSyncRequests(t *testing.T) {
	t.Parallel()
	for _, scale := range []int{1, 10} {
		sim := simulator.New(simulator.Options{Seed: 3, Scale: scale, CalltouchToken: testToken})
		srv := httptest.NewServer(sim.Handler())
		t.Cleanup(srv.Close)
		client, err := apiclient.New(apiclient.Config{Source: Source, BaseURL: srv.URL, Auth: QueryAuth(testToken), Secrets: []string{testToken}})
		require.NoError(t, err)
		t.Cleanup(client.Close)
		ex, err := New(Config{Client: client, SiteID: sim.CalltouchSiteID(), Token: testToken, StartDate: sim.Now().AddDate(0, 0, -90)})
		require.NoError(t, err)
		pool := pgtest.NewDB(t)
		res := extractortest.MustSync(t.Context(), t, pool, ex, extractortest.Options{Started: sim.Now()})
		st := sim.Stats()
		calls := st.Routes["calltouch GET /calls-service/RestAPI/{siteId}/calls-diary/calls"]
		reqs := st.Routes["calltouch GET /calls-service/RestAPI/requests"]
		t.Logf("scale %d: first sync of 90 days: %d rows, %d requests (calls %d, requests journal %d): %.1f s at 5 requests a second",
			scale, res.Loaded.Inserted, calls+reqs, calls, reqs, float64(calls+reqs)/5)
		require.Equal(t, calls+reqs, res.Requests)
		require.LessOrEqual(t, calls+reqs, 4+scale, "90 days cost a few requests")
	}
}
