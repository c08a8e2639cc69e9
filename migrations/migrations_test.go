package migrations_test

import (
	"context"
	"io/fs"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/pgtest"
	"github.com/crmsync/crmsync/migrations"
)

func TestUpDownUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgtest.EmptyURL(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	files, err := fs.Glob(migrations.FS, "*.sql")
	require.NoError(t, err)
	require.NotEmpty(t, files)

	list, err := migrations.List(ctx, pool)
	require.NoError(t, err)
	require.Len(t, list, len(files)+1, "the SQL files and the Go migration 00011")
	for _, s := range list {
		require.False(t, s.Applied, s.Name)
	}

	require.NoError(t, migrations.Up(ctx, pool, nil))
	list, err = migrations.List(ctx, pool)
	require.NoError(t, err)
	for _, s := range list {
		require.True(t, s.Applied, s.Name)
		require.False(t, s.AppliedAt.IsZero(), s.Name)
	}
	require.Equal(t, "00001_create_sync.sql", list[0].Name)
	require.Equal(t, int64(1), list[0].Version)
	require.Contains(t, appSchemas(t, pool), "sync")

	// Down one step removes only the newest migration.
	require.NoError(t, migrations.Down(ctx, pool, nil))
	list, err = migrations.List(ctx, pool)
	require.NoError(t, err)
	require.False(t, list[len(list)-1].Applied)
	for _, s := range list[:len(list)-1] {
		require.True(t, s.Applied, s.Name)
	}

	// Down to zero leaves nothing of ours behind.
	require.NoError(t, migrations.DownTo(ctx, pool, nil, 0))
	require.Empty(t, appSchemas(t, pool))
	require.Empty(t, appTables(t, pool))
	require.NoError(t, migrations.Down(ctx, pool, nil), "down with nothing applied is a no-op")

	// And up again works on the emptied database.
	require.NoError(t, migrations.Up(ctx, pool, nil))
	require.Contains(t, appSchemas(t, pool), "sync")
	require.NoError(t, migrations.Up(ctx, pool, nil), "up with nothing pending is a no-op")
}

// appSchemas lists non-system schemas other than public.
func appSchemas(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	var out []string
	rows, err := pool.Query(context.Background(), `
		select nspname from pg_namespace
		where nspname not in ('public', 'information_schema') and nspname not like 'pg\_%'
		order by nspname = 'sync' desc, nspname`)
	require.NoError(t, err)
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}

// appTables lists tables outside the system schemas, except goose's version table.
func appTables(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	var out []string
	rows, err := pool.Query(context.Background(), `
		select table_schema || '.' || table_name from information_schema.tables
		where table_schema not in ('pg_catalog', 'information_schema')
		  and table_name <> 'goose_db_version'`)
	require.NoError(t, err)
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}
