package simulator

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

type llMeta struct {
	Limit         int `json:"limit"`
	Offset        int `json:"offset"`
	FilteredCount int `json:"filteredCount"`
	TotalCount    int `json:"totalCount"`
}

type llOne struct {
	Data     json.RawMessage `json:"data"`
	Included map[string]any  `json:"included,omitempty"`
	Status   int             `json:"status"`
}

func (s *Sim) leelooRoutes(mux *http.ServeMux) {
	h := func(pattern string, fn func(*http.Request) response) {
		mux.Handle("GET "+pattern, s.endpoint(APILeeloo, "GET "+pattern, fn))
	}
	h("/api/v1/accounts", s.llAccounts)
	h("/api/v1/accounts/{id}", s.llAccount)
	h("/api/v1/accounts/{id}/chat-messages", s.llChatMessages)
	h("/api/v1/orders/{id}", s.llOrder)
	h("/api/v2/people", s.llPeople)
	h("/api/v2/people/{id}", s.llPerson)
	h("/api/v2/communication-channels", s.llChannels)
	h("/api/v2/communication-channels/{id}/person", s.llChannelPerson)
	h("/api/v2/communication-channels/{id}/chat-messages", s.llChatMessages)
	h("/api/v2/orders", s.llOrders)
	h("/api/v2/orders/{id}", s.llOrder)
	h("/api/v2/tunnels", s.llTunnels)
	h("/api/v2/tunnels/stats", s.llTunnelsStats)
	h("/api/v2/tunnels/{id}", s.llTunnel)
	h("/api/v2/tunnels/{id}/stats", s.llTunnelStats)
	h("/api/v2/users", s.llUsers)
	h("/api/v2/users/{id}", s.llUser)
	h("/api/v2/tags", s.llTags)
	h("/api/v2/connections", s.llConnections)
	h("/api/v2/categories/templates", s.llCategories)
	h("/api/v2/categories/templates/{id}", s.llTemplates)
	nf := func(*http.Request) response { return s.llNotFound() }
	mux.Handle("/api/v1/", s.endpoint(APILeeloo, "/api/v1/ (unknown)", nf))
	mux.Handle("/api/v2/", s.endpoint(APILeeloo, "/api/v2/ (unknown)", nf))
}

// llNotFound: unknown route or id. The code and the 404 are [INF].
func (s *Sim) llNotFound() response {
	return s.errorResp(APILeeloo, http.StatusNotFound, "NOT_FOUND", "")
}

func llFormatError(field, problem string) response {
	return jsonResp(http.StatusBadRequest, map[string]any{"status": 0,
		"error": map[string]any{"fields": map[string]string{field: problem}, "code": "FORMAT_ERROR"}})
}

// llPaging reads limit and offset: default 20 and 0, limit clamped to the cap.
func llPaging(r *http.Request, capN int) (limit, offset int, bad *response) {
	q := r.URL.Query()
	limit, offset = 20, 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			resp := llFormatError("limit", "INVALID")
			return 0, 0, &resp
		}
		if n > 0 {
			limit = n
		}
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			resp := llFormatError("offset", "INVALID")
			return 0, 0, &resp
		}
		offset = n
	}
	return min(limit, capN), offset, nil
}

// llListResp is {"data":[...],"meta":{...},"status":1}.
func llListResp[T any](f Faults, items []T, limit, offset, total int) response {
	return jsonResp(http.StatusOK, struct {
		Data   json.RawMessage `json:"data"`
		Meta   llMeta          `json:"meta"`
		Status int             `json:"status"`
	}{marshalItems(f, items), llMeta{Limit: limit, Offset: offset, FilteredCount: len(items), TotalCount: total}, 1})
}

// llViewResp serves one page of a view: the records at its refs, built by item.
func llViewResp[T any](f Faults, v *view, limit, offset int, item func(ref int) T) response {
	refs := v.page(offset, limit)
	items := make([]T, 0, len(refs))
	for _, ref := range refs {
		items = append(items, item(ref))
	}
	return llListResp(f, items, limit, offset, v.total())
}

func rawResp(parts ...any) response {
	n := 0
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			n += len(v)
		case []byte:
			n += len(v)
		case json.RawMessage:
			n += len(v)
		}
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			b = append(b, v...)
		case []byte:
			b = append(b, v...)
		case json.RawMessage:
			b = append(b, v...)
		}
	}
	return response{status: http.StatusOK, body: b}
}

// llOneResp is {"data":...,"included":{...},"status":1} (included omitted when empty).
func llOneResp(f Faults, v any, included map[string]any) response {
	return jsonResp(http.StatusOK, llOne{Data: marshalOne(f, v), Included: included, Status: 1})
}

// parseLeelooTime accepts YYYY-MM-DD or ISO-8601 (with or without zone, seconds or
// fractions). A date-only bound means 00:00:00.000Z, or 23:59:59.999Z when end is set.
func parseLeelooTime(v string, end bool) (int64, error) {
	if t, err := time.Parse(dayLayout, v); err == nil {
		if end {
			return t.Add(day).UnixMilli() - 1, nil
		}
		return t.UnixMilli(), nil
	}
	for _, l := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", isoNoZone, "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04"} {
		if t, err := time.Parse(l, v); err == nil {
			return t.UnixMilli(), nil
		}
	}
	return 0, errors.New("bad time")
}

// lastMessageRange reads filter[last_message][from|to].
func lastMessageRange(q url.Values) (from, to int64, set bool, bad *response) {
	from, to = math.MinInt64, math.MaxInt64
	if v := q.Get("filter[last_message][from]"); v != "" {
		t, err := parseLeelooTime(v, false)
		if err != nil {
			resp := llFormatError("filter[last_message][from]", "INVALID")
			return 0, 0, false, &resp
		}
		from, set = t, true
	}
	if v := q.Get("filter[last_message][to]"); v != "" {
		t, err := parseLeelooTime(v, true)
		if err != nil {
			resp := llFormatError("filter[last_message][to]", "INVALID")
			return 0, 0, false, &resp
		}
		to, set = t, true
	}
	return from, to, set, nil
}

// canonicalQuery is the query without paging, as a cache key.
func canonicalQuery(q url.Values) string {
	c := url.Values{}
	for k, v := range q {
		if k == "limit" || k == "offset" || k == "page" || k == "page_size" || k == "authToken" {
			continue
		}
		c[k] = slices.Sorted(slices.Values(v))
	}
	return c.Encode()
}

func (s *Sim) llPeople(r *http.Request) response {
	f := s.Faults()
	limit, offset, bad := llPaging(r, f.LeelooPageCap)
	if bad != nil {
		return *bad
	}
	q := r.URL.Query()
	from, to, set, bad := lastMessageRange(q)
	if bad != nil {
		return *bad
	}
	if f.StrictPeopleFilter && !set {
		return llFormatError("filter[last_message]", "REQUIRED")
	}
	tags := append(q["filter[tags]"], q["filter[tags][]"]...)
	phone, email := q.Get("filter[phone]"), strings.ToLower(q.Get("filter[email]"))
	if f.OffsetDrift && offset > 0 {
		s.mu.Lock()
		s.driftPerson()
		s.mu.Unlock()
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.ll
	var pred func(int) bool
	if len(tags) > 0 || phone != "" || email != "" {
		pred = func(ref int) bool {
			pr := d.personRec(ref)
			if len(tags) > 0 && !slices.ContainsFunc(pr.p.Tags, func(t string) bool { return slices.Contains(tags, t) }) {
				return false
			}
			if phone != "" && !samePhone(phone, pr.p.Phone) {
				return false
			}
			if email != "" && strings.ToLower(pr.p.Email) != email {
				return false
			}
			return true
		}
	}
	v := s.cachedView("ll-people?"+canonicalQuery(q), func() *view {
		rng := baseRange(d.nPeople, d.personBaseKey, from, to)
		return d.people.view(&rng, func(ref int) bool {
			k := d.personKey(ref)
			return k >= from && k <= to && (pred == nil || pred(ref))
		}, pred)
	})
	return llViewResp(f, v, limit, offset, func(ref int) Person {
		p, _ := d.person(ref, false)
		d.faultPerson(f, &p)
		return p
	})
}

type personDetailJSON struct {
	Person
	Gender           *string            `json:"gender"`
	Locale           string             `json:"locale"`
	CustomFields     map[string]*string `json:"custom_fields"`
	SubscribeHistory []Subscription     `json:"subscribeHistory"`
	Links            Links              `json:"links"`
}

func detailOf(p Person) personDetailJSON {
	return personDetailJSON{Person: p, Gender: p.Gender, Locale: p.Locale, CustomFields: p.CustomFields, SubscribeHistory: p.SubscribeHistory, Links: p.Links}
}

// refOf resolves an id made by objectID to a ref of the expected kind, checking that
// the record exists and has exactly this id.
func refOf(id string, kinds []byte, exists func(ref int) (string, bool)) (int, bool) {
	k, p, ok := parseObjectID(strings.ToLower(id))
	if !ok || !slices.Contains(kinds, k) || p > math.MaxInt32*64 {
		return 0, false
	}
	got, ok := exists(int(p))
	return int(p), ok && got == strings.ToLower(id)
}

func (s *Sim) personRefOf(id string) (int, bool) {
	d := s.ll
	return refOf(id, []byte{kindPerson}, func(ref int) (string, bool) {
		if ref < d.nPeople+len(d.newPeople) {
			return d.personID(ref), true
		}
		return "", false
	})
}

func (s *Sim) chanRefOf(id string) (int, bool) {
	d := s.ll
	return refOf(id, []byte{kindChannel}, func(ref int) (string, bool) {
		if ref < d.nChan {
			return d.chanID(ref), true
		}
		if _, ok := d.chanOv[ref]; ok {
			return d.chanID(ref), true
		}
		return "", false
	})
}

func (s *Sim) orderRefOf(id string) (int, bool) {
	d := s.ll
	return refOf(id, []byte{kindOrder}, func(ref int) (string, bool) {
		if ref < d.nOrders {
			return d.order(ref).ID, true
		}
		if o, ok := d.orderOv[ref]; ok {
			return o.ID, true
		}
		return "", false
	})
}

func includes(r *http.Request) map[string]bool {
	out := map[string]bool{}
	for _, v := range r.URL.Query()["include"] {
		for _, p := range strings.Split(v, ",") {
			out[strings.TrimSpace(p)] = true
		}
	}
	return out
}

func (s *Sim) llPerson(r *http.Request) response {
	f := s.Faults()
	s.mu.RLock()
	defer s.mu.RUnlock()
	ref, ok := s.personRefOf(r.PathValue("id"))
	if !ok {
		return s.llNotFound()
	}
	return s.personDetail(f, ref, includes(r))
}

func (s *Sim) personDetail(f Faults, ref int, inc map[string]bool) response {
	d := s.ll
	p, _ := d.person(ref, true)
	d.faultPerson(f, &p)
	included := map[string]any{}
	if inc["contactedUsers"] {
		users := []User{}
		for _, u := range p.Links.ContactedUsers {
			users = append(users, d.users[d.userByID[u.ID]])
		}
		included["users"] = marshalItems(f, users)
	}
	if inc["orders"] {
		orders := []Order{}
		for _, o := range d.ordersOfPerson(ref) {
			orders = append(orders, d.order(o))
		}
		included["orders"] = marshalItems(f, orders)
	}
	if len(included) == 0 {
		included = nil
	}
	det := detailOf(p)
	return llOneResp(f, &det, included)
}

func (s *Sim) llChannels(r *http.Request) response {
	f := s.Faults()
	limit, offset, bad := llPaging(r, f.LeelooPageCap)
	if bad != nil {
		return *bad
	}
	q := r.URL.Query()
	from, to, _, bad := lastMessageRange(q)
	if bad != nil {
		return *bad
	}
	if f.OffsetDrift && offset > 0 {
		s.mu.Lock()
		s.driftPerson()
		s.mu.Unlock()
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.ll
	v := s.cachedView("ll-chans?"+canonicalQuery(q), func() *view {
		rng := baseRange(d.nChan, d.lmtBase, from, to)
		return d.chans.view(&rng, func(ref int) bool { k := d.chanKey(ref); return k >= from && k <= to }, nil)
	})
	return llViewResp(f, v, limit, offset, func(ref int) Channel {
		c := d.chanRec(ref, false).ch
		d.faultChannel(f, &c)
		return c
	})
}

func (s *Sim) llChannelPerson(r *http.Request) response {
	f := s.Faults()
	s.mu.RLock()
	defer s.mu.RUnlock()
	ref, ok := s.chanRefOf(r.PathValue("id"))
	if !ok {
		return s.llNotFound()
	}
	return s.personDetail(f, s.ll.chanRec(ref, false).person, includes(r))
}

// llChatMessages serves v1 /accounts/{id}/chat-messages and v2
// /communication-channels/{id}/chat-messages: the id is the channel (account) id.
func (s *Sim) llChatMessages(r *http.Request) response {
	f := s.Faults()
	limit, offset, bad := llPaging(r, f.LeelooPageCap)
	if bad != nil {
		return *bad
	}
	id := r.PathValue("id")
	if f.OffsetDrift && offset > 0 {
		s.mu.Lock()
		if ref, ok := s.chanRefOf(id); ok {
			s.driftMessage(ref)
		}
		s.mu.Unlock()
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ref, ok := s.chanRefOf(id)
	if !ok {
		return s.llNotFound()
	}
	msgs := s.ll.messages(f, ref)
	total := len(msgs)
	page := []Message{}
	if offset < total {
		page = msgs[offset:min(offset+limit, total)]
	}
	return llListResp(f, page, limit, offset, total)
}

func (s *Sim) llAccounts(r *http.Request) response {
	f := s.Faults()
	limit, offset, bad := llPaging(r, f.LeelooPageCap)
	if bad != nil {
		return *bad
	}
	q := r.URL.Query()
	var tags []string
	for _, v := range q["filter[tags]"] {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				tags = append(tags, t)
			}
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.ll
	var pred func(int) bool
	if len(tags) > 0 {
		pred = func(ref int) bool {
			return slices.ContainsFunc(d.chanRec(ref, false).ch.Tags, func(t string) bool { return slices.Contains(tags, t) })
		}
	}
	v := s.cachedView("ll-accounts?"+canonicalQuery(q), func() *view { return d.chans.view(nil, pred, pred) })
	return llViewResp(f, v, limit, offset, func(ref int) Account {
		a, _ := d.account(ref, false)
		d.faultAccount(f, &a)
		return a
	})
}

type accountDetailJSON struct {
	ID               string         `json:"id"`
	Name             *string        `json:"name"`
	Tags             []string       `json:"tags"`
	From             string         `json:"from"`
	BotStatus        string         `json:"botStatus"`
	Gender           *string        `json:"gender"`
	Locale           string         `json:"locale"`
	Email            string         `json:"email"`
	Phone            string         `json:"phone"`
	SubscribeHistory []Subscription `json:"subscribeHistory"`
	Links            Links          `json:"links"`
	CreatedAt        string         `json:"createdAt"`
	UpdatedAt        string         `json:"updatedAt"`
}

type v1User struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	CreatedAt string `json:"createdAt"`
	UpdatedAt string `json:"updatedAt"`
}

type v1Order struct {
	ID            string  `json:"id"` // absent in the doc example; third-party code reads it [INF]
	Price         float64 `json:"price"`
	Currency      string  `json:"currency"`
	PaymentMethod string  `json:"paymentMethod"`
	Status        string  `json:"status"`
	UpdatedAt     string  `json:"updatedAt"`
}

func minuteToMS(s string) string {
	t, err := time.Parse(layoutMinute, s)
	if err != nil {
		return s
	}
	return fmtMS(t.UnixMilli())
}

func (s *Sim) llAccount(r *http.Request) response {
	f := s.Faults()
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.ll
	ref, ok := s.chanRefOf(r.PathValue("id"))
	if !ok {
		return s.llNotFound()
	}
	a, _ := d.account(ref, true)
	d.faultAccount(f, &a)
	inc := includes(r)
	included := map[string]any{}
	if inc["contactedUsers"] {
		users := []v1User{}
		for _, u := range a.Links.ContactedUsers {
			uu := d.users[d.userByID[u.ID]]
			users = append(users, v1User{ID: uu.ID, Name: uu.Name, CreatedAt: minuteToMS(uu.CreatedAt), UpdatedAt: minuteToMS(uu.UpdatedAt)})
		}
		included["users"] = marshalItems(f, users)
	}
	if inc["orders"] {
		orders := []v1Order{}
		for _, o := range a.Links.Orders {
			oref, _ := s.orderRefOf(o.ID)
			or := d.order(oref)
			orders = append(orders, v1Order{ID: or.ID, Price: or.Price, Currency: or.Currency, PaymentMethod: or.PaymentMethod, Status: or.Status, UpdatedAt: or.UpdatedAt})
		}
		included["orders"] = marshalItems(f, orders)
	}
	if len(included) == 0 {
		included = nil
	}
	det := accountDetailJSON{ID: a.ID, Name: a.Name, Tags: a.Tags, From: a.From, BotStatus: a.BotStatus, Gender: a.Gender, Locale: a.Locale,
		Email: a.Email, Phone: a.Phone, SubscribeHistory: a.SubscribeHistory, Links: a.Links, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
	return llOneResp(f, &det, included)
}

func (s *Sim) llOrders(r *http.Request) response {
	f := s.Faults()
	limit, offset, bad := llPaging(r, f.LeelooPageCap)
	if bad != nil {
		return *bad
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.ll
	v := d.orders.view(nil, nil, nil)
	return llViewResp(f, v, limit, offset, d.order)
}

func (s *Sim) llOrder(r *http.Request) response {
	f := s.Faults()
	s.mu.RLock()
	defer s.mu.RUnlock()
	ref, ok := s.orderRefOf(r.PathValue("id"))
	if !ok {
		return s.llNotFound()
	}
	return llOneResp(f, s.ll.order(ref), nil)
}

// llStatic pages a fully materialised list.
func llStatic[T any](s *Sim, r *http.Request, all []T) response {
	f := s.Faults()
	limit, offset, bad := llPaging(r, f.LeelooPageCap)
	if bad != nil {
		return *bad
	}
	return llListResp(f, pageOf(all, offset, limit), limit, offset, len(all))
}

func (s *Sim) llTunnels(r *http.Request) response {
	ts := make([]Tunnel, 0, len(s.ll.tunnels))
	for _, t := range s.ll.tunnels {
		ts = append(ts, t.t)
	}
	return llStatic(s, r, ts)
}

func (s *Sim) tunnelOf(id string) (tunnelRec, bool) {
	i, ok := s.ll.tunnelByID[strings.ToLower(id)]
	if !ok {
		return tunnelRec{}, false
	}
	return s.ll.tunnels[i], true
}

func (s *Sim) llTunnel(r *http.Request) response {
	f := s.Faults()
	t, ok := s.tunnelOf(r.PathValue("id"))
	if !ok {
		return s.llNotFound()
	}
	var included map[string]any
	if includes(r)["leadgentools"] {
		included = map[string]any{"leadgentools": marshalItems(f, t.lgts)}
	}
	return llOneResp(f, t.t, included)
}

// llTunnelsStats: data is an array, no meta (leeloo-api.md §6.8).
func (s *Sim) llTunnelsStats(*http.Request) response {
	f := s.Faults()
	st := make([]TunnelStats, 0, len(s.ll.tunnels))
	for _, t := range s.ll.tunnels {
		st = append(st, t.stats)
	}
	return jsonResp(http.StatusOK, llOne{Data: marshalItems(f, st), Status: 1})
}

func (s *Sim) llTunnelStats(r *http.Request) response {
	t, ok := s.tunnelOf(r.PathValue("id"))
	if !ok {
		return s.llNotFound()
	}
	return llOneResp(s.Faults(), t.stats, nil)
}

func (s *Sim) llUsers(r *http.Request) response { return llStatic(s, r, s.ll.users) }

func (s *Sim) llUser(r *http.Request) response {
	i, ok := s.ll.userByID[strings.ToLower(r.PathValue("id"))]
	if !ok {
		return s.llNotFound()
	}
	return llOneResp(s.Faults(), s.ll.users[i], nil)
}

func (s *Sim) llTags(r *http.Request) response {
	return llStatic(s, r, liveItemsLocked(s, "ll-tag", s.ll.tags, llTagID))
}

func (s *Sim) llConnections(r *http.Request) response { return llStatic(s, r, s.ll.conns) }

// llCategories: {"data":{"categories":[...]},"status":1} (documented, §6.11).
func (s *Sim) llCategories(*http.Request) response {
	f := s.Faults()
	return jsonResp(http.StatusOK, map[string]any{"data": map[string]any{"categories": marshalItems(f, s.ll.cats)}, "status": 1})
}

func (s *Sim) llTemplates(r *http.Request) response {
	f := s.Faults()
	id := strings.ToLower(r.PathValue("id"))
	if _, ok := s.ll.catByID[id]; !ok {
		return s.llNotFound()
	}
	tpl := []Template{}
	for _, t := range s.ll.templates {
		if t.CategoryID == id {
			tpl = append(tpl, t)
		}
	}
	return jsonResp(http.StatusOK, map[string]any{"data": map[string]any{"templates": marshalItems(f, tpl)}, "status": 1})
}
