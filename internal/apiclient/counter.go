package apiclient

import (
	"context"
	"sync/atomic"
)

// Counter counts the HTTP attempts made with a context, so that an extractor can report
// how many requests each stream (or batch) cost while all streams share one Client.
type Counter struct{ n atomic.Int64 }

type counterKey struct{}

// WithCounter returns a context whose requests are counted by the returned Counter.
// Contexts derived from it share the Counter.
func WithCounter(ctx context.Context) (context.Context, *Counter) {
	c := &Counter{}
	return context.WithValue(ctx, counterKey{}, c), c
}

// Take returns the number of requests counted since the previous Take.
func (c *Counter) Take() int { return int(c.n.Swap(0)) }

// count adds one request to the context's Counter, if it has one.
func count(ctx context.Context) {
	if c, ok := ctx.Value(counterKey{}).(*Counter); ok {
		c.n.Add(1)
	}
}
