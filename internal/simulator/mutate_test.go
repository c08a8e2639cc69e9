package simulator

import (
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMutateLeeloo(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	before := b.sim.Truth().Leeloo
	oldNow := b.sim.Now()
	b.sim.Mutate(Mutation{NewPeople: 3, NewMessages: 5, EditedOrders: 4, NewOrders: 2})
	require.Equal(t, oldNow.Add(time.Hour), b.sim.Now().Truncate(time.Hour))
	after := b.sim.Truth().Leeloo

	require.Len(t, after.People, 203)
	require.Len(t, after.Channels, 303)
	require.Len(t, after.Orders, 102)
	require.Len(t, after.Messages, len(before.Messages)+8)

	// Every list still pages each record exactly once, in Truth's order.
	require.Equal(t, ids(after.People, func(p Person) string { return p.ID }), b.llAll(t, "/api/v2/people", 50))
	require.Equal(t, ids(after.Channels, func(c Channel) string { return c.ID }), b.llAll(t, "/api/v2/communication-channels", 50))
	require.Equal(t, ids(after.Orders, func(o Order) string { return o.ID }), b.llAll(t, "/api/v2/orders", 50))

	// The changed people lead the list and are exactly the window after the old present.
	from := url.QueryEscape(oldNow.Format(time.RFC3339))
	recent := b.llAll(t, "/api/v2/people?filter[last_message][from]="+from, 20)
	require.GreaterOrEqual(t, len(recent), 4) // 3 new + at least one whose channel got a message
	require.LessOrEqual(t, len(recent), 8)
	require.Equal(t, ids(after.People[:len(recent)], func(p Person) string { return p.ID }), recent)
	for _, p := range after.People[:len(recent)] {
		require.Greater(t, p.LastMessageTime, oldNow.Format(layoutMS))
	}
	chRecent := b.llAll(t, "/api/v2/communication-channels?filter[last_message][from]="+from, 20)
	require.GreaterOrEqual(t, len(chRecent), 4)

	// New orders first; edited orders keep their place with a new updatedAt.
	require.Greater(t, after.Orders[0].CreatedAt, oldNow.Format(layoutMS))
	edited := 0
	for i, o := range after.Orders[2:] {
		if !reflect.DeepEqual(o, before.Orders[i]) {
			edited++
			require.Equal(t, o.ID, before.Orders[i].ID)
			require.Greater(t, o.UpdatedAt, oldNow.Format(layoutMS))
		}
	}
	require.GreaterOrEqual(t, edited, 1)
	require.LessOrEqual(t, edited, 4)

	// A new person is reachable by id, with its channel and message.
	np := after.People[0]
	r := b.get(t, "/api/v2/people/"+np.ID)
	require.Equal(t, 200, r.status)
	msgs := b.llAll(t, "/api/v2/communication-channels/"+np.Accounts[0].AccountID+"/chat-messages", 20)
	require.NotEmpty(t, msgs)
	r = b.get(t, "/api/v2/orders/"+after.Orders[0].ID)
	require.Equal(t, 200, r.status)
}

func TestMutateTextRequest(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	before := b.sim.Truth().TextRequest
	oldNow := b.sim.Now()
	b.sim.Mutate(Mutation{NewContacts: 3, NewTRMessages: 6, NewPayments: 3, PaymentStatusChanges: 2, ArchivedConversations: 2, EditedContacts: 2})
	after := b.sim.Truth().TextRequest

	require.Len(t, after.Contacts, 453)
	require.Len(t, after.Messages, len(before.Messages)+6)
	require.Len(t, after.Payments, 105)

	for _, d := range after.Dashboards {
		base := fmt.Sprintf("/api/v3/dashboards/%d", d.ID)
		require.Equal(t, phones(trContactsOf(after, d.ID)), field[string](t, b.trAll(t, base+"/contacts", 40), "phone_number"))
	}

	// The incremental filters find exactly the changes.
	ts := url.QueryEscape(oldNow.Format(time.RFC3339))
	var created, texted int
	for _, d := range after.Dashboards {
		base := fmt.Sprintf("/api/v3/dashboards/%d/contacts?", d.ID)
		p := b.trList(t, base+"contact_created_after="+ts)
		created += p.Meta.TotalItems
		p = b.trList(t, base+"last_message_timestamp_after_utc="+ts)
		texted += p.Meta.TotalItems
	}
	require.Equal(t, 3, created)
	require.GreaterOrEqual(t, texted, 1)
	require.LessOrEqual(t, texted, 6)

	// Payment changes: three new ones first (date desc), two status changes in place.
	changed := 0
	bp := map[int]Payment{}
	for _, p := range before.Payments {
		bp[p.PaymentID] = p
	}
	newPay := 0
	for _, p := range after.Payments {
		old, ok := bp[p.PaymentID]
		if !ok {
			newPay++
			require.Equal(t, "Sent", p.TextrequestPaymentStatus)
			continue
		}
		if !reflect.DeepEqual(old, p) {
			changed++
			require.NotEqual(t, old.TextrequestPaymentStatus, p.TextrequestPaymentStatus, "%+v\n%+v", old, p)
		}
	}
	require.Equal(t, 3, newPay)
	require.Equal(t, 2, changed)
	np := after.Payments[slices.IndexFunc(after.Payments, func(p Payment) bool { _, ok := bp[p.PaymentID]; return !ok })]
	r := b.get(t, fmt.Sprintf("/api/v3/dashboards/%d/payments/%d", np.DashboardID, np.PaymentID))
	require.Equal(t, 200, r.status)

	// Archived and edited contacts.
	archived := func(tr TextRequestTruth) int {
		n := 0
		for _, c := range tr.Contacts {
			if c.IsArchived {
				n++
			}
		}
		return n
	}
	require.Greater(t, archived(after), archived(before)-6) // new texts may unarchive
	edited := 0
	bc := map[string]Contact{}
	for _, c := range before.Contacts {
		bc[fmt.Sprint(c.DashboardID, c.PhoneNumber)] = c
	}
	for _, c := range after.Contacts {
		if old, ok := bc[fmt.Sprint(c.DashboardID, c.PhoneNumber)]; ok && c.Note != nil && *c.Note == "Edited: prefers email for invoices" && (old.Note == nil || *old.Note != *c.Note) {
			edited++
		}
	}
	require.GreaterOrEqual(t, edited, 1)

	// New messages are the newest of their contact's chronological list.
	for _, c := range after.Contacts {
		if c.LastContactDateUTC == nil || *c.LastContactDateUTC <= oldNow.Format(layoutMS) {
			continue
		}
		got := b.trAll(t, fmt.Sprintf("/api/v3/dashboards/%d/contacts/%s/messages", c.DashboardID, url.PathEscape(c.PhoneNumber)), 50)
		tsz := field[string](t, got, "message_timestamp_utc")
		require.Equal(t, *c.LastContactDateUTC, tsz[len(tsz)-1])
		require.False(t, c.IsArchived)
	}
}

func TestMutateAtLargeScale(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{Scale: 1000})
	p := b.llList(t, "/api/v2/people?limit=100&offset=199950")
	require.Len(t, p.Data, 50)
	require.Equal(t, 200000, p.Meta.TotalCount)
	b.sim.Mutate(Mutation{NewPeople: 10, NewMessages: 10, NewContacts: 5, NewTRMessages: 5})
	p = b.llList(t, "/api/v2/people?limit=100&offset=199950")
	require.Equal(t, 200010, p.Meta.TotalCount)
	require.Len(t, p.Data, 60)
	tp := b.trList(t, "/api/v3/dashboards/4101/contacts?page=2999&page_size=50")
	require.Equal(t, 150000+countNew(b, 0), tp.Meta.TotalItems)
	require.NotEmpty(t, tp.Items)
}

func countNew(b *testBundle, di int) int {
	b.sim.mu.RLock()
	defer b.sim.mu.RUnlock()
	return len(b.sim.tr.newContacts[di])
}
