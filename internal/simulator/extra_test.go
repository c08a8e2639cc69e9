package simulator

import (
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTextRequestDashboardMessages(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	tr := b.sim.Truth().TextRequest
	var want []string
	for _, m := range tr.Messages {
		if m.DashboardID == 4102 && m.MessageTimestampUTC >= "2026-09-01" && m.MessageTimestampUTC <= "2026-09-30T23:59:59.999Z" {
			want = append(want, m.MessageTimestampUTC)
		}
	}
	slices.Sort(want)
	got := b.trAll(t, "/api/v3/dashboards/4102/messages?start_date=2026-09-01&end_date=2026-09-30", 20)
	require.Equal(t, want, field[string](t, got, "message_timestamp_utc"))
	require.NotEmpty(t, field[string](t, got, "phone_number")[0])
	r := b.get(t, "/api/v3/dashboards/4102/messages?start_date=2030-01-01")
	require.Equal(t, http.StatusNoContent, r.status)
}

func TestRegisterFlags(t *testing.T) {
	t.Parallel()
	var o Options
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	o.RegisterFlags(fs)
	require.NoError(t, fs.Parse([]string{
		"--seed", "9", "--scale", "3", "--leeloo-token", "lt", "--textrequest-key", "tk", "--now", "2026-01-02T03:04:05Z",
		"--latency", "20ms", "--rate-limit-textrequest", "100", "--rate-limit-leeloo", "10", "--rate-window", "2s",
		"--error-rate", "0.1", "--truncate-rate", "0.2", "--offset-drift", "--duplicate-message-ids", "--unknown-fields",
		"--nul-characters", "--empty-message-ids", "--omit-time-zone", "--leeloo-page-cap", "50", "--textrequest-page-cap", "200",
		"--strict-people-filter",
	}))
	require.Equal(t, Options{Seed: 9, Scale: 3, LeelooToken: "lt", TextRequestKey: "tk", Now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Faults: Faults{Latency: 20 * time.Millisecond, TextRequestRateLimit: 100, LeelooRateLimit: 10, RateWindow: 2 * time.Second,
			ErrorRate: 0.1, TruncateRate: 0.2, OffsetDrift: true, DuplicateMessageIDs: true, UnknownFields: true, NULCharacters: true,
			EmptyMessageIDs: true, OmitTimeZone: true, LeelooPageCap: 50, TextRequestPageCap: 200, StrictPeopleFilter: true}}, o)

	// Defaults: a flag set parsed with nothing gives New's defaults.
	var d Options
	d.RegisterFlags(flag.NewFlagSet("x", flag.ContinueOnError))
	require.Equal(t, int64(1), d.Seed)
	require.Equal(t, 1, d.Scale)
}

// TestConcurrentUse pages both APIs from several goroutines while data mutates (run
// with -race to check the locking).
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{Faults: Faults{OffsetDrift: true}})
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			for i := range 15 {
				switch (g + i) % 4 {
				case 0:
					b.get(t, fmt.Sprintf("/api/v2/people?limit=20&offset=%d", i*20))
				case 1:
					b.get(t, fmt.Sprintf("/api/v3/dashboards/4101/contacts?page=%d&page_size=10", i))
				case 2:
					b.get(t, "/api/v3/dashboards/4102/conversations?page="+fmt.Sprint(i%3))
				default:
					b.get(t, "/api/v2/communication-channels?filter[last_message][from]="+url.QueryEscape("2026-01-01"))
				}
			}
		})
	}
	for range 5 {
		b.sim.Mutate(Mutation{NewPeople: 1, NewMessages: 2, NewContacts: 1, NewTRMessages: 2, NewPayments: 1, PaymentStatusChanges: 1})
		b.sim.Truth()
	}
	wg.Wait()
	b.sim.SetFaults(Faults{})
	tr := b.sim.Truth()
	require.Equal(t, ids(tr.Leeloo.People, func(p Person) string { return p.ID }), b.llAll(t, "/api/v2/people?filter[last_message][from]=2000-01-01", 100))
}
