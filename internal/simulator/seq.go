package simulator

import (
	"slices"
	"sort"
)

// seq is one newest-first list: the base records 0..n-1 are generated already in
// order (index 0 is the newest), and mutations move records to, or add records at, the
// head. A position in the list maps to a record in O(len(moved)) without materialising
// the base, so paging through 100k+ records stays cheap.
//
// A "ref" is a base index (< n) or n+k for the k-th record added later.
type seq struct {
	n     int
	head  []int // refs, newest first
	moved []int // sorted base indices that now live in head (or are gone)
	// gone holds the refs removed from the list (delete.go), true for those that were
	// in head.
	gone map[int]bool
}

// front puts ref at its place in head (ordered by key, newest first). Mutations only
// produce keys at or after the simulator's present, so the head always sorts before
// every base record.
func (q *seq) front(ref int, key func(int) int64) {
	if _, gone := q.gone[ref]; gone {
		return // a deleted record does not come back by being touched
	}
	if i := slices.Index(q.head, ref); i >= 0 {
		q.head = slices.Delete(q.head, i, i+1)
	} else if ref < q.n {
		if j, found := slices.BinarySearch(q.moved, ref); !found {
			q.moved = slices.Insert(q.moved, j, ref)
		}
	}
	k := key(ref)
	pos := sort.Search(len(q.head), func(i int) bool {
		hk := key(q.head[i])
		return hk < k || (hk == k && q.head[i] < ref)
	})
	q.head = slices.Insert(q.head, pos, ref)
}

// all returns every ref in list order (for Truth).
func (q *seq) all() []int {
	v := q.view(nil, nil, nil)
	out := make([]int, v.total())
	for i := range out {
		out[i] = v.at(i)
	}
	return out
}

// view is the subset of a seq that matches a query. Without a predicate it is
// arithmetic over a base range; with one, the matching refs are materialised once
// (and cached by the caller).
type view struct {
	head  []int
	lo    int
	hi    int
	moved []int // moved base indices inside [lo, hi)
	refs  []int // non-nil: the full materialised list (predicate views)
}

// view returns the head records that pass headKeep (nil = all) and the base records
// whose index is within rng (a range found by binary search on the monotone base key;
// nil means everything) and that pass keep (nil = all, served by arithmetic).
func (q *seq) view(rng *[2]int, headKeep, keep func(ref int) bool) *view {
	v := &view{lo: 0, hi: q.n}
	if rng != nil {
		v.lo, v.hi = rng[0], rng[1]
	}
	for _, r := range q.head {
		if headKeep == nil || headKeep(r) {
			v.head = append(v.head, r)
		}
	}
	a, _ := slices.BinarySearch(q.moved, v.lo)
	b, _ := slices.BinarySearch(q.moved, v.hi)
	v.moved = q.moved[a:b]
	if keep != nil {
		refs := append([]int{}, v.head...)
		mi := 0
		for i := v.lo; i < v.hi; i++ {
			if mi < len(v.moved) && v.moved[mi] == i {
				mi++
				continue
			}
			if keep(i) {
				refs = append(refs, i)
			}
		}
		v.refs = refs
	}
	return v
}

func (v *view) total() int {
	if v.refs != nil {
		return len(v.refs)
	}
	return len(v.head) + (v.hi - v.lo) - len(v.moved)
}

// at returns the ref at position pos (0 <= pos < total()).
func (v *view) at(pos int) int {
	if v.refs != nil {
		return v.refs[pos]
	}
	if pos < len(v.head) {
		return v.head[pos]
	}
	k, _ := v.baseIndex(pos - len(v.head))
	return k
}

// baseIndex returns the base index of the k-th base record that was not moved, and
// how many moved indices lie below it. moved[t]-t never decreases, so a binary search
// finds it in O(log len(moved)) however many records mutations moved.
func (v *view) baseIndex(k int) (int, int) {
	off := v.lo
	j := sort.Search(len(v.moved), func(t int) bool { return v.moved[t]-off-t > k })
	return off + k + j, j
}

// page returns the refs at [off, off+limit).
func (v *view) page(off, limit int) []int {
	t := v.total()
	if off >= t || limit <= 0 {
		return []int{}
	}
	end := min(off+limit, t)
	out := make([]int, 0, end-off)
	p := off
	for ; p < end && (v.refs != nil || p < len(v.head)); p++ {
		out = append(out, v.at(p))
	}
	if p == end {
		return out
	}
	// Walk the base sequentially from the first index, skipping moved ones.
	i, j := v.baseIndex(p - len(v.head))
	for ; p < end; p++ {
		for j < len(v.moved) && v.moved[j] == i {
			i++
			j++
		}
		out = append(out, i)
		i++
	}
	return out
}

// baseRange finds the base indices whose key lies in [from, to] for a key that strictly
// decreases with the index.
func baseRange(n int, key func(int) int64, from, to int64) [2]int {
	lo := sort.Search(n, func(i int) bool { return key(i) <= to })
	hi := sort.Search(n, func(i int) bool { return key(i) < from })
	if hi < lo {
		hi = lo
	}
	return [2]int{lo, hi}
}
