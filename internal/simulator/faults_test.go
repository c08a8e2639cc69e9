package simulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFaultLatency(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{Faults: Faults{Latency: 30 * time.Millisecond}})
	start := time.Now()
	r := b.get(t, "/api/v2/tags")
	require.Equal(t, http.StatusOK, r.status)
	require.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond)
}

func TestFaultRateLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{Faults: Faults{TextRequestRateLimit: 5, LeelooRateLimit: 3, RateWindow: time.Hour}})
	for range 5 {
		require.Equal(t, http.StatusOK, b.get(t, "/api/v3/dashboards").status)
	}
	r := b.get(t, "/api/v3/dashboards")
	require.Equal(t, http.StatusTooManyRequests, r.status)
	secs, err := strconv.Atoi(r.header.Get("Retry-After"))
	require.NoError(t, err)
	require.Greater(t, secs, 3500)
	require.LessOrEqual(t, secs, 3600)
	require.Contains(t, string(r.body), `"errorCode":"RATE_LIMITED"`)

	// Leeloo has its own budget.
	for range 3 {
		require.Equal(t, http.StatusOK, b.get(t, "/api/v2/tags").status)
	}
	r = b.get(t, "/api/v2/tags")
	require.Equal(t, http.StatusTooManyRequests, r.status)
	require.JSONEq(t, `{"status":0,"error":{"code":"RATE_LIMITED"}}`, string(r.body))

	st := b.sim.Stats()
	require.Equal(t, 1, st.RateLimited[APITextRequest])
	require.Equal(t, 1, st.RateLimited[APILeeloo])
	require.Equal(t, 6, st.MaxInWindow[APITextRequest])
	require.Equal(t, 4, st.MaxInWindow[APILeeloo])
	require.Equal(t, 6, st.Requests[APITextRequest])
	require.Equal(t, 5, st.Status[APITextRequest][200])

	// Switching the fault off lifts the limit at once.
	b.sim.SetFaults(Faults{})
	require.Equal(t, http.StatusOK, b.get(t, "/api/v3/dashboards").status)
}

func TestRateWindowRolls(t *testing.T) {
	t.Parallel()
	var st statsState
	st.reset()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		_, ok := st.admit("x", "k", 3, time.Second, t0.Add(time.Duration(i)*100*time.Millisecond))
		require.True(t, ok)
	}
	wait, ok := st.admit("x", "k", 3, time.Second, t0.Add(500*time.Millisecond))
	require.False(t, ok)
	require.Equal(t, 500*time.Millisecond, wait)
	// The first request leaves the window at t0+1s.
	_, ok = st.admit("x", "k", 3, time.Second, t0.Add(time.Second))
	require.True(t, ok)
	_, ok = st.admit("x", "other", 3, time.Second, t0.Add(time.Second))
	require.True(t, ok)
	require.Equal(t, 4, st.snapshot().MaxInWindow["x"])
}

func TestFaultErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{Faults: Faults{ErrorRate: 1}})
	codes := map[int]bool{}
	for range 30 {
		r := b.get(t, "/api/v3/dashboards")
		codes[r.status] = true
	}
	require.Equal(t, map[int]bool{500: true, 502: true, 503: true}, codes)

	b.sim.SetFaults(Faults{ErrorRate: 0.3})
	var ok, failed int
	for range 100 {
		if b.get(t, "/api/v2/tags").status == http.StatusOK {
			ok++
		} else {
			failed++
		}
	}
	require.Positive(t, ok)
	require.Positive(t, failed)
}

func TestFaultTruncate(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{Faults: Faults{TruncateRate: 1}})
	var invalid, eof int
	for i := range 20 {
		path := "/api/v2/people"
		if i%2 == 1 {
			path = "/api/v3/dashboards/4101/contacts"
		}
		r := b.get(t, path)
		require.Equal(t, http.StatusOK, r.status)
		if r.err != nil {
			require.True(t, errors.Is(r.err, io.ErrUnexpectedEOF), r.err)
			eof++
			continue
		}
		require.False(t, json.Valid(r.body))
		invalid++
	}
	require.Positive(t, invalid)
	require.Positive(t, eof)
	require.Equal(t, 20, b.sim.Stats().Truncated)

	// Errors are never truncated; 204s have no body.
	b.sim.SetFaults(Faults{TruncateRate: 1})
	r := b.get(t, "/api/v2/people/nope")
	require.True(t, json.Valid(r.body))
}

func TestFaultOffsetDrift(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{Faults: Faults{OffsetDrift: true}})

	p0 := b.llList(t, "/api/v2/people?limit=10")
	p1 := b.llList(t, "/api/v2/people?limit=10&offset=10")
	require.Equal(t, p0.Meta.TotalCount+1, p1.Meta.TotalCount)
	// The insert pushed everything down one: the last item of page 0 repeats.
	require.JSONEq(t, string(p0.Data[9]), string(p1.Data[0]))

	c0 := b.llList(t, "/api/v2/communication-channels?limit=10")
	c1 := b.llList(t, "/api/v2/communication-channels?limit=10&offset=10")
	require.Equal(t, c0.Meta.TotalCount+1, c1.Meta.TotalCount)

	ch := b.sim.Truth().Leeloo.Channels[50].ID
	m0 := b.llList(t, "/api/v2/communication-channels/"+ch+"/chat-messages?limit=1")
	m1 := b.llList(t, "/api/v2/communication-channels/"+ch+"/chat-messages?limit=1&offset=1")
	require.Equal(t, m0.Meta.TotalCount+1, m1.Meta.TotalCount)
	require.JSONEq(t, string(m0.Data[0]), string(m1.Data[0]))

	t0 := b.trList(t, "/api/v3/dashboards/4102/contacts?page_size=10")
	t1 := b.trList(t, "/api/v3/dashboards/4102/contacts?page_size=10&page=1")
	require.Equal(t, t0.Meta.TotalItems+1, t1.Meta.TotalItems)
	require.JSONEq(t, string(t0.Items[9]), string(t1.Items[0]))

	// Truth includes the inserted records; without the fault nothing moves.
	tr := b.sim.Truth()
	require.Len(t, tr.Leeloo.People, 202)
	require.Len(t, tr.TextRequest.Contacts, 451)
	b.sim.SetFaults(Faults{})
	require.Equal(t, p1.Meta.TotalCount+1, b.llList(t, "/api/v2/people?limit=10&offset=10").Meta.TotalCount)
	require.Equal(t, p1.Meta.TotalCount+1, b.llList(t, "/api/v2/people?limit=10&offset=20").Meta.TotalCount)
}

func TestFaultDuplicateMessageIDs(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{Faults: Faults{DuplicateMessageIDs: true}})
	tr := b.sim.Truth().Leeloo
	count := map[string]map[string]bool{}
	for _, m := range tr.Messages {
		if count[m.ID] == nil {
			count[m.ID] = map[string]bool{}
		}
		count[m.ID][m.ChannelID] = true
	}
	var dupID string
	var chans []string
	for id, cs := range count {
		if len(cs) > 1 {
			dupID = id
			for c := range cs {
				chans = append(chans, c)
			}
			break
		}
	}
	require.NotEmpty(t, dupID)
	for _, c := range chans {
		all := b.llAll(t, "/api/v2/communication-channels/"+c+"/chat-messages", 50)
		require.Contains(t, all, dupID)
	}
}

func TestFaultContent(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{Faults: Faults{UnknownFields: true, NULCharacters: true, EmptyMessageIDs: true, OmitTimeZone: true}})

	r := b.get(t, "/api/v2/people?limit=100")
	require.Contains(t, string(r.body), `"x_sim_unknown"`)
	require.Contains(t, string(r.body), `\u0000`)
	r = b.get(t, "/api/v3/dashboards/4101/contacts?page_size=150")
	require.Contains(t, string(r.body), `"x_sim_unknown"`)
	var page trPage
	require.NoError(t, json.Unmarshal(r.body, &page))
	for _, ts := range field[*string](t, page.Items, "date_created_utc") {
		require.False(t, strings.HasSuffix(*ts, "Z"), *ts)
		_, err := time.Parse(layoutNoZone, *ts)
		require.NoError(t, err)
	}

	tr := b.sim.Truth()
	var nulPeople, emptyIDs, nulBodies int
	for _, p := range tr.Leeloo.People {
		if p.Name != nil && strings.ContainsRune(*p.Name, 0) {
			nulPeople++
		}
	}
	for _, m := range tr.TextRequest.Messages {
		if m.MessageID == "" {
			emptyIDs++
		}
		if strings.ContainsRune(m.Body, 0) {
			nulBodies++
		}
		require.False(t, strings.HasSuffix(m.MessageTimestampUTC, "Z"))
	}
	require.Positive(t, nulPeople)
	require.Positive(t, emptyIDs)
	require.Positive(t, nulBodies)

	// The served messages match Truth (empty ids included).
	c := tr.TextRequest.Contacts[3]
	var want []string
	for _, m := range tr.TextRequest.Messages {
		if m.DashboardID == c.DashboardID && m.PhoneNumber == c.PhoneNumber {
			want = append(want, m.MessageID)
		}
	}
	got := b.trAll(t, fmt.Sprintf("/api/v3/dashboards/%d/contacts/%s/messages", c.DashboardID, digits(c.PhoneNumber)), 50)
	require.Equal(t, want, field[string](t, got, "message_id"))

	// Off again: clean output.
	b.sim.SetFaults(Faults{})
	r = b.get(t, "/api/v2/people?limit=100")
	require.NotContains(t, string(r.body), `x_sim_unknown`)
	require.NotContains(t, string(r.body), `\u0000`)
}

func TestDeterminism(t *testing.T) {
	t.Parallel()
	paths := []string{
		"/api/v2/people?limit=100&offset=50", "/api/v2/communication-channels?limit=30", "/api/v2/orders?limit=100",
		"/api/v1/accounts?limit=10", "/api/v2/tunnels", "/api/v2/users", "/api/v2/tunnels/stats",
		"/api/v3/dashboards/4102/contacts?page_size=100", "/api/v3/dashboards/4103/payments",
		"/api/v3/dashboards/4101/conversations?page=1", "/api/v3/dashboards/4101/groups",
	}
	fetch := func(opts Options) [][]byte {
		b := setup(t, opts)
		var out [][]byte
		for _, p := range paths {
			r := b.get(t, p)
			require.Equal(t, http.StatusOK, r.status, p)
			out = append(out, r.body)
		}
		// A chat and a detail addressed by id.
		tr := b.sim.Truth()
		out = append(out, b.get(t, "/api/v2/communication-channels/"+tr.Leeloo.Channels[9].ID+"/chat-messages").body)
		out = append(out, b.get(t, "/api/v2/people/"+tr.Leeloo.People[9].ID+"?include=orders").body)
		return out
	}
	a, a2, other := fetch(Options{Seed: 7}), fetch(Options{Seed: 7}), fetch(Options{Seed: 8})
	for i := range a {
		require.True(t, bytes.Equal(a[i], a2[i]), "response %d differs for the same seed", i)
	}
	differ := 0
	for i := range paths {
		if !bytes.Equal(a[i], other[i]) {
			differ++
		}
	}
	require.Greater(t, differ, len(paths)/2)
	// Mutations are deterministic too.
	m1, m2 := New(Options{Seed: 3}), New(Options{Seed: 3})
	mut := Mutation{NewPeople: 2, NewMessages: 3, EditedOrders: 2, NewOrders: 1, NewContacts: 2, NewTRMessages: 3, NewPayments: 2, PaymentStatusChanges: 2, ArchivedConversations: 1, EditedContacts: 1}
	m1.Mutate(mut)
	m2.Mutate(mut)
	require.Equal(t, m1.Truth(), m2.Truth())
}

func TestStats(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	b.get(t, "/api/v2/people")
	b.get(t, "/api/v2/people?offset=20")
	b.get(t, "/api/v3/dashboards/4101/contacts/0000000000")
	b.get(t, "/api/v3/dashboards", "x-api-key", "bad")
	st := b.sim.Stats()
	require.Equal(t, 2, st.Requests[APILeeloo])
	require.Equal(t, 2, st.Requests[APITextRequest])
	require.Equal(t, 4, st.Total())
	require.Equal(t, 2, st.Routes["leeloo GET /api/v2/people"])
	require.Equal(t, map[int]int{204: 1, 401: 1}, st.Status[APITextRequest])
	b.sim.ResetStats()
	require.Zero(t, b.sim.Stats().Total())
}
