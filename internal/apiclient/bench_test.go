package apiclient

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkClientGetJSON measures the client's own overhead per request (limiter off,
// loopback server, keep-alive connections).
func BenchmarkClientGetJSON(b *testing.B) {
	body := []byte(`{"data":[{"id":"a","name":"x"},{"id":"b","name":"y"}],"meta":{"totalCount":2}}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer srv.Close()
	c, err := New(Config{Source: "bench", BaseURL: srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var v struct{ Data []map[string]string }
		for pb.Next() {
			if _, err := c.GetJSON(context.Background(), nil, "/people", nil, &v); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
