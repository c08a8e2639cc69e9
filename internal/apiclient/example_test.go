package apiclient_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"time"

	"github.com/crmsync/crmsync/internal/apiclient"
)

// An extractor builds one Client per source and walks a limit/offset list with
// OffsetPages, decoding the envelope in its fetch function.
func ExampleOffsetPages() {
	const token = "secret-token"
	// A stand-in for the API: 7 people, at most 3 per page.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		var data []int
		for i := offset; i < min(offset+limit, 7); i++ {
			data = append(data, i)
		}
		json.NewEncoder(w).Encode(map[string]any{"data": data, "meta": map[string]int{"totalCount": 7}})
	}))
	defer srv.Close()

	client, err := apiclient.New(apiclient.Config{
		Source:    "leeloo",
		BaseURL:   srv.URL + "/api/v2",
		Auth:      func(r *http.Request) { r.Header.Set("X-Leeloo-AuthToken", token) },
		Secrets:   []string{token},
		RateLimit: apiclient.Limit{N: 10, Per: time.Second},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	fetch := func(ctx context.Context, offset, limit int) ([]json.RawMessage, int, error) {
		var body struct {
			Data []json.RawMessage `json:"data"`
			Meta struct {
				TotalCount int `json:"totalCount"`
			} `json:"meta"`
		}
		q := url.Values{"offset": {strconv.Itoa(offset)}, "limit": {strconv.Itoa(limit)}}
		if _, err := client.GetJSON(ctx, nil, "/people", q, &body); err != nil {
			return nil, 0, fmt.Errorf("list people: %w", err)
		}
		return body.Data, body.Meta.TotalCount, nil
	}
	err = apiclient.OffsetPages(context.Background(), apiclient.OffsetConfig{Limit: 3}, fetch, func(p apiclient.Page) error {
		fmt.Printf("page %d offset %d items %d last %t\n", p.Index, p.Offset, len(p.Items), p.Last)
		return nil
	})
	fmt.Println("err:", err, "requests:", client.Stats().Requests)

	// Output:
	// page 0 offset 0 items 3 last false
	// page 1 offset 3 items 3 last false
	// page 2 offset 6 items 1 last true
	// err: <nil> requests: 3
}
