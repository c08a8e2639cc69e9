package calltouch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/extractors/internal/phones"
	"github.com/crmsync/crmsync/internal/stream"
)

// Zone is the cabinet's clock, in which the journals take and write their dates
// (Moscow, UTC+3 without DST since 2014; the reference gives no zone, Calltouch is a
// Moscow service).
var Zone = time.FixedZone("MSK", 3*3600)

// Layouts of the journals' dates.
const (
	callsDayLayout    = "02/01/2006"          // calls journal dateFrom/dateTo
	requestsDayLayout = "01/02/2006"          // requests journal dateFrom/dateTo
	dateTimeLayout    = "02/01/2006 15:04:05" // call date, request dateStr
)

// fields is one record split into its members, each decoded on its own so a value of
// an unexpected type names its field, and types that wander ("True" for true, numbers
// as strings) are accepted.
type fields struct {
	m      map[string]json.RawMessage
	prefix string // "client." for a nested object, so errors name the full path
	err    error
}

func openFields(raw json.RawMessage) (*fields, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, errors.New("not a JSON object")
	}
	return &fields{m: m}, nil
}

// nested opens an object member; a missing or null one gives an empty record.
func (f *fields) nested(name string) *fields {
	raw := f.m[name]
	empty := &fields{m: map[string]json.RawMessage{}, prefix: f.prefix + name + "."}
	if isNull(raw) {
		return empty
	}
	n, err := openFields(raw)
	if err != nil {
		f.fail(name, "want an object")
		return empty
	}
	n.prefix = empty.prefix
	return n
}

func (f *fields) fail(name, problem string) {
	if f.err == nil {
		f.err = fmt.Errorf("field %s%s: %s", f.prefix, name, problem)
	}
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// str reads text; numbers and booleans are kept as written. "" stays "" (an empty
// value is the API's answer); missing and null give nil.
func (f *fields) str(name string) any {
	raw := bytes.TrimSpace(f.m[name])
	if isNull(raw) {
		return nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			f.fail(name, "bad string")
			return nil
		}
		return s
	case '{', '[':
		f.fail(name, "want text, got "+kind(raw))
		return nil
	}
	return string(raw)
}

// text is str for a value that must be present to be useful: "" becomes nil too.
func (f *fields) text(name string) any {
	if s, ok := f.str(name).(string); ok && strings.TrimSpace(s) != "" {
		return s
	}
	return nil
}

// scalar returns a member's value as text: a string unquoted, anything else as
// written, trimmed. ok is false for a missing, null or blank member (and for a string
// that does not decode, which is recorded).
func (f *fields) scalar(name string) (s string, raw []byte, ok bool) {
	raw = bytes.TrimSpace(f.m[name])
	if isNull(raw) {
		return "", raw, false
	}
	s = string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			f.fail(name, "bad string")
			return "", raw, false
		}
	}
	s = strings.TrimSpace(s)
	return s, raw, s != ""
}

// int reads a whole number given as a number or a string ("" and null: nil).
func (f *fields) int(name string) any {
	s, raw, ok := f.scalar(name)
	if !ok {
		return nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	if x, err := strconv.ParseFloat(s, 64); err == nil && x == math.Trunc(x) && math.Abs(x) < 1<<63 {
		return int64(x)
	}
	f.fail(name, fmt.Sprintf("want a whole number, got %s", excerpt(raw)))
	return nil
}

// bool reads true/false, "True"/"False" in any case, "1"/"0", "yes"/"no" and 1/0.
func (f *fields) bool(name string) any {
	s, raw, ok := f.scalar(name)
	if !ok {
		return nil
	}
	switch strings.ToLower(s) {
	case "true", "1", "yes", "y":
		return true
	case "false", "0", "no", "n":
		return false
	}
	f.fail(name, fmt.Sprintf("want a boolean, got %s", excerpt(raw)))
	return nil
}

// dateTime reads dd/mm/yyyy hh:mm:ss in cabinet time, or a unix time in seconds or
// milliseconds (a number or a string of digits).
func (f *fields) dateTime(name string) any {
	s, raw, ok := f.scalar(name)
	if !ok {
		return nil
	}
	if t, ok := parseTime(s); ok {
		return t
	}
	f.fail(name, fmt.Sprintf("want dd/mm/yyyy hh:mm:ss or a unix time, got %s", excerpt(raw)))
	return nil
}

func parseTime(s string) (time.Time, bool) {
	if t, err := time.ParseInLocation(dateTimeLayout, s, Zone); err == nil {
		return t.UTC(), true
	}
	if t, err := time.ParseInLocation("02/01/2006 15:04", s, Zone); err == nil {
		return t.UTC(), true
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		if n > 1e11 { // milliseconds
			return time.UnixMilli(n).UTC(), true
		}
		return time.Unix(n, 0).UTC(), true
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), true
	}
	return time.Time{}, false
}

// list decodes an array member into dst; null or missing leave dst empty.
func (f *fields) list(name string, dst any) {
	raw := f.m[name]
	if isNull(raw) {
		return
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		f.fail(name, "want a list: "+err.Error())
	}
}

func kind(raw []byte) string {
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "a list"
	}
	return "a value"
}

func excerpt(b []byte) string {
	if len(b) > 64 {
		b = b[:64]
	}
	return strings.ToValidUTF8(string(b), "")
}

// looseText is a list element or member that may be a string, a number or null.
type looseText struct{ v string }

func (t *looseText) UnmarshalJSON(b []byte) error {
	if isNull(b) {
		return nil
	}
	if b[0] == '"' {
		return json.Unmarshal(b, &t.v)
	}
	if b[0] == '{' || b[0] == '[' {
		return fmt.Errorf("want text, got %s", kind(b))
	}
	t.v = string(b)
	return nil
}

// tagNames flattens callTags / RequestTags: [{category, type, names: [...]}].
func tagNames(f *fields, name string) []string {
	var tags []struct {
		Names []looseText `json:"names"`
		Name  looseText   `json:"name"` // a flat form seen in some exports
	}
	f.list(name, &tags)
	out := []string{}
	for _, t := range tags {
		for _, n := range t.Names {
			if n.v != "" {
				out = append(out, n.v)
			}
		}
		if t.Name.v != "" {
			out = append(out, t.Name.v)
		}
	}
	return out
}

// commentTexts lists comments[].comment.
func commentTexts(f *fields) []string {
	var cs []struct {
		Comment looseText `json:"comment"`
	}
	f.list("comments", &cs)
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.Comment.v)
	}
	return out
}

// phoneColumns returns the digits-only and E.164 forms of a phone (nil for none).
func phoneColumns(p any, region string) (digits, e164 any) {
	s, ok := p.(string)
	if !ok {
		return nil, nil
	}
	return phones.Digits(s), phones.E164(s, region)
}

// dayOf is the cabinet-local day of t, as the date a day-window scope names.
func dayOf(t any) any {
	tt, ok := t.(time.Time)
	if !ok {
		return nil
	}
	l := tt.In(Zone)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC)
}

// mapCall turns one calls-journal record into a row of calltouch.calls.
func (e *Extractor) mapCall(raw json.RawMessage) (stream.Row, time.Time, error) {
	f, err := openFields(raw)
	if err != nil {
		return nil, time.Time{}, err
	}
	id, _ := f.int("callId").(int64)
	if f.err != nil || id == 0 {
		return nil, time.Time{}, errors.New("field callId: missing or not a number")
	}
	at := f.dateTime("date")
	if at == nil && f.err == nil {
		f.fail("date", "missing")
	}
	caller := f.text("callerNumber")
	digits, e164 := phoneColumns(caller, e.cfg.Region)
	var orders []struct {
		OrderNumber looseText `json:"orderNumber"`
		OrderID     looseText `json:"orderId"`
	}
	f.list("orders", &orders)
	orderNumbers := make([]string, 0, len(orders))
	for _, o := range orders {
		orderNumbers = append(orderNumbers, cmpOr(o.OrderNumber.v, o.OrderID.v))
	}
	row := stream.Row{
		e.cfg.SiteID, id, dayOf(at), at,
		f.int("duration"), f.int("waitingConnect"),
		caller, digits, e164,
		f.text("phoneNumber"), f.text("redirectNumber"),
		f.bool("successful"), f.bool("uniqueCall"), f.bool("targetCall"), f.bool("uniqTargetCall"), f.bool("callbackCall"),
		f.text("manager"), f.text("city"), f.text("source"), f.text("medium"),
		f.text("keyword"), f.text("url"), f.text("callUrl"), f.text("ref"), f.text("hostname"),
		f.text("utmSource"), f.text("utmMedium"), f.text("utmCampaign"), f.text("utmContent"), f.text("utmTerm"),
		f.int("sessionId"), f.text("callphase"), f.int("attribution"),
		f.text("ctCallerId"), f.text("clientId"), f.text("yaClientId"), f.text("ctClientId"),
		f.text("ctGlobalId"), f.text("sipCallId"), f.text("callReferenceId"),
		f.text("subPoolName"), f.text("statusDetails"),
		tagNames(f, "callTags"), commentTexts(f), orderNumbers,
		raw,
	}
	if f.err != nil {
		return nil, time.Time{}, f.err
	}
	return row, at.(time.Time), nil
}

// mapRequest turns one requests-journal record into a row of calltouch.requests.
func (e *Extractor) mapRequest(raw json.RawMessage) (stream.Row, time.Time, error) {
	f, err := openFields(raw)
	if err != nil {
		return nil, time.Time{}, err
	}
	id, _ := f.int("requestId").(int64)
	if f.err != nil || id == 0 {
		return nil, time.Time{}, errors.New("field requestId: missing or not a number")
	}
	at := f.dateTime("date")
	if at == nil {
		f.err = nil
		at = f.dateTime("dateStr")
	}
	if at == nil && f.err == nil {
		f.fail("date", "missing (and no dateStr)")
	}
	client := f.nested("client")
	var phoneList []struct {
		PhoneNumber looseText `json:"phoneNumber"`
	}
	client.list("phones", &phoneList)
	var contacts []struct {
		ContactType  looseText `json:"contactType"`
		ContactValue looseText `json:"contactValue"`
	}
	client.list("contacts", &contacts)
	phoneTexts, e164s, emails := []string{}, []string{}, []string{}
	for _, p := range phoneList {
		if strings.TrimSpace(p.PhoneNumber.v) == "" {
			continue
		}
		phoneTexts = append(phoneTexts, p.PhoneNumber.v)
		if v, ok := phones.E164(p.PhoneNumber.v, e.cfg.Region).(string); ok {
			e164s = append(e164s, v)
		}
	}
	for _, c := range contacts {
		if strings.EqualFold(c.ContactType.v, "email") && strings.TrimSpace(c.ContactValue.v) != "" {
			emails = append(emails, c.ContactValue.v)
		}
	}
	var phone, email any
	if len(phoneTexts) > 0 {
		phone = phoneTexts[0]
	}
	if len(emails) > 0 {
		email = emails[0]
	}
	digits, e164 := phoneColumns(phone, e.cfg.Region)
	sess := f.nested("session")
	row := stream.Row{
		e.cfg.SiteID, id, f.text("requestNumber"),
		dayOf(at), at, f.text("subject"),
		f.bool("uniqueRequest"), f.bool("targetRequest"), f.bool("uniqTargetRequest"),
		f.text("manager"), client.int("clientId"), client.text("fio"),
		phone, digits, e164,
		phoneTexts, e164s, email, emails,
		sess.int("sessionId"), sess.text("source"), sess.text("medium"), sess.text("keywords"),
		sess.text("city"), sess.text("ip"), sess.text("ref"), sess.text("url"),
		sess.text("utmSource"), sess.text("utmMedium"), sess.text("utmCampaign"), sess.text("utmContent"), sess.text("utmTerm"),
		sess.text("guaClientId"), sess.text("yaClientId"), sess.int("attribution"),
		f.text("ctClientId"), f.text("ctGlobalId"),
		tagNames(f, "RequestTags"), commentTexts(f),
		raw,
	}
	for _, sub := range []*fields{f, client, sess} {
		if sub.err != nil {
			return nil, time.Time{}, sub.err
		}
	}
	return row, at.(time.Time), nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
