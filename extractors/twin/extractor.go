package twin

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/crmsync/crmsync/extractors/internal/lenient"
	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/stream"
)

// Defaults of Config's zero fields.
const (
	DefaultPageSize       = 100
	DefaultConcurrency    = 4
	DefaultLookback       = time.Hour
	DefaultFullSweepEvery = 24 * time.Hour
	DefaultPhoneRegion    = "RU"
)

// DefaultStartDate is the oldest session a first sync reads (TWIN_START_DATE).
var DefaultStartDate = time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)

// Config configures an Extractor.
type Config struct {
	// Client is the chat API client (TWIN_CHAT_URL, the source's budget), made with
	// SetAuthHeader as its apiclient.Config.Auth. Required.
	Client *apiclient.Client
	// Tokens hands out the bearer token (internal/twinauth). Required.
	Tokens Tokens
	// Logger receives debug lines per page and warnings (default: discard).
	Logger *slog.Logger
	// PageSize is the limit asked per page (default 100; TWIN's default is 10, its
	// maximum unknown: a capped page is paged by what it holds).
	PageSize int
	// Concurrency is how many sessions' messages or clients' values are read at once
	// (default 4); the budget is shared anyway.
	Concurrency int
	// Lookback is how far before the last run's start an incremental run reads
	// sessions again (default 1h): clock skew and late updates.
	Lookback time.Duration
	// FullSweepEvery is how often sessions and every known client's attribute values
	// are read completely (default 24h; negative = never): an operator's edit of a
	// value moves no timestamp the API shows.
	FullSweepEvery time.Duration
	// StartDate is the oldest session a full read asks for (default 2015-01-01).
	StartDate time.Time
	// PhoneRegion is the region of phone numbers written without a country code
	// (default RU).
	PhoneRegion string
}

// Extractor reads the TWIN chat API into the twin.* tables. Safe for concurrent use by
// several streams.
type Extractor struct {
	cfg    Config
	logger *slog.Logger
	descs  []stream.Desc
}

// New validates cfg, fills its defaults and returns an Extractor.
func New(cfg Config) (*Extractor, error) {
	switch {
	case cfg.Client == nil:
		return nil, errors.New("twin config: Client is required")
	case cfg.Tokens == nil:
		return nil, errors.New("twin config: Tokens is required")
	case cfg.PageSize < 0, cfg.Concurrency < 0, cfg.Lookback < 0:
		return nil, fmt.Errorf("twin config: PageSize %d, Concurrency %d, Lookback %s: want non-negative values",
			cfg.PageSize, cfg.Concurrency, cfg.Lookback)
	}
	cfg.PageSize = cmp.Or(cfg.PageSize, DefaultPageSize)
	cfg.Concurrency = cmp.Or(cfg.Concurrency, DefaultConcurrency)
	cfg.Lookback = cmp.Or(cfg.Lookback, DefaultLookback)
	cfg.FullSweepEvery = cmp.Or(cfg.FullSweepEvery, DefaultFullSweepEvery)
	cfg.PhoneRegion = cmp.Or(cfg.PhoneRegion, DefaultPhoneRegion)
	if cfg.StartDate.IsZero() {
		cfg.StartDate = DefaultStartDate
	}
	logger := cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))
	return &Extractor{cfg: cfg, logger: logger.With("source", Source), descs: descs()}, nil
}

// Streams describes the TWIN streams.
func (e *Extractor) Streams() []stream.Desc { return append([]stream.Desc(nil), e.descs...) }

// Extract runs one stream once (see the package doc).
func (e *Extractor) Extract(ctx context.Context, req stream.Request, out chan<- stream.Batch) error {
	counter := apiclient.NewCounter(req.Room)
	if req.Started.IsZero() {
		req.Started = time.Now()
	}
	r := &run{e: e, req: req, out: out, counter: counter, log: e.logger.With("stream", req.Stream.Name)}
	defer r.flushRequests()
	switch req.Stream.Name {
	case StreamChats:
		return r.fullList(ctx, "/chats", chatsTable, mapChat)
	case StreamAttributes:
		return r.fullList(ctx, "/clients/attributes", attributesTable, mapAttribute)
	case StreamSessions:
		return r.changedSessions(ctx, r.sessionsPage, true)
	case StreamMessages:
		return r.changedSessions(ctx, r.messagesPage, false)
	case StreamClientAttributes:
		return r.changedSessions(ctx, r.valuesPage, true)
	default:
		return fmt.Errorf("twin stream %q: %w", req.Stream.Name, stream.ErrUnknownStream)
	}
}

// Check logs in and makes one cheap call (for `crmsync check`).
func (e *Extractor) Check(ctx context.Context) error {
	_, _, err := e.list(ctx, nil, "/chats", url.Values{"limit": {"1"}})
	return err
}

// Tokens hands out TWIN bearer tokens (twinauth.Source).
type Tokens interface {
	// Token returns a token that is not about to lapse, logging in or refreshing first;
	// c counts the requests that costs.
	Token(ctx context.Context, c *apiclient.Counter) (string, error)
	// Renew replaces a token the API refused (401) and returns the new one.
	Renew(ctx context.Context, c *apiclient.Counter, refused string) (string, error)
}

type tokenKey struct{}

// SetAuthHeader is the chat API client's apiclient.Config.Auth: it sends the token
// get put in the request's context, so that each request carries the token it was
// made with and a 401 renews exactly that one.
func SetAuthHeader(r *http.Request) {
	if tok, ok := r.Context().Value(tokenKey{}).(string); ok {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
}

// get requests path with a token. A 401 (the token lapsed or was revoked) renews it
// and the request is sent again, while each try has a new token: with concurrent
// requests a new token can lapse again before this request uses it, but a token the
// API refuses twice in a row is a real refusal.
func (e *Extractor) get(ctx context.Context, c *apiclient.Counter, path string, q url.Values, decode func(*apiclient.Response) error) error {
	tok, err := e.cfg.Tokens.Token(ctx, c)
	if err != nil {
		return fmt.Errorf("log in to TWIN: %w", err)
	}
	for attempt := 0; ; attempt++ {
		_, err = e.cfg.Client.GetDecode(context.WithValue(ctx, tokenKey{}, tok), c, path, q, decode)
		var se *apiclient.StatusError
		if !errors.As(err, &se) || se.Status != http.StatusUnauthorized || attempt >= maxAuthRetries {
			return err
		}
		renewed, rerr := e.cfg.Tokens.Renew(ctx, c, tok)
		if rerr != nil {
			return fmt.Errorf("renew the TWIN token after a 401: %w", rerr)
		}
		if renewed == tok {
			return err
		}
		tok = renewed
	}
}

// maxAuthRetries bounds the renewals one request may go through. Concurrent requests
// share the token, so a request can meet a token that others already used up several
// times in a row when tokens last only a few requests: with 4 readers and a token good
// for 3 requests a try fails with a chance near 5/8, and 20 tries failed about once in
// ten thousand requests. A real refusal ends the loop at once (renewed == tok).
const maxAuthRetries = 100

// list fetches one {count, items} page; total is -1 when count is absent or null.
func (e *Extractor) list(ctx context.Context, c *apiclient.Counter, path string, q url.Values) ([]json.RawMessage, int, error) {
	var page struct {
		Count *int              `json:"count"`
		Items []json.RawMessage `json:"items"`
	}
	err := e.get(ctx, c, path, q, func(r *apiclient.Response) error {
		page.Count, page.Items = nil, nil
		if err := lenient.Body(r.Body, &page); err != nil {
			return fmt.Errorf("decode list: %w", err) // a cut body is tried again
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	total := -1
	if page.Count != nil {
		total = *page.Count
	}
	return page.Items, total, nil
}

// pages reads a whole list from offset start, one yield per page; startTotal is the
// list's total as of start (0: unknown), so a resumed scan steps back by what the list
// lost meanwhile.
func (e *Extractor) pages(ctx context.Context, c *apiclient.Counter, path string, q url.Values, start, startTotal int, yield func(apiclient.Page) error) error {
	fetch := func(ctx context.Context, offset, limit int) ([]json.RawMessage, int, error) {
		pq := url.Values{}
		for k, v := range q {
			pq[k] = v
		}
		pq.Set("limit", fmt.Sprint(limit))
		pq.Set("offset", fmt.Sprint(offset))
		return e.list(ctx, c, path, pq)
	}
	return apiclient.OffsetPages(ctx, apiclient.OffsetConfig{Limit: e.cfg.PageSize, Start: start, StartTotal: startTotal}, fetch, yield)
}
