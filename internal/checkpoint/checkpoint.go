// Package checkpoint keeps crmsync's bookkeeping in PostgreSQL: each stream's cursor
// (sync.state), the run history (sync.runs) and the per-stream advisory locks that keep
// two processes from running one stream at once.
//
// Cursors are written by the loader with [Save] inside the transaction that writes the
// rows they cover, so a stored cursor never runs ahead of the data. Everything else goes
// through a [Store] built on the pool; the Store satisfies internal/pipeline's
// Checkpoints interface.
package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmsync/crmsync/internal/stream"
)

// finishTimeout bounds the statements that record a run's end or free a lock; they run
// detached from the caller's (possibly cancelled) context.
const finishTimeout = 10 * time.Second

// DBTX is what Save needs: a pgx.Tx, a *pgx.Conn or a *pgxpool.Pool.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Save stores a partition's cursor through db, normally the loader's transaction, so the
// cursor commits (or rolls back) together with the rows it covers. Use "" as the
// partition of an unpartitioned stream.
func Save(ctx context.Context, db DBTX, source, streamName, partition string, cursor json.RawMessage) error {
	return SaveAll(ctx, db, source, streamName, []string{partition}, []json.RawMessage{cursor})
}

// SaveAll is Save for several partitions of one stream at once: cursors[i] is
// partitions[i]'s, and each partition appears once. It is one statement however many
// there are: a group commit of a stream of one partition per chat stores dozens of
// cursors, and one statement for each cost more than the group's rows.
func SaveAll(ctx context.Context, db DBTX, source, streamName string, partitions []string, cursors []json.RawMessage) error {
	if len(partitions) != len(cursors) {
		return fmt.Errorf("save cursors of %s.%s: %d partitions for %d cursors", source, streamName, len(partitions), len(cursors))
	}
	if len(partitions) == 0 {
		return nil
	}
	texts := make([]string, len(cursors))
	for i, c := range cursors {
		if !json.Valid(c) {
			return fmt.Errorf("save cursor of %s.%s partition %q: cursor is not valid JSON", source, streamName, partitions[i])
		}
		texts[i] = string(c)
	}
	_, err := db.Exec(ctx, `
		insert into sync.state (source, stream, partition, cursor, updated_at)
		select $1, $2, c.partition, c.cursor::jsonb, now()
		from unnest($3::text[], $4::text[]) as c(partition, cursor)
		on conflict (source, stream, partition)
		do update set cursor = excluded.cursor, updated_at = excluded.updated_at`,
		source, streamName, partitions, texts)
	if err != nil {
		if len(partitions) == 1 {
			return fmt.Errorf("save cursor of %s.%s partition %q: %w", source, streamName, partitions[0], err)
		}
		return fmt.Errorf("save %d cursors of %s.%s: %w", len(partitions), source, streamName, err)
	}
	return nil
}

// Store reads cursors and keeps the run history and stream locks.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a Store on pool. Each held stream lock keeps one of pool's connections
// for as long as it is held, so size the pool for the streams run at once plus the
// loaders' transactions.
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool}
}

// State returns every partition's cursor of a stream; a stream that never committed a
// batch has an empty (non-nil) State.
func (s *Store) State(ctx context.Context, source, streamName string) (stream.State, error) {
	rows, err := s.pool.Query(ctx,
		`select partition, cursor::text from sync.state where source = $1 and stream = $2`,
		source, streamName)
	if err != nil {
		return nil, fmt.Errorf("read state of %s.%s: %w", source, streamName, err)
	}
	st := stream.State{}
	var partition, cursor string
	_, err = pgx.ForEachRow(rows, []any{&partition, &cursor}, func() error {
		st[partition] = json.RawMessage(cursor)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read state of %s.%s: %w", source, streamName, err)
	}
	return st, nil
}

// LockKey is the advisory lock key of a stream: FNV-1a 64 of "crmsync:source.stream".
// Exported so operators can find the lock in pg_locks (objid and classid hold its two
// halves).
func LockKey(source, streamName string) int64 {
	h := fnv.New64a()
	h.Write([]byte("crmsync:" + source + "." + streamName))
	return int64(h.Sum64())
}

// TryLock takes the stream's session-level advisory lock without waiting. ok is false
// when another session (another process, or another Store) holds it. On success the
// lock lives on a connection taken from the pool for as long as it is held; release
// unlocks it and gives the connection back, and is safe to call more than once.
func (s *Store) TryLock(ctx context.Context, source, streamName string) (release func(), ok bool, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("lock %s.%s: acquire connection: %w", source, streamName, err)
	}
	key := LockKey(source, streamName)
	if err := conn.QueryRow(ctx, "select pg_try_advisory_lock($1)", key).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, fmt.Errorf("lock %s.%s: %w", source, streamName, err)
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
			defer cancel()
			var unlocked bool
			if err := conn.QueryRow(ctx, "select pg_advisory_unlock($1)", key).Scan(&unlocked); err != nil || !unlocked {
				// The session may still hold the lock: closing it is the only sure
				// way to free it. The pool drops closed connections on release.
				_ = conn.Conn().Close(ctx)
			}
			conn.Release()
		})
	}
	return release, true, nil
}

// StartRun inserts a sync.runs row with status running and returns its id. A zero
// rec.Started means now.
func (s *Store) StartRun(ctx context.Context, rec stream.RunRecord) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `
		insert into sync.runs (source, stream, started_at, status, requests)
		values ($1, $2, coalesce($3, now()), $4, $5)
		returning id`,
		rec.Source, rec.Stream, nullTime(rec.Started), string(stream.RunRunning), rec.Requests,
	).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("start run of %s.%s: %w", rec.Source, rec.Stream, err)
	}
	return id, nil
}

// FinishRun writes a run's outcome and counts to its sync.runs row (rec.ID). It runs even
// when ctx is already cancelled (a SIGTERM must still leave the run's outcome behind),
// bounded by a short timeout of its own. A zero rec.Finished means now.
func (s *Store) FinishRun(ctx context.Context, rec stream.RunRecord) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	var errText *string
	if rec.Error != "" {
		errText = &rec.Error
	}
	tag, err := s.pool.Exec(ctx, `
		update sync.runs set
			finished_at = coalesce($2, now()), status = $3, requests = $4, rows_read = $5,
			rows_inserted = $6, rows_updated = $7, rows_unchanged = $8, rows_deleted = $9,
			rows_rejected = $10, nuls_cleaned = $11, error = $12, notes = nullif($13, '')
		where id = $1`,
		rec.ID, nullTime(rec.Finished), string(rec.Status), rec.Requests, rec.Read,
		rec.Loaded.Inserted, rec.Loaded.Updated, rec.Loaded.Unchanged, rec.Loaded.Deleted,
		rec.Loaded.Rejected, rec.Loaded.NULsCleaned, errText, rec.Notes)
	if err != nil {
		return fmt.Errorf("finish run %d of %s.%s: %w", rec.ID, rec.Source, rec.Stream, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("finish run %d of %s.%s: %w", rec.ID, rec.Source, rec.Stream, ErrNoRun)
	}
	return nil
}

// Errors returned by the Store.
var (
	// ErrNoRun is returned by FinishRun when rec.ID names no sync.runs row.
	ErrNoRun = errors.New("no such run")
)

// nullTime maps the zero time to NULL so SQL can default it.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
