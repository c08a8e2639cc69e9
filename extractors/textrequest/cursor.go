package textrequest

import (
	"encoding/json"
	"log/slog"
	"time"

	"github.com/crmsync/crmsync/extractors/internal/lenient"
)

// cursorVersion is the "v" every cursor carries. A stored cursor with another version,
// or one that does not parse, is treated as absent (a full read) with a warning.
const cursorVersion = 1

// decodeCursor reads a stored cursor into v and reports whether it is usable.
func decodeCursor(raw json.RawMessage, v any, logger *slog.Logger) bool {
	if lenient.IsNull(raw) {
		return false
	}
	var head struct {
		V int `json:"v"`
	}
	if err := json.Unmarshal(raw, &head); err != nil || head.V != cursorVersion {
		logger.Warn("ignoring unreadable cursor; reading from scratch", "cursor", string(truncate(raw, 200)))
		return false
	}
	if err := json.Unmarshal(raw, v); err != nil {
		logger.Warn("ignoring unreadable cursor; reading from scratch", "cursor", string(truncate(raw, 200)), "err", err)
		return false
	}
	return true
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// encodeCursor marshals a cursor; the cursor types hold only marshalable fields.
func encodeCursor(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic("textrequest: encode cursor: " + err.Error())
	}
	return b
}

// listCursor is the cursor of the full-refresh streams (dashboards, conversations,
// groups, tags, custom fields):
//
//	{"v":1,"page":3,"size":500}   a scan in progress: resume at page 3 of size 500
//	{"v":1,"done":"<time>"}       the last scan completed at that run start
type listCursor struct {
	V     int        `json:"v"`
	Page  int        `json:"page,omitempty"`
	Size  int        `json:"size,omitempty"`
	Total int        `json:"total,omitempty"` // the list's total as of Page
	Done  *time.Time `json:"done,omitempty"`
}

// contactScan is one contacts-list scan of a run: no filter (everything) or one time
// filter from Since.
type contactScan struct {
	// Filter is "" (every contact), "last_message_timestamp_after_utc" or
	// "contact_created_after".
	Filter string     `json:"filter,omitempty"`
	Since  *time.Time `json:"since,omitempty"`
}

// Contacts-list filters (reference §4.3). The *_sent_*/*_received_* filters are avoided:
// they are read as local time in an undocumented zone.
const (
	filterActivity = "last_message_timestamp_after_utc"
	filterCreated  = "contact_created_after"
)

// scanPlan is the progress of a run through its contacts-list scans, stored in the
// cursor so a killed run resumes at the page it stopped at.
type scanPlan struct {
	Scans []contactScan `json:"scans"`
	Step  int           `json:"step,omitempty"` // index of the scan in progress
	Page  int           `json:"page,omitempty"` // page of that scan to read next
	Size  int           `json:"size,omitempty"` // page size the scan uses
	// Total is the scan's total_items on its first page; a later page reporting more
	// means records were inserted during the scan (offset drift), possibly before the
	// pages already read, and Drift is set so a catch-up scan is added.
	Total   int  `json:"total,omitempty"`
	AtTotal int  `json:"at_total,omitempty"` // total_items as of Page, for a resumed scan
	Drift   bool `json:"drift,omitempty"`
	CatchUp bool `json:"catchup,omitempty"` // a catch-up scan was added (at most one per run)
}

// contactsCursor is the contacts stream's per-dashboard cursor:
//
//	{"v":1,
//	 "activity":"<newest last_contact_date_utc seen>",
//	 "created":"<newest date_created_utc seen>",
//	 "swept":"<run start of the last complete full sweep>",
//	 "pages":<pages the last full sweep took>,
//	 "run":{…}}   only while a run is unfinished: its plan and the maxima seen so far
//
// Watermarks come from the data, not from our clock, so a server clock ahead of or
// behind ours loses nothing.
type contactsCursor struct {
	V        int        `json:"v"`
	Activity *time.Time `json:"activity,omitempty"`
	Created  *time.Time `json:"created,omitempty"`
	Swept    *time.Time `json:"swept,omitempty"`
	// Pages is how many pages the last full sweep took: while the whole list fits in
	// one page, a full read costs one request, fewer than the two filtered scans, and
	// also catches edits, so it is used instead.
	Pages int          `json:"pages,omitempty"`
	Run   *contactsRun `json:"run,omitempty"`
}

// contactsRun is an unfinished contacts run.
type contactsRun struct {
	Full     bool       `json:"full,omitempty"` // a full sweep (sets swept when done)
	Started  time.Time  `json:"started"`
	Plan     scanPlan   `json:"plan"`
	Activity *time.Time `json:"activity,omitempty"`
	Created  *time.Time `json:"created,omitempty"`
	Pages    int        `json:"pages,omitempty"` // pages read by the full scan
}

// messagesCursor is the messages stream's per-dashboard cursor:
//
//	{"v":1,
//	 "hw":"<newest last_contact_date_utc of the contacts whose messages were read>",
//	 "seen":{"<phone>":"<last_contact_date_utc as sent>",…},
//	 "run":{…}}
//
// seen holds only contacts whose last activity is within Lookback of hw (at most
// maxSeen of them, the newest): those are the contacts the next run's filter
// (last_message_timestamp_after_utc = hw − Lookback) returns again, and seen lets it
// skip the ones whose last_contact_date_utc did not move. Per-contact watermarks for all
// contacts would make the cursor grow with the account; contacts outside the window
// need none, since the filter does not return them until they move.
type messagesCursor struct {
	V    int               `json:"v"`
	HW   *time.Time        `json:"hw,omitempty"`
	Seen map[string]string `json:"seen,omitempty"`
	Run  *messagesRun      `json:"run,omitempty"`
	// Mode is how the last pass read: "dashboard" (the dashboard-wide list) or
	// "per-contact".
	Mode string `json:"mode,omitempty"`
	// Dash is an unfinished read of the dashboard-wide list.
	Dash *dashRun `json:"dash,omitempty"`
	// NoList is when the dashboard-wide list was last found unusable (unavailable, or
	// without contact phones); it is probed again FullSweepEvery later.
	NoList *time.Time `json:"nolist,omitempty"`
}

// messagesRun is an unfinished messages run.
type messagesRun struct {
	Full    bool      `json:"full,omitempty"` // every contact, every message
	Started time.Time `json:"started"`
	Plan    scanPlan  `json:"plan"`
	// Done lists the contacts of the current contacts page whose messages are loaded.
	Done []string   `json:"done,omitempty"`
	Max  *time.Time `json:"max,omitempty"`
	// Seen is what the run will add to messagesCursor.Seen, pruned after every contacts
	// page as the final cursor will be (pruneSeen): at most maxSeen plus one page.
	Seen map[string]string `json:"seen,omitempty"`
}

// maxSeen caps messagesCursor.Seen: dropping an entry only costs re-reading that
// contact's recent messages once, never a missed message.
const maxSeen = 2000

// paymentsCursor is the payments stream's per-dashboard cursor:
//
//	{"v":1,
//	 "hw":"<newest request_date seen>",
//	 "swept":"<run start of the last complete full sweep>",
//	 "pages":<pages the last full sweep took>,
//	 "run":{…}}
type paymentsCursor struct {
	V     int        `json:"v"`
	HW    *time.Time `json:"hw,omitempty"`
	Swept *time.Time `json:"swept,omitempty"`
	// Pages is how many pages the last full sweep took: while the list fits in one page
	// a full read costs what an incremental one does, and catches status changes too.
	Pages int          `json:"pages,omitempty"`
	Run   *paymentsRun `json:"run,omitempty"`
}

// paymentsRun is an unfinished payments scan (newest first).
type paymentsRun struct {
	Full    bool       `json:"full,omitempty"`
	Started time.Time  `json:"started"`
	Cutoff  *time.Time `json:"cutoff,omitempty"` // stop once a page ends before this
	Page    int        `json:"page,omitempty"`
	Size    int        `json:"size,omitempty"`
	AtTotal int        `json:"at_total,omitempty"` // total_items as of Page, for a resumed scan
	Max     *time.Time `json:"max,omitempty"`
	// Prev is the request_date of the last payment read; a later one that is newer shows
	// the server is not sorting by date, and Unsorted makes the scan read to the end.
	Prev     *time.Time `json:"prev,omitempty"`
	Unsorted bool       `json:"unsorted,omitempty"`
	Pages    int        `json:"pages,omitempty"` // pages read by a full run
}

// maxTime returns the later of a (may be nil) and t (ignored when zero).
func maxTime(a *time.Time, t time.Time) *time.Time {
	if t.IsZero() {
		return a
	}
	if a == nil || t.After(*a) {
		t := t.UTC()
		return &t
	}
	return a
}

func timePtr(t time.Time) *time.Time { return &t }

// sweepDue reports whether a full sweep is due at started.
func sweepDue(swept *time.Time, started time.Time, every time.Duration) bool {
	if every < 0 {
		return swept == nil
	}
	return swept == nil || started.Sub(*swept) >= every
}
