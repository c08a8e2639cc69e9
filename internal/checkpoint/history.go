package checkpoint

import (
	"context"
	"fmt"

	"github.com/crmsync/crmsync/internal/stream"
)

// History returns, for each stream of descs (by ID), what its last finished run did and
// whether it ever succeeded (the pipeline orders a pass by it). A stream that never
// finished a run is absent. Index probes per stream: sync.runs keeps every run.
func (s *Store) History(ctx context.Context, descs []stream.Desc) (map[string]stream.History, error) {
	sources, names := make([]string, len(descs)), make([]string, len(descs))
	for i, d := range descs {
		sources[i], names[i] = d.Source, d.Name
	}
	rows, err := s.pool.Query(ctx, `
		select i.source, i.stream, l.status, l.requests, l.started_at,
			exists (select from sync.runs r where r.source = i.source and r.stream = i.stream and r.status = 'succeeded')
		from unnest($1::text[], $2::text[]) as i(source, stream)
		cross join lateral (
			select r.status, r.requests, r.started_at from sync.runs r
			where r.source = i.source and r.stream = i.stream and r.status in ('succeeded', 'failed', 'cancelled')
			order by r.started_at desc limit 1) l`, sources, names)
	if err != nil {
		return nil, fmt.Errorf("read run history: %w", err)
	}
	defer rows.Close()
	out := make(map[string]stream.History, len(descs))
	for rows.Next() {
		var (
			source, name, status string
			h                    stream.History
		)
		if err := rows.Scan(&source, &name, &status, &h.LastRequests, &h.LastStarted, &h.Synced); err != nil {
			return nil, fmt.Errorf("read run history: %w", err)
		}
		h.LastStatus = stream.RunStatus(status)
		out[source+"."+name] = h
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read run history: %w", err)
	}
	return out, nil
}
