package simulator

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	testToken = "demo-leeloo-token"
	testKey   = "demo-textrequest-key"
)

type testBundle struct {
	sim *Sim
	srv *httptest.Server
}

func setup(t *testing.T, opts Options) *testBundle {
	t.Helper()
	sim := New(opts)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	return &testBundle{sim: sim, srv: srv}
}

type reply struct {
	status int
	body   []byte
	header http.Header
	err    error // read error (truncated bodies)
}

// get requests path with both APIs' credentials unless hdr overrides them.
func (b *testBundle) get(t *testing.T, path string, hdr ...string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.srv.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("X-Leeloo-AuthToken", testToken)
	req.Header.Set("x-api-key", testKey)
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := b.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, rerr := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, body: body, header: resp.Header, err: rerr}
}

type llPage struct {
	Data   []json.RawMessage `json:"data"`
	Meta   llMeta            `json:"meta"`
	Status int               `json:"status"`
}

func (b *testBundle) llList(t *testing.T, path string) llPage {
	t.Helper()
	r := b.get(t, path)
	require.Equal(t, http.StatusOK, r.status, "%s: %s", path, r.body)
	var p llPage
	require.NoError(t, json.Unmarshal(r.body, &p), path)
	require.Equal(t, 1, p.Status)
	require.Equal(t, len(p.Data), p.Meta.FilteredCount)
	return p
}

// llAll pages a Leeloo list to the end with the given limit and returns every item's id
// in order, checking meta on every page.
func (b *testBundle) llAll(t *testing.T, path string, limit int) []string {
	t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	var ids []string
	for off := 0; ; off += limit {
		p := b.llList(t, fmt.Sprintf("%s%slimit=%d&offset=%d", path, sep, limit, off))
		require.Equal(t, limit, p.Meta.Limit)
		require.Equal(t, off, p.Meta.Offset)
		for _, raw := range p.Data {
			var x struct {
				ID string `json:"id"`
			}
			require.NoError(t, json.Unmarshal(raw, &x))
			ids = append(ids, x.ID)
		}
		if off+limit >= p.Meta.TotalCount {
			require.Len(t, ids, p.Meta.TotalCount, path)
			return ids
		}
		require.Len(t, p.Data, limit)
	}
}

type trPage struct {
	Meta  trMeta            `json:"meta"`
	Items []json.RawMessage `json:"items"`
}

func (b *testBundle) trList(t *testing.T, path string) trPage {
	t.Helper()
	r := b.get(t, path)
	require.Equal(t, http.StatusOK, r.status, "%s: %s", path, r.body)
	var p trPage
	require.NoError(t, json.Unmarshal(r.body, &p), path)
	return p
}

// trAll pages a Text Request list to the end and returns the raw items.
func (b *testBundle) trAll(t *testing.T, path string, size int) []json.RawMessage {
	t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	var items []json.RawMessage
	for page := 0; ; page++ {
		p := b.trList(t, fmt.Sprintf("%s%spage=%d&page_size=%d", path, sep, page, size))
		require.Equal(t, page, p.Meta.Page)
		require.Equal(t, size, p.Meta.PageSize)
		items = append(items, p.Items...)
		if (page+1)*size >= p.Meta.TotalItems {
			require.Len(t, items, p.Meta.TotalItems, path)
			return items
		}
		require.Len(t, p.Items, size)
	}
}

func field[T any](t *testing.T, items []json.RawMessage, name string) []T {
	t.Helper()
	out := make([]T, 0, len(items))
	for _, raw := range items {
		var m map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(raw, &m))
		var v T
		require.NoError(t, json.Unmarshal(m[name], &v), name)
		out = append(out, v)
	}
	return out
}

func requireUnique(t *testing.T, ids []string) {
	t.Helper()
	seen := map[string]bool{}
	for _, id := range ids {
		require.False(t, seen[id], "duplicate %q", id)
		seen[id] = true
	}
}

func ids[T any](list []T, f func(T) string) []string {
	out := make([]string, 0, len(list))
	for _, x := range list {
		out = append(out, f(x))
	}
	return out
}
