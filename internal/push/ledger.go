package push

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmsync/crmsync/internal/dbretry"
	"github.com/crmsync/crmsync/internal/stream"
)

// finishTimeout bounds writing a run's outcome after its context ended.
const finishTimeout = 10 * time.Second

// ledger writes a push's rows of sync.pushes and its sync.runs row.
type ledger struct {
	pool        *pgxpool.Pool
	push        string
	destination string
}

// startRun inserts the run's sync.runs row (running) and closes as abandoned the runs of
// the push that a dead process left running.
func (l *ledger) startRun(ctx context.Context) (int64, error) {
	var id int64
	err := dbretry.Do(ctx, dbretry.Policy{}, func(ctx context.Context) error {
		return pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
			if err := tx.QueryRow(ctx, `insert into sync.runs (source, stream, status) values ($1, $2, $3) returning id`,
				Source, l.push, string(stream.RunRunning)).Scan(&id); err != nil {
				return err
			}
			// The caller holds the push's lock, so a run of it still 'running' is one whose
			// process died (its lock went with its connection): close it.
			_, err := tx.Exec(ctx, `update sync.runs set status = 'abandoned', finished_at = coalesce(heartbeat_at, started_at),
					error = format('abandoned: the process running it stopped without finishing it; closed by run %s', $3::bigint)
				where source = $1 and stream = $2 and status = 'running' and id <> $3`, Source, l.push, id)
			return err
		})
	})
	if err != nil {
		return 0, fmt.Errorf("push %q: start run: %w", l.push, err)
	}
	return id, nil
}

// finishRun writes the run's outcome, even after ctx was cancelled, retrying on a
// fresh connection when the database fails transiently.
func (l *ledger) finishRun(ctx context.Context, r *Result) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	var errText *string
	if r.Err != nil {
		s := r.Err.Error()
		errText = &s
	}
	err := dbretry.Do(ctx, dbretry.Policy{}, func(ctx context.Context) error {
		_, err := l.pool.Exec(ctx, `
		update sync.runs set finished_at = now(), status = $2, requests = $3, rows_read = $4,
			rows_sent = $5, rows_failed = $6, rows_unmatched = $7, rows_unknown = $8, error = $9
		where id = $1`,
			r.runID, string(r.Status), r.Requests, r.Read, r.Sent, r.Failed, r.Unmatched, r.Unknown, errText)
		return err
	})
	if err != nil && r.Err == nil {
		r.Status, r.Err = stream.RunFailed, fmt.Errorf("push %q: finish run: %w", l.push, err)
	}
}

// orphansToUnknown marks the rows a dead run left 'sending' as unknown.
func (l *ledger) orphansToUnknown(ctx context.Context, runID int64) (int64, error) {
	tag, err := l.pool.Exec(ctx, `
		update sync.pushes set status = 'unknown', run_id = $2, updated_at = now(),
			last_error = 'found sending: the process stopped while the request was in flight, so the API may have applied it'
		where push = $1 and status = 'sending'`, l.push, runID)
	if err != nil {
		return 0, fmt.Errorf("push %q: mark rows left sending as unknown: %w", l.push, err)
	}
	return tag.RowsAffected(), nil
}

// save upserts entries in one statement (one transaction): a batch's rows are
// recorded together.
func (l *ledger) save(ctx context.Context, runID int64, es []entry) error {
	if len(es) == 0 {
		return nil
	}
	keys := make([]string, len(es))
	hashes := make([]string, len(es))
	payloads := make([]*string, len(es))
	statuses := make([]string, len(es))
	attempts := make([]int32, len(es))
	errs := make([]*string, len(es))
	results := make([]*string, len(es))
	for i, e := range es {
		keys[i], hashes[i], payloads[i] = e.item.Key, e.hash, jsonText(e.payload)
		statuses[i], attempts[i] = string(e.status), int32(e.attempts)
		if e.err != "" {
			s := e.err
			errs[i] = &s
		}
		results[i] = jsonText(marshal(e.result))
	}
	_, err := l.pool.Exec(ctx, `
		insert into sync.pushes as p (push, key, destination, payload_hash, payload, status, attempts,
			last_error, result, run_id, sent_at, updated_at)
		select $1, t.key, $2, t.hash, t.payload::jsonb, t.status, t.attempts, t.err, t.result::jsonb, $3,
			case when t.status = 'sent' then now() end, now()
		from unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::int[], $9::text[], $10::text[])
			as t(key, hash, payload, status, attempts, err, result)
		on conflict (push, key) do update set
			destination = excluded.destination, payload_hash = excluded.payload_hash,
			payload = excluded.payload, status = excluded.status, attempts = excluded.attempts,
			last_error = excluded.last_error,
			result = coalesce(excluded.result, case when p.payload_hash = excluded.payload_hash then p.result end),
			run_id = excluded.run_id,
			sent_at = coalesce(excluded.sent_at, case when p.payload_hash = excluded.payload_hash then p.sent_at end),
			updated_at = now()`,
		l.push, l.destination, runID, keys, hashes, payloads, statuses, attempts, errs, results)
	if err != nil {
		return fmt.Errorf("push %q: record %d rows in sync.pushes: %w", l.push, len(es), err)
	}
	return nil
}
