// Package twin is the writer of the twin-client-attributes push (DESIGN.md, "Pushes";
// twin-api.md §3): each row of the push's query (client_id, attribute, value) sets one
// client attribute in TWIN's "About the client" panel with
// POST /clients/{client}/attributes/{attribute} {"value": ...}, or clears it with
// DELETE when value is NULL. There is no batch endpoint: one request per row.
//
// Attributes are named as the query likes: by name, resolved through twin.attributes
// (the catalog the TWIN streams sync), or by id. A name the warehouse does not know is
// looked up in TWIN's live catalog (GET /clients/attributes, once a run), since it may be
// newer than the last sync; if TWIN does not know it either, the row fails, unless the
// push sets create_attributes: true, in which case it is created (POST
// /clients/attributes) once and used. A name shared by several attributes fails the
// row (use the id). A NULL for an attribute TWIN does not have either has nothing to
// clear: the row is recorded sent, and nothing is created.
//
// Setting a value is idempotent, so rows are simply retried (a 5xx or a timeout is
// retried by apiclient, and a row that still failed is tried again next run). A row is
// not sent when twin.client_attributes (the last sync) shows TWIN already holding the
// value, and it is sent again when that copy, synced after the push, shows someone
// changed it. A 401 renews the bearer token (Tokens) and the request goes again once.
package twin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/push"
)

// Tokens gives TWIN bearer tokens (logging in and refreshing as needed).
type Tokens interface {
	// Token returns the current token, logging in when there is none; n counts the
	// requests that costs.
	Token(ctx context.Context, n *apiclient.Counter) (string, error)
	// Renew is called after the API refused token (401): it refreshes the token or logs
	// in again, and returns the new one.
	Renew(ctx context.Context, n *apiclient.Counter, refused string) (string, error)
}

// Config configures a Writer.
type Config struct {
	// Client talks to the chat API root (TWIN_CHAT_URL); the TWIN streams share it, and
	// so its budget (TWIN_RATE_LIMIT).
	Client *apiclient.Client
	Tokens Tokens
	// CreateAttributes creates attributes that neither the warehouse nor TWIN knows.
	CreateAttributes bool
}

// Writer sets client attributes.
type Writer struct {
	cfg Config
	// catalog is twin.attributes as read at Start: name -> ids, and the set of ids.
	byName map[string][]string
	ids    map[string]bool
	// live is TWIN's own catalog, fetched when a name is not in the warehouse's (nil
	// until then).
	live *catalog
}

var (
	_ push.Writer   = (*Writer)(nil)
	_ push.Starter  = (*Writer)(nil)
	_ push.Comparer = (*Writer)(nil)
)

// New returns a Writer.
func New(cfg Config) (*Writer, error) {
	if cfg.Client == nil || cfg.Tokens == nil {
		return nil, errors.New("twin attributes: Client and Tokens are required")
	}
	return &Writer{cfg: cfg}, nil
}

// Columns are DESIGN.md's columns of the destination.
func (w *Writer) Columns() []push.Column {
	return []push.Column{
		{Name: "client_id", Kind: push.Text, Required: true},
		{Name: "attribute", Kind: push.Text, Required: true},
		{Name: "value", Kind: push.Text, Required: true},
	}
}

// BatchSize is how many rows are recorded together (each is its own request).
func (w *Writer) BatchSize() int { return 50 }

// AtMostOnce is false: setting a value twice does no harm.
func (w *Writer) AtMostOnce() bool { return false }

// value is a row's payload: only the value is hashed (the key holds client and
// attribute).
type value struct {
	Client    string  `json:"-"`
	Attribute string  `json:"-"` // as the query wrote it
	AttrID    string  `json:"-"` // resolved through twin.attributes, "" when unknown there
	Value     *string `json:"value"`
}

// Start reads the attribute catalog the TWIN streams synced (none before the first
// sync).
func (w *Writer) Start(ctx context.Context, q push.Querier) error {
	w.byName, w.ids, w.live = map[string][]string{}, map[string]bool{}, nil
	// A failed statement would abort the push's transaction: ask first.
	exists, err := tableExists(ctx, q, "twin.attributes")
	if err != nil || !exists {
		return err
	}
	rows, err := q.Query(ctx, `select id, name from twin.attributes where deleted_at is null`)
	if err != nil {
		return fmt.Errorf("read twin.attributes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			return fmt.Errorf("read twin.attributes: %w", err)
		}
		w.ids[id] = true
		w.byName[name] = append(w.byName[name], id)
	}
	return rows.Err()
}

func tableExists(ctx context.Context, q push.Querier, table string) (bool, error) {
	rows, err := q.Query(ctx, `select to_regclass($1) is not null`, table)
	if err != nil {
		return false, fmt.Errorf("look for %s: %w", table, err)
	}
	defer rows.Close()
	var ok bool
	for rows.Next() {
		if err := rows.Scan(&ok); err != nil {
			return false, err
		}
	}
	return ok, rows.Err()
}

// Prepare reads a row; the key is client_id/attribute.
func (w *Writer) Prepare(r push.Row) (push.Item, error) {
	client, _ := r.String("client_id")
	attr, _ := r.String("attribute")
	client, attr = strings.TrimSpace(client), strings.TrimSpace(attr)
	if client == "" || attr == "" {
		key := ""
		if client != "" || attr != "" {
			key = client + "/" + attr
		}
		return push.Item{Key: key}, errors.New("client_id and attribute: both are required")
	}
	v := value{Client: client, Attribute: attr}
	if s, ok := r.String("value"); ok {
		v.Value = &s
	}
	item := push.Item{Key: client + "/" + attr, Payload: v}
	id, err := resolve(attr, w.byName, w.ids)
	if err != nil && !errors.Is(err, errUnknownAttr) {
		return item, err
	}
	v.AttrID = id
	item.Payload = v
	return item, nil
}

var (
	errUnknownAttr    = errors.New("unknown attribute")
	errNothingToClear = errors.New("unknown attribute: nothing to clear")
)

// resolve finds an attribute by id or by name.
func resolve(attr string, byName map[string][]string, ids map[string]bool) (string, error) {
	if ids[attr] {
		return attr, nil
	}
	switch found := byName[attr]; len(found) {
	case 0:
		return "", errUnknownAttr
	case 1:
		return found[0], nil
	default:
		return "", fmt.Errorf("attribute %q: %d attributes have this name (%s); name it by id", attr, len(found), strings.Join(found, ", "))
	}
}

// Compare reads what the last sync saw of each client's attribute.
func (w *Writer) Compare(ctx context.Context, q push.Querier, items []push.Item) ([]push.Held, error) {
	out := make([]push.Held, len(items))
	var clients, attrs []string
	idx := map[[2]string]int{}
	for i, it := range items {
		v := it.Payload.(value)
		if v.AttrID == "" {
			continue
		}
		idx[[2]string{v.Client, v.AttrID}] = i
		clients, attrs = append(clients, v.Client), append(attrs, v.AttrID)
	}
	if len(clients) == 0 {
		return out, nil
	}
	if ok, err := tableExists(ctx, q, "twin.client_attributes"); err != nil || !ok {
		return out, err
	}
	rows, err := q.Query(ctx, `
		select ca.client_id, ca.attribute_id, ca.value, ca.deleted_at is null, coalesce(ca.deleted_at, ca.synced_at)
		from twin.client_attributes ca
		join unnest($1::text[], $2::text[]) as t(client_id, attribute_id)
			on ca.client_id = t.client_id and ca.attribute_id = t.attribute_id`, clients, attrs)
	if err != nil {
		return nil, fmt.Errorf("read twin.client_attributes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c, a string
		var val *string
		var live bool
		var at time.Time
		if err := rows.Scan(&c, &a, &val, &live, &at); err != nil {
			return nil, fmt.Errorf("read twin.client_attributes: %w", err)
		}
		i, ok := idx[[2]string{c, a}]
		if !ok {
			continue
		}
		want := items[i].Payload.(value).Value
		held := (*string)(nil)
		if live {
			held = val
		}
		same := (want == nil && held == nil) || (want != nil && held != nil && *want == *held)
		out[i] = push.Held{Same: same, SyncedAt: at}
	}
	return out, rows.Err()
}

// Send sets or clears each item's value, one request each, counted by n.
func (w *Writer) Send(ctx context.Context, n *apiclient.Counter, items []push.Item) ([]push.Outcome, error) {
	outs := make([]push.Outcome, len(items))
	for i, it := range items {
		if err := ctx.Err(); err != nil {
			for j := i; j < len(items); j++ {
				outs[j] = push.Outcome{Status: push.Failed, Error: "not sent: " + context.Cause(ctx).Error()}
			}
			return outs, err
		}
		o, fatal := w.sendOne(ctx, n, it.Payload.(value))
		outs[i] = o
		if fatal != nil {
			for j := i + 1; j < len(items); j++ {
				outs[j] = push.Outcome{Status: push.Failed, Error: "not sent: " + fatal.Error()}
			}
			return outs, fatal
		}
	}
	return outs, nil
}

func (w *Writer) sendOne(ctx context.Context, n *apiclient.Counter, v value) (push.Outcome, error) {
	id := v.AttrID
	if id == "" {
		var err error
		if id, err = w.liveAttr(ctx, n, v.Attribute, v.Value != nil); errors.Is(err, errNothingToClear) {
			return push.Outcome{Status: push.Sent, Result: map[string]string{"action": "none", "reason": "no such attribute: nothing to clear"}}, nil
		} else if err != nil {
			var fatal *fatalError
			if errors.As(err, &fatal) {
				return push.Outcome{Status: push.Failed, Error: err.Error()}, err
			}
			return push.Outcome{Status: push.Failed, Error: err.Error()}, nil
		}
	}
	path := "/clients/" + url.PathEscape(v.Client) + "/attributes/" + url.PathEscape(id)
	req := apiclient.Request{Method: http.MethodDelete, Path: path, Idempotent: true}
	action := "clear"
	if v.Value != nil {
		req.Method, action = http.MethodPost, "set"
		req.Body, _ = json.Marshal(map[string]string{"value": *v.Value})
	}
	if _, err := w.do(ctx, n, req); err != nil {
		var se *apiclient.StatusError
		if errors.As(err, &se) && se.Status >= 400 && se.Status < 500 && se.Status != http.StatusUnauthorized && se.Status != http.StatusTooManyRequests {
			// This row's fault (unknown client, a value TWIN refuses): the rest go on.
			return push.Outcome{Status: push.Failed, Error: err.Error() + answerDetail(se.Body)}, nil
		}
		if errors.As(err, &se) && se.Status >= 500 {
			return push.Outcome{Status: push.Failed, Error: err.Error()}, nil
		}
		// Refused credentials, an API that cannot be reached, a cancelled run.
		return push.Outcome{Status: push.Failed, Error: err.Error()}, err
	}
	return push.Outcome{Status: push.Sent, Result: map[string]string{"attribute_id": id, "action": action}}, nil
}

// do sends req with the bearer token, renewing it once after a 401.
func (w *Writer) do(ctx context.Context, n *apiclient.Counter, req apiclient.Request) (*apiclient.Response, error) {
	tok, err := w.cfg.Tokens.Token(ctx, n)
	if err != nil {
		return nil, fmt.Errorf("twin login: %w", err)
	}
	for renewed := false; ; renewed = true {
		req.Header = http.Header{"Authorization": {"Bearer " + tok}}
		resp, err := w.cfg.Client.Send(ctx, n, req)
		var se *apiclient.StatusError
		if renewed || !errors.As(err, &se) || se.Status != http.StatusUnauthorized {
			return resp, err
		}
		if tok, err = w.cfg.Tokens.Renew(ctx, n, tok); err != nil {
			return nil, fmt.Errorf("twin: renew the token after a 401: %w", err)
		}
	}
}

// fatalError stops the push: TWIN's catalog cannot be read or written.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

// catalog is TWIN's live attribute catalog.
type catalog struct {
	byName map[string][]string
	ids    map[string]bool
}

// liveAttr resolves an attribute the warehouse does not know through TWIN's own
// catalog, creating it when the push allows.
func (w *Writer) liveAttr(ctx context.Context, n *apiclient.Counter, attr string, create bool) (string, error) {
	if w.live == nil {
		c, err := w.fetchCatalog(ctx, n)
		if err != nil {
			return "", &fatalError{fmt.Errorf("attribute %q is not in twin.attributes, and TWIN's catalog could not be read: %w", attr, err)}
		}
		w.live = c
	}
	id, err := resolve(attr, w.live.byName, w.live.ids)
	if !errors.Is(err, errUnknownAttr) {
		return id, err
	}
	if !create {
		return "", errNothingToClear
	}
	if !w.cfg.CreateAttributes {
		return "", fmt.Errorf("attribute %q: unknown (neither an id nor a name in twin.attributes or in TWIN); set create_attributes: true on the push to create it", attr)
	}
	body, _ := json.Marshal(map[string]string{"name": attr})
	resp, err := w.do(ctx, n, apiclient.Request{Method: http.MethodPost, Path: "/clients/attributes", Body: body})
	if err != nil {
		return "", &fatalError{fmt.Errorf("create attribute %q: %w", attr, err)}
	}
	var created struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(resp.Body, &created) != nil || len(created.ID) == 0 {
		return "", &fatalError{fmt.Errorf("create attribute %q: the answer has no id", attr)}
	}
	id = strings.Trim(string(created.ID), `"`)
	w.live.byName[attr] = append(w.live.byName[attr], id)
	w.live.ids[id] = true
	return id, nil
}

// fetchCatalog reads GET /clients/attributes page by page ({count, items}).
func (w *Writer) fetchCatalog(ctx context.Context, n *apiclient.Counter) (*catalog, error) {
	const limit = 100
	c := &catalog{byName: map[string][]string{}, ids: map[string]bool{}}
	for offset := 0; ; offset += limit {
		resp, err := w.do(ctx, n, apiclient.Request{Method: http.MethodGet, Idempotent: true,
			Path: "/clients/attributes?limit=" + strconv.Itoa(limit) + "&offset=" + strconv.Itoa(offset)})
		if err != nil {
			return nil, err
		}
		var page struct {
			Count int `json:"count"`
			Items []struct {
				ID   json.RawMessage `json:"id"`
				Name string          `json:"name"`
			} `json:"items"`
		}
		if err := json.Unmarshal(resp.Body, &page); err != nil {
			return nil, fmt.Errorf("GET /clients/attributes: %w", err)
		}
		for _, it := range page.Items {
			id := strings.Trim(string(it.ID), `"`)
			c.ids[id] = true
			c.byName[it.Name] = append(c.byName[it.Name], id)
		}
		if len(page.Items) < limit || offset+len(page.Items) >= page.Count {
			return c, nil
		}
	}
}

// answerDetail adds TWIN's error details ({"error", "details"}) to a message.
func answerDetail(body string) string {
	var b struct {
		Error   string          `json:"error"`
		Details json.RawMessage `json:"details"`
	}
	if json.Unmarshal([]byte(body), &b) != nil || b.Error == "" {
		return ""
	}
	s := ": " + b.Error
	if len(b.Details) > 0 && string(b.Details) != "null" {
		s += " " + string(b.Details)
	}
	return s
}
