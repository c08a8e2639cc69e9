package textrequest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/stream"
)

// listEndpoint is a per-dashboard list that is read completely every run.
type listEndpoint struct {
	name    string // for errors: "conversations"
	path    func(dashboard int64) string
	query   url.Values
	table   stream.Table
	mapItem func(dashboard int64, raw json.RawMessage) (stream.Row, *stream.Reject)
	// mapPhoned replaces mapItem for items with a contact's phone, which need the
	// extractor's phone region.
	mapPhoned func(dashboard int64, raw json.RawMessage, region string) (stream.Row, *stream.Reject)
}

var (
	// Archived conversations are hidden unless include_archived=true (§4.5).
	conversationsEndpoint = listEndpoint{
		name:      "conversations",
		path:      func(id int64) string { return dashboardPath(id) + "/conversations" },
		query:     url.Values{"include_archived": {"true"}},
		table:     conversationsTable,
		mapPhoned: mapConversation,
	}
	groupsEndpoint = listEndpoint{
		name:    "groups",
		path:    func(id int64) string { return dashboardPath(id) + "/groups" },
		table:   groupsTable,
		mapItem: mapGroup,
	}
	tagsEndpoint = listEndpoint{
		name:    "tags",
		path:    func(id int64) string { return dashboardPath(id) + "/tags" },
		table:   tagsTable,
		mapItem: mapTag,
	}
)

// rowSet collects one table's rows for a batch, keeping the last row per key: offset
// paging on live data can repeat a record, and the loader's upsert must not see a key
// twice in one statement.
type rowSet struct {
	table stream.Table
	pos   map[string]int
	rows  []stream.Row
}

// newRowSet sizes the set for n rows (a page's item count; 0 when unknown), so neither
// the key map nor the row slice regrows while a page is mapped.
func newRowSet(t stream.Table, n int) *rowSet {
	return &rowSet{table: t, pos: make(map[string]int, n), rows: make([]stream.Row, 0, n)}
}

func (s *rowSet) add(r stream.Row) {
	k := keyOf(s.table, r)
	if i, ok := s.pos[k]; ok {
		s.rows[i] = r
		return
	}
	s.pos[k] = len(s.rows)
	s.rows = append(s.rows, r)
}

func (s *rowSet) len() int { return len(s.rows) }

// mapPage maps a page of items with mapItem into one batch.
func mapPage(dashboard int64, items []json.RawMessage, t stream.Table, mapItem func(int64, json.RawMessage) (stream.Row, *stream.Reject)) stream.Batch {
	set := newRowSet(t, len(items))
	var rejects []stream.Reject
	for _, raw := range items {
		row, rej := mapItem(dashboard, raw)
		if rej != nil {
			rejects = append(rejects, *rej)
			continue
		}
		set.add(row)
	}
	return stream.Batch{Rows: map[string][]stream.Row{t.Name: set.rows}, Rejects: rejects}
}

// listRunner reads a listEndpoint completely, one batch per page. The cursor (listCursor)
// lets a killed scan resume at the page it stopped at.
func (e *Extractor) listRunner(ep listEndpoint) func(context.Context, *partition) error {
	mapItem := ep.mapItem
	if ep.mapPhoned != nil {
		mapItem = func(d int64, raw json.RawMessage) (stream.Row, *stream.Reject) {
			return ep.mapPhoned(d, raw, e.cfg.PhoneRegion)
		}
	}
	return func(ctx context.Context, p *partition) error {
		pass := dashboardPass(ep.table.Name, p.dashboard)
		if err := e.readList(ctx, p.counter, p.logger, p.cursor, p.req.Started, ep.path(p.dashboard), ep.query, &pass,
			func(items []json.RawMessage) stream.Batch { return mapPage(p.dashboard, items, ep.table, mapItem) },
			p.emit); err != nil {
			return fmt.Errorf("list %s: %w", ep.name, err)
		}
		return nil
	}
}

// dashboardPass is the pass over one dashboard's part of a table (see stream.Pass).
func dashboardPass(table string, dashboard int64) stream.Pass {
	return stream.Pass{Table: table, Scope: stream.Scope{"dashboard_id": strconv.FormatInt(dashboard, 10)}}
}

// readList pages through path from the stored listCursor and emits one batch per page,
// the last one carrying {"done": started}. With pass set, the batches make a pass over
// that complete list (its first page starts it, the last completes it), resumed with
// the scan when a run was cut off.
func (e *Extractor) readList(ctx context.Context, c *apiclient.Counter, logger *slog.Logger, stored json.RawMessage, started time.Time, path string, query url.Values,
	pass *stream.Pass, toBatch func([]json.RawMessage) stream.Batch, emit func(stream.Batch) error) error {
	var cur listCursor
	start, size, total := 0, 0, 0
	if decodeCursor(stored, &cur, logger) && cur.Done == nil && cur.Page > 0 {
		start, size, total = cur.Page, cur.Size, cur.Total
		logger.DebugContext(ctx, "resuming scan", "page", start)
	}
	finished := false
	first := start == 0
	withPass := func(b stream.Batch, done bool) stream.Batch {
		if pass != nil {
			ps := *pass
			ps.Start, ps.Done = first, done
			b.Passes = []stream.Pass{ps}
			first = false
		}
		return b
	}
	err := e.resume(ctx, c, path, query, start, size, total, e.cfg.Ahead, func(pg apiclient.Page, pageNo, used int) error {
		b := withPass(toBatch(pg.Items), pg.Last)
		if pg.Last {
			b.Cursor = encodeCursor(listCursor{V: cursorVersion, Done: timePtr(started.UTC())})
			finished = true
		} else {
			b.Cursor = encodeCursor(listCursor{V: cursorVersion, Page: pageNo + 1, Size: used, Total: max(pg.Total, 0)})
		}
		logger.DebugContext(ctx, "page", "page", pageNo, "rows", b.Len())
		return emit(b)
	})
	if err != nil {
		return err
	}
	if !finished {
		return emit(withPass(stream.Batch{Cursor: encodeCursor(listCursor{V: cursorVersion, Done: timePtr(started.UTC())})}, true))
	}
	return nil
}

// runCustomFields reads /dashboards/{id}/fields: a bare array, not paged (§4.10); a 204
// means none.
func (e *Extractor) runCustomFields(ctx context.Context, p *partition) error {
	path := dashboardPath(p.dashboard) + "/fields"
	items, _, _, err := e.getList(ctx, p.counter, path, nil)
	if err != nil {
		return fmt.Errorf("list custom fields: %w", err)
	}
	b := mapPage(p.dashboard, items, customFieldsTable, mapCustomField)
	b.Cursor = encodeCursor(listCursor{V: cursorVersion, Done: timePtr(p.req.Started.UTC())})
	pass := dashboardPass(tblCustomFields, p.dashboard)
	pass.Start, pass.Done = true, true
	b.Passes = []stream.Pass{pass}
	return p.emit(b)
}

// extractDashboards runs the unpartitioned dashboards stream: the configured dashboards
// one by one (GET /dashboards/{id}), or the account's list.
func (e *Extractor) extractDashboards(ctx context.Context, req stream.Request, out chan<- stream.Batch, logger *slog.Logger) error {
	counter := apiclient.NewCounter(req.Room)
	defer func() { sendRequests(out, counter.Take()) }()
	emit := func(b stream.Batch) error {
		b.Requests = counter.Take()
		return send(ctx, out, b)
	}
	if len(e.cfg.Dashboards) > 0 {
		set := newRowSet(dashboardsTable, len(e.cfg.Dashboards))
		var rejects []stream.Reject
		for _, id := range e.cfg.Dashboards {
			var raw json.RawMessage
			resp, err := e.cfg.Client.GetJSON(ctx, counter, dashboardPath(id), nil, &raw)
			if err != nil {
				return fmt.Errorf("get dashboard %d: %w", id, err)
			}
			if resp.Status == http.StatusNoContent {
				return fmt.Errorf("get dashboard %d: %s answered 204 No Content: no such dashboard", id, dashboardPath(id))
			}
			row, _, rej := mapDashboard(raw)
			if rej != nil {
				rejects = append(rejects, *rej)
				continue
			}
			set.add(row)
		}
		return emit(stream.Batch{
			Rows:    map[string][]stream.Row{tblDashboards: set.rows},
			Rejects: rejects,
			Cursor:  encodeCursor(listCursor{V: cursorVersion, Done: timePtr(req.Started.UTC())}),
		})
	}
	var stored json.RawMessage
	if !req.FullRefresh {
		stored = req.State[""]
	}
	var ids []int64
	complete := true
	var cur listCursor
	if decodeCursor(stored, &cur, logger) && cur.Done == nil && cur.Page > 0 {
		complete = false // a resumed scan sees only part of the list
	}
	// The account's list is complete; a configured list is not (a dashboard dropped
	// from it is not deleted), so only the former is a pass.
	err := e.readList(ctx, counter, logger, stored, req.Started, "/dashboards", nil, &stream.Pass{Table: tblDashboards}, func(items []json.RawMessage) stream.Batch {
		set := newRowSet(dashboardsTable, len(items))
		var rejects []stream.Reject
		for _, raw := range items {
			row, id, rej := mapDashboard(raw)
			if rej != nil {
				rejects = append(rejects, *rej)
				continue
			}
			ids = append(ids, id)
			set.add(row)
		}
		return stream.Batch{Rows: map[string][]stream.Row{tblDashboards: set.rows}, Rejects: rejects}
	}, emit)
	if err != nil {
		return fmt.Errorf("list dashboards: %w", err)
	}
	if complete {
		e.remember(req.Started, ids)
	}
	return nil
}
