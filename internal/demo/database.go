package demo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultLocalURL is the PostgreSQL the demo tries when DATABASE_URL is unset: the
// usual local server with trust authentication, as in development and CI.
const DefaultLocalURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// DefaultDatabaseName is the database the demo drops and recreates on a server it
// found or started itself.
const DefaultDatabaseName = "crmsync_demo"

// DBOptions says where to look for a database.
type DBOptions struct {
	// DatabaseURL is used as given when set (the user's DATABASE_URL).
	DatabaseURL string
	// LocalURL is the admin DSN of a local server to try next (default DefaultLocalURL).
	LocalURL string
	// Name is the database created on the local or private server (default
	// DefaultDatabaseName). It is dropped first if it exists.
	Name string
	// NoPrivate disables starting a private server (tests of the other paths).
	NoPrivate bool
	// PostgresBinDirs are searched for initdb and pg_ctl, in order, before the
	// Debian/Ubuntu layout /usr/lib/postgresql/<version>/bin (newest first) and PATH.
	PostgresBinDirs []string
	// Logf reports progress (may be nil).
	Logf func(format string, args ...any)
}

// Database is a PostgreSQL database for the demo.
type Database struct {
	// URL is the DSN crmsync gets as DATABASE_URL.
	URL string
	// Where says in words which database this is, for the demo's output.
	Where string
	// close stops what the demo started (a private server); nil when there is nothing.
	close func(ctx context.Context) error
}

// Close releases the database: a private server is stopped and its folder removed;
// a database on the user's or the local server is left in place for exploring.
func (d *Database) Close(ctx context.Context) error {
	if d == nil || d.close == nil {
		return nil
	}
	return d.close(ctx)
}

// OpenDatabase finds a database in the order DESIGN.md promises: DATABASE_URL if set;
// else the local server at LocalURL if it answers (a dedicated database, recreated);
// else a private server started from the installed PostgreSQL binaries in a
// temporary folder, stopped by Close. So the demo works where PostgreSQL is merely
// installed and not running.
func OpenDatabase(ctx context.Context, opts DBOptions) (*Database, error) {
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	name := cmp.Or(opts.Name, DefaultDatabaseName)
	if opts.DatabaseURL != "" {
		if err := ping(ctx, opts.DatabaseURL); err != nil {
			return nil, fmt.Errorf("connect to DATABASE_URL (%s): %w", redact(opts.DatabaseURL), err)
		}
		if runs, err := pastRuns(ctx, opts.DatabaseURL); err != nil {
			return nil, fmt.Errorf("look into DATABASE_URL (%s): %w", redact(opts.DatabaseURL), err)
		} else if runs > 0 {
			return nil, fmt.Errorf("%w: DATABASE_URL (%s) already holds a crmsync warehouse (%d runs in sync.runs); the demo shows a first sync into an empty database: give it an empty one, or unset DATABASE_URL and it uses a database of its own (%s)",
				ErrNotEmpty, redact(opts.DatabaseURL), runs, name)
		}
		return &Database{URL: opts.DatabaseURL, Where: "DATABASE_URL (" + redact(opts.DatabaseURL) + "), used as given"}, nil
	}

	local := cmp.Or(opts.LocalURL, DefaultLocalURL)
	err := ping(ctx, local)
	if err == nil {
		dsn, err := recreate(ctx, local, name)
		if err != nil {
			return nil, err
		}
		return &Database{URL: dsn, Where: fmt.Sprintf("the PostgreSQL server at %s, database %s (dropped and recreated)", hostPort(local), name)}, nil
	}
	logf("no PostgreSQL answers at %s (%v)", hostPort(local), shortErr(err))
	if opts.NoPrivate {
		return nil, fmt.Errorf("no database: DATABASE_URL is unset and %s does not answer: %w", hostPort(local), err)
	}

	srv, err := startPrivate(ctx, opts.PostgresBinDirs, logf)
	if err != nil {
		return nil, fmt.Errorf("no database: DATABASE_URL is unset, %s does not answer, and a private server could not start: %w", hostPort(local), err)
	}
	dsn, err := recreate(ctx, srv.adminURL(), name)
	if err != nil {
		_ = srv.stop(context.WithoutCancel(ctx))
		return nil, err
	}
	return &Database{
		URL:   dsn,
		Where: fmt.Sprintf("a private PostgreSQL %s started for the demo on 127.0.0.1:%d (data in %s; stopped and removed at the end)", srv.version, srv.port, srv.dir),
		close: srv.stop,
	}, nil
}

// ErrNotEmpty: the user's DATABASE_URL already holds synced data. The demo does not
// touch it: a sync into it would tell a story of a first sync that is not one.
var ErrNotEmpty = errors.New("the demo needs an empty database")

// pastRuns counts the runs recorded in dsn's sync.runs (0 without the table).
func pastRuns(ctx context.Context, dsn string) (int64, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, `select to_regclass('sync.runs') is not null`).Scan(&exists); err != nil || !exists {
		return 0, err
	}
	var n int64
	if err := conn.QueryRow(ctx, `select count(*) from sync.runs`).Scan(&n); err != nil {
		return 0, err
	}
	return n, nil
}

// ping opens one connection and checks the server answers a query.
func ping(ctx context.Context, dsn string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("parse DSN: %w", err)
	}
	cfg.ConnectTimeout = 3 * time.Second
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return conn.Ping(ctx)
}

// recreate drops and creates database name on the server of adminURL and returns
// the new database's DSN.
func recreate(ctx context.Context, adminURL, name string) (string, error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", hostPort(adminURL), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	ident := pgx.Identifier{name}.Sanitize()
	// WITH (FORCE) ends sessions left over from an earlier demo (a psql the user
	// opened to explore), which would otherwise block the drop.
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
		return "", fmt.Errorf("drop database %s: %w", name, err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", fmt.Errorf("parse admin DSN: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// privateServer is a PostgreSQL cluster the demo created and runs.
type privateServer struct {
	dir     string // temporary folder: data/, the log and the socket
	binDir  string
	version string
	port    int
	cred    *credential // run the server as this user (when we are root)
}

func (s *privateServer) adminURL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
}

// startPrivate initialises a throwaway cluster and starts it on a free port.
func startPrivate(ctx context.Context, extraDirs []string, logf func(string, ...any)) (*privateServer, error) {
	binDir, version, err := findPostgresBin(extraDirs)
	if err != nil {
		return nil, err
	}
	cred, err := serverUser()
	if err != nil {
		return nil, err
	}
	base := ""
	if cred != nil {
		// The postgres user must be able to reach the folder; $TMPDIR may be private
		// to root (e.g. /root/tmp), /tmp never is.
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "crmsync-demo-pg-")
	if err != nil {
		return nil, fmt.Errorf("create temp dir: %w", err)
	}
	s := &privateServer{dir: dir, binDir: binDir, version: version, cred: cred}
	if cred != nil {
		// PostgreSQL refuses to run as root: the folder must belong to the user it
		// runs as.
		if err := os.Chown(dir, int(cred.uid), int(cred.gid)); err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("chown %s to %s: %w", dir, cred.name, err)
		}
	}
	logf("starting a private PostgreSQL %s from %s in %s", version, binDir, dir)
	data := filepath.Join(dir, "data")
	// trust on 127.0.0.1 and the socket only: the server lives as long as the demo,
	// listens on loopback and holds nothing but simulated data.
	if out, err := s.run(ctx, "initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w: %s", err, tail(out, 800))
	}
	var lastErr error
	for range 3 { // a free port can be taken between choosing and binding it
		port, err := freePort()
		if err != nil {
			lastErr = err
			continue
		}
		s.port = port
		// fsync off: a crash loses the throwaway cluster, which the demo recreates anyway.
		opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=100", port, dir)
		out, err := s.run(ctx, "pg_ctl", "-D", data, "-l", filepath.Join(dir, "postgres.log"), "-o", opts, "-w", "-t", "60", "start")
		if err == nil {
			return s, nil
		}
		logText, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
		lastErr = fmt.Errorf("pg_ctl start: %w: %s %s", err, tail(out, 400), tail(string(logText), 800))
	}
	_ = os.RemoveAll(dir)
	return nil, lastErr
}

// stop shuts the private server down (fast mode: sessions are cut, nothing is worth
// keeping) and removes its folder.
func (s *privateServer) stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	out, err := s.run(ctx, "pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "fast", "-w", "-t", "20", "stop")
	rmErr := os.RemoveAll(s.dir)
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %w: %s", err, tail(out, 400))
	}
	if rmErr != nil {
		return fmt.Errorf("remove %s: %w", s.dir, rmErr)
	}
	return nil
}

// run runs a PostgreSQL program as the server's user. Its output goes to a file, not
// a pipe: pg_ctl start leaves the server running with the inherited descriptors, and
// a pipe would keep the read side (and so this call) waiting until the server stops.
func (s *privateServer) run(ctx context.Context, prog string, args ...string) (string, error) {
	f, err := os.CreateTemp("", "crmsync-demo-pgcmd-")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	cmd := exec.CommandContext(ctx, filepath.Join(s.binDir, prog), args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	if s.cred != nil {
		setCredential(cmd, s.cred)
	}
	err = cmd.Run()
	out, _ := os.ReadFile(f.Name())
	return string(out), err
}

// credential is the OS user a private server runs as.
type credential struct {
	name     string
	uid, gid uint32
}

// serverUser returns nil when the current user can run PostgreSQL, or the
// "postgres" user when we are root (PostgreSQL refuses to run as root).
func serverUser() (*credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and PostgreSQL refuses to run as root: there is no 'postgres' user to run it as (%w); set DATABASE_URL instead", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("user postgres: %w", err)
	}
	return &credential{name: "postgres", uid: uint32(uid), gid: uint32(gid)}, nil
}

// findPostgresBin finds a folder holding initdb and pg_ctl: extra dirs first, then
// /usr/lib/postgresql/<version>/bin newest first (Debian, Ubuntu), then
// /usr/local/pgsql/bin and PATH. It returns the folder and the version it names.
func findPostgresBin(extra []string) (dir, version string, err error) {
	candidates := slices.Clone(extra)
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(matches, func(a, b string) int { // newest major version first
		return cmp.Compare(versionOf(b), versionOf(a))
	})
	candidates = append(candidates, matches...)
	candidates = append(candidates, "/usr/local/pgsql/bin", "/opt/homebrew/bin", "/usr/local/bin")
	if p, err := exec.LookPath("initdb"); err == nil {
		candidates = append(candidates, filepath.Dir(p))
	}
	for _, d := range candidates {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			v := strconv.Itoa(versionOf(d))
			if v == "0" {
				v = "(installed)"
			}
			return d, v, nil
		}
	}
	return "", "", errors.New("no PostgreSQL server binaries (initdb, pg_ctl) found in /usr/lib/postgresql/*/bin, /usr/local/pgsql/bin or PATH; install PostgreSQL or set DATABASE_URL")
}

// versionOf reads the major version from a path like /usr/lib/postgresql/15/bin.
func versionOf(binDir string) int {
	v, err := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	if err != nil {
		return 0
	}
	return v
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// redact returns the DSN without its password, for printing.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		return "(a DSN)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	u.RawQuery = ""
	return u.String()
}

// hostPort returns host:port of a DSN, for messages.
func hostPort(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		return "the configured server"
	}
	return u.Host
}

func shortErr(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i > 0 && len(s) > 120 {
		s = s[i+2:]
	}
	return s
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}
