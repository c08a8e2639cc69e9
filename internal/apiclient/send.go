package apiclient

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"time"
)

// Request is a write (or any non-GET) request for Send.
type Request struct {
	// Method is the HTTP method (POST, DELETE, PATCH, ...).
	Method string
	// Path is joined to BaseURL, as for Get.
	Path string
	// Body is sent as application/json when not nil.
	Body []byte
	// Header holds extra headers (credentials of another scheme than Config.Auth's, for
	// one family of endpoints). Never logged.
	Header http.Header
	// OwnAuth skips Config.Auth: Header carries the request's credentials (Calltouch's
	// lead service takes headers where its journals take a query parameter).
	OwnAuth bool
	// Idempotent says that repeating the request does no harm (setting a value): it is
	// then retried like a GET, after 5xx answers, timeouts and broken connections too.
	// A request that is not idempotent (adding a comment) is retried only when the
	// server cannot have acted on it: a 429, or a connection that failed before any of
	// the request was written.
	Idempotent bool
}

// Send sends req through the client's rate limit and source-wide 429 pause (n counts
// its attempts and gives it its room, see Counter), retrying as
// req.Idempotent allows (at most MaxAttempts). It returns the 2xx response; for any
// other final answer it returns that response too (its body read, for the caller to
// interpret) with a *StatusError. A transport failure returns an error for which
// Unsent reports whether the request can be known not to have reached the server.
func (c *Client) Send(ctx context.Context, n *Counter, req Request) (*Response, error) {
	logPath := c.scrubText(pathOnly(req.Path))
	u := c.requestURL(req.Path, nil)
	if err := n.wait(ctx); err != nil {
		return nil, c.sendCtxErr(ctx, req.Method, logPath, err)
	}
	for attempt := 1; ; attempt++ {
		if err := c.waitTurn(ctx); err != nil {
			return nil, c.sendCtxErr(ctx, req.Method, logPath, err)
		}
		c.requests.Add(1)
		n.add()
		if attempt > 1 {
			c.retries.Add(1)
		}
		resp, err, wrote := c.sendOnce(ctx, u, logPath, req)
		if ctx.Err() != nil {
			return nil, &SendError{msg: c.cfg.Source + " " + req.Method + " " + logPath + ": " + c.scrubText(ctx.Err().Error()), err: ctx.Err(), Unsent: !wrote}
		}
		var retry bool
		var wait time.Duration
		var se *StatusError
		switch {
		case err == nil && resp.Status >= 200 && resp.Status < 300:
			return resp, nil
		case err == nil:
			se = c.statusError(req.Method, logPath, resp)
			retry = resp.Status == http.StatusTooManyRequests || (req.Idempotent && resp.Status >= 500)
			wait = se.RetryAfter
		default:
			// Nothing written: the server cannot have acted (a refused connection).
			retry = !wrote || req.Idempotent
		}
		if !retry || attempt >= c.cfg.MaxAttempts {
			c.failures.Add(1)
			if se != nil {
				se.Attempts = attempt
				return resp, se
			}
			return nil, &SendError{msg: c.cfg.Source + " " + req.Method + " " + logPath + ": " + c.scrubText(err.Error()), err: err, Unsent: !wrote}
		}
		if wait == 0 {
			wait = c.backoff(attempt)
		}
		status := 0
		if resp != nil {
			status = resp.Status
		}
		c.log.WarnContext(ctx, "retrying request", "method", req.Method, "path", logPath, "attempt", attempt, "status", status, "wait", wait)
		if status == http.StatusTooManyRequests {
			c.pauseUntil(time.Now().Add(wait)) // the whole source waits, in waitTurn
			continue
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, c.sendCtxErr(ctx, req.Method, logPath, err)
		}
	}
}

// sendOnce makes one attempt. wrote reports whether any of the request may have
// reached the server: it is false only when the connection failed before the request
// headers were written to it.
func (c *Client) sendOnce(ctx context.Context, u, logPath string, req Request) (resp *Response, err error, wrote bool) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	var written atomic.Bool
	actx = httptrace.WithClientTrace(actx, &httptrace.ClientTrace{
		WroteHeaderField: func(string, []string) { written.Store(true) },
	})
	var body *bytes.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	hr, err := http.NewRequestWithContext(actx, req.Method, u, nil)
	if err != nil {
		return nil, errors.New("build request: " + c.scrubText(unwrapURLError(err).Error())), false
	}
	if body != nil {
		hr, _ = http.NewRequestWithContext(actx, req.Method, u, body)
		hr.Header.Set("Content-Type", "application/json")
	}
	hr.Header["Accept"] = acceptJSON
	for k, vs := range req.Header {
		hr.Header[k] = vs
	}
	if c.cfg.Auth != nil && !req.OwnAuth {
		c.cfg.Auth(hr)
	}
	start := time.Now()
	hresp, err := c.http.Do(hr)
	var b []byte
	if err == nil {
		b, err = readBody(hresp.Body, hresp.ContentLength)
		hresp.Body.Close()
		if err == nil {
			resp = &Response{Status: hresp.StatusCode, Header: hresp.Header, Body: b}
		}
		if hresp.StatusCode == http.StatusTooManyRequests {
			c.throttled.Add(1)
		}
	}
	if c.log.Enabled(ctx, slog.LevelDebug) {
		status := 0
		if hresp != nil {
			status = hresp.StatusCode
		}
		c.log.DebugContext(ctx, "http request", "method", req.Method, "path", logPath, "status", status, "duration", time.Since(start))
	}
	if err != nil {
		err = unwrapURLError(err)
		if actx.Err() != nil && ctx.Err() == nil {
			err = errors.New("attempt timed out after " + c.cfg.RequestTimeout.String() + ": " + err.Error())
		}
		// An answer that came (even cut short) means the request was written.
		return nil, err, written.Load() || hresp != nil
	}
	return resp, nil, true
}

// statusError describes a non-2xx answer to a Send.
func (c *Client) statusError(method, logPath string, r *Response) *StatusError {
	se := &StatusError{
		Source:     c.cfg.Source,
		Method:     method,
		Path:       logPath,
		Status:     r.Status,
		Body:       excerpt([]byte(c.scrubText(excerpt(r.Body, 4096))), 512),
		RetryAfter: retryAfter(r.Header.Get("Retry-After"), time.Now()),
	}
	if c.cfg.ErrorCode != nil {
		se.Code = c.scrubText(c.cfg.ErrorCode(r.Body))
	}
	return se
}

func (c *Client) sendCtxErr(ctx context.Context, method, logPath string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		err = cerr
	}
	return &SendError{msg: c.cfg.Source + " " + method + " " + logPath + ": " + c.scrubText(err.Error()), err: err, Unsent: true}
}

// SendError is a Send that ended without an HTTP answer (a transport failure, a
// timeout, a cancelled context). Unsent is true when none of the request was written,
// so the server cannot have acted on it.
type SendError struct {
	msg    string
	err    error
	Unsent bool
}

func (e *SendError) Error() string { return e.msg }
func (e *SendError) Unwrap() error { return e.err }

// Unsent reports whether err is a Send failure that happened before any of the request
// was written (nothing can have been processed). A *StatusError is an answer, so the
// request was received: Unsent is false for it.
func Unsent(err error) bool {
	var se *SendError
	return errors.As(err, &se) && se.Unsent
}
