package simulator

import (
	"cmp"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Options configure a simulator. The zero value is usable: every field has a default.
type Options struct {
	// Seed selects the generated data set (default 1). The same seed gives
	// byte-identical responses.
	Seed int64
	// Scale multiplies every record count (default 1: Leeloo 200 people, 300 channels,
	// ~2,000 messages, 100 orders; Text Request 3 dashboards with 150 contacts each,
	// ~1,600 messages and ~100 payments in all).
	Scale int
	// LeelooToken is the accepted X-Leeloo-AuthToken (default "demo-leeloo-token").
	LeelooToken string
	// TextRequestKey is the accepted x-api-key (default "demo-textrequest-key").
	TextRequestKey string
	// CalltouchToken is the accepted Calltouch API token: clientApiId of the journals,
	// Access-Token of the lead-service (default "demo-calltouch-token").
	CalltouchToken string
	// CalltouchSiteID is the Calltouch cabinet served (default 51234).
	CalltouchSiteID int64
	// Now is the "present" of the generated data: every generated timestamp is before
	// it (default 2026-11-01T00:00:00Z, fixed so the data is deterministic).
	Now time.Time
	// TwinEmail and TwinPassword are the TWIN login accepted by POST /auth/login
	// (defaults DefaultTwinEmail, DefaultTwinPassword); TwinCompanyID is the company
	// (default DefaultTwinCompanyID).
	TwinEmail, TwinPassword string
	TwinCompanyID           int64
	// TwinTokenTTL caps the lifetime of TWIN access tokens (0 = as asked, default one
	// week), so tokens can be made to lapse within a sync.
	TwinTokenTTL time.Duration
	// TwinRefreshTTL is the lifetime of a TWIN refresh token (default 30 days).
	TwinRefreshTTL time.Duration
	// Faults are the injected faults at start; SetFaults changes them later.
	Faults Faults
}

// Faults are the switchable misbehaviours. Every one is off in the zero value.
type Faults struct {
	// Latency is added to every request (the wait ends early if the client goes away).
	Latency time.Duration
	// TextRequestRateLimit is the number of requests per RateWindow per key; past it
	// the API answers 429 with Retry-After. 0 = off. The real connector: 100 per 60 s.
	TextRequestRateLimit int
	// LeelooRateLimit is the same for Leeloo (0 = off).
	LeelooRateLimit int
	// RateWindow is the rolling window of both limits (default 60 s).
	RateWindow time.Duration
	// ErrorRate is the share of requests answered 500, 502 or 503 (drawn from a
	// deterministic sequence seeded by Options.Seed).
	ErrorRate float64
	// TruncateRate is the share of 200 answers whose JSON body is cut in the middle:
	// half of them with a matching Content-Length (complete but invalid JSON), half
	// with the full Content-Length so the client sees an unexpected EOF.
	TruncateRate float64
	// OffsetDrift inserts a new record at the front of the list being scanned before
	// answering any page after the first (Leeloo people, channels and chat messages;
	// Text Request contacts).
	OffsetDrift bool
	// DuplicateMessageIDs makes some Leeloo messages reuse the id of a message in
	// another channel.
	DuplicateMessageIDs bool
	// UnknownFields adds fields no reference documents to every record served.
	UnknownFields bool
	// NULCharacters puts U+0000 into some names and message texts.
	NULCharacters bool
	// EmptyMessageIDs serves some Text Request messages with message_id "".
	EmptyMessageIDs bool
	// OmitTimeZone serves Text Request timestamps without the trailing Z
	// ("2026-10-31T12:00:00.000"), a variant the reference allows.
	OmitTimeZone bool
	// LeelooPageCap is the largest limit served (default 100); larger requests are
	// clamped and meta.limit shows the applied value. The default limit is 20.
	LeelooPageCap int
	// TextRequestPageCap is the largest page_size served (default 500); meta.page_size
	// still echoes the request. The default page_size is 50.
	TextRequestPageCap int
	// StrictPeopleFilter makes Leeloo /people require filter[last_message] as the docs
	// say (the default is lenient, as observed by third parties).
	StrictPeopleFilter bool
	// DashboardMessagesWithoutPhone serves Text Request's dashboard-wide message list
	// (GET /dashboards/{id}/messages) with the 8 documented Message fields only, as
	// [T1]'s schema has it: no phone_number saying whose each message is.
	DashboardMessagesWithoutPhone bool
	// TwinRateLimit is TWIN's requests per RateWindow per user (0 = off; TWIN documents
	// none).
	TwinRateLimit int
	// TwinPageCap is the largest TWIN limit served (default 100); the default is 10.
	TwinPageCap int
	// TwinLostAnswerRate is the share of TWIN attribute writes (A1, A3, A4, A5, A7) that
	// are applied and then answered 502, as when the answer is lost on the way back.
	TwinLostAnswerRate float64
	// TwinTokenRequests makes a TWIN access token expire after that many requests
	// (0 = only its exp claim counts): 401 {"error": "Token is expired."}.
	TwinTokenRequests int
	// CalltouchRateLimit is Calltouch's requests per second per client IP across its
	// API; past it the API answers 429 with Retry-After. 0 = off. The real API: 5.
	CalltouchRateLimit int
	// CalltouchPageCap lowers the largest calls-journal limit served (default 1000).
	CalltouchPageCap int
	// CalltouchLostAnswerRate is the share of lead-comment requests that are processed
	// (their comments added) and then answered 502, as when the answer is lost after
	// the server acted.
	CalltouchLostAnswerRate float64
}

func (f Faults) withDefaults() Faults {
	if f.RateWindow <= 0 {
		f.RateWindow = 60 * time.Second
	}
	if f.LeelooPageCap <= 0 {
		f.LeelooPageCap = 100
	}
	if f.TextRequestPageCap <= 0 {
		f.TextRequestPageCap = 500
	}
	if f.TwinPageCap <= 0 {
		f.TwinPageCap = 100
	}
	return f
}

// The two APIs, as named in Stats.
const (
	APILeeloo      = "leeloo"
	APITextRequest = "textrequest"
	APICalltouch   = "calltouch"
)

// Sim serves the Leeloo and Text Request simulators. It is safe for concurrent use.
type Sim struct {
	opts  Options
	seed  uint64
	scale int

	// mu guards the data: the overlays written by Mutate and by offset drift. Base
	// records are pure functions of (seed, index) and need no lock.
	mu      sync.RWMutex
	now     int64 // the present in unix ms; advances with mutations
	version int   // bumped by every data change (invalidates cached views)
	ll      *leelooData
	tr      *trData
	tw      *twinData
	twTok   *twinTokens
	mutN    uint64 // mutations applied, seeds the choice of touched records
	// gone names the deleted reference-data items (kind/id) and deleted logs every
	// deletion, latest last (delete.go).
	gone    map[string]bool
	deleted []deletion

	fmu    sync.RWMutex
	faults Faults

	cmu      sync.Mutex
	cache    map[string]*view
	msgCache map[string][]msgRef
	cver     int

	st statsState

	ctLazy // Calltouch data, generated on first use
}

// New builds a simulator. Nothing is generated up front: records are derived on demand
// from (seed, index), so memory stays small at any scale.
func New(opts Options) *Sim {
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.Scale <= 0 {
		opts.Scale = 1
	}
	if opts.LeelooToken == "" {
		opts.LeelooToken = "demo-leeloo-token"
	}
	if opts.TextRequestKey == "" {
		opts.TextRequestKey = "demo-textrequest-key"
	}
	opts.TwinEmail = cmp.Or(opts.TwinEmail, DefaultTwinEmail)
	opts.TwinPassword = cmp.Or(opts.TwinPassword, DefaultTwinPassword)
	opts.TwinCompanyID = cmp.Or(opts.TwinCompanyID, DefaultTwinCompanyID)
	opts.TwinRefreshTTL = cmp.Or(opts.TwinRefreshTTL, 30*24*time.Hour)
	if opts.CalltouchToken == "" {
		opts.CalltouchToken = "demo-calltouch-token"
	}
	if opts.CalltouchSiteID == 0 {
		opts.CalltouchSiteID = ctDefaultSiteID
	}
	if opts.Now.IsZero() {
		opts.Now = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	}
	s := &Sim{
		opts:   opts,
		seed:   mix64(uint64(opts.Seed)),
		scale:  opts.Scale,
		now:    opts.Now.UnixMilli(),
		faults: opts.Faults.withDefaults(),
		cache:  map[string]*view{},
	}
	s.st.reset()
	s.ll = newLeelooData(s)
	s.tr = newTRData(s)
	s.tw = newTwinData(s)
	s.twTok = newTwinTokens(s.seed)
	return s
}

// SetFaults replaces the active faults; it takes effect with the next request.
func (s *Sim) SetFaults(f Faults) {
	s.fmu.Lock()
	s.faults = f.withDefaults()
	s.fmu.Unlock()
}

// Faults returns the active faults.
func (s *Sim) Faults() Faults {
	s.fmu.RLock()
	defer s.fmu.RUnlock()
	return s.faults
}

// Now returns the simulator's present: Options.Now, moved forward by mutations.
func (s *Sim) Now() time.Time {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return time.UnixMilli(s.now).UTC()
}

// cachedView returns the view cached under key for the current data version, or builds
// and caches it. Filtered scans are materialised once and then paged cheaply.
// Callers hold s.mu (read or write).
func (s *Sim) cachedView(key string, build func() *view) *view {
	s.cmu.Lock()
	if s.cver != s.version || len(s.cache) > 256 {
		clear(s.cache)
		s.msgCache = nil
		s.cver = s.version
	}
	v, ok := s.cache[key]
	s.cmu.Unlock()
	if ok {
		return v
	}
	v = build()
	if v.refs == nil {
		return v // arithmetic views are cheap to rebuild
	}
	s.cmu.Lock()
	if s.cver == s.version {
		s.cache[key] = v
	}
	s.cmu.Unlock()
	return v
}

// response is what an endpoint returns; the middleware writes it (and may truncate it).
type response struct {
	status int
	body   []byte
	header map[string]string
	// cookies are Set-Cookie values (TWIN's login sets the tokens as cookies too).
	cookies []string
}

func jsonResp(status int, v any) response {
	b, err := json.Marshal(v)
	if err != nil {
		return response{status: 500, body: []byte(`{"status":0,"error":{"code":"INTERNAL_ERROR"}}`)}
	}
	return response{status: status, body: b}
}

// Handler serves both APIs: /api/v1/... and /api/v2/... (Leeloo) and /api/v3/...
// (Text Request).
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	s.leelooRoutes(mux)
	s.trRoutes(mux)
	s.twinRoutes(mux)
	s.ctRoutes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"status":0,"error":{"code":"NOT_FOUND"}}`))
	})
	return mux
}

// endpoint wraps one route: stats, latency, method check, auth, rate limit, injected
// errors, then the handler, then truncation.
func (s *Sim) endpoint(api, route string, h func(r *http.Request) response) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := s.Faults()
		if !waitLatency(r, f.Latency) {
			return
		}
		resp := s.serve(api, route, f, r, h)
		s.st.record(api, route, resp.status)
		s.write(w, f, resp)
	})
}

func (s *Sim) serve(api, route string, f Faults, r *http.Request, h func(*http.Request) response) response {
	if !isTwin(api) && r.Method != http.MethodGet && r.Method != http.MethodHead {
		return s.errorResp(api, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "only GET is simulated")
	}
	key, authResp, ok := s.auth(api, r)
	if !ok {
		return authResp
	}
	limit := f.TextRequestRateLimit
	if api == APILeeloo {
		limit = f.LeelooRateLimit
	}
	if isTwin(api) {
		limit = f.TwinRateLimit
	}
	if wait, ok := s.st.admit(api, key, limit, f.RateWindow, time.Now()); !ok {
		secs := int((wait + time.Second - 1) / time.Second)
		secs = max(secs, 1)
		resp := s.errorResp(api, http.StatusTooManyRequests, "RATE_LIMITED", "too many requests")
		resp.header = map[string]string{"Retry-After": strconv.Itoa(secs)}
		return resp
	}
	if resp, ok := s.injectedError(api, f); ok {
		return resp
	}
	return h(r)
}

// injectedError draws whether this request gets an injected 500, 502 or 503
// (Faults.ErrorRate).
func (s *Sim) injectedError(api string, f Faults) (response, bool) {
	if f.ErrorRate > 0 {
		n := s.st.nextFaultN()
		u := hash3(s.seed, kindFault, 1, n)
		if float64(u>>11)/float64(1<<53) < f.ErrorRate {
			switch u % 3 {
			case 0:
				return s.errorResp(api, http.StatusInternalServerError, "INTERNAL_ERROR", "internal server error"), true
			case 1:
				return response{status: http.StatusBadGateway, body: []byte("<html><body><h1>502 Bad Gateway</h1></body></html>"),
					header: map[string]string{"Content-Type": "text/html"}}, true
			default:
				resp := s.errorResp(api, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", "service unavailable")
				resp.header = map[string]string{"Retry-After": "1"}
				return resp, true
			}
		}
	}
	return response{}, false
}

// waitLatency waits d (Faults.Latency) before a request is served; false when the
// client went away meanwhile.
func waitLatency(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// write sends resp, cutting the body of some 200 answers when TruncateRate says so.
func (s *Sim) write(w http.ResponseWriter, f Faults, resp response) {
	hd := w.Header()
	hd.Set("Content-Type", "application/json; charset=utf-8")
	for k, v := range resp.header {
		hd.Set(k, v)
	}
	for _, c := range resp.cookies {
		hd.Add("Set-Cookie", c)
	}
	body := resp.body
	if resp.status == http.StatusNoContent {
		w.WriteHeader(resp.status)
		return
	}
	if resp.status == http.StatusOK && f.TruncateRate > 0 && len(body) > 1 {
		n := s.st.nextFaultN()
		u := hash3(s.seed, kindFault, 2, n)
		if float64(u>>11)/float64(1<<53) < f.TruncateRate {
			cut := body[:len(body)/2]
			if u%2 == 0 {
				// Complete but invalid JSON.
				hd.Set("Content-Length", strconv.Itoa(len(cut)))
			} else {
				// Promise the full body, send half: net/http closes the connection
				// after the handler, so the client reads an unexpected EOF.
				hd.Set("Content-Length", strconv.Itoa(len(body)))
			}
			w.WriteHeader(resp.status)
			_, _ = w.Write(cut)
			s.st.addTruncated()
			return
		}
	}
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(resp.status)
	_, _ = w.Write(body)
}

// errorResp builds an error in the API's own error shape.
func (s *Sim) errorResp(api string, status int, code, msg string) response {
	if isTwin(api) {
		return twinErr(status, msg)
	}
	if api == APILeeloo {
		return jsonResp(status, map[string]any{"status": 0, "error": map[string]any{"code": code}})
	}
	if api == APICalltouch {
		return ctMessage(status, msg)
	}
	return jsonResp(status, trError{Status: status, Message: msg, ErrorCode: code})
}

// trError is the Text Request error body ([T1]/[T2] in textrequest-api.md §3).
type trError struct {
	Status    int    `json:"status"`
	Message   string `json:"message"`
	ErrorCode string `json:"errorCode"`
}

// auth checks the API's credential and returns the key to rate-limit by.
func (s *Sim) auth(api string, r *http.Request) (string, response, bool) {
	if isTwin(api) {
		return s.twinAuth(api, r)
	}
	if api == APILeeloo {
		tok := r.Header.Get("X-Leeloo-AuthToken")
		if tok == "" {
			tok = r.URL.Query().Get("authToken")
		}
		if tok == "" {
			// The body a third-party client reports for a request without the token
			// (leeloo-api.md §2); the HTTP status is unknown, we use 400 [INF].
			return "", jsonResp(http.StatusBadRequest, map[string]any{"status": 0,
				"error": map[string]any{"fields": map[string]string{"authToken": "REQUIRED"}, "code": "FORMAT_ERROR"}}), false
		}
		if tok != s.opts.LeelooToken {
			// 401 and the code are invented (leeloo-api.md §2) [INF].
			return "", s.errorResp(api, http.StatusUnauthorized, "UNAUTHORIZED", ""), false
		}
		return tok, response{}, true
	}
	key := r.Header.Get("X-Api-Key") // Header.Get is case-insensitive
	if key == "" {
		return "", jsonResp(http.StatusUnauthorized, trError{Status: 401, Message: "API key is missing", ErrorCode: "UNAUTHORIZED"}), false
	}
	if key != s.opts.TextRequestKey {
		return "", jsonResp(http.StatusUnauthorized, trError{Status: 401, Message: "API key is invalid", ErrorCode: "UNAUTHORIZED"}), false
	}
	return key, response{}, true
}

// withUnknown adds an undocumented field to a marshalled JSON object when
// Faults.UnknownFields is on.
func withUnknown(f Faults, b []byte) []byte {
	if !f.UnknownFields || len(b) < 2 || b[0] != '{' {
		return b
	}
	const extra = `"x_sim_unknown":{"note":"field not in any reference","n":1},`
	out := make([]byte, 0, len(b)+len(extra))
	out = append(out, '{')
	if b[1] == '}' {
		out = append(out, extra[:len(extra)-1]...)
	} else {
		out = append(out, extra...)
	}
	return append(out, b[1:]...)
}

// marshalItems marshals each record (adding unknown fields when asked) into a JSON array.
func marshalItems[T any](f Faults, items []T) json.RawMessage {
	b := []byte{'['}
	for i := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, marshalOne(f, items[i])...)
	}
	return append(b, ']')
}

func marshalOne(f Faults, v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return withUnknown(f, b)
}
