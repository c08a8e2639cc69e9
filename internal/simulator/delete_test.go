package simulator

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMutateDeletes(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	before := b.sim.Truth()
	b.sim.Mutate(Mutation{NewPeople: 2, NewOrders: 1})
	b.sim.Mutate(Mutation{DeletedPeople: 3, DeletedChannels: 2, DeletedOrders: 2, DeletedTags: 1,
		DeletedContacts: 3, DeletedPayments: 3, DeletedGroups: 3, DeletedTRTags: 3, DeletedFields: 3})
	after := b.sim.Truth()

	require.Len(t, after.Leeloo.People, len(before.Leeloo.People)+2-3)
	require.Len(t, after.Leeloo.Channels, len(before.Leeloo.Channels)+2-2)
	require.Len(t, after.Leeloo.Accounts, len(after.Leeloo.Channels))
	require.Len(t, after.Leeloo.Orders, len(before.Leeloo.Orders)+1-2)
	require.Len(t, after.Leeloo.Tags, len(before.Leeloo.Tags)-1)
	require.Len(t, after.TextRequest.Contacts, len(before.TextRequest.Contacts)-3)
	require.Len(t, after.TextRequest.Payments, len(before.TextRequest.Payments)-3)
	require.Len(t, after.TextRequest.Groups, len(before.TextRequest.Groups)-3)
	require.Len(t, after.TextRequest.Tags, len(before.TextRequest.Tags)-3)
	require.Len(t, after.TextRequest.CustomFields, len(before.TextRequest.CustomFields)-3)

	// The lists serve exactly what Truth holds.
	require.Equal(t, ids(after.Leeloo.People, func(p Person) string { return p.ID }), b.llAll(t, "/api/v2/people", 50))
	require.Equal(t, ids(after.Leeloo.Channels, func(c Channel) string { return c.ID }), b.llAll(t, "/api/v2/communication-channels", 50))
	require.Equal(t, ids(after.Leeloo.Orders, func(o Order) string { return o.ID }), b.llAll(t, "/api/v2/orders", 50))
	require.Equal(t, ids(after.Leeloo.Tags, func(x Tag) string { return x.ID }), b.llAll(t, "/api/v2/tags", 50))

	// A deleted record touched by a later mutation stays deleted; Restored brings the
	// latest deletions back.
	b.sim.Mutate(Mutation{NewMessages: 50, EditedOrders: 20})
	require.Len(t, b.sim.Truth().Leeloo.People, len(after.Leeloo.People))
	b.sim.Mutate(Mutation{Restored: 3}) // the last three: custom fields
	require.Len(t, b.sim.Truth().TextRequest.CustomFields, len(before.TextRequest.CustomFields))
	b.sim.Mutate(Mutation{Restored: 100})
	restored := b.sim.Truth()
	require.Len(t, restored.Leeloo.People, len(before.Leeloo.People)+2)
	require.Len(t, restored.Leeloo.Orders, len(before.Leeloo.Orders)+1)
	require.Len(t, restored.TextRequest.Contacts, len(before.TextRequest.Contacts))
	require.Len(t, restored.TextRequest.Payments, len(before.TextRequest.Payments))
	require.True(t, slices.Equal(ids(restored.Leeloo.Tags, func(x Tag) string { return x.ID }), ids(before.Leeloo.Tags, func(x Tag) string { return x.ID })))
	require.Equal(t, ids(restored.Leeloo.People, func(p Person) string { return p.ID }), b.llAll(t, "/api/v2/people", 50))
}
