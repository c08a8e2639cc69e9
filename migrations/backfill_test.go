package migrations_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/pgtest"
	"github.com/crmsync/crmsync/migrations"
)

// TestBackfillPhoneE164: rows loaded before phone_e164 existed get it from migration
// 00011, with each source's default region, and a value already there is kept.
func TestBackfillPhoneE164(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgtest.EmptyURL(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	// Rows as a warehouse migrated up to 00010 holds them, then 00011 and the rest.
	require.NoError(t, migrations.Up(ctx, pool, nil))
	require.NoError(t, migrations.DownTo(ctx, pool, nil, 10))
	_, err = pool.Exec(ctx, `
		insert into leeloo.people (id, phone, raw) values
			('p1', '+7 999 123-45-67', '{}'), ('p2', '9991234567', '{}'), ('p3', null, '{}');
		insert into leeloo.orders (id, phone, raw) values ('o1', '+1 (555) 123-4567', '{}');
		insert into leeloo.accounts (id, phone, raw) values ('a1', '+380961234567', '{}');
		insert into textrequest.contacts (dashboard_id, phone_number, raw) values
			(1, '(555) 123-4567', '{}'), (1, 'call me', '{}');
		insert into textrequest.conversations (dashboard_id, phone_number, raw) values (1, '15551234567', '{}');
		insert into textrequest.messages (message_id, message_id_derived, dashboard_id, phone_number, raw) values
			('m1', false, 1, '+1(555)-123-4567', '{}'), ('m2', false, 1, '5551234567', '{}');
		insert into textrequest.payments (payment_id, dashboard_id, customer_phone, raw) values (7, 1, '555.123.4567', '{}');
		insert into textrequest.payments (payment_id, dashboard_id, customer_phone, phone_e164, raw) values (8, 1, '5551234567', '+10000000000', '{}')`)
	require.NoError(t, err)
	require.NoError(t, migrations.Up(ctx, pool, nil))

	rows, err := pool.Query(ctx, `
		select 'leeloo.people ' || id, phone_e164 from leeloo.people
		union all select 'leeloo.orders ' || id, phone_e164 from leeloo.orders
		union all select 'leeloo.accounts ' || id, phone_e164 from leeloo.accounts
		union all select 'textrequest.contacts ' || phone_number, phone_e164 from textrequest.contacts
		union all select 'textrequest.conversations ' || phone_number, phone_e164 from textrequest.conversations
		union all select 'textrequest.messages ' || message_id, phone_e164 from textrequest.messages
		union all select 'textrequest.payments ' || payment_id, phone_e164 from textrequest.payments`)
	require.NoError(t, err)
	got := map[string]*string{}
	for rows.Next() {
		var k string
		var v *string
		require.NoError(t, rows.Scan(&k, &v))
		got[k] = v
	}
	require.NoError(t, rows.Err())
	s := func(v string) *string { return &v }
	require.Equal(t, map[string]*string{
		"leeloo.people p1":                      s("+79991234567"),
		"leeloo.people p2":                      nil, // no country code, and Leeloo has no default region
		"leeloo.people p3":                      nil,
		"leeloo.orders o1":                      s("+15551234567"),
		"leeloo.accounts a1":                    s("+380961234567"),
		"textrequest.contacts (555) 123-4567":   s("+15551234567"),
		"textrequest.contacts call me":          nil,
		"textrequest.conversations 15551234567": s("+15551234567"),
		"textrequest.messages m1":               s("+15551234567"),
		"textrequest.messages m2":               s("+15551234567"),
		"textrequest.payments 7":                s("+15551234567"),
		"textrequest.payments 8":                s("+10000000000"), // already set: kept
	}, got)
}
