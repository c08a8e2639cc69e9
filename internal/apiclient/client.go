// Package apiclient is the HTTP side shared by every extractor: one Client per source
// with its own rate limiter (shared by every stream of that source), retries with
// exponential backoff and full jitter on 429, 5xx, transport errors and unreadable
// bodies, honouring Retry-After (a 429 slows the whole source, not only the request
// that got it), a per-request timeout, and the two paginators the APIs use
// (limit/offset and page/page_size). It knows neither API's schema.
//
// Secrets: the Client adds credentials through Config.Auth and never puts them in an
// error or a log line; values listed in Config.Secrets are scrubbed from any text it
// returns. Errors and logs name the request path, never its query string (a query may
// carry a token), and the default HTTP client refuses redirects to another host (net/http
// would copy a custom auth header there).
//
// Rate limit: a Limit{N, Per} is enforced so that no rolling window of length Per sees
// more than N attempts (retries included), with some slack for network jitter; see
// window for why not a token bucket.
//
// Counter: every request names the *Counter it is made with, built by the extractor
// from its stream's room (NewCounter(req.Room)): it counts the attempts for the
// stream's batches and holds the request back while the stream has no room.
//
// Paginators: OffsetPages and PagePages hand pages on strictly in order from the
// calling goroutine, optionally fetching ahead, re-read on drift (the total shrinking
// mid-scan), and mark the final page Last.
//
// JSON: GetJSON and GetDecode retry a body that is not well-formed JSON (cut short) like
// a 5xx; a GetDecode decode function reports one by wrapping ErrMalformed.
package apiclient

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Limit is a request budget: N requests per Per. The zero value means unlimited.
type Limit struct {
	N   int
	Per time.Duration
}

// Config configures a Client. Zero fields take the defaults noted.
type Config struct {
	// Source names the API in errors and logs ("leeloo", "textrequest").
	Source string
	// BaseURL is the API root; request paths are joined to it.
	BaseURL string
	// Auth adds the credentials to each request (a header). Never logged.
	Auth func(*http.Request)
	// Secrets are scrubbed from every error text and log line the client produces.
	Secrets []string
	// RateLimit is the source's request budget (default: unlimited). The client keeps
	// every rolling window of length Per at N requests or fewer (see window).
	RateLimit Limit
	// MaxAttempts caps the tries of one request, the first included (default 8).
	MaxAttempts int
	// RequestTimeout bounds one attempt, body read included (default 30s). A request
	// gives up after MaxTimeouts attempts that timed out, whatever MaxAttempts says.
	RequestTimeout time.Duration
	// MinBackoff and MaxBackoff bound the exponential backoff (defaults 500ms, 30s).
	MinBackoff, MaxBackoff time.Duration
	// ErrorCode extracts the API's own error code from an error body, for StatusError
	// (optional).
	ErrorCode func(body []byte) string
	// HTTPClient is the transport (default: a tuned http.Client without a timeout, the
	// per-attempt timeout coming from the context, refusing cross-host redirects). A
	// custom client should refuse them too, or Auth's header follows the redirect.
	HTTPClient *http.Client
	// Logger receives one debug line per request and a warning per retry (default:
	// discard).
	Logger *slog.Logger
}

// Defaults for the zero fields of Config.
const (
	DefaultMaxAttempts    = 8
	DefaultRequestTimeout = 30 * time.Second
	// MaxTimeouts is how many attempts of one request may time out: an API that accepts
	// connections and never answers is down or misaddressed, and eight attempts of a
	// full timeout each would hold a pass for minutes before saying so.
	MaxTimeouts       = 2
	DefaultMinBackoff = 500 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
)

// maxBody caps how much of one answer the client reads, so a broken server cannot
// exhaust memory. Pages of either API are far smaller.
const maxBody = 64 << 20

// Response is a successful (2xx) answer with its body fully read.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Stats are the client's counters since it was made (for /metrics and summaries).
type Stats struct {
	Requests  int64 // attempts sent, retries included
	Retries   int64 // attempts that were retries
	Throttled int64 // 429 answers
	Failures  int64 // requests that ended in an error (a cancelled context aside)
}

// Client is a rate-limited, retrying HTTP client for one API source. It is safe for
// concurrent use; every stream of the source shares one Client and so one budget.
type Client struct {
	cfg   Config
	base  *url.URL
	http  *http.Client
	log   *slog.Logger
	limit *window
	scrub *strings.Replacer

	// notBefore (Unix nanoseconds) is the source-wide pause a 429 sets: no attempt of
	// any goroutine starts before it, because the server throttles the source, not
	// one request.
	notBefore atomic.Int64

	requests, retries, throttled, failures atomic.Int64
}

// New returns a Client for cfg. It fails when BaseURL is not an absolute http(s) URL,
// naming the problem.
func New(cfg Config) (*Client, error) {
	cfg.MaxAttempts = cmp.Or(cfg.MaxAttempts, DefaultMaxAttempts)
	cfg.RequestTimeout = cmp.Or(cfg.RequestTimeout, DefaultRequestTimeout)
	cfg.MinBackoff = cmp.Or(cfg.MinBackoff, DefaultMinBackoff)
	cfg.MaxBackoff = cmp.Or(cfg.MaxBackoff, DefaultMaxBackoff)
	c := &Client{cfg: cfg, scrub: newScrubber(cfg.Secrets)}

	if err := c.validate(); err != nil {
		return nil, err
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("apiclient %s: BaseURL %q: want an absolute http(s) URL with a host",
			cfg.Source, c.scrubText(cfg.BaseURL))
	}
	c.base = base
	c.http = cmp.Or(cfg.HTTPClient, &http.Client{Transport: newTransport(), CheckRedirect: sameHostRedirects})
	c.log = cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)).With("source", cfg.Source)
	c.limit = newWindow(cfg.RateLimit)
	return c, nil
}

func (c *Client) validate() error {
	cfg := c.cfg
	switch {
	case cfg.Source == "":
		return errors.New("apiclient: Source is empty")
	case cfg.MaxAttempts < 1:
		return fmt.Errorf("apiclient %s: MaxAttempts %d: want at least 1", cfg.Source, cfg.MaxAttempts)
	case cfg.RequestTimeout < 0 || cfg.MinBackoff < 0 || cfg.MaxBackoff < cfg.MinBackoff:
		return fmt.Errorf("apiclient %s: timeouts and backoffs must be positive, MinBackoff <= MaxBackoff", cfg.Source)
	case cfg.RateLimit.N < 0 || cfg.RateLimit.Per < 0 || (cfg.RateLimit.N > 0) != (cfg.RateLimit.Per > 0):
		return fmt.Errorf("apiclient %s: RateLimit %d/%s: want both N and Per positive, or both zero",
			cfg.Source, cfg.RateLimit.N, cfg.RateLimit.Per)
	}
	return nil
}

// newTransport is http.DefaultTransport tuned for many concurrent streams to one host:
// the default of 2 idle connections per host would make fetch-ahead reconnect all the
// time.
func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 64
	t.MaxIdleConnsPerHost = 32
	t.IdleConnTimeout = 90 * time.Second
	t.ResponseHeaderTimeout = 0 // the per-attempt context bounds the whole exchange
	return t
}

// errCrossHostRedirect refuses a redirect to another host: net/http copies custom
// headers such as x-api-key onto the redirected request, so following it would hand
// our credentials to a third party.
var errCrossHostRedirect = errors.New("redirect to another host refused")

// sameHostRedirects is the default client's redirect policy.
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if req.URL.Host != via[0].URL.Host || req.URL.Scheme != via[0].URL.Scheme && req.URL.Scheme != "https" {
		return errCrossHostRedirect
	}
	return nil
}

// newScrubber replaces each secret, and its URL-escaped forms, with a placeholder.
// Longer secrets go first so that one secret containing another is replaced whole.
func newScrubber(secrets []string) *strings.Replacer {
	var olds []string
	for _, s := range secrets {
		if s == "" {
			continue
		}
		olds = append(olds, s, url.QueryEscape(s), url.PathEscape(s))
	}
	sort.Slice(olds, func(i, j int) bool { return len(olds[i]) > len(olds[j]) })
	var pairs []string
	seen := map[string]bool{}
	for _, o := range olds {
		if !seen[o] {
			seen[o] = true
			pairs = append(pairs, o, "[REDACTED]")
		}
	}
	return strings.NewReplacer(pairs...)
}

func (c *Client) scrubText(s string) string { return c.scrub.Replace(s) }

// Get sends GET BaseURL+path?query and returns the 2xx response with its body read;
// c counts its attempts and gives it its room (see Counter). It waits for the rate
// limiter, retries 429 (after Retry-After), 5xx, transport errors
// and bodies cut short, and gives up after MaxAttempts with a *StatusError (or the
// transport error) naming the source and path. Other 4xx answers are returned at once as
// *StatusError. A 204 is a success with an empty body.
func (c *Client) Get(ctx context.Context, n *Counter, path string, query url.Values) (*Response, error) {
	return c.do(ctx, n, path, query, nil)
}

// GetJSON is Get followed by json.Unmarshal into v. A 2xx body that is not valid JSON
// (a truncated answer) is retried like a 5xx; after MaxAttempts it returns an error
// naming the path. For a 204 it returns the response and leaves v untouched.
func (c *Client) GetJSON(ctx context.Context, n *Counter, path string, query url.Values, v any) (*Response, error) {
	return c.do(ctx, n, path, query, func(r *Response) error {
		if r.Status == http.StatusNoContent {
			return nil
		}
		// Unmarshal checks the whole body before it stores anything, so a syntax error
		// leaves v as the caller passed it and the retry starts clean.
		err := json.Unmarshal(r.Body, v)
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return errInvalidJSON
		}
		return err
	})
}

// GetDecode is Get with a decode step run on every 2xx body (a 204's empty one
// included): an error wrapping ErrMalformed (a truncated body) retries the request like
// a 5xx, any other error ends it, naming the path. It lets a caller decode a body its
// own way (an envelope, then each item on its own) and check it inside the retry loop.
// decode must not keep state from a failed attempt: it runs again on the retried body.
func (c *Client) GetDecode(ctx context.Context, n *Counter, path string, query url.Values, decode func(r *Response) error) (*Response, error) {
	return c.do(ctx, n, path, query, func(r *Response) error {
		err := decode(r)
		if errors.Is(err, ErrMalformed) {
			return errInvalidJSON
		}
		return err
	})
}

// ErrMalformed, wrapped by the error of a GetDecode decode function, says the body is
// not well-formed JSON (cut short), so the request is retried.
var ErrMalformed = errors.New("malformed JSON")

var errInvalidJSON = errors.New("body is not valid JSON")

// Close closes the client's idle connections. Each idle keep-alive connection holds
// buffers and two goroutines until the transport's idle timeout (90 s), so a process
// that builds clients more than once (tests, benchmarks) or is done with its sources
// closes them. A client given an http.Client by Config closes its idle connections
// too. Requests still running are not affected; the Client stays usable.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	return Stats{
		Requests:  c.requests.Load(),
		Retries:   c.retries.Load(),
		Throttled: c.throttled.Load(),
		Failures:  c.failures.Load(),
	}
}

// do runs the attempt loop. decode, when set, checks a 2xx body; its errInvalidJSON
// makes the attempt retryable, any other error ends the request.
func (c *Client) do(ctx context.Context, n *Counter, path string, query url.Values, decode func(*Response) error) (*Response, error) {
	u := c.requestURL(path, query)
	logPath := c.scrubText(pathOnly(path))
	lastStatus := 0 // the last HTTP answer, for an error that ends on a transport failure
	timeouts := 0
	if err := n.wait(ctx); err != nil {
		return nil, c.ctxErr(ctx, logPath, err)
	}
	for attempt := 1; ; attempt++ {
		if err := c.waitTurn(ctx); err != nil {
			return nil, c.ctxErr(ctx, logPath, err)
		}
		c.requests.Add(1)
		n.add()
		if attempt > 1 {
			c.retries.Add(1)
		}

		resp, fail := c.attempt(ctx, u, logPath, attempt)
		if fail == nil && decode != nil {
			if err := decode(resp); err != nil {
				if !errors.Is(err, errInvalidJSON) {
					c.failures.Add(1)
					return resp, &requestError{msg: c.cfg.Source + " GET " + logPath + ": decode body: " + c.scrubText(err.Error()), err: err}
				}
				fail = &attemptFailure{err: err, retryable: true, reason: "invalid JSON body"}
			}
		}
		if fail == nil {
			return resp, nil
		}
		if fail.status != 0 {
			lastStatus = fail.status
		}
		if ctx.Err() != nil {
			return nil, c.ctxErr(ctx, logPath, ctx.Err())
		}
		if fail.timedOut {
			timeouts++
		}
		if !fail.retryable || attempt >= c.cfg.MaxAttempts || timeouts >= MaxTimeouts {
			c.failures.Add(1)
			return nil, c.giveUp(fail, logPath, attempt, lastStatus)
		}

		wait := c.backoff(attempt)
		if fail.retryAfter > 0 {
			wait = fail.retryAfter
		}
		if fail.status == http.StatusTooManyRequests {
			// The whole source waits: set the shared pause, and this request honours it
			// in waitTurn like every other.
			c.pauseUntil(time.Now().Add(wait))
		}
		c.log.WarnContext(ctx, "retrying request", "path", logPath, "attempt", attempt,
			"status", fail.status, "reason", fail.reason, "wait", wait)
		if fail.status != http.StatusTooManyRequests {
			if err := sleep(ctx, wait); err != nil {
				return nil, c.ctxErr(ctx, logPath, err)
			}
		}
	}
}

// attemptFailure describes why one attempt did not succeed.
type attemptFailure struct {
	status     int          // HTTP status, 0 for a transport error
	statusErr  *StatusError // set for a non-2xx answer
	err        error        // the transport or decode error
	retryable  bool
	timedOut   bool // no complete answer within RequestTimeout
	retryAfter time.Duration
	reason     string // scrubbed, for the retry log line
}

// attempt sends one request and reads its body under the per-attempt timeout.
func (c *Client) attempt(ctx context.Context, u, logPath string, attempt int) (*Response, *attemptFailure) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	start := time.Now()

	req, err := http.NewRequestWithContext(actx, http.MethodGet, u, nil)
	if err != nil {
		// A bad path: no attempt can fix it.
		return nil, &attemptFailure{err: errors.New("build request: " + c.scrubText(unwrapURLError(err).Error())), reason: "bad request URL"}
	}
	req.Header["Accept"] = acceptJSON
	if c.cfg.Auth != nil {
		c.cfg.Auth(req)
	}

	resp, err := c.http.Do(req)
	var body []byte
	if err == nil {
		body, err = readBody(resp.Body, resp.ContentLength)
		resp.Body.Close()
	}
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	// Checked first: the arguments would be boxed (two allocations per request) even
	// when the line is then dropped.
	if c.log.Enabled(ctx, slog.LevelDebug) {
		c.log.DebugContext(ctx, "http request", "path", logPath, "status", status,
			"duration", time.Since(start), "attempt", attempt)
	}

	if err != nil {
		err = unwrapURLError(err)
		timedOut := actx.Err() != nil && ctx.Err() == nil
		if timedOut {
			err = fmt.Errorf("no complete answer within %s: %w", c.cfg.RequestTimeout, err)
		}
		// A transport failure of a GET is worth another try: refused and reset
		// connections, a body cut short (io.ErrUnexpectedEOF), a timeout. A bad
		// certificate or a refused redirect will not heal within the backoff.
		var certErr *tls.CertificateVerificationError
		retry := !errors.As(err, &certErr) && !errors.Is(err, errCrossHostRedirect) && !errors.Is(err, ErrBodyTooLarge)
		return nil, &attemptFailure{status: status, err: err, retryable: retry, timedOut: timedOut, reason: c.scrubText(err.Error())}
	}

	if status >= 200 && status < 300 {
		return &Response{Status: status, Header: resp.Header, Body: body}, nil
	}

	se := &StatusError{
		Source:     c.cfg.Source,
		Path:       logPath,
		Status:     status,
		Body:       excerpt([]byte(c.scrubText(excerpt(body, 4096))), 512), // scrub before cutting: no half secret
		RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now()),
	}
	if c.cfg.ErrorCode != nil {
		se.Code = c.scrubText(c.cfg.ErrorCode(body))
	}
	if status == http.StatusTooManyRequests {
		c.throttled.Add(1)
	}
	return nil, &attemptFailure{
		status:     status,
		statusErr:  se,
		retryable:  se.Retryable(),
		retryAfter: se.RetryAfter,
		reason:     "HTTP " + strconv.Itoa(status),
	}
}

// readBody reads a body of at most maxBody bytes; a larger one fails with
// ErrBodyTooLarge, at once when its Content-Length says so. When the server announced its length
// (the APIs send Content-Length), the body is read into one slice of that size, instead
// of io.ReadAll's growing chunks and final copy (which cost as much as the body itself
// in allocation per request). The slice is the caller's: rows keep sub-slices of it.
func readBody(r io.Reader, size int64) ([]byte, error) {
	if size > maxBody {
		return nil, fmt.Errorf("%w: Content-Length %d bytes, the cap is %d", ErrBodyTooLarge, size, maxBody)
	}
	if size < 0 {
		return readCapped(r, nil)
	}
	// One spare byte, so the final read that reports EOF has room and the slice need not
	// grow; net/http's body reader never returns more than the announced length.
	b := make([]byte, 0, size+1)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
		if len(b) == cap(b) { // more than announced: read the rest as without a length
			return readCapped(r, b)
		}
	}
}

// readCapped reads the rest of r after b, failing with ErrBodyTooLarge as soon as the
// whole passes maxBody rather than handing a cut body on to a decoder. With no length to
// size one slice, it reads into blocks of growing size and joins them once at the end:
// io.ReadAll's growing slice leaves a copy of every size it passed through on the heap,
// several times the body by the time it reaches the cap.
func readCapped(r io.Reader, b []byte) ([]byte, error) {
	var blocks [][]byte
	if len(b) > 0 {
		blocks = append(blocks, b)
	}
	total := int64(len(b))
	var err error
	for size := 32 << 10; ; size = min(2*size, 4<<20) {
		block := make([]byte, size)
		n := 0
		for n < size && err == nil {
			var m int
			m, err = r.Read(block[n:])
			n += m
		}
		if total += int64(n); total > maxBody {
			return nil, fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, maxBody)
		}
		if n > 0 {
			blocks = append(blocks, block[:n])
		}
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			break
		}
	}
	if len(blocks) == 1 {
		return blocks[0], err
	}
	out := make([]byte, 0, total)
	for _, block := range blocks {
		out = append(out, block...)
	}
	return out, err
}

// ErrBodyTooLarge is returned for an answer above the client's cap (64 MiB). It is not
// retried: the same request would bring the same answer.
var ErrBodyTooLarge = errors.New("answer too large")

// acceptJSON is every request's Accept header, one slice for all of them (net/http only
// reads it; Header.Set would allocate one per request).
var acceptJSON = []string{"application/json"}

// giveUp builds the error a request ends with.
func (c *Client) giveUp(f *attemptFailure, logPath string, attempts, lastStatus int) error {
	if f.statusErr != nil {
		f.statusErr.Attempts = attempts
		return f.statusErr
	}
	msg := c.cfg.Source + " GET " + logPath + ": "
	if attempts > 1 {
		msg += "gave up after " + strconv.Itoa(attempts) + " attempts: "
	}
	msg += c.scrubText(f.err.Error())
	if lastStatus != 0 {
		msg += " (last answer: HTTP " + strconv.Itoa(lastStatus) + ")"
	}
	return &requestError{msg: msg, err: f.err}
}

func (c *Client) ctxErr(ctx context.Context, logPath string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		err = cerr
	}
	return &requestError{msg: c.cfg.Source + " GET " + logPath + ": " + c.scrubText(err.Error()), err: err}
}

// waitTurn blocks until the source-wide pause is over and the rate limit lets the
// attempt go.
func (c *Client) waitTurn(ctx context.Context) error {
	for {
		if d := time.Until(time.Unix(0, c.notBefore.Load())); d > 0 {
			if err := sleep(ctx, d); err != nil {
				return err
			}
		}
		if err := c.limit.wait(ctx); err != nil {
			return fmt.Errorf("wait for rate limiter: %w", err)
		}
		// A 429 may have paused the source while we waited; the spent slot only makes
		// us slower, which is the point.
		if time.Now().UnixNano() < c.notBefore.Load() {
			continue
		}
		return nil
	}
}

// pauseUntil moves the source-wide pause forward (never back).
func (c *Client) pauseUntil(t time.Time) {
	nt := t.UnixNano()
	for {
		cur := c.notBefore.Load()
		if cur >= nt || c.notBefore.CompareAndSwap(cur, nt) {
			return
		}
	}
}

// backoff is the wait before retry number attempt (1 = after the first attempt):
// uniform in [MinBackoff, min(MaxBackoff, MinBackoff·2^attempt)] ("full jitter" above the
// floor), so concurrent retries spread out instead of arriving together.
func (c *Client) backoff(attempt int) time.Duration {
	lo, hi := c.cfg.MinBackoff, c.cfg.MinBackoff
	for i := 0; i < attempt && hi < c.cfg.MaxBackoff; i++ {
		hi *= 2
	}
	hi = min(hi, c.cfg.MaxBackoff)
	if hi <= lo {
		return lo
	}
	return lo + rand.N(hi-lo+1)
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// requestURL joins BaseURL, path and query.
func (c *Client) requestURL(path string, query url.Values) string {
	u := *c.base
	rel, q, hasQuery := strings.Cut(path, "?")
	u.Path = strings.TrimSuffix(u.Path, "/") + "/" + strings.TrimPrefix(rel, "/")
	u.RawPath = ""
	if !hasQuery {
		// Nothing to merge (the usual case): no copy of query into a fresh map.
		u.RawQuery = query.Encode()
		return u.String()
	}
	vals := url.Values{}
	if pq, err := url.ParseQuery(q); err == nil {
		for k, vs := range pq {
			vals[k] = append(vals[k], vs...)
		}
	}
	for k, vs := range query {
		vals[k] = append(vals[k], vs...)
	}
	u.RawQuery = vals.Encode()
	return u.String()
}

// pathOnly drops a query string a caller may have put in path.
func pathOnly(path string) string {
	p, _, _ := strings.Cut(path, "?")
	return p
}

// unwrapURLError drops *url.Error's wrapper, whose text repeats the full URL with its
// query string.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// retryAfter reads a Retry-After header: delta seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, 24*3600)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// excerpt returns at most n bytes of b as valid UTF-8.
func excerpt(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return strings.ToValidUTF8(string(b), "")
}

// StatusError is a non-2xx answer (after retries, for retryable ones). Its text names
// the source, the path (never the query, which could hold a secret), the HTTP status,
// the API's error code and the attempts made, and carries a scrubbed excerpt of the
// body.
type StatusError struct {
	Source     string
	Method     string // empty for GET
	Path       string
	Status     int
	Code       string        // the API's own error code, when the body has one
	Body       string        // at most 512 bytes of the body, secrets scrubbed
	RetryAfter time.Duration // from the Retry-After header, if any
	Attempts   int           // attempts made before giving up
}

// Error names source, path, status, the API's code and the attempts made.
func (e *StatusError) Error() string {
	msg := e.Source + " " + cmp.Or(e.Method, http.MethodGet) + " " + e.Path + ": HTTP " + strconv.Itoa(e.Status) + " " + http.StatusText(e.Status)
	if e.Code != "" {
		msg += " (" + e.Code + ")"
	}
	if e.Attempts > 1 {
		msg += " after " + strconv.Itoa(e.Attempts) + " attempts"
	}
	return msg
}

// Retryable reports whether another attempt could succeed (429 and 5xx).
func (e *StatusError) Retryable() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// requestError is a request that ended without an HTTP answer to report (transport
// failure, cancelled context). Its text is scrubbed and has no query string; Unwrap
// gives the cause for errors.Is (context.Canceled, io.ErrUnexpectedEOF, ...).
type requestError struct {
	msg string
	err error
}

func (e *requestError) Error() string { return e.msg }
func (e *requestError) Unwrap() error { return e.err }

// Timeout reports whether the cause was a timeout, as net.Error does.
func (e *requestError) Timeout() bool {
	var ne net.Error
	return errors.Is(e.err, context.DeadlineExceeded) || (errors.As(e.err, &ne) && ne.Timeout())
}
