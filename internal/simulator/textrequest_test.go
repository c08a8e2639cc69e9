package simulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func trContactsOf(tr TextRequestTruth, dash int) []Contact {
	var out []Contact
	for _, c := range tr.Contacts {
		if c.DashboardID == dash {
			out = append(out, c)
		}
	}
	return out
}

func phones(cs []Contact) []string { return ids(cs, func(c Contact) string { return c.PhoneNumber }) }

func TestTextRequestListsPageEachRecordOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	tr := b.sim.Truth().TextRequest
	require.Len(t, tr.Dashboards, 3)
	require.Len(t, tr.Contacts, 450)
	require.Greater(t, len(tr.Messages), 1300)
	require.Len(t, tr.Payments, 102)

	dashes := b.trAll(t, "/api/v3/dashboards", 2)
	require.Equal(t, []int{4101, 4102, 4103}, field[int](t, dashes, "id"))

	for _, d := range tr.Dashboards {
		base := fmt.Sprintf("/api/v3/dashboards/%d", d.ID)
		want := trContactsOf(tr, d.ID)
		for _, size := range []int{13, 50} {
			got := field[string](t, b.trAll(t, base+"/contacts", size), "phone_number")
			require.Equal(t, phones(want), got)
			requireUnique(t, got)
		}
		// Conversations: archived hidden by default.
		var conv, convAll []string
		for _, c := range tr.Conversations {
			if c.DashboardID == d.ID {
				convAll = append(convAll, c.PhoneNumber)
				if !c.IsArchived {
					conv = append(conv, c.PhoneNumber)
				}
			}
		}
		require.Less(t, len(conv), len(convAll))
		require.Equal(t, conv, field[string](t, b.trAll(t, base+"/conversations", 20), "phone_number"))
		require.Equal(t, convAll, field[string](t, b.trAll(t, base+"/conversations?include_archived=TRUE", 20), "phone_number"))

		// Messages per contact, oldest first, ids unique.
		for _, c := range want[:25] {
			var wantIDs []string
			for _, m := range tr.Messages {
				if m.DashboardID == d.ID && m.PhoneNumber == c.PhoneNumber {
					wantIDs = append(wantIDs, m.MessageID)
				}
			}
			got := b.trAll(t, base+"/contacts/"+url.PathEscape(c.PhoneNumber)+"/messages", 2)
			require.Equal(t, wantIDs, field[string](t, got, "message_id"))
			ts := field[string](t, got, "message_timestamp_utc")
			require.True(t, slices.IsSorted(ts))
			require.Equal(t, *c.LastContactDateUTC, ts[len(ts)-1])
		}

		var wantPay []int
		for _, p := range tr.Payments {
			if p.DashboardID == d.ID {
				wantPay = append(wantPay, p.PaymentID)
			}
		}
		require.Equal(t, wantPay, field[int](t, b.trAll(t, base+"/payments", 10), "payment_id"))
		require.Len(t, b.trAll(t, base+"/groups", 4), 6)
		require.Len(t, b.trAll(t, base+"/tags", 3), 8)

		// Custom fields: a bare array.
		r := b.get(t, base+"/fields")
		require.Equal(t, http.StatusOK, r.status)
		var fs []CustomField
		require.NoError(t, json.Unmarshal(r.body, &fs))
		require.Len(t, fs, 4)
	}
	requireUnique(t, ids(tr.Messages, func(m TRMessage) string { return m.MessageID }))
	requireUnique(t, ids(tr.Payments, func(p Payment) string { return fmt.Sprint(p.PaymentID) }))
}

func TestTextRequestShapes(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	tr := b.sim.Truth().TextRequest
	formats := map[string]bool{}
	var nullNames, mms, shared int
	first := map[string]bool{}
	for _, c := range tr.Contacts {
		switch {
		case strings.HasPrefix(c.PhoneNumber, "+1("):
			formats["+1(555)-123-4567"] = true
		case strings.Contains(c.PhoneNumber, "-"):
			formats["321-654-7890"] = true
		case len(c.PhoneNumber) == 11:
			formats["14232056522"] = true
		default:
			formats["4239876543"] = true
		}
		if c.FirstName == nil {
			nullNames++
		}
		if c.DashboardID == 4101 {
			first[c.PhoneNumber] = true
		} else if first[c.PhoneNumber] {
			shared++
		}
	}
	require.Len(t, formats, 4)
	require.Positive(t, nullNames)
	require.Positive(t, shared)
	for _, m := range tr.Messages {
		_, err := time.Parse(layoutMS, m.MessageTimestampUTC)
		require.NoError(t, err)
		if len(m.MMSMedia) > 0 {
			mms++
		}
		require.Equal(t, m.MessageDirection == "S", m.DeliveryStatus != nil)
	}
	require.Positive(t, mms)
	var cents int
	for _, p := range tr.Payments {
		if p.AmountRequested != float64(int64(p.AmountRequested)) {
			cents++
		}
	}
	require.Positive(t, cents)
}

func TestTextRequestAuth(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	r := b.get(t, "/api/v3/dashboards", "x-api-key", "")
	require.Equal(t, http.StatusUnauthorized, r.status)
	var e trError
	require.NoError(t, json.Unmarshal(r.body, &e))
	require.Equal(t, 401, e.Status)
	require.Equal(t, "UNAUTHORIZED", e.ErrorCode)
	require.NotEmpty(t, e.Message)

	r = b.get(t, "/api/v3/dashboards", "x-api-key", "nope")
	require.Equal(t, http.StatusUnauthorized, r.status)

	// Header names are case-insensitive.
	r = b.get(t, "/api/v3/dashboards", "x-api-key", "", "X-API-KEY", testKey)
	require.Equal(t, http.StatusOK, r.status)

	r = b.get(t, "/api/v3/nothing")
	require.Equal(t, http.StatusNotFound, r.status)
	r = b.get(t, "/api/v3/dashboards/999")
	require.Equal(t, http.StatusBadRequest, r.status)
	r = b.get(t, "/api/v3/dashboards/4101/contacts?page=-1")
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Contains(t, string(r.body), "INVALID_PARAMETER")
}

func TestTextRequestPageSizes(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{Scale: 4})
	p := b.trList(t, "/api/v3/dashboards/4101/contacts")
	require.Len(t, p.Items, 50)
	require.Equal(t, trMeta{Page: 0, PageSize: 50, TotalItems: 600}, p.Meta)

	// Capped at 500, meta.page_size echoes the request.
	p = b.trList(t, "/api/v3/dashboards/4101/contacts?page_size=1000")
	require.Len(t, p.Items, 500)
	require.Equal(t, 1000, p.Meta.PageSize)
	p = b.trList(t, "/api/v3/dashboards/4101/contacts?page_size=1000&page=1")
	require.Len(t, p.Items, 100)

	// Past the last page: 200 and an empty array.
	p = b.trList(t, "/api/v3/dashboards/4101/contacts?page=12")
	require.Empty(t, p.Items)
	require.Equal(t, 600, p.Meta.TotalItems)
	r := b.get(t, "/api/v3/dashboards/4101/contacts?page=12")
	require.Contains(t, string(r.body), `"items":[]`)

	b.sim.SetFaults(Faults{TextRequestPageCap: 20})
	p = b.trList(t, "/api/v3/dashboards/4101/payments?page_size=50")
	require.Len(t, p.Items, 20)
	require.Equal(t, 50, p.Meta.PageSize)
}

func TestTextRequestNoContent(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	for _, path := range []string{
		"/api/v3/dashboards/4101/contacts/0000000000/messages",
		"/api/v3/dashboards/4101/contacts/0000000000",
		"/api/v3/dashboards/4101/conversations?search=zzzzzz",
		"/api/v3/dashboards/4101/groups/1",
		"/api/v3/dashboards/4101/payments/1",
		"/api/v3/dashboards/4101/payments/2511", // belongs to dashboard 4102
	} {
		r := b.get(t, path)
		require.Equal(t, http.StatusNoContent, r.status, path)
		require.Empty(t, r.body)
	}
	// A new contact has no messages: 204 for its messages.
	b.sim.Mutate(Mutation{NewContacts: 1})
	c := b.sim.Truth().TextRequest.Contacts[0]
	require.Nil(t, c.LastMessage)
	r := b.get(t, fmt.Sprintf("/api/v3/dashboards/%d/contacts/%s/messages", c.DashboardID, url.PathEscape(c.PhoneNumber)))
	require.Equal(t, http.StatusNoContent, r.status)
}

func TestTextRequestDetails(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	tr := b.sim.Truth().TextRequest

	r := b.get(t, "/api/v3/dashboards/4102")
	var d Dashboard
	require.NoError(t, json.Unmarshal(r.body, &d))
	require.Equal(t, tr.Dashboards[1], d)

	// Contact by phone in every served format, percent-encoded, and by other spellings.
	seen := map[string]bool{}
	for _, c := range trContactsOf(tr, 4103) {
		kind := fmt.Sprint(len(c.PhoneNumber), c.PhoneNumber[0])
		if seen[kind] {
			continue
		}
		seen[kind] = true
		for _, p := range []string{c.PhoneNumber, digits(c.PhoneNumber), "+1 " + digits(c.PhoneNumber)[len(digits(c.PhoneNumber))-10:]} {
			r := b.get(t, "/api/v3/dashboards/4103/contacts/"+url.PathEscape(p))
			require.Equal(t, http.StatusOK, r.status, p)
			var got Contact
			require.NoError(t, json.Unmarshal(r.body, &got))
			got.DashboardID = 4103
			got.LastMessage.DashboardID, got.LastMessage.PhoneNumber = 4103, c.PhoneNumber
			require.Equal(t, c, got)
		}
	}
	require.GreaterOrEqual(t, len(seen), 4)

	g := tr.Groups[2]
	r = b.get(t, fmt.Sprintf("/api/v3/dashboards/%d/groups/%d", g.DashboardID, g.ID))
	var gg Group
	require.NoError(t, json.Unmarshal(r.body, &gg))
	gg.DashboardID = g.DashboardID
	require.Equal(t, g, gg)
	members := 0
	for _, c := range trContactsOf(tr, g.DashboardID) {
		if slices.Contains(c.Groups, g.ID) {
			members++
		}
	}
	require.Equal(t, members, g.GroupMemberCount)

	p := tr.Payments[40]
	r = b.get(t, fmt.Sprintf("/api/v3/dashboards/%d/payments/%d", p.DashboardID, p.PaymentID))
	var pp Payment
	require.NoError(t, json.Unmarshal(r.body, &pp))
	pp.DashboardID = p.DashboardID
	require.Equal(t, p, pp)
}

func TestTextRequestContactFilters(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	tr := b.sim.Truth().TextRequest
	cs := trContactsOf(tr, 4101)
	base := "/api/v3/dashboards/4101/contacts?"
	check := func(q string, keep func(c Contact) bool) {
		t.Helper()
		var want []string
		for _, c := range cs {
			if keep(c) {
				want = append(want, c.PhoneNumber)
			}
		}
		require.NotEmpty(t, want, q)
		require.Less(t, len(want), len(cs), q)
		got := b.trAll(t, base+q, 20)
		require.Equal(t, want, field[string](t, got, "phone_number"), q)
	}
	pivot := *cs[40].LastContactDateUTC
	check("last_message_timestamp_after_utc="+url.QueryEscape(pivot), func(c Contact) bool { return *c.LastContactDateUTC >= pivot })
	check("last_message_timestamp_before_utc="+url.QueryEscape(pivot), func(c Contact) bool { return *c.LastContactDateUTC <= pivot })
	check("last_message_timestamp_after_utc=2026-06-01&last_message_timestamp_before_utc=2026-07-31", func(c Contact) bool {
		return *c.LastContactDateUTC >= "2026-06-01" && *c.LastContactDateUTC <= "2026-07-31T23:59:59.999Z"
	})
	created := *cs[70].DateCreatedUTC
	check("contact_created_after="+url.QueryEscape(created), func(c Contact) bool { return *c.DateCreatedUTC >= created })
	check("contact_created_before="+url.QueryEscape(created), func(c Contact) bool { return *c.DateCreatedUTC <= created })
	check("is_archived=true", func(c Contact) bool { return c.IsArchived })
	check("is_resolved=false", func(c Contact) bool { return !c.IsResolved })
	check("tags="+tr.Tags[0].ID+","+tr.Tags[1].ID, func(c Contact) bool {
		return slices.Contains(c.ContactTags, tr.Tags[0].ID) || slices.Contains(c.ContactTags, tr.Tags[1].ID)
	})
	check(fmt.Sprintf("groups=%d", tr.Groups[0].ID), func(c Contact) bool { return slices.Contains(c.Groups, tr.Groups[0].ID) })
	check("contact_phone_number="+url.QueryEscape(digits(cs[5].PhoneNumber)), func(c Contact) bool { return c.PhoneNumber == cs[5].PhoneNumber })
	var cf CustomFieldValue
	for _, c := range cs {
		if len(c.CustomFields) > 0 && c.CustomFields[0].Value != nil {
			cf = c.CustomFields[0]
			break
		}
	}
	check("custom_field_id_1="+cf.ID+"&custom_field_value_1="+url.QueryEscape(*cf.Value), func(c Contact) bool {
		return slices.ContainsFunc(c.CustomFields, func(v CustomFieldValue) bool { return v.ID == cf.ID && v.Value != nil && *v.Value == *cf.Value })
	})

	// Local-time filters: the wall clock is read in UTC-05:00 and the Z is ignored.
	var sent Contact
	for _, c := range cs[30:] {
		if c.LastMsgSentUTC != nil {
			sent = c
			break
		}
	}
	utc, err := time.Parse(layoutMS, *sent.LastMsgSentUTC)
	require.NoError(t, err)
	local := utc.In(dashboardZone).Format("2006-01-02T15:04:05.000") + "Z"
	check("last_message_sent_after="+url.QueryEscape(local), func(c Contact) bool {
		return c.LastMsgSentUTC != nil && *c.LastMsgSentUTC >= *sent.LastMsgSentUTC
	})
	r := b.get(t, base+"last_message_received_before=soon")
	require.Equal(t, http.StatusBadRequest, r.status)
}

func TestTextRequestConversationAndPaymentFilters(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	tr := b.sim.Truth().TextRequest
	var unresolved []string
	for _, c := range trContactsOf(tr, 4102) {
		if c.LastMessage != nil && !c.IsArchived && !c.IsResolved {
			unresolved = append(unresolved, c.PhoneNumber)
		}
	}
	got := b.trAll(t, "/api/v3/dashboards/4102/conversations?show_unresolved_only=true", 50)
	require.Equal(t, unresolved, field[string](t, got, "phone_number"))

	c := trContactsOf(tr, 4102)[11]
	got = b.trAll(t, "/api/v3/dashboards/4102/conversations?include_archived=true&search="+url.QueryEscape(digits(c.PhoneNumber)[3:]), 50)
	require.Contains(t, field[string](t, got, "phone_number"), c.PhoneNumber)

	// Payments: every sort order is a permutation, sorted as asked.
	for _, st := range []string{"amount", "contact", "date", "status"} {
		for _, dir := range []string{"asc", "desc"} {
			items := b.trAll(t, "/api/v3/dashboards/4101/payments?sort_type="+st+"&sort_direction="+dir, 7)
			require.Len(t, items, 34)
			if st == "amount" {
				amounts := field[float64](t, items, "amount_requested")
				if dir == "desc" {
					slices.Reverse(amounts)
				}
				require.True(t, slices.IsSorted(amounts))
			}
		}
	}
	r := b.get(t, "/api/v3/dashboards/4101/payments?sort_type=size")
	require.Equal(t, http.StatusBadRequest, r.status)

	var p Payment
	for _, x := range tr.Payments {
		if x.DashboardID == 4101 && x.ReferenceNumber != "" {
			p = x
			break
		}
	}
	var wantRef []int
	for _, x := range tr.Payments {
		if x.DashboardID == 4101 && x.ReferenceNumber == p.ReferenceNumber {
			wantRef = append(wantRef, x.PaymentID)
		}
	}
	got = b.trAll(t, "/api/v3/dashboards/4101/payments?reference_number="+url.QueryEscape(p.ReferenceNumber), 50)
	require.Equal(t, wantRef, field[int](t, got, "payment_id"))
	got = b.trAll(t, "/api/v3/dashboards/4101/payments?phone_number="+url.QueryEscape(p.CustomerPhone), 50)
	require.Contains(t, field[int](t, got, "payment_id"), p.PaymentID)
}
