package leeloo

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"time"

	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/stream"
)

// pageFunc handles one page of a list: items are its records (none for the cursor-only
// call that closes a window or a scan), cursor is the partition's checkpoint once this
// page and everything before it are committed.
type pageFunc func(ctx context.Context, items []json.RawMessage, cursor json.RawMessage) error

// windowCursor is the checkpoint of a windowed stream (people, communication_channels,
// and the channel listing of messages, partition ""):
//
//	{"v":1,"done":"2026-11-01T00:00:00Z","sweep":"2026-11-01T00:00:00Z",
//	 "pass":{"full":false,"started":"…","from":"…","to":"…","offset":100}}
//
// done is the end of the last completed pass: every record whose lastMessageTime was at
// most done (when it was read) has been committed. sweep is when the last completed full
// pass started. pass is set while a pass is unfinished: the window being read and how many
// of its records are committed, so a killed run resumes there.
type windowCursor struct {
	V     int        `json:"v"`
	Done  *time.Time `json:"done,omitempty"`
	Sweep *time.Time `json:"sweep,omitempty"`
	Pass  *passState `json:"pass,omitempty"`
}

func (c *windowCursor) version() int { return c.V }

// passState is an unfinished pass: its kind, when it began, and its current window.
type passState struct {
	Full    bool      `json:"full"`
	Started time.Time `json:"started"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Offset  int       `json:"offset"`
	// Total is the window's total as of the committed offset: a resumed scan steps
	// back by what the list lost meanwhile (apiclient.OffsetConfig.StartTotal).
	Total int `json:"total,omitempty"`
	// Tail marks the window a full pass reads after its last one (see walkWindowsPass).
	Tail bool `json:"tail,omitempty"`
}

// errSplit aborts a window's scan when its first page shows too many records.
var errSplit = errors.New("window too large")

// walkWindows reads a last-message-filtered list (people, communication channels) window
// by window, oldest window first, each window newest-first by offset, and calls fn per page.
//
// A pass runs from its start to req.Started: a full pass (first run, full refresh, or a
// due sweep when sweeps is true) starts at StartDate; an incremental one at done minus
// Lookback. Consecutive windows overlap by a day (see windowOverlap); the next run's
// Lookback covers the last one. A record whose lastMessageTime moves during the scan
// leaves the window being read (the list re-sorts) and may be missed in this pass; its new
// lastMessageTime is at most a run old, so the next run's window [done−Lookback, now]
// picks it up.
func (r *run) walkWindows(ctx context.Context, path, key string, sweeps bool, fn pageFunc) error {
	return r.walkWindowsPass(ctx, path, key, sweeps, nil, fn)
}

// walkWindowsPass is walkWindows whose full passes are passes over the complete list
// (lp, see listPass): fn tags its batches with lp.tag. An incremental pass is none.
//
// A record whose lastMessageTime moves during a full pass leaves the window it was in
// for one past the pass's end (new messages come after the run began), so after its
// last window a full pass reads a tail window, from the run's start to a year ahead,
// before it completes: such a record is seen, not marked deleted. One that moves again
// while the tail is read may still be missed; the next run's window restores it.
func (r *run) walkWindowsPass(ctx context.Context, path, key string, sweeps bool, lp *listPass, fn pageFunc) error {
	var cur windowCursor
	if !r.parseCursor("", &cur) {
		cur = windowCursor{}
	}
	now := r.req.Started
	cfg := r.e.cfg
	var pass passState
	switch {
	case r.req.FullRefresh || (cur.Done == nil && cur.Pass == nil):
		pass = passState{Full: true, Started: now, From: cfg.StartDate}
	case cur.Pass != nil:
		pass = *cur.Pass
		r.log.Info("resuming an unfinished pass", "from", pass.From, "to", pass.To, "offset", pass.Offset, "full", pass.Full)
	case sweeps && cfg.FullSweepEvery > 0 && (cur.Sweep == nil || now.Sub(*cur.Sweep) >= cfg.FullSweepEvery):
		pass = passState{Full: true, Started: now, From: cfg.StartDate}
		r.log.Info("full sweep due", "last_sweep", cur.Sweep)
	default:
		pass = passState{Started: now, From: cur.Done.Add(-cfg.Lookback)}
	}
	if lp != nil {
		// A full pass begun by this run starts the list pass; a resumed one goes on.
		lp.on, lp.start = pass.Full, pass.Full && (cur.Pass == nil || r.req.FullRefresh)
	}
	span := cfg.WindowSpan
	if pass.To.IsZero() {
		pass.To = minTime(pass.From.Add(span), now)
	}

	cursorAt := func(p *passState) json.RawMessage {
		c := windowCursor{V: cursorVersion, Done: cur.Done, Sweep: cur.Sweep, Pass: p}
		return mustJSON(c)
	}
	for {
		if pass.To.Before(pass.From) {
			pass.To = pass.From
		}
		r.windowFrom = pass.From
		q := url.Values{}
		q.Set("filter[last_message][from]", pass.From.Format(filterLayout))
		q.Set("filter[last_message][to]", pass.To.Format(filterLayout))
		fetch := r.e.listFetch(r.counter, path, q, key)
		start, total := pass.Offset, 0
		splittable := start == 0 && !pass.Tail && pass.To.Sub(pass.From) >= 2*minWindowSpan
		guarded := func(ctx context.Context, offset, limit int) ([]json.RawMessage, int, error) {
			items, t, err := fetch(ctx, offset, limit)
			if err == nil && offset == start {
				total = t
				if splittable && t > cfg.MaxWindowRows {
					return nil, 0, errSplit
				}
			}
			return items, t, err
		}

		// The window's end is the whole pass's end when it reaches now, but for a list
		// pass that still has its tail to read.
		reachesNow := !pass.To.Before(now)
		tailDue := lp != nil && lp.on && !pass.Tail
		last := reachesNow && !tailDue
		next := passState{Full: pass.Full, Started: pass.Started}
		finalSent := false
		finalCursor := func() json.RawMessage {
			if last {
				c := windowCursor{V: cursorVersion, Done: &now, Sweep: cur.Sweep}
				if pass.Full {
					c.Sweep = &pass.Started
				}
				return mustJSON(c)
			}
			if reachesNow {
				next.From, next.To, next.Tail = now.Add(-windowOverlap), now.AddDate(1, 0, 0), true
				return cursorAt(&next)
			}
			// Adapt the next window to what this one held.
			if total >= 0 && total < cfg.MaxWindowRows/4 {
				span *= 2
			}
			next.From = pass.To.Add(-windowOverlap)
			next.To = minTime(next.From.Add(span), now)
			return cursorAt(&next)
		}
		err := apiclient.OffsetPages(ctx, apiclient.OffsetConfig{Limit: cfg.PageSize, Start: start, StartTotal: pass.Total, Ahead: cfg.Ahead}, guarded,
			func(p apiclient.Page) error {
				var c json.RawMessage
				if p.Last {
					c, finalSent = finalCursor(), true
				} else {
					at := pass
					at.Offset, at.Total = p.Offset+len(p.Items), max(p.Total, 0)
					c = cursorAt(&at)
				}
				lp.at(last && p.Last)
				return fn(ctx, p.Items, c)
			})
		if errors.Is(err, errSplit) {
			span = max((pass.To.Sub(pass.From))/2, minWindowSpan)
			pass.To = pass.From.Add(span)
			r.log.Debug("window too large; halving", "from", pass.From, "total", total, "span", span)
			continue
		}
		if err != nil {
			return err
		}
		if !finalSent {
			lp.at(last)
			if err := fn(ctx, nil, finalCursor()); err != nil {
				return err
			}
		}
		if last {
			return nil
		}
		pass = next
	}
}

// filterLayout is how window bounds are sent: full ISO timestamps in UTC (§6.1 accepts
// dates or ISO; the simulator reads both).
const filterLayout = "2006-01-02T15:04:05.000Z"

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// scanCursor is the checkpoint of a full-scan stream (orders, users, tags, connections,
// tunnels, accounts, and the account listing of account_messages):
//
//	{"v":1,"offset":150,"total":900}  a scan is under way: 150 records are committed
//	                                  (the list had 900 then)
//	{"v":1,"done":"2026-11-01T…"}   the last scan finished at that run's start
//
// A killed scan resumes at its offset; records added at the front of the newest-first list
// meanwhile push the rest down, so the resumed scan re-reads a few (harmless upserts);
// records deleted meanwhile pull the rest up, so it steps back by what the total lost.
// Full refresh starts at 0.
type scanCursor struct {
	V      int        `json:"v"`
	Offset int        `json:"offset,omitempty"`
	Total  int        `json:"total,omitempty"`
	Done   *time.Time `json:"done,omitempty"`
}

func (c *scanCursor) version() int { return c.V }

// walkScan reads a whole list by offset and calls fn per page.
func (r *run) walkScan(ctx context.Context, path string, q url.Values, key string, fn pageFunc) error {
	return r.walkScanPass(ctx, path, q, key, nil, fn)
}

// walkScanPass is walkScan whose scan is a pass over the complete list (lp, see
// listPass): fn tags its batches with lp.tag.
func (r *run) walkScanPass(ctx context.Context, path string, q url.Values, key string, lp *listPass, fn pageFunc) error {
	var cur scanCursor
	if !r.parseCursor("", &cur) {
		cur = scanCursor{}
	}
	start, startTotal := 0, 0
	if !r.req.FullRefresh && cur.Done == nil && cur.Offset > 0 {
		start, startTotal = cur.Offset, cur.Total
		r.log.Info("resuming an unfinished scan", "offset", start)
	}
	if lp != nil {
		lp.on, lp.start = true, start == 0
	}
	now := r.req.Started
	final := mustJSON(scanCursor{V: cursorVersion, Done: &now})
	finalSent := false
	err := apiclient.OffsetPages(ctx, apiclient.OffsetConfig{Limit: r.e.cfg.PageSize, Start: start, StartTotal: startTotal, Ahead: r.e.cfg.Ahead},
		r.e.listFetch(r.counter, path, q, key),
		func(p apiclient.Page) error {
			c := final
			if p.Last {
				finalSent = true
			} else {
				c = mustJSON(scanCursor{V: cursorVersion, Offset: p.Offset + len(p.Items), Total: max(p.Total, 0)})
			}
			lp.at(p.Last)
			return fn(ctx, p.Items, c)
		})
	if err != nil {
		return err
	}
	if !finalSent {
		lp.at(true)
		return fn(ctx, nil, final)
	}
	return nil
}

// listPass ties a stream's batches to a pass over a complete list of one table (see
// stream.Pass): the walker says whether its pass is one (on), whether the next batch
// starts it and whether it completes it; the page function tags its batch.
type listPass struct {
	table string
	on    bool
	start bool // the next tagged batch starts the pass
	done  bool // the next tagged batch completes it
}

// at says whether the page about to be handled completes the list. Nil-safe.
func (lp *listPass) at(done bool) {
	if lp != nil {
		lp.done = done
	}
}

// tag ties b to the pass when there is one. Nil-safe.
func (lp *listPass) tag(b stream.Batch) stream.Batch {
	if lp == nil || !lp.on {
		return b
	}
	b.Passes = []stream.Pass{{Table: lp.table, Start: lp.start, Done: lp.done}}
	lp.start = false
	return b
}
