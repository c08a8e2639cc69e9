package cli

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/simulator"
)

// TestScheduleRunNow: with --run-now a new deployment fills its tables at start, even
// when the job's first cron time is a year away.
func TestScheduleRunNow(t *testing.T) {
	t.Parallel()
	tb := setup(t, simulator.Options{})
	path := filepath.Join(t.TempDir(), "schedules.yaml")
	require.NoError(t, os.WriteFile(path, []byte("jobs:\n  - name: yearly\n    schedule: \"@yearly\"\n    source: leeloo\n    streams: [users]\n"+
		"  - name: sweep\n    schedule: \"@yearly\"\n    source: leeloo\n    streams: [tags]\n    full_refresh: true\n"), 0o600))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	a := &app{getenv: func(k string) string { return tb.env[k] }, stdout: &out, stderr: &errOut}
	done := make(chan int, 1)
	go func() { done <- a.main(ctx, []string{"schedule", "--config", path, "--http", "", "--run-now"}) }()

	require.Eventually(t, func() bool {
		return tb.count(t, "leeloo.users") == len(tb.sim.Truth().Leeloo.Users)
	}, 60*time.Second, 100*time.Millisecond, errOut.String())
	cancel()
	require.Equal(t, exitOK, <-done, errOut.String())
	require.Zero(t, tb.count(t, "leeloo.tags"), "a full-refresh job does not run at start")
}
