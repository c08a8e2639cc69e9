package simulator

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	testCTToken = "demo-calltouch-token"
	testCTSite  = "51234"
)

func ctCallsPath(from, to string, extra string) string {
	return "/calls-service/RestAPI/" + testCTSite + "/calls-diary/calls?clientApiId=" + testCTToken +
		"&dateFrom=" + from + "&dateTo=" + to + extra
}

type ctEnvelope struct {
	Page         int               `json:"page"`
	PageTotal    int               `json:"pageTotal"`
	PageSize     int               `json:"pageSize"`
	RecordsTotal int               `json:"recordsTotal"`
	Records      []json.RawMessage `json:"records"`
}

func (b *testBundle) post(t *testing.T, path, body string, hdr ...string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Access-Token", testCTToken)
	req.Header.Set("SiteId", testCTSite)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := b.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, rerr := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, body: out, header: resp.Header, err: rerr}
}

func ctDay(t time.Time) string { return t.In(calltouchZone).Format("02/01/2006") }

func TestCalltouchCallsJournal(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	truth := b.sim.CalltouchTruth()
	require.Greater(t, len(truth.Calls), 500)
	require.EqualValues(t, 51234, truth.SiteID)

	// One day without paging: a bare array of that day's calls, oldest first.
	day := truth.Calls[100].Date
	r := b.get(t, ctCallsPath(ctDay(day), ctDay(day), ""))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var arr []map[string]any
	require.NoError(t, json.Unmarshal(r.body, &arr))
	want := 0
	for _, c := range truth.Calls {
		if ctDay(c.Date) == ctDay(day) {
			want++
		}
	}
	require.Len(t, arr, want)
	require.NotContains(t, arr[0], "callTags", "enrichments only when asked")

	// Several days without paging break the one-day rule.
	r = b.get(t, ctCallsPath(ctDay(day.AddDate(0, 0, -1)), ctDay(day), ""))
	require.Equal(t, http.StatusBadRequest, r.status)

	// 90 days paged with limit 1000 (asked 5000: clamped) return every call once.
	from := truth.Calls[0].Date
	to := from.AddDate(0, 0, 89)
	var got []json.RawMessage
	for page := 1; ; page++ {
		r := b.get(t, ctCallsPath(ctDay(from), ctDay(to), fmt.Sprintf("&page=%d&limit=5000&withCallTags=true&withComments=true&withOrders=true", page)))
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var env ctEnvelope
		require.NoError(t, json.Unmarshal(r.body, &env))
		require.Equal(t, page, env.Page)
		require.Equal(t, 1000, env.PageSize)
		got = append(got, env.Records...)
		if page >= env.PageTotal {
			require.Len(t, got, env.RecordsTotal)
			break
		}
	}
	n := 0
	for _, c := range truth.Calls {
		if !c.Date.In(calltouchZone).After(time.Date(to.In(calltouchZone).Year(), to.In(calltouchZone).Month(), to.In(calltouchZone).Day(), 23, 59, 59, 0, calltouchZone)) {
			n++
		}
	}
	require.Len(t, got, n)
	var first map[string]any
	require.NoError(t, json.Unmarshal(got[0], &first))
	require.Contains(t, first, "callTags")
	require.Contains(t, first, "orders")

	// Types wander: some records serve booleans as "True"/"False", numbers as strings.
	var texts, strIDs int
	for _, raw := range got {
		var m map[string]any
		require.NoError(t, json.Unmarshal(raw, &m))
		if _, ok := m["uniqueCall"].(string); ok {
			texts++
		}
		if _, ok := m["callId"].(string); ok {
			strIDs++
		}
	}
	require.Positive(t, texts)
	require.Positive(t, strIDs)

	// Windows beyond 92 days, reversed windows, bad dates and a wrong token or site.
	require.Equal(t, http.StatusBadRequest, b.get(t, ctCallsPath(ctDay(from), ctDay(from.AddDate(0, 0, 100)), "&page=1&limit=10")).status)
	require.Equal(t, http.StatusBadRequest, b.get(t, ctCallsPath(ctDay(to), ctDay(from), "&page=1")).status)
	require.Equal(t, http.StatusBadRequest, b.get(t, ctCallsPath("2026-10-01", "2026-10-01", "")).status)
	r = b.get(t, strings.Replace(ctCallsPath(ctDay(day), ctDay(day), ""), testCTToken, "wrong", 1))
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.Contains(t, string(r.body), "Access token не найден")
	require.Equal(t, http.StatusForbidden, b.get(t, strings.Replace(ctCallsPath(ctDay(day), ctDay(day), ""), testCTSite, "999", 1)).status)
}

func TestCalltouchRequestsJournal(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	truth := b.sim.CalltouchTruth()
	require.Greater(t, len(truth.Requests), 100)
	from := truth.Requests[0].Date.In(calltouchZone)
	to := from.AddDate(0, 0, 60)
	path := "/calls-service/RestAPI/requests?clientApiId=" + testCTToken + "&siteId=" + testCTSite +
		"&dateFrom=" + from.Format("01/02/2006") + "&dateTo=" + to.Format("01/02/2006") + "&withRequestTags=true"
	r := b.get(t, path)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var arr []map[string]any
	require.NoError(t, json.Unmarshal(r.body, &arr))
	end := time.Date(to.Year(), to.Month(), to.Day()+1, 0, 0, 0, 0, calltouchZone)
	want := 0
	for _, q := range truth.Requests {
		if q.Date.Before(end) {
			want++
		}
	}
	require.Len(t, arr, want)
	require.Contains(t, arr[0], "RequestTags")
	require.Contains(t, arr[0], "client")

	// siteId is required; dd/mm dates with a day past 12 are not mm/dd.
	require.Equal(t, http.StatusBadRequest, b.get(t, strings.Replace(path, "&siteId="+testCTSite, "", 1)).status)
	require.Equal(t, http.StatusBadRequest, b.get(t, strings.Replace(path, from.Format("01/02/2006"), "25/10/2026", 1)).status)
}

func TestCalltouchLeadComments(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	truth := b.sim.CalltouchTruth()
	call := truth.Calls[len(truth.Calls)-1]
	req := truth.Requests[len(truth.Requests)-1]
	var phoneCall CTCall
	for _, c := range truth.Calls {
		if len(digits(c.CallerNumber)) == 11 && strings.HasPrefix(ctNormPhone(c.CallerNumber), "79") {
			phoneCall = c
		}
	}
	at := phoneCall.Date.In(calltouchZone).Add(30 * time.Minute).Format(ctDateLayout)
	body := fmt.Sprintf(`{"comments":[
		{"matching":[{"type":"call","callParams":{"callId":"%d"}}],"addComment":"Оплачен заказ №1"},
		{"matching":[{"type":"call","callParams":{"callId":1}},{"type":"request","requestParams":{"requestId":%d}}],"addComment":"второй"},
		{"matching":[{"type":"callContact","callContactParams":{"phones":["8 (%s) %s-%s-%s"],"date":"%s","callTypeToMatch":"nearest","searchDepth":60}}],"addComment":"по телефону"},
		{"matching":[{"type":"call","callParams":{"callId":1}}],"addComment":"никуда"}]}`,
		call.CallID, req.RequestID, ctNormPhone(phoneCall.CallerNumber)[1:4], ctNormPhone(phoneCall.CallerNumber)[4:7],
		ctNormPhone(phoneCall.CallerNumber)[7:9], ctNormPhone(phoneCall.CallerNumber)[9:], at)
	r := b.post(t, "/lead-service/v1/api/comment/lead/add", body)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var res struct {
		Data struct {
			Comments []struct {
				CallInfo    *struct{ CallID int64 } `json:"callInfo"`
				RequestInfo *struct {
					RequestID     int64  `json:"requestId"`
					RequestNumber string `json:"requestNumber"`
				} `json:"requestInfo"`
				Commented bool    `json:"commented"`
				Error     *string `json:"error"`
			} `json:"comments"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(r.body, &res))
	cs := res.Data.Comments
	require.Len(t, cs, 4)
	require.True(t, cs[0].Commented)
	require.Equal(t, call.CallID, cs[0].CallInfo.CallID)
	require.True(t, cs[1].Commented)
	require.Nil(t, cs[1].CallInfo)
	require.Equal(t, req.RequestID, cs[1].RequestInfo.RequestID)
	require.True(t, cs[2].Commented, "%s", r.body)
	require.False(t, cs[3].Commented)
	require.NotNil(t, cs[3].Error)

	got := b.sim.CalltouchLeadComments()
	require.Equal(t, []string{"Оплачен заказ №1"}, got[CalltouchLead{"call", call.CallID}])
	require.Equal(t, []string{"второй"}, got[CalltouchLead{"request", req.RequestID}])
	require.Contains(t, got[CalltouchLead{"call", cs[2].CallInfo.CallID}], "по телефону")

	// Sent again, the comment is added again.
	r = b.post(t, "/lead-service/v1/api/comment/lead/add", fmt.Sprintf(`{"comments":[{"matching":[{"type":"call","callParams":{"callId":%d}}],"addComment":"Оплачен заказ №1"}]}`, call.CallID))
	require.Equal(t, http.StatusOK, r.status)
	require.Len(t, b.sim.CalltouchLeadComments()[CalltouchLead{"call", call.CallID}], 2)
	// ... and the journal shows it.
	r = b.get(t, ctCallsPath(ctDay(call.Date), ctDay(call.Date), "&page=1&limit=1000&withComments=true"))
	require.Contains(t, string(r.body), "Оплачен заказ №1")

	// Validation: the whole request is rejected with the seed's body.
	r = b.post(t, "/lead-service/v1/api/comment/lead/add", fmt.Sprintf(`{"comments":[{"matching":[{"type":"call","callParams":{"callId":%d}}],"addComment":"ok"},{"matching":[{"type":"call","callParams":{"callId":1}}],"addComment":"  "}]}`, call.CallID))
	require.Equal(t, http.StatusBadRequest, r.status)
	require.JSONEq(t, `{"meta":[],"data":{"type":"validationError","apiErrorData":null,"validationErrorData":{"violations":[{"fieldPath":"comments[1].addComment","message":"This value should not be blank."}]}}}`, string(r.body))
	require.Len(t, b.sim.CalltouchLeadComments()[CalltouchLead{"call", call.CallID}], 2, "nothing commented")

	many := make([]string, 101)
	for i := range many {
		many[i] = `{"matching":[{"type":"call","callParams":{"callId":1}}],"addComment":"x"}`
	}
	r = b.post(t, "/lead-service/v1/api/comment/lead/add", `{"comments":[`+strings.Join(many, ",")+`]}`)
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Contains(t, string(r.body), `"fieldPath":"comments"`)
	rules := make([]string, 21)
	for i := range rules {
		rules[i] = `{"type":"call","callParams":{"callId":1}}`
	}
	r = b.post(t, "/lead-service/v1/api/comment/lead/add", `{"comments":[{"matching":[`+strings.Join(rules, ",")+`],"addComment":"x"}]}`)
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Contains(t, string(r.body), `comments[0].matching`)

	// Auth.
	r = b.post(t, "/lead-service/v1/api/comment/lead/add", body, "Access-Token", "nope")
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.JSONEq(t, `{"message":"Access token не найден"}`, string(r.body))
	r = b.post(t, "/lead-service/v1/api/comment/lead/add", body, "SiteId", "1")
	require.Equal(t, http.StatusForbidden, r.status)
	require.JSONEq(t, `{"meta":[],"data":{"message":"Ошибка доступа"}}`, string(r.body))
}

// TestCalltouchLostAnswer: the server adds the comment, then the answer is lost (502).
func TestCalltouchLostAnswer(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{Faults: Faults{CalltouchLostAnswerRate: 1}})
	call := b.sim.CalltouchTruth().Calls[0]
	r := b.post(t, "/lead-service/v1/api/comment/lead/add", fmt.Sprintf(`{"comments":[{"matching":[{"type":"call","callParams":{"callId":%d}}],"addComment":"раз"}]}`, call.CallID))
	require.Equal(t, http.StatusBadGateway, r.status)
	require.Equal(t, []string{"раз"}, b.sim.CalltouchLeadComments()[CalltouchLead{"call", call.CallID}])
}

func TestCalltouchRateLimitAndMutate(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{Faults: Faults{CalltouchRateLimit: 5}})
	before := b.sim.CalltouchTruth()
	day := before.Calls[len(before.Calls)-1].Date
	statuses := map[int]int{}
	var retry string
	for range 8 {
		r := b.get(t, ctCallsPath(ctDay(day), ctDay(day), ""))
		statuses[r.status]++
		if r.status == http.StatusTooManyRequests {
			retry = r.header.Get("Retry-After")
		}
	}
	// A slow machine may spread 8 requests over more than a second; at least the
	// first 5 pass and nothing else fails.
	require.GreaterOrEqual(t, statuses[http.StatusOK], 5)
	require.Equal(t, 8, statuses[http.StatusOK]+statuses[http.StatusTooManyRequests])
	if statuses[http.StatusTooManyRequests] > 0 {
		require.Equal(t, "1", retry)
	}

	b.sim.Mutate(Mutation{NewCalls: 3, EditedCalls: 4, DeletedCalls: 2, NewRequests: 2, EditedRequests: 2})
	after := b.sim.CalltouchTruth()
	require.Len(t, after.Calls, len(before.Calls)+3-2)
	require.Len(t, after.DeletedCalls, 2)
	require.Len(t, after.Requests, len(before.Requests)+2)
	changed := 0
	old := map[int64]CTCall{}
	for _, c := range before.Calls {
		old[c.CallID] = c
	}
	for _, c := range after.Calls {
		if o, ok := old[c.CallID]; ok {
			require.GreaterOrEqual(t, c.Date, time.Time{})
			if fmt.Sprint(o) != fmt.Sprint(c) {
				changed++
				require.True(t, c.Date.After(b.sim.Now().Add(-8*24*time.Hour)), "edits are recent")
			}
		}
	}
	require.Equal(t, 4, changed)
}
