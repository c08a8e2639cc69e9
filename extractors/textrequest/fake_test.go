package textrequest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/stream"
)

// fakeTR is a small Text Request server for behaviour the reference allows but the
// simulator does not show: a page-size cap, meta.page_size counting items, a missing
// total, 204 for empty lists, messages in either order, payments not sorted.
type fakeTR struct {
	mu        sync.Mutex
	cap       int    // largest page_size served (0: no cap)
	metaCount bool   // meta.page_size counts the items instead of echoing the request
	noTotal   bool   // no meta at all
	empty204  bool   // empty lists answer 204
	msgOrder  string // "asc", "desc" or "same" (every message the same timestamp)
	unsorted  bool   // payments ignore sort_direction
	contacts  map[int64][]map[string]any
	messages  map[string][]map[string]any // "dash/phone" → oldest first
	payments  map[int64][]map[string]any  // newest first
	requests  []string
}

func newFakeTR() *fakeTR {
	return &fakeTR{contacts: map[int64][]map[string]any{}, messages: map[string][]map[string]any{}, payments: map[int64][]map[string]any{}, msgOrder: "asc"}
}

func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000") } // no Z, a variant the reference allows

// addContact adds a contact with n messages one hour apart ending at last.
func (f *fakeTR) addContact(dash int64, phone string, created, last time.Time, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.contacts[dash] = append(f.contacts[dash], map[string]any{
		"phone_number": phone, "first_name": nil, "date_created_utc": ts(created),
		"last_contact_date_utc": ts(last), "total_msgs_sent": n, "total_msgs_received": 0,
	})
	for i := range n {
		f.appendMessage(dash, phone, last.Add(-time.Duration(n-1-i)*time.Hour), "m-"+phone+"-"+strconv.Itoa(i))
	}
}

// addMessage appends a message and moves the contact's last contact date.
func (f *fakeTR) addMessage(dash int64, phone string, at time.Time, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.appendMessage(dash, phone, at, id)
	for _, c := range f.contacts[dash] {
		if c["phone_number"] == phone {
			c["last_contact_date_utc"] = ts(at)
		}
	}
}

func (f *fakeTR) appendMessage(dash int64, phone string, at time.Time, id string) {
	k := strconv.FormatInt(dash, 10) + "/" + phone
	f.messages[k] = append(f.messages[k], map[string]any{
		"message_id": id, "body": "text " + id, "message_direction": "S", "message_timestamp_utc": ts(at), "delivery_status": "delivered",
	})
}

func (f *fakeTR) reset() {
	f.mu.Lock()
	f.requests = nil
	f.mu.Unlock()
}

func (f *fakeTR) requested() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

func (f *fakeTR) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.URL.Path+"?"+r.URL.RawQuery)
	if r.Header.Get("X-Api-Key") != testKey {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"status":401,"message":"bad key","errorCode":"UNAUTHORIZED"}`))
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/api/v3/"), "/")
	q := r.URL.Query()
	var items []map[string]any
	switch {
	case len(parts) == 1 && parts[0] == "dashboards":
		for id := range f.contacts {
			items = append(items, map[string]any{"id": id, "name": "d" + strconv.FormatInt(id, 10), "phone": "555"})
		}
		slices.SortFunc(items, func(a, b map[string]any) int { return int(a["id"].(int64) - b["id"].(int64)) })
	case len(parts) == 3 && parts[2] == "contacts":
		dash, _ := strconv.ParseInt(parts[1], 10, 64)
		for _, c := range f.contacts[dash] {
			if !after(c["last_contact_date_utc"], q.Get(filterActivity)) || !after(c["date_created_utc"], q.Get(filterCreated)) {
				continue
			}
			items = append(items, c)
		}
	case len(parts) == 5 && parts[4] == "messages":
		all := f.messages[parts[1]+"/"+parts[3]]
		items = slices.Clone(all)
		switch f.msgOrder {
		case "desc":
			slices.Reverse(items)
		case "same":
			for i, m := range items {
				c := maps(m)
				c["message_timestamp_utc"] = "2026-10-01T00:00:00Z"
				items[i] = c
			}
		}
	case len(parts) == 3 && parts[2] == "payments":
		dash, _ := strconv.ParseInt(parts[1], 10, 64)
		items = slices.Clone(f.payments[dash])
		if f.unsorted {
			slices.Reverse(items)
		}
	default:
		w.WriteHeader(http.StatusNotFound)
		return
	}
	page, _ := strconv.Atoi(q.Get("page"))
	size, _ := strconv.Atoi(cmpOr(q.Get("page_size"), "50"))
	served := size
	if f.cap > 0 && served > f.cap {
		served = f.cap
	}
	total := len(items)
	lo, hi := min(page*served, total), min(page*served+served, total)
	items = items[lo:hi]
	if len(items) == 0 && f.empty204 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if items == nil {
		items = []map[string]any{}
	}
	body := map[string]any{"items": items}
	if !f.noTotal {
		ps := size
		if f.metaCount {
			ps = len(items)
		}
		body["meta"] = map[string]any{"page": page, "page_size": ps, "total_items": total}
	}
	_ = json.NewEncoder(w).Encode(body)
}

func maps(m map[string]any) map[string]any {
	c := map[string]any{}
	for k, v := range m {
		c[k] = v
	}
	return c
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// after applies an inclusive "after" filter to a timestamp field (no filter: true).
func after(v any, filter string) bool {
	if filter == "" {
		return true
	}
	s, ok := v.(string)
	if !ok {
		return false
	}
	t, err1 := apiclient.ParseTime(s)
	f, err2 := apiclient.ParseTime(filter)
	return err1 == nil && err2 == nil && !t.Before(f)
}

// memRun runs one stream against the fake and commits the cursors in memory, like the
// loader would. It returns the batches and the requests made.
func memRun(t *testing.T, ex *Extractor, name string, state stream.State, started time.Time) []stream.Batch {
	t.Helper()
	var desc stream.Desc
	for _, d := range ex.Streams() {
		if d.Name == name {
			desc = d
		}
	}
	out := make(chan stream.Batch)
	errc := make(chan error, 1)
	go func() {
		defer close(out)
		errc <- ex.Extract(context.Background(), stream.Request{Stream: desc, State: state, Started: started}, out)
	}()
	var batches []stream.Batch
	for b := range out {
		if b.Cursor != nil {
			state[b.Partition] = b.Cursor
		}
		batches = append(batches, b)
	}
	require.NoError(t, <-errc)
	return batches
}

// messageKeys lists the message ids of batches.
func messageKeys(batches []stream.Batch) []string {
	var keys []string
	for _, b := range batches {
		for _, r := range b.Rows[tblMessages] {
			keys = append(keys, r[0].(string))
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

func requestsOf(batches []stream.Batch) int {
	n := 0
	for _, b := range batches {
		n += b.Requests
	}
	return n
}

func fakeSetup(t *testing.T, f *fakeTR, configure func(*Config)) *Extractor {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return newTestExtractor(t, func(c *Config) {
		c.Client = newTestClient(t, srv.URL+"/api/v3", noLimit)
		if configure != nil {
			configure(c)
		}
	})
}

var base = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

// TestMessagesIncrementalEitherOrder: after a first full read, a new message on one
// contact costs one contacts request plus that contact's newest pages, whichever order
// the server lists messages in; an undetectable order reads the contact's every page.
func TestMessagesIncrementalEitherOrder(t *testing.T) {
	t.Parallel()
	for _, order := range []string{"asc", "desc", "same"} {
		t.Run(order, func(t *testing.T) {
			t.Parallel()
			f := newFakeTR()
			f.msgOrder = order
			f.cap = 10 // the extractor asks 500; the server serves 10
			f.addContact(1, "+1(555)-123-4567", base, base.Add(240*time.Hour), 35)
			f.addContact(1, "4239876543", base, base.Add(200*time.Hour), 12)
			f.addContact(1, "321-654-7890", base, base.Add(100*time.Hour), 0)
			ex := fakeSetup(t, f, func(c *Config) { c.Dashboards = []int64{1}; c.Lookback = time.Hour })
			state := stream.State{}
			first := memRun(t, ex, StreamMessages, state, time.Now())
			require.Len(t, messageKeys(first), 47)

			// Nothing moved: one contacts request, no messages read.
			f.reset()
			again := memRun(t, ex, StreamMessages, state, time.Now())
			require.Empty(t, messageKeys(again))
			require.Equal(t, 1, requestsOf(again), f.requested())

			// Two new messages for the chatty contact, a day later.
			f.addMessage(1, "+1(555)-123-4567", base.Add(264*time.Hour), "new-1")
			f.addMessage(1, "+1(555)-123-4567", base.Add(265*time.Hour), "new-2")
			f.reset()
			inc := memRun(t, ex, StreamMessages, state, time.Now())
			keys := messageKeys(inc)
			require.Contains(t, keys, "new-1")
			require.Contains(t, keys, "new-2")
			reqs := f.requested()
			for _, r := range reqs {
				require.NotContains(t, r, "4239876543", "an unchanged contact's messages are not read")
			}
			require.Equal(t, len(reqs), requestsOf(inc))
			switch order {
			case "asc": // contacts, page 0 (order), last page, the page before it
				require.LessOrEqual(t, len(reqs), 4, reqs)
			case "desc": // contacts, page 0 (new ones and older), page 1 is older than the cutoff
				require.LessOrEqual(t, len(reqs), 3, reqs)
			case "same": // unknown order: every page of the contact
				require.Len(t, keys, 37)
			}
		})
	}
}

// TestCappedPagesAndMetaVariants: every record arrives when the server caps page_size,
// counts items in meta.page_size, omits meta, or answers 204 past the end.
func TestCappedPagesAndMetaVariants(t *testing.T) {
	t.Parallel()
	for name, tweak := range map[string]func(*fakeTR){
		"Cap":       func(f *fakeTR) { f.cap = 7 },
		"MetaCount": func(f *fakeTR) { f.cap = 7; f.metaCount = true },
		// Without a total a capped page cannot be told from the last one; the
		// reference always sends total_items, so only the uncapped case is covered.
		"NoTotal": func(f *fakeTR) { f.noTotal = true },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFakeTR()
			tweak(f)
			for i := range 30 {
				f.addContact(3, "555000"+strconv.Itoa(1000+i), base.Add(time.Duration(i)*time.Hour), base.Add(time.Duration(i)*time.Hour), 0)
			}
			ex := fakeSetup(t, f, nil)
			state := stream.State{}
			batches := memRun(t, ex, StreamContacts, state, time.Now())
			var phones []string
			for _, b := range batches {
				for _, r := range b.Rows[tblContacts] {
					phones = append(phones, r[1].(string))
				}
			}
			slices.Sort(phones)
			require.Len(t, slices.Compact(phones), 30)
			require.LessOrEqual(t, requestsOf(batches), 1+6, "dashboards + 5 pages of 7 (+1 to see the end)")
			var cur contactsCursor
			require.NoError(t, json.Unmarshal(state["3"], &cur))
			require.Nil(t, cur.Run)
			require.Equal(t, base.Add(29*time.Hour), *cur.Activity)
		})
	}
}

// TestPaymentsStopEarly: an incremental payments run reads newest first down to the
// watermark, and reads everything when the server turns out not to sort by date.
func TestPaymentsStopEarly(t *testing.T) {
	t.Parallel()
	for _, unsorted := range []bool{false, true} {
		t.Run(strconv.FormatBool(unsorted), func(t *testing.T) {
			t.Parallel()
			f := newFakeTR()
			f.cap = 10
			for i := range 60 {
				f.payments[1] = append(f.payments[1], map[string]any{
					"payment_id": 1000 - i, "request_date": ts(base.Add(-time.Duration(i) * time.Hour)), "amount_requested": 10.5,
				})
			}
			ex := fakeSetup(t, f, func(c *Config) { c.Dashboards = []int64{1}; c.Lookback = 2 * time.Hour; c.FullSweepEvery = -1 })
			state := stream.State{}
			first := memRun(t, ex, StreamPayments, state, time.Now())
			require.Equal(t, 6, requestsOf(first))

			f.mu.Lock()
			f.payments[1] = append([]map[string]any{{"payment_id": 1001, "request_date": ts(base.Add(time.Hour)), "amount_requested": "1.00"}}, f.payments[1]...)
			f.unsorted = unsorted
			f.mu.Unlock()
			inc := memRun(t, ex, StreamPayments, state, time.Now())
			var ids []int64
			for _, b := range inc {
				for _, r := range b.Rows[tblPayments] {
					ids = append(ids, r[0].(int64))
				}
			}
			require.Contains(t, ids, int64(1001))
			if unsorted {
				require.Len(t, ids, 61, "not sorted: read to the end")
			} else {
				require.Equal(t, 1, requestsOf(inc), "newest first: the first page reaches the watermark")
			}
		})
	}
}

// TestEmpty204: lists that answer 204 load nothing and still commit a cursor.
func TestEmpty204(t *testing.T) {
	t.Parallel()
	f := newFakeTR()
	f.empty204 = true
	f.addContact(9, "5550001", base, base, 0)
	ex := fakeSetup(t, f, nil)
	for _, name := range []string{StreamMessages, StreamPayments} {
		state := stream.State{}
		batches := memRun(t, ex, name, state, time.Now())
		require.NotEmpty(t, batches)
		require.NotNil(t, state["9"], name)
	}
}

// memRunCancel is memRun that cancels the run once k batches are committed.
func memRunCancel(t *testing.T, ex *Extractor, name string, state stream.State, started time.Time, k int) (batches []stream.Batch, cancelled bool) {
	t.Helper()
	var desc stream.Desc
	for _, d := range ex.Streams() {
		if d.Name == name {
			desc = d
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan stream.Batch)
	errc := make(chan error, 1)
	go func() {
		defer close(out)
		errc <- ex.Extract(ctx, stream.Request{Stream: desc, State: state, Started: started}, out)
	}()
	stop, dropped := false, false
	for b := range out {
		if stop {
			dropped = true
			continue // not committed
		}
		if b.Cursor != nil {
			state[b.Partition] = b.Cursor
		}
		batches = append(batches, b)
		if len(batches) == k {
			stop = true
			cancel()
		}
	}
	err := <-errc
	// An extractor that had sent its last batch before the cancel returns nil, but the
	// batches after the k-th were still dropped: that run was cut too.
	if errors.Is(err, context.Canceled) || (err == nil && dropped) {
		return batches, true
	}
	require.NoError(t, err)
	return batches, false
}

// TestMessagesResumeMidPage: a messages run killed after any batch — including batches
// cut in the middle of a contact (flushRows) — resumes without skipping a message, and
// without re-reading the contacts it had finished.
func TestMessagesResumeMidPage(t *testing.T) {
	t.Parallel()
	for k := 1; k <= 6; k++ {
		t.Run(strconv.Itoa(k), func(t *testing.T) {
			t.Parallel()
			f := newFakeTR()
			for i := range 5 {
				f.addContact(1, "555100"+strconv.Itoa(i), base, base.Add(time.Duration(i)*time.Hour), 7)
			}
			ex := fakeSetup(t, f, func(c *Config) { c.Dashboards = []int64{1} })
			ex.flushRows = 4
			state := stream.State{}
			got := map[string]bool{}
			reqs, attempts := 0, 0
			for ; ; attempts++ {
				require.Less(t, attempts, 20)
				batches, cancelled := memRunCancel(t, ex, StreamMessages, state, time.Now(), k)
				for _, key := range messageKeys(batches) {
					got[key] = true
				}
				reqs += requestsOf(batches)
				if !cancelled {
					break
				}
			}
			require.Len(t, got, 35)
			// Each attempt lists the contacts once and re-reads at most the contact it
			// was killed in: committed contacts are never read again.
			require.LessOrEqual(t, reqs, 5+2*(attempts+1))
			var cur messagesCursor
			require.NoError(t, json.Unmarshal(state["1"], &cur))
			require.Nil(t, cur.Run)
			require.Equal(t, base.Add(4*time.Hour), *cur.HW)
		})
	}
}

// TestErrorsNameEndpointAndCode: an API error names the path and the API's error code,
// never the key.
func TestErrorsNameEndpointAndCode(t *testing.T) {
	t.Parallel()
	f := newFakeTR()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	const wrong = "wrong-key-0123456789"
	client, err := apiclient.New(apiclient.Config{
		Source: Source, BaseURL: srv.URL + "/api/v3", Secrets: []string{wrong}, ErrorCode: ErrorCode,
		Auth: func(r *http.Request) { r.Header.Set("x-api-key", wrong) },
	})
	require.NoError(t, err)
	ex := newTestExtractor(t, func(c *Config) { c.Client = client; c.Dashboards = []int64{1} })
	out := make(chan stream.Batch, 10)
	err = ex.Extract(context.Background(), stream.Request{Stream: ex.Streams()[1], State: stream.State{}}, out)
	require.Error(t, err)
	require.Contains(t, err.Error(), "/dashboards/1/contacts")
	require.Contains(t, err.Error(), "UNAUTHORIZED")
	require.NotContains(t, err.Error(), wrong)
}

// TestBadCursorMeansFullRead: a cursor that cannot be read is ignored (a full read).
func TestBadCursorMeansFullRead(t *testing.T) {
	t.Parallel()
	f := newFakeTR()
	f.addContact(1, "5550001", base, base, 2)
	ex := fakeSetup(t, f, func(c *Config) { c.Dashboards = []int64{1} })
	for _, name := range []string{StreamContacts, StreamMessages, StreamPayments} {
		for _, bad := range []string{`{"v":99}`, `not json`, `{"v":1,"run":"x"}`} {
			state := stream.State{"1": json.RawMessage(bad)}
			batches := memRun(t, ex, name, state, time.Now())
			require.NotEmpty(t, batches, name)
			require.True(t, json.Valid(state["1"]), name)
			require.Contains(t, string(state["1"]), `"v":1`, name)
		}
	}
}
