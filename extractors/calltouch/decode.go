package calltouch

import (
	"cmp"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/extractors/internal/lenient"
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

// A record is decoded with encoding/json into a DTO of lenient fields
// (extractors/internal/lenient): types that wander ("True" for true, numbers as strings)
// are accepted, and a value of an unexpected type fails the record with a reason naming
// its field.

// text is a text column's value: blank is NULL too (an empty value says nothing).
func text(s lenient.String) any {
	if strings.TrimSpace(s.V) == "" {
		return nil
	}
	return s.V
}

// cabinetTime is a journal time: dd/mm/yyyy hh:mm[:ss] in cabinet time, a unix time in
// seconds or milliseconds (a number or a string of digits), or RFC 3339.
type cabinetTime struct {
	T     time.Time
	Valid bool
}

// Want implements lenient.Wanter.
func (cabinetTime) Want() string { return "dd/mm/yyyy hh:mm:ss or a unix time" }

// UnmarshalJSON implements json.Unmarshaler.
func (c *cabinetTime) UnmarshalJSON(b []byte) error {
	*c = cabinetTime{}
	var s lenient.String
	if err := s.UnmarshalJSON(b); err != nil {
		return lenient.Mismatch[cabinetTime](b)
	}
	if v := strings.TrimSpace(s.V); v != "" {
		if c.T, c.Valid = parseTime(v); !c.Valid {
			return lenient.Mismatch[cabinetTime](b)
		}
	}
	return nil
}

// Value is the time for a timestamptz column, or nil.
func (c cabinetTime) Value() any {
	if !c.Valid {
		return nil
	}
	return c.T
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

// tag is an entry of callTags / RequestTags: {category, type, names: [...]}, or {name}
// in some exports.
type tag struct {
	Names lenient.Strings `json:"names"`
	Name  lenient.String  `json:"name"`
}

// tagNames flattens a tag list to its names.
func tagNames(tags []tag) []string {
	out := []string{}
	for _, t := range tags {
		for _, n := range t.Names.V {
			if n != "" {
				out = append(out, n)
			}
		}
		if t.Name.V != "" {
			out = append(out, t.Name.V)
		}
	}
	return out
}

// comment is an entry of comments[].
type comment struct {
	Comment lenient.String `json:"comment"`
}

// commentTexts lists comments[].comment.
func commentTexts(cs []comment) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.Comment.V)
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

// callDTO is a calls-journal record (§4.1).
type callDTO struct {
	CallID          lenient.Int    `json:"callId"`
	Date            cabinetTime    `json:"date"`
	Duration        lenient.Int    `json:"duration"`
	WaitingConnect  lenient.Int    `json:"waitingConnect"`
	CallerNumber    lenient.String `json:"callerNumber"`
	PhoneNumber     lenient.String `json:"phoneNumber"`
	RedirectNumber  lenient.String `json:"redirectNumber"`
	Successful      lenient.Bool   `json:"successful"`
	UniqueCall      lenient.Bool   `json:"uniqueCall"`
	TargetCall      lenient.Bool   `json:"targetCall"`
	UniqTargetCall  lenient.Bool   `json:"uniqTargetCall"`
	CallbackCall    lenient.Bool   `json:"callbackCall"`
	Manager         lenient.String `json:"manager"`
	City            lenient.String `json:"city"`
	Source          lenient.String `json:"source"`
	Medium          lenient.String `json:"medium"`
	Keyword         lenient.String `json:"keyword"`
	URL             lenient.String `json:"url"`
	CallURL         lenient.String `json:"callUrl"`
	Ref             lenient.String `json:"ref"`
	Hostname        lenient.String `json:"hostname"`
	UTMSource       lenient.String `json:"utmSource"`
	UTMMedium       lenient.String `json:"utmMedium"`
	UTMCampaign     lenient.String `json:"utmCampaign"`
	UTMContent      lenient.String `json:"utmContent"`
	UTMTerm         lenient.String `json:"utmTerm"`
	SessionID       lenient.Int    `json:"sessionId"`
	Callphase       lenient.String `json:"callphase"`
	Attribution     lenient.Int    `json:"attribution"`
	CTCallerID      lenient.String `json:"ctCallerId"`
	ClientID        lenient.String `json:"clientId"`
	YaClientID      lenient.String `json:"yaClientId"`
	CTClientID      lenient.String `json:"ctClientId"`
	CTGlobalID      lenient.String `json:"ctGlobalId"`
	SipCallID       lenient.String `json:"sipCallId"`
	CallReferenceID lenient.String `json:"callReferenceId"`
	SubPoolName     lenient.String `json:"subPoolName"`
	StatusDetails   lenient.String `json:"statusDetails"`
	CallTags        []tag          `json:"callTags"`
	Comments        []comment      `json:"comments"`
	Orders          []struct {
		OrderNumber lenient.String `json:"orderNumber"`
		OrderID     lenient.String `json:"orderId"`
	} `json:"orders"`
}

// mapCall turns one calls-journal record into a row of calltouch.calls.
func (e *Extractor) mapCall(raw json.RawMessage) (stream.Row, time.Time, error) {
	var c callDTO
	if err := lenient.Decode(raw, &c); err != nil {
		return nil, time.Time{}, err
	}
	if c.CallID.V == 0 {
		return nil, time.Time{}, errors.New("field callId: missing or not a number")
	}
	if !c.Date.Valid {
		return nil, time.Time{}, errors.New("field date: missing")
	}
	caller := text(c.CallerNumber)
	digits, e164 := phoneColumns(caller, e.cfg.Region)
	orderNumbers := make([]string, 0, len(c.Orders))
	for _, o := range c.Orders {
		orderNumbers = append(orderNumbers, cmp.Or(o.OrderNumber.V, o.OrderID.V))
	}
	at := c.Date.Value()
	return stream.Row{
		e.cfg.SiteID, c.CallID.V, dayOf(at), at,
		c.Duration.Value(), c.WaitingConnect.Value(),
		caller, digits, e164,
		text(c.PhoneNumber), text(c.RedirectNumber),
		c.Successful.Value(), c.UniqueCall.Value(), c.TargetCall.Value(), c.UniqTargetCall.Value(), c.CallbackCall.Value(),
		text(c.Manager), text(c.City), text(c.Source), text(c.Medium),
		text(c.Keyword), text(c.URL), text(c.CallURL), text(c.Ref), text(c.Hostname),
		text(c.UTMSource), text(c.UTMMedium), text(c.UTMCampaign), text(c.UTMContent), text(c.UTMTerm),
		c.SessionID.Value(), text(c.Callphase), c.Attribution.Value(),
		text(c.CTCallerID), text(c.ClientID), text(c.YaClientID), text(c.CTClientID),
		text(c.CTGlobalID), text(c.SipCallID), text(c.CallReferenceID),
		text(c.SubPoolName), text(c.StatusDetails),
		tagNames(c.CallTags), commentTexts(c.Comments), orderNumbers,
		raw,
	}, c.Date.T, nil
}

// requestDTO is a requests-journal record (§4.2).
type requestDTO struct {
	RequestID     lenient.Int    `json:"requestId"`
	RequestNumber lenient.String `json:"requestNumber"`
	// date and dateStr are read after decoding: a date that does not parse falls back
	// to dateStr.
	Date              lenient.String `json:"date"`
	DateStr           lenient.String `json:"dateStr"`
	Subject           lenient.String `json:"subject"`
	UniqueRequest     lenient.Bool   `json:"uniqueRequest"`
	TargetRequest     lenient.Bool   `json:"targetRequest"`
	UniqTargetRequest lenient.Bool   `json:"uniqTargetRequest"`
	Manager           lenient.String `json:"manager"`
	CTClientID        lenient.String `json:"ctClientId"`
	CTGlobalID        lenient.String `json:"ctGlobalId"`
	RequestTags       []tag          `json:"RequestTags"`
	Comments          []comment      `json:"comments"`
	Client            lenient.Object[struct {
		ClientID lenient.Int    `json:"clientId"`
		FIO      lenient.String `json:"fio"`
		Phones   []struct {
			PhoneNumber lenient.String `json:"phoneNumber"`
		} `json:"phones"`
		Contacts []struct {
			ContactType  lenient.String `json:"contactType"`
			ContactValue lenient.String `json:"contactValue"`
		} `json:"contacts"`
	}] `json:"client"`
	Session lenient.Object[struct {
		SessionID   lenient.Int    `json:"sessionId"`
		Source      lenient.String `json:"source"`
		Medium      lenient.String `json:"medium"`
		Keywords    lenient.String `json:"keywords"`
		City        lenient.String `json:"city"`
		IP          lenient.String `json:"ip"`
		Ref         lenient.String `json:"ref"`
		URL         lenient.String `json:"url"`
		UTMSource   lenient.String `json:"utmSource"`
		UTMMedium   lenient.String `json:"utmMedium"`
		UTMCampaign lenient.String `json:"utmCampaign"`
		UTMContent  lenient.String `json:"utmContent"`
		UTMTerm     lenient.String `json:"utmTerm"`
		GuaClientID lenient.String `json:"guaClientId"`
		YaClientID  lenient.String `json:"yaClientId"`
		Attribution lenient.Int    `json:"attribution"`
	}] `json:"session"`
}

// requestTime is a request's time: date, or dateStr when date is absent or does not
// parse.
func requestTime(q *requestDTO) (time.Time, error) {
	if t, ok := parseTime(strings.TrimSpace(q.Date.V)); ok {
		return t, nil
	}
	s := strings.TrimSpace(q.DateStr.V)
	if s == "" {
		return time.Time{}, errors.New("field date: missing (and no dateStr)")
	}
	t, ok := parseTime(s)
	if !ok {
		return time.Time{}, &lenient.FieldError{Field: "dateStr", Want: cabinetTime{}.Want(), Got: lenient.Excerpt([]byte(strconv.Quote(s)))}
	}
	return t, nil
}

// mapRequest turns one requests-journal record into a row of calltouch.requests.
func (e *Extractor) mapRequest(raw json.RawMessage) (stream.Row, time.Time, error) {
	var q requestDTO
	if err := lenient.Decode(raw, &q); err != nil {
		return nil, time.Time{}, err
	}
	if q.RequestID.V == 0 {
		return nil, time.Time{}, errors.New("field requestId: missing or not a number")
	}
	at, err := requestTime(&q)
	if err != nil {
		return nil, time.Time{}, err
	}
	client, sess := &q.Client.V, &q.Session.V
	phoneTexts, e164s, emails := []string{}, []string{}, []string{}
	for _, p := range client.Phones {
		if strings.TrimSpace(p.PhoneNumber.V) == "" {
			continue
		}
		phoneTexts = append(phoneTexts, p.PhoneNumber.V)
		if v, ok := phones.E164(p.PhoneNumber.V, e.cfg.Region).(string); ok {
			e164s = append(e164s, v)
		}
	}
	for _, c := range client.Contacts {
		if strings.EqualFold(c.ContactType.V, "email") && strings.TrimSpace(c.ContactValue.V) != "" {
			emails = append(emails, c.ContactValue.V)
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
	return stream.Row{
		e.cfg.SiteID, q.RequestID.V, text(q.RequestNumber),
		dayOf(at), at, text(q.Subject),
		q.UniqueRequest.Value(), q.TargetRequest.Value(), q.UniqTargetRequest.Value(),
		text(q.Manager), client.ClientID.Value(), text(client.FIO),
		phone, digits, e164,
		phoneTexts, e164s, email, emails,
		sess.SessionID.Value(), text(sess.Source), text(sess.Medium), text(sess.Keywords),
		text(sess.City), text(sess.IP), text(sess.Ref), text(sess.URL),
		text(sess.UTMSource), text(sess.UTMMedium), text(sess.UTMCampaign), text(sess.UTMContent), text(sess.UTMTerm),
		text(sess.GuaClientID), text(sess.YaClientID), sess.Attribution.Value(),
		text(q.CTClientID), text(q.CTGlobalID),
		tagNames(q.RequestTags), commentTexts(q.Comments),
		raw,
	}, at, nil
}
