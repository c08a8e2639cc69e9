// Package pgtest gives tests a real, isolated PostgreSQL database with every migration
// applied. Only _test.go files may import it.
//
// The server is found once per test binary, in this order:
//
//  1. TEST_DATABASE_URL (a DSN whose user may CREATE DATABASE; its database is used
//     only for bookkeeping);
//  2. a testcontainers-go PostgreSQL container, when a Docker engine answers (the check
//     is cheap and fails fast when there is no Docker);
//  3. postgres://postgres@127.0.0.1:5432/postgres, when it answers.
//
// When none answers, tests are skipped with a message saying so, except when the CI
// environment variable is set: then they fail, because a silently skipped suite in CI
// proves nothing.
//
// The migrations are applied once per migration set to a template database named after
// a hash of the migration files, so a changed migration gets a new template while
// unchanged ones are reused across test binaries and runs. Each [NewDB] or [URL] then
// clones that template (CREATE DATABASE … TEMPLATE, milliseconds for a small schema) and
// drops the clone when the test ends. Test binaries of different packages run at the
// same time against one server; they coordinate through an advisory lock: the template
// is built or dropped under the exclusive lock and cloned under the shared one.
package pgtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	dockerclient "github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"

	"github.com/crmsync/crmsync/migrations"
)

const (
	// localURL is the server developers and CI run beside the tests.
	localURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	// poolMaxConns caps each test pool: up to six test binaries share one server with
	// max_connections 100, each running a few tests in parallel.
	poolMaxConns = 4
	// lockKey is the advisory lock (taken in the maintenance database) guarding template
	// builds against clones; its value is arbitrary but fixed.
	lockKey = int64(0x63726d73796e63) // "crmsync"
	// testPrefix starts every clone's name, followed by its creation time (unix seconds)
	// so that clones left behind by a killed test binary can be recognised and dropped.
	testPrefix = "crmsync_test_"
	// tplPrefix starts every template's name, followed by the migration hash.
	tplPrefix = "crmsync_tpl_"
	// staleAfter is the age after which a leftover clone, or a template of another
	// migration set, is dropped.
	staleAfter = 3 * time.Hour
)

// server is the process-wide result of finding a server and preparing the template.
type server struct {
	adminURL string // DSN of the maintenance database
	template string // name of the migrated template database
}

var (
	setupOnce sync.Once
	srv       *server
	setupErr  error
	// unreachable is true when setupErr only means that no server answered (skip),
	// as opposed to a server that answered and then failed (always fatal).
	unreachable bool
)

// NewDB returns a pool on a fresh database that has every migration applied. The pool
// is closed and the database dropped when the test ends.
func NewDB(t testing.TB) *pgxpool.Pool {
	t.Helper()
	dsn := URL(t)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("pgtest: parse test database url: %v", err)
	}
	cfg.MaxConns = poolMaxConns
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("pgtest: open test database: %v", err)
	}
	// Cleanups run last-in first-out: this one closes the pool before URL's drops
	// the database.
	t.Cleanup(pool.Close)
	return pool
}

// URL creates a fresh database with every migration applied and returns its DSN. The
// database is dropped (connections closed by force) when the test ends.
func URL(t testing.TB) string {
	t.Helper()
	s := get(t)
	return s.create(t, s.template)
}

// EmptyURL creates a fresh database with no migrations applied (cloned from
// template0) and returns its DSN; for tests of the migrations themselves. It is
// dropped when the test ends.
func EmptyURL(t testing.TB) string {
	t.Helper()
	return get(t).create(t, "template0")
}

// AdminURL returns the DSN of the server's maintenance database, for tests that need
// to manage databases themselves. Do not create tables in it.
func AdminURL(t testing.TB) string {
	t.Helper()
	return get(t).adminURL
}

// get returns the process-wide server, skipping or failing t when there is none.
func get(t testing.TB) *server {
	t.Helper()
	setupOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		srv, setupErr = setup(ctx)
	})
	if setupErr != nil {
		if unreachable && os.Getenv("CI") == "" {
			t.Skipf("pgtest: no PostgreSQL to test against (%v); set TEST_DATABASE_URL, start Docker, or run PostgreSQL on 127.0.0.1:5432", setupErr)
		}
		t.Fatalf("pgtest: %v", setupErr)
	}
	return srv
}

// setup finds a server and makes sure the template for the current migrations exists.
func setup(ctx context.Context) (*server, error) {
	admin, err := findServer(ctx)
	if err != nil {
		// An explicit TEST_DATABASE_URL that does not answer is an error, never a skip.
		unreachable = os.Getenv("TEST_DATABASE_URL") == ""
		return nil, err
	}
	tpl, err := templateName()
	if err != nil {
		return nil, err
	}
	s := &server{adminURL: admin, template: tpl}
	if err := s.prepareTemplate(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// findServer returns the maintenance DSN of the first server that answers.
func findServer(ctx context.Context) (string, error) {
	if dsn := os.Getenv("TEST_DATABASE_URL"); dsn != "" {
		// An explicit URL that does not answer is a configuration error to report,
		// not a reason to try something else silently.
		if err := ping(ctx, dsn); err != nil {
			return "", fmt.Errorf("TEST_DATABASE_URL does not answer: %w", err)
		}
		return dsn, nil
	}
	var tried []string
	if dsn, err := startContainer(ctx); err == nil {
		return dsn, nil
	} else {
		tried = append(tried, "docker: "+err.Error())
	}
	if err := ping(ctx, localURL); err == nil {
		return localURL, nil
	} else {
		tried = append(tried, "127.0.0.1:5432: "+err.Error())
	}
	return "", errors.New(strings.Join(tried, "; "))
}

// ping connects to dsn with a short timeout.
func ping(ctx context.Context, dsn string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.Ping(ctx)
}

// startContainer starts a PostgreSQL container when a Docker engine answers. Without
// DOCKER_HOST or a Docker socket it returns at once, so machines without Docker pay
// nothing. The container lives as long as the test binary (testcontainers' reaper
// removes it afterwards).
func startContainer(ctx context.Context) (string, error) {
	if !dockerLikely() {
		return "", errors.New("no DOCKER_HOST and no docker socket")
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cli, err := testcontainers.NewDockerClientWithOpts(pingCtx)
	if err != nil {
		return "", fmt.Errorf("docker client: %w", err)
	}
	defer cli.Close()
	if _, err := cli.Ping(pingCtx, dockerclient.PingOptions{}); err != nil {
		return "", fmt.Errorf("docker does not answer: %w", err)
	}
	ctr, err := tcpostgres.Run(ctx, "postgres:15-alpine",
		tcpostgres.WithDatabase("postgres"),
		tcpostgres.WithUsername("postgres"),
		tcpostgres.WithPassword("postgres"),
		tcpostgres.BasicWaitStrategies(),
	)
	if err != nil {
		return "", fmt.Errorf("start postgres container: %w", err)
	}
	dsn, err := ctr.ConnectionString(ctx, "sslmode=disable")
	if err != nil {
		return "", fmt.Errorf("postgres container dsn: %w", err)
	}
	return dsn, nil
}

// dockerLikely reports whether a Docker engine could be reachable at all.
func dockerLikely() bool {
	if os.Getenv("DOCKER_HOST") != "" {
		return true
	}
	home, _ := os.UserHomeDir()
	for _, p := range []string{
		"/var/run/docker.sock",
		filepath.Join(home, ".docker", "run", "docker.sock"),
		filepath.Join(home, ".docker", "desktop", "docker.sock"),
		filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "docker.sock"),
	} {
		if fi, err := os.Stat(p); err == nil && fi.Mode()&fs.ModeSocket != 0 {
			return true
		}
	}
	return false
}

// templateName derives the template's name from the migration files' names and
// contents, so any edit to a migration yields a new template.
func templateName() (string, error) {
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		return "", fmt.Errorf("list migrations: %w", err)
	}
	slices.Sort(names)
	h := sha256.New()
	for _, n := range names {
		b, err := fs.ReadFile(migrations.FS, n)
		if err != nil {
			return "", fmt.Errorf("read migration %s: %w", n, err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return tplPrefix + hex.EncodeToString(h.Sum(nil))[:16], nil
}

// prepareTemplate builds the template unless it exists, and drops stale databases, all
// under the exclusive advisory lock.
func (s *server) prepareTemplate(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, s.adminURL)
	if err != nil {
		return fmt.Errorf("connect to maintenance database: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "select pg_advisory_lock($1)", lockKey); err != nil {
		return fmt.Errorf("lock template: %w", err)
	}
	// Closing the connection releases the lock too; unlocking explicitly just frees
	// it sooner for the other test binaries.
	defer conn.Exec(context.Background(), "select pg_advisory_unlock($1)", lockKey) //nolint:errcheck

	s.dropStale(ctx, conn)

	var exists bool
	if err := conn.QueryRow(ctx, "select exists (select from pg_database where datname = $1)", s.template).Scan(&exists); err != nil {
		return fmt.Errorf("look up template %s: %w", s.template, err)
	}
	if exists {
		return nil
	}
	// Build under a temporary name and rename when complete, so a binary killed
	// mid-migration never leaves a half-migrated template behind under the real name.
	tmp := s.template + "_tmp"
	if _, err := conn.Exec(ctx, "drop database if exists "+ident(tmp)+" with (force)"); err != nil {
		return fmt.Errorf("drop leftover template %s: %w", tmp, err)
	}
	if _, err := conn.Exec(ctx, "create database "+ident(tmp)+" template template0"); err != nil {
		return fmt.Errorf("create template %s: %w", tmp, err)
	}
	if err := migrate(ctx, withDatabase(s.adminURL, tmp)); err != nil {
		return fmt.Errorf("migrate template: %w", err)
	}
	if _, err := conn.Exec(ctx, "alter database "+ident(tmp)+" rename to "+ident(s.template)); err != nil {
		return fmt.Errorf("rename template %s: %w", tmp, err)
	}
	comment := "crmsync test template, created " + strconv.FormatInt(time.Now().Unix(), 10)
	if _, err := conn.Exec(ctx, "comment on database "+ident(s.template)+" is "+literal(comment)); err != nil {
		return fmt.Errorf("comment template %s: %w", s.template, err)
	}
	return nil
}

// migrate applies every migration to the database at dsn.
func migrate(ctx context.Context, dsn string) error {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return err
	}
	defer pool.Close()
	return migrations.Up(ctx, pool, nil)
}

var (
	cloneName    = regexp.MustCompile(`^` + testPrefix + `(\d+)_`)
	templateNote = regexp.MustCompile(`created (\d+)$`)
)

// dropStale drops clones older than staleAfter (left by killed binaries) and
// templates of other migration sets built more than staleAfter ago. Errors are
// ignored: a stale database costs only disk space.
func (s *server) dropStale(ctx context.Context, conn *pgx.Conn) {
	rows, err := conn.Query(ctx, `
		select d.datname, coalesce(shobj_description(d.oid, 'pg_database'), '')
		from pg_database d
		where d.datname like 'crmsync\_test\_%' or d.datname like 'crmsync\_tpl\_%'`)
	if err != nil {
		return
	}
	type db struct{ name, note string }
	dbs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[db])
	if err != nil {
		return
	}
	cutoff := time.Now().Add(-staleAfter).Unix()
	for _, d := range dbs {
		var m []string
		if strings.HasPrefix(d.name, testPrefix) {
			m = cloneName.FindStringSubmatch(d.name)
		} else if d.name != s.template && !strings.HasSuffix(d.name, "_tmp") {
			m = templateNote.FindStringSubmatch(d.note)
		}
		if m == nil {
			continue
		}
		if created, err := strconv.ParseInt(m[1], 10, 64); err == nil && created < cutoff {
			_, _ = conn.Exec(ctx, "drop database if exists "+ident(d.name)+" with (force)")
		}
	}
}

// create clones tpl into a new database, registers its drop with t, and returns its DSN.
func (s *server) create(t testing.TB, tpl string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := fmt.Sprintf("%s%d_%016x", testPrefix, time.Now().Unix(), rand.Uint64())
	conn, err := pgx.Connect(ctx, s.adminURL)
	if err != nil {
		t.Fatalf("pgtest: connect to maintenance database: %v", err)
	}
	defer conn.Close(context.Background())
	// The shared lock keeps a template build or drop from running during the clone;
	// clones themselves run in parallel.
	if _, err := conn.Exec(ctx, "select pg_advisory_lock_shared($1)", lockKey); err != nil {
		t.Fatalf("pgtest: lock template: %v", err)
	}
	_, err = conn.Exec(ctx, "create database "+ident(name)+" template "+ident(tpl))
	if _, uerr := conn.Exec(ctx, "select pg_advisory_unlock_shared($1)", lockKey); uerr != nil && err == nil {
		err = uerr
	}
	if err != nil {
		t.Fatalf("pgtest: create database %s from %s: %v", name, tpl, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, s.adminURL)
		if err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "drop database if exists "+ident(name)+" with (force)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return withDatabase(s.adminURL, name)
}

// withDatabase returns dsn pointing at database name, for both URL and key=value DSNs.
func withDatabase(dsn, name string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path = "/" + name
		q := u.Query()
		q.Del("dbname")
		u.RawQuery = q.Encode()
		return u.String()
	}
	// In the key=value form the last occurrence of a key wins.
	return dsn + " dbname=" + name
}

// ident quotes a database name.
func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

// literal quotes a string constant.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
