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

type gateKey struct{}

// WithGate returns a context whose requests first call wait, once each (a retry does
// not wait again), and fail with its error. The pipeline holds back a stream's next
// request this way while the stream already holds as many uncommitted rows as it may.
func WithGate(ctx context.Context, wait func(context.Context) error) context.Context {
	return context.WithValue(ctx, gateKey{}, wait)
}

// awaitGate calls the context's gate, if it has one.
func awaitGate(ctx context.Context) error {
	if wait, ok := ctx.Value(gateKey{}).(func(context.Context) error); ok {
		return wait(ctx)
	}
	return nil
}
