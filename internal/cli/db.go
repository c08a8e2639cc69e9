package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/pipeline"
)

// Session settings applied unless the DSN sets them: a name operators can find in
// pg_stat_activity, and safety nets against a statement or an abandoned transaction
// holding locks forever. Loads of one batch take seconds; ten minutes is generous.
var sessionDefaults = map[string]string{
	"application_name":                    "crmsync",
	"statement_timeout":                   "10min",
	"idle_in_transaction_session_timeout": "10min",
}

const connectTimeout = 15 * time.Second

// openPool opens the warehouse pool: session defaults, and enough connections for
// concurrency streams (each running stream uses up to pipeline.DefaultLoadWorkers
// while it loads partitions in parallel, and one now and then for its heartbeat)
// plus a few for run records and status queries. With fewer, loads wait for a connection; at least
// 2×concurrency+2 keeps every running stream able to load.
func openPool(ctx context.Context, dsn string, concurrency int) (*pgxpool.Pool, string, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgconn redacts the password in its parse errors; say which variable anyway.
		return nil, "", checkDSN(dsn)
	}
	params := cfg.ConnConfig.RuntimeParams
	for k, v := range sessionDefaults {
		if _, set := params[k]; set {
			continue
		}
		if strings.Contains(params["options"], k) { // e.g. options=-c statement_timeout=0
			continue
		}
		params[k] = v
	}
	if want := int32(concurrency*(1+pipeline.DefaultLoadWorkers) + 2); cfg.MaxConns < want {
		cfg.MaxConns = want
	}
	// Each connection allocates its statement descriptions cache (512 entries) even in
	// the default mode, which never uses it: ~26 KB per connection for nothing. A DSN
	// that picks the describe mode (default_query_exec_mode=cache_describe, e.g. behind
	// PgBouncer) or sizes the cache keeps it.
	if cfg.ConnConfig.DefaultQueryExecMode != pgx.QueryExecModeCacheDescribe && !strings.Contains(dsn, "description_cache_capacity") {
		cfg.ConnConfig.DescriptionCacheCapacity = 0
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	target := dbTarget(cfg)

	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, target, fmt.Errorf("connect to database %s: %s", target, connectReason(err, dsn))
	}
	pctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, target, fmt.Errorf("connect to database %s: %s", target, connectReason(err, dsn))
	}
	return pool, target, nil
}

// checkDSN tells a DATABASE_URL that cannot work from one that merely does not answer
// yet: a wrong scheme or a malformed DSN is a configuration error (exit 2), said in
// words that name the variable and the expected form, never echoing the password.
func checkDSN(dsn string) error {
	const want = "want postgres://user:password@host:5432/dbname?sslmode=disable or key=value pairs"
	if scheme, _, ok := strings.Cut(dsn, "://"); ok && scheme != "postgres" && scheme != "postgresql" {
		return fmt.Errorf("%s: scheme %q is not PostgreSQL; %s", config.EnvDatabaseURL, scheme, want)
	}
	if _, err := pgxpool.ParseConfig(dsn); err != nil {
		return fmt.Errorf("%s: cannot be parsed (%s); %s", config.EnvDatabaseURL, parseReason(err, dsn), want)
	}
	return nil
}

// parseReason is the innermost cause of pgx's parse error, which otherwise repeats
// "cannot parse `…`" around it.
func parseReason(err error, dsn string) string {
	for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(u) {
		err = u
	}
	msg := scrubDSN(err.Error(), dsn)
	if _, after, ok := strings.Cut(msg, "`: "); ok {
		return after
	}
	return msg
}

// connectReason shortens pgx's connect error: it lists every address and TLS mode it
// tried, which for sslmode=prefer repeats the same refusal twice.
func connectReason(err error, dsn string) string {
	lines := strings.Split(scrubDSN(err.Error(), dsn), "\n")
	seen := make(map[string]bool, len(lines))
	out := lines[:0]
	for _, l := range lines {
		if k := strings.TrimSpace(l); !seen[k] {
			seen[k] = true
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// dbTarget is what we log about a database: host, port and name, never the user's
// password or the full DSN.
func dbTarget(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port))) + "/" + c.Database
}

// scrubDSN removes the DSN and its password from an error text, in case a driver
// quoted them.
func scrubDSN(text, dsn string) string {
	if dsn != "" {
		text = strings.ReplaceAll(text, dsn, "[DATABASE_URL]")
	}
	if cfg, err := pgxpool.ParseConfig(dsn); err == nil && cfg.ConnConfig.Password != "" {
		text = strings.ReplaceAll(text, cfg.ConnConfig.Password, "[password]")
	}
	return text
}
