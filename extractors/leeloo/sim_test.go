package leeloo

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/extractors/internal/lenient"
	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/extractortest"
	"github.com/crmsync/crmsync/internal/pgtest"
	"github.com/crmsync/crmsync/internal/simulator"
	"github.com/crmsync/crmsync/internal/stream"
)

// These tests run the streams end to end: the simulator over HTTP, the real loader and
// checkpoint store on a fresh PostgreSQL database, and compare the tables with the
// simulator's truth.

const simToken = "sim-leeloo-token"

type simBundle struct {
	sim  *simulator.Sim
	ex   *Extractor
	pool *pgxpool.Pool
}

func setupSim(t *testing.T, faults simulator.Faults, cfg Config) *simBundle {
	t.Helper()
	sim := simulator.New(simulator.Options{Seed: 7, Scale: 1, LeelooToken: simToken, Faults: faults})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	client, err := apiclient.New(apiclient.Config{
		Source:      Source,
		BaseURL:     srv.URL,
		Auth:        func(r *http.Request) { r.Header.Set("X-Leeloo-AuthToken", simToken) },
		Secrets:     []string{simToken},
		ErrorCode:   ErrorCode,
		MinBackoff:  time.Millisecond,
		MaxBackoff:  50 * time.Millisecond,
		MaxAttempts: 12,
	})
	require.NoError(t, err)
	cfg.Client = client
	ex, err := New(cfg)
	require.NoError(t, err)
	return &simBundle{sim: sim, ex: ex, pool: pgtest.NewDB(t)}
}

// defaultStreams are the streams on by default, in a sensible order.
var defaultStreams = []string{StreamPeople, StreamChannels, StreamMessages, StreamOrders, StreamTunnels,
	StreamTunnelStats, StreamUsers, StreamTags, StreamConnections, StreamTemplates, StreamAccounts}

func (b *simBundle) sync(t *testing.T, opts extractortest.Options) extractortest.Result {
	t.Helper()
	if len(opts.Streams) == 0 {
		opts.Streams = defaultStreams
	}
	if opts.Started.IsZero() {
		opts.Started = b.sim.Now()
	}
	return extractortest.MustSync(t.Context(), t, b.pool, b.ex, opts)
}

// ---- comparison ----

const null = "∅"

// SQL renderers: each column as text, NULL as ∅, times in UTC with milliseconds.
func sqlTS(c string) string {
	return fmt.Sprintf(`coalesce(to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), '%s')`, c, null)
}
func sqlTxt(c string) string { return fmt.Sprintf(`coalesce(%s::text, '%s')`, c, null) }
func sqlArr(c string) string { return fmt.Sprintf(`coalesce(array_to_string(%s, ','), '')`, c) }

// dbRows returns the table's rows rendered by the expressions, sorted.
// liveOnly leaves out the rows marked deleted: the live rows must be exactly the truth.
const liveOnly = " WHERE deleted_at IS NULL"

func dbRows(t testing.TB, pool *pgxpool.Pool, table string, exprs ...string) []string {
	t.Helper()
	rows, err := pool.Query(t.Context(), fmt.Sprintf(`SELECT concat_ws('|', %s) FROM %s`, strings.Join(exprs, ", "), table))
	require.NoError(t, err)
	var out []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	slices.Sort(out)
	return out
}

// Truth renderers.
func tStr(s string) string {
	s = strings.ReplaceAll(s, "\x00", "") // the loader removes NULs
	if s == lenient.NotDefined {
		return null
	}
	return s
}
func tPtr(s *string) string {
	if s == nil {
		return null
	}
	return tStr(*s)
}
func tTS(t testing.TB, s string) string {
	if s == "" {
		return null
	}
	v, err := apiclient.ParseTime(s)
	require.NoError(t, err, s)
	return v.UTC().Format("2006-01-02T15:04:05.000Z")
}
func tArr(a []string) string {
	out := make([]string, len(a))
	for i, s := range a {
		out[i] = tStr(s)
	}
	return strings.Join(out, ",")
}
func tNumS(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
func tBoolS(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
func row(vals ...string) string { return strings.Join(vals, "|") }

func sorted(s []string) []string { slices.Sort(s); return s }

// truthTable is one table of the comparison: the rows the truth gives and the SQL
// expressions rendering the table's rows the same way.
type truthTable struct {
	name  string // table, with a WHERE clause where only some rows count
	want  []string
	exprs []string
}

// truthTables renders the truth of every table of the default streams (with the zero
// truth, only the expressions).
func truthTables(t testing.TB, tr simulator.LeelooTruth, started time.Time) []truthTable {
	var people, links []string
	for _, p := range tr.People {
		people = append(people, row(p.ID, tPtr(p.Name), tStr(p.Phone), tStr(p.Email), tArr(p.Tags), tTS(t, p.LastMessageTime), tTS(t, p.CreatedAt)))
		for _, a := range p.Accounts {
			links = append(links, row(p.ID, a.AccountID, a.ConnectionID, a.From))
		}
	}
	var chans []string
	for _, c := range tr.Channels {
		chans = append(chans, row(c.ID, c.PersonID, tPtr(c.Name), c.From, c.BotStatus, tArr(c.Tags), tPtr(c.UTM.Source), tPtr(c.UTM.Campaign), tTS(t, c.LastMessageTime), tTS(t, c.CreatedAt)))
	}
	var orders []string
	for _, o := range tr.Orders {
		orders = append(orders, row(o.ID, o.PersonID, tNumS(o.Price), o.Currency, o.Status, tBoolS(o.IsManual), tTS(t, o.TransactionDate), tTS(t, o.UpdatedAt)))
	}
	var tunnels, tools, sources, stats []string
	for _, tn := range tr.Tunnels {
		tunnels = append(tunnels, row(tn.ID, tn.Name, tn.Status, tTS(t, tn.CreatedAt)))
	}
	for _, l := range tr.Leadgentools {
		tools = append(tools, row(l.ID, l.TunnelID, l.Name))
	}
	for _, s := range tr.TrafficSources {
		sources = append(sources, row(s.LeadgentoolID, s.ID, s.Name, tPtr(s.Description)))
	}
	at := started.UTC().Format("2006-01-02T15:04:05.000Z")
	var revenue []string
	for _, s := range tr.TunnelStats {
		stats = append(stats, row(s.TunnelID, at, s.TunnelName, strconv.Itoa(s.SubscribersCount), strconv.Itoa(s.ActiveSubscribersCount), strconv.Itoa(s.OrdersCount), strconv.Itoa(s.SuccessfulOrdersCount)))
		for i, r := range s.Revenue {
			revenue = append(revenue, row(s.TunnelID, strconv.Itoa(i), r.Currency, tNumS(r.Amount)))
		}
	}
	var users, tags, conns, cats, tpls []string
	for _, u := range tr.Users {
		users = append(users, row(u.ID, tStr(u.Name), tStr(u.Email), tTS(t, u.CreatedAt)))
	}
	for _, g := range tr.Tags {
		tags = append(tags, row(g.ID, tStr(g.Name)))
	}
	for _, c := range tr.Connections {
		conns = append(conns, row(c.ID, tStr(c.Name), c.From, c.Status))
	}
	for _, c := range tr.TemplateCategories {
		cats = append(cats, row(c.ID, tStr(c.Name)))
	}
	for _, p := range tr.Templates {
		tpls = append(tpls, row(p.CategoryID, p.ID, tStr(p.MessageName)))
	}
	var accts, subs []string
	for _, a := range tr.Accounts {
		accts = append(accts, row(a.ID, tPtr(a.Name), tArr(a.Tags), a.From, a.BotStatus, tPtr(a.Gender), tStr(a.Locale), tTS(t, a.LastMessageTime), tTS(t, a.CreatedAt)))
		for i, s := range a.SubscribeHistory {
			subs = append(subs, row(a.ID, strconv.Itoa(i), s.TunnelName, s.LeadgentoolName, s.TrafficSource))
		}
	}
	return []truthTable{
		{tabPeople + liveOnly, people, []string{"id", sqlTxt("name"), sqlTxt("phone"), sqlTxt("email"), sqlArr("tags"), sqlTS("last_message_time"), sqlTS("created_at")}},
		{tabPersonChannels + liveOnly, links, []string{"person_id", "account_id", sqlTxt("connection_id"), sqlTxt("from_messenger")}},
		{tabChannels + liveOnly, chans, []string{"id", sqlTxt("person_id"), sqlTxt("name"), sqlTxt("from_messenger"), sqlTxt("bot_status"), sqlArr("tags"), sqlTxt("utm_source"), sqlTxt("utm_campaign"), sqlTS("last_message_time"), sqlTS("created_at")}},
		messagesTruth(t, tr),
		{tabOrders + liveOnly, orders, []string{"id", sqlTxt("person_id"), sqlTxt("price"), sqlTxt("currency"), sqlTxt("status"), sqlTxt("is_manual"), sqlTS("transaction_date"), sqlTS("updated_at")}},
		{tabTunnels + liveOnly, tunnels, []string{"id", sqlTxt("name"), sqlTxt("status"), sqlTS("created_at")}},
		{tabLeadgentools + liveOnly, tools, []string{"id", "tunnel_id", sqlTxt("name")}},
		{tabTrafficSources + liveOnly, sources, []string{"leadgentool_id", sqlTxt("id"), sqlTxt("name"), sqlTxt("description")}},
		{tabTunnelStats + " WHERE captured_at = '" + at + "'", stats, []string{"tunnel_id", sqlTS("captured_at"), sqlTxt("tunnel_name"), sqlTxt("subscribers_count"), sqlTxt("active_subscribers_count"), sqlTxt("orders_count"), sqlTxt("successful_orders_count")}},
		{tabStatsRevenue + " WHERE captured_at = '" + at + "'", revenue, []string{"tunnel_id", sqlTxt("ordinal"), sqlTxt("currency"), sqlTxt("amount")}},
		{tabUsers + liveOnly, users, []string{"id", sqlTxt("name"), sqlTxt("email"), sqlTS("created_at")}},
		{tabTags + liveOnly, tags, []string{"id", sqlTxt("name")}},
		{tabConnections + liveOnly, conns, []string{"id", sqlTxt("name"), sqlTxt("from_messenger"), sqlTxt("status")}},
		{tabCategories + liveOnly, cats, []string{"id", sqlTxt("name")}},
		{tabTemplates + liveOnly, tpls, []string{"category_id", "id", sqlTxt("message_name")}},
		{tabAccounts + liveOnly, accts, []string{"id", sqlTxt("name"), sqlArr("tags"), sqlTxt("from_messenger"), sqlTxt("bot_status"), sqlTxt("gender"), sqlTxt("locale"), sqlTS("last_message_time"), sqlTS("created_at")}},
		{tabSubscriptions + liveOnly, subs, []string{"account_id", "ordinal::text", sqlTxt("tunnel_name"), sqlTxt("leadgentool_name"), sqlTxt("traffic_source")}},
	}
}

// messagesTruth is leeloo.messages against every channel's messages.
func messagesTruth(t testing.TB, tr simulator.LeelooTruth) truthTable {
	var msgs []string
	for _, m := range tr.Messages {
		by := null
		if m.Links != nil && m.Links.CreatedBy.ID != "" {
			by = m.Links.CreatedBy.ID
		}
		msgs = append(msgs, row(m.ChannelID, m.ID, tStr(m.Text), m.Type, tBoolS(m.Read), by, tTS(t, m.CreatedAt)))
	}
	return truthTable{tabMessages + ` AS m WHERE NOT EXISTS (SELECT FROM leeloo.communication_channels AS c WHERE c.id = m.channel_id AND c.deleted_at IS NOT NULL)`, msgs, []string{"channel_id", "id", sqlTxt("text"), sqlTxt("type"), sqlTxt("read"), sqlTxt("created_by_user_id"), sqlTS("created_at")}}
}

// conformance is Leeloo's subject of the shared conformance suite.
var conformance = extractortest.Subject{
	Platform: Platform,
	Env: func(base string) map[string]string {
		return map[string]string{"LEELOO_AUTH_TOKEN": simToken, "LEELOO_BASE_URL": base, "LEELOO_PAGE_SIZE": "20"}
	},
	RateVar: "LEELOO_RATE_LIMIT",
	Sim: func(f simulator.Faults) *simulator.Sim {
		return simulator.New(simulator.Options{Seed: 7, Scale: 1, LeelooToken: simToken, Faults: f})
	},
	Limit: func(f *simulator.Faults, n int, per time.Duration) { f.LeelooRateLimit, f.RateWindow = n, per },
	Faults: simulator.Faults{OffsetDrift: true, DuplicateMessageIDs: true, UnknownFields: true, NULCharacters: true,
		LeelooPageCap: 15, StrictPeopleFilter: true},
	Streams:     defaultStreams,
	RateStreams: []string{StreamUsers, StreamTags, StreamConnections, StreamTemplates, StreamTunnels},
	Truth: func(t testing.TB, sim *simulator.Sim, started time.Time) map[string][]string {
		out := map[string][]string{}
		for _, tb := range truthTables(t, sim.Truth().Leeloo, started) {
			out[tb.name] = tb.want
		}
		return out
	},
	Warehouse: func(t testing.TB, pool *pgxpool.Pool, started time.Time) map[string][]string {
		out := map[string][]string{}
		for _, tb := range truthTables(t, simulator.LeelooTruth{}, started) {
			out[tb.name] = dbRows(t, pool, tb.name, tb.exprs...)
		}
		return out
	},
}

func TestConformance(t *testing.T) {
	t.Parallel()
	extractortest.Conformance(t, conformance)
}

// requireTruth compares every table of the default streams with the simulator's truth.
func requireTruth(t *testing.T, b *simBundle, started time.Time) {
	t.Helper()
	for _, tb := range truthTables(t, b.sim.Truth().Leeloo, started) {
		require.Equal(t, sorted(tb.want), dbRows(t, b.pool, tb.name, tb.exprs...), tb.name)
	}
}

// requireMessages compares leeloo.messages with every channel's messages.
func requireMessages(t *testing.T, b *simBundle, tr simulator.LeelooTruth) {
	t.Helper()
	tb := messagesTruth(t, tr)
	require.Equal(t, sorted(tb.want), dbRows(t, b.pool, tb.name, tb.exprs...), "messages")
}

// ---- tests ----

func TestAccountMessagesEqualTruth(t *testing.T) {
	t.Parallel()
	b := setupSim(t, simulator.Faults{}, Config{})
	b.sync(t, extractortest.Options{Streams: []string{StreamAccountMessages}})
	requireMessages(t, b, b.sim.Truth().Leeloo)

	// Incremental: only the chats with new messages are read again.
	b.sim.Mutate(simulator.Mutation{NewMessages: 10})
	b.sim.ResetStats()
	b.sync(t, extractortest.Options{Streams: []string{StreamAccountMessages}})
	requireMessages(t, b, b.sim.Truth().Leeloo)
	chats := 0
	for route, n := range b.sim.Stats().Routes {
		if strings.Contains(route, "chat-messages") {
			chats += n
		}
	}
	require.LessOrEqual(t, chats, 10, "only chats with new messages are read")
}

func TestIncrementalPicksUpChanges(t *testing.T) {
	t.Parallel()
	b := setupSim(t, simulator.Faults{}, Config{})
	b.sync(t, extractortest.Options{})
	full := b.sim.Stats()

	before := b.sim.Truth().Leeloo
	b.sim.Mutate(simulator.Mutation{NewPeople: 5, NewMessages: 25, EditedOrders: 6, NewOrders: 3})
	after := b.sim.Truth().Leeloo
	b.sim.ResetStats()
	started := b.sim.Now()
	incremental := []string{StreamPeople, StreamChannels, StreamMessages, StreamOrders}
	res := b.sync(t, extractortest.Options{Streams: incremental, Started: started})
	inc := b.sim.Stats()
	requireTruthFor(t, b, true)

	// Far fewer requests than the full sync of the same streams.
	fullReq, incReq := 0, 0
	for route, n := range full.Routes {
		if !strings.Contains(route, "/api/v1/") && !strings.Contains(route, "tunnels") && !strings.Contains(route, "users") &&
			!strings.Contains(route, "tags") && !strings.Contains(route, "connections") && !strings.Contains(route, "categories") {
			fullReq += n
		}
	}
	for _, n := range inc.Routes {
		incReq += n
	}
	t.Logf("full sync of people, channels, messages, orders: %d requests; incremental: %d", fullReq, incReq)
	require.Less(t, incReq*5, fullReq, "incremental requests")

	// Exactly the new records are inserted, and the changed ones updated.
	newKeys := func(keysOf func(simulator.LeelooTruth) []string) int {
		old := map[string]bool{}
		for _, k := range keysOf(before) {
			old[k] = true
		}
		n := 0
		for _, k := range keysOf(after) {
			if !old[k] {
				n++
			}
		}
		return n
	}
	peopleKeys := func(tr simulator.LeelooTruth) (ks []string) {
		for _, p := range tr.People {
			ks = append(ks, "p"+p.ID)
			for _, a := range p.Accounts {
				ks = append(ks, "l"+p.ID+a.AccountID)
			}
		}
		return ks
	}
	require.Equal(t, newKeys(peopleKeys), res.PerStream[StreamPeople].Inserted, "people and links inserted")
	require.Equal(t, newKeys(func(tr simulator.LeelooTruth) (ks []string) {
		for _, c := range tr.Channels {
			ks = append(ks, c.ID)
		}
		return ks
	}), res.PerStream[StreamChannels].Inserted, "channels inserted")
	require.Equal(t, newKeys(func(tr simulator.LeelooTruth) (ks []string) {
		for _, m := range tr.Messages {
			ks = append(ks, m.ChannelID+"/"+m.ID)
		}
		return ks
	}), res.PerStream[StreamMessages].Inserted, "messages inserted")
	require.Equal(t, 3, res.PerStream[StreamOrders].Inserted, "orders inserted")
	changed := 0
	oldOrders := map[string]simulator.Order{}
	for _, o := range before.Orders {
		oldOrders[o.ID] = o
	}
	for _, o := range after.Orders {
		if old, ok := oldOrders[o.ID]; ok && (old.Status != o.Status || old.UpdatedAt != o.UpdatedAt || old.Price != o.Price) {
			changed++
		}
	}
	require.Positive(t, changed)
	require.Equal(t, changed, res.PerStream[StreamOrders].Updated, "edited orders updated")
	require.Zero(t, res.PerStream[StreamMessages].Updated, "old messages are not rewritten")
}

// TestIncrementalAccountsAndTunnels: after a Mutate, the accounts stream reads the list
// pages plus the details of exactly the accounts that changed, the tunnels stream only
// its list; a run with nothing changed writes nothing; a full sweep reads every detail.
func TestIncrementalAccountsAndTunnels(t *testing.T) {
	t.Parallel()
	b := setupSim(t, simulator.Faults{}, Config{})
	streams := []string{StreamAccounts, StreamTunnels}
	first := b.sim.Now()
	b.sync(t, extractortest.Options{Streams: streams, Started: first})
	full := b.sim.Stats().Routes
	before := b.sim.Truth().Leeloo
	require.Equal(t, len(before.Accounts), full["leeloo GET /api/v1/accounts/{id}"], "a first run reads every account's detail")
	require.Equal(t, len(before.Tunnels), full["leeloo GET /api/v2/tunnels/{id}"])

	b.sim.Mutate(simulator.Mutation{NewPeople: 5, NewMessages: 25, EditedOrders: 3})
	after := b.sim.Truth().Leeloo
	old := map[string]string{}
	for _, a := range before.Accounts {
		old[a.ID] = a.LastMessageTime
	}
	changed := 0
	for _, a := range after.Accounts {
		if last, ok := old[a.ID]; !ok || last != a.LastMessageTime {
			changed++
		}
	}
	require.Greater(t, changed, 10)

	b.sim.ResetStats()
	res := b.sync(t, extractortest.Options{Streams: streams, Started: b.sim.Now()})
	inc := b.sim.Stats().Routes
	t.Logf("full: %v; incremental after the mutation: %v", full, inc)
	pages := (len(after.Accounts) + DefaultPageSize - 1) / DefaultPageSize
	require.Equal(t, changed, inc["leeloo GET /api/v1/accounts/{id}"], "details of the changed accounts only")
	require.LessOrEqual(t, inc["leeloo GET /api/v1/accounts"], 3, "list pages down to the band, plus the one read ahead")
	require.Less(t, inc["leeloo GET /api/v1/accounts"], pages)
	require.Zero(t, inc["leeloo GET /api/v2/tunnels/{id}"], "no tunnel changed")
	require.Equal(t, 1, inc["leeloo GET /api/v2/tunnels"])
	require.Equal(t, len(after.Accounts)-len(before.Accounts), res.PerStream[StreamAccounts].Inserted-subscriptionRows(after, before))
	requireAccounts(t, b)

	// Nothing changed: list pages only, no row written.
	b.sim.ResetStats()
	res = b.sync(t, extractortest.Options{Streams: streams, Started: b.sim.Now().Add(time.Hour)})
	same := b.sim.Stats().Routes
	require.Zero(t, same["leeloo GET /api/v1/accounts/{id}"])
	require.Zero(t, same["leeloo GET /api/v2/tunnels/{id}"])
	require.Zero(t, res.Loaded.Inserted+res.Loaded.Updated+res.Loaded.Deleted, "rows written")

	// A due sweep reads every detail again. It finds the one change incremental runs
	// leave to it: accounts whose included orders were edited while their lastMessageTime
	// stayed (the simulator posts no system message for an order edit; §4.3 says Leeloo
	// does), whose detail_raw is updated now.
	edited := map[string]bool{}
	oldOrders := map[string]simulator.Order{}
	for _, o := range before.Orders {
		oldOrders[o.ID] = o
	}
	for _, o := range after.Orders {
		if p, ok := oldOrders[o.ID]; ok && !reflect.DeepEqual(p, o) {
			edited[o.ID] = true
		}
	}
	stale := 0
	for _, a := range after.Accounts {
		if last, ok := old[a.ID]; ok && last == a.LastMessageTime &&
			slices.ContainsFunc(a.Links.Orders, func(r simulator.Ref) bool { return edited[r.ID] }) {
			stale++
		}
	}
	b.sim.ResetStats()
	res = b.sync(t, extractortest.Options{Streams: streams, Started: first.Add(DefaultFullSweepEvery + time.Hour)})
	sweep := b.sim.Stats().Routes
	require.Equal(t, len(after.Accounts), sweep["leeloo GET /api/v1/accounts/{id}"], "the sweep reads every detail")
	require.Equal(t, len(after.Tunnels), sweep["leeloo GET /api/v2/tunnels/{id}"])
	require.Equal(t, pages, sweep["leeloo GET /api/v1/accounts"])
	require.Zero(t, res.Loaded.Inserted+res.Loaded.Deleted, "rows inserted or deleted by the sweep")
	require.Equal(t, stale, res.Loaded.Updated, "rows updated by the sweep: accounts with edited orders only")
	requireAccounts(t, b)
}

// subscriptionRows counts the subscription rows of accounts in after but not in before.
func subscriptionRows(after, before simulator.LeelooTruth) int {
	old := map[string]bool{}
	for _, a := range before.Accounts {
		old[a.ID] = true
	}
	n := 0
	for _, a := range after.Accounts {
		if !old[a.ID] {
			n += len(a.SubscribeHistory)
		}
	}
	return n
}

// requireAccounts compares leeloo.accounts and leeloo.account_subscriptions with the truth.
func requireAccounts(t *testing.T, b *simBundle) {
	t.Helper()
	var accts, subs []string
	for _, a := range b.sim.Truth().Leeloo.Accounts {
		accts = append(accts, row(a.ID, tPtr(a.Name), tArr(a.Tags), tPtr(a.Gender), tStr(a.Locale), tTS(t, a.LastMessageTime), tTS(t, a.UpdatedAt)))
		for i, s := range a.SubscribeHistory {
			subs = append(subs, row(a.ID, strconv.Itoa(i), s.TunnelName, s.LeadgentoolName, s.TrafficSource))
		}
	}
	require.Equal(t, sorted(accts), dbRows(t, b.pool, tabAccounts, "id", sqlTxt("name"), sqlArr("tags"), sqlTxt("gender"), sqlTxt("locale"), sqlTS("last_message_time"), sqlTS("updated_at")), "accounts")
	require.Equal(t, sorted(subs), dbRows(t, b.pool, tabSubscriptions, "account_id", "ordinal::text", sqlTxt("tunnel_name"), sqlTxt("leadgentool_name"), sqlTxt("traffic_source")), "account_subscriptions")
}

// requireTruthFor compares the incremental streams' tables (and orders when asked).
func requireTruthFor(t *testing.T, b *simBundle, withOrders bool) {
	t.Helper()
	tr := b.sim.Truth().Leeloo
	var people, chans, orders []string
	for _, p := range tr.People {
		people = append(people, row(p.ID, tPtr(p.Name), tTS(t, p.LastMessageTime)))
	}
	for _, c := range tr.Channels {
		chans = append(chans, row(c.ID, tTS(t, c.LastMessageTime)))
	}
	for _, o := range tr.Orders {
		orders = append(orders, row(o.ID, tNumS(o.Price), o.Status, tTS(t, o.UpdatedAt)))
	}
	require.Equal(t, sorted(people), dbRows(t, b.pool, tabPeople, "id", sqlTxt("name"), sqlTS("last_message_time")), "people")
	require.Equal(t, sorted(chans), dbRows(t, b.pool, tabChannels, "id", sqlTS("last_message_time")), "channels")
	if withOrders {
		require.Equal(t, sorted(orders), dbRows(t, b.pool, tabOrders, "id", sqlTxt("price"), sqlTxt("status"), sqlTS("updated_at")), "orders")
	}
	requireMessages(t, b, tr)
}

// TestSmallWindows forces many small windows (split when too full, doubled when sparse)
// and a kill in the middle of a pass: the result still equals the truth.
func TestSmallWindows(t *testing.T) {
	t.Parallel()
	cfg := Config{PageSize: 10, MaxWindowRows: 24, WindowSpan: 4 * 24 * time.Hour}
	b := setupSim(t, simulator.Faults{}, cfg)
	started := b.sim.Now()
	streams := []string{StreamPeople, StreamChannels, StreamMessages}
	killed := b.sync(t, extractortest.Options{Streams: streams, Started: started, CancelAfter: 7})
	require.True(t, killed.Cancelled)
	var pass string
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT cursor->>'pass' FROM sync.state WHERE stream = 'people'`).Scan(&pass))
	require.NotEmpty(t, pass, "killed in the middle of a pass")
	b.sync(t, extractortest.Options{Streams: streams, Started: started})
	requireTruthFor(t, b, false)
}

// TestFullSweep: an incremental run reads one short window; once FullSweepEvery has
// passed, the run re-reads everything from StartDate.
func TestFullSweep(t *testing.T) {
	t.Parallel()
	b := setupSim(t, simulator.Faults{}, Config{FullSweepEvery: 12 * time.Hour})
	started := b.sim.Now()
	streams := []string{StreamPeople, StreamChannels}
	full := b.sync(t, extractortest.Options{Streams: streams, Started: started})

	b.sim.ResetStats()
	inc := b.sync(t, extractortest.Options{Streams: streams, Started: started.Add(time.Hour)})
	incReq := b.sim.Stats().Requests[simulator.APILeeloo]
	b.sim.ResetStats()
	sweep := b.sync(t, extractortest.Options{Streams: streams, Started: started.Add(13 * time.Hour)})
	sweepReq := b.sim.Stats().Requests[simulator.APILeeloo]
	t.Logf("first sync %d requests, incremental %d, sweep %d", full.Requests, incReq, sweepReq)
	require.Less(t, incReq, 6)
	require.Equal(t, full.Loaded.Inserted, sweep.Loaded.Unchanged, "the sweep re-reads every person and channel")
	require.Less(t, inc.Loaded.Unchanged, full.Loaded.Inserted/4)

	var sweptAt time.Time
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT (cursor->>'sweep')::timestamptz FROM sync.state WHERE stream = 'people'`).Scan(&sweptAt))
	require.True(t, sweptAt.Equal(started.Add(13*time.Hour)))
}

// TestTunnelStatsFallback: when /tunnels/stats fails, every tunnel's own stats endpoint
// gives the same snapshot.
func TestTunnelStatsFallback(t *testing.T) {
	t.Parallel()
	sim := simulator.New(simulator.Options{Seed: 7, LeelooToken: simToken})
	h := sim.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v2/tunnels/stats" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"status":0,"error":{"code":"NOT_FOUND"}}`))
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	client, err := apiclient.New(apiclient.Config{Source: Source, BaseURL: srv.URL, ErrorCode: ErrorCode,
		Auth: func(r *http.Request) { r.Header.Set("X-Leeloo-AuthToken", simToken) }, Secrets: []string{simToken}})
	require.NoError(t, err)
	ex, err := New(Config{Client: client})
	require.NoError(t, err)
	b := &simBundle{sim: sim, ex: ex, pool: pgtest.NewDB(t)}
	started := sim.Now()
	b.sync(t, extractortest.Options{Streams: []string{StreamTunnelStats}, Started: started})

	var want []string
	for _, s := range sim.Truth().Leeloo.TunnelStats {
		var rev []string
		for _, r := range s.Revenue {
			rev = append(rev, r.Currency+"="+tNumS(r.Amount))
		}
		want = append(want, row(s.TunnelID, s.TunnelName, strconv.Itoa(s.SubscribersCount), strconv.Itoa(s.UnsubscribedCount), strings.Join(rev, ",")))
	}
	got := dbRows(t, b.pool, tabTunnelStats+" s", "tunnel_id", sqlTxt("tunnel_name"), sqlTxt("subscribers_count"), sqlTxt("unsubscribed_count"),
		`coalesce((SELECT string_agg(currency || '=' || amount::text, ',' ORDER BY ordinal) FROM leeloo.tunnel_stats_revenue r WHERE r.tunnel_id = s.tunnel_id), '')`)
	require.NotEmpty(t, want)
	require.Equal(t, sorted(want), got)
	require.Positive(t, sim.Stats().Routes["leeloo GET /api/v2/tunnels/{id}/stats"], "per-tunnel endpoint used: %v", sim.Stats().Routes)
}

// TestResumeInsideAChat kills the messages stream while chats are read page by page and
// checks that the resumed run continues each chat at its committed offset.
func TestResumeInsideAChat(t *testing.T) {
	t.Parallel()
	b := setupSim(t, simulator.Faults{}, Config{PageSize: 3, Concurrency: 1})
	started := b.sim.Now()
	streams := []string{StreamMessages}
	// Find, in the same run without a database, a batch that leaves a chat mid-scan.
	batches, err := collect(t, b.ex, StreamMessages, nil, started)
	require.NoError(t, err)
	k := slices.IndexFunc(batches, func(x stream.Batch) bool {
		return x.Partition != "" && strings.Contains(string(x.Cursor), `"scan"`)
	})
	require.Positive(t, k, "some chat has more than one page")
	b.sim.ResetStats()
	killed := b.sync(t, extractortest.Options{Streams: streams, Started: started, CancelAfter: k + 1})
	require.True(t, killed.Cancelled)
	var scans int
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM sync.state WHERE stream = 'messages' AND cursor ? 'scan'`).Scan(&scans))
	require.Equal(t, 1, scans, "the chat being read was left mid-scan")

	b.sim.ResetStats()
	resumed := b.sync(t, extractortest.Options{Streams: streams, Started: started})
	requireMessages(t, b, b.sim.Truth().Leeloo)
	require.Zero(t, resumed.Loaded.Unchanged, "no committed message is read again")
}

// BenchmarkExtract measures reading people and every chat from the simulator at scale 5
// (no database: batches are dropped), reporting records per second.
func BenchmarkExtract(b *testing.B) {
	sim := simulator.New(simulator.Options{Seed: 3, Scale: 5, LeelooToken: simToken})
	srv := httptest.NewServer(sim.Handler())
	b.Cleanup(srv.Close)
	client, err := apiclient.New(apiclient.Config{Source: Source, BaseURL: srv.URL,
		Auth: func(r *http.Request) { r.Header.Set("X-Leeloo-AuthToken", simToken) }})
	require.NoError(b, err)
	ex, err := New(Config{Client: client, Concurrency: 4, Ahead: 2})
	require.NoError(b, err)
	descs := map[string]stream.Desc{}
	for _, d := range ex.Streams() {
		descs[d.Name] = d
	}
	records := 0
	b.ResetTimer()
	for b.Loop() {
		for _, name := range []string{StreamPeople, StreamMessages} {
			out := make(chan stream.Batch, 4)
			done := make(chan struct{})
			go func() {
				defer close(done)
				for batch := range out {
					records += batch.Len()
				}
			}()
			err := ex.Extract(b.Context(), stream.Request{Stream: descs[name], Started: sim.Now()}, out)
			close(out)
			<-done
			require.NoError(b, err)
		}
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}
