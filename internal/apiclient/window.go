package apiclient

import (
	"context"
	"sync"
	"time"
)

// window is the client's rate limiter: it lets an attempt go only when the attempt N
// places before it went out at least Per ago, plus a guard of Per/(2N), by the clock
// at the moment it is let go. So no window of length Per+guard holds more than N
// attempts, which is the APIs' own rule (Text Request's 100 a minute is a rolling
// window, not a bucket), and the guard absorbs network jitter between our clock and
// the server's. Unlike a token bucket of rate N/Per and burst N, which lets a full
// burst at the end of one window meet N more refilled inside the next, it never
// admits 2N in a window; unlike a bucket of burst 1, it needs no second check for a
// goroutine that woke late from its reservation: the time is taken when the attempt
// leaves.
type window struct {
	mu    sync.Mutex
	per   time.Duration // Per plus the guard
	times []time.Time   // ring of the last N departures; zero while fewer were sent
	next  int           // the slot of the oldest departure, overwritten by the next
}

// newWindow returns a limiter for l, or nil when l is no limit.
func newWindow(l Limit) *window {
	if l.N <= 0 || l.Per <= 0 {
		return nil
	}
	return &window{per: l.Per + l.Per/time.Duration(2*l.N), times: make([]time.Time, l.N)}
}

// wait blocks until an attempt may go out and records it as gone. A wait that would
// end after ctx's deadline still waits for the deadline and returns ctx's error, so a
// --max-duration cut-off reads as a cancellation wherever it finds the stream.
func (w *window) wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil || w == nil {
		return err
	}
	for {
		w.mu.Lock()
		now := time.Now()
		oldest := w.times[w.next]
		d := oldest.Add(w.per).Sub(now)
		if oldest.IsZero() || d <= 0 {
			w.times[w.next] = now
			w.next = (w.next + 1) % len(w.times)
			w.mu.Unlock()
			return nil
		}
		w.mu.Unlock()
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
}
