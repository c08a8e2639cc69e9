package simulator

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// twinDo sends a TWIN request with an optional bearer token and JSON body.
func (b *testBundle) twinDo(t *testing.T, method, path, token, body string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, b.srv.URL+path, rd)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := b.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	rb, rerr := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, body: rb, header: resp.Header, err: rerr}
}

type twinTokenPair struct {
	Token        string `json:"token"`
	RefreshToken string `json:"refreshToken"`
}

func (b *testBundle) twinLogin(t *testing.T) twinTokenPair {
	t.Helper()
	r := b.twinDo(t, "POST", TwinIAMPath+"/auth/login", "", `{"email":"`+DefaultTwinEmail+`","password":"`+DefaultTwinPassword+`"}`)
	require.Equal(t, 200, r.status, "%s", r.body)
	var p twinTokenPair
	require.NoError(t, json.Unmarshal(r.body, &p))
	require.NotEmpty(t, p.Token)
	require.NotEmpty(t, p.RefreshToken)
	return p
}

type twinPage struct {
	Count int               `json:"count"`
	Items []json.RawMessage `json:"items"`
}

func (b *testBundle) twinList(t *testing.T, token, path string) twinPage {
	t.Helper()
	r := b.twinDo(t, "GET", TwinChatPath+path, token, "")
	require.Equal(t, 200, r.status, "%s: %s", path, r.body)
	var p twinPage
	require.NoError(t, json.Unmarshal(r.body, &p), path)
	return p
}

func TestTwinLoginRefreshExpiry(t *testing.T) {
	b := setup(t, Options{})
	r := b.twinDo(t, "POST", TwinIAMPath+"/auth/login", "", `{"email":"demo@twin.example","password":"wrong"}`)
	require.Equal(t, 401, r.status)
	require.JSONEq(t, `{"error":"Invalid credentials."}`, string(r.body))

	p := b.twinLogin(t)
	// The token is a JWT whose exp is a week away by default.
	parts := strings.Split(p.Token, ".")
	require.Len(t, parts, 3)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var claims struct{ Exp int64 }
	require.NoError(t, json.Unmarshal(payload, &claims))
	require.InDelta(t, time.Now().Add(7*24*time.Hour).Unix(), claims.Exp, 120)

	require.Equal(t, 401, b.twinDo(t, "GET", TwinChatPath+"/chats", "", "").status)
	require.Equal(t, 200, b.twinDo(t, "GET", TwinChatPath+"/chats", p.Token, "").status)

	// Refresh rotates: the new pair works, the used refresh token does not again.
	r = b.twinDo(t, "POST", TwinIAMPath+"/auth/refresh", p.Token, `{"refreshToken":"`+p.RefreshToken+`","ttl":3600}`)
	require.Equal(t, 200, r.status, "%s", r.body)
	var p2 twinTokenPair
	require.NoError(t, json.Unmarshal(r.body, &p2))
	require.NotEqual(t, p.RefreshToken, p2.RefreshToken)
	require.Equal(t, 200, b.twinDo(t, "GET", TwinChatPath+"/chats", p2.Token, "").status)
	r = b.twinDo(t, "POST", TwinIAMPath+"/auth/refresh", p.Token, `{"refreshToken":"`+p.RefreshToken+`"}`)
	require.Equal(t, 401, r.status)

	// Tokens lapse after N requests when asked.
	b.sim.SetFaults(Faults{TwinTokenRequests: 2})
	p3 := b.twinLogin(t)
	require.Equal(t, 200, b.twinDo(t, "GET", TwinChatPath+"/chats", p3.Token, "").status)
	require.Equal(t, 200, b.twinDo(t, "GET", TwinChatPath+"/chats", p3.Token, "").status)
	r = b.twinDo(t, "GET", TwinChatPath+"/chats", p3.Token, "")
	require.Equal(t, 401, r.status)
	require.JSONEq(t, `{"error":"Token is expired."}`, string(r.body))
}

func TestTwinTokenTTL(t *testing.T) {
	b := setup(t, Options{TwinTokenTTL: time.Second})
	p := b.twinLogin(t)
	require.Eventually(t, func() bool {
		r := b.twinDo(t, "GET", TwinChatPath+"/chats", p.Token, "")
		return r.status == 401 && strings.Contains(string(r.body), "Token is expired.")
	}, 30*time.Second, 200*time.Millisecond)
}

func TestTwinPagingAndTruth(t *testing.T) {
	b := setup(t, Options{})
	tok := b.twinLogin(t).Token
	truth := b.sim.TwinTruth()
	require.Greater(t, len(truth.Sessions), 150)
	require.Greater(t, len(truth.Messages), 1000)
	require.Len(t, truth.Attributes, 7)

	// Default limit 10, cap 100, count is the total.
	p := b.twinList(t, tok, "/sessions")
	require.Len(t, p.Items, 10)
	require.Equal(t, len(truth.Sessions), p.Count)
	p = b.twinList(t, tok, "/sessions?limit=1000")
	require.Len(t, p.Items, 100)

	// Paging oldest first collects every session once.
	var ids []string
	for off := 0; off < len(truth.Sessions); off += 100 {
		p := b.twinList(t, tok, "/sessions?sort=started_at&limit=100&offset="+itoa(off))
		for _, it := range p.Items {
			var s TwinSession
			require.NoError(t, json.Unmarshal(it, &s))
			ids = append(ids, s.ID)
		}
	}
	require.Len(t, ids, len(truth.Sessions))
	for i, s := range truth.Sessions {
		require.Equal(t, s.ID, ids[i])
	}

	// Messages of a session, attributes of a client.
	s0 := truth.Sessions[0]
	m := b.twinList(t, tok, "/sessions/"+s0.ID+"/messages?limit=100")
	require.Positive(t, m.Count)
	c0 := truth.ClientIDs[0]
	vals := b.twinList(t, tok, "/clients/"+c0+"/attributes?limit=100")
	require.Len(t, vals.Items, len(b.sim.TwinClientAttributes(c0)))

	// from/to with dateRangeField=updatedAt: a mutation's changes only.
	before := b.sim.Now()
	b.sim.Mutate(Mutation{Twin: TwinMutation{NewSessions: 2, NewMessages: 3, TouchedSessions: 2}})
	q := url.Values{"dateRangeField": {"updatedAt"}, "from": {before.Add(time.Millisecond).Format(time.RFC3339Nano)}, "limit": {"100"}}
	p = b.twinList(t, tok, "/sessions?"+q.Encode())
	require.GreaterOrEqual(t, p.Count, 5)
	require.LessOrEqual(t, p.Count, 7)
	require.Equal(t, 400, b.twinDo(t, "GET", TwinChatPath+"/sessions?from=yesterday", tok, "").status)
}

func TestTwinAttributeWrites(t *testing.T) {
	b := setup(t, Options{})
	tok := b.twinLogin(t).Token
	c := b.sim.TwinTruth().ClientIDs[3]

	r := b.twinDo(t, "POST", TwinChatPath+"/clients/attributes", tok, `{"name":"Статус заказа"}`)
	require.Equal(t, 200, r.status, "%s", r.body)
	var created struct{ ID string }
	require.NoError(t, json.Unmarshal(r.body, &created))
	require.Len(t, b.sim.TwinAttributes(), 8)

	r = b.twinDo(t, "POST", TwinChatPath+"/clients/"+c+"/attributes/"+created.ID, tok, `{"value":"Оплачен ✅"}`)
	require.Equal(t, 200, r.status, "%s", r.body)
	require.Empty(t, r.body)
	require.Contains(t, b.sim.TwinClientAttributes(c), TwinClientAttribute{ID: created.ID, ClientID: c, CompanyID: DefaultTwinCompanyID, Name: "Статус заказа", Value: "Оплачен ✅"})

	require.Equal(t, 422, b.twinDo(t, "POST", TwinChatPath+"/clients/"+c+"/attributes/"+created.ID, tok, `{"value":5}`).status)
	require.Equal(t, 404, b.twinDo(t, "POST", TwinChatPath+"/clients/nobody/attributes/"+created.ID, tok, `{"value":"x"}`).status)
	require.Equal(t, 404, b.twinDo(t, "POST", TwinChatPath+"/clients/"+c+"/attributes/nothing", tok, `{"value":"x"}`).status)

	require.Equal(t, 200, b.twinDo(t, "PATCH", TwinChatPath+"/clients/attributes/"+created.ID, tok, `{"name":"Статус"}`).status)
	require.Equal(t, "Статус", b.sim.TwinClientAttributes(c)[len(b.sim.TwinClientAttributes(c))-1].Name)

	require.Equal(t, 200, b.twinDo(t, "DELETE", TwinChatPath+"/clients/"+c+"/attributes/"+created.ID, tok, "").status)
	for _, v := range b.sim.TwinClientAttributes(c) {
		require.NotEqual(t, created.ID, v.ID)
	}
	require.Equal(t, 200, b.twinDo(t, "DELETE", TwinChatPath+"/clients/attributes/"+created.ID, tok, "").status)
	require.Len(t, b.sim.TwinAttributes(), 7)
	require.Equal(t, 404, b.twinDo(t, "DELETE", TwinChatPath+"/clients/attributes/"+created.ID, tok, "").status)
}

// A lost answer: the value is set, the client sees 502.
func TestTwinLostAnswer(t *testing.T) {
	b := setup(t, Options{Faults: Faults{TwinLostAnswerRate: 1}})
	tok := b.twinLogin(t).Token
	c := b.sim.TwinTruth().ClientIDs[0]
	a := b.sim.TwinAttributes()[0].ID
	r := b.twinDo(t, "POST", TwinChatPath+"/clients/"+c+"/attributes/"+a, tok, `{"value":"потерян"}`)
	require.Equal(t, 502, r.status)
	require.Contains(t, b.sim.TwinClientAttributes(c), TwinClientAttribute{ID: a, ClientID: c, CompanyID: DefaultTwinCompanyID, Name: b.sim.TwinAttributes()[0].Name, Value: "потерян"})
}

func TestTwinDeterministic(t *testing.T) {
	a, b := New(Options{Seed: 7}), New(Options{Seed: 7})
	ja, _ := json.Marshal(a.TwinTruth())
	jb, _ := json.Marshal(b.TwinTruth())
	require.Equal(t, string(ja), string(jb))
	require.Len(t, New(Options{Seed: 7, Scale: 3}).TwinTruth().ClientIDs, 450)
}

func itoa(n int) string { return strconv.Itoa(n) }
