package push_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/pgtest"
	"github.com/crmsync/crmsync/internal/push"
	"github.com/crmsync/crmsync/internal/stream"
)

// fakeWriter is a destination in memory: it records what it received and answers
// with the outcome its answer function gives.
type fakeWriter struct {
	atMostOnce bool
	batch      int
	mu         sync.Mutex
	received   map[string][]string // key -> texts received
	requests   int
	answer     func(it push.Item) push.Outcome
	fatal      error
}

func (w *fakeWriter) Columns() []push.Column {
	return []push.Column{{Name: "key", Kind: push.Text, Required: true}, {Name: "text", Kind: push.Text, Required: true}, {Name: "n", Kind: push.Int}}
}

func (w *fakeWriter) Prepare(r push.Row) (push.Item, error) {
	k, _ := r.String("key")
	t, ok := r.String("text")
	if !ok {
		return push.Item{Key: k}, errors.New("text: NULL")
	}
	return push.Item{Key: k, Payload: map[string]string{"text": t}}, nil
}

func (w *fakeWriter) BatchSize() int   { return w.batch }
func (w *fakeWriter) AtMostOnce() bool { return w.atMostOnce }

func (w *fakeWriter) Send(_ context.Context, _ *apiclient.Counter, items []push.Item) ([]push.Outcome, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.requests++
	outs := make([]push.Outcome, len(items))
	for i, it := range items {
		w.received[it.Key] = append(w.received[it.Key], it.Payload.(map[string]string)["text"])
		outs[i] = push.Outcome{Status: push.Sent, Result: map[string]string{"ok": it.Key}}
		if w.answer != nil {
			outs[i] = w.answer(it)
		}
	}
	return outs, w.fatal
}

type bundle struct {
	pool *pgxpool.Pool
	w    *fakeWriter
	cfg  push.Config
}

func setup(t *testing.T) *bundle {
	t.Helper()
	pool := pgtest.NewDB(t)
	_, err := pool.Exec(context.Background(), `create table src (key text, text text, n int)`)
	require.NoError(t, err)
	w := &fakeWriter{atMostOnce: true, batch: 10, received: map[string][]string{}}
	return &bundle{pool: pool, w: w, cfg: push.Config{
		Push:   config.Push{Name: "p", Destination: config.DestCalltouchComments, Query: "select key, text, n from src", MaxAttempts: 3},
		Writer: w, Pool: pool,
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

func (b *bundle) statuses(t *testing.T) map[string]string {
	t.Helper()
	rows, err := b.pool.Query(context.Background(), `select key, status || '/' || attempts from sync.pushes where push = 'p'`)
	require.NoError(t, err)
	out := map[string]string{}
	for rows.Next() {
		var k, s string
		require.NoError(t, rows.Scan(&k, &s))
		out[k] = s
	}
	require.NoError(t, rows.Err())
	return out
}

func TestPushSendsNewAndChangedOnly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec(t, `insert into src select 'k' || i, 'text ' || i, i from generate_series(1, 25) i`)

	res := b.run(t, push.Options{})
	require.Equal(t, stream.RunSucceeded, res.Status, res.Err)
	require.Equal(t, 25, res.Read)
	require.Equal(t, 25, res.Sent)
	require.Equal(t, 3, b.w.requests, "25 rows in batches of 10")

	res = b.run(t, push.Options{})
	require.Equal(t, 0, res.Sent)
	require.Equal(t, 25, res.Skipped)
	require.Equal(t, 3, b.w.requests, "nothing new: no request")

	b.exec(t, `update src set text = text || ' (changed)' where n <= 5`)
	res = b.run(t, push.Options{})
	require.Equal(t, 5, res.Sent)
	require.Equal(t, 5, res.Plan.Changed)
	require.Equal(t, []string{"text 1", "text 1 (changed)"}, b.w.received["k1"])

	var runs, sent int
	require.NoError(t, b.pool.QueryRow(context.Background(),
		`select count(*), sum(rows_sent) from sync.runs where source = 'push' and stream = 'p' and status = 'succeeded'`).Scan(&runs, &sent))
	require.Equal(t, 3, runs)
	require.Equal(t, 30, sent)
}

func TestPushRetriesUnmatchedThenGivesUp(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec(t, `insert into src values ('a', 'x', 1), ('b', 'y', 2)`)
	b.w.answer = func(it push.Item) push.Outcome {
		if it.Key == "a" {
			return push.Outcome{Status: push.Unmatched, Error: "no lead"}
		}
		return push.Outcome{Status: push.Sent}
	}
	for range 5 {
		b.run(t, push.Options{})
	}
	require.Len(t, b.w.received["a"], 3, "max_attempts 3")
	require.Len(t, b.w.received["b"], 1)
	require.Equal(t, map[string]string{"a": "unmatched/3", "b": "sent/1"}, b.statuses(t))
	res := b.run(t, push.Options{DryRun: true})
	require.Equal(t, 1, res.Plan.GivenUp)
}

func TestPushBadRowsAndRepeatedKeys(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec(t, `insert into src values ('a', 'x', 1), ('b', null, 2), ('c', 'z', 3), ('c', 'z2', 4), (null, 'w', 5)`)
	res := b.run(t, push.Options{})
	require.Equal(t, stream.RunSucceeded, res.Status, res.Err)
	require.Equal(t, 1, res.Sent)
	require.Equal(t, 2, res.Failed)
	require.Equal(t, []string{"row 5: no key"}, res.Plan.NoKey)
	require.Equal(t, map[string]string{"a": "sent/1", "b": "failed/1", "c": "failed/1"}, b.statuses(t))
	var msg string
	require.NoError(t, b.pool.QueryRow(context.Background(), `select last_error from sync.pushes where key = 'c'`).Scan(&msg))
	require.Equal(t, `key "c" is repeated in the query result (2 rows); none of them is sent`, msg)
	require.NotContains(t, b.w.received, "c")
}

func TestPushQueryErrorsAreConfigErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cases := map[string]string{
		"select key from src":                                       "column text: missing (want text)",
		"select key, text, 'x' as n from src":                       "column n: is text, want an integer (bigint)",
		"select key, text, null as n from src":                      "column n: is text",
		"select key, text from nope":                                `relation "nope" does not exist`,
		"insert into src values ('a','b',1) returning key, text, n": "read-only transaction",
	}
	for q, want := range cases {
		cfg := b.cfg
		cfg.Push.Query, cfg.Push.Line = q, 12
		_, err := push.Run(context.Background(), cfg, push.Options{})
		require.ErrorIs(t, err, push.ErrConfig, q)
		require.ErrorContains(t, err, want, q)
		require.ErrorContains(t, err, `push "p" (line 12)`, q)
	}
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), `select count(*) from src`).Scan(&n))
	require.Zero(t, n, "the query ran read-only")
}

func TestPushSendingBecomesUnknown(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec(t, `insert into src values ('a', 'x', 1), ('b', 'y', 2)`)
	// A run that died mid-request left 'a' sending.
	b.exec(t, `insert into sync.pushes (push, key, destination, payload_hash, status, attempts) values ('p', 'a', 'd', 'h', 'sending', 1)`)
	res := b.run(t, push.Options{DryRun: true})
	require.Equal(t, 1, res.Plan.New)
	require.Equal(t, 1, res.Plan.Changed, "dry run: the stale hash makes it changed")

	// The same payload as the orphan: kept unknown.
	b.exec(t, `delete from sync.pushes`)
	b.run(t, push.Options{})
	b.exec(t, `update sync.pushes set status = 'sending' where key = 'a'`)
	before := len(b.w.received["a"])
	res = b.run(t, push.Options{})
	require.Equal(t, 1, res.Plan.UnknownKept)
	require.Equal(t, before, len(b.w.received["a"]), "an orphan is never sent again by itself")
	require.Equal(t, "unknown/1", b.statuses(t)["a"])

	res = b.run(t, push.Options{RetryUnknown: true})
	require.Equal(t, 1, res.Sent)
	require.Equal(t, before+1, len(b.w.received["a"]))
	require.Equal(t, "sent/2", b.statuses(t)["a"])
}

func TestPushClosesRunsOfADeadProcess(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec(t, `insert into src values ('a', 'x', 1)`)
	// A push killed with kill -9 left its run row running; its lock died with it.
	b.exec(t, `insert into sync.runs (source, stream, status, started_at) values ('push', 'p', 'running', now() - interval '1 hour')`)
	res := b.run(t, push.Options{})
	require.Equal(t, 1, res.Sent)
	var running, abandoned int
	require.NoError(t, b.pool.QueryRow(context.Background(), `select count(*) filter (where status = 'running'),
		count(*) filter (where status = 'abandoned' and finished_at is not null and error like 'abandoned: %')
		from sync.runs where source = 'push' and stream = 'p'`).Scan(&running, &abandoned))
	require.Equal(t, 0, running, "no run is left running")
	require.Equal(t, 1, abandoned, "the dead process's run is closed as abandoned")
}

func TestPushFatalStopsAndDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec(t, `insert into src select 'k' || i, 't', i from generate_series(1, 30) i`)
	res := b.run(t, push.Options{DryRun: true, Preview: 2})
	require.Equal(t, 30, res.Plan.New)
	require.Len(t, res.Plan.Preview["send"], 2)
	require.Zero(t, b.w.requests)
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), `select (select count(*) from sync.pushes) + (select count(*) from sync.runs)`).Scan(&n))
	require.Zero(t, n, "a dry run writes nothing")

	b.w.fatal = errors.New("token refused")
	b.w.answer = func(push.Item) push.Outcome { return push.Outcome{Status: push.Failed, Error: "refused"} }
	res = b.run(t, push.Options{})
	require.Equal(t, stream.RunFailed, res.Status)
	require.Equal(t, 1, b.w.requests, "the first batch's fatal error stops the push")
	require.Equal(t, 10, res.Failed)
	require.Len(t, b.statuses(t), 10)
}
