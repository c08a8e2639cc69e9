package demo

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/pgtest"
)

// unreachableURL is a DSN on a port nothing listens on.
func unreachableURL(t *testing.T) string {
	t.Helper()
	port, err := freePort()
	require.NoError(t, err)
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
}

func queryOne(t *testing.T, dsn, sql string) string {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var s string
	require.NoError(t, conn.QueryRow(t.Context(), sql).Scan(&s))
	return s
}

func TestOpenDatabaseUsesDatabaseURL(t *testing.T) {
	t.Parallel()

	url := pgtest.URL(t)
	db, err := OpenDatabase(t.Context(), DBOptions{DatabaseURL: url, LocalURL: unreachableURL(t), NoPrivate: true})
	require.NoError(t, err)
	require.Equal(t, url, db.URL, "DATABASE_URL is used as given")
	require.Contains(t, db.Where, "DATABASE_URL")
	require.NoError(t, db.Close(t.Context()))
}

// A DATABASE_URL that already holds synced data is refused, untouched: the demo would
// tell the story of a first sync that is not one.
func TestOpenDatabaseRefusesAWarehouseInUse(t *testing.T) {
	t.Parallel()

	url := pgtest.URL(t)
	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	_, err = conn.Exec(t.Context(), `insert into sync.runs (source, stream, status) values ('leeloo', 'people', 'succeeded')`)
	require.NoError(t, err)
	require.NoError(t, conn.Close(t.Context()))

	_, err = OpenDatabase(t.Context(), DBOptions{DatabaseURL: url, LocalURL: unreachableURL(t), NoPrivate: true})
	require.ErrorIs(t, err, ErrNotEmpty)
	require.ErrorContains(t, err, "already holds a crmsync warehouse (1 runs in sync.runs)")
}

func TestOpenDatabaseBadDatabaseURL(t *testing.T) {
	t.Parallel()

	_, err := OpenDatabase(t.Context(), DBOptions{DatabaseURL: "postgres://demo:s3cret@" + strings.TrimPrefix(unreachableURL(t), "postgres://postgres@")})
	require.ErrorContains(t, err, "connect to DATABASE_URL")
	require.NotContains(t, err.Error(), "s3cret", "the password is never printed")
}

func TestOpenDatabaseRecreatesOnLocalServer(t *testing.T) {
	t.Parallel()

	admin := pgtest.AdminURL(t)
	name := fmt.Sprintf("crmsync_demo_test_%d", rand.Uint32())
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), admin)
		if err == nil {
			_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			conn.Close(context.Background())
		}
	})

	db, err := OpenDatabase(t.Context(), DBOptions{LocalURL: admin, Name: name, NoPrivate: true})
	require.NoError(t, err)
	require.Contains(t, db.URL, "/"+name)
	require.Contains(t, db.Where, "dropped and recreated")
	conn, err := pgx.Connect(t.Context(), db.URL)
	require.NoError(t, err)
	_, err = conn.Exec(t.Context(), "CREATE TABLE leftover (id int)")
	require.NoError(t, err)
	// An open session must not block the next demo's drop.
	defer conn.Close(context.Background())

	db2, err := OpenDatabase(t.Context(), DBOptions{LocalURL: admin, Name: name, NoPrivate: true})
	require.NoError(t, err)
	require.Equal(t, "0", queryOne(t, db2.URL, "SELECT count(*)::text FROM pg_tables WHERE tablename = 'leftover'"), "the database was recreated empty")
}

func TestOpenDatabaseNothingAnswers(t *testing.T) {
	t.Parallel()

	_, err := OpenDatabase(t.Context(), DBOptions{LocalURL: unreachableURL(t), NoPrivate: true})
	require.ErrorContains(t, err, "no database: DATABASE_URL is unset and 127.0.0.1:")
}

// TestOpenDatabasePrivateServer covers a machine where PostgreSQL is installed but
// not running: the demo starts its own server from the binaries, and Close removes it.
func TestOpenDatabasePrivateServer(t *testing.T) {
	t.Parallel()
	if _, _, err := findPostgresBin(nil); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI has PostgreSQL installed: %v", err)
		}
		t.Skip(err)
	}

	var logs bytes.Buffer
	db, err := OpenDatabase(t.Context(), DBOptions{
		LocalURL: unreachableURL(t),
		Logf:     func(f string, a ...any) { fmt.Fprintf(&logs, f+"\n", a...) },
	})
	require.NoError(t, err)
	require.Contains(t, db.Where, "a private PostgreSQL")
	require.Contains(t, logs.String(), "starting a private PostgreSQL")
	require.Contains(t, db.URL, "/"+DefaultDatabaseName)
	require.Equal(t, DefaultDatabaseName, queryOne(t, db.URL, "SELECT current_database()"))

	srvDir := db.Where[strings.Index(db.Where, "data in ")+len("data in "):]
	srvDir = srvDir[:strings.Index(srvDir, ";")]
	require.DirExists(t, srvDir)
	require.NoError(t, db.Close(t.Context()))
	require.NoDirExists(t, srvDir, "Close removes the private server's folder")
	require.Error(t, ping(t.Context(), db.URL), "the private server is stopped")
}

func TestFindPostgresBinPrefersExtraDirs(t *testing.T) {
	t.Parallel()

	dir := t.TempDir()
	for _, prog := range []string{"initdb", "pg_ctl"} {
		require.NoError(t, os.WriteFile(dir+"/"+prog, []byte("#!/bin/sh\n"), 0o755))
	}
	got, _, err := findPostgresBin([]string{t.TempDir(), dir})
	require.NoError(t, err)
	require.Equal(t, dir, got)
}

func TestDemoEnv(t *testing.T) {
	t.Parallel()

	env := demoEnv([]string{
		"PATH=/usr/bin", "HOME=/root",
		"LEELOO_AUTH_TOKEN_FILE=/secrets/real-token", "TEXTREQUEST_DASHBOARDS=1,2",
		"DATABASE_URL=postgres://prod", "CRMSYNC_CONCURRENCY=9",
	}, map[string]string{"DATABASE_URL": "postgres://demo", "LEELOO_AUTH_TOKEN": "demo-leeloo-token"})
	slices.Sort(env)
	require.Equal(t, []string{
		"DATABASE_URL=postgres://demo", "HOME=/root", "LEELOO_AUTH_TOKEN=demo-leeloo-token", "PATH=/usr/bin",
	}, env, "the user's real crmsync settings never reach the demo's subprocess")
}

func TestRedact(t *testing.T) {
	t.Parallel()

	require.Equal(t, "postgres://app:xxxxx@db:5432/crm", redact("postgres://app:hunter2@db:5432/crm?sslmode=require"))
	require.Equal(t, "postgres://app@db/crm", redact("postgres://app@db/crm"))
	require.Equal(t, "(a DSN)", redact("host=db password=hunter2"))
}
