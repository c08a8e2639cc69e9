package textrequest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/extractortest"
	"github.com/crmsync/crmsync/internal/pgtest"
	"github.com/crmsync/crmsync/internal/simulator"
)

// marked returns "table: rows marked deleted" for the tables a sweep marks.
func marked(t *testing.T, b *testBundle) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, tbl := range []string{"contacts", "contact_tags", "contact_groups", "contact_custom_fields", "conversations", "payments", "groups", "tags", "custom_fields", "dashboards"} {
		var n int
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM textrequest.`+tbl+` WHERE deleted_at IS NOT NULL`).Scan(&n))
		if n > 0 {
			out[tbl] = n
		}
	}
	return out
}

// TestSweepMarksDeletedRecords: after the simulator deletes contacts, payments, groups,
// tags and custom fields, the next sweep marks exactly those rows (the live rows are the
// truth again) and their contacts' links; a cut-off sweep marks nothing until the run
// that completes it; records that come back are restored.
func TestSweepMarksDeletedRecords(t *testing.T) {
	t.Parallel()
	b := setupSim(t, simulator.Faults{}, noLimit, func(c *Config) { c.PageSize = 50; c.Concurrency = 1 })
	started := time.Now()
	b.sync(t, extractortest.Options{Started: started})
	requireTruth(t, b)
	require.Empty(t, marked(t, b))

	b.sim.Mutate(simulator.Mutation{DeletedContacts: 6, DeletedPayments: 3, DeletedGroups: 3, DeletedTRTags: 3, DeletedFields: 3})

	// An incremental run sees no complete contacts list: it marks the full-refresh lists
	// (groups, tags, fields, conversations) and payments (one page each here, read whole).
	b.sync(t, extractortest.Options{Started: started.Add(time.Hour)})
	got := marked(t, b)
	require.Equal(t, 3, got["groups"])
	require.Equal(t, 3, got["tags"])
	require.Equal(t, 3, got["custom_fields"])
	require.Equal(t, 3, got["payments"])
	require.Zero(t, got["contacts"], "no sweep yet")

	// The sweep (due after a day), killed after a few batches and resumed until it
	// finishes: a dashboard's pass marks only once complete, so no run marks a contact
	// that is still in the source, and a run cut off before any pass completed marks
	// nothing.
	at := started.Add(25 * time.Hour)
	live := map[string]bool{}
	for _, c := range b.sim.Truth().TextRequest.Contacts {
		live[join(int64(c.DashboardID), c.PhoneNumber)] = true
	}
	cutOff := 0
	for k := 2; ; k += 3 {
		res := b.sync(t, extractortest.Options{Started: at, Streams: []string{StreamContacts}, CancelAfter: k})
		if !res.Cancelled {
			break
		}
		cutOff++
		if res.Loaded.PassesDone == 0 {
			require.Zero(t, res.Loaded.MarkedDeleted, "a cut-off pass marks nothing")
		}
		for _, key := range queryRows(t, b.pool, `SELECT dashboard_id, phone_number FROM textrequest.contacts WHERE deleted_at IS NOT NULL`) {
			require.False(t, live[key], "contact %s is in the source but marked deleted", key)
		}
	}
	require.Positive(t, cutOff, "the sweep was cut off at least once")
	b.sync(t, extractortest.Options{Started: at})
	requireTruth(t, b)
	got = marked(t, b)
	require.Equal(t, 6, got["contacts"])
	require.Equal(t, 3, got["payments"])
	require.Positive(t, got["contact_tags"]+got["contact_groups"], "a deleted contact's links follow it")
	var seen int
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM sync.seen`).Scan(&seen))
	require.Zero(t, seen, "completed passes forget their keys")

	// Everything comes back: the next sweep restores every mark.
	b.sim.Mutate(simulator.Mutation{Restored: 100})
	b.sync(t, extractortest.Options{Started: started.Add(50 * time.Hour)})
	requireTruth(t, b)
	require.Empty(t, marked(t, b))
}

// TestEmptyListHeldByGuard: an API answering an empty tags list marks nothing at the
// default guard, and the run's sync.runs row says why.
func TestEmptyListHeldByGuard(t *testing.T) {
	t.Parallel()
	sim := simulator.New(simulator.Options{Seed: 7, TextRequestKey: testKey})
	var empty atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if empty.Load() && strings.HasSuffix(r.URL.Path, "/tags") {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"meta":{"page":0,"page_size":50,"total_items":0},"items":[]}`))
			return
		}
		sim.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	b := &testBundle{sim: sim, pool: pgtest.NewDB(t), ex: newTestExtractor(t, func(c *Config) { c.Client = newTestClient(t, srv.URL+"/api/v3", noLimit) })}
	b.sync(t, extractortest.Options{Streams: []string{StreamTags}})
	var live int
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM textrequest.tags`).Scan(&live))
	require.Positive(t, live)

	empty.Store(true)
	res := b.sync(t, extractortest.Options{Streams: []string{StreamTags}})
	require.Zero(t, res.Loaded.MarkedDeleted)
	require.Equal(t, res.Loaded.PassesDone, res.Loaded.PassesHeld, "every dashboard's pass held")
	require.Empty(t, marked(t, b))
	var held string
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT deletions_held FROM sync.runs WHERE stream = 'tags' ORDER BY id DESC LIMIT 1`).Scan(&held))
	require.Contains(t, held, "textrequest.tags (dashboard_id=")
	require.Contains(t, held, "live rows not seen, more than the guard's 0.5; none marked")
}

// TestSweepResumedAfterDeletions: a sweep cut off mid-list resumes in a later run after
// contacts before its cursor were deleted. The records that moved up into pages already
// read are read again (the cursor kept the list's total), so the pass marks exactly the
// deleted contacts and no live one.
func TestSweepResumedAfterDeletions(t *testing.T) {
	t.Parallel()
	b := setupSim(t, simulator.Faults{}, noLimit, func(c *Config) { c.PageSize = 20; c.Concurrency = 1 })
	started := time.Now()
	b.sync(t, extractortest.Options{Started: started})
	requireTruth(t, b)

	at := started.Add(25 * time.Hour) // the sweep is due
	res := b.sync(t, extractortest.Options{Started: at, Streams: []string{StreamContacts}, CancelAfter: 6})
	require.True(t, res.Cancelled, "the sweep was cut off")
	b.sim.Mutate(simulator.Mutation{DeletedContacts: 40})
	live := map[string]bool{}
	for _, c := range b.sim.Truth().TextRequest.Contacts {
		live[join(int64(c.DashboardID), c.PhoneNumber)] = true
	}
	b.sync(t, extractortest.Options{Started: at, Streams: []string{StreamContacts}})
	for _, key := range queryRows(t, b.pool, `SELECT dashboard_id, phone_number FROM textrequest.contacts WHERE deleted_at IS NOT NULL`) {
		require.False(t, live[key], "contact %s is in the source but marked deleted", key)
	}
	require.Positive(t, marked(t, b)["contacts"])
	// Contacts deleted after this pass had read them are marked by the next one.
	b.sync(t, extractortest.Options{Started: at.Add(25 * time.Hour), Streams: []string{StreamContacts}})
	require.Equal(t, 40, marked(t, b)["contacts"])
}
