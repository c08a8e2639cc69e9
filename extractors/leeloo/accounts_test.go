package leeloo

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/stream"
)

// accountsServer serves a v1 accounts list in exactly the order of its items (so a test
// can break the newest-first order) and each account's detail, counting the requests.
type accountsServer struct {
	mu      sync.Mutex
	items   []map[string]any
	list    int
	details map[string]int
}

func (s *accountsServer) handler(t *testing.T) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if r.URL.Path == "/api/v1/accounts" {
			s.list++
			limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
			offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
			page := s.items[min(offset, len(s.items)):min(offset+limit, len(s.items))]
			b, err := json.Marshal(map[string]any{"data": page, "status": 1,
				"meta": map[string]any{"limit": limit, "offset": offset, "filteredCount": len(page), "totalCount": len(s.items)}})
			require.NoError(t, err)
			_, _ = w.Write(b)
			return
		}
		id, ok := strings.CutPrefix(r.URL.Path, "/api/v1/accounts/")
		if !ok {
			http.NotFound(w, r)
			return
		}
		s.details[id]++
		for _, it := range s.items {
			if it["id"] == id {
				d := map[string]any{"subscribeHistory": []any{map[string]any{"tunnelName": "T", "leadgentoolName": "L", "trafficSource": "S"}}}
				for k, v := range it {
					d[k] = v
				}
				b, err := json.Marshal(map[string]any{"data": d, "status": 1})
				require.NoError(t, err)
				_, _ = w.Write(b)
				return
			}
		}
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"status":0,"error":{"code":"NOT_FOUND"}}`))
	})
}

// reset returns the request counts so far and zeroes them.
func (s *accountsServer) reset() (list int, details map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	list, details = s.list, s.details
	s.list, s.details = 0, map[string]int{}
	return list, details
}

func acct(i int, last time.Time) map[string]any {
	it := map[string]any{"id": fmt.Sprintf("a%03d", i), "name": fmt.Sprintf("Account %d", i),
		"createdAt": last.Add(-time.Hour).Format(time.RFC3339Nano)}
	if !last.IsZero() {
		it["lastMessageTime"] = last.Format(time.RFC3339Nano)
	}
	return it
}

// newAccounts returns n accounts newest-first, one every 6 hours before testNow.
func newAccounts(n int) []map[string]any {
	items := make([]map[string]any, n)
	for i := range items {
		items[i] = acct(i, testNow.Add(-time.Duration(i+1)*6*time.Hour))
	}
	return items
}

// runAccounts runs the accounts stream on state and returns its last cursor and the
// accounts it emitted rows for.
func runAccounts(t *testing.T, ex *Extractor, state stream.State, started time.Time) (json.RawMessage, []string) {
	t.Helper()
	batches, err := collect(t, ex, StreamAccounts, state, started)
	require.NoError(t, err)
	var ids []string
	for _, b := range batches {
		for _, row := range b.Rows[tabAccounts] {
			ids = append(ids, row[0].(string))
		}
	}
	return batches[len(batches)-1].Cursor, ids
}

// TestAccountsIncremental: after a full pass, a run reads the list only down to the band
// below the watermark and the details of the accounts that moved or are new; an
// out-of-order list is read to the end; a version 1 cursor and a due sweep read every
// detail.
func TestAccountsIncremental(t *testing.T) {
	t.Parallel()
	s := &accountsServer{items: newAccounts(100), details: map[string]int{}}
	srv := httptest.NewServer(s.handler(t))
	t.Cleanup(srv.Close)
	ex := newTestExtractor(t, srv.URL, Config{PageSize: 10, Ahead: 3})

	cursor, ids := runAccounts(t, ex, nil, testNow)
	list, details := s.reset()
	require.Len(t, ids, 100)
	require.Len(t, details, 100, "a first run reads every detail")
	require.Equal(t, 10, list)

	// Nothing changed: the first page holds the band (24h below the newest account, 5
	// accounts); the second is older than it. No detail, no row: 2 list requests.
	state := stream.State{"": cursor}
	cursor2, ids := runAccounts(t, ex, state, testNow.Add(time.Hour))
	list, details = s.reset()
	require.Empty(t, ids)
	require.Empty(t, details)
	require.Equal(t, 2, list)

	// Two accounts get messages (they move to the front), one new account arrives, and one
	// account of the band gets a message dated inside the band (arrived late).
	s.mu.Lock()
	moved1, moved2 := s.items[40], s.items[70]
	moved1["lastMessageTime"] = testNow.Add(30 * time.Minute).Format(time.RFC3339Nano)
	moved2["lastMessageTime"] = testNow.Add(20 * time.Minute).Format(time.RFC3339Nano)
	s.items[2]["lastMessageTime"] = testNow.Add(-7 * time.Hour).Format(time.RFC3339Nano) // was -18h
	rest := append([]map[string]any{}, s.items[:40]...)
	rest = append(rest, s.items[41:70]...)
	rest = append(rest, s.items[71:]...)
	rest[1], rest[2] = rest[2], rest[1] // a002 (now 7h old) sorts before a001 (12h)
	s.items = append([]map[string]any{acct(100, testNow.Add(40*time.Minute)), moved1, moved2}, rest...)
	s.mu.Unlock()
	cursor3, ids := runAccounts(t, ex, stream.State{"": cursor2}, testNow.Add(2*time.Hour))
	list, details = s.reset()
	require.ElementsMatch(t, []string{"a100", "a040", "a070", "a002"}, ids)
	require.Len(t, details, 4)
	require.Equal(t, 2, list)

	// The list out of order (an old account ahead of newer ones): read to the end, still
	// only the changed details.
	s.mu.Lock()
	s.items[5], s.items[60] = s.items[60], s.items[5]
	s.mu.Unlock()
	_, ids = runAccounts(t, ex, stream.State{"": cursor3}, testNow.Add(3*time.Hour))
	list, details = s.reset()
	require.Empty(t, ids)
	require.Empty(t, details)
	require.Equal(t, 11, list, "every page of 101 accounts")
	s.mu.Lock()
	s.items[5], s.items[60] = s.items[60], s.items[5]
	s.mu.Unlock()

	// An account without messages sorted last (as a database puts nulls): the total grew
	// by more than the new accounts seen at the front, so the list is read to the end.
	s.mu.Lock()
	quiet := acct(101, time.Time{})
	quiet["createdAt"] = testNow.Add(2 * time.Hour).Format(time.RFC3339Nano)
	s.items = append(s.items, quiet)
	s.mu.Unlock()
	_, ids = runAccounts(t, ex, stream.State{"": cursor3}, testNow.Add(3*time.Hour))
	list, details = s.reset()
	require.Equal(t, []string{"a101"}, ids)
	require.Equal(t, 11, list)

	// A version 1 cursor has no watermark: one full pass. A due sweep reads everything.
	_, ids = runAccounts(t, ex, stream.State{"": json.RawMessage(`{"v":1,"done":"2026-10-31T00:00:00Z"}`)}, testNow.Add(3*time.Hour))
	list, details = s.reset()
	require.Len(t, ids, 102)
	require.Len(t, details, 102)
	_, ids = runAccounts(t, ex, stream.State{"": cursor3}, testNow.Add(26*time.Hour))
	_, details = s.reset()
	require.Len(t, ids, 102, "the sweep re-reads every detail")
	require.Len(t, details, 102)
}

// TestAccountsResumeIncremental: an incremental pass killed after its first page resumes
// at the committed offset and reads only the details it had not committed.
func TestAccountsResumeIncremental(t *testing.T) {
	t.Parallel()
	s := &accountsServer{items: newAccounts(60), details: map[string]int{}}
	srv := httptest.NewServer(s.handler(t))
	t.Cleanup(srv.Close)
	ex := newTestExtractor(t, srv.URL, Config{PageSize: 5})
	cursor, _ := runAccounts(t, ex, nil, testNow)
	s.reset()

	// Twelve old accounts get messages and move to the front.
	s.mu.Lock()
	var moved, rest []map[string]any
	for i, it := range s.items {
		if i >= 30 && i < 42 {
			it["lastMessageTime"] = testNow.Add(time.Duration(60-i) * time.Minute).Format(time.RFC3339Nano)
			moved = append(moved, it)
		} else {
			rest = append(rest, it)
		}
	}
	s.items = append(moved, rest...)
	s.mu.Unlock()

	started := testNow.Add(2 * time.Hour)
	batches, err := collect(t, ex, StreamAccounts, stream.State{"": cursor}, started)
	require.NoError(t, err)
	_, details := s.reset()
	require.Len(t, details, 12)
	require.Len(t, batches[0].Rows[tabAccounts], 5)
	require.Contains(t, string(batches[0].Cursor), `"pass":{"full":false`)

	// Killed once the first page was committed: the resumed run reads the other seven.
	cut := batches[0].Cursor
	_, ids := runAccounts(t, ex, stream.State{"": cut}, started)
	_, details = s.reset()
	require.Len(t, ids, 7)
	require.Len(t, details, 7)
	for _, b := range batches[0].Rows[tabAccounts] {
		require.NotContains(t, ids, b[0], "committed account read again")
	}
}

// TestAccountsCommitWithinPage: a page's details commit in groups of
// accountDetailsPerCommit, each with a cursor at the item after its last account, so a
// first pass cut off within a page resumes there and reads no committed detail again.
func TestAccountsCommitWithinPage(t *testing.T) {
	t.Parallel()
	s := &accountsServer{items: newAccounts(40), details: map[string]int{}}
	srv := httptest.NewServer(s.handler(t))
	t.Cleanup(srv.Close)
	ex := newTestExtractor(t, srv.URL, Config{PageSize: 50})

	batches, err := collect(t, ex, StreamAccounts, nil, testNow)
	require.NoError(t, err)
	require.Len(t, batches, 3, "one page of 40: 16 + 16 + 8 details")
	require.Len(t, batches[0].Rows[tabAccounts], accountDetailsPerCommit)
	require.Contains(t, string(batches[0].Cursor), `"offset":16`)
	want := batches[len(batches)-1].Cursor
	s.reset()

	// Cut off once the first group was committed: the resumed run lists from item 16
	// and reads the other 24 details, ending where the uncut run ended.
	cursor, ids := runAccounts(t, ex, stream.State{"": batches[0].Cursor}, testNow)
	list, details := s.reset()
	require.Equal(t, 1, list)
	require.Len(t, ids, 24)
	require.Len(t, details, 24)
	for _, row := range batches[0].Rows[tabAccounts] {
		require.NotContains(t, ids, row[0], "committed account read again")
	}
	require.JSONEq(t, string(want), string(cursor))
}
