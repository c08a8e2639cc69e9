package simulator

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Text Request records. Field names follow textrequest-api.md §5. DashboardID and
// PhoneNumber fields marked `json:"-"` are context for Truth and are not served.

// Dashboard is one texting line (§5.1).
type Dashboard struct {
	ID    int    `json:"id"`
	Name  string `json:"name"`
	Phone string `json:"phone"`
}

// Contact is a contact of one dashboard (§5.2).
type Contact struct {
	DashboardID        int                `json:"-"`
	PhoneNumber        string             `json:"phone_number"`
	FirstName          *string            `json:"first_name"`
	LastName           *string            `json:"last_name"`
	DisplayName        *string            `json:"display_name"`
	IsSuppressed       bool               `json:"is_suppressed"`
	IsArchived         bool               `json:"is_archived"`
	IsBlocked          bool               `json:"is_blocked"`
	SuppressedReason   *string            `json:"suppressed_reason"`
	Note               *string            `json:"note"`
	Groups             []int              `json:"groups"`
	ContactTags        []string           `json:"contact_tags"`
	CustomFields       []CustomFieldValue `json:"custom_fields"`
	IsResolved         bool               `json:"is_resolved"`
	FirstContactUTC    *string            `json:"first_contact_utc"`
	OptedOutUTC        *string            `json:"opted_out_utc"`
	LastMsgSentUTC     *string            `json:"last_msg_sent_utc"`
	LastMsgReceivedUTC *string            `json:"last_msg_received_utc"`
	TotalMsgsSent      int                `json:"total_msgs_sent"`
	TotalMsgsReceived  int                `json:"total_msgs_received"`
	ResponseCount      int                `json:"response_count"`
	DateCreatedUTC     *string            `json:"date_created_utc"`
	LastContactDateUTC *string            `json:"last_contact_date_utc"`
	LastMessage        *TRMessage         `json:"last_message"`
}

// CustomFieldValue is one custom-field value of a contact.
type CustomFieldValue struct {
	ID    string  `json:"id"`
	Value *string `json:"value"`
}

// TRMessage is a Text Request message (§5.3).
type TRMessage struct {
	DashboardID         int      `json:"-"`
	PhoneNumber         string   `json:"-"` // the contact's phone as served in contacts
	MessageID           string   `json:"message_id"`
	Body                string   `json:"body"`
	MessageDirection    string   `json:"message_direction"` // R or S
	ResponseByUsername  *string  `json:"response_by_username"`
	MessageTimestampUTC string   `json:"message_timestamp_utc"`
	DeliveryStatus      *string  `json:"delivery_status"`
	DeliveryError       *string  `json:"delivery_error"`
	MMSMedia            []string `json:"mms_media"`
}

// Conversation is one conversations-list entry (§4.5): a phone and its latest message.
type Conversation struct {
	DashboardID int `json:"-"`
	// IsArchived tells Truth users whether the list hides it by default; not served.
	IsArchived  bool      `json:"-"`
	PhoneNumber string    `json:"phone_number"`
	LastMessage TRMessage `json:"last_message"`
}

// Group is a contact group (§5.4).
type Group struct {
	DashboardID        int     `json:"-"`
	ID                 int     `json:"id"`
	GroupMemberCount   int     `json:"group_member_count"`
	IsKeyword          bool    `json:"is_keyword"`
	Name               string  `json:"name"`
	Notes              *string `json:"notes"`
	LastMessageSentUTC *string `json:"last_message_sent_utc"`
}

// TRTag is a dashboard tag (§5.5).
type TRTag struct {
	DashboardID int    `json:"-"`
	ID          string `json:"id"`
	TagColor    string `json:"tag_color"`
	Tag         string `json:"tag"`
}

// CustomField is a dashboard custom field (§5.6).
type CustomField struct {
	DashboardID int    `json:"-"`
	ID          string `json:"id"`
	Name        string `json:"name"`
}

// Payment is a payment request (§5.7).
type Payment struct {
	DashboardID              int     `json:"-"`
	PaymentID                int     `json:"payment_id"`
	RequestDate              string  `json:"request_date"`
	Recipient                *string `json:"recipient"`
	Description              string  `json:"description"`
	CustomerPhone            string  `json:"customer_phone"`
	AmountRequested          float64 `json:"amount_requested"`
	IsPastDue                bool    `json:"is_past_due"`
	ReminderWasSent          bool    `json:"reminder_was_sent"`
	TransactionStatus        string  `json:"transaction_status"`
	TextrequestPaymentStatus string  `json:"textrequest_payment_status"`
	ReferenceNumber          string  `json:"reference_number"`
}

// ---- generation ----

const (
	trDashboards  = 3
	trFirstDashID = 4101
	trFirstPayID  = 2510
)

// dashboardZone is the time zone the "local time" contact filters are read in:
// UTC-05:00 without daylight saving, for every dashboard (the reference does not say).
var dashboardZone = time.FixedZone("UTC-05:00", -5*3600)

type trContactRec struct {
	c       Contact     // attributes; message-derived fields are recomputed
	msgs    []TRMessage // newest first
	created int64
}

type trData struct {
	s            *Sim
	seed         uint64
	now0         int64
	nC, nP       int
	stepC, stepP int64
	inv7919      uint64
	dash         []Dashboard
	contacts     []seq
	cOv          []map[int]*trContactRec
	newContacts  [][]*trContactRec
	newByPhone   []map[string]int
	payments     []seq
	pOv          []map[int]*Payment
	newPayRef    map[int][2]int // payment id -> (dashboard index, ref)
	nextPayID    int
	newMsgN      uint64
	newPhoneN    int
	groups       [][]Group
	tags         [][]TRTag
	fields       [][]CustomField
	cache        recCache[trContactRec] // base contacts by di*nC+ref
}

func newTRData(s *Sim) *trData {
	d := &trData{s: s, seed: s.seed, now0: s.now, nC: 150 * s.scale, nP: 34 * s.scale, newPayRef: map[int][2]int{},
		cache: newRecCache[trContactRec](8192)}
	d.stepC = max((2*365*day).Milliseconds()/int64(d.nC), 4)
	d.stepP = max((365*day).Milliseconds()/int64(d.nP), 4)
	d.inv7919 = modInverse(7919, 10000000)
	d.nextPayID = trFirstPayID + 3*d.nP + 3
	names := []string{"Main Line", "Support — Chicago", "Sales East 📞"}
	phones := []string{"4239876543", "321-654-7890", "+1(555)-123-4567"}
	groupNames := []string{"VIP customers", "Newsletter", "Keyword: PIZZA", "Spring promo", "Staff", "Keyword: JOIN"}
	tagNames := []string{"lead", "customer", "follow-up", "VIP ⭐", "spam?", "Spanish", "billing", "do not text"}
	colors := []string{"#e53935", "#1e88e5", "#43a047", "#fdd835", "#8e24aa", "#00acc1", "#6d4c41", "#757575"}
	fieldNames := []string{"Customer ID", "Preferred language", "Birthday", "Account manager"}
	for di := range trDashboards {
		d.dash = append(d.dash, Dashboard{ID: trFirstDashID + di, Name: names[di], Phone: phones[di]})
		d.contacts = append(d.contacts, seq{n: d.nC})
		d.cOv = append(d.cOv, map[int]*trContactRec{})
		d.newContacts = append(d.newContacts, nil)
		d.newByPhone = append(d.newByPhone, map[string]int{})
		d.payments = append(d.payments, seq{n: d.nP})
		d.pOv = append(d.pOv, map[int]*Payment{})
		var gs []Group
		for g, n := range groupNames {
			r := newRnd(d.seed, kindTRGroup, uint64(di), uint64(g))
			gr := Group{DashboardID: d.dash[di].ID, ID: 40472 + di*100 + g, IsKeyword: strings.HasPrefix(n, "Keyword"), Name: n}
			if r.chance(0.5) {
				gr.Notes = ptr("Created for the spring campaign; ask Jane before texting")
			}
			if r.chance(0.6) {
				gr.LastMessageSentUTC = ptr(fmtMS(d.now0 - r.ms(time.Hour, 90*day)))
			}
			gs = append(gs, gr)
		}
		d.groups = append(d.groups, gs)
		var ts []TRTag
		for t, n := range tagNames {
			h := hash3(d.seed, kindTRTag, uint64(di), uint64(t))
			ts = append(ts, TRTag{DashboardID: d.dash[di].ID, ID: guid(h, uint64(di)<<8|uint64(t)), TagColor: colors[t], Tag: n})
		}
		d.tags = append(d.tags, ts)
		var fs []CustomField
		for k, n := range fieldNames {
			h := hash3(d.seed, kindTRField, uint64(di), uint64(k))
			fs = append(fs, CustomField{DashboardID: d.dash[di].ID, ID: guid(h, uint64(di)<<8|uint64(k)), Name: n})
		}
		d.fields = append(d.fields, fs)
	}
	return d
}

func modInverse(a, m int64) uint64 {
	g, x := extGCD(a, m)
	if g != 1 {
		return 0
	}
	return uint64((x%m + m) % m)
}

func extGCD(a, b int64) (int64, int64) {
	oldR, r := a, b
	oldS, s := int64(1), int64(0)
	for r != 0 {
		q := oldR / r
		oldR, r = r, oldR-q*r
		oldS, s = s, oldS-q*s
	}
	return oldR, oldS
}

func (d *trData) dashIndex(id int) (int, bool) {
	i := id - trFirstDashID
	return i, i >= 0 && i < len(d.dash)
}

// phoneOf is the phone of base contact i of dashboard di. Every 10th contact shares
// its number with dashboard 0 (the same person texting two lines). The area code
// encodes the owner dashboard, so numbers never collide within a dashboard.
func (d *trData) phoneOf(di, i int) string {
	od := di
	if i%10 == 0 {
		od = 0
	}
	area := 200 + od*100 + i%97
	num := (uint64(i) * 7919) % 10000000
	a, b, c := num/10000, num%10000, uint64(area)
	buf := make([]byte, 0, 17)
	switch i % 4 {
	case 0:
		buf = appendPadded(appendPadded(buf, c, 3), num, 7)
	case 1:
		buf = appendPadded(append(appendPadded(append(appendPadded(buf, c, 3), '-'), a, 3), '-'), b, 4)
	case 2:
		buf = appendPadded(append(appendPadded(append(appendPadded(append(buf, "+1("...), c, 3), ")-"...), a, 3), '-'), b, 4)
	default:
		buf = appendPadded(appendPadded(append(buf, '1'), c, 3), num, 7)
	}
	return string(buf)
}

// contactRefByPhone finds a contact of dashboard di by phone (digits compared, a
// leading US 1 ignored). Callers hold s.mu.
func (d *trData) contactRefByPhone(di int, phone string) (int, bool) {
	dg := digits(phone)
	if len(dg) == 11 && dg[0] == '1' {
		dg = dg[1:]
	}
	if ref, ok := d.newByPhone[di][dg]; ok {
		return ref, true
	}
	if len(dg) != 10 {
		return 0, false
	}
	num, err := strconv.ParseUint(dg[3:], 10, 64) // dg is 10 digits: area code, then 7
	if err != nil {
		return 0, false
	}
	i := int(num * d.inv7919 % 10000000)
	if i >= d.nC {
		return 0, false
	}
	if samePhone(d.phoneOf(di, i), dg) {
		return i, true
	}
	return 0, false
}

func (d *trData) keyBase(i int) int64 {
	j := int64(hash3(d.seed, kindTRContact, uint64(i), 99) % uint64(d.stepC/2))
	return d.now0 - 90000 - int64(i)*d.stepC - j
}

var (
	trFirst     = []string{"Jane", "Mike", "Carlos", "María", "Nguyễn", "Aisha", "Tom", "Olga", "Chloé", "DeShawn", "李", "Sam 😎"}
	trLast      = []string{"Doe", "Rodriguez", "O'Neil", "Smith", "Văn An", "Khan", "Müller", "Johnson", "Kim"}
	trUsers     = []string{"jane.doe", "Mike R.", "api", "support@acme.example", "Carlos"}
	trBodiesIn  = []string{"Hi, is my order ready?", "Yes please 👍", "Can I reschedule to Tuesday?", "¿Tienen citas mañana?", "Thanks!!", "STOP", "What's the total?", "ok", "Running 10 min late, sorry\nSee you soon"}
	trBodiesOut = []string{"Hi {first_name}, this is Acme Dental. Your appointment is tomorrow at 3pm. Reply C to confirm.", "Your payment link: https://pay.textrequest.example/p/abc123", "Thanks for reaching out! A team member will reply shortly.", "We're open 9–5 today 😊", "Got it, see you then."}
	trDelivery  = []string{"delivered", "delivered", "delivered", "delivered", "delivered", "delivered", "delivered", "sent", "sending", "queued", "undelivered", "error"}
)

// genContact generates base contact i of dashboard di with its messages.
func (d *trData) genContact(di, i int) *trContactRec {
	r := newRnd(d.seed, kindTRContact, uint64(di)<<40|uint64(i), 0)
	dashID := d.dash[di].ID
	c := Contact{DashboardID: dashID, PhoneNumber: d.phoneOf(di, i), Groups: []int{}, ContactTags: []string{}, CustomFields: []CustomFieldValue{}}
	if !r.chance(0.1) {
		c.FirstName = ptr(r.pick(trFirst))
		if r.chance(0.8) {
			c.LastName = ptr(r.pick(trLast))
			c.DisplayName = ptr(*c.FirstName + " " + *c.LastName)
		} else {
			c.DisplayName = c.FirstName
		}
	}
	if r.chance(0.05) {
		c.IsSuppressed = true
		c.SuppressedReason = ptr(r.pick([]string{"Marked as spam", "Manually suppressed"}))
	}
	c.IsBlocked = r.chance(0.03)
	c.IsArchived = i%19 == 4
	c.IsResolved = r.chance(0.5)
	if r.chance(0.2) {
		c.Note = ptr(r.pick([]string{"Prefers texts after 5pm", "Spanish speaker — use María", "VIP, owner of the bakery on 5th"}))
	}
	for g := range d.groups[di] {
		if r.chance(0.2) {
			c.Groups = append(c.Groups, d.groups[di][g].ID)
		}
	}
	for t := range d.tags[di] {
		if r.chance(0.15) {
			c.ContactTags = append(c.ContactTags, d.tags[di][t].ID)
		}
	}
	for k, f := range d.fields[di] {
		if r.chance(0.3) {
			v := &CustomFieldValue{ID: f.ID}
			if !r.chance(0.1) {
				v.Value = ptr(customFieldValue(i, k))
			}
			c.CustomFields = append(c.CustomFields, *v)
		}
	}
	n := 1 + int(hash3(d.seed, kindTRContact, uint64(di)<<40|uint64(i), 98)%6)
	t := d.keyBase(i)
	rec := &trContactRec{msgs: make([]TRMessage, 0, n)}
	for k := range n {
		mr := newRnd(d.seed, kindTRMessage, uint64(di)<<40|uint64(i), uint64(k))
		if k > 0 {
			t -= mr.ms(time.Minute, 5*day)
		}
		rec.msgs = append(rec.msgs, d.genMessage(mr, dashID, c.PhoneNumber, t, guid(mr.u(), uint64(di)<<40|uint64(i)<<8|uint64(k))))
	}
	if r.chance(0.03) {
		c.OptedOutUTC = ptr(fmtMS(d.keyBase(i)))
	}
	rec.created = t - r.ms(time.Hour, 200*day)
	rec.c = c
	return rec
}

// customFieldValue is the value of custom field k of base contact i.
func customFieldValue(i, k int) string {
	if k == 0 {
		return string(appendPadded([]byte("C-"), uint64(i), 5))
	}
	return []string{"", "es", "1990-04-12", "Jane"}[k]
}

func (d *trData) genMessage(r *rnd, dashID int, phone string, t int64, id string) TRMessage {
	m := TRMessage{DashboardID: dashID, PhoneNumber: phone, MessageID: id, MessageTimestampUTC: fmtMS(t), MMSMedia: []string{}}
	if r.chance(0.45) {
		m.MessageDirection = "R"
		m.Body = r.pick(trBodiesIn)
	} else {
		m.MessageDirection = "S"
		m.Body = r.pick(trBodiesOut)
		m.ResponseByUsername = ptr(r.pick(trUsers))
		st := r.pick(trDelivery)
		m.DeliveryStatus = &st
		if st == "error" {
			m.DeliveryError = ptr("30007: Carrier violation")
		}
	}
	if r.chance(0.1) {
		var h [16]byte
		putHex(h[:], r.u())
		m.MMSMedia = append(m.MMSMedia, "https://mms.textrequest.example/media/"+string(h[:])+".jpg")
		if r.chance(0.2) {
			m.Body = ""
		}
	}
	return m
}

// finish derives the message-based contact fields from the messages.
func (rec *trContactRec) finish() Contact {
	c := rec.c
	c.DateCreatedUTC = ptr(fmtMS(rec.created))
	c.FirstContactUTC, c.LastMsgSentUTC, c.LastMsgReceivedUTC, c.LastContactDateUTC, c.LastMessage = nil, nil, nil, nil, nil
	c.TotalMsgsSent, c.TotalMsgsReceived, c.ResponseCount = 0, 0, 0
	for _, m := range rec.msgs {
		ts := m.MessageTimestampUTC
		if m.MessageDirection == "S" {
			c.TotalMsgsSent++
			if c.LastMsgSentUTC == nil {
				c.LastMsgSentUTC = ptr(ts)
			}
		} else {
			c.TotalMsgsReceived++
			c.ResponseCount++
			if c.LastMsgReceivedUTC == nil {
				c.LastMsgReceivedUTC = ptr(ts)
			}
		}
	}
	if len(rec.msgs) > 0 {
		last := rec.msgs[0]
		c.LastMessage = &last
		c.LastContactDateUTC = ptr(last.MessageTimestampUTC)
		c.FirstContactUTC = ptr(rec.msgs[len(rec.msgs)-1].MessageTimestampUTC)
	}
	return c
}

// contactRec returns contact ref of dashboard di (overlay first). Callers hold s.mu.
func (d *trData) contactRec(di, ref int) *trContactRec {
	if ov, ok := d.cOv[di][ref]; ok {
		return ov
	}
	if ref >= d.nC {
		k := ref - d.nC
		if k < len(d.newContacts[di]) {
			return d.newContacts[di][k]
		}
		return nil
	}
	if ref < 0 {
		return nil
	}
	key := di*d.nC + ref
	if rec := d.cache.get(key); rec != nil {
		return rec
	}
	return d.cache.put(key, d.genContact(di, ref))
}

// contactKey orders contacts: most recent activity first (the last message, or the
// creation when there is none).
func (d *trData) contactKey(di, ref int) int64 {
	if ref < d.nC {
		if _, ok := d.cOv[di][ref]; !ok {
			return d.keyBase(ref)
		}
	}
	rec := d.contactRec(di, ref)
	if len(rec.msgs) > 0 {
		return mustParseMS(rec.msgs[0].MessageTimestampUTC)
	}
	return rec.created
}

// ---- payments ----

func (d *trData) payDate(j int) int64 {
	jit := int64(hash3(d.seed, kindTRPayment, uint64(j), 99) % uint64(d.stepP/2))
	return d.now0 - 3*3600000 - int64(j)*d.stepP - jit
}

var (
	payStatuses = []string{"Sent", "Sent", "Sent", "Paid", "Paid", "Paid", "Paid", "Cancelled", "Failed", "PastDue", "PastDue", "MarkedAsPaid"}
	payAmounts  = []float64{49.99, 120, 1250.5, 15.75, 89.95, 300, 0.99, 2499.99}
	payDescs    = []string{"Cleaning + x-ray", "Invoice for March", "Deposit for catering order", "Balance due", "Consultation fee"}
)

func txStatusFor(st string, r *rnd) string {
	switch st {
	case "Paid":
		return "Approved"
	case "Failed":
		return r.pick([]string{"Declined", "Error", "Failed"})
	case "MarkedAsPaid", "Sent", "Cancelled", "PastDue":
		return "Unknown"
	}
	return "Unknown"
}

func (d *trData) genPayment(di, j int) Payment {
	r := newRnd(d.seed, kindTRPayment, uint64(di)<<40|uint64(j), 0)
	ci := r.intn(d.nC)
	c := d.genContact(di, ci).c
	p := Payment{DashboardID: d.dash[di].ID, PaymentID: trFirstPayID + 3*j + di, RequestDate: fmtMS(d.payDate(j)), Recipient: c.DisplayName,
		Description: r.pick(payDescs), CustomerPhone: c.PhoneNumber, ReferenceNumber: fmt.Sprintf("INV-2026-%03d", j%40)}
	if r.chance(0.5) {
		p.AmountRequested = payAmounts[r.intn(len(payAmounts))]
	} else {
		p.AmountRequested = float64(100+r.intn(500000)) / 100
	}
	if r.chance(0.1) {
		p.ReferenceNumber = "receipt-chicago"
	}
	p.TextrequestPaymentStatus = r.pick(payStatuses)
	p.TransactionStatus = txStatusFor(p.TextrequestPaymentStatus, r)
	p.IsPastDue = p.TextrequestPaymentStatus == "PastDue"
	p.ReminderWasSent = r.chance(0.3) || p.IsPastDue
	return p
}

func (d *trData) payment(di, ref int) Payment {
	if p, ok := d.pOv[di][ref]; ok {
		return *p
	}
	return d.genPayment(di, ref)
}

func (d *trData) paymentRef(di, id int) (int, bool) {
	if dr, ok := d.newPayRef[id]; ok {
		return dr[1], dr[0] == di
	}
	x := id - trFirstPayID
	if x < 0 || x%3 != di || x/3 >= d.nP {
		return 0, false
	}
	return x / 3, true
}

// ---- content faults ----

func stripZ(f Faults, s *string) {
	if f.OmitTimeZone && s != nil {
		*s = strings.TrimSuffix(*s, "Z")
	}
}

func (d *trData) faultMessage(f Faults, m *TRMessage) {
	if f.NULCharacters && m.Body != "" && nulPick(m.MessageID) {
		m.Body = insertNUL(m.Body)
	}
	if f.EmptyMessageIDs && mix64(fnv(m.MessageID))%9 == 4 {
		m.MessageID = ""
	}
	stripZ(f, &m.MessageTimestampUTC)
}

func (d *trData) faultContact(f Faults, c *Contact) {
	if f.NULCharacters && c.FirstName != nil && nulPick(c.PhoneNumber) {
		c.FirstName = ptr(insertNUL(*c.FirstName))
		if c.DisplayName != nil {
			c.DisplayName = ptr(insertNUL(*c.DisplayName))
		}
	}
	for _, p := range []*string{c.FirstContactUTC, c.OptedOutUTC, c.LastMsgSentUTC, c.LastMsgReceivedUTC, c.DateCreatedUTC, c.LastContactDateUTC} {
		stripZ(f, p)
	}
	if c.LastMessage != nil {
		m := *c.LastMessage
		d.faultMessage(f, &m)
		c.LastMessage = &m
	}
}

func (d *trData) faultPayment(f Faults, p *Payment) { stripZ(f, &p.RequestDate) }

func (d *trData) faultGroup(f Faults, g *Group) {
	if g.LastMessageSentUTC != nil {
		g.LastMessageSentUTC = ptr(*g.LastMessageSentUTC)
		stripZ(f, g.LastMessageSentUTC)
	}
}

// contact returns the served contact with faults applied. Callers hold s.mu.
func (d *trData) contact(f Faults, di, ref int) Contact {
	c := d.contactRec(di, ref).finish()
	c.Groups = slices.Clone(c.Groups)
	if c.OptedOutUTC != nil {
		// The stored record (a cached base record or a mutation's overlay) is shared
		// between requests: faultContact must edit a copy, or a fault would outlive
		// the request that applied it.
		c.OptedOutUTC = ptr(*c.OptedOutUTC)
	}
	d.faultContact(f, &c)
	return c
}

// messagesOf returns the contact's messages oldest first (chronological), faults applied.
func (d *trData) messagesOf(f Faults, di, ref int) []TRMessage {
	rec := d.contactRec(di, ref)
	out := make([]TRMessage, 0, len(rec.msgs))
	for i := len(rec.msgs) - 1; i >= 0; i-- {
		m := rec.msgs[i]
		m.MMSMedia = slices.Clone(m.MMSMedia)
		d.faultMessage(f, &m)
		out = append(out, m)
	}
	return out
}
