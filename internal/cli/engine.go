package cli

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmsync/crmsync/internal/checkpoint"
	"github.com/crmsync/crmsync/internal/pipeline"
	"github.com/crmsync/crmsync/loaders/postgres"
	"github.com/crmsync/crmsync/migrations"
)

// engine is everything a sync needs, built once per `run` and once per `schedule`
// process (every scheduled job shares it): `run` and scheduled jobs go through the
// same engine.sync.
type engine struct {
	env     Env
	logger  *slog.Logger
	pool    *pgxpool.Pool
	target  string // host:port/db, for logs
	store   *checkpoint.Store
	loader  *postgres.Loader
	sources []*source
	// concurrency is the number of streams run at once.
	concurrency int
}

// openEngine connects to the database and migrates it (unless noMigrate). sources
// are already built (building them needs no network, so usage errors come first).
func openEngine(ctx context.Context, env Env, logger *slog.Logger, sources []*source, concurrency int, noMigrate bool) (*engine, error) {
	pool, target, err := openPool(ctx, env.DatabaseURL, concurrency)
	if err != nil {
		return nil, err
	}
	logger.Debug("connected to the database", "database", target)
	if !noMigrate {
		if err := migrations.Up(ctx, pool, logger); err != nil {
			pool.Close()
			return nil, fmt.Errorf("migrate database %s: %w", target, err)
		}
	}
	loader := postgres.New(pool, logger)
	loader.SetDeleteGuard(env.DeleteGuard)
	return &engine{
		env: env, logger: logger, pool: pool, target: target,
		store: checkpoint.New(pool), loader: loader,
		sources: sources, concurrency: concurrency,
	}, nil
}

// close closes the database pool and the API clients' idle connections.
func (e *engine) close() {
	e.pool.Close()
	for _, s := range e.sources {
		s.client.Close()
	}
}

// syncOptions are one pass's choices.
type syncOptions struct {
	jobs        []pipeline.Job
	fullRefresh bool
	maxDuration time.Duration
	onProgress  func(pipeline.StreamResult)
}

// sync runs one pass over the given jobs. A --max-duration deadline cancels the
// streams still running (recorded as cancelled; they resume next time).
func (e *engine) sync(ctx context.Context, o syncOptions) (*pipeline.Result, error) {
	ctx, cancel := withMaxDuration(ctx, o.maxDuration, "max duration")
	defer cancel()
	return pipeline.Run(ctx, pipeline.Plan{
		Jobs:        o.jobs,
		Loader:      e.loader,
		Checkpoints: e.store,
		FullRefresh: o.fullRefresh,
		Config: pipeline.Config{
			Concurrency: e.concurrency,
			Logger:      e.logger,
			OnProgress:  o.onProgress,
		},
	})
}
