package simulator

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLeelooListsPageEachRecordOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	tr := b.sim.Truth().Leeloo
	require.Len(t, tr.People, 200)
	require.Len(t, tr.Channels, 300)
	require.Len(t, tr.Orders, 100)
	require.Greater(t, len(tr.Messages), 1500)

	for _, limit := range []int{7, 50, 100} {
		require.Equal(t, ids(tr.People, func(p Person) string { return p.ID }), b.llAll(t, "/api/v2/people", limit))
		require.Equal(t, ids(tr.Channels, func(c Channel) string { return c.ID }), b.llAll(t, "/api/v2/communication-channels", limit))
		require.Equal(t, ids(tr.Accounts, func(a Account) string { return a.ID }), b.llAll(t, "/api/v1/accounts", limit))
		require.Equal(t, ids(tr.Orders, func(o Order) string { return o.ID }), b.llAll(t, "/api/v2/orders", limit))
	}
	requireUnique(t, ids(tr.People, func(p Person) string { return p.ID }))
	requireUnique(t, ids(tr.Channels, func(c Channel) string { return c.ID }))
	requireUnique(t, ids(tr.Messages, func(m Message) string { return m.ID }))
	require.Equal(t, ids(tr.Tunnels, func(x Tunnel) string { return x.ID }), b.llAll(t, "/api/v2/tunnels", 3))
	require.Equal(t, ids(tr.Users, func(x User) string { return x.ID }), b.llAll(t, "/api/v2/users", 3))
	require.Equal(t, ids(tr.Tags, func(x Tag) string { return x.ID }), b.llAll(t, "/api/v2/tags", 5))
	require.Equal(t, ids(tr.Connections, func(x Connection) string { return x.ID }), b.llAll(t, "/api/v2/connections", 2))

	// Chat messages of some channels, v2 and v1 paths, newest first.
	for _, c := range tr.Channels[:40] {
		var want []string
		var times []string
		for _, m := range tr.Messages {
			if m.ChannelID == c.ID {
				want = append(want, m.ID)
				times = append(times, m.CreatedAt)
			}
		}
		require.NotEmpty(t, want)
		require.True(t, slices.IsSortedFunc(times, func(a, b string) int { return strings.Compare(b, a) }))
		require.Equal(t, c.LastMessageTime, times[0])
		require.Equal(t, want, b.llAll(t, "/api/v2/communication-channels/"+c.ID+"/chat-messages", 3))
		require.Equal(t, want, b.llAll(t, "/api/v1/accounts/"+c.ID+"/chat-messages", 5))
	}
	// Newest first by lastMessageTime.
	lmts := ids(tr.People, func(p Person) string { return p.LastMessageTime })
	require.True(t, slices.IsSortedFunc(lmts, func(a, b string) int { return strings.Compare(b, a) }))
}

func TestLeelooRecordShapes(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	tr := b.sim.Truth().Leeloo
	var notDefined, nullName, multiScript, long, emptySystem, placeholders, cents int
	for _, p := range tr.People {
		require.Len(t, p.ID, 24)
		created, err := time.Parse(layoutMS, p.CreatedAt)
		require.NoError(t, err)
		// The first 8 hex digits of an ObjectId are createdAt in unix seconds.
		sec, err := parseHexSec(p.ID)
		require.NoError(t, err)
		require.Equal(t, created.Unix(), sec)
		if p.Email == "NOT_DEFINED" || p.Phone == "NOT_DEFINED" {
			notDefined++
		}
		if p.Name == nil {
			nullName++
		} else if strings.ContainsAny(*p.Name, "іїєґ王佐김محمد🔥") {
			multiScript++
		}
		require.NotEmpty(t, p.Accounts)
	}
	for _, m := range tr.Messages {
		if len(m.Text) > 1000 {
			long++
		}
		if m.Type == "SYSTEM_MESSAGE" && m.Text == "" {
			emptySystem++
		}
		if strings.Contains(m.Text, "{name}") {
			placeholders++
		}
		require.Equal(t, m.Type == "YOUR_MESSAGE", m.Links != nil, m.ID)
	}
	for _, o := range tr.Orders {
		if o.Price != float64(int64(o.Price)) {
			cents++
		}
	}
	require.Positive(t, notDefined)
	require.Positive(t, nullName)
	require.Positive(t, multiScript)
	require.Positive(t, long)
	require.Positive(t, emptySystem)
	require.Positive(t, placeholders)
	require.Positive(t, cents)
	for _, u := range tr.Users {
		_, err := time.Parse(layoutMinute, u.CreatedAt)
		require.NoError(t, err, u.CreatedAt)
	}
}

func parseHexSec(id string) (int64, error) { return strconv.ParseInt(id[:8], 16, 64) }

func TestLeelooAuth(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})

	r := b.get(t, "/api/v2/people", "X-Leeloo-AuthToken", "")
	require.Equal(t, http.StatusBadRequest, r.status)
	require.JSONEq(t, `{"status":0,"error":{"fields":{"authToken":"REQUIRED"},"code":"FORMAT_ERROR"}}`, string(r.body))

	r = b.get(t, "/api/v1/accounts", "X-Leeloo-AuthToken", "wrong")
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.JSONEq(t, `{"status":0,"error":{"code":"UNAUTHORIZED"}}`, string(r.body))

	r = b.get(t, "/api/v2/tags?authToken="+testToken, "X-Leeloo-AuthToken", "")
	require.Equal(t, http.StatusOK, r.status)

	r = b.get(t, "/api/v2/nope")
	require.Equal(t, http.StatusNotFound, r.status)
	require.JSONEq(t, `{"status":0,"error":{"code":"NOT_FOUND"}}`, string(r.body))
	r = b.get(t, "/api/v2/people/000000000000000000000000")
	require.Equal(t, http.StatusNotFound, r.status)
}

func TestLeelooPageSizes(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	p := b.llList(t, "/api/v2/people")
	require.Len(t, p.Data, 20)
	require.Equal(t, llMeta{Limit: 20, Offset: 0, FilteredCount: 20, TotalCount: 200}, p.Meta)

	p = b.llList(t, "/api/v2/people?limit=500&offset=150")
	require.Len(t, p.Data, 50)
	require.Equal(t, 100, p.Meta.Limit)

	p = b.llList(t, "/api/v2/people?limit=500")
	require.Len(t, p.Data, 100)

	p = b.llList(t, "/api/v2/people?offset=1000")
	require.Empty(t, p.Data)
	require.Equal(t, 200, p.Meta.TotalCount)

	b.sim.SetFaults(Faults{LeelooPageCap: 30})
	p = b.llList(t, "/api/v2/communication-channels?limit=50")
	require.Len(t, p.Data, 30)
	require.Equal(t, 30, p.Meta.Limit)

	r := b.get(t, "/api/v2/people?limit=abc")
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Contains(t, string(r.body), "FORMAT_ERROR")
}

func TestLeelooFilters(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	tr := b.sim.Truth().Leeloo

	// A window by date: date-only bounds, inclusive, "to" up to the end of the day.
	from, to := "2026-03-01", "2026-06-30"
	var want []string
	for _, p := range tr.People {
		if p.LastMessageTime >= "2026-03-01T00:00:00.000Z" && p.LastMessageTime <= "2026-06-30T23:59:59.999Z" {
			want = append(want, p.ID)
		}
	}
	require.NotEmpty(t, want)
	q := "/api/v2/people?filter[last_message][from]=" + from + "&filter[last_message][to]=" + to
	require.Equal(t, want, b.llAll(t, q, 11))

	// Full ISO bounds hit exactly one record at its own time (inclusive both ends).
	one := tr.People[17]
	q = "/api/v2/people?filter[last_message][from]=" + one.LastMessageTime + "&filter[last_message][to]=" + one.LastMessageTime
	require.Equal(t, []string{one.ID}, b.llAll(t, q, 20))

	// Channels take the same filter.
	var wantCh []string
	for _, c := range tr.Channels {
		if c.LastMessageTime >= "2026-03-01" && c.LastMessageTime <= "2026-06-30T23:59:59.999Z" {
			wantCh = append(wantCh, c.ID)
		}
	}
	require.Equal(t, wantCh, b.llAll(t, "/api/v2/communication-channels?filter[last_message][from]=2026-03-01&filter[last_message][to]=2026-06-30", 20))

	// Tags (v2 repeated, OR) and v1 comma list (OR).
	var wantTag []string
	for _, p := range tr.People {
		if slices.Contains(p.Tags, "vip") || slices.Contains(p.Tags, "B2B") {
			wantTag = append(wantTag, p.ID)
		}
	}
	require.NotEmpty(t, wantTag)
	require.Equal(t, wantTag, b.llAll(t, "/api/v2/people?filter[tags]=vip&filter[tags]=B2B", 20))
	var wantAcc []string
	for _, a := range tr.Accounts {
		if slices.Contains(a.Tags, "tag2") || slices.Contains(a.Tags, "tag3") {
			wantAcc = append(wantAcc, a.ID)
		}
	}
	require.Equal(t, wantAcc, b.llAll(t, "/api/v1/accounts?filter[tags]=tag3,tag2", 20))

	// Phone (the + sent encoded) and email.
	var withPhone Person
	for _, p := range tr.People {
		if strings.HasPrefix(p.Phone, "+380") {
			withPhone = p
			break
		}
	}
	require.Equal(t, []string{withPhone.ID}, b.llAll(t, "/api/v2/people?filter[phone]="+url.QueryEscape(withPhone.Phone), 20))
	var withEmail Person
	for _, p := range tr.People {
		if p.Email != "NOT_DEFINED" {
			withEmail = p
			break
		}
	}
	require.Equal(t, []string{withEmail.ID}, b.llAll(t, "/api/v2/people?filter[email]="+url.QueryEscape(strings.ToUpper(withEmail.Email)), 20))

	// Strict mode requires the last-message filter.
	b.sim.SetFaults(Faults{StrictPeopleFilter: true})
	r := b.get(t, "/api/v2/people")
	require.Equal(t, http.StatusBadRequest, r.status)
	require.JSONEq(t, `{"status":0,"error":{"fields":{"filter[last_message]":"REQUIRED"},"code":"FORMAT_ERROR"}}`, string(r.body))
	b.llList(t, "/api/v2/people?filter[last_message][from]=2015-01-01")
	r = b.get(t, "/api/v2/people?filter[last_message][from]=yesterday")
	require.Equal(t, http.StatusBadRequest, r.status)
}

func TestLeelooDetails(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	tr := b.sim.Truth().Leeloo

	// A person with orders and contacted users.
	var p Person
	for _, x := range tr.People {
		if len(x.Links.Orders) > 0 && len(x.Links.ContactedUsers) > 0 {
			p = x
			break
		}
	}
	require.NotEmpty(t, p.ID)
	r := b.get(t, "/api/v2/people/"+p.ID+"?include=contactedUsers,orders")
	require.Equal(t, http.StatusOK, r.status)
	var det struct {
		Data     map[string]json.RawMessage `json:"data"`
		Included struct {
			Users  []User  `json:"users"`
			Orders []Order `json:"orders"`
		} `json:"included"`
		Status int `json:"status"`
	}
	require.NoError(t, json.Unmarshal(r.body, &det))
	require.Equal(t, 1, det.Status)
	for _, k := range []string{"id", "accounts", "gender", "locale", "custom_fields", "subscribeHistory", "links", "updatedAt"} {
		require.Contains(t, det.Data, k)
	}
	require.Len(t, det.Included.Orders, len(p.Links.Orders))
	require.Len(t, det.Included.Users, len(p.Links.ContactedUsers))
	require.Equal(t, p.Links.Orders[0].ID, det.Included.Orders[0].ID)

	// Without include: no "included".
	r = b.get(t, "/api/v2/people/"+p.ID)
	require.NotContains(t, string(r.body), `"included"`)

	// The person of a channel.
	r = b.get(t, "/api/v2/communication-channels/"+p.Accounts[0].AccountID+"/person")
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, string(r.body), `"id":"`+p.ID+`"`)

	// v1 account detail with include.
	acc := p.Accounts[0].AccountID
	r = b.get(t, "/api/v1/accounts/"+acc+"?include=contactedUsers,orders")
	require.Equal(t, http.StatusOK, r.status)
	var adet struct {
		Data     map[string]json.RawMessage `json:"data"`
		Included map[string][]map[string]any
	}
	require.NoError(t, json.Unmarshal(r.body, &adet))
	for _, k := range []string{"subscribeHistory", "links", "gender", "locale", "createdAt", "updatedAt"} {
		require.Contains(t, adet.Data, k)
	}
	require.NotContains(t, adet.Data, "lastMessageTime")
	require.Contains(t, adet.Included, "users")
	require.Contains(t, adet.Included, "orders")
	for _, o := range adet.Included["orders"] {
		require.ElementsMatch(t, []string{"id", "price", "currency", "paymentMethod", "status", "updatedAt"}, keys(o))
	}

	// Order detail (v2 and v1).
	o := tr.Orders[3]
	for _, path := range []string{"/api/v2/orders/", "/api/v1/orders/"} {
		r = b.get(t, path+o.ID)
		require.Equal(t, http.StatusOK, r.status)
		var od struct{ Data Order }
		require.NoError(t, json.Unmarshal(r.body, &od))
		require.Equal(t, o, od.Data)
	}

	// Tunnels: detail with leadgentools, stats as an array without meta and per tunnel.
	tun := tr.Tunnels[0]
	r = b.get(t, "/api/v2/tunnels/"+tun.ID+"?include=leadgentools")
	var td struct {
		Data     Tunnel
		Included struct{ Leadgentools []Leadgentool }
	}
	require.NoError(t, json.Unmarshal(r.body, &td))
	require.Equal(t, tun.ID, td.Data.ID)
	require.Len(t, td.Included.Leadgentools, len(tun.Links.Leadgentools))
	require.NotEmpty(t, td.Included.Leadgentools[0].TrafficSources)

	r = b.get(t, "/api/v2/tunnels/stats")
	var all map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(r.body, &all))
	require.NotContains(t, all, "meta")
	var st []TunnelStats
	require.NoError(t, json.Unmarshal(all["data"], &st))
	require.Equal(t, tr.TunnelStats, st)
	r = b.get(t, "/api/v2/tunnels/"+tun.ID+"/stats")
	var one struct{ Data TunnelStats }
	require.NoError(t, json.Unmarshal(r.body, &one))
	require.Equal(t, tr.TunnelStats[0], one.Data)

	// Users, templates.
	r = b.get(t, "/api/v2/users/"+tr.Users[1].ID)
	require.Contains(t, string(r.body), tr.Users[1].Name)
	r = b.get(t, "/api/v2/categories/templates")
	var cats struct {
		Data struct{ Categories []TemplateCategory }
	}
	require.NoError(t, json.Unmarshal(r.body, &cats))
	require.Equal(t, tr.TemplateCategories, cats.Data.Categories)
	r = b.get(t, "/api/v2/categories/templates/"+tr.TemplateCategories[0].ID)
	var tpls struct {
		Data struct{ Templates []Template }
	}
	require.NoError(t, json.Unmarshal(r.body, &tpls))
	require.NotEmpty(t, tpls.Data.Templates)
	require.Equal(t, tr.Templates[0].ID, tpls.Data.Templates[0].ID)
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
