package calltouch_test

import (
	"context"
	"net"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/pgtest"
	"github.com/crmsync/crmsync/internal/push"
	"github.com/crmsync/crmsync/internal/simulator"
	"github.com/crmsync/crmsync/internal/stream"
	"github.com/crmsync/crmsync/loaders/calltouch"
)

const token = "ct-test-token"

type bundle struct {
	url  string
	sim  *simulator.Sim
	pool *pgxpool.Pool
	cfg  push.Config
}

func newWriter(t *testing.T, baseURL string, siteID int64) *calltouch.Writer {
	t.Helper()
	return newWriterToken(t, baseURL, token, siteID)
}

func newWriterToken(t *testing.T, baseURL, token string, siteID int64) *calltouch.Writer {
	t.Helper()
	c, err := apiclient.New(apiclient.Config{Source: "calltouch", BaseURL: baseURL, Secrets: []string{token},
		MaxAttempts: 4, MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	w, err := calltouch.New(calltouch.Config{Client: c, Token: token, SiteID: siteID})
	require.NoError(t, err)
	return w
}

func setup(t *testing.T) *bundle {
	t.Helper()
	sim := simulator.New(simulator.Options{Seed: 3, CalltouchToken: token})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	pool := pgtest.NewDB(t)
	_, err := pool.Exec(context.Background(), `create table leads (key text, comment text, call_id bigint, request_id bigint,
		phones text[], emails text[], lead_at timestamptz, search_depth_minutes int, tags text[])`)
	require.NoError(t, err)
	return &bundle{url: srv.URL, sim: sim, pool: pool, cfg: push.Config{
		Push: config.Push{Name: "lead-comments", Destination: config.DestCalltouchComments, MaxAttempts: 3,
			Query: "select * from leads"},
		Writer: newWriter(t, srv.URL, sim.CalltouchSiteID()), Pool: pool,
	}}
}

func (b *bundle) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	_, err := b.pool.Exec(context.Background(), sql, args...)
	require.NoError(t, err)
}

func (b *bundle) run(t *testing.T, opt push.Options) *push.Result {
	t.Helper()
	res, err := push.Run(context.Background(), b.cfg, opt)
	require.NoError(t, err)
	return res
}

var keyOf = regexp.MustCompile(`^\[(\w+)\]`)

// received counts the comments the simulator recorded, by the key each comment text
// starts with, and by key and text.
func (b *bundle) received() (byKey map[string]int, byText map[string]int) {
	byKey, byText = map[string]int{}, map[string]int{}
	for _, texts := range b.sim.CalltouchLeadComments() {
		for _, s := range texts {
			if m := keyOf.FindStringSubmatch(s); m != nil {
				byKey[m[1]]++
				byText[s]++
			}
		}
	}
	return byKey, byText
}

func (b *bundle) statuses(t *testing.T) map[string]int {
	t.Helper()
	rows, err := b.pool.Query(context.Background(), `select status, count(*)::int from sync.pushes group by status`)
	require.NoError(t, err)
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		require.NoError(t, rows.Scan(&s, &n))
		out[s] = n
	}
	return out
}

func TestPushComments(t *testing.T) {
	t.Parallel()
	b := setup(t)
	calls := b.sim.CalltouchTruth().Calls
	require.NotEmpty(t, calls)
	for i := range 250 {
		c := calls[i%len(calls)]
		b.exec(t, `insert into leads (key, comment, call_id) values ($1, '[' || $1 || '] replied by SMS', $2)`, "k"+itoa(i), c.CallID)
	}

	res := b.run(t, push.Options{})
	require.Equal(t, stream.RunSucceeded, res.Status, res.Err)
	require.Equal(t, 250, res.Sent)
	require.Equal(t, 3, res.Requests, "250 comments in batches of 100")
	byKey, _ := b.received()
	require.Len(t, byKey, 250)
	var result string
	require.NoError(t, b.pool.QueryRow(context.Background(), `select result::text from sync.pushes where key = 'k0'`).Scan(&result))
	require.Contains(t, result, `"callId": `+itoa64(calls[0].CallID))

	res = b.run(t, push.Options{})
	require.Equal(t, 0, res.Sent)
	require.Equal(t, 0, res.Requests, "nothing new: no request")

	b.exec(t, `update leads set comment = comment || ', order #123 paid' where key in ('k1', 'k2', 'k3', 'k4', 'k5')`)
	res = b.run(t, push.Options{})
	require.Equal(t, 5, res.Sent)
	require.Equal(t, 1, res.Requests)
	byKey, byText := b.received()
	require.Equal(t, 2, byKey["k1"], "the old and the changed comment")
	for text, n := range byText {
		require.Equal(t, 1, n, "comment %q received twice", text)
	}
}

func TestPushCommentsMatchByContact(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var call simulator.CTCall
	for _, c := range b.sim.CalltouchTruth().Calls {
		if c.CallerNumber != "" && c.UniqueCall {
			call = c
			break
		}
	}
	require.NotZero(t, call.CallID)
	b.exec(t, `insert into leads (key, comment, phones, lead_at, search_depth_minutes) values ('a', '[a] hello', $1, $2, 60)`,
		[]string{call.CallerNumber}, call.Date.Add(10*time.Minute))
	b.exec(t, `insert into leads (key, comment, call_id) values ('nolead', '[nolead] hello', 987654321)`)
	b.exec(t, `insert into leads (key, comment) values ('norule', '[norule] hello')`)
	b.exec(t, `insert into leads (key, comment, call_id) values ('blank', '   ', 1)`)

	for range 4 {
		b.run(t, push.Options{})
	}
	var result string
	require.NoError(t, b.pool.QueryRow(context.Background(), `select result::text from sync.pushes where key = 'a' and status = 'sent'`).Scan(&result))
	require.Contains(t, result, itoa64(call.CallID))

	var status, lastErr string
	var attempts int
	require.NoError(t, b.pool.QueryRow(context.Background(), `select status, attempts, last_error from sync.pushes where key = 'nolead'`).Scan(&status, &attempts, &lastErr))
	require.Equal(t, "unmatched", status)
	require.Equal(t, 3, attempts, "tried max_attempts times, then given up")
	require.Contains(t, lastErr, "не найден")
	res := b.run(t, push.Options{DryRun: true})
	require.Equal(t, 3, res.Plan.GivenUp, "the unmatched row and the two bad ones are given up")

	require.NoError(t, b.pool.QueryRow(context.Background(), `select last_error from sync.pushes where key = 'norule'`).Scan(&lastErr))
	require.Contains(t, lastErr, "no matching rule")
	require.NoError(t, b.pool.QueryRow(context.Background(), `select last_error from sync.pushes where key = 'blank'`).Scan(&lastErr))
	require.Equal(t, "comment: empty or NULL", lastErr)
}

func TestPushCommentsLostAnswerNeverResent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	calls := b.sim.CalltouchTruth().Calls
	for i := range 30 {
		b.exec(t, `insert into leads (key, comment, call_id) values ($1, '[' || $1 || '] note', $2)`, "k"+itoa(i), calls[i%len(calls)].CallID)
	}
	// Processed, then answered 502.
	b.sim.SetFaults(simulator.Faults{CalltouchLostAnswerRate: 1})
	res := b.run(t, push.Options{})
	require.Equal(t, stream.RunFailed, res.Status)
	require.Equal(t, 30, res.Unknown)
	require.Equal(t, 1, res.Requests, "a 5xx of a comment request is not retried")
	require.Equal(t, map[string]int{"unknown": 30}, b.statuses(t))

	b.sim.SetFaults(simulator.Faults{})
	for range 2 {
		res = b.run(t, push.Options{})
		require.Equal(t, 0, res.Requests)
		require.Equal(t, 30, res.Plan.UnknownKept)
	}
	byKey, _ := b.received()
	require.Len(t, byKey, 30)
	for k, n := range byKey {
		require.Equal(t, 1, n, "key %s commented twice", k)
	}

	res = b.run(t, push.Options{RetryUnknown: true})
	require.Equal(t, 30, res.Sent)
	byKey, _ = b.received()
	for k, n := range byKey {
		require.Equal(t, 2, n, "key %s: sent once more by --retry-unknown", k)
	}
	require.Equal(t, map[string]int{"sent": 30}, b.statuses(t))
}

func TestPushCommentsRetriesWhatWasNotProcessed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	calls := b.sim.CalltouchTruth().Calls
	for i := range 5 {
		b.exec(t, `insert into leads (key, comment, call_id) values ($1, '[' || $1 || '] note', $2)`, "k"+itoa(i), calls[i].CallID)
	}
	// Nothing listens: the connection is refused before anything is written.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	cfg := b.cfg
	cfg.Writer = newWriter(t, dead, b.sim.CalltouchSiteID())
	res, err := push.Run(context.Background(), cfg, push.Options{})
	require.NoError(t, err)
	require.Equal(t, stream.RunFailed, res.Status)
	require.Equal(t, 5, res.Failed)
	require.Equal(t, map[string]int{"failed": 5}, b.statuses(t), "refused: known not sent, so failed (not unknown)")

	// 429s are retried within the run.
	b.sim.SetFaults(simulator.Faults{CalltouchRateLimit: 1})
	res = b.run(t, push.Options{})
	require.Equal(t, stream.RunSucceeded, res.Status, res.Err)
	require.Equal(t, 5, res.Sent)
	byKey, _ := b.received()
	require.Len(t, byKey, 5)

	// A wrong token: refused, nothing commented, the push fails and says why.
	b.exec(t, `update leads set comment = comment || ' (2)'`)
	cfg = b.cfg
	cfg.Writer = newWriterToken(t, b.url, "wrong-token", b.sim.CalltouchSiteID())
	res, err = push.Run(context.Background(), cfg, push.Options{})
	require.NoError(t, err)
	require.Equal(t, stream.RunFailed, res.Status)
	require.ErrorContains(t, res.Err, "HTTP 401")
	require.Equal(t, map[string]int{"failed": 5}, b.statuses(t))
	require.NotContains(t, res.Err.Error(), "wrong-token")
}

func itoa(i int) string     { return strconv.Itoa(i) }
func itoa64(i int64) string { return strconv.FormatInt(i, 10) }
