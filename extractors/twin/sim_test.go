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
	b := &bundle{sim: sim, pool: pgtest.NewDB(t), logs: &extractortest.SyncBuffer{}, rec: &tokenRecorder{}}
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
func rows(t tb, pool *pgxpool.Pool, sql string) []string {
	t.Helper()
	rs, err := pool.Query(context.Background(), sql)
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

// twinTruth renders, table by table, what the simulator holds, as twinWarehouse
// renders the tables. liveAttrsOnly leaves out the values of attributes the catalog
// marks deleted and the attribute names values were read with (both go at the next
// sweep).
func twinTruth(sim *simulator.Sim, liveAttrsOnly bool) map[string][]string {
	tr := sim.TwinTruth()
	out := map[string][]string{}
	for _, c := range tr.Chats {
		out["chats"] = append(out["chats"], fmt.Sprintf("%s|%s|%d|%s", c.ID, clean(c.Name), c.SessionTTL, ts(c.UpdatedAt)))
	}
	for _, a := range tr.Attributes {
		out["attributes"] = append(out["attributes"], fmt.Sprintf("%s|%d|%s", a.ID, a.CompanyID, a.Name))
	}
	type clientTruth struct{ first, last, messenger, external, phone string }
	clients := map[string]*clientTruth{}
	for _, s := range tr.Sessions {
		var e164 any
		if phoneMessengers[s.MessengerType] {
			e164 = phones.E164(clean(s.Name), "RU")
		}
		out["sessions"] = append(out["sessions"], fmt.Sprintf("%s|%s|%s|%s|%s|%s|%s|%s", s.ID, s.ChatID, s.ClientID, clean(s.Name), s.Status, ts(s.UpdatedAt), s.Tags, orNil(e164)))
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
	for id, c := range clients {
		out["clients"] = append(out["clients"], fmt.Sprintf("%s|%s|%s|%s|%s|%s", id, c.first, c.last, c.messenger, c.external, c.phone))
	}
	for _, m := range tr.Messages {
		out["messages"] = append(out["messages"], fmt.Sprintf("%s|%s|%s|%s|%s|%s", m.ID, m.SessionID, m.AuthorType, sp(m.AuthorName), clean(m.Body), ts(m.CreatedAt)))
	}
	for _, v := range tr.ClientAttributes {
		name := v.Name
		if liveAttrsOnly {
			name = ""
		}
		out["client_attributes"] = append(out["client_attributes"], fmt.Sprintf("%s|%s|%s|%s", v.ClientID, v.ID, name, v.Value))
	}
	return out
}

// twinWarehouse renders the twin tables' live rows like twinTruth.
func twinWarehouse(t tb, pool *pgxpool.Pool, liveAttrsOnly bool) map[string][]string {
	t.Helper()
	values := `select client_id, attribute_id, name, value from twin.client_attributes`
	if liveAttrsOnly {
		values = `select client_id, attribute_id, '', value from twin.client_attributes
			where attribute_id not in (select id from twin.attributes where deleted_at is not null)`
	}
	return map[string][]string{
		"chats":      rows(t, pool, `select id, name, session_ttl, updated_at from twin.chats where deleted_at is null`),
		"attributes": rows(t, pool, `select id, company_id, name from twin.attributes where deleted_at is null`),
		"sessions": rows(t, pool, `select id, chat_id, client_id, name, status, updated_at, tags, coalesce(phone_e164, '<nil>')
			from twin.sessions where deleted_at is null`),
		"clients": rows(t, pool, `select id, first_session_id, last_session_id, messenger_type, coalesce(external_id, '<nil>'),
			coalesce(phone_e164, '<nil>') from twin.clients`),
		"messages":          rows(t, pool, `select id, session_id, author_type, coalesce(author_name, '<nil>'), body, created_at from twin.messages`),
		"client_attributes": rows(t, pool, values),
	}
}

// requireTruth compares every twin table with the simulator (see twinTruth).
func (b *bundle) requireTruth(t tb, liveAttrsOnly bool) {
	t.Helper()
	want, got := twinTruth(b.sim, liveAttrsOnly), twinWarehouse(t, b.pool, liveAttrsOnly)
	for table, rows := range want {
		require.Equal(t, sorted(rows), got[table], "table %s", table)
	}
}

func orNil(v any) string {
	if v == nil {
		return "<nil>"
	}
	return fmt.Sprint(v)
}

// t0 is the simulator's present: runs start there, and its changes come after.
var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// conformance runs TWIN through the shared suite with tokens lapsing every five
// requests, so every test also renews tokens mid-stream.
var conformance = extractortest.Subject{
	Platform: Platform,
	APIs:     []string{simulator.APITwinChat, simulator.APITwinIAM},
	Env: func(base string) map[string]string {
		return map[string]string{"TWIN_EMAIL": simulator.DefaultTwinEmail, "TWIN_PASSWORD": simulator.DefaultTwinPassword,
			"TWIN_IAM_URL": base + simulator.TwinIAMPath, "TWIN_CHAT_URL": base + simulator.TwinChatPath, "TWIN_PAGE_SIZE": "50"}
	},
	RateVar: "TWIN_RATE_LIMIT",
	Sim: func(f simulator.Faults) *simulator.Sim {
		f.TwinTokenRequests, f.TwinPageCap = 5, 40
		return simulator.New(simulator.Options{Seed: 3, Faults: f})
	},
	Limit:  func(f *simulator.Faults, n int, per time.Duration) { f.TwinRateLimit, f.RateWindow = n, per },
	Faults: simulator.Faults{TwinTokenRequests: 5, TwinPageCap: 40, UnknownFields: true, NULCharacters: true, OffsetDrift: true},
	// Streams that read one page at a time: their request count does not depend on
	// which concurrent request meets a lapsed token.
	RateStreams: []string{StreamChats, StreamAttributes, StreamSessions},
	Truth: func(_ testing.TB, sim *simulator.Sim, _ time.Time) map[string][]string {
		return twinTruth(sim, false)
	},
	Warehouse: func(t testing.TB, pool *pgxpool.Pool, _ time.Time) map[string][]string {
		return twinWarehouse(t, pool, false)
	},
}

func TestConformance(t *testing.T) {
	t.Parallel()
	extractortest.Conformance(t, conformance)
}

// An incremental run after changes costs a small share of a full sync and leaves the
// tables equal to the truth; a sweep then catches edits that moved no timestamp. Phones
// come out in E.164 whatever their format, and lapsed tokens are refreshed.
func TestIncrementalAndSweep(t *testing.T) {
	t.Parallel()
	b := setup(t, simulator.Options{Seed: 5, Faults: simulator.Faults{TwinTokenRequests: 7}}, nil)
	b.sync(t, extractortest.Options{Started: t0})
	full := b.requests()
	b.requireTruth(t, false)
	require.Greater(t, b.sim.TwinAuthStats().Refreshes, 10, "tokens lapsed and were refreshed")
	require.Positive(t, b.sim.Stats().Status[simulator.APITwinChat][401])
	var formats, e164 int
	require.NoError(t, b.pool.QueryRow(t.Context(), `select count(distinct phone), count(*) filter (where phone_e164 like '+79%') from twin.clients where phone is not null`).Scan(&formats, &e164))
	require.Greater(t, formats, 5)
	require.Positive(t, e164)

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

// No token or refresh token issued during the runs, nor a wrong password, shows in logs,
// errors, sync.* or raw (the conformance suite checks the configured password).
func TestTokensNeverLeak(t *testing.T) {
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
