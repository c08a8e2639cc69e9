package simulator

import "slices"

// Truth is a deep copy of the current data exactly as the endpoints serve it (with the
// content faults active at the time of the call: NUL characters, duplicate or empty
// message ids, timestamps without zone), for tests to compare a warehouse with. It
// materialises every record, so it is meant for tests at small scales (≤ 10).
type Truth struct {
	Leeloo      LeelooTruth
	TextRequest TextRequestTruth
}

// LeelooTruth is every Leeloo record, lists in the API's order.
type LeelooTruth struct {
	People   []Person // detail fields filled (Gender, Locale, CustomFields, SubscribeHistory, Links)
	Channels []Channel
	// Messages are every channel's messages (newest first per channel), ChannelID set.
	// They are also the v1 chat history: /api/v1/accounts/{ChannelID}/chat-messages.
	Messages           []Message
	Orders             []Order
	Tunnels            []Tunnel
	Leadgentools       []Leadgentool
	TrafficSources     []TrafficSource // LeadgentoolID set
	TunnelStats        []TunnelStats
	Users              []User
	Tags               []Tag
	Connections        []Connection
	TemplateCategories []TemplateCategory
	Templates          []Template // CategoryID set
	// Accounts is the v1 view of the channels, detail fields filled.
	Accounts []Account
}

// TextRequestTruth is every Text Request record; each carries its DashboardID.
type TextRequestTruth struct {
	Dashboards []Dashboard
	Contacts   []Contact
	// Conversations lists every contact with messages, archived ones included
	// (IsArchived says which the default list hides).
	Conversations []Conversation
	// Messages are every contact's messages, oldest first per contact, PhoneNumber set.
	Messages     []TRMessage
	Groups       []Group
	Tags         []TRTag
	CustomFields []CustomField
	// Payments are in the default list order (request_date descending).
	Payments []Payment
}

// Truth returns a snapshot of the current data.
func (s *Sim) Truth() Truth {
	f := s.Faults()
	s.mu.RLock()
	defer s.mu.RUnlock()
	var t Truth
	d := s.ll
	lt := &t.Leeloo
	for _, ref := range d.people.all() {
		p, _ := d.person(ref, true)
		d.faultPerson(f, &p)
		lt.People = append(lt.People, p)
	}
	for _, ref := range d.chans.all() {
		c := d.chanRec(ref, false).ch
		d.faultChannel(f, &c)
		lt.Channels = append(lt.Channels, c)
		a, _ := d.account(ref, true)
		d.faultAccount(f, &a)
		lt.Accounts = append(lt.Accounts, a)
		lt.Messages = append(lt.Messages, d.messages(f, ref)...)
	}
	for _, ref := range d.orders.all() {
		lt.Orders = append(lt.Orders, d.order(ref))
	}
	for _, tr := range d.tunnels {
		tun := tr.t
		tun.Links.Leadgentools = slices.Clone(tun.Links.Leadgentools)
		lt.Tunnels = append(lt.Tunnels, tun)
		st := tr.stats
		st.Revenue = slices.Clone(st.Revenue)
		lt.TunnelStats = append(lt.TunnelStats, st)
		for _, lg := range tr.lgts {
			lg.TrafficSources = slices.Clone(lg.TrafficSources)
			lt.Leadgentools = append(lt.Leadgentools, lg)
			lt.TrafficSources = append(lt.TrafficSources, lg.TrafficSources...)
		}
	}
	lt.Users = slices.Clone(d.users)
	lt.Tags = slices.Clone(liveItems(s, "ll-tag", d.tags, llTagID))
	lt.Connections = slices.Clone(d.conns)
	lt.TemplateCategories = slices.Clone(d.cats)
	lt.Templates = slices.Clone(d.templates)

	x := s.tr
	tt := &t.TextRequest
	tt.Dashboards = slices.Clone(x.dash)
	for di := range x.dash {
		for _, ref := range x.contacts[di].all() {
			c := x.contact(f, di, ref)
			tt.Contacts = append(tt.Contacts, c)
			if c.LastMessage != nil {
				tt.Conversations = append(tt.Conversations, Conversation{DashboardID: c.DashboardID, IsArchived: c.IsArchived, PhoneNumber: c.PhoneNumber, LastMessage: *c.LastMessage})
			}
			tt.Messages = append(tt.Messages, x.messagesOf(f, di, ref)...)
		}
		tt.Groups = append(tt.Groups, s.groupsOf(f, di)...)
		tt.Tags = append(tt.Tags, liveItems(s, "tr-tag", x.tags[di], trTagID)...)
		tt.CustomFields = append(tt.CustomFields, liveItems(s, "tr-field", x.fields[di], trFieldID)...)
		var ps []Payment
		for _, ref := range x.payments[di].all() {
			p := x.payment(di, ref)
			x.faultPayment(f, &p)
			ps = append(ps, p)
		}
		slices.SortStableFunc(ps, func(a, b Payment) int {
			if a.RequestDate != b.RequestDate {
				if a.RequestDate > b.RequestDate {
					return -1
				}
				return 1
			}
			return b.PaymentID - a.PaymentID
		})
		tt.Payments = append(tt.Payments, ps...)
	}
	return t
}
