package textrequest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/crmsync/crmsync/extractors/internal/lenient"
	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/stream"
)

// defaultFlushRows is the size at which a messages batch is committed before its
// contacts page is done (after the contact that reached it), so batches stay a few
// thousand rows; a single contact is cut only past four times that. The pipeline groups
// small batches into one commit anyway, so a small bound costs no transactions.
const defaultFlushRows = 1000

// defaultCommitEvery is the longest a per-contact messages read goes without handing a
// batch on (checked after each contact): a pass cut off loses at most this much work
// plus the contacts in flight. At 100 requests a minute that is about every contact; a
// small batch costs little, as the pipeline groups batches into one commit.
const defaultCommitEvery = time.Second

// runMessages syncs one dashboard's messages through the per-contact endpoint
// /dashboards/{id}/contacts/{phone}/messages, the only documented way to read them.
//
// The first run (or a full refresh) reads every message of every contact, skipping only
// contacts that certainly have none. Later runs ask the contacts list for contacts with
// last_message_timestamp_after_utc = hw − Lookback and read messages only for those
// whose last_contact_date_utc moved past what the cursor's seen map recorded (or whose
// last message is still being delivered). For each such contact the messages are paged
// only until a whole page is older than the contact's previous last contact minus
// Lookback (the overlap re-reads late delivery-status changes): the order of the list is
// undocumented, so it is detected from the first page's timestamps — newest first pages
// forward, oldest first walks back from the last page, anything else reads every page.
//
// The cursor (messagesCursor) is per dashboard: one small map of recently active
// contacts instead of a watermark per contact keeps it small at any account size,
// while a partition per (dashboard, phone) would create a sync.state row per contact.
func (e *Extractor) runMessages(ctx context.Context, p *partition) error {
	var cur messagesCursor
	if !decodeCursor(p.cursor, &cur, p.logger) {
		cur = messagesCursor{V: cursorVersion}
	}
	if cur.Run == nil && (cur.Dash != nil || e.listProbeDue(&cur, p.req)) {
		used, err := e.dashboardMessages(ctx, p, &cur)
		if err != nil {
			return fmt.Errorf("messages: %w", err)
		}
		if used {
			return nil
		}
		cur.NoList = timePtr(p.req.Started.UTC())
	} else if p.note == "" {
		p.note = fmt.Sprintf("dashboard %d: messages per contact", p.dashboard)
	}
	cur.Mode = modeContact
	if cur.Run == nil {
		run := &messagesRun{Started: p.req.Started.UTC()}
		if cur.HW == nil || p.req.FullRefresh {
			run.Full = true
			run.Plan.Scans = []contactScan{{}}
		} else {
			since := cur.HW.Add(-e.cfg.Lookback)
			run.Plan.Scans = []contactScan{{Filter: filterActivity, Since: &since}}
		}
		cur.Run = run
	} else {
		p.logger.DebugContext(ctx, "resuming messages run", "page", cur.Run.Plan.Page, "done", len(cur.Run.Done))
	}
	run := cur.Run
	if run.Seen == nil {
		run.Seen = map[string]string{}
	}
	done := map[string]bool{}
	for _, ph := range run.Done {
		done[ph] = true
	}

	pending := newRowSet(messagesTable, 0)
	var rejects []stream.Reject
	lastFlush := time.Now()
	flush := func() error {
		lastFlush = time.Now()
		b := stream.Batch{Rows: map[string][]stream.Row{tblMessages: pending.rows}, Rejects: rejects, Cursor: encodeCursor(cur)}
		pending, rejects = newRowSet(messagesTable, 0), nil
		return p.emit(b)
	}
	sink := func(phone string) func([]json.RawMessage) error {
		owner := newMessageOwner(p.dashboard, phone, e.cfg.PhoneRegion)
		return func(items []json.RawMessage) error {
			for _, raw := range items {
				rec, rej := owner.mapMessage(raw)
				if rej != nil {
					rejects = append(rejects, *rej)
					continue
				}
				pending.add(rec.Row)
			}
			if pending.len() >= 4*e.flushRows {
				// Only a contact with very many messages gets here: the batch is
				// committed to bound memory, with the cursor still listing this
				// contact as not done (a resumed run re-reads it; upserts make that
				// harmless).
				return flush()
			}
			return nil
		}
	}
	catchUp := func() *contactScan {
		if run.Max == nil {
			return nil
		}
		since := run.Max.Add(-e.cfg.Lookback)
		return &contactScan{Filter: filterActivity, Since: &since}
	}
	read, skipped := 0, 0
	err := e.walkContacts(ctx, p.counter, p.dashboard, &run.Plan, 1, catchUp, func(items []json.RawMessage, advance func()) error {
		var jobs []*contactJob
		queued := map[string]bool{}
		for _, raw := range items {
			// Contacts that cannot be decoded are rejected by the contacts stream; here
			// they are passed over.
			c, ok := listContact(raw)
			if !ok || done[c.Phone] || queued[c.Phone] {
				continue
			}
			queued[c.Phone] = true
			cutoff, skip := e.messageCutoff(&cur, c)
			if !skip && !pathSafe(c.Phone) {
				p.logger.WarnContext(ctx, "cannot read the messages of a phone with / or ? in it", "phone", c.Phone)
				skip = true
			}
			jobs = append(jobs, &contactJob{c: c, cutoff: cutoff, skip: skip})
		}
		ahead := e.fetchAhead(ctx, p.counter, p.dashboard, jobs)
		defer ahead.stop()
		for i, j := range jobs {
			c := j.c
			run.Max = maxTime(run.Max, c.LastContact)
			if j.skip {
				skipped++
			} else {
				read++
				if err := ahead.apply(i, sink(c.Phone)); err != nil {
					return err
				}
			}
			if c.LastContactRaw != "" {
				run.Seen[c.Phone] = c.LastContactRaw
			}
			run.Done = append(run.Done, c.Phone)
			done[c.Phone] = true
			if pending.len() >= e.flushRows || time.Since(lastFlush) >= e.commitEvery {
				// Committed with this contact in Done, so every batch moves a
				// resumed run forward. Under a tight rate limit a contacts page
				// takes minutes; the time bound keeps a cut-off from losing them.
				if err := flush(); err != nil {
					return err
				}
			}
		}
		advance()
		run.Done = nil
		clear(done)
		// What the end of the run would drop goes now: entries older than Lookback
		// before the newest activity seen so far (the watermark will be at least
		// run.Max) and, past maxSeen, the oldest. The final cursor is the same, while
		// this map and the copy of it every batch's cursor carries stay within maxSeen
		// plus one page instead of growing with the dashboard.
		run.Seen = pruneSeen(run.Seen, run.Max, e.cfg.Lookback)
		if run.Plan.Step >= len(run.Plan.Scans) {
			if run.Max != nil {
				cur.HW = maxTime(cur.HW, *run.Max)
			}
			if cur.HW == nil {
				// Nothing has any traffic yet: mark the full pass as done anyway, with
				// the run start as the watermark, so the next run is incremental.
				cur.HW = timePtr(run.Started)
			}
			merged := cur.Seen
			if merged == nil {
				merged = map[string]string{}
			}
			for k, v := range run.Seen {
				merged[k] = v
			}
			cur.Seen = pruneSeen(merged, cur.HW, e.cfg.Lookback)
			cur.Run = nil
			p.logger.DebugContext(ctx, "messages pass done", "contacts_read", read, "contacts_skipped", skipped)
		}
		return flush()
	})
	if err != nil {
		return fmt.Errorf("messages: %w", err)
	}
	return nil
}

// listProbeDue reports whether this run should try the dashboard-wide message list
// first: always, unless it was found unusable less than FullSweepEvery ago.
func (e *Extractor) listProbeDue(cur *messagesCursor, req stream.Request) bool {
	return cur.NoList == nil || req.FullRefresh || sweepDue(cur.NoList, req.Started, e.cfg.FullSweepEvery)
}

// contactJob is a listed contact whose messages a contacts page needs, in list order.
type contactJob struct {
	c      *contactRecord
	cutoff *time.Time
	skip   bool // nothing to read

	pages chan []json.RawMessage // the fetched pages, closed after the last one
	err   error                  // the fetch's outcome, set before pages is closed
}

// contactWindow fetches the messages of a page's contacts ahead of the one being applied,
// at most Config.Concurrency contacts at a time: with the rate limit off, one round trip
// per contact is what bounds this stream. Pages are handed on in list order from the
// caller's goroutine (apply), so batches, cursors and resumption are as with one fetch at
// a time; each contact fetched ahead holds at most a couple of pages until its turn.
//
// The fetches run in an errgroup limited to Concurrency goroutines, started in order.
type contactWindow struct {
	e         *Extractor
	cancel    context.CancelFunc
	pool      *errgroup.Group
	ctx       context.Context // the fetches', cancelled by stop
	counter   *apiclient.Counter
	dashboard int64
	jobs      []*contactJob
	next      int // the next job to start
}

func (e *Extractor) fetchAhead(ctx context.Context, c *apiclient.Counter, dashboard int64, jobs []*contactJob) *contactWindow {
	wctx, cancel := context.WithCancel(ctx)
	pool := &errgroup.Group{}
	pool.SetLimit(max(e.cfg.Concurrency, 1))
	return &contactWindow{e: e, cancel: cancel, pool: pool, ctx: wctx, counter: c, dashboard: dashboard, jobs: jobs}
}

// apply starts the fetches of jobs up to i+Concurrency-1 and hands job i's pages to sink
// as they arrive; it returns the fetch's error or sink's.
func (w *contactWindow) apply(i int, sink func([]json.RawMessage) error) error {
	for ; w.next < len(w.jobs) && w.next < i+max(w.e.cfg.Concurrency, 1); w.next++ {
		if j := w.jobs[w.next]; !j.skip {
			w.start(j)
		}
	}
	j := w.jobs[i]
	for items := range j.pages {
		if err := sink(items); err != nil {
			return err
		}
	}
	return j.err
}

// start hands j to the pool. At most Concurrency jobs are started and unfinished (apply
// starts job i+Concurrency-1 only after job i-1 has ended), so this waits at most for
// the goroutine of the job that just ended. A job's error is its own (apply returns
// it), not the pool's.
func (w *contactWindow) start(j *contactJob) {
	j.pages = make(chan []json.RawMessage, 2)
	w.pool.Go(func() error {
		ctx := w.ctx
		defer close(j.pages)
		j.err = w.e.contactMessages(ctx, w.counter, w.dashboard, j.c.Phone, j.cutoff, func(items []json.RawMessage) error {
			select {
			case j.pages <- items:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		return nil
	})
}

// stop cancels the fetches still running (after an error) and waits for them.
func (w *contactWindow) stop() {
	w.cancel()
	_ = w.pool.Wait() // the jobs' errors are their own
}

// messageCutoff decides whether a listed contact's messages need reading, and down to
// which time (nil: all of them).
func (e *Extractor) messageCutoff(cur *messagesCursor, c *contactRecord) (*time.Time, bool) {
	run := cur.Run
	if run.Full || cur.HW == nil {
		return nil, c.Silent
	}
	prev, known := cur.Seen[c.Phone]
	if known && prev == c.LastContactRaw && !c.Pending {
		return nil, true // unchanged since the last run
	}
	base := *cur.HW
	if known {
		if t, err := apiclient.ParseTime(prev); err == nil {
			base = t
		}
	}
	cutoff := base.Add(-e.cfg.Lookback)
	return &cutoff, false
}

// pruneSeen keeps the entries active within lookback of hw, at most maxSeen of them (the
// newest).
func pruneSeen(seen map[string]string, hw *time.Time, lookback time.Duration) map[string]string {
	type entry struct {
		phone, raw string
		t          time.Time
	}
	var entries []entry
	for ph, raw := range seen {
		t, err := apiclient.ParseTime(raw)
		if err != nil {
			continue
		}
		if hw != nil && t.Before(hw.Add(-lookback)) {
			continue
		}
		entries = append(entries, entry{ph, raw, t})
	}
	if len(entries) > maxSeen {
		slices.SortFunc(entries, func(a, b entry) int { return b.t.Compare(a.t) })
		entries = entries[:maxSeen]
	}
	out := make(map[string]string, len(entries))
	for _, en := range entries {
		out[en.phone] = en.raw
	}
	return out
}

// Message list orders, detected from a page's timestamps.
type listOrder int

const (
	orderUnknown listOrder = iota
	orderAsc               // oldest first
	orderDesc              // newest first
)

// errAscending leaves the forward scan when the list turns out to be oldest first.
var errAscending = errors.New("messages are oldest first")

// messageTimes returns the parseable message_timestamp_utc values of a page, in order,
// and whether every item had one.
func messageTimes(items []json.RawMessage) ([]time.Time, bool) {
	times := make([]time.Time, 0, len(items))
	all := true
	for _, raw := range items {
		var m struct {
			Timestamp lenient.Time `json:"message_timestamp_utc"`
		}
		if lenient.Decode(raw, &m) != nil || !m.Timestamp.Valid {
			all = false
			continue
		}
		times = append(times, m.Timestamp.T)
	}
	return times, all
}

// detectOrder says whether a page is sorted oldest or newest first. Fewer than two
// distinct timestamps, or a mixed order, is unknown.
func detectOrder(items []json.RawMessage) listOrder {
	times, _ := messageTimes(items)
	if len(times) < 2 || times[0].Equal(times[len(times)-1]) {
		return orderUnknown
	}
	asc := times[0].Before(times[len(times)-1])
	for i := 1; i < len(times); i++ {
		if asc && times[i].Before(times[i-1]) || !asc && times[i].After(times[i-1]) {
			return orderUnknown
		}
	}
	if asc {
		return orderAsc
	}
	return orderDesc
}

// olderThan reports whether every message of a page is older than cutoff. A message
// without a readable timestamp counts as new, so the scan goes on.
func olderThan(items []json.RawMessage, cutoff time.Time) bool {
	times, all := messageTimes(items)
	if !all {
		return false
	}
	for _, t := range times {
		if !t.Before(cutoff) {
			return false
		}
	}
	return true
}

// contactMessages reads one contact's messages and hands each page to sink. With a
// cutoff it stops once a whole page is older than the cutoff (see runMessages); without
// one it reads every page.
func (e *Extractor) contactMessages(ctx context.Context, c *apiclient.Counter, dashboard int64, phone string, cutoff *time.Time, sink func([]json.RawMessage) error) error {
	path := contactPath(dashboard, phone) + "/messages"
	order := orderUnknown
	var size, total int
	ahead := 1 // usually stops after a page or two
	if cutoff == nil {
		ahead = e.cfg.Ahead
	}
	err := e.scan(ctx, c, path, nil, 0, 0, ahead, func(pg apiclient.Page, pageNo, used int) error {
		if err := sink(pg.Items); err != nil {
			return err
		}
		if cutoff == nil {
			return nil
		}
		if pageNo == 0 {
			order = detectOrder(pg.Items)
			if order == orderAsc && !pg.Last && pg.Total >= 0 && used > 0 {
				size, total = used, pg.Total
				return errAscending
			}
		}
		if order == orderDesc && olderThan(pg.Items, *cutoff) {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errAscending) {
		if err != nil {
			return fmt.Errorf("list messages of %s: %w", phone, err)
		}
		return nil
	}
	// Oldest first: the new messages are on the last pages, so walk back from the end
	// until a page is wholly older than the cutoff. Messages arriving meanwhile are
	// appended after the pages read, so none shifts into a page already passed.
	fetch := e.pageFetch(c, path, nil)
	for pg := (total - 1) / size; pg >= 1; pg-- {
		items, _, noContent, err := fetch(ctx, pg, size)
		if err != nil {
			return fmt.Errorf("list messages of %s: %w", phone, err)
		}
		if err := sink(items); err != nil {
			return err
		}
		if noContent || olderThan(items, *cutoff) {
			break
		}
	}
	return nil
}
