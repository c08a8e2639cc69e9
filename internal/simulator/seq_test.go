package simulator

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSeqMatchesNaiveList checks positions against a materialised list after many
// moves and additions, with and without a base range.
func TestSeqMatchesNaiveList(t *testing.T) {
	t.Parallel()
	const n = 500
	keys := map[int]int64{}
	key := func(ref int) int64 {
		if k, ok := keys[ref]; ok {
			return k
		}
		return int64(n - ref) // base: decreasing with the index
	}
	q := &seq{n: n}
	r := newRnd(1, 1, 1, 1)
	next := n
	for step := range 120 {
		k := int64(n + 10 + step)
		var ref int
		if step%3 == 0 {
			ref = next
			next++
		} else {
			ref = r.intn(next)
		}
		keys[ref] = k
		q.front(ref, key)
	}
	// Naive: every ref sorted by key desc.
	var all []int
	for ref := range next {
		all = append(all, ref)
	}
	slices.SortFunc(all, func(a, b int) int {
		if key(a) != key(b) {
			if key(a) > key(b) {
				return -1
			}
			return 1
		}
		return b - a
	})
	v := q.view(nil, nil, nil)
	require.Equal(t, len(all), v.total())
	for off := 0; off < len(all); off += 37 {
		require.Equal(t, all[off:min(off+37, len(all))], v.page(off, 37))
	}
	for p := range all {
		require.Equal(t, all[p], v.at(p))
	}
	// A base range: only unmoved base refs inside [100, 300) plus head refs kept.
	rng := [2]int{100, 300}
	v = q.view(&rng, func(int) bool { return false }, nil)
	var want []int
	for _, ref := range all {
		if ref >= 100 && ref < 300 && !slices.Contains(q.moved, ref) {
			want = append(want, ref)
		}
	}
	require.Equal(t, len(want), v.total())
	require.Equal(t, want, v.page(0, 1000))
	require.Equal(t, want[5:25], v.page(5, 20))
}
