package simulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Calltouch routes (calltouch-api.md §4.1, §4.2, §5.1).
const (
	ctCallsRoute    = "GET /calls-service/RestAPI/{siteId}/calls-diary/calls"
	ctRequestsRoute = "GET /calls-service/RestAPI/requests"
	ctCommentRoute  = "POST /lead-service/v1/api/comment/lead/add"
)

// Calltouch journal limits.
const (
	ctMaxLimit      = 1000 // largest page served (limit is clamped to it)
	ctDefaultLimit  = 100  // limit when only page is given
	ctMaxWindowDays = 92   // days a journal window may span, both ends included
	ctMaxLeads      = 100
	ctMaxRules      = 20
	ctMaxDepth      = 525600
)

func (s *Sim) ctRoutes(mux *http.ServeMux) {
	mux.Handle(ctCallsRoute, s.ctEndpoint(ctCallsRoute, s.ctAuthQuery, s.ctCalls))
	mux.Handle(ctRequestsRoute, s.ctEndpoint(ctRequestsRoute, s.ctAuthQuery, s.ctRequests))
	mux.Handle(ctCommentRoute, s.ctEndpoint(ctCommentRoute, s.ctAuthHeaders, s.ctComment))
	unknown := func(*http.Request) response { return ctMessage(http.StatusNotFound, "Not Found") }
	mux.Handle("/calls-service/", s.ctEndpoint("/calls-service/ (unknown)", s.ctAuthQuery, unknown))
	mux.Handle("/lead-service/", s.ctEndpoint("/lead-service/ (unknown)", s.ctAuthHeaders, unknown))
}

// ctEndpoint wraps a Calltouch route: stats, latency, auth, the per-IP rate limit,
// injected errors, the handler, truncation. The method is checked by the mux pattern.
func (s *Sim) ctEndpoint(route string, auth func(*http.Request) (response, bool), h func(*http.Request) response) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := s.Faults()
		if !waitLatency(r, f.Latency) {
			return
		}
		resp := func() response {
			if resp, ok := auth(r); !ok {
				return resp
			}
			// Calltouch limits requests per source IP across the whole API.
			ip, _, _ := net.SplitHostPort(r.RemoteAddr)
			if wait, ok := s.st.admit(APICalltouch, "ip:"+ip, f.CalltouchRateLimit, time.Second, time.Now()); !ok {
				resp := ctMessage(http.StatusTooManyRequests, "Too many requests")
				resp.header = map[string]string{"Retry-After": strconv.Itoa(max(1, int((wait+time.Second-1)/time.Second)))}
				return resp
			}
			if resp, ok := s.injectedError(APICalltouch, f); ok {
				return resp
			}
			return h(r)
		}()
		s.st.record(APICalltouch, route, resp.status)
		s.write(w, f, resp)
	})
}

// ctMessage is the error body Calltouch uses for auth failures ({"message": ...}); the
// simulator uses it for every journal error too.
func ctMessage(status int, msg string) response {
	return jsonResp(status, map[string]string{"message": msg})
}

// ctAuthQuery checks clientApiId (the journals carry the token in the query).
func (s *Sim) ctAuthQuery(r *http.Request) (response, bool) {
	if r.URL.Query().Get("clientApiId") != s.opts.CalltouchToken {
		return ctMessage(http.StatusUnauthorized, "Access token не найден"), false
	}
	return response{}, true
}

// ctAuthHeaders checks Access-Token and SiteId (the lead-service).
func (s *Sim) ctAuthHeaders(r *http.Request) (response, bool) {
	if r.Header.Get("Access-Token") != s.opts.CalltouchToken {
		return ctMessage(http.StatusUnauthorized, "Access token не найден"), false
	}
	if r.Header.Get("SiteId") != strconv.FormatInt(s.opts.CalltouchSiteID, 10) {
		return jsonResp(http.StatusForbidden, map[string]any{"meta": []any{}, "data": map[string]string{"message": "Ошибка доступа"}}), false
	}
	return response{}, true
}

// ctWindow reads dateFrom/dateTo in layout and returns [from, to) in cabinet time.
func ctWindow(r *http.Request, layout, human string) (from, to time.Time, bad *response) {
	q := r.URL.Query()
	parse := func(name string) (time.Time, bool) {
		v := q.Get(name)
		t, err := time.ParseInLocation(layout, v, calltouchZone)
		if err != nil || len(v) != len(layout) {
			resp := ctMessage(http.StatusBadRequest, fmt.Sprintf("Parameter %s must be a date in format %s, got %q", name, human, v))
			bad = &resp
			return time.Time{}, false
		}
		return t, true
	}
	from, ok := parse("dateFrom")
	if !ok {
		return
	}
	if to, ok = parse("dateTo"); !ok {
		return
	}
	if to.Before(from) {
		resp := ctMessage(http.StatusBadRequest, "dateFrom must not be after dateTo")
		return from, to, &resp
	}
	if to.Sub(from) >= ctMaxWindowDays*24*time.Hour {
		resp := ctMessage(http.StatusBadRequest, fmt.Sprintf("The period must not exceed %d days", ctMaxWindowDays))
		return from, to, &resp
	}
	return from, to.AddDate(0, 0, 1), nil
}

func ctFlag(r *http.Request, name string) bool {
	return strings.EqualFold(r.URL.Query().Get(name), "true")
}

// ctCalls serves the calls journal.
func (s *Sim) ctCalls(r *http.Request) response {
	if r.PathValue("siteId") != strconv.FormatInt(s.opts.CalltouchSiteID, 10) {
		return ctMessage(http.StatusForbidden, "Ошибка доступа")
	}
	from, to, bad := ctWindow(r, "02/01/2006", "dd/mm/yyyy")
	if bad != nil {
		return *bad
	}
	q := r.URL.Query()
	paged := q.Has("page") || q.Has("limit")
	if !paged && to.Sub(from) > 24*time.Hour {
		return ctMessage(http.StatusBadRequest, "dateFrom and dateTo must be the same day unless page and limit are given")
	}
	page, limit := 1, ctDefaultLimit
	for name, dst := range map[string]*int{"page": &page, "limit": &limit} {
		if v := q.Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return ctMessage(http.StatusBadRequest, fmt.Sprintf("Parameter %s must be a positive integer, got %q", name, v))
			}
			*dst = n
		}
	}
	limit = min(limit, ctMaxLimit)
	if c := s.Faults().CalltouchPageCap; c > 0 {
		limit = min(limit, c)
	}
	en := ctEnrich{tags: ctFlag(r, "withCallTags"), comments: ctFlag(r, "withComments"), orders: ctFlag(r, "withOrders")}
	f := s.Faults()
	s.mu.RLock()
	d := s.calltouch()
	var sel []*ctCall
	lo, _ := slices.BinarySearchFunc(d.calls, from, func(c *ctCall, t time.Time) int { return c.Date.Compare(t) })
	for _, c := range d.calls[lo:] {
		if !c.Date.Before(to) {
			break
		}
		if !c.deleted {
			sel = append(sel, c)
		}
	}
	total := len(sel)
	if paged {
		start := min((page-1)*limit, total)
		sel = sel[start:min(start+limit, total)]
	}
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, c := range sel {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(withUnknown(f, mustJSON(c.wire(en, f))))
	}
	buf.WriteByte(']')
	s.mu.RUnlock()
	if !paged {
		return response{status: http.StatusOK, body: buf.Bytes()}
	}
	pageTotal := int(math.Ceil(float64(total) / float64(limit)))
	body := fmt.Sprintf(`{"page":%d,"pageTotal":%d,"pageSize":%d,"recordsTotal":%d,"records":%s}`, page, pageTotal, limit, total, buf.Bytes())
	return response{status: http.StatusOK, body: []byte(body)}
}

// ctRequests serves the requests journal: a bare array, page and limit ignored.
func (s *Sim) ctRequests(r *http.Request) response {
	q := r.URL.Query()
	if site := q.Get("siteId"); site == "" {
		return ctMessage(http.StatusBadRequest, "Parameter siteId is required")
	} else if site != strconv.FormatInt(s.opts.CalltouchSiteID, 10) {
		return ctMessage(http.StatusForbidden, "Ошибка доступа")
	}
	from, to, bad := ctWindow(r, "01/02/2006", "mm/dd/yyyy")
	if bad != nil {
		return *bad
	}
	clock := func(name string, def time.Duration) (time.Duration, bool) {
		v := q.Get(name)
		if v == "" {
			return def, true
		}
		t, err := time.Parse("15:04:05", v)
		if err != nil {
			return 0, false
		}
		return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second, true
	}
	tFrom, ok1 := clock("timeFrom", 0)
	tTo, ok2 := clock("timeTo", 24*time.Hour)
	if !ok1 || !ok2 {
		return ctMessage(http.StatusBadRequest, "timeFrom and timeTo must be hh:mm:ss")
	}
	en := ctEnrich{tags: ctFlag(r, "withRequestTags")}
	f := s.Faults()
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.calltouch()
	var buf bytes.Buffer
	buf.WriteByte('[')
	n := 0
	for _, rq := range d.requests {
		if rq.Date.Before(from) || !rq.Date.Before(to) {
			continue
		}
		local := rq.Date.In(calltouchZone)
		tod := time.Duration(local.Hour())*time.Hour + time.Duration(local.Minute())*time.Minute + time.Duration(local.Second())*time.Second
		if tod < tFrom || tod > tTo {
			continue
		}
		if n > 0 {
			buf.WriteByte(',')
		}
		n++
		buf.Write(withUnknown(f, mustJSON(rq.wire(en, f))))
	}
	buf.WriteByte(']')
	return response{status: http.StatusOK, body: buf.Bytes()}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // the wire maps hold only encodable values
	}
	return b
}

// ctEnrich says which optional lists a journal request asked for.
type ctEnrich struct{ tags, comments, orders bool }

// ctBool and ctNum serve a value in the record's travel style.
func ctBool(v, asText bool) any {
	if !asText {
		return v
	}
	if v {
		return "True"
	}
	return "False"
}

func ctNum(v int64, asText bool) any {
	if asText {
		return strconv.FormatInt(v, 10)
	}
	return v
}

func ctNUL(f Faults, s *string, id int64) *string {
	if s == nil || !f.NULCharacters || id%9 != 4 {
		return s
	}
	return ptr(insertNUL(*s))
}

// wire is the call as served.
func (c *ctCall) wire(en ctEnrich, f Faults) map[string]any {
	m := map[string]any{
		"callId": ctNum(c.CallID, c.numsAsText), "callphase": "calldisconnected", "attribution": 1,
		"date": ctFormatTime(c.Date), "duration": ctNum(int64(c.Duration), c.numsAsText),
		"waitingConnect": ctNum(int64(c.WaitingConnect), c.numsAsText),
		"callerNumber":   c.CallerNumber, "phoneNumber": c.PhoneNumber, "redirectNumber": c.RedirectNumber,
		"manager": ctNUL(f, c.Manager, c.CallID), "successful": ctBool(c.Successful, c.boolsAsText),
		"uniqueCall": ctBool(c.UniqueCall, c.boolsAsText), "targetCall": ctBool(c.TargetCall, c.boolsAsText),
		"uniqTargetCall": ctBool(c.UniqTargetCall, c.boolsAsText), "callbackCall": ctBool(c.CallbackCall, c.boolsAsText),
		"city": c.City, "source": c.Source, "medium": c.Medium, "keyword": c.Keyword, "url": c.URL,
		"callUrl": c.URL, "ref": c.Ref, "hostname": c.Hostname,
		"utmSource": c.UTMSource, "utmMedium": c.UTMMedium, "utmCampaign": c.UTMCampaign,
		"utmContent": c.UTMContent, "utmTerm": c.UTMTerm,
		"sessionId": ctNum(c.SessionID, c.numsAsText), "ctCallerId": "cc" + strconv.FormatInt(c.CallID, 36),
		"clientId": c.ClientID, "yaClientId": c.YaClientID, "ctClientId": c.CTClientID, "ctGlobalId": nil,
		"sipCallId": c.SipCallID, "callReferenceId": c.CallReferenceID,
		"subPoolName": c.SubPoolName, "statusDetails": ctStatus(c.Successful),
	}
	if en.tags {
		m["callTags"] = c.Tags
	}
	if en.comments {
		cs := make([]map[string]any, len(c.Comments))
		for i, cm := range c.Comments {
			cs[i] = map[string]any{"commentId": cm.CommentID, "comment": cm.Comment, "partyName": cm.PartyName, "date": ctFormatTime(cm.Date)}
		}
		m["comments"] = cs
	}
	if en.orders {
		m["orders"] = c.Orders
	}
	return m
}

func ctStatus(ok bool) string {
	if ok {
		return "Успешный звонок"
	}
	return "Не дозвонился"
}

// wire is the request as served.
func (q *ctRequest) wire(en ctEnrich, f Faults) map[string]any {
	contacts := make([]map[string]string, len(q.Emails))
	for i, e := range q.Emails {
		contacts[i] = map[string]string{"contactType": "email", "contactValue": e}
	}
	comments := make([]map[string]any, len(q.Comments))
	for i, c := range q.Comments {
		comments[i] = map[string]any{"commentId": c.CommentID, "requestId": q.RequestID, "comment": c.Comment,
			"partyId": 1000 + c.CommentID%7, "partyName": c.PartyName}
	}
	m := map[string]any{
		"requestId": ctNum(q.RequestID, q.numsAsText), "requestNumber": q.RequestNumber,
		"date": ctNum(q.Date.UnixMilli(), q.numsAsText), "dateStr": ctFormatTime(q.Date), "subject": q.Subject,
		"uniqueRequest": ctBool(q.UniqueRequest, q.boolsAsText), "targetRequest": ctBool(q.TargetRequest, q.boolsAsText),
		"uniqTargetRequest": ctBool(q.UniqTargetRequest, q.boolsAsText), "manager": ctNUL(f, q.Manager, q.RequestID),
		"client":     map[string]any{"clientId": q.ClientID, "fio": q.FIO, "phones": q.Phones, "contacts": contacts},
		"session":    q.Session,
		"comments":   comments,
		"orders":     []any{},
		"ctClientId": q.CTClientID, "ctGlobalId": nil,
	}
	if en.tags {
		m["RequestTags"] = q.Tags
	}
	return m
}
