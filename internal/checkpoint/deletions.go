package checkpoint

import (
	"context"
	"fmt"
	"time"
)

// LastPass is what a stream's latest run that completed a pass over a complete list
// did about deletions (see stream.Pass).
type LastPass struct {
	// RunStarted is when that run started.
	RunStarted time.Time
	// Passes is how many passes it completed (one per dashboard for partitioned
	// streams); Marked the rows they marked deleted; Held says why the delete guard
	// held some back ("" when none was).
	Passes int
	Marked int64
	Held   string
}

// LastPasses returns, per "source.stream", its latest run that completed a pass.
// Streams that never completed one are absent.
func (s *Store) LastPasses(ctx context.Context) (map[string]LastPass, error) {
	rows, err := s.pool.Query(ctx, `
		select distinct on (source, stream) source || '.' || stream, started_at, passes_completed,
		       rows_marked_deleted, coalesce(deletions_held, '')
		from sync.runs where passes_completed > 0
		order by source, stream, started_at desc, id desc`)
	if err != nil {
		return nil, fmt.Errorf("read last passes: %w", err)
	}
	defer rows.Close()
	out := map[string]LastPass{}
	for rows.Next() {
		var id string
		var p LastPass
		if err := rows.Scan(&id, &p.RunStarted, &p.Passes, &p.Marked, &p.Held); err != nil {
			return nil, fmt.Errorf("read last passes: %w", err)
		}
		out[id] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read last passes: %w", err)
	}
	return out, nil
}
