package pipeline

import (
	"context"
	"sync"
	"time"

	"github.com/crmsync/crmsync/internal/stream"
)

// numbered is a batch with its position in the stream, for error messages.
type numbered struct {
	stream.Batch
	seq int
}

// budget bounds what a stream holds between its extractor and its commits: the rows
// and batches received by the dispatcher and not yet committed (waiting in a load
// queue or being loaded). Only the dispatcher takes; the load workers release.
type budget struct {
	maxRows, maxBatches int

	mu          sync.Mutex
	rows, count int
	last        int           // rows of the last batch taken: the guess at the next one's
	freed       chan struct{} // closed and replaced at each release: wakes every waiter
}

func newBudget(maxRows, maxBatches int) *budget {
	return &budget{maxRows: maxRows, maxBatches: maxBatches, freed: make(chan struct{})}
}

// room reports whether one more batch may be taken: always when nothing is held, so
// one batch larger than maxRows still passes (alone); otherwise when a batch the size
// of the last one still fits in maxRows, below maxBatches. b.mu must be held.
//
// The dispatcher waits for room before it receives the next batch, so it cannot know
// that batch's size; a stream's batches are mostly alike (a page each, or a chat
// each), so the last one's is the guess. A stream of large pages then has one page
// loading and asks for the next once it has committed (see waitRoom), rather than a
// second page queued behind the first, a third in the channel and a fourth with the
// extractor, each a page of body and as much again decoded. A stream of small batches
// (one per chat) still gathers up to maxRows of them while a group loads, which is what
// group commit needs.
func (b *budget) room() bool {
	return b.count == 0 || (b.rows+b.last <= b.maxRows && b.count < b.maxBatches)
}

// waitRoom waits until the budget has room for one more batch (see room). The
// dispatcher waits here before it receives a batch, and the extractor's API requests
// wait here before they are sent (see stream.Request.Room), so several goroutines may wait
// at once and a release wakes them all.
//
// The requests wait so that concurrent fetchers (a stream's chats, contacts or
// dashboards, up to eight at once) do not each fetch and decode a page only to park it
// until the next commit (BenchmarkPeakMemory shows what that saves). The price is the
// one page a sequential list had ready when room came: it is now fetched after. A
// request made just after a send may still pass before the dispatcher has counted the
// batch it received (take follows the receive): at most one page more, as before there
// was a gate.
func (b *budget) waitRoom(ctx context.Context) error {
	for {
		b.mu.Lock()
		room, freed := b.room(), b.freed
		b.mu.Unlock()
		if room {
			return nil
		}
		select {
		case <-freed:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// waitEmpty waits until every batch taken has been released (committed or dropped):
// the dispatcher's wait before a stream.Batch.AfterEarlier batch.
func (b *budget) waitEmpty(ctx context.Context) error {
	for {
		b.mu.Lock()
		empty, freed := b.count == 0, b.freed
		b.mu.Unlock()
		if empty {
			return nil
		}
		select {
		case <-freed:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// take counts one received batch of rows rows; the dispatcher calls it after
// waitRoom. Only the dispatcher takes, so the room seen by waitRoom is still there.
func (b *budget) take(rows int) {
	b.mu.Lock()
	b.rows += rows
	b.count++
	b.last = rows
	b.mu.Unlock()
}

// full reports whether the dispatcher would wait for room now: then no further batch
// reaches a load queue until some load commits.
func (b *budget) full() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.room()
}

// release returns a committed (or abandoned) group's rows and batches.
func (b *budget) release(rows, count int) {
	b.mu.Lock()
	b.rows -= rows
	b.count -= count
	close(b.freed)
	b.freed = make(chan struct{})
	b.mu.Unlock()
}

// loadQueue is one load worker's queue: the dispatcher appends, the worker takes
// every batch waiting (up to a group's limits) at once, so batches that arrived while
// its previous load ran commit together.
type loadQueue struct {
	mu     sync.Mutex
	items  []numbered
	closed bool
	ready  chan struct{} // capacity 1: items were appended or the queue was closed
}

func newLoadQueue() *loadQueue { return &loadQueue{ready: make(chan struct{}, 1)} }

func (q *loadQueue) push(b numbered) {
	q.mu.Lock()
	q.items = append(q.items, b)
	q.mu.Unlock()
	q.signal()
}

func (q *loadQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
}

func (q *loadQueue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// take waits for at least one batch and returns the batches waiting, oldest first, up
// to maxRows rows (at least one batch) and maxBatches batches. ok is false once the
// queue is closed and empty.
//
// A group below both limits is held back for up to linger while more batches may still
// come (the queue is open, held has room and done is not closed): a stream of one small
// batch per chat otherwise commits whatever arrived during the previous load, often a
// few dozen rows, paying a transaction's fixed cost each time. The wait is short
// against a load, ends as soon as the group is full, and changes no order: the batches
// stay in the queue, in order, until taken.
func (q *loadQueue) take(maxRows, maxBatches int, linger time.Duration, held *budget, done <-chan struct{}) (group []numbered, rows int, ok bool) {
	var deadline *time.Timer
	defer func() {
		if deadline != nil {
			deadline.Stop()
		}
	}()
	for {
		q.mu.Lock()
		n, rows := q.fit(maxRows, maxBatches)
		if n > 0 {
			more := n == len(q.items) && rows < maxRows && n < maxBatches && !q.closed
			if more && linger > 0 && !held.full() {
				q.mu.Unlock()
				if deadline == nil {
					deadline = time.NewTimer(linger)
				}
				select {
				case <-q.ready:
					continue
				case <-deadline.C:
					linger = 0 // take what is there
					continue
				case <-done:
					linger = 0
					continue
				}
			}
			group = make([]numbered, n)
			copy(group, q.items)
			// Drop the references so the committed batches can be collected.
			clear(q.items[:n])
			q.items = q.items[n:]
			if len(q.items) == 0 {
				q.items = nil
			}
			q.mu.Unlock()
			return group, rows, true
		}
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return nil, 0, false
		}
		<-q.ready
	}
}

// fit returns how many of the waiting batches, oldest first, make one group: up to
// maxRows rows (at least one batch) and maxBatches batches. q.mu must be held.
func (q *loadQueue) fit(maxRows, maxBatches int) (n, rows int) {
	for n < len(q.items) && n < maxBatches {
		l := q.items[n].Len()
		if n > 0 && rows+l > maxRows {
			break
		}
		rows += l
		n++
	}
	return n, rows
}

// discard empties the queue until it is closed, giving the batches' rows back to
// held: after its worker stopped, nothing it holds will load, and the dispatcher must
// not wait for room that would never come.
func (q *loadQueue) discard(held *budget) {
	for {
		q.mu.Lock()
		rows := 0
		for _, b := range q.items {
			rows += b.Len()
		}
		n, closed := len(q.items), q.closed
		q.items = nil
		q.mu.Unlock()
		if n > 0 {
			held.release(rows, n)
		}
		if closed {
			return
		}
		<-q.ready
	}
}
