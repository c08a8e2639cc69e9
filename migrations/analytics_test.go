package migrations_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/e164"
	"github.com/crmsync/crmsync/internal/pgtest"
)

// analyticsWarehouse fills a fresh warehouse by hand with a few conversations on each
// platform at known times: Ada writes on Leeloo (a system notice, a bot, then an agent
// answer; later two messages in one turn) and on Text Request with her phone written
// another way (the api user answers first, then an agent); Bob's Leeloo message is never
// answered; a TWIN client who first called through Calltouch; a paid order, a refund, a
// payment; and deleted rows of each kind, which no view may show.
func analyticsWarehouse(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool := pgtest.NewDB(t)
	ada := "+1 (555) 010-0001"
	sql := `
		insert into leeloo.users (id, name, raw) values ('u1', 'Anna', '{}');
		insert into leeloo.people (id, name, phone, phone_e164, created_at, last_message_time, raw) values
			('p1', 'Ada', $1, $2, '2026-09-01 10:00Z', '2026-10-01 09:20Z', '{}'),
			('p2', 'Bob', null, null, '2026-09-02 10:00Z', '2026-10-02 23:30Z', '{}');
		insert into leeloo.communication_channels (id, person_id, from_messenger, raw, deleted_at) values
			('c1', 'p1', 'TELEGRAM', '{}', null), ('c2', 'p2', 'FACEBOOK', '{}', null), ('c3', 'p2', 'FACEBOOK', '{}', '2026-10-05Z');
		insert into leeloo.messages (channel_id, id, type, created_by_user_id, created_at, text, raw) values
			('c1', 'm1', 'FRIEND_MESSAGE', null, '2026-10-01 09:00:00Z', 'hi', '{}'),
			('c1', 'm2', 'SYSTEM_MESSAGE', null, '2026-10-01 09:00:30Z', 'subscribed', '{}'),
			('c1', 'm3', 'BOT_MESSAGE', null, '2026-10-01 09:01:00Z', 'I am a bot', '{}'),
			('c1', 'm4', 'YOUR_MESSAGE', 'u1', '2026-10-01 09:05:00Z', 'how can I help?', '{}'),
			('c1', 'm5', 'FRIEND_MESSAGE', null, '2026-10-01 09:10:00Z', 'price?', '{}'),
			('c1', 'm6', 'FRIEND_MESSAGE', null, '2026-10-01 09:11:00Z', 'and delivery?', '{}'),
			('c1', 'm7', 'YOUR_MESSAGE', 'u1', '2026-10-01 09:20:00Z', '100 UAH', '{}'),
			('c2', 'm1', 'FRIEND_MESSAGE', null, '2026-10-02 23:30:00Z', 'anyone?', '{}'),
			('c3', 'm1', 'FRIEND_MESSAGE', null, '2026-10-02 10:00:00Z', 'gone', '{}');
		insert into leeloo.orders (id, person_id, account_id, price, currency, status, payment_date, transaction_date, created_at, offer_name, raw, deleted_at) values
			('o1', 'p1', 'c1', 100.00, 'UAH', 'SUCCESS', '2026-10-01 10:00Z', '2026-10-01 09:59Z', '2026-10-01 09:58Z', 'Course', '{}', null),
			('o2', 'p1', 'c1', 50.00, 'usd', 'REFUNDED', null, '2026-10-03 12:00Z', '2026-10-03 11:00Z', 'Book', '{}', null),
			('o3', 'p2', 'c2', 10.00, 'USD', 'PENDING', null, null, '2026-10-04 10:00Z', 'Gone', '{}', '2026-10-05Z');
		insert into leeloo.accounts (id, raw) values ('c1', '{}');
		insert into leeloo.account_subscriptions (account_id, ordinal, tunnel_name, raw) values
			('c1', 0, 'Tunnel A', '{}'), ('c1', 1, 'Tunnel B', '{}'), ('c1', 2, 'Tunnel A', '{}');
		insert into leeloo.tunnels (id, name, raw) values ('t1', 'Tunnel A', '{}');
		insert into leeloo.tunnel_stats (tunnel_id, captured_at, tunnel_name, subscribers_count, orders_count, successful_orders_count, raw) values
			('t1', '2026-10-04Z', 'Tunnel A', 9, 2, 1, '{}'), ('t1', '2026-10-05Z', 'Tunnel A', 10, 3, 2, '{}');
		insert into leeloo.tunnel_stats_revenue (tunnel_id, captured_at, ordinal, currency, amount, raw) values
			('t1', '2026-10-04Z', 0, 'UAH', 200, '{}'), ('t1', '2026-10-05Z', 0, 'UAH', 300, '{}'), ('t1', '2026-10-05Z', 1, 'usd', 20, '{}');

		insert into textrequest.contacts (dashboard_id, phone_number, phone_e164, display_name, first_contact_utc, last_contact_date_utc, raw, deleted_at) values
			(1, '5550100001', $3, 'Ada L.', '2026-09-15 08:00Z', '2026-10-01 12:03Z', '{}', null),
			(1, '(555) 010-0002', $4, 'Cy', '2026-10-03 08:00Z', '2026-10-03 08:00:10Z', '{}', null),
			(1, '555-010-0003', $5, 'Dee', '2026-10-03 09:00Z', '2026-10-03 09:00Z', '{}', '2026-10-04Z');
		insert into textrequest.messages (message_id, message_id_derived, dashboard_id, phone_number, phone_e164, message_direction, response_by_username, message_timestamp_utc, body, delivery_status, raw) values
			('t1', false, 1, '5550100001', $3, 'R', null, '2026-10-01 12:00:00Z', 'hello', null, '{}'),
			('t2', false, 1, '5550100001', $3, 'S', 'api', '2026-10-01 12:00:05Z', 'auto reply', 'delivered', '{}'),
			('t3', false, 1, '5550100001', $3, 'S', 'jane', '2026-10-01 12:03:00Z', 'hi Ada', 'delivered', '{}'),
			('t4', false, 1, '(555) 010-0002', $4, 'R', null, '2026-10-03 08:00:00Z', 'question', null, '{}'),
			('t5', false, 1, '(555) 010-0002', $4, 'S', '', '2026-10-03 08:00:10Z', 'we will call', 'sent', '{}'),
			('t6', false, 1, '555-010-0003', $5, 'R', null, '2026-10-03 09:00:00Z', 'deleted contact', null, '{}');
		insert into textrequest.payments (payment_id, dashboard_id, customer_phone, phone_e164, amount_requested, textrequest_payment_status, transaction_status, request_date, description, raw) values
			(7, 1, '555.010.0001', $6, 20.00, 'Paid', 'Approved', '2026-10-01 13:00Z', 'Invoice', '{}'),
			(8, 1, '(555) 010-0002', $4, 10.00, 'Sent', 'Unknown', '2026-10-02 09:00Z', 'Deposit', '{}');

		insert into twin.sessions (id, client_id, phone, phone_e164, messenger_type, started_at, raw) values
			('s1', 'cl1', '8 999 000-00-01', $7, 'whatsapp', '2026-10-04 10:00Z', '{}');
		insert into twin.messages (id, session_id, author_type, author_name, body, created_at, raw) values
			('w1', 's1', 'client', 'Иван', 'Здравствуйте', '2026-10-04 10:00:00Z', '{}'),
			('w2', 's1', 'operator', 'Ольга', 'Добрый день', '2026-10-04 10:02:00Z', '{}');
		insert into calltouch.calls (site_id, call_id, called_at, caller_number, phone_e164, raw) values
			(51234, 1, '2026-09-30 08:00Z', '+7 (999) 000-00-01', $8, '{}');
		insert into calltouch.requests (site_id, request_id, created_at, phone, phone_e164, client_name, raw) values
			(51234, 9, '2026-10-06 08:00Z', '79990000001', $9, 'Иван Петров', '{}');

		insert into sync.runs (source, stream, started_at, finished_at, status, rows_read, rows_inserted, rows_updated, error) values
			('leeloo', 'people', '2026-10-05 10:00Z', '2026-10-05 10:01Z', 'succeeded', 10, 2, 1, null),
			('leeloo', 'people', '2026-10-06 10:00Z', '2026-10-06 10:00:30Z', 'failed', 3, 0, 0, 'boom')`
	// The phones go in as literals: a multi-statement script takes no parameters.
	args := []any{ada, e164.Format(ada, ""), e164.Format("5550100001", "US"), e164.Format("(555) 010-0002", "US"),
		e164.Format("555-010-0003", "US"), e164.Format("555.010.0001", "US"),
		e164.Format("8 999 000-00-01", "RU"), e164.Format("+7 (999) 000-00-01", "RU"), e164.Format("79990000001", "RU")}
	for i := len(args); i >= 1; i-- {
		lit := "null"
		if s, ok := args[i-1].(string); ok {
			lit = "'" + s + "'"
		}
		sql = strings.ReplaceAll(sql, fmt.Sprintf("$%d", i), lit)
	}
	_, err := pool.Exec(context.Background(), sql)
	require.NoError(t, err)
	return pool
}

// viewRows runs query and renders each row as its values joined by " | " (NULL as ∅,
// times in UTC), so a test compares whole rows at a glance.
func viewRows(t *testing.T, pool *pgxpool.Pool, query string) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(ctx, "set timezone = 'UTC'")
	require.NoError(t, err)
	rows, err := conn.Query(ctx, query, pgx.QueryExecModeSimpleProtocol)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals := rows.RawValues()
		parts := make([]string, len(vals))
		for i, v := range vals {
			if v == nil {
				parts[i] = "∅"
			} else {
				parts[i] = string(v)
			}
		}
		out = append(out, strings.Join(parts, " | "))
	}
	require.NoError(t, rows.Err())
	return out
}

func TestAnalyticsViews(t *testing.T) {
	t.Parallel()
	pool := analyticsWarehouse(t)
	ada, cy, ivan := "+15550100001", "+15550100002", "+79990000001"
	check := func(name, query string, want ...string) {
		t.Helper()
		require.Equal(t, want, viewRows(t, pool, query), name)
	}

	check("messages", `select platform, conversation_key, message_id, phone_e164, channel, direction, author_kind, agent, sender, sent_at, day, body, delivery_status
		from analytics.messages order by sent_at, platform`,
		"leeloo | c1 | m1 | "+ada+" | TELEGRAM | inbound | contact | ∅ | ∅ | 2026-10-01 09:00:00+00 | 2026-10-01 | hi | ∅",
		"leeloo | c1 | m2 | "+ada+" | TELEGRAM | outbound | system | ∅ | ∅ | 2026-10-01 09:00:30+00 | 2026-10-01 | subscribed | ∅",
		"leeloo | c1 | m3 | "+ada+" | TELEGRAM | outbound | bot | ∅ | ∅ | 2026-10-01 09:01:00+00 | 2026-10-01 | I am a bot | ∅",
		"leeloo | c1 | m4 | "+ada+" | TELEGRAM | outbound | agent | Anna | Anna | 2026-10-01 09:05:00+00 | 2026-10-01 | how can I help? | ∅",
		"leeloo | c1 | m5 | "+ada+" | TELEGRAM | inbound | contact | ∅ | ∅ | 2026-10-01 09:10:00+00 | 2026-10-01 | price? | ∅",
		"leeloo | c1 | m6 | "+ada+" | TELEGRAM | inbound | contact | ∅ | ∅ | 2026-10-01 09:11:00+00 | 2026-10-01 | and delivery? | ∅",
		"leeloo | c1 | m7 | "+ada+" | TELEGRAM | outbound | agent | Anna | Anna | 2026-10-01 09:20:00+00 | 2026-10-01 | 100 UAH | ∅",
		"textrequest | 1:5550100001 | t1 | "+ada+" | SMS | inbound | contact | ∅ | ∅ | 2026-10-01 12:00:00+00 | 2026-10-01 | hello | ∅",
		"textrequest | 1:5550100001 | t2 | "+ada+" | SMS | outbound | bot | ∅ | api | 2026-10-01 12:00:05+00 | 2026-10-01 | auto reply | delivered",
		"textrequest | 1:5550100001 | t3 | "+ada+" | SMS | outbound | agent | jane | jane | 2026-10-01 12:03:00+00 | 2026-10-01 | hi Ada | delivered",
		"leeloo | c2 | m1 | ∅ | FACEBOOK | inbound | contact | ∅ | ∅ | 2026-10-02 23:30:00+00 | 2026-10-02 | anyone? | ∅",
		"textrequest | 1:(555) 010-0002 | t4 | "+cy+" | SMS | inbound | contact | ∅ | ∅ | 2026-10-03 08:00:00+00 | 2026-10-03 | question | ∅",
		"textrequest | 1:(555) 010-0002 | t5 | "+cy+" | SMS | outbound | bot | ∅ | ∅ | 2026-10-03 08:00:10+00 | 2026-10-03 | we will call | sent",
		"twin | s1 | w1 | "+ivan+" | whatsapp | inbound | contact | ∅ | Иван | 2026-10-04 10:00:00+00 | 2026-10-04 | Здравствуйте | ∅",
		"twin | s1 | w2 | "+ivan+" | whatsapp | outbound | agent | Ольга | Ольга | 2026-10-04 10:02:00+00 | 2026-10-04 | Добрый день | ∅",
	)

	check("daily_messages", `select * from analytics.daily_messages order by day, platform, direction`,
		"2026-10-01 | leeloo | inbound | 3 | 1 | 1",
		"2026-10-01 | leeloo | outbound | 4 | 1 | 1",
		"2026-10-01 | textrequest | inbound | 1 | 1 | 1",
		"2026-10-01 | textrequest | outbound | 2 | 1 | 1",
		"2026-10-02 | leeloo | inbound | 1 | 1 | 0",
		"2026-10-03 | textrequest | inbound | 1 | 1 | 1",
		"2026-10-03 | textrequest | outbound | 1 | 1 | 1",
		"2026-10-04 | twin | inbound | 1 | 1 | 1",
		"2026-10-04 | twin | outbound | 1 | 1 | 1",
	)

	check("response_times", `select platform, conversation_key, message_id, phone_e164, channel, inbound_at, day, opens_turn,
			replied_at, replied_by, response_seconds, agent, agent_replied_at, agent_response_seconds
		from analytics.response_times order by inbound_at`,
		"leeloo | c1 | m1 | "+ada+" | TELEGRAM | 2026-10-01 09:00:00+00 | 2026-10-01 | t | 2026-10-01 09:01:00+00 | bot | 60.000000 | Anna | 2026-10-01 09:05:00+00 | 300.000000",
		"leeloo | c1 | m5 | "+ada+" | TELEGRAM | 2026-10-01 09:10:00+00 | 2026-10-01 | t | 2026-10-01 09:20:00+00 | agent | 600.000000 | Anna | 2026-10-01 09:20:00+00 | 600.000000",
		"leeloo | c1 | m6 | "+ada+" | TELEGRAM | 2026-10-01 09:11:00+00 | 2026-10-01 | f | 2026-10-01 09:20:00+00 | agent | 540.000000 | Anna | 2026-10-01 09:20:00+00 | 540.000000",
		"textrequest | 1:5550100001 | t1 | "+ada+" | SMS | 2026-10-01 12:00:00+00 | 2026-10-01 | t | 2026-10-01 12:00:05+00 | bot | 5.000000 | jane | 2026-10-01 12:03:00+00 | 180.000000",
		"leeloo | c2 | m1 | ∅ | FACEBOOK | 2026-10-02 23:30:00+00 | 2026-10-02 | t | ∅ | ∅ | ∅ | ∅ | ∅ | ∅",
		"textrequest | 1:(555) 010-0002 | t4 | "+cy+" | SMS | 2026-10-03 08:00:00+00 | 2026-10-03 | t | 2026-10-03 08:00:10+00 | bot | 10.000000 | ∅ | ∅ | ∅",
		"twin | s1 | w1 | "+ivan+" | whatsapp | 2026-10-04 10:00:00+00 | 2026-10-04 | t | 2026-10-04 10:02:00+00 | agent | 120.000000 | Ольга | 2026-10-04 10:02:00+00 | 120.000000",
	)

	check("agents", `select * from analytics.agents order by day, platform, agent`,
		"2026-10-01 | leeloo | Anna | 2 | 1 | 2 | 450.0 | 450",
		"2026-10-01 | textrequest | jane | 1 | 1 | 1 | 180.0 | 180",
		"2026-10-04 | twin | Ольга | 1 | 1 | 1 | 120.0 | 120",
	)

	check("revenue", `select * from analytics.revenue order by occurred_at`,
		"leeloo | o1 | 100.00 | UAH | SUCCESS | paid | 2026-10-01 10:00:00+00 | 2026-10-01 | "+ada+" | c1 | Course",
		"textrequest | 7 | 20.00 | USD | Paid | paid | 2026-10-01 13:00:00+00 | 2026-10-01 | "+ada+" | 1:555.010.0001 | Invoice",
		"textrequest | 8 | 10.00 | USD | Sent | pending | 2026-10-02 09:00:00+00 | 2026-10-02 | "+cy+" | 1:(555) 010-0002 | Deposit",
		"leeloo | o2 | 50.00 | USD | REFUNDED | refunded | 2026-10-03 12:00:00+00 | 2026-10-03 | "+ada+" | c1 | Book",
	)

	check("order_tunnels", `select * from analytics.order_tunnels order by order_id, tunnel_name`,
		"o1 | Tunnel A | 2 | 0.50000000000000000000 | 100.00 | UAH | paid | 2026-10-01 10:00:00+00 | 2026-10-01",
		"o1 | Tunnel B | 2 | 0.50000000000000000000 | 100.00 | UAH | paid | 2026-10-01 10:00:00+00 | 2026-10-01",
		"o2 | Tunnel A | 2 | 0.50000000000000000000 | 50.00 | USD | refunded | 2026-10-03 12:00:00+00 | 2026-10-03",
		"o2 | Tunnel B | 2 | 0.50000000000000000000 | 50.00 | USD | refunded | 2026-10-03 12:00:00+00 | 2026-10-03",
	)

	check("tunnel_revenue", `select * from analytics.tunnel_revenue order by currency`,
		"t1 | Tunnel A | UAH | 300 | 3 | 2 | 10 | 2026-10-05 00:00:00+00",
		"t1 | Tunnel A | USD | 20 | 3 | 2 | 10 | 2026-10-05 00:00:00+00",
	)

	check("contacts", `select * from analytics.contacts order by phone_e164`,
		ada+" | {leeloo,textrequest} | t | t | f | f | Ada L. | 2026-09-01 10:00:00+00 | leeloo | 2026-10-01 12:03:00+00 | 2",
		cy+" | {textrequest} | f | t | f | f | Cy | 2026-10-03 08:00:00+00 | textrequest | 2026-10-03 08:00:10+00 | 1",
		ivan+" | {calltouch,twin} | f | f | t | t | Иван Петров | 2026-09-30 08:00:00+00 | calltouch | 2026-10-06 08:00:00+00 | 3",
	)

	check("freshness", `select source, stream, last_success_at, last_status, last_started_at, last_finished_at, last_rows_read, last_rows_written, last_error,
			since_last_success > interval '1 day' from analytics.freshness`,
		"leeloo | people | 2026-10-05 10:01:00+00 | failed | 2026-10-06 10:00:00+00 | 2026-10-06 10:00:30+00 | 3 | 0 | boom | t",
	)
}

// TestAnalyticsComments: every view of the analytics schema and every column of it has
// a comment (Metabase shows them).
func TestAnalyticsComments(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	missing := viewRows(t, pool, `
		select c.relname || coalesce('.' || a.attname, '')
		from pg_class c
		join pg_namespace n on n.oid = c.relnamespace and n.nspname = 'analytics'
		left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
		where c.relkind in ('v', 'r')
		  and (obj_description(c.oid, 'pg_class') is null
		       or (a.attname is not null and col_description(c.oid, a.attnum) is null))
		order by 1`)
	require.Empty(t, missing)
	views := viewRows(t, pool, `select string_agg(viewname, ' ' order by viewname) from pg_views where schemaname = 'analytics'`)
	require.Equal(t, []string{"agents contacts daily_messages freshness messages order_tunnels response_times revenue tunnel_revenue"}, views,
		fmt.Sprint("the analytics views"))
}
