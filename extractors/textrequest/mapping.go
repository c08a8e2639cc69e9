package textrequest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/extractors/internal/phones"
	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/stream"
)

// Each map function turns one list item into rows. An item that is not an object, lacks
// its key or has a field of the wrong type yields a *stream.Reject naming the field; the
// rest of the page still loads.

func reject(table, what string, raw json.RawMessage, err error) *stream.Reject {
	return &stream.Reject{Table: table, Reason: what + ": " + err.Error(), Payload: raw}
}

// mapDashboard maps a Dashboard (§5.1). The id is required.
func mapDashboard(raw json.RawMessage) (stream.Row, int64, *stream.Reject) {
	d, err := openDecoder(raw, "")
	if err != nil {
		return nil, 0, reject(tblDashboards, "dashboard", raw, err)
	}
	defer d.close()
	id, ok := d.intVal("id")
	if !ok && d.err == nil {
		d.fail(&fieldError{field: "id", msg: "missing"})
	}
	b := newRow(dashboardsTable).set("id", id).set("name", d.str("name")).set("raw", raw)
	if phone, ok := d.strVal("phone"); ok {
		b.set("phone", phone).set("phone_digits", phones.Digits(phone))
	}
	if d.err != nil {
		return nil, 0, reject(tblDashboards, "dashboard", raw, d.err)
	}
	return b.row, id, nil
}

// setLastMessage fills the last_message_* columns from a nested Message (§5.3).
func setLastMessage(b *rowBuilder, m *decoder) {
	if m == nil {
		return
	}
	b.set("last_message_id", m.str("message_id")).
		set("last_message_body", m.str("body")).
		set("last_message_direction", m.str("message_direction")).
		set("last_message_response_by_username", m.str("response_by_username")).
		set("last_message_timestamp_utc", m.timestamp("message_timestamp_utc")).
		set("last_message_delivery_status", m.str("delivery_status")).
		set("last_message_delivery_error", m.str("delivery_error")).
		set("last_message_mms_media", textArray(m.strs("mms_media")))
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
	return decodeContact(dashboardID, raw, region, true)
}

// listContact is mapContact for the messages stream: the same checks, so it passes over
// exactly the contacts the contacts stream rejects (ok false), and the same record
// without its rows (Row, Tags, Groups and Fields are nil).
func listContact(dashboardID int64, raw json.RawMessage) (rec *contactRecord, ok bool) {
	rec, rej := decodeContact(dashboardID, raw, "", false)
	return rec, rej == nil
}

func decodeContact(dashboardID int64, raw json.RawMessage, region string, rows bool) (*contactRecord, *stream.Reject) {
	d, err := openDecoder(raw, "")
	if err != nil {
		return nil, reject(tblContacts, "contact", raw, err)
	}
	defer d.close()
	d.checkOnly = !rows
	phone, ok := d.strVal("phone_number")
	if d.err == nil && (!ok || strings.TrimSpace(phone) == "") {
		d.fail(&fieldError{field: "phone_number", msg: "missing"})
	}
	// The dashboard id and the phone are boxed once, for the row and its link rows.
	var (
		dash, ph, digits, e164 any
		b                      *rowBuilder // nil without rows: set does nothing
	)
	if rows {
		dash, ph, digits, e164 = any(dashboardID), any(phone), phones.Digits(phone), phones.E164(phone, region)
		b = newRow(contactsTable)
	}
	b.set("dashboard_id", dash).
		set("phone_number", ph).
		set("phone_digits", digits).
		set("phone_e164", e164).
		set("first_name", d.str("first_name")).
		set("last_name", d.str("last_name")).
		set("display_name", d.str("display_name")).
		set("is_suppressed", d.boolean("is_suppressed")).
		set("suppressed_reason", d.str("suppressed_reason")).
		set("is_archived", d.boolean("is_archived")).
		set("is_blocked", d.boolean("is_blocked")).
		set("is_resolved", d.boolean("is_resolved")).
		set("note", d.str("note")).
		set("first_contact_utc", d.timestamp("first_contact_utc")).
		set("opted_out_utc", d.timestamp("opted_out_utc")).
		set("last_msg_sent_utc", d.timestamp("last_msg_sent_utc")).
		set("last_msg_received_utc", d.timestamp("last_msg_received_utc")).
		set("total_msgs_sent", d.int32Field("total_msgs_sent")).
		set("total_msgs_received", d.int32Field("total_msgs_received")).
		set("response_count", d.int32Field("response_count")).
		set("thread_id", d.str("thread_id"))
	rec := &contactRecord{Phone: phone}
	if t, ok := d.timeVal("date_created_utc"); ok {
		rec.Created = t
		if rows {
			b.set("date_created_utc", t)
		}
	}
	if t, ok := d.timeVal("last_contact_date_utc"); ok {
		rec.LastContact = t
		rec.LastContactRaw, _ = d.strVal("last_contact_date_utc")
		if rows {
			b.set("last_contact_date_utc", t)
		}
	}
	lm := d.nested("last_message")
	defer lm.close()
	setLastMessage(b, lm)
	if lm != nil {
		if s, ok := lm.strVal("delivery_status"); ok {
			rec.Pending = pendingStatuses[strings.ToLower(s)]
		}
	}
	sent, okSent := d.intVal("total_msgs_sent")
	recv, okRecv := d.intVal("total_msgs_received")
	rec.Silent = rec.LastContact.IsZero() && lm == nil && okSent && okRecv && sent == 0 && recv == 0

	groups := d.ints("groups")
	tags := d.strs("contact_tags")
	fields := contactFields(d)
	if d.err != nil {
		return nil, reject(tblContacts, "contact", raw, d.err)
	}
	if !rows {
		return rec, nil
	}
	b.set("groups", intArray(groups)).set("contact_tags", textArray(tags)).set("raw", raw)
	rec.Row = b.row

	// Link rows, deduplicated: a repeated id would make the loader's upsert touch the
	// same row twice in one statement. Every link row of the contact is cut from one
	// backing array (capacity capped, so an append to one row cannot run into the next): a
	// contact has a few of each.
	vals := make([]any, 0, 3*(len(tags)+len(groups))+4*len(fields))
	link := func(vs ...any) stream.Row {
		start := len(vals)
		vals = append(vals, vs...)
		return vals[start:len(vals):len(vals)]
	}
	seenTag := map[string]bool{}
	for _, t := range tags {
		if t == "" || seenTag[t] {
			continue
		}
		seenTag[t] = true
		if rec.Tags == nil {
			rec.Tags = make([]stream.Row, 0, len(tags))
		}
		rec.Tags = append(rec.Tags, link(dash, ph, t))
	}
	seenGroup := map[int64]bool{}
	for _, g := range groups {
		if seenGroup[g] {
			continue
		}
		seenGroup[g] = true
		if rec.Groups == nil {
			rec.Groups = make([]stream.Row, 0, len(groups))
		}
		rec.Groups = append(rec.Groups, link(dash, ph, g))
	}
	if len(fields) > 0 {
		rec.Fields = make([]stream.Row, 0, len(fields))
	}
	for _, f := range fields {
		rec.Fields = append(rec.Fields, link(dash, ph, f.id, f.value))
	}
	return rec, nil
}

type fieldValue struct {
	id    string
	value any
}

// contactFields reads custom_fields[] ({id, value}); entries without an id are skipped
// (they cannot be keyed), a later entry for the same id wins.
func contactFields(d *decoder) []fieldValue {
	raw := d.raw("custom_fields")
	if isNull(raw) {
		return nil
	}
	items, err := apiclient.SplitArray(raw)
	if err != nil {
		d.fail(badField("custom_fields", "an array of objects", raw))
		return nil
	}
	var out []fieldValue
	pos := map[string]int{}
	for i, it := range items {
		if isNull(it) {
			continue
		}
		fd, err := openDecoder(it, "custom_fields["+strconv.Itoa(i)+"].")
		if err != nil {
			d.fail(badField("custom_fields", "an array of objects", raw))
			return nil
		}
		fd.checkOnly = d.checkOnly
		var id string
		if fd.checkOnly {
			fd.str("id") // checked, not kept: no link row is built
		} else {
			id, _ = fd.strVal("id")
		}
		v := fd.str("value")
		ferr := fd.err
		fd.close()
		if ferr != nil {
			d.fail(ferr)
			return nil
		}
		if id == "" {
			continue
		}
		if p, ok := pos[id]; ok {
			out[p].value = v
			continue
		}
		pos[id] = len(out)
		out = append(out, fieldValue{id: id, value: v})
	}
	return out
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
	d, err := openDecoder(raw, "")
	if err != nil {
		return nil, reject(tblMessages, "message", raw, err)
	}
	defer d.close()
	b := newRow(messagesTable).
		set("dashboard_id", o.dashboard).
		set("phone_number", o.phone).
		set("phone_digits", o.digitsOf).
		set("phone_e164", o.e164).
		set("body", d.str("body")).
		set("message_direction", d.str("message_direction")).
		set("response_by_username", d.str("response_by_username")).
		set("delivery_status", d.str("delivery_status")).
		set("delivery_error", d.str("delivery_error")).
		set("mms_media", textArray(d.strs("mms_media"))).
		set("raw", raw)
	rec := &messageRecord{}
	if t, ok := d.timeVal("message_timestamp_utc"); ok {
		rec.Time = t
		b.set("message_timestamp_utc", t)
	}
	id, _ := d.strVal("message_id")
	if d.err != nil {
		return nil, reject(tblMessages, "message", raw, d.err)
	}
	id = strings.TrimSpace(id)
	derived := id == ""
	if derived {
		ts, _ := d.strVal("message_timestamp_utc")
		dir, _ := d.strVal("message_direction")
		body, _ := d.strVal("body")
		id = derivedMessageID(o.dashboardID, o.digits, ts, dir, body)
	}
	b.set("message_id", id).set("message_id_derived", derived)
	rec.Key = id
	rec.Row = b.row
	return rec, nil
}

// mapConversation maps a conversations-list item: phone_number plus last_message.
func mapConversation(dashboardID int64, raw json.RawMessage, region string) (stream.Row, *stream.Reject) {
	d, err := openDecoder(raw, "")
	if err != nil {
		return nil, reject(tblConversations, "conversation", raw, err)
	}
	defer d.close()
	phone, ok := d.strVal("phone_number")
	if d.err == nil && (!ok || strings.TrimSpace(phone) == "") {
		d.fail(&fieldError{field: "phone_number", msg: "missing"})
	}
	b := newRow(conversationsTable).
		set("dashboard_id", dashboardID).
		set("phone_number", phone).
		set("phone_digits", phones.Digits(phone)).
		set("phone_e164", phones.E164(phone, region)).
		set("raw", raw)
	lm := d.nested("last_message")
	setLastMessage(b, lm)
	lm.close()
	if d.err != nil {
		return nil, reject(tblConversations, "conversation", raw, d.err)
	}
	return b.row, nil
}

// paymentRecord is a mapped Payment (§5.7).
type paymentRecord struct {
	Row  stream.Row
	Date time.Time // request_date; zero when null
}

func mapPayment(dashboardID int64, raw json.RawMessage, region string) (*paymentRecord, *stream.Reject) {
	d, err := openDecoder(raw, "")
	if err != nil {
		return nil, reject(tblPayments, "payment", raw, err)
	}
	defer d.close()
	id, ok := d.intVal("payment_id")
	if d.err == nil && !ok {
		d.fail(&fieldError{field: "payment_id", msg: "missing"})
	}
	b := newRow(paymentsTable).
		set("payment_id", id).
		set("dashboard_id", dashboardID).
		set("recipient", d.str("recipient")).
		set("description", d.str("description")).
		set("amount_requested", d.money("amount_requested")).
		set("is_past_due", d.boolean("is_past_due")).
		set("reminder_was_sent", d.boolean("reminder_was_sent")).
		set("transaction_status", d.str("transaction_status")).
		set("textrequest_payment_status", d.str("textrequest_payment_status")).
		set("reference_number", d.str("reference_number")).
		set("raw", raw)
	if phone, ok := d.strVal("customer_phone"); ok {
		b.set("customer_phone", phone).set("customer_phone_digits", phones.Digits(phone)).set("phone_e164", phones.E164(phone, region))
	}
	rec := &paymentRecord{}
	if t, ok := d.timeVal("request_date"); ok {
		rec.Date = t
		b.set("request_date", t)
	}
	if d.err != nil {
		return nil, reject(tblPayments, "payment", raw, d.err)
	}
	rec.Row = b.row
	return rec, nil
}

func mapGroup(dashboardID int64, raw json.RawMessage) (stream.Row, *stream.Reject) {
	d, err := openDecoder(raw, "")
	if err != nil {
		return nil, reject(tblGroups, "group", raw, err)
	}
	defer d.close()
	id, ok := d.intVal("id")
	if d.err == nil && !ok {
		d.fail(&fieldError{field: "id", msg: "missing"})
	}
	b := newRow(groupsTable).
		set("dashboard_id", dashboardID).
		set("id", id).
		set("name", d.str("name")).
		set("notes", d.str("notes")).
		set("group_member_count", d.int32Field("group_member_count")).
		set("is_keyword", d.boolean("is_keyword")).
		set("last_message_sent_utc", d.timestamp("last_message_sent_utc")).
		set("raw", raw)
	if d.err != nil {
		return nil, reject(tblGroups, "group", raw, d.err)
	}
	return b.row, nil
}

// mapTag maps a Tag (§5.5); the id is a string (a GUID), numbers are kept as their text.
func mapTag(dashboardID int64, raw json.RawMessage) (stream.Row, *stream.Reject) {
	d, err := openDecoder(raw, "")
	if err != nil {
		return nil, reject(tblTags, "tag", raw, err)
	}
	defer d.close()
	id, ok := d.strVal("id")
	if d.err == nil && (!ok || id == "") {
		d.fail(&fieldError{field: "id", msg: "missing"})
	}
	b := newRow(tagsTable).
		set("dashboard_id", dashboardID).
		set("id", id).
		set("tag", d.str("tag")).
		set("tag_color", d.str("tag_color")).
		set("raw", raw)
	if d.err != nil {
		return nil, reject(tblTags, "tag", raw, d.err)
	}
	return b.row, nil
}

func mapCustomField(dashboardID int64, raw json.RawMessage) (stream.Row, *stream.Reject) {
	d, err := openDecoder(raw, "")
	if err != nil {
		return nil, reject(tblCustomFields, "custom field", raw, err)
	}
	defer d.close()
	id, ok := d.strVal("id")
	if d.err == nil && (!ok || id == "") {
		d.fail(&fieldError{field: "id", msg: "missing"})
	}
	b := newRow(customFieldsTable).
		set("dashboard_id", dashboardID).
		set("id", id).
		set("name", d.str("name")).
		set("raw", raw)
	if d.err != nil {
		return nil, reject(tblCustomFields, "custom field", raw, d.err)
	}
	return b.row, nil
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
