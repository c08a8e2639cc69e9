package leeloo

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/crmsync/crmsync/extractors/internal/lenient"
)

// The DTOs mirror the reference (/work/shared/reference/leeloo-api.md): documented fields
// ([DOC]) and the proposed shapes ([INF]) alike, all optional. Fields the API adds later stay
// in raw. Lowercase fields are filled by the extractor, not by JSON.

// ref is a JSON:API-style link {"type": "users", "id": "…"}.
type ref struct {
	Type FlexString `json:"type"`
	ID   FlexString `json:"id"`
}

// refIDs lists the ids of refs for a text[] column (nil when there are none).
func refIDs(refs []ref) any {
	var ids []string
	for _, r := range refs {
		if v, ok := r.ID.Value().(string); ok {
			ids = append(ids, v)
		}
	}
	if ids == nil {
		return nil
	}
	return ids
}

// Person is an item of GET /api/v2/people (§6.1; detail fields of §6.2 when present).
type Person struct {
	ID              FlexString        `json:"id"`
	Name            FlexString        `json:"name"`
	Phone           FlexString        `json:"phone"`
	Email           FlexString        `json:"email"`
	Tags            lenient.Strings   `json:"tags"`
	Gender          FlexString        `json:"gender"`
	Locale          FlexString        `json:"locale"`
	CustomFields    json.RawMessage   `json:"custom_fields"`
	Accounts        []json.RawMessage `json:"accounts"`
	LastMessageTime lenient.Time      `json:"lastMessageTime"`
	CreatedAt       lenient.Time      `json:"createdAt"`
	UpdatedAt       lenient.Time      `json:"updatedAt"`

	raw    json.RawMessage
	region string // phone_e164's region for numbers without a country code
}

// PersonAccount is an entry of a person's accounts[]: one of its communication channels.
type PersonAccount struct {
	AccountID        FlexString `json:"account_id"`
	ConnectionID     FlexString `json:"connection_id"`
	ConnectionStatus FlexString `json:"connection_status"`
	From             FlexString `json:"from"`
}

// personChannel is a PersonAccount with its person, a row of leeloo.person_channels.
type personChannel struct {
	PersonAccount
	personID string
	raw      json.RawMessage
}

// Channel is an item of GET /api/v2/communication-channels (§6.3, shape [INF]).
type Channel struct {
	ID               FlexString      `json:"id"`
	PersonID         FlexString      `json:"person_id"`
	Name             FlexString      `json:"name"`
	From             FlexString      `json:"from"`
	ConnectionID     FlexString      `json:"connection_id"`
	ConnectionStatus FlexString      `json:"connection_status"`
	BotStatus        FlexString      `json:"botStatus"`
	Tags             lenient.Strings `json:"tags"`
	UTM              UTM             `json:"utm"`
	LastMessageTime  lenient.Time    `json:"lastMessageTime"`
	CreatedAt        lenient.Time    `json:"createdAt"`
	UpdatedAt        lenient.Time    `json:"updatedAt"`

	raw json.RawMessage
}

// UTM is a channel's utm object; null leaves it empty.
type UTM struct {
	Source   FlexString `json:"utm_source"`
	Medium   FlexString `json:"utm_medium"`
	Campaign FlexString `json:"utm_campaign"`
	Content  FlexString `json:"utm_content"`
	Term     FlexString `json:"utm_term"`
}

// Message is an item of the v2 and v1 chat-messages lists (§4.3, §6.5).
type Message struct {
	ID        FlexString   `json:"id"`
	Text      FlexString   `json:"text"`
	Type      FlexString   `json:"type"`
	Read      lenient.Bool `json:"read"`
	CreatedAt lenient.Time `json:"createdAt"`
	UpdatedAt lenient.Time `json:"updatedAt"`
	Links     struct {
		CreatedBy ref `json:"createdBy"`
	} `json:"links"`

	channelID any // the chat's id, a string boxed once per chat
	raw       json.RawMessage
}

// Order is an item of GET /api/v2/orders (§6.6, shape [INF]).
type Order struct {
	ID                 FlexString     `json:"id"`
	PersonID           FlexString     `json:"personId"`
	AccountID          FlexString     `json:"accountId"`
	OfferID            FlexString     `json:"offerId"`
	OfferName          FlexString     `json:"offerName"`
	PaymentCreditsID   FlexString     `json:"paymentCreditsId"`
	PaymentMethod      FlexString     `json:"paymentMethod"`
	ManagerID          FlexString     `json:"managerId"`
	Price              lenient.Number `json:"price"`
	Currency           FlexString     `json:"currency"`
	Status             FlexString     `json:"status"`
	IsManual           lenient.Bool   `json:"isManual"`
	HasPartialPayments lenient.Bool   `json:"hasPartialPayments"`
	Email              FlexString     `json:"email"`
	Phone              FlexString     `json:"phone"`
	TransactionDate    lenient.Time   `json:"transactionDate"`
	PaymentDate        lenient.Time   `json:"paymentDate"`
	UserComments       FlexString     `json:"userComments"`
	CreatedAt          lenient.Time   `json:"createdAt"`
	UpdatedAt          lenient.Time   `json:"updatedAt"`

	raw    json.RawMessage
	region string // phone_e164's region for numbers without a country code
}

// Tunnel is an item of GET /api/v2/tunnels (§6.7, shape [INF]).
type Tunnel struct {
	ID        FlexString   `json:"id"`
	Name      FlexString   `json:"name"`
	Status    FlexString   `json:"status"`
	CreatedAt lenient.Time `json:"createdAt"`
	UpdatedAt lenient.Time `json:"updatedAt"`
	Links     struct {
		Leadgentools []ref `json:"leadgentools"`
	} `json:"links"`

	raw json.RawMessage
}

// Leadgentool is an entry of a tunnel detail's included.leadgentools (§6.7, [INF]).
type Leadgentool struct {
	ID             FlexString        `json:"id"`
	Name           FlexString        `json:"name"`
	TunnelID       FlexString        `json:"tunnelId"`
	CreatedAt      lenient.Time      `json:"createdAt"`
	UpdatedAt      lenient.Time      `json:"updatedAt"`
	TrafficSources []json.RawMessage `json:"trafficSources"`

	tunnelID string
	raw      json.RawMessage
}

// TrafficSource is an entry of a lead generation tool's trafficSources (§6.7, [INF]).
type TrafficSource struct {
	ID          FlexString `json:"id"`
	Name        FlexString `json:"name"`
	Description FlexString `json:"description"`

	leadgentoolID, tunnelID string
	raw                     json.RawMessage
}

// key is the source's key within its tool: the id when the API sends one (the reference
// infers ids), else its name.
func (s *TrafficSource) key() any {
	if id, ok := s.ID.Value().(string); ok && id != "" {
		return id
	}
	if name, ok := s.Name.Value().(string); ok {
		return "name:" + name
	}
	return nil
}

// TunnelStat is an item of GET /api/v2/tunnels/stats or the data of /tunnels/{id}/stats
// (§6.8, shape [INF]).
type TunnelStat struct {
	TunnelID               FlexString      `json:"tunnelId"`
	TunnelName             FlexString      `json:"tunnelName"`
	SubscribersCount       lenient.Int     `json:"subscribersCount"`
	ActiveSubscribersCount lenient.Int     `json:"activeSubscribersCount"`
	UnsubscribedCount      lenient.Int     `json:"unsubscribedCount"`
	OrdersCount            lenient.Int     `json:"ordersCount"`
	SuccessfulOrdersCount  lenient.Int     `json:"successfulOrdersCount"`
	Revenue                json.RawMessage `json:"revenue"`

	capturedAt time.Time
	raw        json.RawMessage
}

// Revenue is an entry of a tunnel stat's revenue list.
type Revenue struct {
	Currency FlexString     `json:"currency"`
	Amount   lenient.Number `json:"amount"`
}

// revenueRow is a Revenue with its snapshot, a row of leeloo.tunnel_stats_revenue.
type revenueRow struct {
	Revenue
	tunnelID   string
	capturedAt time.Time
	ordinal    int32
	raw        json.RawMessage
}

// User is an item of GET /api/v2/users (§6.9); timestamps may have minute precision.
type User struct {
	ID        FlexString   `json:"id"`
	Name      FlexString   `json:"name"`
	Email     FlexString   `json:"email"`
	Role      FlexString   `json:"role"`
	CreatedAt lenient.Time `json:"createdAt"`
	UpdatedAt lenient.Time `json:"updatedAt"`

	raw json.RawMessage
}

// Tag is an item of GET /api/v2/tags (§6.10, [INF]).
type Tag struct {
	ID   FlexString `json:"id"`
	Name FlexString `json:"name"`

	raw json.RawMessage
}

// Connection is an item of GET /api/v2/connections (§6.10, [INF]).
type Connection struct {
	ID        FlexString   `json:"id"`
	Name      FlexString   `json:"name"`
	Type      FlexString   `json:"type"`
	From      FlexString   `json:"from"`
	Status    FlexString   `json:"status"`
	CreatedAt lenient.Time `json:"createdAt"`
	UpdatedAt lenient.Time `json:"updatedAt"`

	raw json.RawMessage
}

// TemplateCategory is an entry of GET /api/v2/categories/templates (§6.11).
type TemplateCategory struct {
	ID   FlexString `json:"id"`
	Name FlexString `json:"name"`

	raw json.RawMessage
}

// Template is an entry of GET /api/v2/categories/templates/{category_id} (§6.11).
type Template struct {
	ID          FlexString `json:"id"`
	MessageName FlexString `json:"message_name"`

	categoryID string
	raw        json.RawMessage
}

// Account is an item of GET /api/v1/accounts (§4.1) joined with the data of its detail
// GET /api/v1/accounts/{id}?include=contactedUsers,orders (§4.2).
type Account struct {
	AccountFields
	detail    AccountFields
	raw       json.RawMessage
	detailRaw json.RawMessage
	region    string // phone_e164's region for numbers without a country code
}

// AccountFields are the fields of a v1 account in the list and in the detail.
type AccountFields struct {
	ID               FlexString        `json:"id"`
	Name             FlexString        `json:"name"`
	Tags             lenient.Strings   `json:"tags"`
	From             FlexString        `json:"from"`
	BotStatus        FlexString        `json:"botStatus"`
	Email            FlexString        `json:"email"`
	Phone            FlexString        `json:"phone"`
	Gender           FlexString        `json:"gender"`
	Locale           FlexString        `json:"locale"`
	SubscribeHistory []json.RawMessage `json:"subscribeHistory"`
	Links            struct {
		ContactedUsers []ref `json:"contactedUsers"`
		Users          []ref `json:"users"` // the field list's name for contactedUsers (§10.5)
		Orders         []ref `json:"orders"`
	} `json:"links"`
	LastMessageTime lenient.Time `json:"lastMessageTime"`
	CreatedAt       lenient.Time `json:"createdAt"`
	UpdatedAt       lenient.Time `json:"updatedAt"`
}

func (a *AccountFields) contactedUserIDs() any {
	return firstOf(refIDs(a.Links.ContactedUsers), refIDs(a.Links.Users))
}

// Subscription is an entry of a v1 account's subscribeHistory (names only).
type Subscription struct {
	TunnelName      FlexString `json:"tunnelName"`
	LeadgentoolName FlexString `json:"leadgentoolName"`
	TrafficSource   FlexString `json:"trafficSource"`
}

// subscription is a Subscription with its account and position.
type subscription struct {
	Subscription
	accountID string
	ordinal   int32
	raw       json.RawMessage
}

// keyed is a decoded record whose key can be checked.
type keyed interface{ idText() string }

func (p *Person) idText() string           { return p.ID.Text() }
func (c *Channel) idText() string          { return c.ID.Text() }
func (m *Message) idText() string          { return m.ID.Text() }
func (o *Order) idText() string            { return o.ID.Text() }
func (t *Tunnel) idText() string           { return t.ID.Text() }
func (l *Leadgentool) idText() string      { return l.ID.Text() }
func (s *TunnelStat) idText() string       { return s.TunnelID.Text() }
func (u *User) idText() string             { return u.ID.Text() }
func (t *Tag) idText() string              { return t.ID.Text() }
func (c *Connection) idText() string       { return c.ID.Text() }
func (c *TemplateCategory) idText() string { return c.ID.Text() }
func (t *Template) idText() string         { return t.ID.Text() }
func (a *Account) idText() string          { return a.ID.Text() }

// decode decodes one list item into a new T and checks its key; keyField names the key in
// the error.
func decode[T any, PT interface {
	*T
	keyed
}](raw json.RawMessage, keyField string) (*T, error) {
	v := PT(new(T))
	if err := decodeItem(raw, v); err != nil {
		return nil, err
	}
	if v.idText() == "" {
		return nil, fmt.Errorf("field %s: missing or empty (the record's key)", keyField)
	}
	return (*T)(v), nil
}
