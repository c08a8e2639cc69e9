package migrations_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/pgtest"
)

// contract is DESIGN.md's warehouse contract: every table analysts rely on and its
// primary key, in key order.
var contract = map[string][]string{
	"leeloo.people":                     {"id"},
	"leeloo.person_channels":            {"person_id", "account_id"},
	"leeloo.communication_channels":     {"id"},
	"leeloo.messages":                   {"channel_id", "id"},
	"leeloo.orders":                     {"id"},
	"leeloo.tunnels":                    {"id"},
	"leeloo.tunnel_stats":               {"tunnel_id", "captured_at"},
	"leeloo.users":                      {"id"},
	"leeloo.tags":                       {"id"},
	"leeloo.connections":                {"id"},
	"leeloo.accounts":                   {"id"},
	"leeloo.account_subscriptions":      {"account_id", "ordinal"},
	"textrequest.dashboards":            {"id"},
	"textrequest.contacts":              {"dashboard_id", "phone_number"},
	"textrequest.contact_tags":          {"dashboard_id", "phone_number", "tag_id"},
	"textrequest.contact_groups":        {"dashboard_id", "phone_number", "group_id"},
	"textrequest.contact_custom_fields": {"dashboard_id", "phone_number", "field_id"},
	"textrequest.conversations":         {"dashboard_id", "phone_number"},
	"textrequest.messages":              {"message_id"},
	"textrequest.payments":              {"payment_id"},
	"textrequest.groups":                {"dashboard_id", "id"},
	"textrequest.tags":                  {"dashboard_id", "id"},
	"textrequest.custom_fields":         {"dashboard_id", "id"},
	"twin.attributes":                   {"id"},
	"twin.chats":                        {"id"},
	"twin.sessions":                     {"id"},
	"twin.messages":                     {"id"},
	"twin.clients":                      {"id"},
	"twin.client_attributes":            {"client_id", "attribute_id"},
	"calltouch.calls":                   {"site_id", "call_id"},
	"calltouch.requests":                {"site_id", "request_id"},
	"sync.state":                        {"source", "stream", "partition"},
	"sync.runs":                         {"id"},
	"sync.rejects":                      {"id"},
	"sync.pushes":                       {"push", "key"},
}

// contractColumns are further columns the contract names.
var contractColumns = map[string][]string{
	"textrequest.messages":   {"dashboard_id", "phone_number"},
	"textrequest.payments":   {"dashboard_id"},
	"sync.state":             {"cursor"},
	"twin.attributes":        {"company_id", "name"},
	"twin.sessions":          {"client_id", "chat_id"},
	"twin.messages":          {"session_id"},
	"twin.client_attributes": {"value"},
	"calltouch.calls":        {"phone_e164", "deleted_at"},
	"calltouch.requests":     {"phone_e164", "deleted_at"},
	"sync.pushes":            {"payload_hash", "status", "attempts", "last_error", "result", "sent_at", "updated_at"},
}

func TestWarehouseContract(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewDB(t)

	// Primary keys of every table, columns in key order.
	rows, err := pool.Query(ctx, `
		select c.conrelid::regclass::text,
		       array_agg(a.attname::text order by k.ord)
		from pg_constraint c
		cross join lateral unnest(c.conkey) with ordinality as k(attnum, ord)
		join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum
		where c.contype = 'p'
		group by c.conrelid`)
	require.NoError(t, err)
	pks := map[string][]string{}
	for rows.Next() {
		var table string
		var cols []string
		require.NoError(t, rows.Scan(&table, &cols))
		pks[table] = cols
	}
	require.NoError(t, rows.Err())

	for table, key := range contract {
		t.Run(table, func(t *testing.T) {
			got, ok := pks[table]
			require.True(t, ok, "table %s missing or without primary key", table)
			require.Equal(t, key, got, "primary key of %s", table)
			for _, col := range contractColumns[table] {
				var n int
				schema, name, _ := strings.Cut(table, ".")
				require.NoError(t, pool.QueryRow(ctx, `select count(*) from information_schema.columns
					where table_schema = $1 and table_name = $2 and column_name = $3`, schema, name, col).Scan(&n))
				require.Equal(t, 1, n, "column %s.%s", table, col)
			}
		})
	}
}

// TestEveryTableAndColumnCommented checks the COMMENT ON descriptions Metabase shows.
func TestEveryTableAndColumnCommented(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	rows, err := pool.Query(ctx, `
		select c.oid::regclass::text || coalesce('.' || a.attname, '')
		from pg_class c
		join pg_namespace n on n.oid = c.relnamespace
		left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
		where c.relkind in ('r', 'p') and n.nspname in ('sync', 'leeloo', 'textrequest', 'twin', 'calltouch')
		  and (case when a.attname is null then obj_description(c.oid, 'pg_class')
		            else col_description(c.oid, a.attnum) end) is null
		union all
		select c.oid::regclass::text
		from pg_class c join pg_namespace n on n.oid = c.relnamespace
		where c.relkind in ('r', 'p') and n.nspname in ('sync', 'leeloo', 'textrequest', 'twin', 'calltouch')
		  and obj_description(c.oid, 'pg_class') is null
		order by 1`)
	require.NoError(t, err)
	var missing []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		missing = append(missing, s)
	}
	require.NoError(t, rows.Err())
	require.Empty(t, missing, "tables and columns without COMMENT ON")
}

// TestNoRowHash: 00021 dropped the _row_hash columns the loader no longer keeps.
func TestNoRowHash(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	var tables []string
	require.NoError(t, pool.QueryRow(context.Background(), `
		select coalesce(array_agg(attrelid::regclass::text order by 1), '{}') from pg_attribute
		where attname = '_row_hash' and not attisdropped`).Scan(&tables))
	require.Empty(t, tables)
}

// TestDashboardDeletionFollows: a Text Request dashboard marked deleted (by the
// dashboards stream's pass) takes its live rows with it; rows marked earlier keep their
// own mark; when the dashboard comes back, exactly the rows it took come back.
func TestDashboardDeletionFollows(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	ctx := context.Background()
	exec := func(sql string) {
		t.Helper()
		_, err := pool.Exec(ctx, sql)
		require.NoError(t, err)
	}
	exec(`insert into textrequest.dashboards (id, raw) values (1, '{}'), (2, '{}')`)
	exec(`insert into textrequest.contacts (dashboard_id, phone_number, raw) values
		(1, 'a', '{}'), (1, 'b', '{}'), (2, 'a', '{}')`)
	exec(`insert into textrequest.contact_tags (dashboard_id, phone_number, tag_id) values (1, 'a', 7), (2, 'a', 7)`)
	exec(`insert into textrequest.payments (dashboard_id, payment_id, raw) values (1, 10, '{}'), (2, 20, '{}')`)
	exec(`update textrequest.contacts set deleted_at = now() - interval '1 day' where dashboard_id = 1 and phone_number = 'b'`)
	live := func(table string) map[int]int {
		t.Helper()
		rows, err := pool.Query(ctx, `select dashboard_id, count(*) filter (where deleted_at is null) from textrequest.`+table+` group by 1`)
		require.NoError(t, err)
		out := map[int]int{}
		for rows.Next() {
			var d, n int
			require.NoError(t, rows.Scan(&d, &n))
			out[d] = n
		}
		require.NoError(t, rows.Err())
		return out
	}

	exec(`update textrequest.dashboards set deleted_at = now() where id = 1`)
	require.Equal(t, map[int]int{1: 0, 2: 1}, live("contacts"))
	require.Equal(t, map[int]int{1: 0, 2: 1}, live("contact_tags"))
	require.Equal(t, map[int]int{1: 0, 2: 1}, live("payments"))

	exec(`update textrequest.dashboards set deleted_at = null where id = 1`)
	require.Equal(t, map[int]int{1: 1, 2: 1}, live("contacts"), "b was deleted on its own and stays so")
	require.Equal(t, map[int]int{1: 1, 2: 1}, live("contact_tags"))
	require.Equal(t, map[int]int{1: 1, 2: 1}, live("payments"))
}
