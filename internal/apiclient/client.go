// Package apiclient is the HTTP side shared by every extractor: one Client per source
// with its own rate limiter (shared by every stream of that source), retries with
// exponential backoff and full jitter on 429, 5xx, transport errors and unreadable
// bodies, honouring Retry-After (a 429 slows the whole source, not only the request
// that got it), a per-request timeout, and the two paginators the APIs use
// (limit/offset and page/page_size). It knows neither API's schema.
//
// Secrets: the Client adds credentials through Config.Auth and never puts them in an
// error or a log line; values listed in Config.Secrets are scrubbed from any text it
// returns.
package apiclient

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
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
	// RateLimit is the source's request budget (default: unlimited).
	RateLimit Limit
	// MaxAttempts caps the tries of one request, the first included (default 8).
	MaxAttempts int
	// RequestTimeout bounds one attempt, body read included (default 60s).
	RequestTimeout time.Duration
	// MinBackoff and MaxBackoff bound the exponential backoff (defaults 500ms, 30s).
	MinBackoff, MaxBackoff time.Duration
	// ErrorCode extracts the API's own error code from an error body, for StatusError
	// (optional).
	ErrorCode func(body []byte) string
	// HTTPClient is the transport (default: a tuned http.Client without a timeout, the
	// per-attempt timeout coming from the context).
	HTTPClient *http.Client
	// Logger receives one debug line per request and a warning per retry.
	Logger *slog.Logger
}

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
	Failures  int64 // requests that failed after every attempt
}

// Client is a rate-limited, retrying HTTP client for one API source. It is safe for
// concurrent use; every stream of the source shares one Client and so one budget.
type Client struct {
	cfg Config
}

// New returns a Client for cfg. It fails when BaseURL is not an absolute http(s) URL,
// naming the problem.
func New(cfg Config) (*Client, error) {
	panic("apiclient: not implemented yet")
}

// Get sends GET BaseURL+path?query and returns the 2xx response with its body read.
// It waits for the rate limiter, retries 429 (after Retry-After), 5xx, transport errors
// and bodies cut short, and gives up after MaxAttempts with a *StatusError (or the
// transport error) naming the source and path. Other 4xx answers are returned at once as
// *StatusError. A 204 is a success with an empty body.
func (c *Client) Get(ctx context.Context, path string, query url.Values) (*Response, error) {
	panic("apiclient: not implemented yet")
}

// GetJSON is Get followed by json.Unmarshal into v. A 2xx body that is not valid JSON
// (a truncated answer) is retried like a 5xx; after MaxAttempts it returns an error
// naming the path. For a 204 it returns the response and leaves v untouched.
func (c *Client) GetJSON(ctx context.Context, path string, query url.Values, v any) (*Response, error) {
	panic("apiclient: not implemented yet")
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	panic("apiclient: not implemented yet")
}

// StatusError is a non-2xx answer (after retries, for retryable ones). Its text names
// the source, the path (never the query, which could hold a secret), the HTTP status and
// the API's error code, and carries a scrubbed excerpt of the body.
type StatusError struct {
	Source     string
	Path       string
	Status     int
	Code       string        // the API's own error code, when the body has one
	Body       string        // at most 512 bytes of the body, secrets scrubbed
	RetryAfter time.Duration // from the Retry-After header, if any
}

func (e *StatusError) Error() string {
	msg := e.Source + " GET " + e.Path + ": HTTP " + strconv.Itoa(e.Status) + " " + http.StatusText(e.Status)
	if e.Code != "" {
		msg += " (" + e.Code + ")"
	}
	return msg
}

// Retryable reports whether another attempt could succeed (429 and 5xx).
func (e *StatusError) Retryable() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}
