package apiclient

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"sync"
)

// Page is one page of a list as the paginators hand it on, in list order.
type Page struct {
	// Index is the page's position in this scan (0, 1, 2, …).
	Index int
	// Offset is the position of Items[0] in the list (limit/offset APIs) or
	// page*page_size (page APIs). After a drift re-read it can be smaller than the
	// previous page's.
	Offset int
	// Items are the page's records, undecoded, so one broken record can be rejected
	// without losing the page.
	Items []json.RawMessage
	// Total is the list's total as the server reported it on this page.
	Total int
	// Last is true on a page known to be the list's final one: a short page, or one
	// that reaches the total. A list that ends on an empty page (or a 204) ends the scan
	// without a Last page, so a caller that commits a final cursor on Last must also
	// do so when the scan returns without having seen one.
	Last bool
	// Number is the page number this page was fetched as (page APIs; for offset APIs
	// it equals Offset). Use it, not StartPage+Index, for a cursor: a drift re-read
	// steps back.
	Number int
	// Size is the scan's effective page size (learned from the first page: smaller
	// than asked when the server capped it). A resumed page scan must ask with it.
	Size int
}

// DefaultPageSize is the page size asked for when a config leaves it zero.
const DefaultPageSize = 50

// OffsetFetch fetches one limit/offset page and returns its items and the server's
// total count of matching records (Leeloo: meta.totalCount). A negative total means
// the server did not say: the scan then stops only on a short or empty page and cannot
// detect drift.
type OffsetFetch func(ctx context.Context, offset, limit int) (items []json.RawMessage, total int, err error)

// OffsetConfig tunes an offset scan.
type OffsetConfig struct {
	// Limit is the page size asked for (default 50). The server may cap it: the scan
	// pages by what came back, never by what was asked.
	Limit int
	// Start is the offset to start from (a resumed scan).
	Start int
	// StartTotal is the list's total when the resumed scan stopped (0: unknown). When
	// the first page reports fewer records, the scan steps back by the difference, as
	// for drift within a scan: records removed before Start have moved into pages
	// already read, and would otherwise be missed by this pass.
	StartTotal int
	// Ahead is how many pages may be fetched concurrently ahead of the one being
	// handed on once the total is known (default 1 = sequential).
	Ahead int
}

// OffsetPages reads a limit/offset list to its end and calls yield for each page in
// order, one call at a time, from the calling goroutine. The scan stops on an empty
// page, a short page, or offset >= total.
//
// The page size is learned from the first page: when it holds fewer items than asked
// but the total says there are more, the server capped the limit and the scan steps by
// what came back.
//
// Drift: when a page reports a total smaller by d than the page before it (records
// removed ahead of the cursor shift later records into pages already read), the scan
// re-reads from offset-d so nothing is skipped; when the total grew, it goes on (the
// next page repeats a few records). Repeated records are harmless because loads are
// upserts. A list that keeps shrinking and growing so that the re-reads exceed twice
// its size ends the scan with an error rather than looping.
//
// Each page is handed on as soon as it and the pages before it have arrived, and the
// scan keeps no reference to it: with Ahead 1 the next page is fetched only after
// yield returns, so a caller that blocks in yield (its loads are behind) holds one
// page, not two. (Holding each page until the next showed whether it was the last cost
// a page body per scan.)
//
// With Ahead > 1, up to Ahead pages after the first are fetched concurrently, so at
// most Ahead pages are in memory besides the one yield has. A fetch error, a yield
// error or ctx ending cancels the outstanding fetches and is returned; pages before a
// failed fetch have been handed on.
func OffsetPages(ctx context.Context, cfg OffsetConfig, fetch OffsetFetch, yield func(Page) error) error {
	if cfg.Limit < 0 || cfg.Start < 0 || cfg.Ahead < 0 {
		return fmt.Errorf("offset scan: Limit %d, Start %d, Ahead %d: want non-negative values", cfg.Limit, cfg.Start, cfg.Ahead)
	}
	s := &scan{
		asked: cmp.Or(cfg.Limit, DefaultPageSize),
		ahead: max(cfg.Ahead, 1),
		get: func(ctx context.Context, pos, size int) fetched {
			items, total, err := fetch(ctx, pos, size)
			if err != nil {
				err = fmt.Errorf("fetch offset %d: %w", pos, err)
			}
			return fetched{items: items, total: total, err: err}
		},
		yield: yield,
	}
	return s.run(ctx, cfg.Start, cfg.StartTotal)
}

// PageFetch fetches one page/page_size page. noContent is true for a 204 answer.
// total is the server's total (Text Request: meta.total_items); negative when the
// server did not say.
type PageFetch func(ctx context.Context, page, pageSize int) (items []json.RawMessage, total int, noContent bool, err error)

// PageConfig tunes a page scan.
type PageConfig struct {
	// PageSize is the page size asked for (default 50). If the first page shows the
	// server capped it, later pages are asked with the size that came back, so page
	// numbers keep meaning the same records.
	PageSize int
	// StartPage is the 0-based page to start from (a resumed scan).
	StartPage int
	// StartTotal is the list's total when the resumed scan stopped (0: unknown), as in
	// OffsetConfig.
	StartTotal int
	// Ahead is how many pages may be fetched concurrently ahead (default 1).
	Ahead int
}

// PagePages reads a 0-based page/page_size list to its end and calls yield for each
// page in order. The scan stops on a 204, an empty page, a short page, or
// (page+1)*size >= total. Pages carry Offset = page*size.
//
// A capped page size is detected on the first page (fewer items than asked while the
// total says there are more) and later pages are asked with the size that came back.
//
// Drift: when the total shrinks by d between pages, the scan steps back to the page
// holding offset-d and reads on from there, so records that moved up are not skipped.
// When it grows (newest-first data pushing records down) the next page repeats up to d
// records, which is harmless. Fetch-ahead, ordering, Last and errors work as in
// OffsetPages.
func PagePages(ctx context.Context, cfg PageConfig, fetch PageFetch, yield func(Page) error) error {
	if cfg.PageSize < 0 || cfg.StartPage < 0 || cfg.Ahead < 0 {
		return fmt.Errorf("page scan: PageSize %d, StartPage %d, Ahead %d: want non-negative values", cfg.PageSize, cfg.StartPage, cfg.Ahead)
	}
	s := &scan{
		pages: true,
		asked: cmp.Or(cfg.PageSize, DefaultPageSize),
		ahead: max(cfg.Ahead, 1),
		get: func(ctx context.Context, pos, size int) fetched {
			items, total, noContent, err := fetch(ctx, pos, size)
			if err != nil {
				err = fmt.Errorf("fetch page %d: %w", pos, err)
			}
			return fetched{items: items, total: total, noContent: noContent, err: err}
		},
		yield: yield,
	}
	return s.run(ctx, cfg.StartPage, cfg.StartTotal)
}

// fetched is one fetch's outcome.
type fetched struct {
	items     []json.RawMessage
	total     int
	noContent bool
	err       error
}

// pending is a fetch queued, in flight, or done and not yet handled.
type pending struct {
	pos    int
	size   int
	done   chan struct{} // nil until started
	res    fetched
	cancel context.CancelFunc
}

// closed is the done channel of a fetch that ran on the scan's goroutine.
var closed = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// scan is the loop both paginators share. A position (pos) is an item offset for
// offset lists and a page number for page lists.
type scan struct {
	pages bool // page/page_size rather than limit/offset
	asked int  // size asked for on the first request
	size  int  // effective page size, learned from the first page (0 before)
	ahead int
	get   func(ctx context.Context, pos, size int) fetched
	yield func(Page) error
}

func (s *scan) offsetOf(pos int) int {
	if s.pages {
		return pos * s.size
	}
	return pos
}

func (s *scan) after(pos int) int {
	if s.pages {
		return pos + 1
	}
	return pos + s.size
}

// rewind is where to read again after the list shrank by d as seen at pos: the
// records that were at [offset, offset+d) are now at [offset-d, offset).
func (s *scan) rewind(pos, d int) int {
	off := max(s.offsetOf(pos)-d, 0)
	if s.pages {
		return off / s.size
	}
	return off
}

// learnSize fixes the page size from the first page at pos.
func (s *scan) learnSize(pos int, r fetched) {
	n := len(r.items)
	s.size = s.asked
	if r.noContent || n == 0 {
		return
	}
	if n >= s.asked {
		// A server that ignored the size and sent more pages by its own size.
		s.size = n
		return
	}
	if r.total < 0 {
		return
	}
	// Short first page: the list's last page, or a page of a server that capped the
	// size. An offset page is the last when its end reaches the total. A page-numbered
	// page is the last, as asked, only when page*asked+n is exactly the total: a capped
	// server places page p at p*cap, so with the asked size the total would not match
	// (and a resumed page beyond the total would have come back empty).
	if s.pages && r.total != pos*s.asked+n || !s.pages && r.total > pos+n {
		s.size = n
	}
}

func (s *scan) run(ctx context.Context, start, startTotal int) error {
	ctx, cancelAll := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancelAll()
		wg.Wait()
	}()

	var queue []*pending
	// launch queues a fetch; startQueued runs the queued ones. A fetch that is the only one
	// in flight is waited for at once, so it runs on this goroutine: most scans are a
	// page or two (a chat's or a contact's messages), and a goroutine per page cost a
	// context, a channel and a stack grown anew through the HTTP client each time.
	launch := func(pos int) {
		queue = append(queue, &pending{pos: pos, size: cmp.Or(s.size, s.asked)})
	}
	startQueued := func() {
		if len(queue) == 1 && queue[0].done == nil {
			p := queue[0]
			p.res = s.get(ctx, p.pos, p.size)
			p.done, p.cancel = closed, func() {}
			return
		}
		for _, p := range queue {
			if p.done != nil {
				continue
			}
			fctx, cancel := context.WithCancel(ctx)
			p.done, p.cancel = make(chan struct{}), cancel
			wg.Go(func() {
				defer close(p.done)
				defer cancel()
				p.res = s.get(fctx, p.pos, p.size)
			})
		}
	}
	discard := func() {
		for _, p := range queue {
			p.cancel()
		}
		queue = nil
	}

	var (
		next       = start // next position to launch, once the size is known
		total      = -1    // the last handled page's total (-1: unknown)
		maxTotal   = 0
		reread     = 0 // records stepped back over for drift, summed
		index      = 0
		handled    = 0  // pages fetched and looked at, re-reads included
		firstTotal = -1 // the total on the first page
		firstDone  bool
	)

	for {
		if !firstDone {
			if len(queue) == 0 {
				launch(start)
			}
		} else {
			// Speculate only while the total says there is more; with no total known,
			// one page at a time.
			for len(queue) < s.ahead && (total < 0 && len(queue) == 0 || total >= 0 && s.offsetOf(next) < total) {
				launch(next)
				next = s.after(next)
			}
			if len(queue) == 0 {
				return nil
			}
		}

		startQueued()
		head := queue[0]
		select {
		case <-head.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		// Drop the scan's references to the page before it is handed on: the caller
		// keeps what it needs of it, and the body can go as soon as the caller is done.
		queue[0] = nil
		queue = queue[1:]
		r := head.res
		head.res = fetched{}
		if r.err != nil {
			if err := ctx.Err(); err != nil {
				return err
			}
			return r.err
		}

		handled++
		if firstTotal >= 0 && handled > 4*(firstTotal/s.size+1)+16 {
			// Re-reads are capped below; this catches a list growing at the front
			// faster than the scan moves through it. The cap is fixed by the first
			// page: one that grew with the list would never be reached.
			return fmt.Errorf("list changed too much during the scan: %d pages read for %d records at the start", handled, firstTotal)
		}

		first := !firstDone
		if first {
			s.learnSize(head.pos, r)
			firstTotal = r.total
			firstDone = true
			next = s.after(head.pos)
			if d := startTotal - r.total; startTotal > 0 && r.total >= 0 && d > 0 && s.offsetOf(head.pos) > 0 {
				// Resumed after the list shrank: read again from where the records
				// that were at Start now are. (A 204 past the end says no total: then
				// from the start.) The total is learned again from the next page.
				reread, maxTotal, total = d, startTotal, -1
				discard()
				next = s.rewind(head.pos, d)
				continue
			}
		}

		if !first && !r.noContent && r.total >= 0 && total >= 0 && r.total < total {
			d := total - r.total
			reread += d
			if reread > 2*maxTotal+s.size {
				return fmt.Errorf("list changed too much during the scan: re-read %d records of at most %d", reread, maxTotal)
			}
			total = r.total
			discard()
			next = s.rewind(head.pos, d)
			continue
		}
		if r.total >= 0 {
			total = r.total
			maxTotal = max(maxTotal, total)
		}

		if r.noContent || len(r.items) == 0 {
			return nil
		}
		last := len(r.items) < s.size || r.total >= 0 && s.offsetOf(head.pos)+len(r.items) >= r.total
		page := Page{Index: index, Offset: s.offsetOf(head.pos), Items: r.items, Total: r.total, Number: head.pos, Size: s.size, Last: last}
		index++
		if err := s.yield(page); err != nil {
			return err
		}
		if last {
			return nil
		}
	}
}
