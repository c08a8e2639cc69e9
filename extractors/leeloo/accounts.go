package leeloo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
)

// accounts reads /api/v1/accounts in full and, for each account, its detail with
// include=contactedUsers,orders (§4.2): the detail's fields fill the row (detail_raw keeps
// the whole answer) and its subscribeHistory replaces the account's rows in
// leeloo.account_subscriptions (keyed by position: the history has no ids).
func (r *run) accounts(ctx context.Context) error {
	return r.walkScan(ctx, "/api/v1/accounts", nil, "accounts", func(ctx context.Context, items []json.RawMessage, cursor json.RawMessage) error {
		b := newBatch()
		var accts []*Account
		for _, raw := range items {
			a := &Account{raw: raw}
			if err := decodeItem(raw, &a.AccountFields); err != nil {
				b.reject(tabAccounts, raw, err)
				continue
			}
			if a.ID.Text() == "" {
				b.reject(tabAccounts, raw, fmt.Errorf("field id: missing or empty (the record's key)"))
				continue
			}
			accts = append(accts, a)
		}
		subs := make([]*batch, len(accts))
		err := forEach(ctx, len(accts), r.e.cfg.Concurrency, func(ctx context.Context, i int) error {
			sb, err := r.accountDetail(ctx, accts[i])
			subs[i] = sb
			return err
		})
		if err != nil {
			return err
		}
		for i, a := range accts {
			b.add(tabAccounts, accountsTable.row(a))
			b.merge(subs[i])
		}
		return r.send(ctx, b.done("", cursor, r.counter))
	})
}

// accountDetail reads one account's detail into a and returns its subscription rows. An
// account whose detail answers 404 (deleted since the list) keeps its list fields.
func (r *run) accountDetail(ctx context.Context, a *Account) (*batch, error) {
	b := newBatch()
	id := a.ID.Text()
	path := "/api/v1/accounts/" + pathEscape(id)
	var body json.RawMessage
	_, err := r.e.cfg.Client.GetJSON(ctx, path, url.Values{"include": {"contactedUsers,orders"}}, &body)
	if err == nil {
		var env *envelope
		env, err = r.e.decodeEnvelope(path, body)
		if err == nil {
			if derr := decodeItem(env.Data, &a.detail); derr != nil {
				// The list row still loads; the detail goes to rejects with the reason.
				b.reject(tabAccounts, body, fmt.Errorf("account %s detail: %w", id, derr))
				a.detail = AccountFields{}
				return b, nil
			}
			a.detailRaw = body
		}
	}
	if isNotFound(err) {
		r.log.Warn("account disappeared between list and detail", "account_id", id)
		return b, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read account %s: %w", id, withCode(err))
	}
	for i, sraw := range a.detail.SubscribeHistory {
		s := &subscription{accountID: id, ordinal: int32(i), raw: sraw}
		if err := decodeItem(sraw, &s.Subscription); err != nil {
			b.reject(tabSubscriptions, sraw, fmt.Errorf("account %s subscribeHistory[%d]: %w", id, i, err))
			continue
		}
		b.add(tabSubscriptions, subscriptionsTable.row(s))
	}
	return b, nil
}
