package simulator

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// requireSameJSON checks a hand-written encoder against encoding/json.
func requireSameJSON(t *testing.T, v jsonAppender) {
	t.Helper()
	want, err := json.Marshal(v)
	require.NoError(t, err)
	require.Equal(t, string(want), string(v.appendJSON(nil)))
}

var awkwardStrings = []string{"", "plain", `"quoted" \back\slash`, "<b>&amp;</b>", "\x00\x01\b\f\n\r\t\x1f\x7f",
	"\u2028 and \u2029", "bad \xff\xfe utf-8", "cut \xe2\x80", "Юлія 👍 محمد", "é\u0000é", "\u2028", "x\u2029", "\u2027\u202a\u2128",
	"\xe2\x80\xa8\xff", "ends \xe2\x80", "<\u2029>\"\\\u00e9\u2028"}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	for _, s := range awkwardStrings {
		want, _ := json.Marshal(s)
		require.Equal(t, string(want), string(appendJSONString(nil, s)), "%q", s)
	}
	// Random strings over bytes that matter to the escaper: controls, HTML, quotes,
	// the pieces of U+2028/U+2029, other multi-byte starts and stray continuations.
	alphabet := []byte("a\x00\x1f\x7f\"\\<>&\n\xe2\x80\xa8\xa9\xc3\xa9\xf0\x9f\xff")
	r := newRnd(9, 9, 9, 9)
	for range 20000 {
		b := make([]byte, r.intn(12))
		for i := range b {
			b[i] = alphabet[r.intn(len(alphabet))]
		}
		want, _ := json.Marshal(string(b))
		require.Equal(t, string(want), string(appendJSONString(nil, string(b))), "%q", b)
	}
	for _, f := range []float64{0, 1, -1, 0.1, 49.99, 1250.5, 1e-7, -1e-7, 1e20, 1e21, 123456789012345678901234.0, math.SmallestNonzeroFloat64, math.MaxFloat64} {
		want, _ := json.Marshal(f)
		require.Equal(t, string(want), string(appendJSONFloat(nil, f)), "%v", f)
	}

	sim := New(Options{Scale: 2, Seed: 3})
	sim.Mutate(Mutation{NewPeople: 10, NewMessages: 40, EditedOrders: 5, NewOrders: 5, NewContacts: 10, NewTRMessages: 30, EditedContacts: 10})
	sim.SetFaults(Faults{NULCharacters: true, EmptyMessageIDs: true, OmitTimeZone: true, DuplicateMessageIDs: true})
	tr := sim.Truth()
	for i := range tr.Leeloo.People {
		p := tr.Leeloo.People[i]
		requireSameJSON(t, &p)
		d := detailOf(p)
		requireSameJSON(t, &d)
	}
	for i := range tr.Leeloo.Channels {
		requireSameJSON(t, &tr.Leeloo.Channels[i])
	}
	for i := range tr.Leeloo.Messages {
		requireSameJSON(t, &tr.Leeloo.Messages[i])
	}
	for i := range tr.Leeloo.Accounts {
		a := tr.Leeloo.Accounts[i]
		requireSameJSON(t, &a)
		requireSameJSON(t, &accountDetailJSON{ID: a.ID, Name: a.Name, Tags: a.Tags, From: a.From, BotStatus: a.BotStatus, Gender: a.Gender,
			Locale: a.Locale, Email: a.Email, Phone: a.Phone, SubscribeHistory: a.SubscribeHistory, Links: a.Links, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt})
	}
	for _, u := range tr.Leeloo.Users {
		requireSameJSON(t, &v1User{ID: u.ID, Name: u.Name, CreatedAt: minuteToMS(u.CreatedAt), UpdatedAt: minuteToMS(u.UpdatedAt)})
	}
	for _, o := range tr.Leeloo.Orders {
		requireSameJSON(t, &v1Order{ID: o.ID, Price: o.Price, Currency: o.Currency, PaymentMethod: o.PaymentMethod, Status: o.Status, UpdatedAt: o.UpdatedAt})
	}
	for i := range tr.TextRequest.Contacts {
		requireSameJSON(t, &tr.TextRequest.Contacts[i])
	}
	for i := range tr.TextRequest.Messages {
		m := tr.TextRequest.Messages[i]
		requireSameJSON(t, &m)
		requireSameJSON(t, &dashMessage{TRMessage: m, PhoneNumber: m.PhoneNumber})
	}

	// nil slices and pointers are null, empty ones [], and strings are escaped alike.
	for _, s := range awkwardStrings {
		requireSameJSON(t, &Message{ID: s, Text: s, Type: s, CreatedAt: s, Links: &MessageLinks{CreatedBy: Ref{Type: s, ID: s}}})
		requireSameJSON(t, &TRMessage{MessageID: s, Body: s, ResponseByUsername: &s, MMSMedia: []string{s, s}})
		requireSameJSON(t, &Contact{PhoneNumber: s, FirstName: &s, Groups: []int{1, -2}, ContactTags: []string{}, CustomFields: []CustomFieldValue{{ID: s}, {ID: s, Value: &s}},
			LastMessage: &TRMessage{Body: s}})
		requireSameJSON(t, &Channel{Name: &s, Tags: []string{s}, UTM: UTM{Term: &s}})
		requireSameJSON(t, &personDetailJSON{Person: Person{Name: &s, Accounts: []PersonAccount{{From: s}}}, CustomFields: map[string]*string{s: &s, "a" + s: nil},
			SubscribeHistory: []Subscription{{TunnelName: s}}, Links: Links{ContactedUsers: []Ref{{ID: s}}, Orders: []Ref{}}})
		requireSameJSON(t, &Account{Name: &s, Tags: []string{}, Email: s})
	}
	requireSameJSON(t, &Message{})
	requireSameJSON(t, &TRMessage{})
	requireSameJSON(t, &Contact{})
	requireSameJSON(t, &Channel{})
	requireSameJSON(t, &personDetailJSON{})
	requireSameJSON(t, &accountDetailJSON{})
	requireSameJSON(t, &dashMessage{})
}

// TestHandFormatsMatchFmtAndTime checks the hand-built ids, GUIDs and timestamps
// against the fmt and time formats they replace.
func TestHandFormatsMatchFmtAndTime(t *testing.T) {
	r := newRnd(5, 1, 2, 3)
	for i := range 50000 {
		var tms int64
		switch i % 3 {
		case 0:
			tms = int64(r.u() % uint64(maxFastMS+1))
		case 1:
			tms = int64(r.u()%uint64(100*365*86400000)) + 1500000000000
		default:
			tms = int64(r.u()>>1) - 1<<62 // negative and far-future values take time.Format
		}
		want := time.UnixMilli(tms).UTC().Format(layoutMS)
		require.Equal(t, want, fmtMS(tms))
		if tms >= 0 && tms <= maxFastMS {
			require.Equal(t, tms, mustParseMS(want))
		}
		u, h := r.u(), r.u()
		k := byte(u >> 3)
		require.Equal(t, fmt.Sprintf("%08x%02x%06x%08x", uint32(tms/1000), k, mix64(uint64(k)<<40^(u&0xffffffff)^0x5bd1e995)&0xffffff, u&0xffffffff),
			objectID(tms, k, u))
		require.Equal(t, fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", uint32(h>>32), uint16(h>>16), uint16(h)&0xfff, 0x8000|uint16(h>>48)&0x3fff, u&(1<<48-1)),
			guid(h, u))
		w := i % 9
		require.Equal(t, fmt.Sprintf("%0*d", w, u>>(i%64)), string(appendPadded(nil, u>>(i%64), w)))
	}
	// What time.Parse rejects, the fast path leaves to it.
	for _, s := range []string{"2026-02-29T00:00:00.000Z", "2024-02-29T00:00:00.000Z", "2100-02-29T00:00:00.000Z", "2000-02-29T00:00:00.000Z",
		"2026-13-01T00:00:00.000Z", "2026-04-31T00:00:00.000Z", "2026-04-30T24:00:00.000Z", "2026-04-30T23:60:00.000Z",
		"2026-04-30T23:00:60.000Z", "1969-12-31T23:59:59.999Z", "2026-00-10T00:00:00.000Z", "2026-01-00T00:00:00.000Z",
		"2026-01-01T00:00:00.00xZ", "2026-01-01T00:00:00.000", "+026-01-01T00:00:00.000Z"} {
		var want int64
		if tt, err := time.Parse(layoutMS, s); err == nil {
			want = tt.UnixMilli()
		}
		require.Equal(t, want, mustParseMS(s), s)
	}
}
