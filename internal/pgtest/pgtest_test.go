package pgtest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/pgtest"
)

func TestNewDBIsMigratedAndIsolated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := pgtest.NewDB(t), pgtest.NewDB(t)

	var nameA, nameB string
	require.NoError(t, a.QueryRow(ctx, "select current_database()").Scan(&nameA))
	require.NoError(t, b.QueryRow(ctx, "select current_database()").Scan(&nameB))
	require.NotEqual(t, nameA, nameB)

	// Migrated: the sync schema is there. Isolated: a write to a is not seen in b.
	_, err := a.Exec(ctx, "insert into sync.state (source, stream, cursor) values ('s', 'x', '1')")
	require.NoError(t, err)
	var n int
	require.NoError(t, b.QueryRow(ctx, "select count(*) from sync.state").Scan(&n))
	require.Zero(t, n)
}

func TestCloneDroppedAtCleanup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var name string
	t.Run("inner", func(t *testing.T) {
		pool := pgtest.NewDB(t)
		require.NoError(t, pool.QueryRow(ctx, "select current_database()").Scan(&name))
	})
	conn, err := pgx.Connect(ctx, pgtest.AdminURL(t))
	require.NoError(t, err)
	defer conn.Close(ctx)
	var exists bool
	require.NoError(t, conn.QueryRow(ctx, "select exists (select from pg_database where datname = $1)", name).Scan(&exists))
	require.False(t, exists, "database %s should be dropped", name)
}

func TestEmptyURLHasNoMigrations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.EmptyURL(t))
	require.NoError(t, err)
	defer conn.Close(ctx)
	var exists bool
	require.NoError(t, conn.QueryRow(ctx, "select exists (select from pg_namespace where nspname = 'sync')").Scan(&exists))
	require.False(t, exists)
}
