package simulator

import (
	"slices"
	"strconv"
)

// Deletions: Mutate removes records from their lists (Mutation.Deleted*), as users of
// the real platforms delete people, orders, contacts and reference data between two
// syncs, and can bring the latest ones back (Mutation.Restored). A removed record is
// gone from every list and from Truth; what referred to it is left as it was (a contact
// keeps a deleted group's id, a deleted person's channels stay): the references do not
// say what the platforms do there.

// deletion is one record Mutate removed, kept so that Restored can bring it back: a
// record of a seq (q, ref, key), or a reference-data item (item, a key of Sim.gone).
type deletion struct {
	q    *seq
	ref  int
	key  func(int) int64
	item string
}

// remove takes ref out of the list. A record in head is taken out of it (a base one
// stays in moved, so the base skips it); a base record is added to moved without being
// put in head. It reports false when ref is already gone.
func (q *seq) remove(ref int) bool {
	if _, gone := q.gone[ref]; gone {
		return false
	}
	inHead := false
	if i := slices.Index(q.head, ref); i >= 0 {
		q.head = slices.Delete(q.head, i, i+1)
		inHead = true
	} else if ref < q.n {
		j, found := slices.BinarySearch(q.moved, ref)
		if !found {
			q.moved = slices.Insert(q.moved, j, ref)
		}
	} else {
		return false
	}
	if q.gone == nil {
		q.gone = map[int]bool{}
	}
	q.gone[ref] = inHead
	return true
}

// restore puts a removed ref back where it was: in head by its key when it was there,
// else at its base place.
func (q *seq) restore(ref int, key func(int) int64) {
	inHead, gone := q.gone[ref]
	if !gone {
		return
	}
	delete(q.gone, ref)
	if inHead {
		q.front(ref, key)
		return
	}
	if j, found := slices.BinarySearch(q.moved, ref); found {
		q.moved = slices.Delete(q.moved, j, j+1)
	}
}

// pickLive returns a random ref still in q, or false when q is empty.
func pickLive(q *seq, r *rnd) (int, bool) {
	v := q.view(nil, nil, nil)
	if v.total() == 0 {
		return 0, false
	}
	return v.at(r.intn(v.total())), true
}

// deleteFrom removes a random record of q and logs it.
func (s *Sim) deleteFrom(q *seq, key func(int) int64, r *rnd) {
	if ref, ok := pickLive(q, r); ok && q.remove(ref) {
		s.deleted = append(s.deleted, deletion{q: q, ref: ref, key: key})
	}
}

// deleteItem removes a random item of a reference-data list (ids, named kind/id in
// Sim.gone) and logs it. It keeps at least one item per list.
func (s *Sim) deleteItem(kind string, ids []string, r *rnd) {
	var live []string
	for _, id := range ids {
		if !s.gone[kind+"/"+id] {
			live = append(live, id)
		}
	}
	if len(live) < 2 {
		return
	}
	k := kind + "/" + live[r.intn(len(live))]
	if s.gone == nil {
		s.gone = map[string]bool{}
	}
	s.gone[k] = true
	s.deleted = append(s.deleted, deletion{item: k})
}

// restoreLast brings back the n most recently deleted records.
func (s *Sim) restoreLast(n int) {
	for ; n > 0 && len(s.deleted) > 0; n-- {
		d := s.deleted[len(s.deleted)-1]
		s.deleted = s.deleted[:len(s.deleted)-1]
		if d.q != nil {
			d.q.restore(d.ref, d.key)
		} else {
			delete(s.gone, d.item)
		}
	}
}

// applyDeletions removes (and restores) what m asks for. Callers hold s.mu for writing.
func (s *Sim) applyDeletions(m Mutation, r *rnd) {
	ll, tr := s.ll, s.tr
	for range m.DeletedPeople {
		s.deleteFrom(&ll.people, ll.personKey, r)
	}
	for range m.DeletedChannels {
		s.deleteFrom(&ll.chans, ll.chanKey, r)
	}
	for range m.DeletedOrders {
		s.deleteFrom(&ll.orders, ll.orderKey, r)
	}
	for range m.DeletedTags {
		s.deleteItem("ll-tag", idsOf(ll.tags, llTagID), r)
	}
	for k := range m.DeletedContacts {
		di := k % trDashboards
		s.deleteFrom(&tr.contacts[di], func(x int) int64 { return tr.contactKey(di, x) }, r)
	}
	for k := range m.DeletedPayments {
		di := k % trDashboards
		s.deleteFrom(&tr.payments[di], func(x int) int64 { return mustParseMS(tr.payment(di, x).RequestDate) }, r)
	}
	for k := range m.DeletedGroups {
		di := k % trDashboards
		s.deleteItem("tr-group", idsOf(tr.groups[di], trGroupID), r)
	}
	for k := range m.DeletedTRTags {
		di := k % trDashboards
		s.deleteItem("tr-tag", idsOf(tr.tags[di], trTagID), r)
	}
	for k := range m.DeletedFields {
		di := k % trDashboards
		s.deleteItem("tr-field", idsOf(tr.fields[di], trFieldID), r)
	}
	s.restoreLast(m.Restored)
}

func idsOf[T any](items []T, id func(T) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = id(it)
	}
	return out
}

// liveItems returns the items of a reference-data list that are not deleted (items
// itself when none is). Callers hold s.mu for reading, or liveItemsLocked takes it.
func liveItems[T any](s *Sim, kind string, items []T, id func(T) string) []T {
	if len(s.gone) == 0 {
		return items
	}
	return slices.DeleteFunc(slices.Clone(items), func(it T) bool { return s.gone[kind+"/"+id(it)] })
}

// liveItemsLocked is liveItems for callers that do not hold s.mu.
func liveItemsLocked[T any](s *Sim, kind string, items []T, id func(T) string) []T {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return liveItems(s, kind, items, id)
}

func llTagID(t Tag) string           { return t.ID }
func trGroupID(g Group) string       { return strconv.Itoa(g.ID) }
func trTagID(t TRTag) string         { return t.ID }
func trFieldID(f CustomField) string { return f.ID }
