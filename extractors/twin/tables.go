package twin

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/crmsync/crmsync/extractors/internal/lenient"
	"github.com/crmsync/crmsync/extractors/internal/phones"
	"github.com/crmsync/crmsync/internal/stream"
)

// Source is the platform name in sync.state, logs and `crmsync streams`.
const Source = "twin"

// The stream names.
const (
	StreamSessions         = "sessions"
	StreamMessages         = "messages"
	StreamAttributes       = "attributes"
	StreamClientAttributes = "client_attributes"
	StreamChats            = "chats"
)

func cols(spec string) []stream.Column {
	var out []stream.Column
	for _, f := range strings.Split(spec, ",") {
		name, typ, _ := strings.Cut(strings.TrimSpace(f), " ")
		out = append(out, stream.Column{Name: name, Type: typ})
	}
	return out
}

var (
	chatsTable = stream.Table{Name: "twin.chats", Key: []string{"id"}, Columns: cols(
		"id text, bot_id text, name text, bot_name text, session_ttl integer, event_callback_url text, messengers text[]," +
			" created_at timestamptz, updated_at timestamptz, raw jsonb")}
	attributesTable = stream.Table{Name: "twin.attributes", Key: []string{"id"}, Columns: cols(
		"id text, company_id bigint, name text, raw jsonb")}
	sessionsTable = stream.Table{Name: "twin.sessions", Key: []string{"id"}, Columns: cols(
		"id text, chat_id text, client_id text, client_external_id text, name text, phone text, phone_digits text, phone_e164 text," +
			" marked_as_spam boolean, ttl integer, operator_id text, operator_name text, operator_assigned_at timestamptz," +
			" operators jsonb, channel text, messenger_type text, bot_status text, status text, started_at timestamptz," +
			" client_online_at timestamptz, client_offline_at timestamptz, unread_client_message_count integer," +
			" last_message_created_at timestamptz, last_message jsonb, client_banned boolean, referer text, tags text[]," +
			" timer_first_answer integer, timer_next_answers integer, last_operator_message jsonb," +
			" first_client_message_after_last_operator_message jsonb, created_at timestamptz, updated_at timestamptz, raw jsonb")}
	messagesTable = stream.Table{Name: "twin.messages", Key: []string{"id"}, Columns: cols(
		"id text, session_id text, author_id text, author_type text, author_name text, type text, body text, answers jsonb," +
			" keyboard jsonb, read_at timestamptz, created_at timestamptz, updated_at timestamptz, attachments jsonb, reply_to text, raw jsonb")}
	// clientsKeyTable is twin.clients as the parent of client_attributes: only its key
	// is written (the trigger on twin.sessions fills the rest), so that a client's
	// values are replaced as a whole whenever the client is read.
	clientsKeyTable       = stream.Table{Name: "twin.clients", Key: []string{"id"}, Columns: cols("id text")}
	clientAttributesTable = stream.Table{Name: "twin.client_attributes", Key: []string{"client_id", "attribute_id"},
		ParentKey: []string{"client_id"}, Columns: cols("client_id text, attribute_id text, company_id bigint, name text, value text, raw jsonb")}
)

func descs() []stream.Desc {
	return []stream.Desc{
		{Source: Source, Name: StreamSessions, Mode: stream.ModeIncremental, Deletions: stream.DeletionsSweep, Tables: []stream.Table{sessionsTable},
			Description: "chat sessions changed since the last run (by updatedAt, with a lookback); twin.clients follows them"},
		{Source: Source, Name: StreamMessages, Mode: stream.ModeIncremental, Tables: []stream.Table{messagesTable},
			Description: "messages of every session changed since the last run"},
		{Source: Source, Name: StreamAttributes, Mode: stream.ModeFullRefresh, Deletions: stream.DeletionsEveryRun, Tables: []stream.Table{attributesTable},
			Description: "the client-attribute catalog, read completely every run"},
		{Source: Source, Name: StreamClientAttributes, Mode: stream.ModeIncremental, Tables: []stream.Table{clientsKeyTable, clientAttributesTable},
			Description: "attribute values of clients whose sessions changed, replaced per client; every known client on a periodic sweep"},
		{Source: Source, Name: StreamChats, Mode: stream.ModeFullRefresh, Deletions: stream.DeletionsEveryRun, Tables: []stream.Table{chatsTable},
			Description: "chats (widgets and messenger channels), read completely every run"},
	}
}

// obj is one API record, decoded leniently: each field is read on its own, so a field
// of an unexpected type becomes NULL in its column (the record stays whole in raw)
// instead of losing the record.
type obj map[string]json.RawMessage

func decodeObj(raw json.RawMessage) (obj, error) {
	var o obj
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, err
	}
	if o == nil {
		return nil, fmt.Errorf("not an object")
	}
	return o, nil
}

// field reads member k as the lenient type T (extractors/internal/lenient): null, absent
// and a value that does not fit are NULL.
func field[T any, PT interface {
	*T
	json.Unmarshaler
	Value() any
}](o obj, k string) any {
	var v T
	if PT(&v).UnmarshalJSON(o[k]) != nil {
		return nil
	}
	return PT(&v).Value()
}

// text reads a string; a number or boolean is kept as its JSON text.
func (o obj) text(k string) any { return field[lenient.String](o, k) }

func (o obj) str(k string) string {
	if s, ok := o.text(k).(string); ok {
		return s
	}
	return ""
}

// id reads an identifier that may come as a string, a number or an object with an id
// (the SDK says clientId's type varies).
func (o obj) id(k string) any {
	if v := o.text(k); v != nil {
		return v
	}
	if inner, err := decodeObj(o[k]); err == nil {
		return inner.text("id")
	}
	return nil
}

func (o obj) int(k string) any  { return field[lenient.Int](o, k) }
func (o obj) bool(k string) any { return field[lenient.Bool](o, k) }
func (o obj) time(k string) any { return field[lenient.Time](o, k) }

// json keeps a field's JSON as it came (jsonb); null and absent are NULL.
func (o obj) json(k string) any {
	v, ok := o[k]
	if !ok || string(v) == "null" {
		return nil
	}
	return v
}

// strs reads an array of strings; other elements are kept as their JSON text.
func (o obj) strs(k string) any {
	var items []json.RawMessage
	if v, ok := o[k]; !ok || json.Unmarshal(v, &items) != nil {
		return nil
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		var s string
		if json.Unmarshal(it, &s) == nil {
			out = append(out, s)
		} else {
			out = append(out, string(it))
		}
	}
	return out
}

func reject(table, reason string, raw []byte) *stream.Reject {
	return &stream.Reject{Table: table, Reason: reason, Payload: raw}
}

// mapped decodes raw and checks its key field.
func mapped(table string, raw json.RawMessage, keys ...string) (obj, *stream.Reject) {
	o, err := decodeObj(raw)
	if err != nil {
		return nil, reject(table, "item is not a JSON object: "+err.Error(), raw)
	}
	for _, k := range keys {
		if s, ok := o.id(k).(string); !ok || s == "" {
			return nil, reject(table, "field "+k+" is missing or empty", raw)
		}
	}
	return o, nil
}

func mapChat(raw json.RawMessage) (stream.Row, *stream.Reject) {
	o, rej := mapped(chatsTable.Name, raw, "id")
	if rej != nil {
		return nil, rej
	}
	return stream.Row{o.id("id"), o.id("botId"), o.text("name"), o.text("botName"), o.int("sessionTtl"), o.text("eventCallbackUrl"),
		o.strs("messengers"), o.time("createdAt"), o.time("updatedAt"), raw}, nil
}

func mapAttribute(raw json.RawMessage) (stream.Row, *stream.Reject) {
	o, rej := mapped(attributesTable.Name, raw, "id")
	if rej != nil {
		return nil, rej
	}
	return stream.Row{o.id("id"), o.int("companyId"), o.text("name"), raw}, nil
}

// phoneMessengers name a session after the client's phone number [INF].
var phoneMessengers = map[string]bool{"whatsapp": true, "viber": true, "sms": true, "voice": true, "call": true, "phone": true}

func (e *Extractor) mapSession(raw json.RawMessage) (stream.Row, *stream.Reject) {
	o, rej := mapped(sessionsTable.Name, raw, "id")
	if rej != nil {
		return nil, rej
	}
	var phone, digits, e164 any
	// NULs are dropped first: the loader drops them from name too, and a number with a
	// stray NUL is still that number.
	if name := strings.ReplaceAll(o.str("name"), "\x00", ""); phoneMessengers[strings.ToLower(o.str("messengerType"))] && name != "" {
		if n := phones.E164(name, e.cfg.PhoneRegion); n != nil {
			phone, digits, e164 = name, phones.Digits(name), n
		}
	}
	return stream.Row{o.id("id"), o.id("chatId"), o.id("clientId"), o.text("clientExternalId"), o.text("name"), phone, digits, e164,
		o.bool("markedAsSpam"), o.int("ttl"), o.id("operatorId"), o.text("operatorName"), o.time("operatorAssignedAt"),
		o.json("operators"), o.text("channel"), o.text("messengerType"), o.text("botStatus"), o.text("status"), o.time("startedAt"),
		o.time("clientOnlineAt"), o.time("clientOfflineAt"), o.int("unreadClientMessageCount"),
		o.time("lastMessageCreatedAt"), o.json("lastMessage"), o.bool("clientBanned"), o.text("referer"), o.strs("tags"),
		o.int("timerFirstAnswer"), o.int("timerNextAnswers"), o.json("lastOperatorMessage"),
		o.json("firstClientMessageAfterLastOperatorMessage"), o.time("createdAt"), o.time("updatedAt"), raw}, nil
}

func mapMessage(raw json.RawMessage) (stream.Row, *stream.Reject) {
	o, rej := mapped(messagesTable.Name, raw, "id")
	if rej != nil {
		return nil, rej
	}
	return stream.Row{o.id("id"), o.id("sessionId"), o.id("authorId"), o.text("authorType"), o.text("authorName"), o.text("type"),
		o.text("body"), o.json("answers"), o.json("keyboard"), o.time("readAt"), o.time("createdAt"), o.time("updatedAt"),
		o.json("attachments"), o.id("replyTo"), raw}, nil
}

// mapClientAttribute maps an A6 item of client; the item's own clientId, when
// present, must agree (a value is filed under the client it was read for).
func mapClientAttribute(client string, raw json.RawMessage) (stream.Row, *stream.Reject) {
	o, rej := mapped(clientAttributesTable.Name, raw, "id")
	if rej != nil {
		return nil, rej
	}
	if c, ok := o.id("clientId").(string); ok && c != client {
		return nil, reject(clientAttributesTable.Name, fmt.Sprintf("clientId %q differs from the client read (%q)", c, client), raw)
	}
	return stream.Row{client, o.id("id"), o.int("companyId"), o.text("name"), o.text("value"), raw}, nil
}

// sessionFacts are what the cursor logic needs from a session.
func sessionFacts(raw json.RawMessage) (client string, updated time.Time) {
	o, err := decodeObj(raw)
	if err != nil {
		return "", time.Time{}
	}
	if c, ok := o.id("clientId").(string); ok {
		client = c
	}
	for _, k := range []string{"updatedAt", "lastMessageCreatedAt", "startedAt", "createdAt"} {
		if t, ok := o.time(k).(time.Time); ok {
			return client, t
		}
	}
	return client, time.Time{}
}
