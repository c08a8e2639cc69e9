package calltouch

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/extractors/internal/lenient"
	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/stream"
)

// Defaults of Config.
const (
	DefaultLookback   = 14 * 24 * time.Hour
	DefaultWindowDays = 90
	DefaultPageSize   = 1000
	DefaultRegion     = "RU"
	maxWindowDays     = 90 // third-party code chunks periods to 90 days (the API's "3 months")
	maxPageSize       = 1000
	daysPerBatch      = 7 // days of a page per batch in a run that marks deletions
)

// DefaultStartDate is the first day a first sync reads when Config.StartDate is zero.
var DefaultStartDate = time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)

// Config configures an Extractor. Zero fields take the defaults noted.
type Config struct {
	// Client is the Calltouch API client: base URL (https://api.calltouch.ru), the
	// clientApiId query parameter added by its Auth, the token in its Secrets, the
	// budget of the whole API. Required.
	Client *apiclient.Client
	// SiteID is the cabinet (CALLTOUCH_SITE_ID). Required.
	SiteID int64
	// Token is the API token; it is scrubbed from every record's raw JSON (and so from
	// its columns) in all its forms, should the API ever echo it. The client adds it to
	// requests and scrubs it from errors and logs.
	Token string
	// StartDate is the first day a first sync (or --full-refresh) reads (default
	// 2015-01-01), taken as a day of the cabinet's calendar.
	StartDate time.Time
	// Lookback is how many days before the last day read an incremental run starts
	// again, for the late edits of tags, comments, deals and target flags (default 14
	// days; rounded up to whole days, at least one, so today is always read again).
	Lookback time.Duration
	// WindowDays is the length of one journal request's period (default and maximum 90).
	WindowDays int
	// PageSize is the calls journal's limit (default and maximum 1000).
	PageSize int
	// Region is assumed for phones without a country code in phone_e164 (default RU).
	Region string
	// Logger receives warnings and one debug line per window (default: discard).
	Logger *slog.Logger
}

// Extractor reads the Calltouch calls and requests journals into calltouch.*. It is
// safe for concurrent use by both streams.
type Extractor struct {
	cfg    Config
	start  day
	lookD  int
	scrub  *strings.Replacer
	logger *slog.Logger
}

// New validates cfg, fills its defaults and returns an Extractor.
func New(cfg Config) (*Extractor, error) {
	switch {
	case cfg.Client == nil:
		return nil, errors.New("calltouch config: Client is required")
	case cfg.SiteID <= 0:
		return nil, fmt.Errorf("calltouch config: SiteID %d: want the cabinet id (CALLTOUCH_SITE_ID), a positive number", cfg.SiteID)
	case cfg.Lookback < 0:
		return nil, fmt.Errorf("calltouch config: Lookback %s is negative", cfg.Lookback)
	case cfg.WindowDays < 0 || cfg.WindowDays > maxWindowDays:
		return nil, fmt.Errorf("calltouch config: WindowDays %d: want 1 to %d", cfg.WindowDays, maxWindowDays)
	case cfg.PageSize < 0 || cfg.PageSize > maxPageSize:
		return nil, fmt.Errorf("calltouch config: PageSize %d: want 1 to %d", cfg.PageSize, maxPageSize)
	}
	cfg.Lookback = cmp.Or(cfg.Lookback, DefaultLookback)
	cfg.WindowDays = cmp.Or(cfg.WindowDays, DefaultWindowDays)
	cfg.PageSize = cmp.Or(cfg.PageSize, DefaultPageSize)
	cfg.Region = cmp.Or(cfg.Region, DefaultRegion)
	if cfg.StartDate.IsZero() {
		cfg.StartDate = DefaultStartDate
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	e := &Extractor{cfg: cfg, logger: logger.With("source", Source),
		start: dayOfDate(cfg.StartDate), lookD: int((cfg.Lookback + 24*time.Hour - 1) / (24 * time.Hour))}
	e.lookD = max(e.lookD, 1)
	var pairs []string
	if cfg.Token != "" {
		for _, f := range []string{cfg.Token, url.QueryEscape(cfg.Token), url.PathEscape(cfg.Token), jsonEscaped(cfg.Token)} {
			pairs = append(pairs, f, "[REDACTED]")
		}
	}
	e.scrub = strings.NewReplacer(pairs...)
	return e, nil
}

// jsonEscaped is the token as encoding/json writes it inside a string (with \u003c and
// friends), the form it would have in raw if an API echoed it in a JSON value.
func jsonEscaped(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// Streams describes the Calltouch streams.
func (e *Extractor) Streams() []stream.Desc { return descs() }

// cursor is a stream's checkpoint. Done is the last day a completed run read through;
// Run is the run in progress: the window it is reading (From), the last day it reads
// (Until) and the next page of the window (Page, 1-based; 0 = the window not started).
type cursor struct {
	V    int       `json:"v"`
	Done string    `json:"done,omitempty"`
	Run  *runState `json:"run,omitempty"`
}

type runState struct {
	From  string `json:"from"`
	Until string `json:"until"`
	Page  int    `json:"page,omitempty"`
	Size  int    `json:"size,omitempty"`
	Total int    `json:"total,omitempty"` // the window's recordsTotal as of Page
	Marks bool   `json:"marks,omitempty"` // the run marks deletions (not a first sync)
}

const cursorVersion = 1

// journal is what differs between the two streams.
type journal struct {
	table  stream.Table
	dayCol string
	mapRow func(json.RawMessage) (stream.Row, time.Time, error)
	// read fetches one window and hands each page of records to yield with the 0-based
	// page number that follows it (0 when the window has no pages).
	read func(ctx context.Context, c *apiclient.Counter, from, to day, rs *runState, yield func(items []json.RawMessage, next, size int) error) error
}

func (e *Extractor) journal(name string) (journal, error) {
	switch name {
	case StreamCalls:
		return journal{table: callsTable, dayCol: "call_date", mapRow: e.mapCall, read: e.readCalls}, nil
	case StreamRequests:
		return journal{table: requestsTable, dayCol: "request_date", mapRow: e.mapRequest, read: e.readRequests}, nil
	}
	return journal{}, fmt.Errorf("calltouch stream %q: %w", name, stream.ErrUnknownStream)
}

// Extract runs one stream once: from the stored cursor (or a fresh run: from
// StartDate on a first sync or a full refresh, else from Done minus the lookback)
// through today, window by window. Every page is committed with the cursor that
// resumes after it.
func (e *Extractor) Extract(ctx context.Context, req stream.Request, out chan<- stream.Batch) error {
	j, err := e.journal(req.Stream.Name)
	if err != nil {
		return err
	}
	counter := apiclient.NewCounter(req.Room)
	// Requests no batch carried (a failure or a cut-off) are still reported.
	defer func() {
		if n := counter.Take(); n > 0 {
			out <- stream.Batch{Requests: n}
		}
	}()
	if req.Started.IsZero() {
		req.Started = time.Now()
	}
	logger := e.logger.With("stream", req.Stream.Name)
	cur := cursor{V: cursorVersion}
	if raw := req.State[""]; raw != nil && !req.FullRefresh {
		if err := json.Unmarshal(raw, &cur); err != nil || cur.V != cursorVersion {
			logger.WarnContext(ctx, "ignoring a cursor that cannot be read; reading from the start date", "error", err)
			cur = cursor{V: cursorVersion}
		}
	}
	today := dayOfTime(req.Started)
	if cur.Run == nil {
		from := e.start
		if done, ok := parseDay(cur.Done); ok {
			from = maxDay(from, done.add(-e.lookD))
		}
		cur.Run = &runState{From: minDay(from, today).String(), Until: today.String(), Marks: cur.Done != "" || req.FullRefresh}
	}
	emit := func(b stream.Batch) error {
		b.Requests += counter.Take()
		select {
		case out <- b:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for {
		rs := cur.Run
		from, ok1 := parseDay(rs.From)
		until, ok2 := parseDay(rs.Until)
		if !ok1 || !ok2 || until.before(from) {
			return fmt.Errorf("calltouch %s: cursor run %s..%s cannot be read", req.Stream.Name, rs.From, rs.Until)
		}
		to := minDay(from.add(e.cfg.WindowDays-1), until)
		if err := e.window(ctx, counter, j, &cur, from, to, emit, logger); err != nil {
			return fmt.Errorf("read %s %s..%s: %w", req.Stream.Name, from, to, err)
		}
		if to == until {
			return nil
		}
	}
}

// window reads one window and commits it: a first batch that starts the deletion
// passes of its days, a batch per day of each page, and a last batch that completes
// the passes (marking what a day's complete list no longer holds) with the cursor that
// moves on to the next window (or ends the run).
func (e *Extractor) window(ctx context.Context, c *apiclient.Counter, j journal, cur *cursor, from, to day, emit func(stream.Batch) error, logger *slog.Logger) error {
	rs := cur.Run
	days := daysBetween(from, to)
	scope := func(d day) stream.Scope {
		return stream.Scope{"site_id": strconv.FormatInt(e.cfg.SiteID, 10), j.dayCol: d.String()}
	}
	if rs.Page == 0 {
		next := *rs
		next.Page = 1
		b := stream.Batch{Cursor: encode(cursor{V: cursorVersion, Done: cur.Done, Run: &next})}
		if rs.Marks {
			for _, d := range days {
				b.Passes = append(b.Passes, stream.Pass{Table: j.table.Name, Scope: scope(d), Start: true})
			}
		}
		if err := emit(b); err != nil {
			return err
		}
		*rs = next
	}
	rejected := false
	err := j.read(ctx, c, from, to, rs, func(items []json.RawMessage, next, size int) error {
		byDay := map[day][]stream.Row{}
		var order []day
		var other []stream.Row
		var rejects []stream.Reject
		for _, raw := range items {
			raw = e.scrubRaw(raw)
			row, at, err := j.mapRow(raw)
			if err != nil {
				rejects = append(rejects, stream.Reject{Table: j.table.Name, Reason: err.Error(), Payload: raw})
				continue
			}
			d := dayOfTime(at)
			if d.before(from) || to.before(d) {
				other = append(other, row)
				continue
			}
			if _, ok := byDay[d]; !ok {
				order = append(order, d)
			}
			byDay[d] = append(byDay[d], row)
		}
		rejected = rejected || len(rejects) > 0
		rs.Page, rs.Size = next+1, size
		// The page goes in batches of at most daysPerBatch days (one batch when the run
		// marks nothing). A marking run's batch carries a pass per day it holds, and the
		// loader records all its keys under each of them: fewer days per batch record
		// fewer keys, more days make fewer transactions. The last batch also carries the
		// rejects, rows outside the window (none from a server that honours it) and the
		// page's cursor.
		per := len(order)
		if rs.Marks {
			per = daysPerBatch
		}
		var batches []stream.Batch
		for i := 0; i < len(order) || i == 0; i += max(per, 1) {
			var b stream.Batch
			var rows []stream.Row
			for _, d := range order[i:min(i+per, len(order))] {
				rows = append(rows, byDay[d]...)
				if rs.Marks {
					b.Passes = append(b.Passes, stream.Pass{Table: j.table.Name, Scope: scope(d)})
				}
			}
			if len(rows) > 0 {
				b.Rows = map[string][]stream.Row{j.table.Name: rows}
			}
			batches = append(batches, b)
		}
		last := &batches[len(batches)-1]
		last.Rejects, last.Cursor = rejects, encode(*cur)
		if len(other) > 0 {
			if last.Rows == nil {
				last.Rows = map[string][]stream.Row{}
			}
			last.Rows[j.table.Name] = append(last.Rows[j.table.Name], other...)
		}
		for _, b := range batches {
			if err := emit(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	done := stream.Batch{}
	if rs.Marks && rejected {
		logger.WarnContext(ctx, "some records were rejected; deletions in this window are not marked", "from", from.String(), "to", to.String())
	}
	if rs.Marks && !rejected {
		for _, d := range days {
			done.Passes = append(done.Passes, stream.Pass{Table: j.table.Name, Scope: scope(d), Done: true})
		}
	}
	until, _ := parseDay(rs.Until)
	if to == until {
		cur.Done, cur.Run = rs.Until, nil
	} else {
		*rs = runState{From: to.add(1).String(), Until: rs.Until, Marks: rs.Marks}
	}
	done.Cursor = encode(*cur)
	logger.DebugContext(ctx, "window read", "from", from.String(), "to", to.String())
	return emit(done)
}

// scrubRaw removes the token from a record, should the API ever echo it.
func (e *Extractor) scrubRaw(raw json.RawMessage) json.RawMessage {
	if e.cfg.Token == "" || !bytes.Contains(raw, []byte(e.cfg.Token)) && !bytes.Contains(raw, []byte(url.QueryEscape(e.cfg.Token))) &&
		!bytes.Contains(raw, []byte(jsonEscaped(e.cfg.Token))) && !bytes.Contains(raw, []byte(url.PathEscape(e.cfg.Token))) {
		return raw
	}
	return json.RawMessage(e.scrub.Replace(string(raw)))
}

func encode(c cursor) json.RawMessage {
	b, _ := json.Marshal(c)
	return b
}

// readCalls pages one window of the calls journal (page and limit always sent: the
// envelope, and more than one day per request).
func (e *Extractor) readCalls(ctx context.Context, c *apiclient.Counter, from, to day, rs *runState, yield func([]json.RawMessage, int, int) error) error {
	path := "/calls-service/RestAPI/" + strconv.FormatInt(e.cfg.SiteID, 10) + "/calls-diary/calls"
	size := cmp.Or(rs.Size, e.cfg.PageSize)
	fetch := func(ctx context.Context, page, size int) ([]json.RawMessage, int, bool, error) {
		q := url.Values{
			"dateFrom": {from.format(callsDayLayout)}, "dateTo": {to.format(callsDayLayout)},
			"page": {strconv.Itoa(page + 1)}, "limit": {strconv.Itoa(size)},
			"withCallTags": {"true"}, "withComments": {"true"}, "withOrders": {"true"},
		}
		var body json.RawMessage
		if _, err := e.cfg.Client.GetJSON(ctx, c, path, q, &body); err != nil {
			return nil, 0, false, err
		}
		items, total, err := decodeEnvelope(body)
		return items, total, false, err
	}
	// StartTotal: calls deleted since the cursor was committed pull later ones into
	// pages already read; the resumed scan steps back by as many.
	cfg := apiclient.PageConfig{PageSize: size, StartPage: max(rs.Page-1, 0), StartTotal: rs.Total}
	return apiclient.PagePages(ctx, cfg, fetch, func(p apiclient.Page) error {
		rs.Total = max(p.Total, 0)
		return yield(p.Items, p.Number+1, p.Size)
	})
}

// decodeEnvelope reads {page, pageTotal, pageSize, recordsTotal, records}, numbers as
// numbers or strings; a bare array (a server ignoring page and limit) is one page.
func decodeEnvelope(body json.RawMessage) ([]json.RawMessage, int, error) {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(body, &items); err != nil {
			return nil, 0, fmt.Errorf("decode records: %w", err)
		}
		return items, len(items), nil
	}
	var env struct {
		Records      []json.RawMessage `json:"records"`
		RecordsTotal lenient.Int       `json:"recordsTotal"`
	}
	if err := lenient.Decode(body, &env); err != nil {
		return nil, 0, fmt.Errorf("decode envelope: %w", err)
	}
	if !env.RecordsTotal.Valid {
		return env.Records, -1, nil
	}
	return env.Records, int(env.RecordsTotal.V), nil
}

// readRequests reads one window of the requests journal: one request, a bare array.
func (e *Extractor) readRequests(ctx context.Context, c *apiclient.Counter, from, to day, rs *runState, yield func([]json.RawMessage, int, int) error) error {
	if rs.Page > 1 {
		return nil // the window's one answer is committed already
	}
	q := url.Values{
		"siteId":   {strconv.FormatInt(e.cfg.SiteID, 10)},
		"dateFrom": {from.format(requestsDayLayout)}, "dateTo": {to.format(requestsDayLayout)},
		"withRequestTags": {"true"},
	}
	var items []json.RawMessage
	if _, err := e.cfg.Client.GetJSON(ctx, c, "/calls-service/RestAPI/requests", q, &items); err != nil {
		return err
	}
	return yield(items, 1, 0)
}

// ErrorCode extracts Calltouch's error text ({"message": ...} or the lead-service's
// {"data": {"message"|"type": ...}}) for apiclient.StatusError.
func ErrorCode(body []byte) string {
	var e struct {
		Message string `json:"message"`
		Data    struct {
			Message string `json:"message"`
			Type    string `json:"type"`
		} `json:"data"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	return cmp.Or(e.Message, e.Data.Message, e.Data.Type)
}
