package leeloo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/crmsync/crmsync/internal/apiclient"
)

// accountsCursorVersion is the version of the accounts stream's cursor. Version 1 was a
// scanCursor (every run read every detail); it is accepted and read as "no watermark":
// the stream makes one full pass and writes version 2 from then on.
const accountsCursorVersion = 2

// accountDetailsPerCommit is how many account details a batch carries at most: a
// page's details commit in groups of it, each with a cursor at the item after its last
// account, so a pass cut off re-reads at most that many details (and the list page).
const accountDetailsPerCommit = 16

// accountBandCap bounds the accounts remembered in the cursor's band (about 60 bytes
// each). Accounts of the band beyond it are not remembered and simply have their detail
// read again while they stay in the band.
const accountBandCap = 1000

// accountsCursor is the checkpoint of the accounts stream:
//
//	{"v":2,"done":"…","wm":"2026-10-31T23:59:00Z","sweep":"…","total":612,
//	 "band":{"<account id>":"<key time>",…},
//	 "pass":{"full":false,"started":"…","offset":100,"max":"…","last":"…","band":{…}}}
//
// An account's key time is its lastMessageTime, or its createdAt when it has none. wm
// (the watermark) is the newest key time seen by the last completed pass: every account
// whose key time was at most wm when that pass read it has its detail committed. band
// remembers the key times of the accounts at most Lookback older than wm whose details
// are committed, so an incremental run re-reads the detail of a band account only when
// its key time moved (a message that showed up late) or it is new to us. done is when
// the last completed pass started, sweep when the last full pass started, total the
// list's totalCount at the start of the last pass. pass is an unfinished pass.
type accountsCursor struct {
	V     int                  `json:"v"`
	Done  *time.Time           `json:"done,omitempty"`
	WM    *time.Time           `json:"wm,omitempty"`
	Sweep *time.Time           `json:"sweep,omitempty"`
	Total *int                 `json:"total,omitempty"`
	Band  map[string]time.Time `json:"band,omitempty"`
	Pass  *accountsPass        `json:"pass,omitempty"`
}

// accountsPass is an unfinished pass over /api/v1/accounts: its kind and start, how many
// list items are committed (offset), what the committed pages showed (the newest key time
// max, the key time of the last item for the order check, whether the list was seen out
// of order, how many accounts were created after the watermark, the list's first total)
// and the new band so far.
type accountsPass struct {
	Full     bool       `json:"full"`
	Started  time.Time  `json:"started"`
	Offset   int        `json:"offset"`
	Max      *time.Time `json:"max,omitempty"`
	Last     *time.Time `json:"last,omitempty"`
	Unsorted bool       `json:"unsorted,omitempty"`
	New      int        `json:"new,omitempty"`
	Total    *int       `json:"total,omitempty"`
	// AtTotal is the list's total as of Offset: a resumed pass steps back by what the
	// list lost meanwhile (apiclient.OffsetConfig.StartTotal).
	AtTotal int                  `json:"at_total,omitempty"`
	Band    map[string]time.Time `json:"band,omitempty"`
}

// accountsState reads the accounts stream's cursor; a version 1 cursor (or none, or an
// unreadable one) gives the zero state, so the run makes a full pass.
func (r *run) accountsState() accountsCursor {
	raw, ok := r.req.State[""]
	if !ok || len(raw) == 0 || string(raw) == "null" {
		return accountsCursor{}
	}
	var cur accountsCursor
	if err := json.Unmarshal(raw, &cur); err != nil || (cur.V != accountsCursorVersion && cur.V != 1) {
		r.log.Warn("ignoring unreadable cursor; reading from scratch", "partition", "", "cursor", string(raw))
		return accountsCursor{}
	}
	if cur.V == 1 {
		r.log.Info("accounts cursor of version 1 (no watermark): one full pass")
		return accountsCursor{}
	}
	return cur
}

// keyTime is the time an account sorts by in the list and that a new message moves: its
// lastMessageTime, or its createdAt when it never had a message.
func (a *AccountFields) keyTime() (time.Time, bool) {
	if a.LastMessageTime.Valid {
		return a.LastMessageTime.T, true
	}
	return a.CreatedAt.T, a.CreatedAt.Valid
}

// errAccountsEnough stops the list once a page is older than the watermark's band.
var errAccountsEnough = errors.New("accounts older than the watermark")

// accounts reads /api/v1/accounts into leeloo.accounts and, from each account's detail
// (include=contactedUsers,orders, §4.2), fills the row (detail_raw keeps the whole answer)
// and replaces the account's rows in leeloo.account_subscriptions (keyed by position: the
// history has no ids).
//
// A full pass (the first run, a full refresh, a sweep every FullSweepEvery, or a run
// after a version 1 cursor) reads the whole list and every detail. An incremental pass
// relies on the list being newest-first by key time (§3, examples; not documented) and on
// a subscription happening in the chat, which moves lastMessageTime: it reads the detail
// only of accounts whose key time passed the watermark, or lies in the band below it and
// is not remembered there with that time; it emits no row for the others (a row without
// its detail would blank the detail columns and drop the subscriptions). It stops after
// a page whose accounts are all older than the band, but only while every item seen
// was in order; after an out-of-order item it reads to the end. It also reads to the
// end when the list's total grew by more than the accounts it saw created after the
// watermark (new accounts placed elsewhere, e.g. never-messaged ones sorted last).
// Edits that leave no trace in the key time (name, tags) wait for the next full pass. An
// account with neither lastMessageTime nor createdAt cannot be judged: its detail is read
// whenever a pass reaches it.
func (r *run) accounts(ctx context.Context) error {
	cfg := r.e.cfg
	now := r.req.Started
	cur := r.accountsState()
	var pass accountsPass
	switch {
	case r.req.FullRefresh || (cur.WM == nil && cur.Pass == nil):
		pass = accountsPass{Full: true, Started: now}
	case cur.Pass != nil:
		pass = *cur.Pass
		if !pass.Full && cur.WM == nil {
			pass = accountsPass{Full: true, Started: now} // cannot happen: an incremental pass needs a watermark
		}
		r.log.Info("resuming an unfinished pass", "offset", pass.Offset, "full", pass.Full)
	case cfg.FullSweepEvery > 0 && (cur.Sweep == nil || now.Sub(*cur.Sweep) >= cfg.FullSweepEvery):
		pass = accountsPass{Full: true, Started: now}
		r.log.Info("full sweep due", "last_sweep", cur.Sweep)
	default:
		pass = accountsPass{Started: now}
	}
	if pass.Band == nil {
		pass.Band = map[string]time.Time{}
	}
	// A full pass loads every account: a pass over the complete list.
	lp := &listPass{table: tabAccounts, on: pass.Full, start: pass.Full && (cur.Pass == nil || r.req.FullRefresh)}
	var floor time.Time // key times before it are not read again (incremental pass)
	if !pass.Full {
		floor = cur.WM.Add(-cfg.Lookback)
	}
	// A key time far in the future (a bad record) must not lift the watermark, or no
	// later message would pass it: only times up to the run's start plus Lookback count
	// (server clocks a little ahead of ours still do).
	wmCeiling := pass.Started.Add(cfg.Lookback)
	// Accounts decided on this page and the one before: offset drift repeats items of
	// the pages just read. Keeping only two pages bounds memory whatever the list's
	// size; an item repeated from further back is judged again, which at worst re-reads
	// one detail (the load is an upsert).
	judged := recentSet{}

	newWM := func() *time.Time { return laterOf(cur.WM, pass.Max) }
	final := func(total *int) json.RawMessage {
		wm := newWM()
		c := accountsCursor{V: accountsCursorVersion, Done: &pass.Started, WM: wm, Sweep: cur.Sweep, Total: total}
		if pass.Full {
			c.Sweep = &pass.Started
		}
		if wm != nil {
			c.Band = pruneBand(pass.Band, wm.Add(-cfg.Lookback))
		}
		return mustJSON(c)
	}
	// unfinished is the cursor of the pass so far: the last completed pass's, with this one.
	unfinished := func() json.RawMessage {
		cp := pass
		return mustJSON(accountsCursor{V: accountsCursorVersion, Done: cur.Done, WM: cur.WM, Sweep: cur.Sweep, Total: cur.Total, Band: cur.Band, Pass: &cp})
	}

	fetch := r.e.listFetch(r.counter, "/api/v1/accounts", nil, "accounts")
	ahead := cfg.Ahead
	if !pass.Full {
		ahead = 1 // an incremental pass expects to stop after a page or two: fetch none ahead
	}
	finalSent := false
	err := apiclient.OffsetPages(ctx, apiclient.OffsetConfig{Limit: cfg.PageSize, Start: pass.Offset, StartTotal: pass.AtTotal, Ahead: ahead}, fetch,
		func(p apiclient.Page) error {
			if pass.Total == nil && p.Total >= 0 {
				t := p.Total
				pass.Total = &t
			}
			b := newBatch()
			var todo []*Account
			var keys []time.Time
			allOld := len(p.Items) > 0
			// The order check spans pages only when this page follows the last one
			// (a drift re-read steps back and repeats newer items).
			prev := pass.Last
			if p.Offset != pass.Offset {
				prev = nil
			}
			// details reads the detail of every account in todo, adds their rows to b and
			// moves the pass past the page's first n items.
			details := func(n int) error {
				subs := make([]*batch, len(todo))
				err := forEach(ctx, len(todo), cfg.Concurrency, func(ctx context.Context, i int) error {
					sb, err := r.accountDetail(ctx, todo[i])
					subs[i] = sb
					return err
				})
				if err != nil {
					return err
				}
				for i, a := range todo {
					b.add(tabAccounts, accountsTable.row(a))
					b.merge(subs[i])
					if a.detailRaw != nil && !keys[i].IsZero() {
						pass.Band[strings.Clone(a.ID.Text())] = keys[i] // kept for the run
					}
				}
				todo, keys = todo[:0], keys[:0]
				pass.Offset, pass.AtTotal, pass.Last = p.Offset+n, max(p.Total, 0), prev
				return nil
			}
			for n, raw := range p.Items {
				// A page's details are committed every accountDetailsPerCommit, not all at
				// its end: under a small request budget a page of details takes longer than
				// a pass, and a cut-off would throw all of them away, every pass.
				if len(todo) >= accountDetailsPerCommit {
					if err := details(n); err != nil {
						return err
					}
					lp.at(false)
					if err := r.send(ctx, lp.tag(b.done("", unfinished(), r.counter))); err != nil {
						return err
					}
					b = newBatch()
				}
				a := &Account{raw: raw, region: cfg.PhoneRegion}
				if err := decodeItem(raw, &a.AccountFields); err != nil {
					b.reject(tabAccounts, raw, err)
					allOld = false
					continue
				}
				id := a.ID.Text()
				if id == "" {
					b.reject(tabAccounts, raw, fmt.Errorf("field id: missing or empty (the record's key)"))
					allOld = false
					continue
				}
				k, ok := a.keyTime()
				if !ok {
					allOld = false
					if _, dup := judged.get(id); !dup {
						judged.put(id, time.Time{})
						todo, keys = append(todo, a), append(keys, time.Time{})
					}
					continue
				}
				if prev != nil && k.After(*prev) && !pass.Unsorted {
					pass.Unsorted = true
					r.log.Warn("accounts list out of order; reading it to the end", "account_id", id, "key_time", k, "previous", *prev)
				}
				prev = &k
				if !k.After(wmCeiling) {
					pass.Max = laterOf(pass.Max, &k)
				}
				if !k.Before(floor) {
					allOld = false
				}
				if j, dup := judged.get(id); dup && j.Equal(k) {
					continue
				}
				judged.put(id, k)
				if !pass.Full && cur.WM != nil && a.CreatedAt.Valid && a.CreatedAt.T.After(*cur.WM) {
					pass.New++
				}
				switch {
				case pass.Full || k.After(*cur.WM):
					todo, keys = append(todo, a), append(keys, k)
				case k.Before(floor):
					// Unchanged since the last pass (or changed without a trace: the sweep's job).
				case cur.Band[id].Equal(k):
					pass.Band[id] = k // known with this key time: nothing changed
				default:
					todo, keys = append(todo, a), append(keys, k) // in the band, moved or new to us
				}
			}
			if err := details(len(p.Items)); err != nil {
				return err
			}
			if wm := newWM(); wm != nil {
				pass.Band = pruneBand(pass.Band, wm.Add(-cfg.Lookback))
			}
			judged.nextPage()

			stop := !pass.Full && !pass.Unsorted && allOld
			if stop && pass.Total != nil && cur.Total != nil && *pass.Total-*cur.Total > pass.New {
				r.log.Info("accounts list grew by more than the new accounts at its front; reading it to the end",
					"total", *pass.Total, "previous_total", *cur.Total, "new_seen", pass.New)
				pass.Unsorted = true // not an order problem, but the same remedy
				stop = false
			}
			var c json.RawMessage
			if p.Last || stop {
				c, finalSent = final(pass.Total), true
			} else {
				c = unfinished()
			}
			lp.at(p.Last || stop)
			if err := r.send(ctx, lp.tag(b.done("", c, r.counter))); err != nil {
				return err
			}
			if stop {
				return errAccountsEnough
			}
			return nil
		})
	if err != nil && !errors.Is(err, errAccountsEnough) {
		return err
	}
	if !finalSent {
		lp.at(true)
		return r.send(ctx, lp.tag(newBatch().done("", final(pass.Total), r.counter)))
	}
	return nil
}

// pruneBand returns the entries of band at or after floor, at most accountBandCap of
// them (the newest).
func pruneBand(band map[string]time.Time, floor time.Time) map[string]time.Time {
	out := make(map[string]time.Time, len(band))
	for id, k := range band {
		if !k.Before(floor) {
			out[id] = k
		}
	}
	if len(out) <= accountBandCap {
		return out
	}
	ids := slices.Collect(maps.Keys(out))
	slices.SortFunc(ids, func(a, b string) int { return out[b].Compare(out[a]) })
	for _, id := range ids[accountBandCap:] {
		delete(out, id)
	}
	return out
}

// accountDetail reads one account's detail into a and returns its subscription rows. An
// account whose detail answers 404 (deleted since the list) keeps its list fields.
func (r *run) accountDetail(ctx context.Context, a *Account) (*batch, error) {
	b := newBatch()
	id := a.ID.Text()
	path := "/api/v1/accounts/" + pathEscape(id)
	env, body, err := r.e.getBody(ctx, r.counter, path, url.Values{"include": {"contactedUsers,orders"}})
	if err == nil {
		if derr := decodeItem(env.Data, &a.detail); derr != nil {
			// The list row still loads; the detail goes to rejects with the reason.
			b.reject(tabAccounts, body, fmt.Errorf("account %s detail: %w", id, derr))
			a.detail = AccountFields{}
			return b, nil
		}
		a.detailRaw = body
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

// recentSet remembers values by key for the current and the previous page only.
type recentSet struct{ cur, prev map[string]time.Time }

func (s *recentSet) get(id string) (time.Time, bool) {
	if v, ok := s.cur[id]; ok {
		return v, true
	}
	v, ok := s.prev[id]
	return v, ok
}

func (s *recentSet) put(id string, v time.Time) {
	if s.cur == nil {
		s.cur = map[string]time.Time{}
	}
	s.cur[id] = v
}

// nextPage forgets the page before the one just finished.
func (s *recentSet) nextPage() { s.prev, s.cur = s.cur, nil }
