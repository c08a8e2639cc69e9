package checkpoint

import (
	"context"
	"fmt"
	"sync"
)

// TryLock takes a session-level advisory lock on (source, name) without waiting; the
// pushes use it (streams hold a lease instead, see the package doc: a session lock is
// lost with its connection). ok is false when another session (another process, or
// another Store) holds it. On success the lock lives on a connection taken from the
// pool for as long as it is held; release unlocks it and gives the connection back,
// and is safe to call more than once.
func (s *Store) TryLock(ctx context.Context, source, streamName string) (release func(), ok bool, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("lock %s.%s: acquire connection: %w", source, streamName, err)
	}
	key := LockKey(source, streamName)
	if err := conn.QueryRow(ctx, "select pg_try_advisory_lock($1)", key).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, fmt.Errorf("lock %s.%s: %w", source, streamName, err)
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
			defer cancel()
			var unlocked bool
			if err := conn.QueryRow(ctx, "select pg_advisory_unlock($1)", key).Scan(&unlocked); err != nil || !unlocked {
				// The session may still hold the lock: closing it is the only sure
				// way to free it. The pool drops closed connections on release.
				_ = conn.Conn().Close(ctx)
			}
			conn.Release()
		})
	}
	return release, true, nil
}
