package twin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/stream"
)

// run is one stream's run.
type run struct {
	e       *Extractor
	req     stream.Request
	out     chan<- stream.Batch
	counter *apiclient.Counter
	log     *slog.Logger

	// seen are the clients whose values this run has read (client_attributes).
	seen map[string]bool
}

func (r *run) emit(ctx context.Context, b stream.Batch) error {
	b.Requests += r.counter.Take()
	select {
	case r.out <- b:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// flushRequests reports the requests no batch carried. The receiver drains the
// channel until it is closed, so this send cannot block for good.
func (r *run) flushRequests() {
	if n := r.counter.Take(); n > 0 {
		r.out <- stream.Batch{Requests: n}
	}
}

// fullList reads a whole list every run, one batch per page, as a pass: what the list
// no longer holds is marked deleted once it has been read to its end. A cut-off run's
// successor continues the pass at the offset its cursor stored.
func (r *run) fullList(ctx context.Context, path string, t stream.Table, mapItem func(json.RawMessage) (stream.Row, *stream.Reject)) error {
	cur := r.cursor(ctx)
	p := cur.Pass
	first := p == nil
	if first {
		p = &passCursor{Started: r.req.Started.UTC()}
	}
	final := cursor{V: 1, Watermark: ptr(p.Started)}
	finished := false
	err := r.e.pages(ctx, r.counter, path, nil, p.Offset, p.Total, func(pg apiclient.Page) error {
		b := mapItems(t.Name, pg.Items, mapItem)
		next := *p
		next.Offset, next.Total = pg.Offset+len(pg.Items), max(pg.Total, 0)
		b.Cursor = encode(cursor{V: 1, Watermark: cur.Watermark, Pass: &next})
		if pg.Last {
			b.Cursor, finished = encode(final), true
		}
		b.Passes = []stream.Pass{{Table: t.Name, Start: first, Done: pg.Last}}
		first = false
		return r.emit(ctx, b)
	})
	if err != nil {
		return fmt.Errorf("list %s: %w", path, err)
	}
	if finished {
		return nil
	}
	return r.emit(ctx, stream.Batch{Passes: []stream.Pass{{Table: t.Name, Start: first, Done: true}}, Cursor: encode(final)})
}

// cursor reads the stored cursor (none with FullRefresh; an unreadable one is
// dropped with a warning: the stream then reads everything).
func (r *run) cursor(ctx context.Context) cursor {
	var cur cursor
	if raw := r.req.State[""]; !r.req.FullRefresh && len(raw) > 0 {
		if err := json.Unmarshal(raw, &cur); err != nil {
			r.log.WarnContext(ctx, "unreadable cursor, reading from the start", "err", err)
			return cursor{}
		}
	}
	return cur
}

func mapItems(table string, items []json.RawMessage, mapItem func(json.RawMessage) (stream.Row, *stream.Reject)) stream.Batch {
	b := stream.Batch{Rows: map[string][]stream.Row{table: make([]stream.Row, 0, len(items))}}
	for _, raw := range items {
		row, rej := mapItem(raw)
		if rej != nil {
			b.Rejects = append(b.Rejects, *rej)
			continue
		}
		b.Rows[table] = append(b.Rows[table], row)
	}
	return b
}

// cursor is the checkpoint of the streams that follow changed sessions.
type cursor struct {
	V int `json:"v"`
	// Watermark is when the last complete pass began: sessions updated since then
	// (less the lookback) are read next.
	Watermark *time.Time `json:"watermark,omitempty"`
	// LastSweep is when the last complete sweep (a pass over every session) began.
	LastSweep *time.Time `json:"last_sweep,omitempty"`
	// Pass is an unfinished pass, resumed by the next run.
	Pass *passCursor `json:"pass,omitempty"`
}

type passCursor struct {
	From    time.Time `json:"from"`
	Offset  int       `json:"offset"`
	Total   int       `json:"total,omitempty"` // the list's total as of Offset
	Started time.Time `json:"started"`
	Sweep   bool      `json:"sweep"`
}

func encode(c cursor) json.RawMessage {
	b, _ := json.Marshal(c)
	return b
}

func ptr[T any](v T) *T { return &v }

// pageFunc turns a page of sessions into a batch (rows of the stream's tables).
type pageFunc func(ctx context.Context, items []json.RawMessage) (stream.Batch, error)

// changedSessions lists the sessions updated since the watermark (less the lookback),
// or every session on a sweep, oldest started first, and hands each page to handle.
// The cursor after each page lets a cut-off run resume at the next page; the pass's
// start becomes the new watermark once the list is read to its end.
//
// Why the list cannot skip a session: the filter has no upper bound, so a session
// updated during the pass stays in it, and sort=started_at puts new sessions at the
// end; a session moving into the window shifts later pages by one (a repeat, harmless
// for upserts). The sweep's pass marks the sessions no longer listed deleted
// (sessions stream only, marked says so).
func (r *run) changedSessions(ctx context.Context, handle pageFunc, sweeps bool) error {
	cur := r.cursor(ctx)
	started := r.req.Started.UTC()
	p := cur.Pass
	fresh := p == nil
	if fresh {
		sweep := cur.Watermark == nil || (sweeps && r.e.cfg.FullSweepEvery > 0 &&
			(cur.LastSweep == nil || started.Sub(*cur.LastSweep) >= r.e.cfg.FullSweepEvery))
		from := r.e.cfg.StartDate
		if !sweep {
			from = cur.Watermark.Add(-r.e.cfg.Lookback)
		}
		p = &passCursor{From: from.UTC(), Started: started, Sweep: sweep}
	} else {
		r.log.DebugContext(ctx, "resuming sessions pass", "offset", p.Offset, "sweep", p.Sweep)
	}
	marks := p.Sweep && r.req.Stream.Name == StreamSessions
	first := fresh
	passes := func(done bool) []stream.Pass {
		if !marks {
			return nil
		}
		ps := []stream.Pass{{Table: sessionsTable.Name, Start: first, Done: done}}
		first = false
		return ps
	}
	done := cursor{V: 1, Watermark: ptr(p.Started), LastSweep: cur.LastSweep}
	if p.Sweep {
		done.LastSweep = ptr(p.Started)
	}
	finished := false
	q := url.Values{"dateRangeField": {"updatedAt"}, "from": {p.From.Format(time.RFC3339)}, "sort": {"started_at"}}
	err := r.e.pages(ctx, r.counter, "/sessions", q, p.Offset, p.Total, func(pg apiclient.Page) error {
		b, err := handle(ctx, pg.Items)
		if err != nil {
			return err
		}
		next := *p
		next.Offset, next.Total = pg.Offset+len(pg.Items), max(pg.Total, 0)
		b.Cursor = encode(cursor{V: 1, Watermark: cur.Watermark, LastSweep: cur.LastSweep, Pass: &next})
		if pg.Last {
			b.Cursor, finished = encode(done), true
		}
		b.Passes = passes(pg.Last)
		return r.emit(ctx, b)
	})
	if err != nil {
		return fmt.Errorf("list sessions: %w", err)
	}
	if finished {
		return nil
	}
	return r.emit(ctx, stream.Batch{Cursor: encode(done), Passes: passes(true)})
}

func (r *run) sessionsPage(_ context.Context, items []json.RawMessage) (stream.Batch, error) {
	return mapItems(sessionsTable.Name, items, r.e.mapSession), nil
}

// each runs fn for every key, Concurrency at a time, and returns their results in
// order.
func each[T any](ctx context.Context, n int, keys []string, fn func(context.Context, string) (T, error)) ([]T, error) {
	out := make([]T, len(keys))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(n)
	for i, k := range keys {
		g.Go(func() error {
			v, err := fn(gctx, k)
			out[i] = v
			return err
		})
	}
	return out, g.Wait()
}

// gone reports a 404: the record was deleted after it was listed.
func gone(err error) bool {
	var se *apiclient.StatusError
	return errors.As(err, &se) && se.Status == http.StatusNotFound
}

// readAll reads every item of a list.
func (e *Extractor) readAll(ctx context.Context, c *apiclient.Counter, path string) ([]json.RawMessage, error) {
	var all []json.RawMessage
	err := e.pages(ctx, c, path, nil, 0, 0, func(pg apiclient.Page) error {
		all = append(all, pg.Items...)
		return nil
	})
	return all, err
}

// messagesPage reads the messages of a page's sessions.
func (r *run) messagesPage(ctx context.Context, items []json.RawMessage) (stream.Batch, error) {
	var ids []string
	var rejects []stream.Reject
	for _, raw := range items {
		o, rej := mapped("", raw, "id")
		if rej != nil {
			rejects = append(rejects, *rej)
			continue
		}
		ids = append(ids, o.id("id").(string))
	}
	lists, err := each(ctx, r.e.cfg.Concurrency, ids, func(ctx context.Context, id string) ([]json.RawMessage, error) {
		msgs, err := r.e.readAll(ctx, r.counter, "/sessions/"+url.PathEscape(id)+"/messages")
		if gone(err) {
			r.log.DebugContext(ctx, "session gone before its messages were read", "session", id)
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("messages of session %s: %w", id, err)
		}
		return msgs, nil
	})
	if err != nil {
		return stream.Batch{}, err
	}
	b := stream.Batch{Rows: map[string][]stream.Row{messagesTable.Name: nil}, Rejects: rejects}
	for _, msgs := range lists {
		mb := mapItems(messagesTable.Name, msgs, mapMessage)
		b.Rows[messagesTable.Name] = append(b.Rows[messagesTable.Name], mb.Rows[messagesTable.Name]...)
		b.Rejects = append(b.Rejects, mb.Rejects...)
	}
	return b, nil
}

// valuesPage reads the attribute values of a page's clients not read yet in this run;
// each client's row in twin.clients is the parent its values are replaced under.
func (r *run) valuesPage(ctx context.Context, items []json.RawMessage) (stream.Batch, error) {
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	var clients []string
	for _, raw := range items {
		c, _ := sessionFacts(raw)
		if c != "" && !r.seen[c] {
			r.seen[c] = true
			clients = append(clients, c)
		}
	}
	lists, err := each(ctx, r.e.cfg.Concurrency, clients, func(ctx context.Context, c string) ([]json.RawMessage, error) {
		vals, err := r.e.readAll(ctx, r.counter, "/clients/"+url.PathEscape(c)+"/attributes")
		if gone(err) {
			return nil, nil // the client is gone: so are its values
		}
		if err != nil {
			return nil, fmt.Errorf("attributes of client %s: %w", c, err)
		}
		return vals, nil
	})
	if err != nil {
		return stream.Batch{}, err
	}
	b := stream.Batch{Rows: map[string][]stream.Row{clientsKeyTable.Name: nil, clientAttributesTable.Name: nil}}
	for i, c := range clients {
		b.Rows[clientsKeyTable.Name] = append(b.Rows[clientsKeyTable.Name], stream.Row{c})
		for _, raw := range lists[i] {
			row, rej := mapClientAttribute(c, raw)
			if rej != nil {
				b.Rejects = append(b.Rejects, *rej)
				continue
			}
			b.Rows[clientAttributesTable.Name] = append(b.Rows[clientAttributesTable.Name], row)
		}
	}
	return b, nil
}
