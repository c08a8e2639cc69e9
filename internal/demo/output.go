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
		Title: "Leeloo: messages per messenger per day, over the last three days of activity",
		SQL: `SELECT c.from_messenger AS messenger,
       m.created_at::date AS day,
       count(*) AS messages,
       count(DISTINCT m.channel_id) AS channels
FROM leeloo.messages m
JOIN leeloo.communication_channels c ON c.id = m.channel_id
WHERE m.created_at >= (SELECT max(created_at) FROM leeloo.messages) - interval '3 days'
GROUP BY 1, 2
ORDER BY day DESC, messages DESC
LIMIT 10;`,
	},
	{
		Title: "Leeloo: order revenue by status and currency",
		SQL: `SELECT status, currency, count(*) AS orders,
       sum(price) AS revenue, round(avg(price), 2) AS average
FROM leeloo.orders
WHERE deleted_at IS NULL
GROUP BY 1, 2
ORDER BY revenue DESC NULLS LAST
LIMIT 10;`,
	},
	{
		Title: "Text Request: payments by status",
		SQL: `SELECT transaction_status AS status, count(*) AS payments,
       sum(amount_requested) AS amount,
       count(*) FILTER (WHERE is_past_due) AS past_due
FROM textrequest.payments
WHERE deleted_at IS NULL
GROUP BY 1
ORDER BY amount DESC NULLS LAST;`,
	},
	{
		Title: "Text Request: the contacts we exchanged most messages with",
		SQL: `SELECT c.dashboard_id AS dashboard,
       coalesce(nullif(c.display_name, ''),
                nullif(trim(concat_ws(' ', c.first_name, c.last_name)), ''),
                '(no name)') AS contact,
       c.phone_number, count(*) AS messages,
       max(m.message_timestamp_utc) AS last_message
FROM textrequest.messages m
JOIN textrequest.contacts c USING (dashboard_id, phone_number)
WHERE c.deleted_at IS NULL
GROUP BY 1, 2, 3
ORDER BY messages DESC, last_message DESC
LIMIT 5;`,
	},
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
}

// MoreQueries are shown in README.md next to Queries but not run by the demo (its
// output stays short). Tests run them against the schema too.
var MoreQueries = []Query{
	{
		Title: "Leeloo: channels, orders and revenue by UTM source",
		SQL: `SELECT coalesce(c.utm_source, '(none)') AS utm_source,
       count(DISTINCT c.id) AS channels,
       count(o.id) AS orders,
       coalesce(sum(o.price), 0) AS revenue
FROM leeloo.communication_channels c
LEFT JOIN leeloo.orders o ON o.account_id = c.id AND o.deleted_at IS NULL
WHERE c.deleted_at IS NULL
GROUP BY 1
ORDER BY revenue DESC, channels DESC
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
