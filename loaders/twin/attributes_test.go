package twin_test

import (
	"context"
	"fmt"
	"net/http/httptest"
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
	"github.com/crmsync/crmsync/internal/twinauth"
	"github.com/crmsync/crmsync/loaders/twin"
)

type bundle struct {
	sim  *simulator.Sim
	pool *pgxpool.Pool
	cfg  push.Config
	chat *apiclient.Client
}

func setup(t *testing.T, create bool) *bundle {
	t.Helper()
	sim := simulator.New(simulator.Options{Seed: 7})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	client := func(root string) *apiclient.Client {
		c, err := apiclient.New(apiclient.Config{Source: "twin", BaseURL: srv.URL + root, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
		require.NoError(t, err)
		t.Cleanup(c.Close)
		return c
	}
	tokens, err := twinauth.New(twinauth.Config{IAM: client(simulator.TwinIAMPath), Email: simulator.DefaultTwinEmail, Password: simulator.DefaultTwinPassword})
	require.NoError(t, err)
	chat := client(simulator.TwinChatPath)
	w, err := twin.New(twin.Config{Client: chat, Tokens: tokens, CreateAttributes: create})
	require.NoError(t, err)
	pool := pgtest.NewDB(t)
	_, err = pool.Exec(context.Background(), `create table desired (client_id text, attribute text, value text)`)
	require.NoError(t, err)
	return &bundle{sim: sim, pool: pool, chat: chat, cfg: push.Config{
		Push: config.Push{Name: "twin-status", Destination: config.DestTwinAttributes, MaxAttempts: 5, CreateAttributes: create,
			Query: "select client_id, attribute, value from desired"},
		Writer: w, Pool: pool,
	}}
}

func (b *bundle) run(t *testing.T, opt push.Options) *push.Result {
	t.Helper()
	res, err := push.Run(context.Background(), b.cfg, opt)
	require.NoError(t, err)
	return res
}

// state is the simulator's attribute values of the given clients: client -> attribute name -> value.
func (b *bundle) state(clients []string) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, c := range clients {
		out[c] = map[string]string{}
		for _, v := range b.sim.TwinClientAttributes(c) {
			out[c][v.Name] = v.Value
		}
	}
	return out
}

func TestPushSetsAndClearsAttributes(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	ctx := context.Background()
	truth := b.sim.TwinTruth()
	attrs := truth.Attributes
	require.GreaterOrEqual(t, len(attrs), 3)
	clients := truth.ClientIDs[:20]

	// Every client gets attrs[0] by name and attrs[1] by id; attrs[2] is cleared.
	for i, c := range clients {
		_, err := b.pool.Exec(ctx, `insert into desired values ($1, $2, $3), ($1, $4, $5), ($1, $6, null)`,
			c, attrs[0].Name, fmt.Sprintf("status %d", i), attrs[1].ID, "paid", attrs[2].Name)
		require.NoError(t, err)
	}
	_, err := b.pool.Exec(ctx, `insert into desired values ($1, 'No such attribute', 'x')`, clients[0])
	require.NoError(t, err)

	// Tokens lapse every 7 requests: the push renews them and goes on.
	b.sim.SetFaults(simulator.Faults{TwinTokenRequests: 7})
	before := b.sim.TwinAuthStats()
	res := b.run(t, push.Options{})
	require.Equal(t, stream.RunSucceeded, res.Status, res.Err)
	require.Equal(t, 61, res.Read)
	require.Equal(t, 60, res.Sent)
	require.Equal(t, 1, res.Failed)
	auth := b.sim.TwinAuthStats()
	require.Greater(t, auth.Refreshes+auth.Logins-before.Refreshes-before.Logins, 5, "tokens renewed mid-push")

	got := b.state(clients)
	for i, c := range clients {
		require.Equal(t, fmt.Sprintf("status %d", i), got[c][attrs[0].Name], c)
		require.Equal(t, "paid", got[c][attrs[1].Name], c)
		require.NotContains(t, got[c], attrs[2].Name, "NULL clears the value")
	}
	var lastErr string
	require.NoError(t, b.pool.QueryRow(ctx, `select last_error from sync.pushes where key = $1`, clients[0]+"/No such attribute").Scan(&lastErr))
	require.Contains(t, lastErr, `attribute "No such attribute": unknown`)
	require.Contains(t, lastErr, "create_attributes: true")

	// Nothing changed: nothing sent. The unknown attribute is tried again (max_attempts).
	res = b.run(t, push.Options{})
	require.Equal(t, 0, res.Sent)
	require.Equal(t, 60, res.Skipped)
	require.Equal(t, 1, res.Failed)

	// A dry run of a change sends and writes nothing.
	_, err = b.pool.Exec(ctx, `update desired set value = 'refunded' where attribute = $1`, attrs[1].ID)
	require.NoError(t, err)
	var ledgerBefore string
	require.NoError(t, b.pool.QueryRow(ctx, `select string_agg(key || status || attempts || payload_hash, ',' order by key) from sync.pushes`).Scan(&ledgerBefore))
	simBefore := b.state(clients)
	res = b.run(t, push.Options{DryRun: true})
	require.Equal(t, 20, res.Plan.Changed)
	require.Equal(t, simBefore, b.state(clients))
	var ledgerAfter string
	require.NoError(t, b.pool.QueryRow(ctx, `select string_agg(key || status || attempts || payload_hash, ',' order by key) from sync.pushes`).Scan(&ledgerAfter))
	require.Equal(t, ledgerBefore, ledgerAfter)

	res = b.run(t, push.Options{})
	require.Equal(t, 20, res.Sent)
	for _, c := range clients {
		require.Equal(t, "refunded", b.state(clients)[c][attrs[1].Name])
	}
}

func TestPushCreatesAttributes(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	ctx := context.Background()
	clients := b.sim.TwinTruth().ClientIDs[:3]
	for _, c := range clients {
		_, err := b.pool.Exec(ctx, `insert into desired values ($1, 'Leeloo order status', 'paid')`, c)
		require.NoError(t, err)
	}
	res := b.run(t, push.Options{})
	require.Equal(t, 3, res.Sent, res.Err)
	n := 0
	for _, a := range b.sim.TwinAttributes() {
		if a.Name == "Leeloo order status" {
			n++
		}
	}
	require.Equal(t, 1, n, "created once")
	for _, c := range clients {
		require.Equal(t, "paid", b.state(clients)[c]["Leeloo order status"])
	}
}

// TestPushComparesWithLastSync: a value the last sync saw TWIN holding is not sent; a
// value changed in TWIN after the push (as a later sync saw it) is sent again.
func TestPushComparesWithLastSync(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	ctx := context.Background()
	truth := b.sim.TwinTruth()
	attr := truth.Attributes[0]
	clients := truth.ClientIDs[:4]
	for _, c := range clients {
		_, err := b.pool.Exec(ctx, `insert into desired values ($1, $2, 'gold')`, c, attr.Name)
		require.NoError(t, err)
	}
	_, err := b.pool.Exec(ctx, `insert into twin.attributes (id, company_id, name, raw) values ($1, $2, $3, '{}')`, attr.ID, attr.CompanyID, attr.Name)
	require.NoError(t, err)
	// The last sync saw clients[0] holding the value already.
	_, err = b.pool.Exec(ctx, `insert into twin.client_attributes (client_id, attribute_id, value, raw) values ($1, $2, 'gold', '{}')`, clients[0], attr.ID)
	require.NoError(t, err)

	res := b.run(t, push.Options{})
	require.Equal(t, 3, res.Sent, res.Err)
	require.Equal(t, 1, res.Plan.Already)
	require.Equal(t, 3, res.Requests-1, "one login, three values")

	// An operator changed clients[1]'s value after the push; the next sync saw it.
	_, err = b.pool.Exec(ctx, `insert into twin.client_attributes (client_id, attribute_id, value, raw, synced_at) values ($1, $2, 'silver', '{}', now() + interval '1 second')`, clients[1], attr.ID)
	require.NoError(t, err)
	res = b.run(t, push.Options{})
	require.Equal(t, 1, res.Plan.Drift)
	require.Equal(t, 1, res.Sent)
	require.Equal(t, "gold", b.state(clients)[clients[1]][attr.Name])
}
