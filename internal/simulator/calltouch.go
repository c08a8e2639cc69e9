package simulator

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Calltouch records, as calltouch-api.md §4.1/§4.2 lists their fields. These are the
// values; how they travel (a boolean as "True", a number as a string, which enrichment
// lists are present) is decided when a record is served, see ctCall.wire.

// CTCall is one call of the calls journal.
type CTCall struct {
	CallID          int64
	Date            time.Time // start of the call (served as dd/mm/yyyy hh:mm:ss, cabinet time)
	Duration        int       // seconds
	WaitingConnect  int       // seconds
	CallerNumber    string    // as served: formats vary, "" for an anonymous caller
	PhoneNumber     string    // the tracking number dialled
	RedirectNumber  string
	Successful      bool
	UniqueCall      bool
	TargetCall      bool
	UniqTargetCall  bool
	CallbackCall    bool
	Manager         *string
	City            string
	Source          string
	Medium          string
	Keyword         *string
	URL             string
	Ref             *string
	Hostname        string
	UTMSource       *string
	UTMMedium       *string
	UTMCampaign     *string
	UTMContent      *string
	UTMTerm         *string
	SessionID       int64
	CTClientID      string
	ClientID        *string // Google Analytics client id
	YaClientID      *string
	SipCallID       *string
	CallReferenceID *string
	SubPoolName     string
	Tags            []CTTag     // served with withCallTags=true
	Comments        []CTComment // served with withComments=true
	Orders          []CTOrder   // served with withOrders=true
}

// CTTag is one entry of callTags / RequestTags: a category of tags and their names.
type CTTag struct {
	Category string   `json:"category"`
	Type     string   `json:"type"`
	Names    []string `json:"names"`
}

// CTComment is a comment on a call or a request (the lead-comment API adds them too).
type CTComment struct {
	CommentID int64  `json:"commentId"`
	Comment   string `json:"comment"`
	PartyName string `json:"partyName"`
	// Date is served as dd/mm/yyyy hh:mm:ss (cabinet time) on calls; requests serve
	// requestId and partyId instead.
	Date time.Time `json:"-"`
}

// CTOrder is a deal linked to a call.
type CTOrder struct {
	OrderID         int64    `json:"orderId"`
	OrderNumber     string   `json:"orderNumber"`
	OrderDate       string   `json:"orderDate"`
	CreatedDate     string   `json:"createdDate"`
	CompletedDate   *string  `json:"completedDate"`
	PlannedAmount   float64  `json:"plannedAmount"`
	CompletedAmount *float64 `json:"completedAmount"`
}

// CTRequest is one request (lead, "заявка") of the requests journal.
type CTRequest struct {
	RequestID         int64
	RequestNumber     string
	Date              time.Time // served as unix ms (date) and dd/mm/yyyy hh:mm:ss (dateStr)
	Subject           string
	UniqueRequest     bool
	TargetRequest     bool
	UniqTargetRequest bool
	Manager           *string
	ClientID          int64
	FIO               string
	Phones            []CTPhone
	Emails            []string // served as client.contacts with contactType "email"
	Session           CTSession
	Comments          []CTComment
	Tags              []CTTag // served as RequestTags with withRequestTags=true
	CTClientID        string
}

// CTPhone is one phone of a request's client.
type CTPhone struct {
	PhoneNumber string `json:"phoneNumber"`
	PhoneType   string `json:"phoneType"`
}

// CTSession is the visit a request came from.
type CTSession struct {
	SessionID   int64   `json:"sessionId"`
	Source      string  `json:"source"`
	Medium      string  `json:"medium"`
	UTMSource   *string `json:"utmSource"`
	UTMMedium   *string `json:"utmMedium"`
	UTMCampaign *string `json:"utmCampaign"`
	UTMContent  *string `json:"utmContent"`
	UTMTerm     *string `json:"utmTerm"`
	Keywords    *string `json:"keywords"`
	City        string  `json:"city"`
	IP          string  `json:"ip"`
	Ref         *string `json:"ref"`
	URL         string  `json:"url"`
	GuaClientID *string `json:"guaClientId"`
	YaClientID  *string `json:"yaClientId"`
	Attribution int     `json:"attribution"`
}

// CalltouchTruth is the Calltouch data as the journals serve it now (every enrichment
// included), calls and requests in journal order (oldest first).
type CalltouchTruth struct {
	SiteID   int64
	Calls    []CTCall
	Requests []CTRequest
	// DeletedCalls are the ids of calls removed by Mutate (no longer served).
	DeletedCalls []int64
}

// CalltouchLead names a lead the lead-comment API commented: Kind is "call" or "request".
type CalltouchLead struct {
	Kind string
	ID   int64
}

// calltouchZone is the cabinet's time zone: journal dates are its wall clock (Moscow,
// UTC+3, no DST since 2014).
var calltouchZone = time.FixedZone("MSK", 3*3600)

// Hash domains of the Calltouch generators.
const (
	kindCTDay     = 0x41
	kindCTCall    = 0x42
	kindCTRequest = 0x43
	kindCTClient  = 0x44
	kindCTFault   = 0x45
)

const (
	ctHistoryDays   = 180       // days of history before Options.Now
	ctFirstCallID   = 400000000 // call ids grow with time from here
	ctFirstReqID    = 70000000
	ctRecentEdits   = 7 * 24 * time.Hour // Mutate edits and deletes calls this recent
	ctClientsPerSc  = 250                // distinct callers per scale unit
	ctDefaultSiteID = 51234
)

// ctData is the Calltouch data set. It is generated on first use (a simulator used only
// for Leeloo or Text Request pays nothing) and lives under Sim.mu like the others.
type ctData struct {
	calls    []*ctCall // oldest first (append keeps the order: new calls are the newest)
	requests []*ctRequest
	callByID map[int64]*ctCall
	reqByID  map[int64]*ctRequest
	deleted  []int64
	// comments are those the lead-comment API added, per lead, in order.
	comments  map[CalltouchLead][]string
	nextID    int64 // next comment / order id
	nextCall  int64
	nextReq   int64
	clients   []ctClient
	mutations uint64
}

// ctCall is a call plus how it travels.
type ctCall struct {
	CTCall
	deleted     bool
	boolsAsText bool // "True"/"False" instead of true/false
	numsAsText  bool // callId, duration, waitingConnect and sessionId as strings
}

type ctRequest struct {
	CTRequest
	boolsAsText bool
	numsAsText  bool
}

// ctClient is a caller: the same people call and fill in forms again.
type ctClient struct {
	digits string // 11 digits, 7XXXXXXXXXX (or a foreign number)
	fio    string
	email  string
}

var (
	ctCities    = []string{"Москва", "Санкт-Петербург", "Казань", "Новосибирск", "Екатеринбург", "Нижний Новгород", "Краснодар", "Минск"}
	ctManagers  = []string{"Иван Петров", "Мария Соколова", "Алексей Смирнов", "Ольга Кузнецова", "Дмитрий Волков"}
	ctSubjects  = []string{"Заявка с сайта", "Обратный звонок", "Форма «Рассчитать стоимость»", "Онлайн-чат", "Заказ консультации"}
	ctComments  = []string{"Клиент просил перезвонить после 18:00", "Интересуется доставкой в регионы", "Не дозвонились", "Уточнить скидку", "Оформил заказ"}
	ctTagNames  = []string{"Целевой", "Спам", "Повторный", "Продажа", "Консультация", "Жалоба"}
	ctKeywords  = []string{"купить диван", "диван недорого москва", "мебель от производителя", "угловой диван"}
	ctSubPools  = []string{"Яндекс Директ", "Google Ads", "SEO", "Офлайн"}
	ctTracking  = []string{"74951234567", "74957654321", "78122223344", "78005553535"}
	ctHostnames = []string{"mebel-example.ru", "shop.mebel-example.ru"}
)

// ctSources are the (source, medium, utm) triples calls and visits come from.
var ctSources = []struct{ source, medium, utmSource, utmMedium, utmCampaign string }{
	{"yandex", "cpc", "yandex", "cpc", "divany_moskva"},
	{"google", "cpc", "google", "cpc", "brand"},
	{"yandex", "organic", "", "", ""},
	{"(direct)", "(none)", "", "", ""},
	{"vk.com", "referral", "vk", "social", "vesna_2026"},
}

// calltouch returns the Calltouch data, generating it on first use. Callers hold s.mu
// (read or write); generation is guarded by its own once.
func (s *Sim) calltouch() *ctData {
	s.ctOnce.Do(func() { s.ct = s.genCalltouch() })
	return s.ct
}

// genCalltouch builds ctHistoryDays of calls (4–12 a day per scale unit) and requests
// (1–4 a day per scale unit) before Options.Now, oldest first.
func (s *Sim) genCalltouch() *ctData {
	d := &ctData{callByID: map[int64]*ctCall{}, reqByID: map[int64]*ctRequest{}, comments: map[CalltouchLead][]string{},
		nextCall: ctFirstCallID, nextReq: ctFirstReqID, nextID: 9000000}
	for i := range ctClientsPerSc * s.scale {
		d.clients = append(d.clients, s.ctClient(i))
	}
	end := s.opts.Now.UnixMilli()
	start := s.opts.Now.Add(-ctHistoryDays * 24 * time.Hour).UnixMilli()
	dayMS := (24 * time.Hour).Milliseconds()
	for day := int64(0); day < ctHistoryDays; day++ {
		r := newRnd(s.seed, kindCTDay, uint64(day), 0)
		var calls, reqs []int64
		for range s.scale * (4 + r.intn(9)) {
			calls = append(calls, start+day*dayMS+r.ms(0, 24*time.Hour))
		}
		for range s.scale * (1 + r.intn(4)) {
			reqs = append(reqs, start+day*dayMS+r.ms(0, 24*time.Hour))
		}
		slices.Sort(calls)
		slices.Sort(reqs)
		for _, t := range calls {
			if t < end {
				d.addCall(s.genCall(d, t, newRnd(s.seed, kindCTCall, uint64(d.nextCall), 0)))
			}
		}
		for _, t := range reqs {
			if t < end {
				d.addRequest(s.genRequest(d, t, newRnd(s.seed, kindCTRequest, uint64(d.nextReq), 0)))
			}
		}
	}
	return d
}

// ctClient is caller i. Most are Russian mobiles; some are Moscow landlines, Belarusian
// or Ukrainian numbers.
func (s *Sim) ctClient(i int) ctClient {
	r := newRnd(s.seed, kindCTClient, uint64(i), 0)
	var dg string
	switch r.intn(20) {
	case 0:
		dg = fmt.Sprintf("37529%07d", r.intn(10000000))
	case 1:
		dg = fmt.Sprintf("38067%07d", r.intn(10000000))
	case 2, 3:
		dg = fmt.Sprintf("7495%07d", r.intn(10000000))
	default:
		dg = fmt.Sprintf("79%02d%07d", 10+r.intn(90), r.intn(10000000))
	}
	f, l := r.pick(firstNames[10:15]), r.pick(lastNames[7:11])
	return ctClient{digits: dg, fio: l + " " + f, email: fmt.Sprintf("%s%d@%s", r.pick(emailUsers), i, r.pick(emailDomains))}
}

// ctFormat writes an 11-digit number the way people and PBXs write it: plain, with +,
// with the Russian trunk prefix 8, or with spaces, brackets and dashes.
func ctFormat(dg string, style int) string {
	if len(dg) != 11 {
		return "+" + dg
	}
	switch style % 6 {
	case 0:
		return dg
	case 1:
		return "+" + dg
	case 2:
		if dg[0] == '7' {
			return "8" + dg[1:]
		}
		return dg
	case 3:
		return fmt.Sprintf("+%s (%s) %s-%s-%s", dg[:1], dg[1:4], dg[4:7], dg[7:9], dg[9:])
	case 4:
		return fmt.Sprintf("8 (%s) %s-%s-%s", dg[1:4], dg[4:7], dg[7:9], dg[9:])
	default:
		return fmt.Sprintf("+%s %s %s %s %s", dg[:1], dg[1:4], dg[4:7], dg[7:9], dg[9:])
	}
}

func (s *Sim) genCall(d *ctData, tms int64, r *rnd) *ctCall {
	cl := d.clients[r.intn(len(d.clients))]
	src := ctSources[r.intn(len(ctSources))]
	c := &ctCall{boolsAsText: r.chance(0.15), numsAsText: r.chance(0.15)}
	c.CallID = d.nextCall
	d.nextCall += 1 + int64(r.intn(3))
	c.Date = time.UnixMilli(tms / 1000 * 1000).UTC()
	c.Successful = r.chance(0.8)
	if c.Successful {
		c.Duration = 15 + r.intn(600)
	}
	c.WaitingConnect = 2 + r.intn(25)
	if r.chance(0.03) {
		c.CallerNumber = "" // anonymous caller
	} else {
		c.CallerNumber = ctFormat(cl.digits, r.intn(6))
	}
	c.PhoneNumber = r.pick(ctTracking)
	c.RedirectNumber = "7495" + strconv.Itoa(1000000+r.intn(8999999))
	c.UniqueCall = r.chance(0.6)
	c.TargetCall = c.Successful && c.Duration > 60
	c.UniqTargetCall = c.UniqueCall && c.TargetCall
	c.CallbackCall = r.chance(0.1)
	if r.chance(0.7) {
		c.Manager = ptr(r.pick(ctManagers))
	}
	c.City = r.pick(ctCities)
	c.Source, c.Medium = src.source, src.medium
	if src.medium == "cpc" {
		c.Keyword = ptr(r.pick(ctKeywords))
		c.UTMSource, c.UTMMedium, c.UTMCampaign = ptr(src.utmSource), ptr(src.utmMedium), ptr(src.utmCampaign)
		c.UTMContent = ptr("ad" + strconv.Itoa(r.intn(40)))
		c.UTMTerm = c.Keyword
	} else if src.utmSource != "" {
		c.UTMSource, c.UTMMedium, c.UTMCampaign = ptr(src.utmSource), ptr(src.utmMedium), ptr(src.utmCampaign)
	}
	c.Hostname = r.pick(ctHostnames)
	c.URL = "https://" + c.Hostname + "/catalog/divany?page=" + strconv.Itoa(1+r.intn(5))
	if src.medium != "(none)" {
		c.Ref = ptr("https://" + src.source + "/")
	}
	c.SessionID = 1500000000 + c.CallID*3
	c.CTClientID = fmt.Sprintf("ct%016x", hash3(s.seed, kindCTClient, uint64(c.CallID), 1))
	if r.chance(0.7) {
		c.ClientID = ptr(fmt.Sprintf("%d.%d", 100000000+r.intn(899999999), tms/1000))
	}
	if r.chance(0.6) {
		c.YaClientID = ptr(strconv.FormatInt(tms/1000, 10) + strconv.Itoa(100000+r.intn(899999)))
	}
	if r.chance(0.5) {
		c.SipCallID = ptr(fmt.Sprintf("%08x@pbx.example.ru", r.u()&0xffffffff))
	}
	if r.chance(0.2) {
		c.CallReferenceID = ptr("imp-" + strconv.FormatInt(c.CallID, 10))
	}
	c.SubPoolName = r.pick(ctSubPools)
	c.Tags = []CTTag{}
	if r.chance(0.4) {
		c.Tags = append(c.Tags, CTTag{Category: "Теги", Type: "manual", Names: []string{r.pick(ctTagNames)}})
	}
	c.Comments = []CTComment{}
	if r.chance(0.2) {
		c.Comments = append(c.Comments, CTComment{CommentID: d.newID(), Comment: r.pick(ctComments), PartyName: c.managerName(), Date: c.Date.Add(10 * time.Minute)})
	}
	c.Orders = []CTOrder{}
	if c.TargetCall && r.chance(0.3) {
		c.Orders = append(c.Orders, d.newOrder(c.Date, r))
	}
	return c
}

func (c *CTCall) managerName() string {
	if c.Manager != nil {
		return *c.Manager
	}
	return "Администратор"
}

func (d *ctData) newID() int64 {
	d.nextID++
	return d.nextID
}

func (d *ctData) newOrder(at time.Time, r *rnd) CTOrder {
	id := d.newID()
	o := CTOrder{OrderID: id, OrderNumber: "CRM-" + strconv.FormatInt(id, 10),
		OrderDate: ctFormatTime(at), CreatedDate: ctFormatTime(at.Add(time.Hour)), PlannedAmount: float64(5000 + 500*r.intn(200))}
	if r.chance(0.5) {
		o.CompletedDate = ptr(ctFormatTime(at.Add(72 * time.Hour)))
		o.CompletedAmount = ptr(o.PlannedAmount)
	}
	return o
}

func (s *Sim) genRequest(d *ctData, tms int64, r *rnd) *ctRequest {
	cl := d.clients[r.intn(len(d.clients))]
	src := ctSources[r.intn(len(ctSources))]
	q := &ctRequest{boolsAsText: r.chance(0.15), numsAsText: r.chance(0.15)}
	q.RequestID = d.nextReq
	d.nextReq += 1 + int64(r.intn(2))
	q.RequestNumber = "form-" + strconv.FormatInt(q.RequestID%1000000, 10)
	q.Date = time.UnixMilli(tms / 1000 * 1000).UTC()
	q.Subject = r.pick(ctSubjects)
	q.UniqueRequest = r.chance(0.7)
	q.TargetRequest = r.chance(0.6)
	q.UniqTargetRequest = q.UniqueRequest && q.TargetRequest
	if r.chance(0.5) {
		q.Manager = ptr(r.pick(ctManagers))
	}
	q.ClientID = 30000000 + int64(r.intn(len(d.clients)))
	q.FIO = cl.fio
	q.Phones = []CTPhone{{PhoneNumber: ctFormat(cl.digits, r.intn(6)), PhoneType: "MOBILE"}}
	if r.chance(0.1) {
		q.Phones = append(q.Phones, CTPhone{PhoneNumber: ctFormat(d.clients[r.intn(len(d.clients))].digits, r.intn(6)), PhoneType: "WORK"})
	}
	q.Emails = []string{}
	if r.chance(0.6) {
		q.Emails = append(q.Emails, cl.email)
	}
	q.Session = CTSession{SessionID: 1600000000 + q.RequestID, Source: src.source, Medium: src.medium, City: r.pick(ctCities),
		IP: fmt.Sprintf("95.%d.%d.%d", r.intn(256), r.intn(256), 1+r.intn(254)), URL: "https://" + r.pick(ctHostnames) + "/",
		Attribution: 1}
	if src.utmSource != "" {
		q.Session.UTMSource, q.Session.UTMMedium, q.Session.UTMCampaign = ptr(src.utmSource), ptr(src.utmMedium), ptr(src.utmCampaign)
	}
	if src.medium == "cpc" {
		q.Session.Keywords = ptr(r.pick(ctKeywords))
		q.Session.UTMTerm = q.Session.Keywords
	}
	if r.chance(0.5) {
		q.Session.GuaClientID = ptr(fmt.Sprintf("%d.%d", 100000000+r.intn(899999999), tms/1000))
	}
	q.CTClientID = fmt.Sprintf("ct%016x", hash3(s.seed, kindCTClient, uint64(q.RequestID), 2))
	q.Comments = []CTComment{}
	if r.chance(0.2) {
		q.Comments = append(q.Comments, CTComment{CommentID: d.newID(), Comment: r.pick(ctComments), PartyName: "Администратор"})
	}
	q.Tags = []CTTag{}
	if r.chance(0.3) {
		q.Tags = append(q.Tags, CTTag{Category: "Теги", Type: "manual", Names: []string{r.pick(ctTagNames)}})
	}
	return q
}

func (d *ctData) addCall(c *ctCall) {
	d.calls = append(d.calls, c)
	d.callByID[c.CallID] = c
}

func (d *ctData) addRequest(q *ctRequest) {
	d.requests = append(d.requests, q)
	d.reqByID[q.RequestID] = q
}

// ctFormatTime is the journals' dd/mm/yyyy hh:mm:ss in cabinet time.
func ctFormatTime(t time.Time) string { return t.In(calltouchZone).Format("02/01/2006 15:04:05") }

// ---- changes between syncs ----

// mutateCalltouch applies the Calltouch part of a Mutation. Callers hold s.mu for
// writing; tick gives the time of each new record.
func (s *Sim) mutateCalltouch(m Mutation, tick func() int64) {
	if m.NewCalls+m.EditedCalls+m.DeletedCalls+m.NewRequests+m.EditedRequests == 0 {
		return
	}
	d := s.calltouch()
	r := newRnd(s.seed, kindCTFault, 1, d.mutations)
	d.mutations++
	recent := time.UnixMilli(s.now).Add(-ctRecentEdits)
	touched := map[*ctCall]bool{}
	// pick returns a recent live call this mutation has not touched yet.
	pick := func() *ctCall {
		lo, _ := slices.BinarySearchFunc(d.calls, recent, func(c *ctCall, t time.Time) int { return c.Date.Compare(t) })
		var live []*ctCall
		for _, c := range d.calls[lo:] {
			if !c.deleted && !touched[c] {
				live = append(live, c)
			}
		}
		if len(live) == 0 {
			return nil
		}
		c := live[r.intn(len(live))]
		touched[c] = true
		return c
	}
	now := time.UnixMilli(s.now).UTC()
	for k := range m.EditedCalls {
		c := pick()
		if c == nil {
			break
		}
		// A late edit: a tag set by a manager, a comment, a deal created, the call
		// re-marked as target.
		switch k % 4 {
		case 0:
			c.Tags = append(slices.Clone(c.Tags), CTTag{Category: "Теги", Type: "manual", Names: []string{"Продажа"}})
		case 1:
			c.Comments = append(slices.Clone(c.Comments), CTComment{CommentID: d.newID(), Comment: "Перезвонили: " + r.pick(ctComments), PartyName: c.managerName(), Date: now})
		case 2:
			c.Orders = append(slices.Clone(c.Orders), d.newOrder(c.Date, r))
		default:
			c.TargetCall = !c.TargetCall
			c.UniqTargetCall = c.UniqueCall && c.TargetCall
			c.Manager = ptr(r.pick(ctManagers))
		}
	}
	for range m.DeletedCalls {
		c := pick()
		if c == nil {
			break
		}
		c.deleted = true
		delete(d.callByID, c.CallID)
		d.deleted = append(d.deleted, c.CallID)
	}
	for k := range m.EditedRequests {
		if len(d.requests) == 0 {
			break
		}
		q := d.requests[len(d.requests)-1-r.intn(min(len(d.requests), 20))]
		if k%2 == 0 {
			q.Tags = append(slices.Clone(q.Tags), CTTag{Category: "Теги", Type: "manual", Names: []string{"Целевой"}})
		} else {
			q.Comments = append(slices.Clone(q.Comments), CTComment{CommentID: d.newID(), Comment: "Клиент подтвердил заказ", PartyName: "Администратор"})
			q.Manager = ptr(r.pick(ctManagers))
		}
	}
	// New records come last, so edits and deletions touch records a sync could have seen.
	for range m.NewCalls {
		d.addCall(s.genCall(d, tick(), r))
	}
	for range m.NewRequests {
		d.addRequest(s.genRequest(d, tick(), r))
	}
}

// ---- truth and comments ----

// CalltouchTruth returns the Calltouch data now served, for tests (it copies every
// record: meant for scales up to about 10).
func (s *Sim) CalltouchTruth() CalltouchTruth {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.calltouch()
	t := CalltouchTruth{SiteID: s.opts.CalltouchSiteID, DeletedCalls: slices.Clone(d.deleted)}
	for _, c := range d.calls {
		if !c.deleted {
			t.Calls = append(t.Calls, c.clone())
		}
	}
	for _, q := range d.requests {
		t.Requests = append(t.Requests, q.clone())
	}
	return t
}

func (c *ctCall) clone() CTCall {
	out := c.CTCall
	out.Tags = cloneTags(c.Tags)
	out.Comments = slices.Clone(c.Comments)
	out.Orders = slices.Clone(c.Orders)
	return out
}

func (q *ctRequest) clone() CTRequest {
	out := q.CTRequest
	out.Tags = cloneTags(q.Tags)
	out.Comments = slices.Clone(q.Comments)
	out.Phones = slices.Clone(q.Phones)
	out.Emails = slices.Clone(q.Emails)
	return out
}

func cloneTags(ts []CTTag) []CTTag {
	out := make([]CTTag, len(ts))
	for i, t := range ts {
		out[i] = CTTag{Category: t.Category, Type: t.Type, Names: slices.Clone(t.Names)}
	}
	return out
}

// CalltouchLeadComments returns every comment the lead-comment API has added, per lead,
// in the order received. Calltouch adds a new comment on every call, so a comment sent
// twice is listed twice: tests of at-most-once delivery count them here.
func (s *Sim) CalltouchLeadComments() map[CalltouchLead][]string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[CalltouchLead][]string{}
	for k, v := range s.calltouch().comments {
		out[k] = slices.Clone(v)
	}
	return out
}

// CalltouchSiteID is the cabinet id the simulator serves.
func (s *Sim) CalltouchSiteID() int64 { return s.opts.CalltouchSiteID }

// ctNormPhone is the lead-comment API's phone normalisation to 11 digits: digits only,
// a leading trunk 8 of an 11-digit number becomes 7, a 10-digit number gets 7 in front.
func ctNormPhone(p string) string {
	dg := digits(p)
	switch {
	case len(dg) == 10:
		return "7" + dg
	case len(dg) == 11 && dg[0] == '8':
		return "7" + dg[1:]
	}
	return dg
}

// hasTags applies a matching rule's tags filter to a lead's tags.
func hasTags(lead []CTTag, want []string, logic string) bool {
	if len(want) == 0 {
		return true
	}
	have := map[string]bool{}
	for _, t := range lead {
		for _, n := range t.Names {
			have[strings.ToLower(n)] = true
		}
	}
	n := 0
	for _, w := range want {
		if have[strings.ToLower(w)] {
			n++
		}
	}
	if logic == "or" {
		return n > 0
	}
	return n == len(want)
}

// ctOnce-style lazy init needs a sync.Once in Sim; declared here to keep sim.go small.
type ctLazy struct {
	ctOnce sync.Once
	ct     *ctData
}
