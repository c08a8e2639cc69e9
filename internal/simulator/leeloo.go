package simulator

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Leeloo records. Field names and casing follow leeloo-api.md; shapes the reference
// marks [INF] are "proposed, not from Leeloo docs" and are marked so below.

// Person is a v2 person (leeloo-api.md §6.1 observed list item; detail fields §6.2 [INF]).
type Person struct {
	ID              string          `json:"id"`
	Name            *string         `json:"name"`
	Phone           string          `json:"phone"` // may be "NOT_DEFINED"
	Email           string          `json:"email"` // may be "NOT_DEFINED"
	Tags            []string        `json:"tags"`  // tag names
	Accounts        []PersonAccount `json:"accounts"`
	LastMessageTime string          `json:"lastMessageTime"`
	CreatedAt       string          `json:"createdAt"`
	UpdatedAt       string          `json:"updatedAt"` // [INF] proposed, not from Leeloo docs

	// Detail-only fields (GET /people/{id}); proposed, not from Leeloo docs [INF].
	Gender           *string            `json:"-"`
	Locale           string             `json:"-"`
	CustomFields     map[string]*string `json:"-"`
	SubscribeHistory []Subscription     `json:"-"`
	Links            Links              `json:"-"`
}

// PersonAccount is one entry of a person's accounts[] (a communication channel).
type PersonAccount struct {
	AccountID        string `json:"account_id"`
	ConnectionID     string `json:"connection_id"`
	ConnectionStatus string `json:"connection_status"`
	From             string `json:"from"`
}

// Links are the v1-style relationship links of an account or person.
type Links struct {
	ContactedUsers []Ref `json:"contactedUsers"`
	Orders         []Ref `json:"orders"`
}

// Ref is a {type, id} link.
type Ref struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// Subscription is one v1 subscribeHistory entry: names only (leeloo-api.md §4.2).
type Subscription struct {
	TunnelName      string `json:"tunnelName"`
	LeadgentoolName string `json:"leadgentoolName"`
	TrafficSource   string `json:"trafficSource"`
}

// Channel is a v2 communication channel (§6.3, entire shape [INF] proposed, not from
// Leeloo docs). Its id is the account_id used in every /communication-channels path
// and is also the v1 account id.
type Channel struct {
	ID               string   `json:"id"`
	PersonID         string   `json:"person_id"`
	Name             *string  `json:"name"`
	From             string   `json:"from"`
	ConnectionID     string   `json:"connection_id"`
	ConnectionStatus string   `json:"connection_status"`
	BotStatus        string   `json:"botStatus"`
	Tags             []string `json:"tags"`
	UTM              UTM      `json:"utm"`
	LastMessageTime  string   `json:"lastMessageTime"`
	CreatedAt        string   `json:"createdAt"`
	UpdatedAt        string   `json:"updatedAt"`
}

// UTM are a channel's campaign tags ([INF]).
type UTM struct {
	Source   *string `json:"utm_source"`
	Medium   *string `json:"utm_medium"`
	Campaign *string `json:"utm_campaign"`
	Content  *string `json:"utm_content"`
	Term     *string `json:"utm_term"`
}

// Message is a chat message (v1 §4.3, documented; v2 §6.5 same shape [INF]).
type Message struct {
	// ChannelID is the channel (v1 account) the message belongs to; not served.
	ChannelID string        `json:"-"`
	ID        string        `json:"id"`
	Text      string        `json:"text"`
	Type      string        `json:"type"`
	Read      bool          `json:"read"`
	CreatedAt string        `json:"createdAt"`
	UpdatedAt string        `json:"updatedAt"`
	Links     *MessageLinks `json:"links,omitempty"`
}

// MessageLinks carries the sender of a YOUR_MESSAGE.
type MessageLinks struct {
	CreatedBy Ref `json:"createdBy"`
}

// Order is a v2 order (§6.6, [INF] proposed, not from Leeloo docs).
type Order struct {
	ID                 string  `json:"id"`
	PersonID           string  `json:"personId"`
	AccountID          string  `json:"accountId"`
	OfferID            string  `json:"offerId"`
	OfferName          string  `json:"offerName"`
	PaymentCreditsID   string  `json:"paymentCreditsId"`
	PaymentMethod      string  `json:"paymentMethod"`
	ManagerID          *string `json:"managerId"`
	Price              float64 `json:"price"`
	Currency           string  `json:"currency"`
	Status             string  `json:"status"`
	IsManual           bool    `json:"isManual"`
	HasPartialPayments bool    `json:"hasPartialPayments"`
	TransactionDate    string  `json:"transactionDate"`
	PaymentDate        *string `json:"paymentDate"`
	UserComments       *string `json:"userComments"`
	CreatedAt          string  `json:"createdAt"`
	UpdatedAt          string  `json:"updatedAt"`
}

// Tunnel is a sales funnel (§6.7, [INF]).
type Tunnel struct {
	ID        string      `json:"id"`
	Name      string      `json:"name"`
	Status    string      `json:"status"`
	CreatedAt string      `json:"createdAt"`
	UpdatedAt string      `json:"updatedAt"`
	Links     TunnelLinks `json:"links"`
}

// TunnelLinks lists a tunnel's lead-generation tools.
type TunnelLinks struct {
	Leadgentools []Ref `json:"leadgentools"`
}

// Leadgentool is a tunnel entry point (§6.7 included.leadgentools, [INF]).
type Leadgentool struct {
	ID             string          `json:"id"`
	Name           string          `json:"name"`
	TunnelID       string          `json:"tunnelId"`
	CreatedAt      string          `json:"createdAt"`
	TrafficSources []TrafficSource `json:"trafficSources"`
}

// TrafficSource is a sub-label of a lead-generation tool ([INF]).
type TrafficSource struct {
	// LeadgentoolID is the owning tool; not served.
	LeadgentoolID string  `json:"-"`
	ID            string  `json:"id"`
	Name          string  `json:"name"`
	Description   *string `json:"description"`
}

// TunnelStats is a tunnel's aggregate (§6.8, [INF]).
type TunnelStats struct {
	TunnelID               string    `json:"tunnelId"`
	TunnelName             string    `json:"tunnelName"`
	SubscribersCount       int       `json:"subscribersCount"`
	ActiveSubscribersCount int       `json:"activeSubscribersCount"`
	UnsubscribedCount      int       `json:"unsubscribedCount"`
	OrdersCount            int       `json:"ordersCount"`
	SuccessfulOrdersCount  int       `json:"successfulOrdersCount"`
	Revenue                []Revenue `json:"revenue"`
}

// Revenue is one currency's total.
type Revenue struct {
	Currency string  `json:"currency"`
	Amount   float64 `json:"amount"`
}

// User is a platform user (§6.9: minute-precision timestamps as the official example;
// email and role are [INF]).
type User struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Email     string `json:"email"`
	Role      string `json:"role"`
	CreatedAt string `json:"createdAt"`
	UpdatedAt string `json:"updatedAt"`
}

// Tag is a tag (§6.10, [INF]).
type Tag struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Connection is a company-side messenger integration (§6.10, [INF]).
type Connection struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	From      string `json:"from"`
	Status    string `json:"status"`
	CreatedAt string `json:"createdAt"`
}

// TemplateCategory is a message-template category (§6.11, documented).
type TemplateCategory struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Template is a message template (§6.11, documented).
type Template struct {
	// CategoryID is the owning category; not served.
	CategoryID  string `json:"-"`
	ID          string `json:"id"`
	MessageName string `json:"message_name"`
}

// Account is the v1 view of a communication channel (§4.1 list, §4.2 detail).
type Account struct {
	ID              string   `json:"id"`
	Name            *string  `json:"name"`
	Tags            []string `json:"tags"`
	From            string   `json:"from"`
	BotStatus       string   `json:"botStatus"`
	LastMessageTime string   `json:"lastMessageTime"`
	CreatedAt       string   `json:"createdAt"`
	Email           string   `json:"email"` // [INF] (third-party code reads it)
	Phone           string   `json:"phone"` // [INF]

	// Detail-only fields (GET /api/v1/accounts/{id}).
	Gender           *string        `json:"-"`
	Locale           string         `json:"-"`
	SubscribeHistory []Subscription `json:"-"`
	Links            Links          `json:"-"`
	UpdatedAt        string         `json:"-"`
}

// ---- generation ----

const (
	day        = 24 * time.Hour
	leelooSpan = 3 * 365 * day
)

type chanRec struct {
	ch     Channel // LastMessageTime/UpdatedAt are derived from msgs[0]
	person int
	subs   []Subscription
	msgs   []Message // newest first, fault-free; nil when not generated
	nMsgs  int
	lmt    int64
}

type personRec struct {
	p     Person // attributes; accounts, times and links are derived
	chans []int
}

type tunnelRec struct {
	t     Tunnel
	lgts  []Leadgentool
	stats TunnelStats
}

// leelooData is the Leeloo data set: base records addressed by index, plus overlays.
type leelooData struct {
	s                             *Sim
	seed                          uint64
	now0                          int64
	nChan, nPeople, nOrders       int
	stepChan, stepOrder           int64
	people, chans, orders         seq
	chanOv                        map[int]*chanRec // edited base and added channels
	newPeople                     []*personRec
	orderOv                       map[int]*Order
	personOrders                  map[int][]int // person ref -> added order refs
	newMsgN                       uint64
	users                         []User
	tags                          []Tag
	conns                         []Connection
	cats                          []TemplateCategory
	templates                     []Template
	tunnels                       []tunnelRec
	offers                        []Tag // {id, name}
	payCreds                      []string
	tunnelByID, userByID, catByID map[string]int
	chanCache                     recCache[chanRec]
	personCache                   recCache[personRec]
}

func newLeelooData(s *Sim) *leelooData {
	d := &leelooData{
		s:            s,
		seed:         s.seed,
		now0:         s.now,
		nChan:        300 * s.scale,
		nPeople:      200 * s.scale,
		nOrders:      100 * s.scale,
		chanOv:       map[int]*chanRec{},
		orderOv:      map[int]*Order{},
		personOrders: map[int][]int{},
		tunnelByID:   map[string]int{},
		userByID:     map[string]int{},
		catByID:      map[string]int{},
		chanCache:    newRecCache[chanRec](4096),
		personCache:  newRecCache[personRec](4096),
	}
	d.stepChan = max(leelooSpan.Milliseconds()/int64(d.nChan), 4)
	d.stepOrder = max(leelooSpan.Milliseconds()/int64(d.nOrders), 4)
	d.people = seq{n: d.nPeople}
	d.chans = seq{n: d.nChan}
	d.orders = seq{n: d.nOrders}
	d.genStatic()
	return d
}

var (
	tagNames  = []string{"vip", "tag1", "tag2", "tag3", "lead", "клієнт", "оплачено", "webinar", "повторный", "no-answer", "hot 🔥", "B2B"}
	froms     = []string{"FACEBOOK", "FACEBOOK", "FACEBOOK", "TELEGRAM", "TELEGRAM", "TELEGRAM", "INSTAGRAM", "INSTAGRAM", "VIBER", "WHATSAPP", "MANUAL"}
	connDefs  = [][2]string{{"Facebook: Студія краси «Лілія»", "FACEBOOK"}, {"@lilia_beauty_bot", "TELEGRAM"}, {"Instagram lilia.beauty", "INSTAGRAM"}, {"Viber Лілія", "VIBER"}, {"WhatsApp +380441234567", "WHATSAPP"}}
	userNames = []string{"Admin", "Олена Менеджер", "Ivan Petrenko", "Marta Sales", "Дмитро", "Support Bot Operator", "Kateryna K.", "Oleh"}
	roles     = []string{"ADMIN", "MANAGER", "OPERATOR"}
	currs     = []string{"UAH", "UAH", "UAH", "UAH", "USD", "USD", "EUR", "RUB"}
	prices    = []float64{1499.99, 299, 49.5, 12000, 799.9, 0.99, 2500.5, 100}
)

// genStatic builds the small, fully materialised lists: users, tags, connections,
// template categories and templates, offers, tunnels with their tools and stats.
func (d *leelooData) genStatic() {
	sc := d.s.scale
	nU := 6 + 2*sc
	uStep := (leelooSpan.Milliseconds() / int64(nU)) / 60000 * 60000
	for u := range nU {
		r := newRnd(d.seed, kindUser, uint64(u), 0)
		c := (d.now0-30*day.Milliseconds())/60000*60000 - int64(u)*uStep
		name := userNames[u%len(userNames)]
		if u >= len(userNames) {
			name = fmt.Sprintf("%s %d", name, u)
		}
		d.users = append(d.users, User{
			ID:        objectID(c, kindUser, uint64(u)),
			Name:      name,
			Email:     fmt.Sprintf("staff%d@lilia-beauty.example", u),
			Role:      roles[min(u, 1+r.intn(2))],
			CreatedAt: fmtMinute(c),
			UpdatedAt: fmtMinute(min(c+r.ms(0, 200*day), d.now0-day.Milliseconds()) / 60000 * 60000),
		})
		d.userByID[d.users[u].ID] = u
	}
	for i, n := range tagNames {
		c := d.now0 - 400*day.Milliseconds() - int64(i)*7*day.Milliseconds()
		d.tags = append(d.tags, Tag{ID: objectID(c, kindTag, uint64(i)), Name: n})
	}
	for i, cd := range connDefs {
		c := d.now0 - 500*day.Milliseconds() - int64(i)*11*day.Milliseconds()
		st := "OK"
		if i == 3 {
			st = "ERROR"
		}
		d.conns = append(d.conns, Connection{ID: objectID(c, kindConn, uint64(i)), Name: cd[0], From: cd[1], Status: st, CreatedAt: fmtMS(c)})
	}
	catNames := []string{"Привітання", "Orders / Замовлення", "Нагадування", "Promo 🎁"}
	tplNames := []string{"welcome_{name}", "order_confirmed", "payment_reminder", "promo_black_friday", "feedback_request", "delivery_update"}
	tn := 0
	for i, n := range catNames {
		c := d.now0 - 300*day.Milliseconds() - int64(i)*day.Milliseconds()
		cat := TemplateCategory{ID: objectID(c, kindCategory, uint64(i)), Name: n}
		d.catByID[cat.ID] = i
		d.cats = append(d.cats, cat)
		r := newRnd(d.seed, kindCategory, uint64(i), 0)
		for k := range 2 + r.intn(4) {
			d.templates = append(d.templates, Template{CategoryID: cat.ID,
				ID: objectID(c+int64(k+1)*3600000, kindTemplate, uint64(tn)), MessageName: fmt.Sprintf("%s_%d", tplNames[(i+k)%len(tplNames)], k)})
			tn++
		}
	}
	offerNames := []string{"Манікюр класичний", "Курс «Nail Pro»", "Gift card 500", "Консультація", "Webinar ticket", "Абонемент на 10 занять"}
	for i, n := range offerNames {
		c := d.now0 - 600*day.Milliseconds() + int64(i)*day.Milliseconds()
		d.offers = append(d.offers, Tag{ID: objectID(c, kindOffer, uint64(i)), Name: n})
	}
	for i := range 3 {
		d.payCreds = append(d.payCreds, objectID(d.now0-700*day.Milliseconds()+int64(i)*day.Milliseconds(), kindPayCred, uint64(i)))
	}
	tunnelNames := []string{"Webinar funnel", "Воронка «Вебінар»", "Lead magnet: checklist", "Туннель продаж курса", "Black Friday", "Onboarding", "Reactivation", "Quiz → offer"}
	lgtNames := []string{"Instagram bio link", "QR на рецепції", "Widget on site", "Telegram deep link", "Facebook ad"}
	nT := 8 * sc
	tStep := (2 * 365 * day).Milliseconds() / int64(nT)
	lgtN := 0
	tsN := 0
	for t := range nT {
		r := newRnd(d.seed, kindTunnel, uint64(t), 0)
		c := d.now0 - day.Milliseconds() - int64(t)*tStep - r.ms(0, time.Duration(tStep/2)*time.Millisecond)
		name := tunnelNames[t%len(tunnelNames)]
		if t >= len(tunnelNames) {
			name = fmt.Sprintf("%s #%d", name, t)
		}
		tun := Tunnel{ID: objectID(c, kindTunnel, uint64(t)), Name: name,
			Status:    []string{"ACTIVE", "ACTIVE", "ACTIVE", "PAUSED", "DRAFT"}[r.intn(5)],
			CreatedAt: fmtMS(c), UpdatedAt: fmtMS(min(c+r.ms(0, 90*day), d.now0-3600000)), Links: TunnelLinks{Leadgentools: []Ref{}}}
		rec := tunnelRec{}
		for l := range 1 + r.intn(3) {
			lc := c + int64(l+1)*60000
			lg := Leadgentool{ID: objectID(lc, kindLGT, uint64(lgtN)), Name: lgtNames[(t+l)%len(lgtNames)], TunnelID: tun.ID, CreatedAt: fmtMS(lc)}
			lgtN++
			for k := range 1 + r.intn(2) {
				ts := TrafficSource{LeadgentoolID: lg.ID, ID: objectID(lc+int64(k)*1000, kindTS, uint64(tsN)), Name: "Default traffic source"}
				if k > 0 {
					ts.Name = fmt.Sprintf("utm_campaign=spring_%d", tsN)
					ts.Description = ptr("Paid traffic, Instagram stories")
				}
				tsN++
				lg.TrafficSources = append(lg.TrafficSources, ts)
			}
			tun.Links.Leadgentools = append(tun.Links.Leadgentools, Ref{Type: "leadgentools", ID: lg.ID})
			rec.lgts = append(rec.lgts, lg)
		}
		subs := 5 + r.intn(400)
		act := subs * (30 + r.intn(60)) / 100
		ord := r.intn(subs/5 + 1)
		succ := ord * (40 + r.intn(60)) / 100
		rev := []Revenue{}
		if succ > 0 {
			rev = append(rev, Revenue{Currency: "UAH", Amount: float64(succ) * 1499.99})
			if r.chance(0.3) {
				rev = append(rev, Revenue{Currency: "USD", Amount: float64(r.intn(50000)) / 100})
			}
		}
		rec.t = tun
		rec.stats = TunnelStats{TunnelID: tun.ID, TunnelName: tun.Name, SubscribersCount: subs, ActiveSubscribersCount: act,
			UnsubscribedCount: (subs - act) / 2, OrdersCount: ord, SuccessfulOrdersCount: succ, Revenue: rev}
		d.tunnelByID[tun.ID] = t
		d.tunnels = append(d.tunnels, rec)
	}
}

// Base layout: channels 3j and 3j+1 belong to person 2j, channel 3j+2 to person 2j+1,
// so people are 2/3 of channels and both lists stay newest-first by index.
func personOfChan(c int) int { return c/3*2 + boolInt(c%3 == 2) }

func chansOfPerson(p int) []int {
	j := p / 2
	if p%2 == 0 {
		return []int{3 * j, 3*j + 1}
	}
	return []int{3*j + 2}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// lmtBase is the base last-message time of channel c: strictly decreasing in c.
func (d *leelooData) lmtBase(c int) int64 {
	j := int64(hash3(d.seed, kindChannel, uint64(c), 99) % uint64(d.stepChan/2))
	return d.now0 - 60000 - int64(c)*d.stepChan - j
}

func (d *leelooData) personBaseKey(p int) int64 { return d.lmtBase(chansOfPerson(p)[0]) }

func (d *leelooData) personCreated(p int) int64 {
	age := int64(40*day.Milliseconds()) + int64(hash3(d.seed, kindPerson, uint64(p), 99)%uint64(500*day.Milliseconds()))
	return d.personBaseKey(p) - age
}

func (d *leelooData) chanCreated(c int) int64 {
	p := personOfChan(c)
	pc := d.personCreated(p)
	if chansOfPerson(p)[0] == c {
		return pc + 300
	}
	return pc + 3600000 + int64(hash3(d.seed, kindChannel, uint64(c), 98)%uint64(5*day.Milliseconds()))
}

func (d *leelooData) chanID(ref int) string {
	if ref >= d.nChan {
		return d.chanOv[ref].ch.ID
	}
	return objectID(d.chanCreated(ref), kindChannel, uint64(ref))
}

func (d *leelooData) personID(ref int) string {
	if ref >= d.nPeople {
		return d.newPeople[ref-d.nPeople].p.ID
	}
	return objectID(d.personCreated(ref), kindPerson, uint64(ref))
}

func (d *leelooData) genPerson(p int) *personRec {
	r := newRnd(d.seed, kindPerson, uint64(p), 0)
	created := d.personCreated(p)
	per := Person{ID: objectID(created, kindPerson, uint64(p)), CreatedAt: fmtMS(created)}
	if !r.chance(0.05) {
		per.Name = ptr(r.fullName())
	}
	num := (uint64(p)*7919 + 1234567) % 10000000
	switch r.intn(10) {
	case 0:
		per.Phone = "NOT_DEFINED"
	case 1, 2:
		per.Phone = string(appendPadded([]byte("+7999"), num, 7))
	case 3:
		per.Phone = string(appendPadded([]byte("+1555"), num, 7))
	default:
		per.Phone = string(appendPadded([]byte("+38096"), num, 7))
	}
	if r.chance(0.15) {
		per.Email = "NOT_DEFINED"
	} else {
		u := r.pick(emailUsers)
		per.Email = u + strconv.Itoa(p) + "@" + r.pick(emailDomains)
	}
	per.Tags = d.pickTags(newRnd(d.seed, kindPerson, uint64(p), 1))
	switch r.intn(3) {
	case 0:
		per.Gender = ptr("FEMALE")
	case 1:
		per.Gender = ptr("MALE")
	}
	per.Locale = r.pick([]string{"uk_UA", "ru_RU", "en_US", "uk_UA"})
	per.CustomFields = map[string]*string{"city": nil, "source": ptr(r.pick([]string{"instagram ads", "сарафанне радіо", "google"}))}
	if r.chance(0.7) {
		per.CustomFields["city"] = ptr(r.pick([]string{"Kyiv", "Львів", "Одеса", "Warsaw", "Dnipro"}))
	}
	return &personRec{p: per, chans: chansOfPerson(p)}
}

func (d *leelooData) pickTags(r *rnd) []string {
	n := r.intn(4)
	var seen uint64 // a bit per tag: there are fewer than 64
	for range n {
		seen |= 1 << r.intn(len(tagNames))
	}
	out := make([]string, 0, n)
	for i, t := range tagNames {
		if seen&(1<<i) != 0 {
			out = append(out, t)
		}
	}
	return out
}

// genChan generates base channel c; messages only when withMsgs.
func (d *leelooData) genChan(c int, withMsgs bool) *chanRec {
	r := newRnd(d.seed, kindChannel, uint64(c), 0)
	p := personOfChan(c)
	pr := newRnd(d.seed, kindPerson, uint64(p), 0)
	var pname *string
	if !pr.chance(0.05) {
		pname = ptr(pr.fullName())
	}
	created := d.chanCreated(c)
	lmt := d.lmtBase(c)
	from := r.pick(froms)
	rec := &chanRec{person: p, lmt: lmt, nMsgs: 1 + int(hash3(d.seed, kindChannel, uint64(c), 97)%12)}
	ch := Channel{ID: objectID(created, kindChannel, uint64(c)), PersonID: d.personID(p), Name: pname, From: from,
		ConnectionStatus: "OK", BotStatus: "BOT", CreatedAt: fmtMS(created)}
	if from == "TELEGRAM" && r.chance(0.4) {
		ch.Name = ptr("@user_" + strconv.Itoa(c))
	}
	ch.ConnectionID = d.connFor(from, r)
	if r.chance(0.05) {
		ch.ConnectionStatus = "ERROR"
	}
	if r.chance(0.3) {
		ch.BotStatus = "ADMIN"
	}
	ch.Tags = d.pickTags(newRnd(d.seed, kindPerson, uint64(p), 1))
	if r.chance(0.6) {
		ch.UTM = UTM{Source: ptr(r.pick([]string{"fb", "instagram", "google", "tiktok"})), Medium: ptr(r.pick([]string{"cpc", "social", "organic"})),
			Campaign: ptr(r.pick([]string{"spring_sale", "webinar_2026", "Весна-2026"}))}
		if r.chance(0.3) {
			ch.UTM.Content = ptr("stories_v2")
		}
	}
	for range r.intn(3) {
		t := d.tunnels[r.intn(len(d.tunnels))]
		lg := t.lgts[r.intn(len(t.lgts))]
		rec.subs = append(rec.subs, Subscription{TunnelName: t.t.Name, LeadgentoolName: lg.Name, TrafficSource: lg.TrafficSources[r.intn(len(lg.TrafficSources))].Name})
	}
	if rec.subs == nil {
		rec.subs = []Subscription{}
	}
	rec.ch = ch
	if withMsgs {
		rec.msgs = d.genMessages(c, ch.ID, lmt, rec.nMsgs)
	}
	d.finishChan(rec)
	return rec
}

func (d *leelooData) connFor(from string, r *rnd) string {
	for _, c := range d.conns {
		if c.From == from {
			return c.ID
		}
	}
	return d.conns[r.intn(len(d.conns))].ID
}

// finishChan derives the channel's times from its newest message.
func (d *leelooData) finishChan(rec *chanRec) {
	if len(rec.msgs) > 0 {
		if t, ok := parseMSFast(rec.msgs[0].CreatedAt); ok {
			// The fast parser accepts only the exact form fmtMS writes, so the
			// string is already what fmtMS(t) would build.
			rec.lmt = t
			rec.ch.LastMessageTime = rec.msgs[0].CreatedAt
			rec.ch.UpdatedAt = rec.ch.LastMessageTime
			return
		}
		rec.lmt = mustParseMS(rec.msgs[0].CreatedAt)
	}
	rec.ch.LastMessageTime = fmtMS(rec.lmt)
	rec.ch.UpdatedAt = rec.ch.LastMessageTime
}

func mustParseMS(s string) int64 {
	if t, ok := parseMSFast(s); ok {
		return t
	}
	t, err := time.Parse(layoutMS, s)
	if err != nil {
		return 0
	}
	return t.UnixMilli()
}

// parseMSFast reads "YYYY-MM-DDTHH:MM:SS.mmmZ" (years 1970-9999) without time.Parse;
// anything else, out-of-range fields included, is left to time.Parse.
func parseMSFast(s string) (int64, bool) {
	if len(s) != 24 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != '.' || s[23] != 'Z' {
		return 0, false
	}
	num := func(i, j int) (int64, bool) {
		var v int64
		for ; i < j; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int64(c-'0')
		}
		return v, true
	}
	y, ok1 := num(0, 4)
	mo, ok2 := num(5, 7)
	d, ok3 := num(8, 10)
	h, ok4 := num(11, 13)
	mi, ok5 := num(14, 16)
	se, ok6 := num(17, 19)
	ms, ok7 := num(20, 23)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) || y < 1970 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59 {
		return 0, false
	}
	if d > int64(daysIn(time.Month(mo), int(y))) {
		return 0, false
	}
	return (daysFromCivil(y, mo, d)*86400+h*3600+mi*60+se)*1000 + ms, true
}

func daysIn(m time.Month, y int) int {
	if m == time.February {
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	}
	return [...]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m-1]
}

var (
	friendTexts = []string{
		"Добрий день! Скільки коштує манікюр?", "Здравствуйте, а запись на субботу есть?", "Hi! Is the course still available?",
		"ok 👍", "Дякую!!! 😍😍", "مرحبا، أريد معرفة السعر", "你好，请问还有货吗？", "Можна оплатити частинами?",
		"А где вы находитесь?\nЯ с Оболони", "+", "Send me the invoice please", "Коли буде доставка?",
	}
	botTexts = []string{
		"Привіт, {name}! 👋\nОберіть, що вас цікавить:", "Hi {name}, your order is confirmed ✅", "Здравствуйте, {name}! Напоминаем о вебинаре завтра в 19:00",
		"Price list:\n- Basic 1499.99 UAH\n- Pro 2999.50 UAH", "{name}, дякуємо за покупку! Ось ваш промокод: SPRING20", "Ваш заказ №{order_id} оплачен",
	}
	yourTexts = []string{
		"Добрий день, {name}! Так, є вільні вікна на суботу.", "Hello! Yes, we can do that 🙂", "Скинула реквізити в особисті",
		"Зараз уточню і повернусь до вас", "Thank you for your payment!",
	}
	systemTexts = []string{"Підписка на туннель «Вебінар»", "Order created", "Статус заказа изменен: SUCCESS", "Subscribed via Instagram bio link"}
	longPara    = "Шановний клієнте! Ми цінуємо вашу довіру. Our team will contact you shortly with all details about the programme, schedule and payment options. "
)

// genMessages generates the base messages of channel c, newest first, ending at lmt.
func (d *leelooData) genMessages(c int, chID string, lmt int64, n int) []Message {
	out := make([]Message, 0, n)
	t := lmt
	for k := range n {
		r := newRnd(d.seed, kindMessage, uint64(c), uint64(k))
		if k > 0 {
			t -= r.ms(30*time.Second, 2*day)
		}
		out = append(out, d.genMessage(r, chID, t, objectID(t, kindMessage, uint64(c)<<8|uint64(k)), k == 0))
	}
	return out
}

func (d *leelooData) genMessage(r *rnd, chID string, t int64, id string, newest bool) Message {
	ts := fmtMS(t)
	m := Message{ChannelID: chID, ID: id, CreatedAt: ts, UpdatedAt: ts, Read: true}
	switch x := r.intn(10); {
	case x < 4:
		m.Type = "FRIEND_MESSAGE"
		m.Text = r.pick(friendTexts)
		if r.chance(0.03) {
			m.Text = strings.Repeat(longPara, 10+r.intn(30))
		}
		m.Read = !newest || r.chance(0.5)
	case x < 7:
		m.Type = "BOT_MESSAGE"
		m.Text = r.pick(botTexts)
	case x < 9:
		m.Type = "YOUR_MESSAGE"
		m.Text = r.pick(yourTexts)
		m.Links = &MessageLinks{CreatedBy: Ref{Type: "users", ID: d.users[r.intn(len(d.users))].ID}}
	default:
		m.Type = "SYSTEM_MESSAGE"
		if r.chance(0.5) {
			m.Text = r.pick(systemTexts)
		}
	}
	return m
}

// chanRec returns channel ref's record (overlay first). Callers hold s.mu.
func (d *leelooData) chanRec(ref int, withMsgs bool) *chanRec {
	if ov, ok := d.chanOv[ref]; ok {
		return ov
	}
	if ref < 0 || ref >= d.nChan {
		return nil
	}
	// Only records with messages are cached, and they serve every caller (the other
	// fields and lmt do not depend on withMsgs); lists that need no messages do not
	// generate them just to fill the cache, which they would thrash at large scales.
	if rec := d.chanCache.get(ref); rec != nil {
		return rec
	}
	if !withMsgs {
		return d.genChan(ref, false)
	}
	return d.chanCache.put(ref, d.genChan(ref, true))
}

func (d *leelooData) chanKey(ref int) int64 {
	if ov, ok := d.chanOv[ref]; ok {
		return ov.lmt
	}
	return d.lmtBase(ref)
}

func (d *leelooData) personRec(ref int) *personRec {
	if ref >= d.nPeople {
		if ref-d.nPeople < len(d.newPeople) {
			return d.newPeople[ref-d.nPeople]
		}
		return nil
	}
	if ref < 0 {
		return nil
	}
	if rec := d.personCache.get(ref); rec != nil {
		return rec
	}
	return d.personCache.put(ref, d.genPerson(ref))
}

func (d *leelooData) personChans(ref int) []int {
	if ref >= d.nPeople {
		return d.newPeople[ref-d.nPeople].chans
	}
	return chansOfPerson(ref)
}

func (d *leelooData) personKey(ref int) int64 {
	var k int64
	for _, c := range d.personChans(ref) {
		k = max(k, d.chanKey(c))
	}
	return k
}

// person returns the served person; detail adds links and subscriptions.
func (d *leelooData) person(ref int, detail bool) (Person, bool) {
	pr := d.personRec(ref)
	if pr == nil {
		return Person{}, false
	}
	p := pr.p
	p.Accounts = []PersonAccount{}
	var lmt int64
	users := []Ref{}
	seenU := map[string]bool{}
	p.SubscribeHistory = []Subscription{}
	for _, c := range pr.chans {
		cr := d.chanRec(c, detail)
		p.Accounts = append(p.Accounts, PersonAccount{AccountID: cr.ch.ID, ConnectionID: cr.ch.ConnectionID, ConnectionStatus: cr.ch.ConnectionStatus, From: cr.ch.From})
		lmt = max(lmt, cr.lmt)
		if detail {
			p.SubscribeHistory = append(p.SubscribeHistory, cr.subs...)
			for _, m := range cr.msgs {
				if m.Links != nil && !seenU[m.Links.CreatedBy.ID] {
					seenU[m.Links.CreatedBy.ID] = true
					users = append(users, m.Links.CreatedBy)
				}
			}
		}
	}
	p.LastMessageTime = fmtMS(lmt)
	p.UpdatedAt = p.LastMessageTime
	if detail {
		orders := []Ref{}
		for _, o := range d.ordersOfPerson(ref) {
			orders = append(orders, Ref{Type: "orders", ID: d.order(o).ID})
		}
		p.Links = Links{ContactedUsers: users, Orders: orders}
	}
	return p, true
}

// account returns the v1 view of channel ref.
func (d *leelooData) account(ref int, detail bool) (Account, bool) {
	cr := d.chanRec(ref, detail)
	if cr == nil {
		return Account{}, false
	}
	pr := d.personRec(cr.person)
	a := Account{ID: cr.ch.ID, Name: cr.ch.Name, Tags: cr.ch.Tags, From: cr.ch.From, BotStatus: cr.ch.BotStatus,
		LastMessageTime: cr.ch.LastMessageTime, CreatedAt: cr.ch.CreatedAt, Email: pr.p.Email, Phone: pr.p.Phone,
		Gender: pr.p.Gender, Locale: pr.p.Locale, SubscribeHistory: cr.subs, UpdatedAt: cr.ch.UpdatedAt}
	if detail {
		users := []Ref{}
		seen := map[string]bool{}
		for _, m := range cr.msgs {
			if m.Links != nil && !seen[m.Links.CreatedBy.ID] {
				seen[m.Links.CreatedBy.ID] = true
				users = append(users, m.Links.CreatedBy)
			}
		}
		orders := []Ref{}
		for _, o := range d.ordersOfPerson(cr.person) {
			if or := d.order(o); or.AccountID == cr.ch.ID {
				orders = append(orders, Ref{Type: "orders", ID: or.ID})
			}
		}
		a.Links = Links{ContactedUsers: users, Orders: orders}
	}
	return a, true
}

// ---- orders ----

func (d *leelooData) orderCreated(j int) int64 {
	jit := int64(hash3(d.seed, kindOrder, uint64(j), 99) % uint64(d.stepOrder/2))
	return d.now0 - 2*3600000 - int64(j)*d.stepOrder - jit
}

func (d *leelooData) orderPerson(j int) int {
	return min(2*j+int(hash3(d.seed, kindOrder, uint64(j), 98)%2), d.nPeople-1)
}

func (d *leelooData) genOrder(j int) Order {
	r := newRnd(d.seed, kindOrder, uint64(j), 0)
	c := d.orderCreated(j)
	p := d.orderPerson(j)
	return d.makeOrder(r, objectID(c, kindOrder, uint64(j)), p, c)
}

func (d *leelooData) makeOrder(r *rnd, id string, p int, c int64) Order {
	off := d.offers[r.intn(len(d.offers))]
	o := Order{ID: id, PersonID: d.personID(p), AccountID: d.chanID(d.personChans(p)[0]), OfferID: off.ID, OfferName: off.Name,
		PaymentCreditsID: d.payCreds[r.intn(len(d.payCreds))], PaymentMethod: r.pick([]string{"ASSET_PAYMENT", "YANDEX_MONEY", "LIQPAY", "WAYFORPAY"}),
		Currency: r.pick(currs), CreatedAt: fmtMS(c), TransactionDate: fmtMS(min(c+r.ms(0, 10*time.Minute), max(c, d.now0)))}
	if r.chance(0.5) {
		o.Price = prices[r.intn(len(prices))]
	} else {
		o.Price = float64(r.intn(2000000)) / 100
	}
	switch x := r.intn(20); {
	case x < 11:
		o.Status = "SUCCESS"
	case x < 15:
		o.Status = "PENDING"
	case x < 18:
		o.Status = "RESOLVED"
	default:
		o.Status = "REJECTED"
	}
	if r.chance(0.3) {
		o.IsManual = true
		o.PaymentMethod = "MANUAL"
	}
	o.HasPartialPayments = r.chance(0.1)
	if r.chance(0.4) {
		o.ManagerID = ptr(d.users[r.intn(len(d.users))].ID)
	}
	upd := c
	if o.Status == "SUCCESS" || o.Status == "RESOLVED" {
		pd := min(c+r.ms(time.Minute, 2*day), max(c, d.now0-60000))
		o.PaymentDate = ptr(fmtMS(pd))
		upd = pd
	}
	if r.chance(0.2) {
		o.UserComments = ptr(r.pick([]string{"Оплата частинами", "Paid in cash at the studio", "Клиент просил счёт на ФОП"}))
	}
	o.UpdatedAt = fmtMS(upd)
	return o
}

func (d *leelooData) order(ref int) Order {
	if o, ok := d.orderOv[ref]; ok {
		return *o
	}
	return d.genOrder(ref)
}

func (d *leelooData) orderKey(ref int) int64 {
	if o, ok := d.orderOv[ref]; ok {
		return mustParseMS(o.CreatedAt)
	}
	return d.orderCreated(ref)
}

// ordersOfPerson returns the order refs of person ref (base orders by the inverse of
// orderPerson, then orders added by Mutate), newest first.
func (d *leelooData) ordersOfPerson(ref int) []int {
	var out []int
	out = append(out, slices.Clone(d.personOrders[ref])...)
	slices.Reverse(out)
	if ref < d.nPeople {
		j := ref / 2
		if j < d.nOrders && d.orderPerson(j) == ref {
			out = append(out, j)
		}
		if ref == d.nPeople-1 { // clamped orders all land on the last person
			for jj := j + 1; jj < d.nOrders; jj++ {
				if d.orderPerson(jj) == ref {
					out = append(out, jj)
				}
			}
		}
	}
	return out
}

// ---- content faults (applied on the way out and in Truth) ----

func nulPick(id string) bool { return mix64(fnv(id))%11 == 3 }

func fnv(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

func (d *leelooData) faultPerson(f Faults, p *Person) {
	if f.NULCharacters && p.Name != nil && nulPick(p.ID) {
		p.Name = ptr(insertNUL(*p.Name))
	}
}

func (d *leelooData) faultChannel(f Faults, c *Channel) {
	if f.NULCharacters && c.Name != nil && nulPick(c.ID) {
		c.Name = ptr(insertNUL(*c.Name))
	}
}

func (d *leelooData) faultAccount(f Faults, a *Account) {
	if f.NULCharacters && a.Name != nil && nulPick(a.ID) {
		a.Name = ptr(insertNUL(*a.Name))
	}
}

// messages returns channel ref's messages newest first, with content faults applied.
func (d *leelooData) messages(f Faults, ref int) []Message {
	cr := d.chanRec(ref, true)
	if cr == nil {
		return nil
	}
	msgs := slices.Clone(cr.msgs)
	if f.NULCharacters {
		for i := range msgs {
			if msgs[i].Text != "" && nulPick(msgs[i].ID) {
				msgs[i].Text = insertNUL(msgs[i].Text)
			}
		}
	}
	// Duplicate ids: the oldest message of every 20th channel reuses the id of the
	// oldest base message of the next channel (leeloo-api.md §10.2).
	if f.DuplicateMessageIDs && ref < d.nChan-1 && ref%20 == 7 && len(msgs) > 0 {
		next := d.genChan(ref+1, true)
		msgs[len(msgs)-1].ID = next.msgs[len(next.msgs)-1].ID
	}
	return msgs
}
