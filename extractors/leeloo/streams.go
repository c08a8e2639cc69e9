package leeloo

import (
	"context"
	"encoding/json"
	"fmt"
)

// people reads /api/v2/people by last-message windows (walkWindows) into leeloo.people
// and leeloo.person_channels (each person's accounts[], replaced per person: a person
// served without accounts[] loses its links, as the loader cannot tell "absent" from
// "none").
func (r *run) people(ctx context.Context) error {
	lp := &listPass{table: tabPeople}
	return r.walkWindowsPass(ctx, "/api/v2/people", "people", true, lp, func(ctx context.Context, items []json.RawMessage, cursor json.RawMessage) error {
		b := newBatch()
		for _, raw := range items {
			addPerson(b, raw, r.e.cfg.PhoneRegion)
		}
		return r.send(ctx, lp.tag(b.done("", cursor, r.counter)))
	})
}

// addPerson decodes one person into b: its row and its channel links, or a reject.
func addPerson(b *batch, raw json.RawMessage, region string) {
	p, err := decode[Person](raw, "id")
	if err != nil {
		b.reject(tabPeople, raw, err)
		return
	}
	p.raw, p.region = raw, region
	b.add(tabPeople, peopleTable.row(p))
	for i, araw := range p.Accounts {
		pc := personChannel{personID: p.ID.Text(), raw: araw}
		if err := decodeItem(araw, &pc.PersonAccount); err != nil {
			b.reject(tabPersonChannels, araw, fmt.Errorf("person %s accounts[%d]: %w", p.ID.Text(), i, err))
			continue
		}
		if pc.AccountID.Text() == "" {
			b.reject(tabPersonChannels, araw, fmt.Errorf("person %s accounts[%d]: field account_id: missing or empty (the record's key)", p.ID.Text(), i))
			continue
		}
		b.add(tabPersonChannels, personChannelsTable.row(&pc))
	}
}

// channels reads /api/v2/communication-channels by last-message windows into
// leeloo.communication_channels.
func (r *run) channels(ctx context.Context) error {
	lp := &listPass{table: tabChannels}
	return r.walkWindowsPass(ctx, "/api/v2/communication-channels", "channels", true, lp, func(ctx context.Context, items []json.RawMessage, cursor json.RawMessage) error {
		b := newBatch()
		for _, raw := range items {
			addRecord(b, raw, "id", &channelsTable, func(c *Channel) { c.raw = raw })
		}
		return r.send(ctx, lp.tag(b.done("", cursor, r.counter)))
	})
}

// addRecord decodes one record of a single-table stream into b (a row or a reject).
func addRecord[T any, PT interface {
	*T
	keyed
}](b *batch, raw json.RawMessage, keyField string, def *tableDef[T], fill func(*T)) *T {
	v, err := decode[T, PT](raw, keyField)
	if err != nil {
		b.reject(def.name, raw, err)
		return nil
	}
	fill(v)
	b.add(def.name, def.row(v))
	return v
}

// fullScan reads a whole list (walkScan) into one table, a batch per page.
func fullScan[T any, PT interface {
	*T
	keyed
}](ctx context.Context, r *run, path, key string, def *tableDef[T], setRaw func(*T, json.RawMessage)) error {
	lp := &listPass{table: def.name}
	return r.walkScanPass(ctx, path, nil, key, lp, func(ctx context.Context, items []json.RawMessage, cursor json.RawMessage) error {
		b := newBatch()
		for _, raw := range items {
			addRecord[T, PT](b, raw, "id", def, func(v *T) { setRaw(v, raw) })
		}
		return r.send(ctx, lp.tag(b.done("", cursor, r.counter)))
	})
}

// orders reads /api/v2/orders in full each run (no filter exists, §6.6). Orders that
// disappear from the API are marked deleted.
func (r *run) orders(ctx context.Context) error {
	return fullScan(ctx, r, "/api/v2/orders", "orders", &ordersTable, func(o *Order, raw json.RawMessage) { o.raw, o.region = raw, r.e.cfg.PhoneRegion })
}

// users reads /api/v2/users in full.
func (r *run) users(ctx context.Context) error {
	return fullScan(ctx, r, "/api/v2/users", "users", &usersTable, func(u *User, raw json.RawMessage) { u.raw = raw })
}

// tags reads /api/v2/tags in full.
func (r *run) tags(ctx context.Context) error {
	return fullScan(ctx, r, "/api/v2/tags", "tags", &tagsTable, func(t *Tag, raw json.RawMessage) { t.raw = raw })
}

// connections reads /api/v2/connections in full.
func (r *run) connections(ctx context.Context) error {
	return fullScan(ctx, r, "/api/v2/connections", "connections", &connectionsTable, func(c *Connection, raw json.RawMessage) { c.raw = raw })
}

// templates reads the template categories and each category's templates, in one batch
// (both lists are small and unpaginated, §6.11); templates are replaced per category.
func (r *run) templates(ctx context.Context) error {
	env, err := r.e.get(ctx, r.counter, "/api/v2/categories/templates", nil)
	if err != nil {
		return fmt.Errorf("list template categories: %w", err)
	}
	items, err := listItems(env.Data, "categories")
	if err != nil {
		return fmt.Errorf("list template categories: %w", err)
	}
	b := newBatch()
	var cats []*TemplateCategory
	for _, raw := range items {
		if c := addRecord(b, raw, "id", &categoriesTable, func(c *TemplateCategory) { c.raw = raw }); c != nil {
			cats = append(cats, c)
		}
	}
	per := make([]*batch, len(cats))
	err = forEach(ctx, len(cats), r.e.cfg.Concurrency, func(ctx context.Context, i int) error {
		id := cats[i].ID.Text()
		path := "/api/v2/categories/templates/" + pathEscape(id)
		env, err := r.e.get(ctx, r.counter, path, nil)
		if err != nil {
			return fmt.Errorf("list templates of category %s: %w", id, err)
		}
		items, err := listItems(env.Data, "templates")
		if err != nil {
			return fmt.Errorf("list templates of category %s: %w", id, err)
		}
		pb := newBatch()
		for _, raw := range items {
			addRecord(pb, raw, "id", &templatesTable, func(t *Template) { t.raw, t.categoryID = raw, id })
		}
		per[i] = pb
		return nil
	})
	if err != nil {
		return err
	}
	for _, pb := range per {
		b.merge(pb)
	}
	now := r.req.Started
	// Both lists are complete: a category gone is marked deleted with its templates.
	lp := &listPass{table: tabCategories, on: true, start: true, done: true}
	return r.send(ctx, lp.tag(b.done("", mustJSON(scanCursor{V: cursorVersion, Done: &now}), r.counter)))
}

// merge appends o's rows and rejects to b.
func (b *batch) merge(o *batch) {
	for t, rows := range o.rows {
		b.rows[t] = append(b.rows[t], rows...)
	}
	b.rejects = append(b.rejects, o.rejects...)
}
