package textrequest

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/extractors/internal/phones"
	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/extractortest"
	"github.com/crmsync/crmsync/internal/pgtest"
	"github.com/crmsync/crmsync/internal/simulator"
)

// testBundle is one simulator, one fresh database and one extractor.
type testBundle struct {
	sim  *simulator.Sim
	pool *pgxpool.Pool
	ex   *Extractor
}

func setupSim(t *testing.T, faults simulator.Faults, limit apiclient.Limit, configure func(*Config)) *testBundle {
	t.Helper()
	sim := simulator.New(simulator.Options{Seed: 7, TextRequestKey: testKey, Faults: faults})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	ex := newTestExtractor(t, func(c *Config) {
		c.Client = newTestClient(t, srv.URL+"/api/v3", limit)
		if configure != nil {
			configure(c)
		}
	})
	return &testBundle{sim: sim, pool: pgtest.NewDB(t), ex: ex}
}

func (b *testBundle) sync(t *testing.T, opts extractortest.Options) extractortest.Result {
	t.Helper()
	return extractortest.MustSync(t.Context(), t, b.pool, b.ex, opts)
}

// trRequests is the number of Text Request requests the simulator served.
func (b *testBundle) trRequests() int { return b.sim.Stats().Requests[simulator.APITextRequest] }

// The comparison renders rows and truth records as "key → checkable fields" strings.

func clean(s string) string { return strings.ReplaceAll(s, "\x00", "") }

func sp(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return clean(*s)
}

func tsText(s string) string {
	if s == "" {
		return "<nil>"
	}
	tm, err := apiclient.ParseTime(s)
	if err != nil {
		return "bad:" + s
	}
	return tm.UTC().Format(time.RFC3339Nano)
}

func tsp(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return tsText(*s)
}

func dbVal(v any) string {
	switch x := v.(type) {
	case nil:
		return "<nil>"
	case *string:
		return sp(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []string:
		s := slices.Clone(x)
		slices.Sort(s)
		return fmt.Sprint(s)
	case []int64:
		s := slices.Clone(x)
		slices.Sort(s)
		return fmt.Sprint(s)
	case []any: // pgx's Values() form of arrays
		s := make([]string, len(x))
		for i, v := range x {
			s[i] = fmt.Sprint(v)
		}
		slices.SortFunc(s, func(a, b string) int {
			if len(a) != len(b) && strings.Trim(a+b, "0123456789") == "" {
				return len(a) - len(b) // numbers
			}
			return strings.Compare(a, b)
		})
		return "[" + strings.Join(s, " ") + "]"
	}
	return fmt.Sprint(v)
}

// queryRows renders each row of sql as "col1|col2|…".
func queryRows(t testing.TB, pool *pgxpool.Pool, sql string) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), sql)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		require.NoError(t, err)
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = dbVal(v)
		}
		out = append(out, strings.Join(parts, "|"))
	}
	require.NoError(t, rows.Err())
	slices.Sort(out)
	return out
}

func sorted(s []string) []string {
	slices.Sort(s)
	return s
}

func join(vals ...any) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = dbVal(v)
	}
	return strings.Join(parts, "|")
}

// truthTable is one table of the comparison: the rows the truth gives and the query
// rendering the table's rows the same way.
type truthTable struct {
	name, query string
	want        []string
}

// truthTables renders every table from the simulator's data: every key, and the fields
// a user would check (names, flags, amounts, statuses, texts, timestamps).
//
// Rows marked deleted are left out: the live rows must be exactly the truth. Messages are
// never marked (the stream sees no complete list); those of deleted contacts are left out.
func truthTables(tr simulator.TextRequestTruth) []truthTable {
	var tables []truthTable
	var want []string

	for _, d := range tr.Dashboards {
		want = append(want, join(int64(d.ID), clean(d.Name), clean(d.Phone)))
	}
	tables = append(tables, truthTable{"dashboards", `SELECT id, name, phone FROM textrequest.dashboards WHERE deleted_at IS NULL`, want})

	want = nil
	var tags, groups, fields []string
	for _, c := range tr.Contacts {
		d := int64(c.DashboardID)
		groupIDs := make([]int64, 0, len(c.Groups))
		for _, g := range c.Groups {
			groupIDs = append(groupIDs, int64(g))
		}
		want = append(want, join(d, c.PhoneNumber, sp(c.FirstName), sp(c.LastName), sp(c.DisplayName), c.IsArchived, c.IsResolved, sp(c.Note),
			tsp(c.DateCreatedUTC), tsp(c.LastContactDateUTC), c.TotalMsgsSent, groupIDs, c.ContactTags))
		for _, tag := range slices.Compact(slices.Sorted(slices.Values(c.ContactTags))) {
			tags = append(tags, join(d, c.PhoneNumber, tag))
		}
		for _, g := range slices.Compact(slices.Sorted(slices.Values(groupIDs))) {
			groups = append(groups, join(d, c.PhoneNumber, g))
		}
		for _, f := range c.CustomFields {
			fields = append(fields, join(d, c.PhoneNumber, f.ID, sp(f.Value)))
		}
	}
	tables = append(tables, truthTable{"contacts", `SELECT dashboard_id, phone_number, first_name, last_name, display_name, is_archived, is_resolved, note,
		date_created_utc, last_contact_date_utc, total_msgs_sent, coalesce(groups, '{}'), coalesce(contact_tags, '{}') FROM textrequest.contacts WHERE deleted_at IS NULL`, want})
	tables = append(tables, truthTable{"contact tags", `SELECT dashboard_id, phone_number, tag_id FROM textrequest.contact_tags WHERE deleted_at IS NULL`, tags})
	tables = append(tables, truthTable{"contact groups", `SELECT dashboard_id, phone_number, group_id FROM textrequest.contact_groups WHERE deleted_at IS NULL`, groups})
	tables = append(tables, truthTable{"contact fields", `SELECT dashboard_id, phone_number, field_id, value FROM textrequest.contact_custom_fields WHERE deleted_at IS NULL`, fields})

	want = nil
	for _, c := range tr.Conversations {
		m := c.LastMessage
		want = append(want, join(int64(c.DashboardID), c.PhoneNumber, m.MessageID, clean(m.Body), tsText(m.MessageTimestampUTC)))
	}
	tables = append(tables, truthTable{"conversations", `SELECT dashboard_id, phone_number, last_message_id, last_message_body, last_message_timestamp_utc FROM textrequest.conversations WHERE deleted_at IS NULL`, want})

	want = nil
	for _, m := range tr.Messages {
		id := m.MessageID
		if id == "" {
			id = derivedMessageID(int64(m.DashboardID), phones.Digits(m.PhoneNumber).(string), m.MessageTimestampUTC, m.MessageDirection, m.Body)
		}
		want = append(want, join(id, int64(m.DashboardID), m.PhoneNumber, clean(m.Body), m.MessageDirection, tsText(m.MessageTimestampUTC), sp(m.DeliveryStatus)))
	}
	tables = append(tables, truthTable{"messages", `SELECT message_id, dashboard_id, phone_number, body, message_direction, message_timestamp_utc, delivery_status FROM textrequest.messages AS m
		WHERE EXISTS (SELECT FROM textrequest.contacts AS c WHERE (c.dashboard_id, c.phone_number) = (m.dashboard_id, m.phone_number) AND c.deleted_at IS NULL)`, want})

	want = nil
	for _, p := range tr.Payments {
		want = append(want, join(int64(p.PaymentID), int64(p.DashboardID), tsText(p.RequestDate), sp(p.Recipient), p.CustomerPhone,
			strconv.FormatFloat(p.AmountRequested, 'f', 2, 64), p.IsPastDue, p.TransactionStatus, p.TextrequestPaymentStatus, p.ReferenceNumber))
	}
	tables = append(tables, truthTable{"payments", `SELECT payment_id, dashboard_id, request_date, recipient, customer_phone, amount_requested::text,
		is_past_due, transaction_status, textrequest_payment_status, reference_number FROM textrequest.payments WHERE deleted_at IS NULL`, want})

	want = nil
	for _, g := range tr.Groups {
		want = append(want, join(int64(g.DashboardID), int64(g.ID), clean(g.Name), g.GroupMemberCount))
	}
	tables = append(tables, truthTable{"groups", `SELECT dashboard_id, id, name, group_member_count FROM textrequest.groups WHERE deleted_at IS NULL`, want})
	want = nil
	for _, tg := range tr.Tags {
		want = append(want, join(int64(tg.DashboardID), tg.ID, clean(tg.Tag), tg.TagColor))
	}
	tables = append(tables, truthTable{"tags", `SELECT dashboard_id, id, tag, tag_color FROM textrequest.tags WHERE deleted_at IS NULL`, want})
	want = nil
	for _, f := range tr.CustomFields {
		want = append(want, join(int64(f.DashboardID), f.ID, clean(f.Name)))
	}
	tables = append(tables, truthTable{"custom fields", `SELECT dashboard_id, id, name FROM textrequest.custom_fields WHERE deleted_at IS NULL`, want})
	return tables
}

// messageModes are the two answers of the dashboard-wide message list the simulator
// serves: with each message's contact phone (the stream reads the list) and without
// (the stream reads per contact).
var messageModes = []struct {
	name   string
	faults simulator.Faults
}{
	{modeDashboard, simulator.Faults{}},
	{modeContact, simulator.Faults{DashboardMessagesWithoutPhone: true}},
}

// TestFullSyncMatchesTruth: a first sync loads every record of every stream, reports
// exactly the requests the simulator served, and a second run with nothing changed
// costs a small fraction of a per-contact first sync; read from the dashboard-wide list,
// the messages cost a fraction of their per-contact reads.
func TestFullSyncMatchesTruth(t *testing.T) {
	t.Parallel()
	full, idle := map[string]int{}, map[string]int{}
	for _, mode := range messageModes {
		b := setupSim(t, mode.faults, noLimit, nil)
		res := b.sync(t, extractortest.Options{})
		requireTruth(t, b)
		require.Zero(t, res.Loaded.Rejected)
		require.Equal(t, b.trRequests(), res.Requests, "every request is charged to a batch")
		full[mode.name] = res.Requests
		t.Logf("%s: full sync: %d requests, %d batches, %d records", mode.name, res.Requests, res.Batches, res.Read)

		b.sim.ResetStats()
		again := b.sync(t, extractortest.Options{})
		require.Equal(t, b.trRequests(), again.Requests)
		require.Zero(t, again.Loaded.Inserted+again.Loaded.Updated+again.Loaded.Deleted, "nothing changed, nothing written")
		idle[mode.name] = again.Requests
		t.Logf("%s: idle run: %d requests", mode.name, again.Requests)
		requireTruth(t, b)
	}
	require.Less(t, idle[modeContact], full[modeContact]/10, "an idle incremental run is cheap")
	require.LessOrEqual(t, idle[modeDashboard], idle[modeContact])
	require.Less(t, full[modeDashboard], full[modeContact]/5, "the dashboard-wide list saves most requests")
}

// requireTruth compares every table with the simulator's current data.
func requireTruth(t *testing.T, b *testBundle) {
	t.Helper()
	for _, tb := range truthTables(b.sim.Truth().TextRequest) {
		require.Equal(t, sorted(tb.want), queryRows(t, b.pool, tb.query), tb.name)
	}
}

// conformance is Text Request's subject of the shared conformance suite.
var conformance = extractortest.Subject{
	Platform: Platform,
	Env: func(base string) map[string]string {
		return map[string]string{"TEXTREQUEST_API_KEY": testKey, "TEXTREQUEST_BASE_URL": base + "/api/v3", "TEXTREQUEST_PAGE_SIZE": "50"}
	},
	RateVar: "TEXTREQUEST_RATE_LIMIT",
	Sim: func(f simulator.Faults) *simulator.Sim {
		return simulator.New(simulator.Options{Seed: 7, TextRequestKey: testKey, Faults: f})
	},
	Limit:       func(f *simulator.Faults, n int, per time.Duration) { f.TextRequestRateLimit, f.RateWindow = n, per },
	Faults:      simulator.Faults{OffsetDrift: true, NULCharacters: true, EmptyMessageIDs: true, UnknownFields: true, OmitTimeZone: true},
	RateStreams: []string{StreamDashboards, StreamGroups, StreamTags, StreamCustomFields},
	Truth: func(t testing.TB, sim *simulator.Sim, _ time.Time) map[string][]string {
		out := map[string][]string{}
		for _, tb := range truthTables(sim.Truth().TextRequest) {
			out[tb.name] = tb.want
		}
		return out
	},
	Warehouse: func(t testing.TB, pool *pgxpool.Pool, _ time.Time) map[string][]string {
		out := map[string][]string{}
		for _, tb := range truthTables(simulator.TextRequestTruth{}) {
			out[tb.name] = queryRows(t, pool, tb.query)
		}
		return out
	},
}

func TestConformance(t *testing.T) {
	t.Parallel()
	extractortest.Conformance(t, conformance)
}

// TestIncrementalAfterMutate: after new contacts, messages and payments, payment status
// changes, archived conversations and edited contacts, one incremental run brings the
// warehouse back to the truth with far fewer requests than the first sync.
func TestIncrementalAfterMutate(t *testing.T) {
	t.Parallel()
	for name, pageSize := range map[string]int{"OnePagePerList": 500, "DefaultPages": 0, "SmallPages": 50} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// Per contact: the dashboard-wide list would make the first sync too cheap
			// for the ratio below; TestDashboardMessagesIncremental covers it.
			faults := simulator.Faults{DashboardMessagesWithoutPhone: true}
			b := setupSim(t, faults, noLimit, func(c *Config) { c.PageSize = pageSize })
			started := time.Now()
			full := b.sync(t, extractortest.Options{Started: started})
			requireTruth(t, b)

			b.sim.Mutate(simulator.Mutation{NewContacts: 6, NewTRMessages: 12, NewPayments: 5, PaymentStatusChanges: 4, ArchivedConversations: 3, EditedContacts: 3})
			b.sim.ResetStats()
			inc := b.sync(t, extractortest.Options{Started: started.Add(time.Hour)})
			require.Equal(t, b.trRequests(), inc.Requests)
			t.Logf("first sync %d requests, incremental %d", full.Requests, inc.Requests)
			require.Less(t, inc.Requests, full.Requests/5)
			if pageSize == 500 {
				// Every list fits in one page: even edits without a trace are read.
				requireTruth(t, b)
				return
			}
			// With several pages per list, contacts and payments read by their
			// watermarks; edits and status changes without a trace wait for the sweep.
			sweep := b.sync(t, extractortest.Options{Started: started.Add(25 * time.Hour)})
			t.Logf("sweep %d requests", sweep.Requests)
			requireTruth(t, b)
		})
	}
}

// TestDashboardMessagesIncremental: read from the dashboard-wide list, new messages
// reach the warehouse in an incremental run that asks only for what is recent.
func TestDashboardMessagesIncremental(t *testing.T) {
	t.Parallel()
	b := setupSim(t, simulator.Faults{}, noLimit, nil)
	started := time.Now()
	b.sync(t, extractortest.Options{Started: started, Streams: []string{StreamMessages}})
	b.sim.Mutate(simulator.Mutation{NewContacts: 4, NewTRMessages: 15})
	b.sim.ResetStats()
	inc := b.sync(t, extractortest.Options{Started: started.Add(time.Hour), Streams: []string{StreamMessages}})
	require.Equal(t, 15, inc.Loaded.Inserted)
	require.Equal(t, len(b.sim.Truth().TextRequest.Dashboards)+1, inc.Requests, "one page per dashboard, plus the dashboards list")
	var n int
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM textrequest.messages`).Scan(&n))
	require.Equal(t, len(b.sim.Truth().TextRequest.Messages), n)
}

// TestMessagesModeRecorded: each run's sync.runs.notes say how every dashboard's
// messages were read.
func TestMessagesModeRecorded(t *testing.T) {
	t.Parallel()
	for _, mode := range messageModes {
		b := setupSim(t, mode.faults, noLimit, func(c *Config) { c.Dashboards = []int64{4101} })
		b.sync(t, extractortest.Options{Streams: []string{StreamMessages}})
		var notes string
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT coalesce(notes, '') FROM sync.runs WHERE stream = 'messages'`).Scan(&notes))
		want := "dashboard 4101: messages from the dashboard-wide list"
		if mode.name == modeContact {
			want = "dashboard 4101: messages per contact (the dashboard-wide list shows no contact)"
		}
		require.Equal(t, want, notes)
	}
}
