package leeloo

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/pipeline"
	"github.com/crmsync/crmsync/internal/stream"
)

var _ pipeline.Extractor = (*Extractor)(nil)

var update = flag.Bool("update", false, "rewrite the testdata/*.golden.json files")

// The testdata pages are the reference's examples (seed JSON where the reference quotes
// it, the proposed [INF] shapes elsewhere), with three seed defects repaired so that they
// parse: the missing comma of the v1 chat example (§10.1), the missing "{" of the
// categories example and the trailing commas of the users example (§10.4). Deliberately
// odd records are added: NOT_DEFINED, minute-precision times, numbers as strings and
// strings as numbers, missing fields, unknown fields, and records of a bad type.

const testToken = "test-token-123"

// fileServer serves testdata pages by path: the first page of a list is the file, later
// offsets get an empty page.
func fileServer(t *testing.T, routes map[string]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Leeloo-AuthToken") != testToken || r.URL.Query().Has("authToken") {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"status":0,"error":{"code":"UNAUTHORIZED"}}`))
			return
		}
		file, ok := routes[r.URL.Path]
		if !ok {
			for pattern, f := range routes { // "/api/v2/tunnels/*" matches one segment
				if dir, found := strings.CutSuffix(pattern, "*"); found && strings.HasPrefix(r.URL.Path, dir) && !strings.Contains(r.URL.Path[len(dir):], "/") {
					file, ok = f, true
				}
			}
		}
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"status":0,"error":{"code":"NOT_FOUND"}}`))
			return
		}
		// Every record in the files is older than the runs: a window reaching past
		// them (a full pass's tail) holds none, as Leeloo would answer.
		to, _ := time.Parse(filterLayout, r.URL.Query().Get("filter[last_message][to]"))
		if off := r.URL.Query().Get("offset"); off != "" && off != "0" || to.After(testNow) {
			_, _ = w.Write([]byte(`{"data":[],"meta":{"limit":50,"offset":` + off + `,"filteredCount":0,"totalCount":0},"status":1}`))
			return
		}
		b, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func newTestExtractor(t *testing.T, baseURL string, cfg Config) *Extractor {
	t.Helper()
	client, err := apiclient.New(apiclient.Config{
		Source:     Source,
		BaseURL:    baseURL,
		Auth:       func(r *http.Request) { r.Header.Set("X-Leeloo-AuthToken", testToken) },
		Secrets:    []string{testToken},
		ErrorCode:  ErrorCode,
		MinBackoff: time.Millisecond,
		MaxBackoff: 20 * time.Millisecond,
	})
	require.NoError(t, err)
	cfg.Client = client
	ex, err := New(cfg)
	require.NoError(t, err)
	return ex
}

// collect runs one stream and returns its batches.
func collect(t *testing.T, ex *Extractor, name string, state stream.State, started time.Time) ([]stream.Batch, error) {
	t.Helper()
	var desc stream.Desc
	for _, d := range ex.Streams() {
		if d.Name == name {
			desc = d
		}
	}
	require.Equal(t, name, desc.Name)
	out := make(chan stream.Batch)
	var got []stream.Batch
	done := make(chan struct{})
	go func() {
		defer close(done)
		for b := range out {
			got = append(got, b)
		}
	}()
	err := ex.Extract(t.Context(), stream.Request{Stream: desc, State: state, Started: started}, out)
	close(out)
	<-done
	return got, err
}

var testNow = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func TestDecodeReferencePages(t *testing.T) {
	t.Parallel()
	srv := fileServer(t, map[string]string{
		"/api/v2/people":                 "people.json",
		"/api/v2/communication-channels": "channels.json",
		"/api/v2/orders":                 "orders.json",
		"/api/v2/tunnels":                "tunnels.json",
		"/api/v2/tunnels/*":              "tunnel_detail.json",
		"/api/v2/tunnels/stats":          "tunnel_stats.json",
		"/api/v2/users":                  "users.json",
		"/api/v2/tags":                   "tags.json",
		"/api/v2/connections":            "connections.json",
		"/api/v2/categories/templates":   "categories.json",
		"/api/v2/categories/templates/*": "templates.json",
		"/api/v1/accounts":               "accounts_v1.json",
		"/api/v1/accounts/*":             "account_detail_v1.json",
	})
	// Chats are served per channel below, so the messages streams get their own servers.
	ex := newTestExtractor(t, srv.URL, Config{WindowSpan: 20 * 365 * 24 * time.Hour})
	descs := map[string]stream.Desc{}
	for _, d := range ex.Streams() {
		descs[d.Name] = d
	}
	for _, name := range []string{StreamPeople, StreamChannels, StreamOrders, StreamTunnels, StreamTunnelStats,
		StreamUsers, StreamTags, StreamConnections, StreamTemplates, StreamAccounts} {
		t.Run(name, func(t *testing.T) {
			batches, err := collect(t, ex, name, nil, testNow)
			require.NoError(t, err)
			checkRows(t, descs[name], batches)
			compareGolden(t, name, batches)
		})
	}
}

func TestDecodeChats(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ stream, list, chatPath, chatFile string }{
		{StreamMessages, "/api/v2/communication-channels", "/api/v2/communication-channels/*", "chat_v2.json"},
		{StreamAccountMessages, "/api/v1/accounts", "/api/v1/accounts/*", "chat_v1.json"},
	} {
		t.Run(tc.stream, func(t *testing.T) {
			t.Parallel()
			listFile := map[string]string{StreamMessages: "channels.json", StreamAccountMessages: "accounts_v1.json"}[tc.stream]
			srv := fileServer(t, map[string]string{tc.list: listFile})
			// Route every chat to the same file: "/…/{id}/chat-messages".
			mux := http.NewServeMux()
			mux.HandleFunc(tc.list+"/{id}/chat-messages", func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("offset") != "0" {
					_, _ = w.Write([]byte(`{"data":[],"meta":{"totalCount":0},"status":1}`))
					return
				}
				http.ServeFile(w, r, filepath.Join("testdata", tc.chatFile))
			})
			mux.Handle("/", http.StripPrefix("", proxyTo(srv.URL)))
			front := httptest.NewServer(mux)
			t.Cleanup(front.Close)
			ex := newTestExtractor(t, front.URL, Config{WindowSpan: 20 * 365 * 24 * time.Hour, Concurrency: 1})
			batches, err := collect(t, ex, tc.stream, nil, testNow)
			require.NoError(t, err)
			var d stream.Desc
			for _, s := range ex.Streams() {
				if s.Name == tc.stream {
					d = s
				}
			}
			checkRows(t, d, batches)
			compareGolden(t, tc.stream, batches)
		})
	}
}

// proxyTo forwards a request to another test server (headers included).
func proxyTo(base string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, base+r.URL.RequestURI(), nil)
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			_, _ = w.Write(buf[:n])
			if err != nil {
				return
			}
		}
	})
}

// checkRows asserts every row fits its table: one value per column, of a kind the loader
// takes for the column's type.
func checkRows(t *testing.T, d stream.Desc, batches []stream.Batch) {
	t.Helper()
	for _, b := range batches {
		for name, rows := range b.Rows {
			tab, ok := d.Table(name)
			require.True(t, ok, "stream %s has no table %s", d.Name, name)
			for _, row := range rows {
				require.Len(t, row, len(tab.Columns), name)
				for i, c := range tab.Columns {
					v := row[i]
					if v == nil {
						require.NotContains(t, tab.Key, c.Name, "%s.%s is a key and NULL", name, c.Name)
						continue
					}
					switch c.Type {
					case tText:
						require.IsType(t, "", v, "%s.%s", name, c.Name)
					case tTexts:
						require.IsType(t, []string{}, v, "%s.%s", name, c.Name)
					case tTime:
						require.IsType(t, time.Time{}, v, "%s.%s", name, c.Name)
					case tJSON:
						require.IsType(t, json.RawMessage{}, v, "%s.%s", name, c.Name)
						require.True(t, json.Valid(v.(json.RawMessage)), "%s.%s", name, c.Name)
					case tBool:
						require.IsType(t, true, v, "%s.%s", name, c.Name)
					case tNum:
						require.IsType(t, "", v, "%s.%s", name, c.Name)
					case tBigint:
						require.IsType(t, int64(0), v, "%s.%s", name, c.Name)
					case tInt:
						require.IsType(t, int32(0), v, "%s.%s", name, c.Name)
					default:
						t.Fatalf("unknown column type %q", c.Type)
					}
				}
			}
		}
		for _, rj := range b.Rejects {
			require.NotEmpty(t, rj.Reason)
			require.NotEmpty(t, rj.Payload)
		}
		require.NotNil(t, b.Cursor, "every batch carries its cursor")
		require.NotContains(t, string(b.Cursor), testToken)
	}
}

// compareGolden compares the batches' rows and rejects with testdata/<name>.golden.json.
func compareGolden(t *testing.T, name string, batches []stream.Batch) {
	t.Helper()
	type rejectOut struct{ Table, Reason, Payload string }
	got := struct {
		Rows    map[string][][]any
		Rejects []rejectOut
		Cursors []string
	}{Rows: map[string][][]any{}}
	for _, b := range batches {
		for table, rows := range b.Rows {
			for _, row := range rows {
				vals := make([]any, len(row))
				for i, v := range row {
					switch x := v.(type) {
					case time.Time:
						vals[i] = x.Format(time.RFC3339Nano)
					case json.RawMessage:
						vals[i] = "json:" + compactJSON(x)
					default:
						vals[i] = x
					}
				}
				got.Rows[table] = append(got.Rows[table], vals)
			}
		}
		for _, rj := range b.Rejects {
			got.Rejects = append(got.Rejects, rejectOut{rj.Table, rj.Reason, compactJSON(rj.Payload)})
		}
		if b.Partition == "" {
			got.Cursors = append(got.Cursors, string(b.Cursor))
		} else {
			got.Cursors = append(got.Cursors, b.Partition+" "+string(b.Cursor))
		}
	}
	out, err := json.MarshalIndent(got, "", "  ")
	require.NoError(t, err)
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		require.NoError(t, os.WriteFile(path, append(out, '\n'), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create %s", path)
	if strings.TrimSpace(string(want)) != strings.TrimSpace(string(out)) {
		_ = os.WriteFile(path+".FAIL", out, 0o644)
		require.Equal(t, string(want), string(out)+"\n", "rows differ from %s (got written to %s.FAIL)", path, path)
	}
}

func compactJSON(b []byte) string {
	var sb strings.Builder
	var v any
	if json.Unmarshal(b, &v) != nil {
		return string(b)
	}
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSpace(sb.String())
}

func TestDecodeSpecifics(t *testing.T) {
	t.Parallel()
	srv := fileServer(t, map[string]string{
		"/api/v2/people":   "people.json",
		"/api/v2/orders":   "orders.json",
		"/api/v2/users":    "users.json",
		"/api/v1/accounts": "accounts_v1.json", "/api/v1/accounts/*": "account_detail_v1.json",
	})
	ex := newTestExtractor(t, srv.URL, Config{WindowSpan: 20 * 365 * 24 * time.Hour})
	col := func(d tableDef[Person], name string) int {
		for i, c := range d.cols {
			if c.name == name {
				return i
			}
		}
		t.Fatalf("no column %s", name)
		return -1
	}

	t.Run("people", func(t *testing.T) {
		batches, err := collect(t, ex, StreamPeople, nil, testNow)
		require.NoError(t, err)
		byID := map[string]stream.Row{}
		var rejects []stream.Reject
		var links []stream.Row
		for _, b := range batches {
			for _, r := range b.Rows[tabPeople] {
				byID[r[0].(string)] = r
			}
			links = append(links, b.Rows[tabPersonChannels]...)
			rejects = append(rejects, b.Rejects...)
		}
		p := byID["69660055fb13db648fc58795"]
		require.Equal(t, "Олена Коваль", p[col(peopleTable, "name")])
		require.Equal(t, "79991234567", p[col(peopleTable, "phone_digits")])
		require.Equal(t, time.Date(2026, 1, 13, 8, 21, 9, 619e6, time.UTC), p[col(peopleTable, "last_message_time")])

		nd := byID["69660055fb13db648fc58797"]
		require.Nil(t, nd[col(peopleTable, "phone")], "NOT_DEFINED is NULL")
		require.Nil(t, nd[col(peopleTable, "email")])
		require.Nil(t, nd[col(peopleTable, "phone_digits")])
		require.Equal(t, time.Date(2026, 1, 12, 10, 0, 0, 0, time.UTC), nd[col(peopleTable, "last_message_time")], "minute precision")
		require.Contains(t, string(nd[col(peopleTable, "raw")].(json.RawMessage)), "NOT_DEFINED", "raw keeps the sentinel")
		require.Contains(t, string(nd[col(peopleTable, "raw")].(json.RawMessage)), "somethingNew", "raw keeps unknown fields")

		num := byID["69660055fb13db648fc58799"]
		require.Equal(t, "12345", num[col(peopleTable, "name")], "a number where text is expected")
		require.Equal(t, "380966565556", num[col(peopleTable, "phone")])
		require.Equal(t, []string{"vip"}, num[col(peopleTable, "tags")])
		require.Nil(t, num[col(peopleTable, "created_at")], "missing field")

		require.Len(t, byID, 3)
		reasons := make([]string, 0, len(rejects))
		for _, rj := range rejects {
			reasons = append(reasons, rj.Table+": "+rj.Reason)
		}
		require.ElementsMatch(t, []string{
			"leeloo.person_channels: person 69660055fb13db648fc58797 accounts[1]: field account_id: missing or empty (the record's key)",
			`leeloo.people: field tags: want an array of strings, got {"not":"a list"}`,
			"leeloo.people: field id: missing or empty (the record's key)",
			`leeloo.people: not a JSON object: "not an object"`,
			`leeloo.people: field createdAt: want a timestamp, got "yesterday"`,
		}, reasons)
		require.Len(t, links, 2)
	})

	t.Run("orders", func(t *testing.T) {
		batches, err := collect(t, ex, StreamOrders, nil, testNow)
		require.NoError(t, err)
		rows := batches[0].Rows[tabOrders]
		require.Len(t, rows, 2)
		require.Equal(t, "1499.99", rows[0][8], "price keeps its cents exactly")
		require.Equal(t, "100.50", rows[1][8], "a price sent as a string")
		require.Equal(t, true, rows[1][11], `"true" as a boolean`)
		require.Equal(t, time.Date(2020, 2, 4, 11, 46, 0, 0, time.UTC), rows[0][18], "paymentDate YYYY-MM-DD HH:mm")
		require.Len(t, batches[0].Rejects, 1)
		require.Equal(t, `field price: want a number, got "a lot"`, batches[0].Rejects[0].Reason)
	})

	t.Run("users minute precision", func(t *testing.T) {
		batches, err := collect(t, ex, StreamUsers, nil, testNow)
		require.NoError(t, err)
		rows := batches[0].Rows[tabUsers]
		require.Len(t, rows, 2, "the page holds more items than its totalCount says: all are kept")
		require.Equal(t, time.Date(2015, 4, 2, 14, 20, 0, 0, time.UTC), rows[0][4])
	})
}

func TestErrorCode(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]string{
		`{"status":0,"error":{"fields":{"authToken":"REQUIRED"},"code":"FORMAT_ERROR"}}`: "FORMAT_ERROR",
		`{"status":0,"error":{"code":"UNAUTHORIZED"}}`:                                   "UNAUTHORIZED",
		`{"status":0,"error":"NOT_FOUND"}`:                                               "NOT_FOUND",
		`{"code":"X"}`:                                                                   "X",
		`<html>bad gateway</html>`:                                                       "",
		``:                                                                               "",
	} {
		require.Equal(t, want, ErrorCode([]byte(body)), body)
	}
}

// TestStatusZeroIsAnError: a status:0 body with HTTP 200 fails the stream with an error
// naming the endpoint and the code; a 401 likewise; the token never shows.
func TestStatusZeroIsAnError(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v2/orders", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"status":0,"error":{"fields":{"filter[last_message]":"REQUIRED"},"code":"FORMAT_ERROR"}}`))
	})
	mux.HandleFunc("/api/v2/users", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"status":0,"error":{"code":"UNAUTHORIZED"}}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ex := newTestExtractor(t, srv.URL, Config{})
	_, err := collect(t, ex, StreamOrders, nil, testNow)
	require.ErrorContains(t, err, "/api/v2/orders")
	require.ErrorContains(t, err, "FORMAT_ERROR")
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "FORMAT_ERROR", ae.Code)

	_, err = collect(t, ex, StreamUsers, nil, testNow)
	require.ErrorContains(t, err, "/api/v2/users")
	require.ErrorContains(t, err, "UNAUTHORIZED")
	require.NotContains(t, err.Error(), testToken)
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	_, err := New(Config{})
	require.ErrorContains(t, err, "Client")
	client, err := apiclient.New(apiclient.Config{Source: Source, BaseURL: "http://127.0.0.1:1"})
	require.NoError(t, err)
	for field, cfg := range map[string]Config{
		"PageSize":    {Client: client, PageSize: -1},
		"Concurrency": {Client: client, Concurrency: -1},
		"Lookback":    {Client: client, Lookback: -time.Hour},
	} {
		_, err := New(cfg)
		require.ErrorContains(t, err, field)
	}
	ex, err := New(Config{Client: client})
	require.NoError(t, err)
	require.Equal(t, DefaultPageSize, ex.cfg.PageSize)
	require.Equal(t, DefaultStartDate, ex.cfg.StartDate)
}

func TestUnreadableCursorMeansFullRead(t *testing.T) {
	t.Parallel()
	srv := fileServer(t, map[string]string{"/api/v2/orders": "orders.json"})
	ex := newTestExtractor(t, srv.URL, Config{})
	for _, c := range []string{`{"v":1,"offset":"x"}`, `{"v":99,"offset":5}`, `garbage`} {
		batches, err := collect(t, ex, StreamOrders, stream.State{"": json.RawMessage(c)}, testNow)
		require.NoError(t, err, c)
		require.Len(t, batches[0].Rows[tabOrders], 2, fmt.Sprintf("cursor %s is ignored", c))
	}
}
