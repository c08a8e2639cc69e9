package textrequest

import (
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/apiclient"
)

const testKey = "test-textrequest-key-7f3a"

var noLimit = apiclient.Limit{}

// testLogger sends the extractor's logs to the test output.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// newTestClient builds the client the CLI would, against baseURL (the simulator's
// /api/v3), with fast backoff for tests.
func newTestClient(t *testing.T, baseURL string, limit apiclient.Limit) *apiclient.Client {
	t.Helper()
	c, err := apiclient.New(apiclient.Config{
		Source:     Source,
		BaseURL:    baseURL,
		Auth:       func(r *http.Request) { r.Header.Set("x-api-key", testKey) },
		Secrets:    []string{testKey},
		RateLimit:  limit,
		MinBackoff: time.Millisecond,
		MaxBackoff: 50 * time.Millisecond,
		ErrorCode:  ErrorCode,
		Logger:     testLogger(t),
	})
	require.NoError(t, err)
	return c
}

// newTestExtractor builds an extractor against baseURL (a placeholder when empty).
func newTestExtractor(t *testing.T, configure func(*Config)) *Extractor {
	t.Helper()
	cfg := Config{Client: newTestClient(t, "http://127.0.0.1:1/api/v3", apiclient.Limit{}), Logger: testLogger(t)}
	if configure != nil {
		configure(&cfg)
	}
	ex, err := New(cfg)
	require.NoError(t, err)
	return ex
}
