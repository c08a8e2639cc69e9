package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

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

// TestStatusAndStreamsFitATerminal: the default tables of status and streams fit 120
// columns; --wide and -o json carry the details.
func TestStatusAndStreamsFitATerminal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tb := setup(t, simulator.Options{})
	r := cliRun(ctx, t, tb.env, "run", "--source", "leeloo")
	require.Equal(t, exitOK, r.code, r.stderr)
	require.Regexp(t, `leeloo\.people\s+succeeded\s+\d+\s+200\s`, r.stdout, "RECORDS counts people, not their channel links")

	for _, args := range [][]string{{"status"}, {"streams"}} {
		r := cliRun(ctx, t, tb.env, args...)
		require.Equal(t, exitOK, r.code, r.stderr)
		for _, line := range strings.Split(r.stdout, "\n") {
			require.LessOrEqual(t, utf8.RuneCountInString(line), 120, "%v: %q", args, line)
		}
	}
	r = cliRun(ctx, t, tb.env, "status", "-o", "json")
	require.Equal(t, exitOK, r.code, r.stderr)
	var sts []struct {
		Stream  string `json:"stream"`
		LastRun *struct {
			Status  string `json:"status"`
			Records int    `json:"records_read"`
		} `json:"last_run"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &sts))
	found := false
	for _, s := range sts {
		if s.Stream == "leeloo.people" {
			found = true
			require.Equal(t, "succeeded", s.LastRun.Status)
			require.Equal(t, 200, s.LastRun.Records)
		}
	}
	require.True(t, found, r.stdout)

	r = cliRun(ctx, t, nil, "streams", "-o", "yaml")
	require.Equal(t, exitUsage, r.code)
	require.Contains(t, r.stderr, `-o: "yaml": want text or json`)
}
