// Package checkpoint keeps crmsync's bookkeeping in PostgreSQL: each stream's cursor
// (sync.state), the run history (sync.runs) and the leases that keep two processes
// from running one stream at once.
//
// Cursors are written by the loader with [Save] inside the transaction that writes the
// rows they cover, so a stored cursor never runs ahead of the data. Everything else goes
// through a [Store] built on the pool; the Store satisfies internal/pipeline's
// Checkpoints interface.
//
// # One stream, one process: a lease in the run's row
//
// A run holds its stream by a lease written in its own sync.runs row (lease_until),
// not by a session-level advisory lock. A session lock lives on one connection: when
// that connection is closed under it (idle_session_timeout, a terminated backend, a
// failover) the lock is gone, the process holding it does not notice, and a second
// process starts the same stream. A lease lives in a table and needs no connection:
//
//   - [Store.Begin] takes it in one transaction, serialised per stream by a
//     transaction-level advisory lock: if a running run of the stream still holds a
//     lease, the stream is running elsewhere (ok is false, no row); running runs whose
//     lease expired (their process died) are closed as abandoned; a new running row is
//     inserted with a lease of [DefaultLease].
//   - A heartbeat renews the lease every quarter of it, on whatever connection the pool
//     gives (retried on transient errors).
//   - Every transaction that writes for the run calls [HoldsLease] first: it reads the
//     run's row FOR KEY SHARE and fails with ErrLeaseLost unless the run is still
//     running with a live lease. The key-share lock does not block the heartbeat, but
//     it blocks a takeover (Begin reads the rows it closes FOR UPDATE) until that
//     transaction ends. So a process whose lease lapsed (a stall, a lost database)
//     commits nothing after another process took the stream over, and the one that
//     took over never writes while the old one is committing.
//
// The cost: a process that died holds its streams until its lease expires (a run
// starting sooner skips them), and each write transaction reads one row.
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

	"github.com/crmsync/crmsync/internal/dbretry"
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

// DefaultLease is how long a run holds its stream without a heartbeat; heartbeats
// come every quarter of it.
const DefaultLease = time.Minute

// Store reads cursors and keeps the run history and the stream leases.
type Store struct {
	pool  *pgxpool.Pool
	lease time.Duration
	retry dbretry.Policy

	mu    sync.Mutex
	beats map[int64]context.CancelFunc // heartbeats of the runs begun, by run id
}

// New returns a Store on pool, with leases of DefaultLease.
func New(pool *pgxpool.Pool) *Store {
	return NewWithLease(pool, DefaultLease)
}

// NewWithLease returns a Store whose runs hold their stream for lease without a
// heartbeat (tests shorten it).
func NewWithLease(pool *pgxpool.Pool, lease time.Duration) *Store {
	return &Store{pool: pool, lease: lease, beats: map[int64]context.CancelFunc{},
		retry: dbretry.Policy{Min: 100 * time.Millisecond, Max: 2 * time.Second}}
}

// State returns every partition's cursor of a stream; a stream that never committed a
// batch has an empty (non-nil) State.
func (s *Store) State(ctx context.Context, source, streamName string) (stream.State, error) {
	st, err := s.read(ctx, `select partition, cursor::text from sync.state where source = $1 and stream = $2`,
		source, streamName)
	if err != nil {
		return nil, fmt.Errorf("read state of %s.%s: %w", source, streamName, err)
	}
	return st, nil
}

// Cursors returns the cursors of the given partitions of a stream, leaving out those
// that have none. A stream with a partition per chat reads its cursors this way, a
// listing page's at a time, instead of holding every partition's (stream.Desc.CursorsOnDemand).
func (s *Store) Cursors(ctx context.Context, source, streamName string, partitions []string) (stream.State, error) {
	if len(partitions) == 0 {
		return stream.State{}, nil
	}
	// One primary-key lookup per partition. Planned as `partition = any($3)`, a first
	// run (the table growing faster than its statistics) got a scan of every row of
	// the stream for each page.
	st, err := s.read(ctx, `select p.partition, s.cursor::text
		from unnest($3::text[]) as p(partition)
		join lateral (select cursor from sync.state
			where source = $1 and stream = $2 and partition = p.partition limit 1) as s on true`,
		source, streamName, partitions)
	if err != nil {
		return nil, fmt.Errorf("read %d cursors of %s.%s: %w", len(partitions), source, streamName, err)
	}
	return st, nil
}

// read runs a query of (partition, cursor) rows, retried on transient errors.
func (s *Store) read(ctx context.Context, sql string, args ...any) (stream.State, error) {
	var st stream.State
	err := dbretry.Do(ctx, s.retry, func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		st = stream.State{}
		var partition, cursor string
		_, err = pgx.ForEachRow(rows, []any{&partition, &cursor}, func() error {
			st[partition] = json.RawMessage(cursor)
			return nil
		})
		return err
	})
	return st, err
}

// LockKey is the advisory lock key of a stream: FNV-1a 64 of "crmsync:source.stream".
// Exported so operators can find the lock in pg_locks (objid and classid hold its two
// halves).
func LockKey(source, streamName string) int64 {
	h := fnv.New64a()
	h.Write([]byte("crmsync:" + source + "." + streamName))
	return int64(h.Sum64())
}

// Errors returned by the Store and HoldsLease.
var (
	// ErrNoRun is returned by FinishRun when rec.ID names no sync.runs row.
	ErrNoRun = errors.New("no such run")
	// ErrLeaseLost is returned by HoldsLease when the run no longer holds its stream:
	// its lease expired and another run of the stream took over (or the run is over).
	ErrLeaseLost = errors.New("the run no longer holds its stream (its lease expired and another process took over)")
)

// nullTime maps the zero time to NULL so SQL can default it.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
