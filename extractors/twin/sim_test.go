package twin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
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
	"github.com/crmsync/crmsync/internal/simulator"
	"github.com/crmsync/crmsync/internal/twinauth"
)

type bundle struct {
	sim  *simulator.Sim
	pool *pgxpool.Pool
	ex   *Extractor
	logs *extractortest.SyncBuffer
	rec  *tokenRecorder
	// chatURL is the simulated chat API root.
	chatURL string
}

// newLimitedClient is a chat API client with a budget.
func newLimitedClient(t *testing.T, b *bundle, limit apiclient.Limit) *apiclient.Client {
	t.Helper()
	c, err := apiclient.New(apiclient.Config{Source: Source, BaseURL: b.chatURL, Auth: SetAuthHeader, RateLimit: limit, ErrorCode: ErrorCode})
	require.NoError(t, err)
	return c
}

// tokenRecorder sees the IAM's answers, to know every token and refresh token issued.
type tokenRecorder struct {
	mu     sync.Mutex
	tokens []string
}

func (r *tokenRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	var pair struct{ Token, RefreshToken string }
	if json.Unmarshal(b, &pair) == nil {
		r.mu.Lock()
		r.tokens = append(r.tokens, pair.Token, pair.RefreshToken)
		r.mu.Unlock()
	}
	return resp, nil
}

func (r *tokenRecorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(r.tokens), func(s string) bool { return s == "" })
}

// login is the TWIN user a test logs in as.
type login struct{ email, password string }

func setup(t *testing.T, opts simulator.Options, configure func(*Config, *login)) *bundle {
	t.Helper()
	sim := simulator.New(opts)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	b := &bundle{sim: sim, pool: pgtest.NewDB(t), logs: &extractortest.SyncBuffer{}, rec: &tokenRecorder{}, chatURL: srv.URL + simulator.TwinChatPath}
	logger := slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	lg := login{simulator.DefaultTwinEmail, simulator.DefaultTwinPassword}
	cfg := Config{Logger: logger, PageSize: 100}
	if configure != nil {
		configure(&cfg, &lg)
	}
	iam, err := apiclient.New(apiclient.Config{Source: Source, BaseURL: srv.URL + simulator.TwinIAMPath, Secrets: []string{lg.password},
		HTTPClient: &http.Client{Transport: b.rec}, Logger: logger, ErrorCode: ErrorCode, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	require.NoError(t, err)
	tokens, err := twinauth.New(twinauth.Config{IAM: iam, Email: lg.email, Password: lg.password})
	require.NoError(t, err)
	client, err := apiclient.New(apiclient.Config{Source: Source, BaseURL: srv.URL + simulator.TwinChatPath, Auth: SetAuthHeader,
		Secrets: []string{lg.password}, Logger: logger, ErrorCode: ErrorCode, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	require.NoError(t, err)
	cfg.Client, cfg.Tokens = client, tokens
	ex, err := New(cfg)
	require.NoError(t, err)
	b.ex = ex
	return b
}

func (b *bundle) sync(t *testing.T, opts extractortest.Options) extractortest.Result {
	t.Helper()
	return extractortest.MustSync(t.Context(), t, b.pool, b.ex, opts)
}

func (b *bundle) requests() int {
	st := b.sim.Stats()
	return st.Requests[simulator.APITwinChat]
}

func clean(s string) string { return strings.ReplaceAll(s, "\x00", "") }

func ts(s string) string {
	t, err := apiclient.ParseTime(s)
	if err != nil {
		return "bad:" + s
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func sp(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return clean(*s)
}

// rows renders a query's rows, one string each, sorted.
func (b *bundle) rows(t tb, sql string) []string {
	t.Helper()
	rs, err := b.pool.Query(context.Background(), sql)
	require.NoError(t, err)
	defer rs.Close()
	var out []string
	for rs.Next() {
		vals, err := rs.Values()
		require.NoError(t, err)
		parts := make([]string, len(vals))
		for i, v := range vals {
			switch x := v.(type) {
			case nil:
				parts[i] = "<nil>"
			case time.Time:
				parts[i] = x.UTC().Format(time.RFC3339Nano)
			default:
				parts[i] = fmt.Sprint(x)
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	require.NoError(t, rs.Err())
	slices.Sort(out)
	return out
}

// tb is what the comparisons need of a test.
type tb interface {
	require.TestingT
	Helper()
}

func sorted(s []string) []string { slices.Sort(s); return s }

// requireTruth compares every twin table with the simulator. liveAttrsOnly leaves out
// the values of attributes the catalog marks deleted (they go at the next sweep).
func (b *bundle) requireTruth(t tb, liveAttrsOnly bool) {
	t.Helper()
	tr := b.sim.TwinTruth()

	var chats []string
	for _, c := range tr.Chats {
		chats = append(chats, fmt.Sprintf("%s|%s|%d|%s", c.ID, clean(c.Name), c.SessionTTL, ts(c.UpdatedAt)))
	}
	require.Equal(t, sorted(chats), b.rows(t, `select id, name, session_ttl, updated_at from twin.chats where deleted_at is null`))

	var attrs []string
	for _, a := range tr.Attributes {
		attrs = append(attrs, fmt.Sprintf("%s|%d|%s", a.ID, a.CompanyID, a.Name))
	}
	require.Equal(t, sorted(attrs), b.rows(t, `select id, company_id, name from twin.attributes where deleted_at is null`))

	var sessions []string
	type clientTruth struct{ first, last, messenger, external, phone string }
	clients := map[string]*clientTruth{}
	for _, s := range tr.Sessions {
		var e164 any
		if phoneMessengers[s.MessengerType] {
			e164 = phones.E164(clean(s.Name), "RU")
		}
		sessions = append(sessions, fmt.Sprintf("%s|%s|%s|%s|%s|%s|%s|%s", s.ID, s.ChatID, s.ClientID, clean(s.Name), s.Status, ts(s.UpdatedAt), s.Tags, orNil(e164)))
		c := clients[s.ClientID]
		if c == nil {
			c = &clientTruth{first: s.ID, external: "<nil>", phone: "<nil>"}
			clients[s.ClientID] = c
		}
		c.last, c.messenger = s.ID, s.MessengerType // sessions are in startedAt order
		if s.ClientExternalID != nil {
			c.external = *s.ClientExternalID
		}
		if e164 != nil {
			c.phone = e164.(string)
		}
	}
	require.Equal(t, sorted(sessions), b.rows(t, `select id, chat_id, client_id, name, status, updated_at, tags, coalesce(phone_e164, '<nil>') from twin.sessions where deleted_at is null`))

	var cl []string
	for id, c := range clients {
		cl = append(cl, fmt.Sprintf("%s|%s|%s|%s|%s|%s", id, c.first, c.last, c.messenger, c.external, c.phone))
	}
	require.Equal(t, sorted(cl), b.rows(t, `select id, first_session_id, last_session_id, messenger_type, coalesce(external_id, '<nil>'), coalesce(phone_e164, '<nil>') from twin.clients`))

	var msgs []string
	for _, m := range tr.Messages {
		msgs = append(msgs, fmt.Sprintf("%s|%s|%s|%s|%s|%s", m.ID, m.SessionID, m.AuthorType, sp(m.AuthorName), clean(m.Body), ts(m.CreatedAt)))
	}
	require.Equal(t, sorted(msgs), b.rows(t, `select id, session_id, author_type, coalesce(author_name, '<nil>'), body, created_at from twin.messages`))

	var vals []string
	for _, v := range tr.ClientAttributes {
		vals = append(vals, fmt.Sprintf("%s|%s|%s|%s", v.ClientID, v.ID, v.Name, v.Value))
	}
	q := `select client_id, attribute_id, name, value from twin.client_attributes`
	if liveAttrsOnly {
		// Values of a deleted attribute, and the attribute name a value was read
		// with, are brought up to date when the client is read again (the sweep).
		q = `select client_id, attribute_id, '', value from twin.client_attributes
			where attribute_id not in (select id from twin.attributes where deleted_at is not null)`
		for i, v := range tr.ClientAttributes {
			vals[i] = fmt.Sprintf("%s|%s||%s", v.ClientID, v.ID, v.Value)
		}
	}
	require.Equal(t, sorted(vals), b.rows(t, q))
}

func orNil(v any) string {
	if v == nil {
		return "<nil>"
	}
	return fmt.Sprint(v)
}

// t0 is the simulator's present: runs start there, and its changes come after.
var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// A full sync with tokens lapsing every few requests and faults on equals the truth,
// and the phones came out in E.164 whatever their format.
func TestFullSyncEqualsTruth(t *testing.T) {
	t.Parallel()
	b := setup(t, simulator.Options{Seed: 3, Faults: simulator.Faults{TwinTokenRequests: 7, ErrorRate: 0.03, TruncateRate: 0.03,
		UnknownFields: true, NULCharacters: true, TwinPageCap: 40}}, nil)
	res := b.sync(t, extractortest.Options{Started: t0})
	require.Zero(t, res.Loaded.Rejected)
	b.requireTruth(t, false)

	// Sessions started while the streams page (offset drift) are all read by the next run.
	b.sim.SetFaults(simulator.Faults{OffsetDrift: true, TwinTokenRequests: 7, TwinPageCap: 40})
	b.sync(t, extractortest.Options{Started: t0.Add(time.Hour)})
	b.sim.SetFaults(simulator.Faults{})
	b.sync(t, extractortest.Options{Started: t0.Add(2 * time.Hour)})
	b.requireTruth(t, false)
	st := b.sim.TwinAuthStats()
	require.Greater(t, st.Refreshes, 10, "tokens lapsed and were refreshed")
	require.Positive(t, b.sim.Stats().Status[simulator.APITwinChat][401])

	var formats, e164 int
	require.NoError(t, b.pool.QueryRow(t.Context(), `select count(distinct phone), count(*) filter (where phone_e164 like '+79%') from twin.clients where phone is not null`).Scan(&formats, &e164))
	require.Greater(t, formats, 5)
	require.Positive(t, e164)
}

// An incremental run after changes costs a small share of a full sync and leaves the
// tables equal to the truth; a sweep then catches edits that moved no timestamp.
func TestIncrementalAndSweep(t *testing.T) {
	t.Parallel()
	b := setup(t, simulator.Options{Seed: 5}, nil)
	b.sync(t, extractortest.Options{Started: t0})
	full := b.requests()
	b.requireTruth(t, false)

	b.sim.ResetStats()
	b.sim.Mutate(simulator.Mutation{Twin: simulator.TwinMutation{DeletedAttrs: 1}})
	b.sim.Mutate(simulator.Mutation{Twin: simulator.TwinMutation{NewSessions: 3, NewMessages: 5, TouchedSessions: 2,
		NewAttributes: 1, RenamedAttrs: 1, EditedChats: 1}})
	b.sync(t, extractortest.Options{Started: t0.Add(2 * time.Hour)})
	incr := b.requests()
	t.Logf("requests: full sync %d, incremental %d (%.1f%%)", full, incr, 100*float64(incr)/float64(full))
	require.Less(t, incr*10, full, "an incremental run costs under a tenth of a full sync")
	b.requireTruth(t, true)
	var marked int
	require.NoError(t, b.pool.QueryRow(t.Context(), `select count(*) from twin.attributes where deleted_at is not null`).Scan(&marked))
	require.Equal(t, 1, marked)

	// Operators edit and clear values: no timestamp moves, an incremental run cannot see it.
	b.sim.Mutate(simulator.Mutation{Twin: simulator.TwinMutation{EditedValues: 15, ClearedValues: 5}})
	b.sync(t, extractortest.Options{Started: t0.Add(4 * time.Hour), Streams: []string{StreamClientAttributes}})
	require.Panics(t, func() { b.requireTruth(&panicT{t}, false) }, "the edits are invisible without a sweep")

	b.sim.ResetStats()
	b.sync(t, extractortest.Options{Started: t0.Add(25 * time.Hour)})
	t.Logf("requests: sweep run %d", b.requests())
	b.requireTruth(t, false)
}

// panicT turns a failed require into a panic, to assert that a comparison fails.
type panicT struct{ *testing.T }

func (p *panicT) Errorf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (p *panicT) FailNow()                          { panic("fail") }

// Runs cut off after a few batches resume from their cursors and end equal to the
// truth.
func TestResumeAfterCutoffs(t *testing.T) {
	t.Parallel()
	b := setup(t, simulator.Options{Seed: 9, Faults: simulator.Faults{TwinTokenRequests: 4, TwinPageCap: 60}}, nil)
	cutoffs := 0
	for _, d := range b.ex.Streams() {
		runs := 0
		for ; runs < 40; runs++ {
			res := b.sync(t, extractortest.Options{Started: t0.Add(time.Duration(runs) * time.Minute), CancelAfter: 2, Streams: []string{d.Name}})
			if !res.Cancelled {
				break
			}
		}
		require.Less(t, runs, 40, "stream %s did not finish", d.Name)
		cutoffs += runs
	}
	require.Greater(t, cutoffs, 5)
	b.requireTruth(t, false)
}

// The client keeps to TWIN_RATE_LIMIT: the simulator, limiting at the same budget, never
// answers 429.
func TestBudget(t *testing.T) {
	t.Parallel()
	b := setup(t, simulator.Options{Seed: 13, Faults: simulator.Faults{TwinRateLimit: 4, RateWindow: time.Second, TwinPageCap: 50}},
		func(c *Config, _ *login) { c.PageSize = 50 })
	b.ex.cfg.Client = newLimitedClient(t, b, apiclient.Limit{N: 4, Per: time.Second})
	b.sync(t, extractortest.Options{Started: t0, Streams: []string{StreamSessions, StreamAttributes, StreamChats}})
	st := b.sim.Stats()
	require.Zero(t, st.RateLimited[simulator.APITwinChat])
	require.LessOrEqual(t, st.MaxInWindow[simulator.APITwinChat], 4)
	require.GreaterOrEqual(t, st.Requests[simulator.APITwinChat], 8)
}

// No token, refresh token or password shows in logs, errors, sync.* or raw.
func TestNoSecrets(t *testing.T) {
	t.Parallel()
	b := setup(t, simulator.Options{Seed: 11, Faults: simulator.Faults{TwinTokenRequests: 3, ErrorRate: 0.02}}, nil)
	b.sync(t, extractortest.Options{Started: t0})
	// A run that fails to log in leaves its error in sync.runs.
	bad := setup(t, simulator.Options{Seed: 11}, func(_ *Config, l *login) { l.password = "wrong-secret-pass" })
	_, err := extractortest.Sync(t.Context(), t, bad.pool, bad.ex, extractortest.Options{Started: t0, Streams: []string{StreamChats}})
	require.ErrorContains(t, err, "Invalid credentials.")
	require.NotContains(t, err.Error(), "wrong-secret-pass")

	secrets := append(b.rec.all(), simulator.DefaultTwinPassword, "wrong-secret-pass")
	require.Greater(t, len(secrets), 10)
	var dump strings.Builder
	dump.WriteString(b.logs.String())
	dump.WriteString(bad.logs.String())
	for _, pool := range []*pgxpool.Pool{b.pool, bad.pool} {
		for _, q := range []string{
			`select coalesce(string_agg(coalesce(error, ''), ' '), '') from sync.runs`,
			`select coalesce(string_agg(cursor::text, ' '), '') from sync.state`,
			`select coalesce(string_agg(reason || coalesce(payload::text, ''), ' '), '') from sync.rejects`,
			`select coalesce(string_agg(raw::text, ' '), '') from twin.sessions`,
			`select coalesce(string_agg(raw::text, ' '), '') from twin.messages`,
			`select coalesce(string_agg(raw::text, ' '), '') from twin.client_attributes`,
			`select coalesce(string_agg(raw::text, ' '), '') from twin.chats`,
		} {
			var s string
			require.NoError(t, pool.QueryRow(t.Context(), q).Scan(&s), q)
			dump.WriteString(s)
		}
	}
	require.Contains(t, dump.String(), "http request", "debug logs were captured")
	for _, s := range secrets {
		require.NotContains(t, dump.String(), s)
	}
}
