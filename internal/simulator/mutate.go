package simulator

import (
	"fmt"
	"slices"
	"time"
)

// Mutation describes data changes applied by Mutate, as if the customers and staff had
// been busy between two syncs. Which records are touched is chosen deterministically
// from the seed and the number of earlier mutations.
type Mutation struct {
	// Leeloo.
	NewPeople    int // new people, each with one channel and one message
	NewMessages  int // new messages in existing channels (moves them to the front)
	EditedOrders int // status/payment changes of existing orders (updatedAt moves)
	NewOrders    int // new orders of existing people

	// Text Request.
	NewContacts           int // new contacts without messages
	NewTRMessages         int // new messages with existing contacts (unarchives them)
	NewPayments           int
	PaymentStatusChanges  int // e.g. Sent -> Paid
	ArchivedConversations int
	EditedContacts        int // names, note and tags change; no timestamp moves

	// TWIN (see TwinMutation).
	Twin TwinMutation
	// Calltouch. Edits and deletions touch calls of the last 7 days before the present.
	NewCalls       int
	EditedCalls    int // a tag, a comment or a deal added, or the target flag and manager changed
	DeletedCalls   int
	NewRequests    int
	EditedRequests int // a tag, or a comment and the manager, on one of the 20 newest requests

	// Deletions (delete.go): records removed from their lists, chosen among the live
	// ones; per-dashboard kinds go round the dashboards. Restored brings back the most
	// recently deleted records (of the kinds above), after this mutation's deletions.
	DeletedPeople   int
	DeletedChannels int
	DeletedOrders   int
	DeletedTags     int // Leeloo tags
	DeletedContacts int
	DeletedPayments int
	DeletedGroups   int
	DeletedTRTags   int // Text Request tags
	DeletedFields   int // Text Request custom fields
	Restored        int

	// At is the time of the new activity (default: the simulator's present + 1h). The
	// k-th change gets At + k ms. Times before the present are raised to it, so
	// newest-first lists stay ordered. The present then advances to the last change.
	At time.Time
}

// Mutate applies m. Safe to call while requests are being served.
func (s *Sim) Mutate(m Mutation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at := s.now + time.Hour.Milliseconds()
	if !m.At.IsZero() {
		at = max(m.At.UnixMilli(), s.now)
	}
	r := newRnd(s.seed, kindMutation, s.mutN, 0)
	s.mutN++
	n := int64(0)
	tick := func() int64 {
		t := at + n
		n++
		s.now = max(s.now, t)
		return t
	}
	ll, tr := s.ll, s.tr
	for range m.NewPeople {
		ll.newPerson(tick(), r)
	}
	for range m.NewMessages {
		ll.addMessage(r.intn(ll.nChan+ll.newChanN()), tick(), r)
	}
	for range m.EditedOrders {
		ll.editOrder(r.intn(ll.nOrders+ll.newOrderN()), tick(), r)
	}
	for range m.NewOrders {
		ll.newOrder(tick(), r)
	}
	for k := range m.NewContacts {
		tr.newContact(k%trDashboards, tick(), false, r)
	}
	for range m.NewTRMessages {
		di := r.intn(trDashboards)
		tr.addMessage(di, r.intn(tr.nC+len(tr.newContacts[di])), tick(), r)
	}
	for k := range m.NewPayments {
		tr.newPayment(k%trDashboards, tick(), r)
	}
	for range m.PaymentStatusChanges {
		tr.changePayment(tick(), r)
	}
	for range m.ArchivedConversations {
		tr.archive(r)
	}
	for range m.EditedContacts {
		tr.editContact(r)
	}
	s.tw.mutate(m.Twin, tick, r)
	s.mutateCalltouch(m, tick)
	s.applyDeletions(m, r)
	s.version++
}

// driftPerson inserts a new person at the front of people and channels (offset drift).
// Callers hold s.mu for writing.
func (s *Sim) driftPerson() {
	s.now += 1000
	s.ll.newPerson(s.now, newRnd(s.seed, kindFault, 10, uint64(s.now)))
	s.version++
}

// driftMessage adds a message to channel ref (offset drift in its chat).
func (s *Sim) driftMessage(ref int) {
	s.now += 1000
	s.ll.addMessage(ref, s.now, newRnd(s.seed, kindFault, 11, uint64(s.now)))
	s.version++
}

// driftContact inserts a new texting contact at the front of dashboard di.
func (s *Sim) driftContact(di int) {
	s.now += 1000
	s.tr.newContact(di, s.now, true, newRnd(s.seed, kindFault, 12, uint64(s.now)))
	s.version++
}

// ---- Leeloo ----

func (d *leelooData) newChanN() int {
	n := 0
	for ref := range d.chanOv {
		if ref >= d.nChan {
			n++
		}
	}
	return n
}

func (d *leelooData) newOrderN() int {
	n := 0
	for ref := range d.orderOv {
		if ref >= d.nOrders {
			n++
		}
	}
	return n
}

func (d *leelooData) newPerson(at int64, r *rnd) {
	pref := d.nPeople + len(d.newPeople)
	cref := d.nChan + d.newChanN()
	created := at - 2000
	name := r.fullName()
	per := Person{ID: objectID(created, kindPerson, uint64(pref)), Name: &name, CreatedAt: fmtMS(created),
		Phone: fmt.Sprintf("+38067%07d", pref%10000000), Email: fmt.Sprintf("new%d@%s", pref, r.pick(emailDomains)),
		Tags: []string{"lead"}, Locale: "uk_UA", CustomFields: map[string]*string{"city": nil, "source": ptr("instagram ads")}}
	d.newPeople = append(d.newPeople, &personRec{p: per, chans: []int{cref}})
	from := r.pick(froms)
	cc := at - 1000
	ch := Channel{ID: objectID(cc, kindChannel, uint64(cref)), PersonID: per.ID, Name: &name, From: from, ConnectionID: d.connFor(from, r),
		ConnectionStatus: "OK", BotStatus: "BOT", Tags: []string{"lead"}, CreatedAt: fmtMS(cc)}
	rec := &chanRec{ch: ch, person: pref, subs: []Subscription{}}
	t := d.tunnels[r.intn(len(d.tunnels))]
	rec.subs = append(rec.subs, Subscription{TunnelName: t.t.Name, LeadgentoolName: t.lgts[0].Name, TrafficSource: t.lgts[0].TrafficSources[0].Name})
	d.chanOv[cref] = rec
	d.pushMessage(rec, at, r, "FRIEND_MESSAGE")
	d.chans.front(cref, d.chanKey)
	d.people.front(pref, d.personKey)
}

// pushMessage prepends a new message to a materialised channel.
func (d *leelooData) pushMessage(rec *chanRec, at int64, r *rnd, typ string) {
	d.newMsgN++
	m := d.genMessage(r, rec.ch.ID, at, objectID(at, kindNewMessage, d.newMsgN), true)
	if typ != "" && m.Type != typ {
		m.Type, m.Text, m.Links, m.Read = typ, r.pick(friendTexts), nil, false
	}
	rec.msgs = append([]Message{m}, rec.msgs...)
	rec.nMsgs = len(rec.msgs)
	d.finishChan(rec)
}

func (d *leelooData) addMessage(cref int, at int64, r *rnd) {
	rec, ok := d.chanOv[cref]
	if !ok {
		rec = d.genChan(cref, true)
		d.chanOv[cref] = rec
	}
	d.pushMessage(rec, at, r, "")
	d.chans.front(cref, d.chanKey)
	d.people.front(rec.person, d.personKey)
}

func (d *leelooData) editOrder(ref int, at int64, r *rnd) {
	o := d.order(ref)
	switch o.Status {
	case "PENDING", "SUCCESS":
		o.Status = "RESOLVED"
		if r.chance(0.3) {
			o.Status = "REJECTED"
		}
	default:
		o.Status = "SUCCESS"
	}
	o.PaymentDate = ptr(fmtMS(at))
	o.UserComments = ptr("Оплату отримано / payment received")
	o.UpdatedAt = fmtMS(at)
	d.orderOv[ref] = &o
}

func (d *leelooData) newOrder(at int64, r *rnd) {
	ref := d.nOrders + d.newOrderN()
	p := r.intn(d.nPeople + len(d.newPeople))
	o := d.makeOrder(r, objectID(at, kindOrder, uint64(ref)), p, at)
	d.orderOv[ref] = &o
	d.orders.front(ref, d.orderKey)
	d.personOrders[p] = append(d.personOrders[p], ref)
}

// ---- Text Request ----

func cloneContactRec(rec *trContactRec) *trContactRec {
	c := *rec
	c.msgs = slices.Clone(rec.msgs)
	c.c.Groups = slices.Clone(rec.c.Groups)
	c.c.ContactTags = slices.Clone(rec.c.ContactTags)
	c.c.CustomFields = slices.Clone(rec.c.CustomFields)
	if c.c.OptedOutUTC != nil {
		c.c.OptedOutUTC = ptr(*c.c.OptedOutUTC) // not shared with a cached base record
	}
	return &c
}

// ownContact materialises contact ref into the overlay so it can be changed.
func (d *trData) ownContact(di, ref int) *trContactRec {
	if ov, ok := d.cOv[di][ref]; ok {
		return ov
	}
	rec := d.contactRec(di, ref)
	if ref >= d.nC {
		return rec // added contacts are stored in newContacts and owned already
	}
	rec = cloneContactRec(rec)
	d.cOv[di][ref] = rec
	return rec
}

func (d *trData) newContact(di int, at int64, withMessage bool, r *rnd) {
	ref := d.nC + len(d.newContacts[di])
	d.newPhoneN++
	num := fmt.Sprintf("555%07d", d.newPhoneN)
	phone := num
	if d.newPhoneN%2 == 0 {
		phone = fmt.Sprintf("+1(555)-%s-%s", num[3:6], num[6:])
	}
	first := r.pick(trFirst)
	c := Contact{DashboardID: d.dash[di].ID, PhoneNumber: phone, FirstName: &first, DisplayName: &first,
		Groups: []int{}, ContactTags: []string{}, CustomFields: []CustomFieldValue{}}
	rec := &trContactRec{c: c, created: at}
	if withMessage {
		rec.created = at - 500
		d.newMsgN++
		m := d.genMessage(r, c.DashboardID, phone, at, guid(r.u(), 0xff<<40|d.newMsgN))
		m.MessageDirection, m.ResponseByUsername, m.DeliveryStatus, m.DeliveryError = "R", nil, nil, nil
		m.Body = r.pick(trBodiesIn)
		rec.msgs = []TRMessage{m}
	}
	d.newContacts[di] = append(d.newContacts[di], rec)
	d.newByPhone[di][num] = ref
	d.contacts[di].front(ref, func(x int) int64 { return d.contactKey(di, x) })
}

func (d *trData) addMessage(di, ref int, at int64, r *rnd) {
	rec := d.ownContact(di, ref)
	d.newMsgN++
	m := d.genMessage(r, rec.c.DashboardID, rec.c.PhoneNumber, at, guid(r.u(), 0xff<<40|d.newMsgN))
	rec.msgs = append([]TRMessage{m}, rec.msgs...)
	// Any text unarchives the conversation; an inbound one reopens it (§4.5, §5.2).
	rec.c.IsArchived = false
	if m.MessageDirection == "R" {
		rec.c.IsResolved = false
	}
	d.contacts[di].front(ref, func(x int) int64 { return d.contactKey(di, x) })
}

func (d *trData) newPayment(di int, at int64, r *rnd) {
	n := 0
	for ref := range d.pOv[di] {
		if ref >= d.nP {
			n++
		}
	}
	ref := d.nP + n
	cref := r.intn(d.nC + len(d.newContacts[di]))
	c := d.contactRec(di, cref).c
	id := d.nextPayID
	d.nextPayID++
	p := Payment{DashboardID: d.dash[di].ID, PaymentID: id, RequestDate: fmtMS(at), Recipient: c.DisplayName, Description: r.pick(payDescs),
		CustomerPhone: c.PhoneNumber, AmountRequested: payAmounts[r.intn(len(payAmounts))], TransactionStatus: "Unknown",
		TextrequestPaymentStatus: "Sent", ReferenceNumber: fmt.Sprintf("INV-2026-N%03d", id%1000)}
	d.pOv[di][ref] = &p
	d.newPayRef[id] = [2]int{di, ref}
	d.payments[di].front(ref, func(x int) int64 { return mustParseMS(d.payment(di, x).RequestDate) })
}

func (d *trData) changePayment(at int64, r *rnd) {
	var di, ref int
	var p Payment
	for try := range 20 {
		di = r.intn(trDashboards)
		v := d.payments[di].view(nil, nil, nil)
		ref = v.at(r.intn(v.total()))
		p = d.payment(di, ref)
		if p.TextrequestPaymentStatus == "Sent" || p.TextrequestPaymentStatus == "PastDue" || try == 19 {
			break
		}
	}
	if p.TextrequestPaymentStatus == "Sent" || p.TextrequestPaymentStatus == "PastDue" {
		p.TextrequestPaymentStatus, p.TransactionStatus, p.IsPastDue = "Paid", "Approved", false
	} else {
		p.TextrequestPaymentStatus, p.TransactionStatus = "Cancelled", "Unknown"
	}
	_ = at // payments carry no update time (§8): the change is invisible to timestamps
	d.pOv[di][ref] = &p
}

func (d *trData) archive(r *rnd) {
	for try := range 50 {
		di := r.intn(trDashboards)
		ref := r.intn(d.nC + len(d.newContacts[di]))
		rec := d.contactRec(di, ref)
		if (len(rec.msgs) == 0 || rec.c.IsArchived) && try < 49 {
			continue
		}
		d.ownContact(di, ref).c.IsArchived = true
		return
	}
}

func (d *trData) editContact(r *rnd) {
	di := r.intn(trDashboards)
	ref := r.intn(d.nC + len(d.newContacts[di]))
	rec := d.ownContact(di, ref)
	first, last := r.pick(trFirst), r.pick(trLast)
	rec.c.FirstName, rec.c.LastName = &first, &last
	rec.c.DisplayName = ptr(first + " " + last)
	rec.c.Note = ptr("Edited: prefers email for invoices")
	t := d.tags[di][r.intn(len(d.tags[di]))].ID
	if !slices.Contains(rec.c.ContactTags, t) {
		rec.c.ContactTags = append(rec.c.ContactTags, t)
	}
}
