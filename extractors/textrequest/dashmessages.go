package textrequest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/crmsync/crmsync/extractors/internal/lenient"
	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/stream"
)

// dashMessagesPageSize is the page_size of the dashboard-wide message list: its items
// are small (a message), so large pages spend the request budget on rows, not on
// envelopes. A server that serves fewer is paged by what it returns.
const dashMessagesPageSize = 500

// Modes of the messages stream, in logs and in the cursor.
const (
	modeDashboard = "dashboard"   // GET /dashboards/{id}/messages, pages of the whole dashboard
	modeContact   = "per-contact" // GET /dashboards/{id}/contacts/{phone}/messages
)

// dashRun is an unfinished read of the dashboard-wide message list (oldest first): the
// query it asks and the next page, so a cut-off pass resumes at that page.
type dashRun struct {
	Started time.Time  `json:"started"`
	From    *time.Time `json:"from,omitempty"` // start_date asked (nil: every message)
	Page    int        `json:"page,omitempty"`
	Size    int        `json:"size,omitempty"`
	Max     *time.Time `json:"max,omitempty"` // newest message_timestamp_utc read
}

// errNoContact leaves the dashboard-wide list when a page shows a message without its
// contact's phone: the per-contact reads take over.
var errNoContact = errors.New("the dashboard message list does not say which contact a message belongs to")

// dashMessage is the part of a dashboard-wide message that says whose it is. The
// reference (§6) says the list carries contact numbers without naming the field;
// phone_number is the name the rest of the API uses for a contact's phone.
type dashMessage struct {
	PhoneNumber lenient.String `json:"phone_number"`
}

// messagePhone returns the contact phone of a dashboard-wide message, "" when it has none.
func messagePhone(raw json.RawMessage) string {
	var m dashMessage
	if json.Unmarshal(raw, &m) != nil {
		return ""
	}
	return m.PhoneNumber.V
}

// dashboardMessages reads the dashboard's messages through the dashboard-wide list
// (reference §6, third-party evidence): one request per page of messages instead of one
// per contact. It is used only while the list shows each message's contact: the first
// page read is the probe. It returns used=false, having committed nothing, when the list
// is unavailable (a 4xx) or its first page shows a message without a phone; the caller
// then reads per contact. A page without phones after the first ends the read with
// used=false too (its earlier pages stay committed; the per-contact read re-reads them).
//
// A first run reads every message; later runs ask start_date = hw − Lookback, which also
// re-reads delivery-status changes within Lookback. The list is oldest first, so messages
// arriving during the read are appended after the pages already read and none is skipped.
func (e *Extractor) dashboardMessages(ctx context.Context, p *partition, cur *messagesCursor) (used bool, err error) {
	run := cur.Dash
	if run == nil {
		run = &dashRun{Started: p.req.Started.UTC(), Size: dashMessagesPageSize}
		if cur.HW != nil && !p.req.FullRefresh {
			from := cur.HW.Add(-e.cfg.Lookback)
			run.From = &from
		}
	}
	filters := url.Values{}
	if run.From != nil {
		filters.Set("start_date", run.From.UTC().Format(time.RFC3339))
	}
	// complete turns the cursor into that of a finished read.
	complete := func() {
		if run.Max != nil {
			cur.HW = maxTime(cur.HW, *run.Max)
		}
		if cur.HW == nil {
			cur.HW = timePtr(run.Started) // no message yet: the next run is incremental
		}
		cur.Dash, cur.Run, cur.Seen, cur.NoList = nil, nil, nil, nil
		cur.Mode = modeDashboard
	}
	p.note = fmt.Sprintf("dashboard %d: messages from the dashboard-wide list", p.dashboard)
	first := true
	lastSent := false
	err = e.scan(ctx, p.counter, dashboardPath(p.dashboard)+"/messages", filters, run.Page, run.Size, e.cfg.Ahead,
		func(pg apiclient.Page, pageNo, size int) error {
			rows := newRowSet(messagesTable, len(pg.Items))
			var rejects []stream.Reject
			owners := map[string]*messageOwner{}
			for _, raw := range pg.Items {
				phone := messagePhone(raw)
				if phone == "" {
					return errNoContact
				}
				o := owners[phone]
				if o == nil {
					o = newMessageOwner(p.dashboard, phone, e.cfg.PhoneRegion)
					owners[phone] = o
				}
				rec, rej := o.mapMessage(raw)
				if rej != nil {
					rejects = append(rejects, *rej)
					continue
				}
				rows.add(rec.Row)
				run.Max = maxTime(run.Max, rec.Time)
			}
			if first {
				p.logger.InfoContext(ctx, "reading messages from the dashboard-wide list", "mode", modeDashboard)
				first = false
			}
			run.Page, run.Size = pageNo+1, size
			cur.Dash, cur.Mode = run, modeDashboard
			if pg.Last {
				lastSent = true
				complete()
			}
			return p.emit(stream.Batch{Rows: map[string][]stream.Row{tblMessages: rows.rows}, Rejects: rejects, Cursor: encodeCursor(*cur)})
		})
	var se *apiclient.StatusError
	switch {
	case errors.Is(err, errNoContact):
		p.logger.InfoContext(ctx, "the dashboard message list shows no contact phone; reading messages per contact", "mode", modeContact)
		p.note = fmt.Sprintf("dashboard %d: messages per contact (the dashboard-wide list shows no contact)", p.dashboard)
		cur.Dash = nil
		return false, nil
	case errors.As(err, &se) && se.Status >= 400 && se.Status < 500 && se.Status != http.StatusTooManyRequests && first:
		p.logger.InfoContext(ctx, "no dashboard message list; reading messages per contact", "mode", modeContact, "status", se.Status)
		p.note = fmt.Sprintf("dashboard %d: messages per contact (no dashboard-wide list: HTTP %d)", p.dashboard, se.Status)
		cur.Dash = nil
		return false, nil
	case err != nil:
		return true, fmt.Errorf("list dashboard messages: %w", err)
	}
	if lastSent {
		return true, nil
	}
	// The list ended on an empty page or a 204 (nothing since start_date).
	complete()
	return true, p.emit(stream.Batch{Cursor: encodeCursor(*cur)})
}
