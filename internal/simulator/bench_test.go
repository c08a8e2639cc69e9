package simulator

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// scan pages path to the end (limit/offset or page/page_size) and returns the records read.
func benchScan(b *testing.B, srv *httptest.Server, path string, size, total int, leeloo bool) int {
	b.Helper()
	n := 0
	for off := 0; off < total; off += size {
		var url string
		if leeloo {
			url = fmt.Sprintf("%s%s?limit=%d&offset=%d", srv.URL, path, size, off)
		} else {
			url = fmt.Sprintf("%s%s?page=%d&page_size=%d", srv.URL, path, off/size, size)
		}
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("X-Leeloo-AuthToken", testToken)
		req.Header.Set("x-api-key", testKey)
		resp, err := srv.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("%s: %d", url, resp.StatusCode)
		}
		n += min(size, total-off)
	}
	return n
}

// BenchmarkLeelooPeopleScan pulls 100,000 people (scale 500) through /api/v2/people in
// pages of 100.
func BenchmarkLeelooPeopleScan(b *testing.B) {
	sim := New(Options{Scale: 500})
	sim.Mutate(Mutation{NewPeople: 50, NewMessages: 200})
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	total := sim.ll.people.view(nil, nil, nil).total()
	b.ResetTimer()
	recs := 0
	for b.Loop() {
		recs += benchScan(b, srv, "/api/v2/people", 100, total, true)
	}
	b.ReportMetric(float64(recs)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkTextRequestContactsScan pulls 100,000 contacts (scale 667, one dashboard)
// through /contacts in pages of 500.
func BenchmarkTextRequestContactsScan(b *testing.B) {
	sim := New(Options{Scale: 667})
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	b.ResetTimer()
	recs := 0
	for b.Loop() {
		recs += benchScan(b, srv, "/api/v3/dashboards/4101/contacts", 500, 100050, false)
	}
	b.ReportMetric(float64(recs)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkLeelooDeepPage is one page 2,000,000 records into a 3,000,000-channel list
// that mutations have reordered.
func BenchmarkLeelooDeepPage(b *testing.B) {
	sim := New(Options{Scale: 10000})
	sim.Mutate(Mutation{NewPeople: 100, NewMessages: 1000})
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	url := srv.URL + "/api/v2/communication-channels?limit=100&offset=2000000"
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("X-Leeloo-AuthToken", testToken)
		resp, err := srv.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatal(resp.StatusCode)
		}
	}
}

// BenchmarkSyncRequestMix serves, without a network, the requests a full sync of scale
// 10 makes (as logged from BenchmarkFullSync): every channel's chat messages and v1
// account detail with includes, every contact's messages, and the list pages.
func BenchmarkSyncRequestMix(b *testing.B) {
	sim := New(Options{Scale: 10})
	h := sim.Handler()
	var paths []string
	d, tr := sim.ll, sim.tr
	for off := 0; off < d.nChan; off += 50 {
		paths = append(paths, fmt.Sprintf("/api/v2/communication-channels?limit=50&offset=%d", off))
		paths = append(paths, fmt.Sprintf("/api/v1/accounts?limit=50&offset=%d", off))
	}
	for off := 0; off < d.nPeople; off += 50 {
		paths = append(paths, fmt.Sprintf("/api/v2/people?limit=50&offset=%d", off))
	}
	for ref := range d.nChan {
		id := d.chanID(ref)
		paths = append(paths, "/api/v2/communication-channels/"+id+"/chat-messages?limit=50&offset=0",
			"/api/v1/accounts/"+id+"?include=contactedUsers%2Corders")
	}
	for di := range trDashboards {
		for p := 0; p*100 < tr.nC; p++ {
			paths = append(paths, fmt.Sprintf("/api/v3/dashboards/%d/contacts?page=%d&page_size=100", trFirstDashID+di, p))
		}
		for i := range tr.nC {
			paths = append(paths, fmt.Sprintf("/api/v3/dashboards/%d/contacts/%s/messages?page=0&page_size=100",
				trFirstDashID+di, url.PathEscape(tr.phoneOf(di, i))))
		}
	}
	reqs := make([]*http.Request, len(paths))
	for i, p := range paths {
		reqs[i] = httptest.NewRequest(http.MethodGet, p, nil)
		reqs[i].Header.Set("X-Leeloo-AuthToken", testToken)
		reqs[i].Header.Set("x-api-key", testKey)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, r := range reqs {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				b.Fatalf("%s: %d", r.URL, w.Code)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(reqs)), "ns/request")
}
