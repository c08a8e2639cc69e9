package apiclient

import (
	"context"
	"sync"
	"time"
)

// sendLog makes sure no window of length per holds more than n of the source's
// attempts, counting when attempts actually go out. The token bucket (newLimiter)
// spaces the reservations evenly, but a goroutine can wake from its reservation late
// (a busy machine, a stop-the-world pause): one attempt held back by more than the
// bucket's guard, followed on time by the one n places later, puts n+1 arrivals in
// some window of the server's. So each attempt also waits until the attempt n places
// before it went out at least per (plus the same guard) ago, by the clock, at the
// moment it is let go.
type sendLog struct {
	mu    sync.Mutex
	per   time.Duration
	times []time.Time // ring of the last n departures; zero while fewer were sent
	next  int         // the slot of the oldest departure, overwritten by the next
}

// newSendLog returns a log for l, or nil when l is no limit.
func newSendLog(l Limit) *sendLog {
	if l.N <= 0 || l.Per <= 0 {
		return nil
	}
	return &sendLog{per: l.Per + l.Per/time.Duration(2*l.N), times: make([]time.Time, l.N)}
}

// wait blocks until an attempt may go out and records it as gone.
func (s *sendLog) wait(ctx context.Context) error {
	if s == nil {
		return nil
	}
	for {
		s.mu.Lock()
		now := time.Now()
		oldest := s.times[s.next]
		d := oldest.Add(s.per).Sub(now)
		if oldest.IsZero() || d <= 0 {
			s.times[s.next] = now
			s.next = (s.next + 1) % len(s.times)
			s.mu.Unlock()
			return nil
		}
		s.mu.Unlock()
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
}
