package apiclient

import (
	"context"
	"sync/atomic"
)

// Counter is what every request of a Client is made with: it counts the request's
// attempts, so that an extractor can report how many requests each batch cost while
// all streams share one Client, and it holds the request back until its stream has
// room (stream.Request.Room): the pipeline stops a stream's next request while the
// stream already holds as many uncommitted rows as it may. A nil *Counter counts
// nothing and never waits (`crmsync check`, tests).
type Counter struct {
	room func(context.Context) error
	n    atomic.Int64
}

// NewCounter returns a Counter whose requests first wait for room (nil: never wait).
func NewCounter(room func(context.Context) error) *Counter { return &Counter{room: room} }

// Sub returns a Counter of its own count that waits for the same room: the requests
// of one partition, reported in that partition's batches.
func (c *Counter) Sub() *Counter {
	if c == nil {
		return nil
	}
	return &Counter{room: c.room}
}

// Take returns the number of attempts counted since the previous Take.
func (c *Counter) Take() int {
	if c == nil {
		return 0
	}
	return int(c.n.Swap(0))
}

// add counts one attempt.
func (c *Counter) add() {
	if c != nil {
		c.n.Add(1)
	}
}

// wait waits for room, once per request (a retry does not wait again: the request has
// its room).
func (c *Counter) wait(ctx context.Context) error {
	if c == nil || c.room == nil {
		return nil
	}
	return c.room(ctx)
}
