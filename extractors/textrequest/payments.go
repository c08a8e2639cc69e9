package textrequest

import (
	"context"
	"fmt"
	"net/url"

	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/stream"
)

// runPayments syncs one dashboard's payments. The list is asked newest first
// (sort_type=date&sort_direction=desc). An incremental run stops after the first page
// that ends before hw − Lookback; a first run, a full refresh, a due sweep or a list that
// fitted in one page at the last sweep (a full read then costs no more) reads
// everything, because statuses (paid, cancelled, past due) change long after the
// request date and leave no trace in it. If the server turns out not to sort by date (a
// later payment newer than an earlier one), the run reads to the end instead of
// stopping early. The cursor is paymentsCursor.
func (e *Extractor) runPayments(ctx context.Context, p *partition) error {
	var cur paymentsCursor
	if !decodeCursor(p.cursor, &cur, p.logger) {
		cur = paymentsCursor{V: cursorVersion}
	}
	fresh := cur.Run == nil // a full run starting here starts a pass over the list
	if cur.Run == nil {
		run := &paymentsRun{Started: p.req.Started.UTC()}
		onePage := cur.Pages == 1
		if cur.HW == nil || onePage || p.req.FullRefresh || sweepDue(cur.Swept, p.req.Started, e.cfg.FullSweepEvery) {
			run.Full = true
		} else {
			cutoff := cur.HW.Add(-e.cfg.Lookback)
			run.Cutoff = &cutoff
		}
		cur.Run = run
	}
	run := cur.Run
	finish := func() {
		if run.Max != nil {
			cur.HW = maxTime(cur.HW, *run.Max)
		}
		if run.Full {
			cur.Swept = timePtr(run.Started)
			cur.Pages = run.Pages
		}
		cur.Run = nil
	}
	path := dashboardPath(p.dashboard) + "/payments"
	q := url.Values{"sort_type": {"date"}, "sort_direction": {"desc"}}
	finished := false
	// A sweep reads everything, fetching ahead; an incremental run stops early, so it
	// reads strictly one page at a time.
	ahead := 1
	if run.Full {
		ahead = e.cfg.Ahead
	}
	// A full run reads the complete list: a pass over it.
	withPass := func(b stream.Batch) stream.Batch {
		if run.Full {
			pass := dashboardPass(tblPayments, p.dashboard)
			pass.Start, pass.Done = fresh, cur.Run == nil
			b.Passes, fresh = []stream.Pass{pass}, false
		}
		return b
	}
	err := e.resume(ctx, p.counter, path, q, run.Page, run.Size, run.AtTotal, ahead, func(pg apiclient.Page, pageNo, used int) error {
		set := newRowSet(paymentsTable, len(pg.Items))
		var rejects []stream.Reject
		if run.Full && len(pg.Items) > 0 {
			run.Pages++
		}
		for _, raw := range pg.Items {
			rec, rej := mapPayment(p.dashboard, raw, e.cfg.PhoneRegion)
			if rej != nil {
				rejects = append(rejects, *rej)
				continue
			}
			set.add(rec.Row)
			if rec.Date.IsZero() {
				continue
			}
			if run.Prev != nil && rec.Date.After(*run.Prev) && !run.Unsorted {
				run.Unsorted = true
				p.logger.WarnContext(ctx, "payments are not sorted by date; reading them all", "page", pageNo)
			}
			run.Prev = timePtr(rec.Date)
			run.Max = maxTime(run.Max, rec.Date)
		}
		stop := !run.Full && !run.Unsorted && run.Cutoff != nil && run.Prev != nil && run.Prev.Before(*run.Cutoff)
		if pg.Last || stop {
			finish()
			finished = true
		} else {
			run.Page, run.Size, run.AtTotal = pageNo+1, used, max(pg.Total, 0)
		}
		b := withPass(stream.Batch{Rows: map[string][]stream.Row{tblPayments: set.rows}, Rejects: rejects, Cursor: encodeCursor(cur)})
		if err := p.emit(b); err != nil {
			return err
		}
		if stop {
			return errStop
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list payments: %w", err)
	}
	if !finished {
		finish()
		return p.emit(withPass(stream.Batch{Cursor: encodeCursor(cur)}))
	}
	return nil
}
