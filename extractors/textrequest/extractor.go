package textrequest

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/crmsync/crmsync/extractors/internal/phones"
	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/stream"
)

// DefaultPageSize is the page_size asked for when Config.PageSize is zero.
const DefaultPageSize = 100

// DefaultPhoneRegion is the region of Text Request numbers written without a country
// code (a US and Canadian SMS service) when Config.PhoneRegion is empty.
const DefaultPhoneRegion = "US"

// Config configures an Extractor. Zero fields take the defaults noted.
type Config struct {
	// Client is the Text Request API client (base URL including /api/v3, the x-api-key
	// header, the account's shared rate limit). Required.
	Client *apiclient.Client
	// Logger receives one debug line per page and warnings (default: discard).
	Logger *slog.Logger
	// PageSize is the page_size asked for (default 100). The API documents no maximum;
	// a server that caps it is paged by what it returns. Bigger pages spend less of the
	// tiny request budget on list scans, but each dashboard read in parallel holds a
	// decoded page (contacts with their tags, groups and fields) in memory.
	PageSize int
	// Ahead is how many pages of a full scan may be fetched concurrently once the total is
	// known (default 1). Early-stopping scans (payments, messages) always read one page
	// at a time so no request is wasted past the stop.
	Ahead int
	// Concurrency is how many dashboards are read in parallel (default 2). The request
	// budget is shared anyway; parallelism only hides latency.
	Concurrency int
	// Lookback is how far before a watermark incremental reads start again (default 24h):
	// it covers clock skew and records that become visible late.
	Lookback time.Duration
	// FullSweepEvery is how often contacts and payments are read completely, to catch
	// edits that leave no trace in their timestamps (default 24h; negative = never).
	FullSweepEvery time.Duration
	// Dashboards limits every stream to these dashboard ids (TEXTREQUEST_DASHBOARDS); empty
	// means every dashboard of the account.
	Dashboards []int64
	// PhoneRegion is the region (ISO 3166 code) assumed for phone numbers written
	// without a country code, in phone_e164 (CRMSYNC_PHONE_REGION; default US).
	PhoneRegion string
}

// Extractor reads the Text Request API v3 into the textrequest.* tables. It is safe for
// concurrent use by several streams.
type Extractor struct {
	cfg    Config
	logger *slog.Logger
	descs  []stream.Desc
	// flushRows bounds a messages batch (defaultFlushRows; tests lower it).
	flushRows int
	// commitEvery bounds the time between two batches of the per-contact messages
	// read (defaultCommitEvery), so a pass cut off under a tight rate limit keeps
	// what it read.
	commitEvery time.Duration

	mu        sync.Mutex
	dashCache struct {
		started time.Time
		ids     []int64
	}
}

// New validates cfg, fills its defaults and returns an Extractor.
func New(cfg Config) (*Extractor, error) {
	if cfg.Client == nil {
		return nil, errors.New("textrequest config: Client is required")
	}
	switch {
	case cfg.PageSize < 0:
		return nil, fmt.Errorf("textrequest config: PageSize %d is negative", cfg.PageSize)
	case cfg.Ahead < 0:
		return nil, fmt.Errorf("textrequest config: Ahead %d is negative", cfg.Ahead)
	case cfg.Concurrency < 0:
		return nil, fmt.Errorf("textrequest config: Concurrency %d is negative", cfg.Concurrency)
	case cfg.Lookback < 0:
		return nil, fmt.Errorf("textrequest config: Lookback %s is negative", cfg.Lookback)
	}
	for _, id := range cfg.Dashboards {
		if id <= 0 {
			return nil, fmt.Errorf("textrequest config: Dashboards: bad dashboard id %d", id)
		}
	}
	region, err := phones.Region(cmp.Or(cfg.PhoneRegion, DefaultPhoneRegion))
	if err != nil {
		return nil, fmt.Errorf("textrequest config: PhoneRegion: %w", err)
	}
	cfg.PhoneRegion = region
	cfg.PageSize = cmp.Or(cfg.PageSize, DefaultPageSize)
	cfg.Ahead = cmp.Or(cfg.Ahead, 1)
	cfg.Concurrency = cmp.Or(cfg.Concurrency, 2)
	cfg.Lookback = cmp.Or(cfg.Lookback, 24*time.Hour)
	cfg.FullSweepEvery = cmp.Or(cfg.FullSweepEvery, 24*time.Hour)
	cfg.Dashboards = slices.Compact(slices.Sorted(slices.Values(cfg.Dashboards)))
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Extractor{cfg: cfg, logger: logger.With("source", Source), descs: descs(), flushRows: defaultFlushRows, commitEvery: defaultCommitEvery}, nil
}

// Streams describes the Text Request streams.
func (e *Extractor) Streams() []stream.Desc {
	out := make([]stream.Desc, len(e.descs))
	copy(out, e.descs)
	return out
}

// Extract runs one stream once; see the package doc for what each stream reads and the
// cursor it keeps.
func (e *Extractor) Extract(ctx context.Context, req stream.Request, out chan<- stream.Batch) error {
	if req.Started.IsZero() {
		req.Started = time.Now()
	}
	logger := e.logger.With("stream", req.Stream.Name)
	var run func(ctx context.Context, p *partition) error
	switch req.Stream.Name {
	case StreamDashboards:
		return e.extractDashboards(ctx, req, out, logger)
	case StreamContacts:
		run = e.runContacts
	case StreamConversations:
		run = e.listRunner(conversationsEndpoint)
	case StreamMessages:
		run = e.runMessages
	case StreamPayments:
		run = e.runPayments
	case StreamGroups:
		run = e.listRunner(groupsEndpoint)
	case StreamTags:
		run = e.listRunner(tagsEndpoint)
	case StreamCustomFields:
		run = e.runCustomFields
	default:
		return fmt.Errorf("textrequest stream %q: %w", req.Stream.Name, stream.ErrUnknownStream)
	}
	return e.perDashboard(ctx, req, out, logger, run)
}

// partition is one dashboard's share of a stream run.
type partition struct {
	req       stream.Request
	dashboard int64
	key       string          // the partition name in sync.state: the dashboard id
	cursor    json.RawMessage // stored cursor; nil when FullRefresh or never run
	// counter counts the partition's requests, for its batches.
	counter *apiclient.Counter
	logger  *slog.Logger
	emit    func(stream.Batch) error
	// note, when set, goes with the next batch emitted (stream.Batch.Notes).
	note string
}

// perDashboard runs one partition per dashboard, up to Concurrency at a time. Each
// partition counts its own requests and sends its batches in order.
func (e *Extractor) perDashboard(ctx context.Context, req stream.Request, out chan<- stream.Batch, logger *slog.Logger, run func(context.Context, *partition) error) error {
	listCounter := apiclient.NewCounter(req.Room)
	var counters []*apiclient.Counter // every partition's, for what no batch reported
	var countersMu sync.Mutex
	defer func() {
		n := listCounter.Take()
		for _, c := range counters {
			n += c.Take()
		}
		sendRequests(out, n)
	}()
	ids, err := e.dashboardIDs(ctx, listCounter, req.Started)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.cfg.Concurrency)
	for _, id := range ids {
		g.Go(func() error {
			counter := listCounter.Sub()
			countersMu.Lock()
			counters = append(counters, counter)
			countersMu.Unlock()
			key := strconv.FormatInt(id, 10)
			p := &partition{req: req, dashboard: id, key: key, counter: counter, logger: logger.With("dashboard", id)}
			if !req.FullRefresh {
				p.cursor = req.State[key]
			}
			p.emit = func(b stream.Batch) error {
				b.Partition = key
				if p.note != "" {
					b.Notes = append(b.Notes, p.note)
					p.note = ""
				}
				// The dashboards list requests are charged to the first batch sent.
				b.Requests += counter.Take() + listCounter.Take()
				return send(gctx, out, b)
			}
			if err := run(gctx, p); err != nil {
				return fmt.Errorf("dashboard %d: %w", id, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// sendRequests reports n requests no batch carried (see stream.Batch.Requests). It
// sends whatever ctx says: the receiver drains the channel until it is closed.
func sendRequests(out chan<- stream.Batch, n int) {
	if n > 0 {
		out <- stream.Batch{Requests: n}
	}
}

func send(ctx context.Context, out chan<- stream.Batch, b stream.Batch) error {
	select {
	case out <- b:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// dashboardIDs returns the dashboards to read: Config.Dashboards, or every dashboard of
// the account. The account list is kept for the run (same req.Started) so the streams of
// one run pay for it once.
func (e *Extractor) dashboardIDs(ctx context.Context, c *apiclient.Counter, started time.Time) ([]int64, error) {
	if len(e.cfg.Dashboards) > 0 {
		return e.cfg.Dashboards, nil
	}
	e.mu.Lock()
	if e.dashCache.ids != nil && e.dashCache.started.Equal(started) {
		ids := e.dashCache.ids
		e.mu.Unlock()
		return ids, nil
	}
	e.mu.Unlock()
	var ids []int64
	err := e.scan(ctx, c, "/dashboards", nil, 0, 0, e.cfg.Ahead, func(p apiclient.Page, _, _ int) error {
		for _, raw := range p.Items {
			if _, id, rej := mapDashboard(raw); rej == nil {
				ids = append(ids, id)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list dashboards: %w", err)
	}
	e.remember(started, ids)
	return e.dashCacheIDs(), nil
}

func (e *Extractor) remember(started time.Time, ids []int64) {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	if ids == nil {
		ids = []int64{}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.dashCache.started = started
	e.dashCache.ids = ids
}

func (e *Extractor) dashCacheIDs() []int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.dashCache.ids
}

// dashboardPath is /dashboards/{id}.
func dashboardPath(id int64) string { return "/dashboards/" + strconv.FormatInt(id, 10) }

// contactPath is /dashboards/{id}/contacts/{phone} with the phone as returned.
// apiclient.Client takes paths unescaped and escapes them when it builds the URL
// ("(" → %28, ")" → %29, " " → %20; "+" is legal in a path and stays), so escaping here
// would escape twice. A phone holding "/" or "?" cannot be one path segment that way:
// pathSafe reports those, and the messages stream skips them with a warning.
func contactPath(id int64, phone string) string {
	return dashboardPath(id) + "/contacts/" + phone
}

// pathSafe reports whether a phone can be sent as one path segment.
func pathSafe(phone string) bool {
	return !strings.ContainsAny(phone, "/?")
}
