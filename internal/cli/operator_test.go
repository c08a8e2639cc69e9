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

	"github.com/crmsync/crmsync/internal/extractortest"
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
	var out, errOut extractortest.SyncBuffer
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

// TestOperatorMistakes drives the mistakes a new operator makes through the CLI: each
// exits as DESIGN.md says with one line that names the flag, variable or file and says
// what to do.
func TestOperatorMistakes(t *testing.T) {
	t.Parallel()
	const dsn = "postgres://crmsync@127.0.0.1:1/crmsync?sslmode=disable&connect_timeout=5"
	base := map[string]string{"DATABASE_URL": dsn, "LEELOO_AUTH_TOKEN": "tok-123456"}
	cases := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"malformed DATABASE_URL", with(base, "DATABASE_URL", "postgres://u@h:port/db"), []string{"run"}, exitUsage,
			"DATABASE_URL: cannot be parsed (invalid port); want postgres://user:password@host:5432/dbname"},
		{"DATABASE_URL of another database", with(base, "DATABASE_URL", "mysql://u@h/db"), []string{"status"}, exitUsage,
			`DATABASE_URL: scheme "mysql" is not PostgreSQL`},
		{"misspelt source", base, []string{"run", "--source", "leelo"}, exitUsage,
			"--source leelo: unknown source (did you mean leeloo?); sources: leeloo, textrequest"},
		{"stream of a disabled source", with(base, "LEELOO_AUTH_TOKEN", "", "TEXTREQUEST_API_KEY", "key-123456"), []string{"run", "--stream", "users"}, exitUsage,
			"--stream users: leeloo.users is a Leeloo stream, and Leeloo is not enabled: set LEELOO_AUTH_TOKEN"},
		{"misspelt stream", base, []string{"run", "--stream", "account"}, exitUsage,
			"--stream account: unknown stream (did you mean leeloo.accounts?)"},
		{"unknown flag", base, []string{"run", "--full_refresh"}, exitUsage,
			"crmsync run: unknown flag --full_refresh; did you mean --full-refresh? (see crmsync run --help)"},
		{"start date in the future", with(base, "LEELOO_START_DATE", "2099-01-01"), []string{"run"}, exitUsage,
			`LEELOO_START_DATE: "2099-01-01" is in the future`},
		{"Text Request root without /api/v3", with(base, "TEXTREQUEST_API_KEY", "key-123456", "TEXTREQUEST_BASE_URL", "https://api.textrequest.com"),
			[]string{"run"}, exitUsage, `TEXTREQUEST_BASE_URL: "https://api.textrequest.com": give the API root including /api/v3`},
		{"database not answering", base, []string{"status"}, exitFailed, "connect to database 127.0.0.1:1/crmsync"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := cliRun(context.Background(), t, tc.env, tc.args...)
			require.Equal(t, tc.code, r.code, r.stderr)
			require.Contains(t, r.stderr, tc.want)
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if tc.code == exitUsage {
				require.Len(t, lines, 1, "one line for a usage error: %q", r.stderr)
			} else {
				require.Equal(t, 1, strings.Count(r.stderr, "connection refused"), "the cause is said once: %q", r.stderr)
			}
		})
	}
}
