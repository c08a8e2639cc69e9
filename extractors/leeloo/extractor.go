package leeloo

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/crmsync/crmsync/extractors/internal/phones"
	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/stream"
)

// Source is the source name of every Leeloo stream.
const Source = "leeloo"

// Defaults of Config.
const (
	DefaultPageSize       = 50 // the reference's recommendation; the server caps (default 100)
	DefaultConcurrency    = 4
	DefaultLookback       = 24 * time.Hour
	DefaultFullSweepEvery = 24 * time.Hour
	DefaultWindowSpan     = 30 * 24 * time.Hour
	DefaultMaxWindowRows  = 2000
)

// DefaultStartDate is the oldest last-message date a first sync asks for (LEELOO_START_DATE).
var DefaultStartDate = time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)

// windowOverlap is how much consecutive windows of one pass overlap. The filter's
// granularity and whether its bounds are inclusive are undocumented (§6.1): a server that
// reads our timestamps as dates, or treats "to" as exclusive, could drop up to a day at each
// window edge, and a one-day overlap covers that. Re-read records are harmless upserts.
const windowOverlap = 24 * time.Hour

// minWindowSpan keeps windows wider than their overlap so that a pass always advances.
const minWindowSpan = 2 * windowOverlap

// Config configures an Extractor. Zero fields take the defaults noted.
type Config struct {
	// Client talks to the API root (LEELOO_BASE_URL, without /api/v2) with the token in
	// the X-Leeloo-AuthToken header. Required.
	Client *apiclient.Client
	// Logger receives warnings (duplicate message ids, unreadable cursors) and debug lines.
	Logger *slog.Logger
	// PageSize is the limit asked for (default 50).
	PageSize int
	// Ahead is how many pages of one list are fetched ahead (default 1: sequential).
	Ahead int
	// Concurrency is how many chats (messages) or details (tunnels, accounts,
	// templates) are read in parallel (default 4).
	Concurrency int
	// Lookback is how far before the previous run's end an incremental run starts again
	// (people, channels), how far below a chat's watermark its scan goes, and how far
	// below the accounts watermark the accounts list is read (default 24h).
	Lookback time.Duration
	// FullSweepEvery is how often the people and channels streams re-read everything from
	// StartDate, and the accounts and tunnels streams every detail, to catch edits that
	// do not move lastMessageTime or the tunnel's list item (default 24h; negative never
	// sweeps; full refresh runs always do).
	FullSweepEvery time.Duration
	// StartDate is the oldest last-message date a full pass asks for (default 2015-01-01).
	StartDate time.Time
	// WindowSpan is the first window's width in a pass over people or channels (default
	// 30 days); the span adapts to the data: it halves while a window holds more than
	// MaxWindowRows and doubles while windows hold less than a quarter of it.
	WindowSpan time.Duration
	// MaxWindowRows bounds the records of one window (default 2,000).
	MaxWindowRows int
	// PhoneRegion is the region (ISO 3166 code) assumed for phone numbers written
	// without a country code, in phone_e164 (CRMSYNC_PHONE_REGION). Default none: Leeloo
	// serves people of any country, so such numbers stay NULL there.
	PhoneRegion string
}

// Extractor runs the Leeloo streams. It is safe for concurrent use: each Extract call
// keeps its state on its own stack.
type Extractor struct {
	cfg Config
	log *slog.Logger
}

// New validates cfg, fills its defaults and returns an Extractor.
func New(cfg Config) (*Extractor, error) {
	if cfg.Client == nil {
		return nil, errors.New("leeloo config: Client is required")
	}
	switch {
	case cfg.PageSize < 0:
		return nil, fmt.Errorf("leeloo config: PageSize %d: must not be negative", cfg.PageSize)
	case cfg.Ahead < 0:
		return nil, fmt.Errorf("leeloo config: Ahead %d: must not be negative", cfg.Ahead)
	case cfg.Concurrency < 0:
		return nil, fmt.Errorf("leeloo config: Concurrency %d: must not be negative", cfg.Concurrency)
	case cfg.Lookback < 0:
		return nil, fmt.Errorf("leeloo config: Lookback %s: must not be negative", cfg.Lookback)
	case cfg.WindowSpan < 0:
		return nil, fmt.Errorf("leeloo config: WindowSpan %s: must not be negative", cfg.WindowSpan)
	case cfg.MaxWindowRows < 0:
		return nil, fmt.Errorf("leeloo config: MaxWindowRows %d: must not be negative", cfg.MaxWindowRows)
	}
	region, err := phones.Region(cfg.PhoneRegion)
	if err != nil {
		return nil, fmt.Errorf("leeloo config: PhoneRegion: %w", err)
	}
	cfg.PhoneRegion = region
	cfg.PageSize = cmp.Or(cfg.PageSize, DefaultPageSize)
	cfg.Ahead = cmp.Or(cfg.Ahead, 1)
	cfg.Concurrency = cmp.Or(cfg.Concurrency, DefaultConcurrency)
	cfg.Lookback = cmp.Or(cfg.Lookback, DefaultLookback)
	cfg.FullSweepEvery = cmp.Or(cfg.FullSweepEvery, DefaultFullSweepEvery)
	cfg.WindowSpan = max(cmp.Or(cfg.WindowSpan, DefaultWindowSpan), minWindowSpan)
	cfg.MaxWindowRows = cmp.Or(cfg.MaxWindowRows, DefaultMaxWindowRows)
	if cfg.StartDate.IsZero() {
		cfg.StartDate = DefaultStartDate
	}
	cfg.StartDate = cfg.StartDate.UTC()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Extractor{cfg: cfg, log: log.With("source", Source)}, nil
}

// Stream names.
const (
	StreamPeople          = "people"
	StreamChannels        = "communication_channels"
	StreamMessages        = "messages"
	StreamOrders          = "orders"
	StreamTunnels         = "tunnels"
	StreamTunnelStats     = "tunnel_stats"
	StreamUsers           = "users"
	StreamTags            = "tags"
	StreamConnections     = "connections"
	StreamTemplates       = "templates"
	StreamAccounts        = "accounts"
	StreamAccountMessages = "account_messages"
)

// Streams describes every Leeloo stream.
func (e *Extractor) Streams() []stream.Desc { return streams() }

func streams() []stream.Desc {
	d := func(name, descr string, mode stream.Mode, tables ...stream.Table) stream.Desc {
		return stream.Desc{Source: Source, Name: name, Description: descr, Mode: mode, Tables: tables}
	}
	msgs := d(StreamMessages, "chat messages of every channel; per channel, only what is newer than its watermark",
		stream.ModeIncremental, messagesTable.table())
	msgs.Partitioned, msgs.CursorsOnDemand = true, true
	v1msgs := d(StreamAccountMessages, "chat messages through the v1 accounts API (off by default: the v2 messages stream fills the same table)",
		stream.ModeIncremental, messagesTable.table())
	v1msgs.Partitioned, v1msgs.CursorsOnDemand, v1msgs.DefaultOff = true, true, true
	// deletes says how a stream marks records deleted at the source (stream.Pass).
	deletes := func(d stream.Desc, how stream.Deletions) stream.Desc { d.Deletions = how; return d }
	return []stream.Desc{
		deletes(d(StreamPeople, "people and their channel links, by last-message windows, with a periodic full sweep",
			stream.ModeIncremental, peopleTable.table(), personChannelsTable.table()), stream.DeletionsSweep),
		deletes(d(StreamChannels, "communication channels with UTM tags, by last-message windows, with a periodic full sweep",
			stream.ModeIncremental, channelsTable.table()), stream.DeletionsSweep),
		msgs,
		deletes(d(StreamOrders, "orders, full scan each run (the API has no filter)", stream.ModeFullRefresh, ordersTable.table()), stream.DeletionsEveryRun),
		deletes(d(StreamTunnels, "tunnels with their lead generation tools and traffic sources; details only of tunnels whose list item changed, with a periodic full sweep",
			stream.ModeIncremental, tunnelsTable.table(), leadgentoolsTable.table(), trafficSourcesTable.table()), stream.DeletionsSweep),
		d(StreamTunnelStats, "one snapshot of every tunnel's statistics per run",
			stream.ModeSnapshot, tunnelStatsTable.table(), statsRevenueTable.table()),
		deletes(d(StreamUsers, "platform users (staff)", stream.ModeFullRefresh, usersTable.table()), stream.DeletionsEveryRun),
		deletes(d(StreamTags, "tags (id and name)", stream.ModeFullRefresh, tagsTable.table()), stream.DeletionsEveryRun),
		deletes(d(StreamConnections, "company-side messenger connections", stream.ModeFullRefresh, connectionsTable.table()), stream.DeletionsEveryRun),
		deletes(d(StreamTemplates, "message template categories and templates",
			stream.ModeFullRefresh, categoriesTable.table(), templatesTable.table()), stream.DeletionsEveryRun),
		deletes(d(StreamAccounts, "v1 accounts with detail and subscription history; details only of accounts with new messages, with a periodic full sweep",
			stream.ModeIncremental, accountsTable.table(), subscriptionsTable.table()), stream.DeletionsSweep),
		v1msgs,
	}
}

// Extract runs one stream once; see the package doc for each stream's reading and cursor.
func (e *Extractor) Extract(ctx context.Context, req stream.Request, out chan<- stream.Batch) error {
	counter := apiclient.NewCounter(req.Room)
	if req.Started.IsZero() {
		req.Started = time.Now()
	}
	req.Started = req.Started.UTC()
	r := &run{e: e, req: req, out: out, counter: counter, log: e.log.With("stream", req.Stream.Name)}
	var err error
	switch req.Stream.Name {
	case StreamPeople:
		err = r.people(ctx)
	case StreamChannels:
		err = r.channels(ctx)
	case StreamMessages:
		err = r.messages(ctx)
	case StreamOrders:
		err = r.orders(ctx)
	case StreamTunnels:
		err = r.tunnels(ctx)
	case StreamTunnelStats:
		err = r.tunnelStats(ctx)
	case StreamUsers:
		err = r.users(ctx)
	case StreamTags:
		err = r.tags(ctx)
	case StreamConnections:
		err = r.connections(ctx)
	case StreamTemplates:
		err = r.templates(ctx)
	case StreamAccounts:
		err = r.accounts(ctx)
	case StreamAccountMessages:
		err = r.accountMessages(ctx)
	default:
		return fmt.Errorf("leeloo stream %q: %w", req.Stream.Name, stream.ErrUnknownStream)
	}
	// What no batch reported (a cut-off or failure before the next batch): sent
	// whatever ctx says, since the receiver drains the channel until it is closed.
	if n := counter.Take() + int(r.unreported.Load()); n > 0 {
		out <- stream.Batch{Requests: n}
	}
	if err != nil && ctx.Err() != nil {
		return ctx.Err() // cancelled: say so plainly, whatever layer noticed first
	}
	return err
}

// run is one Extract call.
type run struct {
	e       *Extractor
	req     stream.Request
	out     chan<- stream.Batch
	counter *apiclient.Counter
	// unreported sums the requests of sub-counters (one per chat) that no batch
	// carried; Extract reports them at its end.
	unreported atomic.Int64
	log        *slog.Logger
	// windowFrom is the start of the listing window walkWindows is reading (zero
	// outside one); page functions run on walkWindows' goroutine and may read it.
	windowFrom time.Time
}

// send hands b to the loader, waiting while the channel is full.
func (r *run) send(ctx context.Context, b stream.Batch) error {
	if err := ctx.Err(); err != nil {
		return err // cancelled: hand on nothing more, even if the channel has room
	}
	select {
	case r.out <- b:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// batch collects one batch's rows and rejects.
type batch struct {
	rows    map[string][]stream.Row
	rejects []stream.Reject
}

func newBatch() *batch { return &batch{rows: map[string][]stream.Row{}} }

func (b *batch) add(table string, row stream.Row) { b.rows[table] = append(b.rows[table], row) }

func (b *batch) reject(table string, raw []byte, err error) {
	b.rejects = append(b.rejects, stream.Reject{Table: table, Reason: err.Error(), Payload: raw})
}

// done turns b into a stream.Batch with the cursor and the requests counted so far.
func (b *batch) done(partition string, cursor json.RawMessage, c *apiclient.Counter) stream.Batch {
	return stream.Batch{Partition: partition, Rows: b.rows, Rejects: b.rejects, Cursor: cursor, Requests: c.Take()}
}

// forEach calls fn for 0..n-1 with at most limit calls at once; the first error cancels
// the others and is returned.
func forEach(ctx context.Context, n, limit int, fn func(ctx context.Context, i int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(limit, 1))
	for i := range n {
		g.Go(func() error { return fn(gctx, i) })
	}
	return g.Wait()
}

// mustJSON marshals a cursor (plain structs of times and ints: it cannot fail).
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("leeloo: marshal cursor: %v", err))
	}
	return b
}

// parseCursor decodes a stored cursor into dst; a cursor that cannot be read (or of
// another version) is treated as absent, with a warning, so the stream reads from scratch.
func (r *run) parseCursor(partition string, dst interface{ version() int }) bool {
	return r.parseRaw(partition, r.req.State[partition], dst)
}

// parseRaw is parseCursor of a cursor read by the caller (stream.Request.Lookup).
func (r *run) parseRaw(partition string, raw json.RawMessage, dst interface{ version() int }) bool {
	if len(raw) == 0 || string(raw) == "null" {
		return false
	}
	if err := json.Unmarshal(raw, dst); err != nil || dst.version() != cursorVersion {
		r.log.Warn("ignoring unreadable cursor; reading from scratch", "partition", partition, "cursor", string(raw))
		return false
	}
	return true
}

// cursorVersion is the version of every cursor this package writes.
const cursorVersion = 1
