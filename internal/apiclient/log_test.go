package apiclient

import (
	"bytes"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// lockedBuffer collects log output from concurrent requests.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testLogger sends the client's logs, at debug level, to the test's output and checks
// at cleanup that no line holds the test secret or a query string.
func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	var buf lockedBuffer
	t.Cleanup(func() {
		logs := buf.String()
		require.NotContains(t, logs, testSecret)
		require.NotContains(t, logs, "authToken")
	})
	h := slog.NewTextHandler(io.MultiWriter(t.Output(), &buf), &slog.HandlerOptions{Level: slog.LevelDebug})
	return slog.New(h)
}
