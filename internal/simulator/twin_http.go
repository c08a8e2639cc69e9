package simulator

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The TWIN APIs, as named in Stats: the IAM service (login, refresh) and the chat API.
const (
	APITwinIAM  = "twin-iam"
	APITwinChat = "twin-chat"
)

func isTwin(api string) bool { return api == APITwinIAM || api == APITwinChat }

func (s *Sim) twinRoutes(mux *http.ServeMux) {
	iam := func(method, pattern string, fn func(*http.Request) response) {
		mux.Handle(method+" "+TwinIAMPath+pattern, s.endpoint(APITwinIAM, method+" "+pattern, fn))
	}
	chat := func(method, pattern string, fn func(*http.Request) response) {
		mux.Handle(method+" "+TwinChatPath+pattern, s.endpoint(APITwinChat, method+" "+pattern, fn))
	}
	iam("POST", "/auth/login", s.twinLogin)
	iam("POST", "/auth/refresh", s.twinRefresh)
	chat("GET", "/chats", s.twinChats)
	chat("GET", "/chats/{id}", s.twinChat)
	chat("GET", "/sessions", s.twinSessions)
	chat("GET", "/sessions/{id}", s.twinSession)
	chat("GET", "/sessions/{id}/messages", s.twinSessionMessages)
	chat("GET", "/clients/{client}/messages", s.twinClientMessages)
	chat("POST", "/clients/attributes", s.twinWrite(s.twinCreateAttr))          // A1
	chat("GET", "/clients/attributes", s.twinAttrs)                             // A2
	chat("PATCH", "/clients/attributes/{attr}", s.twinWrite(s.twinRenameAttr))  // A3
	chat("DELETE", "/clients/attributes/{attr}", s.twinWrite(s.twinDeleteAttr)) // A4
	chat("POST", "/clients/{client}/attributes/{attr}", s.twinWrite(s.twinSetValue))
	chat("GET", "/clients/{client}/attributes", s.twinValues)
	chat("DELETE", "/clients/{client}/attributes/{attr}", s.twinWrite(s.twinClearValue))
	nf := func(*http.Request) response { return twinErr(404, "Not found.") }
	mux.Handle(TwinChatPath+"/", s.endpoint(APITwinChat, "(unknown)", nf))
	mux.Handle(TwinIAMPath+"/", s.endpoint(APITwinIAM, "(unknown)", nf))
}

// twinWrite loses the answer of some successful writes (Faults.TwinLostAnswerRate):
// the change is made, the client sees a 502.
func (s *Sim) twinWrite(h func(*http.Request) response) func(*http.Request) response {
	return func(r *http.Request) response {
		resp := h(r)
		f := s.Faults()
		if resp.status != http.StatusOK || f.TwinLostAnswerRate <= 0 {
			return resp
		}
		u := hash3(s.seed, kindTwinNew, 3, s.st.nextFaultN())
		if float64(u>>11)/float64(1<<53) < f.TwinLostAnswerRate {
			return response{status: http.StatusBadGateway, body: []byte("<html><body><h1>502 Bad Gateway</h1></body></html>"),
				header: map[string]string{"Content-Type": "text/html"}}
		}
		return resp
	}
}

// twinAuth checks the bearer token of a chat API request; the key it returns (the
// user) is what the rate limit counts by.
func (s *Sim) twinAuth(api string, r *http.Request) (string, response, bool) {
	if api == APITwinIAM {
		return "iam", response{}, true
	}
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" || tok == "null" {
		return "", twinErr(401, "Unauthorized."), false
	}
	c, msg := s.twTok.check(tok, s.Faults().TwinTokenRequests, time.Now())
	if msg != "" {
		return "", twinErr(401, msg), false
	}
	return c.Sub, response{}, true
}

func decodeBody(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return errors.New("empty body")
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	return dec.Decode(v)
}

// twinPaging reads limit and offset: limit defaults to 10 and is clamped to
// Faults.TwinPageCap; 0 means the default.
func twinPaging(r *http.Request, capN int) (offset, limit int, bad *response) {
	q := r.URL.Query()
	limit = 10
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			resp := twinDetails(400, "Invalid query parameters.", map[string]string{"limit": "must be an integer >= 0"})
			return 0, 0, &resp
		}
		if n > 0 {
			limit = n
		}
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			resp := twinDetails(400, "Invalid query parameters.", map[string]string{"offset": "must be an integer >= 0"})
			return 0, 0, &resp
		}
		offset = n
	}
	return offset, min(limit, capN), nil
}

// twinList is {"count": total, "items": [...]}, one page of items.
func twinList[T any](f Faults, r *http.Request, items []T, fault func(*T)) response {
	off, limit, bad := twinPaging(r, f.TwinPageCap)
	if bad != nil {
		return *bad
	}
	q := r.URL.Query()
	total := len(items)
	page := []T{}
	if off < total {
		page = slices.Clone(items[off:min(total, off+limit)])
	}
	if fault != nil {
		for i := range page {
			fault(&page[i])
		}
	}
	b := []byte(`{"count":`)
	if q.Get("withoutCount") == "true" {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, int64(total), 10)
	}
	b = append(b, `,"items":`...)
	if q.Get("withoutItems") == "true" {
		b = append(b, "[]"...)
	} else {
		b = append(b, marshalItems(f, page)...)
	}
	b = append(b, '}')
	return response{status: 200, body: b}
}

// twinTime parses a from/to filter: ISO-8601 with an offset, without one (UTC), or a
// date (a "to" date means the end of that day).
func twinTime(v string, end bool) (int64, bool) {
	for _, l := range []string{time.RFC3339Nano, isoNoZone} {
		if t, err := time.Parse(l, v); err == nil {
			return t.UnixMilli(), true
		}
	}
	if t, err := time.Parse(dayLayout, v); err == nil {
		if end {
			return t.Add(24*time.Hour).UnixMilli() - 1, true
		}
		return t.UnixMilli(), true
	}
	return 0, false
}

// twinRange reads from/to (inclusive); absent bounds are open.
func twinRange(r *http.Request) (from, to int64, bad *response) {
	q := r.URL.Query()
	from, to = -1<<62, 1<<62
	for _, p := range []struct {
		name string
		dst  *int64
		end  bool
	}{{"from", &from, false}, {"to", &to, true}} {
		if v := q.Get(p.name); v != "" {
			t, ok := twinTime(v, p.end)
			if !ok {
				resp := twinDetails(400, "Invalid query parameters.", map[string]string{p.name: "must be an ISO-8601 date-time"})
				return 0, 0, &resp
			}
			*p.dst = t
		}
	}
	return from, to, nil
}

func (s *Sim) twinFaultText(f Faults, v *string, k int) {
	if f.NULCharacters && k%7 == 3 && *v != "" {
		*v = insertNUL(*v)
	}
}

func (s *Sim) twinChats(r *http.Request) response {
	f := s.Faults()
	s.mu.RLock()
	defer s.mu.RUnlock()
	q := r.URL.Query()
	kw := strings.ToLower(q.Get("keyword") + q.Get("name"))
	var out []TwinChat
	for _, c := range s.tw.chats {
		if kw == "" || strings.Contains(strings.ToLower(c.Name), kw) {
			out = append(out, c)
		}
	}
	return twinList(f, r, out, nil)
}

func (s *Sim) twinChat(r *http.Request) response {
	f := s.Faults()
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, c := range s.tw.chats {
		if c.ID == r.PathValue("id") {
			return response{status: 200, body: marshalOne(f, c)}
		}
	}
	return twinErr(404, "Chat not found.")
}

// sessionFault applies the content faults to a served session.
func (s *Sim) sessionFault(f Faults) func(*TwinSession) {
	return func(ss *TwinSession) {
		ts := s.tw.byID[ss.ID]
		if ts != nil {
			s.twinFaultText(f, &ss.Name, ts.seq)
		}
	}
}

// twinSessions is GET /sessions with from/to/dateRangeField, chatId, sessionId,
// keyword, sort and paging.
func (s *Sim) twinSessions(r *http.Request) response {
	f := s.Faults()
	q := r.URL.Query()
	if f.OffsetDrift && q.Get("offset") != "" && q.Get("offset") != "0" {
		s.mu.Lock()
		s.now += 1000
		s.tw.newClientSession(s.now, newRnd(s.seed, kindFault, 20, uint64(s.now)))
		s.version++
		s.mu.Unlock()
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	from, to, bad := twinRange(r)
	if bad != nil {
		return *bad
	}
	field := q.Get("dateRangeField")
	if field != "" && field != "createdAt" && field != "updatedAt" {
		return twinDetails(400, "Invalid query parameters.", map[string]string{"dateRangeField": "must be createdAt or updatedAt"})
	}
	sortKey := strings.TrimPrefix(strings.TrimPrefix(q.Get("sort"), "+"), "-")
	desc := q.Get("sort") == "" || strings.HasPrefix(q.Get("sort"), "-")
	if sortKey != "" && sortKey != "started_at" && sortKey != "name" {
		return twinDetails(400, "Invalid query parameters.", map[string]string{"sort": "must be started_at or name, optionally prefixed by + or -"})
	}
	kw := strings.ToLower(q.Get("keyword"))
	var out []TwinSession
	for _, ts := range s.tw.sessions {
		t := ts.start - 500 // createdAt
		if field == "updatedAt" {
			t = ts.update
		}
		if t < from || t > to {
			continue
		}
		ss := ts.s
		if v := q.Get("chatId"); v != "" && ss.ChatID != v {
			continue
		}
		if v := q.Get("sessionId"); v != "" && ss.ID != v {
			continue
		}
		if kw != "" && !strings.Contains(strings.ToLower(ss.Name), kw) && ss.ClientID != q.Get("keyword") {
			continue
		}
		out = append(out, ss)
	}
	if sortKey == "name" {
		slices.SortStableFunc(out, func(a, b TwinSession) int { return strings.Compare(a.Name, b.Name) })
	}
	if desc {
		slices.Reverse(out)
	}
	return twinList(f, r, out, s.sessionFault(f))
}

func (s *Sim) twinSession(r *http.Request) response {
	f := s.Faults()
	s.mu.RLock()
	defer s.mu.RUnlock()
	ts := s.tw.session(r.PathValue("id"))
	if ts == nil {
		return twinErr(404, "Session not found.")
	}
	ss := ts.s
	s.sessionFault(f)(&ss)
	return response{status: 200, body: marshalOne(f, ss)}
}

// sessionMessages returns a session's messages as served (content faults applied).
func (s *Sim) sessionMessages(f Faults, ts *twinSess) []TwinMessage {
	msgs := s.tw.messages(ts)
	for i := range msgs {
		s.twinFaultText(f, &msgs[i].Body, ts.seq+i)
	}
	return msgs
}

// twinMessagesOf filters by createdAt from/to and sorts (createdAt ascending unless
// sort=-createdAt).
func twinMessagesOf(r *http.Request, msgs []TwinMessage) ([]TwinMessage, *response) {
	from, to, bad := twinRange(r)
	if bad != nil {
		return nil, bad
	}
	out := msgs[:0:0]
	for _, m := range msgs {
		t, _ := time.Parse(layoutMS, m.CreatedAt)
		if ms := t.UnixMilli(); ms >= from && ms <= to {
			out = append(out, m)
		}
	}
	if strings.HasPrefix(r.URL.Query().Get("sort"), "-") {
		slices.Reverse(out)
	}
	return out, nil
}

func (s *Sim) twinSessionMessages(r *http.Request) response {
	f := s.Faults()
	s.mu.RLock()
	defer s.mu.RUnlock()
	ts := s.tw.session(r.PathValue("id"))
	if ts == nil {
		return twinErr(404, "Session not found.")
	}
	msgs, bad := twinMessagesOf(r, s.sessionMessages(f, ts))
	if bad != nil {
		return *bad
	}
	return twinList(f, r, msgs, nil)
}

func (s *Sim) twinClientMessages(r *http.Request) response {
	f := s.Faults()
	s.mu.RLock()
	defer s.mu.RUnlock()
	c := s.tw.byClient[r.PathValue("client")]
	if c == nil {
		return twinErr(404, "Client not found.")
	}
	var all []TwinMessage
	for _, ts := range s.tw.sessions {
		if ts.client == c {
			all = append(all, s.sessionMessages(f, ts)...)
		}
	}
	msgs, bad := twinMessagesOf(r, all)
	if bad != nil {
		return *bad
	}
	return twinList(f, r, msgs, nil)
}

// ---- attributes (A1–A7) ----

func (s *Sim) twinAttrs(r *http.Request) response {
	f := s.Faults()
	s.mu.RLock()
	defer s.mu.RUnlock()
	return twinList(f, r, s.tw.liveAttrs(), nil)
}

func (s *Sim) twinValues(r *http.Request) response {
	f := s.Faults()
	s.mu.RLock()
	defer s.mu.RUnlock()
	c := s.tw.byClient[r.PathValue("client")]
	if c == nil {
		return twinErr(404, "Client not found.")
	}
	return twinList(f, r, s.tw.clientValues(c), nil)
}

// twinName reads {"name": "..."} of A1 and A3.
func twinName(r *http.Request) (string, *response) {
	var body struct {
		Name *string `json:"name"`
	}
	if err := decodeBody(r, &body); err != nil {
		resp := twinDetails(400, "Invalid request body.", map[string]string{"body": err.Error()})
		return "", &resp
	}
	if body.Name == nil || strings.TrimSpace(*body.Name) == "" {
		resp := twinDetails(422, "Validation failed.", map[string]string{"name": "required"})
		return "", &resp
	}
	if len([]rune(*body.Name)) > 255 {
		resp := twinDetails(422, "Validation failed.", map[string]string{"name": "at most 255 characters"})
		return "", &resp
	}
	return *body.Name, nil
}

func (s *Sim) twinCreateAttr(r *http.Request) response {
	name, bad := twinName(r)
	if bad != nil {
		return *bad
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.tw.createAttr(name)
	s.version++
	return jsonResp(200, map[string]string{"id": a.ID})
}

func (s *Sim) twinRenameAttr(r *http.Request) response {
	name, bad := twinName(r)
	if bad != nil {
		return *bad
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.tw.attr(r.PathValue("attr"))
	if a == nil {
		return twinErr(404, "Attribute not found.")
	}
	a.a.Name = name
	s.version++
	return response{status: 200}
}

func (s *Sim) twinDeleteAttr(r *http.Request) response {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.tw.attr(r.PathValue("attr"))
	if a == nil {
		return twinErr(404, "Attribute not found.")
	}
	a.deleted = true
	for _, c := range s.tw.clients {
		delete(c.values, a.a.ID)
	}
	s.version++
	return response{status: 200}
}

// twinClientAttr resolves {client} and {attr}; callers hold s.mu.
func (s *Sim) twinClientAttr(r *http.Request) (*twinClient, *twinAttr, *response) {
	c := s.tw.byClient[r.PathValue("client")]
	if c == nil {
		resp := twinErr(404, "Client not found.")
		return nil, nil, &resp
	}
	a := s.tw.attr(r.PathValue("attr"))
	if a == nil {
		resp := twinErr(404, "Attribute not found.")
		return nil, nil, &resp
	}
	return c, a, nil
}

func (s *Sim) twinSetValue(r *http.Request) response {
	var body struct {
		Value json.RawMessage `json:"value"`
	}
	if err := decodeBody(r, &body); err != nil {
		return twinDetails(400, "Invalid request body.", map[string]string{"body": err.Error()})
	}
	var v string
	if len(body.Value) == 0 || json.Unmarshal(body.Value, &v) != nil {
		return twinDetails(422, "Validation failed.", map[string]string{"value": "required, a string"})
	}
	if len([]rune(v)) > twinMaxValue {
		return twinDetails(422, "Validation failed.", map[string]string{"value": "at most " + strconv.Itoa(twinMaxValue) + " characters"})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, a, bad := s.twinClientAttr(r)
	if bad != nil {
		return *bad
	}
	c.values[a.a.ID] = v
	s.version++
	return response{status: 200}
}

// twinMaxValue is the longest value A5 accepts [INF].
const twinMaxValue = 1000

func (s *Sim) twinClearValue(r *http.Request) response {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, a, bad := s.twinClientAttr(r)
	if bad != nil {
		return *bad
	}
	delete(c.values, a.a.ID)
	s.version++
	return response{status: 200}
}
