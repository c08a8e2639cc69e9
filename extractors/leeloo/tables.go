package leeloo

import (
	"github.com/crmsync/crmsync/extractors/internal/lenient"
	"github.com/crmsync/crmsync/internal/stream"
)

// col is one column of a table and how to read its value from the source value T. Keeping
// the name, the type and the getter together is what keeps Desc.Tables and the rows in
// step; TestTablesMatchMigration keeps them in step with the migration.
type col[T any] struct {
	name, typ string
	get       func(*T) any
}

// tableDef is a target table whose rows are built from values of type T.
type tableDef[T any] struct {
	name      string
	key       []string
	parentKey []string
	cols      []col[T]
}

// table is the stream.Table the loader sees.
func (d tableDef[T]) table() stream.Table {
	t := stream.Table{Name: d.name, Key: d.key, ParentKey: d.parentKey}
	for _, c := range d.cols {
		t.Columns = append(t.Columns, stream.Column{Name: c.name, Type: c.typ})
	}
	return t
}

// row builds the row of v in column order.
func (d tableDef[T]) row(v *T) stream.Row {
	r := make(stream.Row, len(d.cols))
	for i, c := range d.cols {
		r[i] = c.get(v)
	}
	return r
}

// Column types, as written in migrations/00002_create_leeloo.sql.
const (
	tText   = "text"
	tTexts  = "text[]"
	tTime   = "timestamptz"
	tJSON   = "jsonb"
	tBool   = "boolean"
	tNum    = "numeric"
	tBigint = "bigint"
	tInt    = "integer"
)

// Table names.
const (
	tabPeople         = "leeloo.people"
	tabPersonChannels = "leeloo.person_channels"
	tabChannels       = "leeloo.communication_channels"
	tabMessages       = "leeloo.messages"
	tabOrders         = "leeloo.orders"
	tabTunnels        = "leeloo.tunnels"
	tabLeadgentools   = "leeloo.leadgentools"
	tabTrafficSources = "leeloo.traffic_sources"
	tabTunnelStats    = "leeloo.tunnel_stats"
	tabStatsRevenue   = "leeloo.tunnel_stats_revenue"
	tabUsers          = "leeloo.users"
	tabTags           = "leeloo.tags"
	tabConnections    = "leeloo.connections"
	tabCategories     = "leeloo.template_categories"
	tabTemplates      = "leeloo.templates"
	tabAccounts       = "leeloo.accounts"
	tabSubscriptions  = "leeloo.account_subscriptions"
)

var peopleTable = tableDef[Person]{
	name: tabPeople, key: []string{"id"},
	cols: []col[Person]{
		{"id", tText, func(p *Person) any { return p.ID.Value() }},
		{"name", tText, func(p *Person) any { return p.Name.Value() }},
		{"phone", tText, func(p *Person) any { return p.Phone.Value() }},
		{"phone_digits", tText, func(p *Person) any { return digits(p.Phone.Value()) }},
		{"phone_e164", tText, func(p *Person) any { return e164(p.Phone.Value(), p.region) }},
		{"email", tText, func(p *Person) any { return p.Email.Value() }},
		{"tags", tTexts, func(p *Person) any { return p.Tags.Value() }},
		{"gender", tText, func(p *Person) any { return p.Gender.Value() }},
		{"locale", tText, func(p *Person) any { return p.Locale.Value() }},
		{"custom_fields", tJSON, func(p *Person) any { return lenient.JSON(p.CustomFields) }},
		{"last_message_time", tTime, func(p *Person) any { return p.LastMessageTime.Value() }},
		{"created_at", tTime, func(p *Person) any { return p.CreatedAt.Value() }},
		{"updated_at", tTime, func(p *Person) any { return p.UpdatedAt.Value() }},
		{"raw", tJSON, func(p *Person) any { return p.raw }},
	},
}

var personChannelsTable = tableDef[personChannel]{
	name: tabPersonChannels, key: []string{"person_id", "account_id"}, parentKey: []string{"person_id"},
	cols: []col[personChannel]{
		{"person_id", tText, func(c *personChannel) any { return c.personID }},
		{"account_id", tText, func(c *personChannel) any { return c.AccountID.Value() }},
		{"connection_id", tText, func(c *personChannel) any { return c.ConnectionID.Value() }},
		{"connection_status", tText, func(c *personChannel) any { return c.ConnectionStatus.Value() }},
		{"from_messenger", tText, func(c *personChannel) any { return c.From.Value() }},
		{"raw", tJSON, func(c *personChannel) any { return c.raw }},
	},
}

var channelsTable = tableDef[Channel]{
	name: tabChannels, key: []string{"id"},
	cols: []col[Channel]{
		{"id", tText, func(c *Channel) any { return c.ID.Value() }},
		{"person_id", tText, func(c *Channel) any { return c.PersonID.Value() }},
		{"name", tText, func(c *Channel) any { return c.Name.Value() }},
		{"from_messenger", tText, func(c *Channel) any { return c.From.Value() }},
		{"connection_id", tText, func(c *Channel) any { return c.ConnectionID.Value() }},
		{"connection_status", tText, func(c *Channel) any { return c.ConnectionStatus.Value() }},
		{"bot_status", tText, func(c *Channel) any { return c.BotStatus.Value() }},
		{"tags", tTexts, func(c *Channel) any { return c.Tags.Value() }},
		{"utm_source", tText, func(c *Channel) any { return c.UTM.Source.Value() }},
		{"utm_medium", tText, func(c *Channel) any { return c.UTM.Medium.Value() }},
		{"utm_campaign", tText, func(c *Channel) any { return c.UTM.Campaign.Value() }},
		{"utm_content", tText, func(c *Channel) any { return c.UTM.Content.Value() }},
		{"utm_term", tText, func(c *Channel) any { return c.UTM.Term.Value() }},
		{"last_message_time", tTime, func(c *Channel) any { return c.LastMessageTime.Value() }},
		{"created_at", tTime, func(c *Channel) any { return c.CreatedAt.Value() }},
		{"updated_at", tTime, func(c *Channel) any { return c.UpdatedAt.Value() }},
		{"raw", tJSON, func(c *Channel) any { return c.raw }},
	},
}

var messagesTable = tableDef[Message]{
	name: tabMessages, key: []string{"channel_id", "id"},
	cols: []col[Message]{
		{"channel_id", tText, func(m *Message) any { return m.channelID }},
		{"id", tText, func(m *Message) any { return m.ID.Value() }},
		{"text", tText, func(m *Message) any { return m.Text.Value() }},
		{"type", tText, func(m *Message) any { return m.Type.Value() }},
		{"read", tBool, func(m *Message) any { return m.Read.Value() }},
		{"created_by_user_id", tText, func(m *Message) any { return m.Links.CreatedBy.ID.Value() }},
		{"created_at", tTime, func(m *Message) any { return m.CreatedAt.Value() }},
		{"updated_at", tTime, func(m *Message) any { return m.UpdatedAt.Value() }},
		{"raw", tJSON, func(m *Message) any { return m.raw }},
	},
}

var ordersTable = tableDef[Order]{
	name: tabOrders, key: []string{"id"},
	cols: []col[Order]{
		{"id", tText, func(o *Order) any { return o.ID.Value() }},
		{"person_id", tText, func(o *Order) any { return o.PersonID.Value() }},
		{"account_id", tText, func(o *Order) any { return o.AccountID.Value() }},
		{"offer_id", tText, func(o *Order) any { return o.OfferID.Value() }},
		{"offer_name", tText, func(o *Order) any { return o.OfferName.Value() }},
		{"payment_credits_id", tText, func(o *Order) any { return o.PaymentCreditsID.Value() }},
		{"payment_method", tText, func(o *Order) any { return o.PaymentMethod.Value() }},
		{"manager_id", tText, func(o *Order) any { return o.ManagerID.Value() }},
		{"price", tNum, func(o *Order) any { return o.Price.Value() }},
		{"currency", tText, func(o *Order) any { return o.Currency.Value() }},
		{"status", tText, func(o *Order) any { return o.Status.Value() }},
		{"is_manual", tBool, func(o *Order) any { return o.IsManual.Value() }},
		{"has_partial_payments", tBool, func(o *Order) any { return o.HasPartialPayments.Value() }},
		{"email", tText, func(o *Order) any { return o.Email.Value() }},
		{"phone", tText, func(o *Order) any { return o.Phone.Value() }},
		{"phone_digits", tText, func(o *Order) any { return digits(o.Phone.Value()) }},
		{"phone_e164", tText, func(o *Order) any { return e164(o.Phone.Value(), o.region) }},
		{"transaction_date", tTime, func(o *Order) any { return o.TransactionDate.Value() }},
		{"payment_date", tTime, func(o *Order) any { return o.PaymentDate.Value() }},
		{"user_comments", tText, func(o *Order) any { return o.UserComments.Value() }},
		{"created_at", tTime, func(o *Order) any { return o.CreatedAt.Value() }},
		{"updated_at", tTime, func(o *Order) any { return o.UpdatedAt.Value() }},
		{"raw", tJSON, func(o *Order) any { return o.raw }},
	},
}

var tunnelsTable = tableDef[Tunnel]{
	name: tabTunnels, key: []string{"id"},
	cols: []col[Tunnel]{
		{"id", tText, func(t *Tunnel) any { return t.ID.Value() }},
		{"name", tText, func(t *Tunnel) any { return t.Name.Value() }},
		{"status", tText, func(t *Tunnel) any { return t.Status.Value() }},
		{"leadgentool_ids", tTexts, func(t *Tunnel) any { return refIDs(t.Links.Leadgentools) }},
		{"created_at", tTime, func(t *Tunnel) any { return t.CreatedAt.Value() }},
		{"updated_at", tTime, func(t *Tunnel) any { return t.UpdatedAt.Value() }},
		{"raw", tJSON, func(t *Tunnel) any { return t.raw }},
	},
}

var leadgentoolsTable = tableDef[Leadgentool]{
	name: tabLeadgentools, key: []string{"id"}, parentKey: []string{"tunnel_id"},
	cols: []col[Leadgentool]{
		{"id", tText, func(l *Leadgentool) any { return l.ID.Value() }},
		{"tunnel_id", tText, func(l *Leadgentool) any { return l.tunnelID }},
		{"name", tText, func(l *Leadgentool) any { return l.Name.Value() }},
		{"created_at", tTime, func(l *Leadgentool) any { return l.CreatedAt.Value() }},
		{"updated_at", tTime, func(l *Leadgentool) any { return l.UpdatedAt.Value() }},
		{"raw", tJSON, func(l *Leadgentool) any { return l.raw }},
	},
}

var trafficSourcesTable = tableDef[TrafficSource]{
	name: tabTrafficSources, key: []string{"leadgentool_id", "source_key"}, parentKey: []string{"tunnel_id"},
	cols: []col[TrafficSource]{
		{"leadgentool_id", tText, func(s *TrafficSource) any { return s.leadgentoolID }},
		{"source_key", tText, func(s *TrafficSource) any { return s.key() }},
		{"id", tText, func(s *TrafficSource) any { return s.ID.Value() }},
		{"tunnel_id", tText, func(s *TrafficSource) any { return s.tunnelID }},
		{"name", tText, func(s *TrafficSource) any { return s.Name.Value() }},
		{"description", tText, func(s *TrafficSource) any { return s.Description.Value() }},
		{"raw", tJSON, func(s *TrafficSource) any { return s.raw }},
	},
}

var tunnelStatsTable = tableDef[TunnelStat]{
	name: tabTunnelStats, key: []string{"tunnel_id", "captured_at"},
	cols: []col[TunnelStat]{
		{"tunnel_id", tText, func(s *TunnelStat) any { return s.TunnelID.Value() }},
		{"captured_at", tTime, func(s *TunnelStat) any { return s.capturedAt }},
		{"tunnel_name", tText, func(s *TunnelStat) any { return s.TunnelName.Value() }},
		{"subscribers_count", tBigint, func(s *TunnelStat) any { return s.SubscribersCount.Value() }},
		{"active_subscribers_count", tBigint, func(s *TunnelStat) any { return s.ActiveSubscribersCount.Value() }},
		{"unsubscribed_count", tBigint, func(s *TunnelStat) any { return s.UnsubscribedCount.Value() }},
		{"orders_count", tBigint, func(s *TunnelStat) any { return s.OrdersCount.Value() }},
		{"successful_orders_count", tBigint, func(s *TunnelStat) any { return s.SuccessfulOrdersCount.Value() }},
		{"revenue", tJSON, func(s *TunnelStat) any { return lenient.JSON(s.Revenue) }},
		{"raw", tJSON, func(s *TunnelStat) any { return s.raw }},
	},
}

var statsRevenueTable = tableDef[revenueRow]{
	name: tabStatsRevenue, key: []string{"tunnel_id", "captured_at", "ordinal"}, parentKey: []string{"tunnel_id", "captured_at"},
	cols: []col[revenueRow]{
		{"tunnel_id", tText, func(r *revenueRow) any { return r.tunnelID }},
		{"captured_at", tTime, func(r *revenueRow) any { return r.capturedAt }},
		{"ordinal", tInt, func(r *revenueRow) any { return r.ordinal }},
		{"currency", tText, func(r *revenueRow) any { return r.Currency.Value() }},
		{"amount", tNum, func(r *revenueRow) any { return r.Amount.Value() }},
		{"raw", tJSON, func(r *revenueRow) any { return r.raw }},
	},
}

var usersTable = tableDef[User]{
	name: tabUsers, key: []string{"id"},
	cols: []col[User]{
		{"id", tText, func(u *User) any { return u.ID.Value() }},
		{"name", tText, func(u *User) any { return u.Name.Value() }},
		{"email", tText, func(u *User) any { return u.Email.Value() }},
		{"role", tText, func(u *User) any { return u.Role.Value() }},
		{"created_at", tTime, func(u *User) any { return u.CreatedAt.Value() }},
		{"updated_at", tTime, func(u *User) any { return u.UpdatedAt.Value() }},
		{"raw", tJSON, func(u *User) any { return u.raw }},
	},
}

var tagsTable = tableDef[Tag]{
	name: tabTags, key: []string{"id"},
	cols: []col[Tag]{
		{"id", tText, func(t *Tag) any { return t.ID.Value() }},
		{"name", tText, func(t *Tag) any { return t.Name.Value() }},
		{"raw", tJSON, func(t *Tag) any { return t.raw }},
	},
}

var connectionsTable = tableDef[Connection]{
	name: tabConnections, key: []string{"id"},
	cols: []col[Connection]{
		{"id", tText, func(c *Connection) any { return c.ID.Value() }},
		{"name", tText, func(c *Connection) any { return c.Name.Value() }},
		{"type", tText, func(c *Connection) any { return c.Type.Value() }},
		{"from_messenger", tText, func(c *Connection) any { return c.From.Value() }},
		{"status", tText, func(c *Connection) any { return c.Status.Value() }},
		{"created_at", tTime, func(c *Connection) any { return c.CreatedAt.Value() }},
		{"updated_at", tTime, func(c *Connection) any { return c.UpdatedAt.Value() }},
		{"raw", tJSON, func(c *Connection) any { return c.raw }},
	},
}

var categoriesTable = tableDef[TemplateCategory]{
	name: tabCategories, key: []string{"id"},
	cols: []col[TemplateCategory]{
		{"id", tText, func(c *TemplateCategory) any { return c.ID.Value() }},
		{"name", tText, func(c *TemplateCategory) any { return c.Name.Value() }},
		{"raw", tJSON, func(c *TemplateCategory) any { return c.raw }},
	},
}

var templatesTable = tableDef[Template]{
	name: tabTemplates, key: []string{"category_id", "id"}, parentKey: []string{"category_id"},
	cols: []col[Template]{
		{"category_id", tText, func(t *Template) any { return t.categoryID }},
		{"id", tText, func(t *Template) any { return t.ID.Value() }},
		{"message_name", tText, func(t *Template) any { return t.MessageName.Value() }},
		{"raw", tJSON, func(t *Template) any { return t.raw }},
	},
}

var accountsTable = tableDef[Account]{
	name: tabAccounts, key: []string{"id"},
	cols: []col[Account]{
		{"id", tText, func(a *Account) any { return a.ID.Value() }},
		{"name", tText, func(a *Account) any { return firstOf(a.detail.Name.Value(), a.Name.Value()) }},
		{"tags", tTexts, func(a *Account) any { return firstOf(a.detail.Tags.Value(), a.Tags.Value()) }},
		{"from_messenger", tText, func(a *Account) any { return firstOf(a.detail.From.Value(), a.From.Value()) }},
		{"bot_status", tText, func(a *Account) any { return firstOf(a.detail.BotStatus.Value(), a.BotStatus.Value()) }},
		{"email", tText, func(a *Account) any { return firstOf(a.detail.Email.Value(), a.Email.Value()) }},
		{"phone", tText, func(a *Account) any { return firstOf(a.detail.Phone.Value(), a.Phone.Value()) }},
		{"phone_digits", tText, func(a *Account) any { return digits(firstOf(a.detail.Phone.Value(), a.Phone.Value())) }},
		{"phone_e164", tText, func(a *Account) any { return e164(firstOf(a.detail.Phone.Value(), a.Phone.Value()), a.region) }},
		{"gender", tText, func(a *Account) any { return firstOf(a.detail.Gender.Value(), a.Gender.Value()) }},
		{"locale", tText, func(a *Account) any { return firstOf(a.detail.Locale.Value(), a.Locale.Value()) }},
		{"contacted_user_ids", tTexts, func(a *Account) any { return a.detail.contactedUserIDs() }},
		{"order_ids", tTexts, func(a *Account) any { return refIDs(a.detail.Links.Orders) }},
		{"last_message_time", tTime, func(a *Account) any { return firstOf(a.LastMessageTime.Value(), a.detail.LastMessageTime.Value()) }},
		{"created_at", tTime, func(a *Account) any { return firstOf(a.CreatedAt.Value(), a.detail.CreatedAt.Value()) }},
		{"updated_at", tTime, func(a *Account) any { return firstOf(a.detail.UpdatedAt.Value(), a.UpdatedAt.Value()) }},
		{"raw", tJSON, func(a *Account) any { return a.raw }},
		{"detail_raw", tJSON, func(a *Account) any { return lenient.JSON(a.detailRaw) }},
	},
}

var subscriptionsTable = tableDef[subscription]{
	name: tabSubscriptions, key: []string{"account_id", "ordinal"}, parentKey: []string{"account_id"},
	cols: []col[subscription]{
		{"account_id", tText, func(s *subscription) any { return s.accountID }},
		{"ordinal", tInt, func(s *subscription) any { return s.ordinal }},
		{"tunnel_name", tText, func(s *subscription) any { return s.TunnelName.Value() }},
		{"leadgentool_name", tText, func(s *subscription) any { return s.LeadgentoolName.Value() }},
		{"traffic_source", tText, func(s *subscription) any { return s.TrafficSource.Value() }},
		{"raw", tJSON, func(s *subscription) any { return s.raw }},
	},
}

// firstOf returns the first non-nil value.
func firstOf(vs ...any) any {
	for _, v := range vs {
		if v != nil {
			return v
		}
	}
	return nil
}
