package apiclient

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
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
		if r.URL.Path != "/api/v2/people" || r.Header.Get("X-Token") != testSecret || r.URL.Query().Get("limit") != "5" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.Write([]byte(`{"data":[1,2,3]}`))
	})
	var v struct{ Data []int }
	resp, err := b.client.GetJSON(context.Background(), "/people", url.Values{"limit": {"5"}}, &v)
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
	ctx, counter := WithCounter(context.Background())
	_, err := b.client.GetJSON(ctx, "/x", nil, &struct{}{})
	require.NoError(t, err)
	require.Equal(t, Stats{Requests: 3, Retries: 2}, b.client.Stats())
	require.Equal(t, 3, counter.Take())
	require.Equal(t, 0, counter.Take())
}

func TestClient4xxNoRetry(t *testing.T) {
	t.Parallel()

	b := setup(t, func(w http.ResponseWriter, r *http.Request, call int) {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"code":"NOT_FOUND","token":"` + testSecret + `"}`))
	}, func(c *Config) {
		c.ErrorCode = func([]byte) string { return "NOT_FOUND" }
	})
	_, err := b.client.Get(context.Background(), "/people/7", url.Values{"authToken": {testSecret}})
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
