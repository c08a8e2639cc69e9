package cli

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/simulator"
)

// TestCalltouchCheckAndRun: crmsync check and run know Calltouch; the site id is
// required with the token, and a wrong token fails without being printed.
func TestCalltouchCheckAndRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tb := setup(t, simulator.Options{})
	env := map[string]string{
		"DATABASE_URL":         tb.dbURL,
		"CALLTOUCH_BASE_URL":   tb.srv.URL,
		"CALLTOUCH_API_TOKEN":  "demo-calltouch-token",
		"CALLTOUCH_SITE_ID":    strconv.FormatInt(tb.sim.CalltouchSiteID(), 10),
		"CALLTOUCH_RATE_LIMIT": "off",
		"CALLTOUCH_START_DATE": "2026-05-01",
	}
	r := cliRun(ctx, t, env, "check")
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	require.Contains(t, r.stdout, "ok    calltouch")

	r = cliRun(ctx, t, with(env, "CALLTOUCH_SITE_ID", ""), "check")
	require.Equal(t, exitUsage, r.code, r.stdout+r.stderr)
	require.Contains(t, r.stderr, "CALLTOUCH_SITE_ID: not set")

	r = cliRun(ctx, t, with(env, "CALLTOUCH_API_TOKEN", "wrong-token-456"), "check")
	require.Equal(t, exitFailed, r.code, r.stdout+r.stderr)
	require.Contains(t, r.stdout, "FAIL  calltouch")
	require.Contains(t, r.stdout, "401")
	require.NotContains(t, r.stdout+r.stderr, "wrong-token-456")

	r = cliRun(ctx, t, env, "run", "--source", "calltouch")
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	require.Regexp(t, `calltouch\.calls\s+succeeded`, r.stdout)
	truth := tb.sim.CalltouchTruth()
	require.Equal(t, len(truth.Calls), tb.count(t, "calltouch.calls"))
	require.Equal(t, len(truth.Requests), tb.count(t, "calltouch.requests"))
	require.NotContains(t, r.stdout+r.stderr, "demo-calltouch-token")
}
