package textrequest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/extractors/internal/lenient"
	"github.com/crmsync/crmsync/extractors/internal/phones"
	"github.com/crmsync/crmsync/internal/stream"
)

// Each map function turns one list item into rows. An item that is not an object, lacks
// its key or has a field of the wrong type yields a *stream.Reject naming the field; the
// rest of the page still loads.

func reject(table, what string, raw json.RawMessage, err error) *stream.Reject {
	return &stream.Reject{Table: table, Reason: what + ": " + err.Error(), Payload: raw}
}

// missing is the error of a record without its key.
func missing(field string) error { return fmt.Errorf("field %s: missing", field) }

// The DTOs below name the fields the tables use; raw keeps the rest.

type dashboardDTO struct {
	ID    lenient.Int    `json:"id"`
	Name  lenient.String `json:"name"`
	Phone lenient.String `json:"phone"`
}

// mapDashboard maps a Dashboard (§5.1). The id is required.
func mapDashboard(raw json.RawMessage) (stream.Row, int64, *stream.Reject) {
	var d dashboardDTO
	err := lenient.Decode(raw, &d)
	if err == nil && !d.ID.Valid {
		err = missing("id")
	}
	if err != nil {
		return nil, 0, reject(tblDashboards, "dashboard", raw, err)
	}
	b := newRow(dashboardsTable).set("id", d.ID.V).set("name", d.Name.Value()).set("raw", raw)
	if d.Phone.Valid {
		b.set("phone", d.Phone.V).set("phone_digits", phones.Digits(d.Phone.V))
	}
	return b.row, d.ID.V, nil
}

// messageDTO is a Message (§5.3), also a contact's or conversation's last_message.
type messageDTO struct {
	MessageID          lenient.String  `json:"message_id"`
	Body               lenient.String  `json:"body"`
	Direction          lenient.String  `json:"message_direction"`
	ResponseByUsername lenient.String  `json:"response_by_username"`
	Timestamp          lenient.Time    `json:"message_timestamp_utc"`
	DeliveryStatus     lenient.String  `json:"delivery_status"`
	DeliveryError      lenient.String  `json:"delivery_error"`
	MMSMedia           lenient.Strings `json:"mms_media"`
}

// lastMessage is a record's nested Message. Some answers flatten it into dotted keys
// ("last_message.body", as the reference's tables write them); decodeWithLastMessage
// gathers those into the object first.
type lastMessage = lenient.Object[messageDTO]

// decodeWithLastMessage is lenient.Decode for a record with a last_message.
func decodeWithLastMessage(raw json.RawMessage, dst any) error {
	return lenient.Decode(unflatten(raw, "last_message"), dst)
}

// unflatten returns raw with the dotted keys of field ("field.x") gathered into the
// object field, when raw has such keys and no object of that name.
func unflatten(raw json.RawMessage, field string) json.RawMessage {
	if !bytes.Contains(raw, []byte(`"`+field+`.`)) {
		return raw
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || !lenient.IsNull(m[field]) {
		return raw
	}
	inner := map[string]json.RawMessage{}
	for k, v := range m {
		if rest, ok := strings.CutPrefix(k, field+"."); ok {
			inner[rest] = v
		}
	}
	var err error
	if m[field], err = json.Marshal(inner); err != nil {
		return raw
	}
	out, err := json.Marshal(m)
	if err != nil {
		return raw
	}
	return out
}

// setLastMessage fills the last_message_* columns from a nested Message (§5.3).
func setLastMessage(b *rowBuilder, lm lastMessage) {
	if !lm.Valid {
		return
	}
	m := &lm.V
	b.set("last_message_id", m.MessageID.Value()).
		set("last_message_body", m.Body.Value()).
		set("last_message_direction", m.Direction.Value()).
		set("last_message_response_by_username", m.ResponseByUsername.Value()).
		set("last_message_timestamp_utc", m.Timestamp.Value()).
		set("last_message_delivery_status", m.DeliveryStatus.Value()).
		set("last_message_delivery_error", m.DeliveryError.Value()).
		set("last_message_mms_media", m.MMSMedia.Value())
}

// contactDTO is a Contact (§5.2).
type contactDTO struct {
	PhoneNumber        lenient.String                                 `json:"phone_number"`
	FirstName          lenient.String                                 `json:"first_name"`
	LastName           lenient.String                                 `json:"last_name"`
	DisplayName        lenient.String                                 `json:"display_name"`
	IsSuppressed       lenient.Bool                                   `json:"is_suppressed"`
	SuppressedReason   lenient.String                                 `json:"suppressed_reason"`
	IsArchived         lenient.Bool                                   `json:"is_archived"`
	IsBlocked          lenient.Bool                                   `json:"is_blocked"`
	IsResolved         lenient.Bool                                   `json:"is_resolved"`
	Note               lenient.String                                 `json:"note"`
	FirstContactUTC    lenient.Time                                   `json:"first_contact_utc"`
	OptedOutUTC        lenient.Time                                   `json:"opted_out_utc"`
	LastMsgSentUTC     lenient.Time                                   `json:"last_msg_sent_utc"`
	LastMsgReceivedUTC lenient.Time                                   `json:"last_msg_received_utc"`
	DateCreatedUTC     lenient.Time                                   `json:"date_created_utc"`
	LastContactDateUTC lenient.Time                                   `json:"last_contact_date_utc"`
	TotalMsgsSent      lenient.Int32                                  `json:"total_msgs_sent"`
	TotalMsgsReceived  lenient.Int32                                  `json:"total_msgs_received"`
	ResponseCount      lenient.Int32                                  `json:"response_count"`
	ThreadID           lenient.String                                 `json:"thread_id"`
	LastMessage        lastMessage                                    `json:"last_message"`
	Groups             lenient.Ints                                   `json:"groups"`
	ContactTags        lenient.Strings                                `json:"contact_tags"`
	CustomFields       lenient.List[lenient.Object[customFieldValue]] `json:"custom_fields"`
}

// customFieldValue is an entry of a contact's custom_fields[].
type customFieldValue struct {
	ID    lenient.String `json:"id"`
	Value lenient.String `json:"value"`
}

// contactRecord is a mapped Contact (§5.2): its row, its link-table rows, and what the
// contacts and messages streams need for their watermarks.
type contactRecord struct {
	Phone       string
	Row         stream.Row
	Tags        []stream.Row
	Groups      []stream.Row
	Fields      []stream.Row
	LastContact time.Time // zero when null
	// LastContactRaw is last_contact_date_utc exactly as sent, to tell an unchanged
	// contact from a changed one without rounding.
	LastContactRaw string
	Created        time.Time // zero when null
	// Silent is true when every signal says the contact has no message at all (no last
	// contact date, no last message, zero totals): the messages stream skips it.
	Silent bool
	// Pending is true when the last message's delivery status is not final yet, so its
	// messages are worth re-reading even if no new message came.
	Pending bool
}

// pendingStatuses are delivery statuses that will still change.
var pendingStatuses = map[string]bool{"accepted": true, "queued": true, "sending": true}

func mapContact(dashboardID int64, raw json.RawMessage, region string) (*contactRecord, *stream.Reject) {
	c, rec, rej := decodeContact(raw)
	if rej != nil {
		return nil, rej
	}
	rec.Row, rec.Tags, rec.Groups, rec.Fields = contactRowsOf(dashboardID, raw, region, c)
	return rec, nil
}

// listContact is mapContact for the messages stream: the same decode, so it passes over
// exactly the contacts the contacts stream rejects (ok false), and the same record
// without its rows (Row, Tags, Groups and Fields are nil).
func listContact(raw json.RawMessage) (rec *contactRecord, ok bool) {
	_, rec, rej := decodeContact(raw)
	return rec, rej == nil
}

func decodeContact(raw json.RawMessage) (*contactDTO, *contactRecord, *stream.Reject) {
	var c contactDTO
	err := decodeWithLastMessage(raw, &c)
	if err == nil && strings.TrimSpace(c.PhoneNumber.V) == "" {
		err = missing("phone_number")
	}
	if err != nil {
		return nil, nil, reject(tblContacts, "contact", raw, err)
	}
	rec := &contactRecord{Phone: c.PhoneNumber.V, Created: c.DateCreatedUTC.T, LastContact: c.LastContactDateUTC.T}
	if c.LastContactDateUTC.Valid {
		rec.LastContactRaw = c.LastContactDateUTC.Raw
	}
	lm := c.LastMessage
	if lm.Valid && lm.V.DeliveryStatus.Valid {
		rec.Pending = pendingStatuses[strings.ToLower(lm.V.DeliveryStatus.V)]
	}
	sent, recv := c.TotalMsgsSent, c.TotalMsgsReceived
	rec.Silent = !c.LastContactDateUTC.Valid && !lm.Valid && sent.Valid && recv.Valid && sent.V == 0 && recv.V == 0
	return &c, rec, nil
}

// contactRowsOf builds a contact's row and its link rows.
func contactRowsOf(dashboardID int64, raw json.RawMessage, region string, c *contactDTO) (row stream.Row, tags, groups, fields []stream.Row) {
	// The dashboard id and the phone are boxed once, for the row and its link rows.
	phone := c.PhoneNumber.V
	dash, ph := any(dashboardID), any(phone)
	b := newRow(contactsTable).
		set("dashboard_id", dash).
		set("phone_number", ph).
		set("phone_digits", phones.Digits(phone)).
		set("phone_e164", phones.E164(phone, region)).
		set("first_name", c.FirstName.Value()).
		set("last_name", c.LastName.Value()).
		set("display_name", c.DisplayName.Value()).
		set("is_suppressed", c.IsSuppressed.Value()).
		set("suppressed_reason", c.SuppressedReason.Value()).
		set("is_archived", c.IsArchived.Value()).
		set("is_blocked", c.IsBlocked.Value()).
		set("is_resolved", c.IsResolved.Value()).
		set("note", c.Note.Value()).
		set("first_contact_utc", c.FirstContactUTC.Value()).
		set("opted_out_utc", c.OptedOutUTC.Value()).
		set("last_msg_sent_utc", c.LastMsgSentUTC.Value()).
		set("last_msg_received_utc", c.LastMsgReceivedUTC.Value()).
		set("total_msgs_sent", c.TotalMsgsSent.Value()).
		set("total_msgs_received", c.TotalMsgsReceived.Value()).
		set("response_count", c.ResponseCount.Value()).
		set("thread_id", c.ThreadID.Value()).
		set("date_created_utc", c.DateCreatedUTC.Value()).
		set("last_contact_date_utc", c.LastContactDateUTC.Value()).
		set("groups", c.Groups.Value()).
		set("contact_tags", c.ContactTags.Value()).
		set("raw", raw)
	setLastMessage(b, c.LastMessage)

	// Link rows, deduplicated: a repeated id would make the loader's upsert touch the
	// same row twice in one statement.
	seenTag := map[string]bool{}
	for _, t := range c.ContactTags.V {
		if t == "" || seenTag[t] {
			continue
		}
		seenTag[t] = true
		tags = append(tags, stream.Row{dash, ph, t})
	}
	seenGroup := map[int64]bool{}
	for _, g := range c.Groups.V {
		if seenGroup[g] {
			continue
		}
		seenGroup[g] = true
		groups = append(groups, stream.Row{dash, ph, g})
	}
	// Entries without an id cannot be keyed; a later entry for the same id wins.
	pos := map[string]int{}
	for _, f := range c.CustomFields.V {
		id := f.V.ID.V
		if !f.Valid || id == "" {
			continue
		}
		if p, ok := pos[id]; ok {
			fields[p][3] = f.V.Value.Value()
			continue
		}
		pos[id] = len(fields)
		fields = append(fields, stream.Row{dash, ph, id, f.V.Value.Value()})
	}
	return b.row, tags, groups, fields
}

// messageRecord is a mapped Message (§5.3).
type messageRecord struct {
	Key  string
	Row  stream.Row
	Time time.Time // zero when null
}

// derivedMessageID is the key of a message the API sent without an id: "sha256:" + the
// hex SHA-256 of the dashboard id (decimal), the contact's phone digits,
// message_timestamp_utc exactly as returned, message_direction and body, joined by the
// unit separator U+001F. It depends only on what the API returns, so it is the same on
// every run; two messages identical in all five are indistinguishable anyway.
func derivedMessageID(dashboardID int64, phoneDigits, timestamp, direction, body string) string {
	h := sha256.New()
	h.Write([]byte(strings.Join([]string{strconv.FormatInt(dashboardID, 10), phoneDigits, timestamp, direction, body}, "\x1f")))
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// messageOwner is what every message row of one contact repeats, boxed once per contact
// rather than once per message: the dashboard, the phone, its digits and E.164 form.
type messageOwner struct {
	dashboardID                      int64
	dashboard, phone, digitsOf, e164 any
	digits                           string
}

func newMessageOwner(dashboardID int64, phone, region string) *messageOwner {
	digits := phones.Digits(phone)
	pd, _ := digits.(string)
	return &messageOwner{dashboardID: dashboardID, dashboard: dashboardID, phone: phone, digitsOf: digits, digits: pd,
		e164: phones.E164(phone, region)}
}

func mapMessage(dashboardID int64, phone string, raw json.RawMessage) (*messageRecord, *stream.Reject) {
	return newMessageOwner(dashboardID, phone, DefaultPhoneRegion).mapMessage(raw)
}

func (o *messageOwner) mapMessage(raw json.RawMessage) (*messageRecord, *stream.Reject) {
	var m messageDTO
	if err := lenient.Decode(raw, &m); err != nil {
		return nil, reject(tblMessages, "message", raw, err)
	}
	id := strings.TrimSpace(m.MessageID.V)
	derived := id == ""
	if derived {
		id = derivedMessageID(o.dashboardID, o.digits, m.Timestamp.Raw, m.Direction.V, m.Body.V)
	}
	b := newRow(messagesTable).
		set("dashboard_id", o.dashboard).
		set("phone_number", o.phone).
		set("phone_digits", o.digitsOf).
		set("phone_e164", o.e164).
		set("message_id", id).
		set("message_id_derived", derived).
		set("body", m.Body.Value()).
		set("message_direction", m.Direction.Value()).
		set("response_by_username", m.ResponseByUsername.Value()).
		set("message_timestamp_utc", m.Timestamp.Value()).
		set("delivery_status", m.DeliveryStatus.Value()).
		set("delivery_error", m.DeliveryError.Value()).
		set("mms_media", m.MMSMedia.Value()).
		set("raw", raw)
	return &messageRecord{Key: id, Row: b.row, Time: m.Timestamp.T}, nil
}

// mapConversation maps a conversations-list item: phone_number plus last_message.
func mapConversation(dashboardID int64, raw json.RawMessage, region string) (stream.Row, *stream.Reject) {
	var c struct {
		PhoneNumber lenient.String `json:"phone_number"`
		LastMessage lastMessage    `json:"last_message"`
	}
	err := decodeWithLastMessage(raw, &c)
	if err == nil && strings.TrimSpace(c.PhoneNumber.V) == "" {
		err = missing("phone_number")
	}
	if err != nil {
		return nil, reject(tblConversations, "conversation", raw, err)
	}
	phone := c.PhoneNumber.V
	b := newRow(conversationsTable).
		set("dashboard_id", dashboardID).
		set("phone_number", phone).
		set("phone_digits", phones.Digits(phone)).
		set("phone_e164", phones.E164(phone, region)).
		set("raw", raw)
	setLastMessage(b, c.LastMessage)
	return b.row, nil
}

// paymentRecord is a mapped Payment (§5.7).
type paymentRecord struct {
	Row  stream.Row
	Date time.Time // request_date; zero when null
}

type paymentDTO struct {
	PaymentID                lenient.Int    `json:"payment_id"`
	Recipient                lenient.String `json:"recipient"`
	Description              lenient.String `json:"description"`
	AmountRequested          amount         `json:"amount_requested"`
	IsPastDue                lenient.Bool   `json:"is_past_due"`
	ReminderWasSent          lenient.Bool   `json:"reminder_was_sent"`
	TransactionStatus        lenient.String `json:"transaction_status"`
	TextrequestPaymentStatus lenient.String `json:"textrequest_payment_status"`
	ReferenceNumber          lenient.String `json:"reference_number"`
	CustomerPhone            lenient.String `json:"customer_phone"`
	RequestDate              lenient.Time   `json:"request_date"`
}

// amount is a decimal amount for numeric(12,2), kept as a decimal string with two places
// so no float rounding happens before PostgreSQL.
type amount struct{ lenient.Number }

// Want implements lenient.Wanter.
func (amount) Want() string { return "an amount" }

// UnmarshalJSON implements json.Unmarshaler.
func (a *amount) UnmarshalJSON(b []byte) error {
	if err := a.Number.UnmarshalJSON(b); err != nil {
		return lenient.Mismatch[amount](b)
	}
	if !a.Valid {
		return nil
	}
	r, ok := new(big.Rat).SetString(a.V)
	// numeric(12,2) holds up to 10 digits before the point.
	if !ok || new(big.Rat).Abs(r).Cmp(big.NewRat(1e10, 1)) >= 0 {
		*a = amount{}
		return lenient.Mismatch[amount](b)
	}
	a.V = r.FloatString(2)
	return nil
}

func mapPayment(dashboardID int64, raw json.RawMessage, region string) (*paymentRecord, *stream.Reject) {
	var p paymentDTO
	err := lenient.Decode(raw, &p)
	if err == nil && !p.PaymentID.Valid {
		err = missing("payment_id")
	}
	if err != nil {
		return nil, reject(tblPayments, "payment", raw, err)
	}
	b := newRow(paymentsTable).
		set("payment_id", p.PaymentID.V).
		set("dashboard_id", dashboardID).
		set("recipient", p.Recipient.Value()).
		set("description", p.Description.Value()).
		set("amount_requested", p.AmountRequested.Value()).
		set("is_past_due", p.IsPastDue.Value()).
		set("reminder_was_sent", p.ReminderWasSent.Value()).
		set("transaction_status", p.TransactionStatus.Value()).
		set("textrequest_payment_status", p.TextrequestPaymentStatus.Value()).
		set("reference_number", p.ReferenceNumber.Value()).
		set("request_date", p.RequestDate.Value()).
		set("raw", raw)
	if phone := p.CustomerPhone; phone.Valid {
		b.set("customer_phone", phone.V).set("customer_phone_digits", phones.Digits(phone.V)).set("phone_e164", phones.E164(phone.V, region))
	}
	return &paymentRecord{Row: b.row, Date: p.RequestDate.T}, nil
}

func mapGroup(dashboardID int64, raw json.RawMessage) (stream.Row, *stream.Reject) {
	var g struct {
		ID                 lenient.Int    `json:"id"`
		Name               lenient.String `json:"name"`
		Notes              lenient.String `json:"notes"`
		GroupMemberCount   lenient.Int32  `json:"group_member_count"`
		IsKeyword          lenient.Bool   `json:"is_keyword"`
		LastMessageSentUTC lenient.Time   `json:"last_message_sent_utc"`
	}
	err := lenient.Decode(raw, &g)
	if err == nil && !g.ID.Valid {
		err = missing("id")
	}
	if err != nil {
		return nil, reject(tblGroups, "group", raw, err)
	}
	return newRow(groupsTable).
		set("dashboard_id", dashboardID).
		set("id", g.ID.V).
		set("name", g.Name.Value()).
		set("notes", g.Notes.Value()).
		set("group_member_count", g.GroupMemberCount.Value()).
		set("is_keyword", g.IsKeyword.Value()).
		set("last_message_sent_utc", g.LastMessageSentUTC.Value()).
		set("raw", raw).row, nil
}

// mapTag maps a Tag (§5.5); the id is a string (a GUID), numbers are kept as their text.
func mapTag(dashboardID int64, raw json.RawMessage) (stream.Row, *stream.Reject) {
	var t struct {
		ID       lenient.String `json:"id"`
		Tag      lenient.String `json:"tag"`
		TagColor lenient.String `json:"tag_color"`
	}
	err := lenient.Decode(raw, &t)
	if err == nil && t.ID.V == "" {
		err = missing("id")
	}
	if err != nil {
		return nil, reject(tblTags, "tag", raw, err)
	}
	return newRow(tagsTable).
		set("dashboard_id", dashboardID).
		set("id", t.ID.V).
		set("tag", t.Tag.Value()).
		set("tag_color", t.TagColor.Value()).
		set("raw", raw).row, nil
}

func mapCustomField(dashboardID int64, raw json.RawMessage) (stream.Row, *stream.Reject) {
	var f struct {
		ID   lenient.String `json:"id"`
		Name lenient.String `json:"name"`
	}
	err := lenient.Decode(raw, &f)
	if err == nil && f.ID.V == "" {
		err = missing("id")
	}
	if err != nil {
		return nil, reject(tblCustomFields, "custom field", raw, err)
	}
	return newRow(customFieldsTable).
		set("dashboard_id", dashboardID).
		set("id", f.ID.V).
		set("name", f.Name.Value()).
		set("raw", raw).row, nil
}

// keyOf renders a row's key columns for de-duplication within a batch.
func keyOf(t stream.Table, row stream.Row) string {
	idx := columnIndex[t.Name]
	var sb strings.Builder
	for i, k := range t.Key {
		if i > 0 {
			sb.WriteByte(0x1f)
		}
		// The key kinds as fmt.Fprint prints them, without its per-call cost.
		switch v := row[idx[k]].(type) {
		case string:
			if len(t.Key) == 1 {
				return v
			}
			sb.WriteString(v)
		case int64:
			sb.WriteString(strconv.FormatInt(v, 10))
		default:
			fmt.Fprint(&sb, v)
		}
	}
	return sb.String()
}
