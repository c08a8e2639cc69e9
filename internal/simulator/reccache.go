package simulator

import "sync/atomic"

// recCache memoises generated base records. A sync asks for every channel three or
// four times (channel and account lists, chat messages, account detail) and for every
// contact twice (list, messages), and generating one was the largest cost left after
// JSON. Base records are pure functions of (seed, ref) and overlays are consulted
// before the cache, so entries never go stale; the cache is direct-mapped with a fixed
// number of slots, so memory stays bounded at any scale. Cached records are shared:
// callers must not write into them (fault edits and mutations work on copies).
type recCache[T any] struct {
	slots []atomic.Pointer[cacheEntry[T]]
}

type cacheEntry[T any] struct {
	key int
	rec *T
}

// newRecCache returns a cache of n slots (a power of two).
func newRecCache[T any](n int) recCache[T] {
	return recCache[T]{slots: make([]atomic.Pointer[cacheEntry[T]], n)}
}

func (c *recCache[T]) slot(key int) *atomic.Pointer[cacheEntry[T]] {
	return &c.slots[key&(len(c.slots)-1)]
}

// get returns the record cached under key, or nil.
func (c *recCache[T]) get(key int) *T {
	if e := c.slot(key).Load(); e != nil && e.key == key {
		return e.rec
	}
	return nil
}

// put caches rec under key (evicting whatever shared its slot) and returns it.
func (c *recCache[T]) put(key int, rec *T) *T {
	c.slot(key).Store(&cacheEntry[T]{key: key, rec: rec})
	return rec
}
