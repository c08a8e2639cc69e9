package apiclient

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeList is an in-memory list served by limit/offset or page/page_size, with a server
// page-size cap and a hook that can change the list before a fetch is answered.
type fakeList struct {
	mu      sync.Mutex
	ids     []int
	cap     int // server's maximum page size (0: none)
	calls   atomic.Int64
	before  func(l *fakeList, call int, pos int) // runs under mu before answering
	fail    func(call int, pos int) error
	noTotal bool // report total -1
}

func newFakeList(n int) *fakeList {
	l := &fakeList{}
	for i := range n {
		l.ids = append(l.ids, i)
	}
	return l
}

func (l *fakeList) slice(offset, limit int) ([]json.RawMessage, int) {
	if l.cap > 0 {
		limit = min(limit, l.cap)
	}
	var items []json.RawMessage
	for i := offset; i < offset+limit && i < len(l.ids); i++ {
		items = append(items, json.RawMessage(strconv.Itoa(l.ids[i])))
	}
	total := len(l.ids)
	if l.noTotal {
		total = -1
	}
	return items, total
}

func (l *fakeList) offsetFetch(ctx context.Context, offset, limit int) ([]json.RawMessage, int, error) {
	call := int(l.calls.Add(1))
	if l.fail != nil {
		if err := l.fail(call, offset); err != nil {
			return nil, 0, err
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.before != nil {
		l.before(l, call, offset)
	}
	items, total := l.slice(offset, limit)
	return items, total, nil
}

func (l *fakeList) pageFetch(ctx context.Context, page, size int) ([]json.RawMessage, int, bool, error) {
	call := int(l.calls.Add(1))
	if l.fail != nil {
		if err := l.fail(call, page); err != nil {
			return nil, 0, false, err
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.before != nil {
		l.before(l, call, page)
	}
	if l.cap > 0 {
		size = min(size, l.cap)
	}
	items, total := l.slice(page*size, size)
	if len(items) == 0 {
		return nil, 0, true, nil // Text Request answers 204 past the end
	}
	return items, total, false, nil
}

// collector records the pages a scan yields.
type collector struct {
	pages []Page
	seen  map[int]int
	// endsEmpty is set by a test whose list ends on an empty page or a 204: its last
	// page was handed on before that was known, so none is marked Last.
	endsEmpty bool
}

func (c *collector) yield(p Page) error {
	c.pages = append(c.pages, p)
	if c.seen == nil {
		c.seen = map[int]int{}
	}
	for _, raw := range p.Items {
		id, err := strconv.Atoi(string(raw))
		if err != nil {
			return err
		}
		c.seen[id]++
	}
	return nil
}

func (c *collector) requireAll(t *testing.T, ids []int) {
	t.Helper()
	for _, id := range ids {
		require.Positive(t, c.seen[id], "record %d skipped", id)
	}
}

func (c *collector) requireShape(t *testing.T) {
	t.Helper()
	require.NotEmpty(t, c.pages)
	for i, p := range c.pages {
		require.Equal(t, i, p.Index)
		require.Equal(t, i == len(c.pages)-1 && !c.endsEmpty, p.Last, "page %d Last", i)
		require.Positive(t, p.Size)
		if p.Number != p.Offset {
			require.Equal(t, p.Number*p.Size, p.Offset, "page %d", i)
		}
	}
}

func TestOffsetPagesSequential(t *testing.T) {
	t.Parallel()

	t.Run("TotalStop", func(t *testing.T) {
		t.Parallel()
		l := newFakeList(100)
		var c collector
		require.NoError(t, OffsetPages(context.Background(), OffsetConfig{Limit: 25}, l.offsetFetch, c.yield))
		c.requireShape(t)
		require.Len(t, c.pages, 4)
		require.Equal(t, 75, c.pages[3].Offset)
		require.Equal(t, int64(4), l.calls.Load(), "no fetch past the total")
		c.requireAll(t, l.ids)
	})

	t.Run("ShortPageStop", func(t *testing.T) {
		t.Parallel()
		l := newFakeList(90)
		var c collector
		require.NoError(t, OffsetPages(context.Background(), OffsetConfig{Limit: 25}, l.offsetFetch, c.yield))
		c.requireShape(t)
		require.Len(t, c.pages, 4)
		require.Len(t, c.pages[3].Items, 15)
		require.Equal(t, int64(4), l.calls.Load())
	})

	t.Run("EmptyPageStop", func(t *testing.T) {
		t.Parallel()
		l := newFakeList(50)
		l.noTotal = true
		c := collector{endsEmpty: true}
		require.NoError(t, OffsetPages(context.Background(), OffsetConfig{Limit: 25}, l.offsetFetch, c.yield))
		c.requireShape(t)
		require.Len(t, c.pages, 2)
		require.Equal(t, int64(3), l.calls.Load(), "third fetch is the empty page")
	})

	t.Run("EmptyList", func(t *testing.T) {
		t.Parallel()
		l := newFakeList(0)
		var c collector
		require.NoError(t, OffsetPages(context.Background(), OffsetConfig{}, l.offsetFetch, c.yield))
		require.Empty(t, c.pages)
	})

	t.Run("CappedLimit", func(t *testing.T) {
		t.Parallel()
		l := newFakeList(95)
		l.cap = 20
		var c collector
		require.NoError(t, OffsetPages(context.Background(), OffsetConfig{Limit: 50}, l.offsetFetch, c.yield))
		c.requireShape(t)
		require.Len(t, c.pages, 5)
		for i, p := range c.pages {
			require.Equal(t, i*20, p.Offset)
		}
		c.requireAll(t, l.ids)
		for id, n := range c.seen {
			require.Equal(t, 1, n, "record %d read twice", id)
		}
	})

	t.Run("Resume", func(t *testing.T) {
		t.Parallel()
		l := newFakeList(100)
		var c collector
		require.NoError(t, OffsetPages(context.Background(), OffsetConfig{Limit: 30, Start: 60}, l.offsetFetch, c.yield))
		c.requireShape(t)
		require.Len(t, c.pages, 2)
		require.Equal(t, 60, c.pages[0].Offset)
		require.Equal(t, 90, c.pages[1].Offset)
		require.Len(t, c.seen, 40)
	})

	t.Run("YieldError", func(t *testing.T) {
		t.Parallel()
		l := newFakeList(100)
		boom := errors.New("boom")
		err := OffsetPages(context.Background(), OffsetConfig{Limit: 10}, l.offsetFetch, func(p Page) error {
			if p.Index == 2 {
				return boom
			}
			return nil
		})
		require.ErrorIs(t, err, boom)
	})

	t.Run("FetchError", func(t *testing.T) {
		t.Parallel()
		l := newFakeList(100)
		l.fail = func(call, pos int) error {
			if pos == 30 {
				return errors.New("HTTP 500")
			}
			return nil
		}
		var c collector
		err := OffsetPages(context.Background(), OffsetConfig{Limit: 10}, l.offsetFetch, c.yield)
		require.EqualError(t, err, "fetch offset 30: HTTP 500")
		require.Len(t, c.pages, 3, "pages before the failure are handed on")
	})
}

func TestPagePagesSequential(t *testing.T) {
	t.Parallel()

	t.Run("NoContentStop", func(t *testing.T) {
		t.Parallel()
		l := newFakeList(50)
		l.noTotal = true
		c := collector{endsEmpty: true}
		require.NoError(t, PagePages(context.Background(), PageConfig{PageSize: 25}, l.pageFetch, c.yield))
		c.requireShape(t)
		require.Len(t, c.pages, 2)
		require.Equal(t, int64(3), l.calls.Load())
	})

	t.Run("TotalStop", func(t *testing.T) {
		t.Parallel()
		l := newFakeList(50)
		var c collector
		require.NoError(t, PagePages(context.Background(), PageConfig{PageSize: 25}, l.pageFetch, c.yield))
		c.requireShape(t)
		require.Len(t, c.pages, 2)
		require.Equal(t, 25, c.pages[1].Offset)
		require.Equal(t, int64(2), l.calls.Load())
	})

	t.Run("CappedPageSize", func(t *testing.T) {
		t.Parallel()
		l := newFakeList(55)
		l.cap = 10
		var c collector
		require.NoError(t, PagePages(context.Background(), PageConfig{PageSize: 100}, l.pageFetch, c.yield))
		c.requireShape(t)
		require.Len(t, c.pages, 6)
		require.Equal(t, 50, c.pages[5].Offset)
		c.requireAll(t, l.ids)
	})

	t.Run("ResumeCapped", func(t *testing.T) {
		t.Parallel()
		l := newFakeList(55)
		l.cap = 10
		var c collector
		require.NoError(t, PagePages(context.Background(), PageConfig{PageSize: 100, StartPage: 3}, l.pageFetch, c.yield))
		c.requireShape(t)
		require.Len(t, c.pages, 3)
		require.Equal(t, 30, c.pages[0].Offset)
		require.Equal(t, 3, c.pages[0].Number)
		require.Equal(t, 10, c.pages[0].Size)
		require.Len(t, c.seen, 25)
	})

	t.Run("ShortLastPage", func(t *testing.T) {
		t.Parallel()
		l := newFakeList(7)
		var c collector
		require.NoError(t, PagePages(context.Background(), PageConfig{PageSize: 10}, l.pageFetch, c.yield))
		c.requireShape(t)
		require.Len(t, c.pages, 1)
		require.Equal(t, int64(1), l.calls.Load())
	})
}

func TestPagesHandedOnBeforeTheNextFetch(t *testing.T) {
	t.Parallel()

	// A caller blocked in yield (its loads behind) then holds one page, not two.
	l := newFakeList(100)
	var fetchedAtYield []int64
	yield := func(p Page) error {
		fetchedAtYield = append(fetchedAtYield, l.calls.Load())
		return nil
	}
	require.NoError(t, OffsetPages(context.Background(), OffsetConfig{Limit: 25}, l.offsetFetch, yield))
	require.Equal(t, []int64{1, 2, 3, 4}, fetchedAtYield)

	l = newFakeList(100)
	fetchedAtYield = nil
	require.NoError(t, PagePages(context.Background(), PageConfig{PageSize: 25}, l.pageFetch, yield))
	require.Equal(t, []int64{1, 2, 3, 4}, fetchedAtYield)
}
