package simulator

import (
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Append-style JSON for the records a sync pulls by the thousand. encoding/json's
// reflection was the largest single cost of serving them; these encoders write the
// same bytes (field order, null for nil pointers and slices, omitempty, escaping),
// which TestAppendJSONMatchesEncodingJSON checks against json.Marshal.

// jsonAppender is a record that can append its own JSON encoding.
type jsonAppender interface {
	appendJSON(b []byte) []byte
}

// appendJSONString appends s quoted exactly as json.Marshal does: HTML-sensitive
// characters and U+2028/U+2029 escaped, invalid UTF-8 replaced with U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	if utf8.ValidString(s) {
		return appendValidJSONString(dst, s)
	}
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if jsonPlain[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = appendEscapedASCII(dst, b)
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendEscapedASCII appends the escape json.Marshal writes for the ASCII byte b.
func appendEscapedASCII(dst []byte, b byte) []byte {
	const hex = "0123456789abcdef"
	switch b {
	case '\\', '"':
		return append(dst, '\\', b)
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	return append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
}

// jsonPlain marks the ASCII bytes json.Marshal copies as they are.
var jsonPlain = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
	}
	return t
}()

// appendValidJSONString is appendJSONString for valid UTF-8, the common case: then
// the only multi-byte sequences to escape are U+2028 and U+2029 (E2 80 A8/A9), so
// the other non-ASCII bytes need no decoding.
func appendValidJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b >= utf8.RuneSelf {
			if b == 0xE2 && i+2 < len(s) && s[i+1] == 0x80 && (s[i+2] == 0xA8 || s[i+2] == 0xA9) {
				dst = append(dst, s[start:i]...)
				dst = append(dst, '\\', 'u', '2', '0', '2', hex[s[i+2]&0xF])
				i += 2
				start = i + 1
			}
			continue
		}
		if jsonPlain[b] {
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = appendEscapedASCII(dst, b)
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func appendJSONStringPtr(b []byte, p *string) []byte {
	if p == nil {
		return append(b, "null"...)
	}
	return appendJSONString(b, *p)
}

// appendJSONArray appends xs as json.Marshal does a slice: null when nil, else each
// element by elem, comma-separated.
func appendJSONArray[T any](b []byte, xs []T, elem func([]byte, *T) []byte) []byte {
	if xs == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		b = elem(b, &xs[i])
	}
	return append(b, ']')
}

func appendJSONStrings(b []byte, ss []string) []byte {
	return appendJSONArray(b, ss, func(b []byte, s *string) []byte { return appendJSONString(b, *s) })
}

func appendJSONInts(b []byte, xs []int) []byte {
	return appendJSONArray(b, xs, func(b []byte, x *int) []byte { return strconv.AppendInt(b, int64(*x), 10) })
}

// appendJSONFloat is encoding/json's float64 format (ES6 number to string). NaN and
// infinities, which json.Marshal rejects, never occur in generated data.
func appendJSONFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

func appendJSONBool(b []byte, v bool) []byte {
	if v {
		return append(b, "true"...)
	}
	return append(b, "false"...)
}

// appendItems appends items as a JSON array, adding unknown fields when asked.
func appendItems[T any](buf []byte, f Faults, items []T) []byte {
	buf = append(buf, '[')
	for i := range items {
		if a, ok := any(&items[i]).(jsonAppender); ok {
			if i > 0 {
				buf = append(buf, ',')
			}
			start := len(buf)
			buf = a.appendJSON(buf)
			if f.UnknownFields {
				buf = append(buf[:start], withUnknown(f, append([]byte(nil), buf[start:]...))...)
			}
			continue
		}
		b, err := json.Marshal(items[i])
		if err != nil {
			continue
		}
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, withUnknown(f, b)...)
	}
	return append(buf, ']')
}

// appendOne appends the JSON of one record (adding unknown fields when asked), as
// marshalOne builds it.
func appendOne(b []byte, f Faults, v any) []byte {
	a, ok := v.(jsonAppender)
	if !ok {
		return append(b, marshalOne(f, v)...)
	}
	start := len(b)
	b = a.appendJSON(b)
	if f.UnknownFields {
		b = append(b[:start], withUnknown(f, append([]byte(nil), b[start:]...))...)
	}
	return b
}

func (r *Ref) appendJSON(b []byte) []byte {
	b = append(b, `{"type":`...)
	b = appendJSONString(b, r.Type)
	b = append(b, `,"id":`...)
	b = appendJSONString(b, r.ID)
	return append(b, '}')
}

func appendRefs(b []byte, rs []Ref) []byte {
	return appendJSONArray(b, rs, func(b []byte, r *Ref) []byte { return r.appendJSON(b) })
}

func (m *Message) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, m.ID)
	b = append(b, `,"text":`...)
	b = appendJSONString(b, m.Text)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, m.Type)
	b = append(b, `,"read":`...)
	b = appendJSONBool(b, m.Read)
	b = append(b, `,"createdAt":`...)
	b = appendJSONString(b, m.CreatedAt)
	b = append(b, `,"updatedAt":`...)
	b = appendJSONString(b, m.UpdatedAt)
	if m.Links != nil {
		b = append(b, `,"links":{"createdBy":`...)
		b = m.Links.CreatedBy.appendJSON(b)
		b = append(b, '}')
	}
	return append(b, '}')
}

func (m *TRMessage) appendJSON(b []byte) []byte {
	b = append(b, `{"message_id":`...)
	b = appendJSONString(b, m.MessageID)
	b = append(b, `,"body":`...)
	b = appendJSONString(b, m.Body)
	b = append(b, `,"message_direction":`...)
	b = appendJSONString(b, m.MessageDirection)
	b = append(b, `,"response_by_username":`...)
	b = appendJSONStringPtr(b, m.ResponseByUsername)
	b = append(b, `,"message_timestamp_utc":`...)
	b = appendJSONString(b, m.MessageTimestampUTC)
	b = append(b, `,"delivery_status":`...)
	b = appendJSONStringPtr(b, m.DeliveryStatus)
	b = append(b, `,"delivery_error":`...)
	b = appendJSONStringPtr(b, m.DeliveryError)
	b = append(b, `,"mms_media":`...)
	b = appendJSONStrings(b, m.MMSMedia)
	return append(b, '}')
}

func (c *Contact) appendJSON(b []byte) []byte {
	b = append(b, `{"phone_number":`...)
	b = appendJSONString(b, c.PhoneNumber)
	b = append(b, `,"first_name":`...)
	b = appendJSONStringPtr(b, c.FirstName)
	b = append(b, `,"last_name":`...)
	b = appendJSONStringPtr(b, c.LastName)
	b = append(b, `,"display_name":`...)
	b = appendJSONStringPtr(b, c.DisplayName)
	b = append(b, `,"is_suppressed":`...)
	b = appendJSONBool(b, c.IsSuppressed)
	b = append(b, `,"is_archived":`...)
	b = appendJSONBool(b, c.IsArchived)
	b = append(b, `,"is_blocked":`...)
	b = appendJSONBool(b, c.IsBlocked)
	b = append(b, `,"suppressed_reason":`...)
	b = appendJSONStringPtr(b, c.SuppressedReason)
	b = append(b, `,"note":`...)
	b = appendJSONStringPtr(b, c.Note)
	b = append(b, `,"groups":`...)
	b = appendJSONInts(b, c.Groups)
	b = append(b, `,"contact_tags":`...)
	b = appendJSONStrings(b, c.ContactTags)
	b = append(b, `,"custom_fields":`...)
	b = appendJSONArray(b, c.CustomFields, func(b []byte, f *CustomFieldValue) []byte {
		b = append(b, `{"id":`...)
		b = appendJSONString(b, f.ID)
		b = append(b, `,"value":`...)
		b = appendJSONStringPtr(b, f.Value)
		return append(b, '}')
	})
	b = append(b, `,"is_resolved":`...)
	b = appendJSONBool(b, c.IsResolved)
	b = append(b, `,"first_contact_utc":`...)
	b = appendJSONStringPtr(b, c.FirstContactUTC)
	b = append(b, `,"opted_out_utc":`...)
	b = appendJSONStringPtr(b, c.OptedOutUTC)
	b = append(b, `,"last_msg_sent_utc":`...)
	b = appendJSONStringPtr(b, c.LastMsgSentUTC)
	b = append(b, `,"last_msg_received_utc":`...)
	b = appendJSONStringPtr(b, c.LastMsgReceivedUTC)
	b = append(b, `,"total_msgs_sent":`...)
	b = strconv.AppendInt(b, int64(c.TotalMsgsSent), 10)
	b = append(b, `,"total_msgs_received":`...)
	b = strconv.AppendInt(b, int64(c.TotalMsgsReceived), 10)
	b = append(b, `,"response_count":`...)
	b = strconv.AppendInt(b, int64(c.ResponseCount), 10)
	b = append(b, `,"date_created_utc":`...)
	b = appendJSONStringPtr(b, c.DateCreatedUTC)
	b = append(b, `,"last_contact_date_utc":`...)
	b = appendJSONStringPtr(b, c.LastContactDateUTC)
	b = append(b, `,"last_message":`...)
	if c.LastMessage == nil {
		b = append(b, "null"...)
	} else {
		b = c.LastMessage.appendJSON(b)
	}
	return append(b, '}')
}

func (c *Channel) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, c.ID)
	b = append(b, `,"person_id":`...)
	b = appendJSONString(b, c.PersonID)
	b = append(b, `,"name":`...)
	b = appendJSONStringPtr(b, c.Name)
	b = append(b, `,"from":`...)
	b = appendJSONString(b, c.From)
	b = append(b, `,"connection_id":`...)
	b = appendJSONString(b, c.ConnectionID)
	b = append(b, `,"connection_status":`...)
	b = appendJSONString(b, c.ConnectionStatus)
	b = append(b, `,"botStatus":`...)
	b = appendJSONString(b, c.BotStatus)
	b = append(b, `,"tags":`...)
	b = appendJSONStrings(b, c.Tags)
	b = append(b, `,"utm":{"utm_source":`...)
	b = appendJSONStringPtr(b, c.UTM.Source)
	b = append(b, `,"utm_medium":`...)
	b = appendJSONStringPtr(b, c.UTM.Medium)
	b = append(b, `,"utm_campaign":`...)
	b = appendJSONStringPtr(b, c.UTM.Campaign)
	b = append(b, `,"utm_content":`...)
	b = appendJSONStringPtr(b, c.UTM.Content)
	b = append(b, `,"utm_term":`...)
	b = appendJSONStringPtr(b, c.UTM.Term)
	b = append(b, `},"lastMessageTime":`...)
	b = appendJSONString(b, c.LastMessageTime)
	b = append(b, `,"createdAt":`...)
	b = appendJSONString(b, c.CreatedAt)
	b = append(b, `,"updatedAt":`...)
	b = appendJSONString(b, c.UpdatedAt)
	return append(b, '}')
}

func (p *Person) appendJSON(b []byte) []byte {
	return append(p.appendFields(b), '}')
}

// appendFields appends the person's object without its closing brace, for the detail
// view to extend.
func (p *Person) appendFields(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, p.ID)
	b = append(b, `,"name":`...)
	b = appendJSONStringPtr(b, p.Name)
	b = append(b, `,"phone":`...)
	b = appendJSONString(b, p.Phone)
	b = append(b, `,"email":`...)
	b = appendJSONString(b, p.Email)
	b = append(b, `,"tags":`...)
	b = appendJSONStrings(b, p.Tags)
	b = append(b, `,"accounts":`...)
	b = appendJSONArray(b, p.Accounts, func(b []byte, a *PersonAccount) []byte {
		b = append(b, `{"account_id":`...)
		b = appendJSONString(b, a.AccountID)
		b = append(b, `,"connection_id":`...)
		b = appendJSONString(b, a.ConnectionID)
		b = append(b, `,"connection_status":`...)
		b = appendJSONString(b, a.ConnectionStatus)
		b = append(b, `,"from":`...)
		b = appendJSONString(b, a.From)
		return append(b, '}')
	})
	b = append(b, `,"lastMessageTime":`...)
	b = appendJSONString(b, p.LastMessageTime)
	b = append(b, `,"createdAt":`...)
	b = appendJSONString(b, p.CreatedAt)
	b = append(b, `,"updatedAt":`...)
	return appendJSONString(b, p.UpdatedAt)
}

// appendJSON is defined because personDetailJSON would otherwise inherit Person's.
func (p *personDetailJSON) appendJSON(b []byte) []byte {
	b = p.Person.appendFields(b)
	b = append(b, `,"gender":`...)
	b = appendJSONStringPtr(b, p.Gender)
	b = append(b, `,"locale":`...)
	b = appendJSONString(b, p.Locale)
	b = append(b, `,"custom_fields":`...)
	if p.CustomFields == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '{')
		for i, k := range slices.Sorted(maps.Keys(p.CustomFields)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONStringPtr(b, p.CustomFields[k])
		}
		b = append(b, '}')
	}
	b = append(b, `,"subscribeHistory":`...)
	b = appendSubscriptions(b, p.SubscribeHistory)
	b = append(b, `,"links":`...)
	b = p.Links.appendJSON(b)
	return append(b, '}')
}

func (l *Links) appendJSON(b []byte) []byte {
	b = append(b, `{"contactedUsers":`...)
	b = appendRefs(b, l.ContactedUsers)
	b = append(b, `,"orders":`...)
	b = appendRefs(b, l.Orders)
	return append(b, '}')
}

func appendSubscriptions(b []byte, subs []Subscription) []byte {
	return appendJSONArray(b, subs, func(b []byte, s *Subscription) []byte {
		b = append(b, `{"tunnelName":`...)
		b = appendJSONString(b, s.TunnelName)
		b = append(b, `,"leadgentoolName":`...)
		b = appendJSONString(b, s.LeadgentoolName)
		b = append(b, `,"trafficSource":`...)
		b = appendJSONString(b, s.TrafficSource)
		return append(b, '}')
	})
}

// appendJSON is defined because dashMessage would otherwise inherit TRMessage's.
func (m *dashMessage) appendJSON(b []byte) []byte {
	b = m.TRMessage.appendJSON(b)
	if m.PhoneNumber == "" { // omitempty: DashboardMessagesWithoutPhone
		return b
	}
	b = append(b[:len(b)-1], `,"phone_number":`...)
	b = appendJSONString(b, m.PhoneNumber)
	return append(b, '}')
}

func (a *Account) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, a.ID)
	b = append(b, `,"name":`...)
	b = appendJSONStringPtr(b, a.Name)
	b = append(b, `,"tags":`...)
	b = appendJSONStrings(b, a.Tags)
	b = append(b, `,"from":`...)
	b = appendJSONString(b, a.From)
	b = append(b, `,"botStatus":`...)
	b = appendJSONString(b, a.BotStatus)
	b = append(b, `,"lastMessageTime":`...)
	b = appendJSONString(b, a.LastMessageTime)
	b = append(b, `,"createdAt":`...)
	b = appendJSONString(b, a.CreatedAt)
	b = append(b, `,"email":`...)
	b = appendJSONString(b, a.Email)
	b = append(b, `,"phone":`...)
	b = appendJSONString(b, a.Phone)
	return append(b, '}')
}

func (a *accountDetailJSON) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, a.ID)
	b = append(b, `,"name":`...)
	b = appendJSONStringPtr(b, a.Name)
	b = append(b, `,"tags":`...)
	b = appendJSONStrings(b, a.Tags)
	b = append(b, `,"from":`...)
	b = appendJSONString(b, a.From)
	b = append(b, `,"botStatus":`...)
	b = appendJSONString(b, a.BotStatus)
	b = append(b, `,"gender":`...)
	b = appendJSONStringPtr(b, a.Gender)
	b = append(b, `,"locale":`...)
	b = appendJSONString(b, a.Locale)
	b = append(b, `,"email":`...)
	b = appendJSONString(b, a.Email)
	b = append(b, `,"phone":`...)
	b = appendJSONString(b, a.Phone)
	b = append(b, `,"subscribeHistory":`...)
	b = appendSubscriptions(b, a.SubscribeHistory)
	b = append(b, `,"links":`...)
	b = a.Links.appendJSON(b)
	b = append(b, `,"createdAt":`...)
	b = appendJSONString(b, a.CreatedAt)
	b = append(b, `,"updatedAt":`...)
	b = appendJSONString(b, a.UpdatedAt)
	return append(b, '}')
}

func (u *v1User) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, u.ID)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, u.Name)
	b = append(b, `,"createdAt":`...)
	b = appendJSONString(b, u.CreatedAt)
	b = append(b, `,"updatedAt":`...)
	b = appendJSONString(b, u.UpdatedAt)
	return append(b, '}')
}

func (o *v1Order) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, o.ID)
	b = append(b, `,"price":`...)
	b = appendJSONFloat(b, o.Price)
	b = append(b, `,"currency":`...)
	b = appendJSONString(b, o.Currency)
	b = append(b, `,"paymentMethod":`...)
	b = appendJSONString(b, o.PaymentMethod)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, o.Status)
	b = append(b, `,"updatedAt":`...)
	b = appendJSONString(b, o.UpdatedAt)
	return append(b, '}')
}
