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

func dbRows(t *testing.T, pool *pgxpool.Pool, table string, exprs ...string) []string {
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
	if s == notDefined {
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
func tTS(t *testing.T, s string) string {
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

// requireTruth compares every table of the default streams with the simulator's truth.
func requireTruth(t *testing.T, b *simBundle, started time.Time) {
	t.Helper()
	tr := b.sim.Truth().Leeloo
	pool := b.pool

	var people, links []string
	for _, p := range tr.People {
		people = append(people, row(p.ID, tPtr(p.Name), tStr(p.Phone), tStr(p.Email), tArr(p.Tags), tTS(t, p.LastMessageTime), tTS(t, p.CreatedAt)))
		for _, a := range p.Accounts {
			links = append(links, row(p.ID, a.AccountID, a.ConnectionID, a.From))
		}
	}
	require.Equal(t, sorted(people), dbRows(t, pool, tabPeople+liveOnly, "id", sqlTxt("name"), sqlTxt("phone"), sqlTxt("email"), sqlArr("tags"), sqlTS("last_message_time"), sqlTS("created_at")), "people")
	require.Equal(t, sorted(links), dbRows(t, pool, tabPersonChannels+liveOnly, "person_id", "account_id", sqlTxt("connection_id"), sqlTxt("from_messenger")), "person_channels")

	var chans []string
	for _, c := range tr.Channels {
		chans = append(chans, row(c.ID, c.PersonID, tPtr(c.Name), c.From, c.BotStatus, tArr(c.Tags), tPtr(c.UTM.Source), tPtr(c.UTM.Campaign), tTS(t, c.LastMessageTime), tTS(t, c.CreatedAt)))
	}
	require.Equal(t, sorted(chans), dbRows(t, pool, tabChannels+liveOnly, "id", sqlTxt("person_id"), sqlTxt("name"), sqlTxt("from_messenger"), sqlTxt("bot_status"), sqlArr("tags"), sqlTxt("utm_source"), sqlTxt("utm_campaign"), sqlTS("last_message_time"), sqlTS("created_at")), "channels")

	requireMessages(t, b, tr)

	var orders []string
	for _, o := range tr.Orders {
		orders = append(orders, row(o.ID, o.PersonID, tNumS(o.Price), o.Currency, o.Status, tBoolS(o.IsManual), tTS(t, o.TransactionDate), tTS(t, o.UpdatedAt)))
	}
	require.Equal(t, sorted(orders), dbRows(t, pool, tabOrders+liveOnly, "id", sqlTxt("person_id"), sqlTxt("price"), sqlTxt("currency"), sqlTxt("status"), sqlTxt("is_manual"), sqlTS("transaction_date"), sqlTS("updated_at")), "orders")

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
	require.Equal(t, sorted(tunnels), dbRows(t, pool, tabTunnels+liveOnly, "id", sqlTxt("name"), sqlTxt("status"), sqlTS("created_at")), "tunnels")
	require.Equal(t, sorted(tools), dbRows(t, pool, tabLeadgentools+liveOnly, "id", "tunnel_id", sqlTxt("name")), "leadgentools")
	require.Equal(t, sorted(sources), dbRows(t, pool, tabTrafficSources+liveOnly, "leadgentool_id", sqlTxt("id"), sqlTxt("name"), sqlTxt("description")), "traffic_sources")
	require.Equal(t, sorted(stats), dbRows(t, pool, tabTunnelStats+" WHERE captured_at = '"+at+"'", "tunnel_id", sqlTS("captured_at"), sqlTxt("tunnel_name"), sqlTxt("subscribers_count"), sqlTxt("active_subscribers_count"), sqlTxt("orders_count"), sqlTxt("successful_orders_count")), "tunnel_stats")
	require.Equal(t, sorted(revenue), dbRows(t, pool, tabStatsRevenue+" WHERE captured_at = '"+at+"'", "tunnel_id", sqlTxt("ordinal"), sqlTxt("currency"), sqlTxt("amount")), "tunnel_stats_revenue")

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
	require.Equal(t, sorted(users), dbRows(t, pool, tabUsers+liveOnly, "id", sqlTxt("name"), sqlTxt("email"), sqlTS("created_at")), "users")
	require.Equal(t, sorted(tags), dbRows(t, pool, tabTags+liveOnly, "id", sqlTxt("name")), "tags")
	require.Equal(t, sorted(conns), dbRows(t, pool, tabConnections+liveOnly, "id", sqlTxt("name"), sqlTxt("from_messenger"), sqlTxt("status")), "connections")
	require.Equal(t, sorted(cats), dbRows(t, pool, tabCategories+liveOnly, "id", sqlTxt("name")), "template_categories")
	require.Equal(t, sorted(tpls), dbRows(t, pool, tabTemplates+liveOnly, "category_id", "id", sqlTxt("message_name")), "templates")

	var accts, subs []string
	for _, a := range tr.Accounts {
		accts = append(accts, row(a.ID, tPtr(a.Name), tArr(a.Tags), a.From, a.BotStatus, tPtr(a.Gender), tStr(a.Locale), tTS(t, a.LastMessageTime), tTS(t, a.CreatedAt)))
		for i, s := range a.SubscribeHistory {
			subs = append(subs, row(a.ID, strconv.Itoa(i), s.TunnelName, s.LeadgentoolName, s.TrafficSource))
		}
	}
	require.Equal(t, sorted(accts), dbRows(t, pool, tabAccounts+liveOnly, "id", sqlTxt("name"), sqlArr("tags"), sqlTxt("from_messenger"), sqlTxt("bot_status"), sqlTxt("gender"), sqlTxt("locale"), sqlTS("last_message_time"), sqlTS("created_at")), "accounts")
	require.Equal(t, sorted(subs), dbRows(t, pool, tabSubscriptions+liveOnly, "account_id", "ordinal::text", sqlTxt("tunnel_name"), sqlTxt("leadgentool_name"), sqlTxt("traffic_source")), "account_subscriptions")
}

// requireMessages compares leeloo.messages with every channel's messages.
func requireMessages(t *testing.T, b *simBundle, tr simulator.LeelooTruth) {
	t.Helper()
	var msgs []string
	for _, m := range tr.Messages {
		by := null
		if m.Links != nil && m.Links.CreatedBy.ID != "" {
			by = m.Links.CreatedBy.ID
		}
		msgs = append(msgs, row(m.ChannelID, m.ID, tStr(m.Text), m.Type, tBoolS(m.Read), by, tTS(t, m.CreatedAt)))
	}
	got := dbRows(t, b.pool, tabMessages+` AS m WHERE NOT EXISTS (SELECT FROM leeloo.communication_channels AS c WHERE c.id = m.channel_id AND c.deleted_at IS NOT NULL)`, "channel_id", "id", sqlTxt("text"), sqlTxt("type"), sqlTxt("read"), sqlTxt("created_by_user_id"), sqlTS("created_at"))
	require.Equal(t, len(msgs), len(got), "message count")
	require.Equal(t, sorted(msgs), got, "messages")
}

// ---- tests ----

func TestFullSyncEqualsTruth(t *testing.T) {
	t.Parallel()
	b := setupSim(t, simulator.Faults{}, Config{})
	started := b.sim.Now()
	res := b.sync(t, extractortest.Options{Started: started})
	require.Zero(t, res.Loaded.Rejected)
	requireTruth(t, b, started)
	// The token appears in no stored JSON and no cursor.
	for _, q := range []string{
		`SELECT count(*) FROM leeloo.people WHERE raw::text LIKE '%' || $1 || '%'`,
		`SELECT count(*) FROM leeloo.messages WHERE raw::text LIKE '%' || $1 || '%'`,
		`SELECT count(*) FROM leeloo.accounts WHERE detail_raw::text LIKE '%' || $1 || '%'`,
		`SELECT count(*) FROM sync.state WHERE cursor::text LIKE '%' || $1 || '%'`,
	} {
		var n int
		require.NoError(t, b.pool.QueryRow(t.Context(), q, simToken).Scan(&n))
		require.Zero(t, n, q)
	}
	require.Greater(t, len(b.sim.Truth().Leeloo.Messages), 500)

	// A second full refresh rewrites nothing.
	res = b.sync(t, extractortest.Options{Streams: []string{StreamPeople, StreamChannels, StreamMessages, StreamOrders, StreamAccounts}, FullRefresh: true, Started: started})
	require.Zero(t, res.Loaded.Inserted)
	require.Zero(t, res.Loaded.Updated)
	require.Zero(t, res.Loaded.Deleted)
}

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

func TestFaultsStillEqualTruth(t *testing.T) {
	t.Parallel()
	faults := simulator.Faults{
		ErrorRate:           0.02,
		TruncateRate:        0.02,
		OffsetDrift:         true,
		DuplicateMessageIDs: true,
		UnknownFields:       true,
		NULCharacters:       true,
		LeelooPageCap:       30, // below our page size: the scan pages by what comes back
		StrictPeopleFilter:  true,
	}
	b := setupSim(t, faults, Config{Concurrency: 4, Ahead: 2})
	b.sync(t, extractortest.Options{})
	// Drift inserts people and messages during the scan, newer than the run's start:
	// the next run picks them up.
	faults.OffsetDrift = false
	b.sim.SetFaults(faults)
	started := b.sim.Now()
	b.sync(t, extractortest.Options{Started: started})
	requireTruth(t, b, started)
	st := b.sim.Stats()
	require.Positive(t, st.Truncated, "bodies were truncated")
	errs := 0
	for code, n := range st.Status[simulator.APILeeloo] {
		if code >= 500 {
			errs += n
		}
	}
	require.Positive(t, errs, "5xx answers were sent")
}

func TestRateLimitedStillEqualsTruth(t *testing.T) {
	t.Parallel()
	b := setupSim(t, simulator.Faults{LeelooRateLimit: 8, RateWindow: 300 * time.Millisecond}, Config{})
	started := b.sim.Now()
	b.sync(t, extractortest.Options{Streams: []string{StreamUsers, StreamTags, StreamConnections, StreamTemplates, StreamTunnels}, Started: started})
	require.Positive(t, b.sim.Stats().RateLimited[simulator.APILeeloo], "429s were sent")
	tr := b.sim.Truth().Leeloo
	var tpls, tools []string
	for _, p := range tr.Templates {
		tpls = append(tpls, row(p.CategoryID, p.ID, tStr(p.MessageName)))
	}
	for _, l := range tr.Leadgentools {
		tools = append(tools, row(l.ID, l.TunnelID, l.Name))
	}
	require.Equal(t, sorted(tpls), dbRows(t, b.pool, tabTemplates, "category_id", "id", sqlTxt("message_name")))
	require.Equal(t, sorted(tools), dbRows(t, b.pool, tabLeadgentools, "id", "tunnel_id", sqlTxt("name")))
}

func TestKillAndResume(t *testing.T) {
	t.Parallel()
	// A reference run gives the request count of an uninterrupted sync.
	ref := setupSim(t, simulator.Faults{}, Config{PageSize: 20})
	full := ref.sync(t, extractortest.Options{})
	fullReq := ref.sim.Stats().Requests[simulator.APILeeloo]
	t.Logf("uninterrupted sync: %d batches, %d requests", full.Batches, fullReq)

	for _, k := range []int{1, 3, 8, 40, 150, full.Batches - 22, full.Batches - 5} {
		t.Run(fmt.Sprintf("after_batch_%d", k), func(t *testing.T) {
			t.Parallel()
			b := setupSim(t, simulator.Faults{}, Config{PageSize: 20})
			started := b.sim.Now()
			killed := b.sync(t, extractortest.Options{CancelAfter: k, Started: started})
			require.True(t, killed.Cancelled)

			// The next run resumes the stream that was killed and runs the ones after it
			// (the streams that had finished would simply run again).
			var cancelled, status string
			require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT stream, status FROM sync.runs ORDER BY id DESC LIMIT 1`).Scan(&cancelled, &status))
			i := slices.Index(defaultStreams, cancelled)
			require.GreaterOrEqual(t, i, 0, cancelled)
			if status == "succeeded" {
				// Killed right after the stream's last batch was sent: the stream is done
				// if its last batch (the one carrying the final cursor) was committed.
				var complete bool
				require.NoError(t, b.pool.QueryRow(t.Context(), `
					SELECT (cursor ? 'done' OR cursor ? 'captured_at') AND NOT cursor ? 'pass' AND NOT cursor ? 'offset'
					FROM sync.state WHERE source = 'leeloo' AND stream = $1 AND partition = ''`, cancelled).Scan(&complete))
				if complete {
					i++
				}
			}
			resumed := b.sync(t, extractortest.Options{Streams: defaultStreams[i:], Started: started})
			require.False(t, resumed.Cancelled)
			requireTruth(t, b, started)

			// Committed work is not read again: the two runs together cost one
			// uninterrupted sync plus the killed run's batches in flight (up to four
			// pages: the loader's queue and the page being read; an accounts page costs a
			// detail request per account), and the resumed run finds unchanged only rows
			// of those pages.
			got := b.sim.Stats().Requests[simulator.APILeeloo]
			t.Logf("killed in %s after %d batches: killed + resumed runs made %d requests (uninterrupted: %d); resumed found %d rows unchanged",
				cancelled, k, got, fullReq, resumed.Loaded.Unchanged)
			require.LessOrEqual(t, got, fullReq+4*21, "requests of killed + resumed run")
			require.LessOrEqual(t, resumed.Loaded.Unchanged, 4*2*20, "rows re-read by the resumed run")
		})
	}
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
