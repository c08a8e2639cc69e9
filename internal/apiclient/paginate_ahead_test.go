package apiclient

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// deleteFront and insertFront change the list the way a live CRM does between pages.
func deleteFront(l *fakeList, n int) { l.ids = slices.Clone(l.ids[n:]) }

func insertFront(l *fakeList, ids ...int) { l.ids = append(slices.Clone(ids), l.ids...) }

// onceAt runs change the first time a fetch at a position >= pos is answered.
func onceAt(pos int, change func(l *fakeList)) func(l *fakeList, call, p int) {
	var done bool
	return func(l *fakeList, call, p int) {
		if !done && p >= pos {
			done = true
			change(l)
		}
	}
}

func TestPaginatorsDrift(t *testing.T) {
	t.Parallel()

	type scanFunc func(l *fakeList, ahead int, c *collector) error
	offsetScan := func(l *fakeList, ahead int, c *collector) error {
		return OffsetPages(context.Background(), OffsetConfig{Limit: 10, Ahead: ahead}, l.offsetFetch, c.yield)
	}
	pageScan := func(l *fakeList, ahead int, c *collector) error {
		return PagePages(context.Background(), PageConfig{PageSize: 10, Ahead: ahead}, l.pageFetch, c.yield)
	}
	// Positions are offsets for the offset scan and page numbers for the page scan.
	for _, mode := range []struct {
		name string
		scan scanFunc
		mid  int // a position in the middle of a 100-record list
	}{
		{"Offset", offsetScan, 50},
		{"Page", pageScan, 5},
	} {
		for _, ahead := range []int{1, 4} {
			t.Run(mode.name+"ShrinkAhead"+string(rune('0'+ahead)), func(t *testing.T) {
				t.Parallel()
				l := newFakeList(100)
				l.before = onceAt(mode.mid, func(l *fakeList) { deleteFront(l, 3) })
				var c collector
				require.NoError(t, mode.scan(l, ahead, &c))
				c.requireShape(t)
				c.requireAll(t, l.ids) // every record still in the list was read
				require.LessOrEqual(t, len(c.pages), 10+3, "re-reads stay small")
			})
			t.Run(mode.name+"BigShrinkAhead"+string(rune('0'+ahead)), func(t *testing.T) {
				t.Parallel()
				l := newFakeList(100)
				l.before = onceAt(mode.mid, func(l *fakeList) { deleteFront(l, 25) })
				var c collector
				require.NoError(t, mode.scan(l, ahead, &c))
				c.requireShape(t)
				c.requireAll(t, l.ids)
			})
			t.Run(mode.name+"GrowAhead"+string(rune('0'+ahead)), func(t *testing.T) {
				t.Parallel()
				l := newFakeList(100)
				l.before = onceAt(mode.mid, func(l *fakeList) { insertFront(l, 1000, 1001, 1002, 1003, 1004) })
				var c collector
				require.NoError(t, mode.scan(l, ahead, &c))
				c.requireShape(t)
				c.requireAll(t, l.ids[5:]) // the original records; new ones may be missed
			})
		}
	}
}

// TestResumeAfterShrink: a scan cut off at position 50 of 100 records resumes in a later
// run after records before it were deleted; with the total it stopped at, it reads
// again the records that moved into the pages already read, and nothing is skipped.
func TestResumeAfterShrink(t *testing.T) {
	t.Parallel()
	for _, removed := range []int{3, 25, 60} {
		t.Run("Offset", func(t *testing.T) {
			t.Parallel()
			l := newFakeList(100)
			deleteFront(l, removed)
			var c collector
			require.NoError(t, OffsetPages(context.Background(), OffsetConfig{Limit: 10, Start: 50, StartTotal: 100}, l.offsetFetch, c.yield))
			c.requireShape(t)
			c.requireAll(t, l.ids[max(50-removed, 0):]) // what the first run had not read
		})
		t.Run("Page", func(t *testing.T) {
			t.Parallel()
			l := newFakeList(100)
			deleteFront(l, removed)
			var c collector
			require.NoError(t, PagePages(context.Background(), PageConfig{PageSize: 10, StartPage: 5, StartTotal: 100}, l.pageFetch, c.yield))
			c.requireShape(t)
			c.requireAll(t, l.ids[max(50-removed, 0):])
		})
	}
	t.Run("WithoutStartTotal", func(t *testing.T) {
		t.Parallel()
		l := newFakeList(100)
		deleteFront(l, 3)
		var c collector
		require.NoError(t, OffsetPages(context.Background(), OffsetConfig{Limit: 10, Start: 50}, l.offsetFetch, c.yield))
		require.Zero(t, c.seen[l.ids[47]], "no total kept: the records that moved up are missed, as before")
	})
}

func TestOffsetPagesDriftLoopGuard(t *testing.T) {
	t.Parallel()

	l := newFakeList(100)
	l.before = func(l *fakeList, call, pos int) {
		if call%2 == 1 {
			insertFront(l, make([]int, 30)...)
		} else {
			deleteFront(l, 30)
		}
	}
	var c collector
	err := OffsetPages(context.Background(), OffsetConfig{Limit: 10}, l.offsetFetch, c.yield)
	require.ErrorContains(t, err, "list changed too much during the scan")
	require.Less(t, l.calls.Load(), int64(100))
}

// slowList wraps fakeList fetches with jitter and tracks how many run at once.
type slowList struct {
	*fakeList
	inFlight, maxInFlight atomic.Int64
}

func (s *slowList) enter() func() {
	n := s.inFlight.Add(1)
	for {
		m := s.maxInFlight.Load()
		if n <= m || s.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(time.Duration(rand.N(3000)) * time.Microsecond)
	return func() { s.inFlight.Add(-1) }
}

func TestOffsetPagesAheadOrdering(t *testing.T) {
	t.Parallel()

	s := &slowList{fakeList: newFakeList(200)}
	// Pages at 10 and 20 meet before answering: only a scan that really fetches
	// ahead gets past them.
	var (
		meet     sync.WaitGroup
		metAhead atomic.Bool
	)
	meet.Add(2)
	fetch := func(ctx context.Context, offset, limit int) ([]json.RawMessage, int, error) {
		defer s.enter()()
		if offset == 10 || offset == 20 {
			meet.Done()
			met := make(chan struct{})
			go func() { meet.Wait(); close(met) }()
			select {
			case <-met:
				metAhead.Store(true)
			case <-time.After(10 * time.Second):
			}
		}
		return s.offsetFetch(ctx, offset, limit)
	}
	var c collector
	require.NoError(t, OffsetPages(context.Background(), OffsetConfig{Limit: 10, Ahead: 4}, fetch, c.yield))
	c.requireShape(t)
	require.Len(t, c.pages, 20)
	for i, p := range c.pages {
		require.Equal(t, i*10, p.Offset)
	}
	for id, n := range c.seen {
		require.Equal(t, 1, n, "record %d", id)
	}
	require.Len(t, c.seen, 200)
	require.True(t, metAhead.Load(), "pages 10 and 20 were fetched concurrently")
	require.LessOrEqual(t, s.maxInFlight.Load(), int64(4))
	require.Equal(t, int64(20), s.calls.Load(), "no fetch past the total")
}

func TestPagePagesAhead(t *testing.T) {
	t.Parallel()

	s := &slowList{fakeList: newFakeList(95)}
	fetch := func(ctx context.Context, page, size int) ([]json.RawMessage, int, bool, error) {
		defer s.enter()()
		return s.pageFetch(ctx, page, size)
	}
	var c collector
	require.NoError(t, PagePages(context.Background(), PageConfig{PageSize: 10, Ahead: 3, StartPage: 2}, fetch, c.yield))
	c.requireShape(t)
	require.Len(t, c.pages, 8)
	for i, p := range c.pages {
		require.Equal(t, (i+2)*10, p.Offset)
	}
	require.Len(t, c.pages[7].Items, 5)
	require.Len(t, c.seen, 75)
	require.LessOrEqual(t, s.maxInFlight.Load(), int64(3))
	require.Equal(t, int64(8), s.calls.Load())
}

// blockingFetch answers offsets below failAt at once, fails at failAt, and holds every
// later fetch until its context is cancelled (or a long guard passes).
func blockingFetch(failAt int, inFlight *atomic.Int64, l *fakeList) OffsetFetch {
	return func(ctx context.Context, offset, limit int) ([]json.RawMessage, int, error) {
		inFlight.Add(1)
		defer inFlight.Add(-1)
		switch {
		case offset == failAt:
			return nil, 0, errors.New("HTTP 500")
		case offset > failAt:
			select {
			case <-ctx.Done():
				return nil, 0, ctx.Err()
			case <-time.After(30 * time.Second):
				return nil, 0, errors.New("not cancelled")
			}
		}
		return l.offsetFetch(ctx, offset, limit)
	}
}

func TestOffsetPagesAheadFetchError(t *testing.T) {
	t.Parallel()

	var inFlight atomic.Int64
	var c collector
	err := OffsetPages(context.Background(), OffsetConfig{Limit: 10, Ahead: 4},
		blockingFetch(30, &inFlight, newFakeList(200)), c.yield)
	require.EqualError(t, err, "fetch offset 30: HTTP 500")
	require.Len(t, c.pages, 3, "pages before the failed one are handed on")
	require.Equal(t, 20, c.pages[2].Offset)
	require.False(t, c.pages[2].Last)
	require.Zero(t, inFlight.Load(), "outstanding fetches were cancelled and waited for")
}

func TestOffsetPagesAheadYieldError(t *testing.T) {
	t.Parallel()

	var inFlight atomic.Int64
	boom := errors.New("load failed")
	yields := 0
	err := OffsetPages(context.Background(), OffsetConfig{Limit: 10, Ahead: 4},
		blockingFetch(1000, &inFlight, newFakeList(2000)), func(p Page) error {
			yields++
			if p.Offset == 20 {
				return boom
			}
			return nil
		})
	require.ErrorIs(t, err, boom)
	require.Equal(t, 3, yields)
	require.Zero(t, inFlight.Load())
}

func TestOffsetPagesCancel(t *testing.T) {
	t.Parallel()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var inFlight atomic.Int64
	err := OffsetPages(ctx, OffsetConfig{Limit: 10, Ahead: 4},
		blockingFetch(1000, &inFlight, newFakeList(2000)), func(p Page) error {
			if p.Offset == 30 {
				cancel()
			}
			return nil
		})
	require.ErrorIs(t, err, context.Canceled)
	require.Zero(t, inFlight.Load())
}

func TestOffsetPagesRunawayGrowthGuard(t *testing.T) {
	t.Parallel()

	// Newest-first data growing by more than a page between fetches: the scan would
	// never reach the end.
	l := newFakeList(100)
	next := 1000
	l.before = func(l *fakeList, call, pos int) {
		ids := make([]int, 15)
		for i := range ids {
			ids[i] = next
			next++
		}
		insertFront(l, ids...)
	}
	var c collector
	err := OffsetPages(context.Background(), OffsetConfig{Limit: 10}, l.offsetFetch, c.yield)
	require.ErrorContains(t, err, "list changed too much during the scan")
}

func TestOffsetPagesAheadUnknownTotal(t *testing.T) {
	t.Parallel()

	// Without a total there is nothing to speculate on: one fetch at a time, ending on
	// the empty page, which is not handed on.
	s := &slowList{fakeList: newFakeList(40)}
	s.noTotal = true
	fetch := func(ctx context.Context, offset, limit int) ([]json.RawMessage, int, error) {
		defer s.enter()()
		return s.offsetFetch(ctx, offset, limit)
	}
	c := collector{endsEmpty: true}
	require.NoError(t, OffsetPages(context.Background(), OffsetConfig{Limit: 10, Ahead: 4}, fetch, c.yield))
	c.requireShape(t)
	require.Len(t, c.pages, 4)
	require.Equal(t, int64(1), s.maxInFlight.Load())
	require.Equal(t, int64(5), s.calls.Load())
}
