package push

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// PushStatus is what `crmsync status` shows for one push.
type PushStatus struct {
	Push string
	// The last run (zero Started when the push has rows but no recorded run).
	Started, Finished                      time.Time
	RunStatus                              string
	Read, Sent, Failed, Unmatched, Unknown int
	Error                                  string
	// Rows counts the push's rows in sync.pushes by status.
	Rows map[Status]int
}

// Statuses returns every push seen in sync.runs or sync.pushes, by name.
func Statuses(ctx context.Context, pool *pgxpool.Pool) ([]PushStatus, error) {
	rows, err := pool.Query(ctx, `
		with names as (
			select stream as push from sync.runs where source = $1
			union
			select push from sync.pushes
		)
		select n.push, l.started_at, l.finished_at, coalesce(l.status, ''),
		       coalesce(l.rows_read, 0), coalesce(l.rows_sent, 0), coalesce(l.rows_failed, 0),
		       coalesce(l.rows_unmatched, 0), coalesce(l.rows_unknown, 0), coalesce(l.error, ''),
		       c.sent, c.failed, c.unmatched, c.unknown, c.sending
		from names n
		left join lateral (
			select * from sync.runs r where r.source = $1 and r.stream = n.push
			order by r.started_at desc, r.id desc limit 1
		) l on true
		cross join lateral (
			select count(*) filter (where status = 'sent') as sent,
			       count(*) filter (where status = 'failed') as failed,
			       count(*) filter (where status = 'unmatched') as unmatched,
			       count(*) filter (where status = 'unknown') as unknown,
			       count(*) filter (where status = 'sending') as sending
			from sync.pushes p where p.push = n.push
		) c
		order by n.push`, Source)
	if err != nil {
		return nil, fmt.Errorf("read push status: %w", err)
	}
	defer rows.Close()
	var out []PushStatus
	for rows.Next() {
		var s PushStatus
		var started, finished *time.Time
		var sent, failed, unmatched, unknown, sending int
		if err := rows.Scan(&s.Push, &started, &finished, &s.RunStatus, &s.Read, &s.Sent, &s.Failed, &s.Unmatched,
			&s.Unknown, &s.Error, &sent, &failed, &unmatched, &unknown, &sending); err != nil {
			return nil, fmt.Errorf("read push status: %w", err)
		}
		if started != nil {
			s.Started = *started
		}
		if finished != nil {
			s.Finished = *finished
		}
		s.Rows = map[Status]int{Sent: sent, Failed: failed, Unmatched: unmatched, Unknown: unknown, Sending: sending}
		out = append(out, s)
	}
	return out, rows.Err()
}
