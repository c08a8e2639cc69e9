package demo

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/pgtest"
)

// fakeCLI writes a shell script standing in for the crmsync binary: it logs each
// invocation with the variables the demo sets, and `run` records a stream run in
// sync.runs (through psql) the way the real CLI would. The real binary is exercised
// by `make demo`; this test pins the demo's own logic: environment, step order, totals,
// exit-code handling.
func fakeCLI(t *testing.T, runExit int) (exe, logFile string) {
	t.Helper()
	if _, err := exec.LookPath("psql"); err != nil {
		t.Skip("psql not installed")
	}
	dir := t.TempDir()
	logFile = filepath.Join(dir, "calls.log")
	exe = filepath.Join(dir, "crmsync")
	script := `#!/bin/sh
echo "$* | LEELOO_BASE_URL=$LEELOO_BASE_URL TEXTREQUEST_BASE_URL=$TEXTREQUEST_BASE_URL LEELOO_RATE_LIMIT=$LEELOO_RATE_LIMIT TEXTREQUEST_RATE_LIMIT=$TEXTREQUEST_RATE_LIMIT REAL=${LEELOO_AUTH_TOKEN_FILE:-none}" >> ` + logFile + `
case "$1" in
run)
  psql -q "$DATABASE_URL" -c "INSERT INTO sync.runs (source, stream, finished_at, status, requests, rows_read, rows_inserted) VALUES ('leeloo', 'people', now(), 'succeeded', 10, 100, 100)" >/dev/null || exit 3
  echo "summary: leeloo.people succeeded"
  echo "some log line" >&2
  exit ` + string(rune('0'+runExit)) + `
  ;;
status) echo "leeloo.people  succeeded" ;;
esac
exit 0
`
	require.NoError(t, os.WriteFile(exe, []byte(script), 0o755))
	return exe, logFile
}

func TestRunNarrative(t *testing.T) {
	t.Parallel()

	exe, logFile := fakeCLI(t, 0)
	var stdout, stderr bytes.Buffer
	mutated := false
	err := Run(t.Context(), Config{
		Stdout: &stdout, Stderr: &stderr, Executable: exe,
		API:         http.NotFoundHandler(),
		LeelooToken: "demo-leeloo-token", TextRequestKey: "demo-textrequest-key",
		DatabaseURL: pgtest.URL(t),
		Mutate:      func() []string { mutated = true; return []string{"3 new people"} },
		// A real token file must not reach the subprocess.
		Environ: append(os.Environ(), "LEELOO_AUTH_TOKEN_FILE=/secrets/real"),
	})
	require.NoError(t, err, stderr.String())
	require.True(t, mutated)

	calls, err := os.ReadFile(logFile)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(calls)), "\n")
	require.Len(t, lines, 4)
	for i, want := range []string{"migrate up |", "run |", "run |", "status |"} {
		require.True(t, strings.HasPrefix(lines[i], want), lines[i])
		require.Contains(t, lines[i], "LEELOO_RATE_LIMIT=off TEXTREQUEST_RATE_LIMIT=off REAL=none")
		require.Regexp(t, `LEELOO_BASE_URL=http://127\.0\.0\.1:\d+ TEXTREQUEST_BASE_URL=http://127\.0\.0\.1:\d+/api/v3`, lines[i])
	}

	out := stdout.String()
	for _, want := range []string{
		"the simulators run without the real APIs' rate limits",
		"Using DATABASE_URL",
		"$ crmsync migrate up",
		"summary: leeloo.people succeeded",
		"- 3 new people",
		"Full sync:        1 streams, 10 requests, 100 records read, 100 rows inserted",
		"Incremental sync: 1 streams, 10 requests",
		"1 stream read about as much as before: 10 requests instead of 10",
		"-- " + Queries[0].Title,
		"$ crmsync status",
		"leeloo.people  succeeded",
		"Done in",
		`Explore the data: psql "$DATABASE_URL"`,
	} {
		require.Contains(t, out, want)
	}
	require.NotContains(t, out, "some log line", "the CLI's logs are shown only when it fails")
}

func TestRunStopsOnConfigurationError(t *testing.T) {
	t.Parallel()

	exe, _ := fakeCLI(t, 2)
	var stdout, stderr bytes.Buffer
	err := Run(t.Context(), Config{
		Stdout: &stdout, Stderr: &stderr, Executable: exe, API: http.NotFoundHandler(),
		DatabaseURL: pgtest.URL(t),
	})
	require.ErrorContains(t, err, "crmsync run: exit status 2")
	require.ErrorContains(t, err, "some log line", "the failing command's log is shown")
}

func TestRunGoesOnWhenAStreamFails(t *testing.T) {
	t.Parallel()

	exe, _ := fakeCLI(t, 1)
	var stdout, stderr bytes.Buffer
	err := Run(t.Context(), Config{
		Stdout: &stdout, Stderr: &stderr, Executable: exe, API: http.NotFoundHandler(),
		DatabaseURL: pgtest.URL(t),
	})
	require.NoError(t, err)
	require.Contains(t, stderr.String(), "some streams failed; its log:\nsome log line")
	require.Contains(t, stdout.String(), "$ crmsync status")
}

func TestCompare(t *testing.T) {
	t.Parallel()

	full := passTotals{perStream: map[string]int64{"leeloo.people": 11, "leeloo.orders": 2, "textrequest.messages": 454}}
	incr := passTotals{perStream: map[string]int64{"leeloo.people": 2, "leeloo.orders": 2, "textrequest.messages": 42}, inserted: 5, updated: 3, unchanged: 90}
	require.Equal(t, []string{
		"2 streams read only what changed: 44 requests instead of 465 (leeloo.people, textrequest.messages).",
		"1 stream read about as much as before: 2 requests instead of 2 — full-refresh streams (their API has no change filter) and lists short enough to re-read whole (leeloo.orders).",
		"Rows written: 5 inserted and 3 updated; 90 unchanged rows were compared, not rewritten.",
	}, compare(full, incr))
}
