package pipeline

import (
	"cmp"
	"context"
	"slices"

	"github.com/crmsync/crmsync/internal/stream"
)

// historian is what ordering a pass needs from Checkpoints (internal/checkpoint has
// it); without it the jobs start in plan order.
type historian interface {
	History(ctx context.Context, descs []stream.Desc) (map[string]stream.History, error)
}

// Start classes of a pass, in order (see startOrder).
const (
	classSynced   = iota // first sync done and the last run finished: incremental, cheap
	classNew             // never finished a run
	classBackfill        // last run cut off or failed: a backfill in progress
)

// startOrder returns the order in which a pass starts its jobs (indexes into jobs):
//
//  1. streams already synced whose last run completed, cheapest last run first: the
//     accounts an analyst already uses stay fresh before any backfill gets budget;
//  2. streams that never ran, full-refresh and snapshot lists (small, one scan) before
//     incremental ones, which may be long first syncs;
//  3. streams whose last run was cut off or failed (a first sync in progress), the one
//     that waited longest first, so backfills beyond the concurrency take turns.
//
// Within a class, sources alternate (each source has its own request budget, so
// streams of different sources do not slow each other down). With hist nil (no
// history) the classes come from the modes alone.
func startOrder(jobs []Job, hist map[string]stream.History) []int {
	type key struct {
		class int
		cost  int64 // within the class: lower first
		rank  int   // position among the jobs of its source and class
		i     int
	}
	keys := make([]key, len(jobs))
	rank := map[[2]any]int{}
	for i, j := range jobs {
		k := key{class: classNew, i: i}
		h, ok := hist[j.Desc.ID()]
		switch {
		case !ok:
			if j.Desc.Mode == stream.ModeIncremental {
				k.cost = 1
			}
		case h.Synced && h.LastStatus == stream.RunSucceeded:
			k.class, k.cost = classSynced, int64(h.LastRequests)
		default:
			k.class, k.cost = classBackfill, h.LastStarted.UnixNano()
		}
		keys[i] = k
	}
	// Rank each job among its source's jobs of the same class, by cost then plan order;
	// sorting by (class, rank, cost) then alternates the sources.
	order := make([]int, len(jobs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(keys[a].class, keys[b].class), cmp.Compare(keys[a].cost, keys[b].cost))
	})
	for _, i := range order {
		rk := [2]any{jobs[i].Desc.Source, keys[i].class}
		keys[i].rank = rank[rk]
		rank[rk]++
	}
	slices.SortStableFunc(order, func(a, b int) int {
		ka, kb := keys[a], keys[b]
		return cmp.Or(cmp.Compare(ka.class, kb.class), cmp.Compare(ka.rank, kb.rank), cmp.Compare(ka.cost, kb.cost))
	})
	return order
}

// dispatch calls run(i) for every index of order, each in its own goroutine, at most
// slots at once, and returns when all have returned. A free slot goes to the source
// with the fewest streams running, to its first job in order (ties: the job first in
// order). Each source has its own request budget, so a slot held by one source's
// stream waiting for that source's limiter does not help another source; taking the
// sources in turn by what they run, not by a fixed alternation of the order, lets a
// source whose streams end quickly (one request each) reach its backfill while another
// source's slower streams still hold their slots.
func dispatch(jobs []Job, order []int, slots int, run func(i int)) {
	pending := slices.Clone(order)
	running := map[string]int{}
	done := make(chan string)
	active := 0
	for len(pending) > 0 || active > 0 {
		for active < slots && len(pending) > 0 {
			k := 0
			for n, i := range pending {
				if running[jobs[i].Desc.Source] < running[jobs[pending[k]].Desc.Source] {
					k = n
				}
			}
			i := pending[k]
			pending = slices.Delete(pending, k, k+1)
			src := jobs[i].Desc.Source
			running[src]++
			active++
			go func() {
				run(i)
				done <- src
			}()
		}
		running[<-done]--
		active--
	}
}
