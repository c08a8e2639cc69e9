// Package migrations holds crmsync's warehouse schema as goose SQL migrations embedded in
// the binary, and runs them through goose's Provider (never its package globals).
//
// Files are named NNNNN_verb_object.sql, each with an Up and a Down section; the Down
// section drops exactly what Up creates. 00001 creates the sync schema (checkpoints, run
// history, rejects); the platforms' schemas follow. A migration that needs Go (00011
// back-fills phone_e164 with libphonenumber) is a goose Go migration registered in
// goMigrations, in a file named like the SQL ones. Every run takes a PostgreSQL
// session-level advisory lock, so two replicas starting at once migrate one after the
// other instead of racing.
package migrations

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed *.sql
var embedded embed.FS

// FS is the set of migration files, for goose or for tests that hash them.
var FS fs.FS = embedded

// goMigrations are the migrations written in Go (they need more than SQL), each in the
// file named in goMigrationNames; built afresh for each Provider.
func goMigrations() []*goose.Migration {
	return []*goose.Migration{backfillPhoneE164()}
}

// goMigrationNames names each Go migration after its file, as List shows it.
var goMigrationNames = map[int64]string{11: "00011_backfill_phone_e164.go"}

// Status is one migration and whether the database has it.
type Status struct {
	// Version is the number the file name starts with.
	Version int64
	// Name is the file name, e.g. "00001_create_sync.sql".
	Name string
	// Applied is true when the migration has been applied.
	Applied bool
	// AppliedAt is when it was applied (zero when pending).
	AppliedAt time.Time
}

// Up applies every pending migration.
func Up(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	return withProvider(pool, logger, func(p *goose.Provider) error {
		if _, err := p.Up(ctx); err != nil {
			return fmt.Errorf("migrate up: %w", err)
		}
		return nil
	})
}

// Down rolls back the most recently applied migration. It does nothing when no
// migration is applied.
func Down(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	return withProvider(pool, logger, func(p *goose.Provider) error {
		if _, err := p.Down(ctx); err != nil && !errors.Is(err, goose.ErrNoNextVersion) {
			return fmt.Errorf("migrate down: %w", err)
		}
		return nil
	})
}

// DownTo rolls back every applied migration newer than version; version 0 rolls back
// everything.
func DownTo(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger, version int64) error {
	return withProvider(pool, logger, func(p *goose.Provider) error {
		if _, err := p.DownTo(ctx, version); err != nil {
			return fmt.Errorf("migrate down to %d: %w", version, err)
		}
		return nil
	})
}

// List returns every known migration, oldest first, with whether it is applied.
func List(ctx context.Context, pool *pgxpool.Pool) ([]Status, error) {
	var out []Status
	err := withProvider(pool, nil, func(p *goose.Provider) error {
		st, err := p.Status(ctx)
		if err != nil {
			return fmt.Errorf("migration status: %w", err)
		}
		out = make([]Status, 0, len(st))
		for _, s := range st {
			out = append(out, Status{
				Version:   s.Source.Version,
				Name:      cmp.Or(goMigrationNames[s.Source.Version], path.Base(s.Source.Path)),
				Applied:   s.State == goose.StateApplied,
				AppliedAt: s.AppliedAt,
			})
		}
		return nil
	})
	return out, err
}

// withProvider builds a goose Provider over pool, runs fn and closes the Provider.
func withProvider(pool *pgxpool.Pool, logger *slog.Logger, fn func(*goose.Provider) error) (retErr error) {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	// goose's defaults retry the lock every 5 s for 5 minutes; a migration here takes
	// well under a second, so poll faster and give up after the same 5 minutes.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("create migration lock: %w", err)
	}
	// Closing db (the Provider does it) returns its borrowed connections and leaves pool open.
	db := stdlib.OpenDBFromPool(pool)
	p, err := goose.NewProvider(goose.DialectPostgres, db, FS,
		goose.WithSessionLocker(locker), goose.WithSlog(logger), goose.WithGoMigrations(goMigrations()...))
	if err != nil {
		_ = db.Close()
		return fmt.Errorf("create migration provider: %w", err)
	}
	defer func() {
		if err := p.Close(); err != nil && retErr == nil {
			retErr = fmt.Errorf("close migration provider: %w", err)
		}
	}()
	return fn(p)
}
