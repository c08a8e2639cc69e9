package demo

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/pgtest"
)

// TestQueriesRunAgainstTheSchema runs every analyst query of the demo (and README)
// against a migrated database, so a renamed column breaks this test, not the demo.
func TestQueriesRunAgainstTheSchema(t *testing.T) {
	t.Parallel()

	conn, err := pgx.Connect(t.Context(), pgtest.URL(t))
	require.NoError(t, err)
	defer conn.Close(context.Background())
	_, err = conn.Exec(t.Context(), `
		INSERT INTO leeloo.communication_channels (id, from_messenger, raw) VALUES ('c1', 'telegram', '{}');
		INSERT INTO leeloo.messages (channel_id, id, created_at, raw) VALUES ('c1', 'm1', '2026-11-01T10:00:00Z', '{}'), ('c1', 'm2', '2026-11-01T11:00:00Z', '{}');
		INSERT INTO leeloo.orders (id, status, currency, price, raw) VALUES ('o1', 'SUCCESS', 'USD', 1499.99, '{}'), ('o2', 'SUCCESS', 'USD', 0.01, '{}');`)
	require.NoError(t, err)

	for _, q := range append(Queries, MoreQueries...) {
		var out bytes.Buffer
		require.NoError(t, printQuery(t.Context(), conn, &printer{w: &out}, q.SQL), q.Title)
		require.Contains(t, out.String(), "rows)")
	}
	var out bytes.Buffer
	require.NoError(t, printQuery(t.Context(), conn, &printer{w: &out}, queryTitled(t, "Leeloo: paid order revenue by tunnel").SQL))
	require.Equal(t, ""+
		"  tunnel      | currency | orders | revenue | orders_of_this_tunnel_only\n"+
		"  ------------+----------+--------+---------+---------------------------\n"+
		"  (no tunnel) | USD      | 2      | 1500.00 | 0\n"+
		"  (1 rows)\n", out.String())
}

// queryTitled is the demo query whose title starts with prefix.
func queryTitled(t *testing.T, prefix string) Query {
	t.Helper()
	for _, q := range Queries {
		if strings.HasPrefix(q.Title, prefix) {
			return q
		}
	}
	t.Fatalf("no demo query titled %q", prefix)
	return Query{}
}

func TestWriteTable(t *testing.T) {
	t.Parallel()

	var out bytes.Buffer
	writeTable(&out, []string{"name", "n"}, [][]string{{"Олена", "12"}, {"NULL", "3"}})
	require.Equal(t, ""+
		"  name  | n\n"+
		"  ------+---\n"+
		"  Олена | 12\n"+
		"  NULL  | 3\n"+
		"  (2 rows)\n", out.String())
	require.Equal(t, "abcd…", clip("abcdefgh", 5))
}

// TestReadmeShowsTheQueries keeps README.md's example SQL identical to the queries
// tested here.
func TestReadmeShowsTheQueries(t *testing.T) {
	t.Parallel()

	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	for _, q := range append(Queries, MoreQueries...) {
		require.Contains(t, string(readme), "-- "+q.Title+"\n"+q.SQL+"\n", "README.md must show the query %q verbatim", q.Title)
	}
}
