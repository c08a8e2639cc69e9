package demo

import (
	"context"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// Query is an analyst question the demo asks (README.md shows the same ones).
type Query struct {
	Title string
	SQL   string
}

// Queries are the demo's analyst questions. They run against the warehouse contract
// (DESIGN.md), so they work on real data as well.
var Queries = []Query{
	{
		Title: "TWIN: clients by messenger of their latest session",
		SQL: `SELECT c.messenger_type AS messenger, count(*) AS clients,
       count(c.phone_e164) AS with_phone,
       count(*) FILTER (WHERE EXISTS (SELECT FROM twin.client_attributes a
                                      WHERE a.client_id = c.id)) AS with_attributes,
       max(c.last_session_at) AS last_session
FROM twin.clients c
GROUP BY 1
ORDER BY clients DESC;`,
	},
	{
		Title: "Calltouch: calls by source over the last 30 days: unique, target, with a deal",
		SQL: `SELECT source, medium, count(*) AS calls,
       count(*) FILTER (WHERE unique_call) AS unique_calls,
       count(*) FILTER (WHERE target_call) AS target_calls,
       count(*) FILTER (WHERE cardinality(order_numbers) > 0) AS with_deal
FROM calltouch.calls
WHERE deleted_at IS NULL
  AND called_at >= (SELECT max(called_at) FROM calltouch.calls) - interval '30 days'
GROUP BY 1, 2
ORDER BY calls DESC
LIMIT 10;`,
	},
	{
		Title: "Messages per day, platform and direction (UTC days), over the last three days of activity",
		SQL: `SELECT day, platform, direction, messages, conversations, contacts
FROM analytics.daily_messages
WHERE day >= (SELECT max(day) FROM analytics.daily_messages) - 2
ORDER BY day DESC, platform, direction;`,
	},
	{
		Title: "Agents' response time to a contact's turn, over the last 30 days of activity (bots and the api user are no agents)",
		SQL: `SELECT platform, agent, count(*) AS turns_answered,
       round(avg(agent_response_seconds) / 60, 1) AS avg_minutes,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY agent_response_seconds) / 60)::numeric, 1) AS median_minutes
FROM analytics.response_times
WHERE opens_turn AND agent IS NOT NULL
  AND inbound_at >= (SELECT max(sent_at) FROM analytics.messages) - interval '30 days'
GROUP BY 1, 2
ORDER BY turns_answered DESC
LIMIT 10;`,
	},
	{
		Title: "Leeloo: paid order revenue by tunnel and currency (an order is split across the tunnels its channel entered)",
		SQL: `SELECT coalesce(tunnel_name, '(no tunnel)') AS tunnel, currency,
       count(DISTINCT order_id) AS orders,
       round(sum(amount * coalesce(share, 1)), 2) AS revenue,
       count(DISTINCT order_id) FILTER (WHERE tunnels_entered = 1) AS orders_of_this_tunnel_only
FROM analytics.order_tunnels
WHERE status_group = 'paid'
GROUP BY 1, 2
ORDER BY revenue DESC
LIMIT 10;`,
	},
	{
		Title: "People across platforms, matched by phone_e164",
		SQL: `SELECT array_to_string(platforms, ' + ') AS appears_on, count(*) AS people,
       min(first_contact_at) AS first_contact
FROM analytics.contacts
GROUP BY platforms
ORDER BY cardinality(platforms) DESC, people DESC;`,
	},
	{
		Title: "Outstanding: orders and payments asked for and not paid yet, by currency",
		SQL: `SELECT platform, currency, count(*) AS outstanding, sum(amount) AS amount,
       min(occurred_at) AS oldest
FROM analytics.revenue
WHERE status_group = 'pending'
GROUP BY 1, 2
ORDER BY 1, 2;`,
	},
}

// MoreQueries are shown in README.md next to Queries but not run by the demo (its
// output stays short). Tests run them against the schema too.
var MoreQueries = []Query{
	{
		Title: "Leeloo: paid revenue by UTM source and currency",
		SQL: `SELECT coalesce(c.utm_source, '(none)') AS utm_source, r.currency,
       count(*) AS orders, sum(r.amount) AS revenue
FROM analytics.revenue r
JOIN leeloo.communication_channels c ON c.id = r.conversation_key AND c.deleted_at IS NULL
WHERE r.platform = 'leeloo' AND r.status_group = 'paid'
GROUP BY 1, 2
ORDER BY revenue DESC
LIMIT 10;`,
	},
}

// printer writes the demo's narrative.
type printer struct{ w io.Writer }

func (p *printer) title(s string) {
	fmt.Fprintf(p.w, "\n%s\n%s\n", s, strings.Repeat("=", utf8.RuneCountInString(s)))
}

func (p *printer) step(n int, s string) {
	fmt.Fprintf(p.w, "\n── Step %d: %s\n", n, s)
}

func (p *printer) line(format string, args ...any) {
	fmt.Fprintf(p.w, format+"\n", args...)
}

func (p *printer) blank() { fmt.Fprintln(p.w) }

func (p *printer) cmd(s string) { fmt.Fprintf(p.w, "\n$ %s\n", s) }

func (p *printer) sql(s string) {
	for l := range strings.SplitSeq(s, "\n") {
		fmt.Fprintf(p.w, "  %s\n", l)
	}
}

// printQuery runs sql and prints the result as an aligned table, values as PostgreSQL
// prints them (the simple protocol returns text, so numeric and timestamptz look as in
// psql).
func printQuery(ctx context.Context, conn *pgx.Conn, p *printer, sql string) error {
	rows, err := conn.Query(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return err
	}
	defer rows.Close()
	var header []string
	for _, f := range rows.FieldDescriptions() {
		header = append(header, f.Name)
	}
	var cells [][]string
	for rows.Next() {
		raw := rows.RawValues()
		row := make([]string, len(raw))
		for i, v := range raw {
			if v == nil {
				row[i] = "NULL"
			} else {
				row[i] = clip(string(v), 40)
			}
		}
		cells = append(cells, row)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	writeTable(p.w, header, cells)
	return nil
}

// writeTable prints a psql-like table; numbers could be right-aligned but text
// alignment keeps this small and the demo's tables are short.
func writeTable(w io.Writer, header []string, rows [][]string) {
	width := make([]int, len(header))
	for i, h := range header {
		width[i] = utf8.RuneCountInString(h)
	}
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	line := func(cols []string) {
		var b strings.Builder
		for i, c := range cols {
			if i > 0 {
				b.WriteString(" | ")
			}
			b.WriteString(c)
			b.WriteString(strings.Repeat(" ", width[i]-utf8.RuneCountInString(c)))
		}
		fmt.Fprintf(w, "  %s\n", strings.TrimRight(b.String(), " "))
	}
	line(header)
	sep := make([]string, len(width))
	for i, n := range width {
		sep[i] = strings.Repeat("-", n)
	}
	fmt.Fprintf(w, "  %s\n", strings.Join(sep, "-+-"))
	for _, r := range rows {
		line(r)
	}
	fmt.Fprintf(w, "  (%d rows)\n", len(rows))
}

func clip(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
