package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/crmsync/crmsync/internal/dbretry"
	"github.com/crmsync/crmsync/internal/stream"
)

// hostname names this machine in sync.runs.holder.
var hostname, _ = os.Hostname()

// Begin opens a run of a stream: it takes the stream's lease and inserts the run's
// sync.runs row (status running) in one transaction, and starts its heartbeat, which
// FinishRun stops. ok is false, and nothing is written, when another run of the stream
// holds a live lease. Running runs whose lease expired, whose process died, are closed
// as abandoned. A zero rec.Started means now. Transient database errors are retried.
func (s *Store) Begin(ctx context.Context, rec stream.RunRecord) (id int64, ok bool, err error) {
	// holder names this Begin, so a retry after a commit whose answer was lost finds
	// its own run rather than taking it for another process's.
	holder := fmt.Sprintf("%s:%d:%016x", hostname, os.Getpid(), rand.Uint64())
	err = dbretry.Do(ctx, s.retry, func(ctx context.Context) error {
		id, ok = 0, false
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "select pg_advisory_xact_lock($1)", LockKey(rec.Source, rec.Stream)); err != nil {
				return fmt.Errorf("lock: %w", err)
			}
			// FOR UPDATE waits for the transactions writing for these runs (HoldsLease).
			rows, err := tx.Query(ctx, `select id, coalesce(lease_until > now(), false), coalesce(holder, '') from sync.runs
				where source = $1 and stream = $2 and status = 'running' for update`, rec.Source, rec.Stream)
			if err != nil {
				return fmt.Errorf("find running runs: %w", err)
			}
			var (
				stale []int64
				rid   int64
				live  bool
				held  bool
				who   string
			)
			_, err = pgx.ForEachRow(rows, []any{&rid, &live, &who}, func() error {
				switch {
				case who == holder:
					id, ok = rid, true // this very Begin committed before
				case live:
					held = true
				default:
					stale = append(stale, rid)
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("find running runs: %w", err)
			}
			if held || ok {
				ok = ok && !held
				return nil
			}
			err = tx.QueryRow(ctx, `
				insert into sync.runs (source, stream, started_at, status, heartbeat_at, lease_until, holder)
				values ($1, $2, coalesce($3, now()), 'running', now(), now() + $4 * interval '1 second', $5)
				returning id`,
				rec.Source, rec.Stream, nullTime(rec.Started), s.lease.Seconds(), holder,
			).Scan(&id)
			if err != nil {
				return fmt.Errorf("insert run: %w", err)
			}
			if len(stale) > 0 {
				_, err = tx.Exec(ctx, `update sync.runs set status = 'abandoned',
					finished_at = coalesce(heartbeat_at, started_at),
					error = format('abandoned: the process running it stopped without finishing it (last heartbeat %s); closed by run %s',
						coalesce(heartbeat_at::text, 'never'), $2::bigint)
					where id = any($1)`, stale, id)
				if err != nil {
					return fmt.Errorf("close abandoned runs: %w", err)
				}
			}
			ok = true
			return nil
		})
	})
	if err != nil {
		return 0, false, fmt.Errorf("begin run of %s.%s: %w", rec.Source, rec.Stream, err)
	}
	if ok {
		hctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		s.mu.Lock()
		s.beats[id] = stop
		s.mu.Unlock()
		go s.heartbeat(hctx, id)
	}
	return id, ok, nil
}

// heartbeat renews run id's lease every quarter of it until ctx ends or the run no
// longer holds its stream. A renewal that fails is only logged by its absence: what
// keeps a run that lost its lease from writing is HoldsLease, not the heartbeat.
func (s *Store) heartbeat(ctx context.Context, id int64) {
	t := time.NewTicker(s.lease / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var tag pgconn.CommandTag
		rctx, cancel := context.WithTimeout(ctx, s.lease/4)
		err := dbretry.Do(rctx, s.retry, func(ctx context.Context) error {
			var err error
			tag, err = s.pool.Exec(ctx, `update sync.runs set heartbeat_at = now(), lease_until = now() + $2 * interval '1 second'
				where id = $1 and status = 'running' and lease_until > now()`, id, s.lease.Seconds())
			return err
		})
		cancel()
		if err == nil && tag.RowsAffected() == 0 {
			return // lost: taken over, or finished
		}
	}
}

// stopHeartbeat ends run id's heartbeat, if it has one.
func (s *Store) stopHeartbeat(id int64) {
	s.mu.Lock()
	stop := s.beats[id]
	delete(s.beats, id)
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// Querier is what HoldsLease needs: a pgx.Tx.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// HoldsLease checks, inside a transaction that writes for run runID, that the run still
// holds its stream, and keeps any other run from taking the stream over until that
// transaction ends (see the package doc). It returns an error wrapping ErrLeaseLost when
// the run is no longer running with a live lease. A run without a lease (recorded by
// hand, or by a version before leases) passes.
func HoldsLease(ctx context.Context, q Querier, runID int64) error {
	var live bool
	err := q.QueryRow(ctx, `select coalesce(lease_until > now(), true) from sync.runs
		where id = $1 and status = 'running' for key share`, runID).Scan(&live)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !live) {
		return fmt.Errorf("run %d: %w", runID, ErrLeaseLost)
	}
	if err != nil {
		return fmt.Errorf("check the lease of run %d: %w", runID, err)
	}
	return nil
}

// FinishRun writes a run's outcome and counts to its sync.runs row (rec.ID) and stops
// its heartbeat. It runs even when ctx is already cancelled (a SIGTERM must still leave
// the run's outcome behind), bounded by a short timeout of its own, and retries on a
// fresh connection when the database fails transiently. A zero rec.ID records a run
// that failed before it began (its lease could not be taken): a whole row is inserted.
// A zero rec.Finished means now.
func (s *Store) FinishRun(ctx context.Context, rec stream.RunRecord) error {
	s.stopHeartbeat(rec.ID)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	var errText *string
	if rec.Error != "" {
		errText = &rec.Error
	}
	args := []any{rec.ID, nullTime(rec.Finished), string(rec.Status), rec.Requests, rec.Read,
		rec.Loaded.Inserted, rec.Loaded.Updated, rec.Loaded.Unchanged, rec.Loaded.Deleted,
		rec.Loaded.Rejected, rec.Loaded.NULsCleaned, errText, rec.Notes}
	var tag pgconn.CommandTag
	err := dbretry.Do(ctx, s.retry, func(ctx context.Context) error {
		var err error
		if rec.ID == 0 {
			tag, err = s.pool.Exec(ctx, `
				insert into sync.runs (source, stream, started_at, finished_at, status, requests, rows_read,
					rows_inserted, rows_updated, rows_unchanged, rows_deleted, rows_rejected, nuls_cleaned, error, notes)
				values ($13, $14, coalesce($15, now()), coalesce($1, now()), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, nullif($12, ''))`,
				append(args[1:], rec.Source, rec.Stream, nullTime(rec.Started))...)
			return err
		}
		tag, err = s.pool.Exec(ctx, `
			update sync.runs set
				finished_at = coalesce($2, now()), status = $3, requests = $4, rows_read = $5,
				rows_inserted = $6, rows_updated = $7, rows_unchanged = $8, rows_deleted = $9,
				rows_rejected = $10, nuls_cleaned = $11, error = $12, notes = nullif($13, ''),
				lease_until = null
			where id = $1`, args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("finish run %d of %s.%s: %w", rec.ID, rec.Source, rec.Stream, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("finish run %d of %s.%s: %w", rec.ID, rec.Source, rec.Stream, ErrNoRun)
	}
	return nil
}
