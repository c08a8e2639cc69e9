package apiclient

import (
	"context"
	"encoding/json"
)

// Page is one page of a list as the paginators hand it on, in list order.
type Page struct {
	// Index is the page's position in this scan (0, 1, 2, …).
	Index int
	// Offset is the position of Items[0] in the list (limit/offset APIs) or
	// page*page_size (page APIs).
	Offset int
	// Items are the page's records, undecoded, so one broken record can be rejected
	// without losing the page.
	Items []json.RawMessage
	// Total is the list's total as the server reported it on this page.
	Total int
	// Last is true on the final page of the scan.
	Last bool
}

// OffsetFetch fetches one limit/offset page and returns its items and the server's
// total count of matching records (Leeloo: meta.totalCount).
type OffsetFetch func(ctx context.Context, offset, limit int) (items []json.RawMessage, total int, err error)

// OffsetConfig tunes an offset scan.
type OffsetConfig struct {
	// Limit is the page size asked for (default 50). The server may cap it: the scan
	// pages by what came back, never by what was asked.
	Limit int
	// Start is the offset to start from (a resumed scan).
	Start int
	// Ahead is how many pages may be fetched concurrently ahead of the one being
	// handed on once the total is known (default 1 = sequential).
	Ahead int
}

// OffsetPages reads a limit/offset list to its end and calls yield for each page in
// order. The scan stops on an empty page, a short page, or offset >= total. When the
// total shrinks during the scan (records removed ahead of the cursor would shift later
// records into pages already read) it re-reads the overlap so nothing is skipped;
// repeated records are harmless because loads are upserts. A yield error stops the scan
// and is returned.
func OffsetPages(ctx context.Context, cfg OffsetConfig, fetch OffsetFetch, yield func(Page) error) error {
	panic("apiclient: not implemented yet")
}

// PageFetch fetches one page/page_size page. noContent is true for a 204 answer.
// total is the server's total (Text Request: meta.total_items).
type PageFetch func(ctx context.Context, page, pageSize int) (items []json.RawMessage, total int, noContent bool, err error)

// PageConfig tunes a page scan.
type PageConfig struct {
	// PageSize is the page size asked for (default 50). If the first page shows the
	// server capped it, later pages are asked with the size that came back, so page
	// numbers keep meaning the same records.
	PageSize int
	// StartPage is the 0-based page to start from (a resumed scan).
	StartPage int
	// Ahead is how many pages may be fetched concurrently ahead (default 1).
	Ahead int
}

// PagePages reads a 0-based page/page_size list to its end and calls yield for each
// page in order. The scan stops on a 204, an empty page, or (page+1)*size >= total.
// A yield error stops the scan and is returned.
func PagePages(ctx context.Context, cfg PageConfig, fetch PageFetch, yield func(Page) error) error {
	panic("apiclient: not implemented yet")
}
