package leeloo

import (
	"net/http"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/pgtest"
)

// TestTablesMatchMigration checks every table of every stream against the migrated
// database: each column exists with the type written in Desc, the primary key is Desc's
// Key, child tables' parent keys exist, and every table and column has a comment.
func TestTablesMatchMigration(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	client, err := apiclient.New(apiclient.Config{Source: Source, BaseURL: "http://127.0.0.1:1", Auth: func(*http.Request) {}})
	require.NoError(t, err)
	ex, err := New(Config{Client: client})
	require.NoError(t, err)

	// udt names as information_schema reports them for the types Desc uses.
	udt := map[string]string{tText: "text", tTexts: "_text", tTime: "timestamptz", tJSON: "jsonb",
		tBool: "bool", tNum: "numeric", tBigint: "int8", tInt: "int4"}
	seen := map[string]bool{}
	for _, d := range ex.Streams() {
		for _, tab := range d.Tables {
			seen[tab.Name] = true
			rows, err := pool.Query(t.Context(), `
				SELECT c.column_name, c.udt_name, col_description(format('%s.%s', c.table_schema, c.table_name)::regclass, c.ordinal_position) IS NOT NULL
				FROM information_schema.columns c
				WHERE c.table_schema || '.' || c.table_name = $1`, tab.Name)
			require.NoError(t, err)
			cols := map[string]string{}
			for rows.Next() {
				var name, typ string
				var commented bool
				require.NoError(t, rows.Scan(&name, &typ, &commented))
				require.True(t, commented, "%s.%s has no comment", tab.Name, name)
				cols[name] = typ
			}
			require.NoError(t, rows.Err())
			require.NotEmpty(t, cols, "table %s missing from the migration", tab.Name)
			require.Contains(t, cols, "synced_at", tab.Name)
			for _, c := range tab.Columns {
				require.Contains(t, cols, c.Name, "%s.%s missing from the migration", tab.Name, c.Name)
				require.Equal(t, udt[c.Type], cols[c.Name], "%s.%s type", tab.Name, c.Name)
			}
			for _, pk := range tab.ParentKey {
				require.Contains(t, cols, pk, "%s parent key", tab.Name)
			}

			var key []string
			require.NoError(t, pool.QueryRow(t.Context(), `
				SELECT array_agg(a.attname ORDER BY array_position(i.indkey, a.attnum))
				FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
				WHERE i.indrelid = $1::regclass AND i.indisprimary`, tab.Name).Scan(&key))
			require.Equal(t, tab.Key, key, "%s primary key", tab.Name)

			var tableComment bool
			require.NoError(t, pool.QueryRow(t.Context(), `SELECT obj_description($1::regclass, 'pg_class') IS NOT NULL`, tab.Name).Scan(&tableComment))
			require.True(t, tableComment, "%s has no comment", tab.Name)
		}
	}

	// Every table the migration creates is filled by some stream.
	rows, err := pool.Query(t.Context(), `SELECT table_schema || '.' || table_name FROM information_schema.tables WHERE table_schema = 'leeloo'`)
	require.NoError(t, err)
	var all []string
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		all = append(all, name)
	}
	require.NoError(t, rows.Err())
	for _, name := range all {
		require.True(t, seen[name], "table %s is filled by no stream", name)
	}
	require.True(t, slices.Contains(all, "leeloo.people"))
}
