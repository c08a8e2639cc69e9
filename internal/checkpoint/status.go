package checkpoint

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/crmsync/crmsync/internal/stream"
)

// StreamStatus is what `crmsync status` shows for one stream.
type StreamStatus struct {
	// Source and Stream name the stream.
	Source, Stream string
	// LastRun is the most recent run (any outcome, including running and skipped);
	// nil when the stream has state but no recorded run.
	LastRun *stream.RunRecord
	// LastSuccess is when the most recent succeeded run finished; zero when no run
	// has succeeded.
	LastSuccess time.Time
	// Behind is how long ago LastSuccess was, by the database's clock; meaningless
	// (zero) when LastSuccess is zero.
	Behind time.Duration
	// Partitions is the number of stored cursors: 1 for an unpartitioned stream that
	// has committed a batch, one per dashboard or channel for partitioned streams.
	Partitions int
	// Cursor is the stored cursor of an unpartitioned stream (partition ""); nil for
	// partitioned streams and streams without state.
	Cursor json.RawMessage
	// OldestUpdate is when the least recently advanced partition's cursor was written
	// (for an unpartitioned stream, its cursor's time); zero without state. For a
	// partitioned stream it shows the partition furthest behind.
	OldestUpdate time.Time
}

// Status returns the status of every stream seen in sync.runs or sync.state, ordered by
// source and stream.
func (s *Store) Status(ctx context.Context) ([]StreamStatus, error) {
	rows, err := s.pool.Query(ctx, `
		with streams as (
			-- push runs (source push) are listed by crmsync status apart, from push.Statuses
			select source, stream from sync.runs where source <> 'push'
			union
			select source, stream from sync.state
		)
		select s.source, s.stream,
		       l.id, l.started_at, l.finished_at, l.status, l.requests, l.rows_read,
		       l.rows_inserted, l.rows_updated, l.rows_unchanged, l.rows_deleted,
		       l.rows_rejected, l.nuls_cleaned, l.error,
		       ok.finished_at,
		       extract(epoch from now() - ok.finished_at)::float8,
		       coalesce(st.partitions, 0), st.cursor, st.oldest
		from streams s
		left join lateral (
			select * from sync.runs r
			where r.source = s.source and r.stream = s.stream
			order by r.started_at desc, r.id desc limit 1
		) l on true
		left join lateral (
			select r.finished_at from sync.runs r
			where r.source = s.source and r.stream = s.stream and r.status = 'succeeded'
			order by r.started_at desc, r.id desc limit 1
		) ok on true
		left join lateral (
			select count(*) as partitions, min(updated_at) as oldest,
			       (array_agg(cursor::text) filter (where partition = ''))[1] as cursor
			from sync.state x
			where x.source = s.source and x.stream = s.stream
		) st on true
		order by s.source, s.stream`)
	if err != nil {
		return nil, fmt.Errorf("read stream status: %w", err)
	}
	defer rows.Close()
	var out []StreamStatus
	for rows.Next() {
		var (
			ss                                             StreamStatus
			id                                             *int64
			started, finished, lastOK, oldest              *time.Time
			status, errText, cursor                        *string
			requests, read, ins, upd, unch, del, rej, nuls *int64
			behind                                         *float64
		)
		if err := rows.Scan(&ss.Source, &ss.Stream,
			&id, &started, &finished, &status, &requests, &read,
			&ins, &upd, &unch, &del, &rej, &nuls, &errText,
			&lastOK, &behind, &ss.Partitions, &cursor, &oldest); err != nil {
			return nil, fmt.Errorf("read stream status: %w", err)
		}
		if id != nil {
			ss.LastRun = &stream.RunRecord{
				ID: *id, Source: ss.Source, Stream: ss.Stream,
				Started: deref(started), Finished: deref(finished),
				Status: stream.RunStatus(deref(status)), Requests: int(deref(requests)), Read: int(deref(read)),
				Loaded: stream.LoadResult{
					Inserted: int(deref(ins)), Updated: int(deref(upd)), Unchanged: int(deref(unch)),
					Deleted: int(deref(del)), Rejected: int(deref(rej)), NULsCleaned: int(deref(nuls)),
				},
				Error: deref(errText),
			}
		}
		ss.LastSuccess = deref(lastOK)
		if behind != nil {
			ss.Behind = time.Duration(*behind * float64(time.Second))
		}
		if cursor != nil {
			ss.Cursor = json.RawMessage(*cursor)
		}
		ss.OldestUpdate = deref(oldest)
		out = append(out, ss)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read stream status: %w", err)
	}
	return out, nil
}

// deref returns *p, or the zero value for nil.
func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
