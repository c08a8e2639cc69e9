// Package workpool runs funcs on a bounded set of goroutines that live as long as the
// pool. It is errgroup.Group with a limit (WithContext, SetLimit, Go, Wait: the same
// blocking, cancellation and first error), except that each goroutine runs many funcs:
// the extractors run one func per chat, account or contact, and a goroutine per func
// grew its stack anew through the HTTP client every time (copying stacks was ~5% of
// the extraction's CPU).
package workpool

import (
	"context"
	"sync"
)

// Pool runs funcs on at most limit goroutines. Go must be called from one goroutine.
type Pool struct {
	ctx     context.Context // cancelled by the first error
	cancel  context.CancelCauseFunc
	work    chan func(context.Context) error
	wg      sync.WaitGroup
	limit   int
	started int // goroutines started, at most limit
	once    sync.Once
	err     error
}

// New returns a pool of at most limit goroutines (at least one) whose funcs get a
// context derived from ctx.
func New(ctx context.Context, limit int) *Pool {
	ctx, cancel := context.WithCancelCause(ctx)
	return &Pool{ctx: ctx, cancel: cancel, work: make(chan func(context.Context) error), limit: max(limit, 1)}
}

// Context is the context the funcs get: cancelled by the first error, or when Wait
// returns.
func (p *Pool) Context() context.Context { return p.ctx }

// Go runs f on a free goroutine of the pool, blocking while all limit are busy. After an
// error the funcs still run, with the pool's context cancelled, as errgroup's do.
func (p *Pool) Go(f func(context.Context) error) {
	if p.started < p.limit {
		select {
		case p.work <- f: // an idle goroutine took it
			return
		default:
		}
		p.started++
		p.wg.Go(p.worker)
	}
	p.work <- f
}

func (p *Pool) worker() {
	for f := range p.work {
		if err := f(p.ctx); err != nil {
			p.once.Do(func() {
				p.err = err
				p.cancel(err)
			})
		}
	}
}

// Wait waits for every func and returns the first error. The pool cannot be used after.
func (p *Pool) Wait() error {
	close(p.work)
	p.wg.Wait()
	p.cancel(p.err)
	return p.err
}
