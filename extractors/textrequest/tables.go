package textrequest

import (
	"github.com/crmsync/crmsync/internal/stream"
)

// Source is the source name of every Text Request stream (sync.state, sync.runs, logs).
const Source = "textrequest"

// Table names, as in migrations/00003_create_textrequest.sql.
const (
	tblDashboards          = "textrequest.dashboards"
	tblContacts            = "textrequest.contacts"
	tblContactTags         = "textrequest.contact_tags"
	tblContactGroups       = "textrequest.contact_groups"
	tblContactCustomFields = "textrequest.contact_custom_fields"
	tblConversations       = "textrequest.conversations"
	tblMessages            = "textrequest.messages"
	tblPayments            = "textrequest.payments"
	tblGroups              = "textrequest.groups"
	tblTags                = "textrequest.tags"
	tblCustomFields        = "textrequest.custom_fields"
)

// Stream names.
const (
	StreamDashboards    = "dashboards"
	StreamContacts      = "contacts"
	StreamConversations = "conversations"
	StreamMessages      = "messages"
	StreamPayments      = "payments"
	StreamGroups        = "groups"
	StreamTags          = "tags"
	StreamCustomFields  = "custom_fields"
)

// lastMessageColumns are the typed columns a nested Message (contact.last_message,
// conversation.last_message) maps to.
var lastMessageColumns = []stream.Column{
	{Name: "last_message_id", Type: "text"},
	{Name: "last_message_body", Type: "text"},
	{Name: "last_message_direction", Type: "text"},
	{Name: "last_message_response_by_username", Type: "text"},
	{Name: "last_message_timestamp_utc", Type: "timestamptz"},
	{Name: "last_message_delivery_status", Type: "text"},
	{Name: "last_message_delivery_error", Type: "text"},
	{Name: "last_message_mms_media", Type: "text[]"},
}

func cols(groups ...[]stream.Column) []stream.Column {
	var out []stream.Column
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

var rawColumn = []stream.Column{{Name: "raw", Type: "jsonb"}}

var (
	dashboardsTable = stream.Table{
		Name: tblDashboards,
		Key:  []string{"id"},
		Columns: cols([]stream.Column{
			{Name: "id", Type: "bigint"},
			{Name: "name", Type: "text"},
			{Name: "phone", Type: "text"},
			{Name: "phone_digits", Type: "text"},
		}, rawColumn),
	}
	contactsTable = stream.Table{
		Name: tblContacts,
		Key:  []string{"dashboard_id", "phone_number"},
		Columns: cols([]stream.Column{
			{Name: "dashboard_id", Type: "bigint"},
			{Name: "phone_number", Type: "text"},
			{Name: "phone_digits", Type: "text"},
			{Name: "phone_e164", Type: "text"},
			{Name: "first_name", Type: "text"},
			{Name: "last_name", Type: "text"},
			{Name: "display_name", Type: "text"},
			{Name: "is_suppressed", Type: "boolean"},
			{Name: "suppressed_reason", Type: "text"},
			{Name: "is_archived", Type: "boolean"},
			{Name: "is_blocked", Type: "boolean"},
			{Name: "is_resolved", Type: "boolean"},
			{Name: "note", Type: "text"},
			{Name: "groups", Type: "bigint[]"},
			{Name: "contact_tags", Type: "text[]"},
			{Name: "first_contact_utc", Type: "timestamptz"},
			{Name: "opted_out_utc", Type: "timestamptz"},
			{Name: "last_msg_sent_utc", Type: "timestamptz"},
			{Name: "last_msg_received_utc", Type: "timestamptz"},
			{Name: "total_msgs_sent", Type: "integer"},
			{Name: "total_msgs_received", Type: "integer"},
			{Name: "response_count", Type: "integer"},
			{Name: "date_created_utc", Type: "timestamptz"},
			{Name: "last_contact_date_utc", Type: "timestamptz"},
			{Name: "thread_id", Type: "text"},
		}, lastMessageColumns, rawColumn),
	}
	contactTagsTable = stream.Table{
		Name: tblContactTags,
		Key:  []string{"dashboard_id", "phone_number", "tag_id"},
		Columns: []stream.Column{
			{Name: "dashboard_id", Type: "bigint"},
			{Name: "phone_number", Type: "text"},
			{Name: "tag_id", Type: "text"},
		},
		ParentKey: []string{"dashboard_id", "phone_number"},
	}
	contactGroupsTable = stream.Table{
		Name: tblContactGroups,
		Key:  []string{"dashboard_id", "phone_number", "group_id"},
		Columns: []stream.Column{
			{Name: "dashboard_id", Type: "bigint"},
			{Name: "phone_number", Type: "text"},
			{Name: "group_id", Type: "bigint"},
		},
		ParentKey: []string{"dashboard_id", "phone_number"},
	}
	contactCustomFieldsTable = stream.Table{
		Name: tblContactCustomFields,
		Key:  []string{"dashboard_id", "phone_number", "field_id"},
		Columns: []stream.Column{
			{Name: "dashboard_id", Type: "bigint"},
			{Name: "phone_number", Type: "text"},
			{Name: "field_id", Type: "text"},
			{Name: "value", Type: "text"},
		},
		ParentKey: []string{"dashboard_id", "phone_number"},
	}
	conversationsTable = stream.Table{
		Name: tblConversations,
		Key:  []string{"dashboard_id", "phone_number"},
		Columns: cols([]stream.Column{
			{Name: "dashboard_id", Type: "bigint"},
			{Name: "phone_number", Type: "text"},
			{Name: "phone_digits", Type: "text"},
			{Name: "phone_e164", Type: "text"},
		}, lastMessageColumns, rawColumn),
	}
	messagesTable = stream.Table{
		Name: tblMessages,
		Key:  []string{"message_id"},
		Columns: cols([]stream.Column{
			{Name: "message_id", Type: "text"},
			{Name: "message_id_derived", Type: "boolean"},
			{Name: "dashboard_id", Type: "bigint"},
			{Name: "phone_number", Type: "text"},
			{Name: "phone_digits", Type: "text"},
			{Name: "phone_e164", Type: "text"},
			{Name: "body", Type: "text"},
			{Name: "message_direction", Type: "text"},
			{Name: "response_by_username", Type: "text"},
			{Name: "message_timestamp_utc", Type: "timestamptz"},
			{Name: "delivery_status", Type: "text"},
			{Name: "delivery_error", Type: "text"},
			{Name: "mms_media", Type: "text[]"},
		}, rawColumn),
	}
	paymentsTable = stream.Table{
		Name: tblPayments,
		Key:  []string{"payment_id"},
		Columns: cols([]stream.Column{
			{Name: "payment_id", Type: "bigint"},
			{Name: "dashboard_id", Type: "bigint"},
			{Name: "request_date", Type: "timestamptz"},
			{Name: "recipient", Type: "text"},
			{Name: "description", Type: "text"},
			{Name: "customer_phone", Type: "text"},
			{Name: "customer_phone_digits", Type: "text"},
			{Name: "phone_e164", Type: "text"},
			{Name: "amount_requested", Type: "numeric(12,2)"},
			{Name: "is_past_due", Type: "boolean"},
			{Name: "reminder_was_sent", Type: "boolean"},
			{Name: "transaction_status", Type: "text"},
			{Name: "textrequest_payment_status", Type: "text"},
			{Name: "reference_number", Type: "text"},
		}, rawColumn),
	}
	groupsTable = stream.Table{
		Name: tblGroups,
		Key:  []string{"dashboard_id", "id"},
		Columns: cols([]stream.Column{
			{Name: "dashboard_id", Type: "bigint"},
			{Name: "id", Type: "bigint"},
			{Name: "name", Type: "text"},
			{Name: "notes", Type: "text"},
			{Name: "group_member_count", Type: "integer"},
			{Name: "is_keyword", Type: "boolean"},
			{Name: "last_message_sent_utc", Type: "timestamptz"},
		}, rawColumn),
	}
	tagsTable = stream.Table{
		Name: tblTags,
		Key:  []string{"dashboard_id", "id"},
		Columns: cols([]stream.Column{
			{Name: "dashboard_id", Type: "bigint"},
			{Name: "id", Type: "text"},
			{Name: "tag", Type: "text"},
			{Name: "tag_color", Type: "text"},
		}, rawColumn),
	}
	customFieldsTable = stream.Table{
		Name: tblCustomFields,
		Key:  []string{"dashboard_id", "id"},
		Columns: cols([]stream.Column{
			{Name: "dashboard_id", Type: "bigint"},
			{Name: "id", Type: "text"},
			{Name: "name", Type: "text"},
		}, rawColumn),
	}
)

// descs returns the stream descriptors in the order `crmsync streams` shows them: the
// dashboards first, because every other stream is partitioned by dashboard.
func descs() []stream.Desc {
	d := func(name, what string, mode stream.Mode, partitioned bool, tables ...stream.Table) stream.Desc {
		return stream.Desc{Source: Source, Name: name, Description: what, Mode: mode, Partitioned: partitioned, Tables: tables}
	}
	// deletes says how a stream marks records deleted at the source (stream.Pass).
	deletes := func(d stream.Desc, how stream.Deletions) stream.Desc { d.Deletions = how; return d }
	return []stream.Desc{
		deletes(d(StreamDashboards, "dashboards of the account (or TEXTREQUEST_DASHBOARDS), full refresh",
			stream.ModeFullRefresh, false, dashboardsTable), stream.DeletionsEveryRun),
		deletes(d(StreamContacts, "contacts per dashboard with their tags, groups and custom-field values; by last activity and creation time, with a periodic full sweep",
			stream.ModeIncremental, true, contactsTable, contactTagsTable, contactGroupsTable, contactCustomFieldsTable), stream.DeletionsSweep),
		deletes(d(StreamConversations, "conversations per dashboard, archived included, with the latest message; full scan",
			stream.ModeFullRefresh, true, conversationsTable), stream.DeletionsEveryRun),
		d(StreamMessages, "messages of every contact whose last activity moved since the last run",
			stream.ModeIncremental, true, messagesTable),
		deletes(d(StreamPayments, "payments per dashboard, newest first down to the watermark, with a periodic full sweep for status changes",
			stream.ModeIncremental, true, paymentsTable), stream.DeletionsSweep),
		deletes(d(StreamGroups, "contact groups per dashboard, full refresh",
			stream.ModeFullRefresh, true, groupsTable), stream.DeletionsEveryRun),
		deletes(d(StreamTags, "contact tags per dashboard, full refresh",
			stream.ModeFullRefresh, true, tagsTable), stream.DeletionsEveryRun),
		deletes(d(StreamCustomFields, "custom contact fields per dashboard, full refresh",
			stream.ModeFullRefresh, true, customFieldsTable), stream.DeletionsEveryRun),
	}
}

// rowBuilder fills a Row by column name, so mapping code cannot put a value in the wrong
// position when columns are added.
type rowBuilder struct {
	idx map[string]int
	row stream.Row
}

// columnIndex maps column names to positions, once per table.
var columnIndex = map[string]map[string]int{}

func init() {
	for _, d := range descs() {
		for _, t := range d.Tables {
			m := make(map[string]int, len(t.Columns))
			for i, c := range t.Columns {
				m[c.Name] = i
			}
			columnIndex[t.Name] = m
		}
	}
}

func newRow(t stream.Table) *rowBuilder {
	return &rowBuilder{idx: columnIndex[t.Name], row: make(stream.Row, len(t.Columns))}
}

// set puts v in column name. An unknown column is a programming error, caught by the
// mapping tests.
func (b *rowBuilder) set(name string, v any) *rowBuilder {
	i, ok := b.idx[name]
	if !ok {
		panic("textrequest: no column " + name)
	}
	b.row[i] = v
	return b
}
