package textrequest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/stream"
)

// queryTime formats a filter time as RFC 3339 in UTC, whole seconds rounded down so an
// inclusive "after" filter never skips a record in the same second.
func queryTime(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05Z")
}

// walkContacts runs the remaining scans of plan over /dashboards/{id}/contacts. For each
// page it calls onPage with the items and an advance function, which onPage calls once
// it has taken what it needs from the page and before it builds the page's cursor:
// advance moves plan past the page (to the next page, or to the next scan). Before
// onPage, plan.Page and plan.Size name the page being handled, so a cursor built in the
// middle of a page resumes at that page.
//
// When a scan saw records inserted while it ran (total_items grew), catchUp may add one
// more scan (at most one per run) to pick up what was inserted before the pages read.
func (e *Extractor) walkContacts(ctx context.Context, c *apiclient.Counter, dashboard int64, plan *scanPlan, ahead int,
	catchUp func() *contactScan, onPage func(items []json.RawMessage, advance func()) error) error {
	path := dashboardPath(dashboard) + "/contacts"
	nextStep := func() {
		if plan.Drift && !plan.CatchUp && catchUp != nil {
			if sc := catchUp(); sc != nil {
				plan.Scans = append(plan.Scans, *sc)
				plan.CatchUp = true
			}
		}
		plan.Step++
		plan.Page, plan.Size, plan.Total, plan.AtTotal, plan.Drift = 0, 0, 0, 0, false
	}
	for plan.Step < len(plan.Scans) {
		step := plan.Step
		sc := plan.Scans[step]
		q := url.Values{}
		if sc.Filter != "" && sc.Since != nil {
			q.Set(sc.Filter, queryTime(*sc.Since))
		}
		err := e.resume(ctx, c, path, q, plan.Page, plan.Size, plan.AtTotal, ahead, func(pg apiclient.Page, pageNo, size int) error {
			plan.Page, plan.Size = pageNo, size
			if pg.Total >= 0 {
				if plan.Total == 0 {
					plan.Total = pg.Total
				} else if pg.Total > plan.Total {
					plan.Drift = true
				}
			}
			// The advance closure takes Last, not pg: capturing pg would keep the page's
			// body alive while onPage works through it (the messages stream fetches
			// every listed contact's messages meanwhile).
			last, total := pg.Last, max(pg.Total, 0)
			return onPage(pg.Items, func() {
				if last {
					nextStep()
					return
				}
				plan.Page, plan.Size, plan.AtTotal = pageNo+1, size, total
			})
		})
		if err != nil {
			if sc.Filter != "" {
				return fmt.Errorf("list contacts (%s): %w", sc.Filter, err)
			}
			return fmt.Errorf("list contacts: %w", err)
		}
		if plan.Step == step {
			// The scan ended without handing on a last page (a 204, or an empty page
			// past the end): finish the step through onPage so its cursor is committed.
			if err := onPage(nil, nextStep); err != nil {
				return err
			}
		}
	}
	return nil
}

// runContacts syncs one dashboard's contacts and their tag, group and custom-field links.
//
// A first run, a full refresh, a due sweep (Swept older than FullSweepEvery), or a list
// that fitted in one page at the last sweep (one request, cheaper than two scans) reads
// the whole list. Other runs make two filtered scans: last_message_timestamp_after_utc (new
// traffic either way) and contact_created_after (new contacts), both from the newest
// value seen so far minus Lookback. Edits that leave no trace in either timestamp wait for
// the next sweep. Every page is one batch whose cursor (contactsCursor) resumes the run
// at the next page.
func (e *Extractor) runContacts(ctx context.Context, p *partition) error {
	var cur contactsCursor
	if !decodeCursor(p.cursor, &cur, p.logger) {
		cur = contactsCursor{V: cursorVersion}
	}
	fresh := cur.Run == nil // a full run starting here starts a pass over the list
	if cur.Run == nil {
		run := &contactsRun{Started: p.req.Started.UTC()}
		onePage := cur.Pages == 1
		if cur.Activity == nil || cur.Created == nil || onePage || p.req.FullRefresh || sweepDue(cur.Swept, p.req.Started, e.cfg.FullSweepEvery) {
			run.Full = true
			run.Plan.Scans = []contactScan{{}}
		} else {
			act, created := cur.Activity.Add(-e.cfg.Lookback), cur.Created.Add(-e.cfg.Lookback)
			run.Plan.Scans = []contactScan{{Filter: filterActivity, Since: &act}, {Filter: filterCreated, Since: &created}}
		}
		cur.Run = run
	} else {
		p.logger.DebugContext(ctx, "resuming contacts run", "step", cur.Run.Plan.Step, "page", cur.Run.Plan.Page)
	}
	run := cur.Run
	catchUp := func() *contactScan {
		if run.Created == nil {
			return nil
		}
		since := run.Created.Add(-e.cfg.Lookback)
		return &contactScan{Filter: filterCreated, Since: &since}
	}
	return e.walkContacts(ctx, p.counter, p.dashboard, &run.Plan, e.cfg.Ahead, catchUp, func(items []json.RawMessage, advance func()) error {
		b := contactsBatch(p.dashboard, items, e.cfg.PhoneRegion)
		if run.Full && run.Plan.Step == 0 && len(items) > 0 {
			run.Pages++
		}
		for _, rec := range b.records {
			run.Activity = maxTime(run.Activity, rec.LastContact)
			run.Created = maxTime(run.Created, rec.Created)
		}
		advance()
		if run.Plan.Step >= len(run.Plan.Scans) {
			if run.Activity != nil {
				cur.Activity = maxTime(cur.Activity, *run.Activity)
			}
			if run.Created != nil {
				cur.Created = maxTime(cur.Created, *run.Created)
			}
			if run.Full {
				cur.Swept = timePtr(run.Started)
				cur.Pages = run.Pages
			}
			cur.Run = nil
		}
		out := b.batch()
		out.Cursor = encodeCursor(cur)
		if run.Full {
			// Every scan of a full run reads the whole list (a catch-up scan adds what was
			// created meanwhile): together a pass, complete with the plan's last page.
			pass := dashboardPass(tblContacts, p.dashboard)
			pass.Start, pass.Done = fresh, cur.Run == nil
			out.Passes, fresh = []stream.Pass{pass}, false
		}
		p.logger.DebugContext(ctx, "contacts page", "rows", len(b.records), "cursor", string(out.Cursor))
		return p.emit(out)
	})
}

// contactRows is a page of contacts, de-duplicated by phone (the last copy wins, with
// its own link rows).
type contactRows struct {
	records []*contactRecord
	pos     map[string]int
	rejects []stream.Reject
}

func contactsBatch(dashboard int64, items []json.RawMessage, region string) *contactRows {
	c := &contactRows{pos: map[string]int{}}
	for _, raw := range items {
		rec, rej := mapContact(dashboard, raw, region)
		if rej != nil {
			c.rejects = append(c.rejects, *rej)
			continue
		}
		if i, ok := c.pos[rec.Phone]; ok {
			c.records[i] = rec
			continue
		}
		c.pos[rec.Phone] = len(c.records)
		c.records = append(c.records, rec)
	}
	return c
}

// batch lays the page out per table. Every contact of the batch gets its complete set of
// link rows (possibly none), which the loader makes the child tables hold exactly.
func (c *contactRows) batch() stream.Batch {
	rows := map[string][]stream.Row{
		tblContacts:            make([]stream.Row, 0, len(c.records)),
		tblContactTags:         nil,
		tblContactGroups:       nil,
		tblContactCustomFields: nil,
	}
	for _, rec := range c.records {
		rows[tblContacts] = append(rows[tblContacts], rec.Row)
		rows[tblContactTags] = append(rows[tblContactTags], rec.Tags...)
		rows[tblContactGroups] = append(rows[tblContactGroups], rec.Groups...)
		rows[tblContactCustomFields] = append(rows[tblContactCustomFields], rec.Fields...)
	}
	return stream.Batch{Rows: rows, Rejects: c.rejects}
}
