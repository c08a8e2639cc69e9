package textrequest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"

	"github.com/crmsync/crmsync/extractors/internal/lenient"
	"github.com/crmsync/crmsync/internal/apiclient"
)

// ErrorCode returns the errorCode of a Text Request error body
// ({"status":401,"message":"…","errorCode":"…"}), or "" when the body has none. The CLI
// passes it to apiclient.Config.ErrorCode so errors name the API's code.
func ErrorCode(body []byte) string {
	var b struct {
		ErrorCode lenient.String `json:"errorCode"`
	}
	if json.Unmarshal(body, &b) != nil {
		return ""
	}
	return b.ErrorCode.V
}

// unknownTotal stands for a total the server did not send (apiclient's convention): the
// scan then ends on a short or empty page, or a 204.
const unknownTotal = -1

// decodeList reads a list body: the §2 envelope ({"meta", "items"}), or a bare array
// (custom fields). It returns the items, each as received, and meta.total_items
// (unknownTotal when absent or unreadable). An error wrapping apiclient.ErrMalformed
// means the body was cut short.
func decodeList(body []byte) ([]json.RawMessage, int, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, 0, nil
	}
	if body[0] == '[' {
		var items []json.RawMessage
		if err := lenient.Body(body, &items); err != nil {
			return nil, 0, fmt.Errorf("decode list: %w", err)
		}
		return items, len(items), nil
	}
	var env struct {
		Items []json.RawMessage `json:"items"`
		Meta  struct {
			TotalItems json.RawMessage `json:"total_items"`
		} `json:"meta"`
	}
	if err := lenient.Body(body, &env); err != nil {
		return nil, 0, fmt.Errorf("decode envelope: %w", err)
	}
	total := unknownTotal
	var n lenient.Int
	if n.UnmarshalJSON(env.Meta.TotalItems) == nil && n.Valid && n.V >= 0 && n.V <= math.MaxInt32 {
		total = int(n.V)
	}
	return env.Items, total, nil
}

// getList fetches one page of a list endpoint. A 204 is reported as noContent.
func (e *Extractor) getList(ctx context.Context, c *apiclient.Counter, path string, q url.Values) (items []json.RawMessage, total int, noContent bool, err error) {
	// GetDecode (not Get) so that a truncated answer, which fails to split, is retried
	// like a 5xx; a well-formed body of the wrong shape is this package's error.
	var shapeErr error
	_, err = e.cfg.Client.GetDecode(ctx, c, path, q, func(r *apiclient.Response) error {
		items, total, noContent, shapeErr = nil, 0, false, nil
		if r.Status == http.StatusNoContent || len(bytes.TrimSpace(r.Body)) == 0 {
			noContent = true
			return nil
		}
		var err error
		items, total, err = decodeList(r.Body)
		if errors.Is(err, apiclient.ErrMalformed) {
			return err
		}
		shapeErr = err
		return nil
	})
	if err != nil {
		return nil, 0, false, err
	}
	if shapeErr != nil {
		return nil, 0, false, fmt.Errorf("GET %s: %w", path, shapeErr)
	}
	return items, total, noContent, nil
}

// pageFetch returns an apiclient.PageFetch for a paged list endpoint with fixed filters.
func (e *Extractor) pageFetch(c *apiclient.Counter, path string, filters url.Values) apiclient.PageFetch {
	return func(ctx context.Context, page, pageSize int) ([]json.RawMessage, int, bool, error) {
		q := url.Values{}
		for k, v := range filters {
			q[k] = v
		}
		q.Set("page", strconv.Itoa(page))
		q.Set("page_size", strconv.Itoa(pageSize))
		return e.getList(ctx, c, path, q)
	}
}

// errStop ends a scan early from inside a yield (the rest of the list is known to be
// older than what is needed).
var errStop = errors.New("stop scan")

// scan pages through a list with apiclient.PagePages starting at (startPage, size) and
// calls yield per page with the page number and the page size used for it, which a
// cursor stores so a resumed scan asks for the same pages. A yield returning errStop ends
// the scan without error.
func (e *Extractor) scan(ctx context.Context, c *apiclient.Counter, path string, filters url.Values, startPage, size, ahead int, yield func(p apiclient.Page, pageNo, size int) error) error {
	return e.resume(ctx, c, path, filters, startPage, size, 0, ahead, yield)
}

// resume is scan for a scan whose cursor also kept the list's total as of startPage
// (pg.Total of the page before): when the list has lost records since, the scan steps
// back by as many, so records that moved into pages already read are not missed.
func (e *Extractor) resume(ctx context.Context, c *apiclient.Counter, path string, filters url.Values, startPage, size, startTotal, ahead int, yield func(p apiclient.Page, pageNo, size int) error) error {
	if size <= 0 {
		size = e.cfg.PageSize
	}
	cfg := apiclient.PageConfig{PageSize: size, StartPage: startPage, StartTotal: startTotal, Ahead: max(ahead, 1)}
	err := apiclient.PagePages(ctx, cfg, e.pageFetch(c, path, filters), func(p apiclient.Page) error {
		// Number and Size, not Index and the size asked: a scan can step back after a
		// shrink, and the server may cap the size.
		return yield(p, p.Number, cmp.Or(p.Size, size))
	})
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}
