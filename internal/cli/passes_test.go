package cli

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/simulator"
)

// passOutcome is what one `crmsync run --max-duration` pass did, from sync.runs.
type passOutcome struct {
	code      int
	cancelled int // streams cut off
	other     int // streams neither succeeded nor cancelled (failed, skipped)
	requests  map[string]int
	rows      int      // rows committed (inserted, updated or unchanged)
	timeline  []string // one line per run, by start: offset into the pass, duration, stream, status, requests
}

// runPass runs one pass and reads its runs back (those with an id above *lastRun).
func (tb *testBundle) runPass(ctx context.Context, t testing.TB, env map[string]string, maxDuration time.Duration, lastRun *int64, args ...string) (passOutcome, result) {
	t.Helper()
	r := cliRun(ctx, t, env, append([]string{"run", "--max-duration", maxDuration.String()}, args...)...)
	out := passOutcome{code: r.code, requests: map[string]int{}}
	rows, err := tb.pool.Query(ctx, `select id, source, stream, status, requests, rows_inserted + rows_updated + rows_unchanged,
			extract(epoch from started_at - min(started_at) over ()), coalesce(extract(epoch from finished_at - started_at), 0)
		from sync.runs where id > $1 order by started_at, id`, *lastRun)
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var (
			id                    int64
			source, name, status  string
			requests, n           int
			startOffset, duration float64
		)
		require.NoError(t, rows.Scan(&id, &source, &name, &status, &requests, &n, &startOffset, &duration))
		*lastRun = max(*lastRun, id)
		out.requests[source] += requests
		out.rows += n
		out.timeline = append(out.timeline, fmt.Sprintf("%6.2fs +%5.2fs %-30s %-9s %4d requests", startOffset, duration, source+"."+name, status, requests))
		switch status {
		case "succeeded":
		case "cancelled":
			out.cancelled++
		default:
			out.other++
		}
	}
	require.NoError(t, rows.Err())
	return out, r
}

// TestPassesCutOffAtRandomConverge: with an API latency of 100 ms and a request budget
// per source, passes cut off by --max-duration at random moments (waiting for the rate
// limiter, in an HTTP call, in a commit) each exit 0 and record their cut-off streams
// as cancelled, never failed; the passes that follow complete the first sync, and the
// warehouse then equals the simulator's data exactly.
func TestPassesCutOffAtRandomConverge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 13))
	// Per-contact Text Request messages: the longest partitioned walk there is.
	tb := setup(t, simulator.Options{Faults: simulator.Faults{Latency: 100 * time.Millisecond, DashboardMessagesWithoutPhone: true}})
	env := with(tb.env, "LEELOO_RATE_LIMIT", "100/1s", "TEXTREQUEST_RATE_LIMIT", "60/1s", "TEXTREQUEST_DASHBOARDS", "4101")
	streams := []string{"--stream", "textrequest.messages", "--stream", "textrequest.tags",
		"--stream", "leeloo.messages", "--stream", "leeloo.accounts", "--stream", "leeloo.tags"}

	var lastRun int64
	for pass := 1; ; pass++ {
		require.LessOrEqual(t, pass, 40, "the first sync does not converge")
		d := time.Duration(500+rnd.IntN(3000)) * time.Millisecond
		out, r := tb.runPass(ctx, t, env, d, &lastRun, streams...)
		t.Logf("pass %d (%s): exit %d, %d cancelled, %d rows, requests %v", pass, d, out.code, out.cancelled, out.rows, out.requests)
		require.Equal(t, exitOK, out.code, r.stdout+r.stderr)
		require.Zero(t, out.other, "a cut-off is never a failure:\n"+r.stdout)
		// Done when every stream ran (one a pass never reached has no run) and none was cut off.
		if out.cancelled == 0 && len(out.timeline) == len(streams)/2 {
			break
		}
	}
	truth := tb.sim.Truth()
	var messages int
	for _, m := range truth.TextRequest.Messages {
		if m.DashboardID == 4101 {
			messages++
		}
	}
	for table, want := range map[string]int{
		"textrequest.messages": messages,
		"leeloo.messages":      len(truth.Leeloo.Messages),
		"leeloo.accounts":      len(truth.Leeloo.Accounts),
		"leeloo.tags":          len(truth.Leeloo.Tags),
	} {
		require.Equal(t, want, tb.count(t, table), table)
	}
	require.Equal(t, 0, tb.count(t, "sync.runs where status not in ('succeeded', 'cancelled')"))
}

// BenchmarkPassesUnderLimits: a first sync at scale 1 and 10 under a request budget
// per source (scaled down from the real ones so it runs in minutes) in passes of fixed
// length, as a CronJob runs them. It logs each pass's exit code, cut-off streams, rows
// committed and requests, and reports the passes used against two floors, each the
// busiest source's requests ÷ (budget × pass length), since every source has the same
// budget and its own limiter:
//   - min-passes: the requests every run of every pass made (cancelled runs included):
//     the whole sync as run, with each pass's re-runs of the streams already synced and
//     the re-reads after a cut-off. The target: passes ≤ 1.2 × min-passes + 1 and no
//     pass exiting non-zero.
//   - min-uncut: the requests of one uncut sync of the same data (no --max-duration, no
//     rate limit), a floor no way of cutting it into passes can reach.
//
// BENCH_CONCURRENCY sets the passes' --concurrency (CRMSYNC_CONCURRENCY; default 4);
// BENCH_TIMELINE=1 logs each pass's runs: when each started, how long it ran, its
// requests.
func BenchmarkPassesUnderLimits(b *testing.B) {
	for _, c := range []struct {
		scale  int
		budget int // requests a second per source
		pass   time.Duration
	}{
		{1, 20, 5 * time.Second},
		{10, 100, 12 * time.Second},
	} {
		b.Run(fmt.Sprintf("scale=%d", c.scale), func(b *testing.B) {
			for range b.N {
				passesUnderLimits(b, c.scale, c.budget, c.pass)
			}
		})
	}
}

func passesUnderLimits(b *testing.B, scale, budget int, pass time.Duration) {
	ctx := context.Background()
	ref := setup(b, simulator.Options{Scale: scale})
	var refRun int64
	out, r := ref.runPass(ctx, b, ref.env, 0, &refRun)
	require.Equal(b, exitOK, out.code, r.stdout+r.stderr)
	require.Zero(b, out.cancelled+out.other, r.stdout)
	uncut, streams := out.requests, len(out.timeline)

	tb := setup(b, simulator.Options{Scale: scale, Faults: simulator.Faults{Latency: 20 * time.Millisecond}})
	limit := fmt.Sprintf("%d/1s", budget)
	env := with(tb.env, "LEELOO_RATE_LIMIT", limit, "TEXTREQUEST_RATE_LIMIT", limit, "CRMSYNC_CONCURRENCY", os.Getenv("BENCH_CONCURRENCY"))
	var (
		lastRun int64
		passes  int
		bad     int
	)
	total := map[string]int{}
	for passes = 1; ; passes++ {
		require.LessOrEqual(b, passes, 100, "the first sync does not converge")
		out, r := tb.runPass(ctx, b, env, pass, &lastRun)
		for s, n := range out.requests {
			total[s] += n
		}
		b.Logf("pass %d: exit %d, %d streams cut off, %d failed, %d rows committed, requests %v", passes, out.code, out.cancelled, out.other, out.rows, out.requests)
		if os.Getenv("BENCH_TIMELINE") != "" {
			b.Log("\n" + strings.Join(out.timeline, "\n"))
		}
		if out.code != exitOK || out.other > 0 {
			bad++
			b.Logf("pass %d output:\n%s%s", passes, r.stdout, r.stderr)
		}
		// Done when every stream ran (one a pass never reached has no run) and none was cut off.
		if out.cancelled == 0 && out.other == 0 && len(out.timeline) == streams {
			break
		}
	}
	floor := func(requests map[string]int) float64 {
		busiest := 0
		for _, n := range requests {
			busiest = max(busiest, n)
		}
		return float64(busiest) / (float64(budget) * pass.Seconds())
	}
	minimum, minUncut := floor(total), floor(uncut)
	b.Logf("scale %d: %d passes of %s at %d requests/s per source; minimum %.2f (requests %v), uncut %.2f (requests %v); passes with an error %d",
		scale, passes, pass, budget, minimum, total, minUncut, uncut, bad)
	tb.requireTruth(b)
	b.ReportMetric(float64(passes), "passes")
	b.ReportMetric(minimum, "min-passes")
	b.ReportMetric(float64(passes)/(1.2*minimum+1), "passes/target")
	b.ReportMetric(minUncut, "min-uncut")
	b.ReportMetric(float64(passes)/(1.2*minUncut+1), "passes/target-uncut")
	b.ReportMetric(float64(bad), "bad-passes")
	for s, n := range total {
		b.ReportMetric(float64(n), "req-"+s)
	}
}
