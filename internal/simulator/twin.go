package simulator

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// TWIN defaults (twin-api.md §2: a normal TWIN user logs in with e-mail and password).
const (
	DefaultTwinEmail     = "demo@twin.example"
	DefaultTwinPassword  = "demo-twin-password"
	DefaultTwinCompanyID = 1001
	// TwinIAMPath and TwinChatPath are where the simulator serves TWIN's IAM and chat
	// APIs: TWIN_IAM_URL and TWIN_CHAT_URL are the simulator's address plus these. The
	// real hosts are iam.twin24.ai and chat-api.twin24.ai, both under /api/v1; the
	// simulator serves Leeloo's /api/v1 on the same address, hence the prefixes.
	TwinIAMPath  = "/twin/iam/api/v1"
	TwinChatPath = "/twin/chat/api/v1"
)

// TwinChat is a chat (a widget or messenger channel bound to a bot), GET /chats.
type TwinChat struct {
	ID               string   `json:"id"`
	BotID            string   `json:"botId"`
	Name             string   `json:"name"`
	BotName          string   `json:"botName"`
	SessionTTL       int      `json:"sessionTtl"`
	EventCallbackURL *string  `json:"eventCallbackUrl"`
	Messengers       []string `json:"messengers"`
	CreatedAt        string   `json:"createdAt"`
	UpdatedAt        string   `json:"updatedAt"`
}

// TwinAttribute is a client-attribute definition (A2).
type TwinAttribute struct {
	ID        string `json:"id"`
	CompanyID int64  `json:"companyId"`
	Name      string `json:"name"`
}

// TwinClientAttribute is one client's value of one attribute (A6).
type TwinClientAttribute struct {
	ID        string `json:"id"` // the attribute id
	ClientID  string `json:"clientId"`
	CompanyID int64  `json:"companyId"`
	Name      string `json:"name"`
	Value     string `json:"value"`
}

// TwinOperator is an entry of a session's operators list.
type TwinOperator struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// TwinMessageRef is the short form of a message embedded in a session (lastMessage,
// lastOperatorMessage, firstClientMessageAfterLastOperatorMessage).
type TwinMessageRef struct {
	ID         string `json:"id"`
	AuthorType string `json:"authorType"`
	Body       string `json:"body"`
	CreatedAt  string `json:"createdAt"`
}

// TwinSession is a chat session (GET /sessions item, SessionInfo in the SDK, plus
// createdAt and updatedAt, which the dateRangeField filter names).
type TwinSession struct {
	ID                       string          `json:"id"`
	ChatID                   string          `json:"chatId"`
	Name                     string          `json:"name"`
	MarkedAsSpam             bool            `json:"markedAsSpam"`
	TTL                      int             `json:"ttl"`
	OperatorID               *string         `json:"operatorId"`
	OperatorName             *string         `json:"operatorName"`
	OperatorAssignedAt       *string         `json:"operatorAssignedAt"`
	Operators                []TwinOperator  `json:"operators"`
	Channel                  string          `json:"channel"`
	MessengerType            string          `json:"messengerType"`
	BotStatus                string          `json:"botStatus"`
	Status                   string          `json:"status"`
	StartedAt                string          `json:"startedAt"`
	ClientOnlineAt           *string         `json:"clientOnlineAt"`
	ClientOfflineAt          *string         `json:"clientOfflineAt"`
	UnreadClientMessageCount int             `json:"unreadClientMessageCount"`
	LastMessageCreatedAt     *string         `json:"lastMessageCreatedAt"`
	LastMessage              *TwinMessageRef `json:"lastMessage"`
	ClientID                 string          `json:"clientId"`
	ClientExternalID         *string         `json:"clientExternalId"`
	ClientBanned             bool            `json:"clientBanned"`
	Referer                  *string         `json:"referer"`
	Tags                     []string        `json:"tags"`
	TimerFirstAnswer         *int            `json:"timerFirstAnswer"`
	TimerNextAnswers         *int            `json:"timerNextAnswers"`
	LastOperatorMessage      *TwinMessageRef `json:"lastOperatorMessage"`
	FirstClientMessageAfter  *TwinMessageRef `json:"firstClientMessageAfterLastOperatorMessage"`
	CreatedAt                string          `json:"createdAt"`
	UpdatedAt                string          `json:"updatedAt"`
}

// TwinAttachment is a file attached to a message.
type TwinAttachment struct {
	URL      string `json:"url"`
	Name     string `json:"name"`
	MimeType string `json:"mimeType"`
	Size     int    `json:"size"`
}

// TwinKeyboard is the inline keyboard of a bot message.
type TwinKeyboard struct {
	Buttons []string `json:"buttons"`
}

// TwinMessage is a message of a session (GET /sessions/{id}/messages item,
// MessageListItem in the SDK).
type TwinMessage struct {
	ID          string           `json:"id"`
	AuthorID    *string          `json:"authorId"`
	AuthorType  string           `json:"authorType"`
	AuthorName  *string          `json:"authorName"`
	Type        string           `json:"type"`
	Body        string           `json:"body"`
	Answers     []string         `json:"answers"`
	Keyboard    *TwinKeyboard    `json:"keyboard"`
	ReadAt      *string          `json:"readAt"`
	CreatedAt   string           `json:"createdAt"`
	UpdatedAt   string           `json:"updatedAt"`
	Attachments []TwinAttachment `json:"attachments"`
	SessionID   string           `json:"sessionId"`
	ReplyTo     *string          `json:"replyTo"`
}

// twinAttr is an attribute definition; values live on the clients.
type twinAttr struct {
	a       TwinAttribute
	deleted bool
}

type twinClient struct {
	id       string
	name     string
	phone    string // as the client gave it ("" when unknown)
	external *string
	values   map[string]string // attribute id -> value
}

type twinSess struct {
	s      TwinSession
	client *twinClient
	seq    int // generation index: messages derive from it
	nBase  int // generated messages
	extra  []TwinMessage
	start  int64 // startedAt in ms
	update int64 // updatedAt in ms
}

// twinData is the TWIN cabinet of one company. Unlike the Leeloo and Text Request data
// it is materialised at New (sessions and clients: ~300 and 150 per scale unit); only
// messages are derived on demand from (seed, session).
type twinData struct {
	seed     uint64
	company  int64
	now      int64
	chats    []TwinChat
	attrs    []*twinAttr
	clients  []*twinClient
	byClient map[string]*twinClient
	sessions []*twinSess // in startedAt order, oldest first
	byID     map[string]*twinSess
	ops      []TwinOperator
	newN     uint64 // records added since New (ids of new ones)
}

const (
	kindTwinChat    = 0x40
	kindTwinClient  = 0x41
	kindTwinSession = 0x42
	kindTwinMessage = 0x43
	kindTwinAttr    = 0x44
	kindTwinNew     = 0x45
	kindTwinOp      = 0x46
)

var (
	twinAttrNames  = []string{"Имя клиента", "Возраст", "Тема обращения", "Телефон", "Город", "Email", "Номер заказа 🧾"}
	twinCities     = []string{"Москва", "Санкт-Петербург", "Екатеринбург", "Новосибирск", "Казань", "Нижний Новгород", "Самара"}
	twinTopics     = []string{"Доставка 📦", "Возврат товара", "Оплата 💳", "Консультация", "Жалоба 😡", "Сотрудничество", "Запись на приём"}
	twinMessengers = []string{"telegram", "whatsapp", "vk", "viber", "widget"}
	twinClientText = []string{
		"Здравствуйте! Где мой заказ?", "Добрый день, хочу оформить возврат", "Сколько стоит доставка в Казань?",
		"Спасибо большое 🙏", "Можно оплатить картой?", "Алло, вы меня слышите?", "Мне никто не перезвонил 😠",
		"Ок 👍", "А когда откроетесь после праздников?", "Пришлите, пожалуйста, счёт на e-mail",
	}
	twinOperatorText = []string{
		"Здравствуйте! Меня зовут %s, чем могу помочь?", "Проверяю информацию, минутку ⏳", "Заказ передан в доставку 🚚",
		"Возврат оформлен, деньги придут в течение 10 дней", "Да, оплата картой доступна 💳", "Хорошего дня! 😊",
	}
	twinBotText = []string{
		"Привет! Я бот-помощник 🤖 Выберите тему обращения:", "Пожалуйста, уточните номер заказа", "Соединяю с оператором…",
		"Спасибо за обращение! Оцените, пожалуйста, работу оператора ⭐",
	}
	twinOpNames = []string{"Ольга Смирнова", "Иван Петров", "Мария Кузнецова", "Алексей Соколов", "Дарья Волкова", "Тимур Хасанов"}
	twinTags    = []string{"vip", "повторное обращение", "доставка", "оплата", "спам?", "🔥 горячий"}
)

// twinPhone renders one phone number in one of several formats clients type.
func twinPhone(n uint64, style int) string {
	sub := 9000000000 + n%1000000000 // a Russian mobile number: 9XX XXX XX XX
	s := strconv.FormatUint(sub, 10)
	switch style % 8 {
	case 0:
		return "+7" + s
	case 1:
		return "8" + s
	case 2:
		return fmt.Sprintf("+7 (%s) %s-%s-%s", s[:3], s[3:6], s[6:8], s[8:])
	case 3:
		return fmt.Sprintf("8 %s %s %s %s", s[:3], s[3:6], s[6:8], s[8:])
	case 4:
		return "7" + s
	case 5:
		return "+380 67 " + s[3:6] + " " + s[6:] // a Ukrainian number
	case 6:
		return s // ten digits, no country code
	default:
		return "тел. " + s[5:] // unreadable: too short
	}
}

func (r *rnd) twinName() string {
	switch r.intn(5) {
	case 0:
		return "@" + r.pick(emailUsers) + strconv.Itoa(r.intn(1000))
	default:
		return r.fullName()
	}
}

func newTwinData(s *Sim) *twinData {
	d := &twinData{seed: s.seed, company: s.opts.TwinCompanyID, now: s.now, byClient: map[string]*twinClient{}, byID: map[string]*twinSess{}}
	now := d.now
	for i := range 6 {
		h := hash3(d.seed, kindTwinOp, uint64(i), 0)
		d.ops = append(d.ops, TwinOperator{ID: guid(h, uint64(0x0a00+i)), Name: twinOpNames[i%len(twinOpNames)]})
	}
	nChats := 3 + s.scale
	for i := range nChats {
		r := newRnd(d.seed, kindTwinChat, uint64(i), 0)
		created := now - r.ms(400*24*time.Hour, 800*24*time.Hour)
		c := TwinChat{
			ID: guid(r.u(), uint64(0x0c00+i)), BotID: guid(r.u(), uint64(0x0b00+i)),
			Name:    []string{"Сайт — виджет", "Telegram-бот", "WhatsApp поддержка", "Продажи 💬", "ВКонтакте"}[i%5] + suffix(i, 5),
			BotName: []string{"Помощник Алиса", "Бот продаж", "FAQ-бот 🤖"}[i%3], SessionTTL: []int{3600, 86400, 604800}[i%3],
			Messengers: []string{twinMessengers[i%len(twinMessengers)]}, CreatedAt: fmtMS(created),
			UpdatedAt: fmtMS(created + r.ms(0, 300*24*time.Hour)),
		}
		if i%2 == 0 {
			c.EventCallbackURL = ptr("https://crm.example.ru/twin/events?chat=" + strconv.Itoa(i))
			c.Messengers = append(c.Messengers, "widget")
		}
		d.chats = append(d.chats, c)
	}
	for i, name := range twinAttrNames {
		d.attrs = append(d.attrs, &twinAttr{a: TwinAttribute{ID: twinAttrID(d.seed, uint64(i)), CompanyID: d.company, Name: name}})
	}
	nClients := 150 * s.scale
	type plan struct {
		c     *twinClient
		start int64
	}
	var plans []plan
	for i := range nClients {
		r := newRnd(d.seed, kindTwinClient, uint64(i), 0)
		c := &twinClient{id: guid(r.u(), uint64(0x10000000+i)), name: r.twinName(), values: map[string]string{}}
		if r.chance(0.7) {
			c.phone = twinPhone(r.u(), r.intn(8))
		}
		if r.chance(0.3) {
			c.external = ptr("crm-" + strconv.Itoa(10000+i))
		}
		d.fillValues(c, r)
		d.clients = append(d.clients, c)
		d.byClient[c.id] = c
		nSess := 1 + r.intn(3)
		for range nSess {
			plans = append(plans, plan{c: c, start: now - r.ms(time.Hour, 400*24*time.Hour)})
		}
	}
	slices.SortStableFunc(plans, func(a, b plan) int { return int(a.start - b.start) })
	for i, p := range plans {
		d.addSession(newRnd(d.seed, kindTwinSession, uint64(i), 0), p.c, p.start, uint64(i), false)
	}
	return d
}

func suffix(i, n int) string {
	if i < n {
		return ""
	}
	return " #" + strconv.Itoa(i/n+1)
}

func twinAttrID(seed, n uint64) string {
	var b [24]byte
	putHex(b[0:16], hash3(seed, kindTwinAttr, n, 0))
	putHex(b[16:24], n)
	return string(b[:])
}

// fillValues gives a client values for a random subset of the live attributes.
func (d *twinData) fillValues(c *twinClient, r *rnd) {
	for _, a := range d.attrs {
		if a.deleted || !r.chance(0.5) {
			continue
		}
		c.values[a.a.ID] = d.valueFor(a.a.Name, c, r)
	}
}

func (d *twinData) valueFor(name string, c *twinClient, r *rnd) string {
	switch name {
	case "Имя клиента":
		return c.name
	case "Возраст":
		return strconv.Itoa(18 + r.intn(60))
	case "Тема обращения":
		return r.pick(twinTopics)
	case "Телефон":
		if c.phone != "" {
			return c.phone
		}
		return twinPhone(r.u(), r.intn(8))
	case "Город":
		return r.pick(twinCities)
	case "Email":
		return r.pick(emailUsers) + strconv.Itoa(r.intn(100)) + "@" + r.pick(emailDomains)
	default:
		return "№ " + strconv.Itoa(100000+r.intn(900000)) + " — " + r.pick(twinTopics)
	}
}

// addSession creates a session of client c started at start, with its messages.
func (d *twinData) addSession(r *rnd, c *twinClient, start int64, seq uint64, open bool) *twinSess {
	chat := d.chats[r.intn(len(d.chats))]
	mt := chat.Messengers[0]
	name := c.name
	if (mt == "whatsapp" || mt == "viber") && c.phone != "" {
		name = c.phone // phone messengers show the number as the session name
	}
	ts := &twinSess{client: c, seq: int(seq), start: start, nBase: 2 + r.intn(12)}
	s := TwinSession{
		ID: guid(r.u(), 0x20000000+seq), ChatID: chat.ID, Name: name, TTL: chat.SessionTTL,
		Channel: "chat", MessengerType: mt, BotStatus: "finished", Status: "closed",
		StartedAt: fmtMS(start), ClientID: c.id, ClientExternalID: c.external, Operators: []TwinOperator{},
		Tags: []string{}, CreatedAt: fmtMS(start - 500),
	}
	if r.chance(0.3) {
		s.Tags = append(s.Tags, r.pick(twinTags))
	}
	if r.chance(0.02) {
		s.MarkedAsSpam = true
	}
	if r.chance(0.01) {
		s.ClientBanned = true
	}
	if mt == "widget" {
		s.Referer = ptr("https://shop.example.ru/catalog?utm_source=yandex&q=" + strconv.Itoa(r.intn(1000)))
	}
	if open {
		s.Status, s.BotStatus = "open", "active"
	}
	ts.s = s
	d.sessions = append(d.sessions, ts)
	d.byID[s.ID] = ts
	d.finish(ts)
	return ts
}

// finish recomputes a session's fields that follow from its messages.
func (d *twinData) finish(ts *twinSess) {
	msgs := d.messages(ts)
	s := &ts.s
	last := msgs[len(msgs)-1]
	s.LastMessageCreatedAt = ptr(last.CreatedAt)
	s.LastMessage = twinRefOf(last)
	s.LastOperatorMessage, s.FirstClientMessageAfter, s.OperatorID, s.OperatorName, s.OperatorAssignedAt = nil, nil, nil, nil, nil
	s.Operators = []TwinOperator{}
	unread := 0
	for _, m := range msgs {
		switch m.AuthorType {
		case "operator":
			s.LastOperatorMessage = twinRefOf(m)
			s.FirstClientMessageAfter = nil
			if s.OperatorID == nil {
				s.OperatorID, s.OperatorName, s.OperatorAssignedAt = m.AuthorID, m.AuthorName, ptr(m.CreatedAt)
				s.Operators = append(s.Operators, TwinOperator{ID: *m.AuthorID, Name: *m.AuthorName})
			}
		case "client":
			if s.LastOperatorMessage != nil && s.FirstClientMessageAfter == nil {
				s.FirstClientMessageAfter = twinRefOf(m)
			}
			if m.ReadAt == nil {
				unread++
			}
		}
	}
	s.UnreadClientMessageCount = unread
	if s.OperatorAssignedAt != nil {
		s.TimerFirstAnswer = ptr(int(10 + hash3(d.seed, kindTwinSession, uint64(ts.seq), 9)%600))
		s.TimerNextAnswers = ptr(int(5 + hash3(d.seed, kindTwinSession, uint64(ts.seq), 10)%120))
	}
	s.ClientOnlineAt = ptr(fmtMS(ts.start))
	lastMS := ts.start
	if t, err := time.Parse(layoutMS, last.CreatedAt); err == nil {
		lastMS = t.UnixMilli()
	}
	if s.Status == "closed" {
		s.ClientOfflineAt = ptr(fmtMS(lastMS + 60000))
	} else {
		s.ClientOfflineAt = nil
	}
	ts.update = max(ts.update, lastMS)
	s.UpdatedAt = fmtMS(ts.update)
}

func twinRefOf(m TwinMessage) *TwinMessageRef {
	return &TwinMessageRef{ID: m.ID, AuthorType: m.AuthorType, Body: m.Body, CreatedAt: m.CreatedAt}
}

// messages returns a session's messages, oldest first.
func (d *twinData) messages(ts *twinSess) []TwinMessage {
	out := make([]TwinMessage, 0, ts.nBase+len(ts.extra))
	at := ts.start
	var op *TwinOperator
	for k := range ts.nBase {
		r := newRnd(d.seed, kindTwinMessage, uint64(ts.seq), uint64(k))
		at += r.ms(5*time.Second, 20*time.Minute)
		var role int
		switch {
		case k == 0:
			role = 0 // the client opens
		case k == 1:
			role = 2 // the bot answers
		default:
			role = r.intn(3)
		}
		if role == 1 && op == nil {
			op = &d.ops[r.intn(len(d.ops))]
		}
		m := d.genMessage(r, ts, uint64(k), at, role, op)
		out = append(out, m)
	}
	return append(out, ts.extra...)
}

// genMessage builds one message; role 0 client, 1 operator, 2 bot.
func (d *twinData) genMessage(r *rnd, ts *twinSess, k uint64, at int64, role int, op *TwinOperator) TwinMessage {
	m := TwinMessage{
		ID: guid(r.u(), 0x30000000_0000+uint64(ts.seq)<<16+k), Type: "text", SessionID: ts.s.ID,
		CreatedAt: fmtMS(at), UpdatedAt: fmtMS(at), Attachments: []TwinAttachment{}, Answers: []string{},
	}
	switch role {
	case 0:
		m.AuthorType, m.AuthorID, m.AuthorName = "client", ptr(ts.client.id), ptr(ts.client.name)
		m.Body = r.pick(twinClientText)
		if r.chance(0.1) {
			m.Type = "file"
			m.Attachments = append(m.Attachments, TwinAttachment{URL: "https://files.twin24.example/" + m.ID + "/photo.jpg",
				Name: "фото_чека.jpg", MimeType: "image/jpeg", Size: 20000 + r.intn(2000000)})
		}
	case 1:
		m.AuthorType, m.AuthorID, m.AuthorName = "operator", ptr(op.ID), ptr(op.Name)
		m.Body = r.pick(twinOperatorText)
		if m.Body == twinOperatorText[0] {
			m.Body = fmt.Sprintf(m.Body, op.Name)
		}
	default:
		m.AuthorType, m.AuthorName = "bot", ptr("Бот")
		m.Body = r.pick(twinBotText)
		if r.chance(0.5) {
			m.Answers = []string{"Доставка", "Оплата", "Оператор"}
			m.Keyboard = &TwinKeyboard{Buttons: []string{"Да ✅", "Нет ❌"}}
		}
	}
	if role != 0 || r.chance(0.8) {
		m.ReadAt = ptr(fmtMS(at + r.ms(time.Second, 10*time.Minute)))
	}
	if k > 2 && r.chance(0.1) {
		m.ReplyTo = ptr(guid(newRnd(d.seed, kindTwinMessage, uint64(ts.seq), k-1).u(), 0x30000000_0000+uint64(ts.seq)<<16+k-1))
	}
	return m
}

// liveAttrs returns the attribute definitions not deleted, in creation order.
func (d *twinData) liveAttrs() []TwinAttribute {
	var out []TwinAttribute
	for _, a := range d.attrs {
		if !a.deleted {
			out = append(out, a.a)
		}
	}
	return out
}

// clientValues returns a client's values in attribute order.
func (d *twinData) clientValues(c *twinClient) []TwinClientAttribute {
	out := []TwinClientAttribute{}
	for _, a := range d.attrs {
		v, ok := c.values[a.a.ID]
		if a.deleted || !ok {
			continue
		}
		out = append(out, TwinClientAttribute{ID: a.a.ID, ClientID: c.id, CompanyID: d.company, Name: a.a.Name, Value: v})
	}
	return out
}

func (d *twinData) attr(id string) *twinAttr {
	for _, a := range d.attrs {
		if a.a.ID == id && !a.deleted {
			return a
		}
	}
	return nil
}

// ---- changes between syncs ----

// newClientSession starts a session of a new client (NewSessions, offset drift).
func (d *twinData) newClientSession(at int64, r *rnd) *twinSess {
	d.newN++
	n := uint64(len(d.clients))
	c := &twinClient{id: guid(r.u(), 0x18000000+n), name: r.twinName(), values: map[string]string{}}
	if r.chance(0.7) {
		c.phone = twinPhone(r.u(), r.intn(8))
	}
	d.fillValues(c, r)
	d.clients = append(d.clients, c)
	d.byClient[c.id] = c
	return d.addSession(r, c, at, uint64(len(d.sessions)), true)
}

// addMessage appends a client message to a session, moving its updatedAt.
func (d *twinData) addMessage(ts *twinSess, at int64, r *rnd) {
	d.newN++
	m := TwinMessage{
		ID: guid(r.u(), 0x38000000_0000+d.newN), AuthorType: "client", AuthorID: ptr(ts.client.id), AuthorName: ptr(ts.client.name),
		Type: "text", Body: r.pick(twinClientText), CreatedAt: fmtMS(at), UpdatedAt: fmtMS(at), SessionID: ts.s.ID,
		Attachments: []TwinAttachment{}, Answers: []string{},
	}
	ts.extra = append(ts.extra, m)
	ts.s.Status, ts.s.BotStatus = "open", "active"
	ts.update = at
	d.finish(ts)
}

// closeSession closes an open session or reassigns a closed one's tags: a change
// without a new message that still moves updatedAt.
func (d *twinData) touchSession(ts *twinSess, at int64, r *rnd) {
	if ts.s.Status == "open" {
		ts.s.Status, ts.s.BotStatus = "closed", "finished"
	} else {
		ts.s.Tags = append(slices.Clone(ts.s.Tags), r.pick(twinTags))
	}
	ts.update = at
	d.finish(ts)
}

// editValue changes or sets a client's value: an operator's edit, no timestamp moves.
func (d *twinData) editValue(r *rnd) {
	c := d.clients[r.intn(len(d.clients))]
	live := d.liveAttrs()
	if len(live) == 0 {
		return
	}
	a := live[r.intn(len(live))]
	v := d.valueFor(a.Name, c, r)
	if c.values[a.ID] == v {
		v += " (изм.)"
	}
	c.values[a.ID] = v
}

// clearValue removes one of a client's values.
func (d *twinData) clearValue(r *rnd) {
	for range 50 {
		c := d.clients[r.intn(len(d.clients))]
		for _, a := range d.clientValues(c) {
			delete(c.values, a.ID)
			return
		}
	}
}

func (d *twinData) createAttr(name string) TwinAttribute {
	d.newN++
	a := &twinAttr{a: TwinAttribute{ID: twinAttrID(d.seed, 0x1000+d.newN), CompanyID: d.company, Name: name}}
	d.attrs = append(d.attrs, a)
	return a.a
}

// session returns the live session with this id.
func (d *twinData) session(id string) *twinSess { return d.byID[id] }

// TwinMutation is the TWIN part of a Mutation.
type TwinMutation struct {
	NewSessions     int // sessions of new clients (open, one or more messages)
	NewMessages     int // client messages in existing sessions (updatedAt moves, the session reopens)
	TouchedSessions int // sessions closed or re-tagged: updatedAt moves, no message
	EditedValues    int // operators' edits of client attribute values: no timestamp moves
	ClearedValues   int // client values removed: no timestamp moves
	NewAttributes   int // attribute definitions created (no values yet)
	RenamedAttrs    int // attribute definitions renamed
	DeletedAttrs    int // attribute definitions deleted, with their values
	EditedChats     int // chats renamed (updatedAt moves)
}

// mutate applies m; tick gives each change its time. Callers hold s.mu for writing.
func (d *twinData) mutate(m TwinMutation, tick func() int64, r *rnd) {
	for range m.NewSessions {
		d.newClientSession(tick(), r)
	}
	for range m.NewMessages {
		d.addMessage(d.sessions[r.intn(len(d.sessions))], tick(), r)
	}
	for range m.TouchedSessions {
		d.touchSession(d.sessions[r.intn(len(d.sessions))], tick(), r)
	}
	for range m.EditedValues {
		d.editValue(r)
	}
	for range m.ClearedValues {
		d.clearValue(r)
	}
	for k := range m.NewAttributes {
		d.createAttr("Новый атрибут " + strconv.Itoa(int(d.newN)+k) + " ✨")
	}
	for range m.RenamedAttrs {
		if live := d.liveAttrs(); len(live) > 0 {
			d.attr(live[r.intn(len(live))].ID).a.Name += " (переименован)"
		}
	}
	for range m.DeletedAttrs {
		if live := d.liveAttrs(); len(live) > 1 {
			a := d.attr(live[r.intn(len(live))].ID)
			a.deleted = true
			for _, c := range d.clients {
				delete(c.values, a.a.ID)
			}
		}
	}
	for range m.EditedChats {
		c := &d.chats[r.intn(len(d.chats))]
		c.Name += " ✏️"
		c.UpdatedAt = fmtMS(tick())
	}
}

// TwinTruth is every TWIN record as served now (content faults applied, except
// unknown fields).
type TwinTruth struct {
	CompanyID  int64
	Chats      []TwinChat
	Attributes []TwinAttribute
	// Sessions are in startedAt order, oldest first.
	Sessions []TwinSession
	// Messages are every session's messages, oldest first per session.
	Messages []TwinMessage
	// ClientAttributes are every client's values, clients in order of first session.
	ClientAttributes []TwinClientAttribute
	// ClientIDs are the clients seen in sessions, in order of their first session.
	ClientIDs []string
}

// TwinTruth returns a snapshot of the TWIN data.
func (s *Sim) TwinTruth() TwinTruth {
	f := s.Faults()
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.tw
	t := TwinTruth{CompanyID: d.company, Chats: slices.Clone(d.chats), Attributes: d.liveAttrs()}
	seen := map[*twinClient]bool{}
	for _, ts := range d.sessions {
		ss := ts.s
		s.sessionFault(f)(&ss)
		t.Sessions = append(t.Sessions, ss)
		t.Messages = append(t.Messages, s.sessionMessages(f, ts)...)
		if !seen[ts.client] {
			seen[ts.client] = true
			t.ClientIDs = append(t.ClientIDs, ts.client.id)
			t.ClientAttributes = append(t.ClientAttributes, d.clientValues(ts.client)...)
		}
	}
	return t
}

// TwinClientAttributes returns one client's current attribute values (A6 without
// paging), for tests of writers; nil for an unknown client.
func (s *Sim) TwinClientAttributes(clientID string) []TwinClientAttribute {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c := s.tw.byClient[clientID]
	if c == nil {
		return nil
	}
	return s.tw.clientValues(c)
}

// TwinAttributes returns the live attribute definitions (A2 without paging).
func (s *Sim) TwinAttributes() []TwinAttribute {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tw.liveAttrs()
}
