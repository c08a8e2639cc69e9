package apiclient

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/require"
)

const testSecret = "s3cr3t-t0ken"

type testBundle struct {
	server *httptest.Server
	client *Client
	calls  *atomic.Int64
}

// setup serves handler and returns a client for it with short backoffs. The handler
// sees every attempt; calls counts them.
func setup(t *testing.T, handler func(w http.ResponseWriter, r *http.Request, call int), mutate ...func(*Config)) *testBundle {
	t.Helper()
	calls := &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler(w, r, int(calls.Add(1)))
	}))
	t.Cleanup(srv.Close)
	cfg := Config{
		Source:     "testapi",
		BaseURL:    srv.URL + "/api/v2",
		Auth:       func(r *http.Request) { r.Header.Set("X-Token", testSecret) },
		Secrets:    []string{testSecret},
		MinBackoff: time.Millisecond,
		MaxBackoff: 5 * time.Millisecond,
		Logger:     testLogger(t),
	}
	for _, m := range mutate {
		m(&cfg)
	}
	c, err := New(cfg)
	require.NoError(t, err)
	return &testBundle{server: srv, client: c, calls: calls}
}

func TestClientGetJSON(t *testing.T) {
	t.Parallel()

	b := setup(t, func(w http.ResponseWriter, r *http.Request, call int) {
		if r.URL.Path != "/api/v2/people" || r.Header.Get("X-Token") != testSecret || r.URL.Query().Get("limit") != "5" ||
			r.Header.Get("Accept") != "application/json" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.Write([]byte(`{"data":[1,2,3]}`))
	})
	var v struct{ Data []int }
	resp, err := b.client.GetJSON(context.Background(), nil, "/people", url.Values{"limit": {"5"}}, &v)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.Status)
	require.Equal(t, []int{1, 2, 3}, v.Data)
	require.Equal(t, Stats{Requests: 1}, b.client.Stats())
}

func TestClientRetries5xxThenSucceeds(t *testing.T) {
	t.Parallel()

	b := setup(t, func(w http.ResponseWriter, r *http.Request, call int) {
		if call < 3 {
			http.Error(w, "oops", http.StatusBadGateway)
			return
		}
		w.Write([]byte(`{}`))
	})
	counter := NewCounter(nil)
	_, err := b.client.GetJSON(context.Background(), counter, "/x", nil, &struct{}{})
	require.NoError(t, err)
	require.Equal(t, Stats{Requests: 3, Retries: 2}, b.client.Stats())
	require.Equal(t, 3, counter.Take())
	require.Equal(t, 0, counter.Take())
}

// A request waits for its counter's room before it is sent, and its retries do not wait
// again; a cancellation while waiting ends it.
func TestClientRequestWaitsForRoom(t *testing.T) {
	t.Parallel()

	b := setup(t, func(w http.ResponseWriter, r *http.Request, call int) {
		if call == 1 {
			http.Error(w, "oops", http.StatusBadGateway)
			return
		}
		w.Write([]byte(`{}`))
	})
	room := make(chan struct{})
	var waits atomic.Int64
	counter := NewCounter(func(ctx context.Context) error {
		waits.Add(1)
		select {
		case <-room:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	done := make(chan error, 1)
	go func() {
		_, err := b.client.GetJSON(context.Background(), counter, "/x", nil, &struct{}{})
		done <- err
	}()
	require.Never(t, func() bool { return b.calls.Load() > 0 }, 50*time.Millisecond, time.Millisecond)
	close(room)
	require.NoError(t, <-done)
	require.Equal(t, int64(2), b.calls.Load(), "one failed attempt and its retry")
	require.Equal(t, int64(1), waits.Load())

	cctx, cancel := context.WithCancel(context.Background())
	blocked := NewCounter(func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	time.AfterFunc(10*time.Millisecond, cancel)
	_, err := b.client.GetJSON(cctx, blocked.Sub(), "/y", nil, &struct{}{})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, int64(2), b.calls.Load(), "the cancelled request was never sent")
}

func TestClient4xxNoRetry(t *testing.T) {
	t.Parallel()

	b := setup(t, func(w http.ResponseWriter, r *http.Request, call int) {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"code":"NOT_FOUND","token":"` + testSecret + `"}`))
	}, func(c *Config) {
		c.ErrorCode = func([]byte) string { return "NOT_FOUND" }
	})
	_, err := b.client.Get(context.Background(), nil, "/people/7", url.Values{"authToken": {testSecret}})
	var se *StatusError
	require.True(t, errors.As(err, &se))
	require.Equal(t, http.StatusNotFound, se.Status)
	require.False(t, se.Retryable())
	require.EqualError(t, err, "testapi GET /people/7: HTTP 404 Not Found (NOT_FOUND)")
	require.NotContains(t, se.Body, testSecret)
	require.Contains(t, se.Body, "[REDACTED]")
	require.Equal(t, int64(1), b.calls.Load())
	require.Equal(t, int64(1), b.client.Stats().Failures)
}

func TestNewValidatesBaseURL(t *testing.T) {
	t.Parallel()

	for _, base := range []string{"", "api.leeloo.ai", "/api/v2", "ftp://host/x", "http://", "http://%zz"} {
		_, err := New(Config{Source: "leeloo", BaseURL: base})
		require.Error(t, err, base)
		require.ErrorContains(t, err, "BaseURL")
		require.ErrorContains(t, err, "leeloo")
	}
	_, err := New(Config{Source: "leeloo", BaseURL: "https://user:" + testSecret + "@x", Secrets: []string{testSecret}, RateLimit: Limit{N: 5}})
	require.ErrorContains(t, err, "RateLimit")

	c, err := New(Config{Source: "leeloo", BaseURL: "https://api.leeloo.ai"})
	require.NoError(t, err)
	require.Equal(t, DefaultMaxAttempts, c.cfg.MaxAttempts)
	require.Equal(t, DefaultRequestTimeout, c.cfg.RequestTimeout)
	tr, ok := c.http.Transport.(*http.Transport)
	require.True(t, ok)
	require.GreaterOrEqual(t, tr.MaxIdleConnsPerHost, 16)
}

func TestClientRequestURL(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct{ base, path, want string }{
		{"https://h/api/v2", "/people", "https://h/api/v2/people?offset=0"},
		{"https://h/api/v2/", "people", "https://h/api/v2/people?offset=0"},
		{"https://h", "/people?limit=5", "https://h/people?limit=5&offset=0"},
	} {
		c, err := New(Config{Source: "s", BaseURL: tc.base})
		require.NoError(t, err)
		require.Equal(t, tc.want, c.requestURL(tc.path, url.Values{"offset": {"0"}}))
	}
	c, err := New(Config{Source: "s", BaseURL: "https://h/api"})
	require.NoError(t, err)
	require.Equal(t, "https://h/api/x?a=1&b=2&b=3", c.requestURL("/x", url.Values{"b": {"2", "3"}, "a": {"1"}, "c": {}}))
	require.Equal(t, "https://h/api/x", c.requestURL("/x", nil))
	require.Equal(t, "https://h/api/x", c.requestURL("/x?", nil))
}

// readBody reads what io.ReadAll would, whether or not the length was announced, and
// whether or not the reader keeps to it.
func TestReadBody(t *testing.T) {
	t.Parallel()

	body := strings.Repeat("0123456789", 1000)
	for _, tc := range []struct {
		name string
		size int64
	}{{"exact", int64(len(body))}, {"unknown", -1}, {"short", 10}, {"zero", 0}} {
		got, err := readBody(iotest.OneByteReader(strings.NewReader(body)), tc.size)
		require.NoError(t, err, tc.name)
		require.Equal(t, body, string(got), tc.name)
	}
	_, err := readBody(strings.NewReader(body), maxBody+1)
	require.ErrorIs(t, err, ErrBodyTooLarge, "an announced length above the cap fails before reading")
	got, err := readBody(iotest.TimeoutReader(strings.NewReader(body)), int64(len(body)))
	require.ErrorIs(t, err, iotest.ErrTimeout)
	require.Equal(t, body[:len(got)], string(got))
	got, err = readBody(strings.NewReader(""), 0)
	require.NoError(t, err)
	require.NotNil(t, got)
	require.Empty(t, got)

	// Without a length: a body of several blocks comes back whole; a cut one keeps
	// its error (retried as truncated); one above the cap fails.
	long := strings.Repeat(body, 30)
	got, err = readBody(strings.NewReader(long), -1)
	require.NoError(t, err)
	require.Equal(t, long, string(got))
	got, err = readBody(io.MultiReader(strings.NewReader(long), iotest.ErrReader(io.ErrUnexpectedEOF)), -1)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.Equal(t, long, string(got))
	_, err = readBody(io.LimitReader(zeros{}, maxBody+1), -1)
	require.ErrorIs(t, err, ErrBodyTooLarge)
	got, err = readBody(io.LimitReader(zeros{}, maxBody), -1)
	require.NoError(t, err)
	require.Len(t, got, maxBody)
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestClientTooLargeNotRetried: an answer announced above the cap fails at once,
// without reading it and without another try.
func TestClientTooLargeNotRetried(t *testing.T) {
	t.Parallel()

	b := setup(t, func(w http.ResponseWriter, r *http.Request, call int) {
		w.Header().Set("Content-Length", strconv.Itoa(maxBody+1))
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(`{"data":[`)) // the rest never comes
	})
	_, err := b.client.GetJSON(context.Background(), nil, "/x", nil, &struct{}{})
	require.ErrorIs(t, err, ErrBodyTooLarge)
	require.EqualValues(t, 1, b.calls.Load())
}

func TestClient204(t *testing.T) {
	t.Parallel()

	b := setup(t, func(w http.ResponseWriter, r *http.Request, call int) {
		w.WriteHeader(http.StatusNoContent)
	})
	v := map[string]int{"kept": 1}
	resp, err := b.client.GetJSON(context.Background(), nil, "/x", nil, &v)
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, resp.Status)
	require.Empty(t, resp.Body)
	require.Equal(t, map[string]int{"kept": 1}, v)
}

func TestClientRetriesTruncatedBody(t *testing.T) {
	t.Parallel()

	b := setup(t, func(w http.ResponseWriter, r *http.Request, call int) {
		if call == 1 {
			// Promise more than is sent: the server then closes the connection and the
			// client reads an unexpected EOF.
			w.Header().Set("Content-Length", "100")
			w.Write([]byte(`{"data":[1,`))
			return
		}
		w.Write([]byte(`{"data":[1,2]}`))
	})
	var v struct{ Data []int }
	_, err := b.client.GetJSON(context.Background(), nil, "/x", nil, &v)
	require.NoError(t, err)
	require.Equal(t, []int{1, 2}, v.Data)
	require.Equal(t, Stats{Requests: 2, Retries: 1}, b.client.Stats())
}

func TestClientRetriesInvalidJSON(t *testing.T) {
	t.Parallel()

	b := setup(t, func(w http.ResponseWriter, r *http.Request, call int) {
		if call == 1 {
			w.Write([]byte(`{"data":[1,`)) // complete HTTP answer, broken JSON
			return
		}
		w.Write([]byte(`{"data":[1,2]}`))
	})
	var v struct{ Data []int }
	_, err := b.client.GetJSON(context.Background(), nil, "/x", nil, &v)
	require.NoError(t, err)
	require.Equal(t, []int{1, 2}, v.Data)
	require.Equal(t, Stats{Requests: 2, Retries: 1}, b.client.Stats())

	// Get does not look at the body.
	b.calls.Store(0)
	resp, err := b.client.Get(context.Background(), nil, "/x", nil)
	require.NoError(t, err)
	require.Equal(t, `{"data":[1,`, string(resp.Body))
}

func TestClientInvalidJSONGivesUp(t *testing.T) {
	t.Parallel()

	b := setup(t, func(w http.ResponseWriter, r *http.Request, call int) {
		w.Write([]byte(`{"data":`))
	}, func(c *Config) { c.MaxAttempts = 3 })
	_, err := b.client.GetJSON(context.Background(), nil, "/people", url.Values{"authToken": {testSecret}}, &struct{}{})
	require.EqualError(t, err, "testapi GET /people: gave up after 3 attempts: body is not valid JSON")
	require.Equal(t, int64(3), b.calls.Load())
}

func TestClientDecodeErrorNoRetry(t *testing.T) {
	t.Parallel()

	b := setup(t, func(w http.ResponseWriter, r *http.Request, call int) {
		w.Write([]byte(`{"data":"x"}`))
	})
	var v struct{ Data int }
	_, err := b.client.GetJSON(context.Background(), nil, "/people", nil, &v)
	require.ErrorContains(t, err, "testapi GET /people: decode body: json: cannot unmarshal")
	require.Equal(t, int64(1), b.calls.Load())
}

func TestClientAttemptsCap(t *testing.T) {
	t.Parallel()

	b := setup(t, func(w http.ResponseWriter, r *http.Request, call int) {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("upstream down for token " + testSecret))
	}, func(c *Config) { c.MaxAttempts = 4 })
	_, err := b.client.Get(context.Background(), nil, "/people", url.Values{"authToken": {testSecret}, "limit": {"50"}})
	require.EqualError(t, err, "testapi GET /people: HTTP 503 Service Unavailable after 4 attempts")
	var se *StatusError
	require.True(t, errors.As(err, &se))
	require.Equal(t, 4, se.Attempts)
	require.True(t, se.Retryable())
	require.Equal(t, "upstream down for token [REDACTED]", se.Body)
	require.Equal(t, int64(4), b.calls.Load())
	require.Equal(t, Stats{Requests: 4, Retries: 3, Failures: 1}, b.client.Stats())
}

func TestClientTransportErrorCap(t *testing.T) {
	t.Parallel()

	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // connections are now refused
	c, err := New(Config{
		Source: "testapi", BaseURL: base, Secrets: []string{testSecret},
		MaxAttempts: 3, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond,
		Logger: testLogger(t),
	})
	require.NoError(t, err)
	_, err = c.Get(context.Background(), nil, "/people", url.Values{"authToken": {testSecret}})
	require.ErrorContains(t, err, "testapi GET /people: gave up after 3 attempts: ")
	require.ErrorContains(t, err, "connection refused")
	require.NotContains(t, err.Error(), testSecret)
	require.NotContains(t, err.Error(), "authToken")
	require.Equal(t, Stats{Requests: 3, Retries: 2, Failures: 1}, c.Stats())
}

func TestClientRequestTimeout(t *testing.T) {
	t.Parallel()

	release := make(chan struct{})
	b := setup(t, func(w http.ResponseWriter, r *http.Request, call int) {
		if call == 1 {
			w.Header().Set("Content-Length", "20")
			w.Write([]byte(`{"a":`))
			w.(http.Flusher).Flush()
			select { // stall mid-body until the client gives up
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		w.Write([]byte(`{"a":1}`))
	}, func(c *Config) { c.RequestTimeout = 200 * time.Millisecond })
	t.Cleanup(func() { close(release) })
	var v struct{ A int }
	_, err := b.client.GetJSON(context.Background(), nil, "/x", nil, &v)
	require.NoError(t, err)
	require.Equal(t, 1, v.A)
	require.Equal(t, int64(2), b.calls.Load())
}

func TestClientCancelStopsBackoff(t *testing.T) {
	t.Parallel()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := setup(t, func(w http.ResponseWriter, r *http.Request, call int) {
		w.WriteHeader(http.StatusInternalServerError)
		cancel() // the client is about to sleep an hour
	}, func(c *Config) { c.MinBackoff, c.MaxBackoff = time.Hour, time.Hour })

	done := make(chan error, 1)
	go func() {
		_, err := b.client.Get(ctx, nil, "/people", nil)
		done <- err
	}()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
		require.EqualError(t, err, "testapi GET /people: context canceled")
	case <-time.After(30 * time.Second):
		t.Fatal("Get did not return after cancel")
	}
	require.Equal(t, int64(1), b.calls.Load())
	require.Zero(t, b.client.Stats().Failures, "a cancel is not a failure")
}

func TestRetryAfterHeader(t *testing.T) {
	t.Parallel()

	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"3", 3 * time.Second},
		{" 0 ", 0},
		{"-5", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	} {
		require.Equal(t, tc.want, retryAfter(tc.in, now), tc.in)
	}
}

func TestBackoffBounds(t *testing.T) {
	t.Parallel()

	c, err := New(Config{Source: "s", BaseURL: "http://h", MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second})
	require.NoError(t, err)
	for attempt := 1; attempt < 12; attempt++ {
		for range 50 {
			d := c.backoff(attempt)
			require.GreaterOrEqual(t, d, 100*time.Millisecond)
			require.LessOrEqual(t, d, min(100*time.Millisecond<<attempt, time.Second))
		}
	}
}

func TestScrubber(t *testing.T) {
	t.Parallel()

	r := newScrubber([]string{"", "a b/c", "tok", "tok-longer"})
	require.Equal(t, "x=[REDACTED] y=[REDACTED] z=[REDACTED] w=[REDACTED] v=[REDACTED]",
		r.Replace("x=a b/c y=a+b%2Fc z=a%20b%2Fc w=tok-longer v=tok"))
}

func TestClientRefusesCrossHostRedirect(t *testing.T) {
	t.Parallel()

	var leaked atomic.Bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Store(r.Header.Get("X-Token") != "")
	}))
	t.Cleanup(other.Close)
	b := setup(t, func(w http.ResponseWriter, r *http.Request, call int) {
		if r.URL.Path == "/api/v2/moved" {
			http.Redirect(w, r, "/api/v2/here", http.StatusFound)
			return
		}
		if r.URL.Path == "/api/v2/here" {
			w.Write([]byte(`{}`))
			return
		}
		http.Redirect(w, r, other.URL+"/steal", http.StatusFound)
	})
	_, err := b.client.Get(context.Background(), nil, "/moved", nil)
	require.NoError(t, err, "same-host redirects are followed")

	_, err = b.client.Get(context.Background(), nil, "/people", nil)
	require.ErrorIs(t, err, errCrossHostRedirect)
	require.False(t, leaked.Load())
	require.Equal(t, int64(3), b.calls.Load(), "not retried")
}

func TestStatusErrorBodyScrubbedBeforeCut(t *testing.T) {
	t.Parallel()

	b := setup(t, func(w http.ResponseWriter, r *http.Request, call int) {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(strings.Repeat("x", 505) + testSecret + strings.Repeat("y", 100)))
	})
	_, err := b.client.Get(context.Background(), nil, "/x", nil)
	var se *StatusError
	require.True(t, errors.As(err, &se))
	require.Len(t, se.Body, 512)
	require.NotContains(t, se.Body, testSecret[:7])
}

func TestClientGiveUpNamesLastStatus(t *testing.T) {
	t.Parallel()

	b := setup(t, func(w http.ResponseWriter, r *http.Request, call int) {
		if call == 1 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.Write([]byte(`{"a":`))
	}, func(c *Config) { c.MaxAttempts = 2 })
	_, err := b.client.GetJSON(context.Background(), nil, "/x", url.Values{"authToken": {testSecret}}, &struct{}{})
	require.EqualError(t, err, "testapi GET /x: gave up after 2 attempts: body is not valid JSON (last answer: HTTP 502)")
}

// An API that accepts the request and never answers fails the request after
// MaxTimeouts attempts, not MaxAttempts full timeouts.
func TestClientSilentServerGivesUpAfterTwoTimeouts(t *testing.T) {
	t.Parallel()

	release := make(chan struct{})
	b := setup(t, func(w http.ResponseWriter, r *http.Request, call int) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}, func(c *Config) { c.RequestTimeout = 100 * time.Millisecond; c.MaxAttempts = 8 })
	t.Cleanup(func() { close(release) })
	var v struct{ A int }
	_, err := b.client.GetJSON(context.Background(), nil, "/x", nil, &v)
	require.ErrorContains(t, err, "gave up after 2 attempts: no complete answer within 100ms")
	require.Equal(t, int64(MaxTimeouts), b.calls.Load())
}
