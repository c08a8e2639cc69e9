// Package dbretry runs work against PostgreSQL again when it failed for a reason that
// says nothing about the work itself: the connection was lost or the backend
// terminated (an administrator, a failover, idle_session_timeout), the server is
// starting or shutting down, or the transaction lost a serialization conflict or a
// deadlock. Such a failure rolls the transaction back, so running it again whole, on
// a fresh connection, is safe; every other error is returned at once.
//
// One case is ambiguous: a connection lost while COMMIT was on its way may have
// committed. The work retried here is idempotent (the loader's upserts, a run record's
// update), so running it again is harmless; only counts may then differ from what a
// single attempt would have reported.
package dbretry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Transient reports whether err is a PostgreSQL failure worth running the whole
// transaction again for: SQLSTATE class 08 (connection exception), 40001
// (serialization failure), 40P01 (deadlock), 57P01/57P02/57P03 (backend terminated,
// crash shutdown, cannot connect now), or the connection breaking under the client.
// A cancelled or expired context is never transient.
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "40001", "40P01", "57P01", "57P02", "57P03", "57P05":
			return true
		}
		return strings.HasPrefix(pgErr.Code, "08")
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) || pgconn.SafeToRetry(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, net.ErrClosed)
}

// Policy bounds the retries. The zero value is usable.
type Policy struct {
	// Attempts is the number of tries in all, the first included (default 5).
	Attempts int
	// Min is the wait before the second try (default 200ms); it doubles each time up to
	// Max (default 5s), with jitter of up to half of it.
	Min, Max time.Duration
	// OnRetry, if set, is called before each wait with the failed try's number and error.
	OnRetry func(attempt int, wait time.Duration, err error)
}

// Do runs fn until it succeeds, fails with an error that is not Transient, or has run
// Policy.Attempts times, waiting between tries (the wait ends early with ctx). The last
// error is returned, saying how many tries it took when there was more than one.
func Do(ctx context.Context, p Policy, fn func(ctx context.Context) error) error {
	attempts := p.Attempts
	if attempts <= 0 {
		attempts = 5
	}
	wait, maxWait := p.Min, p.Max
	if wait <= 0 {
		wait = 200 * time.Millisecond
	}
	if maxWait <= 0 {
		maxWait = 5 * time.Second
	}
	for try := 1; ; try++ {
		err := fn(ctx)
		if err == nil || !Transient(err) || ctx.Err() != nil {
			return err
		}
		if try == attempts {
			return fmt.Errorf("%w (gave up after %d tries)", err, try)
		}
		d := min(wait, maxWait)
		d += rand.N(d/2 + 1)
		if p.OnRetry != nil {
			p.OnRetry(try, d, err)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait *= 2
	}
}
