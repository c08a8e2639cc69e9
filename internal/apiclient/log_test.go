package apiclient

import (
	"log/slog"
	"testing"
)

// testLogger sends the client's logs to the test's output, at debug level.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}
